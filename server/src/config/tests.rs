use super::*;
use std::io::Write;

fn write(contents: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(contents.as_bytes()).unwrap();
    f
}

/// Loads `contents` with the development sign-in on, unless the contents say otherwise, in
/// figment's jail: an environment of exactly `env` (the process's own is cleared), so tests
/// neither see nor disturb each other's variables.
fn load(contents: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let contents = if contents.contains("[auth") {
        contents.to_owned()
    } else {
        format!("{contents}\n[auth]\ndev_signin = true\n")
    };
    let mut result = None;
    // figment's own error type is large; it is the jail's signature, not ours.
    #[allow(clippy::result_large_err)]
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        jail.create_file("onwatch.toml", &contents)?;
        for (k, v) in env {
            jail.set_env(k, v);
        }
        result = Some(Config::load(Some(Path::new("onwatch.toml"))));
        Ok(())
    });
    result.expect("the jail ran")
}

#[test]
fn defaults_are_sqlite_on_loopback_with_live_and_acceptance() {
    let c = load("", &[]).unwrap();
    assert_eq!(c.store.url, "sqlite://data/onwatch.db");
    assert_eq!(c.server.listen.to_string(), "127.0.0.1:3000");
    let order: Vec<_> = c
        .environments_in_order()
        .into_iter()
        .map(|(n, _)| n.clone())
        .collect();
    assert_eq!(order, ["live", "acceptance"], "production first");
    assert!(c.environments["live"].production);
}

#[test]
fn file_values_and_env_overrides() {
    let c = load(
        "[server]\nlisten = \"127.0.0.1:4000\"\n[store]\nurl = \"sqlite://x/y.db\"\n",
        &[
            ("ONWATCH_STORE__MAX_CONNECTIONS", "3"),
            ("ONWATCH_SERVER__LISTEN", "127.0.0.2:5000"),
            ("ONWATCH_CONFIG", "/ignored"),
            ("ONWATCH_TEST_PG_URL", "ignored"),
            ("ONWATCH_DEV_CACHE", "ignored"),
            ("PATH", "/bin"),
        ],
    )
    .unwrap();
    assert_eq!(c.store.url, "sqlite://x/y.db");
    assert_eq!(c.store.max_connections, 3);
    assert_eq!(
        c.server.listen.to_string(),
        "127.0.0.2:5000",
        "env wins over file"
    );
}

#[test]
fn unknown_key_is_named() {
    let e = load("[server]\nlisten = \"127.0.0.1:4000\"\nlistne = 1\n", &[]).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("server.listne"), "{e}");
    assert!(e.message.contains("listne"), "{e}");
    let e = load("[stroe]\nurl = \"sqlite://a.db\"\n", &[]).unwrap_err();
    assert!(e.to_string().contains("stroe"), "{e}");
    let e = load("", &[("ONWATCH_STORE__URLL", "sqlite://a.db")]).unwrap_err();
    assert!(e.to_string().contains("urll"), "{e}");
    assert!(
        e.to_string().contains("environment"),
        "names the origin: {e}"
    );
}

#[test]
fn malformed_values_are_named() {
    let e = load("[store]\nurl = \"postgres://bad url with spaces\"\n", &[]).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("store.url"), "{e}");
    assert!(e.message.contains("postgres://USER@HOST"), "{e}");
    let e = load("[store]\nurl = \"mysql://u@h/db\"\n", &[]).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("store.url"), "{e}");
    let e = load("[server]\npublic_url = \"not a url\"\n", &[]).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("server.public_url"), "{e}");
    let e = load("[server]\npublic_url = \"ftp://x.example\"\n", &[]).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("server.public_url"), "{e}");
    let e = load("[server]\nlisten = \"localhost\"\n", &[]).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("server.listen"), "{e}");
    let e = load("[environments.Live]\nproduction = true\n", &[]).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("environments.Live"), "{e}");
    let e = load("this is not toml", &[]).unwrap_err();
    assert!(e.origin.is_some(), "names the file: {e}");
}

#[test]
fn unreadable_file_is_named() {
    let e = Config::load(Some(Path::new("/nonexistent/onwatch.toml"))).unwrap_err();
    assert_eq!(e.origin.as_deref(), Some("/nonexistent/onwatch.toml"));
    assert!(e.message.contains("cannot read"), "{e}");
}

