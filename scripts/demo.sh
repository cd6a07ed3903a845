#!/usr/bin/env bash
# `make demo`: the fleet simulator (Builder services over live and acceptance) plus Onwatch on
# its embedded SQLite store, at http://127.0.0.1:3000. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/onwatch/target}
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
step "1/4 tools (first run only: Rust's wasm target, wasm-bindgen, Chromium-free npm parts)"
scripts/bootstrap.sh demo
# One cargo invocation for both binaries: `ops` (and everything under it) compiles once, with
# the simulator's feature, instead of once for the server and again for fleet-sim.
step "2/4 the server and the fleet simulator (release build: about 10 minutes the first time, seconds after)"
cargo build --release --locked -p server --bin onwatch -p ops --features ops/sim --bin fleet-sim
step "3/4 the browser half (WebAssembly, release)"
scripts/build-site.sh release
step "4/4 starting the simulated fleet and Onwatch"
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
