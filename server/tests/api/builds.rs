//! Build requests against the simulator's Builder API, through the real server: the job group
//! followed to the end and the new release seen on the Supervisors; Builder's refusals (401, 403,
//! 404, 429) said in words; a stalled group named for the runbook's suspect; the guards; the token
//! in no output or audit row.

use std::time::Duration;

use fleet_sim::{demo_layout, BuildFault, FleetSim};
use sqlx::{Connection, Row};

use crate::actions::{
    action_audit, app_with, audit_kinds, follow, refusing_guards, restart, Restart,
};
use crate::helpers::{StoreKind, TestApp};

pub(crate) const TOKEN: &str = "_onwatch-test-token-0123456789";

/// An Onwatch on the simulated fleet whose environments may request builds with `token`.
pub(crate) async fn app(
    sim: &FleetSim,
    token: Option<&str>,
    tune: impl FnOnce(&mut server::config::Config),
) -> TestApp {
    app_with(sim, StoreKind::Sqlite, Some("demo-ctl-secret"), |c| {
        for env in c.environments.values_mut() {
            env.builder_token = token.map(|t| t.to_owned().into());
        }
        c.builds.poll = Duration::from_millis(200);
        c.builds.release_timeout = Duration::from_secs(15);
        tune(c);
    })
    .await
}

fn build<'a>(env: &'a str, pkg: &'a str, confirmation: &'a str) -> Restart<'a> {
    Restart {
        kind: "request_build",
        env,
        host: "depot",
        group: pkg,
        reason: "the fix for the 502s is merged",
        confirmation,
        tried: "",
        key: ops::auth::random_token(),
    }
}

pub(crate) fn started(answer: &serde_json::Value) -> String {
    answer["Started"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("not started: {answer}"))
        .to_owned()
}

