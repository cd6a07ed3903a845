//! The built site's files under `/pkg` (the hydrate JS, its WASM, the CSS), served so that a
//! browser downloads each release once:
//!
//! - **compressed once, at build time**: `scripts/build-site.sh` writes `FILE.br` and `FILE.gz`
//!   beside each file, and the one the browser accepts is sent as it is (no compression work
//!   per request), from memory (no file read per request; a changed file is read again);
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
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sha2::{Digest, Sha256};

/// The route pattern of the built site's files.
pub const PATTERN: &str = "/pkg/{*file}";

/// One file of the built site, held in memory with its compressed forms: a release's files are
/// few and small, and answering from memory costs no file-system round trip per request.
struct Cached {
    modified: SystemTime,
    len: u64,
    etag: HeaderValue,
    content_type: &'static str,
    raw: Bytes,
    br: Option<Bytes>,
    gz: Option<Bytes>,
}

/// The `/pkg` files of one site root.
#[derive(Clone)]
pub struct Assets {
    root: PathBuf,
    /// path → the file as last read; read again when its modified time or length changes (a
    /// rebuild while Onwatch runs).
    files: Arc<Mutex<HashMap<PathBuf, Arc<Cached>>>>,
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("js") | Some("mjs") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

impl Assets {
    pub fn new(site_root: &Path) -> Assets {
        Assets {
            root: site_root.to_path_buf(),
            files: Arc::default(),
        }
    }

    /// The file a request path names, if it is a file under the site root (one `stat` to see
    /// whether it changed; read only when it did).
    fn file(&self, request_path: &str) -> Option<Arc<Cached>> {
        let relative = request_path.trim_start_matches('/');
        // The edge has made the path canonical; still, nothing outside the root.
        if relative.split('/').any(|s| s == ".." || s.is_empty()) {
            return None;
        }
        let path = self.root.join(relative);
        let meta = std::fs::metadata(&path).ok().filter(|m| m.is_file())?;
        let modified = meta.modified().ok()?;
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = files.get(&path) {
            if c.modified == modified && c.len == meta.len() {
                return Some(c.clone());
            }
        }
        let raw = Bytes::from(std::fs::read(&path).ok()?);
        let digest = Sha256::digest(&raw);
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        // The compressed forms count only if they were built from this very file.
        let sibling = |ext: &str| -> Option<Bytes> {
            let p = PathBuf::from(format!("{}.{ext}", path.display()));
            let m = std::fs::metadata(&p).ok()?;
            (m.modified().ok()? >= modified)
                .then(|| std::fs::read(&p).ok().map(Bytes::from))
                .flatten()
        };
        let cached = Arc::new(Cached {
            modified,
            len: meta.len(),
            etag: HeaderValue::from_str(&format!("\"{hex}\"")).ok()?,
            content_type: content_type(&path),
            br: sibling("br"),
            gz: sibling("gz"),
            raw,
        });
        files.insert(path, cached.clone());
        Some(cached)
    }
}

/// Whether the request's `Accept-Encoding` takes `coding` (and does not refuse it with `q=0`).
fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            name.eq_ignore_ascii_case(coding) && !refused
        })
}

/// `GET /pkg/…`: `304` when the browser's copy is current, else the file in the best encoding
/// the browser accepts (brotli, then gzip, then as it is).
pub async fn serve(State(assets): State<Assets>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let Some(file) = assets.file(&path) else {
        return (
            StatusCode::NOT_FOUND,
            "No such file in this release of Onwatch.",
        )
            .into_response();
    };
    let headers = req.headers();
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == "*" || t.as_bytes() == file.etag.as_bytes())
        });
    let mut res = if fresh {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let (body, encoding) = match (&file.br, &file.gz) {
            (Some(br), _) if accepts(headers, "br") => (br.clone(), Some("br")),
            (_, Some(gz)) if accepts(headers, "gzip") => (gz.clone(), Some("gzip")),
            _ => (file.raw.clone(), None),
        };
        let mut r = Response::new(Body::from(body));
        if let Some(e) = encoding {
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
        }
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(file.content_type),
        );
        r
    };
    let h = res.headers_mut();
    h.insert(header::ETAG, file.etag.clone());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_read_again_when_they_change() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("pkg")).unwrap();
        let file = dir.path().join("pkg/onwatch.js");
        std::fs::write(&file, "one").unwrap();
        let assets = Assets::new(dir.path());
        let first = assets.file("/pkg/onwatch.js").unwrap().etag.clone();
        assert_eq!(
            assets.file("/pkg/onwatch.js").unwrap().etag,
            first,
            "stable"
        );
        std::fs::write(&file, "two, a new release").unwrap();
        let second = assets.file("/pkg/onwatch.js").unwrap();
        assert_ne!(second.etag, first, "changes with the file");
        assert_eq!(second.raw.as_ref(), b"two, a new release");
        assert!(assets.file("/pkg/../secret").is_none());
        assert!(assets.file("/pkg/missing.js").is_none());
    }

    #[test]
    fn accept_encoding_with_weights() {
        let h = |v: &'static str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
            m
        };
        assert!(accepts(&h("gzip, deflate, br"), "br"));
        assert!(!accepts(&h("gzip, br;q=0"), "br"));
        assert!(accepts(&h("br;q=0.5"), "br"));
        assert!(!accepts(&h("gzip"), "br"));
    }
}
