"""numpy twins of the WGSL kernels: the same float32 operations in the same order (bitwise target).

Whitepaper sections 2 and 5: providers run inference with WebGPU, and a referee recomputes one
layer of the model DAG to settle a dispute, which needs every layer to be a deterministic function
of its inputs. Floating-point addition is not associative, so "the same function" must mean "the
same operations in the same order". Each function here fixes that order, and the WGSL kernel of
the same name (``kernels/<op>.wgsl``) performs it too:

- Reductions are sequential and fixed-shape: ``acc = 0; for k in 0..K-1: acc = acc + a_k * b_k``
  with the product rounded before the add (no ``fma``), whatever the kernel's tiling or vector
  width. The loops below run over the reduction index and vectorize over the other indices.
- Transcendentals come from :mod:`oasis_lab.gpu.mathlib` (``exp`` from ``+ - * floor bitcast``).
- Subnormals are flushed (:func:`oasis_lab.gpu.mathlib.ftz`, twin of ``kernels/flush.wgsl``):
  every float input and every ``+ - * /`` result of magnitude below ``2^-125`` (subnormals,
  ``-0`` and ``[2^-126, 2^-125)``) becomes ``+0``, here exactly where the kernel flushes. WebGPU
  allows an engine to flush subnormals (SwiftShader in Chromium does; lavapipe and numpy do
  not), and to detect tininess before or after rounding, so without this policy any value below
  ``2^-126``, and an exact result just below it, would depend on the engine.
- Integer ops (``int8_matmul``, ``int8_matmul_requant``) are exact: their bits do not depend on
  the order at all. This is the portable guarantee; the float guarantee holds on engines that
  neither reassociate nor fuse (measured: lavapipe, llvmpipe GL, SwiftShader).

Accuracy against float64 (``u = 2^-24``; checked in ``tests/gpu/test_reference_accuracy.py``):

============================  =================================================================
op                            documented bound on ``|y - y64|``
============================  =================================================================
matmul                        ``K u |A| |B|`` (elementwise, the classical recursive-sum bound)
bias_add, add                 ``0.5 ulp`` (one correctly rounded add)
relu, embedding (no pos.)     exact
embedding (with positions)    ``0.5 ulp``
exp (mathlib)                 ``1.5 ulp`` (1.19 measured above the flush), 0 below ``x = -86.644``
gelu                          ``(4 + 3 |t|) ulp(y) + 3e-37``, ``t = 1.596 (x + 0.0447 x^3)``
softmax                       ``(C + 4 + 2 max|x - m|) u y`` per entry, ``m`` the row maximum
layernorm                     ``(2C + 8) u (|x - mean| / std |gamma| + 1) + 0.5 ulp(beta)``
attention                     ``4 (dh + T + 8) u (1 + max|s|) max|v|`` (``s`` scaled scores)
int8_matmul(_requant), sample exact (integers; ``sample`` is exact given the float32 ``probs``)
============================  =================================================================

Requantization (integer mode) maps an int32 accumulator ``acc`` (int8 products plus an int32
bias) to int8 with a fixed-point multiplier: ``y = clamp((acc * m + 2^(s-1)) >> s, lo, 127)``,
``1 <= m < 2^15``, ``17 <= s <= 46``, ``>>`` an arithmetic shift (rounding half up), ``lo = 0``
after ReLU and ``-128`` otherwise. The WGSL kernel computes it with 16-bit limbs (no 64-bit
integers in WGSL); this reference uses int64, and the two are equal exactly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from oasis_lab.checks import check_array, check_int, check_real
from oasis_lab.gpu import mathlib
from oasis_lab.gpu.mathlib import ftz, ftz_

__all__ = [
    "matmul",
    "bias_add",
    "add",
    "relu",
    "gelu",
    "exp",
    "softmax",
    "layernorm",
    "attention",
    "embedding",
    "int8_matmul",
    "int8_matmul_requant",
    "requantize",
    "sample",
    "attention_scale",
    "REQUANT_SHIFT_RANGE",
    "REQUANT_MULTIPLIER_MAX",
    "INT8_MAX_K",
]

_F32 = np.float32
_ZERO = np.float32(0.0)

REQUANT_SHIFT_RANGE = (17, 46)
REQUANT_MULTIPLIER_MAX = 2**15 - 1
#: Largest reduction length of an int8 matmul: ``K * 128 * 128 <= 2^30`` keeps int32 exact.
INT8_MAX_K = 2**16
_BIAS_MAX = 2**30 - 1


# ----------------------------------------------------------------------------- validation
def check_matmul(a: Any, b: Any, dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``a (M, K)`` and ``b (K, N)`` of ``dtype``; return them."""
    a = check_array("a", a, dtype, 2)
    b = check_array("b", b, dtype, 2)
    if a.shape[1] != b.shape[0]:
        raise ValueError(
            f"a has shape {a.shape} and b has shape {b.shape}: a's columns ({a.shape[1]}) "
            f"must equal b's rows ({b.shape[0]})"
        )
    return a, b


