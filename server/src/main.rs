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
    /// Check the audit log's hash chain; exit 0 when it holds, 1 naming the first bad row, 2
    /// when the store or a checkpoint cannot be read or trusted.
    Verify {
        /// A record of the head kept outside the store, which the chain must still hold: a file
        /// of signed checkpoints (one JSON line each, as the server appends to
        /// `audit.checkpoint_file`), or a bare head hash (64 hex digits). Catches a chain cut at
        /// its end or re-hashed whole, which verifies clean by itself.
        #[arg(long, value_name = "FILE|HASH")]
        checkpoint: Option<String>,
        /// The key the checkpoints must be signed by: a `.pub` file from `audit keygen`, or 64
        /// hex digits. Default: the public half of `audit.checkpoint_key_file` when configured,
        /// else the key each checkpoint names (printed, to compare with yours).
        #[arg(long, value_name = "FILE|HEX", requires = "checkpoint")]
        public_key: Option<String>,
    },
    /// Make an Ed25519 key for signing checkpoints: FILE (the secret, readable by its owner
    /// only; keep it out of the store) and FILE.pub. Never replaces a file.
    Keygen {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Sign a checkpoint of the chain's head now with `audit.checkpoint_key_file`: printed as
    /// one JSON line, appended to `audit.checkpoint_file` when set. Refused when the chain does
    /// not verify.
    Checkpoint,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A key is made before any configuration exists (it is what the configuration names).
    if let Some(Command::Audit {
        command: AuditCommand::Keygen { out },
    }) = &cli.command
    {
        return audit_keygen(out);
    }
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
            Command::Audit { command } => match command {
                AuditCommand::Verify {
                    checkpoint,
                    public_key,
                } => audit_verify(config, checkpoint, public_key).await,
                AuditCommand::Keygen { out } => audit_keygen(&out),
                AuditCommand::Checkpoint => audit_checkpoint(config).await,
            },
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

async fn audit_verify(
    config: Config,
    checkpoint: Option<String>,
    public_key: Option<String>,
) -> ExitCode {
    // The checkpoints first: a file that cannot be read or trusted is said before the store is
    // opened.
    let anchors = match checkpoint {
        None => Vec::new(),
        Some(arg) => match checkpoint_anchors(&config, &arg, public_key.as_deref()) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("onwatch: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let store = match ops::store::Store::open(&config.store.url, &config.store).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("onwatch: {e}");
            return ExitCode::from(2);
        }
    };
    let result = ops::audit::AuditLog::new(store.clone())
        .verify_against(&anchors)
        .await;
    store.close().await;
    match result {
        Ok(v) => match v.broken {
            None => {
                let against = match anchors.len() {
                    0 => String::new(),
                    1 => " and holds the checkpoint".to_owned(),
                    n => format!(" and holds all {n} checkpoints"),
                };
                println!(
                    "audit log intact: {} rows, the chain holds{against}",
                    v.rows
                );
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

/// What `--checkpoint FILE|HASH` asks the chain to hold. Every checkpoint in a file must check
/// against the key: `--public-key`, else the configured key's public half, else its own.
fn checkpoint_anchors(
    config: &Config,
    arg: &str,
    public_key: Option<&str>,
) -> Result<Vec<ops::audit::Anchor>, String> {
    use ops::audit::checkpoint::{Checkpoint, PublicKey};
    let path = std::path::Path::new(arg);
    if !path.exists() {
        if arg.len() == 64 && arg.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(vec![ops::audit::Anchor::Hash(arg.to_ascii_lowercase())]);
        }
        return Err(format!(
            "--checkpoint {arg}: no such file, and not a head hash (64 hex digits)"
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the checkpoint file {arg}: {e}"))?;
    let checkpoints = Checkpoint::parse_lines(&text).map_err(|e| format!("{arg}: {e}"))?;
    if checkpoints.is_empty() {
        return Err(format!("{arg} holds no checkpoint"));
    }
    let pinned = match public_key {
        Some(k) => {
            let text = if std::path::Path::new(k).exists() {
                std::fs::read_to_string(k)
                    .map_err(|e| format!("cannot read the public key file {k}: {e}"))?
            } else {
                k.to_owned()
            };
            Some(PublicKey::parse(&text).map_err(|e| format!("--public-key: {e}"))?)
        }
        None => config
            .audit
            .checkpoint_key()
            .map_err(|e| e.to_string())?
            .map(|k| k.public_key()),
    };
    let mut keys = std::collections::BTreeSet::new();
    for c in &checkpoints {
        keys.insert(
            c.check(pinned.as_ref())
                .map_err(|e| format!("{arg}: {e}"))?
                .to_string(),
        );
    }
    if pinned.is_none() {
        println!(
            "checkpoints signed by {} (the key each names: compare it with yours, or pass --public-key)",
            keys.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(checkpoints.iter().map(Checkpoint::anchor).collect())
}

fn audit_keygen(out: &std::path::Path) -> ExitCode {
    match ops::audit::checkpoint::CheckpointKey::write_new(out) {
        Ok(key) => {
            println!(
                "audit checkpoint key written to {} (keep it out of the store; set audit.checkpoint_key_file)\npublic key {} (also in {})",
                out.display(),
                key.public_key(),
                ops::audit::checkpoint::public_key_path(out).display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("onwatch: {e}");
            ExitCode::from(2)
        }
    }
}

async fn audit_checkpoint(config: Config) -> ExitCode {
    let key = match config.audit.checkpoint_key() {
        Ok(Some(k)) => k,
        Ok(None) => {
            eprintln!("onwatch: no key to sign with: set audit.checkpoint_key_file (`onwatch audit keygen --out FILE` makes one)");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("onwatch: {e}");
            return ExitCode::from(2);
        }
    };
    let store = match ops::store::Store::open(&config.store.url, &config.store).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("onwatch: {e}");
            return ExitCode::from(2);
        }
    };
    let signer = ops::audit::checkpoint::Checkpointer::new(
        ops::audit::AuditLog::new(store.clone()),
        key,
        config.audit.checkpoint_file.clone(),
    );
    let result = signer.checkpoint().await;
    store.close().await;
    match result {
        Ok(c) => {
            println!("{}", c.to_json());
            ExitCode::SUCCESS
        }
        // The chain does not verify: a finding, like `verify`'s exit 1.
        Err(e @ ops::audit::checkpoint::CheckpointError::Cut(_)) => {
            eprintln!("onwatch: {e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("onwatch: {e}");
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
