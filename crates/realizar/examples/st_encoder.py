"""The Python side of bench_encoder: sentence-transformers on PyTorch fp32 and
onnxruntime on the same model (exported from PyTorch), timed on request.

    python3 st_encoder.py MODEL_DIR CORPUS THREADS [cpu|cuda]

Prints `ready …`, then answers each stdin line `SIDE BATCH SECONDS` (SIDE is
`torch` or `ort`) with `SIDE batch=B sents_per_s=X p50_ms=Y`: consecutive
batches of the corpus, embedded (tokenised, pooled, normalised) until SECONDS
have passed.
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from sentence_transformers import SentenceTransformer


class Bare(torch.nn.Module):
    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state


def main():
    model_dir, corpus, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    device = sys.argv[4] if len(sys.argv) > 4 else "cpu"
    torch.set_num_threads(threads)
    texts = Path(corpus).read_text().splitlines()
    model = SentenceTransformer(model_dir, device=device)
    tok = model.tokenizer
    onnx_path = Path(tempfile.mkdtemp()) / "encoder.onnx"
    bare = Bare(model[0].auto_model.cpu()).eval()
    x = torch.ones(2, 16, dtype=torch.long)
    axes = {"b": 0, "s": 1}
    names = ["input_ids", "attention_mask", "token_type_ids"]
    torch.onnx.export(
        bare, (x, x, torch.zeros_like(x)), str(onnx_path), input_names=names,
        output_names=["h"], dynamo=False, opset_version=17,
        dynamic_axes={n: {0: "b", 1: "s"} for n in names + ["h"]},
    )
    model.to(device)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])

    def run_ort(batch):
        enc = tok(batch, padding=True, truncation=True, max_length=model.max_seq_length, return_tensors="np")
        feeds = {n: enc[n].astype(np.int64) for n in names}
        h = session.run(None, feeds)[0]
        mask = enc["attention_mask"][..., None].astype(np.float32)
        e = (h * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
        return e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)

    def run_torch(batch):
        return model.encode(batch, batch_size=len(batch), convert_to_numpy=True, normalize_embeddings=False)

    sides = {"torch": run_torch, "ort": run_ort}
    print(f"ready torch {torch.__version__} onnxruntime {ort.__version__} device {device}", flush=True)
    start = 0
    for line in sys.stdin:
        side, batch, seconds = line.split()
        batch, seconds = int(batch), float(seconds)
        run = sides[side]
        times, done = [], 0
        until = time.perf_counter() + seconds
        while time.perf_counter() < until or not times:
            chunk = [texts[(start + i) % len(texts)] for i in range(batch)]
            start = (start + batch) % len(texts)
            t = time.perf_counter()
            run(chunk)
            times.append(time.perf_counter() - t)
            done += batch
        print(
            f"{side} batch={batch} sents_per_s={done / sum(times):.3f} p50_ms={statistics.median(times) * 1e3:.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
