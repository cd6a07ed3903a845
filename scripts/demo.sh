#!/usr/bin/env bash
# `make demo`: the fleet simulator (Builder services over live and acceptance) plus Onwatch on
# its embedded SQLite store, at http://127.0.0.1:3000. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/onwatch/target}
scripts/bootstrap.sh demo
cargo build --release --locked -p server --bin onwatch
cargo build --release --locked -p ops --features sim --bin fleet-sim
scripts/build-site.sh release
mkdir -p data
# The last run's fleet file names that simulator's ports: remove it, so that waiting for the file
# waits for this simulator's.
rm -f data/demo-fleet.toml
"$CARGO_TARGET_DIR/release/fleet-sim" --layout demo --seed 42 --control-port 3100 \
  --fleet-file data/demo-fleet.toml --ctl-secret-file data/demo-ctl-secret &
SIM=$!
trap 'kill $SIM 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do [ -s data/demo-fleet.toml ] && break; sleep 0.1; done
# Without it Onwatch would start on no fleet at all: say so and stop instead.
[ -s data/demo-fleet.toml ] || { echo "demo: fleet-sim wrote no data/demo-fleet.toml in 5 s" >&2; exit 1; }
echo
echo "Onwatch:        http://127.0.0.1:3000   (Ctrl-C stops everything)"
echo "Sign in:        development sign-in: pick any name and a role (viewer, responder, admin)"
echo "Fleet faults:   curl -X POST http://127.0.0.1:3100/faults -d '{\"host\":\"builder-api-live-1\",\"fault\":\"health\",\"service\":\"builder-api\",\"status\":\"Critical\"}'"
echo
"$CARGO_TARGET_DIR/release/onwatch" --config config/demo.toml serve
