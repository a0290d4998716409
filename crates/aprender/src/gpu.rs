//! An MLP whose weights live on the GPU: upload once, then every forward pass
//! uploads only its input and downloads only its probabilities.

use trueno::gpu::{GpuContext, GpuTensor};

use crate::{AprenderError, Mlp};

/// The weights of an [`Mlp`], resident on one GPU context.
#[derive(Debug)]
pub struct GpuMlp {
    layers: Vec<(usize, usize, GpuTensor, GpuTensor)>,
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
        Ok(GpuMlp { layers })
    }
}

impl GpuMlp {
    /// Class probabilities for `rows` rows of `x`, computed on the device
    /// (matmul, bias, ReLU … softmax, all resident); one upload, one download.
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
        let mut act = ctx.upload(x).map_err(trueno::TruenoError::from)?;
        let last = self.layers.len() - 1;
        for (i, (inputs, outputs, w, b)) in self.layers.iter().enumerate() {
            let z = ctx.bias_add(&ctx.matmul(&act, w, rows, *inputs, *outputs)?, b)?;
            act = if i == last {
                ctx.softmax_rows(&z, *outputs)?
            } else {
                ctx.relu(&z)?
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
        let gpu = mlp.upload(&ctx).unwrap();
        let x: Vec<f32> = (0..13 * 7).map(|i| (i as f32 * 0.3).sin()).collect();
        let want = mlp.predict(Backend::Scalar, &x, 7).unwrap();
        let got = gpu.predict(&ctx, &x, 7).unwrap();
        for (a, b) in want.iter().zip(&got) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        assert!(matches!(
            gpu.predict(&ctx, &x[1..], 7),
            Err(AprenderError::InputShape { .. })
        ));
    }
}
