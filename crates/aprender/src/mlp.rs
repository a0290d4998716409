//! The multi-layer perceptron network: dense layers, ReLU or tanh between
//! them, softmax (classifier) or identity (regressor) at the end.

use rand::{Rng, SeedableRng, rngs::SmallRng};
use trueno::{Backend, ops};

use crate::{AprenderError, ModelMeta};

/// The non-linearity between hidden layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `max(0, x)`.
    Relu,
    /// `tanh(x)`.
    Tanh,
}

/// What the last layer's values mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Class probabilities (a classifier).
    Softmax,
    /// The values themselves (a regressor).
    Identity,
}

impl Activation {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
        }
    }

    /// Applies the activation to `z` on `backend`.
    pub(crate) fn apply(
        self,
        backend: Backend,
        z: &[f32],
        out: &mut [f32],
    ) -> Result<(), AprenderError> {
        match self {
            Activation::Relu => ops::relu(backend, z, out)?,
            Activation::Tanh => ops::tanh(backend, z, out)?,
        }
        Ok(())
    }
}

impl Output {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Output::Softmax => "softmax",
            Output::Identity => "identity",
        }
    }
}

/// One fully connected layer: `y = x W + b`, with `W` stored row-major as
/// `inputs × outputs` so a batch multiplies as one `(rows × inputs) · W` matmul.
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    pub(crate) inputs: usize,
    pub(crate) outputs: usize,
    pub(crate) weight: Vec<f32>,
    pub(crate) bias: Vec<f32>,
}

impl Dense {
    /// Builds a layer from its weights (`inputs × outputs`, row-major) and bias.
    pub fn new(
        inputs: usize,
        outputs: usize,
        weight: Vec<f32>,
        bias: Vec<f32>,
    ) -> Result<Dense, AprenderError> {
        if inputs == 0 || outputs == 0 {
            return Err(AprenderError::Architecture(format!(
                "a dense layer needs at least one input and output, got {inputs}×{outputs}"
            )));
        }
        if weight.len() != inputs * outputs || bias.len() != outputs {
            return Err(AprenderError::Architecture(format!(
                "a {inputs}×{outputs} layer needs {} weights and {outputs} biases, got {} and {}",
                inputs * outputs,
                weight.len(),
                bias.len()
            )));
        }
        Ok(Dense {
            inputs,
            outputs,
            weight,
            bias,
        })
    }

    /// Inputs per row.
    pub fn inputs(&self) -> usize {
        self.inputs
    }
    /// Outputs per row.
    pub fn outputs(&self) -> usize {
        self.outputs
    }
    /// The weight matrix, `inputs × outputs` row-major.
    pub fn weight(&self) -> &[f32] {
        &self.weight
    }
    /// The bias vector.
    pub fn bias(&self) -> &[f32] {
        &self.bias
    }
}

/// A trained network: `out(act(act(x W₁ + b₁) W₂ + b₂) … Wₙ + bₙ)`, with the
/// input scaling and names in its [`ModelMeta`]. [`crate::MlpClassifier`] and
/// [`crate::MlpRegressor`] train one; realizar serves one.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    layers: Vec<Dense>,
    pub(crate) hidden: Activation,
    pub(crate) output: Output,
    pub(crate) meta: ModelMeta,
    /// The weights packed for the SIMD GEMM, built on first use.
    pub(crate) packed: crate::packed::Packed,
    /// The weights on the shared GPU context, after the first screened GPU prediction.
    pub(crate) resident: crate::gpu::Resident,
}

impl Mlp {
    /// A ReLU/softmax classifier of the given layers, with placeholder names.
    pub fn from_layers(layers: Vec<Dense>) -> Result<Mlp, AprenderError> {
        Mlp::build(layers, Activation::Relu, Output::Softmax)
    }

