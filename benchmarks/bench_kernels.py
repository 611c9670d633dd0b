"""WGSL kernels vs numpy, side by side (issue 5's performance targets).

Prints, min of several warm runs (the machine is shared and noisy):
1. per op: warm-call latency and GFLOP/s / GB/s on WebGPU and on the bitwise numpy twin;
2. per-call overhead of a cached pipeline (target < 5 ms) and cold start to first result
   (target < 1.5 s);
3. matmul at n = 1024: register-blocked and naive WGSL, the fixed-order numpy twin and
   numpy/BLAS (target >= 10 GFLOP/s blocked on lavapipe), and whether blocked == naive bitwise.

Usage: ``python benchmarks/bench_kernels.py [--quick]`` (``--quick``: small sizes, n = 512).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from oasis_lab.gpu import bench, device, ops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, n = 512, fewer repeats")
    args = parser.parse_args()
    size, n, repeats = ("small", 512, 3) if args.quick else ("full", 1024, 5)

    info = device.adapter_info()
    print(f"adapter: {info['device']} ({info['adapter_type']}, {info['backend_type']})")

    gpu = bench.time_ops("webgpu", size, repeats)
    cpu = bench.time_ops("numpy", size, repeats)
    side = gpu[["op", "shape"]].copy()
    side["webgpu_ms"] = gpu["seconds"] * 1e3
    side["numpy_ms"] = cpu["seconds"] * 1e3
    side["webgpu_gflops"] = gpu["gflops"]
    side["numpy_gflops"] = cpu["gflops"]
    side["webgpu_gbs"] = gpu["gbs"]
    side["numpy/webgpu"] = cpu["seconds"] / gpu["seconds"]
    with pd.option_context("display.width", 160, "display.precision", 3):
        print(f"\n1. ops, sizes {size!r}, min of {repeats} warm calls (numpy = bitwise twin, not BLAS)")
        print(side.to_string(index=False))

    overhead = bench.call_overhead(50)
    cold = min(bench.cold_start_seconds() for _ in range(3))
    print(f"\n2. per-call overhead of a cached pipeline (relu on 16 floats): {overhead * 1e3:.2f} ms "
          f"(target < 5 ms); cold start to first matmul result: {cold:.2f} s (target < 1.5 s)")

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    same = ops.matmul(a, b, kernel="blocked").tobytes() == ops.matmul(a, b, kernel="naive").tobytes()
    rows = []
    for kernel, reps in (("blocked", repeats), ("naive", 2), ("reference", 2), ("blas", repeats)):
        g = bench.matmul_gflops(n, kernel, reps)
        rows.append({"kernel": kernel, "gflops": g})
    mm = pd.DataFrame(rows)
    mm["vs_blocked"] = mm["gflops"] / mm.loc[0, "gflops"]
    print(f"\n3. float32 matmul n = {n} (target: blocked >= 10 GFLOP/s on lavapipe)")
    print(mm.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"blocked == naive bitwise at n = {n}: {same}")


if __name__ == "__main__":
    main()
