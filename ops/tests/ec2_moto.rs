//! The EC2 inventory against moto_server: tags, pagination, stopped instances, and an injected
//! AuthFailure that must leave a stale but intact inventory.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ec2::types::{InstanceType, ResourceType, Tag, TagSpecification};
use ops::fleet::{AlarmKind, FleetModel, ModelOptions, Reachability};
use ops::inventory::ec2::{Ec2Inventory, Ec2Options, Ec2Scope, TrustTag};
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
    let read = inv.fetch().await.unwrap();
    assert!(read.refused.is_empty(), "{:?}", read.refused);
    let hosts = read.hosts;
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

// ---- Trust: who is a host of an environment (issue 27, point 1) ----

/// A VPC with one subnet in moto, both on a loopback range so that an instance's private IP is a
/// local address a test can listen on. Returns (vpc id, subnet id).
async fn vpc(url: &str, second_octet: u8) -> (String, String) {
    let client = sdk(url);
    let vpc = client
        .create_vpc()
        .cidr_block(format!("127.{second_octet}.0.0/16"))
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_owned();
    let subnet = client
        .create_subnet()
        .vpc_id(&vpc)
        .cidr_block(format!("127.{second_octet}.0.0/24"))
        .send()
        .await
        .unwrap()
        .subnet()
        .unwrap()
        .subnet_id()
        .unwrap()
        .to_owned();
    (vpc, subnet)
}

/// An instance in `subnet` at `ip` with these tags; its id.
async fn seed_in(url: &str, subnet: &str, ip: &str, tags: &[(&str, &str)]) -> String {
    let out = sdk(url)
        .run_instances()
        .image_id("ami-12345678")
        .instance_type(InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .subnet_id(subnet)
        .private_ip_address(ip)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Instance)
                .set_tags(Some(
                    tags.iter()
                        .map(|(k, v)| Tag::builder().key(*k).value(*v).build())
                        .collect(),
                ))
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.instances()[0].instance_id().unwrap().to_owned()
}

