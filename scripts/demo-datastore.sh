#!/usr/bin/env bash
# The demo's builder datastore for the query console: a PostgreSQL 15 cluster under DIR, run as
# an unprivileged user (Postgres refuses root: as root, the `postgres` system user), listening on
# 127.0.0.1:PORT (scram-sha-256) and on a unix socket under DIR (admin only, local trust; the
# socket's directory is closed to everyone else), seeded once with the databases
# demo_builder_originsrv, demo_builder_sessionsrv and demo_builder_jobsrv (`fleet-sim
# seed-datastore`), and a random password for the read-only role onwatch_ro in
# DIR/onwatch_ro.pw (mode 600, for the Onwatch process, which runs as the invoking user).
# Idempotent: an existing cluster is reused (started if stopped), an existing seed is kept.
#   scripts/demo-datastore.sh start DIR PORT  -> progress on stdout; on failure exits non-zero
#                                                with one line on stderr saying why
#   scripts/demo-datastore.sh stop DIR        -> pg_ctl stop -m fast (nothing if not running)
# FLEET_SIM: the fleet-sim binary (default: the debug build `make demo` makes).
# Files under DIR: pgdata/ (the cluster), run/ (its socket), postgres.log (the server's log),
# setup.log (initdb, seeding), onwatch_ro.pw.
set -euo pipefail
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
FLEET_SIM=${FLEET_SIM:-${CARGO_TARGET_DIR:-$HOME/.cache/onwatch/target}/debug/fleet-sim}
PREFIX=demo

fail() { echo "$*" >&2; exit 1; }

as_pg() { # one shell command line, as the cluster's owner
  if [ "$(id -u)" = 0 ]; then
    su postgres -s /bin/bash -c "$1"
  else
    bash -c "$1"
  fi
}
# The same, from separate words (quoted for that shell).
as_pg_cmd() { as_pg "$(printf '%q ' "$@")"; }

