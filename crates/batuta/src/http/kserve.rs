//! Open Inference Protocol (KServe v2) bodies and their validation.
//!
//! A request carries one input tensor `{name, shape, datatype, data}` with
//! shape `[rows, features]` (or `[features]` for one row) and `data` flat or
//! nested row-major; the response carries one output, `probabilities`.

use realizar::{InferenceInput, InferenceOutput, InputKind, Signature};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::AppError;

/// `POST /v2/models/{m}/infer` body.
#[derive(Debug, Deserialize)]
pub struct InferRequestBody {
    /// Client's request id, echoed back.
    #[serde(default)]
    pub id: Option<String>,
    /// Input tensors; exactly one is accepted.
    pub inputs: Vec<InferInput>,
    /// Outputs asked for; only `probabilities` exists. Absent: all outputs.
    #[serde(default)]
    pub outputs: Option<Vec<RequestedOutput>>,
    /// Request parameters (accepted, none is used).
    #[serde(default)]
    pub parameters: Option<serde_json::Map<String, Value>>,
}

/// One entry of a request's `outputs`.
#[derive(Debug, Deserialize)]
pub struct RequestedOutput {
    /// The output's name.
    pub name: String,
    /// Output parameters (accepted, none is used).
    #[serde(default)]
    pub parameters: Option<serde_json::Map<String, Value>>,
}

/// The one output every MLP model has.
pub const OUTPUT_NAME: &str = "probabilities";

/// One input tensor.
#[derive(Debug, Deserialize)]
pub struct InferInput {
    /// Tensor name (any; reported in errors).
    pub name: String,
    /// Tensor shape.
    pub shape: Vec<i64>,
    /// Element type: `FP32` or `FP64` (converted to f32).
    pub datatype: String,
    /// Values, flat or nested row-major.
    pub data: Value,
}

/// One output tensor.
#[derive(Debug, Serialize, Deserialize)]
pub struct InferOutput {
    /// Tensor name.
    pub name: String,
    /// Tensor shape.
    pub shape: Vec<usize>,
    /// Element type.
    pub datatype: String,
    /// Values, flat row-major.
    pub data: Vec<f32>,
}

/// The inference response body.
#[derive(Debug, Serialize, Deserialize)]
pub struct InferResponseBody {
    /// The model that answered.
    pub model_name: String,
    /// The request id, if the client sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Output tensors.
    pub outputs: Vec<InferOutput>,
}

impl InferResponseBody {
    pub(crate) fn new(model: &str, id: Option<String>, out: &InferenceOutput) -> InferResponseBody {
        InferResponseBody {
            model_name: model.to_owned(),
            id,
            outputs: vec![InferOutput {
                name: OUTPUT_NAME.into(),
                shape: vec![out.rows, out.cols],
                datatype: "FP32".into(),
                data: out.data.clone(),
            }],
        }
    }
}

fn flatten(value: &Value, name: &str, out: &mut Vec<f32>) -> Result<(), AppError> {
    match value {
        Value::Array(items) => items.iter().try_for_each(|v| flatten(v, name, out)),
        Value::Number(n) => {
            let v = n
                .as_f64()
                .map(|v| v as f32)
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    AppError::BadRequest(format!(
                        "input `{name}`: element {} ({n}) is not a finite f32",
                        out.len()
                    ))
                })?;
            out.push(v);
            Ok(())
        }
        other => Err(AppError::BadRequest(format!(
            "input `{name}`: element {} is {}, expected a number",
            out.len(),
            super::clip(&other.to_string())
        ))),
    }
}

impl InferRequestBody {
    /// Validates the body against a model of `features` inputs and turns it
    /// into the engine's input. `body_len` (the body's size in bytes) bounds
    /// what is allocated up front, so a declared shape of 10⁷ rows with three
    /// values costs nothing before it is refused.
    pub fn into_input(
        self,
        model: &str,
        features: usize,
        body_len: usize,
    ) -> Result<InferenceInput, AppError> {
        for out in self.outputs.iter().flatten() {
            if out.name != OUTPUT_NAME {
                return Err(AppError::BadRequest(format!(
                    "output `{}` does not exist; this model has one output, `{OUTPUT_NAME}`",
                    super::clip(&out.name)
                )));
            }
        }
        let [input]: [InferInput; 1] = self.inputs.try_into().map_err(|v: Vec<_>| {
            AppError::BadRequest(format!(
                "expected exactly one input tensor, got {}",
                v.len()
            ))
        })?;
        let name = &super::clip(&input.name);
        if !matches!(input.datatype.as_str(), "FP32" | "FP64") {
            return Err(AppError::BadRequest(format!(
                "input `{name}`: datatype `{}` is not supported (use FP32 or FP64)",
                input.datatype
            )));
        }
        let dims: Vec<usize> = input
            .shape
            .iter()
            .map(|&d| usize::try_from(d).ok())
            .collect::<Option<_>>()
            .filter(|d: &Vec<usize>| matches!(d.len(), 1 | 2))
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "input `{name}`: shape {:?} must be [rows, features] or [features]",
                    input.shape
                ))
            })?;
        let rows = if dims.len() == 2 { dims[0] } else { 1 };
        if dims.contains(&0) {
            return Err(AppError::BadRequest(format!(
                "input `{name}`: shape {dims:?} has no values; send at least one row"
            )));
        }
        let cols = dims[dims.len() - 1];
        if cols != features {
            return Err(AppError::BadRequest(format!(
                "input `{name}`: shape {dims:?} has {cols} features per row; model `{}` takes {features}",
                super::clip(model)
            )));
        }
        let expected = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        // Every value takes at least two bytes of JSON ("0,").
        let mut data = Vec::with_capacity(expected.unwrap_or(0).min(body_len / 2 + 1));
        flatten(&input.data, name, &mut data)?;
        if expected != Some(data.len()) {
            return Err(AppError::BadRequest(format!(
                "input `{name}`: shape {dims:?} needs {} values, data has {}",
                expected.map_or("too many".to_owned(), |e| e.to_string()),
                data.len()
            )));
        }
        Ok(InferenceInput::rows(model, rows, data))
    }
}

pub(crate) fn metadata(name: &str, sig: Signature) -> Value {
    let (platform, input) = match sig.input {
        InputKind::Features(n) => (
            "aprender-mlp",
            json!({ "name": "input", "datatype": "FP32", "shape": [-1, n] }),
        ),
        InputKind::Text => (
            "aprender-encoder",
            json!({ "name": "text", "datatype": "BYTES", "shape": [-1] }),
        ),
    };
    json!({
        "name": name,
        "platform": platform,
        "inputs": [input],
        "outputs": [{ "name": OUTPUT_NAME, "datatype": "FP32", "shape": [-1, sig.outputs] }],
    })
}
