//! Incidents through the real server on the simulated fleet: declared (refused in words when
//! malformed), taken charge of, stepped away from ("nobody in charge" in every page's header),
//! handed over, updated with a reminder only when an alarm fired or cleared since the last
//! update, rules broken and cleaned up, resolved; the timeline merges the public updates, notes,
//! ownership, alarms and the audited actions in time order, and exports as Markdown; the
//! directory ranks whom to call.

use std::time::Duration;

use fleet_sim::{demo_layout, Fault, FleetSim};
use reqwest::Client;

use crate::actions::{app_with, follow, restart, Restart};
use crate::builds::started;
use crate::helpers::{StoreKind, TestApp};
use crate::oncall::json;

async fn header(app: &TestApp, c: &Client) -> serde_json::Value {
    json(app, c, "/api/read/shell-info", &[]).await["incidents"].clone()
}

async fn view(app: &TestApp, c: &Client, id: &str) -> serde_json::Value {
    json(app, c, "/api/read/incident", &[("id", id)]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_from_declaration_to_its_timeline() {
    let sim = FleetSim::start(demo_layout(45)).await.unwrap();
    let app = app_with(&sim, StoreKind::Sqlite, Some("demo-ctl-secret"), |c| {
        crate::oncall::rotation(c, 3_600_000, 72);
    })
    .await;
    let ana = app.signed_in("ana", "responder").await;
    let bo = app.signed_in("bo", "responder").await;
    let viewer = app.signed_in("vi", "viewer").await;

    // Refusals, in words; a viewer cannot declare at all.
    let r = app
        .call(
            &viewer,
            "/api/act/incident-declare",
            &[
                ("title", "x"),
                ("impact", "major"),
                ("services", "api"),
                ("body", "x"),
            ],
        )
        .await;
    assert_eq!(r.status(), 403);
    let no_services = json(
        &app,
        &ana,
        "/api/act/incident-declare",
        &[
            ("title", "API down"),
            ("impact", "major"),
            ("services", ""),
            ("body", "x"),
        ],
    )
    .await;
    assert!(
        no_services["message"]
            .as_str()
            .unwrap()
            .contains("at least one affected service"),
        "{no_services}"
    );
    let bad_impact = json(
        &app,
        &ana,
        "/api/act/incident-declare",
        &[
            ("title", "API down"),
            ("impact", "huge"),
            ("services", "api"),
            ("body", "x"),
        ],
    )
    .await;
    assert!(
        bad_impact["message"]
            .as_str()
            .unwrap()
            .contains("none, minor, major or critical"),
        "{bad_impact}"
    );

    // The preview is exactly what will be published, and says where.
    let template = json(
        &app,
        &ana,
        "/api/read/incident-template",
        &[("status", "investigating"), ("services", "api,router")],
    )
    .await;
    assert_eq!(template, "We're investigating problems with the API gateway and the Router. Some requests may fail or be slow. We'll post an update as soon as we know more.");
    let p = json(
        &app,
        &ana,
        "/api/read/incident-preview",
        &[
            ("title", "API errors"),
            ("impact", "major"),
            ("services", "api,router"),
            ("status", "investigating"),
            ("body", template.as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(p["status"], "Investigating");
    assert_eq!(
        p["components"],
        serde_json::json!([
            ["the API gateway", "Partial outage"],
            ["the Router", "Partial outage"]
        ])
    );
    assert!(
        p["destination"]
            .as_str()
            .unwrap()
            .starts_with("Onwatch only"),
        "{p}"
    );

    let d = json(
        &app,
        &ana,
        "/api/act/incident-declare",
        &[
            ("title", "API errors"),
            ("impact", "major"),
            ("services", "api,router"),
            ("body", template.as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(d["ok"], true, "{d}");
    let id = d["message"].as_str().unwrap().to_owned();
    let h = header(&app, &viewer).await;
    assert_eq!(
        h,
        serde_json::json!([{"id": id, "title": "API errors", "owner": "ana", "status": "investigating"}])
    );

    // Stepping away leaves nobody in charge, on every page's header, until someone takes it.
    let not_mine = json(
        &app,
        &bo,
        "/api/act/incident-owner",
        &[("id", &id), ("action", "step_away")],
    )
    .await;
    assert_eq!(not_mine["ok"], false, "{not_mine}");
    let away = json(
        &app,
        &ana,
        "/api/act/incident-owner",
        &[("id", &id), ("action", "step_away")],
    )
    .await;
    assert_eq!(away["ok"], true, "{away}");
    assert_eq!(header(&app, &viewer).await[0]["owner"], "");
    let take = json(
        &app,
        &bo,
        "/api/act/incident-owner",
        &[("id", &id), ("action", "take")],
    )
    .await;
    assert_eq!(take["message"], "bo is in charge.");
    // A mistyped name is refused: the incident would be left to nobody.
    let typo = json(
        &app,
        &bo,
        "/api/act/incident-owner",
        &[("id", &id), ("action", "hand"), ("to", "anna")],
    )
    .await;
    assert!(
        typo["message"]
            .as_str()
            .unwrap()
            .contains("Onwatch does not know \"anna\""),
        "{typo}"
    );
    let hand = json(
        &app,
        &bo,
        "/api/act/incident-owner",
        &[("id", &id), ("action", "hand"), ("to", "ana")],
    )
    .await;
    assert_eq!(hand["message"], "ana is in charge.");
    let v = view(&app, &viewer, &id).await;
    assert_eq!(v["row"]["owner"], "ana");

    // No material change since the last update: no reminder. An alarm on an affected service
    // fires: a reminder naming it.
    assert_eq!(v["reminder"], serde_json::Value::Null);
    sim.host("builder-api-acceptance-1")
        .unwrap()
        .inject(&Fault::Wedged {
            service: "builder-api".into(),
        })
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let reminder = loop {
        let v = view(&app, &viewer, &id).await;
        if let Some(r) = v["reminder"].as_str() {
            break r.to_owned();
        }
        assert!(tokio::time::Instant::now() < deadline, "no reminder: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        reminder.contains("builder-api.acceptance went critical on builder-api-acceptance-1"),
        "{reminder}"
    );

    // The restart that clears it is audited and in the timeline; an internal note too.
    let action = started(&restart(&app.address, &ana, &Restart::acceptance_api()).await);
    assert_eq!(
        follow(&app.address, &ana, &action).await["state"],
        "succeeded"
    );
    let n = json(
        &app,
        &ana,
        "/api/act/incident-note",
        &[
            ("id", &id),
            ("body", "restarting api in acceptance to confirm"),
        ],
    )
    .await;
    assert_eq!(n["ok"], true, "{n}");
    let back = json(
        &app,
        &ana,
        "/api/act/incident-update",
        &[("id", &id), ("status", "investigating"), ("body", "x")],
    )
    .await;
    assert_eq!(back["ok"], true, "same status is fine: {back}");
    let up = json(
        &app,
        &ana,
        "/api/act/incident-update",
        &[
            ("id", &id),
            ("status", "identified"),
            ("body", "We found the cause."),
            ("components", "api=major_outage"),
        ],
    )
    .await;
    assert_eq!(up["ok"], true, "{up}");
    assert!(
        up["message"].as_str().unwrap().contains("in Onwatch only"),
        "{up}"
    );
    let backwards = json(
        &app,
        &ana,
        "/api/act/incident-update",
        &[("id", &id), ("status", "investigating"), ("body", "x")],
    )
    .await;
    assert!(
        backwards["message"]
            .as_str()
            .unwrap()
            .contains("moves forward"),
        "{backwards}"
    );
    assert_eq!(
        view(&app, &viewer, &id).await["reminder"],
        serde_json::Value::Null,
        "nothing new since the update"
    );

    // A rule broken, open in the handoff until it is cleaned up.
    let rule = json(
        &app,
        &ana,
        "/api/act/rule-broken",
        &[
            ("incident", &id),
            ("rule", "restart in acceptance first"),
            ("what_done", "restarted the router in live directly"),
        ],
    )
    .await;
    assert_eq!(rule["ok"], true, "{rule}");
    let oncall = json(&app, &bo, "/api/read/oncall", &[]).await;
    let draft = &oncall["handoffs"][0];
    assert_eq!(draft["incidents"][0][0], id.as_str());
    assert!(
        draft["open_cleanups"][0]
            .as_str()
            .unwrap()
            .starts_with("restart in acceptance first"),
        "{draft}"
    );
    let v = view(&app, &viewer, &id).await;
    let rule_id = v["rules"][0]["id"].as_str().unwrap().to_owned();
    json(&app, &ana, "/api/act/rule-broken", &[("done", &rule_id)]).await;
    let oncall = json(&app, &bo, "/api/read/oncall", &[]).await;
    assert_eq!(
        oncall["handoffs"][0]["open_cleanups"],
        serde_json::json!([])
    );

    // Resolved: the header is clear.
    let res = json(
        &app,
        &ana,
        "/api/act/incident-update",
        &[("id", &id), ("status", "resolved"), ("body", "All good.")],
    )
    .await;
    assert_eq!(res["ok"], true, "{res}");
    assert_eq!(header(&app, &viewer).await, serde_json::json!([]));

    // The timeline, in time order, merges every kind.
    let v = view(&app, &viewer, &id).await;
    let entries = v["timeline"].as_array().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in ["public", "owner", "alarm", "action", "note"] {
        assert!(kinds.contains(&k), "no {k} in {kinds:?}");
    }
    let pos = |pred: &dyn Fn(&serde_json::Value) -> bool| entries.iter().position(pred).unwrap();
    let declared = pos(&|e| {
        e["kind"] == "public"
            && e["text"]
                .as_str()
                .unwrap()
                .starts_with("Investigating: We're investigating")
    });
    let stepped =
        pos(&|e| e["kind"] == "owner" && e["text"].as_str().unwrap().contains("stepped away"));
    let alarm =
        pos(&|e| e["kind"] == "alarm" && e["text"].as_str().unwrap().contains("→ critical"));
    let restarted = pos(&|e| e["kind"] == "action" && e["reference"] == action.as_str());
    let identified = pos(&|e| {
        e["text"]
            .as_str()
            .unwrap()
            .starts_with("Identified: We found the cause.")
    });
    let resolved = pos(&|e| {
        e["text"]
            .as_str()
            .unwrap()
            .starts_with("Resolved: All good.")
    });
    assert!(
        declared < stepped
            && stepped < alarm
            && alarm < restarted
            && restarted < identified
            && identified < resolved,
        "{kinds:?}"
    );

    // As Markdown for the review.
    let md = viewer
        .get(format!("{}/api/incidents/{id}/timeline.md", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(md.status(), 200);
    assert!(md.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/markdown"));
    let md = md.text().await.unwrap();
    assert!(md.starts_with("# API errors\n"), "{md}");
    assert!(
        md.contains("| internal note | ana | restarting api in acceptance to confirm |"),
        "{md}"
    );
    assert!(md.contains("- **restart in acceptance first** — restarted the router in live directly (owner ana; cleaned up"), "{md}");
    let missing = viewer
        .get(format!("{}/api/incidents/nope/timeline.md", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn the_directory_is_checked_and_ranks_whom_to_call() {
    let app = crate::helpers::spawn_app(StoreKind::Sqlite).await;
    let admin = app.signed_in("root", "admin").await;
    let ana = app.signed_in("ana", "responder").await;
    let save = |login: &'static str,
                phone: &'static str,
                tz: &'static str,
                areas: &'static str,
                sen: &'static str| {
        [
            ("login", login),
            ("name", login),
            ("phone", phone),
            ("time_zone", tz),
            ("areas", areas),
            ("seniority", sen),
        ]
    };
    let bad = json(
        &app,
        &admin,
        "/api/admin/contact",
        &save("x", "call me", "UTC", "", "1"),
    )
    .await;
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .contains("not a phone number"),
        "{bad}"
    );
    let bad = json(
        &app,
        &admin,
        "/api/admin/contact",
        &save("x", "+1 206 555 0100", "Mars/Base", "", "1"),
    )
    .await;
    assert!(bad["message"].as_str().unwrap().contains("IANA"), "{bad}");
    let bad = json(
        &app,
        &admin,
        "/api/admin/contact",
        &save("x", "+1 206 555 0100", "UTC", "web", "1"),
    )
    .await;
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .contains("not one of the Builder services"),
        "{bad}"
    );
    let r = app
        .call(
            &ana,
            "/api/admin/contact",
            &save("x", "+1 206 555 0100", "UTC", "", "1"),
        )
        .await;
    assert_eq!(r.status(), 403);
    for (login, areas, sen) in [("sam", "", "9"), ("kim", "api", "2"), ("ana", "api", "5")] {
        let ok = json(
            &app,
            &admin,
            "/api/admin/contact",
            &save(login, "+1 206 555 0100", "UTC", areas, sen),
        )
        .await;
        assert_eq!(ok["ok"], true, "{ok}");
    }
    let d = json(
        &app,
        &ana,
        "/api/act/incident-declare",
        &[
            ("title", "API errors"),
            ("impact", "minor"),
            ("services", "api"),
            ("body", "We're looking."),
        ],
    )
    .await;
    let id = d["message"].as_str().unwrap().to_owned();
    let v = view(&app, &ana, &id).await;
    let order: Vec<&str> = v["call"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["login"].as_str().unwrap())
        .collect();
    // Kim knows the api; Sam is more senior; ana (asking) is not listed.
    assert_eq!(order, ["kim", "sam"]);
    assert_eq!(v["call"][1]["more_senior"], true);
}
