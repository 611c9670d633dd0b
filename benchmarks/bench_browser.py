"""The browser backend beside wgpu-py and numpy, measured in one run (issue 13's targets).

Prints (min of several warm runs; the machine is shared and noisy):
1. start-up: a fresh BrowserProvider to its first matmul result (target < 3 s);
2. per-call overhead of a cached small op (relu on 16 floats) through the Python API: browser
   (target < 5 ms) and wgpu-py;
3. a 512^3 register-blocked matmul through the Python API: browser, wgpu-py, the kernel's time
   inside the page, and the fixed-order numpy twin (target: browser within 1.5x of wgpu-py);
4. the tiny transformer end to end on the three backends;
5. the ops of the provider benchmark: time in the page, through the API, and on wgpu-py.

Usage: ``python benchmarks/bench_browser.py [--quick]`` (``--quick``: n = 256, fewer repeats).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from oasis_lab.browser import BrowserProvider
from oasis_lab.browser.bench import time_ops_in_page
from oasis_lab.gpu import bench, device, ops
from oasis_lab.gpu import model as M
from oasis_lab.gpu import reference as R
from oasis_lab.timing import best_of


def startup_seconds() -> float:
    """A fresh provider: Chromium start, page, adapter and device, first 64x64 matmul result."""
    t0 = time.perf_counter()
    with BrowserProvider("startup") as b:
        b.ops.matmul(np.ones((64, 64), np.float32), np.ones((64, 64), np.float32))
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 256, fewer repeats")
    args = parser.parse_args()
    n, repeats = (256, 3) if args.quick else (512, 5)
    info = device.adapter_info()
    print(f"wgpu-py adapter: {info['device']} ({info['backend_type']}); "
          "measured on a loaded 2-core machine")

    starts = [startup_seconds() for _ in range(3)]
    print(f"\n1. start-up to the first matmul result: min {min(starts):.2f} s, "
          f"median {np.median(starts):.2f} s (target < 3 s)")

    with BrowserProvider("bench") as b:
        print(f"browser adapter: {b.adapter_summary()}")
        x = np.ones(16, np.float32)
        small_b = best_of(lambda: b.ops.relu(x), 50, warmup=True)[0]
        small_w = best_of(lambda: ops.relu(x), 50, warmup=True)[0]
        print(f"\n2. cached small op (relu, 16 floats): browser {small_b * 1e3:.2f} ms "
              f"(target < 5 ms), wgpu-py {small_w * 1e3:.2f} ms")

        rng = np.random.default_rng(0)
        a = rng.standard_normal((n, n)).astype(np.float32)
        w = rng.standard_normal((n, n)).astype(np.float32)
        w.setflags(write=False)
        tb = best_of(lambda: b.ops.matmul(a, w, kernel="blocked"), repeats, warmup=True)[0]
        page = b.last_ms / 1e3
        tw = best_of(lambda: ops.matmul(a, w, kernel="blocked"), repeats, warmup=True)[0]
        tn = best_of(lambda: R.matmul(a, w), 1)[0]
        same = b.ops.matmul(a, w).tobytes() == ops.matmul(a, w).tobytes() == R.matmul(a, w).tobytes()
        gf = 2 * n**3 / 1e9
        mm = pd.DataFrame([
            {"path": "browser (Python API)", "ms": tb * 1e3, "gflops": gf / tb},
            {"path": "browser (in page: submit + read-back)", "ms": page * 1e3, "gflops": gf / page},
            {"path": "wgpu-py", "ms": tw * 1e3, "gflops": gf / tw},
            {"path": "numpy twin (fixed order)", "ms": tn * 1e3, "gflops": gf / tn},
        ])
        with pd.option_context("display.width", 160, "display.precision", 3):
            print(f"\n3. register-blocked matmul {n}^3 (target: browser <= 1.5x wgpu-py); "
                  f"browser/wgpu-py = {tb / tw:.2f}x; bitwise equal on all three: {same}")
            print(mm.to_string(index=False))

        model = M.load_model("tiny-transformer")
        feed = M.example_inputs(model, 0)
        rows = []
        for name, fn in (("browser", lambda: b.run(model, feed)),
                         ("webgpu", lambda: M.run(model, feed, backend="webgpu")),
                         ("numpy", lambda: M.run(model, feed))):
            rows.append({"backend": name, "seconds": best_of(fn, 2, warmup=True)[0]})
        print("\n4. tiny transformer (61 nodes), one run end to end")
        print(pd.DataFrame(rows).to_string(index=False))

        page_ops = time_ops_in_page(b, "small", repeats)
        wgpu_ops = bench.time_ops("webgpu", "small", repeats)
        side = page_ops[["op", "shape"]].copy()
        side["page_ms"] = page_ops["seconds"] * 1e3
        side["browser_api_ms"] = page_ops["api_seconds"] * 1e3
        side["wgpu_ms"] = wgpu_ops["seconds"] * 1e3
        side["browser_api/wgpu"] = page_ops["api_seconds"] / wgpu_ops["seconds"]
        with pd.option_context("display.width", 160, "display.precision", 3):
            print("\n5. provider-benchmark ops (sizes 'small'): in the page, through the API, wgpu-py")
            print(side.to_string(index=False))


if __name__ == "__main__":
    main()
