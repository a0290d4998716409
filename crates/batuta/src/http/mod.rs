//! The HTTP server: KServe v2 / Open Inference Protocol over axum.
//!
//! [`app`] builds the router from a [`ServerState`] so tests can drive it
//! without a socket; [`serve`] runs it on a listener with the connection
//! limits of `[serve.http]` (`server.rs`) until a shutdown signal, then
//! drains.
//!
//! An inference is refused as early as its answer is known: a wrong
//! Content-Type, an unknown model or a full server before a byte of the body
//! is read; a declared length over `max_body_bytes` before reading; a body
//! that does not arrive within `body_read_timeout` while reading.

mod error;
mod kserve;
mod metrics;
mod server;

use std::future::Future;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use serde_json::json;

pub use error::AppError;
pub use kserve::{InferInput, InferOutput, InferRequestBody, InferResponseBody};

use crate::config::HttpLimits;
use crate::{InferenceRequest, ServerState};

/// What every handler shares: the serving state and the request limits.
#[derive(Debug, Clone)]
struct Ctx {
    state: ServerState,
    limits: HttpLimits,
}

/// The response header naming the backend that ran an inference.
pub const BACKEND_HEADER: HeaderName = HeaderName::from_static("x-batuta-backend");

/// The router with every route of the server, under the default limits.
pub fn app(state: ServerState) -> Router {
    app_with(state, HttpLimits::default())
}

/// The router with every route of the server; `limits` bounds request bodies.
pub fn app_with(state: ServerState, limits: HttpLimits) -> Router {
    metrics::handle(); // install the recorder before the first request
    Router::new()
        .route("/metrics", get(prometheus))
        .route("/v2", get(server_metadata))
        .route("/v2/health/live", get(live))
        .route("/v2/health/ready", get(ready))
        .route("/v2/models", get(models))
        .route("/v2/models/{model}", get(model_metadata))
        .route("/v2/models/{model}/ready", get(model_ready))
        .route("/v2/models/{model}/infer", post(infer))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .with_state(Ctx { state, limits })
}

/// Serves `app_with(state, limits)` on `listener` until `shutdown`
/// resolves, then drains: every connection finishes its request in flight,
/// and those left after `limits.drain_timeout` are closed.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ServerState,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    server::serve(listener, app_with(state, limits), limits, shutdown).await
}

async fn no_route(method: Method, uri: Uri) -> AppError {
    AppError::NotFound(format!("no route for {method} {}", clip(uri.path())))
}

async fn wrong_method(method: Method, uri: Uri) -> AppError {
    AppError::MethodNotAllowed(format!("{method} is not allowed on {}", clip(uri.path())))
}

/// A client's string, shortened for an error message (a 10 kB model name
/// must not come back as a 10 kB error).
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}… ({} bytes)", &s[..at], s.len()),
        None => s.to_owned(),
    }
}

async fn server_metadata() -> Json<serde_json::Value> {
    Json(json!({ "name": "batuta", "version": env!("CARGO_PKG_VERSION"), "extensions": [] }))
}

async fn live() -> Json<serde_json::Value> {
    Json(json!({ "live": true }))
}

async fn ready(State(Ctx { state, .. }): State<Ctx>) -> Response {
    let ready = state.is_ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({ "ready": ready }))).into_response()
}

async fn models(State(Ctx { state, .. }): State<Ctx>) -> Json<serde_json::Value> {
    Json(json!({ "models": state.engine().model_names() }))
}

async fn model_metadata(
    State(Ctx { state, .. }): State<Ctx>,
    model: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    let Path(model) = model?;
    let served = state
        .engine()
        .model(&model)
        .ok_or_else(|| AppError::unknown_model(&model))?;
    Ok(Json(kserve::metadata(&model, served.signature())).into_response())
}

async fn model_ready(
    State(Ctx { state, .. }): State<Ctx>,
    model: Result<Path<String>, PathRejection>,
) -> Result<Response, AppError> {
    let Path(model) = model?;
    state
        .engine()
        .model(&model)
        .ok_or_else(|| AppError::unknown_model(&model))?;
    Ok(Json(json!({ "name": model, "ready": true })).into_response())
}

async fn prometheus(State(Ctx { state, .. }): State<Ctx>) -> Response {
    let headers = [(
        axum::http::header::CONTENT_TYPE,
        "text/plain; version=0.0.4",
    )];
    (headers, metrics::render(&state)).into_response()
}

/// Counts a request whose client left before its answer (the handler's
/// future is dropped mid-way), unless disarmed by an answer.
struct Unanswered(bool);

impl Drop for Unanswered {
    fn drop(&mut self) {
        if self.0 {
            metrics::request("none", "client_gone", None);
        }
    }
}

