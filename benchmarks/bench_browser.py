"""The browser backend beside wgpu-py and numpy, measured in one run (issue 13's targets).

Prints (min of several warm runs; the machine is shared and noisy):
1. start-up: a fresh BrowserProvider to its first matmul result (target < 3 s);
2. per-call overhead of a cached small op (relu on 16 floats) through the Python API: browser
   (target < 5 ms) and wgpu-py;
3. a 512^3 register-blocked matmul through the Python API: browser, wgpu-py, the kernel's time
   inside the page, and the fixed-order numpy twin (target: browser within 1.5x of wgpu-py);
4. the tiny transformer end to end on the three backends;
5. the ops of the provider benchmark: time in the page, through the API, and on wgpu-py;
6. the subnormal policy, previous (flush below 2^-126) against shipped (below 2^-125): each op
   of the provider benchmark in the page, interleaved, min of several dispatches;
7. the tiny transformer keeping its outputs against digests only (``keep="digests"``): seconds
   and the bytes that crossed the bridge each way.

Usage: ``python benchmarks/bench_browser.py [--quick]`` (``--quick``: n = 256, fewer repeats).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from oasis_lab.browser import BrowserProvider
from oasis_lab.browser.bench import time_ops_in_page
from oasis_lab.gpu import bench, conformance, device, ops
from oasis_lab.gpu import model as M
from oasis_lab.gpu import reference as R
from oasis_lab.seeding import generator
from oasis_lab.timing import best_of, machine


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
    print(f"wgpu-py adapter: {info['device']} ({info['backend_type']}); {machine()}")

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

        rng = generator(0)
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

        # 6. the policy change of issue 20, side by side in the page (each policy its own pipeline)
        pol_page: dict[tuple[str, str], float] = {}
        for _ in range(2):  # alternate, so that both see the same load
            for pol in conformance.POLICIES:
                with conformance.policy(pol):
                    t = time_ops_in_page(b, "small", repeats)
                for op, sec in zip(t["op"], t["seconds"], strict=True):
                    pol_page[(op, pol)] = min(pol_page.get((op, pol), float("inf")), sec)
        ops_order = list(page_ops["op"])
        policy = pd.DataFrame({"op": ops_order,
                               "previous_page_ms": [1e3 * pol_page[(o, "flush-2^-126")] for o in ops_order],
                               "shipped_page_ms": [1e3 * pol_page[(o, "flush-2^-125")] for o in ops_order]})
        policy["shipped/previous"] = policy["shipped_page_ms"] / policy["previous_page_ms"]
        with pd.option_context("display.width", 160, "display.precision", 3):
            print("\n6. subnormal policy in the page, previous (flush < 2^-126) against shipped (< 2^-125)")
            print(policy.to_string(index=False))

        # 7. commitments without the outputs
        rows = []
        for keep in ("outputs", "digests"):
            sent, received = b.bytes_sent, b.bytes_received
            b.run(model, feed, keep=keep)
            moved = (b.bytes_sent - sent, b.bytes_received - received)
            sec = best_of(lambda keep=keep: b.run(model, feed, keep=keep), 3)[0]
            rows.append({"keep": keep, "seconds": sec, "bytes_to_page": moved[0], "bytes_from_page": moved[1]})
        print("\n7. tiny transformer in the browser: outputs kept against digests only")
        print(pd.DataFrame(rows).to_string(index=False))
    print(f"\nend: {machine()}")


if __name__ == "__main__":
    main()
