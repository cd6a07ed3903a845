//! EC2 inventory: `DescribeInstances` for every instance that has the environment tag
//! (`X-Environment` by default), paginated; the tag's value is the environment.
//!
//! A tag alone is weak evidence: anyone allowed to tag an instance could name it a host of
//! production, and production's hosts receive its gateway token on every poll. An environment
//! with an [`Ec2Scope`] takes only the instances inside it (account, VPC, subnet, a second tag
//! that IAM protects): asked of AWS with server-side filters, and checked again on each instance
//! returned. Instances tagged for the environment but outside its scope are left out (never
//! polled, never sent a secret) and reported in [`Inventory::refused`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{Filter, Instance};
use futures_util::future::BoxFuture;

use super::{group_hosts, Host, Inventory, InventoryError, InventorySource};

/// How to reach EC2 and read the instances: the `[inventory.ec2]` section of the configuration,
/// read straight into this struct. The tuning below the ports is not configurable (tests set it).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ec2Options {
    /// `None`: from the environment/profile (the default chain).
    pub region: Option<String>,
    /// Another endpoint (moto in tests, a VPC endpoint in production), without a trailing slash.
    #[serde(deserialize_with = "endpoint")]
    pub endpoint_url: Option<String>,
    /// The tag whose value names the environment.
    pub environment_tag: String,
    /// Connect to the public IP instead of the private one.
    pub use_public_ip: bool,
    pub gateway_port: u16,
    pub ctl_port: u16,
    /// Instances per DescribeInstances page (AWS accepts 5..=1000).
    #[serde(skip)]
    pub page_size: i32,
    /// SDK retry attempts (1 = no retries).
    #[serde(skip)]
    pub max_attempts: u32,
    #[serde(skip)]
    pub timeout: Duration,
    /// Static credentials (tests); `None` uses the default chain (env, profile, IMDS, ECS…).
    #[serde(skip)]
    pub static_credentials: Option<(String, String)>,
    /// Each environment's scope (from `[environments.NAME.ec2]`). An environment without one
    /// takes every instance its tag names (the server warns at start-up).
    #[serde(skip)]
    pub scopes: BTreeMap<String, Ec2Scope>,
}

/// Which instances may be hosts of one environment besides its tag: `[environments.NAME.ec2]`.
/// Every list that is set must hold the instance's value; an empty list does not narrow.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ec2Scope {
    /// The accounts (the reservation's owner) whose instances may be hosts.
    pub account_ids: Vec<String>,
    pub vpc_ids: Vec<String>,
    pub subnet_ids: Vec<String>,
    /// A second tag the instance must carry with this exact value, one whose changes IAM
    /// allows only to the people who may add production hosts (e.g. `onwatch:trusted = live`).
    pub trust_tag: Option<TrustTag>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustTag {
    pub key: String,
    pub value: String,
}

impl Ec2Scope {
    /// Sets nothing (so narrows nothing).
    pub fn is_empty(&self) -> bool {
        self.account_ids.is_empty()
            && self.vpc_ids.is_empty()
            && self.subnet_ids.is_empty()
            && self.trust_tag.is_none()
    }

    /// DescribeInstances filters for this environment's instances inside the scope.
    fn filters(&self, environment_tag: &str, environment: &str) -> Vec<Filter> {
        let filter = |name: String, values: &[String]| {
            Filter::builder()
                .name(name)
                .set_values(Some(values.to_vec()))
                .build()
        };
        let mut filters = vec![filter(
            format!("tag:{environment_tag}"),
            &[environment.to_owned()],
        )];
        for (name, values) in [
            ("owner-id", &self.account_ids),
            ("vpc-id", &self.vpc_ids),
            ("subnet-id", &self.subnet_ids),
        ] {
            if !values.is_empty() {
                filters.push(filter(name.to_owned(), values));
            }
        }
        if let Some(t) = &self.trust_tag {
            filters.push(filter(
                format!("tag:{}", t.key),
                std::slice::from_ref(&t.value),
            ));
        }
        filters
    }

