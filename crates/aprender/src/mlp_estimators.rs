//! `MlpClassifier` and `MlpRegressor`: the [`Estimator`] faces of a trained [`Mlp`].
//!
//! Both train with [`MlpParams`] (scikit-learn's defaults) and save as the
//! `mlp` model file, so realizar serves what they train; the classifier needs
//! a softmax output in the file, the regressor an identity one.

use trueno::Backend;

use crate::estimator::{argmax_rows, check_classes, check_targets, model_settings};
use crate::format::{Codec, Reader, Writer};
use crate::meta::start_fit;
use crate::mlp::Output;
use crate::mlp_train::{Epoch, History, MlpParams, Targets, train};
use crate::{AprenderError, Estimator, FileProblem, Matrix, Mlp, metrics, train_test_split};

macro_rules! mlp_estimator {
    ($ty:ident, $kind:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, PartialEq)]
        pub struct $ty {
            params: MlpParams,
            backend: Backend,
            standardize: bool,
            fitted: Option<Mlp>,
            history: Option<History>,
        }

        model_settings!($ty, Mlp, $kind);

        impl $ty {
            /// An unfitted model; the parameters are checked here.
            pub fn new(params: MlpParams) -> Result<$ty, AprenderError> {
                params.validate()?;
                Ok($ty {
                    params,
                    backend: Backend::Simd,
                    standardize: false,
                    fitted: None,
                    history: None,
                })
            }
            /// The training parameters.
            pub fn params(&self) -> &MlpParams {
                &self.params
            }
            /// The trained network (`None` before `fit`).
            pub fn network(&self) -> Option<&Mlp> {
                self.fitted.as_ref()
            }
            /// Loss (and validation score) per epoch of the last fit.
            pub fn history(&self) -> Option<&History> {
                self.history.as_ref()
            }
            /// Like [`Estimator::fit`], reporting every epoch to `observer`.
            pub fn fit_with(
                &mut self,
                x: &Matrix,
                y: &[f32],
                observer: &mut dyn FnMut(&Epoch),
            ) -> Result<(), AprenderError> {
                let (targets, classes) = self.targets(x, y)?;
                let (meta, scaled) = start_fit(x, self.standardize, classes)?;
                let validation = if self.params.early_stopping {
                    let stratify = (classes > 0).then_some(y);
                    let frac = self.params.validation_fraction;
                    train_test_split(x.rows(), frac, self.params.seed, stratify)?.1
                } else {
                    Vec::new()
                };
                let (mut mlp, history) = train(
                    &self.params,
                    self.backend,
                    &scaled,
                    &targets,
                    &validation,
                    observer,
                )?;
                mlp.meta = meta;
                self.fitted = Some(mlp);
                self.history = Some(history);
                Ok(())
            }
            /// The network's outputs for `x` (raw features; the scaler is applied).
            fn outputs(&self, x: &Matrix) -> Result<Vec<f32>, AprenderError> {
                let mlp = self.fitted()?;
                x.check(Some(mlp.n_features()))?;
                mlp.predict(self.backend, x.as_slice(), x.rows())
            }
        }

        impl Codec for $ty {
            const KINDS: &'static [&'static str] = &["mlp"];
            fn encode(&self, w: &mut Writer) -> Result<(), AprenderError> {
                self.fitted()?.encode(w)
            }
            fn decode(r: &mut Reader<'_>) -> Result<Self, FileProblem> {
                $ty::from_network(Mlp::decode(r)?)
            }
        }

        impl $ty {
            /// Wraps a loaded network, which must have this estimator's output.
            pub(crate) fn from_network(mlp: Mlp) -> Result<$ty, FileProblem> {
                if mlp.output() != Self::OUTPUT {
                    return Err(FileProblem::WrongKind {
                        key: "output_activation",
                        found: mlp.output().name().to_owned(),
                        expected: Self::OUTPUT.name().to_owned(),
                    });
                }
                let sizes = mlp.sizes();
                let params = MlpParams {
                    hidden: sizes[1..sizes.len() - 1].to_vec(),
                    activation: mlp.activation(),
                    ..MlpParams::default()
                };
                Ok($ty {
                    params,
                    backend: Backend::Simd,
                    standardize: mlp.meta().scaler.is_some(),
                    fitted: Some(mlp),
                    history: None,
                })
            }
        }
    };
}

mlp_estimator!(
    MlpClassifier,
    "mlp_classifier",
    "A multi-layer perceptron classifier: softmax output, cross-entropy loss.\n\n\
     `y` holds class indices; `predict` returns the most probable class per row."
);
mlp_estimator!(
    MlpRegressor,
    "mlp_regressor",
    "A multi-layer perceptron regressor: identity output, squared-error loss, one target."
);

impl MlpClassifier {
    const OUTPUT: Output = Output::Softmax;

    fn targets<'y>(&self, x: &Matrix, y: &'y [f32]) -> Result<(Targets<'y>, usize), AprenderError> {
        let classes = check_classes(x, y, 2)?;
        Ok((Targets::Classes { y, classes }, classes))
    }

    /// Class probabilities, `rows × classes` row-major.
    pub fn predict_proba(&self, x: &Matrix) -> Result<Vec<f32>, AprenderError> {
        self.outputs(x)
    }
}

impl MlpRegressor {
    const OUTPUT: Output = Output::Identity;

    fn targets<'y>(&self, x: &Matrix, y: &'y [f32]) -> Result<(Targets<'y>, usize), AprenderError> {
        check_targets(x, y)?;
        Ok((Targets::Values(y), 0))
    }
}

impl Estimator for MlpClassifier {
    fn fit(&mut self, x: &Matrix, y: &[f32]) -> Result<(), AprenderError> {
        self.fit_with(x, y, &mut |_| {})
    }
    fn predict(&self, x: &Matrix) -> Result<Vec<f32>, AprenderError> {
        let classes = self.fitted()?.n_classes();
        Ok(argmax_rows(&self.outputs(x)?, classes))
    }
    /// Accuracy.
    fn score(&self, x: &Matrix, y: &[f32]) -> Result<f64, AprenderError> {
        metrics::accuracy(y, &self.predict(x)?)
    }
}

impl Estimator for MlpRegressor {
    fn fit(&mut self, x: &Matrix, y: &[f32]) -> Result<(), AprenderError> {
        self.fit_with(x, y, &mut |_| {})
    }
    fn predict(&self, x: &Matrix) -> Result<Vec<f32>, AprenderError> {
        self.outputs(x)
    }
    /// R².
    fn score(&self, x: &Matrix, y: &[f32]) -> Result<f64, AprenderError> {
        metrics::r2(y, &self.predict(x)?)
    }
}
