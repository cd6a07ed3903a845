//! Prometheus metrics for HTTP requests: counts by method, route and status, and latency
//! histograms by method and route. Routes are the router's patterns (`/services/{slug}`), never
//! raw paths, so the number of series stays bounded.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
struct Histogram {
    /// Per bucket, the count of observations <= its bound (not cumulative; summed on render).
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<(String, String), Histogram>,
}

/// Shared HTTP metrics registry.
#[derive(Clone, Default)]
pub struct HttpMetrics {
    inner: Arc<Mutex<Inner>>,
}

impl HttpMetrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        *inner
            .requests
            .entry((method.to_owned(), route.to_owned(), status))
            .or_insert(0) += 1;
        let h = inner
            .latency
            .entry((method.to_owned(), route.to_owned()))
            .or_default();
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            h.buckets[i] += 1;
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let Ok(inner) = self.inner.lock() else {
            return out;
        };
        out.push_str("# HELP onwatch_http_requests_total HTTP requests served, by method, route and status.\n");
        out.push_str("# TYPE onwatch_http_requests_total counter\n");
        for ((method, route, status), n) in &inner.requests {
            let _ = writeln!(
                out,
                "onwatch_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(method),
                escape(route)
            );
        }
        out.push_str("# HELP onwatch_http_request_duration_seconds Time to produce the response head, by method and route.\n");
        out.push_str("# TYPE onwatch_http_request_duration_seconds histogram\n");
        for ((method, route), h) in &inner.latency {
            let labels = format!("method=\"{}\",route=\"{}\"", escape(method), escape(route));
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(h.buckets.iter()) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "onwatch_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "onwatch_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "onwatch_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "onwatch_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware that records every request.
pub async fn track(State(metrics): State<HttpMetrics>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| {
            // Unmatched requests: static files under /pkg, or pages that do not exist.
            if req.uri().path().starts_with("/pkg/") {
                "/pkg/{file}".to_owned()
            } else {
                "unmatched".to_owned()
            }
        });
    let response = next.run(req).await;
    metrics.observe(
        &method,
        &route,
        response.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = HttpMetrics::default();
        m.observe("GET", "/", 200, 0.0005);
        m.observe("GET", "/", 200, 0.02);
        m.observe("GET", "/", 500, 3.0);
        let text = m.render();
        assert!(text
            .contains("onwatch_http_requests_total{method=\"GET\",route=\"/\",status=\"200\"} 2"));
        assert!(text
            .contains("onwatch_http_requests_total{method=\"GET\",route=\"/\",status=\"500\"} 1"));
        assert!(text.contains(
            "onwatch_http_request_duration_seconds_bucket{method=\"GET\",route=\"/\",le=\"0.001\"} 1"
        ));
        assert!(text.contains(
            "onwatch_http_request_duration_seconds_bucket{method=\"GET\",route=\"/\",le=\"0.025\"} 2"
        ));
        assert!(text.contains(
            "onwatch_http_request_duration_seconds_bucket{method=\"GET\",route=\"/\",le=\"+Inf\"} 3"
        ));
        assert!(text
            .contains("onwatch_http_request_duration_seconds_count{method=\"GET\",route=\"/\"} 3"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\n"), "a\\\"b\\\\c\\n");
    }
}
