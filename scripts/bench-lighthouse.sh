#!/usr/bin/env bash
# Lighthouse (mobile profile, Debian's Chromium) on the public pages and the
# sign-in page of a running demo: performance score, first contentful paint,
# and the JavaScript each page downloads (compressed, as transferred).
# Usage: scripts/bench-lighthouse.sh [BIN]   (default target/debug/dxdesk;
# builds the front end first). Lighthouse is installed from npm into
# target/bench-tools on first use. Targets (issue 13): performance >= 95,
# FCP <= 1.5 s on /login, /status and /consult; /status JS <= 60 KB.
# The full reports stay in target/lighthouse/<page>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/debug/dxdesk}"
tools=target/bench-tools/lighthouse
if [ ! -x "$tools/node_modules/.bin/lighthouse" ]; then
  mkdir -p "$tools"
  (cd "$tools" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error lighthouse@12 >/dev/null)
fi
scripts/build-frontend.sh >/dev/null
[ -x "$bin" ] || cargo build --locked --bin dxdesk
work="$(mktemp -d)"
reports=target/lighthouse; mkdir -p "$reports"
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
export DATABASE_URL="sqlite://$work/lh.db" DXDESK_BIND="127.0.0.1:$port" RUST_LOG=warn
"$bin" seed-demo >/dev/null
"$bin" serve >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
printf '%-10s %6s %8s %10s %10s\n' page perf "FCP(ms)" "JS(KB)" "total(KB)"
for page in login status consult; do
  CHROME_PATH=/usr/bin/chromium "$tools/node_modules/.bin/lighthouse" "http://127.0.0.1:$port/$page" \
    --quiet --output=json --output-path="$reports/$page.json" --only-categories=performance \
    --chrome-flags="--headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking" >/dev/null 2>&1
  python3 - "$reports/$page.json" "$page" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
a = r["audits"]
items = a["network-requests"]["details"]["items"]
js = sum(i.get("transferSize", 0) for i in items if i.get("resourceType") == "Script")
total = sum(i.get("transferSize", 0) for i in items)
m = {k: a[k]["numericValue"] for k in ("largest-contentful-paint", "total-blocking-time", "cumulative-layout-shift", "speed-index")}
print(f'{sys.argv[2]:<10} {round(r["categories"]["performance"]["score"]*100):>6} {a["first-contentful-paint"]["numericValue"]:>8.0f} {js/1024:>10.1f} {total/1024:>10.1f}  LCP {m["largest-contentful-paint"]:.0f} ms, TBT {m["total-blocking-time"]:.0f} ms, CLS {m["cumulative-layout-shift"]:.3f}, SI {m["speed-index"]:.0f}')
PY
done
