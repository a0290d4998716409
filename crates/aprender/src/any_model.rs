//! [`AnyModel`]: every model kind behind one type, for tools that load a file
//! without knowing its kind (the `apr` CLI, the loader fuzz target).

use std::path::Path;

use crate::format::read_file;
use crate::{
    AprenderError, Estimator, KMeans, LinearRegression, LogisticRegression, Mlp, MlpClassifier,
    MlpRegressor, ModelMeta, Output, Persist, Ridge, model_kind,
};

/// What a model predicts, which decides how its targets are read and scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Class indices (accuracy, F1).
    Classify,
    /// Values (R², MSE).
    Regress,
    /// Cluster indices (inertia); targets are ignored.
    Cluster,
}

/// A model of any kind.
///
/// ```
/// use aprender::{AnyModel, Estimator, LinearRegression, Matrix, Persist, Task};
/// let x = Matrix::new(3, 1, vec![0.0, 1.0, 2.0]).unwrap();
/// let mut lr = LinearRegression::new();
/// lr.fit(&x, &[1.0, 3.0, 5.0]).unwrap();
/// let any = AnyModel::from_bytes(&lr.to_bytes().unwrap(), "lr").unwrap();
/// assert_eq!(any.task(), Task::Regress);
/// assert_eq!(any.estimator().predict(&x).unwrap(), lr.predict(&x).unwrap());
/// ```
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub enum AnyModel {
    Linear(LinearRegression),
    Ridge(Ridge),
    Logistic(LogisticRegression),
    MlpClassifier(MlpClassifier),
    MlpRegressor(MlpRegressor),
    KMeans(KMeans),
}

/// Runs `$body` with `$m` bound to the inner model, whatever its type.
macro_rules! each {
    ($model:expr, $m:ident => $body:expr) => {
        match $model {
            AnyModel::Linear($m) => $body,
            AnyModel::Ridge($m) => $body,
            AnyModel::Logistic($m) => $body,
            AnyModel::MlpClassifier($m) => $body,
            AnyModel::MlpRegressor($m) => $body,
            AnyModel::KMeans($m) => $body,
        }
    };
}

impl AnyModel {
    /// Reads a model file of any kind.
    pub fn load(path: impl AsRef<Path>) -> Result<AnyModel, AprenderError> {
        let path = path.as_ref();
        AnyModel::from_bytes(&read_file(path)?, &path.display().to_string())
    }

    /// Parses model-file bytes of any kind; `origin` names them in errors.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<AnyModel, AprenderError> {
        Ok(match model_kind(bytes, origin)?.as_str() {
            "linear_regression" => AnyModel::Linear(LinearRegression::from_bytes(bytes, origin)?),
            "ridge" => AnyModel::Ridge(Ridge::from_bytes(bytes, origin)?),
            "logistic_regression" => {
                AnyModel::Logistic(LogisticRegression::from_bytes(bytes, origin)?)
            }
            "kmeans" => AnyModel::KMeans(KMeans::from_bytes(bytes, origin)?),
            "mlp" => {
                // Parsed once; the output kind picks the estimator.
                let mlp = Mlp::from_bytes(bytes, origin)?;
                let wrapped = match mlp.output() {
                    Output::Softmax => {
                        MlpClassifier::from_network(mlp).map(AnyModel::MlpClassifier)
                    }
                    Output::Identity => MlpRegressor::from_network(mlp).map(AnyModel::MlpRegressor),
                };
                wrapped.map_err(|problem| AprenderError::BadFile {
                    origin: origin.to_owned(),
                    problem,
                })?
            }
            other => {
                return Err(AprenderError::BadFile {
                    origin: origin.to_owned(),
                    problem: crate::FileProblem::WrongKind {
                        key: "model",
                        found: other.to_owned(),
                        expected: KINDS.join("` or `"),
                    },
                });
            }
        })
    }

    /// What the model predicts.
    pub fn task(&self) -> Task {
        match self {
            AnyModel::Linear(_) | AnyModel::Ridge(_) | AnyModel::MlpRegressor(_) => Task::Regress,
            AnyModel::Logistic(_) | AnyModel::MlpClassifier(_) => Task::Classify,
            AnyModel::KMeans(_) => Task::Cluster,
        }
    }

    /// The kind, as `apr info` prints it.
    pub fn kind(&self) -> &'static str {
        match self {
            AnyModel::Linear(_) => "linear_regression",
            AnyModel::Ridge(_) => "ridge",
            AnyModel::Logistic(_) => "logistic_regression",
            AnyModel::MlpClassifier(_) => "mlp (classifier)",
            AnyModel::MlpRegressor(_) => "mlp (regressor)",
            AnyModel::KMeans(_) => "kmeans",
        }
    }

    /// The model as an [`Estimator`].
    pub fn estimator(&self) -> &dyn Estimator {
        each!(self, m => m)
    }

    /// The model as a mutable [`Estimator`] (to fit it).
    pub fn estimator_mut(&mut self) -> &mut dyn Estimator {
        each!(self, m => m)
    }

    /// Names and scaling (`None` before `fit`).
    pub fn meta(&self) -> Option<&ModelMeta> {
        each!(self, m => m.meta())
    }

    /// Mutable names and scaling (`None` before `fit`).
    pub fn meta_mut(&mut self) -> Option<&mut ModelMeta> {
        each!(self, m => m.meta_mut())
    }

    /// Writes the model file atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), AprenderError> {
        each!(self, m => Persist::save(m, path.as_ref()))
    }

    /// Learned parameters and their shapes, for `apr info`.
    pub fn parameters(&self) -> Vec<(String, Vec<usize>)> {
        let d = self.meta().map_or(0, |m| m.features.len());
        match self {
            AnyModel::Linear(m) => vec![("coef".into(), vec![m.coef().map_or(0, <[f32]>::len)])],
            AnyModel::Ridge(m) => vec![("coef".into(), vec![m.coef().map_or(0, <[f32]>::len)])],
            AnyModel::Logistic(m) => {
                let classes = m.meta().map_or(0, |m| m.classes.len());
                let cols = if classes == 2 { 1 } else { classes };
                vec![
                    ("weight".into(), vec![d, cols]),
                    ("bias".into(), vec![cols]),
                ]
            }
            AnyModel::MlpClassifier(m) => layer_shapes(m.network()),
            AnyModel::MlpRegressor(m) => layer_shapes(m.network()),
            AnyModel::KMeans(m) => {
                let k = m.centers().map_or(0, |c| c.len() / d.max(1));
                vec![("centers".into(), vec![k, d])]
            }
        }
    }
}

/// The kinds [`AnyModel::from_bytes`] reads.
const KINDS: [&str; 5] = [
    "linear_regression",
    "ridge",
    "logistic_regression",
    "mlp",
    "kmeans",
];

fn layer_shapes(mlp: Option<&Mlp>) -> Vec<(String, Vec<usize>)> {
    let Some(mlp) = mlp else { return Vec::new() };
    let mut out = Vec::new();
    for (i, l) in mlp.layers().iter().enumerate() {
        out.push((format!("layers.{i}.weight"), vec![l.inputs(), l.outputs()]));
        out.push((format!("layers.{i}.bias"), vec![l.outputs()]));
    }
    out
}
