//! What a fitted model records about its data: names and input scaling.

use crate::format::{Reader, Writer};
use crate::{AprenderError, FileProblem, Matrix, StandardScaler};

/// The data side of a fitted model: feature names, target name, class names
/// (classifiers only) and the [`StandardScaler`] applied to inputs, if any.
/// All of it is saved with the model, so a loaded model takes raw features.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelMeta {
    /// One name per input feature.
    pub features: Vec<String>,
    /// The target column's name.
    pub target: String,
    /// Class names, index `i` naming class `i`; empty for regressors and clusterers.
    pub classes: Vec<String>,
    /// Scaling applied to every input row before the model sees it.
    pub scaler: Option<StandardScaler>,
}

impl ModelMeta {
    /// Placeholder names (`x0`, `x1`, …, target `y`, classes `0`, `1`, …) and no scaler.
    pub fn unnamed(features: usize, classes: usize) -> ModelMeta {
        ModelMeta {
            features: (0..features).map(|i| format!("x{i}")).collect(),
            target: "y".to_owned(),
            classes: (0..classes).map(|i| i.to_string()).collect(),
            scaler: None,
        }
    }

    /// Replaces the names, checking their counts match the model.
    pub fn rename(
        &mut self,
        features: Vec<String>,
        target: String,
        classes: Vec<String>,
    ) -> Result<(), AprenderError> {
        if features.len() != self.features.len() || classes.len() != self.classes.len() {
            return Err(AprenderError::InvalidInput(format!(
                "the model has {} features and {} classes, the names give {} and {}",
                self.features.len(),
                self.classes.len(),
                features.len(),
                classes.len()
            )));
        }
        (self.features, self.target, self.classes) = (features, target, classes);
        Ok(())
    }

    /// Checks `x` fits the model and returns it scaled (or as is, without a scaler).
    pub(crate) fn prepare<'x>(
        &self,
        x: &'x Matrix,
    ) -> Result<std::borrow::Cow<'x, Matrix>, AprenderError> {
        x.check(Some(self.features.len()))?;
        Ok(match &self.scaler {
            Some(s) => std::borrow::Cow::Owned(s.transform(x)?),
            None => std::borrow::Cow::Borrowed(x),
        })
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        w.names("features", &self.features);
        w.meta("target", self.target.clone());
        if !self.classes.is_empty() {
            w.names("classes", &self.classes);
        }
        if let Some(s) = &self.scaler {
            w.tensor("scaler.mean", &[s.mean().len()], s.mean());
            w.tensor("scaler.scale", &[s.scale().len()], s.scale());
        }
    }

    /// Reads the names for a model of `features` inputs and `classes` classes
    /// (0 for models without classes) and the scaler, if the file has one.
    pub(crate) fn decode(
        r: &mut Reader<'_>,
        features: usize,
        classes: usize,
    ) -> Result<ModelMeta, FileProblem> {
        let feature_names = r.names("features", features)?;
        let target = r.get("target")?.to_owned();
        let class_names = if classes > 0 {
            r.names("classes", classes)?
        } else {
            Vec::new()
        };
        let scaler = if r.has_tensor("scaler.mean") || r.has_tensor("scaler.scale") {
            let mean = r.tensor("scaler.mean", &[features])?;
            let scale = r.tensor("scaler.scale", &[features])?;
            if let Some(index) = scale.iter().position(|s| *s <= 0.0) {
                return Err(FileProblem::BadValue {
                    name: "scaler.scale".into(),
                    index,
                    why: "scales must be positive",
                });
            }
            Some(StandardScaler::from_parts(mean, scale).expect("checked above"))
        } else {
            None
        };
        Ok(ModelMeta {
            features: feature_names,
            target,
            classes: class_names,
            scaler,
        })
    }
}

/// Starts a fit: checks `x`, learns the scaler when asked, and returns the
/// model's metadata with the (scaled) training features.
pub(crate) fn start_fit(
    x: &Matrix,
    standardize: bool,
    classes: usize,
) -> Result<(ModelMeta, std::borrow::Cow<'_, Matrix>), AprenderError> {
    x.check(None)?;
    let mut meta = ModelMeta::unnamed(x.cols(), classes);
    if standardize {
        let scaler = StandardScaler::fit(x)?;
        let scaled = scaler.transform(x)?;
        meta.scaler = Some(scaler);
        return Ok((meta, std::borrow::Cow::Owned(scaled)));
    }
    Ok((meta, std::borrow::Cow::Borrowed(x)))
}
