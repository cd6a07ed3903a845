//! The on-call team through the real server: overrides asked for, refused by the rules,
//! accepted by the covering person only, changing who every page's header says is on call, all
//! audited; the iCal feed read back by an iCalendar parser and revoked; the handoff kept at the
//! shift's end with the action taken during it, annotated and acknowledged by the right people.

use std::time::Duration;

use fleet_sim::{demo_layout, FleetSim};
use reqwest::Client;

use crate::actions::{app_with, audit_kinds, follow, restart, Restart};
use crate::builds::started;
use crate::helpers::{spawn_app_with, test_config, StoreKind, TestApp};

/// An instant as a wall-clock time in UTC (`2026-12-01T13:05:09`), for `[oncall] start`.
pub(crate) fn civil(ms: i64) -> String {
    let (y, m, d) = vocab::civil_date(ms);
    let s = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        s / 3600,
        (s % 3600) / 60,
        s % 60
    )
}

/// `20261102T170000Z` as epoch milliseconds.
fn ical_ms(t: &str) -> i64 {
    let n = |a: usize, b: usize| t[a..b].parse::<i64>().unwrap();
    assert!(t.len() == 16 && t.ends_with('Z'), "{t}");
    let (y, m, d) = (n(0, 4), n(4, 6), n(6, 8));
    // Days from the civil date (Howard Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 86_400) + n(9, 11) * 3600 + n(11, 13) * 60 + n(13, 15)) * 1000
}

/// A rotation of ana, bo and cy in UTC whose shift 0 started `started_ago_ms` ago.
pub(crate) fn rotation(c: &mut server::config::Config, started_ago_ms: i64, hours: u32) {
    let start = ops::time::now_ms() - started_ago_ms;
    c.oncall.members = vec!["ana".into(), "bo".into(), "cy".into()];
    c.oncall.start = civil(start);
    c.oncall.time_zone = "UTC".into();
    c.oncall.shift_hours = hours;
}

pub(crate) async fn json(
    app: &TestApp,
    client: &Client,
    path: &str,
    form: &[(&str, &str)],
) -> serde_json::Value {
    let res = app.call(client, path, form).await;
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.unwrap()
}

async fn header(app: &TestApp, client: &Client) -> serde_json::Value {
    json(app, client, "/api/read/shell-info", &[]).await["oncall"].clone()
}

