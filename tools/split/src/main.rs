//! `onwatch-split IN.wasm PKG_DIR MAIN_OUT.wasm`: what `cargo leptos --split` does after the
//! browser build, without cargo-leptos (scripts/build-site.sh runs it).
//!
//! Every `#[wasm_split(name)]` function and what only it reaches moves into `PKG_DIR/name.wasm`
//! (code shared by several chunks into `chunk_N.wasm`); the rest is written to `MAIN_OUT.wasm`,
//! for wasm-bindgen. The loader the main module imports is `PKG_DIR/__wasm_split.<22 _>.js`, the
//! name Leptos's `HydrationScripts` preloads, and `PKG_DIR/__wasm_split_manifest.json` maps each
//! split to the files it needs, which Leptos reads to preload a server-rendered page's chunks.

use std::path::Path;
use std::process::ExitCode;

/// The loader's name as Leptos expects it when file hashing is off (leptos `hydration/mod.rs`).
const LOADER: &str = "./__wasm_split.______________________.js";
/// The module wasm-bindgen writes next to the loader, which the loader imports `initSync` from.
const MAIN_MODULE: &str = "./onwatch.js";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, pkg, main_out] = args.as_slice() else {
        eprintln!("usage: onwatch-split IN.wasm PKG_DIR MAIN_OUT.wasm");
        return ExitCode::from(2);
    };
    match split(Path::new(input), Path::new(pkg), Path::new(main_out)) {
        Ok(chunks) => {
            println!("split {input}: {chunks} chunk(s) in {pkg}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("onwatch-split: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn split(input: &Path, pkg: &Path, main_out: &Path) -> Result<usize, String> {
    let wasm = std::fs::read(input).map_err(|e| format!("cannot read {}: {e}", input.display()))?;
    let out = wasm_split_cli_support::transform({
        let mut opts = wasm_split_cli_support::Options::new(&wasm);
        opts.output_dir = pkg;
        opts.main_out_path = main_out;
        opts.main_module = MAIN_MODULE;
        opts.link_name = LOADER;
        opts
    })
    .map_err(|e| format!("cannot split {}: {e:?}", input.display()))?;
    let manifest = serde_json::to_string_pretty(&out.prefetch_map).map_err(|e| e.to_string())?;
    let path = pkg.join("__wasm_split_manifest.json");
    std::fs::write(&path, manifest).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(out.split_modules.len())
}
