#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests when it is missing
# (a test tool's own browser download does not work on our machines),
# with a Japanese font, so screenshots show text rather than empty boxes.
set -euo pipefail
# The checks read whole outputs into variables: `fc-list | grep -q` under
# pipefail fails at random (grep exits at the first match, fc-list gets SIGPIPE),
# which used to re-install Chromium on about half the runs.
have_chromium() { command -v chromium >/dev/null 2>&1; }
have_cjk_font() {
  local fonts
  fonts="$(fc-list :lang=ja family 2>/dev/null || true)"
  [[ "${fonts,,}" == *"noto"*"cjk"* ]]
}
if have_chromium && have_cjk_font; then
  exit 0
fi
echo "==> installing Debian's chromium and fonts-noto-cjk for the browser tests"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null
have_chromium && have_cjk_font
