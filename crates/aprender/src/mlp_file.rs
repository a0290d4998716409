//! The MLP's model file: `model` = `mlp`.
//!
//! Tensors `layers.{i}.weight` (`inputs × outputs`) and `layers.{i}.bias`;
//! metadata `layers` (comma-separated sizes), `hidden_activation` (`relu` or
//! `tanh`), `output_activation` (`softmax` or `identity`), and the
//! [`crate::ModelMeta`] keys (classes only for softmax).

use std::path::Path;

use crate::format::{Codec, Persist, Reader, Writer};
use crate::mlp::{Activation, Output};
use crate::{AprenderError, Dense, FileProblem, Mlp, ModelMeta};

impl Codec for Mlp {
    const KINDS: &'static [&'static str] = &["mlp"];

    fn encode(&self, w: &mut Writer) -> Result<(), AprenderError> {
        let sizes: Vec<String> = self.sizes().iter().map(usize::to_string).collect();
        w.meta("layers", sizes.join(","));
        w.meta("hidden_activation", self.hidden.name());
        w.meta("output_activation", self.output.name());
        self.meta.encode(w);
        for (i, l) in self.layers().iter().enumerate() {
            w.tensor(
                &format!("layers.{i}.weight"),
                &[l.inputs, l.outputs],
                &l.weight,
            );
            w.tensor(&format!("layers.{i}.bias"), &[l.outputs], &l.bias);
        }
        Ok(())
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, FileProblem> {
        let hidden = match r.one_of("hidden_activation", &["relu", "tanh"])? {
            "relu" => Activation::Relu,
            _ => Activation::Tanh,
        };
        let output = match r.one_of("output_activation", &["softmax", "identity"])? {
            "softmax" => Output::Softmax,
            _ => Output::Identity,
        };
        let sizes: Vec<usize> = r
            .get("layers")?
            .split(',')
            .map(|s| s.trim().parse::<usize>().ok().filter(|&n| n > 0))
            .collect::<Option<_>>()
            .filter(|s: &Vec<usize>| s.len() >= 2)
            .ok_or_else(|| r.bad("layers", "a list of at least two positive sizes"))?;
        let mut layers = Vec::with_capacity(sizes.len() - 1);
        for (i, w) in sizes.windows(2).enumerate() {
            let weight = r.tensor(&format!("layers.{i}.weight"), &[w[0], w[1]])?;
            let bias = r.tensor(&format!("layers.{i}.bias"), &[w[1]])?;
            layers.push(Dense {
                inputs: w[0],
                outputs: w[1],
                weight,
                bias,
            });
        }
        let classes = if output == Output::Softmax {
            sizes[sizes.len() - 1]
        } else {
            0
        };
        let meta = ModelMeta::decode(r, sizes[0], classes)?;
        let mut mlp = Mlp::build(layers, hidden, output).expect("sizes chain by construction");
        mlp.meta = meta;
        Ok(mlp)
    }
}

// Inherent forms, so the engine need not import `Persist`; an `Mlp` is always fitted.
impl Mlp {
    /// The model file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        Persist::to_bytes(self).expect("an Mlp is always fitted")
    }
    /// Writes the model file atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), AprenderError> {
        Persist::save(self, path)
    }
    /// Reads and validates a model file.
    pub fn load(path: impl AsRef<Path>) -> Result<Mlp, AprenderError> {
        <Mlp as Persist>::load(path)
    }
    /// Parses and validates model-file bytes; `origin` names them in errors.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Mlp, AprenderError> {
        <Mlp as Persist>::from_bytes(bytes, origin)
    }
}
