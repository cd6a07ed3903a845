//! Endpoint probes in the style of Pingdom: a URL checked on an interval, with status, latency and
//! a short history. By default each environment's Builder API is probed at
//! `GET /v1/depot/origins/core`, which is what Pingdom watched in production.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// How many results each probe keeps.
pub const HISTORY: usize = 60;

/// One probe: an entry of the configuration's `[[probes]]`, read straight into this struct.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeSpec {
    pub name: String,
    pub environment: String,
    /// An http(s) URL ([`ProbeSpec::check`]).
    pub url: String,
    #[serde(
        rename = "interval_secs",
        deserialize_with = "crate::time::secs",
        default = "default_interval",
        skip_serializing
    )]
    pub interval: Duration,
    #[serde(
        rename = "timeout_secs",
        deserialize_with = "crate::time::secs",
        default = "default_timeout",
        skip_serializing
    )]
    pub timeout: Duration,
}

fn default_interval() -> Duration {
    Duration::from_secs(30)
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

impl ProbeSpec {
    /// What is wrong with the probe, if anything, as (key, what is expected).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        match url::Url::parse(&self.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => return Err(("url", format!("`{}` is not an http(s) URL", self.url))),
        }
        if self.interval.is_zero() {
            return Err(("interval_secs", "must be at least 1".to_owned()));
        }
        Ok(())
    }

    /// The default probe of an environment's Builder API.
    pub fn builder_api(environment: &str, base_url: &str) -> ProbeSpec {
        ProbeSpec {
            name: format!("{environment}-depot-core"),
            environment: environment.to_owned(),
            url: format!("{}/v1/depot/origins/core", base_url.trim_end_matches('/')),
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub at_ms: i64,
    pub ok: bool,
    pub status: Option<u16>,
    pub latency_ms: u64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeStatus {
    pub name: String,
    pub environment: String,
    pub method: String,
    pub url: String,
    /// Oldest first, at most [`HISTORY`].
    pub history: Vec<ProbeResult>,
}

impl ProbeStatus {
    pub fn new(spec: &ProbeSpec) -> ProbeStatus {
        ProbeStatus {
            name: spec.name.clone(),
            environment: spec.environment.clone(),
            method: "GET".to_owned(),
            url: spec.url.clone(),
            history: Vec::new(),
        }
    }

    pub fn push(&mut self, r: ProbeResult) {
        self.history.push(r);
        if self.history.len() > HISTORY {
            let extra = self.history.len() - HISTORY;
            self.history.drain(..extra);
        }
    }

    pub fn last_ok(&self) -> Option<bool> {
        self.history.last().map(|r| r.ok)
    }

    pub fn last_error(&self) -> Option<&str> {
        self.history.last().and_then(|r| r.error.as_deref())
    }

    /// When the current run of failures began.
    pub fn failing_since_ms(&self) -> Option<i64> {
        let mut since = None;
        for r in self.history.iter().rev() {
            if r.ok {
                break;
            }
            since = Some(r.at_ms);
        }
        since
    }
}

/// Runs one check: 2xx within the timeout is a success; anything else says why not.
pub async fn check(client: &reqwest::Client, spec: &ProbeSpec) -> ProbeResult {
    let at_ms = crate::time::now_ms();
    let start = Instant::now();
    let outcome = tokio::time::timeout(spec.timeout, async {
        let resp = client.get(&spec.url).send().await?;
        let status = resp.status();
        // Read the body so the latency includes it, as a user would experience.
        let _ = resp.bytes().await?;
        Ok::<_, reqwest::Error>(status)
    })
    .await;
    let latency_ms = start.elapsed().as_millis() as u64;
    match outcome {
        Ok(Ok(status)) if status.is_success() => ProbeResult {
            at_ms,
            ok: true,
            status: Some(status.as_u16()),
            latency_ms,
            error: None,
        },
        Ok(Ok(status)) => ProbeResult {
            at_ms,
            ok: false,
            status: Some(status.as_u16()),
            latency_ms,
            error: Some(format!("HTTP {status}")),
        },
        Ok(Err(e)) => {
            let mut msg = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg = s.to_string();
                src = s.source();
            }
            ProbeResult {
                at_ms,
                ok: false,
                status: None,
                latency_ms,
                error: Some(msg),
            }
        }
        Err(_) => ProbeResult {
            at_ms,
            ok: false,
            status: None,
            latency_ms,
            error: Some(format!("no answer within {} ms", spec.timeout.as_millis())),
        },
    }
}

/// The HTTP client probes share: few redirects, a user agent that says who is asking.
pub fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent(concat!("onwatch-probe/", env!("CARGO_PKG_VERSION")))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(at_ms: i64, ok: bool) -> ProbeResult {
        ProbeResult {
            at_ms,
            ok,
            status: Some(if ok { 200 } else { 503 }),
            latency_ms: 5,
            error: (!ok).then(|| "HTTP 503".to_owned()),
        }
    }

    #[test]
    fn history_is_bounded_and_failing_since_is_the_start_of_the_run() {
        let spec = ProbeSpec::builder_api("live", "http://x/");
        assert_eq!(spec.url, "http://x/v1/depot/origins/core");
        let mut s = ProbeStatus::new(&spec);
        assert_eq!(s.last_ok(), None);
        for i in 0..100 {
            s.push(result(i, true));
        }
        assert_eq!(s.history.len(), HISTORY);
        assert_eq!(s.failing_since_ms(), None);
        s.push(result(200, false));
        s.push(result(201, false));
        assert_eq!(s.failing_since_ms(), Some(200));
        assert_eq!(s.last_error(), Some("HTTP 503"));
        s.push(result(202, true));
        assert_eq!(s.failing_since_ms(), None);
    }

    #[tokio::test]
    async fn a_closed_port_is_a_failure_with_a_reason() {
        let spec = ProbeSpec {
            name: "x".into(),
            environment: "live".into(),
            url: "http://127.0.0.1:1/v1/status".into(),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(2),
        };
        let r = check(&reqwest::Client::new(), &spec).await;
        assert!(!r.ok);
        assert!(r.error.unwrap().to_lowercase().contains("refused"));
    }
}
