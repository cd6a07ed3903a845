//! Building and running the server: store, router, Leptos, operability endpoints, shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use app::api::EnvironmentSummary;
use app::portal::Portal;
use app::{shell, App};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use ops::store::Store;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::trace::TraceLayer;

use crate::auth::wall::{Access, RouteTable, WallState};
use crate::auth::Auth;
use crate::config::Config;
use crate::metrics::{self, MetricsBuilder};
pub use crate::state::{route, AppState, ServerRoute};
use crate::tasks::{Phase, Task, Tasks};

/// Why the server could not start. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Store(#[from] ops::store::StoreError),
    #[error("cannot start the fleet engine: {0}")]
    Fleet(String),
    #[error("cannot set up sign-in: {0}")]
    Auth(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}. Is another process using the port? Set server.listen or ONWATCH_SERVER__LISTEN")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A built server, bound to its port, not yet serving.
pub struct Application {
    listener: TcpListener,
    router: Router,
    /// `/metrics` on an address of its own (`metrics.listen`), when configured.
    metrics_listener: Option<(TcpListener, Router)>,
    store: Store,
    fleet: crate::fleet::FleetRuntime,
    actions: Arc<ops::change::Pipeline>,
    /// Every background task, by name ([`crate::tasks`]).
    tasks: Tasks,
    /// Signs the audit chain's head at an interval (a task); once more at shutdown (`[audit]`).
    checkpointer: Option<ops::audit::checkpoint::Checkpointer>,
    grace: Duration,
    limits: crate::serve::Limits,
    shutdown_tx: watch::Sender<bool>,
    stopping_tx: watch::Sender<bool>,
}

/// Stops a running [`Application`] gracefully (the programmatic SIGTERM, for tests).
#[derive(Clone)]
pub struct ShutdownHandle(Arc<watch::Sender<bool>>);

impl ShutdownHandle {
    pub fn shutdown(&self) {
        // Stored even when nothing listens yet (`send` would drop it): a stop asked before the
        // server began to serve is not lost.
        self.0.send_replace(true);
    }
}

impl Application {
    /// Opens the store (applying migrations), builds the router and binds the listener.
    pub async fn build(config: Config) -> Result<Application, StartError> {
        Application::build_with_routes(config, Router::new()).await
    }

    /// As [`Application::build`], with extra routes merged in (tests use this to add probes).
    pub async fn build_with_routes(
        config: Config,
        extra: Router,
    ) -> Result<Application, StartError> {
        let store = Store::open(&config.store.url, &config.store).await?;
        let listener = TcpListener::bind(config.server.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.server.listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.server.listen,
            source,
        })?;

