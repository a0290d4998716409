//! The engine end to end: results, bounded queues under a flood, cancellation,
//! bad inputs and model files.

use std::sync::Arc;

use aprender::Mlp;
use realizar::{BackendConfig, Engine, EngineError, InferenceInput, registry};
use trueno::Backend;

fn engine(capacity: usize) -> Engine {
    Engine::new(&[
        BackendConfig::new(Backend::Simd, capacity, 1),
        BackendConfig::new(Backend::Scalar, capacity, 2),
    ])
    .unwrap()
}

/// One worker on `backend` with `capacity` slots, batching up to `max_rows`
/// rows within `window_ms`.
fn batching(backend: Backend, capacity: usize, max_rows: usize, window_ms: u64) -> Engine {
    Engine::new(&[BackendConfig::new(backend, capacity, 1)
        .with_batching(max_rows, std::time::Duration::from_millis(window_ms))])
    .unwrap()
}

/// The values of a request of rows.
fn values(i: &InferenceInput) -> &[f32] {
    i.payload.as_rows().expect("a request of rows").1
}

fn input(model: &str, rows: usize, features: usize) -> InferenceInput {
    let data: Vec<f32> = (0..rows * features)
        .map(|i| (i as f32 * 0.1).cos())
        .collect();
    InferenceInput::rows(model, rows, data)
}

#[test]
fn results_match_a_direct_prediction() {
    let e = engine(4);
    let mlp = Arc::new(Mlp::random(&[6, 10, 4], 3).unwrap());
    e.insert_model("m", mlp.clone());
    let inp = input("m", 5, 6);
    for backend in [Backend::Simd, Backend::Scalar] {
        let out = e.submit(backend, inp.clone()).unwrap().wait().unwrap();
        assert_eq!(out.backend, backend);
        assert_eq!((out.rows, out.cols), (5, 4));
        assert_eq!(out.data, mlp.predict(backend, values(&inp), 5).unwrap());
    }
    assert_eq!(e.queue(Backend::Simd).unwrap().queue_depth(), 0);
}

#[test]
fn a_flood_never_exceeds_capacity_and_every_submission_is_answered() {
    // A model big enough that the single SIMD worker is still busy while the
    // flood arrives: admissions are bounded by capacity, the rest are refused.
    let e = engine(3);
    e.insert_model(
        "big",
        Arc::new(Mlp::random(&[256, 1024, 1024, 10], 5).unwrap()),
    );
    let q = e.queue(Backend::Simd).unwrap();
    let mut pending = Vec::new();
    let mut full = 0;
    for _ in 0..50 {
        match e.submit(Backend::Simd, input("big", 64, 256)) {
            Ok(p) => pending.push(p),
            Err(EngineError::QueueFull {
                backend: Backend::Simd,
                capacity: 3,
            }) => full += 1,
            Err(other) => panic!("unexpected {other}"),
        }
        assert!(q.queue_depth() <= q.capacity());
    }
    assert!(pending.len() >= 3, "the first three always fit");
    assert_eq!(pending.len() + full, 50);
    for p in pending {
        assert_eq!(p.wait().unwrap().rows, 64);
    }
    assert_eq!(q.queue_depth(), 0);
    assert!(q.mean_pass_time().is_some());
}

