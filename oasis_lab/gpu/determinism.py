"""Determinism report: do repeated runs give one trace, and is it the numpy reference's?

Whitepaper section 5: a fault proof recomputes one layer and compares it with the provider's
committed output, so an honest provider must be reproducible (same bits run after run) and
agree with the referee (same bits as the reference). :func:`check` measures both, per node:

- ``distinct``: number of distinct output digests over ``runs`` runs (1 = run-to-run
  deterministic).
- ``equal_reference``: the first run's output equals the numpy reference trace bit for bit
  (end to end: differences upstream propagate downstream).
- ``equal_local``: recomputing the node with the numpy reference from the *same* opened inputs
  (the referee's check, :func:`oasis_lab.gpu.model.run_node`) gives the same bits; this
  isolates the kernel that differs.
- ``max_ulp``, ``max_abs``: largest distance to the reference trace where not equal (ulp =
  distance between the float32 bit patterns in order; integers: absolute difference).

A single op can be checked too: ``check("softmax")`` builds a one-node model with seeded inputs
(:func:`op_model`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.checks import check_int
from oasis_lab.gpu import backends
from oasis_lab.gpu.model import (
    MODEL_NAMES,
    OPS,
    InputSpec,
    Model,
    Node,
    Trace,
    array_digest,
    example_inputs,
    load_model,
    run,
    run_node,
)
from oasis_lab.seeding import generator

__all__ = [
    "OP_EXAMPLES",
    "DeterminismReport",
    "KernelCase",
    "check",
    "kernel_cases",
    "op_model",
    "subnormal_mix",
    "ulp_distance",
]


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise distance in float32 ulp (``+0`` and ``-0`` are 0 apart); ``|a - b|`` for integers."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"a has shape {a.shape} but b has shape {b.shape}")
    if a.dtype.kind in "iu":
        return np.abs(a.astype(np.int64) - b.astype(np.int64))
    if a.dtype != np.float32 or b.dtype != np.float32:
        raise TypeError(f"ulp_distance needs float32 or integer arrays, got {a.dtype} and {b.dtype}")

    def ordered(x: np.ndarray) -> np.ndarray:
        i = x.view(np.int32).astype(np.int64)
        mag = i & 0x7FFFFFFF
        return np.where(i < 0, -mag, mag)

    return np.abs(ordered(a) - ordered(b))


#: Seeded example shapes of single-op checks: op -> (input specs, weight shapes, attrs).
OP_EXAMPLES: dict[str, tuple[dict[str, InputSpec], dict[str, tuple], dict[str, Any]]] = {
    "matmul": ({"x": InputSpec((67, 130), "float32", -2, 2)}, {"w": (130, 92)}, {"weight": "w"}),
    "bias_add": ({"x": InputSpec((67, 130), "float32", -2, 2)}, {"b": (130,)}, {"bias": "b"}),
    "add": ({"x": InputSpec((67, 130), "float32", -2, 2), "y": InputSpec((67, 130), "float32", -2, 2)}, {}, {}),
    "relu": ({"x": InputSpec((67, 130), "float32", -2, 2)}, {}, {}),
    "gelu": ({"x": InputSpec((67, 130), "float32", -8, 8)}, {}, {}),
    "softmax": ({"x": InputSpec((67, 130), "float32", -8, 8)}, {}, {}),
    "layernorm": (
        {"x": InputSpec((67, 130), "float32", -2, 2)},
        {"g": (130,), "b": (130,)},
        {"gamma": "g", "beta": "b", "eps": 1e-5},
    ),
    "attention": (
        {n: InputSpec((45, 64), "float32", -2, 2) for n in "qkv"}, {}, {"n_heads": 4},
    ),
    "embedding": ({"ids": InputSpec((45,), "int32", 0, 100)}, {"t": (100, 64), "p": (64, 64)},
                  {"table": "t", "positions": "p"}),
    "sample": ({"p": InputSpec((45, 100), "float32", 0, 1)}, {}, {}),
    "int8_matmul": ({"x": InputSpec((67, 130), "int8", -128, 128)}, {"w": (130, 92)}, {"weight": "w"}),
    "int8_matmul_requant": (
        {"x": InputSpec((67, 130), "int8", -128, 128)},
        {"w": (130, 92), "b": (92,)},
        {"weight": "w", "bias": "b", "multiplier": 23456, "shift": 30, "relu": True},
    ),
}


def op_model(op: str, seed: int = 0) -> tuple[Model, dict[str, np.ndarray]]:
    """A one-node model of ``op`` with seeded weights and inputs (shapes of :data:`OP_EXAMPLES`,
    deliberately not multiples of the workgroup sizes)."""
    if op not in OP_EXAMPLES:
        raise ValueError(f"op = {op!r} is unknown; choose one of {sorted(OP_EXAMPLES)}")
    specs, wshapes, attrs = OP_EXAMPLES[op]
    rng = generator(seed)
    weights: dict[str, np.ndarray] = {}
    for name, shape in wshapes.items():
        if op.startswith("int8"):
            lo, hi = (-128, 128) if name == "w" else (-2**20, 2**20)
            dtype = np.int8 if name == "w" else np.int32
            weights[name] = rng.integers(lo, hi, size=shape).astype(dtype)
        else:
            weights[name] = rng.standard_normal(shape).astype(np.float32)
    inputs = {}
    for name, spec in specs.items():
        if spec.dtype == "float32":
            x = rng.uniform(spec.low, spec.high, size=spec.shape).astype(np.float32)
            if op == "sample":
                x = (x / x.sum(axis=1, keepdims=True)).astype(np.float32)
            inputs[name] = x
        else:
            inputs[name] = rng.integers(spec.low, spec.high, size=spec.shape).astype(spec.dtype)
    model = Model(op, tuple(specs), (Node(op, op, tuple(specs), attrs),), weights, specs)
    return model, inputs


@dataclass(frozen=True, eq=False)
class DeterminismReport:
    """Per-node determinism of one model (or op) on one backend; see the module docstring."""

    target: str
    backend: str
    engine: str
    runs: int
    seed: int
    node_names: tuple[str, ...]
    ops: tuple[str, ...]
    distinct: np.ndarray
    equal_reference: np.ndarray
    equal_local: np.ndarray
    max_ulp: np.ndarray
    max_abs: np.ndarray

    @property
    def deterministic(self) -> bool:
        """Every node gave one digest over all runs."""
        return bool((self.distinct == 1).all())

    @property
    def bitwise_reference(self) -> bool:
        """Every node equals the numpy reference bit for bit."""
        return bool(self.equal_reference.all() and self.equal_local.all())

    def to_frame(self) -> pd.DataFrame:
        """One row per node."""
        return pd.DataFrame(
            {
                "node": list(self.node_names),
                "op": list(self.ops),
                "distinct_hashes": self.distinct,
                "equal_reference": self.equal_reference,
                "equal_local": self.equal_local,
                "max_ulp": self.max_ulp,
                "max_abs": self.max_abs,
            }
        )

    def summary(self) -> str:
        """One line: target, engine, runs, determinism and reference agreement."""
        return (
            f"{self.target} on {self.backend} ({self.engine}), {self.runs} runs: "
            f"{int((self.distinct == 1).sum())}/{len(self.distinct)} nodes deterministic, "
            f"{int(self.equal_reference.sum())}/{len(self.distinct)} bitwise equal to numpy "
            f"(max {float(self.max_ulp.max(initial=0)):.0f} ulp)"
        )


def check(
    target: Model | str,
    runs: int = 20,
    *,
    backend: str | backends.Backend = "webgpu",
    inputs: dict[str, np.ndarray] | None = None,
    seed: int = 0,
) -> DeterminismReport:
    """Run ``target`` ``runs`` times on ``backend`` and compare every node with the numpy reference.

    Parameters
    ----------
    target : Model or str
        A model, a shipped model name (:data:`~oasis_lab.gpu.model.MODEL_NAMES`) or an op name
        (a one-node model from :func:`op_model`).
    runs : int
        Repetitions (``>= 1``).
    backend : str or Backend
        A registered backend name (:func:`oasis_lab.gpu.backends.names`) or a backend object.
    inputs : dict, optional
        Model inputs; default the seeded example inputs.
    seed : int
        Seed of the example inputs and of the ``sample`` nodes.

    Returns
    -------
    DeterminismReport
    """
    n_runs = check_int("runs", runs, 1)
    if isinstance(target, str):
        if target in MODEL_NAMES:
            model = load_model(target)
            default_inputs = example_inputs(model, seed)
        elif target in OPS:
            model, default_inputs = op_model(target, seed)
        else:
            raise ValueError(
                f"target = {target!r} is neither a model {list(MODEL_NAMES)} nor an op {sorted(OPS)}"
            )
    elif isinstance(target, Model):
        model = target
        default_inputs = example_inputs(model, seed) if inputs is None else {}
    else:
        raise TypeError(f"target must be a Model or a name, got {type(target).__name__}")
    feed = default_inputs if inputs is None else inputs
    be = backends.get(backend)
    engine = be.engine()
    traces: list[Trace] = [run(model, feed, backend=backend, seed=seed) for _ in range(n_runs)]
    reference = run(model, feed, backend="numpy", seed=seed)
    first = traces[0]
    n = len(model.nodes)
    distinct = np.array([len({array_digest(t.outputs[i]) for t in traces}) for i in range(n)])
    eq_ref = np.zeros(n, dtype=bool)
    eq_local = np.zeros(n, dtype=bool)
    max_ulp = np.zeros(n)
    max_abs = np.zeros(n)
    values = dict(feed)
    for i, node in enumerate(model.nodes):
        out, want = first.outputs[i], reference.outputs[i]
        eq_ref[i] = out.dtype == want.dtype and out.shape == want.shape and out.tobytes() == want.tobytes()
        local = run_node(model, i, [values[s] for s in node.inputs], backend="numpy", seed=seed)
        eq_local[i] = local.tobytes() == out.tobytes()
        values[node.name] = out
        if not eq_ref[i] and out.size:
            max_ulp[i] = float(ulp_distance(out, want).max())
            max_abs[i] = float(np.abs(out.astype(np.float64) - want.astype(np.float64)).max())
    return DeterminismReport(
        target=model.name,
        backend=be.name,
        engine=engine,
        runs=n_runs,
        seed=int(seed),
        node_names=model.node_names,
        ops=tuple(nd.op for nd in model.nodes),
        distinct=distinct,
        equal_reference=eq_ref,
        equal_local=eq_local,
        max_ulp=max_ulp,
        max_abs=max_abs,
    )


def subnormal_mix(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Normal values mixed with subnormals, ``-0`` and values next to ``2^-126`` and to the
    flush threshold ``2^-125``, of both signs."""
    x = rng.standard_normal(shape).astype(np.float32)
    special = np.array([1e-40, -3e-39, -0.0, 2.0**-126, -(2.0**-126), 1.2e-38, 1e-45, 5e-39,
                        2.0**-125, -(2.0**-125), 1.5 * 2.0**-126, -2.3e-38, 2.4e-38],
                       dtype=np.float32)
    mask = rng.random(shape) < 0.4
    x[mask] = rng.choice(special, size=int(mask.sum()))
    return x


