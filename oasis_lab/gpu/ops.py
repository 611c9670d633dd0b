"""The WGSL kernels of ``kernels/`` as numpy-in, numpy-out functions (whitepaper sections 2, 5).

Every function has the name, signature and checks of its bitwise twin in
:mod:`oasis_lab.gpu.reference`, and returns the same bits on engines that neither reassociate nor
fuse float operations (lavapipe, llvmpipe GL and SwiftShader were measured to be such engines;
the integer ops are exact everywhere). Inputs must be C-contiguous arrays of the exact dtype
(float32, int32 token ids, int8); nothing is cast silently, because a cast changes the bits.

Each call uploads its arguments (model weights, being read-only arrays, are uploaded once per
device), runs one compute pass from the cached pipeline and reads the result back.

Loop budget: lavapipe (Mesa 22.3's llvmpipe) gives each shader invocation one loop limiter for
all its loops together: a loop of ``n`` iterations takes ``n + 1`` passes, and after
:data:`LOOP_PASS_BUDGET` passes in all the invocation stops looping, silently. A longer reduction
used to return wrong bits with no error (a 1 x 70000 by 70000 x 4 matmul of ones gave 65535;
softmax rows of 21845 columns and attention rows past token 481 at head width 32 were wrong).
Each op therefore counts its kernel's passes per invocation and refuses sizes over the budget, on
every engine: a referee on lavapipe must be able to recompute what a provider ran. Largest sizes:
matmul ``K <= 65535``, softmax and layernorm ``<= 21844`` columns, sample ``<= 65535`` columns,
attention ``4 T (dh + 1) + 3 T + dh + 3 <= 65536`` (``T <= 485`` at head width 32). Integer
matmuls loop ``ceil(K / 4) <= 16384`` times and elementwise kernels do not loop.
"""

from __future__ import annotations

import numpy as np

from oasis_lab.checks import check_array
from oasis_lab.gpu import mathlib
from oasis_lab.gpu import reference as ref
from oasis_lab.gpu.device import run_kernel

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
    "sample",
    "int8_matmul",
    "int8_matmul_requant",
    "MATMUL_KERNELS",
    "LOOP_PASS_BUDGET",
]

MATMUL_KERNELS = ("auto", "naive", "blocked", "wide")
_MAX_GROUPS = 65535
#: Loop passes (``iterations + 1`` per loop, all loops together) an invocation may run on
#: lavapipe before it silently stops looping (measured; see the module docstring).
LOOP_PASS_BUDGET = 65536


def _check_loop_passes(what: str, passes: int) -> None:
    """Refuse a call whose kernel would run more loop passes per invocation than lavapipe allows."""
    if passes > LOOP_PASS_BUDGET:
        raise ValueError(
            f"{what}: the kernel would run {passes} loop passes per invocation, over the "
            f"{LOOP_PASS_BUDGET} after which lavapipe silently stops looping (wrong bits, no error)"
        )


def _params(*fields: int | float | np.floating) -> np.ndarray:
    """Pack 4-byte uniform fields: Python ints as u32/i32 bits, float32 scalars as their bits."""
    out = np.zeros(len(fields), dtype=np.uint32)
    for i, f in enumerate(fields):
        if isinstance(f, (float, np.floating)):
            out[i] = np.float32(f).view(np.uint32)
        else:
            out[i] = np.array(int(f), dtype=np.int64).astype(np.uint32)
    return out


