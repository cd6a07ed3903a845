//! The onboarding checklist's SSH item: Onwatch asks a real OpenSSH server (`testkit::Sshd`)
//! whether it would accept a person's declared public key, without the private key (the
//! publickey query without a signature, RFC 4252 §7).

use std::process::Command;
use std::time::Duration;

use ops::exec::ssh::{self, SshOptions, SshTarget};

fn target(sshd: &testkit::Sshd) -> SshTarget {
    SshTarget {
        address: "127.0.0.1".into(),
        options: SshOptions {
            user: sshd.user.clone(),
            port: sshd.port,
            key_file: sshd.key_file.clone(),
            known_hosts_file: sshd.known_hosts_file.clone(),
            connect_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(20),
            ..SshOptions::default()
        },
        key: ssh::load_key(&sshd.key_file).unwrap(),
    }
}

#[tokio::test]
async fn an_authorised_key_is_accepted_and_any_other_is_not() {
    let sshd = testkit::Sshd::start().await.expect("a loopback sshd");
    let t = target(&sshd);
    // The key sshd authorises (its authorized_keys holds this public key).
    let authorised =
        std::fs::read_to_string(sshd.key_file.with_extension("pub")).expect("the client's .pub");
    assert!(ssh::key_accepted(&t, &sshd.user, &authorised)
        .await
        .unwrap());

    // A key of nobody's.
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .output()
        .expect("ssh-keygen");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stranger = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    assert!(!ssh::key_accepted(&t, &sshd.user, &stranger).await.unwrap());

    // The authorised key, for a user it is not authorised for.
    assert!(!ssh::key_accepted(&t, "nobody-here", &authorised)
        .await
        .unwrap());

    // Not a key at all: said in words, no connection made.
    let e = ssh::key_accepted(&t, &sshd.user, "hunter2")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not an OpenSSH public key"), "{e}");
}

