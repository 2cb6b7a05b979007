#!/usr/bin/env bash
# Starts a throw-away PostgreSQL cluster on loopback for the tests and prints its
# URL. Usage: tests/postgres/start.sh [port]   (stop it with tests/postgres/stop.sh)
# Needs Debian's postgresql package; run as root (the server runs as `postgres`)
# or as any other user (the server runs as that user).
set -euo pipefail
port="${1:-54329}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
if [ -z "$bin" ]; then
  echo "PostgreSQL is not installed (apt-get install postgresql)" >&2
  exit 1
fi
dir="${DOORCODE_PG_DIR:-/tmp/doorcode-pg-$port}"
as_server() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ -f "$dir/postmaster.pid" ]; then
  as_server "$bin/pg_ctl" -D "$dir" stop -m fast >/dev/null 2>&1 || true
fi
rm -rf "$dir"
mkdir -p "$dir"
[ "$(id -u)" = 0 ] && chown postgres: "$dir"
as_server "$bin/initdb" -D "$dir" -U doorcode --auth=trust --no-sync -E UTF8 >/dev/null
# Durability off: this cluster only ever holds test data.
as_server "$bin/pg_ctl" -D "$dir" -w -l "$dir/server.log" \
  -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
  start >/dev/null
echo "postgres://doorcode@127.0.0.1:$port/postgres"
