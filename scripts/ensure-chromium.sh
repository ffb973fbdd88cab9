#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests when it is missing
# (a test tool's own browser download does not work on our machines).
set -euo pipefail
# Also a Japanese font, so screenshots show text rather than empty boxes.
if command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "noto.*cjk"; then
  exit 0
fi
echo "==> installing Debian's chromium and fonts-noto-cjk for the browser tests"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null
command -v chromium >/dev/null
