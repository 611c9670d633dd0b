"""A differential fuzzer of the kernels across engines (whitepaper section 5: a referee is only
right if every engine computes the referee's bits).

In the manner of Csmith and GraphicsFuzz, :func:`fuzz` generates inputs that aim at the places
where engines may legally or accidentally differ, runs each kernel on every engine (the numpy
twins, the WGSL kernels through wgpu-py, the same kernels in headless Chromium, or any backend
registered in :mod:`oasis_lab.gpu.backends`), compares the bits with the numpy twin, and shrinks
every divergence to a minimal case (:func:`shrink`) that can be kept as a regression corpus
(:func:`save_case`, :func:`load_corpus`).

Each (kernel, boundary class) pair has a generator. Inputs are batched: one call computes many
independent outputs (an elementwise op one value per element, a matmul one dot product per
output, softmax and layernorm one row per row), and each output counts as one input tried. The
boundary classes (:data:`CLASSES`):

``ordinary``           seeded normal values (the baseline)
``subnormal-inputs``   subnormals, ``-0`` and values a few ulp around ``2^-126`` and ``2^-125``
``near-2^-126``        results whose exact value lies a few ulp around ``2^-126``, the hole
                       ``[2^-126 - 2^-150, 2^-126)`` included (rounds up to normal after
                       rounding, is tiny before it: IEEE 754 lets engines detect either way)
``near-2^-125``        the same around ``2^-125`` (the flush threshold of the policy)
``near-2^128``         results around the overflow threshold ``2^128 - 2^103``
``ties-to-even``       inputs with 13-bit significands, so products and sums fall on midpoints
``exp-thresholds``     ``exp``'s break points (clamp at +-90, the flush at ``k = -125``,
                       ``2^-126`` and ``2^-125`` results, overflow at 88.72, the steps of
                       ``k``) and GELU's sigmoid switch at ``t = 0`` (the kernels have no
                       ``log`` or ``tanh``: GELU's tanh is computed through this ``exp``)
``cancellation``       sums that cancel to zero or to a few ulp
``signed-zeros``       ``-0`` inputs and results that are ``-0`` before the policy
``nan-production``     finite inputs whose computation makes ``inf - inf`` or ``0 inf``
``int8-extremes``      int8 matmuls at -128 and 127, odd K (packing)
``requant-ties``       requantization exactly at its rounding and clamp boundaries
``cdf-ties``           sample rows whose running sums equal the row's uniform draw

Readings taken
--------------
- A divergence is an engine whose output bits differ from the numpy twin's (the referee's).
  Divergences of calls whose numpy output holds an ``inf`` or a NaN are counted apart, as
  *outside the bitwise contract*: WGSL lets an implementation assume that no overflow, infinity
  or NaN occurs, and gives ``min``/``max`` of a NaN no defined result, so no engine-independent
  bits exist there (the referee rules such a node ``ambiguous``, never ``guilty``).
- :func:`policy` runs the fuzzer under the previous subnormal policy (flush below ``2^-126``,
  kernels and twins alike) to measure what the current one (``2^-125``) fixed.
- Kernels run through their ops (:mod:`oasis_lab.gpu.ops` signatures), so what is fuzzed is what
  providers run; each ``matmul`` kernel (naive, blocked, wide) is fuzzed separately.
- Budgets are soft: every pair gets at least one batch; then rounds continue while time is left.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.checks import check_int, check_real
from oasis_lab.gpu import backends, device, mathlib
from oasis_lab.progress import progress_bar
from oasis_lab.seeding import check_seed, stream

__all__ = [
    "BOUNDARY_CASES",
    "CLASSES",
    "KERNELS",
    "POLICIES",
    "TININESS_MODES",
    "Case",
    "Divergence",
    "FuzzReport",
    "KernelTarget",
    "boundary_table",
    "case_from_json",
    "case_model",
    "case_to_json",
    "diverging_engines",
    "engine_result",
    "fuzz",
    "load_corpus",
    "outside_contract",
    "policy",
    "round_f32",
    "run_case",
    "save_case",
    "shrink",
]

F32 = np.float32
T126 = 2.0**-126
T125 = 2.0**-125
FMAX = float(np.finfo(np.float32).max)

CLASSES = ("ordinary", "subnormal-inputs", "near-2^-126", "near-2^-125", "near-2^128",
           "ties-to-even", "exp-thresholds", "cancellation", "signed-zeros", "nan-production",
           "int8-extremes", "requant-ties", "cdf-ties")


# ============================================================================ value helpers
def _bits(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=F32).view(np.uint32)


def _from_bits(b: np.ndarray) -> np.ndarray:
    return np.asarray(b, dtype=np.uint32).view(F32)


def _walk(v: float | np.floating | np.ndarray, steps: np.ndarray) -> np.ndarray:
    """``v`` moved ``steps`` ulps away from zero (negative: towards it), sign kept."""
    b = _bits(np.broadcast_to(np.asarray(v, F32), np.shape(steps)).copy()).astype(np.int64)
    sign = b & 0x80000000
    mag = np.clip((b & 0x7FFFFFFF) + steps, 0, 0x7F7FFFFF)
    return _from_bits((sign | mag).astype(np.uint32))


def _near(rng: np.random.Generator, target: float, n: int, spread: int = 6, signed: bool = True) -> np.ndarray:
    """``n`` float32 within ``spread`` ulps of ``target`` (random sign when ``signed``)."""
    v = _walk(target, rng.integers(-spread, spread + 1, n))
    if signed:
        v = np.where(rng.random(n) < 0.5, -v, v).astype(F32)
    return v


def _tiny_mix(rng: np.random.Generator, n: int) -> np.ndarray:
    """Subnormals, +-0 and values a few ulp around 2^-126 and 2^-125."""
    pools = [
        _from_bits(rng.integers(1, 0x800000, n)),  # subnormal
        np.full(n, -0.0, F32), np.zeros(n, F32),
        _near(rng, T126, n), _near(rng, T125, n),
        rng.standard_normal(n).astype(F32),
    ]
    pick = rng.integers(0, len(pools), n)
    out = np.choose(pick, pools).astype(F32)
    return np.where(rng.random(n) < 0.5, -out, out).astype(F32)


def _low_precision(rng: np.random.Generator, n: int, bits: int = 13, emin: int = -4, emax: int = 4) -> np.ndarray:
    """Random signed values with ``bits``-bit significands (products and sums hit midpoints)."""
    mant = rng.integers(2 ** (bits - 1), 2**bits, n).astype(np.float64)
    e = rng.integers(emin, emax + 1, n)
    v = np.ldexp(mant, e - bits + 1)
    return np.where(rng.random(n) < 0.5, -v, v).astype(F32)


def _exp_points(rng: np.random.Generator, n: int) -> np.ndarray:
    """Arguments around exp's break points (see the module docstring)."""
    ln2 = math.log(2.0)
    anchors = [-90.0, -87.33654, -86.98951, -86.64339, 88.72284, 90.0, 0.0]
    ks = rng.integers(-126, 128, n)
    steps = (ks - 0.5) * ln2  # where floor(x log2e + 1/2) steps from k - 1 to k
    base = np.where(rng.random(n) < 0.5, rng.choice(np.array(anchors), n), steps)
    return _walk(base.astype(F32), rng.integers(-40, 41, n))


