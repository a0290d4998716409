//! The engine serving a sentence encoder: a small random BERT folder written
//! here (config, random weights, a WordPiece `tokenizer.json`), loaded through
//! the registry like any model folder, asked for embeddings of texts.

use std::sync::Arc;

use aprender::encoder::{Encoder, EncoderConfig, EncoderWeights};
use realizar::{BackendConfig, Engine, EngineError, InferenceInput, InputKind, registry};
use trueno::Backend;

const WORDS: [&str; 22] = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "a", "cat", "dog", "sat", "on", "mat", "ran", "to",
    "park", "##s", "and", ".", ",", "big", "small", "red", "blue",
];

/// A BERT tokenizer over `WORDS` (ids are their positions).
fn tokenizer_json() -> String {
    let vocab: Vec<String> = WORDS
        .iter()
        .enumerate()
        .map(|(i, w)| format!("{w:?}: {i}"))
        .collect();
    format!(
        r###"{{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
  "normalizer": {{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                  "strip_accents": null, "lowercase": true}},
  "pre_tokenizer": {{"type": "BertPreTokenizer"}},
  "post_processor": {{"type": "TemplateProcessing",
    "single": [{{"SpecialToken": {{"id": "[CLS]", "type_id": 0}}}}, {{"Sequence": {{"id": "A", "type_id": 0}}}},
               {{"SpecialToken": {{"id": "[SEP]", "type_id": 0}}}}],
    "pair": [{{"Sequence": {{"id": "A", "type_id": 0}}}}, {{"Sequence": {{"id": "B", "type_id": 1}}}}],
    "special_tokens": {{"[CLS]": {{"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]}},
                       "[SEP]": {{"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}}}}},
  "decoder": null,
  "model": {{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
             "max_input_chars_per_word": 100, "vocab": {{{}}}}}}}"###,
        vocab.join(", ")
    )
}

/// A folder `dir/name` holding a random encoder of 16 values, 2 layers, 2 heads.
fn encoder_folder(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let folder = dir.join(name);
    std::fs::create_dir(&folder).unwrap();
    let config = r#"{"model_type": "bert", "hidden_size": 16, "num_hidden_layers": 2,
      "num_attention_heads": 2, "intermediate_size": 32, "hidden_act": "gelu",
      "layer_norm_eps": 1e-12, "vocab_size": 22, "max_position_embeddings": 24,
      "type_vocab_size": 2}"#;
    std::fs::write(folder.join("config.json"), config).unwrap();
    let cfg = EncoderConfig::from_dir(&folder).unwrap();
    let weights = EncoderWeights::random(&cfg, 5);
    std::fs::write(folder.join("model.safetensors"), weights.to_safetensors()).unwrap();
    std::fs::write(folder.join("tokenizer.json"), tokenizer_json()).unwrap();
    folder
}

fn texts(t: &[&str]) -> Vec<String> {
    t.iter().map(|s| s.to_string()).collect()
}

#[test]
fn an_encoder_folder_is_served_like_any_model() {
    let dir = tempfile::tempdir().unwrap();
    let folder = encoder_folder(dir.path(), "tiny-encoder");
    let reference = Encoder::load(&folder).unwrap();
    let engine = Engine::new(&[
        BackendConfig::new(Backend::Simd, 8, 1)
            .with_batching(64, std::time::Duration::from_millis(20)),
        BackendConfig::new(Backend::Scalar, 8, 1),
    ])
    .unwrap();
    let name = registry::load_file(&engine, &folder).unwrap();
    assert_eq!(name, "tiny-encoder");
    let sig = engine.model(&name).unwrap().signature();
    assert_eq!((sig.input, sig.outputs), (InputKind::Text, 16));

    let asks = [
        texts(&["the cat sat on the mat."]),
        texts(&["a big red dog ran to the park", "cats and dogs", "zebra"]),
        texts(&["small", "the blue mat, the red mat"]),
    ];
    for backend in [Backend::Simd, Backend::Scalar] {
        // Sent together so the SIMD worker batches them into one pass.
        let pending: Vec<_> = asks
            .iter()
            .map(|t| {
                engine
                    .submit(backend, InferenceInput::texts(&name, t.clone()))
                    .unwrap()
            })
            .collect();
        for (ask, p) in asks.iter().zip(pending) {
            let out = p.wait().unwrap();
            let refs: Vec<&str> = ask.iter().map(String::as_str).collect();
            let alone = reference.embed(Backend::Scalar, &refs).unwrap();
            assert_eq!((out.rows, out.cols), (ask.len(), 16));
            for (a, b) in out.data.iter().zip(alone.as_slice()) {
                assert!((a - b).abs() < 1e-5, "{backend}: {a} vs {b}");
            }
        }
    }
    let simd = engine.queue(Backend::Simd).unwrap();
    assert!(simd.passes() < 3, "the three requests were not batched");
    assert_eq!(simd.queue_depth(), 0);
}

#[test]
fn wrong_or_empty_inputs_are_refused_before_they_take_a_slot() {
    let dir = tempfile::tempdir().unwrap();
    let folder = encoder_folder(dir.path(), "enc");
    let engine = Engine::new(&[BackendConfig::new(Backend::Simd, 1, 1)]).unwrap();
    registry::load_file(&engine, &folder).unwrap();
    let rows = InferenceInput::rows("enc", 1, vec![0.0; 16]);
    let err = engine.submit(Backend::Simd, rows).unwrap_err();
    assert!(matches!(err, EngineError::Input(_)), "{err}");
    assert!(err.to_string().contains("takes texts"), "{err}");
    let err = engine
        .submit(Backend::Simd, InferenceInput::texts("enc", vec![]))
        .unwrap_err();
    assert!(err.to_string().contains("no texts"), "{err}");
    // An MLP refuses texts the same way.
    engine.insert_model("mlp", Arc::new(aprender::Mlp::random(&[4, 2], 1).unwrap()));
    let err = engine
        .submit(Backend::Simd, InferenceInput::texts("mlp", texts(&["hi"])))
        .unwrap_err();
    assert!(
        err.to_string().contains("takes rows of FP32 features"),
        "{err}"
    );
    // Nothing above took the one slot: a good request still runs.
    let out = engine
        .submit(Backend::Simd, InferenceInput::texts("enc", texts(&["hi"])))
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(out.rows, 1);
    assert_eq!(engine.queue(Backend::Simd).unwrap().queue_depth(), 0);
}
