//! The fleet simulator (binary `fleet-sim`): N Supervisors on loopback ports, each
//! serving the real HTTP gateway (JSON shapes and status codes of a real Supervisor) and the real
//! control gateway (framing, `Handshake` with the shared secret, asynchronous `SvcStop`/`SvcStart`,
//! `SvcStatus`); a subset of the Builder API per environment; a control API for fault injection;
//! and the static fleet file that describes it all.

mod builder_api;
pub use builder_api::BuildFault;
mod control;
mod ctl_server;
/// A builder datastore (three databases, 128 shards, seeded rows, a read-only role).
pub mod datastore;
mod gateway_server;
mod http;
mod layout;
mod state;
mod statuspage;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use layout::{demo_layout, synthetic_layout};
pub use state::{Fault, SimHost, SimHostSpec, SimServiceSpec};

use ops::inventory::static_file::{FleetFile, FleetFileHost};

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimSpec {
    pub seed: u64,
    pub hosts: Vec<SimHostSpec>,
    /// Shared control-gateway secret of every simulated Supervisor.
    pub ctl_secret: String,
    /// When set, every gateway wants `Authorization: Bearer <token>`.
    pub gateway_token: Option<String>,
    /// Fixed port for the control API (0: any).
    pub control_port: u16,
    /// Delay between a `SvcStop`/`SvcStart` and the process changing state, like the real one.
    pub transition_delay_ms: u64,
    /// TLS on every control gateway (`--ctl-server-certificate`, and with a client CA
    /// `--ctl-client-ca-certificate`), as PEM text.
    pub ctl_tls: Option<SimCtlTls>,
}

/// A simulated Supervisor's control-gateway TLS: its certificate and key, and the CA its
/// clients' certificates must be signed by (`None`: no client certificate asked).
#[derive(Debug, Clone)]
pub struct SimCtlTls {
    pub cert_pem: String,
    pub key_pem: String,
    pub client_ca_pem: Option<String>,
}

/// A running simulator. Dropping it stops every listener.
pub struct FleetSim {
    pub hosts: Vec<Arc<SimHost>>,
    pub control_addr: SocketAddr,
    pub builder_api: BTreeMap<String, SocketAddr>,
    /// Each environment's build service (faults: [`FleetSim::build_fault`]).
    builds: BTreeMap<String, Arc<builder_api::BuildDesk>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FleetSim {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl FleetSim {
    pub async fn start(spec: SimSpec) -> std::io::Result<FleetSim> {
        let mut tasks = Vec::new();
        let mut hosts = Vec::new();
        for (i, h) in spec.hosts.iter().enumerate() {
            let gw = TcpListener::bind("127.0.0.1:0").await?;
            let ctl = TcpListener::bind("127.0.0.1:0").await?;
            let host = Arc::new(SimHost::new(
                h.clone(),
                spec.seed.wrapping_add(i as u64),
                gw.local_addr()?,
                ctl.local_addr()?,
                spec.ctl_secret.clone(),
                spec.gateway_token.clone(),
                spec.transition_delay_ms,
            ));
            tasks.push(tokio::spawn(gateway_server::serve(gw, host.clone())));
            let tls = match &spec.ctl_tls {
                None => None,
                Some(t) => Some(ctl_server::acceptor(t).map_err(std::io::Error::other)?),
            };
            tasks.push(tokio::spawn(ctl_server::serve(ctl, host.clone(), tls)));
            hosts.push(host);
        }
        // The census of each environment lists every member of the environment's ring.
        let mut builder_api = BTreeMap::new();
        let mut builds = BTreeMap::new();
        let envs: Vec<String> = {
            let mut e: Vec<String> = spec.hosts.iter().map(|h| h.environment.clone()).collect();
            e.sort();
            e.dedup();
            e
        };
        for env in envs {
            let ring: Vec<Arc<SimHost>> = hosts
                .iter()
                .filter(|h| h.spec.environment == env)
                .cloned()
                .collect();
            let census = Arc::new(state::RingCensus::default());
            for h in &ring {
                h.set_ring(ring.clone(), census.clone());
            }
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            builder_api.insert(env.clone(), listener.local_addr()?);
            let desk = builder_api::BuildDesk::new(ring);
            builds.insert(env.clone(), desk.clone());
            tasks.push(tokio::spawn(builder_api::serve(listener, desk)));
        }
        let control = TcpListener::bind(("127.0.0.1", spec.control_port)).await?;
        let control_addr = control.local_addr()?;
        let sim_hosts = hosts.clone();
        let api = builder_api.clone();
        tasks.push(tokio::spawn(control::serve(
            control,
            sim_hosts,
            api,
            builds.clone(),
        )));
        Ok(FleetSim {
            hosts,
            control_addr,
            builder_api,
            builds,
            tasks,
        })
    }

    pub fn host(&self, name: &str) -> Option<&Arc<SimHost>> {
        self.hosts.iter().find(|h| h.spec.name == name)
    }

    /// Injects a fault into an environment's build service; `false`: no such environment.
    pub fn build_fault(&self, environment: &str, fault: &BuildFault) -> bool {
        self.builds
            .get(environment)
            .map(|d| d.inject(fault))
            .is_some()
    }

    /// How many build requests (`POST …/schedule/…`) reached an environment's Builder API.
    pub fn builds_requested(&self, environment: &str) -> u64 {
        self.builds
            .get(environment)
            .map(|d| {
                d.schedule_requests
                    .load(std::sync::atomic::Ordering::Relaxed)
            })
            .unwrap_or(0)
    }

    pub fn control_url(&self) -> String {
        format!("http://{}", self.control_addr)
    }

    /// The static fleet file that points Onwatch at this simulator.
    pub fn fleet_file(&self) -> FleetFile {
        fleet_file(&self.hosts, &self.builder_api)
    }
}

fn fleet_file(hosts: &[Arc<SimHost>], builder_api: &BTreeMap<String, SocketAddr>) -> FleetFile {
    FleetFile {
        hosts: hosts
            .iter()
            .map(|h| FleetFileHost {
                environment: h.spec.environment.clone(),
                name: h.spec.name.clone(),
                address: "127.0.0.1".to_owned(),
                gateway_port: h.gateway_addr.port(),
                ctl_port: h.ctl_addr.port(),
                labels: BTreeMap::from([(
                    "services".to_owned(),
                    h.spec
                        .services
                        .iter()
                        .map(|s| s.name.clone())
                        .collect::<Vec<_>>()
                        .join(","),
                )]),
            })
            .collect(),
        builder_api: builder_api
            .iter()
            .map(|(env, addr)| (env.clone(), format!("http://{addr}")))
            .collect(),
    }
}
