//! The EC2 inventory against moto_server: tags, pagination, stopped instances, and an injected
//! AuthFailure that must leave a stale but intact inventory.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ec2::types::{InstanceType, ResourceType, Tag, TagSpecification};
use ops::fleet::{AlarmKind, FleetModel, ModelOptions, Reachability};
use ops::inventory::ec2::{Ec2Inventory, Ec2Options};
use ops::inventory::{InventoryError, InventorySource};
use testkit::MotoServer;

/// An SDK client on moto, for seeding (the inventory under test builds its own).
fn sdk(url: &str) -> aws_sdk_ec2::Client {
    let conf = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-west-2"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .endpoint_url(url)
        .build();
    aws_sdk_ec2::Client::from_conf(conf)
}

async fn seed(url: &str, name: &str, env: Option<&str>) -> String {
    let client = sdk(url);
    let mut tags = vec![Tag::builder().key("Name").value(name).build()];
    if let Some(env) = env {
        tags.push(Tag::builder().key("X-Environment").value(env).build());
    }
    let out = client
        .run_instances()
        .image_id("ami-12345678")
        .instance_type(InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Instance)
                .set_tags(Some(tags))
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.instances()[0].instance_id().unwrap().to_owned()
}

async fn stop(url: &str, id: &str) {
    sdk(url)
        .stop_instances()
        .instance_ids(id)
        .send()
        .await
        .unwrap();
}

fn options(url: &str) -> Ec2Options {
    Ec2Options {
        region: Some("us-west-2".into()),
        endpoint_url: Some(url.into()),
        static_credentials: Some(("testing".into(), "testing".into())),
        page_size: 5,
        max_attempts: 1,
        timeout: Duration::from_secs(20),
        ..Ec2Options::default()
    }
}

#[tokio::test]
async fn ec2_inventory_against_moto() {
    let moto = MotoServer::start().await.unwrap();
    for i in 1..=6 {
        seed(&moto.url, &format!("builder-worker-{i}"), Some("live")).await;
    }
    seed(&moto.url, "builder-api", Some("live")).await;
    let stopped = seed(&moto.url, "builder-old", Some("live")).await;
    stop(&moto.url, &stopped).await;
    seed(&moto.url, "builder-api", Some("acceptance")).await;
    seed(&moto.url, "builder-router", Some("acceptance")).await;
    seed(&moto.url, "untagged", None).await;

    let inv = Ec2Inventory::new(options(&moto.url)).await;
    assert!(inv.describe().contains("us-west-2"));
    let hosts = inv.fetch().await.unwrap();
    assert_eq!(hosts["live"].len(), 8, "all pages read (page size 5)");
    assert_eq!(hosts["acceptance"].len(), 2);
    assert_eq!(
        hosts.len(),
        2,
        "untagged instances are not in any environment"
    );
    let api = hosts["live"]
        .iter()
        .find(|h| h.name == "builder-api")
        .unwrap();
    assert!(api.instance_id.as_deref().unwrap().starts_with("i-"));
    assert_eq!(api.address, api.private_ip.clone().unwrap());
    assert_eq!(api.state.as_deref(), Some("running"));
    assert!(api.launch_time.is_some());
    assert_eq!(api.labels["X-Environment"], "live");
    assert_eq!(api.gateway_port, 9631);
    let old = hosts["live"]
        .iter()
        .find(|h| h.name == "builder-old")
        .unwrap();
    assert_eq!(old.state.as_deref(), Some("stopped"));

    // Into the model; then AWS refuses the credentials: the inventory stays, marked stale.
    let model = Arc::new(FleetModel::new(ModelOptions {
        environments: vec![("live".into(), true), ("acceptance".into(), false)],
        stale_after_ms: 60_000,
    }));
    assert_eq!(
        ops::fleet::feeds::refresh_inventory(&inv, &model)
            .await
            .unwrap(),
        10
    );
    assert_eq!(
        model
            .snapshot(ops::time::now_ms())
            .host("live", "builder-old")
            .unwrap()
            .reachability,
        Reachability::NotRunning
    );
    moto.fail_auth(true).await.unwrap();
    let err = ops::fleet::feeds::refresh_inventory(&inv, &model)
        .await
        .unwrap_err();
    assert!(
        matches!(err, InventoryError::Auth(ref m) if m.contains("AuthFailure")),
        "{err}"
    );
    let snap = model.snapshot(ops::time::now_ms());
    assert_eq!(snap.environment("live").unwrap().hosts.len(), 8, "intact");
    assert_eq!(
        snap.environment("acceptance").unwrap().hosts.len(),
        2,
        "intact"
    );
    assert!(snap.environment("live").unwrap().inventory.is_stale());
    let alarm = snap
        .alarms
        .iter()
        .find(|a| a.kind == AlarmKind::StaleInventory)
        .unwrap();
    assert!(alarm.message.contains("AuthFailure"), "{}", alarm.message);

    moto.fail_auth(false).await.unwrap();
    ops::fleet::feeds::refresh_inventory(&inv, &model)
        .await
        .unwrap();
    assert!(!model
        .snapshot(ops::time::now_ms())
        .environment("live")
        .unwrap()
        .inventory
        .is_stale());
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_clear_error() {
    let inv = Ec2Inventory::new(Ec2Options {
        timeout: Duration::from_secs(5),
        ..options("http://127.0.0.1:1")
    })
    .await;
    let err = inv.fetch().await.unwrap_err();
    assert!(matches!(err, InventoryError::Unreachable(_)), "{err}");
}
