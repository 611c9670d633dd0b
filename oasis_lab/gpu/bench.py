"""Provider benchmark: measured kernel throughput -> the market's ``speed`` row and ``Psi``.

Whitepaper section 4.2: "Let M_i represent the compute power of R_i, which will be determined by
benchmarking. Let Psi be a constant representing the ability for a service provider to complete a
task determined by an algorithm that considers GPU compute power, CPU compute power, etc." This
module does that benchmarking for the machine it runs on:

1. :func:`time_ops` times every kernel (warm calls, min of ``repeats``: the machine is shared) on
   the ``"webgpu"`` backend and on its bitwise numpy twin, giving GFLOP/s and GB/s per op.
2. A model type's kernel mix is the FLOP share of each op in a representative model: the shipped
   tiny transformer for the ``llm``, ``speech`` and ``diffusion`` families (transformer blocks
   dominate all three) and a conv-as-matmul mix (97% matmul, 1.5% bias, 1.5% ReLU) for
   ``classifier``. The family's effective throughput is the FLOP-weighted harmonic mean of the
   ops' throughputs (time adds up, not rate).
3. ``speed[t] = effective GFLOP/s of t's family / gflop_per_request[t]`` (requests per second,
   ``data/model_types.csv``), 0 where the model does not fit in memory, exactly the units of
   :class:`oasis_lab.market.Market`. ``Psi = (gpu_tflops, memory_gb, bandwidth_gbs, cpu_cores)``
   as in :func:`oasis_lab.market.generate_market`, with the measured matmul TFLOP/s and the
   measured effective bandwidth; the adapter type (CPU, integrated, discrete) is reported beside.

Devices that are not here are *projected*, not measured (:func:`provider_table` says so in its
``source`` column): a device of ``data/device_profiles.csv`` gets
``peak FP32 x WEBGPU_MATMUL_EFFICIENCY x (this machine's family/matmul throughput ratio)``.

Readings taken
--------------
- Throughput counts a warm call end to end (upload, dispatch, read-back), as a provider serving
  requests through WebGPU from the host would see it; bandwidth is therefore host-visible
  bandwidth (``add`` of two large vectors), not the device's memory bandwidth.
- On a CPU adapter the "device memory" is the host's RAM.
- ``WEBGPU_MATMUL_EFFICIENCY = 0.30`` (fraction of peak FP32 a tuned WebGPU matmul reaches) is the
  middle of the range :func:`oasis_lab.market.generate_market` draws from.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.checks import check_int
from oasis_lab.gpu import reference as ref
from oasis_lab.gpu.model import OPS, backend_module, load_model, node_flops
from oasis_lab.progress import progress_bar, progress_stage
from oasis_lab.seeding import generator
from oasis_lab.timing import best_of

__all__ = [
    "SIZES",
    "WEBGPU_MATMUL_EFFICIENCY",
    "PSI_NAMES",
    "FAMILY_MIX",
    "time_call",
    "time_ops",
    "matmul_gflops",
    "call_overhead",
    "cold_start_seconds",
    "family_mix",
    "ProviderBenchmark",
    "benchmark_provider",
    "benchmark_from_table",
    "provider_table",
    "market_from_benchmark",
]

WEBGPU_MATMUL_EFFICIENCY = 0.30
PSI_NAMES = ("gpu_tflops", "memory_gb", "bandwidth_gbs", "cpu_cores")
#: FLOP shares of the classifier family (convolutions lowered to matmuls).
_CLASSIFIER_MIX = {"matmul": 0.97, "bias_add": 0.015, "relu": 0.015}
#: Which kernel mix stands for each family of ``data/model_types.csv``.
FAMILY_MIX = {"llm": "tiny-transformer", "speech": "tiny-transformer",
              "diffusion": "tiny-transformer", "classifier": "conv-as-matmul"}

#: Problem sizes of :func:`time_ops`: ``"small"`` for CI and notebooks, ``"full"`` for benchmarks.
SIZES: dict[str, dict[str, tuple[int, ...]]] = {
    "small": {"matmul": (128, 128, 128), "vector": (65536,), "rows": (64, 512),
              "attention": (64, 128, 4), "embedding": (256, 128), "int8": (128, 128, 128)},
    "full": {"matmul": (512, 512, 512), "vector": (1 << 21,), "rows": (256, 1024),
             "attention": (128, 128, 4), "embedding": (512, 128), "int8": (512, 512, 512)},
}


def time_call(fn: Callable[[], Any], repeats: int = 5) -> float:
    """Seconds of the fastest of ``repeats`` warm calls (one untimed warm-up call first)."""
    n = check_int("repeats", repeats, 1)
    return best_of(fn, n, warmup=True)[0]


def _cases(size: str, seed: int) -> list[tuple[str, str, tuple, dict]]:
    """(op, shape text, args, attrs-for-flops) per op at ``size``."""
    if size not in SIZES:
        raise ValueError(f"size = {size!r} is unknown; choose one of {sorted(SIZES)}")
    s = SIZES[size]
    rng = generator(seed)

    def f32(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    m, k, n = s["matmul"]
    (v,) = s["vector"]
    r, c = s["rows"]
    t, d, h = s["attention"]
    te, de = s["embedding"]
    mi, ki, ni = s["int8"]
    x = f32(r, c)
    probs = ref.softmax(x)
    a8 = rng.integers(-128, 128, (mi, ki)).astype(np.int8)
    b8 = rng.integers(-128, 128, (ki, ni)).astype(np.int8)
    return [
        ("matmul", f"{m}x{k}x{n}", (f32(m, k), f32(k, n)), {}),
        ("add", f"{v}", (f32(v), f32(v)), {}),
        ("bias_add", f"{r}x{c}", (x, f32(c)), {}),
        ("relu", f"{v}", (f32(v),), {}),
        ("gelu", f"{v}", (f32(v),), {}),
        ("softmax", f"{r}x{c}", (x,), {}),
        ("layernorm", f"{r}x{c}", (x, f32(c), f32(c), 1e-5), {}),
        ("attention", f"T={t} d={d} h={h}", (f32(t, d), f32(t, d), f32(t, d), h), {"n_heads": h}),
        ("embedding", f"{te}x{de}", (rng.integers(0, 512, te).astype(np.int32), f32(512, de),
                                     f32(te, de)), {"positions": "p"}),
        ("sample", f"{r}x{c}", (probs, 7), {}),
        ("int8_matmul", f"{mi}x{ki}x{ni}", (a8, b8), {}),
        ("int8_matmul_requant", f"{mi}x{ki}x{ni}",
         (a8, b8, np.zeros(ni, np.int32), 20000, 30, True), {}),
    ]


def _flops(op: str, args: tuple, attrs: dict) -> int:
    """Arithmetic operations of one call, with the counting rules of ``model.OPS``."""
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    if op in ("matmul", "int8_matmul", "int8_matmul_requant"):
        weights = {"w": arrays[1]}
        return int(OPS[op].flops([arrays[0].shape], {"weight": "w"}, weights))
    if op == "embedding":
        weights = {"t": arrays[1], "p": arrays[2]}
        return int(OPS[op].flops([arrays[0].shape], {"table": "t", "positions": "p"}, weights))
    return int(OPS[op].flops([arrays[0].shape], attrs, {}))


def time_ops(
    backend: str = "webgpu", size: str = "small", repeats: int = 5, seed: int = 0
) -> pd.DataFrame:
    """Warm-call time, GFLOP/s and GB/s (host-visible bytes in + out) of every op.

    Parameters
    ----------
    backend : {"webgpu", "numpy"}
        The kernels, or their bitwise numpy twins (not BLAS: see :func:`matmul_gflops`).
    size : {"small", "full"}
        Problem sizes of :data:`SIZES`.
    repeats : int
        Timed calls per op; the minimum is kept.

    Returns
    -------
    DataFrame
        Columns ``op, shape, backend, seconds, gflops, gbs``.
    """
    module = backend_module(backend)
    rows = []
    cases = list(_cases(size, seed))
    # on the report's console only (oasis_lab.progress); updated between timed calls
    for op, shape, args, attrs in progress_bar(cases, desc=f"time ops on {backend}", unit="op", disable=True):
        fn = getattr(module, op)
        out = fn(*args)
        nbytes = sum(a.nbytes for a in args if isinstance(a, np.ndarray)) + out.nbytes
        sec = time_call(partial(fn, *args), repeats)
        flops = _flops(op, args, attrs)
        rows.append({"op": op, "shape": shape, "backend": backend, "seconds": sec,
                     "gflops": flops / sec / 1e9, "gbs": nbytes / sec / 1e9})
    return pd.DataFrame(rows)


def matmul_gflops(n: int, kernel: str = "blocked", repeats: int = 3, seed: int = 0) -> float:
    """GFLOP/s of an ``n x n x n`` float32 matmul: a WebGPU kernel (``"naive"``/``"blocked"``),
    the fixed-order numpy twin (``"reference"``) or numpy/BLAS ``@`` (``"blas"``)."""
    size = check_int("n", n, 1)
    rng = generator(seed)
    a = rng.standard_normal((size, size)).astype(np.float32)
    b = rng.standard_normal((size, size)).astype(np.float32)
    if kernel == "blas":
        fn = lambda: a @ b  # noqa: E731
    elif kernel == "reference":
        fn = lambda: ref.matmul(a, b)  # noqa: E731
    else:
        from oasis_lab.gpu import ops

        fn = lambda: ops.matmul(a, b, kernel=kernel)  # noqa: E731
    with progress_stage(f"matmul {kernel} n={size:,}, best of {repeats}"):
        return 2.0 * size**3 / time_call(fn, repeats) / 1e9


def call_overhead(repeats: int = 20) -> float:
    """Seconds of a warm call of a cached pipeline on 16 elements (submit + read-back floor)."""
    from oasis_lab.gpu import ops

    x = np.ones(16, np.float32)
    return time_call(lambda: ops.relu(x), repeats)


def cold_start_seconds() -> float:
    """Seconds from a fresh Python process's first import to its first matmul result.

    Runs a subprocess (imports, device creation, pipeline compilation, one 64x64 matmul).
    """
    code = (
        "import time; t0 = time.perf_counter();"
        "import numpy as np; from oasis_lab.gpu import ops;"
        "ops.matmul(np.ones((64, 64), np.float32), np.ones((64, 64), np.float32));"
        "print(time.perf_counter() - t0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ})
    return float(out.stdout.strip().splitlines()[-1])


def family_mix(family: str) -> dict[str, float]:
    """FLOP share of each op in the kernel mix standing for ``family`` (sums to 1)."""
    if family not in FAMILY_MIX:
        raise ValueError(f"family = {family!r} is unknown; choose one of {sorted(FAMILY_MIX)}")
    if FAMILY_MIX[family] == "conv-as-matmul":
        return dict(_CLASSIFIER_MIX)
    model = load_model(FAMILY_MIX[family])
    flops = node_flops(model)
    shares: dict[str, float] = {}
    for node, f in zip(model.nodes, flops, strict=True):
        shares[node.op] = shares.get(node.op, 0.0) + float(f)
    total = sum(shares.values())
    return {op: f / total for op, f in shares.items() if f > 0}


def _effective(mix: Mapping[str, float], gflops: Mapping[str, float]) -> float:
    """FLOP-weighted harmonic mean: seconds per GFLOP add up over the mix."""
    return 1.0 / sum(w / gflops[op] for op, w in mix.items())


def _host_memory_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError, AttributeError):
        return float("nan")


@dataclass(frozen=True, eq=False)
class ProviderBenchmark:
    """What benchmarking one provider measured (section 4.2's ``M_j`` and ``Psi_j``).

    Attributes
    ----------
    device, adapter_type, backend_type : str
        Adapter facts (``adapter_type`` is CPU, IntegratedGPU, DiscreteGPU, ...).
    backend : str
        ``"webgpu"`` or ``"numpy"``.
    ops : DataFrame
        :func:`time_ops` table.
    matmul_gflops, bandwidth_gbs, memory_gb : float
    cpu_cores : int
    family_gflops : Mapping[str, float]
        Effective throughput of each family's kernel mix.
    model_types : tuple of str
    speed : ndarray, shape (n_types,)
        Requests per second per model type (0 = does not fit).
    psi : ndarray, shape (4,)
        ``(gpu_tflops, memory_gb, bandwidth_gbs, cpu_cores)``.
    """

    device: str
    adapter_type: str
    backend_type: str
    backend: str
    ops: pd.DataFrame
    matmul_gflops: float
    bandwidth_gbs: float
    memory_gb: float
    cpu_cores: int
    family_gflops: Mapping[str, float]
    model_types: tuple[str, ...]
    speed: np.ndarray
    psi: np.ndarray = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        """One row: the provider as the market sees it (speeds and ``Psi``)."""
        row: dict[str, Any] = {"name": self.device, "kind": self.adapter_type, "source": "measured"}
        row.update({f"speed[{t}]": s for t, s in zip(self.model_types, self.speed, strict=True)})
        row.update({f"psi[{n}]": p for n, p in zip(PSI_NAMES, self.psi, strict=True)})
        return pd.DataFrame([row])


def benchmark_provider(
    backend: str = "webgpu", size: str = "small", repeats: int = 5, seed: int = 0
) -> ProviderBenchmark:
    """Benchmark this machine as a provider: op throughput -> ``speed`` row and ``Psi``.

    Parameters
    ----------
    backend : {"webgpu", "numpy"}
    size : {"small", "full"}
        Problem sizes; ``"full"`` is closer to serving real models (larger matmuls).
    repeats : int
    seed : int

    Returns
    -------
    ProviderBenchmark
    """
    table = time_ops(backend, size, repeats, seed)
    memory = _host_memory_gb()
    if backend == "webgpu":
        from oasis_lab.gpu.device import adapter_info

        info = adapter_info()
        device, kind, btype = info["device"], info["adapter_type"], info["backend_type"]
        if kind != "CPU":  # wgpu does not report VRAM; the largest buffer is a lower bound
            memory = info["max_storage_binding_mb"] / 1024
    else:
        device, kind, btype = f"numpy {np.__version__}", "CPU", "numpy"
    return benchmark_from_table(table, backend=backend, device=device, adapter_type=kind,
                                backend_type=btype, memory_gb=memory)


def benchmark_from_table(
    table: pd.DataFrame, *, backend: str, device: str, adapter_type: str, backend_type: str,
    memory_gb: float | None = None,
) -> ProviderBenchmark:
    """A :class:`ProviderBenchmark` from a measured :func:`time_ops`-shaped table (columns
    ``op, gflops, gbs``; every op of :data:`SIZES`' cases) and the device's facts.

    ``memory_gb`` defaults to the host's RAM (CPU adapters).
    """
    from oasis_lab.market import load_model_types

    gflops = dict(zip(table["op"], table["gflops"], strict=True))
    types = load_model_types()
    families = sorted(set(types["family"]))
    family_gflops = {f: _effective(family_mix(f), gflops) for f in families}
    memory = _host_memory_gb() if memory_gb is None else float(memory_gb)
    kind, btype = adapter_type, backend_type
    fits = memory >= types["memory_gb"].to_numpy(float)
    speed = np.array([family_gflops[f] for f in types["family"]]) / types["gflop_per_request"].to_numpy(float)
    speed = np.where(fits, speed, 0.0)
    bandwidth = float(table.loc[table["op"] == "add", "gbs"].iloc[0])
    cores = os.cpu_count() or 1
    psi = np.array([gflops["matmul"] / 1e3, memory, bandwidth, float(cores)])
    return ProviderBenchmark(
        device=device, adapter_type=kind, backend_type=btype, backend=backend, ops=table,
        matmul_gflops=float(gflops["matmul"]), bandwidth_gbs=bandwidth, memory_gb=float(memory),
        cpu_cores=int(cores), family_gflops=family_gflops, model_types=tuple(types["name"]),
        speed=speed, psi=psi,
    )


def provider_table(bench: ProviderBenchmark, devices: pd.DataFrame | None = None) -> pd.DataFrame:
    """The measured provider plus devices of ``data/device_profiles.csv`` projected from it.

    A profiled device's family throughput is ``fp32_tflops x 1e3 x WEBGPU_MATMUL_EFFICIENCY x
    (family_gflops / matmul_gflops measured here)``; its speeds follow as for the measured row
    (0 where the model's memory exceeds the device's). The ``source`` column says
    ``"measured"`` or ``"projected"``: projected rows are a model of devices that are not here.
    Nominal values where the data has none: ``power_w = 65`` for the measured machine (a desktop
    CPU's TDP) and ``cpu_cores = 8`` for profiled devices (the profiles list GPUs only).

    Returns
    -------
    DataFrame
        ``name, kind, source, power_w, speed[<type>]..., psi[<name>]...``.
    """
    from oasis_lab.market import load_device_profiles, load_model_types

    devices = load_device_profiles() if devices is None else devices
    types = load_model_types()
    types = types[types["name"].isin(bench.model_types)].set_index("name").loc[list(bench.model_types)]
    ratio = {f: g / bench.matmul_gflops for f, g in bench.family_gflops.items()}
    peak = devices["fp32_tflops"].to_numpy(float) * 1e3 * WEBGPU_MATMUL_EFFICIENCY
    fam = types["family"].to_numpy()
    per_type = np.array([[ratio[f] for f in fam]]) * peak[:, None]
    speed = per_type / types["gflop_per_request"].to_numpy(float)[None, :]
    fits = devices["memory_gb"].to_numpy(float)[:, None] >= types["memory_gb"].to_numpy(float)[None, :]
    speed = np.where(fits, speed, 0.0)
    projected = pd.DataFrame({"name": devices["name"], "kind": devices["kind"], "source": "projected",
                              "power_w": devices["power_w"].to_numpy(float)})
    for j, t in enumerate(bench.model_types):
        projected[f"speed[{t}]"] = speed[:, j]
    projected["psi[gpu_tflops]"] = devices["fp32_tflops"].to_numpy(float)
    projected["psi[memory_gb]"] = devices["memory_gb"].to_numpy(float)
    projected["psi[bandwidth_gbs]"] = devices["bandwidth_gbs"].to_numpy(float)
    projected["psi[cpu_cores]"] = 8.0
    measured = bench.to_frame()
    measured.insert(3, "power_w", 65.0)
    return pd.concat([measured, projected], ignore_index=True)


def market_from_benchmark(
    table: pd.DataFrame,
    n_tasks: int,
    *,
    scenario: str = "balanced",
    seed: int = 0,
    providers: Sequence[int] | None = None,
):
    """A :class:`~oasis_lab.market.Market` whose providers are rows of :func:`provider_table`.

    Tasks come from :func:`oasis_lab.market.generate_market` (same model types, seed and
    scenario). Provider ``j`` gets its row's speeds and ``Psi``; its cost of a round is
    proportional to ``power_w``, scaled so the median unit cost ``c_j / sum_t s[j, t]`` equals
    the generated market's; its capacity is the scenario's total supply shared in proportion to
    ``sqrt(sum_t s[j, t])`` (as in ``generate_market``), rounded up.
    """
    from oasis_lab.market import SCENARIOS, generate_market

    rows = table if providers is None else table.iloc[list(providers)]
    speed_cols = [c for c in rows.columns if c.startswith("speed[")]
    names = tuple(c[len("speed["):-1] for c in speed_cols)
    base = generate_market(n_tasks, len(rows), n_types=len(names), scenario=scenario, seed=seed)
    if tuple(base.model_types) != names:
        raise ValueError(f"table model types {names} differ from the market's {base.model_types}")
    speed = rows[speed_cols].to_numpy(float)
    total = speed.sum(axis=1)
    power = rows["power_w"].to_numpy(float)
    unit = np.where(total > 0, power / np.where(total > 0, total, 1.0), np.nan)
    base_unit = base.provider_unit_cost[np.isfinite(base.provider_unit_cost)]
    scale = (np.median(base_unit) / np.nanmedian(unit)) if np.isfinite(unit).any() else 1.0
    share = np.sqrt(total)
    share = share / share.sum() if share.sum() > 0 else np.full(len(rows), 1 / len(rows))
    capacity = np.ceil(SCENARIOS[scenario].supply_ratio * base.task_units.sum() * share)
    psi = rows[[f"psi[{n}]" for n in PSI_NAMES]].to_numpy(float)
    return base.replace(speed=speed, cost=power * scale, capacity=capacity, psi=psi,
                        psi_names=PSI_NAMES)
