#!/usr/bin/env bash
# Installs what building, running and testing Onwatch needs, idempotently: a second run checks and
# skips in seconds. Used by `make demo` (scripts/bootstrap.sh demo) and `make test` (… test).
#
#   demo: the wasm32 target (or Debian's fallback), wasm-bindgen at the crate graph's version,
#         npm binaryen (wasm-opt) for release bundles, OpenSSH server (the demo's SSH host),
#         PostgreSQL 15 (the demo's builder datastore, for the query console)
#   test: all of the above, plus Chromium, playwright-core and a Python venv with the test
#         helpers (moto)
set -euo pipefail
cd "$(dirname "$0")/.."
PURPOSE=${1:-test}
export DEBIAN_FRONTEND=noninteractive
CACHE=${ONWATCH_DEV_CACHE:-$HOME/.cache/onwatch}
mkdir -p "$CACHE"
say() { printf '\033[1mbootstrap:\033[0m %s\n' "$*"; }

APT_UPDATED=0
apt_install() { # installs only the packages that are missing
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  if [ "$APT_UPDATED" = 0 ]; then
    say "apt-get update"
    for i in 1 2 3; do $sudo apt-get update -qq && break || sleep 5; done
    APT_UPDATED=1
  fi
  say "installing ${missing[*]}"
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# 0. Basics.
command -v cargo >/dev/null || { echo "bootstrap: cargo is missing; install Rust (rustup) first" >&2; exit 1; }
apt_install curl ca-certificates gzip

# 1. The wasm32 standard library: rustup's prebuilt one where it can be had (faster builds),
#    otherwise Debian's rustc-web with std built from source (-Zbuild-std).
if [ -z "${ONWATCH_DEV_FORCE_BUILD_STD:-}" ] && command -v rustup >/dev/null && \
   { rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown || \
     timeout 180 rustup target add wasm32-unknown-unknown; }; then
  echo "WASM_MODE=rustup" > .web-toolchain.env
else
  say "rustup cannot provide wasm32-unknown-unknown; using Debian's rustc-web with -Zbuild-std"
  apt_install rustc-web cargo-web rust-web-src rust-web-llvm lld
  echo "WASM_MODE=buildstd" > .web-toolchain.env
fi

# 2. wasm-bindgen CLI at exactly the version in Cargo.lock (anything else is a hard error).
WBG=$(sed -n '/^name = "wasm-bindgen"$/{n;s/^version = "\(.*\)"/\1/p}' Cargo.lock)
if [ -z "$WBG" ]; then echo "bootstrap: no wasm-bindgen in Cargo.lock" >&2; exit 1; fi
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WBG" ]; then
  say "installing wasm-bindgen-cli $WBG (about 3 minutes, once)"
  # --locked fails (its lock pins a crate version that is not in the index); unlocked works.
  cargo install wasm-bindgen-cli --version "$WBG" --force --quiet
fi

# 3. npm tools: binaryen's wasm-opt (Debian's breaks the module) and playwright-core.
if ! command -v npm >/dev/null; then apt_install nodejs npm; fi
if [ ! -x end2end/node_modules/.bin/wasm-opt ] || [ end2end/package-lock.json -nt end2end/node_modules/.stamp ]; then
  say "npm ci (end2end)"
  (cd end2end && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.stamp)
fi

# The demo's loopback SSH host (Supervisor and sentinel restarts); the demo runs without it
# (and says so) if it cannot be installed.
apt_install openssh-server || say "openssh-server could not be installed: the demo's SSH actions will be off"
# The demo's builder datastore (scripts/demo-datastore.sh); the demo runs without it (and says
# so) if it cannot be installed.
apt_install postgresql-15 || say "postgresql-15 could not be installed: the demo's query console will have no datastore"

[ "$PURPOSE" = demo ] && { say "ready for the demo"; exit 0; }

# 4. Test-only: browser, database server, sshd, Python helpers.
apt_install chromium postgresql-15 openssh-server python3-venv openssl
REQ=scripts/requirements-test.txt
VENV=$CACHE/venv-$(sha256sum "$REQ" | cut -c1-12)
if [ ! -f "$VENV/.complete" ]; then
  say "creating the Python venv for test helpers ($VENV)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQ"
  touch "$VENV/.complete"   # only a finished install counts; a broken one is redone
fi
ln -sfn "$VENV" "$CACHE/venv"
say "ready for the tests"
