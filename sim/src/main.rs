//! `fleet-sim`: simulated Habitat Supervisors (HTTP gateway + control gateway), a Builder API per
//! environment, and a control API for fault injection. Writes the static fleet file that points
//! Onwatch at it.
//!
//! ```text
//! fleet-sim [--layout demo|synthetic] [--hosts N] [--services M] [--seed S]
//!           [--fleet-file PATH] [--control-port P] [--ctl-secret-file PATH]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use fleet_sim::{demo_layout, synthetic_layout, FleetSim};

struct Args {
    layout: String,
    hosts: usize,
    services: usize,
    seed: u64,
    fleet_file: Option<PathBuf>,
    control_port: u16,
    ctl_secret_file: Option<PathBuf>,
}

const USAGE: &str =
    "usage: fleet-sim [--layout demo|synthetic] [--hosts N] [--services M] [--seed S] \
[--fleet-file PATH] [--control-port P] [--ctl-secret-file PATH]";

fn parse() -> Result<Args, String> {
    let mut a = Args {
        layout: "demo".into(),
        hosts: 100,
        services: 8,
        seed: 42,
        fleet_file: None,
        control_port: 0,
        ctl_secret_file: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.into());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let num = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: `{v}` is not a number"))
        };
        match flag.as_str() {
            "--layout" if value == "demo" || value == "synthetic" => a.layout = value,
            "--layout" => return Err(format!("--layout: `{value}` is not demo or synthetic")),
            "--hosts" => a.hosts = num(&value)? as usize,
            "--services" => a.services = num(&value)? as usize,
            "--seed" => a.seed = num(&value)?,
            "--fleet-file" => a.fleet_file = Some(value.into()),
            "--control-port" => {
                a.control_port = u16::try_from(num(&value)?)
                    .map_err(|_| "--control-port: too large".to_owned())?
            }
            "--ctl-secret-file" => a.ctl_secret_file = Some(value.into()),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    Ok(a)
}

/// `fleet-sim seed-datastore ADMIN_URL PREFIX`: a seeded copy of the builder datastore (the
/// demo's console has data); prints each database's read-only URL.
fn seed_datastore(admin_url: &str, prefix: &str) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fleet-sim: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(fleet_sim::datastore::copy(admin_url, prefix)) {
        Ok(seeded) => {
            for (db, _, ro) in &seeded.databases {
                println!("{db} {ro}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fleet-sim: seeding the datastore failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("seed-datastore") {
        return match argv.as_slice() {
            [_, admin, prefix] => seed_datastore(admin, prefix),
            _ => {
                eprintln!("usage: fleet-sim seed-datastore ADMIN_URL PREFIX");
                ExitCode::from(2)
            }
        };
    }
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fleet-sim: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let mut spec = if args.layout == "demo" {
            demo_layout(args.seed)
        } else {
            synthetic_layout(args.hosts, args.services, args.seed)
        };
        spec.control_port = args.control_port;
        let sim = match FleetSim::start(spec.clone()).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("fleet-sim: cannot listen: {e}");
                return ExitCode::FAILURE;
            }
        };
        // The secret first: whoever waits for the fleet file finds the secret there too.
        if let Some(path) = &args.ctl_secret_file {
            if let Err(e) = std::fs::write(path, &spec.ctl_secret) {
                eprintln!("fleet-sim: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
        if let Some(path) = &args.fleet_file {
            if let Err(e) = std::fs::write(path, sim.fleet_file().to_toml()) {
                eprintln!("fleet-sim: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
        println!(
            "fleet-sim: {} Supervisors; control API {}{}",
            sim.hosts.len(),
            sim.control_url(),
            args.fleet_file
                .as_ref()
                .map(|p| format!("; fleet file {}", p.display()))
                .unwrap_or_default()
        );
        let _ = tokio::signal::ctrl_c().await;
        ExitCode::SUCCESS
    })
}
