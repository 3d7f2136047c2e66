#!/bin/sh
# Install the Debian programs the deployment tests drive (tests/deploy) when they are missing and
# we may (root + apt): PgBouncer, PostgreSQL 15's server binaries (a streaming replica), Caddy and
# nginx (TLS in front of `wacrm serve`), podman + runc + mmdebstrap (the container image),
# podman-compose (the compose file's plan).
# Without them those tests are skipped, each with its reason; CI installs them.
missing=""
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing="$missing pgbouncer"
[ -x /usr/lib/postgresql/15/bin/pg_basebackup ] || missing="$missing postgresql-15"
command -v caddy >/dev/null 2>&1 || missing="$missing caddy"
[ -x /usr/sbin/nginx ] || missing="$missing nginx-light"
command -v podman >/dev/null 2>&1 || missing="$missing podman"
[ -x /usr/sbin/runc ] || command -v runc >/dev/null 2>&1 || missing="$missing runc"
command -v mmdebstrap >/dev/null 2>&1 || missing="$missing mmdebstrap"
command -v podman-compose >/dev/null 2>&1 || missing="$missing podman-compose"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing for the deployment tests (apt-get):$missing"
  # shellcheck disable=SC2086
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null) \
    || echo "warning: could not install$missing; the deployment tests needing them will be skipped"
  # the packages' own services are not wanted: the tests start their own servers
  for unit in pgbouncer nginx caddy postgresql; do
    systemctl disable --now "$unit" >/dev/null 2>&1 || true
  done
else
  echo "note:$missing not found and not root; the deployment tests needing them will be skipped"
fi
exit 0
