"""cuBLAS fp32 sgemm reference for bench_gpu: TF32 off, CUDA-event timing.

Prints one line per size: `cublas n=<n> tflops=<median TFLOP/s>`.
Run by `cargo run --release -p trueno --example bench_gpu` when python3 with a
CUDA build of torch is present.
"""
import sys

import torch

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.set_float32_matmul_precision("highest")

for n in map(int, sys.argv[1:]):
    a = torch.randn(n, n, device="cuda", dtype=torch.float32)
    b = torch.randn(n, n, device="cuda", dtype=torch.float32)
    for _ in range(3):
        torch.mm(a, b)
    torch.cuda.synchronize()
    reps = max(5, min(50, int(5e12 / (2 * n**3))))
    times = []
    for _ in range(reps):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        torch.mm(a, b)
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    times.sort()
    t = times[len(times) // 2]
    print(f"cublas n={n} tflops={2 * n**3 / t / 1e12:.2f}", flush=True)