running() { as_pg_cmd "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

# SQL as the superuser, over the socket.
admin_sql() { as_pg_cmd "$PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$RUN" -p "$PORT" -U postgres -d postgres "$@"; }

paths() {
  DIR=$1
  mkdir -p "$DIR" || fail "cannot create $DIR"
  DIR=$(cd "$DIR" && pwd)
  DATA=$DIR/pgdata
  RUN=$DIR/run
  LOG=$DIR/setup.log
}

start() {
  [ $# = 2 ] || { echo "usage: $0 start DIR PORT" >&2; exit 2; }
  paths "$1"
  PORT=$2
  [ -x "$PGBIN/initdb" ] || fail "no PostgreSQL 15 in $PGBIN (apt-get install postgresql-15; scripts/bootstrap.sh demo does)"
  [ -x "$FLEET_SIM" ] || fail "no fleet-sim at $FLEET_SIM to seed the datastore with"
  # A unix socket's path is at most 107 bytes (".s.PGSQL.PORT" included).
  [ ${#RUN} -le 90 ] || fail "the socket directory $RUN is too long a path for a unix socket (at most 90 characters here)"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || fail "running as root, and there is no postgres system user to run PostgreSQL as (Postgres refuses root)"
    chmod 755 "$DIR"
    # Every directory above DIR must let the postgres user through.
    su postgres -s /bin/bash -c "cd $(printf '%q' "$DIR")" >/dev/null 2>&1 ||
      fail "the postgres user cannot reach $DIR (a directory above it is not traversable by others: chmod o+x it, or move the checkout)"
  fi
  : > "$LOG"
  mkdir -p "$DATA" "$RUN"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$DATA" "$RUN"; fi
  chmod 700 "$DATA" "$RUN"
  touch "$DIR/postgres.log"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$DIR/postgres.log"; fi

  if [ ! -f "$DATA/PG_VERSION" ]; then
    echo "datastore: initdb $DATA"
    as_pg_cmd "$PGBIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        -E UTF8 --no-locale >>"$LOG" 2>&1 ||
      fail "initdb failed: $(tail -n 1 "$LOG")"
    # The settings of this demo are in their own file, rewritten at every start (so that a
    # moved checkout's socket directory follows it).
    as_pg "echo \"include_if_exists = 'onwatch-demo.conf'\" >> $(printf '%q' "$DATA/postgresql.conf")"
    # Admin: the superuser over the socket only (its directory is mode 700). Everyone else:
    # 127.0.0.1 with a password (scram-sha-256).
    as_pg "cat > $(printf '%q' "$DATA/pg_hba.conf")" <<'HBA'
# TYPE  DATABASE  USER      ADDRESS        METHOD
local   all       postgres                 trust
host    all       all       127.0.0.1/32   scram-sha-256
HBA
  fi
  [ "$(cat "$DATA/PG_VERSION")" = 15 ] || fail "$DATA holds a PostgreSQL $(cat "$DATA/PG_VERSION") cluster, not 15: remove $DIR to start over"
  if ! running; then
    as_pg "cat > $(printf '%q' "$DATA/onwatch-demo.conf")" <<CONF
# Written by scripts/demo-datastore.sh at every start.
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$RUN'
unix_socket_permissions = 0700
password_encryption = 'scram-sha-256'
max_connections = 100
CONF
    echo "datastore: starting PostgreSQL on 127.0.0.1:$PORT"
    local before
    before=$(stat -c %s "$DIR/postgres.log")
    if ! as_pg_cmd "$PGBIN/pg_ctl" -D "$DATA" -l "$DIR/postgres.log" -w -t 60 start >>"$LOG" 2>&1; then
      # The first complaint of this start (the port in use, say), without its time stamp.
      local why
      why=$(tail -c +"$((before + 1))" "$DIR/postgres.log" | grep -m 1 -E 'FATAL|ERROR|could not' |
              sed -E 's/^.*(LOG|FATAL|ERROR|PANIC): +//' || true)
      fail "PostgreSQL did not start on 127.0.0.1:$PORT: ${why:-$(tail -n 1 "$LOG")}"
    fi
  else
    echo "datastore: PostgreSQL already running ($DATA)"
  fi
  admin_sql -c "SELECT 1" >/dev/null 2>>"$LOG" || fail "PostgreSQL runs but does not answer on its socket in $RUN: $(tail -n 1 "$LOG")"

  # Seeded once: the three databases, or all of them again if one is missing (a seed that
  # stopped halfway).
  local have
  have=$(admin_sql -c "SELECT count(*) FROM pg_database WHERE datname IN \
      ('${PREFIX}_builder_originsrv', '${PREFIX}_builder_sessionsrv', '${PREFIX}_builder_jobsrv')" 2>>"$LOG") ||
    fail "cannot list the datastore's databases: $(tail -n 1 "$LOG")"
  if [ "$have" != 3 ]; then
    echo "datastore: seeding ${PREFIX}_builder_originsrv, ${PREFIX}_builder_sessionsrv, ${PREFIX}_builder_jobsrv"
    # sqlx reads a percent-encoded host that starts with / as the socket's directory.
    local host="" c i
    for ((i = 0; i < ${#RUN}; i++)); do
      c=${RUN:i:1}
      case $c in [A-Za-z0-9._~-]) host+=$c ;; *) host+=$(printf '%%%02X' "'$c") ;; esac
    done
    "$FLEET_SIM" seed-datastore "postgres://postgres@$host:$PORT/postgres" "$PREFIX" >>"$LOG" 2>&1 ||
      fail "seeding the datastore failed: $(tail -n 1 "$LOG")"
  else
    echo "datastore: already seeded"
  fi

  # The read-only role's password: random, made once, in a file only the invoking user (who
  # runs Onwatch) reads, and set on the role at every start (a reseed keeps the role, but the
  # file may be new). Hex, so that it needs no quoting; fed to psql on stdin, never in a
  # command line.
  local pw
  if [ ! -s "$DIR/onwatch_ro.pw" ]; then
    pw=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    (umask 077 && printf '%s\n' "$pw" > "$DIR/onwatch_ro.pw")
  fi
  chmod 600 "$DIR/onwatch_ro.pw"
  pw=$(head -n 1 "$DIR/onwatch_ro.pw")
  [[ "$pw" =~ ^[0-9a-f]{32,}$ ]] || fail "$DIR/onwatch_ro.pw does not hold a password this script made: remove it and start again"
  printf "ALTER ROLE onwatch_ro PASSWORD '%s';\n" "$pw" | admin_sql -f - >>"$LOG" 2>&1 ||
    fail "cannot set onwatch_ro's password: $(tail -n 1 "$LOG")"
  echo "datastore: ready on 127.0.0.1:$PORT, onwatch_ro's password in $DIR/onwatch_ro.pw"
}

stop() {
  [ $# = 1 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }
  DIR=$1
  [ -f "$DIR/pgdata/PG_VERSION" ] || return 0
  DIR=$(cd "$DIR" && pwd)
  as_pg_cmd "$PGBIN/pg_ctl" -D "$DIR/pgdata" -m fast -w stop >/dev/null 2>&1 || true
}

cmd=${1:-}
shift || true
case "$cmd" in
  start) start "$@" ;;
  stop) stop "$@" ;;
  *) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
