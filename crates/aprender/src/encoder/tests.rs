//! The loader on small random folders made here (every hostile variant a
//! named error); the real folder is tested in `tests/encoder_parity.rs`.

use std::path::Path;

use safetensors::{Dtype, tensor::TensorView};

use super::*;
use crate::error::FileProblem;

const CONFIG: &str = r#"{"model_type": "bert", "hidden_size": 8, "num_hidden_layers": 2,
  "num_attention_heads": 2, "intermediate_size": 16, "hidden_act": "gelu",
  "layer_norm_eps": 1e-12, "vocab_size": 30, "max_position_embeddings": 12,
  "type_vocab_size": 2, "position_embedding_type": "absolute"}"#;

fn folder(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), config).unwrap();
    dir
}

/// Every tensor of the small config, with deterministic values.
fn tensors(cfg: &EncoderConfig) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let (h, f) = (cfg.hidden, cfg.intermediate);
    let mut out = vec![
        (
            "embeddings.word_embeddings.weight".to_owned(),
            vec![cfg.vocab, h],
        ),
        (
            "embeddings.position_embeddings.weight".into(),
            vec![cfg.max_positions, h],
        ),
        (
            "embeddings.token_type_embeddings.weight".into(),
            vec![cfg.type_vocab, h],
        ),
        ("embeddings.LayerNorm.weight".into(), vec![h]),
        ("embeddings.LayerNorm.bias".into(), vec![h]),
    ];
    for i in 0..cfg.layers {
        for (part, shape) in [
            ("attention.self.query", vec![h, h]),
            ("attention.self.key", vec![h, h]),
            ("attention.self.value", vec![h, h]),
            ("attention.output.dense", vec![h, h]),
            ("intermediate.dense", vec![f, h]),
            ("output.dense", vec![h, f]),
        ] {
            let rows = shape[0];
            out.push((format!("encoder.layer.{i}.{part}.weight"), shape));
            out.push((format!("encoder.layer.{i}.{part}.bias"), vec![rows]));
        }
        for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
            out.push((format!("encoder.layer.{i}.{norm}.weight"), vec![h]));
            out.push((format!("encoder.layer.{i}.{norm}.bias"), vec![h]));
        }
    }
    out.into_iter()
        .enumerate()
        .map(|(t, (name, shape))| {
            let n: usize = shape.iter().product();
            let values = (0..n)
                .map(|i| ((i * 7 + t * 13) % 17) as f32 / 17.0 - 0.5)
                .collect();
            (name, shape, values)
        })
        .collect()
}

