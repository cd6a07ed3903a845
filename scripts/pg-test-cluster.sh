#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for the test-suite, run as an unprivileged user (Postgres
# refuses to run as root). Idempotent and safe to call from parallel test processes.
#   scripts/pg-test-cluster.sh start   -> prints the admin URL (postgres://postgres@127.0.0.1:PORT/postgres)
#   scripts/pg-test-cluster.sh stop
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DIR=${ONWATCH_TEST_PG_DIR:-/tmp/onwatch-test-pg}
PORT=${ONWATCH_TEST_PG_PORT:-55432}
URL="postgres://postgres@127.0.0.1:${PORT}/postgres"

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    # shellcheck disable=SC2016
    su postgres -s /bin/bash -c "$1"
  else
    bash -c "$1"
  fi
}

running() { as_pg "$PGBIN/pg_ctl -D '$DIR/data' status" >/dev/null 2>&1 9>&-; }

# Closes every descriptor this script inherited beyond stdin, stdout and stderr: the cluster
# outlives the test run that started it, and must not keep what that run held open (a build
# lock held by a wrapper around cargo would otherwise stay held as long as Postgres runs).
close_inherited() {
  local fd
  for fd in /proc/$$/fd/*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
  done
}

start() {
  if [ -f "$DIR/data/PG_VERSION" ] && running; then echo "$URL"; return 0; fi
  close_inherited
  mkdir -p "$DIR"
  chmod 755 "$DIR"
  exec 9>"$DIR/.lock"
  flock 9
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$DIR"; fi
  if running; then echo "$URL"; return 0; fi
  if [ ! -f "$DIR/data/PG_VERSION" ]; then
    as_pg "$PGBIN/initdb -D '$DIR/data' -U postgres --auth=trust -E UTF8 --no-locale --no-sync" >"$DIR/initdb.log" 2>&1 9>&- \
      || { cat "$DIR/initdb.log" >&2; exit 1; }
  fi
  as_pg "$PGBIN/pg_ctl -D '$DIR/data' -l '$DIR/server.log' -w -t 60 \
      -o \"-p $PORT -k '$DIR' -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
          -c full_page_writes=off -c max_connections=300\" start" >/dev/null 9>&- \
    || { tail -n 20 "$DIR/server.log" >&2; exit 1; }
  echo "$URL"
}

stop() {
  if [ -d "$DIR/data" ]; then
    as_pg "$PGBIN/pg_ctl -D '$DIR/data' -m fast -w stop" >/dev/null 2>&1 || true
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
