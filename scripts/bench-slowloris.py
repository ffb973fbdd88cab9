#!/usr/bin/env python3
# Slow-loris benchmark (issue 9, finding 4): 1,124 half-sent requests under ulimit -n 1024, then SIGTERM.
# Needs a built dxdesk (DXDESK_BIN, default target/debug/dxdesk); uses SQLite in /tmp.
import socket, time, subprocess, os, signal, sys, urllib.request
import shutil
d="/tmp/loris-db"; shutil.rmtree(d, ignore_errors=True); os.makedirs(d)
env=dict(os.environ, DATABASE_URL=f"sqlite://{d}/t.db", DXDESK_BIND="127.0.0.1:18099")
p=subprocess.Popen(["bash","-c","ulimit -n 1024; exec "+os.environ.get("DXDESK_BIN","target/debug/dxdesk")+" serve"], env=env, stdout=subprocess.DEVNULL, stderr=open("/tmp/loris.err","w"))
for _ in range(100):
    try: urllib.request.urlopen("http://127.0.0.1:18099/healthz", timeout=1); break
    except Exception: time.sleep(0.1)
socks=[]
for i in range(1124):
    s=socket.socket(); s.connect(("127.0.0.1",18099)); s.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"); socks.append(s)
time.sleep(0.5)
t=time.time()
try:
    r=urllib.request.urlopen("http://127.0.0.1:18099/healthz", timeout=5); print("healthz during flood:", r.status)
except Exception as e: print("healthz during flood failed:", e)
# wait for header timeout (10 s) to close the lorises
time.sleep(11)
ok=0
try:
    r=urllib.request.urlopen("http://127.0.0.1:18099/healthz", timeout=5); print("healthz after header timeout:", r.status)
except Exception as e: print("after failed:", e)
closed=0
for s in socks:
    s.setblocking(False)
    try:
        b=s.recv(100)
        if b==b"" or b.startswith(b"HTTP/1.1 408") or b.startswith(b"HTTP/1.1 503"): closed+=1
    except BlockingIOError: pass
    except Exception: closed+=1
print("lorises closed by the server:", closed, "of", len(socks))
# new flood then SIGTERM
socks2=[]
for i in range(700):
    s=socket.socket(); s.connect(("127.0.0.1",18099)); s.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"); socks2.append(s)
time.sleep(0.5)
t=time.time(); p.send_signal(signal.SIGTERM); rc=p.wait(timeout=60); print(f"SIGTERM with 700 slow-loris open: exit {rc} after {time.time()-t:.1f} s")
