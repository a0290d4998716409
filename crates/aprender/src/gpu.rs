//! An MLP whose weights live on the GPU: upload once, then every forward pass
//! uploads only its input and downloads only its probabilities.

use trueno::gpu::{GpuContext, GpuTensor};

use crate::{AprenderError, Mlp};

use crate::StandardScaler;
use crate::mlp::{Activation, Output};

/// The weights of an [`Mlp`] on the shared GPU context, uploaded on the
/// first screened GPU prediction.
pub(crate) type Resident = crate::derived::Derived<GpuMlp>;

/// The weights of an [`Mlp`], resident on one GPU context.
#[derive(Debug)]
pub struct GpuMlp {
    layers: Vec<(usize, usize, GpuTensor, GpuTensor)>,
    hidden: Activation,
    output: Output,
    // Scaling is a cheap per-row pass; done on the host before the one upload.
    scaler: Option<StandardScaler>,
}

impl Mlp {
    /// Copies the weights to the device.
    pub fn upload(&self, ctx: &GpuContext) -> Result<GpuMlp, AprenderError> {
        let layers = self
            .layers()
            .iter()
            .map(|l| {
                Ok((
                    l.inputs(),
                    l.outputs(),
                    ctx.upload(l.weight())?,
                    ctx.upload(l.bias())?,
                ))
            })
            .collect::<Result<Vec<_>, trueno::gpu::GpuError>>()
            .map_err(trueno::TruenoError::from)?;
        Ok(GpuMlp {
            layers,
            hidden: self.hidden,
            output: self.output,
            scaler: self.meta.scaler.clone(),
        })
    }
}

impl GpuMlp {
    /// The network's outputs for `rows` rows of `x` (as [`Mlp::predict`]),
    /// computed on the device (matmul, bias, activation … softmax, all
    /// resident); one upload, one download.
    pub fn predict(
        &self,
        ctx: &GpuContext,
        x: &[f32],
        rows: usize,
    ) -> Result<Vec<f32>, AprenderError> {
        let features = self.layers[0].0;
        if rows.checked_mul(features) != Some(x.len()) {
            return Err(AprenderError::InputShape {
                len: x.len(),
                rows,
                features,
            });
        }
        let scaled;
        let x = match &self.scaler {
            Some(s) => {
                let mut copy = x.to_vec();
                s.transform_in_place(&mut copy, features)?;
                scaled = copy;
                &scaled
            }
            None => x,
        };
        let mut act = ctx.upload(x).map_err(trueno::TruenoError::from)?;
        let last = self.layers.len() - 1;
        for (i, (inputs, outputs, w, b)) in self.layers.iter().enumerate() {
            let z = ctx.bias_add(&ctx.matmul(&act, w, rows, *inputs, *outputs)?, b)?;
            act = match (i == last, self.output, self.hidden) {
                (true, Output::Softmax, _) => ctx.softmax_rows(&z, *outputs)?,
                (true, Output::Identity, _) => z,
                (false, _, Activation::Relu) => ctx.relu(&z)?,
                (false, _, Activation::Tanh) => ctx.tanh(&z)?,
            };
        }
        Ok(ctx.download(&act).map_err(trueno::TruenoError::from)?)
    }
}

#[cfg(test)]
mod tests {
    use trueno::Backend;
    use trueno::gpu::GpuOptions;

    use super::*;

    #[test]
    fn resident_forward_matches_the_cpu() {
        let ctx = match GpuContext::new(GpuOptions {
            allow_software: true,
            adapter_name: None,
        }) {
            Ok(c) => c,
            Err(e) => {
                assert!(
                    std::env::var("TRUENO_REQUIRE_GPU").as_deref() != Ok("1"),
                    "no GPU: {e}"
                );
                eprintln!("skipping: no GPU adapter ({e})");
                return;
            }
        };
        let mlp = Mlp::random(&[13, 40, 17, 5], 3).unwrap();
        let x: Vec<f32> = (0..13 * 7).map(|i| (i as f32 * 0.3).sin()).collect();
        // The plain classifier, and a scaled tanh regressor.
        let mut regressor =
            Mlp::build(mlp.layers().to_vec(), Activation::Tanh, Output::Identity).unwrap();
        let mean: Vec<f32> = (0..13).map(|i| i as f32 * 0.1).collect();
        regressor.meta_mut().scaler =
            Some(StandardScaler::from_parts(mean, vec![2.0; 13]).unwrap());
        for model in [&mlp, &regressor] {
            let gpu = model.upload(&ctx).unwrap();
            let want = model.predict(Backend::Scalar, &x, 7).unwrap();
            let got = gpu.predict(&ctx, &x, 7).unwrap();
            for (a, b) in want.iter().zip(&got) {
                assert!((a - b).abs() < 1e-5, "{a} vs {b}");
            }
        }
        let gpu = mlp.upload(&ctx).unwrap();
        assert!(matches!(
            gpu.predict(&ctx, &x[1..], 7),
            Err(AprenderError::InputShape { .. })
        ));
    }
}
