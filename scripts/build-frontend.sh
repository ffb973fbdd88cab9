#!/usr/bin/env bash
# Installs the front end's npm packages (from the lock file) and builds it into
# frontend/dist, which the dxdesk binary serves at /.
set -euo pipefail
cd "$(dirname "$0")/../frontend"
echo "==> building the web front end"
npm ci --no-audit --no-fund --loglevel=error
npm run build