#[test]
fn missing_or_empty_secret_is_named() {
    let e = load(
        "[store]\nurl = \"postgres://onwatch@db/onwatch\"\npassword_file = \"/nonexistent/pw\"\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("store.password_file"), "{e}");
    assert!(e.message.contains("/nonexistent/pw"), "{e}");
    let empty = write("\n");
    let e = load(
        &format!(
            "[store]\nurl = \"postgres://onwatch@db/onwatch\"\npassword_file = \"{}\"\n",
            empty.path().display()
        ),
        &[],
    )
    .unwrap_err();
    assert!(e.message.contains("empty"), "{e}");
    let pw = write("s3cret\n");
    let c = load(
        &format!(
            "[store]\nurl = \"postgres://onwatch@db/onwatch\"\npassword_file = \"{}\"\n",
            pw.path().display()
        ),
        &[],
    )
    .unwrap();
    assert_eq!(
        c.store
            .password
            .as_ref()
            .map(secrecy::ExposeSecret::expose_secret),
        Some("s3cret")
    );
}

#[test]
fn the_password_field_cannot_be_set_directly() {
    let e = load("[store]\npassword = \"x\"\n", &[]).unwrap_err();
    assert!(e.message.contains("password"), "{e}");
}

#[test]
fn dev_signin_only_on_loopback() {
    let e = load("[server]\nlisten = \"0.0.0.0:3000\"\n", &[]).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("auth.dev_signin"), "{e}");
    assert!(e.message.contains("loopback"), "{e}");
    let c = load("[server]\nlisten = \"[::1]:3000\"\n", &[]).unwrap();
    assert!(c.auth.dev_signin);
}

#[test]
fn someone_must_be_able_to_sign_in() {
    let e = load("[auth]\ndev_signin = false\n", &[]).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("auth"), "{e}");
    assert!(e.message.contains("[auth.github]"), "{e}");
}

fn github(extra: &str, secret: &std::path::Path) -> String {
    format!(
        "[auth.github]\nclient_id = \"Iv1.abc\"\nclient_secret_file = \"{}\"\n{extra}",
        secret.display()
    )
}

#[test]
fn github_provider_is_checked() {
    let secret = write("gh-secret\n");
    let c = load(
        &github(
            "[auth.github.roles]\nviewer = [\"habitat-sh\"]\n",
            secret.path(),
        ),
        &[],
    )
    .unwrap();
    let printed = format!("{c:?}");
    assert!(
        !printed.contains("gh-secret"),
        "the configuration's Debug prints no secret: {printed}"
    );
    let gh = c.auth.github.unwrap();
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&gh.client_secret),
        "gh-secret"
    );
    assert_eq!(gh.api_url.as_str(), "https://api.github.com/");
    assert!(gh.roles.case_insensitive, "GitHub names ignore case");

    let e = load(&github("[auth.github.roles]\n", secret.path()), &[]).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("auth.github.roles"), "{e}");

    let e = load(
        &github(
            "[auth.github.roles]\nviewer = [\"x\"]\n",
            Path::new("/nonexistent/secret"),
        ),
        &[],
    )
    .unwrap_err();
    assert_eq!(
        e.key.as_deref(),
        Some("auth.github.client_secret_file"),
        "{e}"
    );

    let e = load(
        &github(
            "[auth.github.roles]\nviewer = [\"x\"]\nadmin = [1]\n",
            secret.path(),
        ),
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("auth.github.roles.admin.0"), "{e}");

    let e = load(
        &format!(
            "[server]\nlisten = \"0.0.0.0:3000\"\n{}",
            github("[auth.github.roles]\nviewer = [\"x\"]\n", secret.path())
        ),
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("server.public_url"), "{e}");
}

