//! The onboarding checklist through the real server: items that check themselves (the GitHub
//! group from a sign-in through a local GitHub, the core origin from the simulator's Builder
//! API, "knows the services" from Onwatch's own records), items ticked by hand with who and
//! when, the team's progress, and the admins' confirmations and edits.

use fleet_sim::{demo_layout, BuildFault, FleetSim};
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

// The SSH item through the real endpoint, against a real loopback sshd (`testkit::Sshd`): the
// audit row, the stored key, the item done; the per-person limit on checks; the check only for
// the person's own account, or, for a shared account, only for a key they prove they hold.

/// The onboarding key checks' audit rows (attempts and refusals), oldest first: outcome, actor
/// and detail.
async fn key_checks(app: &TestApp) -> Vec<(String, String, serde_json::Value)> {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::AnyConnection::connect(&app.store_url).await.unwrap();
    sqlx::query(
        "SELECT outcome, actor, detail FROM audit_log \
         WHERE kind = 'onboarding' AND outcome LIKE 'ssh_key_test%' ORDER BY seq",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .iter()
    .map(|r| {
        let detail: String = r.get("detail");
        (
            r.get("outcome"),
            r.get("actor"),
            serde_json::from_str(&detail).unwrap(),
        )
    })
    .collect()
}

/// The key stored for `login` and the result of its last test (`None`: no row for them).
async fn stored_key(app: &TestApp, login: &str) -> Option<(String, String)> {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::AnyConnection::connect(&app.store_url).await.unwrap();
    let r = sqlx::query("SELECT public_key, ssh_result FROM onboarding_people WHERE login = $1")
        .bind(login)
        .fetch_optional(&mut conn)
        .await
        .unwrap()?;
    Some((r.get("public_key"), r.get("ssh_result")))
}

/// A fresh ed25519 key pair in `dir`: the private key's path and the public key's line.
fn new_key(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, String) {
    let path = dir.join(name);
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .output()
        .expect("ssh-keygen");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    (path, public.trim().to_owned())
}

/// What the page tells a person to run: `ssh-keygen -Y sign` over `message` with `key_file`.
fn sign(key_file: &std::path::Path, message: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", "onwatch-onboarding", "-f"])
        .arg(key_file)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ssh-keygen");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(message.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The simulated fleet with a real sshd reaching its production hosts (`live`), Builder's core
/// origin listing `members`, and `ssh_user` as given.
async fn app_with_sshd(
    kind: StoreKind,
    seed: u64,
    members: &[&str],
    ssh_user: &str,
) -> (TestApp, FleetSim, testkit::Sshd) {
    let sim = FleetSim::start(demo_layout(seed)).await.unwrap();
    for env in ["live", "acceptance"] {
        assert!(sim.build_fault(
            env,
            &BuildFault::OriginMembers {
                origin: "core".into(),
                members: members.iter().map(|m| m.to_string()).collect(),
            }
        ));
    }
    let sshd = testkit::Sshd::start().await.unwrap();
    let ssh = crate::actions::ssh_through(&sshd, &sim);
    let app = app_with(&sim, kind, Some("demo-ctl-secret"), |c| {
        for env in c.environments.values_mut() {
            env.builder_token = Some(TOKEN.to_owned().into());
        }
        if let Some(live) = c.environments.get_mut("live") {
            live.ssh = Some(ssh);
        }
        c.onboarding.ssh_user = ssh_user.to_owned();
    })
    .await;
    (app, sim, sshd)
}

fn authorised_key(sshd: &testkit::Sshd) -> String {
    std::fs::read_to_string(sshd.key_file.with_extension("pub"))
        .unwrap()
        .trim()
        .to_owned()
}

/// Someone goes from nothing to ready: their key declared through the page's endpoint and
/// accepted by a real sshd for their own account (audited, stored, the item verified), every
/// service page opened and a restart in acceptance, the hand-ticked items ticked, and the
/// GitHub item (a development sign-in shows no organisation) confirmed by an admin. The team
/// view, as a colleague sees it, then shows them ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_who_gets_every_item_is_shown_ready_to_the_team() {
    // The loopback sshd lets in only whoever runs the tests, so that is the person's login
    // (`ssh_user = "{login}"`, the default: their own account).
    let who = whoami();
    let (app, _sim, sshd) = app_with_sshd(StoreKind::Sqlite, 45, &[&who], "{login}").await;
    let person = app.signed_in(&who, "responder").await;
    let colleague = app.signed_in("bo", "responder").await;
    let admin = app.signed_in("lead", "admin").await;

    let _ = board(&app, &person, "").await;
    let b2 = board(&app, &colleague, "").await;
    assert_eq!(row(&b2, &who)["ready"], false, "{}", row(&b2, &who));

    // The SSH item, through the endpoint the page's key form posts to.
    let key = authorised_key(&sshd);
    let k = json(
        &app,
        &person,
        "/api/attempt/onboarding-key",
        &[("key", &key)],
    )
    .await;
    assert_eq!(k["ok"], true, "{k}");
    let rows = key_checks(&app).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (outcome, actor, detail) = &rows[0];
    assert_eq!(outcome, "ssh_key_test");
    assert_eq!(actor, &format!("dev:{who}"));
    assert_eq!(
        detail["user"],
        who.as_str(),
        "the person's own account: {detail}"
    );
    assert_eq!(detail["environment"], "live", "{detail}");
    assert_eq!(detail["key"], key.as_str(), "{detail}");
    assert_eq!(
        stored_key(&app, &who).await,
        Some((key.clone(), "accepted".to_owned()))
    );
    let b = board(&app, &person, "").await;
    assert_eq!(b["public_key"], key.as_str());
    let ssh = item(&b, "ssh-production");
    assert_eq!(ssh["done"], true, "{ssh}");
    assert!(
        ssh["how"].as_str().unwrap().starts_with("verified:"),
        "{ssh}"
    );

    // "Knows the services": every page opened, a restart in acceptance.
    for s in ops::catalog::SERVICES {
        let res = app
            .call(&person, "/api/read/service-instances", &[("slug", s.slug)])
            .await;
        assert_eq!(res.status(), 200);
    }
    let id = started(&restart(&app.address, &person, &Restart::acceptance_api()).await);
    assert_eq!(
        follow(&app.address, &person, &id).await["state"],
        "succeeded"
    );

    // Everything ticked by hand, ticked.
    let b = board(&app, &person, "").await;
    for i in b["items"].as_array().unwrap() {
        if i["tickable"] == true {
            let id = i["id"].as_str().unwrap();
            let t = json(
                &app,
                &person,
                "/api/attempt/onboarding-tick",
                &[("item", id), ("done", "true")],
            )
            .await;
            assert_eq!(t["ok"], true, "{id}: {t}");
        }
    }
    // Not ready yet: the GitHub item, which Onwatch checks and a development sign-in fails.
    let b = board(&app, &colleague, "").await;
    let r = row(&b, &who);
    assert_eq!(r["ready"], false, "{r}");
    assert_eq!(r["missing"].as_array().unwrap().len(), 1, "{r}");
    let c = json(
        &app,
        &admin,
        "/api/admin/onboarding-mark",
        &[
            ("person", &who),
            ("item", "github-group"),
            ("mark", "confirmed"),
        ],
    )
    .await;
    assert_eq!(c["ok"], true, "{c}");

    // The team view, as a colleague sees it: ready.
    let b = board(&app, &colleague, "").await;
    let r = row(&b, &who);
    assert_eq!(r["ready"], true, "{r}");
    assert_eq!(r["done"], r["total"], "{r}");
    assert_eq!(r["missing"], serde_json::json!([]), "{r}");
    assert_eq!(
        row(&b, "bo")["ready"],
        false,
        "only the person who did it all"
    );
    // And their own checklist agrees, item by item.
    let b = board(&app, &person, "").await;
    assert!(
        b["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["done"] == true),
        "{b}"
    );
}

fn whoami() -> String {
    let out = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Five key checks an hour a person, counted from the audit log (so every replica agrees): the
/// sixth is refused in words, with an audit row, and sshd is not asked; someone else can still
/// check theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_checks_are_limited_per_person_and_the_refusal_is_audited() {
    key_checks_are_limited(StoreKind::Sqlite, 46).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_checks_are_limited_per_person_and_the_refusal_is_audited_on_postgres() {
    key_checks_are_limited(StoreKind::Postgres, 49).await;
}

async fn key_checks_are_limited(kind: StoreKind, seed: u64) {
    let who = whoami();
    let (app, _sim, sshd) = app_with_sshd(kind, seed, &[], "{login}").await;
    let person = app.signed_in(&who, "responder").await;
    let dir = tempfile::tempdir().unwrap();
    let (_, stranger) = new_key(dir.path(), "stranger");
    let good = authorised_key(&sshd);
    for n in 0..5 {
        let key = if n % 2 == 0 { &good } else { &stranger };
        let k = json(
            &app,
            &person,
            "/api/attempt/onboarding-key",
            &[("key", key)],
        )
        .await;
        assert_eq!(k["ok"], n % 2 == 0, "check {n}: {k}");
    }
    let k = json(
        &app,
        &person,
        "/api/attempt/onboarding-key",
        &[("key", &good)],
    )
    .await;
    assert_eq!(k["ok"], false, "{k}");
    let msg = k["message"].as_str().unwrap();
    assert!(
        msg.contains("5 key checks in the last hour") && msg.contains("try again after"),
        "{msg}"
    );
    let rows = key_checks(&app).await;
    let outcomes: Vec<&str> = rows.iter().map(|(o, _, _)| o.as_str()).collect();
    assert_eq!(
        outcomes,
        [
            "ssh_key_test",
            "ssh_key_test",
            "ssh_key_test",
            "ssh_key_test",
            "ssh_key_test",
            "ssh_key_test_refused"
        ],
        "the refusal is audited, and sshd was not asked a sixth time"
    );
    assert_eq!(rows[5].1, format!("dev:{who}"));
    assert_eq!(rows[5].2["limit"], 5, "{:?}", rows[5]);
    // The last check that ran (accepted) is still what the item shows.
    assert_eq!(stored_key(&app, &who).await.unwrap().1, "accepted");
    // Per person: someone else still has their five.
    let other = app.signed_in("ana", "responder").await;
    let k = json(
        &app,
        &other,
        "/api/attempt/onboarding-key",
        &[("key", &stranger)],
    )
    .await;
    assert!(
        k["message"]
            .as_str()
            .unwrap()
            .contains("does not accept this key for ana"),
        "{k}"
    );
}

/// With `{login}` the check asks about the person's own account and no other: a key that
/// production accepts for someone else's account is not accepted for theirs; a login that is
/// not an account name is refused before sshd is asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_check_asks_only_about_the_persons_own_account() {
    let (app, _sim, sshd) = app_with_sshd(StoreKind::Sqlite, 47, &[], "{login}").await;
    let ana = app.signed_in("ana", "responder").await;
    let key = authorised_key(&sshd);
    let k = json(&app, &ana, "/api/attempt/onboarding-key", &[("key", &key)]).await;
    assert_eq!(k["ok"], false, "{k}");
    assert!(k["message"].as_str().unwrap().contains("for ana"), "{k}");
    assert_eq!(key_checks(&app).await[0].2["user"], "ana");
    let spaced = app.signed_in("ana smith", "responder").await;
    let k = json(
        &app,
        &spaced,
        "/api/attempt/onboarding-key",
        &[("key", &key)],
    )
    .await;
    assert_eq!(k["ok"], false, "{k}");
    assert!(
        k["message"]
            .as_str()
            .unwrap()
            .contains("not an account name"),
        "{k}"
    );
    assert_eq!(
        key_checks(&app).await.len(),
        1,
        "sshd was not asked for `ana smith`"
    );
}

/// With a fixed `ssh_user` (one account everyone shares), sshd's answer says nothing about whose
/// key it is, so the check runs only for a key the person proves they hold (an
/// `ssh-keygen -Y sign` over their own challenge): a pasted public key alone, or a signature
/// over someone else's challenge, is refused without asking sshd.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_account_is_checked_only_for_a_key_the_person_holds() {
    let (app, _sim, sshd) = app_with_sshd(StoreKind::Sqlite, 48, &[], &whoami()).await;
    let mallory = app.signed_in("mallory", "responder").await;
    let key = authorised_key(&sshd);
    // Someone else's public key (public keys are public): no answer about it.
    let k = json(
        &app,
        &mallory,
        "/api/attempt/onboarding-key",
        &[("key", &key)],
    )
    .await;
    assert_eq!(k["ok"], false, "{k}");
    assert!(
        k["message"]
            .as_str()
            .unwrap()
            .contains("ssh-keygen -Y sign"),
        "{k}"
    );
    assert!(key_checks(&app).await.is_empty(), "sshd was not asked");
    assert_ne!(
        stored_key(&app, "mallory").await.map(|k| k.1),
        Some("accepted".to_owned())
    );

    // A signature the key's holder made over their own challenge does not serve Mallory.
    let holder = app.signed_in("holder", "responder").await;
    let hb = board(&app, &holder, "").await;
    let challenge = hb["key_challenge"].as_str().unwrap().to_owned();
    assert!(challenge.contains("dev:holder"), "{hb}");
    let theirs = sign(&sshd.key_file, &challenge);
    let k = json(
        &app,
        &mallory,
        "/api/attempt/onboarding-key",
        &[("key", &key), ("signature", &theirs)],
    )
    .await;
    assert_eq!(k["ok"], false, "{k}");
    assert!(key_checks(&app).await.is_empty(), "sshd was not asked");

    // Mallory's own key, proved, is checked (and the shared account does not take it).
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = new_key(dir.path(), "mallory");
    let mb = board(&app, &mallory, "").await;
    let mine = sign(&private, mb["key_challenge"].as_str().unwrap());
    let k = json(
        &app,
        &mallory,
        "/api/attempt/onboarding-key",
        &[("key", &public), ("signature", &mine)],
    )
    .await;
    assert_eq!(k["ok"], false, "{k}");
    assert!(
        k["message"].as_str().unwrap().contains("does not accept"),
        "{k}"
    );

    // The holder, proving it, is accepted: audited, stored, the item done.
    let k = json(
        &app,
        &holder,
        "/api/attempt/onboarding-key",
        &[("key", &key), ("signature", &theirs)],
    )
    .await;
    assert_eq!(k["ok"], true, "{k}");
    let rows = key_checks(&app).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1].1, "dev:holder");
    assert_eq!(rows[1].2["user"], whoami().as_str());
    assert_eq!(
        stored_key(&app, "holder").await,
        Some((key, "accepted".to_owned()))
    );
    let b = board(&app, &holder, "").await;
    assert_eq!(item(&b, "ssh-production")["done"], true, "{b}");
}

/// The team table names each person once: the login beside the name only when it differs.
#[tokio::test]
async fn the_team_table_names_each_person_once() {
    let app = crate::helpers::spawn_app(crate::helpers::StoreKind::Sqlite).await;
    let ana = app.signed_in("ana", "responder").await;
    // A page seen once puts the person on the team.
    let seen = ana.get(format!("{}/", app.address)).send().await.unwrap();
    assert_eq!(seen.status(), 200);
    let admin = app.signed_in("team-admin", "admin").await;
    let res = admin
        .get(format!("{}/onboarding", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let page = crate::dom::Page::parse(&res.text().await.unwrap());
    let row = page.text("[data-testid=\"team-table\"] tr[data-person=\"ana\"] th");
    assert_eq!(row, "ana", "{row:?}");
}
