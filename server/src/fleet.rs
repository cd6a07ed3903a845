//! Starts the fleet engine of `ops` with the configuration: the model, the inventory refresher,
//! the poller, the probes and history retention, each a named task of [`crate::tasks`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ops::fleet::poller::{EnvironmentAccess, Poller};
use ops::fleet::{feeds, FleetModel, History, ModelOptions};
use ops::inventory::ec2::Ec2Inventory;
use ops::inventory::static_file::{FleetFile, StaticInventory};
use ops::inventory::InventorySource;
use ops::probe::ProbeSpec;
use ops::store::Store;
use ops::supervisor::gateway::{GatewayClient, GatewayClientOptions};

use crate::config::{Config, InventorySourceKind};
use crate::tasks::{Task, Tasks};

/// The running fleet engine.
pub struct FleetRuntime {
    pub model: Arc<FleetModel>,
    pub source: Option<String>,
}

/// Waits until no host of the model is still "not polled", or until the answers stop coming
/// (nothing new for [`FIRST_VIEW_QUIET`] after the first answer: the hosts still missing are
/// hanging, and each will show as unreachable when its own timeout passes), or `limit` passed.
async fn first_view(
    model: &FleetModel,
    mut changes: tokio::sync::broadcast::Receiver<ops::fleet::FleetChange>,
    limit: Duration,
) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let snap = model.snapshot(ops::time::now_ms());
        let hosts = || snap.environments.iter().flat_map(|e| &e.hosts);
        let waiting = hosts().any(|h| h.reachability == ops::fleet::Reachability::NotPolled);
        if !waiting {
            return;
        }
        let some_seen = hosts().any(|h| h.reachability != ops::fleet::Reachability::NotPolled);
        tokio::select! {
            r = changes.recv() => {
                if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    return;
                }
            }
            _ = tokio::time::sleep(FIRST_VIEW_QUIET), if some_seen => return,
            _ = tokio::time::sleep_until(deadline) => return,
        }
    }
}

/// See [`first_view`]: a healthy Supervisor on the same network answers well within this.
const FIRST_VIEW_QUIET: Duration = Duration::from_millis(300);

pub async fn start(
    config: &Config,
    store: Store,
    observer: Option<ops::fleet::poller::PollObserver>,
    tasks: &mut Tasks,
) -> Result<FleetRuntime, String> {
    let model = Arc::new(FleetModel::new(ModelOptions {
        environments: config
            .environments_in_order()
            .into_iter()
            .map(|(n, e)| (n.clone(), e.production))
            .collect(),
        stale_after_ms: i64::try_from(config.fleet.stale_after.as_millis()).unwrap_or(i64::MAX),
    }));
    let source: Option<Arc<dyn InventorySource>> = match config.inventory.source {
        InventorySourceKind::None => None,
        InventorySourceKind::Static => config
            .inventory
            .fleet_file
            .clone()
            .map(|path| Arc::new(StaticInventory { path }) as Arc<dyn InventorySource>),
        InventorySourceKind::Ec2 => {
            Some(Arc::new(Ec2Inventory::new(ec2_options(config)).await) as Arc<dyn InventorySource>)
        }
    };
    let source_name = source.as_ref().map(|s| s.describe());

    if let Some(source) = source.clone() {
        // The first read happens before serving, so the first page already shows hosts.
        let _ = feeds::refresh_inventory(source.as_ref(), &model).await;
        let every = config.fleet.inventory_refresh.max(Duration::from_secs(5));
        let (inventory, fed) = (source.clone(), model.clone());
        tasks.start(Task::Inventory, move |stop| {
            feeds::run_inventory(inventory, fed, every, stop)
        });

        let client = GatewayClient::new(&GatewayClientOptions {
            connect_timeout: config.fleet.host_timeout.min(Duration::from_millis(1500)),
            request_timeout: config.fleet.host_timeout,
            ..GatewayClientOptions::default()
        })
        .map_err(|e| e.to_string())?;
        let access: BTreeMap<String, EnvironmentAccess> = config
            .environments
            .iter()
            .map(|(n, e)| {
                (
                    n.clone(),
                    EnvironmentAccess {
                        token: e.gateway_token.clone(),
                        tls: e.gateway_tls,
                        groups: e.gateway_token_groups(),
                    },
                )
            })
            .collect();
        // What the fleet was when this process last watched it: the first poll then records
        // only what changed since (a restart of Onwatch is not a change of the fleet).
        match History::new(store.clone()).last_states().await {
            Ok(last) => model.remember(last),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the last known states; the first poll records every service as new")
            }
        }
        let mut poller = Poller::new(
            model.clone(),
            client,
            access,
            Some(History::new(store.clone())),
            config.fleet.clone(),
        );
        if let Some(observer) = observer {
            poller = poller.with_observer(observer);
        }
        let poller = Arc::new(poller);
        let changes = model.subscribe();
        // The period this process watches, opened before its first poll can record anything:
        // a service page then shows the time no Onwatch was watching as a gap.
        match ops::fleet::WatchLog::new(store.clone())
            .begin(ops::time::now_ms())
            .await
        {
            Ok(watching) => tasks.start(Task::Watching, |stop| watching.run(stop)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot record that Onwatch is watching; service pages will show this run as a gap")
            }
        }
        tasks.start(Task::Poller, |stop| poller.run(stop));
        // Serve once every host has been visited, so the first page shows real states rather
        // than "not polled"; at most 2 s, so hung hosts never delay serving (they show as
        // unreachable once their own timeout passes).
        first_view(&model, changes, Duration::from_secs(2)).await;
    }

    let probes = probe_specs(config);
    if !probes.is_empty() {
        let probed = model.clone();
        tasks.start(Task::Probes, |stop| feeds::run_probes(probes, probed, stop));
    }

    // History retention: prune hourly.
    let retention = Duration::from_secs(u64::from(config.store.history_retention_days) * 86_400);
    tasks.start(Task::Retention, |stop| {
        History::new(store).run_retention(retention, stop)
    });

    Ok(FleetRuntime {
        model,
        source: source_name,
    })
}