    /// Checks one instance (of a reservation owned by `owner`) against the scope, whatever AWS
    /// was asked: `Err` says what does not match.
    pub fn admits(
        &self,
        owner: Option<&str>,
        vpc: Option<&str>,
        subnet: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), OutOfScope> {
        let check = |what: &'static str, value: Option<&str>, allowed: &[String]| {
            if allowed.is_empty() || value.is_some_and(|v| allowed.iter().any(|a| a == v)) {
                Ok(())
            } else {
                Err(OutOfScope::NotAllowed {
                    what,
                    value: value.map(str::to_owned),
                    allowed: allowed.to_vec(),
                })
            }
        };
        check("account", owner, &self.account_ids)?;
        check("VPC", vpc, &self.vpc_ids)?;
        check("subnet", subnet, &self.subnet_ids)?;
        if let Some(t) = &self.trust_tag {
            if tags.get(&t.key) != Some(&t.value) {
                return Err(OutOfScope::Untrusted {
                    key: t.key.clone(),
                    value: t.value.clone(),
                });
            }
        }
        Ok(())
    }
}

/// Why an instance is outside its environment's scope (what AWS says of it does not match).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutOfScope {
    /// Its account, VPC or subnet (`what`) is not one the scope allows.
    #[error("{what} {} is not one of {}", value.as_deref().unwrap_or("(none)"), allowed.join(", "))]
    NotAllowed {
        what: &'static str,
        value: Option<String>,
        allowed: Vec<String>,
    },
    /// It does not carry the trust tag.
    #[error("it lacks the tag {key} = {value}")]
    Untrusted { key: String, value: String },
}

/// An endpoint must be an http(s) URL; kept without its trailing slash.
fn endpoint<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let Some(raw) = <Option<String> as serde::Deserialize>::deserialize(d)? else {
        return Ok(None);
    };
    let url = url::Url::parse(&raw)
        .map_err(|e| serde::de::Error::custom(format!("`{raw}` is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(serde::de::Error::custom(format!(
            "`{raw}` is not an http(s) URL"
        )));
    }
    Ok(Some(url.as_str().trim_end_matches('/').to_owned()))
}

impl Default for Ec2Options {
    fn default() -> Self {
        Ec2Options {
            region: None,
            endpoint_url: None,
            environment_tag: "X-Environment".to_owned(),
            use_public_ip: false,
            gateway_port: 9631,
            ctl_port: 9632,
            page_size: 100,
            max_attempts: 3,
            timeout: Duration::from_secs(20),
            static_credentials: None,
            scopes: BTreeMap::new(),
        }
    }
}

pub struct Ec2Inventory {
    client: aws_sdk_ec2::Client,
    options: Ec2Options,
    region: String,
}