#: A kernel case: (name, kernel file it exercises, call(ops module) -> array).
KernelCase = tuple[str, str, Any]


def kernel_cases(seed: int = 0, *, subnormal: bool = True) -> list[KernelCase]:
    """Every kernel on the WebGPU tests' kind of shapes (odd sizes, loop limits of the blocked
    matmul's tiles) and, with ``subnormal``, on inputs built to produce subnormal inputs,
    products, sums and results (the subnormal policy, ``kernels/flush.wgsl``).

    Each case's ``call`` takes a module of ops (:mod:`~oasis_lab.gpu.reference`,
    :mod:`~oasis_lab.gpu.ops` or the browser backend) and returns the op's output, so the same
    inputs run on every backend.
    """
    rng = generator(seed)

    def f32(*shape: int, scale: float = 1.0) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def c(x: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(x)

    a, b = f32(65, 33), f32(33, 68)
    a2, b2 = f32(130, 257), f32(257, 72)
    x, y = f32(17, 33, scale=6.0), f32(17, 33)
    rows = f32(40, 1000, scale=10.0)
    q, k, v = f32(45, 64), f32(45, 64), f32(45, 64)
    ids = rng.integers(0, 100, 45).astype(np.int32)
    table, pos = f32(100, 64), f32(64, 64)
    probs = np.abs(f32(45, 100))
    probs = (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)
    a8 = rng.integers(-128, 128, (67, 130)).astype(np.int8)
    b8 = rng.integers(-128, 128, (130, 92)).astype(np.int8)
    bias8 = rng.integers(-2**20, 2**20, 92).astype(np.int32)
    sweep = np.concatenate([np.linspace(-100, 100, 20001), [0.0, -0.0, 1e-30, 3e38]]).astype(np.float32)
    cases: list[KernelCase] = [
        ("matmul naive 65x33x68", "matmul_naive", lambda m: _matmul(m, a, b, "naive")),
        ("matmul blocked 65x33x68", "matmul_blocked", lambda m: _matmul(m, a, b, "blocked")),
        ("matmul blocked 130x257x72", "matmul_blocked", lambda m: _matmul(m, a2, b2, "blocked")),
        ("matmul wide 65x33x68", "matmul_wide", lambda m: _matmul(m, a, b, "wide")),
        ("matmul wide 130x257x72", "matmul_wide", lambda m: _matmul(m, a2, b2, "wide")),
        ("add 17x33", "binary", lambda m: m.add(x, y)),
        ("add 16x32 (vec4)", "elementwise4", lambda m: m.add(c(x[:16, :32]), c(y[:16, :32]))),
        ("bias_add 16x32 (vec4)", "elementwise4",
         lambda m: m.bias_add(c(x[:16, :32]), c(y[0, :32]))),
        ("relu 16x32 (vec4)", "relu4", lambda m: m.relu(c(x[:16, :32]))),
        ("bias_add 17x33", "binary", lambda m: m.bias_add(x, y[0])),
        ("relu 17x33", "unary", lambda m: m.relu(x)),
        ("gelu sweep", "unary", lambda m: m.gelu(sweep)),
        ("exp sweep", "unary", lambda m: m.exp(sweep)),
        ("softmax 40x1000", "softmax", lambda m: m.softmax(rows)),
        ("layernorm 17x33", "layernorm", lambda m: m.layernorm(x + np.float32(2), y[0], y[1])),
        ("attention T=45 d=64 h=4", "attention", lambda m: m.attention(q, k, v, 4)),
        ("embedding 45x64", "embedding", lambda m: m.embedding(ids, table, pos)),
        ("sample 45x100", "sample", lambda m: m.sample(probs, 7)),
        ("int8_matmul 67x130x92", "int8_matmul", lambda m: m.int8_matmul(a8, b8)),
        ("int8_matmul_requant 67x130x92", "int8_matmul",
         lambda m: m.int8_matmul_requant(a8, b8, bias8, 23456, 30, True)),
    ]
    if not subnormal:
        return cases
    xs, ws = subnormal_mix(rng, 17, 33), subnormal_mix(rng, 33, 8)
    ta, tb = f32(13, 70, scale=1e-20), f32(70, 16, scale=1e-19)  # subnormal products and sums
    wide = np.tile(np.array([0.0, -95.0, -100.0, -103.0, -87.2], np.float32), (5, 3)) + f32(5, 15)
    qs = subnormal_mix(rng, 12, 16)
    tiny = np.float32(1e-19)
    ids_s = np.array([3, 0, 5], dtype=np.int32)
    cancel = c(-xs + np.float32(2.0**-149))
    edge = np.concatenate([xs.ravel(), np.array([1.3e-38, -1.3e-38, -87.0, -86.9, -80.0], np.float32)])
    psub = np.abs(np.concatenate([np.full((5, 15), 1e-40, np.float32), np.abs(xs[:5, :15])]))
    # Normal products first, then products 1.5 2^-125 and -2^-125 (kept: at or above the flush
    # threshold) that cancel to a partial sum of 2^-126 mid-row, which the policy flushes before
    # the last product, 2^-122, is added.
    mid_a = np.array([[1.0, 1.0, 1.5 * 2.0**-62, 2.0**-62, 2.0**-61]], np.float32)
    mid_b = np.repeat(np.array([[1.0], [-1.0], [2.0**-63], [-(2.0**-63)], [2.0**-61]], np.float32), 4, 1)
    cases += [
        ("matmul blocked, subnormal sum mid-row", "matmul_blocked",
         lambda m: _matmul(m, mid_a, mid_b, "blocked")),
        ("matmul naive, subnormal inputs", "matmul_naive", lambda m: _matmul(m, xs, ws, "naive")),
        ("matmul blocked, subnormal inputs", "matmul_blocked", lambda m: _matmul(m, xs, ws, "blocked")),
        ("matmul blocked, subnormal products", "matmul_blocked",
         lambda m: _matmul(m, ta, tb, "blocked")),
        ("matmul naive, subnormal products", "matmul_naive", lambda m: _matmul(m, ta, tb, "naive")),
        ("matmul wide, subnormal inputs", "matmul_wide", lambda m: _matmul(m, xs, ws, "wide")),
        ("matmul wide, subnormal products", "matmul_wide", lambda m: _matmul(m, ta, tb, "wide")),
        ("add, cancelling to subnormal", "binary", lambda m: m.add(xs, cancel)),
        ("add (vec4), cancelling to subnormal", "elementwise4",
         lambda m: m.add(c(xs[:16, :32]), c(cancel[:16, :32]))),
        ("relu (vec4), subnormal inputs", "relu4", lambda m: m.relu(c(xs[:16, :32]))),
        ("bias_add, subnormal inputs", "binary", lambda m: m.bias_add(xs, xs[1])),
        ("relu, subnormal inputs", "unary", lambda m: m.relu(xs)),
        ("gelu, subnormal inputs and results", "unary", lambda m: m.gelu(edge)),
        ("exp, subnormal inputs", "unary", lambda m: m.exp(edge)),
        ("softmax, wide logits (subnormal probabilities)", "softmax", lambda m: m.softmax(wide)),
        ("softmax, subnormal inputs", "softmax", lambda m: m.softmax(xs)),
        ("layernorm, subnormal inputs", "layernorm", lambda m: m.layernorm(xs, xs[0], xs[2])),
        ("attention, subnormal products", "attention",
         lambda m: m.attention(qs[:, :8] * tiny, qs[:, 8:] * tiny, c(qs[:, :8]), 2)),
        ("embedding, subnormal entries", "embedding", lambda m: m.embedding(ids_s, xs[:6], xs[6:10])),
        ("sample, subnormal probabilities", "sample", lambda m: m.sample(psub, 7)),
    ]
    return cases


def _matmul(module: Any, a: np.ndarray, b: np.ndarray, kernel: str) -> np.ndarray:
    """``module.matmul`` with the named kernel where the module has kernels (not the reference)."""
    if hasattr(module, "MATMUL_KERNELS"):
        return module.matmul(a, b, kernel=kernel)
    return module.matmul(a, b)
