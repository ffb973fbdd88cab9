#!/usr/bin/env python3
"""Prints the table of scripts/bench.sh: each figure with the issue's target
and PASS/FAIL. Input: the results file (backend, size, metric, value; tab-separated)."""
import sys
from collections import defaultdict

rows = defaultdict(dict)
words = defaultdict(dict)  # figures that are names (the load generator)
for line in open(sys.argv[1], encoding="utf-8"):
    parts = line.rstrip("\n").split("\t")
    if len(parts) == 4 and parts[3] not in ("", "None"):
        try:
            rows[(parts[0], int(parts[1]))][parts[2]] = float(parts[3])
        except ValueError:
            words[(parts[0], int(parts[1]))][parts[2]] = parts[3]


def fmt(x):
    return "—" if x is None else (f"{x:.0f}" if abs(x) >= 100 else f"{x:.2f}")


def line(key, what, value, target, ok):
    verdict = "" if ok is None else ("PASS" if ok else "FAIL")
    print(f"| {key[0]} | {key[1]:,} | {what} | {fmt(value)} | {target} | {verdict} |")


print("| backend | cases | figure | value | target | |")
print("|---|---|---|---|---|---|")
for key in sorted(rows, key=lambda k: (k[0], k[1])):
    r = rows[key]
    g = r.get
    small = rows.get((key[0], 10000), {})
    if "seed_s" in r:
        line(key, "seeding (s)", g("seed_s"), "a few minutes at 1M", g("seed_s") <= 300 if key[1] >= 1_000_000 else None)
    if "outbox_drain_s" in r:
        line(key, "outbox backlog at start, drained before measuring (s)", g("outbox_drain_s"), "", None)
    if "list_c50_rps" in r:
        client = words[key].get("client", "oha")
        line(key, f"case list c=50 (req/s, {client})", g("list_c50_rps"), "", None)
        if "list_c50_rps_other" in r:
            other = "oha" if client == "wrk" else "wrk"
            line(key, f"case list c=50 (req/s, {other}, one run, for comparison)", g("list_c50_rps_other"), "", None)
        line(key, "case list c=50, no totalCount (req/s)", g("list_nocount_c50_rps"), "", None)
        line(key, "case list c=50 p50 (ms)", g("list_c50_p50_ms"), "", None)
        line(key, "case list c=50 non-2xx + errors", g("list_c50_non2xx"), "0", g("list_c50_non2xx") == 0)
    if "pgl_c50_rps" in r:
        line(key, "PostGraphile 5 c=50 (req/s)", g("pgl_c50_rps"), "", None)
        ratio = g("list_c50_rps") / g("pgl_c50_rps") if g("pgl_c50_rps") else None
        line(key, "dxdesk / PostGraphile", ratio, "≥ 3", ratio is not None and ratio >= 3)
    if "pgbench_tps" in r:
        line(key, "pgbench ceiling, the list's statements (tps)", g("pgbench_tps"), "", None)
        ratio = g("list_c50_rps") / g("pgbench_tps") if g("pgbench_tps") else None
        line(key, "dxdesk / pgbench ceiling", ratio, "≥ 0.5", ratio is not None and ratio >= 0.5)
    if "list_q500_p99_ms" in r:
        line(key, "case list p99 at 500 req/s (ms)", g("list_q500_p99_ms"), "≤ 5", g("list_q500_p99_ms") <= 5)
        line(key, "errors at 500 req/s", g("list_q500_errors"), "0", g("list_q500_errors") == 0)
    if "list_c1_p50_ms" in r:
        line(key, "case list c=1 p50 (ms)", g("list_c1_p50_ms"), "", None)
        if key[1] != 10000 and small.get("list_c1_p50_ms"):
            ratio = g("list_c1_p50_ms") / small["list_c1_p50_ms"]
            line(key, f"p50 at {key[1]:,} / p50 at 10,000", ratio, "≤ 1.2", ratio <= 1.2)
    if "deep_c1_p50_ms" in r:
        line(key, f"page {g('deep_rows') or 10000:,.0f} rows deep c=1 p50 (ms)", g("deep_c1_p50_ms"), "", None)
        ratio = g("deep_c1_p50_ms") / g("list_c1_p50_ms") if g("list_c1_p50_ms") else None
        line(key, "deep page / first page", ratio, "≤ 1.2", ratio is not None and ratio <= 1.2)
    if "idle_rss_mb" in r:
        line(key, "idle RSS (MB)", g("idle_rss_mb"), "≤ 20", g("idle_rss_mb") <= 20)
    if "peak_rss_mb" in r:
        line(key, "peak RSS, c=50 list (MB)", g("peak_rss_mb"), "", None)
    if "pgl_peak_rss_mb" in r:
        line(key, "PostGraphile peak RSS (MB)", g("pgl_peak_rss_mb"), "", None)
        ratio = g("peak_rss_mb") / g("pgl_peak_rss_mb")
        line(key, "peak RSS / PostGraphile's", ratio, "≤ 0.1", ratio <= 0.1)
    if "search_c1_p50_ms" in r:
        big = key[1] >= 1_000_000
        line(key, "search 在庫 c=1 p50 (ms)", g("search_c1_p50_ms"), "≤ 50 at 1M", g("search_c1_p50_ms") <= 50 if big else None)
    if "report_c1_p50_ms" in r:
        limit = 200 if key[0] == "postgres" else 500
        big = key[1] >= 1_000_000
        line(key, "activityReport c=1 p50 (ms)", g("report_c1_p50_ms"), f"≤ {limit} at 1M", g("report_c1_p50_ms") <= limit if big else None)
    if "open_c50_rps" in r:
        limit = 2000 if key[0] == "postgres" else 1000
        line(key, "openCase c=50 (req/s)", g("open_c50_rps"), f"≥ {limit}", g("open_c50_rps") >= limit)
        line(key, "openCase non-2xx + errors", g("open_c50_non2xx"), "0", g("open_c50_non2xx") == 0)