    /// Chains layers, checking each one's inputs match the previous outputs.
    pub fn build(
        layers: Vec<Dense>,
        hidden: Activation,
        output: Output,
    ) -> Result<Mlp, AprenderError> {
        if layers.is_empty() {
            return Err(AprenderError::Architecture(
                "an MLP needs at least one layer".into(),
            ));
        }
        for (i, pair) in layers.windows(2).enumerate() {
            if pair[0].outputs != pair[1].inputs {
                return Err(AprenderError::Architecture(format!(
                    "layer {i} outputs {} values but layer {} takes {}",
                    pair[0].outputs,
                    i + 1,
                    pair[1].inputs
                )));
            }
        }
        let features = layers[0].inputs;
        let outputs = layers[layers.len() - 1].outputs;
        let classes = if output == Output::Softmax {
            outputs
        } else {
            0
        };
        Ok(Mlp {
            layers,
            hidden,
            output,
            meta: ModelMeta::unnamed(features, classes),
            packed: Default::default(),
            resident: Default::default(),
        })
    }

    /// A freshly initialised MLP with the given layer sizes (inputs first,
    /// classes last), weights drawn uniformly with He scaling from `seed`.
    pub fn random(sizes: &[usize], seed: u64) -> Result<Mlp, AprenderError> {
        if sizes.len() < 2 {
            return Err(AprenderError::Architecture(format!(
                "need at least an input and an output size, got {sizes:?}"
            )));
        }
        let mut rng = SmallRng::seed_from_u64(seed);
        let layers = sizes
            .windows(2)
            .map(|w| {
                let (inputs, outputs) = (w[0], w[1]);
                let limit = (6.0 / inputs.max(1) as f32).sqrt();
                let weight = (0..inputs * outputs)
                    .map(|_| rng.random_range(-limit..=limit))
                    .collect();
                Dense::new(inputs, outputs, weight, vec![0.0; outputs])
            })
            .collect::<Result<Vec<_>, _>>()?;
        Mlp::from_layers(layers)
    }

    pub(crate) fn layers_mut(&mut self) -> &mut [Dense] {
        self.packed = Default::default();
        &mut self.layers
    }

    /// The hidden-layer activation.
    pub fn activation(&self) -> Activation {
        self.hidden
    }
    /// The output kind: softmax for classifiers, identity for regressors.
    pub fn output(&self) -> Output {
        self.output
    }
    /// Names and input scaling.
    pub fn meta(&self) -> &ModelMeta {
        &self.meta
    }
    /// Mutable names and scaling (label a model before saving it).
    pub fn meta_mut(&mut self) -> &mut ModelMeta {
        &mut self.meta
    }

    /// The layers, input side first.
    pub fn layers(&self) -> &[Dense] {
        &self.layers
    }

    /// Layer sizes: features, each hidden width, classes.
    pub fn sizes(&self) -> Vec<usize> {
        std::iter::once(self.layers[0].inputs)
            .chain(self.layers.iter().map(|l| l.outputs))
            .collect()
    }

    /// Features each input row must have.
    pub fn n_features(&self) -> usize {
        self.layers[0].inputs
    }

    /// Values each output row has: classes for a classifier, targets for a regressor.
    pub fn n_classes(&self) -> usize {
        self.layers[self.layers.len() - 1].outputs
    }

    /// FLOPs of one forward pass over `rows` rows (matmuls and bias adds).
    pub fn forward_flops(&self, rows: usize) -> u64 {
        self.layers
            .iter()
            .map(|l| rows as u64 * l.outputs as u64 * (2 * l.inputs as u64 + 1))
            .sum()
    }

    /// Fails unless `x` holds exactly `rows` rows of `n_features` values.
    pub(crate) fn check_shape(&self, x: &[f32], rows: usize) -> Result<(), AprenderError> {
        let features = self.n_features();
        if rows.checked_mul(features) != Some(x.len()) {
            return Err(AprenderError::InputShape {
                len: x.len(),
                rows,
                features,
            });
        }
        Ok(())
    }