#[test]
fn bad_requests_never_take_a_slot() {
    let e = engine(1);
    e.insert_model("m", Arc::new(Mlp::random(&[3, 2], 1).unwrap()));
    let err = e.submit(Backend::Simd, input("nope", 1, 3)).unwrap_err();
    assert_eq!(err.to_string(), "model `nope` is not loaded");
    let err = e
        .submit(Backend::Simd, InferenceInput::rows("m", 2, vec![1.0; 5]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "input has 5 values, but 2 rows of 3 features need 6"
    );
    let err = e.submit(Backend::Gpu, input("m", 1, 3)).unwrap_err();
    assert!(matches!(
        err,
        EngineError::BackendNotConfigured(Backend::Gpu)
    ));
    assert_eq!(e.queue(Backend::Simd).unwrap().queue_depth(), 0);
}

#[test]
fn cancelled_requests_release_their_slot() {
    let e = engine(2);
    e.insert_model(
        "big",
        Arc::new(Mlp::random(&[256, 1024, 1024, 10], 5).unwrap()),
    );
    for _ in 0..2 {
        drop(e.submit(Backend::Simd, input("big", 64, 256)).unwrap());
    }
    // Whether skipped or finished, both slots come back.
    let q = e.queue(Backend::Simd).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while q.queue_depth() > 0 {
        assert!(std::time::Instant::now() < deadline, "slots leaked");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn configuration_errors() {
    let gpu = Engine::new(&[BackendConfig::new(Backend::Gpu, 1, 1)]);
    if Backend::Gpu.is_available() {
        assert!(gpu.is_ok());
    } else {
        let err = gpu.unwrap_err().to_string();
        assert!(err.starts_with("backend `gpu` cannot run here: "), "{err}");
    }
    let zero = Engine::new(&[BackendConfig::new(Backend::Simd, 0, 1)]);
    assert!(matches!(zero, Err(EngineError::Config(_))));
    let twice = [BackendConfig::new(Backend::Simd, 1, 1); 2];
    assert!(
        Engine::new(&twice)
            .unwrap_err()
            .to_string()
            .contains("listed twice")
    );
}

#[test]
fn a_directory_with_a_bad_file_still_loads_the_good_ones() {
    let dir = std::env::temp_dir().join(format!("realizar-dir-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    Mlp::random(&[4, 3], 1)
        .unwrap()
        .save(dir.join("good.safetensors"))
        .unwrap();
    std::fs::write(dir.join("broken.safetensors"), b"garbage").unwrap();
    std::fs::write(dir.join("notes.txt"), b"ignored").unwrap();
    let e = engine(1);
    let report = registry::load_dir(&e, &dir).unwrap();
    assert_eq!(e.model_names(), vec!["good".to_owned()]);
    assert_eq!(report.skipped.len(), 1);
    assert!(
        report.skipped[0]
            .1
            .to_string()
            .contains("broken.safetensors: not a safetensors file")
    );
    assert!(e.remove_model("good").is_some());
    assert!(e.model_names().is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn batching_merges_and_splits_exactly() {
    // One worker with a 30 ms window: requests submitted together run as one forward pass.
    let e = batching(Backend::Simd, 64, 64, 30);
    let mlp = Arc::new(Mlp::random(&[16, 32, 5], 4).unwrap());
    e.insert_model("m", mlp.clone());
    e.insert_model("other", Arc::new(Mlp::random(&[16, 8, 3], 5).unwrap()));
    let inputs: Vec<InferenceInput> = (1..=8).map(|r| input("m", r, 16)).collect();
    let mut pending: Vec<_> = inputs
        .iter()
        .map(|i| e.submit(Backend::Simd, i.clone()).unwrap())
        .collect();
    // A request for another model is not merged: it runs in a batch of its own.
    pending.push(e.submit(Backend::Simd, input("other", 2, 16)).unwrap());
    let outs: Vec<_> = pending.into_iter().map(|p| p.wait().unwrap()).collect();
    let mut batched = 0;
    for (inp, out) in inputs.iter().zip(&outs) {
        let alone = mlp
            .predict(Backend::Simd, values(inp), inp.items())
            .unwrap();
        assert_eq!(out.rows, inp.items());
        for (a, b) in alone.iter().zip(&out.data) {
            assert!((a - b).abs() < 1e-6, "batched result differs: {a} vs {b}");
        }
        if out.batch_rows > out.rows {
            batched += 1;
        }
    }
    assert!(
        batched >= 2,
        "nothing was batched: {:?}",
        outs.iter().map(|o| o.batch_rows).collect::<Vec<_>>()
    );
    assert_eq!(outs[8].batch_rows, 2, "another model's request stays alone");
    assert!(outs.iter().all(|o| o.batch_rows <= 64));
    // Busy time is shared by rows: every request of one batch has the same time per row.
    let per_row = |o: &realizar::InferenceOutput| o.busy.as_secs_f64() / o.rows as f64;
    let batch_of_first: Vec<_> = outs[..8]
        .iter()
        .filter(|o| o.batch_rows == outs[0].batch_rows)
        .collect();
    for o in &batch_of_first {
        assert!(
            (per_row(o) - per_row(batch_of_first[0])).abs() < 1e-6,
            "unequal shares"
        );
    }
}

#[test]
fn gpu_workers_keep_weights_resident_and_follow_replacements() {
    if !Backend::Gpu.is_available() {
        assert!(
            std::env::var("TRUENO_REQUIRE_GPU").as_deref() != Ok("1"),
            "TRUENO_REQUIRE_GPU=1 but the GPU backend is unavailable"
        );
        eprintln!(
            "skipping: no GPU backend (a software adapter needs TRUENO_ALLOW_SOFTWARE_GPU=1)"
        );
        return;
    }
    let e = batching(Backend::Gpu, 8, 64, 5);
    let first = Arc::new(Mlp::random(&[6, 10, 4], 1).unwrap());
    e.insert_model("m", first.clone());
    let inp = input("m", 5, 6);
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5);
    let want = first.predict(Backend::Scalar, values(&inp), 5).unwrap();
    for _ in 0..3 {
        let out = e.submit(Backend::Gpu, inp.clone()).unwrap().wait().unwrap();
        assert!(close(&out.data, &want), "GPU result differs from the CPU");
    }
    // A replaced model is served with its own weights, not the cached ones.
    let second = Arc::new(Mlp::random(&[6, 10, 4], 2).unwrap());
    e.insert_model("m", second.clone());
    let out = e.submit(Backend::Gpu, inp.clone()).unwrap().wait().unwrap();
    assert!(close(
        &out.data,
        &second.predict(Backend::Scalar, values(&inp), 5).unwrap()
    ));
    assert!(!close(&out.data, &want), "still serving the old weights");
    // A NaN is named from the device path too, and the queue is left empty.
    let mut data = values(&inp).to_vec();
    data[13] = f32::NAN;
    let bad = InferenceInput::rows("m", inp.items(), data);
    let err = e.submit(Backend::Gpu, bad).unwrap().wait().unwrap_err();
    assert_eq!(err.to_string(), "input value 13 is not finite (NaN)");
    assert_eq!(e.queue(Backend::Gpu).unwrap().queue_depth(), 0);
}

#[test]
fn a_request_past_its_deadline_is_answered_but_not_computed() {
    let e = engine(8);
    e.insert_model(
        "big",
        Arc::new(Mlp::random(&[256, 1024, 1024, 10], 5).unwrap()),
    );
    // Occupy the single SIMD worker, then queue a request whose deadline has passed by the time it is taken.
    let busy = e.submit(Backend::Simd, input("big", 64, 256)).unwrap();
    let late = e
        .submit_by(
            Backend::Simd,
            input("big", 64, 256),
            Some(std::time::Instant::now()),
        )
        .unwrap();
    let err = late.wait().unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::DeadlineExceeded {
                backend: Backend::Simd
            }
        ),
        "{err}"
    );
    busy.wait().unwrap();
    let q = e.queue(Backend::Simd).unwrap();
    assert_eq!(q.queue_depth(), 0, "the late request's slot is free");
    // Only the computed request was timed.
    assert!(q.service_percentile(0.5).is_some());
    let on_time = e.submit_by(
        Backend::Simd,
        input("big", 1, 256),
        Some(std::time::Instant::now() + std::time::Duration::from_secs(60)),
    );
    assert_eq!(on_time.unwrap().wait().unwrap().rows, 1);
}

#[test]
fn non_finite_inputs_are_refused_by_name() {
    let e = engine(2);
    e.insert_model("m", Arc::new(Mlp::random(&[3, 2], 1).unwrap()));
    for (backend, value) in [(Backend::Simd, f32::NAN), (Backend::Scalar, f32::INFINITY)] {
        let bad = InferenceInput::rows("m", 2, vec![1.0, 2.0, 3.0, 1.0, value, 2.0]);
        let err = e.submit(backend, bad).unwrap().wait().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("input value 4 is not finite ({value})")
        );
        assert_eq!(e.queue(backend).unwrap().queue_depth(), 0);
    }
}

#[test]
fn a_bad_request_batched_with_good_ones_fails_alone() {
    // Requests merged into one forward pass: the one holding a NaN gets the
    // error, its neighbours (before and after it in the batch) their results.
    let e = batching(Backend::Simd, 64, 1024, 30);
    let mlp = Arc::new(Mlp::random(&[16, 32, 5], 4).unwrap());
    e.insert_model("m", mlp.clone());
    // Enough rows that the pass is split into several tasks.
    let mut inputs: Vec<InferenceInput> = (0..6).map(|i| input("m", 60 + i, 16)).collect();
    let mut poisoned = values(&inputs[3]).to_vec();
    poisoned[17 * 16 + 5] = f32::NEG_INFINITY;
    inputs[3] = InferenceInput::rows("m", inputs[3].items(), poisoned);
    let pending: Vec<_> = inputs
        .iter()
        .map(|i| e.submit(Backend::Simd, i.clone()).unwrap())
        .collect();
    let answers: Vec<_> = pending.into_iter().map(|p| p.wait()).collect();
    assert!(
        answers.iter().flatten().any(|o| o.batch_rows > o.rows),
        "nothing was batched"
    );
    for (i, (inp, answer)) in inputs.iter().zip(answers).enumerate() {
        match answer {
            Err(err) if i == 3 => {
                assert_eq!(err.to_string(), "input value 277 is not finite (-inf)")
            }
            Ok(out) if i != 3 => {
                let alone = mlp
                    .predict(Backend::Simd, values(inp), inp.items())
                    .unwrap();
                for (a, b) in alone.iter().zip(&out.data) {
                    assert!((a - b).abs() < 1e-6, "request {i}: {a} vs {b}");
                }
            }
            other => panic!("request {i}: {other:?}"),
        }
    }
    assert_eq!(e.queue(Backend::Simd).unwrap().queue_depth(), 0);
}

#[test]
fn the_queue_bound_is_exact_with_a_held_worker() {
    // A worker held on a long request: capacity 4 admits exactly 3 more, and
    // every further submission is refused — an exact count, not a range.
    let e = Engine::new(&[BackendConfig::new(Backend::Scalar, 4, 1)]).unwrap();
    e.insert_model(
        "big",
        Arc::new(Mlp::random(&[256, 1024, 1024, 10], 5).unwrap()),
    );
    e.insert_model("small", Arc::new(Mlp::random(&[4, 2], 5).unwrap()));
    // The scalar backend needs well over a second for 256 rows here: the flood
    // below (microseconds) finishes long before.
    let held = e.submit(Backend::Scalar, input("big", 256, 256)).unwrap();
    let mut admitted = Vec::new();
    let mut full = 0;
    for _ in 0..100 {
        match e.submit(Backend::Scalar, input("small", 1, 4)) {
            Ok(p) => admitted.push(p),
            Err(EngineError::QueueFull { capacity: 4, .. }) => full += 1,
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!((admitted.len(), full), (3, 97));
    held.wait().unwrap();
    for p in admitted {
        p.wait().unwrap();
    }
}

#[test]
fn an_empty_input_is_refused_before_it_takes_a_slot() {
    let e = engine(1);
    e.insert_model("m", Arc::new(Mlp::random(&[4, 3], 1).unwrap()));
    for backend in [Backend::Simd, Backend::Scalar] {
        let err = e.submit(backend, input("m", 0, 4)).unwrap_err();
        assert!(
            matches!(
                err,
                EngineError::EmptyInput {
                    rows: 0,
                    features: 4
                }
            ),
            "{err}"
        );
        assert_eq!(e.queue(backend).unwrap().queue_depth(), 0);
        // The backend is unharmed: the next request is served.
        let out = e.submit(backend, input("m", 2, 4)).unwrap().wait().unwrap();
        assert_eq!(out.rows, 2);
    }
}

#[test]
fn a_started_engine_reports_every_worker_live() {
    let e = engine(2);
    assert_eq!(e.queue(Backend::Simd).unwrap().live_workers(), 1);
    assert_eq!(e.queue(Backend::Scalar).unwrap().live_workers(), 2);
}
