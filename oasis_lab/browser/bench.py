"""The provider benchmark measured inside the browser (whitepaper section 4.2: "M_i ... will be
determined by benchmarking"; Psi from the measurement).

:func:`time_ops_in_page` times every op of :func:`oasis_lab.gpu.bench.time_ops`'s cases in the
page: ``repeat`` dispatches of the op's kernel in one compute pass, ``performance.now()`` around
submit and read-back, so the speed is the browser's own (no Python, no transfer). A separate
column gives the warm call through the Python API (transfer included), for comparison with
wgpu-py. :func:`benchmark_browser` turns the in-page speeds into the market's ``speed`` row and
``Psi`` exactly as :func:`oasis_lab.gpu.bench.benchmark_provider` does for wgpu-py.
"""

from __future__ import annotations

import functools

import pandas as pd

from oasis_lab.browser.provider import BrowserProvider
from oasis_lab.checks import check_int
from oasis_lab.gpu import bench as gpu_bench

__all__ = ["benchmark_browser", "time_ops_in_page"]


def time_ops_in_page(provider: BrowserProvider, size: str = "small", repeats: int = 5,
                     seed: int = 0) -> pd.DataFrame:
    """Per-op speed in the page and through the Python API.

    Parameters
    ----------
    provider : BrowserProvider
    size : {"small", "full"}
        Problem sizes of :data:`oasis_lab.gpu.bench.SIZES`.
    repeats : int
        Dispatches per in-page measurement (and timed API calls; the minimum is kept).

    Returns
    -------
    DataFrame
        ``op, shape, backend, seconds, gflops, gbs`` (in-page, per dispatch) and
        ``api_seconds`` (a warm call from Python, transfer included).
    """
    if not isinstance(provider, BrowserProvider):
        raise TypeError(f"provider must be a BrowserProvider, got {type(provider).__name__}")
    n = check_int("repeats", repeats, 1)
    provider.start()
    rows = []
    for op, shape, args, attrs in gpu_bench._cases(size, seed):
        fn = getattr(provider.ops, op)
        out = fn(*args)  # warm: compile, upload
        per = []
        for _ in range(2):
            with provider.repeating(n):
                fn(*args)
            per.append(provider.last_ms / 1e3 / n)
        sec = min(per)
        api = gpu_bench.time_call(functools.partial(fn, *args), n)
        nbytes = sum(a.nbytes for a in args if hasattr(a, "nbytes")) + out.nbytes
        flops = gpu_bench._flops(op, args, attrs)
        rows.append({"op": op, "shape": shape, "backend": "browser", "seconds": sec,
                     "gflops": flops / sec / 1e9, "gbs": nbytes / sec / 1e9, "api_seconds": api})
    return pd.DataFrame(rows)


def benchmark_browser(provider: BrowserProvider, size: str = "small", repeats: int = 5,
                      seed: int = 0) -> gpu_bench.ProviderBenchmark:
    """Benchmark a browser provider as the market sees it: in-page speeds -> ``speed`` and ``Psi``.

    The adapter type is ``CPU`` for SwiftShader (Chromium's CPU WebGPU) and ``GPU`` otherwise;
    a CPU adapter's memory is the host's RAM (a GPU's is bounded below by its largest buffer).
    """
    table = time_ops_in_page(provider, size, repeats, seed)
    arch = str(provider.info.get("architecture", ""))
    kind = "CPU" if arch == "swiftshader" else "GPU"
    memory = None if kind == "CPU" else provider.limits["maxBufferSize"] / 2**30
    return gpu_bench.benchmark_from_table(
        table, backend="browser", device=f"{provider.name}: Chromium {provider.adapter_summary()}",
        adapter_type=kind, backend_type="WebGPU (Chromium)", memory_gb=memory)
