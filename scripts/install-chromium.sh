#!/usr/bin/env bash
# Debian's Chromium for the UI browser test (playwright-core drives it; its own browser download
# is not used). Needs root or passwordless sudo; does nothing when /usr/bin/chromium exists.
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || {
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y --no-install-recommends chromium >/dev/null
}
echo "install-chromium: $(/usr/bin/chromium --version)"
