#!/usr/bin/env bash
# The whole test-suite, as `make test` and CI run it: formatting, clippy on the ssr and hydrate
# builds, unit and integration tests (SQLite and a throwaway PostgreSQL 15), then the Playwright
# journeys in headless Chromium against the real server.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/onwatch/target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
START=$(date +%s)

step "bootstrap"
scripts/bootstrap.sh test
. ./.web-toolchain.env

# One throwaway Postgres cluster for the whole run; each test creates its own database in it.
# Assignments stand apart from `export` throughout: `export X=$(cmd)` hides cmd's failure from
# `set -e`, and the run would go on against a cluster that never started.
ONWATCH_TEST_PG_DIR=$(mktemp -d /tmp/onwatch-ci-pg.XXXXXX)
export ONWATCH_TEST_PG_DIR
# A free port unless one is given: a cluster left running by someone else must not be mistaken
# for ours, nor stop ours from starting.
if [ -z "${ONWATCH_TEST_PG_PORT:-}" ]; then
  ONWATCH_TEST_PG_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
export ONWATCH_TEST_PG_PORT
cleanup() { scripts/pg-test-cluster.sh stop || true; rm -rf "$ONWATCH_TEST_PG_DIR"; }
trap cleanup EXIT
chmod 755 "$ONWATCH_TEST_PG_DIR"
step "postgres test cluster"
ONWATCH_TEST_PG_URL=$(scripts/pg-test-cluster.sh start)
export ONWATCH_TEST_PG_URL
echo "$ONWATCH_TEST_PG_URL"

step "cargo fmt --check"
cargo fmt --all -- --check

step "clippy (ssr: ops, app, server; all targets)"
cargo clippy -p ops -p app -p server -p vocab -p testkit --all-targets --features ops/sim --locked -- -D warnings

step "clippy (hydrate: frontend + app for wasm32)"
if [ "$WASM_MODE" = rustup ]; then
  cargo clippy -p frontend --target wasm32-unknown-unknown --locked -- -D warnings
else
  echo "Debian's rustc-web ships no clippy: the hydrate build is checked by compiling it below."
fi

step "unit and integration tests"
if command -v cargo-nextest >/dev/null; then
  cargo nextest run -p ops -p app -p server -p vocab --features ops/sim --locked --no-fail-fast
else
  cargo test -p ops -p app -p server -p vocab --features ops/sim --locked --no-fail-fast
fi

step "end-to-end (Playwright, headless Chromium)"
cargo build -p server --bin onwatch --locked
cargo build -p ops --features sim --bin fleet-sim --locked
scripts/build-site.sh debug
(cd end2end && node --test --test-concurrency=1 tests/)

echo
echo "make test: all steps passed in $(( $(date +%s) - START )) s"
