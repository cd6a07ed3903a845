//! Configuration: one TOML file plus `ONWATCH_*` environment overrides (nested keys joined with
//! `__`, e.g. `ONWATCH_STORE__URL`), validated at start-up. Any problem stops start-up with one
//! message naming the key or file and what is expected.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Format, Toml};
use figment::Figment;
use serde::Deserialize;

/// The whole configuration, as read from the file and the environment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub log: LogConfig,
    /// Environments by name (`live`, `acceptance`, …).
    #[serde(default = "default_environments")]
    pub environments: BTreeMap<String, EnvironmentConfig>,
    #[serde(default)]
    pub inventory: InventoryConfig,
    #[serde(default)]
    pub fleet: ops::fleet::FleetOptions,
    /// Extra endpoint probes (each environment's Builder API is probed by default).
    #[serde(default)]
    pub probes: Vec<ProbeConfig>,
    #[serde(default)]
    pub auth: AuthConfig,
}

/// Sign-in: the providers, the session lifetimes, and the loopback-only development sign-in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// A sign-in form where anyone picks a name and a role. Only for a portal bound to loopback
    /// (`make demo`, tests); every page then says so.
    pub dev_signin: bool,
    /// A session ends after this long without a request.
    pub session_idle_minutes: u64,
    /// A session ends this long after sign-in, however active.
    pub session_absolute_hours: u64,
    /// A session read from the store is trusted this long before it is read again, so that a
    /// page view costs no store round trip. Sign-out and revocation through this replica take
    /// effect at once; through another replica, within this. 0 reads it on every request.
    pub session_cache_ms: u64,
    pub github: Option<GitHubAuthConfig>,
    pub oidc: Option<OidcAuthConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            dev_signin: false,
            session_idle_minutes: 8 * 60,
            session_absolute_hours: 24,
            session_cache_ms: 2000,
            github: None,
            oidc: None,
        }
    }
}

/// Sign-in with GitHub (an OAuth app of the organisation).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitHubAuthConfig {
    pub client_id: String,
    /// File holding the OAuth app's client secret.
    pub client_secret_file: PathBuf,
    /// GitHub's web address (GitHub Enterprise: your server).
    #[serde(default = "default_github_web")]
    pub web_url: url::Url,
    /// GitHub's API (GitHub Enterprise: https://HOST/api/v3).
    #[serde(default = "default_github_api")]
    pub api_url: url::Url,
    /// Organisations (`habitat-sh`), teams (`habitat-sh/builder-oncall`) or people (`@login`)
    /// per role.
    #[serde(default)]
    pub roles: ops::auth::RoleRules,
    #[serde(skip)]
    pub client_secret: String,
}

fn default_github_web() -> url::Url {
    url::Url::parse("https://github.com").expect("a valid constant URL")
}

fn default_github_api() -> url::Url {
    url::Url::parse("https://api.github.com").expect("a valid constant URL")
}

/// Sign-in with an OpenID Connect provider (Okta, Azure AD, Google, Keycloak, …).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcAuthConfig {
    /// What the sign-in button says: "Sign in with …".
    #[serde(default = "default_oidc_name")]
    pub display_name: String,
    /// The issuer, exactly as the provider writes it (the id_token's `iss` must equal it, so a
    /// trailing slash matters); discovery reads ISSUER/.well-known/openid-configuration.
    pub issuer_url: String,
    pub client_id: String,
    pub client_secret_file: PathBuf,
    #[serde(default = "default_oidc_scopes")]
    pub scopes: Vec<String>,
    /// The claim listing the person's groups (in the id_token or at the userinfo endpoint).
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Groups (or `@preferred_username`) per role.
    #[serde(default)]
    pub roles: ops::auth::RoleRules,
    #[serde(skip)]
    pub client_secret: String,
}

fn default_oidc_name() -> String {
    "single sign-on".to_owned()
}

fn default_oidc_scopes() -> Vec<String> {
    ["openid", "email", "profile", "groups"]
        .map(str::to_owned)
        .to_vec()
}

fn default_groups_claim() -> String {
    "groups".to_owned()
}

