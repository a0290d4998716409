//! The encoder against sentence-transformers on PyTorch (fp32): the committed
//! fixture (`tests/data/encoder/make_fixture.py`) holds 64 sentences of 3 to
//! 256 tokens (mixed case, accents, CJK, emoji, punctuation, one longer than
//! the 256-token limit), their token ids and their embeddings. Every sentence
//! must tokenise to the same ids and embed with cosine ≥ 0.99999 and no value
//! further than 1e-4 from PyTorch's, on every backend (the GPU's where an
//! adapter opens: lavapipe in CI). Also the real
//! folder's configuration and tokenizer set-up.

use std::path::PathBuf;

use aprender::encoder::{Encoder, Gelu, Pooling};
use serde_json::Value;
use trueno::Backend;

fn real_model() -> Option<PathBuf> {
    let dir = aprender::encoder::model_cache_dir("all-minilm-l6-v2")?;
    if dir.join(".complete").is_file() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but {} is missing: run `cargo xtask fetch-models`",
        dir.display()
    );
    eprintln!(
        "skipping: {} is missing (run `cargo xtask fetch-models`)",
        dir.display()
    );
    None
}

#[test]
fn embeddings_match_sentence_transformers_on_every_backend() {
    let Some(dir) = real_model() else { return };
    let encoder = Encoder::load(&dir).unwrap();
    let fixture: Value =
        serde_json::from_str(include_str!("data/encoder/minilm_parity.json")).unwrap();
    let cases = fixture["sentences"].as_array().unwrap();
    assert!(cases.len() >= 64);
    let texts: Vec<&str> = cases.iter().map(|c| c["text"].as_str().unwrap()).collect();
    for (c, text) in cases.iter().zip(&texts) {
        let want: Vec<u32> = c["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(
            encoder.tokenizer.encode(text).unwrap().ids,
            want,
            "token ids of {text:?}"
        );
    }
    let mut backends = vec![Backend::Scalar, Backend::Simd];
    match trueno::gpu::GpuContext::shared() {
        Ok(ctx) => {
            eprintln!("GPU: {}", ctx.adapter_name());
            backends.push(Backend::Gpu);
        }
        Err(e) if std::env::var("TRUENO_REQUIRE_GPU").as_deref() == Ok("1") => {
            panic!("TRUENO_REQUIRE_GPU=1 but the GPU backend cannot open: {e}")
        }
        // Lavapipe needs TRUENO_ALLOW_SOFTWARE_GPU=1, as in CI.
        Err(e) => eprintln!("skipping the GPU backend: {e}"),
    }
    for backend in backends {
        let started = std::time::Instant::now();
        let got = encoder.embed(backend, &texts).unwrap();
        let took = started.elapsed();
        let (mut worst_cosine, mut worst_diff) = (1.0f64, 0.0f32);
        for (i, (c, text)) in cases.iter().zip(&texts).enumerate() {
            let want: Vec<f32> = c["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            let row = got.row(i);
            let dot: f64 = row
                .iter()
                .zip(&want)
                .map(|(a, b)| f64::from(*a) * f64::from(*b))
                .sum();
            let norm = |v: &[f32]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt();
            let cosine = dot / (norm(row) * norm(&want));
            let max_diff = row
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(
                cosine >= 0.99999 && max_diff <= 1e-4,
                "{backend}: sentence {i} {text:?}: cosine {cosine:.7}, max abs diff {max_diff:.2e}"
            );
            worst_cosine = worst_cosine.min(cosine);
            worst_diff = worst_diff.max(max_diff);
        }
        eprintln!(
            "{backend}: lowest cosine {worst_cosine:.9}, largest abs diff {worst_diff:.2e} ({took:.1?})"
        );
    }
}

#[test]
fn the_real_minilm_folder_loads_and_tokenises_like_sentence_transformers() {
    let Some(dir) = real_model() else { return };
    let e = Encoder::load(&dir).unwrap();
    let c = &e.config;
    assert_eq!(
        (
            c.hidden,
            c.layers,
            c.heads,
            c.intermediate,
            c.vocab,
            c.max_positions
        ),
        (384, 6, 12, 1536, 30522, 512)
    );
    assert_eq!(
        (c.pooling, c.normalize, c.max_seq_length, c.activation),
        (Pooling::Mean, true, 256, Gelu::Erf)
    );
    // BERT uncased ids: [CLS] hello world ! [SEP]; no padding to the file's 128.
    let t = e.tokenizer.encode("Hello world!").unwrap();
    assert_eq!(t.ids, [101, 7592, 2088, 999, 102]);
    assert_eq!(t.type_ids, [0; 5]);
    // Truncated at max_seq_length (256), not at the file's 128, [SEP] kept last.
    let long = "word ".repeat(400);
    let t = e.tokenizer.encode(&long).unwrap();
    assert_eq!((t.ids.len(), t.ids[0], t.ids[255]), (256, 101, 102));
    assert!(t.ids.iter().all(|&i| (i as usize) < c.vocab));
}