impl Ec2Inventory {
    /// Builds the client from the default AWS configuration chain plus `options`.
    pub async fn new(options: Ec2Options) -> Ec2Inventory {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(
                aws_config::retry::RetryConfig::standard()
                    .with_max_attempts(options.max_attempts.max(1)),
            )
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_timeout(options.timeout)
                    .build(),
            );
        if let Some(region) = &options.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(url) = &options.endpoint_url {
            loader = loader.endpoint_url(url.clone());
        }
        if let Some((id, secret)) = &options.static_credentials {
            loader = loader.credentials_provider(aws_sdk_ec2::config::Credentials::new(
                id.clone(),
                secret.clone(),
                None,
                None,
                "onwatch-static",
            ));
        }
        let shared = loader.load().await;
        let region = shared
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "no region".to_owned());
        Ec2Inventory {
            client: aws_sdk_ec2::Client::new(&shared),
            options,
            region,
        }
    }

    /// Every instance matching `filters`, with its reservation's owner (the account).
    async fn describe(
        &self,
        filters: Vec<Filter>,
    ) -> Result<Vec<(Option<String>, Instance)>, InventoryError> {
        let mut pages = self
            .client
            .describe_instances()
            .set_filters(Some(filters))
            .max_results(self.options.page_size.clamp(5, 1000))
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(classify)?;
            for reservation in page.reservations() {
                for instance in reservation.instances() {
                    out.push((reservation.owner_id().map(str::to_owned), instance.clone()));
                }
            }
        }
        Ok(out)
    }

    async fn read(&self) -> Result<Inventory, InventoryError> {
        // Every instance with the tag: the hosts of environments without a scope, and for the
        // others, what is tagged for them but left out.
        let all = self
            .describe(vec![Filter::builder()
                .name("tag-key")
                .values(self.options.environment_tag.clone())
                .build()])
            .await?;
        // Each scoped environment's hosts: asked of AWS within the scope, checked again here.
        let mut hosts = Vec::new();
        let mut admitted = BTreeSet::new();
        for (env, scope) in &self.options.scopes {
            let inside = self
                .describe(scope.filters(&self.options.environment_tag, env))
                .await?;
            for (owner, i) in inside {
                let Some(h) = self.host(&i) else { continue };
                let checked = scope.admits(owner.as_deref(), i.vpc_id(), i.subnet_id(), &h.labels);
                if h.environment == *env && checked.is_ok() {
                    if let Some(id) = &h.instance_id {
                        admitted.insert(id.clone());
                        hosts.push(h);
                    }
                }
            }
        }
        let mut refused: Vec<(String, String)> = Vec::new();
        for (owner, i) in all {
            let Some(h) = self.host(&i) else { continue };
            let Some(scope) = self.options.scopes.get(&h.environment) else {
                hosts.push(h);
                continue;
            };
            let id = h.instance_id.clone().unwrap_or_default();
            if admitted.contains(&id) {
                continue;
            }
            match scope.admits(owner.as_deref(), i.vpc_id(), i.subnet_id(), &h.labels) {
                Err(why) => {
                    let text = format!(
                        "{id} (`{}`, {}, {}) is tagged {env} but is outside {env}'s scope: \
                         {why}; it is not polled and is sent no secret",
                        h.name,
                        i.vpc_id().unwrap_or("no VPC"),
                        i.subnet_id().unwrap_or("no subnet"),
                        env = h.environment,
                    );
                    tracing::warn!(environment = %h.environment, instance = %id, "{text}");
                    refused.push((h.environment.clone(), text));
                }
                // In scope, but not in the scoped read (launched or ended between the two):
                // left out until the next read agrees.
                Ok(()) => tracing::info!(
                    environment = %h.environment,
                    instance = %id,
                    "an instance in scope was missing from the scoped read; left out until the next read"
                ),
            }
        }
        let mut inventory = group_hosts(hosts);
        for (env, why) in refused {
            inventory.refused.entry(env).or_default().push(why);
        }
        Ok(inventory)
    }

    fn host(&self, i: &Instance) -> Option<Host> {
        let state = i
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_owned());
        if matches!(state.as_deref(), Some("terminated") | Some("shutting-down")) {
            return None;
        }
        let tags: BTreeMap<String, String> = i
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or("").to_owned())))
            .collect();
        let environment = tags.get(&self.options.environment_tag)?.trim().to_owned();
        if environment.is_empty() {
            return None;
        }
        let id = i.instance_id().map(str::to_owned);
        let name = tags
            .get("Name")
            .filter(|n| !n.is_empty())
            .cloned()
            .or_else(|| id.clone())?;
        let private_ip = i.private_ip_address().map(str::to_owned);
        let public_ip = i.public_ip_address().map(str::to_owned);
        let address = if self.options.use_public_ip {
            public_ip.clone().or_else(|| private_ip.clone())
        } else {
            private_ip.clone().or_else(|| public_ip.clone())
        }
        .unwrap_or_default();
        Some(Host {
            environment,
            name,
            instance_id: id,
            address,
            private_ip,
            public_ip,
            state,
            launch_time: i.launch_time().map(|t| t.to_string()),
            gateway_port: self.options.gateway_port,
            ctl_port: self.options.ctl_port,
            labels: tags,
        })
    }
}