/// Waits (on the server's own refresh, every few seconds) until the header says `primary`.
async fn until_primary(app: &TestApp, client: &Client, primary: &str) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let h = header(app, client).await;
        if h["primary"] == primary {
            return h;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the header still says {h}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_cover_applies_only_once_the_covering_person_accepts_and_is_audited() {
    let (mut config, dir) = test_config(StoreKind::Sqlite).await;
    rotation(&mut config, 3_600_000, 72);
    let app = spawn_app_with(config, dir, axum::Router::new()).await;
    let ana = app.signed_in("ana", "responder").await;
    let bo = app.signed_in("bo", "responder").await;
    let cy = app.signed_in("cy", "viewer").await;
    let h = until_primary(&app, &ana, "ana").await;
    assert_eq!(h["secondary"], "bo");
    assert_eq!(h["next_primary"], "bo");

    // The rules, in words, before anything is written.
    let refused = json(
        &app,
        &ana,
        "/api/attempt/oncall-ask",
        &[
            ("kind", "cover"),
            ("shift", "0"),
            ("covering", "bo"),
            ("reason", "flying"),
        ],
    )
    .await;
    assert_eq!(refused["ok"], false);
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("bo is already secondary"),
        "{refused}"
    );
    let not_his = json(
        &app,
        &cy,
        "/api/attempt/oncall-ask",
        &[
            ("kind", "cover"),
            ("shift", "0"),
            ("covering", "bo"),
            ("reason", "x"),
        ],
    )
    .await;
    assert!(
        not_his["message"]
            .as_str()
            .unwrap()
            .contains("hold no seat"),
        "{not_his}"
    );
    let no_reason = json(
        &app,
        &ana,
        "/api/attempt/oncall-ask",
        &[
            ("kind", "cover"),
            ("shift", "0"),
            ("covering", "cy"),
            ("reason", " "),
        ],
    )
    .await;
    assert!(
        no_reason["message"].as_str().unwrap().contains("Say why"),
        "{no_reason}"
    );

    let asked = json(
        &app,
        &ana,
        "/api/attempt/oncall-ask",
        &[
            ("kind", "cover"),
            ("shift", "0"),
            ("covering", "cy"),
            ("reason", "flying on Tuesday"),
        ],
    )
    .await;
    assert_eq!(asked["ok"], true, "{asked}");
    let board = json(&app, &cy, "/api/read/oncall", &[]).await;
    let req = &board["requests"][0];
    assert_eq!(req["state"], "pending");
    assert_eq!(req["can_answer"], true);
    let id = req["id"].as_str().unwrap().to_owned();
    // Pending: nothing changed.
    assert_eq!(header(&app, &ana).await["primary"], "ana");

    // Only cy may accept.
    let by_bo = json(
        &app,
        &bo,
        "/api/attempt/oncall-answer",
        &[("id", &id), ("answer", "accept")],
    )
    .await;
    assert_eq!(by_bo["ok"], false);
    assert!(
        by_bo["message"]
            .as_str()
            .unwrap()
            .contains("Only cy can accept"),
        "{by_bo}"
    );
    let accepted = json(
        &app,
        &cy,
        "/api/attempt/oncall-answer",
        &[("id", &id), ("answer", "accept")],
    )
    .await;
    assert_eq!(accepted["ok"], true, "{accepted}");
    // Every page's header says so at once (the acceptance refreshes it).
    let h = header(&app, &bo).await;
    assert_eq!(h["primary"], "cy", "{h}");
    assert_eq!(h["secondary"], "bo");
    let board = json(&app, &ana, "/api/read/oncall", &[]).await;
    let now = &board["shifts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["segments"];
    assert_eq!(now.as_array().unwrap().last().unwrap()["primary"], "cy");
    assert_eq!(
        now.as_array().unwrap().last().unwrap()["primary_covered"],
        true
    );
    // Answered once only.
    let again = json(
        &app,
        &cy,
        "/api/attempt/oncall-answer",
        &[("id", &id), ("answer", "decline")],
    )
    .await;
    assert!(
        again["message"]
            .as_str()
            .unwrap()
            .contains("already accepted"),
        "{again}"
    );

    let rows: Vec<(String, String)> = audit_kinds(&app)
        .await
        .into_iter()
        .filter(|(k, _, _)| k == "oncall.override")
        .map(|(_, o, a)| (o, a))
        .collect();
    for outcome in [
        "request:attempt",
        "refused",
        "requested",
        "accepted:attempt",
        "accepted",
    ] {
        assert!(
            rows.iter().any(|(o, _)| o == outcome),
            "no {outcome} row: {rows:?}"
        );
    }
    assert!(rows.iter().any(|(o, a)| o == "accepted" && *a == id));
}

#[tokio::test]
async fn a_swap_exchanges_two_whole_shifts() {
    let (mut config, dir) = test_config(StoreKind::Sqlite).await;
    rotation(&mut config, 3_600_000, 72);
    let app = spawn_app_with(config, dir, axum::Router::new()).await;
    let ana = app.signed_in("ana", "responder").await;
    let cy = app.signed_in("cy", "responder").await;
    // Shift k: primary members[k mod 3], secondary members[k+1 mod 3]. Ana's primary seat in
    // shift 0 for cy's primary seat in shift 2 is refused: ana is secondary in shift 2.
    let refused = json(
        &app,
        &ana,
        "/api/attempt/oncall-ask",
        &[
            ("kind", "swap"),
            ("shift", "0"),
            ("theirs", "cy"),
            ("their_shift", "2"),
            ("reason", "wedding"),
        ],
    )
    .await;
    assert_eq!(refused["ok"], false, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("already secondary"),
        "{refused}"
    );
    let asked = json(
        &app,
        &ana,
        "/api/attempt/oncall-ask",
        &[
            ("kind", "swap"),
            ("shift", "3"),
            ("theirs", "cy"),
            ("their_shift", "4"),
            ("reason", "wedding"),
        ],
    )
    .await;
    assert_eq!(asked["ok"], true, "{asked}");
    let board = json(&app, &cy, "/api/read/oncall", &[]).await;
    let id = board["requests"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(board["requests"][0]["covers"].as_array().unwrap().len(), 2);
    let ok = json(
        &app,
        &cy,
        "/api/attempt/oncall-answer",
        &[("id", &id), ("answer", "accept")],
    )
    .await;
    assert_eq!(ok["ok"], true, "{ok}");
    let board = json(&app, &ana, "/api/read/oncall", &[]).await;
    let shift = |i: i64| {
        board["shifts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["index"] == i)
            .unwrap()["segments"][0]
            .clone()
    };
    // Ana's primary seat in shift 3 is cy's; cy's secondary seat in shift 4 is ana's.
    assert_eq!(shift(3)["primary"], "cy");
    assert_eq!(shift(3)["secondary"], "bo");
    assert_eq!(shift(4)["primary"], "bo");
    assert_eq!(shift(4)["secondary"], "ana");
    assert_eq!(shift(5)["primary"], "cy", "the shift after is untouched");
}

#[tokio::test]
async fn a_partial_cover_leaves_the_rest_of_the_shift_to_its_holder_on_sqlite() {
    a_partial_cover_leaves_the_rest_of_the_shift_to_its_holder(StoreKind::Sqlite).await;
}

#[tokio::test]
async fn a_partial_cover_leaves_the_rest_of_the_shift_to_its_holder_on_postgres() {
    a_partial_cover_leaves_the_rest_of_the_shift_to_its_holder(StoreKind::Postgres).await;
}

/// Cy covers the first 24 h of ana's 72-hour primary shift 3: the calendar shows both parts,
/// ana still has the other 48 h in her coming shifts and in both pickers, cy has their 24 h,
/// and what the pickers offer the server accepts (a cover and a swap of ana's rest).
async fn a_partial_cover_leaves_the_rest_of_the_shift_to_its_holder(kind: StoreKind) {
    const H: i64 = 3_600_000;
    let (mut config, dir) = test_config(kind).await;
    rotation(&mut config, H, 72);
    let r = ops::oncall::Rotation::new(&config.oncall.rotation()).unwrap();
    let app = spawn_app_with(config, dir, axum::Router::new()).await;
    let ana = app.signed_in("ana", "responder").await;
    let bo = app.signed_in("bo", "responder").await;
    let cy = app.signed_in("cy", "responder").await;
    // Shift 3: ana primary, bo secondary; shift 4: bo primary, cy secondary.
    let (s3, s4) = (r.shift(3), r.shift(4));
    let cut = s3.start_ms + 24 * H;
    let asked = json(
        &app,
        &ana,
        "/api/attempt/oncall-ask",
        &[
            ("kind", "cover"),
            ("shift", "3"),
            ("to", &civil(cut)),
            ("covering", "cy"),
            ("reason", "the first day"),
        ],
    )
    .await;
    assert_eq!(asked["ok"], true, "{asked}");
    let board = json(&app, &cy, "/api/read/oncall", &[]).await;
    let id = board["requests"][0]["id"].as_str().unwrap().to_owned();
    let ok = json(
        &app,
        &cy,
        "/api/attempt/oncall-answer",
        &[("id", &id), ("answer", "accept")],
    )
    .await;
    assert_eq!(ok["ok"], true, "{ok}");

    // The calendar: two parts of shift 3, each with who holds it.
    let board = json(&app, &ana, "/api/read/oncall", &[]).await;
    let shift3 = board["shifts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["index"] == 3)
        .unwrap()
        .clone();
    let segs = shift3["segments"].as_array().unwrap();
    assert_eq!(segs.len(), 2, "{shift3}");
    assert_eq!(segs[0]["primary"], "cy");
    assert_eq!(segs[0]["primary_covered"], true);
    assert_eq!(segs[0]["end"], r.local(cut));
    assert_eq!(segs[1]["primary"], "ana");
    assert_eq!(segs[1]["primary_covered"], false);
    assert_eq!(segs[1]["start"], r.local(cut));
    assert!(segs.iter().all(|g| g["secondary"] == "bo"), "{shift3}");

    // Ana's coming shifts (and so both pickers, which offer them) keep her other 48 h.
    let part_of = |board: &serde_json::Value, index: i64| -> Vec<serde_json::Value> {
        board["my_shifts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["index"] == index)
            .cloned()
            .collect()
    };
    let ana3 = part_of(&board, 3);
    assert_eq!(ana3.len(), 1, "{}", board["my_shifts"]);
    assert_eq!(ana3[0]["seat"], "primary");
    assert_eq!(ana3[0]["start"], r.local(cut));
    assert_eq!(ana3[0]["end"], r.local(s3.end_ms));
    assert_eq!(ana3[0]["partners"], serde_json::json!(["bo"]));
    assert_eq!(ana3[0]["part"], cut);
    // Cy's are the 24 h they cover, not the whole shift.
    let cy_board = json(&app, &cy, "/api/read/oncall", &[]).await;
    let cy3 = part_of(&cy_board, 3);
    assert_eq!(cy3.len(), 1, "{}", cy_board["my_shifts"]);
    assert_eq!(cy3[0]["start"], r.local(s3.start_ms));
    assert_eq!(cy3[0]["end"], r.local(cut));
    assert_eq!(cy3[0]["covering"], true);
    // The calendar says whom cy covers.
    assert_eq!(segs[0]["primary_for"], "ana");
    // Others see both parts in the swap picker.
    let bo_board = json(&app, &bo, "/api/read/oncall", &[]).await;
    let held: Vec<(String, String)> = bo_board["others"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["index"] == 3)
        .map(|o| {
            (
                o["person"].as_str().unwrap().to_owned(),
                o["start"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        held,
        vec![
            ("cy".to_owned(), r.local(s3.start_ms)),
            ("ana".to_owned(), r.local(cut))
        ]
    );

    // The cover picker's part is accepted: from its start to its end when left blank.
    let part = cut.to_string();
    let cover = json(
        &app,
        &ana,
        "/api/attempt/oncall-ask",
        &[
            ("kind", "cover"),
            ("shift", "3"),
            ("part", &part),
            ("covering", "cy"),
            ("reason", "the rest"),
        ],
    )
    .await;
    assert_eq!(cover["ok"], true, "{cover}");
    let board = json(&app, &ana, "/api/read/oncall", &[]).await;
    let req = &board["requests"][0];
    assert_eq!(
        req["covers"][0],
        format!(
            "cy covers ana as primary, {} → {}",
            r.local(cut),
            r.local(s3.end_ms)
        )
    );
    let id = req["id"].as_str().unwrap().to_owned();
    let cancelled = json(
        &app,
        &ana,
        "/api/attempt/oncall-answer",
        &[("id", &id), ("answer", "cancel")],
    )
    .await;
    assert_eq!(cancelled["ok"], true, "{cancelled}");

    // The swap picker's parts are accepted too: ana's rest of shift 3 for cy's secondary
    // seat in shift 4, as ana's board offers it.
    let theirs = board["others"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["index"] == 4 && o["person"] == "cy")
        .unwrap()
        .clone();
    assert_eq!(theirs["seat"], "secondary");
    assert_eq!(theirs["part"], s4.start_ms);
    let their_part = s4.start_ms.to_string();
    let swap = json(
        &app,
        &ana,
        "/api/attempt/oncall-ask",
        &[
            ("kind", "swap"),
            ("shift", "3"),
            ("part", &part),
            ("theirs", "cy"),
            ("their_shift", "4"),
            ("their_part", &their_part),
            ("reason", "a wedding"),
        ],
    )
    .await;
    assert_eq!(swap["ok"], true, "{swap}");
    let board = json(&app, &cy, "/api/read/oncall", &[]).await;
    let req = board["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["kind"] == "swap")
        .unwrap()
        .clone();
    let accepted = json(
        &app,
        &cy,
        "/api/attempt/oncall-answer",
        &[("id", req["id"].as_str().unwrap()), ("answer", "accept")],
    )
    .await;
    assert_eq!(accepted["ok"], true, "{accepted}");
    let board = json(&app, &ana, "/api/read/oncall", &[]).await;
    let segments = |i: i64| {
        board["shifts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["index"] == i)
            .unwrap()["segments"]
            .clone()
    };
    // Shift 3 is all cy's now (the first day by the cover, the rest by the swap); ana is
    // secondary in shift 4 instead of cy.
    let three = segments(3);
    assert!(
        three
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["primary"] == "cy"),
        "{three}"
    );
    assert_eq!(segments(4)[0]["secondary"], "ana");
    assert!(part_of(&board, 3).is_empty(), "{}", board["my_shifts"]);
    assert_eq!(part_of(&board, 4)[0]["seat"], "secondary");
}

#[tokio::test]
async fn the_ical_feed_reads_in_a_calendar_parser_and_a_revoked_feed_is_gone() {
    let (mut config, dir) = test_config(StoreKind::Sqlite).await;
    rotation(&mut config, 3_600_000, 72);
    let config_rotation = config.oncall.rotation();
    let app = spawn_app_with(config, dir, axum::Router::new()).await;
    let bo = app.signed_in("bo", "responder").await;
    let made = json(&app, &bo, "/api/attempt/oncall-feed", &[("scope", "me")]).await;
    assert_eq!(made["ok"], true, "{made}");
    let path = made["message"].as_str().unwrap().to_owned();
    assert!(
        path.starts_with("/ical/") && path.ends_with(".ics"),
        "{path}"
    );
    // A calendar app has no session: the secret URL is the credential.
    let res = app
        .anonymous()
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/calendar"));
    let text = res.text().await.unwrap();
    let mut events = Vec::new();
    for cal in ical::IcalParser::new(std::io::BufReader::new(text.as_bytes())) {
        for e in cal.expect("a calendar that parses").events {
            let get = |n: &str| {
                e.properties
                    .iter()
                    .find(|p| p.name == n)
                    .and_then(|p| p.value.clone())
                    .unwrap_or_default()
            };
            events.push((get("SUMMARY"), get("DTSTART"), get("DTEND")));
        }
    }
    // Only bo's time, as the rotation has it: shift k's primary is members[k mod 3] and its
    // secondary members[k+1 mod 3], so bo is secondary in shifts 0, 3, 6 … and primary in
    // shifts 1, 4, 7 …, each a separate stretch of 72 real hours from the shift's start.
    let r = ops::oncall::Rotation::new(&config_rotation).unwrap();
    let now = ops::time::now_ms();
    let mut expected = Vec::new();
    for k in r.index_at(now - 30 * 86_400_000)..=r.index_at(now + 180 * 86_400_000) {
        let s = r.shift(k);
        let seat = match k.rem_euclid(3) {
            0 => "secondary",
            1 => "primary",
            _ => continue,
        };
        // The feed's window cuts the first and last stretch.
        let start = s.start_ms.max(now - 30 * 86_400_000);
        let end = s.end_ms.min(now + 180 * 86_400_000);
        expected.push((format!("On call ({seat}): bo"), start, end));
    }
    let got: Vec<(String, i64, i64)> = events
        .iter()
        .map(|(s, start, end)| (s.clone(), ical_ms(start), ical_ms(end)))
        .collect();
    let whole = |v: &[(String, i64, i64)]| -> Vec<(String, i64, i64)> {
        // The window's edges move with the clock between the feed's read and this one: only
        // stretches that start and end inside both are compared to the second.
        let mut w: Vec<_> = v
            .iter()
            .filter(|(_, a, b)| b - a == 72 * 3_600_000)
            .cloned()
            .collect();
        w.sort_by_key(|(_, a, _)| *a);
        w
    };
    assert_eq!(whole(&got), whole(&expected), "{events:?}");
    // 210 days are 70 shifts, and bo holds a seat in two of every three.
    assert!(whole(&got).len() >= 44, "two thirds of 70 shifts: {got:?}");
    let shift0 = r.shift(0);
    assert!(got.contains(&(
        "On call (secondary): bo".into(),
        shift0.start_ms,
        shift0.start_ms + 72 * 3_600_000
    )));
    assert!(got.contains(&(
        "On call (primary): bo".into(),
        shift0.end_ms,
        shift0.end_ms + 72 * 3_600_000
    )));

    let board = json(&app, &bo, "/api/read/oncall", &[]).await;
    let feed_id = board["feeds"][0]["id"].as_str().unwrap().to_owned();
    let ana = app.signed_in("ana", "responder").await;
    let not_hers = json(
        &app,
        &ana,
        "/api/attempt/oncall-feed-revoke",
        &[("id", &feed_id)],
    )
    .await;
    assert_eq!(not_hers["ok"], false, "{not_hers}");
    let revoked = json(
        &app,
        &bo,
        "/api/attempt/oncall-feed-revoke",
        &[("id", &feed_id)],
    )
    .await;
    assert_eq!(revoked["ok"], true, "{revoked}");
    let res = app
        .anonymous()
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handoff_is_kept_at_the_shifts_end_with_what_happened_during_it() {
    let sim = FleetSim::start(demo_layout(43)).await.unwrap();
    // One-hour shifts, the current one ending in about 40 s.
    let app = app_with(&sim, StoreKind::Sqlite, Some("demo-ctl-secret"), |c| {
        rotation(c, 3_600_000 - 40_000, 1);
    })
    .await;
    let ana = app.signed_in("ana", "responder").await;
    let bo = app.signed_in("bo", "responder").await;
    let cy = app.signed_in("cy", "responder").await;
    // The api in acceptance wedges (critical until restarted): an alarm fires, then the
    // restart clears it. A second restart makes it a service restarted more than once.
    sim.host("builder-api-acceptance-1")
        .unwrap()
        .inject(&fleet_sim::Fault::Wedged {
            service: "builder-api".into(),
        })
        .unwrap();
    // Until the service history has the transition (what the handoff reads).
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.store_url)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let n: i64 = sqlx::Row::get(
            &sqlx::query(
                "SELECT COUNT(*) FROM service_transitions WHERE host = 'builder-api-acceptance-1' \
                 AND service = 'builder-api.acceptance' AND to_state = 'critical'",
            )
            .fetch_one(&mut conn)
            .await
            .unwrap(),
            0,
        );
        if n > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the wedged api never showed critical"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first = started(&restart(&app.address, &ana, &Restart::acceptance_api()).await);
    assert_eq!(
        follow(&app.address, &ana, &first).await["state"],
        "succeeded"
    );
    let id = started(
        &restart(
            &app.address,
            &bo,
            &Restart {
                key: ops::auth::random_token(),
                ..Restart::acceptance_api()
            },
        )
        .await,
    );
    let last = follow(&app.address, &bo, &id).await;
    assert_eq!(last["state"], "succeeded", "{last}");
    // The shift under way already shows it, as a draft.
    let board = json(&app, &ana, "/api/read/oncall", &[]).await;
    let draft = &board["handoffs"][0];
    assert_eq!(draft["kept"], false);
    let current = draft["shift_index"].clone();
    assert!(
        draft["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == id),
        "{draft}"
    );

    // Kept when the shift ends (the server checks every few seconds).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let kept = loop {
        let board = json(&app, &bo, "/api/read/oncall", &[]).await;
        // (The shift before, which ended as Onwatch started, is kept too: not that one.)
        if let Some(h) = board["handoffs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["kept"] == true && h["shift_index"] == current)
        {
            break h.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no handoff kept: {board}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let action = kept["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == first)
        .expect("the restart is in the handoff")
        .clone();
    assert_eq!(action["state"], "succeeded");
    assert_eq!(action["who"], "ana");
    assert_eq!(
        action["what"],
        "restart service acceptance/builder-api-acceptance-1 builder-api.acceptance"
    );
    assert!(kept["actions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["id"] == id && a["who"] == "bo"));
    let alarm = kept["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["subject"] == "acceptance/builder-api-acceptance-1 builder-api.acceptance"
                && a["state"] == "critical"
        })
        .unwrap_or_else(|| panic!("no critical alarm: {kept}"))
        .clone();
    assert!(
        alarm["cleared"].is_string(),
        "the restart cleared it: {alarm}"
    );
    assert_eq!(
        kept["repeated"],
        serde_json::json!([
            "acceptance/builder-api-acceptance-1 builder-api.acceptance restarted 2 times"
        ])
    );
    assert_eq!(kept["outgoing"], serde_json::json!(["ana", "bo"]));
    assert_eq!(kept["incoming"], serde_json::json!(["bo", "cy"]));
    let shift = kept["shift_index"].as_i64().unwrap().to_string();

    // Only the outgoing write the note; only the incoming acknowledge; then the note is final.
    let by_cy = json(
        &app,
        &cy,
        "/api/attempt/handoff-note",
        &[("shift", &shift), ("note", "x")],
    )
    .await;
    assert_eq!(by_cy["ok"], false, "{by_cy}");
    let note = json(
        &app,
        &ana,
        "/api/attempt/handoff-note",
        &[("shift", &shift), ("note", "api restarted once; watch it")],
    )
    .await;
    assert_eq!(note["ok"], true, "{note}");
    let by_ana = json(&app, &ana, "/api/attempt/handoff-ack", &[("shift", &shift)]).await;
    assert_eq!(by_ana["ok"], false, "{by_ana}");
    let ack = json(&app, &cy, "/api/attempt/handoff-ack", &[("shift", &shift)]).await;
    assert_eq!(ack["ok"], true, "{ack}");
    let late = json(
        &app,
        &ana,
        "/api/attempt/handoff-note",
        &[("shift", &shift), ("note", "changed")],
    )
    .await;
    assert_eq!(late["ok"], false, "{late}");
    let board = json(&app, &bo, "/api/read/oncall", &[]).await;
    let h = board["handoffs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["shift_index"] == current && h["kept"] == true)
        .unwrap()
        .clone();
    assert_eq!(h["note"], "api restarted once; watch it");
    assert!(
        h["acknowledged"].as_str().unwrap().starts_with("cy, "),
        "{h}"
    );
    // Each attempt is audited before its rules are checked, then exactly one outcome: the
    // refusals say so (none is recorded as if it had happened).
    let rows: Vec<String> = audit_kinds(&app)
        .await
        .into_iter()
        .filter(|(k, _, a)| k == "oncall.handoff" && *a == shift)
        .map(|(_, o, _)| o)
        .collect();
    assert_eq!(
        rows,
        [
            "note:attempt",
            "refused",
            "note:attempt",
            "done",
            "acknowledge:attempt",
            "refused",
            "acknowledge:attempt",
            "done",
            "note:attempt",
            "refused",
        ],
        "{rows:?}"
    );
}
