//! The router driven in-process (no socket): every route, and every bad body
//! answered with a 4xx in the same JSON shape.

use std::sync::Arc;

use aprender::Mlp;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use batuta::ServerState;
use batuta::http::app;
use batuta::route::RoutePolicy;
use realizar::{BackendConfig, Engine};
use serde_json::{Value, json};
use tower::ServiceExt;
use trueno::Backend;

fn state() -> ServerState {
    let engine = Engine::new(&[
        BackendConfig::new(Backend::Simd, 4, 1),
        BackendConfig::new(Backend::Scalar, 4, 1),
    ])
    .unwrap();
    engine.insert_model("iris", Arc::new(Mlp::random(&[4, 8, 3], 9).unwrap()));
    ServerState::new(
        engine,
        RoutePolicy::spillover(Backend::Simd, Backend::Scalar, 64),
    )
    .unwrap()
}

async fn call(req: Request<Body>) -> (StatusCode, Option<String>, Value) {
    let resp = app(state()).oneshot(req).await.unwrap();
    let status = resp.status();
    let backend = resp
        .headers()
        .get("x-batuta-backend")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        backend,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn infer(model: &str, body: &str) -> Request<Body> {
    Request::post(format!("/v2/models/{model}/infer"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn health_and_metadata() {
    assert_eq!(call(get("/v2/health/live")).await.2, json!({"live": true}));
    assert_eq!(call(get("/v2/health/ready")).await.0, StatusCode::OK);
    assert_eq!(call(get("/v2")).await.2["name"], "batuta");
    assert_eq!(call(get("/v2/models")).await.2, json!({"models": ["iris"]}));
    let (status, _, meta) = call(get("/v2/models/iris")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(meta["inputs"][0]["shape"], json!([-1, 4]));
    assert_eq!(call(get("/v2/models/iris/ready")).await.2["ready"], true);
    assert_eq!(
        call(get("/v2/models/nope/ready")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn inference_answers_with_probabilities_and_the_backend() {
    let body = json!({"id": "r1", "inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32",
        "data": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}]});
    let (status, backend, out) = call(infer("iris", &body.to_string())).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    assert_eq!(backend.as_deref(), Some("simd"));
    assert_eq!(out["id"], "r1");
    assert_eq!(out["model_name"], "iris");
    assert_eq!(out["outputs"][0]["shape"], json!([2, 3]));
    let probs: Vec<f64> = serde_json::from_value(out["outputs"][0]["data"].clone()).unwrap();
    for row in probs.chunks(3) {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-5);
    }
}

#[tokio::test]
async fn bad_requests_get_a_clear_4xx() {
    let cases = [
        ("iris", "{not json", StatusCode::BAD_REQUEST, "parse"),
        (
            "iris",
            r#"{"inputs": []}"#,
            StatusCode::BAD_REQUEST,
            "exactly one input tensor, got 0",
        ),
        (
            "iris",
            r#"{"inputs": [{"name": "x", "shape": [1, 4], "datatype": "BYTES", "data": [1,2,3,4]}]}"#,
            StatusCode::BAD_REQUEST,
            "datatype `BYTES` is not supported",
        ),
        (
            "iris",
            r#"{"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32", "data": [1,2,3]}]}"#,
            StatusCode::BAD_REQUEST,
            "shape [2, 4] needs 8 values, data has 3",
        ),
        (
            "iris",
            r#"{"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1,2,3]}]}"#,
            StatusCode::BAD_REQUEST,
            "has 3 features per row; model `iris` takes 4",
        ),
        (
            "iris",
            r#"{"inputs": [{"name": "x", "shape": [-1, 4], "datatype": "FP32", "data": [1,2,3,4]}]}"#,
            StatusCode::BAD_REQUEST,
            "must be [rows, features]",
        ),
        (
            "iris",
            r#"{"inputs": [{"name": "x", "shape": [4], "datatype": "FP32", "data": [1,"a",3,4]}]}"#,
            StatusCode::BAD_REQUEST,
            "element 1 is \"a\", expected a number",
        ),
        (
            "iris",
            r#"{"inputs": [{"name": "x", "shape": [4], "datatype": "FP64", "data": [1,1e300,3,4]}]}"#,
            StatusCode::BAD_REQUEST,
            "is not a finite f32",
        ),
        (
            "ghost",
            r#"{"inputs": [{"name": "x", "shape": [4], "datatype": "FP32", "data": [1,2,3,4]}]}"#,
            StatusCode::NOT_FOUND,
            "model `ghost` is not loaded",
        ),
    ];
    for (model, body, want_status, want_text) in cases {
        let (status, backend, out) = call(infer(model, body)).await;
        assert_eq!(status, want_status, "{body}: {out}");
        assert_eq!(backend, None);
        let msg = out["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{body}: no error field in {out}"));
        assert!(
            msg.contains(want_text),
            "{body}: `{msg}` lacks `{want_text}`"
        );
    }
}