        let (shutdown_tx, _) = watch::channel(false);
        let (stopping_tx, stopping_rx) = watch::channel(false);
        let checkpointer = config
            .audit
            .checkpoint_key()
            .map_err(|e| StartError::Config(e.to_string()))?
            .map(|key| {
                ops::audit::checkpoint::Checkpointer::new(
                    ops::audit::AuditLog::new(store.clone()),
                    key,
                    config.audit.checkpoint_file.clone(),
                )
            });
        // Every background task is started through this registry, by name.
        let mut tasks = Tasks::new(stopping_rx.clone());
        let metrics = MetricsBuilder::new();
        let fleet = crate::fleet::start(
            &config,
            store.clone(),
            Some(metrics.poll_observer()),
            &mut tasks,
        )
        .await
        .map_err(StartError::Fleet)?;
        let mut metrics = metrics.with_fleet(fleet.model.clone());
        if let Some(c) = &checkpointer {
            metrics = metrics.with_audit_checkpoints(c.latest());
        }
        let metrics = metrics.build();
        let leptos_options = LeptosOptions::builder()
            .output_name("onwatch")
            .site_root(config.server.site_root.display().to_string())
            .site_pkg_dir("pkg")
            .site_addr(local_addr)
            .build();
        let auth =
            Auth::from_config(&config, store.clone(), local_addr).map_err(StartError::Auth)?;
        let builder_urls = crate::fleet::builder_api_urls(&config);
        let access = Arc::new(
            ops::access::Access::new(
                fleet.model.clone(),
                config
                    .environments
                    .iter()
                    .map(|(name, env)| {
                        let ssh = match &env.ssh {
                            Some(o) => Some(ops::access::SshAccess {
                                options: o.clone(),
                                key: ops::exec::ssh::load_key(&o.key_file)
                                    .map_err(|e| StartError::Config(e.to_string()))?,
                            }),
                            None => None,
                        };
                        Ok((
                            name.clone(),
                            ops::access::EnvironmentExecutor {
                                production: env.production,
                                // The file, read at each action (a rotated secret is used
                                // from the next one on); a secret given directly, as given.
                                ctl_secret: match (&env.ctl_secret_file, &env.ctl_secret) {
                                    (Some(f), _) => {
                                        Some(ops::secret::SecretSource::File(f.clone()))
                                    }
                                    (None, Some(s)) => {
                                        Some(ops::secret::SecretSource::Fixed(s.clone()))
                                    }
                                    (None, None) => None,
                                },
                                ctl_secret_groups: env.ctl_secret_groups(),
                                ctl_tls: env.ctl_tls_loaded.clone(),
                                ssh,
                                builder: match (builder_urls.get(name), &env.builder_token) {
                                    (Some(url), Some(token)) => Some(ops::access::BuilderAccess {
                                        url: url.clone(),
                                        token: token.clone(),
                                    }),
                                    _ => None,
                                },
                            },
                        ))
                    })
                    .collect::<Result<_, StartError>>()?,
                config.sentinel.as_ref().map(|s| ops::access::SentinelHost {
                    environment: s.environment.clone(),
                    host: s.host.clone(),
                    address: s.address.clone().unwrap_or_else(|| s.host.clone()),
                }),
            )
            .with_builds(config.builds.clone())
            .with_locks(config.datastore_locks.clone()),
        );
        let actions = Arc::new(ops::actions::pipeline(
            store.clone(),
            access.clone(),
            config.actions.clone(),
        ));
        // Actions cut off by a crash or kill of an Onwatch on this store are marked interrupted
        // (at start, then every lease); never re-run.
        let swept = actions.clone();
        tasks.start(Task::Sweeper, |stop| swept.run_sweeper(stop));
        if let Some(c) = &checkpointer {
            let every = Duration::from_secs(config.audit.checkpoint_interval_secs);
            let c = c.clone();
            tasks.start(Task::Checkpoints, |stop| c.run(every, stop));
        }
        let console = Arc::new(
            ops::console::ShardConsole::new(
                config.console.clone(),
                config
                    .environments
                    .iter()
                    .map(|(name, env)| {
                        let dbs = env
                            .databases
                            .iter()
                            .map(|(db, c)| {
                                (
                                    db.clone(),
                                    ops::console::DatabaseConn {
                                        url: c.url.clone(),
                                        password: c.password.clone(),
                                    },
                                )
                            })
                            .collect();
                        (name.clone(), dbs)
                    })
                    .collect(),
                store.clone(),
            )
            .map_err(|e| StartError::Config(e.to_string()))?,
        );
        let oncall = Arc::new(
            ops::oncall::OnCall::new(store.clone(), &config.oncall)
                .map_err(|e| StartError::Config(e.to_string()))?,
        );
        if let Some(pd) = &oncall.pagerduty {
            if let Err(e) = pd.load().await {
                tracing::warn!(error = %e, "PagerDuty's last answer could not be read from the store");
            }
        }
        let onboarding = Arc::new(ops::onboarding::Onboarding::new(
            store.clone(),
            config.onboarding.clone(),
        ));
        let incidents = ops::incidents::Incidents::new(store.clone(), config.incidents.clone());
        if let Err(e) = incidents.refresh_open().await {
            tracing::warn!(error = %e, "the open incidents could not be read");
        }
        if let Some(o) = &config.incidents.statuspage {
            let sp = ops::incidents::statuspage::Statuspage::new(o.clone())
                .map_err(|e| StartError::Config(e.to_string()))?;
            let (published, kick) = (incidents.clone(), incidents.kick.clone());
            tasks.start(Task::Statuspage, |stop| {
                ops::incidents::statuspage::run(published, sp, kick, stop)
            });
        }
        let portal = Portal {
            prefs: ops::prefs::Preferences::new(store.clone()),
            incidents,
            oncall: oncall.clone(),
            onboarding,
            dev_signin: config.auth.dev_signin,
            dashboard_collapse_above: config.fleet.dashboard_collapse_above,
            store: store.clone(),
            sessions: auth.sessions.clone(),
            history: ops::fleet::History::new(store.clone()),
            audit: ops::audit::AuditLog::new(store.clone()),
            actions: actions.clone(),
            console: console.clone(),
            fleet: fleet.model.clone(),
            fleet_source: fleet.source.clone(),
            environments: config
                .environments_in_order()
                .into_iter()
                .map(|(name, env)| EnvironmentSummary {
                    name: name.clone(),
                    production: env.production,
                    description: env.description.clone(),
                })
                .collect(),
        };
        let chores = portal.clone();
        tasks.start(Task::OncallChores, |stop| {
            crate::oncall::chores(chores, stop, Duration::from_secs(5))
        });
        let state = AppState {
            leptos_options: leptos_options.clone(),
            store: store.clone(),
            metrics,
            fleet: fleet.model.clone(),
            stopping: stopping_rx.clone(),
            auth,
            actions: actions.clone(),
            console: console.clone(),
            logs: Arc::new(ops::logs::Logs::new(
                access,
                actions.audit().clone(),
                config.logs,
            )),
            streams: crate::streams::Streams::new(config.server.streams_per_person),
            oncall,
            incidents: portal.incidents.clone(),
            metrics_access: crate::metrics::ScrapeAccess::from_config(&config.metrics),
            metrics_token: config
                .metrics
                .token_file
                .clone()
                .map(ops::secret::SecretSource::File),
        };
        let metrics_listener = match config.metrics.listen {
            None => None,
            Some(addr) => {
                let listener = TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartError::Bind { addr, source })?;
                let router = Router::new()
                    .route(
                        "/metrics",
                        axum::routing::get(crate::scrape::on_own_address),
                    )
                    .with_state(state.clone());
                Some((listener, router))
            }
        };
        let sessions = state.auth.sessions.clone();
        tasks.start(Task::SessionCleanup, |stop| {
            crate::auth::session_cleanup(sessions, stop)
        });
        tracing::info!(
            tasks = ?tasks.started().iter().map(|t| t.name()).collect::<Vec<_>>(),
            "background tasks started"
        );
        let edge =
            crate::edge::EdgeRules::new(&state.auth.public_url, local_addr, config.auth.dev_signin);
        let router = routes(
            state,
            portal,
            extra,
            edge,
            Duration::from_secs(config.server.body_timeout_secs),
        );
        Ok(Application {
            listener,
            router,
            metrics_listener,
            store,
            fleet,
            actions,
            tasks,
            checkpointer,
            stopping_tx,
            grace: Duration::from_secs(config.server.shutdown_grace_secs),
            limits: crate::serve::Limits {
                header_timeout: Duration::from_secs(config.server.header_timeout_secs),
                max_connections: config.server.max_connections,
                per_address: config.server.connections_per_address,
                write_timeout: Duration::from_secs(config.server.write_timeout_secs),
            },
            shutdown_tx,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Where `/metrics` is served on its own (`metrics.listen`), if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|(l, _)| l.local_addr().ok())
    }

    /// The live fleet model (tests read it; pages get it through the portal context).
    pub fn fleet_model(&self) -> Arc<ops::fleet::FleetModel> {
        self.fleet.model.clone()
    }

    /// The background tasks started, by name (each at most once).
    pub fn tasks(&self) -> Vec<Task> {
        self.tasks.started()
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(Arc::new(self.shutdown_tx.clone()))
    }

    /// Serves until SIGTERM, Ctrl-C or the [`ShutdownHandle`]; then stops accepting, lets
    /// in-flight requests finish (up to `server.shutdown_grace_secs`) and closes the store.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let mut rx = self.shutdown_tx.subscribe();
        let stopping_tx = self.stopping_tx;
        let mut stopping_rx = stopping_tx.subscribe();
        let mut metrics_stopping = stopping_tx.subscribe();
        let os = os_signal();
        let signal = async move {
            tokio::select! {
                _ = os => {},
                _ = rx.wait_for(|stop| *stop) => {},
            }
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = stopping_tx.send(true);
        };
        if let Some((listener, router)) = self.metrics_listener {
            let stop = async move {
                let _ = metrics_stopping.wait_for(|s| *s).await;
            };
            tokio::spawn(crate::serve::serve(listener, router, self.limits, stop));
        }
        let graceful = crate::serve::serve(self.listener, self.router, self.limits, signal).await;
        let _ = stopping_rx.wait_for(|s| *s).await;
        let grace = self.grace;
        let outcome = tokio::select! {
            _ = graceful.shutdown() => Ok(()),
            _ = tokio::time::sleep(grace) => {
                tracing::warn!(?grace, "requests still running after the grace period; exiting anyway");
                Ok(())
            }
        };
        let mut tasks = self.tasks;
        // The tasks that stop with the requests (they were told when serving stopped); one
        // caught in the middle of its work (a checkpoint, a Statuspage post) finishes it first.
        tasks
            .stop(Phase::WithRequests, Duration::from_secs(5))
            .await;
        // A running action finishes (and is audited) rather than being cut off, within the
        // grace period; one still running after it is marked interrupted at the next start.
        if !self.actions.wait_idle(grace).await {
            tracing::warn!("actions still running at exit: they will be marked interrupted");
        }
        if let Some(checkpointer) = self.checkpointer {
            checkpoint_at_exit(checkpointer).await;
        }
        // The fleet's loops last (a finishing action reads the fleet); neither they nor the
        // store may hold the exit hostage.
        tasks.stop(Phase::Last, Duration::from_secs(5)).await;
        if tokio::time::timeout(Duration::from_secs(5), self.store.close())
            .await
            .is_err()
        {
            tracing::warn!("the store did not close within 5 s");
        }
        outcome
    }
}

