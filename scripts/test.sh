#!/usr/bin/env bash
# Runs every test: the front end's unit tests and build, the Rust unit and
# integration tests on SQLite and PostgreSQL, and the browser tests in
# headless Chromium against a real `dxdesk serve`. One debug build serves all.
set -euo pipefail
cd "$(dirname "$0")/.."

export DXDESK_TEST_POSTGRES_URL="${DXDESK_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
export DXDESK_REQUIRE_POSTGRES=1
scripts/ensure-postgres.sh
# The notification tests start a real SMTP server (tests/smtp_sink.py, aiosmtpd).
python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install --quiet aiosmtpd==1.4.6
if [ "${CI:-}" = "true" ]; then
  # Schemas left by earlier test runs on this machine (each test makes its own).
  # One transaction per schema: dropping hundreds at once exhausts the lock table.
  psql "$DXDESK_TEST_POSTGRES_URL" -qAt -c "SELECT format('DROP SCHEMA %I CASCADE;', nspname) FROM pg_namespace WHERE nspname LIKE 't\_%' OR nspname LIKE 'bench\_%'" \
    | PGOPTIONS="-c client_min_messages=warning" psql "$DXDESK_TEST_POSTGRES_URL" -q >/dev/null
fi

scripts/build-frontend.sh
echo "==> front end: unit tests"
(cd frontend && npm test)

echo "==> Rust: build once, then unit + integration tests (SQLite and PostgreSQL)"
cargo build --locked --all-targets
cargo test --locked --all-targets

echo "==> browser tests (headless Chromium)"
scripts/ensure-chromium.sh
scripts/npm-install.sh tests/browser
(cd tests/browser && DXDESK_BIN="$PWD/../../target/debug/dxdesk" npm test)
echo "==> all tests passed"
