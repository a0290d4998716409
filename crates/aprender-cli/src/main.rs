//! `apr`: train, evaluate and inspect aprender models from the command line.
//!
//! ```text
//! apr train --model mlp --data train.csv --target label --out model.safetensors
//! apr eval  --model model.safetensors --data test.csv
//! apr info  model.safetensors
//! ```
//!
//! Exit codes: 0 success, 1 any error (printed once, with its cause chain).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use aprender::{
    Activation, AnyModel as Model, FORMAT_VERSION, KMeans, LinearRegression, LogisticRegression,
    Matrix, MlpClassifier, MlpParams, MlpRegressor, Ridge, Table, Task, metrics, train_test_split,
};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use trueno::Backend;

#[derive(Parser)]
#[command(
    name = "apr",
    version,
    about = "Train, evaluate and inspect aprender models"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fit a model to a CSV table and save it.
    Train(TrainArgs),
    /// Score a saved model on a CSV table with the same columns.
    Eval {
        /// The model file.
        #[arg(long)]
        model: PathBuf,
        /// The CSV table (header row; the model's feature and target columns).
        #[arg(long)]
        data: PathBuf,
    },
    /// Describe a saved model.
    Info {
        /// The model file.
        model: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Linear,
    Ridge,
    Logistic,
    Mlp,
    Kmeans,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TaskArg {
    /// Classify when the target is text or takes at most 20 integer values, else regress.
    Auto,
    Classify,
    Regress,
}

#[derive(Clone, Copy, ValueEnum)]
enum BackendArg {
    Scalar,
    Simd,
    Gpu,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// The model kind.
    #[arg(long)]
    model: Kind,
    /// The training table (CSV with a header row; every column but the target numeric).
    #[arg(long)]
    data: PathBuf,
    /// The target column.
    #[arg(long)]
    target: String,
    /// Where to write the model (`.safetensors`).
    #[arg(long)]
    out: PathBuf,
    /// For `mlp`: classifier or regressor.
    #[arg(long, value_enum, default_value = "auto")]
    task: TaskArg,
    /// Standardise features inside the model (default: on for ridge, logistic and mlp).
    #[arg(long, overrides_with = "no_scale")]
    scale: bool,
    /// Do not standardise features.
    #[arg(long)]
    no_scale: bool,
    /// Hold this fraction of rows out of training and report metrics on it too.
    #[arg(long, default_value_t = 0.0)]
    holdout: f64,
    /// Seed for initialisation, shuffling and splits.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Compute backend.
    #[arg(long, value_enum, default_value = "simd")]
    backend: BackendArg,
    /// Penalty: ridge's alpha (default 1) or the MLP's L2 term (default 1e-4).
    #[arg(long)]
    alpha: Option<f64>,
    /// Logistic regression's inverse regularisation strength.
    #[arg(long, default_value_t = 1.0)]
    c: f64,
    /// Iteration cap: L-BFGS steps (logistic, default 100) or epochs (mlp, default 200).
    #[arg(long)]
    max_iter: Option<usize>,
    /// MLP hidden layer widths.
    #[arg(long, value_delimiter = ',', default_value = "100")]
    hidden: Vec<usize>,
    /// MLP hidden activation.
    #[arg(long, default_value = "relu", value_parser = ["relu", "tanh"])]
    activation: String,
    /// MLP Adam step size.
    #[arg(long, default_value_t = 1e-3)]
    learning_rate: f32,
    /// MLP mini-batch rows (default min(200, rows)).
    #[arg(long)]
    batch_size: Option<usize>,
    /// MLP: stop on a validation split's score.
    #[arg(long)]
    early_stopping: bool,
    /// k-means clusters.
    #[arg(long, default_value_t = 8)]
    k: usize,
    /// k-means restarts.
    #[arg(long, default_value_t = 10)]
    n_init: usize,
}

/// Whether the error is a write to a closed pipe.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed stdout (`apr info m.safetensors | head -1`): the reader is gone.
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("apr: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(args) => train(&args),
        Command::Eval { model, data } => eval(&model, &data),
        Command::Info { model } => info(&model),
    }
}

/// A target column read for a task: class indices with their names, or values.
fn targets(table: &Table, task: Task) -> anyhow::Result<(Vec<f32>, Vec<String>)> {
    Ok(match task {
        Task::Classify => {
            let c = table.classes();
            (c.y, c.names)
        }
        Task::Regress => (table.values()?, Vec::new()),
        Task::Cluster => (Vec::new(), Vec::new()),
    })
}

fn guess_task(table: &Table) -> Task {
    match table.values() {
        Ok(v) => {
            let whole = v.iter().all(|x| x.fract() == 0.0);
            if whole && table.classes().names.len() <= 20 {
                Task::Classify
            } else {
                Task::Regress
            }
        }
        Err(_) => Task::Classify,
    }
}

