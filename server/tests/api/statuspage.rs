//! Publishing incidents through a Statuspage written in this test, following its documented
//! API (v1): `Authorization: OAuth KEY`, `POST /pages/{page}/incidents` (201 with the incident),
//! `PATCH /pages/{page}/incidents/{id}`, `GET …/incidents/unresolved` and `GET …/incidents/{id}`
//! with the incident's `metadata`; 401, 422 with its `{"error": …}` body, 429 with
//! `Retry-After`, 500. Never lost, never sent twice.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};

use ops::incidents::statuspage::{Statuspage, StatuspageOptions};
use ops::incidents::{Component, Declare, Impact, IncidentOptions, Incidents, Status};

const KEY: &str = "sp-test-key";
const PAGE: &str = "pg123";

/// What the fake answers next: one item per request, then normally.
#[derive(Clone, Debug)]
enum Next {
    Status(u16),
    Throttle(u64),
    Unprocessable,
    /// Does the work, then answers 500 (the answer is lost).
    WorkThen500,
}

#[derive(Default)]
pub(crate) struct Sp {
    script: Vec<Next>,
    incidents: BTreeMap<String, serde_json::Value>,
    /// Every incident update received (POST or PATCH bodies), in order.
    received: Vec<serde_json::Value>,
    requests: u32,
    /// Each create waits this long before it answers (a slow Statuspage).
    delay_ms: u64,
}

pub(crate) type Shared = Arc<Mutex<Sp>>;

fn authorised(h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("OAuth {KEY}"))
}

/// The scripted refusal for this request, if any; `Some(None)`: do the work, then answer 500.
fn scripted(sp: &Shared, h: &HeaderMap) -> Option<Option<Response>> {
    let mut s = sp.lock().unwrap();
    s.requests += 1;
    if !authorised(h) {
        return Some(Some(
            (
                StatusCode::UNAUTHORIZED,
                Json(serde_json::json!({"error": "Could not authenticate"})),
            )
                .into_response(),
        ));
    }
    if s.script.is_empty() {
        return None;
    }
    Some(match s.script.remove(0) {
        Next::Status(code) => Some(StatusCode::from_u16(code).unwrap().into_response()),
        Next::Throttle(secs) => Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", secs.to_string())],
                "Rate limited",
            )
                .into_response(),
        ),
        Next::Unprocessable => Some(
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(serde_json::json!({"error": ["Body can't be blank"]})),
            )
                .into_response(),
        ),
        Next::WorkThen500 => None,
    })
}

