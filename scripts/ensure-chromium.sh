#!/bin/sh
# Install Debian's Chromium for the browser tests when it is missing and we may (root + apt).
# Without it the browser tests are skipped with a clear reason; CI always has it.
[ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium for the browser tests (apt-get)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "warning: could not install chromium; browser tests will be skipped"
else
  echo "note: /usr/bin/chromium not found and not root; browser tests will be skipped"
fi
exit 0
