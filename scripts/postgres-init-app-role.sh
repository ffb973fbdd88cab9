#!/bin/sh
# Runs once, on a fresh PostgreSQL volume (docker-entrypoint-initdb.d): creates
# the role the dxdesk app connects as. It owns nothing; `dxdesk migrate
# --grant-app-role dxdesk_app` (the compose `migrate` service) grants its rights.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v pw="${DXDESK_APP_DB_PASSWORD:-dxdesk_app}" <<'EOSQL'
CREATE ROLE dxdesk_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION PASSWORD :'pw';
EOSQL
