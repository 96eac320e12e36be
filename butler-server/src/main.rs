//! `butler-server --config butler.toml`, or `butler-server --demo`.

use butler_server::config::{PlatformChoice, ServerConfig};
use butler_server::{setup, Server};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: butler-server (--config FILE | --demo) [--listen ADDR]

  --config FILE   run with the TOML configuration FILE (see the README)
  --demo          run the demo: simulated platform, in-memory store, demo
                  users with made-up passwords printed at start
  --listen ADDR   listen on ADDR (e.g. 127.0.0.1:8080) instead";

struct Args {
    config: Option<PathBuf>,
    demo: bool,
    listen: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        config: None,
        demo: false,
        listen: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--config" => a.config = Some(it.next().ok_or("--config needs a file")?.into()),
            "--demo" => a.demo = true,
            "--listen" => a.listen = Some(it.next().ok_or("--listen needs an address")?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.demo == a.config.is_some() {
        return Err("give exactly one of --config and --demo".into());
    }
    Ok(a)
}

/// mimalloc: the store thread frees what the engine's and the handlers'
/// tasks allocated, and the other way round; glibc's malloc serialises
/// those frees on its arena locks (the provisioning bench: 1.5–1.9 × the
/// requests a second of glibc's malloc, README "Benchmarks").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .init();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("butler-server: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("butler-server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = match &args.config {
        Some(p) => ServerConfig::from_path(p)?,
        None => {
            let mut c = ServerConfig::from_toml("")?;
            // Browsers send Secure cookies to http://localhost only; the
            // demo is plain HTTP on loopback.
            c.http.cookie_secure = false;
            c
        }
    };
    if let Some(l) = &args.listen {
        config.listen = l.parse()?;
    }
    let butler = setup::build(&config).await?;
    if args.demo
        || config.platform == PlatformChoice::Demo && butler.store().list_users().await?.is_empty()
    {
        println!("Butler demo: simulated clusters c1-madrid and c2-santiago.");
        for l in setup::demo_users(&butler).await? {
            println!(
                "  log in as {:<6} ({:<9}) password {}",
                l.user,
                l.role.as_str(),
                l.password
            );
        }
        let vms = setup::demo_fleet(&butler);
        println!(
            "  {} VMs on c1-madrid to try migrations with ({}, …)",
            vms.len(),
            vms.first().map(String::as_str).unwrap_or("-")
        );
    } else if let Some(a) = &config.admin {
        if butler.store().list_users().await?.is_empty() {
            let pw = std::env::var(&a.password_env).map_err(|_| {
                format!(
                    "admin.password_env: set {} to the first admin's password",
                    a.password_env
                )
            })?;
            butler.users().bootstrap_admin(&a.name, &pw).await?;
            println!("added the first admin {:?}", a.name);
        }
    }
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    println!(
        "listening on http://{} (API under /api, OpenAPI at /openapi.json)",
        listener.local_addr()?
    );
    let mut server = Server::new(butler, config.http.clone());
    if let Some(d) = setup::directory(&config, |k| std::env::var(k).ok())? {
        server = server.with_directory(d);
        println!("directory users may log in ([auth.ldap])");
    }
    server
        .serve(listener, async {
            let _ = tokio::signal::ctrl_c().await;
            println!("shutting down: the engine finishes its current step");
        })
        .await?;
    Ok(())
}
