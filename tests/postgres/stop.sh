#!/usr/bin/env bash
# Stops the cluster tests/postgres/start.sh started and removes its files.
set -euo pipefail
port="${1:-54329}"
bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
dir="${DOORCODE_PG_DIR:-/tmp/doorcode-pg-$port}"
if [ "$(id -u)" = 0 ]; then
  runuser -u postgres -- "$bin/pg_ctl" -D "$dir" stop -m fast >/dev/null || true
else
  "$bin/pg_ctl" -D "$dir" stop -m fast >/dev/null || true
fi
rm -rf "$dir"
