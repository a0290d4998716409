//! The `batuta` command: `batuta serve` and `batuta config check`.
//!
//! Exit codes: 0 success, 1 an error (printed once, with its causes), 2 bad usage.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use batuta::ServerState;
use batuta::config::Config;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "batuta",
    version,
    about = "Heijunka orchestration for the sovereign AI stack"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the models of `model_dir` over KServe v2 HTTP.
    Serve {
        /// The configuration file.
        #[arg(long, default_value = "batuta.toml")]
        config: PathBuf,
    },
    /// Work with configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file and print the settings it resolves to.
    Check {
        /// The configuration file.
        #[arg(long, default_value = "batuta.toml")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("batuta: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { config } => serve(&Config::load(&config)?),
        Command::Config {
            command: ConfigCommand::Check { config },
        } => {
            let cfg = Config::load(&config)?;
            println!("{}: ok", config.display());
            println!("{:#?}", cfg.serve);
            Ok(())
        }
    }
}

fn serve(cfg: &Config) -> anyhow::Result<()> {
    let (state, report) = ServerState::from_config(&cfg.serve).context("starting the engine")?;
    for (path, error) in &report.skipped {
        tracing::warn!(file = %path.display(), %error, "model not loaded");
    }
    for (name, path) in &report.loaded {
        tracing::info!(model = %name, file = %path.display(), "model loaded");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cfg.serve.address)
            .await
            .with_context(|| format!("binding {}", cfg.serve.address))?;
        // The first stdout line is the address, so scripts and tests can find a port-0 server.
        println!("batuta listening on http://{}", listener.local_addr()?);
        batuta::http::serve(listener, state, shutdown_signal()).await?;
        tracing::info!("shut down after finishing admitted requests");
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
