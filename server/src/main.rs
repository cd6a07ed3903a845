use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: page rendering allocates many small, short-lived
/// objects, and glibc's malloc spent ~40% of the CPU on them under load (`make bench`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use server::config::Config;
use server::startup::Application;

/// Onwatch: the on-call portal for Habitat Builder.
#[derive(Parser)]
#[command(name = "onwatch", version, about)]
struct Cli {
    /// Configuration file (TOML). Default: ./onwatch.toml if present. Every key can be
    /// overridden by an ONWATCH_SECTION__KEY environment variable.
    #[arg(
        long,
        short,
        global = true,
        env = "ONWATCH_CONFIG",
        value_name = "PATH"
    )]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the portal (the default).
    Serve,
    /// Apply the store's migrations and exit.
    Migrate,
    /// Load and validate the configuration, print a summary and exit.
    CheckConfig,
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the audit log's hash chain; exit 0 when it holds, 1 naming the first bad row.
    Verify,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("onwatch: {e}");
            return ExitCode::from(2);
        }
    };
    server::telemetry::init(&config.log.filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("onwatch: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(config).await,
            Command::Migrate => migrate(config).await,
            Command::Audit {
                command: AuditCommand::Verify,
            } => audit_verify(config).await,
            Command::CheckConfig => {
                println!(
                    "configuration OK: listen {}, store {}, environments {}",
                    config.server.listen,
                    ops::store::redact_url(&config.store.url),
                    config
                        .environments_in_order()
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                ExitCode::SUCCESS
            }
        }
    })
}

async fn serve(config: Config) -> ExitCode {
    let app = match Application::build(config).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("onwatch: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("listening on http://{}", app.local_addr());
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("onwatch: server error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn audit_verify(config: Config) -> ExitCode {
    let store = match ops::store::Store::open(&config.store.url, &config.store).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("onwatch: {e}");
            return ExitCode::from(2);
        }
    };
    let result = ops::audit::AuditLog::new(store.clone()).verify().await;
    store.close().await;
    match result {
        Ok(v) => match v.broken {
            None => {
                println!("audit log intact: {} rows, the chain holds", v.rows);
                ExitCode::SUCCESS
            }
            Some(b) => {
                println!("audit log BROKEN at row {}: {}", b.seq, b.why);
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("onwatch: cannot read the audit log: {e}");
            ExitCode::from(2)
        }
    }
}

async fn migrate(config: Config) -> ExitCode {
    let options = ops::store::StoreOptions {
        max_connections: 1,
        ..config.store.clone()
    };
    match ops::store::Store::open(&config.store.url, &options).await {
        Ok(store) => {
            println!(
                "store migrated: {}",
                ops::store::redact_url(&config.store.url)
            );
            store.close().await;
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("onwatch: {e}");
            ExitCode::FAILURE
        }
    }
}