def _grid(n: int, per_group: int) -> tuple[tuple[int, int, int], int]:
    """2-D dispatch covering ``n`` items with ``per_group`` per workgroup; returns (groups, stride)."""
    groups = -(-n // per_group)
    gx = min(groups, _MAX_GROUPS)
    gy = -(-groups // gx)
    return (gx, gy, 1), gx * per_group


def _as(data: np.ndarray | bytes, dtype: type, shape: tuple[int, ...]) -> np.ndarray:
    """The kernel's output as a writable array: a view of run_kernel's own fresh array (no
    second copy), or a copy of bytes another runner returned."""
    if isinstance(data, np.ndarray):
        return data.view(dtype).reshape(shape)
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def _f32(data: np.ndarray | bytes, shape: tuple[int, ...]) -> np.ndarray:
    return _as(data, np.float32, shape)


# ----------------------------------------------------------------------------- float ops
def matmul(a: np.ndarray, b: np.ndarray, kernel: str = "auto") -> np.ndarray:
    """Fixed-order float32 ``a @ b`` on WebGPU; twin of :func:`reference.matmul`.

    Parameters
    ----------
    a : ndarray of float32, shape (M, K)
    b : ndarray of float32, shape (K, N)
    kernel : {"auto", "naive", "blocked", "wide"}
        ``blocked`` (register-blocked, 8 x 8 outputs per invocation) and ``wide`` (16 x 16
        outputs per invocation; the fastest on lavapipe) need
        ``N % 4 == 0``; ``auto`` uses ``wide`` then and ``naive`` otherwise. All give the same
        bits.
    """
    a, b = ref.check_matmul(a, b)
    if kernel not in MATMUL_KERNELS:
        raise ValueError(f"kernel = {kernel!r} is unknown; choose one of {MATMUL_KERNELS}")
    m, k = a.shape
    n = b.shape[1]
    if kernel in ("blocked", "wide") and n % 4:
        raise ValueError(f"kernel = {kernel!r} needs N % 4 == 0, got N = {n}")
    _check_loop_passes(f"K = {k} (a's columns) must be <= {LOOP_PASS_BUDGET - 1}", k + 1)
    if m == 0 or n == 0 or k == 0:
        return np.zeros((m, n), dtype=np.float32)
    if kernel == "naive" or (kernel == "auto" and n % 4):
        groups = (-(-n // 8), -(-m // 8), 1)
        name = "matmul_naive"
    elif kernel == "blocked":
        groups = (-(-(n // 4) // 16), -(-m // 64), 1)
        name = "matmul_blocked"
    else:
        groups = (-(-(n // 4) // 256), -(-m // 16), 1)
        name = "matmul_wide"
    out = run_kernel(name, _params(m, n, k, 0), [("a", a), ("b", b)], 4 * m * n, groups)
    return _f32(out, (m, n))


def _elementwise(kernel: str, entry: str, inputs: list, n: int, cols: int, shape) -> np.ndarray:
    if n == 0:
        return np.zeros(shape, dtype=np.float32)
    groups, stride = _grid(n, 256)
    # GELU's constants travel as run-time values: as literals the compiler reassociates them.
    params = _params(n, cols, stride, 0, mathlib.GELU_A, mathlib.GELU_C)
    out = run_kernel(kernel, params, inputs, 4 * n, groups, entry=entry)
    return _f32(out, shape)


def _elementwise4(kernel: str, entry: str, inputs: list, n: int, cols: int, shape) -> np.ndarray:
    """The vec4 entries (four elements per invocation: a quarter of the invocations, vector
    loads and stores) for sizes that are a multiple of 4; same bits as the scalar ones."""
    if n == 0:
        return np.zeros(shape, dtype=np.float32)
    groups, stride = _grid(n // 4, 256)
    out = run_kernel(kernel, _params(n // 4, cols // 4, stride, 0), inputs, 4 * n, groups,
                     entry=entry)
    return _f32(out, shape)


def bias_add(x: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """``x + bias`` over the last axis; twin of :func:`reference.bias_add`."""
    x, bias = ref.check_bias(x, bias)
    inputs = [("x", x), ("bias", bias)]
    if bias.size % 4 == 0:
        return _elementwise4("elementwise4", "bias_add4", inputs, x.size, bias.size, x.shape)
    return _elementwise("binary", "bias_add", inputs, x.size, bias.size, x.shape)


def add(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Elementwise ``x + y``; twin of :func:`reference.add`."""
    x, y = ref.check_same(x, y)
    if x.size % 4 == 0:
        return _elementwise4("elementwise4", "add4", [("x", x), ("y", y)], x.size, 4, x.shape)
    return _elementwise("binary", "add", [("x", x), ("y", y)], x.size, 1, x.shape)


def relu(x: np.ndarray) -> np.ndarray:
    """``max(x, 0)`` as a select; twin of :func:`reference.relu`."""
    x = check_array("x", x, np.float32)
    if x.size % 4 == 0:
        return _elementwise4("relu4", "relu4", [("x", x)], x.size, 4, x.shape)
    return _elementwise("unary", "relu", [("x", x)], x.size, 1, x.shape)


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU (tanh approximation, mathlib exp); twin of :func:`reference.gelu`."""
    x = check_array("x", x, np.float32)
    return _elementwise("unary", "gelu", [("x", x)], x.size, 1, x.shape)


def exp(x: np.ndarray) -> np.ndarray:
    """Elementwise mathlib ``exp``; twin of :func:`reference.exp`."""
    x = check_array("x", x, np.float32)
    return _elementwise("unary", "exp", [("x", x)], x.size, 1, x.shape)


def softmax(x: np.ndarray) -> np.ndarray:
    """Row softmax, max-subtracted; twin of :func:`reference.softmax`."""
    x = ref.check_rows("x", x)
    rows, cols = x.shape
    # passes: max (cols - 1) + sum (cols) + divide (cols), each loop + 1
    _check_loop_passes(f"x has {cols} columns, softmax allows <= 21844", 3 * cols + 2)
    if x.size == 0:
        return x.copy()
    out = run_kernel("softmax", _params(rows, cols, 0, 0), [("x", x)], 4 * x.size,
                     (-(-rows // 64), 1, 1))
    return _f32(out, x.shape)


def layernorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Two-pass row layernorm; twin of :func:`reference.layernorm`."""
    x, gamma, beta, eps32 = ref.check_layernorm(x, gamma, beta, eps)
    rows, cols = x.shape
    # passes: mean, variance and output loops over cols, each + 1
    _check_loop_passes(f"x has {cols} columns, layernorm allows <= 21844", 3 * cols + 3)
    if rows == 0:
        return x.copy()
    out = run_kernel(
        "layernorm", _params(rows, cols, eps32, 0), [("x", x), ("gamma", gamma), ("beta", beta)],
        4 * x.size, (-(-rows // 64), 1, 1),
    )
    return _f32(out, x.shape)


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, n_heads: int) -> np.ndarray:
    """Causal scaled dot-product attention; twin of :func:`reference.attention`."""
    q, k, v, h = ref.check_attention(q, k, v, n_heads)
    t, d = q.shape
    dh = d // h
    # passes of the last query row (llvmpipe runs 8 rows in lock step, so the longest counts):
    # three passes over T keys, scoring each (dh + 1), the last also summing p v (dh + 1), plus
    # the zeroing loop
    _check_loop_passes(
        f"q has T = {t} tokens at head width dh = {dh}: attention needs "
        "4 T (dh + 1) + 3 T + dh + 3 <= 65536",
        4 * t * (dh + 1) + 3 * t + dh + 3,
    )
    if t == 0 or d == 0:
        return np.zeros_like(q)
    scale = ref.attention_scale(d // h)
    out = run_kernel(
        "attention", _params(t, d, h, scale), [("q", q), ("k", k), ("v", v)], 4 * q.size,
        (-(-t // 64), h, 1),
    )
    return _f32(out, q.shape)


def embedding(ids: np.ndarray, table: np.ndarray, positions: np.ndarray | None = None) -> np.ndarray:
    """Token (and position) embedding lookup; twin of :func:`reference.embedding`."""
    ids, table, positions = ref.check_embedding(ids, table, positions)
    t, d = ids.shape[0], table.shape[1]
    if t == 0 or d == 0:
        return np.zeros((t, d), dtype=np.float32)
    has_pos = positions is not None
    pos = positions if has_pos else np.zeros(1, dtype=np.float32)
    groups, stride = _grid(t * d, 256)
    out = run_kernel(
        "embedding", _params(t, d, int(has_pos), stride),
        [("ids", ids), ("table", table), ("positions", pos)], 4 * t * d, groups,
    )
    return _f32(out, (t, d))


def sample(probs: np.ndarray, seed: int) -> np.ndarray:
    """Inverse-CDF draw per row with randomness fixed by ``seed``; twin of :func:`reference.sample`."""
    probs, s = ref.check_probs(probs, seed)
    rows, cols = probs.shape
    _check_loop_passes(f"probs has {cols} columns, sample allows <= {LOOP_PASS_BUDGET - 1}",
                       cols + 1)
    if rows == 0:
        return np.zeros(0, dtype=np.int32)
    out = run_kernel("sample", _params(rows, cols, s, 0), [("probs", probs)], 4 * rows,
                     (-(-rows // 64), 1, 1))
    return _as(out, np.int32, (rows,))


# ----------------------------------------------------------------------------- integer ops
def _pack_rows(x: np.ndarray) -> np.ndarray:
    """int8 ``(R, K)`` -> uint32 ``(R, ceil(K/4))``, four lanes per word, zero-padded (exact)."""
    r, k = x.shape
    k4 = -(-k // 4)
    padded = np.zeros((r, 4 * k4), dtype=np.int8)
    padded[:, :k] = x
    return padded.view(np.uint32)


def _int8_mm(a: np.ndarray, b: np.ndarray, bias, mult: int, shift: int, relu: bool, requant: bool):
    m, k = a.shape
    n = b.shape[1]
    ap = _pack_rows(a)
    bp = _pack_rows(np.ascontiguousarray(b.T))
    bias_arr = bias if requant else np.zeros(1, dtype=np.int32)
    params = _params(m, n, ap.shape[1], int(requant), mult, shift, 0 if relu else -128, 0)
    out = run_kernel(
        "int8_matmul", params, [("a", ap), ("b", bp), ("bias", bias_arr)], 4 * m * n,
        (-(-n // 8), -(-m // 8), 1),
    )
    return _as(out, np.int32, (m, n))


def int8_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact int8 x int8 -> int32 product; twin of :func:`reference.int8_matmul`."""
    a, b = ref.check_int8_matmul(a, b)
    m, k = a.shape
    n = b.shape[1]
    if m == 0 or n == 0 or k == 0:
        return np.zeros((m, n), dtype=np.int32)
    return _int8_mm(a, b, None, 1, 17, False, requant=False).copy()


def int8_matmul_requant(
    a: np.ndarray,
    b: np.ndarray,
    bias: np.ndarray,
    multiplier: int,
    shift: int,
    relu: bool = False,
) -> np.ndarray:
    """Quantized linear layer with fixed-point requantization; twin of
    :func:`reference.int8_matmul_requant`."""
    a, b = ref.check_int8_matmul(a, b)
    bias, mult, s = ref.check_requant(b.shape[1], bias, multiplier, shift)
    m, k = a.shape
    n = b.shape[1]
    if m == 0 or n == 0:
        return np.zeros((m, n), dtype=np.int8)
    if k == 0:  # no products: requantize the bias alone (exact on the host)
        return ref.requantize(np.broadcast_to(bias.astype(np.int64), (m, n)), mult, s, bool(relu))
    return _int8_mm(a, b, bias, mult, s, bool(relu), requant=True).astype(np.int8)
