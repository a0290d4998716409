"""Writes examples/data/encoder_corpus.txt: 1024 seeded sentences of 8 to 128
tokens (all-MiniLM-L6-v2's tokenizer, [CLS] and [SEP] included), one a line.

    python3 crates/realizar/examples/make_encoder_corpus.py MODEL_DIR
"""

import random
import sys
from pathlib import Path

from tokenizers import Tokenizer

WORDS = (
    "the of and to in is was for on that with as by at from it be are this an or not we they "
    "model vector search retrieval embedding transformer attention layer token sentence query "
    "document index cluster nearest neighbour similarity score rank result user page product "
    "queue backend GPU CPU SIMD kernel matrix batch latency throughput server request answer "
    "level scheduling spillover breaker budget release crate workspace week plan calendar "
    "café naïve résumé Zürich Tokyo Berlin 2026 42 3.14 ! ? , . ; :"
).split()


def main():
    tok = Tokenizer.from_file(str(Path(sys.argv[1]) / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    rng = random.Random(1024)
    lines = []
    while len(lines) < 1024:
        target = rng.randint(8, 128)
        words = []
        while len(tok.encode(" ".join(words)).ids) < target:
            words.append(rng.choice(WORDS))
        text = " ".join(words)
        if 8 <= len(tok.encode(text).ids) <= 128:
            lines.append(text)
    out = Path(__file__).parent / "data" / "encoder_corpus.txt"
    out.write_text("\n".join(lines) + "\n")
    print(f"{len(lines)} sentences -> {out}")


if __name__ == "__main__":
    main()
