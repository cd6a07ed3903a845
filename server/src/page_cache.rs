//! The dashboard's whole page, drawn once for what it shows and sent again as bytes.
//!
//! Profiled under 50 clients, the dashboard's time went to drawing the Leptos tree (the shell,
//! the header, the router), allocation by allocation, not to any one thing that could be made
//! cheaper. But the page is a function of a few inputs: the shell's data (who is signed in, their
//! CSRF token and zone, the header's incidents and on-call), the fleet snapshot it draws, and the
//! address. So the page is drawn once per distinct set of those inputs and kept; a request with
//! the same inputs gets the same bytes, with its own nonce.
//!
//! Why it cannot show something stale:
//! - the key is a SHA-256 of every input the page reads, worked out per request by the same
//!   functions the page's render calls (`app::api::shell_data_now`, the dashboard's snapshot),
//!   so a new incident, a new fleet snapshot, another person or another zone is another key;
//! - the render reads its snapshot after the key was taken, so a kept page is never older than
//!   its key says.
//!
//! The nonce: a page names the nonce of its response's Content-Security-Policy on its scripts,
//! and that nonce must be new for every response. So a kept page is drawn with a marker nonce
//! (random, made at start-up, never sent), and every answer replaces the marker with the
//! request's own nonce. Nobody outside the process ever sees the marker, so no page content can
//! carry it to get a nonce of its own.
//!
//! Only signed-in `GET /` is kept, and only a `200` whose answer sets no cookie; anything else
//! (a refusal, a store fault, a sign-in redirect) passes through as it is.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use leptos::nonce::Nonce;
use leptos::prelude::{provide_context, Owner};
use sha2::{Digest, Sha256};

/// How many pages are kept: every reader's page of the current snapshot for a team, with room
/// for the last one's. When full, the oldest goes.
const KEPT: usize = 64;

/// The largest page read; a larger one is refused (a dashboard of thousands of hosts with a
/// problem each is a few hundred KB).
const LARGEST: usize = 4 * 1024 * 1024;

/// The most bytes kept in all: past it the oldest pages go, whatever their number.
const KEPT_BYTES: usize = 32 * 1024 * 1024;

/// What the dashboard's render reads besides the request: the portal and the dashboard's cache
/// (the same values the server gives every render as context).
#[derive(Clone)]
pub struct PageCache {
    inner: Arc<Inner>,
}

struct Inner {
    portal: app::portal::Portal,
    dashboard: app::pages::home::cache::DashboardCache,
    /// Drawn into kept pages in place of the request's nonce, and replaced in every answer.
    marker: Nonce,
    pages: Mutex<Pages>,
    counts: crate::metrics::PageCacheCounts,
}

#[derive(Default)]
struct Pages {
    by_key: HashMap<[u8; 32], Arc<Kept>>,
    order: VecDeque<[u8; 32]>,
    bytes: usize,
}

/// A page as drawn: its headers, and its body cut at each marker nonce.
struct Kept {
    headers: HeaderMap,
    pieces: Vec<Bytes>,
}

impl Pages {
    /// Keeps `page`, then lets the oldest go while more than [`KEPT`] pages or [`KEPT_BYTES`]
    /// bytes are kept (the newest always stays).
    fn keep(&mut self, key: [u8; 32], page: Arc<Kept>) {
        let len = page.len();
        match self.by_key.insert(key, page) {
            Some(old) => self.bytes -= old.len(),
            None => self.order.push_back(key),
        }
        self.bytes += len;
        while self.order.len() > KEPT || (self.bytes > KEPT_BYTES && self.order.len() > 1) {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some(gone) = self.by_key.remove(&old) {
                self.bytes -= gone.len();
            }
        }
    }
}

impl Kept {
    fn len(&self) -> usize {
        self.pieces.iter().map(Bytes::len).sum()
    }
}

impl PageCache {
    pub fn new(
        portal: app::portal::Portal,
        dashboard: app::pages::home::cache::DashboardCache,
        counts: crate::metrics::PageCacheCounts,
    ) -> PageCache {
        PageCache {
            inner: Arc::new(Inner {
                portal,
                dashboard,
                marker: Nonce::new(),
                pages: Mutex::default(),
                counts,
            }),
        }
    }

    /// The key of the page this request would be drawn as, or `None` when the page is not kept
    /// (not the dashboard, not signed in, the shell's data cannot be read).
    fn key_of(&self, req: &Request) -> Option<[u8; 32]> {
        if req.method() != Method::GET || req.uri().path() != "/" {
            return None;
        }
        let identity = req.extensions().get::<ops::auth::Identity>()?;
        // What the render has as `Parts`: this request's method, address, headers and the
        // extensions the wall put on it.
        let mut parts = axum::http::Request::new(()).into_parts().0;
        parts.method = req.method().clone();
        parts.uri = req.uri().clone();
        parts.version = req.version();
        parts.headers = req.headers().clone();
        parts.extensions = req.extensions().clone();
        let owner = Owner::new();
        let (shell, snapshot) = owner.with(|| {
            provide_context(parts);
            provide_context(self.inner.portal.clone());
            provide_context(self.inner.dashboard.clone());
            (
                app::api::shell_data_now(),
                app::pages::home::dashboard_key(),
            )
        });
        let (shell, (version, generated_ms)) = (shell.ok()?, snapshot.ok()?);
        let mut h = Sha256::new();
        h.update(b"onwatch dashboard page v1\0");
        h.update(req.uri().to_string().as_bytes());
        h.update(b"\0");
        // The identity in full (the shell's data names only some of it).
        h.update(format!("{identity:?}").as_bytes());
        h.update(b"\0");
        h.update(serde_json::to_vec(&shell).ok()?);
        h.update(version.to_be_bytes());
        h.update(generated_ms.to_be_bytes());
        Some(h.finalize().into())
    }

