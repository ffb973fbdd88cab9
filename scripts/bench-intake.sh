#!/usr/bin/env bash
# openCase throughput through HTTP (issue 15): a fresh database per backend,
# `dxdesk serve` (release build), one signed-in concierge, `oha -c C -n N`
# POSTing the same openCase mutation; then the bodies are checked (every
# request stored exactly one case, the references are gap-free, a sample of
# answers carries no `errors`) and, on PostgreSQL, pgbench's rate for a
# minimal insert transaction gives the ratio the target is stated in.
#
#   scripts/bench-intake.sh [sqlite|postgres|both]   (default both)
#   env: BIN (target/release/dxdesk), C (50), N (20000), PG (postgres://postgres@127.0.0.1:5432),
#        PORT (18090), PGBENCH_SECS (15)
# Needs: oha (`cargo install oha --locked`), curl, python3, psql/pgbench for PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/release/dxdesk}"
C="${C:-50}"
N="${N:-20000}"
PG="${PG:-postgres://postgres@127.0.0.1:5432}"
PORT="${PORT:-18090}"
PGBENCH_SECS="${PGBENCH_SECS:-15}"
which="${1:-both}"
command -v oha >/dev/null || cargo install oha --locked
[ -x "$BIN" ] || cargo build --release
work="$(mktemp -d)"
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

export DXDESK_JWT_SECRET="bench-intake-$(head -c 32 /dev/urandom | base64 | tr -d '=+/')"
export DXDESK_BIND="127.0.0.1:$PORT"
export DXDESK_LOG_FORMAT=json RUST_LOG="${RUST_LOG:-warn}"
url="http://127.0.0.1:$PORT/graphql"

cat >"$work/body.json" <<'EOF'
{"query":"mutation($i: OpenCaseInput!) { openCase(input: $i) { accessCode case { id reference } } }","variables":{"i":{"business":{"name":"負荷試験株式会社","municipality":"青森市"},"title":"負荷試験の相談","description":"受付の処理能力を測る","topics":["在庫"],"channel":"WALK_IN","stage":"CONSULT","consentToShare":true}}}
EOF

count_cases() {
  case "$1" in
    sqlite) python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from cases").fetchone()[0])' "$work/bench.db" ;;
    postgres) psql "$PG/dxdesk_bench_intake" -qAtc 'select count(*) from cases' ;;
  esac
}

gap_free() {
  case "$1" in
    sqlite) python3 - "$work/bench.db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
refs = [r[0] for r in db.execute("select reference from cases")]
seqs = sorted(int(r.rsplit("-", 1)[1]) for r in refs)
print("gap-free" if seqs == list(range(seqs[0], seqs[0] + len(seqs))) and len(set(refs)) == len(refs) else "GAPS")
EOF
    ;;
    postgres) psql "$PG/dxdesk_bench_intake" -qAtc \
      "select case when count(distinct reference) = count(*) and max(s) - min(s) + 1 = count(*) then 'gap-free' else 'GAPS' end
       from (select reference, split_part(reference, '-', 3)::int as s from cases) x" ;;
  esac
}

run() {
  local backend="$1" db
  case "$backend" in
    sqlite) db="sqlite://$work/bench.db" ;;
    postgres)
      psql "$PG/postgres" -qc 'DROP DATABASE IF EXISTS dxdesk_bench_intake' -qc 'CREATE DATABASE dxdesk_bench_intake' >/dev/null
      db="$PG/dxdesk_bench_intake" ;;
  esac
  export DATABASE_URL="$db"
  "$BIN" migrate >/dev/null
  "$BIN" seed-demo >/dev/null
  "$BIN" serve >"$work/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  token="$(curl -sf "$url" -H 'content-type: application/json' \
    -d '{"query":"mutation { login(email: \"concierge@aomori.example\", password: \"demo-pass-2024\") { accessToken } }"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["login"]["accessToken"])')"
  # warm-up (connections, the counter row)
  oha --no-tui -c "$C" -n 500 -m POST -H "Authorization: Bearer $token" -H 'content-type: application/json' \
    -D "$work/body.json" "$url" >/dev/null
  local before after
  before="$(count_cases "$backend")"
  echo "== $backend: oha --no-tui -c $C -n $N -m POST -H 'Authorization: Bearer …' -H 'content-type: application/json' -D body.json $url"
  oha --no-tui -c "$C" -n "$N" -m POST -H "Authorization: Bearer $token" -H 'content-type: application/json' \
    -D "$work/body.json" "$url" | sed -n '/Summary/,/Status code distribution/p;/\[200\]/p;/\[[3-5][0-9][0-9]\]/p'
  after="$(count_cases "$backend")"
  echo "cases stored by the run: $((after - before)) of $N requests; references: $(gap_free "$backend")"
  # a sample of answers, bodies checked for GraphQL errors
  python3 - "$url" "$token" "$work/body.json" <<'EOF'
import json, sys, urllib.request, concurrent.futures as cf
url, token, body = sys.argv[1], sys.argv[2], open(sys.argv[3], "rb").read()
def one(_):
    req = urllib.request.Request(url, body, {"content-type": "application/json", "authorization": "Bearer " + token})
    out = json.load(urllib.request.urlopen(req))
    return "errors" not in out and out["data"]["openCase"]["case"]["reference"]
with cf.ThreadPoolExecutor(50) as ex:
    answers = list(ex.map(one, range(200)))
bad = [a for a in answers if not a]
print(f"body check: {len(answers) - len(bad)}/200 answers without errors, {len(set(answers))} distinct references")
EOF
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
}

pgbench_raw() {
  psql "$PG/dxdesk_bench_intake" -qc 'CREATE TABLE IF NOT EXISTS raw_insert (id uuid PRIMARY KEY, body text NOT NULL)' >/dev/null
  echo "INSERT INTO raw_insert VALUES (gen_random_uuid(), 'raw insert');" >"$work/raw.sql"
  echo "== pgbench -n -c $C -j 2 -T $PGBENCH_SECS -f raw.sql (one-row insert transaction)"
  pgbench -n -c "$C" -j 2 -T "$PGBENCH_SECS" -f "$work/raw.sql" "$PG/dxdesk_bench_intake" 2>/dev/null | grep -E 'tps|latency average'
}

case "$which" in
  sqlite) run sqlite ;;
  postgres) run postgres; pgbench_raw ;;
  both) run sqlite; run postgres; pgbench_raw ;;
  *) echo "usage: $0 [sqlite|postgres|both]" >&2; exit 2 ;;
esac
