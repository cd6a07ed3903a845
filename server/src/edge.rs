//! The edge: what every request passes before the router sees it.
//!
//! 1. **The path is made canonical** (dot segments resolved, repeated slashes folded), so that
//!    the router and the auth wall judge the same path: `/pkg/../admin/sessions` *is* the admin
//!    page, as a browser would resolve it, not a static file that the wall lets anyone fetch.
//!    Encoded slashes and dots (`%2f`, `%2e`) are refused: no route needs them, and decoding them
//!    differently from a proxy in front is how path confusions start.
//! 2. **The `Host` must be ours**: the public URL's host (and, when Onwatch listens on loopback,
//!    the loopback names). A DNS-rebinding page (`Host: a.evil.example:3000` resolving to
//!    127.0.0.1) gets nothing, signed in or not.
//! 3. **The development sign-in serves this machine's own browser only**: when it is on, every
//!    request must come from a loopback peer with a loopback `Host`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// What the edge needs to judge a request.
#[derive(Debug, Clone)]
pub struct EdgeRules {
    /// `host` or `host:port` forms that name this Onwatch (lower case).
    public_host: String,
    public_port: u16,
    /// Onwatch listens on loopback, so loopback names are ours too.
    loopback_bound: bool,
    /// The development sign-in is on: loopback peers and hosts only.
    dev_signin: bool,
}

impl EdgeRules {
    pub fn new(public_url: &url::Url, listen: SocketAddr, dev_signin: bool) -> EdgeRules {
        EdgeRules {
            public_host: public_url
                .host_str()
                .unwrap_or_default()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_ascii_lowercase(),
            public_port: public_url.port_or_known_default().unwrap_or(80),
            loopback_bound: listen.ip().is_loopback(),
            dev_signin,
        }
    }

    /// Whether `Host: value` names this Onwatch.
    pub fn host_allowed(&self, value: &str) -> bool {
        let Some((host, port)) = split_host(value) else {
            return false;
        };
        let loopback = is_loopback_name(&host);
        if self.dev_signin {
            return loopback;
        }
        let public = host == self.public_host && port.is_none_or(|p| p == self.public_port);
        public || (self.loopback_bound && loopback)
    }
}

/// `host[:port]` of a `Host` header, the host lower case and without IPv6 brackets.
fn split_host(value: &str) -> Option<(String, Option<u16>)> {
    let value = value.trim();
    if value.is_empty() || value.contains(['/', '@', ' ', '\\']) {
        return None;
    }
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?.parse().ok()?),
        };
        (h.to_owned(), port)
    } else {
        match value.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p.parse().ok()?)),
            None => (value.to_owned(), None),
        }
    };
    Some((host.to_ascii_lowercase(), port))
}

fn is_loopback_name(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The canonical form of a path: dot segments resolved (never above the root), repeated slashes
/// folded. `None` for encoded slashes or dots, which no route uses.
pub fn canonical_path(path: &str) -> Option<String> {
    let lower = path.to_ascii_lowercase();
    if lower.contains("%2f")
        || lower.contains("%2e")
        || lower.contains("%5c")
        || path.contains('\\')
    {
        return None;
    }
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len().saturating_sub(1);
    let mut trailing = false;
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "" | "." => trailing = i == last && i > 0,
            ".." => {
                out.pop();
                trailing = i == last;
            }
            s => {
                out.push(s);
                trailing = false;
            }
        }
    }
    let mut canonical = format!("/{}", out.join("/"));
    if trailing && canonical != "/" {
        canonical.push('/');
    }
    Some(canonical)
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}

/// The edge middleware (see the module documentation).
pub async fn edge(State(rules): State<Arc<EdgeRules>>, mut req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    if !host.is_some_and(|h| rules.host_allowed(&h)) {
        tracing::warn!(host = ?req.headers().get(header::HOST), "refused: a Host that is not this Onwatch");
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "This address is not served here. Use Onwatch's own address (server.public_url).",
        );
    }
    if rules.dev_signin {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        if !peer.is_some_and(|ip| ip.is_loopback()) {
            tracing::warn!(
                ?peer,
                "refused: the development sign-in serves loopback peers only"
            );
            return refuse(
                StatusCode::FORBIDDEN,
                "This Onwatch runs with the development sign-in, which serves this machine's own browser only.",
            );
        }
    }
    let path = req.uri().path();
    match canonical_path(path) {
        None => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "The path has encoded slashes, dots or backslashes; no Onwatch page has them.",
            )
        }
        Some(canonical) if canonical != path => {
            let pq = match req.uri().query() {
                Some(q) => format!("{canonical}?{q}"),
                None => canonical,
            };
            let mut parts = req.uri().clone().into_parts();
            match pq.parse() {
                Ok(p) => parts.path_and_query = Some(p),
                Err(_) => return refuse(StatusCode::BAD_REQUEST, "The path cannot be read."),
            }
            match Uri::from_parts(parts) {
                Ok(uri) => *req.uri_mut() = uri,
                Err(_) => return refuse(StatusCode::BAD_REQUEST, "The path cannot be read."),
            }
        }
        Some(_) => {}
    }
    next.run(req).await
}