#[test]
fn oidc_provider_is_checked() {
    let secret = write("oidc-secret");
    let base = format!(
        "[auth.oidc]\nissuer_url = \"https://example.okta.com/oauth2/default\"\nclient_id = \"0oa1\"\nclient_secret_file = \"{}\"\n",
        secret.path().display()
    );
    let c = load(
        &format!("{base}[auth.oidc.roles]\nresponder = [\"builder-oncall\"]\n"),
        &[],
    )
    .unwrap();
    let oidc = c.auth.oidc.unwrap();
    assert_eq!(oidc.groups_claim, "groups");
    assert!(oidc.scopes.contains(&"openid".to_owned()));
    assert!(!oidc.roles.case_insensitive);
    let e = load(&format!("{base}[auth.oidc.roles]\n"), &[]).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("auth.oidc.roles"), "{e}");
    let e = load(&base, &[]).unwrap_err();
    assert_eq!(
        e.key.as_deref(),
        Some("auth.oidc.roles"),
        "no roles at all: {e}"
    );
    let e = load(
        &format!(
            "{}[auth.oidc.roles]\nviewer = [\"x\"]\n",
            base.replace("https://example.okta.com/oauth2/default", "not a url")
        ),
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("auth.oidc.issuer_url"), "{e}");
    // Plain http: to this machine only.
    let http = |issuer: &str| {
        load(
            &format!(
                "{}[auth.oidc.roles]\nviewer = [\"x\"]\n",
                base.replace("https://example.okta.com/oauth2/default", issuer)
            ),
            &[],
        )
    };
    let e = http("http://idp.example.com/realms/x").unwrap_err();
    assert_eq!(e.key.as_deref(), Some("auth.oidc.issuer_url"), "{e}");
    assert!(e.to_string().contains("loopback"), "{e}");
    assert!(http("http://127.0.0.1:8080/realms/x").is_ok());
    assert!(http("http://localhost:8080").is_ok());
}

#[test]
fn the_development_sign_in_is_for_this_machine_only() {
    let secret = write("gh-secret");
    let with_github = format!(
        "[auth]\ndev_signin = true\n{}",
        github(
            "[auth.github.roles]\nviewer = [\"habitat-sh\"]\n",
            secret.path()
        )
    );
    let e = load(&with_github, &[]).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("auth.dev_signin"), "{e}");
    assert!(e.to_string().contains("identity provider"), "{e}");
    let e = load(
        "[server]\npublic_url = \"https://onwatch.example.com\"\n[auth]\ndev_signin = true\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("auth.dev_signin"), "{e}");
    let e = load(
        "[server]\nlisten = \"0.0.0.0:3000\"\n[auth]\ndev_signin = true\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("auth.dev_signin"), "{e}");
    assert!(load("[auth]\ndev_signin = true\n", &[]).is_ok());
}

#[test]
fn trusted_proxies_and_role_recheck_are_checked() {
    let c = load(
        "[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"192.0.2.7\"]\n",
        &[],
    )
    .unwrap();
    assert_eq!(c.server.trusted_proxies.len(), 2);
    let e = load("[server]\ntrusted_proxies = [\"10.0.0.0/40\"]\n", &[]).unwrap_err();
    assert!(e.to_string().contains("prefix length"), "{e}");
    let e = load("[auth]\ndev_signin = true\nrole_recheck_secs = 0\n", &[]).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("auth.role_recheck_secs"), "{e}");
    assert_eq!(
        load("", &[]).unwrap().auth.role_recheck_secs,
        600,
        "ten minutes by default"
    );
}

#[test]
fn env_overrides_reach_the_sections_ops_owns() {
    let c = load(
        "[fleet]\npoll_interval_ms = 500\n",
        &[
            ("ONWATCH_FLEET__POLL_INTERVAL_MS", "250"),
            ("ONWATCH_FLEET__STALE_AFTER_SECS", "20"),
            ("ONWATCH_INVENTORY__EC2__ENVIRONMENT_TAG", "X-Env"),
            ("ONWATCH_STORE__HISTORY_RETENTION_DAYS", "7"),
        ],
    )
    .unwrap();
    assert_eq!(
        c.fleet.interval,
        std::time::Duration::from_millis(250),
        "env wins over file"
    );
    assert_eq!(c.fleet.stale_after, std::time::Duration::from_secs(20));
    assert_eq!(c.inventory.ec2.environment_tag, "X-Env");
    assert_eq!(c.store.history_retention_days, 7);
    let e = load("", &[("ONWATCH_FLEET__POLL_INTERVAL_MS", "50")]).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("fleet.poll_interval_ms"), "{e}");
    assert_eq!(e.message, "must be at least 100");
    let e = load(
        "[[probes]]\nname = \"p\"\nenvironment = \"live\"\nurl = \"ftp://x\"\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("probes[0].url"), "{e}");
    assert_eq!(e.message, "`ftp://x` is not an http(s) URL");
    let e = load("[inventory.ec2]\nendpoint_url = \"not a url\"\n", &[]).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("inventory.ec2.endpoint_url"), "{e}");
}

