//! Writes a freshly initialised MLP to a model file, for trying the stack out.
//!
//! `cargo run -p aprender --example init_mlp -- --layers 4,16,3 --out models/demo.safetensors`

use anyhow::Context;
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// Layer sizes, inputs first and classes last, e.g. 4,16,3.
    #[arg(long, value_delimiter = ',', required = true)]
    layers: Vec<usize>,
    /// Where to write the model.
    #[arg(long)]
    out: std::path::PathBuf,
    /// Seed of the weight initialisation.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mlp = aprender::Mlp::random(&args.layers, args.seed)?;
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    mlp.save(&args.out)?;
    println!("wrote {} (layers {:?})", args.out.display(), mlp.sizes());
    Ok(())
}
