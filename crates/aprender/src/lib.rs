//! aprender: the models of the heijunka stack, computed with trueno.
//!
//! Every model follows scikit-learn's contract through the [`Estimator`]
//! trait (`fit`, `predict`, `score`) on a row-major [`Matrix`]:
//! [`LinearRegression`] (QR), [`Ridge`] (Cholesky), [`LogisticRegression`]
//! (binary and multinomial, L-BFGS), [`MlpClassifier`] / [`MlpRegressor`]
//! (Adam, mini-batches, early stopping) and [`KMeans`] (k-means++, restarts).
//! Around them: [`StandardScaler`], [`train_test_split`], [`metrics`] and CSV
//! loading ([`Table`]). Every model saves to a `.safetensors` file with its
//! names and scaler ([`Persist`]); loading checks everything in the file, and
//! [`AnyModel`] loads a file of any kind.
//!
//! A trained network is an [`Mlp`]: it predicts a batch on any trueno backend,
//! and [`GpuMlp`] keeps its weights resident on a GPU for the serving engine.
//!
//! ```
//! use aprender::{Activation, Estimator, Matrix, MlpClassifier, MlpParams};
//! let x = Matrix::new(4, 2, vec![0., 0., 0., 1., 1., 0., 1., 1.]).unwrap();
//! let y = [0.0, 1.0, 1.0, 0.0];
//! let params = MlpParams { hidden: vec![8], activation: Activation::Tanh, learning_rate: 0.05, max_iter: 1000, ..MlpParams::default() };
//! let mut model = MlpClassifier::new(params).unwrap();
//! model.fit(&x, &y).unwrap();
//! assert_eq!(model.predict(&x).unwrap(), y);
//! ```
//!
//! Architecture invariant: aprender knows nothing of queues, servers or backend
//! choice; it computes on the backend its caller names.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod any_model;
mod compute;
mod derived;
pub mod encoder;
mod error;
mod estimator;
pub mod file;
mod format;
mod gpu;
mod kmeans;
mod lbfgs;
mod linalg;
mod linear;
mod logistic;
mod matrix;
mod meta;
pub mod metrics;
mod mlp;
mod mlp_estimators;
mod mlp_file;
mod mlp_train;
mod packed;
mod scaler;
mod screen;
mod split;
mod table;

pub use any_model::{AnyModel, Task};
pub use error::{AprenderError, FileProblem};
pub use estimator::Estimator;
pub use format::{Codec, FORMAT_VERSION, Persist, Reader, Writer, model_kind};
pub use gpu::GpuMlp;
pub use kmeans::KMeans;
pub use linear::{LinearRegression, Ridge};
pub use logistic::LogisticRegression;
pub use matrix::Matrix;
pub use meta::ModelMeta;
pub use mlp::{Activation, Dense, Mlp, Output};
pub use mlp_estimators::{MlpClassifier, MlpRegressor};
pub use mlp_train::{Epoch, History, MlpParams};
pub use scaler::StandardScaler;
pub use screen::{Screened, first_non_finite, non_finite_rows};
pub use split::train_test_split;
pub use table::{Classes, Table};
