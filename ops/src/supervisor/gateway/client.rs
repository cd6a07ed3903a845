//! A pooled HTTP client for Supervisor gateways: timeouts, body limits, bearer tokens, TLS, and a
//! keyed digest of each `/services` body, so that a steady Supervisor's answer is parsed once.
//!
//! Built on hyper's pooled client rather than reqwest, for one setting reqwest does not offer:
//! the size of each connection's read buffer. The poller keeps a connection open to every
//! Supervisor (1,000 of them and more), and hyper's default buffer grows with the bodies read
//! (a census is megabytes) and stays grown while the connection idles: 60 MB of buffers for
//! 1,000 hosts, more than the fleet model itself by far. Here each connection reads into a
//! fixed [`READ_BUFFER`].

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::{Body, Bytes};
use hyper::header::{HeaderValue, AUTHORIZATION, USER_AGENT};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use super::wire::{
    parse_census, parse_census_summary, parse_health, parse_services, CensusSummary, HealthReport,
    ServiceStatus,
};
use super::{GatewayError, MAX_BODY_BYTES};

/// Where a Supervisor's HTTP gateway is, and how to authenticate.
#[derive(Debug, Clone)]
pub struct GatewayTarget {
    /// `http://10.0.0.5:9631` or `https://…` (no trailing slash).
    pub base_url: String,
    /// `HAB_SUP_GATEWAY_AUTH_TOKEN`; its `Debug` never prints it.
    pub token: Option<secrecy::SecretString>,
}

impl GatewayTarget {
    pub fn new(
        host: &str,
        port: u16,
        tls: bool,
        token: Option<secrecy::SecretString>,
    ) -> GatewayTarget {
        let scheme = if tls { "https" } else { "http" };
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        GatewayTarget {
            base_url: format!("{scheme}://{host}:{port}"),
            token,
        }
    }
}

/// Client settings shared by every host.
#[derive(Debug, Clone)]
pub struct GatewayClientOptions {
    pub connect_timeout: Duration,
    /// For the whole request, body included.
    pub request_timeout: Duration,
    /// Extra CA certificate (PEM) for gateways with their own TLS certificates.
    pub ca_pem: Option<Vec<u8>>,
    pub max_idle_per_host: usize,
}

impl Default for GatewayClientOptions {
    fn default() -> Self {
        GatewayClientOptions {
            connect_timeout: Duration::from_millis(1500),
            request_timeout: Duration::from_secs(3),
            ca_pem: None,
            max_idle_per_host: 2,
        }
    }
}

/// Each connection's read buffer: a `/services` body arrives in two or three reads of this,
/// a census in a few hundred, and an idle connection holds no more than this.
const READ_BUFFER: usize = 16 * 1024;

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// A pooled HTTP client for Supervisor gateways. Cheap to clone.
#[derive(Clone)]
pub struct GatewayClient {
    http: Client<Connector, Empty<Bytes>>,
    request_timeout: Duration,
    /// The key of the `/services` digests (random per client: a host cannot aim for a
    /// collision with a body it sent before).
    digest_keys: std::collections::hash_map::RandomState,
}

/// A `/services` body as it arrived, with its keyed digest: the fleet model keeps the digest of
/// the body each host's services were last read from, and a body with the same digest is not
/// parsed again (a steady Supervisor sends the same bytes every second).
#[derive(Debug, Clone)]
pub struct ServicesBody {
    pub body: Vec<u8>,
    /// SipHash-1-3 of `body` under the client's random key.
    pub digest: u64,
}

/// At most this much is reserved for a body ahead of its bytes (see `get`).
const RESERVE_MAX: usize = 256 * 1024;

