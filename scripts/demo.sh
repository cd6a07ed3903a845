#!/usr/bin/env bash
# `make demo`: the fleet simulator (Builder services over live and acceptance), a loopback sshd
# standing in for the hosts' SSH (its `systemctl` acts on the simulator), a PostgreSQL 15 holding
# a seeded copy of the builder datastore for the query console (127.0.0.1:3132, under
# data/datastore), and Onwatch on its embedded SQLite store, at http://127.0.0.1:3000. Ctrl-C
# stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/onwatch/target}
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
step "1/4 tools (first run only: Rust's wasm target, wasm-bindgen, npm parts, OpenSSH server, PostgreSQL 15)"
scripts/bootstrap.sh demo
# The development profile, the one `make test` builds too: on a fresh machine it compiles in
# about half the time of an optimised build, and after `make test` (or before it) the other
# command finds everything built. The simulated fleet asks nothing of the optimiser; the
# production binary is `make server-release`. One cargo invocation for both binaries: `ops`
# (and everything under it) compiles once for both; the simulator is its own crate (`sim/`).
step "2/4 the server and the fleet simulator (the first time: several minutes; then seconds)"
cargo build --locked -p server --bin onwatch -p fleet-sim --bin fleet-sim
step "3/4 the browser half (WebAssembly)"
scripts/build-site.sh debug
step "4/4 starting the simulated fleet, the loopback SSH host, the datastore and Onwatch"
mkdir -p data
# The last run's fleet file names that simulator's ports: remove it, so that waiting for the file
# waits for this simulator's.
rm -f data/demo-fleet.toml
"$CARGO_TARGET_DIR/debug/fleet-sim" --layout demo --seed 42 --control-port 3100 \
  --fleet-file data/demo-fleet.toml --ctl-secret-file data/demo-ctl-secret &
PIDS=($!)
DS_USED=0
cleanup() {
  kill "${PIDS[@]}" 2>/dev/null || true
  # The datastore under data/datastore is the demo's own: stopped with it (pg_ctl -m fast).
  if [ "$DS_USED" = 1 ]; then "$ROOT/scripts/demo-datastore.sh" stop "$ROOT/data/datastore"; fi
}
trap cleanup EXIT
for _ in $(seq 1 50); do [ -s data/demo-fleet.toml ] && break; sleep 0.1; done
# Without it Onwatch would start on no fleet at all: say so and stop instead.
[ -s data/demo-fleet.toml ] || { echo "demo: fleet-sim wrote no data/demo-fleet.toml in 5 s" >&2; exit 1; }

# The loopback SSH host: every simulated host's SSH goes to it, and its `systemctl` (a script)
# restarts the simulated Supervisor or sentinel. If it cannot start, the demo runs without it
# and the Supervisor and sentinel buttons say that SSH is not configured.
cp config/demo.toml data/demo.toml
# The key that signs the audit chain's checkpoints (config/demo.toml's [audit]), made once. A
# fresh store starts a fresh chain: the old store's checkpoints would (rightly) say it was cut.
if [ ! -s data/audit-checkpoint.key ]; then
  rm -f data/audit-checkpoint.key data/audit-checkpoint.key.pub
  "$CARGO_TARGET_DIR/debug/onwatch" audit keygen --out data/audit-checkpoint.key >/dev/null
fi
[ -e data/onwatch.db ] || rm -f data/audit-checkpoints.jsonl
# The simulator's Builder API takes any personal access token (they start with `_`); its small
# Statuspage takes any key.
( umask 077; echo "_demo-builder-token" > data/demo-builder-token; echo "demo-statuspage-key" > data/demo-statuspage-key )
SSH_PORT=3122
if scripts/loopback-sshd.sh setup data/demo-ssh "$SSH_PORT" > data/demo-sshd.log 2>&1; then
  /usr/sbin/sshd -D -e -f "$ROOT/data/demo-ssh/sshd_config" >> data/demo-sshd.log 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$SSH_PORT") 2>/dev/null && break; sleep 0.1; done
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$SSH_PORT") 2>/dev/null; then
  SSH_NOTE="ssh $(id -un)@127.0.0.1 -p $SSH_PORT (host key in data/demo-ssh/known_hosts)"
  # Which simulated host a command stands for travels in its template ({host}).
  # The demo datastore's service directory (its stale lock files are made here, see below).
  LOCKS_DIR="$ROOT/data/demo-hab/svc/builder-datastore"
  mkdir -p "$LOCKS_DIR/data"
  journal="ONWATCH_DEMO_HOST={host} ONWATCH_DEMO_CONTROL=http://127.0.0.1:3100 ONWATCH_DEMO_LOCKS_DIR=$LOCKS_DIR $ROOT/scripts/demo-ssh/journalctl"
  tool="ONWATCH_DEMO_HOST={host} ONWATCH_DEMO_CONTROL=http://127.0.0.1:3100 ONWATCH_DEMO_STATE=$ROOT/data/demo-sentinel $ROOT/scripts/demo-ssh/systemctl"
  for env in live acceptance; do
    cat >> data/demo.toml <<TOML

[environments.$env.ssh]
user = "$(id -un)"
port = $SSH_PORT
key_file = "$ROOT/data/demo-ssh/client_ed25519"
known_hosts_file = "$ROOT/data/demo-ssh/known_hosts"
command_timeout_secs = 60

