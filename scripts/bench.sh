#!/usr/bin/env bash
# `make bench`: prints the figures the issues set targets for. Never a pass/fail test: these
# machines are shared and noisy, so read the numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/onwatch/target}
scripts/bootstrap.sh demo >/dev/null
cargo build --release --locked -p ops --features sim --bin fleet-sim
echo
echo "== fleet engine"
cargo bench --locked -p ops --features sim --bench poll 2>/dev/null
