#!/usr/bin/env python3
"""Times the case search through HTTP against a running `dxdesk serve`.

Logs in as the demo concierge of lab AOM, then for each term sends the web
page's case-list query (`cases(filter: {search}, first: 50)` with the CaseRow
fields) sequentially, without and with `totalCount`, checks every answer for
errors, and prints p50/p90/max in ms and the number of rows on the page.

    scripts/bench-search.py http://127.0.0.1:8080 --runs 30 --terms 在庫 漆器 酒蔵 ベンチ0000001

The database is seeded by `bench_search` (`--features bench`); its synthetic
texts hold 在庫 in about a quarter of the cases (common), 酒蔵 in ~1 % and
漆器 in ~0.01 % (rare).
"""

import argparse
import json
import statistics
import time
import urllib.request

ROW = """
  id reference title stage status priority channel topics createdAt updatedAt
  business { id name } assignedTo { id displayName }
  referrals { id status isOpen overdue pickupDeadline createdAt institution { id name } }
"""
LIST = "query($s: String) { cases(filter: { search: $s }, first: 50) { pageInfo { hasNextPage endCursor } edges { cursor node { %s } } } }" % ROW
COUNTED = "query($s: String) { cases(filter: { search: $s }, first: 50) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { %s } } } }" % ROW


def post(base, body, token=None):
    req = urllib.request.Request(
        base + "/graphql",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **({"Authorization": "Bearer " + token} if token else {})},
    )
    with urllib.request.urlopen(req, timeout=120) as r:
        out = json.loads(r.read())
    if out.get("errors"):
        raise SystemExit("GraphQL errors: %s" % out["errors"])
    return out["data"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("--email", default="concierge@aomori.example")
    ap.add_argument("--password", default="demo-pass-2024")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--terms", nargs="+", default=["在庫", "漆器", "酒蔵"])
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    token = post(a.base, {
        "query": "mutation($e:String!,$p:String!){ login(email:$e,password:$p){ accessToken } }",
        "variables": {"e": a.email, "p": a.password},
    })["login"]["accessToken"]
    print("| backend | term | query | p50 ms | p90 ms | max ms | rows | totalCount |")
    print("|---|---|---|---|---|---|---|---|")
    for term in a.terms:
        for name, doc in (("list", LIST), ("list+totalCount", COUNTED)):
            body = {"query": doc, "variables": {"s": term}}
            data = post(a.base, body, token)  # warm-up
            ms = []
            for _ in range(a.runs):
                t = time.perf_counter()
                data = post(a.base, body, token)
                ms.append((time.perf_counter() - t) * 1000)
            ms.sort()
            c = data["cases"]
            print("| %s | %s | %s | %.1f | %.1f | %.1f | %d | %s |" % (
                a.label, term, name, statistics.median(ms), ms[int(len(ms) * 0.9) - 1], ms[-1],
                len(c["edges"]), c.get("totalCount", "-")))


if __name__ == "__main__":
    main()
