#!/usr/bin/env python3
# Benchmark for idempotency keys (issue 9, finding 8): python3 scripts/bench-kill9-idempotency.py [N]
# Needs a built dxdesk (DXDESK_BIN, default target/debug/dxdesk); uses SQLite in /tmp.
# kill -9 while keyed openCase writes are in flight; restart; retry every write
# whose answer was lost with the same key and body; count cases per title.
import json, os, signal, subprocess, sys, threading, time, urllib.request, uuid, shutil
D="/tmp/kill9-db"; shutil.rmtree(D, ignore_errors=True); os.makedirs(D)
URL="http://127.0.0.1:18098/graphql"
env=dict(os.environ, DATABASE_URL=f"sqlite://{D}/t.db", DXDESK_BIND="127.0.0.1:18098",
         DXDESK_JWT_SECRET="kill9-secret-kill9-secret-kill9-secret-0123")
BIN=os.environ.get("DXDESK_BIN", "target/debug/dxdesk")
subprocess.run([BIN,"seed-demo"], env=env, stdout=subprocess.DEVNULL, check=True)
def start():
    p=subprocess.Popen([BIN,"serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try: urllib.request.urlopen("http://127.0.0.1:18098/healthz", timeout=1); return p
        except Exception: time.sleep(0.05)
    raise SystemExit("no start")
def post(body, token=None, key=None, timeout=10):
    h={"Content-Type":"application/json"}
    if token: h["Authorization"]="Bearer "+token
    if key: h["Idempotency-Key"]=key
    req=urllib.request.Request(URL, data=json.dumps(body).encode(), headers=h)
    with urllib.request.urlopen(req, timeout=timeout) as r: return json.loads(r.read())
p=start()
tok=post({"query":"mutation($e:String!,$p:String!){login(email:$e,password:$p){accessToken}}","variables":{"e":"concierge@aomori.example","p":"demo-pass-2024"}})["data"]["login"]["accessToken"]
base=post({"query":"{ cases(first: 1) { totalCount } }"}, tok)["data"]["cases"]["totalCount"]
Q="mutation($i: OpenCaseInput!){ openCase(input:$i){ case{ id title } } }"
def body(i):
    return {"query":Q,"variables":{"i":{"business":{"name":f"株式会社K{i}","industry":"E","municipality":"弘前市","contactName":"津軽 太郎","email":"t@example.jp"},"title":f"kill9-{i}","description":"d","topics":[],"channel":"WALK_IN","stage":"CONSULT","consentToShare":True}}}
N=int(sys.argv[1]) if len(sys.argv)>1 else 200
keys={i:uuid.uuid4().hex for i in range(N)}
lost=[]; ok=[]; lock=threading.Lock()
def worker(ids):
    for i in ids:
        try: post(body(i), tok, keys[i]); r=True
        except Exception: r=False
        with lock: (ok if r else lost).append(i)
ths=[threading.Thread(target=worker, args=(range(k,N,16),)) for k in range(16)]
for t in ths: t.start()
time.sleep(0.8); p.send_signal(signal.SIGKILL); p.wait()
for t in ths: t.join()
p=start()
t0=time.time(); replayed=0; conflicts=0; done_unknown=[]
pending=list(lost)
while pending and time.time()-t0<200:
    nxt=[]
    for i in pending:
        h={"Content-Type":"application/json","Authorization":"Bearer "+tok,"Idempotency-Key":keys[i]}
        req=urllib.request.Request(URL, data=json.dumps(body(i)).encode(), headers=h)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                if r.headers.get("Idempotent-Replayed")=="true": replayed+=1
        except urllib.error.HTTPError as e:
            if e.code==409:
                b=json.loads(e.read())
                if b["errors"][0]["extensions"].get("retryable"): conflicts+=1; nxt.append(i); continue
                done_unknown.append(i); continue
            raise
    pending=nxt
    if pending: time.sleep(2)
res=post({"query":"{ cases(first: 1) { totalCount } }"}, tok)
total=res["data"]["cases"]["totalCount"]
p.send_signal(signal.SIGTERM); p.wait()
dups = total - base - N
print(f"writes sent: {len(ok)+len(lost)} before kill ({len(ok)} answered, {len(lost)} answers lost; the rest never sent were retried as well)")
print(f"answered 'carried out, answer lost' (not run again): {len(done_unknown)}")
print(f"retried lost writes: {len(lost)}; replayed from stored answers: {replayed}; waited on in-flight (retryable CONFLICT) answers: {conflicts}; still pending: {len(pending)}")
print(f"cases in the database: {total} for {N} intended writes -> duplicates: {dups}; retry phase took {time.time()-t0:.0f} s")
