//! The model file: safetensors with aprender's metadata.
//!
//! Tensors are `layers.{i}.weight` (`inputs × outputs`) and `layers.{i}.bias`
//! (`outputs`), all little-endian F32. Metadata keys: `format` = `aprender`,
//! `model` = `mlp`, `format_version`, `layers` (comma-separated sizes),
//! `hidden_activation` = `relu`, `output_activation` = `softmax`, and
//! `aprender_version` (informational). Loading checks every one of these and
//! every tensor's dtype, shape and values; it never trusts the file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::{AprenderError, Dense, FileProblem, Mlp};

/// The model-file format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

const FORMAT: &str = "aprender";
const KIND: &str = "mlp";

fn to_le_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

impl Mlp {
    /// Serialises the model to safetensors bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let sizes = self
            .sizes()
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let metadata = HashMap::from([
            ("format".to_owned(), FORMAT.to_owned()),
            ("model".to_owned(), KIND.to_owned()),
            ("format_version".to_owned(), FORMAT_VERSION.to_string()),
            ("layers".to_owned(), sizes),
            ("hidden_activation".to_owned(), "relu".to_owned()),
            ("output_activation".to_owned(), "softmax".to_owned()),
            (
                "aprender_version".to_owned(),
                env!("CARGO_PKG_VERSION").to_owned(),
            ),
        ]);
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .layers()
            .iter()
            .enumerate()
            .flat_map(|(i, l)| {
                [
                    (
                        format!("layers.{i}.weight"),
                        vec![l.inputs, l.outputs],
                        to_le_bytes(&l.weight),
                    ),
                    (
                        format!("layers.{i}.bias"),
                        vec![l.outputs],
                        to_le_bytes(&l.bias),
                    ),
                ]
            })
            .collect();
        let views = bytes.iter().map(|(name, shape, data)| {
            let view = TensorView::new(Dtype::F32, shape.clone(), data)
                .expect("shape matches data by construction");
            (name.as_str(), view)
        });
        safetensors::serialize(views, Some(metadata)).expect("an in-memory model always serialises")
    }

    /// Writes the model to `path` atomically: a temporary file in the same
    /// directory is written, synced and renamed, so a crash never leaves a
    /// half-written model where a loader could find it.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), AprenderError> {
        use std::io::Write;
        let path = path.as_ref();
        let io = |source| AprenderError::Io {
            path: path.to_owned(),
            source,
        };
        let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
        tmp_name.push(format!(".{}.tmp", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&self.to_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(e)
        })
    }

    /// Reads and validates a model file.
    pub fn load(path: impl AsRef<Path>) -> Result<Mlp, AprenderError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| AprenderError::Io {
            path: PathBuf::from(path),
            source,
        })?;
        Mlp::from_bytes(&bytes, &path.display().to_string())
    }

    /// Parses and validates safetensors bytes; `origin` names them in errors.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Mlp, AprenderError> {
        parse(bytes).map_err(|problem| AprenderError::BadFile {
            origin: origin.to_owned(),
            problem,
        })
    }
}

fn parse(bytes: &[u8]) -> Result<Mlp, FileProblem> {
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| FileProblem::NotSafetensors(e.to_string()))?;
    let tensors =
        SafeTensors::deserialize(bytes).map_err(|e| FileProblem::NotSafetensors(e.to_string()))?;
    let empty = HashMap::new();
    let meta = header.metadata().as_ref().unwrap_or(&empty);
    let get = |key: &'static str| {
        meta.get(key)
            .map(String::as_str)
            .ok_or(FileProblem::MissingMetadata(key))
    };
    let expect = |key: &'static str, expected: &'static str| match get(key)? {
        found if found == expected => Ok(()),
        found => Err(FileProblem::WrongKind {
            key,
            found: found.to_owned(),
            expected,
        }),
    };
    expect("format", FORMAT)?;
    expect("model", KIND)?;
    // The version is checked before the layout keys: a newer format may name them differently.
    let version = get("format_version")?;
    if version.parse::<u32>().ok() != Some(FORMAT_VERSION) {
        return Err(FileProblem::UnsupportedVersion {
            found: version.to_owned(),
            supported: FORMAT_VERSION,
        });
    }
    expect("hidden_activation", "relu")?;
    expect("output_activation", "softmax")?;
    let layers_text = get("layers")?;
    let sizes: Vec<usize> = layers_text
        .split(',')
        .map(|s| s.trim().parse::<usize>().ok().filter(|&n| n > 0))
        .collect::<Option<_>>()
        .filter(|s: &Vec<usize>| s.len() >= 2)
        .ok_or_else(|| FileProblem::BadLayers(layers_text.to_owned()))?;

    let mut layers = Vec::with_capacity(sizes.len() - 1);
    for (i, w) in sizes.windows(2).enumerate() {
        let weight = read_f32(&tensors, &format!("layers.{i}.weight"), &[w[0], w[1]])?;
        let bias = read_f32(&tensors, &format!("layers.{i}.bias"), &[w[1]])?;
        layers.push(Dense {
            inputs: w[0],
            outputs: w[1],
            weight,
            bias,
        });
    }
    let expected_names = 2 * layers.len();
    if tensors.len() != expected_names {
        let extra = tensors
            .names()
            .into_iter()
            .find(|n| !is_layer_tensor(n, layers.len()))
            .unwrap_or_default()
            .to_owned();
        return Err(FileProblem::UnexpectedTensor(extra));
    }
    Ok(Mlp::from_layers(layers).expect("sizes chain by construction"))
}

fn is_layer_tensor(name: &str, n_layers: usize) -> bool {
    (0..n_layers)
        .any(|i| name == format!("layers.{i}.weight") || name == format!("layers.{i}.bias"))
}

fn read_f32(
    tensors: &SafeTensors<'_>,
    name: &str,
    shape: &[usize],
) -> Result<Vec<f32>, FileProblem> {
    let view = tensors
        .tensor(name)
        .map_err(|_| FileProblem::MissingTensor(name.to_owned()))?;
    if view.dtype() != Dtype::F32 {
        return Err(FileProblem::WrongDtype {
            name: name.to_owned(),
            found: format!("{:?}", view.dtype()),
        });
    }
    if view.shape() != shape {
        return Err(FileProblem::WrongShape {
            name: name.to_owned(),
            found: view.shape().to_vec(),
            expected: shape.to_vec(),
        });
    }
    let values: Vec<f32> = view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if let Some(index) = values.iter().position(|v| !v.is_finite()) {
        return Err(FileProblem::NonFinite {
            name: name.to_owned(),
            index,
        });
    }
    Ok(values)
}