pub(crate) fn output(p: &serde_json::Value) -> String {
    p["lines"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_is_followed_to_its_new_release_on_the_supervisors() {
    let sim = FleetSim::start(demo_layout(41)).await.unwrap();
    let app = app(&sim, Some(TOKEN), |_| {}).await;
    let ada = app.signed_in("ada", "responder").await;
    // Outside production no typed confirmation is needed.
    let id = started(&restart(&app.address, &ada, &build("acceptance", "builder-api", "")).await);
    let last = follow(&app.address, &ada, &id).await;
    let out = output(&last);
    assert_eq!(last["state"], "succeeded", "{last}");
    assert!(out.contains("Builder accepted it: job group"), "{out}");
    assert!(
        out.contains("NotStarted → InProgress") || out.contains("— → InProgress"),
        "{out}"
    );
    assert!(out.contains("InProgress → Success"), "{out}");
    assert!(
        out.contains("job group") && out.contains(": Complete"),
        "{out}"
    );
    let summary = last["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("built ") && summary.contains("running on"),
        "{summary}"
    );
    // The release the fleet model saw is the one built.
    let built = summary
        .trim_start_matches("built ")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let release = built.split('/').nth(1).unwrap().to_owned();
    assert!(out.contains(&format!("runs builder-api/{built}")), "{out}");
    let state = sim.host("builder-api-acceptance-1").unwrap().state_json();
    let ident = state["services"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == "builder-api"))
        .and_then(|s| s["ident"].as_str())
        .unwrap()
        .to_owned();
    assert!(
        ident.ends_with(&format!("/{release}")),
        "{ident} is not the new release {release}"
    );
    // Audited: the intent (with the executor, not the token) before, the outcome after.
    assert_eq!(
        action_audit(&app, &id).await,
        [
            ("action.intent".to_owned(), String::new()),
            ("action.outcome".to_owned(), "succeeded".to_owned())
        ]
    );
    let mut conn = sqlx::AnyConnection::connect(&app.store_url).await.unwrap();
    let details: Vec<String> = sqlx::query("SELECT detail FROM audit_log")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("detail"))
        .collect();
    assert!(details
        .iter()
        .any(|d| d.contains("builder api") && d.contains("habitat/builder-api")));
    assert!(
        !details.iter().any(|d| d.contains(TOKEN)),
        "the token leaked into the audit log"
    );
    assert!(!out.contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builders_refusals_are_said_in_words() {
    let sim = FleetSim::start(demo_layout(42)).await.unwrap();
    for (token, fault, expect) in [
        (
            "expired-token",
            None,
            "Builder refused the token (SESSION_EXPIRED)",
        ),
        ("not-a-personal-token", None, "(403 BAD_TOKEN)"),
        (
            TOKEN,
            Some(BuildFault::Disconnected {
                package: "builder-api".into(),
            }),
            "Builder knows no project habitat/builder-api (404)",
        ),
        (
            TOKEN,
            Some(BuildFault::Throttle {
                count: 1,
                retry_after_secs: 7,
            }),
            "Builder is throttling requests (429), asking to wait 7 s",
        ),
    ] {
        let app = app(&sim, Some(token), |_| {}).await;
        if let Some(f) = &fault {
            assert!(sim.build_fault("acceptance", f));
        }
        let ada = app.signed_in("ada", "responder").await;
        let id =
            started(&restart(&app.address, &ada, &build("acceptance", "builder-api", "")).await);
        let last = follow(&app.address, &ada, &id).await;
        assert_eq!(last["state"], "failed", "{last}");
        let summary = last["summary"].as_str().unwrap();
        assert!(
            summary.starts_with("the build was not requested: "),
            "{summary}"
        );
        assert!(summary.contains(expect), "{expect:?} not in {summary:?}");
        assert!(sim.build_fault("acceptance", &BuildFault::Clear));
    }
    // 401 without any token at all: the simulator says `net:auth:no-token`, as Builder does.
    let client = reqwest::Client::new();
    let res = client
        .post(format!(
            "http://{}/v1/depot/pkgs/schedule/habitat/builder-api",
            sim.builder_api["acceptance"]
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

/// Reads the action's event stream until its progress holds `needle`; what was read.
async fn until_progress(app: &TestApp, client: &reqwest::Client, id: &str, needle: &str) -> String {
    let mut events = client
        .get(format!("{}/api/actions/{id}/events", app.address))
        .send()
        .await
        .unwrap();
    let mut seen = String::new();
    while !seen.contains(needle) {
        let chunk = tokio::time::timeout(Duration::from_secs(10), events.chunk())
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} within 10 s: {seen}"))
            .unwrap()
            .unwrap_or_else(|| panic!("the stream ended before {needle:?}: {seen}"));
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_follow_backs_off_and_goes_on() {
    let sim = FleetSim::start(demo_layout(43)).await.unwrap();
    let app = app(&sim, Some(TOKEN), |_| {}).await;
    let ada = app.signed_in("ada", "responder").await;
    assert!(sim.build_fault("acceptance", &BuildFault::BuildMs { ms: 2500 }));
    let id = started(
        &restart(
            &app.address,
            &ada,
            &build("acceptance", "builder-jobsrv", ""),
        )
        .await,
    );
    // Once the request is accepted (the POST itself is not throttled), the next two reads of
    // the group are throttled; the follow waits and reads again.
    until_progress(&app, &ada, &id, "Builder accepted it").await;
    assert!(sim.build_fault(
        "acceptance",
        &BuildFault::Throttle {
            count: 2,
            retry_after_secs: 1
        }
    ));
    let last = follow(&app.address, &ada, &id).await;
    let out = output(&last);
    assert_eq!(last["state"], "succeeded", "{last}");
    assert!(
        out.contains("Builder is throttling (429); reading the group again in 1 s"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_group_names_the_runbooks_suspect() {
    let sim = FleetSim::start(demo_layout(44)).await.unwrap();
    let app = app(&sim, Some(TOKEN), |c| {
        c.builds.stall_after = Duration::from_millis(600);
        c.builds.build_timeout = Duration::from_secs(3);
    })
    .await;
    let ada = app.signed_in("ada", "responder").await;
    for (fault, pkg, suspect, state) in [
        (BuildFault::Stall, "builder-api", "the scheduler", "Pending"),
        (
            BuildFault::StallRunning,
            "builder-router",
            "jobsrv handles build jobs",
            "Dispatching",
        ),
    ] {
        assert!(sim.build_fault("acceptance", &fault));
        let id = started(&restart(&app.address, &ada, &build("acceptance", pkg, "")).await);
        // While it runs, the page's progress carries the stall and its suspect.
        let seen = until_progress(&app, &ada, &id, "\"stalled\":\"").await;
        assert!(seen.contains(suspect), "{suspect:?} not in {seen}");
        let last = follow(&app.address, &ada, &id).await;
        assert_eq!(last["state"], "failed", "{last}");
        let summary = last["summary"].as_str().unwrap();
        assert!(
            summary.contains(&format!("still {state} after 3 s")),
            "{summary}"
        );
        assert!(output(&last).contains(suspect), "{}", output(&last));
        assert!(sim.build_fault("acceptance", &BuildFault::Clear));
    }
    // A failing build is said as such.
    assert!(sim.build_fault("acceptance", &BuildFault::Fail));
    let id = started(
        &restart(
            &app.address,
            &ada,
            &build("acceptance", "builder-originsrv", ""),
        )
        .await,
    );
    let last = follow(&app.address, &ada, &id).await;
    assert_eq!(last["state"], "failed");
    assert!(
        last["summary"]
            .as_str()
            .unwrap()
            .contains("ended Failed (habitat/builder-originsrv Failure)"),
        "{last}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_requests_pass_the_guards_or_run_nothing() {
    let sim = FleetSim::start(demo_layout(45)).await.unwrap();
    let app = app(&sim, Some(TOKEN), |c| {
        c.environments.get_mut("acceptance").unwrap().builder_token = None;
    })
    .await;
    let ada = app.signed_in("ada", "responder").await;
    let viewer = app.signed_in("vic", "viewer").await;
    // live: the environment typed too.
    let answer = restart(
        &app.address,
        &ada,
        &build("live", "builder-api", "builder-api"),
    )
    .await;
    assert_eq!(refusing_guards(&answer), ["confirmation"]);
    let answer = restart(
        &app.address,
        &viewer,
        &build("live", "builder-api", "live/builder-api"),
    )
    .await;
    assert_eq!(refusing_guards(&answer), ["role"]);
    let mut no_reason = build("live", "builder-api", "live/builder-api");
    no_reason.reason = " ";
    assert_eq!(
        refusing_guards(&restart(&app.address, &ada, &no_reason).await),
        ["reason"]
    );
    // No token for acceptance: said, with the keys to set.
    let answer = restart(&app.address, &ada, &build("acceptance", "builder-api", "")).await;
    assert_eq!(refusing_guards(&answer), ["executor"]);
    assert!(
        answer.to_string().contains("builder_token_file"),
        "{answer}"
    );
    // Not a service's package, or a build aimed at a host.
    let answer = restart(
        &app.address,
        &ada,
        &build("live", "sentinel", "live/sentinel"),
    )
    .await;
    assert_eq!(refusing_guards(&answer), ["target"]);
    let mut on_host = build("live", "builder-api.live", "live/builder-api");
    on_host.host = "builder-api-live-1";
    assert_eq!(
        refusing_guards(&restart(&app.address, &ada, &on_host).await),
        ["target"]
    );
    // Every refusal is audited; nothing ran, so no intent.
    let kinds = audit_kinds(&app).await;
    assert_eq!(
        kinds
            .iter()
            .filter(|(k, _, _)| k == "action.refused")
            .count(),
        6,
        "{kinds:?}"
    );
    assert!(!kinds.iter().any(|(k, _, _)| k == "action.intent"));
    // A complete live request runs; a second one of the same package waits for it (its lock).
    let id = started(
        &restart(
            &app.address,
            &ada,
            &build("live", "builder-api", "live/builder-api"),
        )
        .await,
    );
    let again = restart(
        &app.address,
        &ada,
        &build("live", "builder-api", "live/builder-api"),
    )
    .await;
    assert_eq!(refusing_guards(&again), ["lock"], "{again}");
    // Another package builds meanwhile: the lock is per package.
    let other = restart(
        &app.address,
        &ada,
        &build("live", "builder-router", "live/builder-router"),
    )
    .await;
    let other = started(&other);
    assert_eq!(follow(&app.address, &ada, &id).await["state"], "succeeded");
    assert_eq!(
        follow(&app.address, &ada, &other).await["state"],
        "succeeded"
    );
}

/// A Supervisor's answer does not choose what is built with the production token: a package
/// reported from an origin Onwatch does not build (here `..`, which would turn the schedule
/// request's path into another) is refused before any request reaches Builder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisors_origin_outside_the_allow_list_builds_nothing() {
    let mut spec = demo_layout(54);
    for h in spec
        .hosts
        .iter_mut()
        .filter(|h| h.environment == "acceptance")
    {
        for s in h.services.iter_mut().filter(|s| s.name == "builder-api") {
            s.origin = "..".into();
        }
    }
    let sim = FleetSim::start(spec).await.unwrap();
    let app = app(&sim, Some(TOKEN), |_| {}).await;
    let ada = app.signed_in("ada", "responder").await;
    // The fleet has seen the Supervisors' answer.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let res = app
            .call(&ada, "/api/read/service-instances", &[("slug", "api")])
            .await;
        let text = res.text().await.unwrap();
        if text.contains("builder-api-acceptance-1") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let answer = restart(&app.address, &ada, &build("acceptance", "builder-api", "")).await;
    assert_eq!(refusing_guards(&answer), ["target"], "{answer}");
    assert!(
        answer.to_string().contains("not one Onwatch builds"),
        "{answer}"
    );
    assert_eq!(
        sim.builds_requested("acceptance"),
        0,
        "a request reached Builder"
    );
}