    /// The network's outputs for a batch: `x` holds `rows` rows of
    /// [`n_features`](Self::n_features) raw values (the model's scaler, if any,
    /// is applied here); the result holds `rows` rows of
    /// [`n_classes`](Self::n_classes) values: probabilities that each sum to 1
    /// for a classifier, predictions for a regressor.
    pub fn predict(
        &self,
        backend: Backend,
        x: &[f32],
        rows: usize,
    ) -> Result<Vec<f32>, AprenderError> {
        let features = self.n_features();
        self.check_shape(x, rows)?;
        if backend == Backend::Simd {
            return Ok(self.forward_simd(x, rows, false)?.out);
        }
        let mut act = x.to_vec();
        if let Some(scaler) = &self.meta.scaler {
            scaler.transform_in_place(&mut act, features)?;
        }
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            let mut z = vec![0.0; rows * layer.outputs];
            ops::matmul(
                backend,
                &act,
                &layer.weight,
                &mut z,
                rows,
                layer.inputs,
                layer.outputs,
            )?;
            for row in z.chunks_exact_mut(layer.outputs) {
                for (v, b) in row.iter_mut().zip(&layer.bias) {
                    *v += b;
                }
            }
            if i == last && self.output == Output::Identity {
                act = z;
                break;
            }
            act = vec![0.0; z.len()];
            if i == last {
                ops::softmax_rows(backend, &z, layer.outputs, &mut act)?;
            } else {
                self.hidden.apply(backend, &z, &mut act)?;
            }
        }
        Ok(act)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicts_by_hand() {
        // One layer, identity weights: softmax of the input itself.
        let layer = Dense::new(2, 2, vec![1.0, 0.0, 0.0, 1.0], vec![0.0, 0.0]).unwrap();
        let mlp = Mlp::from_layers(vec![layer]).unwrap();
        let p = mlp
            .predict(Backend::Scalar, &[0.0, 0.0, 0.0, 10.0], 2)
            .unwrap();
        assert_eq!(&p[..2], &[0.5, 0.5]);
        assert!(p[3] > 0.9999);
    }

    #[test]
    fn hidden_relu_is_applied() {
        // x=1 → hidden = relu([1, -1]) = [1, 0] → logits [1, 0].
        let l1 = Dense::new(1, 2, vec![1.0, -1.0], vec![0.0, 0.0]).unwrap();
        let l2 = Dense::new(2, 2, vec![1.0, 0.0, 0.0, 1.0], vec![0.0, 0.0]).unwrap();
        let mlp = Mlp::from_layers(vec![l1, l2]).unwrap();
        let p = mlp.predict(Backend::Simd, &[1.0], 1).unwrap();
        let e = 1f32.exp();
        assert!((p[0] - e / (e + 1.0)).abs() < 1e-6);
    }

    #[test]
    fn backends_agree() {
        let mlp = Mlp::random(&[13, 32, 17, 5], 7).unwrap();
        let x: Vec<f32> = (0..13 * 9).map(|i| (i as f32 * 0.37).sin()).collect();
        let a = mlp.predict(Backend::Scalar, &x, 9).unwrap();
        let b = mlp.predict(Backend::Simd, &x, 9).unwrap();
        for (p, q) in a.iter().zip(&b) {
            assert!((p - q).abs() < 1e-5);
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        let mlp = Mlp::random(&[4, 3], 1).unwrap();
        let err = mlp.predict(Backend::Scalar, &[1.0; 7], 2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "input has 7 values, but 2 rows of 4 features need 8"
        );
        assert!(Mlp::random(&[4], 1).is_err());
        assert!(Mlp::random(&[4, 0, 2], 1).is_err());
        let l1 = Dense::new(2, 3, vec![0.0; 6], vec![0.0; 3]).unwrap();
        let l2 = Dense::new(2, 3, vec![0.0; 6], vec![0.0; 3]).unwrap();
        assert!(
            Mlp::from_layers(vec![l1, l2])
                .unwrap_err()
                .to_string()
                .contains("layer 0 outputs 3")
        );
        assert!(Dense::new(2, 2, vec![0.0; 3], vec![0.0; 2]).is_err());
    }
}
