//! Training an MLP: mini-batch Adam on backpropagated gradients, with
//! scikit-learn's defaults and its convergence and early-stopping rules.

use rand::{Rng, SeedableRng, rngs::SmallRng, seq::SliceRandom};
use trueno::{Backend, MatRef, ops};

use crate::compute::{add_bias, column_sums, gemm};
use crate::mlp::{Activation, Output};
use crate::{AprenderError, Dense, Matrix, Mlp, metrics};

/// Hyper-parameters shared by [`crate::MlpClassifier`] and [`crate::MlpRegressor`].
/// The defaults are scikit-learn's.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpParams {
    /// Widths of the hidden layers (default `[100]`).
    pub hidden: Vec<usize>,
    /// Hidden activation (default ReLU).
    pub activation: Activation,
    /// L2 penalty on the weights (default `1e-4`).
    pub alpha: f32,
    /// Rows per mini-batch; `None` means `min(200, rows)`.
    pub batch_size: Option<usize>,
    /// Adam step size (default `1e-3`).
    pub learning_rate: f32,
    /// Epoch cap (default 200).
    pub max_iter: usize,
    /// Minimum improvement of the loss (or validation score) that counts (default `1e-4`).
    pub tol: f64,
    /// Epochs without improvement before stopping (default 10).
    pub n_iter_no_change: usize,
    /// Hold out `validation_fraction` of the rows and stop on their score,
    /// keeping the best weights (default off).
    pub early_stopping: bool,
    /// The held-out share for early stopping (default 0.1).
    pub validation_fraction: f64,
    /// Seed for initial weights, shuffling and the validation split.
    pub seed: u64,
}

impl Default for MlpParams {
    fn default() -> Self {
        MlpParams {
            hidden: vec![100],
            activation: Activation::Relu,
            alpha: 1e-4,
            batch_size: None,
            learning_rate: 1e-3,
            max_iter: 200,
            tol: 1e-4,
            n_iter_no_change: 10,
            early_stopping: false,
            validation_fraction: 0.1,
            seed: 0,
        }
    }
}

impl MlpParams {
    pub(crate) fn validate(&self) -> Result<(), AprenderError> {
        let bad =
            |name, value: String, why| Err(AprenderError::InvalidParameter { name, value, why });
        if self.hidden.contains(&0) {
            return bad(
                "hidden",
                format!("{:?}", self.hidden),
                "every hidden layer needs at least one unit",
            );
        }
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return bad(
                "alpha",
                self.alpha.to_string(),
                "must be finite and at least 0",
            );
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad(
                "learning_rate",
                self.learning_rate.to_string(),
                "must be positive and finite",
            );
        }
        if self.batch_size == Some(0) {
            return bad("batch_size", "0".into(), "must be at least 1");
        }
        if self.max_iter == 0 {
            return bad("max_iter", "0".into(), "must be at least 1");
        }
        if !(self.validation_fraction > 0.0 && self.validation_fraction < 1.0) {
            return bad(
                "validation_fraction",
                self.validation_fraction.to_string(),
                "must lie strictly between 0 and 1",
            );
        }
        Ok(())
    }
}

/// One epoch's report, for progress display.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Epoch {
    /// 1-based epoch number.
    pub epoch: usize,
    /// The epoch cap.
    pub max_iter: usize,
    /// Mean training loss over the epoch (penalty included).
    pub loss: f64,
    /// Validation accuracy or R², when early stopping.
    pub validation: Option<f64>,
}

/// How training ended.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// Loss per epoch.
    pub loss: Vec<f64>,
    /// Validation score per epoch (early stopping only).
    pub validation: Vec<f64>,
    /// Whether it stopped on the tolerance rule rather than the epoch cap.
    pub converged: bool,
}

