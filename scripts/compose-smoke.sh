#!/usr/bin/env bash
# The compose deployment's moving parts, without a Docker engine: what
# docker-compose.yml wires together, run here as processes on loopback.
#
#   scripts/compose-smoke.sh [path/to/dxdesk]     (default target/release/dxdesk)
#
# - PostgreSQL: a fresh database owned by `dxdesk`, the compose init script's
#   role `dxdesk_app` (scripts/postgres-init-app-role.sh, run as it runs in
#   docker-entrypoint-initdb.d), then the `migrate` service's command
#   (`dxdesk migrate --grant-app-role dxdesk_app`).
# - Two `app` instances, each `dxdesk serve` as `dxdesk_app` on port 8080 of its
#   own loopback address (127.0.0.2, 127.0.0.3), probed with the image's
#   healthcheck command (`dxdesk healthcheck`).
# - Docker's DNS (127.0.0.11) answering `app` with both addresses: dnsmasq.
# - The `proxy` service: Debian's nginx with deploy/nginx.conf unchanged except
#   its listen port (the instances hold 8080 here).
# Checks: both instances answer through the one proxy port (round robin), a
# WebSocket upgrade for subscriptions passes the proxy, and the app role cannot
# rewrite the support record. Needs: psql on 127.0.0.1:5432 (trust), nginx and
# dnsmasq (apt-get install nginx-light dnsmasq-base).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/dxdesk}
PG=${PG_URL:-postgres://postgres@127.0.0.1:5432}
DB=dxdesk_compose_smoke
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
say() { echo "==> $*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }

say "database $DB owned by dxdesk, app role from the compose init script"
psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB" >/dev/null
psql -q "$PG/postgres" <<'SQL' >/dev/null
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dxdesk') THEN CREATE ROLE dxdesk LOGIN; END IF;
END $$;
SQL
psql -q "$PG/postgres" -c "CREATE DATABASE $DB OWNER dxdesk" >/dev/null
if ! psql -qtA "$PG/postgres" -c "SELECT 1 FROM pg_roles WHERE rolname = 'dxdesk_app'" | grep -q 1; then
  # As docker-entrypoint-initdb.d runs it: psql picks up the connection from PG* variables.
  PGHOST=127.0.0.1 PGPORT=5432 POSTGRES_USER=postgres POSTGRES_DB=$DB sh scripts/postgres-init-app-role.sh >/dev/null
fi

say "migrate service: dxdesk migrate --grant-app-role dxdesk_app"
DATABASE_URL="postgres://dxdesk@127.0.0.1:5432/$DB" "$BIN" migrate --grant-app-role dxdesk_app
DATABASE_URL="postgres://dxdesk@127.0.0.1:5432/$DB" "$BIN" seed-demo > "$WORK/seed.txt"

say "two app instances as dxdesk_app on 127.0.0.2:8080 and 127.0.0.3:8080"
for addr in 127.0.0.2 127.0.0.3; do
  DATABASE_URL="postgres://dxdesk_app@127.0.0.1:5432/$DB" DXDESK_BIND=$addr:8080 \
    DXDESK_JWT_SECRET=compose-smoke-secret-0123456789abcdefghijklmnop \
    DXDESK_TRUSTED_PROXIES=127.0.0.1/32 DXDESK_LOG_FORMAT=json RUST_LOG=info \
    "$BIN" serve > "$WORK/app-$addr.log" 2>&1 &
  PIDS+=($!)
done
for addr in 127.0.0.2 127.0.0.3; do
  ok=0
  for _ in $(seq 1 100); do
    if "$BIN" healthcheck --url "http://$addr:8080" >/dev/null 2>&1; then ok=1; break; fi
    sleep 0.2
  done
  [ "$ok" = 1 ] || { cat "$WORK/app-$addr.log"; fail "the healthcheck of $addr never passed"; }
done

say "Docker's DNS stand-in: app -> 127.0.0.2, 127.0.0.3 at 127.0.0.11"
dnsmasq --no-daemon --no-resolv --no-hosts --listen-address=127.0.0.11 --bind-interfaces --port=53 \
  --address=/app/127.0.0.2 --address=/app/127.0.0.3 > "$WORK/dnsmasq.log" 2>&1 &
PIDS+=($!)

say "proxy: nginx with deploy/nginx.conf"
sed 's/listen 8080;/listen 127.0.0.1:18088;/' deploy/nginx.conf > "$WORK/site.conf"
cat > "$WORK/nginx.conf" <<EOF
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events {}
http {
  log_format upstream '\$request_uri \$upstream_addr';
  access_log $WORK/nginx-access.log upstream;
  client_body_temp_path $WORK; proxy_temp_path $WORK; fastcgi_temp_path $WORK; uwsgi_temp_path $WORK; scgi_temp_path $WORK;
  include $WORK/site.conf;
}
EOF
nginx -t -c "$WORK/nginx.conf" -p "$WORK" 2>&1 | tail -1
nginx -c "$WORK/nginx.conf" -p "$WORK" &
PIDS+=($!)
for _ in $(seq 1 100); do curl -fs http://127.0.0.1:18088/healthz >/dev/null && break; sleep 0.1; done

say "through the proxy: 40 requests, both instances answer"
for _ in $(seq 1 40); do curl -fs -o /dev/null http://127.0.0.1:18088/readyz || fail "a request through the proxy failed"; done
a=$(grep -c '^/readyz 127.0.0.2:8080' "$WORK/nginx-access.log" || true)
b=$(grep -c '^/readyz 127.0.0.3:8080' "$WORK/nginx-access.log" || true)
echo "    127.0.0.2 answered $a, 127.0.0.3 answered $b"
[ "$a" -gt 0 ] && [ "$b" -gt 0 ] || fail "one instance got no request (round robin over the DNS answer)"

say "through the proxy: the web front end and a GraphQL request"
curl -fs http://127.0.0.1:18088/ | grep -q '<div id="root"' || fail "no front end through the proxy"
curl -fs -H 'content-type: application/json' -d '{"query":"{ publicLabs { code } }"}' http://127.0.0.1:18088/graphql | grep -q '"code"' \
  || fail "no GraphQL answer through the proxy"

say "through the proxy: a WebSocket upgrade for subscriptions"
head=$(curl -s -i -N --http1.1 --max-time 2 -H 'Connection: Upgrade' -H 'Upgrade: websocket' \
  -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \
  -H 'Sec-WebSocket-Protocol: graphql-transport-ws' http://127.0.0.1:18088/graphql/ws 2>/dev/null | head -1 || true)
echo "    $head"
echo "$head" | grep -q ' 101' || fail "the WebSocket upgrade did not pass the proxy"

say "the app role cannot rewrite the support record"
if psql -q "postgres://dxdesk_app@127.0.0.1:5432/$DB" -c "UPDATE case_events SET seq = seq" >/dev/null 2>&1; then
  fail "dxdesk_app may UPDATE case_events"
fi

say "compose smoke passed"
psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
