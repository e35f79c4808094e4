#!/usr/bin/env bash
# Installs PostgreSQL from Debian's packages when missing, starts a throwaway cluster on a free port
# under /tmp (owned by the postgres user, as the server refuses to run as root) and prints the
# DATABASE_URL for it. Used by .ci/run and by developers running `npm run test:pg` locally.
set -euo pipefail

PGPORT="${PGPORT:-55432}"
PGROOT="${PGROOT:-/tmp/payments-ops-pg}"

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "Installing PostgreSQL (apt-get)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

run_as_postgres() {
  if [ "$(id -u)" = "0" ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi
}

if [ -f "$PGROOT/data/postmaster.pid" ] && run_as_postgres "$BIN/pg_ctl -D $PGROOT/data status" >/dev/null 2>&1; then
  echo "PostgreSQL already running in $PGROOT" >&2
else
  rm -rf "$PGROOT"
  mkdir -p "$PGROOT"
  [ "$(id -u)" = "0" ] && chown postgres:postgres "$PGROOT"
  run_as_postgres "$BIN/initdb -D $PGROOT/data -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >/dev/null
  run_as_postgres "$BIN/pg_ctl -D $PGROOT/data -l $PGROOT/server.log -w -o '-p $PGPORT -k $PGROOT -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off' start" >/dev/null
fi
echo "postgres://postgres@127.0.0.1:$PGPORT/postgres"