/// The last checkpoint, signed once running actions have written their outcomes, so that it
/// covers every row this process wrote. Bounded: a store that does not answer cannot hold the
/// exit.
async fn checkpoint_at_exit(checkpointer: ops::audit::checkpoint::Checkpointer) {
    match tokio::time::timeout(Duration::from_secs(10), checkpointer.checkpoint()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "audit checkpoint at shutdown not signed"),
        Err(_) => tracing::warn!(
            "audit checkpoint at shutdown not signed: the store did not answer within 10 s"
        ),
    }
}

/// SIGTERM or Ctrl-C. The handlers are installed when this is called, not when the returned
/// future is first polled: axum polls the shutdown future from a task of its own, and a SIGTERM
/// that arrived before that task ran would otherwise kill the process without a graceful stop.
fn os_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
                }
                (Ok(mut term), Err(_)) => {
                    term.recv().await;
                }
                (Err(_), Ok(mut int)) => {
                    int.recv().await;
                }
                (Err(_), Err(_)) => std::future::pending::<()>().await,
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Every route the server answers itself (Leptos adds the pages and server functions). The
/// router is built from this list, and the auth-wall test walks it.
pub fn server_routes() -> Vec<ServerRoute> {
    use axum::http::Method;
    let mut routes = vec![
        route(Method::GET, "/healthz", Access::Public, healthz),
        // Public at the wall: the handler asks for a token or a role itself (`[metrics]`), so
        // that a scraper with a token needs no session.
        route(
            Method::GET,
            "/metrics",
            Access::Public,
            crate::scrape::guarded,
        ),
        route(
            Method::GET,
            app::live::EVENTS_PATH,
            Access::Signed(vocab::Role::Viewer),
            crate::events::fleet_events,
        ),
        route(
            Method::GET,
            "/api/actions/{id}/events",
            Access::Signed(vocab::Role::Viewer),
            crate::actions::action_events,
        ),
        route(
            Method::GET,
            "/api/logs/{env}/{host}/events",
            Access::Signed(vocab::Role::Viewer),
            crate::logs::log_events,
        ),
        route(
            Method::GET,
            "/api/console/queries/{id}/events",
            Access::Signed(vocab::Role::Viewer),
            crate::console::query_events,
        ),
        route(
            Method::GET,
            "/api/console/queries/{id}/export",
            Access::Signed(vocab::Role::Viewer),
            crate::console::query_export,
        ),
        // A calendar app cannot sign in: the feed's secret URL is its credential.
        route(
            Method::GET,
            "/ical/{token}",
            Access::Public,
            crate::oncall::ical_feed,
        ),
        route(
            Method::GET,
            "/api/incidents/{id}/timeline.md",
            Access::Signed(vocab::Role::Viewer),
            crate::incidents::incident_markdown,
        ),
        route(
            Method::GET,
            "/api/admin/audit/export",
            Access::Signed(vocab::Role::Admin),
            crate::actions::audit_export,
        ),
    ];
    // Sign-in: public, or the wall would keep everyone out.
    const PUBLIC: Access = Access::Public;
    routes.extend([
        route(
            Method::GET,
            "/signin",
            PUBLIC,
            crate::auth::handlers::signin_page,
        ),
        route(
            Method::GET,
            "/auth/github",
            PUBLIC,
            crate::auth::handlers::github_start,
        ),
        route(
            Method::GET,
            "/auth/github/callback",
            PUBLIC,
            crate::auth::handlers::github_callback,
        ),
        route(
            Method::GET,
            "/auth/oidc",
            PUBLIC,
            crate::auth::handlers::oidc_start,
        ),
        route(
            Method::GET,
            "/auth/oidc/callback",
            PUBLIC,
            crate::auth::handlers::oidc_callback,
        ),
        route(
            Method::POST,
            "/auth/dev",
            PUBLIC,
            crate::auth::handlers::dev_signin,
        ),
        route(
            Method::POST,
            "/auth/signout",
            PUBLIC,
            crate::auth::handlers::signout,
        ),
    ]);
    routes
}