def check_rows(name: str, x: Any) -> np.ndarray:
    """Validate a float32 matrix of rows."""
    return check_array(name, x, np.float32, 2)


def check_bias(x: Any, bias: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``x (..., N)`` and ``bias (N,)`` float32."""
    x = check_array("x", x, np.float32)
    bias = check_array("bias", bias, np.float32, 1)
    if x.ndim == 0 or x.shape[-1] != bias.shape[0]:
        raise ValueError(f"bias has shape {bias.shape} but x has shape {x.shape}: last axes differ")
    return x, bias


def check_same(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate two float32 arrays of one shape."""
    x = check_array("x", x, np.float32)
    y = check_array("y", y, np.float32)
    if x.shape != y.shape:
        raise ValueError(f"x has shape {x.shape} but y has shape {y.shape}")
    return x, y


def check_layernorm(
    x: Any, gamma: Any, beta: Any, eps: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.float32]:
    """Validate layernorm arguments; return ``(x, gamma, beta, eps32)``."""
    x = check_rows("x", x)
    gamma = check_array("gamma", gamma, np.float32, 1)
    beta = check_array("beta", beta, np.float32, 1)
    if x.shape[1] == 0:
        raise ValueError("x has 0 columns: layernorm needs at least one feature")
    for name, p in (("gamma", gamma), ("beta", beta)):
        if p.shape[0] != x.shape[1]:
            raise ValueError(f"{name} has shape {p.shape} but x has {x.shape[1]} columns")
    e = check_real("eps", eps, positive=True)
    # Validated in the dtype the kernel uses: 1e-50 is > 0 but rounds to 0 in float32 (and
    # 1e-40 to a subnormal, 2e-38 to a value under 2^-125: the policy flushes both to 0), so
    # var + eps = 0 on a constant row and the output is NaN; 1e39 rounds to inf.
    with np.errstate(over="ignore"):
        e32 = np.float32(e)
    tiny, huge = mathlib.FLUSH_BELOW, np.finfo(np.float32).max
    if not tiny <= e32 <= huge:
        raise ValueError(
            f"eps = {eps!r} becomes {float(e32)!r} in float32: it must be a float32 the "
            f"subnormal policy keeps, in [{float(tiny):.9g}, {float(huge):.9g}]"
        )
    return x, gamma, beta, e32


def attention_scale(head_dim: int) -> np.float32:
    """``1 / sqrt(head_dim)`` rounded once to float32 (computed on the host, passed to the kernel)."""
    return np.float32(1.0 / math.sqrt(head_dim))


def check_attention(
    q: Any, k: Any, v: Any, n_heads: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Validate ``q, k, v (T, D)`` and ``n_heads`` dividing ``D``; return them and ``n_heads``."""
    q = check_rows("q", q)
    k = check_rows("k", k)
    v = check_rows("v", v)
    for name, z in (("k", k), ("v", v)):
        if z.shape != q.shape:
            raise ValueError(f"{name} has shape {z.shape} but q has shape {q.shape}")
    h = check_int("n_heads", n_heads, 1)
    if q.shape[1] % h:
        raise ValueError(f"n_heads = {h} must divide the model width {q.shape[1]}")
    return q, k, v, h


def check_embedding(ids: Any, table: Any, positions: Any) -> tuple[np.ndarray, ...]:
    """Validate token ``ids (T,)`` int32 in range, ``table (V, D)`` and optional ``positions (P, D)``."""
    ids = check_array("ids", ids, np.int32, 1)
    table = check_rows("table", table)
    if ids.size and (ids.min() < 0 or ids.max() >= table.shape[0]):
        bad = int(np.argmax((ids < 0) | (ids >= table.shape[0])))
        raise ValueError(f"ids[{bad}] = {ids[bad]} is outside the vocabulary [0, {table.shape[0]})")
    if positions is not None:
        positions = check_rows("positions", positions)
        if positions.shape[1] != table.shape[1]:
            raise ValueError(
                f"positions has width {positions.shape[1]} but table has width {table.shape[1]}"
            )
        if ids.shape[0] > positions.shape[0]:
            raise ValueError(
                f"ids has {ids.shape[0]} tokens but positions has only {positions.shape[0]} rows"
            )
    return ids, table, positions


def check_requant(
    n: int, bias: Any, multiplier: Any, shift: Any
) -> tuple[np.ndarray, int, int]:
    """Validate int32 ``bias (n,)``, ``multiplier`` and ``shift`` of requantization."""
    bias = check_array("bias", bias, np.int32, 1)
    if bias.shape[0] != n:
        raise ValueError(f"bias has shape {bias.shape} but there are {n} output columns")
    if bias.size and np.abs(bias.astype(np.int64)).max() > _BIAS_MAX:
        raise ValueError(f"bias entries must satisfy |bias| <= {_BIAS_MAX} (int32 headroom)")
    m = check_int("multiplier", multiplier, 1, REQUANT_MULTIPLIER_MAX)
    s = check_int("shift", shift, *REQUANT_SHIFT_RANGE)
    return bias, m, s


def check_int8_matmul(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate int8 ``a (M, K)``, ``b (K, N)`` with ``K <= 2^16``."""
    a, b = check_matmul(a, b, np.int8)
    if a.shape[1] > INT8_MAX_K:
        raise ValueError(f"K = {a.shape[1]} must be <= {INT8_MAX_K} so that int32 sums stay exact")
    return a, b


def check_probs(probs: Any, seed: Any) -> tuple[np.ndarray, int]:
    """Validate ``probs (R, V)`` float32 (non-negative) and an integer ``seed``."""
    probs = check_rows("probs", probs)
    if probs.shape[1] == 0:
        raise ValueError("probs has 0 columns: nothing to sample from")
    if probs.size and probs.min() < 0:
        raise ValueError("probs has negative entries")
    s = check_int("seed", seed, 0, 2**32 - 1)
    return probs, s


# ----------------------------------------------------------------------------- float ops
def _seq_dot_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a (M, K) @ b (K, N)`` summing k = 0..K-1 in order: ``acc = acc + a[:, k] * b[k, :]``."""
    m, kdim = a.shape
    acc = np.zeros((m, b.shape[1]), dtype=_F32)
    # A transposed copy makes a[:, k] a contiguous row, so each step is one fast broadcast.
    at = ftz(np.ascontiguousarray(a.T))
    b = ftz(b)
    prod = np.empty_like(acc)
    for k in range(kdim):
        np.multiply(at[k][:, None], b[k][None, :], out=prod)
        acc += ftz_(prod)
        ftz_(acc)
    return acc


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Fixed-order float32 matrix product ``a @ b`` (twin of ``matmul_naive`` and ``matmul_blocked``).

    Parameters
    ----------
    a : ndarray of float32, shape (M, K)
    b : ndarray of float32, shape (K, N)

    Returns
    -------
    ndarray of float32, shape (M, N)
        ``c[i, j] = (...((0 + a[i,0] b[0,j]) + a[i,1] b[1,j]) + ...)``, each product and sum
        rounded to float32 and flushed (inputs too: subnormals and ``-0`` become ``+0``).
    """
    a, b = check_matmul(a, b)
    return _seq_dot_rows(a, b)


def bias_add(x: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``x + bias`` broadcast over the last axis (one rounded add per element)."""
    x, bias = check_bias(x, bias)
    return ftz(ftz(x) + ftz(bias))


def add(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Elementwise ``x + y`` of one shape (the residual connection)."""
    x, y = check_same(x, y)
    return ftz(ftz(x) + ftz(y))


def relu(x: np.ndarray) -> np.ndarray:
    """``x if x > 0 else 0`` (``+0`` for ``x = -0``, as the kernel's ``select``)."""
    x = ftz(check_array("x", x, np.float32))
    return np.where(x > _ZERO, x, _ZERO).astype(_F32, copy=False)


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU (tanh approximation) through :func:`oasis_lab.gpu.mathlib.gelu`."""
    x = check_array("x", x, np.float32)
    return mathlib.gelu(x)


def exp(x: np.ndarray) -> np.ndarray:
    """Elementwise ``exp`` through :func:`oasis_lab.gpu.mathlib.exp` (the kernels' exp)."""
    x = check_array("x", x, np.float32)
    return mathlib.exp(x)


def _seq_sum_cols(e: np.ndarray) -> np.ndarray:
    """Flushed sum over the last axis in order ``j = 0..C-1`` (``s = ftz(s + e_j)``, ``e``
    already flushed), vectorized over the leading axes."""
    s = np.zeros(e.shape[:-1], dtype=_F32)
    for j in range(e.shape[-1]):
        s += e[..., j]
        ftz_(s)
    return s


def softmax(x: np.ndarray) -> np.ndarray:
    """Row softmax with the row maximum subtracted: ``e = exp(x - max); y = e / sum(e)``.

    The sum runs over columns in order; ``max`` is exact in any order.
    """
    x = check_rows("x", x)
    if x.size == 0:
        return x.copy()
    x = ftz(x)
    m = x.max(axis=1, keepdims=True)
    e = mathlib.exp(ftz(x - m))
    return ftz(e / _seq_sum_cols(e)[:, None])


def layernorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Row layer normalization, two-pass.

    ``mean = sum(x) / C``; ``var = sum((x - mean)^2) / C``; ``r = 1 / sqrt(var + eps)``;
    ``y = ((x - mean) * r) * gamma + beta``; sums in column order, ``eps`` rounded to float32.
    """
    x, gamma, beta, eps32 = check_layernorm(x, gamma, beta, eps)
    if x.shape[0] == 0:
        return x.copy()
    x, gamma, beta = ftz(x), ftz(gamma), ftz(beta)
    n = _F32(x.shape[1])
    mean = ftz(_seq_sum_cols(x) / n)
    d = ftz(x - mean[:, None])
    var = ftz(_seq_sum_cols(ftz(d * d)) / n)
    r = ftz(_F32(1.0) / np.sqrt(ftz(var + ftz(eps32))))
    return ftz(ftz(ftz(d * r[:, None]) * gamma) + beta)


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, n_heads: int) -> np.ndarray:
    """Causal scaled dot-product attention over ``n_heads`` heads.

    For head ``h`` (columns ``h*dh .. h*dh+dh-1``), query ``i`` and key ``j <= i``:
    ``s = dot(q_i, k_j) * scale`` (dot in order ``d = 0..dh-1``, ``scale = 1/sqrt(dh)``
    rounded to float32), ``m = max_j s``, ``l = sum_j exp(s - m)`` in order ``j = 0..i``,
    ``out_i = sum_j (exp(s - m) / l) * v_j`` in order ``j = 0..i``.

    Masked keys (``j > i``) are never touched by the kernel; here they contribute exact zeros
    (``acc + 0 = acc`` for the non-negative-zero accumulators), so the bits are the same.
    """
    q, k, v, h = check_attention(q, k, v, n_heads)
    t, dmodel = q.shape
    if t == 0 or dmodel == 0:
        return np.zeros_like(q)
    dh = dmodel // h
    qh = ftz(np.ascontiguousarray(q.reshape(t, h, dh).transpose(1, 0, 2)))  # (H, T, dh)
    kh = ftz(np.ascontiguousarray(k.reshape(t, h, dh).transpose(1, 0, 2)))
    vh = ftz(np.ascontiguousarray(v.reshape(t, h, dh).transpose(1, 0, 2)))
    s = np.zeros((h, t, t), dtype=_F32)
    for d in range(dh):
        s += ftz_(qh[:, :, d][:, :, None] * kh[:, :, d][:, None, :])
        ftz_(s)
    s = ftz(s * ftz(attention_scale(dh)))
    causal = np.tril(np.ones((t, t), dtype=bool))
    m = np.where(causal, s, -np.inf).max(axis=2, keepdims=True).astype(_F32)
    e = np.where(causal, mathlib.exp(np.where(causal, ftz(s - m), _ZERO)), _ZERO)
    p = ftz(e / _seq_sum_cols(e)[:, :, None])
    out = np.zeros((h, t, dh), dtype=_F32)
    for j in range(t):
        out += ftz_(p[:, :, j][:, :, None] * vh[:, j, :][:, None, :])
        ftz_(out)
    return np.ascontiguousarray(out.transpose(1, 0, 2).reshape(t, dmodel))


def embedding(
    ids: np.ndarray, table: np.ndarray, positions: np.ndarray | None = None
) -> np.ndarray:
    """Token embedding ``table[ids]``, plus ``positions[t]`` for token ``t`` when given."""
    ids, table, positions = check_embedding(ids, table, positions)
    out = ftz(table[ids])
    if positions is not None:
        out = ftz(out + ftz(positions[: ids.shape[0]]))
    return np.ascontiguousarray(out)


def sample(probs: np.ndarray, seed: int) -> np.ndarray:
    """Draw one index per row of ``probs`` by inverse CDF with fixed randomness (section 5).

    Row ``r`` uses ``u_r = mathlib.uniform01(seed, r)`` and returns the first ``j`` with
    ``u_r < c_j``, ``c_j`` the running sum ``c_j = c_{j-1} + p_j`` in column order (the last
    column when rounding leaves ``c_{V-1} <= u_r``). The same seed gives the same tokens on every
    engine: the seed is the only source of randomness in an inference.

    Returns
    -------
    ndarray of int32, shape (R,)
    """
    probs, s = check_probs(probs, seed)
    r, v = probs.shape
    u = mathlib.uniform01(s, np.arange(r, dtype=np.uint32))
    # cumsum accumulates strictly in column order in float32 (no pairwise blocking): these are
    # the kernel's running sums c_j (p_0 rather than 0 + p_0 changes no comparison). The kernel
    # flushes p_j and c_j; partial sums of flushed non-negative entries are 0 or >= 2^-125, so
    # flushing the entries alone gives the same sums.
    hit = u[:, None] < np.cumsum(ftz(probs), axis=1, dtype=_F32)
    return np.where(hit.any(axis=1), hit.argmax(axis=1), v - 1).astype(np.int32)


# ----------------------------------------------------------------------------- integer ops
def int8_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact ``int8 (M, K) @ int8 (K, N) -> int32`` (any summation order gives these bits)."""
    a, b = check_int8_matmul(a, b)
    return (a.astype(np.int64) @ b.astype(np.int64)).astype(np.int32)


def requantize(acc: np.ndarray, multiplier: int, shift: int, relu: bool) -> np.ndarray:
    """``clamp((acc * multiplier + 2^(shift-1)) >> shift, lo, 127)`` as int8 (exact, int64)."""
    wide = acc.astype(np.int64) * np.int64(multiplier) + (np.int64(1) << np.int64(shift - 1))
    y = wide >> np.int64(shift)
    return np.clip(y, 0 if relu else -128, 127).astype(np.int8)


def int8_matmul_requant(
    a: np.ndarray,
    b: np.ndarray,
    bias: np.ndarray,
    multiplier: int,
    shift: int,
    relu: bool = False,
) -> np.ndarray:
    """Quantized linear layer: ``requantize(a @ b + bias)`` with optional ReLU (integer mode).

    Parameters
    ----------
    a : ndarray of int8, shape (M, K)
    b : ndarray of int8, shape (K, N)
    bias : ndarray of int32, shape (N,)
    multiplier, shift : int
        Fixed-point scale ``multiplier / 2^shift``, ``1 <= multiplier < 2^15``,
        ``17 <= shift <= 46``.
    relu : bool
        Clamp below at 0 instead of -128.

    Returns
    -------
    ndarray of int8, shape (M, N)
    """
    a, b = check_int8_matmul(a, b)
    bias, m, s = check_requant(b.shape[1], bias, multiplier, shift)
    acc = (a.astype(np.int64) @ b.astype(np.int64)) + bias.astype(np.int64)
    return requantize(acc, m, s, bool(relu))
