//! A small Statuspage (REST API v1) on the simulator's control port, for the demo: Onwatch
//! publishes its incidents here as it would to statuspage.io, and `GET /statuspage/` shows them
//! as the public would read them.
//!
//! - `POST /statuspage/v1/pages/{page}/incidents`, `PATCH …/incidents/{id}`,
//!   `GET …/incidents/unresolved`, `GET …/incidents/{id}` (with `Authorization: OAuth KEY`, any
//!   non-empty key; the incident's `metadata` kept as sent)
//! - `POST /statuspage/fault` with `{"fail": 3}`: the next 3 API requests answer 503 (the
//!   updates stay "not yet public" in Onwatch, then go out once each)
//! - `GET /statuspage/`: the public page (HTML)

use std::collections::BTreeMap;
use std::sync::Mutex;

use hyper::{Method, StatusCode};
use serde_json::json;

use crate::http::{self, Req};

#[derive(Default)]
pub struct StatusDesk {
    incidents: Mutex<Vec<serde_json::Value>>,
    fail: Mutex<u32>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl StatusDesk {
    pub fn respond(&self, req: &Req) -> hyper::Response<http::Body> {
        let parts: Vec<&str> = req.path.trim_matches('/').split('/').collect();
        if req.method == Method::GET && parts == ["statuspage"] {
            return http::raw(StatusCode::OK, "text/html; charset=utf-8", self.page());
        }
        if req.method == Method::POST && parts == ["statuspage", "fault"] {
            let n = serde_json::from_slice::<serde_json::Value>(&req.body)
                .ok()
                .and_then(|v| v.get("fail").and_then(|n| n.as_u64()))
                .unwrap_or(0);
            *self.fail.lock().unwrap_or_else(|p| p.into_inner()) = n as u32;
            return http::json(StatusCode::OK, &json!({"fail": n}));
        }
        let authorised = req
            .authorization
            .as_deref()
            .and_then(|a| a.strip_prefix("OAuth "))
            .is_some_and(|k| !k.trim().is_empty());
        if !authorised {
            return http::json(
                StatusCode::UNAUTHORIZED,
                &json!({"error": "Could not authenticate"}),
            );
        }
        {
            let mut fail = self.fail.lock().unwrap_or_else(|p| p.into_inner());
            if *fail > 0 {
                *fail -= 1;
                return http::empty(StatusCode::SERVICE_UNAVAILABLE);
            }
        }
        let mut incidents = self.incidents.lock().unwrap_or_else(|p| p.into_inner());
        let body = || serde_json::from_slice::<serde_json::Value>(&req.body).ok();
        match (&req.method, parts.as_slice()) {
            (&Method::POST, ["statuspage", "v1", "pages", _, "incidents"]) => {
                let Some(b) = body() else {
                    return http::json(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &json!({"error": "Body is not JSON"}),
                    );
                };
                let i = &b["incident"];
                if i["body"].as_str().unwrap_or("").trim().is_empty() {
                    return http::json(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &json!({"error": ["Body can't be blank"]}),
                    );
                }
                let made = json!({
                    "id": format!("demo{}", incidents.len() + 1),
                    "name": i["name"], "status": i["status"], "impact": i["impact_override"],
                    "metadata": i["metadata"], "components": i["components"],
                    "incident_updates": [{"status": i["status"], "body": i["body"]}],
                });
                incidents.push(made.clone());
                http::json(StatusCode::CREATED, &made)
            }
            (&Method::GET, ["statuspage", "v1", "pages", _, "incidents", "unresolved"]) => {
                let open: Vec<_> = incidents
                    .iter()
                    .filter(|i| i["status"] != "resolved")
                    .cloned()
                    .collect();
                http::json(StatusCode::OK, &json!(open))
            }
            (&Method::GET, ["statuspage", "v1", "pages", _, "incidents", id]) => {
                match incidents.iter().find(|i| i["id"] == *id) {
                    Some(i) => http::json(StatusCode::OK, i),
                    None => http::json(StatusCode::NOT_FOUND, &json!({"error": "Not found"})),
                }
            }
            (&Method::PATCH, ["statuspage", "v1", "pages", _, "incidents", id]) => {
                let Some(b) = body() else {
                    return http::json(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        &json!({"error": "Body is not JSON"}),
                    );
                };
                let Some(inc) = incidents.iter_mut().find(|i| i["id"] == *id) else {
                    return http::json(StatusCode::NOT_FOUND, &json!({"error": "Not found"}));
                };
                let u = &b["incident"];
                inc["status"] = u["status"].clone();
                inc["metadata"] = u["metadata"].clone();
                inc["components"] = u["components"].clone();
                if let Some(list) = inc["incident_updates"].as_array_mut() {
                    list.push(json!({"status": u["status"], "body": u["body"]}));
                }
                http::json(StatusCode::OK, inc)
            }
            _ => http::empty(StatusCode::NOT_FOUND),
        }
    }

    /// The public page: each incident, newest first, its updates newest first.
    fn page(&self) -> String {
        let incidents = self.incidents.lock().unwrap_or_else(|p| p.into_inner());
        let mut html = String::from(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Habitat status (simulated)</title></head><body><h1>Habitat status (simulated Statuspage)</h1>",
        );
        if incidents.is_empty() {
            html.push_str("<p>All systems operational.</p>");
        }
        for i in incidents.iter().rev() {
            html.push_str(&format!(
                "<section><h2>{}</h2><p><em>{}</em></p><ul>",
                esc(i["name"].as_str().unwrap_or("")),
                esc(i["status"].as_str().unwrap_or(""))
            ));
            let comps: BTreeMap<String, serde_json::Value> = i["components"]
                .as_object()
                .map(|o| o.clone().into_iter().collect())
                .unwrap_or_default();
            for (id, st) in comps {
                html.push_str(&format!(
                    "<li>{}: {}</li>",
                    esc(&id),
                    esc(st.as_str().unwrap_or(""))
                ));
            }
            html.push_str("</ul><ol reversed>");
            for u in i["incident_updates"].as_array().into_iter().flatten().rev() {
                html.push_str(&format!(
                    "<li><strong>{}</strong> — {}</li>",
                    esc(u["status"].as_str().unwrap_or("")),
                    esc(u["body"].as_str().unwrap_or(""))
                ));
            }
            html.push_str("</ol></section>");
        }
        html.push_str("</body></html>");
        html
    }
}
