//! aprender's error type.

use std::path::PathBuf;

use trueno::TruenoError;

/// What can go wrong building, running, saving or loading a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AprenderError {
    /// The layer sizes cannot form a model.
    #[error("invalid architecture: {0}")]
    Architecture(String),
    /// The input batch does not match the model.
    #[error("input has {len} values, but {rows} rows of {features} features need {}", rows * features)]
    InputShape {
        /// Values passed.
        len: usize,
        /// Rows the caller declared.
        rows: usize,
        /// Features the model takes per row.
        features: usize,
    },
    /// Features or targets a model cannot learn from or predict on.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A hyper-parameter is out of its range.
    #[error("invalid parameter `{name}` = {value}: {why}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// The value given.
        value: String,
        /// What the parameter allows.
        why: &'static str,
    },
    /// `predict`, `score` or `save` was called before `fit`.
    #[error("{0} is not fitted yet: call fit first")]
    NotFitted(&'static str),
    /// A data file is malformed.
    #[error("{origin}:{line}: {problem}")]
    Data {
        /// The file.
        origin: String,
        /// 1-based line of the problem (0 when it concerns the whole file).
        line: u64,
        /// What is wrong.
        problem: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A model file is not a valid model of this format.
    #[error("{origin}: {problem}")]
    BadFile {
        /// Where the bytes came from (a path, or a caller-chosen label).
        origin: String,
        /// What is wrong with it.
        problem: FileProblem,
    },
    /// A kernel rejected its arguments or backend.
    #[error(transparent)]
    Compute(#[from] TruenoError),
}

/// The precise reason a model file was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FileProblem {
    /// The bytes are not a safetensors file.
    #[error("not a safetensors file: {0}")]
    NotSafetensors(String),
    /// A required metadata key is absent.
    #[error("metadata key `{0}` is missing")]
    MissingMetadata(&'static str),
    /// The file holds another kind of model.
    #[error("metadata `{key}` is `{found}`, expected `{expected}`")]
    WrongKind {
        /// The metadata key.
        key: &'static str,
        /// What the file says.
        found: String,
        /// What this loader reads.
        expected: String,
    },
    /// The format version is not one this build reads.
    #[error("format version `{found}` is not supported (this build reads version {supported})")]
    UnsupportedVersion {
        /// What the file says.
        found: String,
        /// The version this build reads.
        supported: u32,
    },
    /// A metadata value is malformed.
    #[error("metadata `{key}` = `{value}` is invalid: {why}")]
    BadMetadata {
        /// The metadata key.
        key: &'static str,
        /// Its value (shortened).
        value: String,
        /// What it should be.
        why: &'static str,
    },
    /// A tensor the architecture needs is absent.
    #[error("tensor `{0}` is missing")]
    MissingTensor(String),
    /// A JSON configuration file is malformed or holds an unusable value.
    #[error("{file}: {problem}")]
    BadConfig {
        /// The file, relative to the model folder.
        file: String,
        /// What is wrong, naming the key.
        problem: String,
    },
    /// A tensor is present that the architecture does not use.
    #[error("unexpected tensor `{0}`")]
    UnexpectedTensor(String),
    /// A tensor has the wrong element type.
    #[error("tensor `{name}` has dtype {found}, expected F32")]
    WrongDtype {
        /// Tensor name.
        name: String,
        /// Its dtype.
        found: String,
    },
    /// A tensor's shape disagrees with the `layers` metadata.
    #[error("tensor `{name}` has shape {found:?}, expected {expected:?}")]
    WrongShape {
        /// Tensor name.
        name: String,
        /// Its shape.
        found: Vec<usize>,
        /// The shape the architecture needs.
        expected: Vec<usize>,
    },
    /// A value is outside what the model allows.
    #[error("tensor `{name}` holds an invalid value at index {index}: {why}")]
    BadValue {
        /// Tensor name.
        name: String,
        /// Flat index of the first bad value.
        index: usize,
        /// What the values must be.
        why: &'static str,
    },
    /// A weight is NaN or infinite.
    #[error("tensor `{name}` holds a non-finite value at index {index}")]
    NonFinite {
        /// Tensor name.
        name: String,
        /// Flat index of the first bad value.
        index: usize,
    },
}
