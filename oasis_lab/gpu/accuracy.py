"""Accuracy of the float32 ops against float64, and what breaks bitwise reproducibility.

Whitepaper section 5 needs reproducible layers; this module quantifies the two sides of that
coin for the notebook and the report:

- :func:`ulp_errors` / :func:`accuracy_table`: error of each float32 op (kernels and numpy twins
  share the bits) against a float64 evaluation of the same mathematical function, in ulp of the
  float64 result. The documented bounds are in :mod:`oasis_lab.gpu.reference`.
- :func:`order_variants`: numpy emulations of what other engines or kernels may legally do with
  the same matmul (the WGSL specification allows reassociation and fusion): split-K, fused
  multiply-add, pairwise summation, BLAS, and a random order per run as float atomics give.
  Each is a valid float32 matmul; none has the fixed-order bits.
- :func:`literal_reassociation_probe`: runs ``((x * x) * x) * 0.044715`` on the WebGPU device
  with the constant as a WGSL literal and as a run-time value, against numpy: on lavapipe the
  literal form was measured to differ (Mesa's compiler reassociates products with constants),
  which is why the kernels pass such constants at run time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from oasis_lab.checks import check_int
from oasis_lab.gpu import reference as ref
from oasis_lab.gpu.model import backend_module
from oasis_lab.seeding import check_seed, generator

__all__ = [
    "ulp_error",
    "float64_op",
    "ulp_errors",
    "accuracy_table",
    "order_variants",
    "literal_reassociation_probe",
    "ACCURACY_OPS",
]

ACCURACY_OPS = ("matmul", "exp", "gelu", "softmax", "layernorm", "attention")


def ulp_error(y: np.ndarray, y64: np.ndarray) -> np.ndarray:
    """``|y - y64|`` in float32 ulp of ``y64`` (the spacing of float32 at ``|y64|``)."""
    y64 = np.asarray(y64, dtype=np.float64)
    spacing = np.spacing(np.abs(y64).astype(np.float32)).astype(np.float64)
    return np.abs(np.asarray(y, dtype=np.float64) - y64) / spacing


def _softmax64(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def float64_op(op: str, *args: np.ndarray, n_heads: int = 4) -> np.ndarray:
    """The mathematical function of ``op`` evaluated in float64 (inputs cast exactly)."""
    a = [np.asarray(x, dtype=np.float64) for x in args]
    if op == "matmul":
        return a[0] @ a[1]
    if op == "exp":
        return np.exp(a[0])
    if op == "gelu":
        x = a[0]
        return x / (1.0 + np.exp(-2.0 * np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))
    if op == "softmax":
        return _softmax64(a[0])
    if op == "layernorm":
        x, g, b = a
        mu = x.mean(axis=1, keepdims=True)
        return (x - mu) / np.sqrt(x.var(axis=1, keepdims=True) + 1e-5) * g + b
    if op == "attention":
        q, k, v = a
        t, d = q.shape
        dh = d // n_heads
        out = np.zeros((t, d))
        mask = np.tril(np.ones((t, t), dtype=bool))
        for h in range(n_heads):
            sl = slice(h * dh, (h + 1) * dh)
            s = np.where(mask, q[:, sl] @ k[:, sl].T / np.sqrt(dh), -np.inf)
            out[:, sl] = _softmax64(s) @ v[:, sl]
        return out
    raise ValueError(f"op = {op!r} has no float64 version; choose one of {ACCURACY_OPS}")


def _inputs(op: str, rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    def f32(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    if op == "matmul":
        return f32(n, n), f32(n, n)
    if op == "exp":
        return (rng.uniform(-80, 80, n * n).astype(np.float32),)
    if op == "gelu":
        return (f32(n * n, scale=3.0),)
    if op == "softmax":
        return (f32(n, n, scale=4.0),)
    if op == "layernorm":
        return f32(n, n, scale=2.0) + np.float32(1), f32(n), f32(n)
    if op == "attention":
        return f32(n, 64), f32(n, 64), f32(n, 64)
    raise ValueError(f"op = {op!r} is unknown; choose one of {ACCURACY_OPS}")


def ulp_errors(op: str, n: int = 128, seed: int = 0, backend: str = "numpy") -> np.ndarray:
    """Per-element ulp error of ``op`` on seeded inputs of size ``n`` against float64.

    ``backend="webgpu"`` runs the kernel (same bits as the twin where reproducible).
    """
    size = check_int("n", n, 1)
    args = _inputs(op, generator(seed), size)
    fn = getattr(backend_module(backend), op)
    if op == "attention":
        y = fn(*args, 4)
    elif op == "layernorm":
        y = fn(*args, 1e-5)
    else:
        y = fn(*args)
    return ulp_error(y, float64_op(op, *args)).reshape(-1)


def accuracy_table(n: int = 128, seed: int = 0, backend: str = "numpy") -> pd.DataFrame:
    """Error of every op in :data:`ACCURACY_OPS` against float64.

    Columns: ``median_ulp`` and ``p99_ulp`` (elementwise, in ulp of each exact value: large
    where an output cancels to near 0), ``max_abs``, and ``normwise_ulp`` = ``max_abs`` in ulp
    of the largest exact output (the scale the rounding errors live on).
    """
    rows = []
    rng_seed = check_seed(seed)
    for op in ACCURACY_OPS:
        args = _inputs(op, generator(rng_seed), check_int("n", n, 1))
        y64 = float64_op(op, *args)
        err = ulp_errors(op, n, rng_seed, backend)
        y = err * np.spacing(np.abs(y64).astype(np.float32)).reshape(-1).astype(np.float64)
        scale = float(np.spacing(np.float32(np.abs(y64).max())))
        rows.append({"op": op, "elements": err.size, "median_ulp": float(np.median(err)),
                     "p99_ulp": float(np.percentile(err, 99)), "max_abs": float(y.max()),
                     "normwise_ulp": float(y.max()) / scale})
    return pd.DataFrame(rows)


def order_variants(
    a: np.ndarray, b: np.ndarray, *, splits: int = 4, random_runs: int = 20, seed: int = 0
) -> dict[str, list[np.ndarray]]:
    """The same float32 matmul under summation orders other engines may use (numpy emulations).

    Returns
    -------
    dict
        ``"fixed order (kernels)"``: the bitwise contract; ``"split-K"``: ``splits`` fixed-order
        partial sums added at the end (how GPUs parallelize long reductions);
        ``"fused multiply-add"``: ``acc = round(acc + a*b)`` with the product unrounded (float64
        emulation); ``"pairwise (numpy.sum)"``; ``"BLAS (numpy @)"``; ``"random order
        (atomics)"``: ``random_runs`` results, each summing k in a fresh random order, as
        compare-exchange float atomics across workgroups do. One list of results per variant.
    """
    a, b = ref.check_matmul(a, b)
    s = check_int("splits", splits, 1)
    runs = check_int("random_runs", random_runs, 1)
    k = a.shape[1]
    fixed = ref.matmul(a, b)
    chunks = np.array_split(np.arange(k), s)
    split = np.zeros_like(fixed)
    for c in chunks:
        if c.size:
            split = split + ref.matmul(np.ascontiguousarray(a[:, c]), np.ascontiguousarray(b[c]))
    fma = np.zeros(fixed.shape, dtype=np.float32)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    for j in range(k):  # float32 x float32 is exact in float64: one rounding per step, like fma
        fma = (fma.astype(np.float64) + a64[:, j, None] * b64[None, j, :]).astype(np.float32)
    # numpy sums a contiguous last axis pairwise (blocks of 8, then halving)
    pairwise = (a[:, None, :] * np.ascontiguousarray(b.T)[None, :, :]).sum(axis=-1, dtype=np.float32)
    rng = generator(seed)
    shuffled = []
    for _ in range(runs):
        p = rng.permutation(k)
        shuffled.append(ref.matmul(np.ascontiguousarray(a[:, p]), np.ascontiguousarray(b[p])))
    return {
        "fixed order (kernels)": [fixed],
        f"split-K x{s}": [split],
        "fused multiply-add": [fma],
        "pairwise (numpy.sum)": [pairwise],
        "BLAS (numpy @)": [a @ b],
        "random order (atomics)": shuffled,
    }


def literal_reassociation_probe(n: int = 65536, seed: int = 0) -> pd.DataFrame:
    """Measure whether the WebGPU compiler reassociates ``((x*x)*x) * 0.044715``.

    Runs ``kernels/probe_reassociation.wgsl`` twice on seeded ``x`` in ``[-30, 30]``: with the
    constant as a WGSL literal and as a run-time uniform value, and compares each with numpy's
    float32 evaluation of the same expression in the written order.

    Returns
    -------
    DataFrame
        ``form, differing_elements, max_ulp`` (rows ``"literal"`` and ``"run-time"``).
    """
    from oasis_lab.gpu.determinism import ulp_distance
    from oasis_lab.gpu.device import run_kernel
    from oasis_lab.gpu.mathlib import GELU_A

    size = check_int("n", n, 1)
    x = generator(seed).uniform(-30, 30, size).astype(np.float32)
    want = ((x * x) * x) * GELU_A
    groups = -(-size // 256)
    params = np.zeros(4, dtype=np.uint32)
    params[0] = size
    params[1] = np.float32(GELU_A).view(np.uint32)
    rows = []
    for form, entry in (("literal", "literal"), ("run-time", "runtime")):
        data = run_kernel("probe_reassociation", params, [("x", x)], 4 * size, (groups, 1, 1),
                          entry=entry)
        got = np.frombuffer(data, dtype=np.float32)
        d = ulp_distance(got, want)
        rows.append({"form": form, "differing_elements": int((d > 0).sum()),
                     "max_ulp": int(d.max())})
    return pd.DataFrame(rows)