fn serialize(tensors: &[(String, Vec<usize>, Vec<f32>)]) -> Vec<u8> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, s, v)| {
            (
                n.clone(),
                s.clone(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views = bytes.iter().map(|(n, s, b)| {
        (
            n.as_str(),
            TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
        )
    });
    safetensors::serialize(views, None).unwrap()
}

fn config() -> EncoderConfig {
    EncoderConfig::from_dir(folder(CONFIG).path()).unwrap()
}

fn problem(bytes: &[u8]) -> FileProblem {
    match read_weights(bytes, &config(), "m.safetensors").unwrap_err() {
        AprenderError::BadFile { origin, problem } => {
            assert_eq!(origin, "m.safetensors");
            problem
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_bert_config_and_its_sentence_transformers_files_are_read() {
    let dir = folder(CONFIG);
    std::fs::create_dir(dir.path().join("1_Pooling")).unwrap();
    std::fs::write(
        dir.path().join("1_Pooling/config.json"),
        r#"{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("modules.json"),
        r#"[{"type": "sentence_transformers.models.Transformer"}, {"type": "sentence_transformers.models.Normalize"}]"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("sentence_bert_config.json"),
        r#"{"max_seq_length": 10}"#,
    )
    .unwrap();
    let c = EncoderConfig::from_dir(dir.path()).unwrap();
    assert_eq!(
        (c.hidden, c.layers, c.heads, c.head_dim(), c.intermediate),
        (8, 2, 2, 4, 16)
    );
    assert_eq!(
        (c.activation, c.pooling, c.normalize, c.max_seq_length),
        (Gelu::Erf, Pooling::Cls, true, 10)
    );
    // Without the sentence-transformers files: mean pooling, no normalisation, every position.
    let bare = config();
    assert_eq!(
        (bare.pooling, bare.normalize, bare.max_seq_length),
        (Pooling::Mean, false, 12)
    );
}

#[test]
fn bad_configs_name_the_file_and_the_key() {
    let err = |config: &str| {
        EncoderConfig::from_dir(folder(config).path())
            .unwrap_err()
            .to_string()
    };
    let with = |from: &str, to: &str| CONFIG.replace(from, to);
    assert!(
        err("{").contains("config.json: not valid JSON"),
        "{}",
        err("{")
    );
    assert!(
        err(&with(
            "\"num_attention_heads\": 2",
            "\"num_attention_heads\": 3"
        ))
        .contains("`hidden_size` = 8 is not a multiple of `num_attention_heads` = 3")
    );
    assert!(err(&with("\"gelu\"", "\"swish\"")).contains("`hidden_act` = \"swish\""));
    assert!(
        err(&with("\"hidden_size\": 8", "\"hidden_size\": -8"))
            .contains("`hidden_size` is missing or not a whole number")
    );
    assert!(
        err(&with("\"vocab_size\": 30", "\"vocab_size\": 99999999999"))
            .contains("`vocab_size` = 99999999999 is outside")
    );
    assert!(
        err(&with("\"layer_norm_eps\": 1e-12", "\"layer_norm_eps\": 0"))
            .contains("`layer_norm_eps` = 0")
    );
    assert!(err(&with("\"absolute\"", "\"relative_key\"")).contains("only absolute positions"));
    assert!(err(&with("\"bert\"", "\"llama\"")).contains("not a BERT-family encoder"));
    let dir = folder(CONFIG);
    std::fs::create_dir(dir.path().join("1_Pooling")).unwrap();
    std::fs::write(
        dir.path().join("1_Pooling/config.json"),
        r#"{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true}"#,
    )
    .unwrap();
    let e = EncoderConfig::from_dir(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("1_Pooling/config.json: exactly one pooling mode"),
        "{e}"
    );
    std::fs::remove_dir_all(dir.path().join("1_Pooling")).unwrap();
    std::fs::write(
        dir.path().join("sentence_bert_config.json"),
        r#"{"max_seq_length": 500}"#,
    )
    .unwrap();
    let e = EncoderConfig::from_dir(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains(
            "sentence_bert_config.json: `max_seq_length` must be a whole number from 2 to 12"
        ),
        "{e}"
    );
    let missing = EncoderConfig::from_dir(Path::new("/nonexistent/model")).unwrap_err();
    assert!(matches!(missing, AprenderError::Io { .. }), "{missing}");
}

#[test]
fn the_weights_are_read_with_or_without_a_prefix() {
    let cfg = config();
    let all = tensors(&cfg);
    let w = read_weights(&serialize(&all), &cfg, "m").unwrap();
    assert_eq!(w.layers.len(), 2);
    assert_eq!(w.layers[1].ffn_in.weight.len(), 16 * 8);
    assert_eq!(
        (w.layers[1].ffn_out.inputs, w.layers[1].ffn_out.outputs),
        (16, 8)
    );
    assert_eq!(w.embeddings.word, all[0].2);
    let prefixed: Vec<_> = all
        .iter()
        .map(|(n, s, v)| (format!("bert.{n}"), s.clone(), v.clone()))
        .collect();
    assert_eq!(read_weights(&serialize(&prefixed), &cfg, "m").unwrap(), w);
}

#[test]
fn every_hostile_weight_file_is_a_named_error() {
    let cfg = config();
    let all = tensors(&cfg);
    let good = serialize(&all);
    let mut missing = all.clone();
    missing.retain(|(n, ..)| n != "encoder.layer.1.attention.self.key.bias");
    assert_eq!(
        problem(&serialize(&missing)),
        FileProblem::MissingTensor("encoder.layer.1.attention.self.key.bias".into())
    );
    let mut shape = all.clone();
    shape[5].1 = vec![4, 16];
    assert!(
        matches!(problem(&serialize(&shape)), FileProblem::WrongShape { name, .. } if name == shape[5].0)
    );
    let mut nan = all.clone();
    nan[3].2[2] = f32::NAN;
    assert!(matches!(
        problem(&serialize(&nan)),
        FileProblem::NonFinite { index: 2, .. }
    ));
    let mut extra = all.clone();
    extra.push((
        "encoder.layer.2.output.dense.weight".into(),
        vec![1],
        vec![0.0],
    ));
    assert_eq!(
        problem(&serialize(&extra)),
        FileProblem::UnexpectedTensor("encoder.layer.2.output.dense.weight".into())
    );
    for cut in [0, 7, 100, good.len() / 2, good.len() - 1] {
        assert!(
            matches!(problem(&good[..cut]), FileProblem::NotSafetensors(_)),
            "cut at {cut}"
        );
    }
    let mut header = good.clone();
    header[8..16].copy_from_slice(b"{\"x\":[[[");
    assert!(matches!(problem(&header), FileProblem::NotSafetensors(_)));
}

#[test]
fn random_weights_round_trip_through_safetensors() {
    let cfg = config();
    let w = EncoderWeights::random(&cfg, 3);
    assert_eq!(read_weights(&w.to_safetensors(), &cfg, "m").unwrap(), w);
}

/// An encoder of the small config with random weights and no tokenizer use.
fn small_encoder() -> (EncoderConfig, EncoderWeights) {
    let mut cfg = config();
    cfg.normalize = true;
    let w = EncoderWeights::random(&cfg, 11);
    (cfg, w)
}

fn tokens(ids: &[u32]) -> Tokens {
    Tokens {
        ids: ids.to_vec(),
        type_ids: vec![0; ids.len()],
    }
}

#[test]
fn a_random_encoder_embeds_alike_on_every_backend_and_refuses_bad_ids() {
    let (cfg, w) = small_encoder();
    let batch = [
        tokens(&[1, 5, 9, 2]),
        tokens(&[1]),
        tokens(&[1, 29, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2]),
    ];
    let prep = forward::prepare(&w);
    let scalar = forward::embed(trueno::Backend::Scalar, &cfg, &w, &prep, &batch).unwrap();
    let simd = forward::embed(trueno::Backend::Simd, &cfg, &w, &prep, &batch).unwrap();
    assert_eq!(scalar.len(), 3 * 8);
    for (a, b) in scalar.iter().zip(&simd) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    for row in scalar.chunks_exact(8) {
        let len: f32 = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((len - 1.0).abs() < 1e-5, "normalised: {len}");
    }
    let software = trueno::gpu::GpuOptions {
        allow_software: true,
        adapter_name: None,
    };
    match trueno::gpu::GpuContext::new(software) {
        Ok(ctx) => {
            let gpu = GpuEncoder::upload(&ctx, &cfg, &w, &prep)
                .and_then(|g| g.embed(&ctx, &cfg, &batch))
                .unwrap();
            for (a, b) in scalar.iter().zip(&gpu) {
                assert!((a - b).abs() < 1e-5, "GPU: {a} vs {b}");
            }
        }
        Err(e) if std::env::var("TRUENO_REQUIRE_GPU").is_ok_and(|v| v == "1") => {
            panic!("TRUENO_REQUIRE_GPU=1 but no GPU adapter: {e}")
        }
        Err(e) => eprintln!("skipping the GPU encoder: {e}"),
    }
    // One sequence's embedding does not depend on the others in its batch.
    let alone = forward::embed(trueno::Backend::Scalar, &cfg, &w, &prep, &batch[2..]).unwrap();
    assert_eq!(alone, scalar[16..]);
    let err = |t: Tokens| {
        forward::embed(trueno::Backend::Scalar, &cfg, &w, &prep, &[tokens(&[1]), t])
            .unwrap_err()
            .to_string()
    };
    assert!(
        err(tokens(&[1, 30])).contains("sequence 1: token id 30 is outside the vocabulary of 30")
    );
    assert!(err(tokens(&[])).contains("sequence 1: no tokens"));
    assert!(err(tokens(&[1; 13])).contains("13 tokens, the model has 12 positions"));
    let mut typed = tokens(&[1, 2]);
    typed.type_ids = vec![0, 2];
    assert!(err(typed).contains("token type 2 is outside the 2 types"));
}
