"""onnxruntime side of bench_vs_onnxruntime: the same MLP, exported to ONNX.

Usage: python3 ort_mlp.py MODEL.safetensors THREADS, then lines "BATCH SECONDS" on stdin
Reads aprender's safetensors file (layers.{i}.weight as inputs×outputs,
layers.{i}.bias), builds MatMul → Add → Relu … → Softmax as an ONNX graph, and
answers each stdin line with `ort batch=<n> rows_per_s=<median throughput>`.
Needs: pip install onnx onnxruntime numpy
"""
import json
import struct
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        out[name] = np.frombuffer(data[start:end], dtype=np.float32).reshape(info["shape"])
    return out


def build(tensors):
    layers = len([k for k in tensors if k.endswith(".weight")])
    nodes, inits = [], []
    prev = "x"
    for i in range(layers):
        w, b = tensors[f"layers.{i}.weight"], tensors[f"layers.{i}.bias"]
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes.append(helper.make_node("MatMul", [prev, f"w{i}"], [f"m{i}"]))
        nodes.append(helper.make_node("Add", [f"m{i}", f"b{i}"], [f"z{i}"]))
        prev = f"z{i}"
        if i < layers - 1:
            nodes.append(helper.make_node("Relu", [prev], [f"r{i}"]))
            prev = f"r{i}"
    nodes.append(helper.make_node("Softmax", [prev], ["y"], axis=1))
    features = tensors["layers.0.weight"].shape[0]
    classes = tensors[f"layers.{layers - 1}.weight"].shape[1]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, classes])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), features


def measure(sess, features, batch, seconds):
    x = (np.arange(batch * features, dtype=np.float32) * 7919 % 1000 / 1000.0).reshape(batch, features)
    for _ in range(5):
        sess.run(None, {"x": x})
    times = []
    start = time.perf_counter()
    while len(times) < 20 or (time.perf_counter() - start < seconds and len(times) < 10000):
        t = time.perf_counter()
        sess.run(None, {"x": x})
        times.append(time.perf_counter() - t)
    times.sort()
    return batch / times[len(times) // 2]


def main():
    path, threads = sys.argv[1], int(sys.argv[2])
    model, features = build(load_safetensors(path))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    print(f"ready onnxruntime {ort.__version__} onnx {onnx.__version__} numpy {np.__version__}", flush=True)
    # One measurement per request line "BATCH SECONDS", so the caller can
    # interleave them with its own and both sides see the same machine state.
    for line in sys.stdin:
        batch, seconds = line.split()
        rate = measure(sess, features, int(batch), float(seconds))
        print(f"ort batch={batch} rows_per_s={rate:.1f}", flush=True)


if __name__ == "__main__":
    main()
