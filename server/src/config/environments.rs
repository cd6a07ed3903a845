//! `[environments.NAME]`: the environments Onwatch knows, production first.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::{read_secret, ConfigError};

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    /// Production environments get the red badge and the strictest guards.
    #[serde(default)]
    pub production: bool,
    #[serde(default)]
    pub description: String,
    /// Builder API base URL, probed at /v1/depot/origins/core (e.g. https://bldr.habitat.sh).
    #[serde(default)]
    pub builder_api_url: Option<url::Url>,
    /// File with a Builder personal access token of a member of the origin (`[builds] origin`):
    /// with it (and the Builder API's URL), Onwatch can request builds here.
    #[serde(default)]
    pub builder_token_file: Option<PathBuf>,
    /// Set from `builder_token_file`.
    #[serde(skip)]
    pub builder_token: Option<secrecy::SecretString>,
    /// File with the Supervisors' HTTP gateway token (HAB_SUP_GATEWAY_AUTH_TOKEN).
    #[serde(default)]
    pub gateway_token_file: Option<PathBuf>,
    /// The gateways speak HTTPS.
    #[serde(default)]
    pub gateway_tls: bool,
    /// Set from `gateway_token_file`.
    #[serde(skip)]
    pub gateway_token: Option<secrecy::SecretString>,
    /// File with the Supervisors' control-gateway secret (`/hab/sup/default/CTL_SECRET`): with
    /// it, Onwatch can stop and start services here (guarded and audited); without it, the
    /// restart buttons say that it is missing.
    #[serde(default)]
    pub ctl_secret_file: Option<PathBuf>,
    /// Set from `ctl_secret_file`.
    #[serde(skip)]
    pub ctl_secret: Option<secrecy::SecretString>,
    /// TLS to the control gateways, when the Supervisors run with `--ctl-server-certificate`
    /// (and `--ctl-client-ca-certificate`, then Onwatch presents a client certificate).
    #[serde(default)]
    pub ctl_tls: Option<CtlTlsConfig>,
    /// Read from `ctl_tls`'s files at start-up.
    #[serde(skip)]
    pub ctl_tls_loaded: Option<ops::supervisor::ctl::CtlTls>,
    /// SSH to this environment's hosts (Supervisor and sentinel restarts).
    #[serde(default)]
    pub ssh: Option<ops::exec::ssh::SshOptions>,
    /// The builder datastore's databases for the shard console, by name
    /// (`builder_originsrv`, …).
    #[serde(default)]
    pub databases: BTreeMap<String, DatabaseConfig>,
    /// `[environments.NAME.ec2]`: which instances the EC2 inventory takes as this
    /// environment's hosts besides its tag (account, VPC, subnet, a second tag). Unset: every
    /// instance the tag names, which start-up warns about.
    #[serde(default)]
    pub ec2: Option<ops::inventory::ec2::Ec2Scope>,
    /// `[[environments.NAME.secrets]]`: hosts with secrets of their own, in place of the
    /// environment's (the first group naming a host wins).
    #[serde(default)]
    pub secrets: Vec<HostSecretsConfig>,
}

/// `[[environments.NAME.secrets]]`: a gateway token and a control-gateway secret for some hosts
/// of the environment. A host in the group never gets the environment's: a secret the group
/// leaves unset, the host does not have.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HostSecretsConfig {
    /// Host names (inventory names), or patterns with `*` and `?` (`builder-datastore-*`).
    pub hosts: Vec<String>,
    #[serde(default)]
    pub gateway_token_file: Option<PathBuf>,
    /// Set from `gateway_token_file`.
    #[serde(skip)]
    pub gateway_token: Option<secrecy::SecretString>,
    /// Read at start-up to check it, and again at each action.
    #[serde(default)]
    pub ctl_secret_file: Option<PathBuf>,
}

impl EnvironmentConfig {
    /// The gateway tokens of `[[environments.NAME.secrets]]`, for the poller.
    pub fn gateway_token_groups(&self) -> Vec<ops::secret::HostGroup<secrecy::SecretString>> {
        self.secrets
            .iter()
            .map(|g| ops::secret::HostGroup {
                hosts: g.hosts.clone(),
                secret: g.gateway_token.clone(),
            })
            .collect()
    }

    /// The control-gateway secrets of `[[environments.NAME.secrets]]`, read at each action.
    pub fn ctl_secret_groups(&self) -> Vec<ops::secret::HostGroup<ops::secret::SecretSource>> {
        self.secrets
            .iter()
            .map(|g| ops::secret::HostGroup {
                hosts: g.hosts.clone(),
                secret: g
                    .ctl_secret_file
                    .clone()
                    .map(ops::secret::SecretSource::File),
            })
            .collect()
    }
}

