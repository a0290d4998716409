//! realizar's error type.

use trueno::Backend;

/// Why a request was not (or could not be) run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// No model of that name is loaded.
    #[error("model `{0}` is not loaded")]
    UnknownModel(String),
    /// The backend's queue has no free slot; nothing was enqueued.
    #[error("the {backend} queue is full ({capacity} requests queued or running)")]
    QueueFull {
        /// The full backend.
        backend: Backend,
        /// Its capacity.
        capacity: usize,
    },
    /// The request's data is not what its model takes (the message says what is wrong).
    #[error("bad input: {0}")]
    Input(String),
    /// The request's deadline passed before a worker could start it; it was not computed.
    #[error("the request's deadline passed while it waited in the {backend} queue")]
    DeadlineExceeded {
        /// The backend whose queue it waited in.
        backend: Backend,
    },
    /// The input has no rows (or its model takes no features): nothing to run.
    #[error("the input has no rows ({rows} rows of {features} features)")]
    EmptyInput {
        /// Rows in the request.
        rows: usize,
        /// Features the model takes.
        features: usize,
    },
    /// An input value is NaN or infinite.
    #[error("input value {index} is not finite ({value})")]
    NonFiniteInput {
        /// Flat index of the first such value.
        index: usize,
        /// The value.
        value: f32,
    },
    /// The engine has no worker pool for this backend.
    #[error("backend `{0}` is not configured in this engine")]
    BackendNotConfigured(Backend),
    /// A backend in the configuration cannot run on this machine.
    #[error("backend `{backend}` cannot run here: {reason}")]
    BackendUnavailable {
        /// The backend.
        backend: Backend,
        /// Why.
        reason: String,
    },
    /// The configuration is unusable (zero capacity, a backend listed twice…).
    #[error("invalid engine configuration: {0}")]
    Config(String),
    /// The request does not fit the model, or the model failed to run.
    #[error(transparent)]
    Model(#[from] aprender::AprenderError),
    /// A worker failed while running the request (a bug; the worker survives).
    #[error("internal error in the {backend} worker: {message}")]
    Internal {
        /// The backend whose worker failed.
        backend: Backend,
        /// What happened.
        message: String,
    },
}
