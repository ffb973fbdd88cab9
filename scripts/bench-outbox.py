#!/usr/bin/env python3
"""Benchmark (not a test) of the notification outbox.

1. referCase latency with the outbox on vs off (DXDESK_OUTBOX=off writes no
   outbox rows): N cases opened and referred, sequentially, through one
   `dxdesk serve`; the referCase round trips are timed.
2. Outbox throughput: N referrals enqueued while no worker runs
   (DXDESK_OUTBOX_WORKER=0), then one `dxdesk serve` with a worker is started
   against a local SMTP sink (tests/smtp_sink.py, aiosmtpd) and the time until
   the N-th mail arrives gives mails/s.

    scripts/bench-outbox.py [--bin target/debug/dxdesk] [-n 300] [--database-url URL]

Without --database-url each phase uses a fresh SQLite file.
"""
import argparse, json, os, socket, statistics, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "FwFMtqj5dkFoEJAkhM2WrUCpEwN5MmNP9I1JQCImY8Sq"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def gql(base, query, variables=None, token=None):
    req = urllib.request.Request(
        base + "/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"content-type": "application/json", **({"authorization": "Bearer " + token} if token else {})},
    )
    body = json.load(urllib.request.urlopen(req))
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]


def serve(binary, db, env):
    e = dict(os.environ, DATABASE_URL=db, DXDESK_JWT_SECRET=SECRET, DXDESK_BIND="127.0.0.1:0",
             RUST_LOG="warn", DXDESK_OUTBOX_POLL_MS="50", **env)
    p = subprocess.Popen([binary, "serve"], env=e, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in p.stdout:
        if line.startswith("dxdesk: "):
            return p, line.split()[1].rstrip("/")
    raise RuntimeError("serve did not start")


def seed(binary, db):
    subprocess.run([binary, "migrate"], env=dict(os.environ, DATABASE_URL=db), check=True, stdout=subprocess.DEVNULL)
    subprocess.run([binary, "seed-demo"], env=dict(os.environ, DATABASE_URL=db), check=True, stdout=subprocess.DEVNULL)


def login(base, email="concierge@aomori.example"):
    q = "mutation($e:String!,$p:String!){login(email:$e,password:$p){accessToken}}"
    return gql(base, q, {"e": email, "p": "demo-pass-2024"})["login"]["accessToken"]


def bank(base, tok):
    for i in gql(base, "{institutions{id name}}", token=tok)["institutions"]:
        if i["name"] == "株式会社青森銀行":
            return i["id"]


def refer_many(base, tok, inst, n, tag):
    times = []
    for i in range(n):
        d = gql(base, "mutation($i:OpenCaseInput!){openCase(input:$i){case{id}}}", {"i": {
            "title": f"計測{tag}{i}", "description": "説明", "channel": "WALK_IN", "stage": "CONSULT",
            "consentToShare": True, "business": {"name": f"計測{tag}{i}株式会社"}}}, tok)
        cid = d["openCase"]["case"]["id"]
        t0 = time.perf_counter()
        gql(base, "mutation($c:ID!,$i:ID!){referCase(caseId:$c,institutionId:$i){id}}", {"c": cid, "i": inst}, tok)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def fresh_db(args, tmp, name):
    if args.database_url:
        return args.database_url
    return f"sqlite://{tmp}/{name}.db?mode=rwc"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/debug/dxdesk"))
    ap.add_argument("-n", type=int, default=300)
    ap.add_argument("--database-url")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="dxdesk-bench-outbox-")
    sink_dir = os.path.join(tmp, "mails")
    port = free_port()
    sink = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/smtp_sink.py"), sink_dir, str(port)])
    while not os.path.exists(os.path.join(sink_dir, "ready")):
        time.sleep(0.05)
    smtp = f"smtp://127.0.0.1:{port}"
    try:
        # 1. latency, outbox off then on (worker off in both: only the write is measured)
        lat = {}
        for mode in ("off", "on"):
            db = fresh_db(args, tmp, "lat-" + mode)
            seed(args.bin, db)
            p, base = serve(args.bin, db, {"DXDESK_OUTBOX": mode, "DXDESK_OUTBOX_WORKER": "0"})
            try:
                tok = login(base)
                inst = bank(base, tok)
                refer_many(base, tok, inst, 10, "warm" + mode)
                lat[mode] = refer_many(base, tok, inst, args.n, mode)
            finally:
                p.kill()
                p.wait()
        for mode, t in lat.items():
            t = sorted(t)
            print(f"referCase outbox {mode:3}: median {statistics.median(t):.2f} ms, p95 {t[int(len(t) * 0.95) - 1]:.2f} ms (n={len(t)})")

        # 2. throughput: enqueue with no worker, then drain through one worker
        db = fresh_db(args, tmp, "tput")
        seed(args.bin, db)
        p, base = serve(args.bin, db, {"DXDESK_OUTBOX_WORKER": "0"})
        tok = login(base)
        inst = bank(base, tok)
        refer_many(base, tok, inst, args.n, "tput")
        p.kill()
        p.wait()
        seen, counted = set(), 0

        def arrived():
            nonlocal counted
            for f in os.listdir(sink_dir):
                if f.endswith(".json") and f not in seen:
                    seen.add(f)
                    with open(os.path.join(sink_dir, f), encoding="utf-8") as fh:
                        if "計測tput" in json.load(fh)["text"]:
                            counted += 1
            return counted

        t0 = time.perf_counter()
        p, base = serve(args.bin, db, {"DXDESK_SMTP_URL": smtp, "DXDESK_OUTBOX_BATCH": "50"})
        try:
            while arrived() < args.n:
                time.sleep(0.02)
            dt = time.perf_counter() - t0
        finally:
            p.kill()
            p.wait()
        print(f"outbox throughput: {args.n} arrival mails in {dt:.2f} s = {args.n / dt:.0f} mails/s (from process start; demo-data mails delivered alongside)")
    finally:
        sink.kill()


if __name__ == "__main__":
    main()
