//! The pages of the sign-in flow, rendered by the server (no WASM needed): the sign-in page and
//! the page that explains a refused or failed sign-in. Same stylesheet as the portal.

use axum::response::Html;
use ops::auth::Identity;

use super::Auth;
use super::CSRF_FIELD;

/// The portal's one HTML escaper (see `app::html`).
pub use app::html::escape as esc;

fn document(title: &str, body: &str, dev_banner: bool) -> Html<String> {
    let banner = if dev_banner { DEV_BANNER } else { "" };
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"/>\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\
<meta name=\"color-scheme\" content=\"light dark\"/><link rel=\"icon\" href=\"data:,\"/>\
<script>{boot}</script><link rel=\"stylesheet\" href=\"/pkg/onwatch.css\"/>\
<title>{title} · Onwatch</title></head><body>{banner}\
<div class=\"shell\"><header class=\"topbar\"><a class=\"brand\" href=\"/\">\
<span class=\"brand-mark\" aria-hidden=\"true\">◉</span><span class=\"brand-name\">Onwatch</span></a></header>\
<main class=\"content\"><section class=\"page auth-page\">{body}</section></main></div></body></html>",
        boot = app::components::THEME_BOOT_SCRIPT,
        title = esc(title),
    ))
}

/// Shown on every page while the development sign-in is enabled.
pub const DEV_BANNER: &str = "<div class=\"dev-banner\" role=\"alert\" data-testid=\"dev-banner\">\
<strong>Development sign-in is enabled.</strong> Anyone who can reach this portal can pick any name \
and role. For a laptop or a test run only, never for the real fleet.</div>";

pub fn signin(
    auth: &Auth,
    signed_in: Option<&Identity>,
    next: &str,
    notice: Option<&str>,
    csrf: &str,
) -> Html<String> {
    let mut body = String::from("<h1>Sign in to Onwatch</h1>");
    body.push_str(
        "<p class=\"lede\">The on-call portal of the Habitat Builder team. Everything you do here is tied to your name.</p>",
    );
    if let Some(n) = notice {
        body.push_str(&format!(
            "<div class=\"callout\" role=\"status\">{}</div>",
            esc(n)
        ));
    }
    if let Some(id) = signed_in {
        body.push_str(&format!(
            "<div class=\"callout\">You are signed in as <strong>{}</strong> ({}). <a href=\"{}\">Continue →</a></div>",
            esc(&id.name),
            esc(id.role.as_str()),
            esc(next)
        ));
    }
    let q = format!("?next={}", encode(next));
    body.push_str("<div class=\"signin-options\">");
    if auth.github.is_some() {
        body.push_str(&format!(
            "<a class=\"button button-primary\" data-testid=\"signin-github\" href=\"/auth/github{}\">Sign in with GitHub</a>",
            esc(&q)
        ));
    }
    if let Some(oidc) = &auth.oidc {
        body.push_str(&format!(
            "<a class=\"button button-primary\" data-testid=\"signin-oidc\" href=\"/auth/oidc{}\">Sign in with {}</a>",
            esc(&q),
            esc(&oidc.display_name)
        ));
    }
    body.push_str("</div>");
    if auth.dev_signin {
        body.push_str(&format!(
            "<form class=\"dev-signin\" method=\"post\" action=\"/auth/dev\" data-testid=\"dev-signin\">\
<h2>Development sign-in</h2>\
<p class=\"muted small\">No identity provider: pick a name and the role to try. Only on a portal bound to loopback.</p>\
<input type=\"hidden\" name=\"{CSRF_FIELD}\" value=\"{csrf}\"/>\
<input type=\"hidden\" name=\"next\" value=\"{next}\"/>\
<label>Name <input name=\"name\" required maxlength=\"40\" autocomplete=\"username\" value=\"\"/></label>\
<label>Role <select name=\"role\">\
<option value=\"viewer\">viewer: sees everything, no actions</option>\
<option value=\"responder\" selected>responder: production actions and the query console</option>\
<option value=\"admin\">admin: everything, plus sessions and audit export</option>\
</select></label>\
<button class=\"button button-primary\" type=\"submit\">Sign in</button></form>",
            csrf = esc(csrf),
            next = esc(next),
        ));
    }
    if !auth.has_provider() && !auth.dev_signin {
        body.push_str(
            "<div class=\"callout callout-error\">No sign-in provider is configured.</div>",
        );
    }
    document("Sign in", &body, auth.dev_signin)
}

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A page that says what went wrong and what to do, with optional facts.
pub fn problem(title: &str, message: &str, facts: &[(String, String)]) -> Html<String> {
    let mut body = format!(
        "<h1>{}</h1><div class=\"callout callout-error\" role=\"alert\" data-testid=\"problem\">{}</div>",
        esc(title),
        esc(message)
    );
    if !facts.is_empty() {
        body.push_str("<dl class=\"facts\">");
        for (k, v) in facts {
            body.push_str(&format!("<dt>{}</dt><dd>{}</dd>", esc(k), esc(v)));
        }
        body.push_str("</dl>");
    }
    body.push_str(
        "<p><a href=\"/signin\">Back to the sign-in page</a> · <a href=\"/\">Onwatch home</a></p>",
    );
    document(title, &body, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_page_escapes_provider_text() {
        let Html(page) = problem(
            "Sign-in failed",
            "<script>alert(1)</script>",
            &[("k".into(), "<b>".into())],
        );
        assert!(!page.contains("<script>alert"));
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains("&lt;b&gt;"));
    }
}