def _scaled_for(a: np.ndarray, target: float, rng: np.random.Generator) -> np.ndarray:
    """``b`` with ``a * b`` (exact) within a few ulps of ``target`` (sign of ``a``'s kept)."""
    with np.errstate(all="ignore"):
        b = (np.float64(target) / a.astype(np.float64)).astype(F32)
    sign = np.where(rng.random(b.shape) < 0.5, -1, 1).astype(F32)
    return _walk(np.abs(b), rng.integers(-3, 4, b.shape)).astype(F32) * sign


def _values(cls: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """A class's values for ops whose inputs are read independently (elementwise)."""
    if cls == "ordinary":
        return (rng.standard_normal(n) * rng.choice([0.1, 1.0, 10.0], n)).astype(F32)
    if cls == "subnormal-inputs":
        return _tiny_mix(rng, n)
    if cls in ("near-2^-126", "near-2^-125"):
        return _near(rng, T126 if cls == "near-2^-126" else T125, n, spread=12)
    if cls == "near-2^128":
        return _near(rng, FMAX, n, spread=2**20)
    if cls == "ties-to-even":
        return _low_precision(rng, n)
    if cls == "exp-thresholds":
        return _exp_points(rng, n)
    if cls == "signed-zeros":
        v = rng.standard_normal(n).astype(F32)
        return np.where(rng.random(n) < 0.6, np.float32(-0.0), v).astype(F32)
    raise ValueError(f"class {cls!r} has no elementwise values")


# ============================================================================ kernels as targets
def _matmul(module: Any, a: np.ndarray, b: np.ndarray, kernel: str) -> np.ndarray:
    if hasattr(module, "MATMUL_KERNELS"):
        return module.matmul(a, b, kernel=kernel)
    return module.matmul(a, b)


def _gen_matmul(cls: str, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    m, k, nn = 8, int(rng.integers(1, 7)), 8  # nn % 4 == 0: every matmul kernel applies
    size = (m, k, nn)
    if cls in ("ordinary", "subnormal-inputs", "ties-to-even", "signed-zeros"):
        a = _values(cls, rng, m * k).reshape(m, k)
        b = _values(cls, rng, k * nn).reshape(k, nn)
        return {"a": a, "b": b}
    a = (rng.uniform(0.5, 2.0, (m, k)) * np.where(rng.random((m, k)) < 0.5, -1, 1)).astype(F32)
    if cls == "near-2^-126" or cls == "near-2^-125":
        # output (r, j), r = j % m: the term a[r, 0] b[0, j] lands within a few ulps of the
        # target (0x3F7FFFFF x 0x00800000 is one such); each later term is 0 or one of a pair
        # of terms that cancel exactly (X then -X), so the tiny term is rounded once, alone,
        # or absorbed into X and lost
        target = T126 if cls == "near-2^-126" else T125
        a[:, 0] = _walk(F32(1.0), rng.integers(-8, 3, m))
        b = np.zeros((k, nn), F32)
        for j in range(nn):
            r = j % m
            b[0, j] = _scaled_for(a[r, :1], target * float(rng.choice([1.0, 2.0, 0.5])), rng)[0]
            for kk in range(1, k - 1, 2):
                if rng.random() < 0.5:
                    x = F32(rng.standard_normal())
                    b[kk, j] = x / a[r, kk] if a[r, kk] else x
                    b[kk + 1, j] = -(a[r, kk] * b[kk, j]) / a[r, kk + 1]
                    if F32(a[r, kk] * b[kk, j]) != -F32(a[r, kk + 1] * b[kk + 1, j]):
                        b[kk, j] = b[kk + 1, j] = 0.0
        if rng.random() < 0.5:  # the cancelling pair first, the tiny term last
            a, b = a[:, ::-1].copy(), b[::-1].copy()
        return {"a": a, "b": b}
    if cls == "near-2^128":
        a = (_near(rng, 2.0**64, m * k, spread=2**21)).reshape(m, k)
        b = (_near(rng, 2.0**64, k * nn, spread=2**21)).reshape(k, nn)
        return {"a": a, "b": b}
    if cls == "cancellation":
        k = max(k, 2)
        a = rng.standard_normal((m, k)).astype(F32)
        b = rng.standard_normal((k, nn)).astype(F32)
        a[:, 1] = a[:, 0]
        b[1] = -b[0] * rng.choice(np.array([1.0, 1.0 + 2.0**-23, 1.0 - 2.0**-24], F32), nn)
        return {"a": a, "b": b}
    if cls == "nan-production":
        k = max(k, 2)
        a = np.full((m, k), 3e38, F32)
        b = rng.choice(np.array([2.0, -2.0, 1.0, -1.0, 0.0], F32), (k, nn)).astype(F32)
        return {"a": a, "b": b}
    raise ValueError(f"matmul has no class {cls!r} ({size})")


def _gen_binary(cls: str, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    rows, cols = 16, 16
    size = rows * cols
    if cls in ("near-2^-126", "near-2^-125", "cancellation"):
        x = (rng.standard_normal(size) * rng.choice([1.0, 2.0**-100, 2.0**-120], size)).astype(F32)
        if cls == "cancellation":
            y = (-x * rng.choice(np.array([1.0, 1.0 + 2.0**-23, 1.0 - 2.0**-24], F32), size)).astype(F32)
        else:  # y = target - x where exact (both near the tiny range: the sum is exact there)
            target = _near(rng, T126 if cls == "near-2^-126" else T125, size, spread=12)
            x = _near(rng, T125 * 3, size, spread=2**20)
            y = (target.astype(np.float64) - x.astype(np.float64)).astype(F32)
    elif cls == "nan-production":  # no NaN from finite + finite: overflow to +-inf instead
        x = _near(rng, FMAX, size, spread=2**22)
        y = _near(rng, FMAX, size, spread=2**22)
    else:
        x, y = _values(cls, rng, size), _values(cls, rng, size)
    return {"x": x.reshape(rows, cols), "y": y.reshape(rows, cols)}


def _gen_unary(cls: str, rng: np.random.Generator, n: int, op: str = "gelu") -> dict[str, np.ndarray]:
    size = 512
    if op == "gelu" and cls in ("near-2^-126", "near-2^-125"):  # gelu(x) ~ x / 2 near 0
        x = _near(rng, 2 * (T126 if cls == "near-2^-126" else T125), size, spread=2**10)
    elif op == "gelu" and cls == "exp-thresholds":  # t = 0 switch and exp's flush in the tail
        tail = _walk(F32(-10.7), rng.integers(-2**16, 2**16, size))
        x = np.where(rng.random(size) < 0.5, tail, _near(rng, 1e-30, size, spread=2**22))
    elif op == "exp" and cls in ("near-2^-126", "near-2^-125"):
        anchor = math.log(T126 if cls == "near-2^-126" else T125)
        x = _walk(F32(anchor), rng.integers(-2**12, 2**12, size))
    elif op == "gelu" and cls == "near-2^128":
        x = _near(rng, 1.8e19, size, spread=2**22)  # x^3 overflows, x^2 almost
    elif op == "exp" and cls == "near-2^128":
        x = _walk(F32(88.72284), rng.integers(-2**12, 2**12, size))
    elif cls == "cancellation":
        x = _near(rng, 1e-38, size, spread=2**22)
    elif cls == "nan-production":
        x = _near(rng, FMAX, size, spread=2**22)
    else:
        x = _values(cls, rng, size)
    return {"x": x.astype(F32)}


def _gen_softmax(cls: str, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    rows, cols = 16, 8
    x = rng.standard_normal((rows, cols)).astype(F32)
    if cls in ("near-2^-126", "near-2^-125", "exp-thresholds"):
        # rows [0, 0, .., -d]: e = exp(-d) ~ 2^-125, divided by s = (number of zeros) + e
        d = -_exp_points(rng, rows) if cls == "exp-thresholds" else _walk(
            F32(86.64339 if cls == "near-2^-125" else 86.9), rng.integers(-2**14, 2**14, rows))
        zeros = rng.integers(1, cols, rows)
        x = np.full((rows, cols), -200.0, F32)
        for r in range(rows):
            x[r, : zeros[r]] = 0.0
            x[r, zeros[r]:] = -np.abs(d[r])
    elif cls == "ties-to-even":
        x = _low_precision(rng, rows * cols, bits=6, emin=-2, emax=3).reshape(rows, cols)
    elif cls == "cancellation":
        x = np.repeat(rng.standard_normal((rows, 1)).astype(F32), cols, 1)
    elif cls == "near-2^128":
        x = _near(rng, FMAX, rows * cols, spread=2**22).reshape(rows, cols)
    elif cls in ("subnormal-inputs", "signed-zeros"):
        x = _values(cls, rng, rows * cols).reshape(rows, cols)
    elif cls == "nan-production":
        x = np.where(rng.random((rows, cols)) < 0.5, F32(3e38), F32(-3e38)).astype(F32)
    return {"x": x}


def _gen_layernorm(cls: str, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    rows, cols = 16, 8
    x = rng.standard_normal((rows, cols)).astype(F32)
    g = rng.standard_normal(cols).astype(F32)
    b = rng.standard_normal(cols).astype(F32)
    if cls in ("near-2^-126", "near-2^-125"):
        g = _near(rng, T126 if cls == "near-2^-126" else T125, cols, spread=2**8)
        b = np.zeros(cols, F32)
    elif cls == "cancellation":
        x = np.repeat(rng.standard_normal((rows, 1)).astype(F32), cols, 1)  # variance 0
    elif cls in ("near-2^128", "nan-production"):
        x = _near(rng, FMAX / (1 if cls == "nan-production" else 8), rows * cols, spread=2**22).reshape(rows, cols)
    elif cls == "ties-to-even":
        x = _low_precision(rng, rows * cols).reshape(rows, cols)
        g, b = _low_precision(rng, cols, emax=0), _low_precision(rng, cols, emax=0)
    elif cls in ("subnormal-inputs", "signed-zeros"):
        x = _values(cls, rng, rows * cols).reshape(rows, cols)
        g, b = _values(cls, rng, cols), _values(cls, rng, cols)
    elif cls == "exp-thresholds":
        x = _exp_points(rng, rows * cols).reshape(rows, cols)
    return {"x": x, "gamma": g, "beta": b}


def _gen_attention(cls: str, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    t, d = 6, 8  # 2 heads of 4
    q, k, v = (rng.standard_normal((t, d)).astype(F32) for _ in range(3))
    if cls in ("near-2^-126", "near-2^-125"):
        v = _near(rng, 2 * (T126 if cls == "near-2^-126" else T125), t * d, spread=2**10).reshape(t, d)
    elif cls == "exp-thresholds":  # score differences near exp's flush
        q = np.abs(q) * F32(6.0)
        k = np.where(rng.random((t, d)) < 0.5, k * F32(6.0), -np.abs(k) * F32(6.0)).astype(F32)
    elif cls == "cancellation":
        k = np.repeat(k[:1], t, 0)
    elif cls in ("near-2^128", "nan-production"):
        q = _near(rng, 2.0**64 if cls == "near-2^128" else 1e30, t * d, spread=2**20).reshape(t, d)
        k = _near(rng, 2.0**64 if cls == "near-2^128" else 1e30, t * d, spread=2**20).reshape(t, d)
    elif cls in ("subnormal-inputs", "signed-zeros", "ties-to-even"):
        q, k, v = (_values(cls, rng, t * d).reshape(t, d) for _ in range(3))
    return {"q": q, "k": k, "v": v}


def _gen_embedding(cls: str, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    vocab, t, d = 12, 8, 8
    ids = rng.integers(0, vocab, t).astype(np.int32)
    if cls in ("near-2^-126", "near-2^-125", "cancellation"):
        g = _gen_binary(cls, rng, n)
        table, pos = g["x"][:vocab, :d].copy(), g["y"][:t, :d].copy()
        ids = np.arange(t, dtype=np.int32) % vocab
        table[ids] = g["x"][:t, :d]
    elif cls == "nan-production":
        table = _near(rng, FMAX, vocab * d, spread=2**22).reshape(vocab, d)
        pos = _near(rng, FMAX, t * d, spread=2**22).reshape(t, d)
    else:
        table = _values(cls, rng, vocab * d).reshape(vocab, d)
        pos = _values(cls, rng, t * d).reshape(t, d)
    return {"ids": ids, "table": np.ascontiguousarray(table), "positions": np.ascontiguousarray(pos)}


SAMPLE_SEED = 11


def _gen_sample(cls: str, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    rows, cols = 32, 8
    p = rng.random((rows, cols)).astype(F32)
    p = (p / p.sum(axis=1, keepdims=True)).astype(F32)
    if cls == "cdf-ties":  # c_j == u exactly for one j: the strict u < c decides
        u = mathlib.uniform01(SAMPLE_SEED, np.arange(rows, dtype=np.uint32))
        j = rng.integers(1, cols - 1, rows)
        p = np.zeros((rows, cols), F32)
        for r in range(rows):
            p[r, 0] = u[r]
            p[r, j[r]] = F32(1.0) - u[r]
    elif cls in ("subnormal-inputs", "signed-zeros"):
        p = np.abs(_values(cls, rng, rows * cols)).reshape(rows, cols)
        if cls == "signed-zeros":
            p = np.where(p == 0, F32(-0.0), p).astype(F32)
    elif cls in ("near-2^-126", "near-2^-125"):
        p = np.abs(_near(rng, T126 if cls == "near-2^-126" else T125, rows * cols, spread=64)).reshape(rows, cols)
    return {"probs": np.ascontiguousarray(p)}


def _gen_int8(cls: str, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    m, k, nn = 8, int(rng.integers(1, 12)), 8
    a = rng.integers(-128, 128, (m, k)).astype(np.int8)
    b = rng.integers(-128, 128, (k, nn)).astype(np.int8)
    bias = rng.integers(-2**16, 2**16, nn).astype(np.int32)
    mult, shift = int(rng.integers(1, 2**15)), int(rng.integers(17, 47))
    if cls == "int8-extremes":
        a = rng.choice(np.array([-128, 127], np.int8), (m, k))
        b = rng.choice(np.array([-128, 127], np.int8), (k, nn))
        bias = rng.choice(np.array([-(2**30 - 1), 2**30 - 1, 0], np.int32), nn)
    elif cls == "requant-ties":
        # acc * mult + 2^(shift-1) exactly at a multiple of 2^shift (the rounding edge), and
        # results at the clamp edges -128, 0, 127
        shift = int(rng.integers(17, 24))
        mult = 1 << int(rng.integers(0, 8))
        acc = (a.astype(np.int64) @ b.astype(np.int64))
        want = rng.choice(np.array([-129, -128, -1, 0, 1, 126, 127, 128]), nn)
        target = (want * (1 << shift) - (1 << (shift - 1))) // mult
        bias = np.clip(target - acc[0], -(2**30 - 1), 2**30 - 1).astype(np.int32)
    return {"a": a, "b": b, "bias": bias, "multiplier": np.array(mult), "shift": np.array(shift)}


@dataclass(frozen=True)
class KernelTarget:
    """One kernel entry point as the fuzzer drives it.

    Attributes
    ----------
    name : str
        ``kernel file:entry``.
    classes : tuple of str
        The boundary classes its generator covers.
    generate : callable
        ``generate(cls, rng, n) -> dict of arrays``.
    call : callable
        ``call(ops module, args) -> output``.
    localize : callable
        ``localize(args, flat output index) -> args`` of a smaller call whose output holds that
        element (the first step of shrinking); the element's index in the small output is
        :attr:`localize_index`.
    reduce_axes : tuple of (arg, axis)
        Axes along which shrinking may drop slices (a reduction's terms).
    prepare : callable, optional
        Applied to generated arguments (e.g. an odd size, so that the scalar entry point runs
        rather than its vec4 twin).
    """

    name: str
    classes: tuple[str, ...]
    generate: Callable[[str, np.random.Generator, int], dict[str, np.ndarray]]
    call: Callable[[Any, dict[str, np.ndarray]], np.ndarray]
    localize: Callable[[dict[str, np.ndarray], int], tuple[dict[str, np.ndarray], int]]
    reduce_axes: tuple[tuple[tuple[str, int], ...], ...] = ()
    prepare: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] | None = None


_MATMUL = ("ordinary", "subnormal-inputs", "near-2^-126", "near-2^-125", "near-2^128",
           "ties-to-even", "cancellation", "signed-zeros", "nan-production")
_ADD = ("ordinary", "subnormal-inputs", "near-2^-126", "near-2^-125", "near-2^128",
        "ties-to-even", "cancellation", "signed-zeros")
_RELU = ("ordinary", "subnormal-inputs", "near-2^-126", "near-2^-125", "near-2^128", "signed-zeros")
_EXP = ("ordinary", "subnormal-inputs", "near-2^-126", "near-2^-125", "near-2^128",
        "ties-to-even", "exp-thresholds", "signed-zeros")
_SOFTMAX = _EXP + ("cancellation",)
_LAYERNORM = _MATMUL
_ATTENTION = _MATMUL + ("exp-thresholds",)


def _c(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x)


def _loc_matmul(args: dict[str, np.ndarray], i: int) -> tuple[dict[str, np.ndarray], int]:
    a, b = args["a"], args["b"]
    r, j = divmod(i, b.shape[1])
    bb = np.zeros((b.shape[0], 4), b.dtype)  # 4 columns: the vec4 kernels need N % 4 == 0
    bb[:, 0] = b[:, j]
    out = dict(args, a=_c(a[r:r + 1]), b=bb)
    if "bias" in args:
        out["bias"] = np.concatenate([args["bias"][j:j + 1], np.zeros(3, np.int32)]).astype(np.int32)
    return out, 0


def _odd(args: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Arrays cut to an odd size (15 x 15, or one element fewer): the scalar entry point runs."""
    out = {}
    for key, x in args.items():
        out[key] = _c(x[:15, :15]) if x.ndim == 2 else _c(x[:15]) if x.shape[0] == 16 else _c(x[:-1])
    return out


def _loc_scalar(args: dict[str, np.ndarray], i: int) -> tuple[dict[str, np.ndarray], int]:
    return {k: _c(x.reshape(-1)[i:i + 1]) for k, x in args.items()}, 0


def _loc_elementwise(args: dict[str, np.ndarray], i: int) -> tuple[dict[str, np.ndarray], int]:
    out = {}
    for key, x in args.items():  # x, y of one shape: keep element i, 4 wide (vec4 kernels)
        flat = x.reshape(-1)
        out[key] = np.concatenate([flat[i:i + 1], np.zeros(3, x.dtype)]).astype(x.dtype)
    return out, 0


def _loc_bias(args: dict[str, np.ndarray], i: int) -> tuple[dict[str, np.ndarray], int]:
    x, y = args["x"], args["y"]
    r, c = divmod(i, x.shape[1])
    xs = np.zeros((1, 4), F32)
    ys = np.zeros(4, F32)
    xs[0, 0], ys[0] = x[r, c], y[0, c]
    return {"x": xs, "y": np.broadcast_to(ys, (1, 4)).copy()}, 0


def _loc_rows(args: dict[str, np.ndarray], i: int) -> tuple[dict[str, np.ndarray], int]:
    x = args[next(iter(args))]
    r, c = divmod(i, x.shape[1])
    out = dict(args)
    key = next(iter(args))
    out[key] = _c(x[r:r + 1])
    return out, c


def _loc_attention(args: dict[str, np.ndarray], i: int) -> tuple[dict[str, np.ndarray], int]:
    q = args["q"]
    t, d = q.shape
    row, col = divmod(i, d)
    dh = d // 2
    h = col // dh
    sl = slice(h * dh, (h + 1) * dh)
    return ({"q": _c(args["q"][: row + 1, sl]), "k": _c(args["k"][: row + 1, sl]),
             "v": _c(args["v"][: row + 1, sl]), "heads": np.array(1)}, row * dh + col - h * dh)


def _loc_embedding(args: dict[str, np.ndarray], i: int) -> tuple[dict[str, np.ndarray], int]:
    t, c = divmod(i, args["table"].shape[1])
    return ({"ids": np.zeros(1, np.int32), "table": _c(args["table"][args["ids"][t]][None, c:c + 1]),
             "positions": _c(args["positions"][t:t + 1, c:c + 1])}, 0)


def _loc_sample(args: dict[str, np.ndarray], i: int) -> tuple[dict[str, np.ndarray], int]:
    p = np.zeros_like(args["probs"][: i + 1])
    p[:, 0] = 1.0
    p[i] = args["probs"][i]
    return {"probs": p}, i


def _heads(args: dict[str, np.ndarray]) -> int:
    return int(args["heads"]) if "heads" in args else 2


def _requant(m: Any, a: dict[str, np.ndarray]) -> np.ndarray:
    return m.int8_matmul_requant(a["a"], a["b"], a["bias"], int(a["multiplier"]), int(a["shift"]))


_MM_AXES = ((("a", 1), ("b", 0)),)
KERNELS: tuple[KernelTarget, ...] = (
    KernelTarget("matmul_naive:main", _MATMUL, _gen_matmul,
                 lambda m, a: _matmul(m, a["a"], a["b"], "naive"), _loc_matmul, _MM_AXES),
    KernelTarget("matmul_blocked:main", _MATMUL, _gen_matmul,
                 lambda m, a: _matmul(m, a["a"], a["b"], "blocked"), _loc_matmul, _MM_AXES),
    KernelTarget("matmul_wide:main", _MATMUL, _gen_matmul,
                 lambda m, a: _matmul(m, a["a"], a["b"], "wide"), _loc_matmul, _MM_AXES),
    KernelTarget("binary:add", _ADD, _gen_binary, lambda m, a: m.add(a["x"], a["y"]), _loc_scalar,
                 prepare=_odd),
    KernelTarget("elementwise4:add4", _ADD, _gen_binary, lambda m, a: m.add(a["x"], a["y"]),
                 _loc_elementwise),
    KernelTarget("binary:bias_add", _ADD, _gen_binary, lambda m, a: m.bias_add(a["x"], _c(a["y"][0])),
                 lambda a, i: ({"x": _c(a["x"].reshape(-1)[i:i + 1].reshape(1, 1)),
                                "y": _c(a["y"][:1, i % a["x"].shape[1]].reshape(1, 1))}, 0),
                 prepare=_odd),
    KernelTarget("elementwise4:bias_add4", _ADD, _gen_binary,
                 lambda m, a: m.bias_add(a["x"], _c(a["y"][0])), _loc_bias),
    KernelTarget("unary:relu", _RELU, _gen_unary, lambda m, a: m.relu(a["x"]), _loc_scalar, prepare=_odd),
    KernelTarget("relu4:relu4", _RELU, _gen_unary, lambda m, a: m.relu(a["x"]), _loc_elementwise),
    KernelTarget("unary:gelu", _EXP, _gen_unary, lambda m, a: m.gelu(a["x"]), _loc_scalar),
    KernelTarget("unary:exp", _EXP, lambda c, r, n: _gen_unary(c, r, n, "exp"),
                 lambda m, a: m.exp(a["x"]), _loc_scalar),
    KernelTarget("softmax:main", _SOFTMAX, _gen_softmax, lambda m, a: m.softmax(a["x"]), _loc_rows,
                 ((("x", 1),),)),
    KernelTarget("layernorm:main", _LAYERNORM, _gen_layernorm,
                 lambda m, a: m.layernorm(a["x"], a["gamma"], a["beta"], 1e-5), _loc_rows),
    KernelTarget("attention:main", _ATTENTION, _gen_attention,
                 lambda m, a: m.attention(a["q"], a["k"], a["v"], _heads(a)), _loc_attention),
    KernelTarget("embedding:main", _ADD, _gen_embedding,
                 lambda m, a: m.embedding(a["ids"], a["table"], a["positions"]), _loc_embedding),
    KernelTarget("sample:main", ("ordinary", "subnormal-inputs", "near-2^-126", "near-2^-125",
                                 "signed-zeros", "cdf-ties"),
                 _gen_sample, lambda m, a: m.sample(a["probs"], SAMPLE_SEED), _loc_sample,
                 ((("probs", 1),),)),
    KernelTarget("int8_matmul:main", ("ordinary", "int8-extremes"), _gen_int8,
                 lambda m, a: m.int8_matmul(a["a"], a["b"]), _loc_matmul, _MM_AXES),
    KernelTarget("int8_matmul:requant", ("ordinary", "int8-extremes", "requant-ties"), _gen_int8,
                 _requant, _loc_matmul, _MM_AXES),
)
_BY_NAME = {k.name: k for k in KERNELS}


# ============================================================================ policies
_OLD_FLUSH = (("(bitcast<i32>(x) & 0x7f800000i) < 0x01000000i", "(bitcast<u32>(x) & 0x7f800000u) == 0u"),
              ("(bitcast<vec4<i32>>(x) & vec4<i32>(0x7f800000i)) < vec4<i32>(0x01000000i)",
               "(bitcast<vec4<u32>>(x) & vec4<u32>(0x7f800000u)) == vec4<u32>(0u)"))
POLICIES = ("flush-2^-125", "flush-2^-126")


def _old_flush(kernel: str, source: str) -> str:
    if "fn oasis_ftz(" in source and _OLD_FLUSH[0][0] not in source:
        raise ValueError(f"kernel {kernel!r}: flush.wgsl no longer reads as the policy expects")
    for new, old in _OLD_FLUSH:
        source = source.replace(new, old)
    return source


@contextlib.contextmanager
def policy(name: str) -> Iterator[None]:
    """Run the kernels and their numpy twins under subnormal policy ``name`` in this context:
    ``"flush-2^-125"`` (shipped) or ``"flush-2^-126"`` (the previous policy: only a zero exponent
    field is flushed), to measure a policy with the fuzzer."""
    if name not in POLICIES:
        raise ValueError(f"policy = {name!r} is unknown; choose one of {list(POLICIES)}")
    if name == "flush-2^-125":
        yield
        return
    saved = mathlib.FLUSH_BELOW
    mathlib.FLUSH_BELOW = mathlib.TINY
    try:
        with device.kernel_variant("flush-2^-126", _old_flush):
            yield
    finally:
        mathlib.FLUSH_BELOW = saved


# ============================================================================ engines' tininess, emulated
#: How an IEEE 754 engine may treat a result of magnitude below 2^-126 (the smallest normal):
#: keep subnormals (tininess after rounding: lavapipe, numpy), flush when the exact value is tiny
#: (before rounding: SwiftShader), or round first and flush a result below 2^-126.
TININESS_MODES = ("after rounding, subnormals kept", "flush before rounding", "flush after rounding")


def round_f32(x: Fraction) -> np.float32:
    """A rational rounded once to float32: to nearest, ties to even, subnormals kept."""
    top = Fraction(float(np.finfo(F32).max))
    if abs(x) >= top + Fraction(2) ** 103:  # half an ulp above the largest float32: overflow
        return F32(np.inf if x > 0 else -np.inf)
    with np.errstate(over="ignore"):
        near = np.float32(float(x))
        cands = [np.nextafter(near, np.float32(-np.inf)), near, np.nextafter(near, np.float32(np.inf))]
    cands = [c for c in cands if np.isfinite(c)]  # at the largest float32 a neighbour is inf
    dist = [abs(Fraction(float(c)) - x) for c in cands]
    best = [c for c, d in zip(cands, dist, strict=True) if d == min(dist)]
    return min(best, key=lambda c: int(np.array([c], F32).view(np.uint32)[0]) & 1)


def engine_result(exact: Fraction, mode: str) -> np.float32:
    """What an engine of tininess ``mode`` (:data:`TININESS_MODES`) returns for an exact result
    (a flushed result keeps the sign of the exact value: policies must cope with ``-0``)."""
    if mode not in TININESS_MODES:
        raise ValueError(f"mode = {mode!r} is unknown; choose one of {list(TININESS_MODES)}")
    zero = F32(-0.0 if exact < 0 else 0.0)
    if mode == TININESS_MODES[1] and abs(exact) < Fraction(T126):
        return zero
    r = round_f32(exact)
    if mode == TININESS_MODES[2] and abs(float(r)) < T126:
        return zero
    return r


def _w(word: int) -> Fraction:
    return Fraction(float(np.array([word], np.uint32).view(F32)[0]))


#: The boundary cases of issue 20 as exact results: GELU's last step ``x / (1 + e)`` with
#: ``e = 1`` for tiny ``x``, and the products of the matmul cases.
BOUNDARY_CASES: tuple[tuple[str, Fraction], ...] = (
    ("gelu(0x00FFFFFF): x / 2", _w(0x00FFFFFF) / 2),
    ("gelu(0x80FFFFFF): x / 2", _w(0x80FFFFFF) / 2),
    ("matmul 0x3F7FFFFF x 0x00800000", _w(0x3F7FFFFF) * _w(0x00800000)),
    ("matmul 0x3EFFFFFF x 0x01000000", _w(0x3EFFFFFF) * _w(0x01000000)),
    ("sum 1.5 2^-125 - 2^-125", Fraction(3, 2) * Fraction(T125) - Fraction(T125)),
    ("product 0x3F800001 x 0x00FFFFFF", _w(0x3F800001) * _w(0x00FFFFFF)),
)


def boundary_table() -> pd.DataFrame:
    """The boundary cases on the three kinds of engine (:data:`TININESS_MODES`), flushed under
    the previous policy (below ``2^-126``) and the shipped one (below ``2^-125``): whether the
    engines then agree.

    Returns
    -------
    DataFrame
        ``case, exact``, one column of result bits per mode, ``agree (flush < 2^-126)`` and
        ``agree (flush < 2^-125)``.
    """
    rows = []
    for name, exact in BOUNDARY_CASES:
        results = {m: engine_result(exact, m) for m in TININESS_MODES}
        row: dict[str, Any] = {"case": name, "exact": f"{float(exact):.9g}"}
        row.update({m: hex(int(np.array([r], F32).view(np.uint32)[0])) for m, r in results.items()})
        for label, below in (("2^-126", T126), ("2^-125", T125)):
            flushed = {np.where(np.abs(np.array([r], F32)) < F32(below), F32(0), np.array([r], F32)).tobytes()
                       for r in results.values()}
            row[f"agree (flush < {label})"] = len(flushed) == 1
        rows.append(row)
    return pd.DataFrame(rows)


# ============================================================================ running and comparing
@dataclass(frozen=True)
class Case:
    """One call of one kernel: its inputs and where it came from."""

    kernel: str
    cls: str
    args: dict[str, np.ndarray]
    note: str = ""


def _ops(engine: str | backends.Backend) -> Any:
    return backends.get(engine).ops()


def run_case(case: Case, engine: str | backends.Backend) -> np.ndarray | str:
    """The output of ``case`` on ``engine``, or the error text when the engine refused it."""
    target = _BY_NAME[case.kernel]
    try:
        with np.errstate(all="ignore"):
            return np.ascontiguousarray(target.call(_ops(engine), case.args))
    except (ValueError, TypeError) as exc:
        return f"{type(exc).__name__}: {exc}"


def _same(x: np.ndarray | str, y: np.ndarray | str) -> bool:
    if isinstance(x, str) or isinstance(y, str):
        return isinstance(x, str) and isinstance(y, str) and x == y
    return x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


def _differing(x: np.ndarray | str, y: np.ndarray | str) -> np.ndarray:
    """Flat indices where two outputs differ in bits (all, when either call failed)."""
    if isinstance(x, str) or isinstance(y, str) or x.shape != y.shape:
        return np.arange(1 if isinstance(y, str) else max(np.size(y), 1))
    xb = x.reshape(-1).view(np.uint8).reshape(x.size, -1)
    yb = y.reshape(-1).view(np.uint8).reshape(y.size, -1)
    return np.flatnonzero((xb != yb).any(axis=1))


def outside_contract(out: np.ndarray | str) -> bool:
    """Whether a reference output holds an inf or a NaN (no engine-independent bits exist)."""
    return isinstance(out, np.ndarray) and out.dtype.kind == "f" and not np.isfinite(out).all()


def diverging_engines(case: Case, engines: Sequence[str | backends.Backend],
                      reference: str = "numpy") -> list[str]:
    """The names of the engines whose bits differ from ``reference``'s on ``case``."""
    want = run_case(case, reference)
    found = [backends.get(e) for e in engines]
    return [b.name for b in found if b.name != reference and not _same(run_case(case, b), want)]


# ============================================================================ shrinking
def _simpler_values(x: np.ndarray) -> list[np.ndarray]:
    """Candidate simplifications of one float array: fewer significant bits, zeros."""
    if x.dtype != F32:
        return []
    out = []
    for keep in (0, 4, 12):
        b = _bits(x).copy()
        b &= np.uint32((0xFFFFFFFF << (23 - keep)) & 0xFFFFFFFF)
        cand = _from_bits(b).reshape(x.shape)
        if cand.tobytes() != x.tobytes():
            out.append(np.ascontiguousarray(cand))
    return out


def shrink(case: Case, engine: str | backends.Backend, reference: str = "numpy",
           max_tries: int = 400) -> Case:
    """A minimal case that still diverges on ``engine`` (GraphicsFuzz-style reduction).

    Steps: keep only the first diverging output element (:attr:`KernelTarget.localize`); drop
    terms of the reduction axes one at a time; then simplify each input element (zero, or 0,
    4 or 12 significand bits) while the divergence stays. Each step keeps a change only if
    ``engine`` still disagrees with ``reference``.
    """
    target = _BY_NAME[case.kernel]
    tries = [0]

    def diverges(args: dict[str, np.ndarray]) -> bool:
        tries[0] += 1
        c = Case(case.kernel, case.cls, args)
        return not _same(run_case(c, engine), run_case(c, reference))

    args = dict(case.args)
    bad = _differing(run_case(case, engine), run_case(case, reference))
    if bad.size:
        small, _ = target.localize(args, int(bad[0]))
        if diverges(small):
            args = small
    for axes in target.reduce_axes:
        i = 0
        while tries[0] < max_tries:
            (first, ax0) = axes[0]
            n = args[first].shape[ax0]
            if n <= 1 or i >= n:
                break
            cand = dict(args)
            for key, ax in axes:
                cand[key] = _c(np.delete(args[key], i, axis=ax))
            if diverges(cand):
                args = cand
            else:
                i += 1
    for key in list(args):
        x = args[key]
        if x.dtype != F32:
            continue
        flat = x.reshape(-1)
        for j in range(flat.size):
            if tries[0] >= max_tries:
                break
            for simple in (np.float32(0.0), *[s[0] for s in _simpler_values(flat[j:j + 1])]):
                if _bits(np.array([simple]))[0] == _bits(flat[j:j + 1])[0]:
                    continue
                trial = flat.copy()
                trial[j] = simple
                cand = dict(args, **{key: _c(trial.reshape(x.shape))})
                if diverges(cand):
                    args = cand
                    flat = trial
                    break
    return Case(case.kernel, case.cls, args,
                note=f"shrunk on {backends.get(engine).name} in {tries[0]} tries")


def case_model(case: Case) -> tuple[Any, dict[str, np.ndarray], int] | None:
    """``case`` as a one-node model, its inputs and the run's seed (for disputes over it); ``None``
    for a kernel no model op runs (``exp``)."""
    from oasis_lab.gpu.model import Model, Node

    a = case.args
    base = case.kernel.split(":")[0]
    entry = case.kernel.split(":")[1]
    f32_in = {"x": a["x"]} if "x" in a else {}
    node: tuple[str, tuple[str, ...], dict[str, Any], dict[str, np.ndarray], dict[str, np.ndarray]]
    if base.startswith("matmul"):
        node = ("matmul", ("x",), {"weight": "w"}, {"w": a["b"]}, {"x": a["a"]})
    elif entry in ("add", "add4"):
        node = ("add", ("x", "y"), {}, {}, {"x": a["x"], "y": a["y"]})
    elif entry in ("bias_add", "bias_add4"):
        node = ("bias_add", ("x",), {"bias": "b"}, {"b": _c(a["y"][0])}, f32_in)
    elif entry in ("relu", "relu4", "gelu"):
        node = ("gelu" if entry == "gelu" else "relu", ("x",), {}, {}, f32_in)
    elif base == "softmax":
        node = ("softmax", ("x",), {}, {}, f32_in)
    elif base == "layernorm":
        node = ("layernorm", ("x",), {"gamma": "g", "beta": "b", "eps": 1e-5},
                {"g": a["gamma"], "b": a["beta"]}, f32_in)
    elif base == "attention":
        node = ("attention", ("q", "k", "v"), {"n_heads": _heads(a)}, {}, {n: a[n] for n in "qkv"})
    elif base == "embedding":
        node = ("embedding", ("ids",), {"table": "t", "positions": "p"},
                {"t": a["table"], "p": a["positions"]}, {"ids": a["ids"]})
    elif base == "sample":
        node = ("sample", ("p",), {}, {}, {"p": a["probs"]})
    elif base == "int8_matmul" and entry == "main":
        node = ("int8_matmul", ("x",), {"weight": "w"}, {"w": a["b"]}, {"x": a["a"]})
    elif base == "int8_matmul":
        node = ("int8_matmul_requant", ("x",), {"weight": "w", "bias": "b", "multiplier": int(a["multiplier"]),
                                               "shift": int(a["shift"])}, {"w": a["b"], "b": a["bias"]},
                {"x": a["a"]})
    else:
        return None
    op, inputs, attrs, weights, feed = node
    model = Model(f"{case.kernel} {case.cls}", inputs, (Node(op, op, inputs, attrs),), weights)
    return model, feed, SAMPLE_SEED


# ============================================================================ corpus
def case_to_json(case: Case, engines: Sequence[str] = ()) -> dict[str, Any]:
    """A JSON-able record of ``case``: arrays as dtype, shape and hex of their bits."""
    return {
        "kernel": case.kernel, "class": case.cls, "note": case.note, "diverged_on": list(engines),
        "args": {k: {"dtype": v.dtype.str, "shape": list(v.shape), "hex": np.ascontiguousarray(v).tobytes().hex()}
                 for k, v in case.args.items()},
    }


def case_from_json(record: dict[str, Any]) -> Case:
    """Inverse of :func:`case_to_json`."""
    args = {k: np.frombuffer(bytes.fromhex(v["hex"]), dtype=np.dtype(v["dtype"])).reshape(v["shape"]).copy()
            for k, v in record["args"].items()}
    if record["kernel"] not in _BY_NAME:
        raise ValueError(f"corpus case names kernel {record['kernel']!r}, not one of {sorted(_BY_NAME)}")
    return Case(record["kernel"], record["class"], args, record.get("note", ""))


def save_case(case: Case, folder: str | Path, engines: Sequence[str] = ()) -> Path:
    """Write ``case`` to ``folder`` as ``<kernel>--<class>--<hash>.json``; returns the path
    (an identical case keeps one file)."""
    rec = case_to_json(case, engines)
    digest = hashlib.sha256(json.dumps(rec["args"], sort_keys=True).encode()).hexdigest()[:12]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{case.kernel.replace(':', '-')}--{case.cls}--{digest}.json"
    path.write_text(json.dumps(rec, indent=1, sort_keys=True) + "\n")
    return path


def load_corpus(folder: str | Path) -> list[Case]:
    """Every case saved in ``folder`` (sorted by file name)."""
    return [case_from_json(json.loads(p.read_text())) for p in sorted(Path(folder).glob("*.json"))]


# ============================================================================ the fuzzer
@dataclass(frozen=True)
class Divergence:
    """One divergence found: its shrunk case, the engines that differ on it, and whether the
    reference output is outside the bitwise contract (an inf or a NaN)."""

    kernel: str
    cls: str
    engines: tuple[str, ...]
    outputs_differing: int
    minimal: Case
    outside_contract: bool = False


@dataclass
class FuzzReport:
    """What :func:`fuzz` covered and found.

    ``coverage`` has one row per (kernel, class): ``batches``, ``inputs`` (independent outputs
    computed per engine), ``divergent_<engine>`` (outputs whose bits differ from numpy's where
    numpy's are finite: contract violations) and ``outside_<engine>`` (differing outputs of
    calls whose numpy output holds an inf or a NaN).
    """

    engines: tuple[str, ...]
    seconds: float
    coverage: pd.DataFrame
    divergences: list[Divergence] = field(default_factory=list)
    policy: str = "flush-2^-125"

    @property
    def inputs(self) -> int:
        """Independent outputs computed (per engine)."""
        return int(self.coverage["inputs"].sum())

    def _total(self, prefix: str) -> int:
        cols = [c for c in self.coverage if c.startswith(prefix)]
        return int(self.coverage[cols].to_numpy().sum()) if cols else 0

    @property
    def divergent(self) -> int:
        """Outputs that differed from numpy's finite ones on some engine (contract violations)."""
        return self._total("divergent_")

    @property
    def outside(self) -> int:
        """Differing outputs of calls outside the contract (numpy's output not finite)."""
        return self._total("outside_")

    def summary(self) -> str:
        """One line: policy, engines, time, kernels x classes, inputs, divergences."""
        pairs = len(self.coverage)
        kernels = self.coverage["kernel"].nunique()
        return (f"{self.policy}: {kernels} kernels x {self.coverage['class'].nunique()} boundary "
                f"classes ({pairs} pairs) on {', '.join(self.engines)}: {self.inputs:,} inputs "
                f"each in {self.seconds:.1f} s; {self.divergent:,} divergent outputs, "
                f"{self.outside:,} more outside the contract (inf/NaN); "
                f"{len(self.divergences)} minimal cases")

    def matrix(self) -> pd.DataFrame:
        """Kernel x class table: inputs tried, then ``/N!`` per engine with ``N`` divergent
        outputs and ``/N~`` with ``N`` differing outputs outside the contract."""
        engines = [c[len("divergent_"):] for c in self.coverage if c.startswith("divergent_")]

        def cell(r: Any) -> str:
            text = f"{r['inputs']:,}"
            for e in engines:
                if r[f"divergent_{e}"]:
                    text += f" {e[0]}{r[f'divergent_{e}']}!"
                if r[f"outside_{e}"]:
                    text += f" {e[0]}{r[f'outside_{e}']}~"
            return text

        table = self.coverage.assign(cell=[cell(r) for _, r in self.coverage.iterrows()])
        return table.pivot(index="kernel", columns="class", values="cell").fillna("-")


def fuzz(
    budget: float = 5.0,
    engines: Sequence[str] = ("numpy", "webgpu"),
    *,
    seed: int = 0,
    kernels: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
    shrink_divergences: bool = True,
    max_cases_per_pair: int = 1,
    policy_name: str = "flush-2^-125",
    rounds: int | None = None,
) -> FuzzReport:
    """Fuzz every (kernel, boundary class) pair on ``engines`` for about ``budget`` seconds.

    Parameters
    ----------
    budget : float
        Seconds (soft: every pair gets at least one batch, then rounds continue while time is
        left; shrinking is not counted).
    engines : sequence of str or Backend
        Backend names (:func:`oasis_lab.gpu.backends.names`) or objects (e.g. a browser
        provider's ``backend``), with distinct names; ``"numpy"`` (the referee's twins) is the
        reference and always runs.
    seed : int
        Root seed: batch ``i`` of a pair draws from ``seeding.stream(seed, "conformance",
        kernel, class, i)``.
    kernels, classes : sequence of str, optional
        Restrict to these kernel targets (:data:`KERNELS` names) or classes.
    shrink_divergences : bool
        Shrink the first ``max_cases_per_pair`` divergences of each pair.
    policy_name : str
        The subnormal policy the kernels and twins run under (:func:`policy`).
    rounds : int, optional
        Run exactly this many rounds (every pair once per round) instead of a time budget: the
        same seed then gives the same inputs and findings on any machine (tests use it).

    Returns
    -------
    FuzzReport
    """
    b = check_real("budget", budget, positive=True)
    s = check_seed(seed)
    n_rounds = None if rounds is None else check_int("rounds", rounds, 1)
    if policy_name not in POLICIES:
        raise ValueError(f"policy = {policy_name!r} is unknown; choose one of {list(POLICIES)}")
    chosen_engines = [backends.get("numpy")] + [backends.get(e) for e in engines
                                                 if backends.get(e).name != "numpy"]
    names = [b.name for b in chosen_engines]
    if len(set(names)) != len(names):
        raise ValueError(f"engines = {names} must have distinct names")
    by_name = dict(zip(names, chosen_engines, strict=True))
    chosen = [k for k in KERNELS if kernels is None or k.name in kernels]
    if kernels is not None:
        unknown = sorted(set(kernels) - set(_BY_NAME))
        if unknown:
            raise ValueError(f"kernels {unknown} are unknown; choose from {sorted(_BY_NAME)}")
    if classes is not None:
        unknown = sorted(set(classes) - set(CLASSES))
        if unknown:
            raise ValueError(f"classes {unknown} are unknown; choose from {list(CLASSES)}")
    pairs = [(k, c) for k in chosen for c in k.classes if classes is None or c in classes]
    stats = {(k.name, c): {"batches": 0, "inputs": 0, **{f"divergent_{e}": 0 for e in names[1:]},
                           **{f"outside_{e}": 0 for e in names[1:]}}
             for k, c in pairs}
    found: list[Divergence] = []
    kept: dict[tuple[str, str], int] = {}
    with policy(policy_name):
        seconds = _fuzz_loop(pairs, by_name, s, b, stats, found, kept, shrink_divergences,
                             max_cases_per_pair, n_rounds)
    rows = [{"kernel": k, "class": c, **v} for (k, c), v in stats.items()]
    return FuzzReport(tuple(names), seconds, pd.DataFrame(rows), found, policy_name)


def _fuzz_loop(pairs: list[tuple[KernelTarget, str]], engines: dict[str, backends.Backend], s: int, b: float,
               stats: dict[tuple[str, str], dict[str, int]], found: list[Divergence],
               kept: dict[tuple[str, str], int], shrink_divergences: bool,
               max_cases_per_pair: int, n_rounds: int | None) -> float:
    names = list(engines)
    t0 = time.perf_counter()
    rnd = 0
    # batches on the report's console only (oasis_lab.progress)
    bar = progress_bar(total=None, desc=f"fuzz {', '.join(names)} ({b:g} s budget)", unit="batch",
                       disable=True)
    # Python loop over pairs and rounds: each step is one kernel call per engine (the work is in
    # the engines), and the budget is checked between calls.
    while True:
        for target, cls in pairs:
            if n_rounds is None and rnd > 0 and time.perf_counter() - t0 > b:
                break
            bar.update(1)
            rng = stream(s, "conformance", target.name, cls, rnd)
            args = target.generate(cls, rng, 0)
            case = Case(target.name, cls, target.prepare(args) if target.prepare else args)
            want = run_case(case, "numpy")
            st = stats[(target.name, cls)]
            st["batches"] += 1
            st["inputs"] += 1 if isinstance(want, str) else max(int(np.size(want)), 1)
            differ = []
            column = "outside" if outside_contract(want) else "divergent"
            for e in names[1:]:
                got = run_case(case, engines[e])
                bad = _differing(got, want) if not _same(got, want) else np.array([], int)
                st[f"{column}_{e}"] += int(bad.size)
                if bad.size:
                    differ.append((e, int(bad.size)))
            if differ and shrink_divergences and kept.get((target.name, cls), 0) < max_cases_per_pair:
                kept[(target.name, cls)] = kept.get((target.name, cls), 0) + 1
                small = shrink(case, engines[differ[0][0]])
                found.append(Divergence(target.name, cls, tuple(diverging_engines(small, list(engines.values()))),
                                        sum(n for _, n in differ), small,
                                        outside_contract(run_case(small, "numpy"))))
        else:
            rnd += 1
            if (time.perf_counter() - t0 <= b) if n_rounds is None else rnd < n_rounds:
                continue
        break
    bar.close()
    return time.perf_counter() - t0