/// Where the hosts come from.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct InventoryConfig {
    /// `static` (a fleet file), `ec2`, or `none` (no fleet: the portal without live health).
    pub source: InventorySourceKind,
    /// The fleet file, for `source = "static"`.
    pub fleet_file: Option<PathBuf>,
    pub ec2: Ec2Config,
}

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum InventorySourceKind {
    #[default]
    None,
    Static,
    Ec2,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ec2Config {
    /// Default: from AWS_REGION / the profile.
    pub region: Option<String>,
    /// Another endpoint (a VPC endpoint; moto in tests).
    pub endpoint_url: Option<url::Url>,
    /// The tag whose value names the environment.
    pub environment_tag: String,
    /// Connect to instances' public IPs instead of private ones.
    pub use_public_ip: bool,
    pub gateway_port: u16,
    pub ctl_port: u16,
}

impl Default for Ec2Config {
    fn default() -> Self {
        Ec2Config {
            region: None,
            endpoint_url: None,
            environment_tag: "X-Environment".to_owned(),
            use_public_ip: false,
            gateway_port: 9631,
            ctl_port: 9632,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    pub name: String,
    pub environment: String,
    pub url: url::Url,
    #[serde(default = "default_probe_interval")]
    pub interval_secs: u64,
}

fn default_probe_interval() -> u64 {
    30
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The address people use to reach Onwatch (used for cookies and sign-in redirects).
    pub public_url: Option<url::Url>,
    /// Folder with the built site (`pkg/onwatch.js`, `.wasm`, `.css`).
    pub site_root: PathBuf,
    /// How long in-flight requests may run after SIGTERM before the process exits anyway.
    pub shutdown_grace_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            public_url: None,
            site_root: PathBuf::from("target/site"),
            shutdown_grace_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `sqlite://PATH` (the default, a file under ./data) or `postgres://USER@HOST:PORT/DB`.
    pub url: String,
    pub max_connections: u32,
    /// File holding the Postgres password, so that it need not be written in the URL.
    pub password_file: Option<PathBuf>,
    /// Days of service history to keep.
    pub history_retention_days: u32,
    /// Set after loading from `password_file`; never read from the file or the environment.
    #[serde(skip)]
    pub password: Option<String>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: "sqlite://data/onwatch.db".to_owned(),
            max_connections: 8,
            password_file: None,
            history_retention_days: 30,
            password: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `info,onwatch=debug`. `RUST_LOG` wins when set.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            filter: "info".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
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
    /// File with the Supervisors' HTTP gateway token (HAB_SUP_GATEWAY_AUTH_TOKEN).
    #[serde(default)]
    pub gateway_token_file: Option<PathBuf>,
    /// The gateways speak HTTPS.
    #[serde(default)]
    pub gateway_tls: bool,
    /// Set from `gateway_token_file`.
    #[serde(skip)]
    pub gateway_token: Option<String>,
}

fn default_environments() -> BTreeMap<String, EnvironmentConfig> {
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

impl Default for Config {
    fn default() -> Self {
        Config {
            server: ServerConfig::default(),
            store: StoreConfig::default(),
            log: LogConfig::default(),
            environments: default_environments(),
            inventory: InventoryConfig::default(),
            fleet: ops::fleet::FleetOptions::default(),
            probes: Vec::new(),
            auth: AuthConfig::default(),
        }
    }
}

/// Why the configuration could not be used. Its message names the key or file and what is
/// expected, and is printed as the single line of a failed start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key, e.g. `store.url`, when the problem is one key.
    pub key: Option<String>,
    /// Where the bad value came from: a file path or an environment variable.
    pub origin: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "configuration error")?;
        if let Some(key) = &self.key {
            write!(f, " in key `{key}`")?;
        }
        if let Some(origin) = &self.origin {
            write!(f, " (from {origin})")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    fn key(key: &str, message: impl Into<String>) -> Self {
        ConfigError {
            key: Some(key.to_owned()),
            origin: None,
            message: message.into(),
        }
    }
}

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "onwatch.toml";

impl Config {
    /// Loads the configuration: `path` (must exist) or `./onwatch.toml` (if present), then the
    /// `ONWATCH_*` environment, then validation.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        Config::load_with_env(path, std::env::vars())
    }

    /// As [`Config::load`], with the environment given explicitly (for tests).
    pub fn load_with_env(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut figment = Figment::new();
        let file = match path {
            Some(p) => Some(p.to_path_buf()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.exists()),
        };
        if let Some(file) = &file {
            // Read it ourselves first: figment silently skips a missing file.
            if let Err(e) = std::fs::read_to_string(file) {
                return Err(ConfigError {
                    key: None,
                    origin: Some(file.display().to_string()),
                    message: format!(
                        "cannot read the configuration file: {e}. Give a readable TOML file with --config PATH"
                    ),
                });
            }
            figment = figment.merge(Toml::file(file));
        }
        // Only ONWATCH_* variables, minus the ones that are not configuration keys.
        let vars: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("ONWATCH_"))
            .filter(|(k, _)| {
                // ONWATCH_CONFIG is the file's path; ONWATCH_TEST_* and ONWATCH_DEV_* steer the
                // test-suite and the build scripts, not the server.
                k != "ONWATCH_CONFIG"
                    && !k.starts_with("ONWATCH_TEST_")
                    && !k.starts_with("ONWATCH_DEV_")
            })
            .collect();
        // `ONWATCH_A__B=v` sets `a.b`, as figment's `Env::prefixed("ONWATCH_").split("__")` would;
        // converting them ourselves lets tests pass an environment without touching the process's.
        let env_toml = env_as_toml(&vars)?;
        if !env_toml.is_empty() {
            figment = figment.merge(Toml::string(&env_toml));
        }
        let mut config: Config = figment.extract().map_err(from_figment)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&mut self) -> Result<(), ConfigError> {
        let url = self.store.url.trim();
        match ops::store::Backend::from_url(url) {
            Some(ops::store::Backend::Postgres) => {
                url::Url::parse(url).map_err(|e| {
                    ConfigError::key(
                        "store.url",
                        format!(
                            "`{}` is not a valid URL ({e}); expected postgres://USER@HOST:PORT/DATABASE",
                            ops::store::redact_url(url)
                        ),
                    )
                })?;
            }
            Some(ops::store::Backend::Sqlite) => {
                let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
                if path.is_empty() || path.starts_with(":memory:") {
                    return Err(ConfigError::key(
                        "store.url",
                        "an in-memory SQLite store loses everything at restart; expected sqlite://PATH",
                    ));
                }
            }
            None => {
                return Err(ConfigError::key(
                    "store.url",
                    format!(
                        "`{}` is not a supported store URL; expected sqlite://PATH or postgres://USER@HOST:PORT/DATABASE",
                        ops::store::redact_url(url)
                    ),
                ))
            }
        }
        if self.store.max_connections == 0 {
            return Err(ConfigError::key(
                "store.max_connections",
                "must be at least 1",
            ));
        }
        if let Some(file) = &self.store.password_file {
            self.store.password = Some(read_secret("store.password_file", file)?);
        }
        if let Some(public) = &self.server.public_url {
            if !matches!(public.scheme(), "http" | "https") || public.host_str().is_none() {
                return Err(ConfigError::key(
                    "server.public_url",
                    format!("`{public}` is not an http(s) URL with a host; expected e.g. https://onwatch.example.com"),
                ));
            }
        }
        if self.environments.is_empty() {
            return Err(ConfigError::key(
                "environments",
                "at least one environment is needed, e.g. [environments.live] production = true",
            ));
        }
        for (name, env) in self.environments.iter_mut() {
            if let Some(file) = &env.gateway_token_file {
                env.gateway_token = Some(read_secret(
                    &format!("environments.{name}.gateway_token_file"),
                    file,
                )?);
            }
        }
        match self.inventory.source {
            InventorySourceKind::Static => match &self.inventory.fleet_file {
                None => {
                    return Err(ConfigError::key(
                        "inventory.fleet_file",
                        "inventory.source = \"static\" needs a fleet file path",
                    ))
                }
                Some(p) if !p.exists() => {
                    return Err(ConfigError::key(
                        "inventory.fleet_file",
                        format!("{} does not exist; expected a TOML fleet file", p.display()),
                    ))
                }
                Some(_) => {}
            },
            InventorySourceKind::Ec2 | InventorySourceKind::None => {}
        }
        self.fleet
            .check()
            .map_err(|(key, message)| ConfigError::key(&format!("fleet.{key}"), message))?;
        for (i, p) in self.probes.iter().enumerate() {
            if !matches!(p.url.scheme(), "http" | "https") {
                return Err(ConfigError::key(
                    &format!("probes[{i}].url"),
                    format!("`{}` is not an http(s) URL", p.url),
                ));
            }
        }
        self.validate_auth()?;
        for name in self.environments.keys() {
            let ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
            if !ok {
                return Err(ConfigError::key(
                    &format!("environments.{name}"),
                    "environment names are lower-case letters, digits, '-' and '_' (they appear in URLs)",
                ));
            }
        }
        Ok(())
    }

    fn validate_auth(&mut self) -> Result<(), ConfigError> {
        let auth = &mut self.auth;
        if auth.dev_signin && !self.server.listen.ip().is_loopback() {
            return Err(ConfigError::key(
                "auth.dev_signin",
                format!(
                    "the development sign-in lets anyone pick any role, so it is only allowed when server.listen is a loopback address (127.0.0.1 or ::1); server.listen is {}. Configure [auth.github] or [auth.oidc] instead",
                    self.server.listen
                ),
            ));
        }
        if auth.github.is_none() && auth.oidc.is_none() && !auth.dev_signin {
            return Err(ConfigError::key(
                "auth",
                "nobody could sign in: configure [auth.github] or [auth.oidc] (see the README), or, on a loopback address only, auth.dev_signin = true",
            ));
        }
        if auth.session_idle_minutes == 0 || auth.session_absolute_hours == 0 {
            return Err(ConfigError::key(
                "auth.session_idle_minutes",
                "session lifetimes must be at least 1 (minute / hour)",
            ));
        }
        if auth.session_cache_ms > 60_000 {
            return Err(ConfigError::key(
                "auth.session_cache_ms",
                "at most 60000 (a minute): a session revoked through another replica stays usable here this long",
            ));
        }
        if let Some(gh) = auth.github.as_mut() {
            if gh.client_id.trim().is_empty() {
                return Err(ConfigError::key(
                    "auth.github.client_id",
                    "is empty; copy the Client ID of the GitHub OAuth app",
                ));
            }
            gh.client_secret =
                read_secret("auth.github.client_secret_file", &gh.client_secret_file)?;
            if gh.roles.is_empty() {
                return Err(ConfigError::key(
                    "auth.github.roles",
                    "maps nobody to a role; add e.g. viewer = [\"habitat-sh\"], responder = [\"habitat-sh/builder-oncall\"]",
                ));
            }
            gh.roles.case_insensitive = true;
        }
        if let Some(oidc) = auth.oidc.as_mut() {
            if oidc.client_id.trim().is_empty() {
                return Err(ConfigError::key(
                    "auth.oidc.client_id",
                    "is empty; copy the client id of the OIDC application",
                ));
            }
            match url::Url::parse(oidc.issuer_url.trim()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
                _ => {
                    return Err(ConfigError::key(
                        "auth.oidc.issuer_url",
                        format!(
                            "`{}` is not an http(s) URL; expected the provider's issuer, e.g. https://example.okta.com/oauth2/default",
                            oidc.issuer_url
                        ),
                    ))
                }
            }
            oidc.issuer_url = oidc.issuer_url.trim().to_owned();
            oidc.client_secret =
                read_secret("auth.oidc.client_secret_file", &oidc.client_secret_file)?;
            if oidc.roles.is_empty() {
                return Err(ConfigError::key(
                    "auth.oidc.roles",
                    "maps nobody to a role; add e.g. viewer = [\"builder-team\"], responder = [\"builder-oncall\"]",
                ));
            }
            oidc.roles.case_insensitive = false;
        }
        let needs_public_url = auth.github.is_some() || auth.oidc.is_some();
        if needs_public_url
            && self.server.public_url.is_none()
            && !self.server.listen.ip().is_loopback()
        {
            return Err(ConfigError::key(
                "server.public_url",
                "sign-in providers send people back to Onwatch's public address: set server.public_url, e.g. https://onwatch.example.com",
            ));
        }
        Ok(())
    }

    /// Environments in display order: production first, then by name.
    pub fn environments_in_order(&self) -> Vec<(&String, &EnvironmentConfig)> {
        let mut envs: Vec<_> = self.environments.iter().collect();
        envs.sort_by(|a, b| b.1.production.cmp(&a.1.production).then(a.0.cmp(b.0)));
        envs
    }
}

/// Reads a secret from a file: it must exist, be readable and not be empty.
pub fn read_secret(key: &str, path: &Path) -> Result<String, ConfigError> {
    let value = std::fs::read_to_string(path).map_err(|e| ConfigError {
        key: Some(key.to_owned()),
        origin: None,
        message: format!(
            "cannot read the secret file {}: {e}; expected a readable file holding the secret",
            path.display()
        ),
    })?;
    let value = value.trim_end_matches(['\n', '\r']).to_owned();
    if value.is_empty() {
        return Err(ConfigError::key(
            key,
            format!("the secret file {} is empty", path.display()),
        ));
    }
    Ok(value)
}

/// Turns `ONWATCH_A__B=v` pairs into TOML (`[a] b = "v"`), the rule figment's
/// `Env::prefixed("ONWATCH_").split("__")` uses. Values that parse as TOML values (numbers,
/// booleans, arrays) keep their type; anything else is a string.
fn env_as_toml(vars: &[(String, String)]) -> Result<String, ConfigError> {
    let mut table = toml_table();
    for (name, value) in vars {
        let key_path: Vec<String> = name["ONWATCH_".len()..]
            .split("__")
            .map(|s| s.to_ascii_lowercase())
            .collect();
        if key_path.iter().any(|k| k.is_empty()) {
            return Err(ConfigError {
                key: None,
                origin: Some(name.clone()),
                message: "malformed variable name; expected ONWATCH_SECTION__KEY".to_owned(),
            });
        }
        insert(&mut table, &key_path, parse_env_value(value)).map_err(|message| ConfigError {
            key: Some(key_path.join(".")),
            origin: Some(name.clone()),
            message,
        })?;
    }
    Ok(render(&table, &[]))
}

type Table = BTreeMap<String, Node>;
enum Node {
    Value(String),
    Table(Table),
}

fn toml_table() -> Table {
    BTreeMap::new()
}

fn insert(table: &mut Table, path: &[String], value: String) -> Result<(), String> {
    let (first, rest) = path.split_first().ok_or("empty key")?;
    if rest.is_empty() {
        table.insert(first.clone(), Node::Value(value));
        return Ok(());
    }
    let node = table
        .entry(first.clone())
        .or_insert_with(|| Node::Table(toml_table()));
    match node {
        Node::Table(t) => insert(t, rest, value),
        Node::Value(_) => Err(format!("`{first}` is set both as a value and as a section")),
    }
}

fn render(table: &Table, prefix: &[&str]) -> String {
    let mut out = String::new();
    let values: Vec<_> = table
        .iter()
        .filter_map(|(k, n)| match n {
            Node::Value(v) => Some((k, v)),
            Node::Table(_) => None,
        })
        .collect();
    if !values.is_empty() && !prefix.is_empty() {
        let header: Vec<String> = prefix.iter().map(|p| quote_key(p)).collect();
        out.push_str(&format!("[{}]\n", header.join(".")));
    }
    for (k, v) in values {
        out.push_str(&format!("{} = {v}\n", quote_key(k)));
    }
    for (k, n) in table {
        if let Node::Table(t) = n {
            let mut p = prefix.to_vec();
            p.push(k);
            out.push_str(&render(t, &p));
        }
    }
    out
}

fn quote_key(k: &str) -> String {
    format!("\"{}\"", k.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A TOML literal for an environment value: kept as-is if it is a number, boolean or array,
/// otherwise quoted as a string.
fn parse_env_value(value: &str) -> String {
    let v = value.trim();
    let is_bool = v == "true" || v == "false";
    let is_number =
        !v.is_empty() && v.parse::<i64>().is_ok() && !(v.len() > 1 && v.starts_with('0'));
    let is_array = v.starts_with('[') && v.ends_with(']');
    if is_bool || is_number || is_array {
        v.to_owned()
    } else {
        format!(
            "\"{}\"",
            value
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
        )
    }
}

fn from_figment(err: figment::Error) -> ConfigError {
    let first = err.into_iter().next();
    match first {
        Some(e) => {
            let key = (!e.path.is_empty()).then(|| e.path.join("."));
            let origin = e.metadata.as_ref().map(|md| match &md.source {
                Some(figment::Source::File(p)) => p.display().to_string(),
                // The only non-file source is the ONWATCH_* environment (see `env_as_toml`).
                _ => "the ONWATCH_* environment variables".to_owned(),
            });
            ConfigError {
                key,
                origin,
                message: e.kind.to_string(),
            }
        }
        None => ConfigError {
            key: None,
            origin: None,
            message: "the configuration could not be read".to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(contents: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(contents.as_bytes()).unwrap();
        f
    }

    /// Loads `contents` with the development sign-in on, unless the contents say otherwise.
    fn load(contents: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let contents = if contents.contains("[auth") {
            contents.to_owned()
        } else {
            format!("{contents}\n[auth]\ndev_signin = true\n")
        };
        let f = write(&contents);
        Config::load_with_env(
            Some(f.path()),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
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
        let e = Config::load_with_env(Some(Path::new("/nonexistent/onwatch.toml")), Vec::new())
            .unwrap_err();
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
        assert_eq!(c.store.password.as_deref(), Some("s3cret"));
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
        let gh = c.auth.github.unwrap();
        assert_eq!(gh.client_secret, "gh-secret");
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
    }

    #[test]
    fn env_values_keep_their_types() {
        assert_eq!(parse_env_value("42"), "42");
        assert_eq!(parse_env_value("true"), "true");
        assert_eq!(parse_env_value("0.0.0.0:1"), "\"0.0.0.0:1\"");
        assert_eq!(parse_env_value("007"), "\"007\"");
        assert_eq!(parse_env_value("a\"b"), "\"a\\\"b\"");
    }
}
