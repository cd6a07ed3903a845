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
# Every check that does not run says so as it happens and again in the summary, which is printed
# however the run ends: a skipped check must never read as a passed one.
SKIPPED=()
skip() { SKIPPED+=("$1"); echo "SKIPPED: $1"; }
FAILED_JOURNEYS=()
ONWATCH_TEST_PG_DIR=""
finish() {
  local rc=$?
  if [ -n "$ONWATCH_TEST_PG_DIR" ]; then
    scripts/pg-test-cluster.sh stop || true
    rm -rf "$ONWATCH_TEST_PG_DIR"
  fi
  echo
  if [ ${#SKIPPED[@]} -eq 0 ]; then
    echo "skipped: none"
  else
    echo "skipped (${#SKIPPED[@]}):"
    printf '  - %s\n' "${SKIPPED[@]}"
  fi
  if [ ${#FAILED_JOURNEYS[@]} -gt 0 ]; then
    echo "failed journey files (${#FAILED_JOURNEYS[@]}):"
    printf '  - %s\n' "${FAILED_JOURNEYS[@]}"
  fi
  if [ "$rc" -eq 0 ]; then
    echo "make test: all steps passed in $(( $(date +%s) - START )) s"
  else
    echo "make test: FAILED (exit $rc) after $(( $(date +%s) - START )) s"
  fi
  exit "$rc"
}
trap finish EXIT

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
chmod 755 "$ONWATCH_TEST_PG_DIR"
step "postgres test cluster"
ONWATCH_TEST_PG_URL=$(scripts/pg-test-cluster.sh start)
export ONWATCH_TEST_PG_URL
echo "$ONWATCH_TEST_PG_URL"

step "cargo fmt --check"
cargo fmt --all -- --check

step "clippy (ssr: ops, app, server, the fleet simulator, the bundle splitter; all targets)"
cargo clippy -p ops -p app -p server -p vocab -p testkit -p fleet-sim -p onwatch-split --all-targets --locked -- -D warnings

step "clippy (hydrate: frontend + app for wasm32)"
if [ "$WASM_MODE" = rustup ]; then
  cargo clippy -p frontend --target wasm32-unknown-unknown --locked -- -D warnings
else
  skip "clippy on the hydrate build (WASM_MODE=$WASM_MODE: Debian's rustc-web ships no clippy; the build below still compiles it)"
fi

step "unit and integration tests"
if command -v cargo-nextest >/dev/null; then
  cargo nextest run -p ops -p app -p server -p vocab -p fleet-sim --locked --no-fail-fast
else
  cargo test -p ops -p app -p server -p vocab -p fleet-sim --locked --no-fail-fast
fi

step "end-to-end (Playwright, headless Chromium)"
cargo build -p server --bin onwatch --locked
cargo build -p fleet-sim --bin fleet-sim --locked
scripts/build-site.sh debug
# The journeys as a list of files, each run by its own `node --test FILE`, one after the other: a
# directory argument and --test-concurrency do not mean the same (or anything) on Node 18, 20
# and 22, while a file list works on all three; one at a time because each file starts its own
# servers and Chromium on a 2-core machine. A failed file does not stop the others (their
# results are worth having); the run fails at the end, naming every failed file.
shopt -s nullglob
JOURNEYS=(end2end/tests/*.test.mjs)
shopt -u nullglob
if [ ${#JOURNEYS[@]} -eq 0 ]; then
  echo "no journeys found (end2end/tests/*.test.mjs): nothing would be tested" >&2
  exit 1
fi
for journey in "${JOURNEYS[@]}"; do
  echo "-- $journey"
  (cd end2end && node --test "${journey#end2end/}") || FAILED_JOURNEYS+=("$journey")
done
if [ ${#FAILED_JOURNEYS[@]} -gt 0 ]; then
  echo "end-to-end: ${#FAILED_JOURNEYS[@]} of ${#JOURNEYS[@]} journey files failed (listed below)" >&2
  exit 1
fi
echo "end-to-end: all ${#JOURNEYS[@]} journey files passed"
