//! Who is on call from PagerDuty, against a local HTTP server written here that follows its
//! REST API v2's documented shapes: `GET /oncalls` (paginated with `offset`, `limit`, `more`),
//! `GET /schedules/{id}` (rendered entries), `Authorization: Token token=…`, 401, 429 with
//! `Retry-After`, 5xx. The last answer is kept and shown stale with its age.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::helpers::{spawn_app_with, test_config, StoreKind};

const TOKEN: &str = "pd-read-only-key";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Answer,
    Unauthorized,
    Throttled(u64),
    Broken,
}

#[derive(Default)]
struct Pd {
    mode: Option<Mode>,
    oncalls_asked: u32,
    pages: Vec<u64>,
}

type Shared = Arc<Mutex<Pd>>;

fn refuse(pd: &Shared, headers: &HeaderMap) -> Option<Response> {
    let mode = pd.lock().unwrap().mode.unwrap_or(Mode::Answer);
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept != "application/vnd.pagerduty+json;version=2" {
        return Some((StatusCode::BAD_REQUEST, "wrong Accept").into_response());
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if mode == Mode::Unauthorized || auth != format!("Token token={TOKEN}") {
        return Some(
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(
                    serde_json::json!({"error": {"message": "Unauthenticated", "code": 2006}}),
                ),
            )
                .into_response(),
        );
    }
    match mode {
        Mode::Throttled(secs) => Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", secs.to_string())],
                axum::Json(
                    serde_json::json!({"error": {"message": "Rate Limit Exceeded", "code": 2020}}),
                ),
            )
                .into_response(),
        ),
        Mode::Broken => Some(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        _ => None,
    }
}

async fn oncalls(
    State(pd): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    pd.lock().unwrap().oncalls_asked += 1;
    if let Some(r) = refuse(&pd, &headers) {
        return r;
    }
    let schedules: Vec<&str> = q
        .iter()
        .filter(|(k, _)| k == "schedule_ids[]")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        schedules,
        ["PPRIMRY", "PSECOND"],
        "both schedules asked for"
    );
    let offset: u64 = q
        .iter()
        .find(|(k, _)| k == "offset")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    {
        let mut s = pd.lock().unwrap();
        s.pages.push(offset);
    }
    // One entry a page, as a small `limit` would give: the client must follow `more`.
    let all = [
        ("PPRIMRY", "Ana Primary", 1),
        ("PSECOND", "Bo Secondary", 2),
        ("POTHER", "Someone Else", 1),
    ];
    let Some(&(sched, name, level)) = all.get(offset as usize) else {
        return axum::Json(
            serde_json::json!({"oncalls": [], "limit": 1, "offset": offset, "more": false}),
        )
        .into_response();
    };
    axum::Json(serde_json::json!({
        "oncalls": [{
            "escalation_policy": {"id": "PEP", "type": "escalation_policy_reference"},
            "escalation_level": level,
            "schedule": {"id": sched, "type": "schedule_reference", "summary": sched},
            "user": {"id": format!("U{offset}"), "type": "user_reference", "summary": name},
            "start": "2026-11-30T17:00:00Z",
            "end": "2026-12-03T17:00:00Z"
        }],
        "limit": 1,
        "offset": offset,
        "more": (offset as usize) + 1 < all.len(),
        "total": null
    }))
    .into_response()
}

async fn schedule(
    State(pd): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = refuse(&pd, &headers) {
        return r;
    }
    let next = if id == "PPRIMRY" {
        "Cy Next"
    } else {
        "Dee Next"
    };
    axum::Json(serde_json::json!({
        "schedule": {
            "id": id,
            "type": "schedule",
            "final_schedule": {
                "name": "Final Schedule",
                "rendered_schedule_entries": [
                    {"start": "2026-11-30T17:00:00Z", "end": "2026-12-03T17:00:00Z", "user": {"id": "U0", "summary": "Current"}},
                    {"start": "2099-12-03T17:00:00Z", "end": "2099-12-06T17:00:00Z", "user": {"id": "U9", "summary": next}}
                ]
            }
        }
    }))
    .into_response()
}

async fn fake_pagerduty() -> (String, Shared) {
    let pd: Shared = Arc::default();
    let app = Router::new()
        .route("/oncalls", get(oncalls))
        .route("/schedules/{id}", get(schedule))
        .with_state(pd.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, pd)
}