async fn create(
    State(sp): State<Shared>,
    Path(page): Path<String>,
    h: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> Response {
    assert_eq!(page, PAGE);
    let delay = sp.lock().unwrap().delay_ms;
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    let lose = match scripted(&sp, &h) {
        Some(Some(r)) => return r,
        Some(None) => true,
        None => false,
    };
    let mut s = sp.lock().unwrap();
    let id = format!("sp{}", s.incidents.len() + 1);
    let inc = &body["incident"];
    let made = serde_json::json!({
        "id": id, "name": inc["name"], "status": inc["status"], "impact": inc["impact_override"],
        "metadata": inc["metadata"], "incident_updates": [{"body": inc["body"], "status": inc["status"]}],
    });
    s.incidents.insert(id, made.clone());
    s.received.push(body.clone());
    if lose {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    (StatusCode::CREATED, Json(made)).into_response()
}

async fn change(
    State(sp): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    h: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> Response {
    let lose = match scripted(&sp, &h) {
        Some(Some(r)) => return r,
        Some(None) => true,
        None => false,
    };
    let mut s = sp.lock().unwrap();
    s.received.push(body.clone());
    let Some(inc) = s.incidents.get_mut(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    inc["status"] = body["incident"]["status"].clone();
    inc["metadata"] = body["incident"]["metadata"].clone();
    let out = inc.clone();
    if lose {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    Json(out).into_response()
}

async fn unresolved(State(sp): State<Shared>, h: HeaderMap) -> Response {
    if !authorised(&h) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let s = sp.lock().unwrap();
    let list: Vec<_> = s
        .incidents
        .values()
        .filter(|i| i["status"] != "resolved")
        .cloned()
        .collect();
    Json(list).into_response()
}

async fn one(
    State(sp): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    h: HeaderMap,
) -> Response {
    if !authorised(&h) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    match sp.lock().unwrap().incidents.get(&id) {
        Some(i) => Json(i.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

pub(crate) async fn fake_statuspage() -> (String, Shared) {
    let sp: Shared = Arc::default();
    let app = Router::new()
        .route("/v1/pages/{page}/incidents", post(create))
        .route("/v1/pages/{page}/incidents/unresolved", get(unresolved))
        .route("/v1/pages/{page}/incidents/{id}", patch(change).get(one))
        .with_state(sp.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, sp)
}

pub(crate) fn options(url: &str, dir: &std::path::Path, key: &str) -> IncidentOptions {
    let key_file = dir.join("sp-key");
    std::fs::write(&key_file, key).unwrap();
    IncidentOptions {
        components: [(
            "api".to_owned(),
            Component {
                id: "cmp-api".into(),
                name: "the Builder API".into(),
            },
        )]
        .into(),
        statuspage: Some(StatuspageOptions {
            page_id: PAGE.into(),
            api_key_file: key_file,
            api_url: url.parse().unwrap(),
            timeout_secs: 5,
            max_backoff_secs: 300,
        }),
    }
}

struct World {
    incidents: Incidents,
    sp: Statuspage,
    _dir: tempfile::TempDir,
}

async fn world(url: &str, key: &str) -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = ops::store::Store::open(
        &format!("sqlite://{}/onwatch.db", dir.path().display()),
        &Default::default(),
    )
    .await
    .unwrap();
    let options = options(url, dir.path(), key);
    World {
        sp: Statuspage::new(options.statuspage.clone().unwrap()).unwrap(),
        incidents: Incidents::new(store, options),
        _dir: dir,
    }
}

fn declaration() -> Declare {
    Declare {
        title: "Builder API errors".into(),
        impact: Impact::Major,
        services: vec!["api".into()],
        body: "We're investigating problems with the Builder API.".into(),
    }
}

/// Runs publishing rounds at `now` (and later, past every backoff) until nothing is queued.
async fn drain(w: &World, mut now: i64) -> i64 {
    for _ in 0..20 {
        w.incidents.publish_due(&w.sp, now).await.unwrap();
        if w.incidents.unpublished().await.unwrap() == 0 {
            return now;
        }
        now += 301_000;
    }
    panic!("still queued after 20 rounds");
}

#[tokio::test]
async fn two_500s_then_success_create_exactly_one_incident() {
    let (url, sp) = fake_statuspage().await;
    sp.lock().unwrap().script = vec![Next::Status(500), Next::Status(500)];
    let w = world(&url, KEY).await;
    let t0 = ops::time::now_ms();
    let inc = w
        .incidents
        .declare(&declaration(), "ana", t0)
        .await
        .unwrap();
    // First round: 500, kept queued, "not yet public", with the next attempt after 1 s.
    w.incidents.publish_due(&w.sp, t0).await.unwrap();
    let u = &w.incidents.updates(&inc.id).await.unwrap()[0];
    assert_eq!(u.publish_state, "queued");
    assert!(u.last_error.contains("500"), "{u:?}");
    assert_eq!(u.next_attempt_ms, t0 + 1000);
    // Not before its time.
    w.incidents.publish_due(&w.sp, t0 + 500).await.unwrap();
    assert_eq!(w.incidents.updates(&inc.id).await.unwrap()[0].attempts, 1);
    drain(&w, t0 + 1000).await;
    let (incidents, received) = {
        let s = sp.lock().unwrap();
        (s.incidents.clone(), s.received.clone())
    };
    assert_eq!(incidents.len(), 1, "exactly one incident created");
    let made = incidents.values().next().unwrap();
    assert_eq!(made["name"], "Builder API errors");
    assert_eq!(made["impact"], "major");
    assert_eq!(
        received[0]["incident"]["components"]["cmp-api"],
        "partial_outage"
    );
    assert_eq!(
        received[0]["incident"]["component_ids"],
        serde_json::json!(["cmp-api"])
    );
    let inc = w.incidents.get(&inc.id).await.unwrap().unwrap();
    assert_eq!(inc.statuspage_id.as_deref(), Some("sp1"));
    assert_eq!(
        w.incidents.updates(&inc.id).await.unwrap()[0].publish_state,
        "published"
    );
}

#[tokio::test]
async fn an_answer_lost_after_the_work_is_not_sent_again() {
    let (url, sp) = fake_statuspage().await;
    let w = world(&url, KEY).await;
    let t0 = ops::time::now_ms();
    // The create lands but its answer is a 500; so does the next update's PATCH.
    sp.lock().unwrap().script = vec![Next::WorkThen500];
    let inc = w
        .incidents
        .declare(&declaration(), "ana", t0)
        .await
        .unwrap();
    let t = drain(&w, t0).await;
    sp.lock().unwrap().script = vec![Next::WorkThen500];
    w.incidents
        .update(
            &inc.id,
            Status::Identified,
            "Found it: a bad release.",
            &BTreeMap::new(),
            "ana",
            t,
        )
        .await
        .unwrap();
    drain(&w, t).await;
    let s = sp.lock().unwrap();
    assert_eq!(
        s.incidents.len(),
        1,
        "the lost create was found, not repeated"
    );
    let bodies: Vec<&str> = s
        .received
        .iter()
        .map(|b| b["incident"]["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            "We're investigating problems with the Builder API.",
            "Found it: a bad release."
        ],
        "each update sent once"
    );
}

#[tokio::test]
async fn a_429_is_waited_out_and_updates_go_in_order() {
    let (url, sp) = fake_statuspage().await;
    let w = world(&url, KEY).await;
    let t0 = ops::time::now_ms();
    sp.lock().unwrap().script = vec![Next::Throttle(30)];
    let inc = w
        .incidents
        .declare(&declaration(), "ana", t0)
        .await
        .unwrap();
    w.incidents
        .update(
            &inc.id,
            Status::Monitoring,
            "A fix is in place.",
            &BTreeMap::new(),
            "ana",
            t0,
        )
        .await
        .unwrap();
    w.incidents.publish_due(&w.sp, t0).await.unwrap();
    let ups = w.incidents.updates(&inc.id).await.unwrap();
    assert_eq!(ups[0].next_attempt_ms, t0 + 30_000, "Retry-After honoured");
    assert!(ups[0].last_error.contains("429"));
    // The second update waits for the first, even though its own time has come.
    assert_eq!(ups[1].attempts, 0);
    w.incidents.publish_due(&w.sp, t0 + 29_000).await.unwrap();
    assert_eq!(sp.lock().unwrap().received.len(), 0);
    w.incidents.publish_due(&w.sp, t0 + 30_000).await.unwrap();
    w.incidents.publish_due(&w.sp, t0 + 30_000).await.unwrap();
    let s = sp.lock().unwrap();
    let statuses: Vec<&str> = s
        .received
        .iter()
        .map(|b| b["incident"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["investigating", "monitoring"]);
}

#[tokio::test]
async fn a_401_stays_queued_and_a_422_is_refused_in_statuspages_words() {
    let (url, sp) = fake_statuspage().await;
    let w = world(&url, "a-revoked-key").await;
    let t0 = ops::time::now_ms();
    let inc = w
        .incidents
        .declare(&declaration(), "ana", t0)
        .await
        .unwrap();
    w.incidents.publish_due(&w.sp, t0).await.unwrap();
    let u = &w.incidents.updates(&inc.id).await.unwrap()[0];
    assert_eq!(
        u.publish_state, "queued",
        "not lost: a fixed key publishes it"
    );
    assert!(u.last_error.contains("refused the API key (401)"), "{u:?}");

    let w = world(&url, KEY).await;
    sp.lock().unwrap().script = vec![Next::Unprocessable];
    let inc = w
        .incidents
        .declare(&declaration(), "ana", t0)
        .await
        .unwrap();
    w.incidents.publish_due(&w.sp, t0).await.unwrap();
    let u = &w.incidents.updates(&inc.id).await.unwrap()[0];
    assert_eq!(u.publish_state, "refused");
    assert!(
        u.last_error
            .contains("refused the update (422): Body can't be blank"),
        "{u:?}"
    );
}

#[tokio::test]
async fn an_update_queued_before_a_restart_is_published_once_after_it() {
    let (url, sp) = fake_statuspage().await;
    // Statuspage is down while the incident is declared.
    sp.lock().unwrap().script = vec![Next::Status(503); 3];
    let (mut config, dir) = crate::helpers::test_config(crate::helpers::StoreKind::Sqlite).await;
    config.incidents = options(&url, dir.path(), KEY);
    let store_url = config.store.url.clone();
    let first = crate::helpers::spawn_app_with(config.clone(), dir, axum::Router::new()).await;
    let ana = first.signed_in("ana", "responder").await;
    let res = first
        .call(
            &ana,
            "/api/act/incident-declare",
            &[
                ("title", "Builder API errors"),
                ("impact", "major"),
                ("services", "api"),
                ("body", "We're investigating."),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let d: serde_json::Value = res.json().await.unwrap();
    assert_eq!(d["ok"], true, "{d}");
    let id = d["message"].as_str().unwrap().to_owned();
    // Wait until an attempt failed (the queue was tried), then stop Onwatch.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while sp.lock().unwrap().requests == 0 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.shutdown.shutdown();
    first.handle.await.unwrap().unwrap();
    assert!(sp.lock().unwrap().incidents.is_empty());
    // A new Onwatch on the same store publishes it, once.
    let (mut config2, dir2) = crate::helpers::test_config(crate::helpers::StoreKind::Sqlite).await;
    config2.store.url = store_url;
    config2.incidents = options(&url, dir2.path(), KEY);
    let second = crate::helpers::spawn_app_with(config2, dir2, axum::Router::new()).await;
    let viewer = second.signed_in("vi", "viewer").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let v: serde_json::Value = second
            .call(&viewer, "/api/read/incident", &[("id", &id)])
            .await
            .json()
            .await
            .unwrap();
        if v["updates"][0]["publish_state"] == "published" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let s = sp.lock().unwrap();
    assert_eq!(s.incidents.len(), 1);
    assert_eq!(s.received.len(), 1, "sent once");
}

/// The demo's wiring: Onwatch publishing to the simulator's small Statuspage, whose public page
/// then shows the incident and its update as the public would read them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_publishes_to_the_simulators_status_page() {
    let sim = fleet_sim::FleetSim::start(fleet_sim::demo_layout(46))
        .await
        .unwrap();
    let app = crate::actions::app_with(
        &sim,
        crate::helpers::StoreKind::Sqlite,
        Some("demo-ctl-secret"),
        |c| {
            let dir = c.server.site_root.parent().unwrap().to_owned();
            c.incidents = options(
                &format!("{}/statuspage/v1/", sim.control_url()),
                &dir,
                "demo-key",
            );
        },
    )
    .await;
    let ana = app.signed_in("ana", "responder").await;
    let d = crate::oncall::json(
        &app,
        &ana,
        "/api/act/incident-declare",
        &[
            ("title", "Builder API errors"),
            ("impact", "critical"),
            ("services", "api"),
            ("body", "We're investigating problems with the Builder API."),
        ],
    )
    .await;
    assert_eq!(d["ok"], true, "{d}");
    let id = d["message"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let v = crate::oncall::json(&app, &ana, "/api/read/incident", &[("id", &id)]).await;
        if v["updates"][0]["publish_state"] == "published" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = reqwest::get(format!("{}/statuspage/", sim.control_url()))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let doc = scraper::Html::parse_document(&html);
    let sel = |s: &str| scraper::Selector::parse(s).unwrap();
    let section = doc
        .select(&sel("section"))
        .next()
        .expect("the incident is on the public page");
    let text = |s: &str| {
        section
            .select(&sel(s))
            .map(|e| e.text().collect::<String>())
            .collect::<Vec<_>>()
    };
    assert_eq!(text("h2"), ["Builder API errors"]);
    assert_eq!(text("ul li"), ["cmp-api: major_outage"]);
    assert_eq!(
        text("ol li"),
        ["investigating — We're investigating problems with the Builder API."]
    );
}

/// Two publishers (two replicas' stores on one Postgres) and a Statuspage that answers slowly:
/// both see the update queued at once, and exactly one sends it.
#[tokio::test]
async fn two_publishers_on_one_postgres_send_an_update_once() {
    let (url, sp) = fake_statuspage().await;
    sp.lock().unwrap().delay_ms = 500;
    let dir = tempfile::tempdir().unwrap();
    let db = testkit::postgres_database().await.unwrap();
    let options = options(&url, dir.path(), KEY);
    let replica = |db: String, options: IncidentOptions| async move {
        let store = ops::store::Store::open(&db, &Default::default())
            .await
            .unwrap();
        (
            Incidents::new(store, options.clone()),
            Statuspage::new(options.statuspage.clone().unwrap()).unwrap(),
        )
    };
    let (a, a_sp) = replica(db.clone(), options.clone()).await;
    let (b, b_sp) = replica(db, options).await;
    let t0 = ops::time::now_ms();
    let inc = a.declare(&declaration(), "ana", t0).await.unwrap();
    let (ra, rb) = tokio::join!(a.publish_due(&a_sp, t0), b.publish_due(&b_sp, t0));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.published + rb.published, 1, "{ra:?} {rb:?}");
    assert_eq!(sp.lock().unwrap().received.len(), 1, "sent twice");
    let u = &b.updates(&inc.id).await.unwrap()[0];
    assert_eq!((u.publish_state.as_str(), u.attempts), ("published", 1));
}
