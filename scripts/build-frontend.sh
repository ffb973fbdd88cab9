#!/usr/bin/env bash
# Installs the front end's npm packages (only when the lock file changed) and
# builds it into frontend/dist, which the dxdesk binary embeds and serves at /.
# An unchanged front end is not rebuilt: the hash of every input (sources,
# configuration, the lock file, the GraphQL schema) is kept beside
# node_modules; FORCE=1 rebuilds anyway.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/npm-install.sh frontend
inputs="$(find frontend/src frontend/public frontend/index.html frontend/package-lock.json \
  frontend/vite.config.ts frontend/codegen.ts frontend/tsconfig*.json schema \
  -path frontend/src/gql -prune -o -type f -print0 2>/dev/null \
  | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
stamp=frontend/node_modules/.dxdesk-dist
if [ "${FORCE:-}" != "1" ] && [ -f frontend/dist/index.html ] \
  && [ "$(cat "$stamp" 2>/dev/null || true)" = "$inputs" ]; then
  echo "==> web front end unchanged (FORCE=1 rebuilds)"
  exit 0
fi
echo "==> building the web front end"
(cd frontend && npm run build)
echo "$inputs" > "$stamp"
