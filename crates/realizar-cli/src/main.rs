//! The `realizar` command: run a model file on rows, or benchmark it.
//!
//! `realizar run --model m.safetensors --input rows.json [--backend simd|gpu|scalar]`
//! prints the class probabilities as JSON, one array per row; `rows.json` is a
//! JSON array of rows (arrays of numbers).
//! `realizar bench --model m.safetensors --batch 1,8,64,512 [--backend …]` prints
//! throughput and p50/p99 latency per backend and batch size.
//!
//! Exit codes: 0 success, 1 an error (printed once, with its causes), 2 bad usage.
#![forbid(unsafe_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use realizar::{BackendConfig, Engine, InferenceInput};
use trueno::Backend;

#[derive(Parser)]
#[command(name = "realizar", version, about = "Run and benchmark model files")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Predict class probabilities for the rows of a JSON file.
    Run {
        /// The model file.
        #[arg(long)]
        model: PathBuf,
        /// A JSON array of rows.
        #[arg(long)]
        input: PathBuf,
        /// Backend: scalar, simd or gpu.
        #[arg(long, default_value = "simd")]
        backend: Backend,
    },
    /// Throughput and latency per backend and batch size.
    Bench {
        /// The model file.
        #[arg(long)]
        model: PathBuf,
        /// Batch sizes (rows per request).
        #[arg(long, value_delimiter = ',', default_value = "1,8,64,512")]
        batch: Vec<usize>,
        /// Backend (default: every available one).
        #[arg(long)]
        backend: Option<Backend>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("realizar: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn engine_for(model: &Path, backends: &[Backend]) -> anyhow::Result<(Engine, String)> {
    let pools: Vec<BackendConfig> = backends
        .iter()
        .map(|&b| BackendConfig::new(b, 4, 1))
        .collect();
    let engine = Engine::new(&pools)?;
    let name = realizar::registry::load_file(&engine, model)?;
    Ok((engine, name))
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Run {
            model,
            input,
            backend,
        } => {
            let text = std::fs::read_to_string(&input)
                .with_context(|| format!("reading {}", input.display()))?;
            let rows: Vec<Vec<f32>> = serde_json::from_str(&text).with_context(|| {
                format!(
                    "{}: expected a JSON array of rows of numbers",
                    input.display()
                )
            })?;
            let (engine, name) = engine_for(&model, &[backend])?;
            let features = engine.model(&name).expect("just loaded").n_features();
            if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != features) {
                bail!(
                    "{}: row {i} has {} values, the model takes {features}",
                    input.display(),
                    r.len()
                );
            }
            let data: Vec<f32> = rows.concat();
            let out = engine
                .submit(
                    backend,
                    InferenceInput {
                        model: name,
                        rows: rows.len(),
                        data: data.into(),
                    },
                )?
                .wait()?;
            let per_row: Vec<&[f32]> = out.data.chunks(out.classes.max(1)).collect();
            writeln!(
                std::io::stdout().lock(),
                "{}",
                serde_json::to_string(&per_row)?
            )?;
            Ok(())
        }
        Command::Bench {
            model,
            batch,
            backend,
        } => bench(&model, &batch, backend),
    }
}

fn bench(model: &Path, batches: &[usize], backend: Option<Backend>) -> anyhow::Result<()> {
    let backends: Vec<Backend> = match backend {
        Some(b) => vec![b],
        None => Backend::ALL
            .into_iter()
            .filter(|b| b.is_available())
            .collect(),
    };
    let (engine, name) = engine_for(model, &backends)?;
    let features = engine.model(&name).expect("just loaded").n_features();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "| backend | batch | requests | rows/s | p50 ms | p99 ms |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|")?;
    for &b in &backends {
        for &rows in batches {
            let data: Arc<[f32]> = (0..rows * features)
                .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
                .collect::<Vec<_>>()
                .into();
            let input = InferenceInput {
                model: name.clone(),
                rows,
                data,
            };
            engine.submit(b, input.clone())?.wait()?; // warm-up (GPU: uploads the weights)
            let mut lat = Vec::new();
            let start = Instant::now();
            while lat.len() < 20 || (start.elapsed() < Duration::from_secs(1) && lat.len() < 10_000)
            {
                let t = Instant::now();
                engine.submit(b, input.clone())?.wait()?;
                lat.push(t.elapsed());
            }
            let total = start.elapsed();
            lat.sort();
            let pct = |q: f64| {
                lat[((lat.len() as f64 * q).ceil() as usize).clamp(1, lat.len()) - 1].as_secs_f64()
                    * 1e3
            };
            let throughput = (lat.len() * rows) as f64 / total.as_secs_f64();
            writeln!(
                out,
                "| {b} | {rows} | {} | {throughput:.0} | {:.3} | {:.3} |",
                lat.len(),
                pct(0.5),
                pct(0.99)
            )?;
        }
    }
    Ok(())
}
