//! The HTTP server: KServe v2 / Open Inference Protocol over axum.
//!
//! [`app`] builds the router from a [`ServerState`] so tests can drive it
//! without a socket; [`serve`] runs it on a listener until a shutdown signal,
//! then finishes every admitted request before returning.

mod error;
mod kserve;
mod metrics;

use std::future::Future;

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

pub use error::AppError;
pub use kserve::{InferInput, InferOutput, InferRequestBody, InferResponseBody};

use crate::{InferenceRequest, ServerState};

/// The response header naming the backend that ran an inference.
pub const BACKEND_HEADER: HeaderName = HeaderName::from_static("x-batuta-backend");

/// The router with every route of the server.
pub fn app(state: ServerState) -> Router {
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
        .with_state(state)
}

/// Serves `app(state)` on `listener` until `shutdown` resolves; admitted
/// requests are finished before this returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ServerState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

async fn server_metadata() -> Json<serde_json::Value> {
    Json(json!({ "name": "batuta", "version": env!("CARGO_PKG_VERSION"), "extensions": [] }))
}

async fn live() -> Json<serde_json::Value> {
    Json(json!({ "live": true }))
}

async fn ready(State(state): State<ServerState>) -> Response {
    let ready = !state.engine().model_names().is_empty();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({ "ready": ready }))).into_response()
}

async fn models(State(state): State<ServerState>) -> Json<serde_json::Value> {
    Json(json!({ "models": state.engine().model_names() }))
}

async fn model_metadata(
    State(state): State<ServerState>,
    Path(model): Path<String>,
) -> Result<Response, AppError> {
    let mlp = state
        .engine()
        .model(&model)
        .ok_or_else(|| AppError::unknown_model(&model))?;
    Ok(Json(kserve::metadata(&model, &mlp)).into_response())
}

async fn model_ready(
    State(state): State<ServerState>,
    Path(model): Path<String>,
) -> Result<Response, AppError> {
    state
        .engine()
        .model(&model)
        .ok_or_else(|| AppError::unknown_model(&model))?;
    Ok(Json(json!({ "name": model, "ready": true })).into_response())
}

async fn prometheus(State(state): State<ServerState>) -> Response {
    let headers = [(
        axum::http::header::CONTENT_TYPE,
        "text/plain; version=0.0.4",
    )];
    (headers, metrics::render(&state)).into_response()
}

async fn infer(
    State(state): State<ServerState>,
    Path(model): Path<String>,
    body: Result<Json<InferRequestBody>, JsonRejection>,
) -> Result<Response, AppError> {
    let start = std::time::Instant::now();
    let result = run_inference(&state, &model, body).await;
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

async fn run_inference(
    state: &ServerState,
    model: &str,
    body: Result<Json<InferRequestBody>, JsonRejection>,
) -> Result<(trueno::Backend, InferResponseBody), AppError> {
    let Json(body) = body?;
    let id = body.id.clone();
    let input = body.into_input(model)?;
    let request = InferenceRequest { id, input };
    let ticket = state.admit(&request)?;
    let (backend, spilled) = (ticket.backend, ticket.spilled);
    if spilled {
        metrics::spilled(backend.name());
    }
    let output = state.finish(ticket).await?;
    Ok((backend, InferResponseBody::new(model, request.id, &output)))
}
