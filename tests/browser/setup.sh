#!/bin/sh
# Installs what the browser tests need, once: Debian's Chromium (Playwright's own browser download
# does not work here) and playwright-core from package-lock.json. Run by tests/test_browser.py.
set -eu
cd "$(dirname "$0")"

if [ ! -x "${VERACITY_CHROMIUM:-/usr/bin/chromium}" ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo -n"; fi
    echo "setup.sh: installing chromium with apt-get" >&2
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi

if [ ! -f node_modules/playwright-core/package.json ]; then
    echo "setup.sh: installing playwright-core with npm ci" >&2
    npm ci --no-audit --no-fund --loglevel=error
fi