fn classify<E, R>(err: SdkError<E, R>) -> InventoryError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let text = format!("{}", DisplayErrorContext(&err));
    match &err {
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("").to_owned();
            let msg = se.err().message().unwrap_or("").to_owned();
            let both = format!("{code}: {msg}");
            match code.as_str() {
                "RequestLimitExceeded" | "Throttling" | "ThrottlingException" => {
                    InventoryError::Throttled(both)
                }
                "AuthFailure"
                | "UnauthorizedOperation"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
                | "ExpiredToken"
                | "OptInRequired" => InventoryError::Auth(both),
                _ => InventoryError::Other(both),
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
            InventoryError::Unreachable(text)
        }
        _ => InventoryError::Other(text),
    }
}

impl InventorySource for Ec2Inventory {
    fn describe(&self) -> String {
        match &self.options.endpoint_url {
            Some(url) => format!("EC2 {} via {url}", self.region),
            None => format!("EC2 {}", self.region),
        }
    }

    fn fetch(&self) -> BoxFuture<'_, Result<Inventory, InventoryError>> {
        Box::pin(self.read())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check made on each instance AWS returned, whatever the filters did.
    #[test]
    fn the_scope_is_checked_on_each_instance_whatever_aws_returned() {
        let scope = Ec2Scope {
            account_ids: vec!["123456789012".into()],
            vpc_ids: vec!["vpc-1".into()],
            subnet_ids: vec![],
            trust_tag: Some(TrustTag {
                key: "onwatch:trusted".into(),
                value: "live".into(),
            }),
        };
        let trusted = BTreeMap::from([("onwatch:trusted".to_owned(), "live".to_owned())]);
        let ok = |owner, vpc, subnet, tags: &BTreeMap<String, String>| {
            scope
                .admits(owner, vpc, subnet, tags)
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            ok(
                Some("123456789012"),
                Some("vpc-1"),
                Some("subnet-9"),
                &trusted
            ),
            Ok(())
        );
        let e = ok(Some("123456789012"), Some("vpc-2"), None, &trusted).unwrap_err();
        assert!(e.contains("VPC vpc-2 is not one of vpc-1"), "{e}");
        assert!(ok(None, Some("vpc-1"), None, &trusted)
            .unwrap_err()
            .contains("account (none)"));
        assert!(
            ok(Some("123456789012"), None, None, &trusted).is_err(),
            "EC2-Classic: no VPC"
        );
        let wrong = BTreeMap::from([("onwatch:trusted".to_owned(), "Live".to_owned())]);
        assert!(ok(Some("123456789012"), Some("vpc-1"), None, &wrong)
            .unwrap_err()
            .contains("onwatch:trusted = live"));
        assert!(Ec2Scope::default().is_empty());
        assert_eq!(
            Ec2Scope::default().admits(None, None, None, &BTreeMap::new()),
            Ok(())
        );
    }

    #[test]
    fn the_scoped_read_asks_aws_for_the_scope() {
        let scope = Ec2Scope {
            account_ids: vec![],
            vpc_ids: vec!["vpc-1".into(), "vpc-2".into()],
            subnet_ids: vec!["subnet-1".into()],
            trust_tag: Some(TrustTag {
                key: "k".into(),
                value: "v".into(),
            }),
        };
        let filters: Vec<(String, Vec<String>)> = scope
            .filters("X-Environment", "live")
            .iter()
            .map(|f| (f.name().unwrap().to_owned(), f.values().to_vec()))
            .collect();
        assert_eq!(
            filters,
            vec![
                ("tag:X-Environment".to_owned(), vec!["live".to_owned()]),
                (
                    "vpc-id".to_owned(),
                    vec!["vpc-1".to_owned(), "vpc-2".to_owned()]
                ),
                ("subnet-id".to_owned(), vec!["subnet-1".to_owned()]),
                ("tag:k".to_owned(), vec!["v".to_owned()]),
            ]
        );
    }
}
