//! The built site's files under `/pkg` (the hydrate JS, its WASM, the CSS), served so that a
//! browser downloads each release once:
//!
//! - **compressed once, at build time**: `scripts/build-site.sh` writes `FILE.br` and `FILE.gz`
//!   beside each file, and the one the browser accepts is sent as it is (no compression work
//!   per request);
//! - **validated, not re-downloaded**: each answer carries a strong-enough `ETag` (a hash of the
//!   file) and `Cache-Control: no-cache`, so a browser keeps its copy, asks "still this one?"
//!   on the next page load and gets a bodiless `304` until a new release changes the file;
//! - **`Vary: Accept-Encoding`**, so no cache hands a brotli body to a browser that asked for
//!   gzip.
//!
//! Pages and server-function answers are compressed on the fly by the router's compression
//! layer (see `startup`); event streams are left alone (they must flow, not buffer).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use tower_http::services::ServeDir;

/// The route pattern of the built site's files.
pub const PATTERN: &str = "/pkg/{*file}";

/// A file's ETag and what it was computed from (modified time, length).
type Tagged = (SystemTime, u64, HeaderValue);

/// The `/pkg` files of one site root, with their ETags.
#[derive(Clone)]
pub struct Assets {
    root: PathBuf,
    /// path → (modified, length, etag): recomputed when a file changes (a rebuild while
    /// Onwatch runs), otherwise hashed once.
    etags: Arc<Mutex<HashMap<PathBuf, Tagged>>>,
}

impl Assets {
    pub fn new(site_root: &Path) -> Assets {
        Assets {
            root: site_root.to_path_buf(),
            etags: Arc::default(),
        }
    }

    /// The ETag of the file a request path names, if it is a file under the site root.
    fn etag(&self, request_path: &str) -> Option<HeaderValue> {
        let relative = request_path.trim_start_matches('/');
        // The edge has made the path canonical; still, nothing outside the root.
        if relative.split('/').any(|s| s == ".." || s.is_empty()) {
            return None;
        }
        let path = self.root.join(relative);
        let meta = std::fs::metadata(&path).ok().filter(|m| m.is_file())?;
        let modified = meta.modified().ok()?;
        let mut etags = self.etags.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((m, len, tag)) = etags.get(&path) {
            if *m == modified && *len == meta.len() {
                return Some(tag.clone());
            }
        }
        let bytes = std::fs::read(&path).ok()?;
        let digest = Sha256::digest(&bytes);
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        let tag = HeaderValue::from_str(&format!("\"{hex}\"")).ok()?;
        etags.insert(path, (modified, meta.len(), tag.clone()));
        Some(tag)
    }
}

/// `GET /pkg/…`: `304` when the browser's copy is current, else the file in the best encoding
/// the browser accepts.
pub async fn serve(State(assets): State<Assets>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let Some(etag) = assets.etag(&path) else {
        return (
            StatusCode::NOT_FOUND,
            "No such file in this release of Onwatch.",
        )
            .into_response();
    };
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == "*" || t.as_bytes() == etag.as_bytes())
        });
    let mut res = if fresh {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let dir = ServeDir::new(&assets.root)
            .precompressed_br()
            .precompressed_gzip();
        match dir.oneshot(req).await {
            Ok(r) => r.map(Body::new),
            Err(e) => match e {},
        }
    };
    let headers = res.headers_mut();
    headers.insert(header::ETAG, etag);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_follow_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("pkg")).unwrap();
        let file = dir.path().join("pkg/onwatch.js");
        std::fs::write(&file, "one").unwrap();
        let assets = Assets::new(dir.path());
        let first = assets.etag("/pkg/onwatch.js").unwrap();
        assert_eq!(assets.etag("/pkg/onwatch.js").unwrap(), first, "stable");
        std::fs::write(&file, "two, a new release").unwrap();
        assert_ne!(
            assets.etag("/pkg/onwatch.js").unwrap(),
            first,
            "changes with the file"
        );
        assert!(assets.etag("/pkg/../secret").is_none());
        assert!(assets.etag("/pkg/missing.js").is_none());
    }
}