[environments.$env.ssh.commands]
restart_supervisor = "$tool restart hab-sup"
restart_sentinel = "$tool restart sentinel"
sentinel_status = "$tool is-active sentinel"
supervisor_log = "$journal -u hab-sup {args}"
sentinel_log = "$journal -u sentinel {args}"
# The loopback host runs as you: no sudo for the lock-file checks.
run_script = "sh -c {script}"
TOML
  done
  # Onwatch takes only a plain path (it reaches a remote shell); a checkout whose path has
  # spaces keeps the default, and the datastore page says the log names nothing there.
  if [[ "$LOCKS_DIR" =~ ^[A-Za-z0-9/._+:-]+$ ]]; then
    cat >> data/demo.toml <<TOML

# The datastore's stale lock files: the demo's datastore lives under data/demo-hab.
[datastore_locks]
service_dir = "$LOCKS_DIR"
# Who may own a lock file and its directories: the demo's host runs as you.
owners = ["root", "$(id -un)"]
TOML
  fi
  cat >> data/demo.toml <<TOML

# The sentinel bot's host (bots.habitat.sh in production), here the loopback SSH host.
[sentinel]
environment = "live"
host = "bots.habitat.sh"
address = "127.0.0.1"

# The onboarding checklist tests a declared SSH key against a live host: here the loopback host,
# whose only account is yours (paste data/demo-ssh/client_ed25519.pub and the signature the page
# asks for, made with data/demo-ssh/client_ed25519, to see it accepted).
[onboarding]
ssh_user = "$(id -un)"
TOML
else
  SSH_NOTE="off: sshd did not start ($(tail -n 1 data/demo-sshd.log 2>/dev/null)); Supervisor and sentinel restarts are unavailable"
fi

# The query console's datastore: a real PostgreSQL 15 (as the postgres system user when this
# runs as root) on 127.0.0.1:3132 and a socket under data/datastore, seeded once with a copy of
# the builder datastore (builder_originsrv and builder_sessionsrv with 128 shards each,
# builder_jobsrv), read through the read-only role onwatch_ro. If it cannot start, the demo runs
# without it and the console has no database to query.
DS_PORT=3132
DS_USED=1
DS_OK=0
if DS_WHY=$(FLEET_SIM="$CARGO_TARGET_DIR/debug/fleet-sim" \
    scripts/demo-datastore.sh start data/datastore "$DS_PORT" 2>&1 >data/demo-datastore.log); then
  DS_OK=1
  DS_NOTE="postgres on 127.0.0.1:$DS_PORT (read-only role onwatch_ro) — try /console"
else
  printf '%s\n' "$DS_WHY" >> data/demo-datastore.log
  DS_NOTE="off: $(tail -n 1 <<<"${DS_WHY:-see data/demo-datastore.log}"); the console page shows why"
fi
# Configured either way: when the datastore did not start, the console page says so (its
# connection error, in red) instead of pretending there is no datastore at all.
cat >> data/demo.toml <<'TOML'

# The query console's databases (scripts/demo-datastore.sh). For the demo, live and acceptance
# read the same seeded databases; in production each environment has its own datastore.
TOML
for env in live acceptance; do
  for db in builder_originsrv builder_sessionsrv builder_jobsrv; do
    cat >> data/demo.toml <<TOML

[environments.$env.databases.$db]
url = "postgres://onwatch_ro@127.0.0.1:$DS_PORT/demo_$db"
TOML
    if [ "$DS_OK" = 1 ] && [ -s data/datastore/onwatch_ro.pw ]; then
      echo "password_file = \"$ROOT/data/datastore/onwatch_ro.pw\"" >> data/demo.toml
    fi
  done
done
# The simulated Builder's core origin: ana, bo and cy are members (the onboarding checklist's
# "core origin" item is verified for them, not for dee).
for env in live acceptance; do
  curl -fsS -X POST http://127.0.0.1:3100/builds \
    -d "{\"environment\":\"$env\",\"fault\":\"origin_members\",\"origin\":\"core\",\"members\":[\"ana\",\"bo\",\"cy\"]}" \
    >/dev/null || echo "demo: the simulator did not take the core origin's members" >&2
done
echo
echo "Onwatch:        http://127.0.0.1:3000   (Ctrl-C stops everything)"
echo "Sign in:        development sign-in: pick any name and a role (viewer, responder, admin)"
echo "On-call:        the rotation is ana, bo, cy, dee (72 h shifts): sign in as one of them for /oncall and /onboarding"
echo "Fleet faults:   curl -X POST http://127.0.0.1:3100/faults -d '{\"host\":\"builder-api-live-1\",\"fault\":\"wedged\",\"service\":\"builder-api\"}'"
echo "                (a wedged service is critical until restarted: try its Restart… button)"
echo "Build faults:   curl -X POST http://127.0.0.1:3100/builds -d '{\"environment\":\"acceptance\",\"fault\":\"stall\"}'"
echo "                (the next build request stalls: its page names the scheduler; \"clear\" lifts it)"
echo "Stale lock:     curl -X POST http://127.0.0.1:3100/faults -d '{\"host\":\"builder-datastore-live-1\",\"fault\":\"stopped\",\"service\":\"builder-datastore\"}'"
echo "                echo 4194301 > data/demo-hab/svc/builder-datastore/data/postmaster.pid   (then /services/datastore)"
echo "Incidents:      /incidents publishes to the simulator's Statuspage: http://127.0.0.1:3100/statuspage/"
echo "                (curl -X POST http://127.0.0.1:3100/statuspage/fault -d '{\"fail\":3}' makes the next 3 requests fail)"
echo "SSH host:       $SSH_NOTE"
echo "Datastore:      $DS_NOTE"
echo
"$CARGO_TARGET_DIR/debug/onwatch" --config data/demo.toml serve
