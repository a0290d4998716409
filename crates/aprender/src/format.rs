//! The model file: safetensors with aprender's metadata, shared by every model.
//!
//! Every file carries `format` = `aprender`, `format_version`, `model` (the
//! kind: `mlp`, `linear_regression`, `ridge`, `logistic_regression`, `kmeans`)
//! and `aprender_version` (informational), plus what the kind needs. Tensors are
//! little-endian F32. Reading checks every key, every tensor's dtype, shape and
//! values, and that no tensor is left unused: it never trusts the file.

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::{AprenderError, FileProblem};

/// The model-file format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 2;

const FORMAT: &str = "aprender";

/// Builds a model file in memory.
pub struct Writer {
    meta: HashMap<String, String>,
    tensors: Vec<(String, Vec<usize>, Vec<u8>)>,
}

impl Writer {
    pub(crate) fn new(kind: &str) -> Writer {
        let meta = HashMap::from([
            ("format".to_owned(), FORMAT.to_owned()),
            ("model".to_owned(), kind.to_owned()),
            ("format_version".to_owned(), FORMAT_VERSION.to_string()),
            (
                "aprender_version".to_owned(),
                env!("CARGO_PKG_VERSION").to_owned(),
            ),
        ]);
        Writer {
            meta,
            tensors: Vec::new(),
        }
    }

    pub(crate) fn meta(&mut self, key: &str, value: impl Into<String>) {
        self.meta.insert(key.to_owned(), value.into());
    }

    /// A list of names, stored as a JSON array so names may hold commas.
    pub(crate) fn names(&mut self, key: &str, names: &[String]) {
        let json = serde_json::to_string(names).expect("strings always encode");
        self.meta(key, json);
    }

    pub(crate) fn tensor(&mut self, name: &str, shape: &[usize], values: &[f32]) {
        debug_assert_eq!(shape.iter().product::<usize>(), values.len());
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.tensors.push((name.to_owned(), shape.to_vec(), bytes));
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        let views = self.tensors.iter().map(|(name, shape, data)| {
            let view = TensorView::new(Dtype::F32, shape.clone(), data)
                .expect("shape matches data by construction");
            (name.as_str(), view)
        });
        safetensors::serialize(views, Some(self.meta))
            .expect("an in-memory model always serialises")
    }
}

/// [`crate::file::write_atomic`], its error naming the model file.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AprenderError> {
    crate::file::write_atomic(path, bytes).map_err(|source| AprenderError::Io {
        path: path.to_owned(),
        source,
    })
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, AprenderError> {
    std::fs::read(path).map_err(|source| AprenderError::Io {
        path: path.to_owned(),
        source,
    })
}

/// A parsed model file whose format and version have been checked.
pub struct Reader<'a> {
    meta: HashMap<String, String>,
    tensors: SafeTensors<'a>,
    used: Vec<String>,
}

impl<'a> Reader<'a> {
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Reader<'a>, FileProblem> {
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| FileProblem::NotSafetensors(e.to_string()))?;
        let tensors = SafeTensors::deserialize(bytes)
            .map_err(|e| FileProblem::NotSafetensors(e.to_string()))?;
        let reader = Reader {
            meta: header.metadata().clone().unwrap_or_default(),
            tensors,
            used: Vec::new(),
        };
        reader.expect("format", FORMAT)?;
        // The version is checked before anything else: a newer format may name keys differently.
        let version = reader.get("format_version")?;
        if version.parse::<u32>().ok() != Some(FORMAT_VERSION) {
            return Err(FileProblem::UnsupportedVersion {
                found: version.to_owned(),
                supported: FORMAT_VERSION,
            });
        }
        reader.get("model")?;
        Ok(reader)
    }

    /// A safetensors file written by another tool (a Hugging Face model):
    /// no aprender metadata is required; tensors are checked as they are read.
    pub(crate) fn foreign(bytes: &'a [u8]) -> Result<Reader<'a>, FileProblem> {
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| FileProblem::NotSafetensors(e.to_string()))?;
        let tensors = SafeTensors::deserialize(bytes)
            .map_err(|e| FileProblem::NotSafetensors(e.to_string()))?;
        Ok(Reader {
            meta: header.metadata().clone().unwrap_or_default(),
            tensors,
            used: Vec::new(),
        })
    }

    /// Accepts tensor `name` unread if it is present (a buffer the model
    /// recomputes, such as BERT's `position_ids`), so [`finish`](Self::finish)
    /// does not count it as unexpected.
    pub(crate) fn skip(&mut self, name: &str) {
        if self.has_tensor(name) {
            self.used.push(name.to_owned());
        }
    }

    /// The model kind the file declares.
    pub(crate) fn kind(&self) -> &str {
        &self.meta["model"]
    }

    pub(crate) fn get(&self, key: &'static str) -> Result<&str, FileProblem> {
        self.meta
            .get(key)
            .map(String::as_str)
            .ok_or(FileProblem::MissingMetadata(key))
    }

    pub(crate) fn expect(
        &self,
        key: &'static str,
        expected: &'static str,
    ) -> Result<(), FileProblem> {
        self.one_of(key, &[expected]).map(drop)
    }

    /// The value of `key`, which must be one of `allowed`.
    pub(crate) fn one_of(
        &self,
        key: &'static str,
        allowed: &[&'static str],
    ) -> Result<&'static str, FileProblem> {
        let found = self.get(key)?;
        allowed
            .iter()
            .find(|&&a| a == found)
            .copied()
            .ok_or_else(|| FileProblem::WrongKind {
                key,
                found: shorten(found),
                expected: allowed.join("` or `"),
            })
    }

    pub(crate) fn bad(&self, key: &'static str, why: &'static str) -> FileProblem {
        FileProblem::BadMetadata {
            key,
            value: shorten(self.meta.get(key).map_or("", String::as_str)),
            why,
        }
    }

    /// A numeric metadata value.
    pub(crate) fn number<T: std::str::FromStr>(
        &self,
        key: &'static str,
        why: &'static str,
    ) -> Result<T, FileProblem> {
        self.get(key)?
            .trim()
            .parse()
            .map_err(|_| self.bad(key, why))
    }

    /// A non-empty JSON array of strings.
    pub(crate) fn name_list(&self, key: &'static str) -> Result<Vec<String>, FileProblem> {
        serde_json::from_str::<Vec<String>>(self.get(key)?)
            .ok()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| self.bad(key, "not a non-empty JSON array of strings"))
    }

    /// A JSON array of `len` strings.
    pub(crate) fn names(&self, key: &'static str, len: usize) -> Result<Vec<String>, FileProblem> {
        let names = self.name_list(key)?;
        if names.len() != len {
            return Err(self.bad(key, "the count disagrees with the tensor shapes"));
        }
        Ok(names)
    }

    pub(crate) fn has_tensor(&self, name: &str) -> bool {
        self.tensors.names().contains(&name)
    }

    /// The shape of tensor `name`, for kinds whose sizes come from the tensors.
    pub(crate) fn shape(&self, name: &str) -> Result<Vec<usize>, FileProblem> {
        self.tensors
            .tensor(name)
            .map(|v| v.shape().to_vec())
            .map_err(|_| FileProblem::MissingTensor(name.to_owned()))
    }

    /// Reads tensor `name`, which must be F32 of exactly `shape` and all finite.
    pub(crate) fn tensor(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, FileProblem> {
        let view = self
            .tensors
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
        self.used.push(name.to_owned());
        Ok(values)
    }

    /// Fails on any tensor the model did not read.
    pub(crate) fn finish(self) -> Result<(), FileProblem> {
        let mut names = self.tensors.names();
        names.sort_unstable();
        match names
            .into_iter()
            .find(|n| !self.used.iter().any(|u| u == n))
        {
            Some(extra) => Err(FileProblem::UnexpectedTensor(extra.to_owned())),
            None => Ok(()),
        }
    }
}

