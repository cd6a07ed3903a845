//! `[server]`: where Onwatch listens, the address people use, the built site, shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The address people use to reach Onwatch (used for cookies and sign-in redirects).
    pub public_url: Option<url::Url>,
    /// Folder with the built site (`pkg/onwatch.js`, `.wasm`, `.css`).
    pub site_root: PathBuf,
    /// How long in-flight requests may run after SIGTERM before the process exits anyway.
    pub shutdown_grace_secs: u64,
    /// Load balancers or proxies in front of Onwatch (addresses or CIDR blocks): only their
    /// `X-Forwarded-For` is believed for the client address shown on the admin page.
    pub trusted_proxies: Vec<crate::edge::IpRange>,
    /// A client must send a request's headers within this long (also: an idle keep-alive
    /// connection is closed after it).
    pub header_timeout_secs: u64,
    /// A request's body must arrive within this long.
    pub body_timeout_secs: u64,
    /// At most this many connections are open at once; more wait in the kernel's queue.
    pub max_connections: usize,
    /// At most this many connections from one client address; one more is answered 503.
    /// Behind a load balancer every connection comes from the balancer: set its own limit.
    pub connections_per_address: usize,
    /// A response whose bytes wait this long for a client that does not read is cut off.
    pub write_timeout_secs: u64,
    /// Live-update streams (the fleet's, an action's, a console query's) one person may keep
    /// open at once: each holds a connection of `max_connections`.
    pub streams_per_person: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            public_url: None,
            site_root: PathBuf::from("target/site"),
            shutdown_grace_secs: 30,
            trusted_proxies: Vec::new(),
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            max_connections: 1024,
            connections_per_address: 128,
            write_timeout_secs: 30,
            streams_per_person: 10,
        }
    }
}

pub(super) fn check(server: &ServerConfig) -> Result<(), ConfigError> {
    if server.header_timeout_secs == 0 || server.body_timeout_secs == 0 {
        return Err(ConfigError::key(
            "server.header_timeout_secs",
            "the header and body timeouts must be at least 1 second",
        ));
    }
    if server.write_timeout_secs == 0 {
        return Err(ConfigError::key(
            "server.write_timeout_secs",
            "must be at least 1 second",
        ));
    }
    if server.connections_per_address < 8 || server.connections_per_address > server.max_connections
    {
        return Err(ConfigError::key(
            "server.connections_per_address",
            "between 8 (a browser opens about six, plus its live updates) and server.max_connections",
        ));
    }
    if server.max_connections < 16 {
        return Err(ConfigError::key(
            "server.max_connections",
            "must be at least 16: every open page keeps one connection for its live updates",
        ));
    }
    if !(1..=1000).contains(&server.streams_per_person) {
        return Err(ConfigError::key(
            "server.streams_per_person",
            "1 to 1000 live-update streams per person",
        ));
    }
    if let Some(public) = &server.public_url {
        if !matches!(public.scheme(), "http" | "https") || public.host_str().is_none() {
            return Err(ConfigError::key(
                "server.public_url",
                format!("`{public}` is not an http(s) URL with a host; expected e.g. https://onwatch.example.com"),
            ));
        }
    }
    Ok(())
}