#[test]
fn datastore_databases_and_their_passwords() {
    let pw = write("s3cret\n");
    let base = "[environments.live]\nproduction = true\n[environments.live.databases.builder_originsrv]\nurl = \"postgres://onwatch_ro@db:5432/builder_originsrv\"\n";
    let c = load(&format!("{base}password_file = {:?}\n", pw.path()), &[]).unwrap();
    let db = &c.environments["live"].databases["builder_originsrv"];
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(db.password.as_ref().unwrap()),
        "s3cret"
    );
    let c = load(
        &format!("{base}password_env = \"DS_PW\"\n"),
        &[("DS_PW", "from-env")],
    )
    .unwrap();
    let db = &c.environments["live"].databases["builder_originsrv"];
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(db.password.as_ref().unwrap()),
        "from-env"
    );

    let e = load(&format!("{base}password_env = \"DS_PW\"\n"), &[]).unwrap_err();
    assert_eq!(
        e.key.as_deref(),
        Some("environments.live.databases.builder_originsrv.password_env")
    );
    let e = load(
        &format!("{base}password_env = \"A\"\npassword_file = \"/x\"\n"),
        &[("A", "b")],
    )
    .unwrap_err();
    assert!(e.message.contains("not both"), "{e:?}");
    let e = load(
        "[environments.live.databases.builder_originsrv]\nurl = \"postgres://ro:hunter2@db/builder_originsrv\"\n",
        &[],
    )
    .unwrap_err();
    assert!(e.message.contains("password_file"), "{e:?}");
    assert!(
        !e.message.contains("hunter2"),
        "the password must not be repeated: {e:?}"
    );
    let e = load(
        "[environments.live.databases.x]\nurl = \"mysql://db/x\"\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("environments.live.databases.x.url"));
    let e = load("[console]\npool_size = 0\n", &[]).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("console.pool_size"));
}