fn build(args: &TrainArgs, task: Task) -> anyhow::Result<Model> {
    let backend = match args.backend {
        BackendArg::Scalar => Backend::Scalar,
        BackendArg::Simd => Backend::Simd,
        BackendArg::Gpu => Backend::Gpu,
    };
    let default_scale = !matches!(args.model, Kind::Linear | Kind::Kmeans);
    let scale = if args.no_scale {
        false
    } else {
        args.scale || default_scale
    };
    let mlp_params = || MlpParams {
        hidden: args.hidden.clone(),
        activation: if args.activation == "tanh" {
            Activation::Tanh
        } else {
            Activation::Relu
        },
        alpha: args.alpha.unwrap_or(1e-4) as f32,
        batch_size: args.batch_size,
        learning_rate: args.learning_rate,
        max_iter: args.max_iter.unwrap_or(200),
        early_stopping: args.early_stopping,
        seed: args.seed,
        ..MlpParams::default()
    };
    Ok(match (args.model, task) {
        (Kind::Linear, _) => Model::Linear(
            LinearRegression::new()
                .with_backend(backend)
                .standardize(scale),
        ),
        (Kind::Ridge, _) => Model::Ridge(
            Ridge::new()
                .alpha(args.alpha.unwrap_or(1.0))?
                .with_backend(backend)
                .standardize(scale),
        ),
        (Kind::Logistic, _) => Model::Logistic(
            LogisticRegression::new()
                .c(args.c)?
                .max_iter(args.max_iter.unwrap_or(100))?
                .with_backend(backend)
                .standardize(scale),
        ),
        (Kind::Mlp, Task::Regress) => Model::MlpRegressor(
            MlpRegressor::new(mlp_params())?
                .with_backend(backend)
                .standardize(scale),
        ),
        (Kind::Mlp, _) => Model::MlpClassifier(
            MlpClassifier::new(mlp_params())?
                .with_backend(backend)
                .standardize(scale),
        ),
        (Kind::Kmeans, _) => Model::KMeans(
            KMeans::new(args.k)?
                .n_init(args.n_init)?
                .seed(args.seed)
                .with_backend(backend)
                .standardize(scale),
        ),
    })
}

fn train(args: &TrainArgs) -> anyhow::Result<()> {
    let table = Table::from_csv(&args.data, &args.target)?;
    let task = match (args.model, args.task) {
        (Kind::Linear | Kind::Ridge, _) => Task::Regress,
        (Kind::Logistic, _) => Task::Classify,
        (Kind::Kmeans, _) => Task::Cluster,
        (Kind::Mlp, TaskArg::Classify) => Task::Classify,
        (Kind::Mlp, TaskArg::Regress) => Task::Regress,
        (Kind::Mlp, TaskArg::Auto) => guess_task(&table),
    };
    if args.holdout != 0.0 && !(args.holdout > 0.0 && args.holdout < 1.0) {
        bail!(
            "--holdout {} must lie strictly between 0 and 1 (or be 0 for none)",
            args.holdout
        );
    }
    let mut model = build(args, task)?;
    let (y, classes) = targets(&table, task)?;
    let (fit_rows, held) = if args.holdout > 0.0 {
        let stratify = (task == Task::Classify).then_some(y.as_slice());
        let (train, test) = train_test_split(table.rows(), args.holdout, args.seed, stratify)?;
        (train, Some(test))
    } else {
        ((0..table.rows()).collect(), None)
    };
    let part = |rows: &[usize]| -> anyhow::Result<(Matrix, Vec<f32>)> {
        let ys = if y.is_empty() {
            Vec::new()
        } else {
            rows.iter().map(|&i| y[i]).collect()
        };
        Ok((table.x.select_rows(rows)?, ys))
    };
    let (x_fit, y_fit) = part(&fit_rows)?;
    eprintln!(
        "training {} on {} rows × {} features of {}",
        model.kind(),
        x_fit.rows(),
        x_fit.cols(),
        args.data.display()
    );
    let started = Instant::now();
    fit(&mut model, &x_fit, &y_fit)?;
    let seconds = started.elapsed().as_secs_f64();
    let meta = model.meta_mut().context("a fitted model has metadata")?;
    meta.rename(table.features.clone(), table.target.clone(), classes)?;
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    model.save(&args.out)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "fit in {seconds:.3} s; wrote {}", args.out.display())?;
    writeln!(out, "train    {}", report(&model, &x_fit, &y_fit)?)?;
    if let Some(test) = held {
        let (x_te, y_te) = part(&test)?;
        writeln!(
            out,
            "holdout  {} ({} rows)",
            report(&model, &x_te, &y_te)?,
            test.len()
        )?;
    }
    Ok(())
}

