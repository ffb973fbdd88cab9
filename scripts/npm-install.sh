#!/usr/bin/env bash
# `npm ci` in the folder given, only when its package-lock.json changed since
# the last install there (a stamp in node_modules records the lock's hash):
# an unchanged checkout starts in seconds, a changed lock file reinstalls.
set -euo pipefail
dir="${1:?usage: scripts/npm-install.sh FOLDER}"
cd "$dir"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -d node_modules ] && [ "$(cat node_modules/.dxdesk-lock 2>/dev/null || true)" = "$want" ]; then
  exit 0
fi
echo "==> npm ci in $dir"
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > node_modules/.dxdesk-lock