/// `[environments.NAME.ctl_tls]`: the names of hab's own `cli.toml` settings.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CtlTlsConfig {
    /// PEM: the CA that signed the Supervisors' control-gateway certificates.
    pub ctl_server_ca_certificate: PathBuf,
    /// PEM: Onwatch's client certificate and key, for Supervisors that ask for one.
    #[serde(default)]
    pub ctl_client_certificate: Option<PathBuf>,
    #[serde(default)]
    pub ctl_client_key: Option<PathBuf>,
    /// The name in the Supervisors' certificates; unset: each host's inventory name.
    #[serde(default)]
    pub ctl_server_name_indication: Option<String>,
}

/// `[environments.NAME.databases.DB]`: one datastore database. Connect as a read-only role
/// (README: "The query console").
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `postgres://onwatch_ro@datastore:5432/builder_originsrv` (no password here).
    pub url: String,
    /// A file holding the password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Or the name of an environment variable holding it.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Set from either.
    #[serde(skip)]
    pub password: Option<secrecy::SecretString>,
}

/// An EC2 scope must narrow something, and name things as AWS writes them (a typo would
/// otherwise leave the environment without hosts, or be taken for a wider scope).
fn check_scope(key: &str, scope: &ops::inventory::ec2::Ec2Scope) -> Result<(), ConfigError> {
    if scope.is_empty() {
        return Err(ConfigError::key(
            key,
            "set at least one of account_ids, vpc_ids, subnet_ids or trust_tag (or remove the table)",
        ));
    }
    let bad =
        |list: &[String], ok: &dyn Fn(&str) -> bool| list.iter().find(|v| !ok(v.as_str())).cloned();
    let id = |prefix: &'static str| {
        move |v: &str| {
            v.strip_prefix(prefix)
                .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
        }
    };
    for (field, list, ok, expected) in [
        (
            "account_ids",
            &scope.account_ids,
            &(|v: &str| v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()))
                as &dyn Fn(&str) -> bool,
            "12-digit AWS account ids",
        ),
        (
            "vpc_ids",
            &scope.vpc_ids,
            &id("vpc-"),
            "VPC ids such as vpc-0abc123",
        ),
        (
            "subnet_ids",
            &scope.subnet_ids,
            &id("subnet-"),
            "subnet ids such as subnet-0abc123",
        ),
    ] {
        if let Some(v) = bad(list, ok) {
            return Err(ConfigError::key(
                &format!("{key}.{field}"),
                format!("`{v}`: expected {expected}"),
            ));
        }
    }
    if let Some(t) = &scope.trust_tag {
        if t.key.trim().is_empty() || t.value.trim().is_empty() {
            return Err(ConfigError::key(
                &format!("{key}.trust_tag"),
                "needs a key and a value, e.g. { key = \"onwatch:trusted\", value = \"live\" }",
            ));
        }
    }
    Ok(())
}

pub(super) fn default_environments() -> BTreeMap<String, EnvironmentConfig> {
    BTreeMap::from([
        (
            "live".to_owned(),
            EnvironmentConfig {
                production: true,
                description: "Production: the Builder services the world uses.".to_owned(),
                ..EnvironmentConfig::default()
            },
        ),
        (
            "acceptance".to_owned(),
            EnvironmentConfig {
                production: false,
                description: "Mirrors production, sometimes with newer releases. Reproduce and test here first."
                    .to_owned(),
                ..EnvironmentConfig::default()
            },
        ),
    ])
}

