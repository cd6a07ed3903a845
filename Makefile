# The two commands of the README: `make demo` and `make test`. Everything else is a helper.
SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/onwatch/target

.PHONY: demo test site site-release server-release bench fmt clippy clean-site

## Build and start Onwatch on its embedded default (SQLite under ./data) with a simulated fleet, at http://127.0.0.1:3000
demo:
	scripts/demo.sh

## Everything: fmt, clippy (ssr + hydrate), unit + integration (SQLite + Postgres), end-to-end
test:
	scripts/test.sh

## Benchmarks: fleet polling (1,000 simulated Supervisors), dashboard under load, bundle size
bench:
	scripts/bench.sh

site:
	scripts/build-site.sh debug

site-release:
	scripts/build-site.sh release

server-release:
	cargo build --release -p server --bin onwatch --locked

fmt:
	cargo fmt --all

clippy:
	cargo clippy -p ops -p app -p server -p vocab -p testkit -p fleet-sim -p onwatch-split --all-targets -- -D warnings
	cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings
