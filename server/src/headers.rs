//! What every answer tells the browser about itself: a Content-Security-Policy, and HSTS when
//! people reach Onwatch over https.
//!
//! The policy trusts scripts by a nonce made for each page (the same one Leptos writes on its
//! hydration scripts and on the theme script, through `use_nonce`), so that text which ever got
//! into a page as markup still could not run. `'strict-dynamic'` lets the trusted loader import
//! the bundle; `'wasm-unsafe-eval'` lets it compile the WebAssembly. Nothing may frame a page,
//! change the base URL or embed a plugin. Inline style attributes are allowed: styles cannot
//! run code, and the pages set a few widths that way.

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use leptos::nonce::Nonce;

/// The one inline script that is the same on every page (the theme, applied before the first
/// paint), trusted by its hash: the server-drawn sign-in pages carry it without a render
/// context to take a nonce from.
static THEME_BOOT_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(
        app::components::THEME_BOOT_SCRIPT.as_bytes(),
    ))
});

/// The policy of a page whose scripts carry `nonce`.
pub fn page_policy(nonce: &str) -> String {
    let boot = &*THEME_BOOT_HASH;
    format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'sha256-{boot}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// The policy of everything that is not a page (data, files, errors in plain text): nothing.
const NOT_A_PAGE: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// How long browsers keep to https once told (two years, as the HSTS preload list asks).
const HSTS: &str = "max-age=63072000";

/// Makes each request's nonce (the page's render reads it from the request, see
/// [`nonce_of_request`]) and sets the headers on the answer.
pub async fn security_headers(https: bool, mut req: Request, next: Next) -> Response {
    let nonce = Nonce::new();
    req.extensions_mut().insert(nonce.clone());
    let mut res = next.run(req).await;
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let policy = if is_html {
        HeaderValue::from_str(&page_policy(&nonce))
    } else {
        Ok(HeaderValue::from_static(NOT_A_PAGE))
    };
    let headers = res.headers_mut();
    if let Ok(policy) = policy {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    res
}

/// For the page's render: the nonce the answer's policy names, in place of the one Leptos
/// made (both are fresh and random; only one can be in the header).
pub fn nonce_of_request() -> Option<Nonce> {
    leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|p| p.extensions.get::<Nonce>().cloned())
}
