#!/usr/bin/env bash
# Makes sure the PostgreSQL server the tests use answers; starts the local
# cluster if it is down. Fails (never skips) when it cannot be reached.
set -euo pipefail
url="${DXDESK_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
if psql "$url" -qAtc 'SELECT 1' >/dev/null 2>&1; then
  exit 0
fi
echo "PostgreSQL at $url is not answering: trying to start the local cluster" >&2
if [ -d /etc/postgresql ] && command -v pg_ctlcluster >/dev/null; then
  for v in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$v" main start >&2 || true
  done
  for _ in $(seq 1 30); do
    psql "$url" -qAtc 'SELECT 1' >/dev/null 2>&1 && exit 0
    sleep 1
  done
fi
echo "ERROR: PostgreSQL at $url is unreachable; the PostgreSQL half of the tests cannot run." >&2
exit 1
