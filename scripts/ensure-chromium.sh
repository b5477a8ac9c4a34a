#!/usr/bin/env bash
# The console's browser tests (test/console.browser.test.ts) drive Debian's Chromium at /usr/bin/chromium.
# Installs it when missing and this user can (root with apt-get), as `npm test` (pretest) and .ci/run do;
# otherwise says how, and the browser tests fail with the same message.
set -uo pipefail
[ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: installing Debian's chromium for the browser tests" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null && exit 0
  echo "ensure-chromium: apt-get install chromium failed" >&2
  exit 0
fi
echo "ensure-chromium: /usr/bin/chromium is missing; install Debian's package (sudo apt-get install -y chromium) for the browser tests" >&2
