#!/usr/bin/env bash
# Builds the browser half into target/site: the hydrate WASM (wasm-bindgen'd), its JS glue and the
# CSS. Plain cargo + the wasm-bindgen CLI, no cargo-leptos needed.
#   scripts/build-site.sh debug|release
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-debug}
. ./.web-toolchain.env 2>/dev/null || WASM_MODE=rustup
TARGET_DIR=${CARGO_TARGET_DIR:-target}
SITE=${ONWATCH_DEV_SITE_DIR:-target/site}
EXTRA=()
if [ "$WASM_MODE" = buildstd ]; then
  # Debian's rustc-web with std built from source (no prebuilt wasm32 std from rustup).
  export PATH=/usr/bin:$PATH RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1
  EXTRA=(-Zbuild-std=std,panic_abort)
fi
if [ "$MODE" = release ]; then
  PROFILE=wasm-release
else
  PROFILE=dev
fi
DIR=$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")
cargo build -p frontend --lib --target wasm32-unknown-unknown --profile "$PROFILE" "${EXTRA[@]}"
WASM="$TARGET_DIR/wasm32-unknown-unknown/$DIR/frontend.wasm"
rm -rf "$SITE.tmp" && mkdir -p "$SITE.tmp/pkg"
[ -d public ] && cp -r public/. "$SITE.tmp/"
# Split by page (app/src/lazy.rs): the main module, one chunk per lazily loaded page, the loader
# and the manifest the server reads to preload a page's chunks. The splitter is a workspace tool
# (tools/split), built for the host with the same lock file.
SPLIT_BIN="$TARGET_DIR/release/onwatch-split"
( unset RUSTC RUSTC_BOOTSTRAP; cargo build --release --locked -p onwatch-split --quiet )
MAIN="$TARGET_DIR/wasm32-unknown-unknown/$DIR/frontend_split.wasm"
"$SPLIT_BIN" "$WASM" "$SITE.tmp/pkg" "$MAIN"
wasm-bindgen --target web --no-typescript --keep-lld-exports --no-demangle \
  --out-dir "$SITE.tmp/pkg" --out-name onwatch "$MAIN"
mv "$SITE.tmp/pkg/onwatch_bg.wasm" "$SITE.tmp/pkg/onwatch.wasm"
if [ "$MODE" = release ]; then
  # npm binaryen: Debian's wasm-opt 108 produces a module the browser rejects. One process per
  # module (the main one and every chunk), as many at once as there are cores: most chunks are
  # tiny and the tool's start-up is most of their time.
  # (It warns about each chunk's name-section part it does not know, harmlessly: left out.)
  find "$SITE.tmp/pkg" -name '*.wasm' -print0 |
    xargs -0 -P "$(nproc)" -I{} end2end/node_modules/.bin/wasm-opt -Oz \
      --enable-bulk-memory --enable-nontrapping-float-to-int {} -o {} 2>&1 |
    { grep -v 'unknown name subsection' >&2 || true; }
fi
cp style/main.css "$SITE.tmp/pkg/onwatch.css"
# Compressed once here, so the server sends FILE.br or FILE.gz as they are (node's own zlib).
echo "site built in $SITE ($MODE):"
node scripts/precompress.mjs "$SITE.tmp/pkg"
rm -rf "$SITE" && mv "$SITE.tmp" "$SITE"
