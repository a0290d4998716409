//! Loading models into an [`Engine`](crate::Engine): model files written by
//! `apr` (`*.safetensors`, an MLP each) and Hugging Face encoder folders
//! (`config.json`, `model.safetensors`, `tokenizer.json`).
//!
//! A model's name is its file stem (`models/iris.safetensors` → `iris`) or its
//! folder's name. A bad file is reported and skipped; it never stops the
//! others from loading.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aprender::encoder::Encoder;
use aprender::{AprenderError, Mlp};

use crate::{Engine, Model};

/// What loading a directory did.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Models now registered, as (name, file).
    pub loaded: Vec<(String, PathBuf)>,
    /// Files that were not loaded, with the reason.
    pub skipped: Vec<(PathBuf, AprenderError)>,
}

/// The name a model is registered under: a file's stem or a folder's name.
pub fn model_name(path: &Path) -> Option<String> {
    let name = if path.is_dir() {
        path.file_name()
    } else {
        path.file_stem()
    };
    name.and_then(|s| s.to_str()).map(str::to_owned)
}

/// Loads one model — an MLP file, or an encoder folder — and registers it
/// under its file stem or folder name.
pub fn load_file(engine: &Engine, path: &Path) -> Result<String, AprenderError> {
    let name = model_name(path).ok_or_else(|| AprenderError::Io {
        path: path.to_owned(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "file name is not valid UTF-8",
        ),
    })?;
    let model: Arc<dyn Model> = if path.is_dir() {
        Arc::new(Encoder::load(path)?)
    } else {
        Arc::new(Mlp::load(path)?)
    };
    engine.insert_model(&name, model);
    Ok(name)
}

/// Loads every `*.safetensors` file in `dir` (not recursing), in name order.
pub fn load_dir(engine: &Engine, dir: &Path) -> Result<LoadReport, AprenderError> {
    let io = |source| AprenderError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .collect();
    files.sort();
    let mut report = LoadReport::default();
    for path in files {
        match load_file(engine, &path) {
            Ok(name) => report.loaded.push((name, path)),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "skipping model file");
                report.skipped.push((path, e));
            }
        }
    }
    Ok(report)
}