#[test]
fn the_rotation_and_pagerduty_are_checked() {
    let ok = load(
        "[oncall]\nmembers = [\"ana\", \"bo\"]\nstart = \"2026-11-02T09:00\"\ntime_zone = \"Europe/Berlin\"\n",
        &[],
    )
    .unwrap();
    assert_eq!(ok.oncall.shift_hours, 72);
    let e = load(
        "[oncall]\nmembers = [\"ana\", \"bo\"]\ntime_zone = \"Mars/Olympus\"\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("oncall.time_zone"), "{e}");
    assert!(e.message.contains("IANA"), "{e}");
    let e = load("[oncall]\nmembers = [\"ana\"]\n", &[]).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("oncall.members"), "{e}");
    let e = load(
        "[oncall]\nmembers = [\"ana\", \"bo\"]\nstart = \"Monday\"\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("oncall.start"), "{e}");
    let e = load(
        "[oncall]\nmembers = [\"ana\", \"bo\"]\nshift_hours = 0\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("oncall.shift_hours"), "{e}");
    let e = load(
        "[oncall.pagerduty]\ntoken_file = \"/no/such/file\"\nprimary_schedule = \"P1\"\nsecondary_schedule = \"P2\"\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("oncall.pagerduty.token_file"), "{e}");
    let e = load("[onboarding]\nproduction_environment = \"prod\"\n", &[]).unwrap_err();
    assert_eq!(
        e.key.as_deref(),
        Some("onboarding.production_environment"),
        "{e}"
    );
    assert!(e.message.contains("\"prod\""), "{e}");
}

#[test]
fn audit_checkpoints_need_a_readable_key() {
    let c = load("", &[]).unwrap();
    assert!(c.audit.checkpoint_key_file.is_none(), "off by default");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("audit.key");
    ops::audit::checkpoint::CheckpointKey::write_new(&key).unwrap();
    let not_a_key = write("hello\n");
    let cases = [
        (
            "[audit]\ncheckpoint_key_file = \"/nonexistent/audit.key\"\n".to_owned(),
            "audit.checkpoint_key_file",
            "keygen",
        ),
        (
            format!(
                "[audit]\ncheckpoint_key_file = \"{}\"\n",
                not_a_key.path().display()
            ),
            "audit.checkpoint_key_file",
            "64 hex digits",
        ),
        (
            "[audit]\ncheckpoint_file = \"cp.jsonl\"\n".to_owned(),
            "audit.checkpoint_file",
            "checkpoint_key_file",
        ),
        (
            format!(
                "[audit]\ncheckpoint_key_file = \"{}\"\ncheckpoint_file = \"/nonexistent/dir/cp.jsonl\"\n",
                key.display()
            ),
            "audit.checkpoint_file",
            "/nonexistent/dir",
        ),
        (
            "[audit]\ncheckpoint_interval_secs = 1\n".to_owned(),
            "audit.checkpoint_interval_secs",
            "10 to 86400",
        ),
    ];
    for (toml, key_name, says) in cases {
        let e = load(&toml, &[]).unwrap_err();
        assert_eq!(e.key.as_deref(), Some(key_name), "{toml}: {e}");
        assert!(e.message.contains(says), "{toml}: {e}");
    }
    let c = load(
        &format!(
            "[audit]\ncheckpoint_key_file = \"{}\"\ncheckpoint_interval_secs = 60\n",
            key.display()
        ),
        &[],
    )
    .unwrap();
    assert!(c.audit.checkpoint_key().unwrap().is_some());
}

#[test]
fn ec2_scopes_and_host_secrets_are_checked() {
    let token = write("group-token\n");
    let ctl = write("group-ctl\n");
    let c = load(
        &format!(
            "[environments.live]\nproduction = true\n\
             [environments.live.ec2]\naccount_ids = [\"123456789012\"]\nvpc_ids = [\"vpc-0abc123\"]\n\
             subnet_ids = [\"subnet-0def456\"]\ntrust_tag = {{ key = \"onwatch:trusted\", value = \"live\" }}\n\
             [[environments.live.secrets]]\nhosts = [\"builder-datastore-*\"]\n\
             gateway_token_file = \"{}\"\nctl_secret_file = \"{}\"\n",
            token.path().display(),
            ctl.path().display()
        ),
        &[],
    )
    .unwrap();
    let live = &c.environments["live"];
    let scope = live.ec2.as_ref().unwrap();
    assert_eq!(scope.vpc_ids, vec!["vpc-0abc123"]);
    assert_eq!(scope.trust_tag.as_ref().unwrap().key, "onwatch:trusted");
    let groups = live.gateway_token_groups();
    assert_eq!(groups[0].hosts, vec!["builder-datastore-*"]);
    assert_eq!(
        groups[0]
            .secret
            .as_ref()
            .map(secrecy::ExposeSecret::expose_secret),
        Some("group-token")
    );
    assert!(live.ctl_secret_groups()[0].secret.is_some());
    // The scope lands in the EC2 inventory's options; an environment without one has none.
    let options = crate::fleet::ec2_options(&c);
    assert_eq!(options.scopes.get("live"), Some(scope));

    for (text, key, says) in [
        ("[environments.live.ec2]\n", "environments.live.ec2", "at least one"),
        (
            "[environments.live.ec2]\nvpc_ids = [\"vpc-a\", \"subnet-0abc\"]\n",
            "environments.live.ec2.vpc_ids",
            "subnet-0abc",
        ),
        (
            "[environments.live.ec2]\naccount_ids = [\"1234\"]\n",
            "environments.live.ec2.account_ids",
            "12-digit",
        ),
        (
            "[environments.live.ec2]\ntrust_tag = { key = \"\", value = \"live\" }\n",
            "environments.live.ec2.trust_tag",
            "key and a value",
        ),
        (
            "[environments.live.ec2]\nvpcs = [\"vpc-a\"]\n",
            "",
            "vpcs",
        ),
        (
            "[[environments.live.secrets]]\nhosts = []\nctl_secret_file = \"/x\"\n",
            "environments.live.secrets[0].hosts",
            "name the hosts",
        ),
        (
            "[[environments.live.secrets]]\nhosts = [\"api\"]\n",
            "environments.live.secrets[0]",
            "gateway_token_file, ctl_secret_file",
        ),
        (
            "[[environments.live.secrets]]\nhosts = [\"api\"]\nctl_secret_file = \"/nonexistent/ctl\"\n",
            "environments.live.secrets[0].ctl_secret_file",
            "/nonexistent/ctl",
        ),
    ] {
        let e = load(&format!("[environments.live]\n{text}"), &[]).unwrap_err();
        if !key.is_empty() {
            assert_eq!(e.key.as_deref(), Some(key), "{text}: {e}");
        }
        assert!(e.to_string().contains(says), "{text}: {e}");
    }
}