fn options(url: &str, dir: &std::path::Path) -> ops::oncall::pagerduty::PagerDutyOptions {
    let token_file = dir.join("pd-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    ops::oncall::pagerduty::PagerDutyOptions {
        api_url: url.parse().unwrap(),
        token_file,
        primary_schedule: "PPRIMRY".into(),
        secondary_schedule: "PSECOND".into(),
        refresh_secs: 60,
        timeout_secs: 5,
    }
}

#[tokio::test]
async fn every_page_says_who_pagerduty_has_on_call() {
    let (url, pd) = fake_pagerduty().await;
    let (mut config, dir) = test_config(StoreKind::Sqlite).await;
    config.oncall.pagerduty = Some(options(&url, dir.path()));
    let app = spawn_app_with(config, dir, axum::Router::new()).await;
    let viewer = app.signed_in("vi", "viewer").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let h = loop {
        let shell: serde_json::Value = app
            .call(&viewer, "/api/read/shell-info", &[])
            .await
            .json()
            .await
            .unwrap();
        if shell["oncall"]["primary"] == "Ana Primary" {
            break shell["oncall"].clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "{shell}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(h["source"], "pagerduty");
    assert_eq!(h["secondary"], "Bo Secondary", "the second page was read");
    assert_eq!(h["next_primary"], "Cy Next");
    assert_eq!(h["next_secondary"], "Dee Next");
    assert_eq!(h["stale"], serde_json::Value::Null);
    // Every page of /oncalls was asked for, in order.
    assert_eq!(pd.lock().unwrap().pages[..3], [0, 1, 2]);
}

#[tokio::test]
async fn the_last_answer_stays_marked_stale_and_a_429_is_waited_out() {
    let (url, pd) = fake_pagerduty().await;
    let dir = tempfile::tempdir().unwrap();
    let store_url = format!("sqlite://{}/onwatch.db", dir.path().display());
    let store = ops::store::Store::open(&store_url, &Default::default())
        .await
        .unwrap();
    let oncall = ops::oncall::OnCall::new(
        store.clone(),
        &ops::oncall::OncallOptions {
            pagerduty: Some(options(&url, dir.path())),
            ..Default::default()
        },
    )
    .unwrap();
    let t0 = ops::time::now_ms();
    let now = oncall.now_and_next(t0).await.unwrap().unwrap();
    assert_eq!(
        (now.primary.as_str(), now.secondary.as_str()),
        ("Ana Primary", "Bo Secondary")
    );
    assert_eq!(now.stale, None);

    // Throttled: the answer stays, marked with its age and why; PagerDuty is not asked again
    // before its Retry-After.
    pd.lock().unwrap().mode = Some(Mode::Throttled(300));
    let t1 = t0 + 61_000;
    let now = oncall.now_and_next(t1).await.unwrap().unwrap();
    assert_eq!(now.primary, "Ana Primary");
    let stale = now.stale.unwrap();
    assert!(
        stale.contains("as PagerDuty said 1 min ago")
            && stale.contains("429")
            && stale.contains("300 s"),
        "{stale}"
    );
    let asked = pd.lock().unwrap().oncalls_asked;
    oncall.now_and_next(t1 + 200_000).await.unwrap();
    assert_eq!(
        pd.lock().unwrap().oncalls_asked,
        asked,
        "asked again inside Retry-After"
    );
    pd.lock().unwrap().mode = Some(Mode::Unauthorized);
    let now = oncall.now_and_next(t1 + 301_000).await.unwrap().unwrap();
    assert!(pd.lock().unwrap().oncalls_asked > asked);
    let stale = now.stale.unwrap();
    assert!(stale.contains("refused the API key (401)"), "{stale}");
    assert_eq!(
        now.primary, "Ana Primary",
        "the last known answer is still shown"
    );

    // Unreachable after a restart: the answer kept in the store is shown, stale.
    pd.lock().unwrap().mode = Some(Mode::Broken);
    let again = ops::oncall::OnCall::new(
        store,
        &ops::oncall::OncallOptions {
            pagerduty: Some(options(&url, dir.path())),
            ..Default::default()
        },
    )
    .unwrap();
    again.pagerduty.as_ref().unwrap().load().await.unwrap();
    let now = again.now_and_next(t0 + 3_600_000).await.unwrap().unwrap();
    assert_eq!(now.primary, "Ana Primary");
    let stale = now.stale.unwrap();
    assert!(
        stale.contains("1 h ago") && stale.contains("500"),
        "{stale}"
    );
}
