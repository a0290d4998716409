//! The `realizar` command: run a model on inputs, or benchmark it.
//!
//! A model is an `apr` model file (an MLP over rows of numbers) or a Hugging
//! Face encoder folder (`config.json`, `model.safetensors`, `tokenizer.json`:
//! sentence embeddings of texts).
//!
//! `realizar run --model PATH --input inputs.json [--backend simd|gpu|scalar]`
//! prints one JSON array per input: class probabilities (or outputs) for a row,
//! the embedding for a text. `inputs.json` is a JSON array of rows (arrays of
//! numbers) for an MLP, of strings for an encoder.
//! `realizar bench --model PATH --batch 1,8,64,512 [--backend …] [--input texts.txt]`
//! prints throughput and p50/p99 latency per backend and batch size; an
//! encoder needs `--input`, a text file of one sentence per line, cycled
//! through to fill each batch.
//!
//! Exit codes: 0 success, 1 an error (printed once, with its causes), 2 bad usage.
#![forbid(unsafe_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use realizar::{BackendConfig, Engine, InferenceInput, InputKind};
use trueno::Backend;

#[derive(Parser)]
#[command(name = "realizar", version, about = "Run and benchmark models")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a model on the inputs of a JSON file.
    Run {
        /// The model file or encoder folder.
        #[arg(long)]
        model: PathBuf,
        /// A JSON array of rows (MLP) or of strings (encoder).
        #[arg(long)]
        input: PathBuf,
        /// Backend: scalar, simd or gpu.
        #[arg(long, default_value = "simd")]
        backend: Backend,
    },
    /// Throughput and latency per backend and batch size.
    Bench {
        /// The model file or encoder folder.
        #[arg(long)]
        model: PathBuf,
        /// Batch sizes (rows or texts per request).
        #[arg(long, value_delimiter = ',', default_value = "1,8,64,512")]
        batch: Vec<usize>,
        /// Backend (default: every available one).
        #[arg(long)]
        backend: Option<Backend>,
        /// For an encoder: a text file, one sentence per line.
        #[arg(long)]
        input: Option<PathBuf>,
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

fn engine_for(model: &Path, backends: &[Backend]) -> anyhow::Result<(Engine, String, InputKind)> {
    let pools: Vec<BackendConfig> = backends
        .iter()
        .map(|&b| BackendConfig::new(b, 4, 1))
        .collect();
    let engine = Engine::new(&pools)?;
    let name = realizar::registry::load_file(&engine, model)
        .with_context(|| format!("loading {}", model.display()))?;
    let kind = engine.model(&name).expect("just loaded").signature().input;
    Ok((engine, name, kind))
}

/// The request of a JSON inputs file for a model taking `kind`.
fn parse_inputs(
    name: &str,
    kind: InputKind,
    path: &Path,
    text: &str,
) -> anyhow::Result<InferenceInput> {
    Ok(match kind {
        InputKind::Text => {
            let texts: Vec<String> = serde_json::from_str(text)
                .with_context(|| format!("{}: expected a JSON array of strings", path.display()))?;
            InferenceInput::texts(name, texts)
        }
        InputKind::Features(features) => {
            let rows: Vec<Vec<f32>> = serde_json::from_str(text).with_context(|| {
                format!(
                    "{}: expected a JSON array of rows of numbers",
                    path.display()
                )
            })?;
            if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != features) {
                bail!(
                    "{}: row {i} has {} values, the model takes {features}",
                    path.display(),
                    r.len()
                );
            }
            InferenceInput::rows(name, rows.len(), rows.concat())
        }
    })
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
            let (engine, name, kind) = engine_for(&model, &[backend])?;
            let request = parse_inputs(&name, kind, &input, &text)?;
            let out = engine.submit(backend, request)?.wait()?;
            let per_row: Vec<&[f32]> = out.data.chunks(out.cols.max(1)).collect();
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
            input,
        } => bench(&model, &batch, backend, input.as_deref()),
    }
}

/// A request of `n` items for the model: rows of fixed pseudo-random values,
/// or `n` sentences cycled from `texts`.
fn request(name: &str, kind: InputKind, n: usize, texts: &[String]) -> InferenceInput {
    match kind {
        InputKind::Features(features) => InferenceInput::rows(
            name,
            n,
            (0..n * features)
                .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
                .collect::<Vec<_>>(),
        ),
        InputKind::Text => {
            InferenceInput::texts(name, texts.iter().cycle().take(n).cloned().collect())
        }
    }
}

fn bench(
    model: &Path,
    batches: &[usize],
    backend: Option<Backend>,
    input: Option<&Path>,
) -> anyhow::Result<()> {
    let backends: Vec<Backend> = match backend {
        Some(b) => vec![b],
        None => Backend::ALL
            .into_iter()
            .filter(|b| b.is_available())
            .collect(),
    };
    let (engine, name, kind) = engine_for(model, &backends)?;
    let texts: Vec<String> = match (kind, input) {
        (InputKind::Features(_), _) => Vec::new(),
        (InputKind::Text, None) => bail!(
            "{} is an encoder: give its sentences with --input FILE (one per line)",
            model.display()
        ),
        (InputKind::Text, Some(path)) => {
            let all = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let lines: Vec<String> = all
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned)
                .collect();
            if lines.is_empty() {
                bail!("{}: no sentences (one per line)", path.display());
            }
            lines
        }
    };
    let unit = match kind {
        InputKind::Features(_) => "rows",
        InputKind::Text => "texts",
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "| backend | batch | requests | {unit}/s | p50 ms | p99 ms |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|")?;
    for &b in &backends {
        for &n in batches {
            let input = request(&name, kind, n, &texts);
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
            let throughput = (lat.len() * n) as f64 / total.as_secs_f64();
            writeln!(
                out,
                "| {b} | {n} | {} | {throughput:.0} | {:.3} | {:.3} |",
                lat.len(),
                pct(0.5),
                pct(0.99)
            )?;
        }
    }
    Ok(())
}