/// Fits with a progress bar: per epoch for MLPs, a spinner otherwise
/// (indicatif draws nothing when stderr is not a terminal).
fn fit(model: &mut Model, x: &Matrix, y: &[f32]) -> anyhow::Result<()> {
    let style = |t: &str| ProgressStyle::with_template(t).expect("a fixed template");
    let mlp_bar = |max: usize| {
        let bar = ProgressBar::new(max as u64);
        bar.set_style(style("{elapsed:>4} [{bar:30}] epoch {pos}/{len} {msg}"));
        bar
    };
    let on_epoch = |bar: &ProgressBar| {
        let bar = bar.clone();
        move |e: &aprender::Epoch| {
            bar.set_position(e.epoch as u64);
            match e.validation {
                Some(v) => bar.set_message(format!("loss {:.5} validation {v:.4}", e.loss)),
                None => bar.set_message(format!("loss {:.5}", e.loss)),
            }
        }
    };
    let result = match &mut *model {
        Model::MlpClassifier(m) => {
            let bar = mlp_bar(m.params().max_iter);
            let r = m.fit_with(x, y, &mut on_epoch(&bar));
            bar.finish_and_clear();
            r
        }
        Model::MlpRegressor(m) => {
            let bar = mlp_bar(m.params().max_iter);
            let r = m.fit_with(x, y, &mut on_epoch(&bar));
            bar.finish_and_clear();
            r
        }
        other => {
            let bar = ProgressBar::new_spinner();
            bar.set_style(style("{spinner} {elapsed} fitting"));
            bar.enable_steady_tick(std::time::Duration::from_millis(100));
            let r = other.estimator_mut().fit(x, y);
            bar.finish_and_clear();
            r
        }
    };
    let history = match &*model {
        Model::MlpClassifier(m) => m.history(),
        Model::MlpRegressor(m) => m.history(),
        _ => None,
    };
    if let Some(h) = history.filter(|h| !h.converged) {
        eprintln!(
            "note: stopped at the epoch cap ({}) before converging",
            h.loss.len()
        );
    }
    Ok(result?)
}

/// The metrics of the model's task on `x`, `y`.
fn report(model: &Model, x: &Matrix, y: &[f32]) -> anyhow::Result<String> {
    let pred = model.estimator().predict(x)?;
    Ok(match model.task() {
        Task::Classify => format!(
            "accuracy {:.4}  f1_macro {:.4}",
            metrics::accuracy(y, &pred)?,
            metrics::f1_macro(y, &pred)?
        ),
        Task::Regress => {
            format!(
                "r2 {:.4}  mse {:.4}",
                metrics::r2(y, &pred)?,
                metrics::mse(y, &pred)?
            )
        }
        Task::Cluster => format!("inertia {:.4}", -model.estimator().score(x, y)?),
    })
}

fn eval(model_path: &Path, data: &Path) -> anyhow::Result<()> {
    let model = Model::load(model_path)?;
    let meta = model.meta().context("a loaded model has metadata")?;
    let table = Table::from_csv(data, &meta.target)?;
    if table.features != meta.features {
        bail!(
            "{}: the feature columns are [{}], the model was trained on [{}]",
            data.display(),
            table.features.join(", "),
            meta.features.join(", ")
        );
    }
    let y = match model.task() {
        Task::Classify => table.classes_as(&meta.classes)?,
        Task::Regress => table.values()?,
        Task::Cluster => Vec::new(),
    };
    writeln!(
        std::io::stdout().lock(),
        "{} on {} rows: {}",
        model.kind(),
        table.rows(),
        report(&model, &table.x, &y)?
    )?;
    Ok(())
}

fn info(path: &Path) -> anyhow::Result<()> {
    let model = Model::load(path)?;
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let meta = model.meta().context("a loaded model has metadata")?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "file      {} ({size} bytes, format version {FORMAT_VERSION})",
        path.display()
    )?;
    writeln!(out, "model     {}", model.kind())?;
    let network = match &model {
        Model::MlpClassifier(m) => m.network(),
        Model::MlpRegressor(m) => m.network(),
        _ => None,
    };
    if let Some(n) = network {
        let sizes: Vec<String> = n.sizes().iter().map(usize::to_string).collect();
        let act = match n.activation() {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
        };
        writeln!(out, "layers    {} ({act} hidden)", sizes.join("-"))?;
    }
    writeln!(
        out,
        "features  {} [{}]",
        meta.features.len(),
        meta.features.join(", ")
    )?;
    writeln!(out, "target    {}", meta.target)?;
    if !meta.classes.is_empty() {
        writeln!(
            out,
            "classes   {} [{}]",
            meta.classes.len(),
            meta.classes.join(", ")
        )?;
    }
    writeln!(
        out,
        "scaler    {}",
        if meta.scaler.is_some() {
            "standard (saved)"
        } else {
            "none"
        }
    )?;
    let params = model.parameters();
    let total: usize = params
        .iter()
        .map(|(_, s)| s.iter().product::<usize>())
        .sum();
    writeln!(out, "parameters {total}")?;
    for (name, shape) in params {
        writeln!(out, "  {name:<18} {shape:?}")?;
    }
    Ok(())
}