/// Adam's moment estimates for one parameter tensor.
struct Moments {
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Moments {
    fn new(len: usize) -> Self {
        Moments {
            m: vec![0.0; len],
            v: vec![0.0; len],
        }
    }

    fn step(&mut self, param: &mut [f32], grad: &[f32], lr_t: f32) {
        const B1: f32 = 0.9;
        const B2: f32 = 0.999;
        const EPS: f32 = 1e-8;
        for (((p, g), m), v) in param.iter_mut().zip(grad).zip(&mut self.m).zip(&mut self.v) {
            *m = B1 * *m + (1.0 - B1) * g;
            *v = B2 * *v + (1.0 - B2) * g * g;
            *p -= lr_t * *m / (v.sqrt() + EPS);
        }
    }
}

/// Glorot-uniform weights and biases, as scikit-learn initialises them.
fn init_layers(sizes: &[usize], rng: &mut SmallRng) -> Vec<Dense> {
    sizes
        .windows(2)
        .map(|w| {
            let bound = (6.0 / (w[0] + w[1]) as f32).sqrt();
            let mut draw = |n| (0..n).map(|_| rng.random_range(-bound..bound)).collect();
            Dense {
                inputs: w[0],
                outputs: w[1],
                weight: draw(w[0] * w[1]),
                bias: draw(w[1]),
            }
        })
        .collect()
}

/// The training targets: class indices (one-hot inside) or values.
pub(crate) enum Targets<'a> {
    Classes { y: &'a [f32], classes: usize },
    Values(&'a [f32]),
}

impl Targets<'_> {
    fn outputs(&self) -> usize {
        match self {
            Targets::Classes { classes, .. } => *classes,
            Targets::Values(_) => 1,
        }
    }
    fn y(&self) -> &[f32] {
        match self {
            Targets::Classes { y, .. } | Targets::Values(y) => y,
        }
    }
}

/// Writes `out − target` (the loss gradient w.r.t. the last pre-activation for
/// softmax + cross-entropy and for identity + squared error) into `out`, and
/// returns the summed loss.
fn output_delta(out: &mut [f32], targets: &Targets<'_>, rows: &[usize]) -> f64 {
    match targets {
        Targets::Classes { y, classes } => {
            let mut loss = 0.0;
            for (p, &i) in out.chunks_exact_mut(*classes).zip(rows) {
                let c = y[i] as usize;
                loss -= f64::from(p[c].max(1e-10).ln());
                p[c] -= 1.0;
            }
            loss
        }
        Targets::Values(y) => {
            let mut loss = 0.0;
            for (p, &i) in out.iter_mut().zip(rows) {
                *p -= y[i];
                loss += 0.5 * f64::from(*p).powi(2);
            }
            loss
        }
    }
}

/// Forward and backward over one batch; returns the batch loss (penalty included)
/// and leaves the gradients in `grads` (weights, bias per layer).
fn batch_gradients(
    mlp: &Mlp,
    backend: Backend,
    x: &Matrix,
    rows: &[usize],
    targets: &Targets<'_>,
    alpha: f32,
    grads: &mut [(Vec<f32>, Vec<f32>)],
) -> Result<f64, AprenderError> {
    let b = rows.len();
    let layers = mlp.layers();
    let mut acts: Vec<Vec<f32>> = Vec::with_capacity(layers.len() + 1);
    acts.push(x.select_rows(rows)?.into_vec());
    for (i, l) in layers.iter().enumerate() {
        let mut z = vec![0.0; b * l.outputs];
        // z = A · W
        let (av, wv) = (
            MatRef::new(&acts[i], b, l.inputs),
            MatRef::new(&l.weight, l.inputs, l.outputs),
        );
        gemm(backend, av, wv, &mut z)?;
        add_bias(&mut z, &l.bias);
        let a = if i + 1 < layers.len() {
            let mut a = vec![0.0; z.len()];
            mlp.hidden.apply(backend, &z, &mut a)?;
            a
        } else if mlp.output == Output::Softmax {
            let mut a = vec![0.0; z.len()];
            ops::softmax_rows(backend, &z, l.outputs, &mut a)?;
            a
        } else {
            z
        };
        acts.push(a);
    }
    let mut delta = acts.pop().expect("one activation per layer");
    let mut loss = output_delta(&mut delta, targets, rows);
    let inv_b = 1.0 / b as f32;
    for (i, l) in layers.iter().enumerate().rev() {
        let (gw, gb) = &mut grads[i];
        // gW = Aᵀ · Δ
        let (av, dv) = (
            MatRef::new(&acts[i], b, l.inputs),
            MatRef::new(&delta, b, l.outputs),
        );
        gemm(backend, av.t(), dv, gw)?;
        gw.iter_mut()
            .zip(&l.weight)
            .for_each(|(g, w)| *g = (*g + alpha * w) * inv_b);
        column_sums(&delta, l.outputs, gb);
        gb.iter_mut().for_each(|g| *g *= inv_b);
        loss += 0.5 * f64::from(alpha) * l.weight.iter().map(|w| f64::from(w * w)).sum::<f64>();
        if i > 0 {
            let mut prev = vec![0.0; b * l.inputs];
            // Δ_prev = Δ · Wᵀ
            let wv = MatRef::new(&l.weight, l.inputs, l.outputs);
            gemm(backend, dv, wv.t(), &mut prev)?;
            let a = &acts[i];
            match mlp.hidden {
                Activation::Relu => prev.iter_mut().zip(a).for_each(|(d, &a)| {
                    if a <= 0.0 {
                        *d = 0.0
                    }
                }),
                Activation::Tanh => prev.iter_mut().zip(a).for_each(|(d, &a)| *d *= 1.0 - a * a),
            }
            delta = prev;
        }
    }
    Ok(loss)
}

/// Trains a network on (already scaled) `x`; `validation` holds the row
/// indices kept out for early stopping (empty when it is off).
pub(crate) fn train(
    params: &MlpParams,
    backend: Backend,
    x: &Matrix,
    targets: &Targets<'_>,
    validation: &[usize],
    observer: &mut dyn FnMut(&Epoch),
) -> Result<(Mlp, History), AprenderError> {
    let mut rng = SmallRng::seed_from_u64(params.seed);
    let (output, outputs) = match targets {
        Targets::Classes { .. } => (Output::Softmax, targets.outputs()),
        Targets::Values(_) => (Output::Identity, 1),
    };
    let sizes: Vec<usize> = std::iter::once(x.cols())
        .chain(params.hidden.iter().copied())
        .chain(std::iter::once(outputs))
        .collect();
    let mut mlp = Mlp::build(init_layers(&sizes, &mut rng), params.activation, output)?;
    let mut is_val = vec![false; x.rows()];
    validation.iter().for_each(|&i| is_val[i] = true);
    let mut order: Vec<usize> = (0..x.rows()).filter(|&i| !is_val[i]).collect();
    let n = order.len();
    let batch = params.batch_size.unwrap_or(200).min(n).max(1);
    let mut grads: Vec<(Vec<f32>, Vec<f32>)> = mlp
        .layers()
        .iter()
        .map(|l| (vec![0.0; l.weight.len()], vec![0.0; l.outputs]))
        .collect();
    let mut moments: Vec<(Moments, Moments)> = mlp
        .layers()
        .iter()
        .map(|l| (Moments::new(l.weight.len()), Moments::new(l.outputs)))
        .collect();
    let val_x = if validation.is_empty() {
        None
    } else {
        Some(x.select_rows(validation)?)
    };
    let val_y: Vec<f32> = validation.iter().map(|&i| targets.y()[i]).collect();
    let mut history = History {
        loss: Vec::new(),
        validation: Vec::new(),
        converged: false,
    };
    let (mut best_loss, mut best_score, mut stale) = (f64::INFINITY, f64::NEG_INFINITY, 0);
    let mut best_layers = None;
    let mut t = 0i32;
    for epoch in 1..=params.max_iter {
        order.shuffle(&mut rng);
        let mut total = 0.0;
        for rows in order.chunks(batch) {
            // The batch's summed loss (penalty once per batch, as scikit-learn
            // weighs it); the epoch's loss is their total over the rows.
            total += batch_gradients(&mlp, backend, x, rows, targets, params.alpha, &mut grads)?;
            t += 1;
            let lr_t =
                params.learning_rate * (1.0 - 0.999f32.powi(t)).sqrt() / (1.0 - 0.9f32.powi(t));
            for ((l, (gw, gb)), (mw, mb)) in
                mlp.layers_mut().iter_mut().zip(&grads).zip(&mut moments)
            {
                mw.step(&mut l.weight, gw, lr_t);
                mb.step(&mut l.bias, gb, lr_t);
            }
        }
        let loss = total / n as f64;
        if !loss.is_finite() {
            return Err(AprenderError::InvalidInput(format!(
                "training diverged at epoch {epoch} (loss {loss}); lower the learning rate or scale the data"
            )));
        }
        history.loss.push(loss);
        let score = match &val_x {
            Some(vx) => {
                let out = mlp.predict(backend, vx.as_slice(), vx.rows())?;
                let s = match targets {
                    Targets::Classes { classes, .. } => {
                        metrics::accuracy(&val_y, &crate::estimator::argmax_rows(&out, *classes))?
                    }
                    Targets::Values(_) => metrics::r2(&val_y, &out)?,
                };
                history.validation.push(s);
                Some(s)
            }
            None => None,
        };
        observer(&Epoch {
            epoch,
            max_iter: params.max_iter,
            loss,
            validation: score,
        });
        // scikit-learn's rule: count epochs that fail to improve on the best by `tol`.
        let improved = match score {
            Some(s) => {
                let better = s >= best_score + params.tol;
                if s > best_score {
                    best_score = s;
                    best_layers = Some(mlp.layers().to_vec());
                }
                better
            }
            None => {
                let better = loss <= best_loss - params.tol;
                best_loss = best_loss.min(loss);
                better
            }
        };
        stale = if improved { 0 } else { stale + 1 };
        if stale > params.n_iter_no_change {
            history.converged = true;
            break;
        }
    }
    if let Some(best) = best_layers {
        mlp.layers_mut().clone_from_slice(&best);
    }
    Ok((mlp, history))
}
