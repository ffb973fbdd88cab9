#!/usr/bin/env bash
# Builds the whole product (web front end + the dxdesk binary), loads the demo
# data and serves it on http://127.0.0.1:8080 (override with DXDESK_BIND).
# Database: DATABASE_URL, default the embedded SQLite file ./dxdesk.db.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/build-frontend.sh
echo "==> building dxdesk"
cargo build --locked --bin dxdesk
bin=target/debug/dxdesk

export DATABASE_URL="${DATABASE_URL:-sqlite://dxdesk.db}"
echo "==> loading demo data into $DATABASE_URL"
"$bin" seed-demo
echo "==> serving: open http://${DXDESK_BIND:-127.0.0.1:8080}/ (Ctrl-C stops)"
exec "$bin" serve