/// `[inventory.ec2]` with each environment's scope (`[environments.NAME.ec2]`). An environment
/// without one takes every instance its tag names, so anyone who may tag an instance can make
/// it a host (and send it the environment's gateway token): said loudly at every start.
pub fn ec2_options(config: &Config) -> ops::inventory::ec2::Ec2Options {
    let mut options = config.inventory.ec2.clone();
    for (name, env) in &config.environments {
        match &env.ec2 {
            Some(scope) => {
                options.scopes.insert(name.clone(), scope.clone());
            }
            None if env.production => tracing::error!(
                environment = %name,
                "environments.{name}.ec2 is not set: every instance tagged {}={name} is taken as a production host and sent its secrets; set account_ids, vpc_ids or subnet_ids and a trust_tag (README: \"Scoping the EC2 inventory\")",
                options.environment_tag
            ),
            None => tracing::warn!(
                environment = %name,
                "environments.{name}.ec2 is not set: every instance tagged {}={name} is taken as a host and sent the environment's secrets",
                options.environment_tag
            ),
        }
        if !env.gateway_tls && env.production {
            tracing::warn!(
                environment = %name,
                "environments.{name}.gateway_tls is off: the gateway token crosses the network in the clear on every poll"
            );
        }
    }
    options
}

/// Each environment's Builder API base URL, where known: from the configuration, or else from
/// the static fleet file.
pub fn builder_api_urls(config: &Config) -> BTreeMap<String, String> {
    let mut api_urls: BTreeMap<String, String> = BTreeMap::new();
    if config.inventory.source == InventorySourceKind::Static {
        if let Some(path) = &config.inventory.fleet_file {
            if let Ok(file) = FleetFile::load(path) {
                api_urls.extend(file.builder_api);
            }
        }
    }
    for (name, env) in &config.environments {
        if let Some(url) = &env.builder_api_url {
            api_urls.insert(name.clone(), url.as_str().trim_end_matches('/').to_owned());
        }
    }
    api_urls
}

/// Configured probes, plus the default Builder API probe of each environment whose API URL is
/// known.
fn probe_specs(config: &Config) -> Vec<ProbeSpec> {
    let mut specs: Vec<ProbeSpec> = config.probes.clone();
    for (env, url) in builder_api_urls(config) {
        let mut spec = ProbeSpec::builder_api(&env, &url);
        spec.interval = Duration::from_secs(10);
        specs.push(spec);
    }
    specs
}
