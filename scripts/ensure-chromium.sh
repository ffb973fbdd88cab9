#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests when it is missing
# (a test tool's own browser download does not work on our machines).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
echo "==> installing Debian's chromium for the browser tests"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium >/dev/null