impl std::fmt::Debug for GatewayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayClient")
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl GatewayClient {
    pub fn new(options: &GatewayClientOptions) -> Result<GatewayClient, GatewayError> {
        // The public web's roots (as reqwest's `rustls-tls` trusted before), and the
        // environment's own CA for gateways with their own certificates.
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(pem) = &options.ca_pem {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<_, _>>()
                .map_err(|e| GatewayError::BadAddress(format!("CA certificate: {e}")))?;
            if certs.is_empty() {
                return Err(GatewayError::BadAddress(
                    "CA certificate: no certificate in the PEM".into(),
                ));
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| GatewayError::BadAddress(format!("CA certificate: {e}")))?;
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| GatewayError::Connect(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut tcp = HttpConnector::new();
        tcp.set_connect_timeout(Some(options.connect_timeout));
        tcp.set_nodelay(true);
        tcp.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        // No redirects: hyper's client follows none.
        let http = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(options.max_idle_per_host)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_timer(TokioTimer::new())
            .http1_read_buf_exact_size(READ_BUFFER)
            .build(connector);
        Ok(GatewayClient {
            http,
            request_timeout: options.request_timeout,
            digest_keys: Default::default(),
        })
    }

    /// `GET /services`, unparsed, with its digest (see [`ServicesBody`]): the poller parses it
    /// only when the digest differs from the one the model holds for the host.
    pub async fn services_digest(
        &self,
        target: &GatewayTarget,
    ) -> Result<ServicesBody, GatewayError> {
        use std::hash::BuildHasher;
        let body = self.services_body(target).await?;
        let digest = self.digest_keys.hash_one(&body);
        Ok(ServicesBody { body, digest })
    }

    /// GETs `path`, returning the status and the body (up to [`MAX_BODY_BYTES`]), within the
    /// request timeout (body included).
    async fn get(
        &self,
        target: &GatewayTarget,
        path: &str,
    ) -> Result<(u16, Vec<u8>), GatewayError> {
        let url = format!("{}{path}", target.base_url);
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| GatewayError::BadAddress(format!("{url}: {e}")))?;
        let mut req = hyper::Request::get(uri).header(
            USER_AGENT,
            HeaderValue::from_static(concat!("onwatch/", env!("CARGO_PKG_VERSION"))),
        );
        if let Some(token) = &target.token {
            let mut value = HeaderValue::try_from(format!(
                "Bearer {}",
                secrecy::ExposeSecret::expose_secret(token)
            ))
            .map_err(|_| {
                GatewayError::BadAddress("the gateway token is not a valid header value".into())
            })?;
            value.set_sensitive(true);
            req = req.header(AUTHORIZATION, value);
        }
        let req = req
            .body(Empty::new())
            .map_err(|e| GatewayError::BadAddress(format!("{url}: {e}")))?;
        let exchange = async {
            let resp = self
                .http
                .request(req)
                .await
                .map_err(|e| self.classify(&e))?;
            let status = resp.status().as_u16();
            let announced = resp.body().size_hint().exact().unwrap_or(0);
            if announced > MAX_BODY_BYTES as u64 {
                return Err(GatewayError::TooLarge);
            }
            // Room for the announced length at once (no regrowing and copying a census of
            // megabytes), up to a limit: a host announcing a length it never sends must not
            // make every open visit hold megabytes.
            let mut body = Vec::with_capacity((announced as usize).min(RESERVE_MAX));
            let mut incoming = resp.into_body();
            while let Some(frame) = incoming.frame().await {
                let frame = frame.map_err(|e| self.classify(&e))?;
                if let Ok(chunk) = frame.into_data() {
                    if body.len() + chunk.len() > MAX_BODY_BYTES {
                        return Err(GatewayError::TooLarge);
                    }
                    body.extend_from_slice(&chunk);
                }
            }
            Ok((status, body))
        };
        tokio::time::timeout(self.request_timeout, exchange)
            .await
            .unwrap_or(Err(GatewayError::Timeout(
                self.request_timeout.as_millis() as u64
            )))
    }

    fn classify(&self, e: &(dyn std::error::Error + 'static)) -> GatewayError {
        // The innermost cause says the most ("Connection refused"); a connection attempt that
        // ran out of time is a timeout like any other.
        let mut msg = e.to_string();
        let mut source = Some(e);
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::TimedOut {
                    return GatewayError::Timeout(self.request_timeout.as_millis() as u64);
                }
            }
            msg = s.to_string();
            source = s.source();
        }
        GatewayError::Connect(msg)
    }

    fn check(status: u16, body: &[u8]) -> Result<(), GatewayError> {
        match status {
            200 => Ok(()),
            401 => Err(GatewayError::Unauthorized),
            404 => Err(GatewayError::NotFound),
            s => Err(GatewayError::Status {
                status: s,
                reason: String::from_utf8_lossy(&body[..body.len().min(200)])
                    .trim()
                    .to_owned(),
            }),
        }
    }

    /// `GET /services`: every loaded service.
    pub async fn services(
        &self,
        target: &GatewayTarget,
    ) -> Result<Vec<ServiceStatus>, GatewayError> {
        parse_services(&self.services_body(target).await?)
    }

    /// The body of a successful `GET /services`.
    async fn services_body(&self, target: &GatewayTarget) -> Result<Vec<u8>, GatewayError> {
        let (status, body) = self.get(target, "/services").await?;
        GatewayClient::check(status, &body)?;
        Ok(body)
    }

    /// `GET /services/{svc}/{group}/health`. 200 (OK/WARNING), 503 (CRITICAL) and 500 (UNKNOWN)
    /// all carry the report.
    pub async fn health(
        &self,
        target: &GatewayTarget,
        service: &str,
        group: &str,
    ) -> Result<HealthReport, GatewayError> {
        let (status, body) = self
            .get(target, &format!("/services/{service}/{group}/health"))
            .await?;
        match status {
            200 | 500 | 503 => parse_health(&body),
            s => {
                GatewayClient::check(s, &body)?;
                parse_health(&body)
            }
        }
    }

    /// `GET /census`, summarised.
    pub async fn census(&self, target: &GatewayTarget) -> Result<CensusSummary, GatewayError> {
        let (status, body) = self.get(target, "/census").await?;
        GatewayClient::check(status, &body)?;
        parse_census(&body)
    }

    /// `GET /census`, summarised with at most `max_members` members (see
    /// [`parse_census_summary`]): what the fleet model keeps, without building the rest.
    pub async fn census_summary(
        &self,
        target: &GatewayTarget,
        max_members: usize,
    ) -> Result<CensusSummary, GatewayError> {
        let (status, body) = self.get(target, "/census").await?;
        GatewayClient::check(status, &body)?;
        parse_census_summary(&body, max_members)
    }

    /// `GET /butterfly`, as raw JSON (shown for debugging on the host page).
    pub async fn butterfly(
        &self,
        target: &GatewayTarget,
    ) -> Result<serde_json::Value, GatewayError> {
        let (status, body) = self.get(target, "/butterfly").await?;
        GatewayClient::check(status, &body)?;
        serde_json::from_slice(&body).map_err(|e| GatewayError::Garbage(format!("butterfly: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_are_bracketed() {
        assert_eq!(
            GatewayTarget::new("::1", 9631, false, None).base_url,
            "http://[::1]:9631"
        );
        assert_eq!(
            GatewayTarget::new("10.0.0.5", 9631, true, None).base_url,
            "https://10.0.0.5:9631"
        );
    }
}