/// An address or a CIDR block (`10.0.0.0/8`, `fd00::/8`, `192.0.2.7`): a proxy whose
/// `X-Forwarded-For` is believed (`server.trusted_proxies`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    net: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for IpRange {
    type Err = String;
    fn from_str(s: &str) -> Result<IpRange, String> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let net: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{s}` is not an IP address or CIDR block (e.g. 10.0.0.0/8)"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}`: the prefix length must be 0 to {max}"))?,
            None => max,
        };
        Ok(IpRange { net, prefix })
    }
}

impl<'de> serde::Deserialize<'de> for IpRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<IpRange, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl IpRange {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// The client's address: the peer, unless the peer is a trusted proxy; then the right-most
/// `X-Forwarded-For` entry that is not itself a trusted proxy (entries further left were written
/// by the client and prove nothing).
pub fn client_address(
    peer: IpAddr,
    headers: &axum::http::HeaderMap,
    trusted: &[IpRange],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|r| r.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !is_trusted(*ip))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_made_canonical() {
        assert_eq!(
            canonical_path("/pkg/../admin/sessions").as_deref(),
            Some("/admin/sessions")
        );
        assert_eq!(canonical_path("/a/./b//c").as_deref(), Some("/a/b/c"));
        assert_eq!(canonical_path("/../../etc").as_deref(), Some("/etc"));
        assert_eq!(canonical_path("/").as_deref(), Some("/"));
        assert_eq!(canonical_path("/services/").as_deref(), Some("/services/"));
        assert_eq!(canonical_path("/a/b/..").as_deref(), Some("/a/"));
        assert_eq!(canonical_path("/pkg/%2e%2e/admin"), None);
        assert_eq!(canonical_path("/pkg%2F..%2Fadmin"), None);
        assert_eq!(canonical_path("/pkg\\..\\admin"), None);
    }

    #[test]
    fn forwarded_for_only_through_trusted_proxies() {
        use axum::http::{HeaderMap, HeaderValue};
        let trusted: Vec<IpRange> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.9, 10.1.2.3"),
        );
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            client_address(ip("10.0.0.1"), &h, &trusted),
            ip("203.0.113.9"),
            "the right-most untrusted entry, not the client-written left one"
        );
        assert_eq!(
            client_address(ip("198.51.100.1"), &h, &trusted),
            ip("198.51.100.1"),
            "a peer that is no proxy cannot claim an address"
        );
        assert_eq!(client_address(ip("10.0.0.1"), &h, &[]), ip("10.0.0.1"));
        assert!("10.0.0.0/33".parse::<IpRange>().is_err());
        assert!("fd00::/8"
            .parse::<IpRange>()
            .unwrap()
            .contains(ip("fd12::1")));
        assert!("0.0.0.0/0"
            .parse::<IpRange>()
            .unwrap()
            .contains(ip("1.2.3.4")));
    }

    #[test]
    fn hosts() {
        let public: url::Url = "https://onwatch.example.com".parse().unwrap();
        let r = EdgeRules::new(&public, "10.0.0.5:3000".parse().unwrap(), false);
        assert!(r.host_allowed("onwatch.example.com"));
        assert!(r.host_allowed("ONWATCH.example.com:443"));
        assert!(!r.host_allowed("onwatch.example.com:3000"));
        assert!(!r.host_allowed("localhost:3000"), "not bound to loopback");
        assert!(!r.host_allowed("a.evil.example"));

        let local: url::Url = "http://127.0.0.1:3000".parse().unwrap();
        let r = EdgeRules::new(&local, "127.0.0.1:3000".parse().unwrap(), true);
        assert!(r.host_allowed("127.0.0.1:3000"));
        assert!(r.host_allowed("localhost:3000"));
        assert!(r.host_allowed("[::1]:3000"));
        assert!(!r.host_allowed("a.evil.example:3000"));
        assert!(!r.host_allowed("127.0.0.1.nip.io:3000"));
        assert!(!r.host_allowed(""));
        assert!(!r.host_allowed("user@127.0.0.1"));
    }
}
