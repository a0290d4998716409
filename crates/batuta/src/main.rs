//! The `batuta` command: `serve`, `config check`, `calibrate` and `select`.
//!
//! Exit codes: 0 success, 1 an error (printed once, with its causes), 2 bad usage.
#![forbid(unsafe_code)]

use std::io::Write;
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
    /// Measure this machine's backends and write the cost profile the selector uses.
    Calibrate {
        /// Where to write the profile (default: the user's cache directory).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Fewer sizes and samples.
        #[arg(long)]
        quick: bool,
        /// Also draw time against size per backend, with the selector's choices, as SVG.
        #[arg(long)]
        plot: Option<PathBuf>,
    },
    /// Show which backend an operation would run on, and why.
    Select {
        /// Operation: add, mul, relu, softmax, matvec or matmul.
        #[arg(long)]
        op: String,
        /// Shape: N (element-wise), ROWSxCOLS (softmax), MxN (matvec), MxKxN (matmul).
        #[arg(long)]
        shape: String,
        /// The data already lives on the GPU: count no transfers.
        #[arg(long)]
        resident: bool,
        /// Print the estimates behind the decision.
        #[arg(long)]
        explain: bool,
        /// The profile to use (default: the one `batuta calibrate` wrote).
        #[arg(long)]
        profile: Option<PathBuf>,
        /// Cost model.
        #[arg(long, value_enum, default_value_t = Model::Gregg5x)]
        model: Model,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Model {
    Thresholds,
    Calibrated,
    Gregg5x,
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

/// `println!` that returns the write error instead of panicking (a closed
/// pipe, as in `batuta config check | head`, is then a quiet exit).
macro_rules! say {
    ($($arg:tt)*) => {
        writeln!(std::io::stdout().lock(), $($arg)*)
    };
}

/// Whether the error is a closed stdout: the reader is gone, nothing to report.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
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
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("batuta: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { config } => serve(&Config::load(&config)?),
        Command::Calibrate { out, quick, plot } => calibrate(out, quick, plot),
        Command::Select {
            op,
            shape,
            resident,
            explain,
            profile,
            model,
        } => select(&op, &shape, resident, explain, profile, model),
        Command::Config {
            command: ConfigCommand::Check { config },
        } => {
            let cfg = Config::load(&config)?;
            let dir = &cfg.serve.model_dir;
            anyhow::ensure!(
                dir.is_dir(),
                "{}: model_dir `{}` is not a directory{}",
                config.display(),
                dir.display(),
                if dir.exists() {
                    ""
                } else {
                    " (it does not exist)"
                }
            );
            say!("{}: ok", config.display())?;
            say!("{:#?}", cfg.serve)?;
            Ok(())
        }
    }
}

fn calibrate(out: Option<PathBuf>, quick: bool, plot: Option<PathBuf>) -> anyhow::Result<()> {
    use batuta::select::{BackendSelector, CostModel, Profile, calibrate};
    let path = out
        .or_else(Profile::default_path)
        .context("no cache directory: pass --out")?;
    let bar = indicatif::ProgressBar::new(1);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .expect("a valid template"),
    );
    let (profile, samples) =
        calibrate::calibrate(calibrate::Options { quick }, |done, total, what| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            bar.set_message(what.to_owned());
        })?;
    bar.finish_and_clear();
    profile.save(&path)?;
    say!("machine: {}", profile.machine)?;
    say!(
        "host memory bandwidth: {:.1} GB/s",
        profile.host_bandwidth_gbs
    )?;
    if let Some(g) = &profile.gpu {
        say!(
            "GPU {}: dispatch {:.1} us, host->device {:.1} GB/s, device->host {:.1} GB/s",
            g.adapter,
            g.dispatch_us,
            g.h2d_gbs,
            g.d2h_gbs
        )?;
    }
    say!(
        "\n{:<8} {:<8} {:>14} {:>12} {:>10}",
        "kind",
        "backend",
        "FLOPs",
        "time",
        "GFLOP/s"
    )?;
    for s in &samples {
        let t = s.time.as_secs_f64();
        say!(
            "{:<8} {:<8} {:>14} {:>9.1} us {:>10.2}",
            s.op.kind().name(),
            s.backend.name(),
            s.op.flops(),
            t * 1e6,
            s.op.flops() as f64 / t / 1e9
        )?;
    }
    let selector = BackendSelector::new()
        .with_cost_model(CostModel::Gregg5x)
        .with_profile(profile);
    if let Some(plot) = plot {
        batuta::select::plot::crossover_svg(&plot, &samples, &selector)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        say!("plot: {}", plot.display())?;
    }
    say!("profile: {}", path.display())?;
    Ok(())
}

fn parse_op(op: &str, shape: &str) -> anyhow::Result<trueno::Op> {
    use trueno::Op;
    let dims: Vec<usize> = shape
        .split('x')
        .map(|d| d.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .with_context(|| {
            format!("--shape `{shape}`: dimensions are whole numbers separated by `x`")
        })?;
    let want = |n: usize, form: &str| -> anyhow::Result<()> {
        anyhow::ensure!(dims.len() == n, "--shape `{shape}`: `{op}` takes {form}");
        Ok(())
    };
    Ok(match op {
        "add" | "mul" | "relu" => {
            want(1, "N")?;
            let kind = trueno::OpKind::from_name(op).expect("listed");
            Op::Elementwise { kind, len: dims[0] }
        }
        "softmax" => {
            want(2, "ROWSxCOLS")?;
            Op::softmax(dims[0], dims[1])
        }
        "matvec" => {
            want(2, "MxN")?;
            Op::matvec(dims[0], dims[1])
        }
        "matmul" => {
            want(3, "MxKxN")?;
            Op::matmul(dims[0], dims[1], dims[2])
        }
        other => {
            anyhow::bail!("--op `{other}`: expected add, mul, relu, softmax, matvec or matmul")
        }
    })
}

fn select(
    op: &str,
    shape: &str,
    resident: bool,
    explain: bool,
    profile: Option<PathBuf>,
    model: Model,
) -> anyhow::Result<()> {
    use batuta::select::{BackendSelector, CostModel, Profile};
    let op = parse_op(op, shape)?;
    let model = match model {
        Model::Thresholds => CostModel::Thresholds,
        Model::Calibrated => CostModel::Calibrated,
        Model::Gregg5x => CostModel::Gregg5x,
    };
    let mut selector = BackendSelector::new().with_cost_model(model);
    let path = profile.clone().or_else(Profile::default_path);
    match path {
        Some(p) if p.exists() || profile.is_some() => {
            selector = selector.with_profile(Profile::load(&p)?)
        }
        _ => {}
    }
    let decision = selector.decide(&op, resident);
    if explain {
        write!(std::io::stdout().lock(), "{decision}")?;
    } else {
        say!("{}", decision.backend)?;
    }
    Ok(())
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
        say!("batuta listening on http://{}", listener.local_addr()?)?;
        batuta::http::serve(listener, state, cfg.serve.http, shutdown_signal()).await?;
        tracing::info!("shut down after finishing admitted requests");
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let on = |kind: tokio::signal::unix::SignalKind| async move {
        match tokio::signal::unix::signal(kind) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(unix)]
    let (term, hup) = (
        on(tokio::signal::unix::SignalKind::terminate()),
        on(tokio::signal::unix::SignalKind::hangup()),
    );
    #[cfg(not(unix))]
    let (term, hup) = (std::future::pending::<()>(), std::future::pending::<()>());
    tokio::select! { _ = ctrl_c => {}, _ = term => {}, _ = hup => {} }
    tracing::info!("shutting down: draining admitted requests");
}