/// A fresh ed25519 key pair in `dir`: the private key's path and the public key's line.
fn new_key(dir: &std::path::Path, name: &str) -> (std::path::PathBuf, String) {
    let path = dir.join(name);
    let out = Command::new("ssh-keygen")
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

/// `ssh-keygen -Y sign` over `message` in `namespace`, as a person runs it.
fn sign(key_file: &std::path::Path, namespace: &str, message: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", namespace, "-f"])
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

/// For a shared account the check needs a proof of holding the key, made by OpenSSH's own
/// `ssh-keygen -Y sign` over the person's challenge: one over someone else's challenge, by
/// another key, in another namespace, or not a signature at all proves nothing.
#[test]
fn a_proof_of_holding_a_key_is_the_keys_signature_over_the_persons_own_challenge() {
    use ops::onboarding::{key_challenge, verify_key_proof, KEY_PROOF_NAMESPACE};
    let dir = tempfile::tempdir().unwrap();
    let (ana_private, ana_public) = new_key(dir.path(), "ana");
    let (_, bo_public) = new_key(dir.path(), "bo");
    let ana = "github:1001";
    let proof = sign(&ana_private, KEY_PROOF_NAMESPACE, &key_challenge(ana));
    assert_eq!(verify_key_proof(&ana_public, &proof, ana), Ok(()));
    // `echo` rather than `printf '%s'`: the same challenge with a newline.
    let echoed = sign(
        &ana_private,
        KEY_PROOF_NAMESPACE,
        &format!("{}\n", key_challenge(ana)),
    );
    assert_eq!(verify_key_proof(&ana_public, &echoed, ana), Ok(()));

    // Ana's proof does not serve bo, nor prove bo's key.
    let e = verify_key_proof(&ana_public, &proof, "github:1002")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not this key's signature over your challenge"),
        "{e}"
    );
    assert!(e.contains("ssh-keygen -Y sign"), "{e}");
    assert!(verify_key_proof(&bo_public, &proof, ana).is_err());
    // Signed in another namespace (a git commit signature, say).
    let git = sign(&ana_private, "git", &key_challenge(ana));
    assert!(verify_key_proof(&ana_public, &git, ana).is_err());
    // Not a signature, not a key: said in words.
    let e = verify_key_proof(&ana_public, "hunter2", ana)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not `ssh-keygen -Y sign` output"), "{e}");
    let e = verify_key_proof("hunter2", &proof, ana)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not an OpenSSH public key"), "{e}");
}

/// `ssh_user` with `{login}` is the person's own account (a login that is no account name is
/// refused); without, one account everyone shares.
#[test]
fn the_account_checked_is_the_persons_own_or_a_shared_one() {
    use ops::onboarding::{OnboardingOptions, SshAccount};
    let own = OnboardingOptions::default();
    assert_eq!(own.ssh_account("ana"), Ok(SshAccount::Own("ana".into())));
    for bad in ["ana smith", "ana@example.com", "-oProxyCommand", ""] {
        let e = own.ssh_account(bad).unwrap_err().to_string();
        assert!(e.contains("not an account name"), "{bad}: {e}");
    }
    let shared = OnboardingOptions {
        ssh_user: "hab".into(),
        ..OnboardingOptions::default()
    };
    assert_eq!(
        shared.ssh_account("ana"),
        Ok(SshAccount::Shared("hab".into()))
    );
}

/// The per-person limit counts the key checks' audit rows by the stable actor id, on both
/// backends: not other people's, not refusals, not other onboarding rows, and, asked up to a
/// row, not the rows after it.
async fn key_checks_are_counted_from_the_audit_log(store: ops::store::Store) {
    use ops::audit::{Actor, AuditLog, Entry, Event};
    use ops::onboarding::{KeyChecks, Onboarding, OnboardingOptions, KEY_CHECK, KEY_CHECK_REFUSED};
    let audit = AuditLog::new(store.clone());
    let ob = Onboarding::new(store, OnboardingOptions::default());
    let actor = |id: &str| Actor {
        id: id.into(),
        name: "ana".into(),
        role: "responder".into(),
    };
    let row = |outcome: &str| Entry {
        outcome: outcome.into(),
        detail: serde_json::json!({}),
        ..Entry::new(Event::Onboarding)
    };
    let before = ops::time::now_ms();
    assert_eq!(
        ob.key_checks("github:1", None).await.unwrap(),
        KeyChecks {
            count: 0,
            oldest_ms: None
        }
    );
    let first = audit
        .append(&actor("github:1"), &row(KEY_CHECK))
        .await
        .unwrap();
    audit
        .append(&actor("github:2"), &row(KEY_CHECK))
        .await
        .unwrap();
    audit
        .append(&actor("github:1"), &row(KEY_CHECK_REFUSED))
        .await
        .unwrap();
    audit
        .append(&actor("github:1"), &row("ticked"))
        .await
        .unwrap();
    let second = audit
        .append(&actor("github:1"), &row(KEY_CHECK))
        .await
        .unwrap();
    let c = ob.key_checks("github:1", None).await.unwrap();
    assert_eq!(c.count, 2);
    assert_eq!(c.oldest_ms, Some(first.at_ms));
    assert!(first.at_ms >= before - 5_000, "the store's clock");
    assert_eq!(
        ob.key_checks("github:1", Some(first.seq))
            .await
            .unwrap()
            .count,
        1
    );
    assert_eq!(
        ob.key_checks("github:1", Some(second.seq))
            .await
            .unwrap()
            .count,
        2
    );
    // The same login through another provider is another person.
    assert_eq!(ob.key_checks("oidc:1", None).await.unwrap().count, 0);
}

#[tokio::test]
async fn key_checks_are_counted_from_the_audit_log_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/store/onwatch.db", dir.path().display());
    let store = ops::store::Store::open(&url, &ops::store::StoreOptions::default())
        .await
        .unwrap();
    key_checks_are_counted_from_the_audit_log(store).await;
}

#[tokio::test]
async fn key_checks_are_counted_from_the_audit_log_on_postgres() {
    let url = testkit::postgres_database().await.unwrap();
    let store = ops::store::Store::open(&url, &ops::store::StoreOptions::default())
        .await
        .unwrap();
    key_checks_are_counted_from_the_audit_log(store).await;
}
