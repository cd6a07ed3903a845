//! EC2 inventory: `DescribeInstances` for every instance that has the environment tag
//! (`X-Environment` by default), paginated; the tag's value is the environment.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{Filter, Instance};
use futures_util::future::BoxFuture;

use super::{group_hosts, Host, InventoryError, InventorySource};

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

    async fn read(&self) -> Result<Vec<Host>, InventoryError> {
        let mut pages = self
            .client
            .describe_instances()
            .filters(
                Filter::builder()
                    .name("tag-key")
                    .values(self.options.environment_tag.clone())
                    .build(),
            )
            .max_results(self.options.page_size.clamp(5, 1000))
            .into_paginator()
            .send();
        let mut hosts = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(classify)?;
            for reservation in page.reservations() {
                for instance in reservation.instances() {
                    if let Some(h) = self.host(instance) {
                        hosts.push(h);
                    }
                }
            }
        }
        Ok(hosts)
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

    fn fetch(&self) -> BoxFuture<'_, Result<BTreeMap<String, Vec<Host>>, InventoryError>> {
        Box::pin(async move { Ok(group_hosts(self.read().await?)) })
    }
}