pub(super) fn check(
    environments: &mut BTreeMap<String, EnvironmentConfig>,
) -> Result<(), ConfigError> {
    if environments.is_empty() {
        return Err(ConfigError::key(
            "environments",
            "at least one environment is needed, e.g. [environments.live] production = true",
        ));
    }
    for (name, env) in environments.iter_mut() {
        if vocab::EnvironmentName::new(name).is_err() {
            return Err(ConfigError::key(
                &format!("environments.{name}"),
                "environment names are lower-case letters, digits, '-' and '_' (they appear in URLs)",
            ));
        }
        if let Some(file) = &env.gateway_token_file {
            env.gateway_token = Some(read_secret(
                &format!("environments.{name}.gateway_token_file"),
                file,
            )?);
        }
        if let Some(file) = &env.builder_token_file {
            env.builder_token = Some(read_secret(
                &format!("environments.{name}.builder_token_file"),
                file,
            )?);
        }
        if let Some(ssh) = &env.ssh {
            let key = format!("environments.{name}.ssh");
            if !ssh.commands.run_script.contains("{script}") {
                return Err(ConfigError::key(
                    &format!("{key}.commands.run_script"),
                    "must hold {script}, where Onwatch puts its (single-quoted) script: the default is `sudo sh -c {script}`",
                ));
            }
            if ssh.key_file.as_os_str().is_empty() || ssh.known_hosts_file.as_os_str().is_empty() {
                return Err(ConfigError::key(
                    &key,
                    "needs key_file (Onwatch's private key) and known_hosts_file (the hosts' keys)",
                ));
            }
            if let Err(e) = ops::exec::ssh::load_key(&ssh.key_file) {
                return Err(ConfigError::key(&format!("{key}.key_file"), e.to_string()));
            }
            if let Err(e) = std::fs::metadata(&ssh.known_hosts_file) {
                return Err(ConfigError::key(
                    &format!("{key}.known_hosts_file"),
                    format!(
                        "cannot read {}: {e}; expected an OpenSSH known_hosts file with the hosts' keys",
                        ssh.known_hosts_file.display()
                    ),
                ));
            }
            if ssh.user.trim().is_empty() {
                return Err(ConfigError::key(
                    &format!("{key}.user"),
                    "the remote user is empty",
                ));
            }
        }
        for (db, conf) in env.databases.iter_mut() {
            let key = format!("environments.{name}.databases.{db}");
            if ops::console::pool::connect_options(&conf.url, None, "onwatch").is_err()
                || !(conf.url.starts_with("postgres://") || conf.url.starts_with("postgresql://"))
            {
                return Err(ConfigError::key(
                    &format!("{key}.url"),
                    "expected a PostgreSQL URL such as postgres://onwatch_ro@datastore:5432/builder_originsrv",
                ));
            }
            if url::Url::parse(&conf.url)
                .ok()
                .and_then(|u| u.password().map(str::to_owned))
                .is_some()
            {
                return Err(ConfigError::key(
                    &format!("{key}.url"),
                    "holds a password: put it in password_file or password_env, so that it never reaches logs",
                ));
            }
            conf.password = match (&conf.password_file, &conf.password_env) {
                (Some(_), Some(_)) => {
                    return Err(ConfigError::key(
                        &key,
                        "set password_file or password_env, not both",
                    ))
                }
                (Some(file), None) => Some(read_secret(&format!("{key}.password_file"), file)?),
                (None, Some(var)) => match std::env::var(var) {
                    Ok(v) if !v.is_empty() => Some(v.into()),
                    _ => {
                        return Err(ConfigError::key(
                            &format!("{key}.password_env"),
                            format!("the environment variable {var} is not set or empty"),
                        ))
                    }
                },
                (None, None) => None,
            };
        }
        if let Some(file) = &env.ctl_secret_file {
            env.ctl_secret = Some(read_secret(
                &format!("environments.{name}.ctl_secret_file"),
                file,
            )?);
        }
        if let Some(scope) = &env.ec2 {
            check_scope(&format!("environments.{name}.ec2"), scope)?;
        }
        for (i, group) in env.secrets.iter_mut().enumerate() {
            let key = format!("environments.{name}.secrets[{i}]");
            if group.hosts.is_empty() || group.hosts.iter().any(|h| h.trim().is_empty()) {
                return Err(ConfigError::key(
                    &format!("{key}.hosts"),
                    "name the hosts (or patterns such as \"builder-datastore-*\") that use these secrets",
                ));
            }
            if group.gateway_token_file.is_none() && group.ctl_secret_file.is_none() {
                return Err(ConfigError::key(
                    &key,
                    "set gateway_token_file, ctl_secret_file or both (a host in the group never uses the environment's)",
                ));
            }
            if let Some(file) = &group.gateway_token_file {
                group.gateway_token =
                    Some(read_secret(&format!("{key}.gateway_token_file"), file)?);
            }
            if let Some(file) = &group.ctl_secret_file {
                read_secret(&format!("{key}.ctl_secret_file"), file)?;
            }
        }
        if let Some(tls) = &env.ctl_tls {
            let client = match (&tls.ctl_client_certificate, &tls.ctl_client_key) {
                (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
                (None, None) => None,
                _ => {
                    return Err(ConfigError::key(
                        &format!("environments.{name}.ctl_tls"),
                        "set both ctl_client_certificate and ctl_client_key, or neither",
                    ))
                }
            };
            env.ctl_tls_loaded = Some(
                ops::supervisor::ctl::CtlTls::from_files(
                    &tls.ctl_server_ca_certificate,
                    client,
                    tls.ctl_server_name_indication.clone(),
                )
                .map_err(|e| {
                    ConfigError::key(&format!("environments.{name}.ctl_tls"), e.to_string())
                })?,
            );
        }
    }
    Ok(())
}
