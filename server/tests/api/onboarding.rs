//! The onboarding checklist through the real server: items that check themselves (the GitHub
//! group from a sign-in through a local GitHub, the core origin from the simulator's Builder
//! API, "knows the services" from Onwatch's own records), items ticked by hand with who and
//! when, the team's progress, and the admins' confirmations and edits.

use ops::sim::{demo_layout, BuildFault, FleetSim};
use reqwest::Client;

use crate::actions::{app_with, follow, restart, Restart};
use crate::auth_github::{app_with_github_and, sign_in};
use crate::builds::{started, TOKEN};
use crate::helpers::{StoreKind, TestApp};
use crate::oncall::json;

async fn board(app: &TestApp, client: &Client, person: &str) -> serde_json::Value {
    let res = app
        .call(client, "/api/read/onboarding", &[("person", person)])
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn item<'a>(b: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    b["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("no item {id}: {b}"))
}

fn row<'a>(b: &'a serde_json::Value, login: &str) -> &'a serde_json::Value {
    b["team"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["login"] == login)
        .unwrap_or_else(|| panic!("no row {login}: {b}"))
}

#[tokio::test]
async fn the_github_item_is_verified_from_the_sign_in() {
    let (app, gh) = app_with_github_and(StoreKind::Sqlite, |_| {}).await;
    let alice = crate::helpers::cookie_client();
    assert!(sign_in(&app, &gh, &alice, "alice", "/")
        .await
        .status()
        .is_redirection());
    let b = board(&app, &alice, "").await;
    let g = item(&b, "github-group");
    assert_eq!(g["done"], true, "{g}");
    assert!(
        g["how"]
            .as_str()
            .unwrap()
            .contains("the github sign-in shows habitat-sh"),
        "{g}"
    );
    assert_eq!(g["tickable"], false, "checked by Onwatch, not ticked");
    // Jamie's sign-in shows no organisation.
    let jamie = crate::helpers::cookie_client();
    assert!(sign_in(&app, &gh, &jamie, "Jamie", "/")
        .await
        .status()
        .is_redirection());
    let b = board(&app, &jamie, "").await;
    let g = item(&b, "github-group");
    assert_eq!(g["done"], false, "{g}");
    assert!(
        g["how"]
            .as_str()
            .unwrap()
            .contains("did not show habitat-sh"),
        "{g}"
    );
    // The team view has both, as the sign-ins found them.
    assert!(!row(&b, "alice")["missing"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m.as_str().unwrap().contains("GitHub")));
    assert!(row(&b, "jamie")["missing"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m.as_str().unwrap().contains("GitHub")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_check_themselves_from_builder_and_onwatchs_records_and_ticks_are_kept() {
    let sim = FleetSim::start(demo_layout(44)).await.unwrap();
    for env in ["live", "acceptance"] {
        assert!(sim.build_fault(
            env,
            &BuildFault::OriginMembers {
                origin: "core".into(),
                members: vec!["ana".into()]
            }
        ));
    }
    let app = app_with(&sim, StoreKind::Sqlite, Some("demo-ctl-secret"), |c| {
        for env in c.environments.values_mut() {
            env.builder_token = Some(TOKEN.to_owned().into());
        }
        crate::oncall::rotation(c, 3_600_000, 72);
    })
    .await;
    let ana = app.signed_in("ana", "responder").await;
    let bo = app.signed_in("bo", "responder").await;
    let admin = app.signed_in("root", "admin").await;

    // The core origin, from Builder.
    let b = board(&app, &ana, "").await;
    assert_eq!(
        item(&b, "core-origin")["done"],
        true,
        "{}",
        item(&b, "core-origin")
    );
    let b = board(&app, &bo, "").await;
    let core = item(&b, "core-origin");
    assert_eq!(core["done"], false);
    assert!(
        core["how"]
            .as_str()
            .unwrap()
            .contains("does not list bo in the core origin"),
        "{core}"
    );
    // Bo cannot tick what Onwatch checks; an admin can confirm it.
    let t = json(
        &app,
        &bo,
        "/api/attempt/onboarding-tick",
        &[("item", "core-origin"), ("done", "true")],
    )
    .await;
    assert_eq!(t["ok"], false, "{t}");
    let c = json(
        &app,
        &admin,
        "/api/admin/onboarding-mark",
        &[
            ("person", "bo"),
            ("item", "core-origin"),
            ("mark", "confirmed"),
        ],
    )
    .await;
    assert_eq!(c["ok"], true, "{c}");
    let b = board(&app, &bo, "").await;
    assert_eq!(item(&b, "core-origin")["done"], true);
    assert!(item(&b, "core-origin")["how"]
        .as_str()
        .unwrap()
        .starts_with("confirmed by root"));

    // "Knows the services": every service page opened, then a restart in acceptance.
    let before = board(&app, &ana, "").await;
    assert_eq!(item(&before, "knows-services")["done"], false);
    for s in ops::catalog::SERVICES {
        let res = app
            .call(&ana, "/api/read/service-instances", &[("slug", s.slug)])
            .await;
        assert_eq!(res.status(), 200);
    }
    let b = board(&app, &ana, "").await;
    let k = item(&b, "knows-services");
    assert_eq!(k["done"], false);
    assert!(
        k["how"]
            .as_str()
            .unwrap()
            .contains("now restart a service in acceptance"),
        "{k}"
    );
    let id = started(&restart(&app.address, &ana, &Restart::acceptance_api()).await);
    assert_eq!(follow(&app.address, &ana, &id).await["state"], "succeeded");
    let b = board(&app, &ana, "").await;
    let k = item(&b, "knows-services");
    assert_eq!(k["done"], true, "{k}");
    assert!(k["how"].as_str().unwrap().contains(&id), "{k}");

    // A manual tick shows in the team view, with who and when kept.
    let progress = |b: &serde_json::Value| row(b, "ana")["done"].as_u64().unwrap();
    let was = progress(&b);
    let t = json(
        &app,
        &ana,
        "/api/attempt/onboarding-tick",
        &[("item", "vault"), ("done", "true")],
    )
    .await;
    assert_eq!(t["ok"], true, "{t}");
    let b = board(&app, &bo, "").await;
    assert_eq!(progress(&b), was + 1);
    let b = board(&app, &admin, "ana").await;
    assert!(
        item(&b, "vault")["how"]
            .as_str()
            .unwrap()
            .starts_with("ticked by ana"),
        "{}",
        item(&b, "vault")
    );

    // Retiring an item keeps who ticked it; restoring brings the tick back.
    let r = json(
        &app,
        &admin,
        "/api/admin/onboarding-edit",
        &[("op", "retire"), ("id", "vault")],
    )
    .await;
    assert_eq!(r["ok"], true, "{r}");
    let b = board(&app, &ana, "").await;
    assert!(b["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["id"] != "vault"));
    let r = json(
        &app,
        &admin,
        "/api/admin/onboarding-edit",
        &[
            ("op", "reword"),
            ("id", "vault"),
            ("text", "Access to the team vault (1Password)"),
        ],
    )
    .await;
    assert_eq!(r["ok"], true, "{r}");
    json(
        &app,
        &admin,
        "/api/admin/onboarding-edit",
        &[("op", "restore"), ("id", "vault")],
    )
    .await;
    let b = board(&app, &ana, "").await;
    let v = item(&b, "vault");
    assert_eq!(v["text"], "Access to the team vault (1Password)");
    assert_eq!(
        v["done"], true,
        "the tick survived retiring and rewording: {v}"
    );
    // Not an admin: refused by the wall.
    let res = app
        .call(
            &ana,
            "/api/admin/onboarding-edit",
            &[("op", "retire"), ("id", "vault")],
        )
        .await;
    assert_eq!(res.status(), 403);
    // A scheduled person who is not ready is flagged in the team view.
    assert_eq!(row(&b, "bo")["scheduled"], true);
    assert_eq!(row(&b, "bo")["ready"], false);
}