async fn infer(
    State(ctx): State<Ctx>,
    model: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let start = std::time::Instant::now();
    let mut pending = Unanswered(true);
    let result = match model {
        Ok(Path(model)) => run_inference(&ctx, &model, &headers, body).await,
        Err(e) => Err(e.into()),
    };
    pending.0 = false;
    match &result {
        Ok((backend, _)) => metrics::request(backend.name(), "ok", Some(start.elapsed())),
        Err(AppError::Overloaded { .. }) => metrics::request("none", "overloaded", None),
        Err(AppError::Internal(_)) => metrics::request("none", "error", None),
        Err(_) => metrics::request("none", "rejected", None),
    }
    let (backend, body) = result?;
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(BACKEND_HEADER, HeaderValue::from_static(backend.name()));
    Ok(response)
}

/// An inference body, as bytes, turned into the request for `model` (which
/// takes `features` values per row), or the 400 that says what is wrong.
/// Every check of a client's body is here (the fuzz target and the proptest
/// drive this function).
pub fn parse_infer_body(
    bytes: &[u8],
    model: &str,
    features: usize,
) -> Result<InferenceRequest, AppError> {
    let body: InferRequestBody = serde_json::from_slice(bytes)
        .map_err(|e| AppError::BadRequest(format!("cannot parse the request body: {e}")))?;
    let id = body.id.clone();
    let input = body.into_input(model, features, bytes.len())?;
    Ok(InferenceRequest { id, input })
}

/// Whether a Content-Type names JSON. None is read as JSON too: Triton's
/// own clients send inference bodies without one.
fn is_json(content_type: &HeaderValue) -> bool {
    let Ok(ct) = content_type.to_str() else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Reads the body within the size and time limits.
async fn read_body(
    limits: &HttpLimits,
    headers: &HeaderMap,
    body: Body,
) -> Result<bytes::Bytes, AppError> {
    let too_large = || AppError::PayloadTooLarge(limits.max_body_bytes);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        return Err(too_large());
    }
    let limited = http_body_util::Limited::new(body, limits.max_body_bytes);
    match tokio::time::timeout(limits.body_read_timeout, limited.collect()).await {
        Err(_) => Err(AppError::Timeout(format!(
            "the request body did not arrive within {} s",
            limits.body_read_timeout.as_secs_f64()
        ))),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(too_large())
        }
        Ok(Err(e)) => Err(AppError::BadRequest(format!(
            "reading the request body: {e}"
        ))),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

/// What can be refused from the head alone: a body that is not JSON, an
/// unknown model, and — when no queue could take it anyway — any request, so
/// that overload costs no parsing.
fn early_checks(
    state: &ServerState,
    model: &str,
    headers: &HeaderMap,
) -> Result<std::sync::Arc<dyn realizar::Model>, AppError> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE)
        && !is_json(ct)
    {
        return Err(AppError::UnsupportedMediaType(format!(
            "Content-Type `{}` is not supported; send application/json",
            clip(&String::from_utf8_lossy(ct.as_bytes()))
        )));
    }
    let mlp = state
        .engine()
        .model(model)
        .ok_or_else(|| AppError::unknown_model(model))?;
    match state.refuses_now() {
        Some(refusal) => Err(refusal.into()),
        None => Ok(mlp),
    }
}

/// Reads and drops a body that will not be used, within the same size and
/// time limits. Most clients write their whole body before reading: were the
/// connection closed with the body unread, they would see a broken pipe or a
/// reset instead of the answer. Draining also keeps the connection reusable.
async fn discard_body(limits: &HttpLimits, mut body: Body) {
    let drain = async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len());
            if seen > limits.max_body_bytes {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(limits.body_read_timeout, drain).await;
}

async fn run_inference(
    ctx: &Ctx,
    model: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<(trueno::Backend, InferResponseBody), AppError> {
    let state = &ctx.state;
    let served = match early_checks(state, model, headers) {
        Ok(m) => m,
        Err(e) => {
            discard_body(&ctx.limits, body).await;
            return Err(e);
        }
    };
    let bytes = read_body(&ctx.limits, headers, body).await?;
    let features = match served.signature().input {
        realizar::InputKind::Features(n) => n,
        realizar::InputKind::Text => {
            return Err(AppError::BadRequest(format!(
                "model `{model}` takes text; this endpoint takes FP32 tensors"
            )));
        }
    };
    let request = parse_infer_body(&bytes, model, features)?;
    let ticket = state.admit(&request)?;
    let (backend, spilled) = (ticket.backend, ticket.spilled);
    if spilled {
        metrics::spilled(backend.name());
    }
    let output = state.finish(ticket).await?;
    Ok((backend, InferResponseBody::new(model, request.id, &output)))
}
