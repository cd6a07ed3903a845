//! The onboarding checklist's SSH item: Onwatch asks a real OpenSSH server (`testkit::Sshd`)
//! whether it would accept a person's declared public key, without the private key (the
//! publickey query without a signature, RFC 4252 §7).

use std::process::Command;
use std::time::Duration;

use ops::actions::ssh::{self, SshOptions, SshTarget};

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