/// A Supervisor gateway stand-in on `ip:port` that answers every request with `[]` and records
/// each connection and the Authorization header of each request.
#[derive(Clone, Default)]
struct Recorder {
    connections: Arc<std::sync::atomic::AtomicUsize>,
    authorizations: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Recorder {
    async fn listen(ip: &str, port: u16) -> std::io::Result<Recorder> {
        let listener = tokio::net::TcpListener::bind((ip, port)).await?;
        let rec = Recorder::default();
        let r = rec.clone();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            while let Ok((mut sock, _)) = listener.accept().await {
                r.connections
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let r = r.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        let n = match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        buf.extend_from_slice(&chunk[..n]);
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                            buf.drain(..end + 4);
                            let auth = head
                                .lines()
                                .find_map(|l| {
                                    let (k, v) = l.split_once(':')?;
                                    k.eq_ignore_ascii_case("authorization")
                                        .then(|| v.trim().to_owned())
                                })
                                .unwrap_or_default();
                            r.authorizations.lock().unwrap().push(auth);
                            let reply = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n[]";
                            if sock.write_all(reply.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        Ok(rec)
    }

    fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn authorizations(&self) -> Vec<String> {
        self.authorizations.lock().unwrap().clone()
    }
}

/// Recorders on each of `ips`, all on one port (the inventory has one gateway port).
async fn recorders(ips: &[&str]) -> (u16, Vec<Recorder>) {
    for _ in 0..50 {
        let first = tokio::net::TcpListener::bind((ips[0], 0)).await.unwrap();
        let port = first.local_addr().unwrap().port();
        drop(first);
        let mut all = Vec::new();
        for ip in ips {
            match Recorder::listen(ip, port).await {
                Ok(r) => all.push(r),
                Err(_) => break,
            }
        }
        if all.len() == ips.len() {
            return (port, all);
        }
    }
    panic!("no port free on all of {ips:?}");
}

fn poller(
    model: Arc<FleetModel>,
    token: &str,
    groups: Vec<ops::secret::HostGroup<secrecy::SecretString>>,
) -> ops::fleet::poller::Poller {
    ops::fleet::poller::Poller::new(
        model,
        ops::supervisor::gateway::GatewayClient::new(
            &ops::supervisor::gateway::GatewayClientOptions {
                connect_timeout: Duration::from_millis(800),
                request_timeout: Duration::from_millis(800),
                ..Default::default()
            },
        )
        .unwrap(),
        std::collections::BTreeMap::from([(
            "live".to_owned(),
            ops::fleet::poller::EnvironmentAccess {
                token: Some(token.to_owned().into()),
                tls: false,
                groups,
            },
        )]),
        None,
        ops::fleet::FleetOptions {
            host_timeout: Duration::from_millis(800),
            ..Default::default()
        },
    )
}

#[tokio::test]
async fn an_instance_tagged_live_in_another_vpc_gets_no_request_and_no_token() {
    let moto = MotoServer::start().await.unwrap();
    let (ours, our_subnet) = vpc(&moto.url, 31).await;
    let (_theirs, their_subnet) = vpc(&moto.url, 32).await;
    let (port, recs) = recorders(&["127.31.0.5", "127.32.0.5"]).await;
    let inside = seed_in(
        &moto.url,
        &our_subnet,
        "127.31.0.5",
        &[("Name", "builder-api"), ("X-Environment", "live")],
    )
    .await;
    // Someone who may tag instances, with an instance of their own elsewhere.
    let outside = seed_in(
        &moto.url,
        &their_subnet,
        "127.32.0.5",
        &[("Name", "builder-api-2"), ("X-Environment", "live")],
    )
    .await;

    let mut opts = Ec2Options {
        gateway_port: port,
        ..options(&moto.url)
    };
    opts.scopes.insert(
        "live".into(),
        Ec2Scope {
            vpc_ids: vec![ours.clone()],
            ..Ec2Scope::default()
        },
    );
    let inv = Ec2Inventory::new(opts).await;
    let model = Arc::new(FleetModel::new(ModelOptions {
        environments: vec![("live".into(), true)],
        stale_after_ms: 60_000,
    }));
    ops::fleet::feeds::refresh_inventory(&inv, &model)
        .await
        .unwrap();
    let snap = model.snapshot(ops::time::now_ms());
    let live = snap.environment("live").unwrap();
    assert_eq!(
        live.inventory.refused.len(),
        1,
        "{:?}",
        live.inventory.refused
    );
    assert!(
        live.inventory.refused[0].contains(&outside) && live.inventory.refused[0].contains("VPC"),
        "{}",
        live.inventory.refused[0]
    );
    let alarm = snap
        .alarms
        .iter()
        .find(|a| a.kind == AlarmKind::RefusedInstances)
        .expect("the dashboard says what was left out");
    assert!(alarm.message.contains(&outside), "{}", alarm.message);
    assert_eq!(
        live.hosts
            .iter()
            .map(|h| h.host.instance_id.clone().unwrap())
            .collect::<Vec<_>>(),
        vec![inside.clone()],
        "only the instance in live's VPC is a host of live"
    );
    let stats = poller(model.clone(), "live-gateway-token", Vec::new())
        .poll_once()
        .await;
    assert_eq!(stats.polled, 1);
    assert!(recs[0].connections() > 0, "the host in scope is polled");
    assert!(recs[0]
        .authorizations()
        .iter()
        .all(|a| a == "Bearer live-gateway-token"));
    assert_eq!(recs[1].connections(), 0, "no request reaches {outside}");
    assert!(recs[1].authorizations().is_empty());
}

#[tokio::test]
async fn two_running_instances_of_one_name_are_both_refused() {
    let moto = MotoServer::start().await.unwrap();
    let first = seed(&moto.url, "builder-api", Some("live")).await;
    let second = seed(&moto.url, "builder-api", Some("live")).await;
    seed(&moto.url, "builder-router", Some("live")).await;
    // A stopped twin of a running host (an instance being replaced) is not a duplicate: only
    // the running one is polled, under its name.
    seed(&moto.url, "builder-jobsrv", Some("live")).await;
    let old = seed(&moto.url, "builder-jobsrv", Some("live")).await;
    stop(&moto.url, &old).await;

    let inv = Ec2Inventory::new(options(&moto.url)).await;
    let read = inv.fetch().await.unwrap();
    let names: Vec<&str> = read.hosts["live"].iter().map(|h| h.name.as_str()).collect();
    assert_eq!(
        names,
        vec!["builder-jobsrv", "builder-router"],
        "neither builder-api"
    );
    let jobsrv = &read.hosts["live"][0];
    assert_eq!(jobsrv.state.as_deref(), Some("running"));
    let refused = &read.refused["live"];
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0].contains("builder-api")
            && refused[0].contains(&first)
            && refused[0].contains(&second),
        "{}",
        refused[0]
    );

    // Into the model: an alarm names both, and nothing of that name is polled.
    let model = Arc::new(FleetModel::new(ModelOptions {
        environments: vec![("live".into(), true)],
        stale_after_ms: 60_000,
    }));
    ops::fleet::feeds::refresh_inventory(&inv, &model)
        .await
        .unwrap();
    assert!(model
        .pollable_hosts()
        .iter()
        .all(|h| !h.name.starts_with("builder-api")));
    let snap = model.snapshot(ops::time::now_ms());
    assert_eq!(snap.environment("live").unwrap().inventory.refused.len(), 1);
    let alarm = snap
        .alarms
        .iter()
        .find(|a| a.kind == AlarmKind::RefusedInstances)
        .expect("an alarm says what was refused");
    assert!(
        alarm.message.contains(&first) && alarm.message.contains(&second),
        "{}",
        alarm.message
    );
}

#[tokio::test]
async fn the_scope_is_checked_on_every_instance_account_vpc_subnet_and_trust_tag() {
    let moto = MotoServer::start().await.unwrap();
    let (ours, our_subnet) = vpc(&moto.url, 41).await;
    let (_, their_subnet) = vpc(&moto.url, 42).await;
    let trusted = [("onwatch:trusted", "live")];
    let tags = |name: &'static str, env: &'static str, trust: bool| {
        let mut t = vec![("Name", name), ("X-Environment", env)];
        if trust {
            t.extend(trusted);
        }
        t
    };
    let good = seed_in(
        &moto.url,
        &our_subnet,
        "127.41.0.5",
        &tags("api", "live", true),
    )
    .await;
    let elsewhere = seed_in(
        &moto.url,
        &their_subnet,
        "127.42.0.5",
        &tags("api-2", "live", true),
    )
    .await;
    let untrusted = seed_in(
        &moto.url,
        &our_subnet,
        "127.41.0.6",
        &tags("api-3", "live", false),
    )
    .await;
    // Another environment without a scope keeps taking every instance its tag names.
    seed_in(
        &moto.url,
        &their_subnet,
        "127.42.0.7",
        &tags("api", "acceptance", false),
    )
    .await;

    let mut opts = options(&moto.url);
    opts.scopes.insert(
        "live".into(),
        Ec2Scope {
            account_ids: vec!["123456789012".into()],
            vpc_ids: vec![ours.clone()],
            subnet_ids: vec![our_subnet.clone()],
            trust_tag: Some(TrustTag {
                key: "onwatch:trusted".into(),
                value: "live".into(),
            }),
        },
    );
    let read = Ec2Inventory::new(opts.clone()).await.fetch().await.unwrap();
    let live: Vec<&str> = read.hosts["live"]
        .iter()
        .map(|h| h.instance_id.as_deref().unwrap())
        .collect();
    assert_eq!(live, vec![good.as_str()]);
    assert_eq!(read.hosts["acceptance"].len(), 1);
    let refused = read.refused["live"].join("\n");
    assert_eq!(read.refused["live"].len(), 2, "{refused}");
    assert!(
        refused.contains(&elsewhere) && refused.contains(&untrusted),
        "{refused}"
    );
    assert!(refused.contains("onwatch:trusted"), "{refused}");
    assert!(!read.refused.contains_key("acceptance"));

    // Another account's scope: nothing of this one is live's.
    opts.scopes.get_mut("live").unwrap().account_ids = vec!["210987654321".into()];
    let read = Ec2Inventory::new(opts).await.fetch().await.unwrap();
    assert!(!read.hosts.contains_key("live"), "{:?}", read.hosts);
    assert_eq!(read.refused["live"].len(), 3);
    assert!(read.refused["live"][0].contains("account 123456789012"));
}

#[tokio::test]
async fn a_host_in_a_secrets_group_gets_its_groups_token_and_no_other() {
    let moto = MotoServer::start().await.unwrap();
    let (_, subnet) = vpc(&moto.url, 51).await;
    let (port, recs) = recorders(&["127.51.0.5", "127.51.0.6", "127.51.0.7"]).await;
    seed_in(
        &moto.url,
        &subnet,
        "127.51.0.5",
        &[("Name", "builder-api"), ("X-Environment", "live")],
    )
    .await;
    seed_in(
        &moto.url,
        &subnet,
        "127.51.0.6",
        &[("Name", "builder-datastore-1"), ("X-Environment", "live")],
    )
    .await;
    seed_in(
        &moto.url,
        &subnet,
        "127.51.0.7",
        &[("Name", "bots"), ("X-Environment", "live")],
    )
    .await;
    let inv = Ec2Inventory::new(Ec2Options {
        gateway_port: port,
        ..options(&moto.url)
    })
    .await;
    let model = Arc::new(FleetModel::new(ModelOptions {
        environments: vec![("live".into(), true)],
        stale_after_ms: 60_000,
    }));
    ops::fleet::feeds::refresh_inventory(&inv, &model)
        .await
        .unwrap();
    let groups = vec![
        ops::secret::HostGroup {
            hosts: vec!["builder-datastore-*".into()],
            secret: Some("datastore-token".to_owned().into()),
        },
        // A group without a gateway token: its host is sent none (not the environment's).
        ops::secret::HostGroup {
            hosts: vec!["bots".into()],
            secret: None,
        },
    ];
    let stats = poller(model, "live-gateway-token", groups)
        .poll_once()
        .await;
    assert_eq!(stats.polled, 3);
    let seen = |r: &Recorder| {
        let mut a = r.authorizations();
        a.dedup();
        a
    };
    assert_eq!(seen(&recs[0]), vec!["Bearer live-gateway-token"]);
    assert_eq!(seen(&recs[1]), vec!["Bearer datastore-token"]);
    assert_eq!(seen(&recs[2]), vec![""]);
}
