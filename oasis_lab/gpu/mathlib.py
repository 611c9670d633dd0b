"""numpy mirror of ``kernels/mathlib.wgsl``: transcendentals built from ``+ - * / floor bitcast``.

Whitepaper sections 2 and 5: a referee recomputes a provider's layer and must get the same
bits. WGSL's built-in ``exp``, ``tanh`` ... are only accurate to a few ulp and differ between
engines (lavapipe, SwiftShader, numpy), while ``+ - * /``, ``sqrt``, ``floor`` and ``bitcast``
are exact IEEE-754 operations on every engine measured. So the kernels compute ``exp`` from those
operations only, and this module performs the very same float32 operations in the same order, so
that a kernel's output and the numpy reference agree bit for bit.

``exp(x)`` (Cody-Waite range reduction, degree-7 Taylor polynomial, exponent by bitcast,
applied as two factors ``2^(k>>1) 2^(k-(k>>1))`` so that each is a normal float32):

.. math::
    k = \\lfloor x \\log_2 e + 1/2 \\rfloor,\\quad
    r = (x - k\\,\\ln 2_{hi}) - k\\,\\ln 2_{lo},\\quad
    e^x \\approx 2^k \\sum_{i=0}^{7} r^i / i!

with every coefficient rounded to float32 and the polynomial evaluated by Horner's rule (each
``p * r + c`` is a rounded multiply followed by a rounded add: no ``fma``, which the shader
compilers fuse in constant expressions only and so would break reproducibility). ``ln2_hi`` has
16 significant bits, so ``k * ln2_hi`` is exact for ``|k| <= 130``.

Readings taken
--------------
- Domain: results below the flush threshold ``2^-125`` are ``+0`` (``x`` below about
  ``-86.64``, :data:`EXP_FLUSH_BELOW`: the policy flushes ``p 2^k`` there, and ``k < -125`` is
  zero outright, so ``p 2^k`` is never subnormal). Overflow gives ``+inf`` (``x > 88.7228``)
  through IEEE rounding of the final scaling. NaN inputs are outside the contract: the op layer
  rejects non-finite inputs.
- Accuracy against float64 ``exp`` above the flush threshold: at most :data:`EXP_MAX_ULP` ulp
  (1.19 measured on a grid of 5 million float32 in ``[-86.64, 88.7]``; checked in
  ``tests/gpu/test_reference_accuracy.py``).
- GELU uses the tanh approximation (as GPT-2) in its exact sigmoid form
  ``0.5 x (1 + tanh(u)) = x sigmoid(2u)`` with ``u = sqrt(2/pi) (x + 0.044715 x^3)``: no
  cancellation near 0 and no ``tanh`` needed; the divisor stays in ``[1, 2]``.
- Subnormals (:func:`ftz`, twin of ``kernels/flush.wgsl``): WebGPU lets an engine flush
  subnormal floats, and IEEE 754 lets it detect tininess before rounding or after: SwiftShader
  (Chromium's CPU WebGPU) flushes an exact result just below ``2^-126`` to 0, lavapipe and numpy
  round it up to ``2^-126``. So every argument and every ``+ - * /`` result below is flushed
  explicitly, and below ``2^-125`` (:data:`FLUSH_BELOW`), not ``2^-126``: every engine's result
  for an exact value under ``2^-126`` (0, a subnormal or ``2^-126``) lies under ``2^-125`` and
  becomes ``+0``, and above it every engine rounds alike (``docs/platform.md``).
- Shader compilers may apply inexact algebra to float ops (SPIR-V without ``NoContraction``):
  Mesa's NIR was measured to rewrite ``(a * b) * literal``. The WGSL never multiplies a product
  by a literal; GELU's constants are passed at run time.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "f32_from_bits",
    "ftz",
    "ftz_",
    "FLUSH_BELOW",
    "TINY",
    "exp",
    "gelu",
    "pcg_hash",
    "uniform01",
    "EXP_MAX_ULP",
    "EXP_FLUSH_BELOW",
]


def f32_from_bits(bits: int) -> np.float32:
    """Return the float32 whose IEEE-754 bit pattern is ``bits`` (how the WGSL constants are written)."""
    return np.array([bits], dtype=np.uint32).view(np.float32)[0]


# Constants, bit-exact twins of the hex-float literals in kernels/mathlib.wgsl.
LOG2E = f32_from_bits(0x3FB8AA3B)  # 0x1.715476p+0
LN2_HI = f32_from_bits(0x3F317200)  # 0x1.62e4p-1, 16 significant bits
LN2_LO = f32_from_bits(0x35BFBE8E)  # 0x1.7f7d1cp-20
EXP_COEFFS = tuple(  # 1/i! rounded to float32, i = 7 .. 0 (Horner order)
    f32_from_bits(b)
    for b in (0x39500D01, 0x3AB60B61, 0x3C088889, 0x3D2AAAAB, 0x3E2AAAAB, 0x3F000000, 0x3F800000, 0x3F800000)
)
GELU_C = f32_from_bits(0x3FCC422A)  # 2 sqrt(2/pi) = 1.5957691
GELU_A = f32_from_bits(0x3D372713)  # 0.044715
_HALF = np.float32(0.5)
_ONE = np.float32(1.0)
_ZERO = np.float32(0.0)
_CLAMP_LO = np.float32(-90.0)
_CLAMP_HI = np.float32(90.0)

#: Smallest normal float32, ``2^-126``.
TINY = np.float32(2.0**-126)
#: :func:`ftz` turns every value of smaller magnitude into ``+0``: ``2^-125`` (twice :data:`TINY`).
FLUSH_BELOW = np.float32(2.0**-125)

#: Largest error of :func:`exp` against float64, in float32 ulp of the true value (1.19 measured above the flush).
EXP_MAX_ULP = 1.5
#: Below this argument :func:`exp` returns 0 (its result would be under :data:`FLUSH_BELOW`).
EXP_FLUSH_BELOW = -86.644


def ftz(x: np.ndarray | np.floating) -> np.ndarray:
    """Flush to zero, twin of ``oasis_ftz`` in ``kernels/flush.wgsl`` (the subnormal policy).

    Returns ``x`` as float32 with every entry of magnitude below :data:`FLUSH_BELOW` (``2^-125``:
    subnormals, ``-0`` and ``[2^-126, 2^-125)``) replaced by ``+0``; NaN and infinities pass
    unchanged (as in the kernel, which tests for an exponent field of 0 or 1).

    >>> ftz(np.array([1e-40, -0.0, 2.0**-126, -(2.0**-125), -0.5, 1.5], dtype=np.float32)).tolist()
    [0.0, 0.0, 0.0, -2.350988701644575e-38, -0.5, 1.5]
    """
    x = np.asarray(x, dtype=np.float32)
    return np.where(np.abs(x) < FLUSH_BELOW, _ZERO, x).astype(np.float32, copy=False)


def ftz_(x: np.ndarray) -> np.ndarray:
    """In-place :func:`ftz` of a float32 array (hot loops of the references); returns ``x``."""
    np.copyto(x, _ZERO, where=np.abs(x) < FLUSH_BELOW)
    return x


def exp(x: np.ndarray) -> np.ndarray:
    """Elementwise ``exp`` from exact float32 operations, bitwise twin of ``oasis_exp`` in WGSL.

    Parameters
    ----------
    x : ndarray of float32
        Finite arguments.

    Returns
    -------
    ndarray of float32
        ``exp(x)`` within :data:`EXP_MAX_ULP` ulp; ``0`` where the result would be below
        :data:`FLUSH_BELOW`, ``inf`` on overflow.
    """
    x = ftz(x)
    # Clamping keeps k inside [-130, 130] so the integer exponent arithmetic cannot overflow;
    # results for clamped arguments are replaced by 0 or overflow to inf below.
    xc = np.minimum(np.maximum(x, _CLAMP_LO), _CLAMP_HI)
    with np.errstate(over="ignore"):  # overflow to inf is the specified result
        return _exp_reduced(xc)


def _exp_reduced(xc: np.ndarray) -> np.ndarray:
    k = np.floor(ftz(ftz(xc * LOG2E) + _HALF))
    r = ftz(ftz(xc - ftz(k * LN2_HI)) - ftz(k * LN2_LO))
    p = np.full_like(r, EXP_COEFFS[0])
    for c in EXP_COEFFS[1:]:
        p = ftz(ftz(p * r) + c)
    n = k.astype(np.int32)
    n1 = n >> 1
    y = ftz(ftz(p * _pow2(n1)) * _pow2(n - n1))
    return np.where(n < -125, _ZERO, y).astype(np.float32, copy=False)


def _pow2(n: np.ndarray) -> np.ndarray:
    """``2^n`` for ``-126 <= n <= 127`` by building the float32 exponent field (exact)."""
    return ((n + 127).astype(np.uint32) << np.uint32(23)).view(np.float32)


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU, tanh approximation in sigmoid form, bitwise twin of ``oasis_gelu`` in WGSL.

    ``gelu(x) = x sigmoid(t)``, ``t = c * (x + a * x^3)``, ``c = 2 sqrt(2/pi)``,
    ``a = 0.044715``, evaluated as ``t = ((x*x)*x)*a; t = (x + t)*c; e = exp(-|t|)`` and
    ``x / (1 + e)`` for ``t >= 0``, ``(x * e) / (1 + e)`` for ``t < 0`` (divisor in ``[1, 2]``).
    """
    x = ftz(x)
    with np.errstate(over="ignore"):  # x^3 may overflow for huge |x|; the limit is x or 0
        t = ftz(ftz(ftz(x * x) * x) * GELU_A)
        t = ftz(ftz(x + t) * GELU_C)
        e = exp(-np.abs(t))
        return ftz(np.where(t >= _ZERO, x, ftz(x * e)) / ftz(_ONE + e))


def pcg_hash(v: np.ndarray) -> np.ndarray:
    """PCG output permutation hash of uint32 (Jarzynski and Olano 2020), twin of ``oasis_pcg``."""
    v = np.asarray(v, dtype=np.uint32)
    state = v * np.uint32(747796405) + np.uint32(2891336453)
    word = ((state >> ((state >> np.uint32(28)) + np.uint32(4))) ^ state) * np.uint32(277803737)
    return (word >> np.uint32(22)) ^ word


def uniform01(seed: int, index: np.ndarray) -> np.ndarray:
    """Uniform float32 in ``[0, 1)`` for stream ``seed`` at positions ``index``: ``h >> 8`` times ``2^-24``.

    Both steps are exact, so every engine draws the same numbers from the same seed.
    """
    key = pcg_hash(np.array([seed & 0xFFFFFFFF], dtype=np.uint32))[0]
    h = pcg_hash(np.asarray(index, dtype=np.uint32) + key)
    return (h >> np.uint32(8)).astype(np.float32) * np.float32(2.0**-24)