    fn get(&self, key: &[u8; 32]) -> Option<Arc<Kept>> {
        self.inner
            .pages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_key
            .get(key)
            .cloned()
    }

    fn keep(&self, key: [u8; 32], page: Arc<Kept>) {
        self.inner
            .pages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keep(key, page);
    }

    /// The page with `nonce` in place of every marker.
    fn answer(kept: &Kept, nonce: &str) -> Response {
        let len = kept.len() + nonce.len() * kept.pieces.len().saturating_sub(1);
        let mut body = Vec::with_capacity(len);
        for (i, piece) in kept.pieces.iter().enumerate() {
            if i > 0 {
                body.extend_from_slice(nonce.as_bytes());
            }
            body.extend_from_slice(piece);
        }
        let mut res = Response::new(Body::from(body));
        *res.headers_mut() = kept.headers.clone();
        res
    }
}

/// Cuts `body` at each occurrence of `marker`.
fn cut(body: &Bytes, marker: &str) -> Vec<Bytes> {
    let Ok(text) = std::str::from_utf8(body) else {
        return vec![body.clone()];
    };
    let mut pieces = Vec::new();
    let mut from = 0;
    for (at, _) in text.match_indices(marker) {
        pieces.push(body.slice(from..at));
        from = at + marker.len();
    }
    pieces.push(body.slice(from..));
    pieces
}

/// The middleware (inside the auth wall, so that the identity, CSRF token and zone are on the
/// request).
pub async fn serve(State(cache): State<PageCache>, mut req: Request, next: Next) -> Response {
    let Some(nonce) = req.extensions().get::<Nonce>().cloned() else {
        return next.run(req).await;
    };
    let Some(key) = cache.key_of(&req) else {
        cache.inner.counts.passed.inc();
        return next.run(req).await;
    };
    if let Some(kept) = cache.get(&key) {
        cache.inner.counts.hit.inc();
        return PageCache::answer(&kept, &nonce);
    }
    cache.inner.counts.miss.inc();
    // Drawn with the marker, then answered with this request's nonce like any later copy.
    req.extensions_mut().insert(cache.inner.marker.clone());
    let res = next.run(req).await;
    let (parts, body) = res.into_parts();
    let body = match axum::body::to_bytes(body, LARGEST).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "the dashboard's page could not be read to be kept");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The dashboard could not be drawn: reload the page.",
            )
                .into_response();
        }
    };
    let mut headers = parts.headers.clone();
    // The length is the answer's own (a nonce need not be as long as the marker).
    headers.remove(header::CONTENT_LENGTH);
    let kept = Kept {
        headers,
        pieces: cut(&body, &cache.inner.marker),
    };
    let keep = parts.status == StatusCode::OK && !parts.headers.contains_key(header::SET_COOKIE);
    let mut res = PageCache::answer(&kept, &nonce);
    *res.status_mut() = parts.status;
    *res.extensions_mut() = parts.extensions;
    if keep {
        cache.keep(key, Arc::new(kept));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_page_is_cut_at_every_marker_and_put_together_with_the_nonce() {
        let body = Bytes::from_static(b"<script nonce=\"MARK\">a</script><p>MARK</p>end");
        let pieces = cut(&body, "MARK");
        assert_eq!(pieces.len(), 3);
        let kept = Kept {
            headers: HeaderMap::new(),
            pieces,
        };
        let res = PageCache::answer(&kept, "n0nce");
        let got = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
        assert_eq!(
            &got[..],
            b"<script nonce=\"n0nce\">a</script><p>n0nce</p>end"
        );
        // Without a marker, the page is one piece and goes out as it came.
        assert_eq!(cut(&Bytes::from_static(b"plain"), "MARK").len(), 1);
    }

    #[test]
    fn the_oldest_pages_go_past_the_count_or_the_bytes() {
        let page = |n: usize| {
            Arc::new(Kept {
                headers: HeaderMap::new(),
                pieces: vec![Bytes::from(vec![b'x'; n])],
            })
        };
        let mut pages = Pages::default();
        for i in 0..(KEPT + 3) {
            pages.keep([i as u8; 32], page(10));
        }
        assert_eq!(pages.order.len(), KEPT);
        assert!(
            !pages.by_key.contains_key(&[0; 32])
                && pages.by_key.contains_key(&[2 + KEPT as u8; 32])
        );
        assert_eq!(pages.bytes, KEPT * 10);
        // The same key again replaces, and is counted once.
        pages.keep([5; 32], page(20));
        assert_eq!((pages.order.len(), pages.bytes), (KEPT, KEPT * 10 + 10));
        // Two pages of more than half the budget: only the newer stays.
        pages.keep([200; 32], page(KEPT_BYTES / 2 + 1));
        pages.keep([201; 32], page(KEPT_BYTES / 2 + 1));
        assert_eq!(pages.order.iter().collect::<Vec<_>>(), [&[201; 32]]);
        assert_eq!(pages.bytes, KEPT_BYTES / 2 + 1);
    }
}
