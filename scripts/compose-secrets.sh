#!/usr/bin/env bash
# Writes `.env` beside docker-compose.yml with random secrets, once: docker
# compose reads it for every later command (`up`, `run`, `--scale`), so no
# command needs the secrets typed again. An existing .env is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f .env ]; then
  echo ".env exists; leaving it alone"
  exit 0
fi
rand() { head -c "$1" /dev/urandom | base64 | tr -d '\n=+/' ; }
umask 077
cat > .env <<ENV
DXDESK_JWT_SECRET=$(rand 48)
DXDESK_AUDIT_KEY=$(rand 48)
DXDESK_APP_DB_PASSWORD=$(rand 24)
DXDESK_METRICS_TOKEN=$(rand 24)
ENV
echo "wrote .env (keep it out of git; DXDESK_AUDIT_KEY belongs in a secret store too)"