/// What every declared route needs: the table the auth wall judges by (the server's routes and
/// the pages; server functions by their prefix).
pub fn route_table() -> RouteTable {
    RouteTable::new(
        server_routes()
            .iter()
            .map(|r| (r.path.to_owned(), r.access))
            .chain([(crate::assets::PATTERN.to_owned(), Access::Public)]),
    )
}

/// The whole router. Every request, including static files and the 404 page, passes the auth
/// wall (which sits inside the session layer); `/metrics` and the trace span see everything.
fn routes(
    state: AppState,
    portal: Portal,
    extra: Router,
    edge: crate::edge::EdgeRules,
    body_timeout: Duration,
) -> Router {
    let leptos_options = state.leptos_options.clone();
    let https = state.auth.public_url.scheme() == "https";
    let route_list = generate_route_list(App);
    let server = server_routes();
    let wall = WallState {
        prefs: portal.prefs.clone(),
        auth: state.auth.clone(),
        routes: Arc::new(route_table()),
    };
    let auth = state.auth.clone();
    // One dashboard cache for every page render and server function of this process.
    let dashboard = app::pages::home::cache::DashboardCache::default();
    // The dashboard's whole page, kept per distinct set of what it shows (crate::page_cache).
    let pages = crate::page_cache::PageCache::new(
        portal.clone(),
        dashboard.clone(),
        state.metrics.page_cache.clone(),
    );
    // What every render and server function has in context (the 404 page's render too).
    let context = move || {
        provide_context(portal.clone());
        provide_context(dashboard.clone());
        // The nonce the answer's Content-Security-Policy names (see `headers`).
        if let Some(nonce) = crate::headers::nonce_of_request() {
            provide_context(nonce);
        }
    };
    let assets = crate::assets::Assets::new(std::path::Path::new(
        state.leptos_options.site_root.as_ref(),
    ));
    let inner = server
        .into_iter()
        .fold(Router::new(), |r, sr| r.route(sr.path, sr.handler))
        .route(
            crate::assets::PATTERN,
            axum::routing::get(crate::assets::serve).with_state(assets),
        )
        .leptos_routes_with_context(
            &state,
            route_list,
            context.clone(),
            move || shell(leptos_options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(
            context, shell,
        ))
        .with_state(state.clone())
        .merge(extra)
        .layer(axum::middleware::from_fn_with_state(
            pages,
            crate::page_cache::serve,
        ))
        .layer(axum::middleware::from_fn_with_state(
            wall,
            crate::auth::wall::wall,
        ))
        .layer(auth.session_layer())
        // Pages and data compressed on the fly (brotli or gzip, as the browser accepts, with
        // `Vary`); already-encoded static files and event streams pass untouched.
        .layer(tower_http::compression::CompressionLayer::new())
        // A request body that stalls is cut (a slow client cannot hold a handler).
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(body_timeout))
        // No request of Onwatch's carries more than a form or a query's text: a larger body is
        // refused (413) before any handler, server function or the wall reads it.
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_REQUEST_BODY))
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::extract::Request| {
            tracing::info_span!("request", method = %req.method(), path = %crate::oncall::loggable_path(req.uri().path()))
        }));
    // The edge runs before routing (a layer of an outer router whose only route is the inner
    // one), so the path it makes canonical is the path the inner router routes.
    Router::new()
        .fallback_service(inner)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(edge),
            crate::edge::edge,
        ))
        // Outermost, so that every answer (the edge's refusals too) carries them.
        .layer(axum::middleware::from_fn(move |req, next| {
            crate::headers::security_headers(https, req, next)
        }))
}

/// The largest request body any route takes (a console query's SQL is bounded far below it).
pub const MAX_REQUEST_BODY: usize = 256 * 1024;

/// Liveness and readiness: 200 `ok` when the store answers, 503 `failing` when it does not.
/// The public learns only that; the reason goes to the log, and to a signed-in admin.
async fn healthz(
    State(state): State<AppState>,
    who: Option<axum::Extension<ops::auth::Identity>>,
) -> Response {
    let backend = state.store.backend().name();
    let failure = match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("the store did not answer within 2 s".to_owned()),
    };
    let admin = who.is_some_and(|w| w.role.allows(vocab::Role::Admin));
    match failure {
        None if admin => {
            Json(serde_json::json!({"status": "ok", "store": backend})).into_response()
        }
        None => Json(serde_json::json!({"status": "ok"})).into_response(),
        Some(reason) => {
            tracing::warn!(error = %reason, store = backend, "health check failing: store unavailable");
            let body = if admin {
                serde_json::json!({"status": "failing", "store": backend, "reason": reason})
            } else {
                serde_json::json!({"status": "failing"})
            };
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}