fn shorten(s: &str) -> String {
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// How a model writes itself to and reads itself from a model file.
/// Implemented by every model; use [`Persist`] to save and load.
pub trait Codec: Sized {
    /// The `model` kinds this type reads.
    const KINDS: &'static [&'static str];
    /// Adds the model's metadata and tensors (errors if the model is not fitted).
    fn encode(&self, w: &mut Writer) -> Result<(), AprenderError>;
    /// Rebuilds the model from a checked file of one of [`Self::KINDS`].
    fn decode(r: &mut Reader<'_>) -> Result<Self, FileProblem>;
}

/// Saving to and loading from `.safetensors` model files.
pub trait Persist: Codec {
    /// The model file's bytes.
    fn to_bytes(&self) -> Result<Vec<u8>, AprenderError> {
        let mut w = Writer::new(Self::KINDS[0]);
        self.encode(&mut w)?;
        Ok(w.into_bytes())
    }

    /// Writes the model file atomically (see [`Persist::to_bytes`]).
    fn save(&self, path: impl AsRef<Path>) -> Result<(), AprenderError> {
        write_atomic(path.as_ref(), &self.to_bytes()?)
    }

    /// Parses and validates model-file bytes; `origin` names them in errors.
    fn from_bytes(bytes: &[u8], origin: &str) -> Result<Self, AprenderError> {
        decode_checked(bytes, origin, |r| {
            let kind = r.one_of("model", Self::KINDS)?;
            debug_assert!(Self::KINDS.contains(&kind));
            Self::decode(r)
        })
    }

    /// Reads and validates a model file.
    fn load(path: impl AsRef<Path>) -> Result<Self, AprenderError> {
        let path = path.as_ref();
        Self::from_bytes(&read_file(path)?, &path.display().to_string())
    }
}

impl<T: Codec> Persist for T {}

/// Parses `bytes`, runs `decode`, then checks no tensor was left unread.
pub(crate) fn decode_checked<T>(
    bytes: &[u8],
    origin: &str,
    decode: impl FnOnce(&mut Reader<'_>) -> Result<T, FileProblem>,
) -> Result<T, AprenderError> {
    let run = || {
        let mut r = Reader::parse(bytes)?;
        let model = decode(&mut r)?;
        r.finish()?;
        Ok(model)
    };
    run().map_err(|problem| AprenderError::BadFile {
        origin: origin.to_owned(),
        problem,
    })
}

/// The `model` kind a model file declares (`mlp`, `linear_regression`,
/// `ridge`, `logistic_regression`, `kmeans`), after checking its format and
/// version; `origin` names the bytes in errors. Use it to pick the type to load.
pub fn model_kind(bytes: &[u8], origin: &str) -> Result<String, AprenderError> {
    Reader::parse(bytes)
        .map(|r| r.kind().to_owned())
        .map_err(|problem| AprenderError::BadFile {
            origin: origin.to_owned(),
            problem,
        })
}
