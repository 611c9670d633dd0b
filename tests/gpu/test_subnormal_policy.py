"""The subnormal policy (kernels/flush.wgsl, mathlib.ftz): every float input and every + - * /
result of magnitude below 2^-125 becomes +0, which gives the same bits whether an engine detects
tininess before rounding (SwiftShader) or after (lavapipe, numpy), flushes subnormals or keeps
them; tests at each boundary class of issue 20, and the proof of engine independence."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from oasis_lab.gpu import conformance, mathlib
from oasis_lab.gpu import reference as R
from oasis_lab.gpu.determinism import kernel_cases, subnormal_mix

TINY = 2.0**-126
FLUSH = 2.0**-125
C = np.ascontiguousarray


def bits(*words: int) -> np.ndarray:
    return np.array(words, np.uint32).view(np.float32)


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def nothing_under_the_threshold(y: np.ndarray) -> bool:
    """No -0 and no value of magnitude below 2^-125 but +0."""
    b = y.view(np.uint32)
    small = (b & 0x7F800000) <= 0x00800000
    return bool(np.all(b[small] == 0))


def under_the_threshold(x64: np.ndarray) -> bool:
    """Whether some exact (float64) value is nonzero and below 2^-125 in magnitude."""
    mag = np.abs(x64)
    return bool(((mag > 0) & (mag < FLUSH)).any())


def tiny_scale_pair(rng, m, k, n):
    """Factors whose products and partial sums fall under 2^-125."""
    a = (rng.standard_normal((m, k)) * 1e-20).astype(np.float32)
    b = (rng.standard_normal((k, n)) * 1e-19).astype(np.float32)
    return a, b


def test_ftz_flushes_everything_below_2_to_the_minus_125():
    x = np.array([1e-45, -1e-45, 1e-40, -0.0, 0.0, TINY, -TINY, np.nextafter(np.float32(FLUSH), 0),
                  -1.5 * TINY, FLUSH, -FLUSH, np.nextafter(np.float32(FLUSH), 1), np.inf, -np.inf, 1.0],
                 dtype=np.float32)
    y = mathlib.ftz(x)
    assert y.view(np.uint32).tolist()[:9] == [0] * 9  # +0, never -0
    assert y[9] == FLUSH and y[10] == -FLUSH and y[11] == x[11]
    assert np.isinf(y[12]) and np.isinf(y[13]) and y[14] == 1.0
    assert np.isnan(mathlib.ftz(np.array([np.nan], np.float32)))[0]
    inplace = x.copy()
    assert same_bits(mathlib.ftz_(inplace), y) and same_bits(inplace, y)


# ---------------------------------------------------------------- engine independence, proved
def _engine(exact: Fraction, mode: str) -> np.float32:
    """What an engine returns for an exact result, by how it treats tininess: ``"after"``
    keeps subnormals (lavapipe, numpy), ``"ftz-before"`` flushes when the exact value is below
    2^-126 (SwiftShader), ``"ftz-after"`` rounds first, then flushes results below 2^-126."""
    modes = dict(zip(("after", "ftz-before", "ftz-after"), conformance.TININESS_MODES, strict=True))
    return conformance.engine_result(exact, modes[mode])


def test_the_engine_emulation_rounds_once_to_nearest_even_and_flushes_as_each_mode_does():
    assert conformance.round_f32(Fraction(TINY) - Fraction(2.0**-150)) == np.float32(TINY)  # tie: even
    assert conformance.round_f32(Fraction(TINY) - Fraction(3, 2) * Fraction(2.0**-150)) == \
        np.nextafter(np.float32(TINY), np.float32(0))
    assert conformance.round_f32(Fraction(1) + Fraction(2.0**-24)) == 1.0  # tie to even, not up
    assert conformance.round_f32(Fraction(1) + Fraction(3, 2) * Fraction(2.0**-23)) == np.float32(1 + 2.0**-22)
    top = Fraction(float(np.finfo(np.float32).max))  # a neighbour of the largest float32 is inf
    assert conformance.round_f32(Fraction(1) - top) == -np.finfo(np.float32).max
    assert conformance.round_f32(top + Fraction(2) ** 103) == np.inf  # the tie rounds to even: inf
    assert conformance.round_f32(top + Fraction(2) ** 103 - 1) == np.finfo(np.float32).max
    hole = Fraction(TINY) - Fraction(2.0**-150)
    assert [float(_engine(hole, m)) for m in ("after", "ftz-before", "ftz-after")] == [TINY, 0.0, TINY]
    assert np.signbit(_engine(-hole, "ftz-before"))
    table = conformance.boundary_table().set_index("case")
    assert not table["agree (flush < 2^-126)"].iloc[:4].any() and table["agree (flush < 2^-125)"].all()
    with pytest.raises(ValueError, match="mode = 'x'"):
        conformance.engine_result(hole, "x")


f32s = st.floats(width=32, allow_nan=False, allow_infinity=False, allow_subnormal=True)


def _flushed_alike(exact: Fraction, flush) -> bool:
    if abs(exact) >= Fraction(float(np.finfo(np.float32).max)):
        return True  # overflow is not a tininess question
    outs = {flush(np.array([_engine(exact, m)], np.float32)).tobytes()
            for m in ("after", "ftz-before", "ftz-after")}
    return len(outs) == 1


@settings(max_examples=500, deadline=None)
@given(a=f32s, b=f32s, steer=st.integers(-30, 30), aim=st.sampled_from([TINY, FLUSH, 0.0]))
@example(a=1.0, b=-3.4028234663852886e38, steer=0, aim=0.0)  # a sum next to the largest float32
def test_the_flushed_result_is_the_same_whichever_way_an_engine_detects_tininess(a, b, steer, aim):
    """For every product and sum of two float32 (the kernels' + - * results), the three kinds of
    engine give results that the policy flushes to the same bits. ``aim`` steers ``b`` so that
    ``a * b`` lands ``steer`` ulps around 2^-126 or 2^-125, where the engines differ."""
    fa, fb = np.float32(a), np.float32(b)
    with np.errstate(over="ignore"):
        target = np.float32(aim / float(fa)) if aim and fa != 0 else np.float32(np.inf)
    if np.isfinite(target):
        base = int(np.array([target], np.float32).view(np.int32)[0])
        fb = np.array([min(max(base + steer, -2**31), 2**31 - 1)], np.int64).astype(np.int32).view(np.float32)[0]
    if not np.isfinite(fb):
        return
    for exact in (Fraction(float(fa)) * Fraction(float(fb)), Fraction(float(fa)) + Fraction(float(fb))):
        assert _flushed_alike(exact, mathlib.ftz), (fa, fb, exact)


def test_flushing_below_2_to_the_minus_126_is_not_engine_independent():
    """The counterexample of issue 20: 0x3F7FFFFF * 0x00800000 is 2^-126 - 2^-150 exactly."""
    a, b = bits(0x3F7FFFFF, 0x00800000)
    exact = Fraction(float(a)) * Fraction(float(b))
    assert exact == Fraction(TINY) - Fraction(2.0**-150)
    after, before = _engine(exact, "after"), _engine(exact, "ftz-before")
    assert after == np.float32(TINY) and before == 0.0  # the engines differ

    def old_policy(y: np.ndarray) -> np.ndarray:  # flush the zero exponent field only
        return np.where(np.abs(y) < np.float32(TINY), np.float32(0), y).astype(np.float32)

    assert not _flushed_alike(exact, old_policy)
    assert _flushed_alike(exact, mathlib.ftz)


# ---------------------------------------------------------------- each boundary class of issue 20
@pytest.mark.parametrize("word", [0x00FFFFFF, 0x80FFFFFF])
def test_gelu_of_the_largest_value_below_2_to_the_minus_125_is_plus_zero(word, gpu):
    """gelu(0x00FFFFFF) was 0x00800000 on numpy and wgpu-py but 0 on Chromium."""
    x = bits(word, 0x01000000, 0x81000000)  # and gelu(+-2^-125) = +-2^-126: flushed too
    y = R.gelu(x)
    assert y.view(np.uint32).tolist() == [0, 0, 0]
    assert same_bits(gpu.gelu(x), y)


def test_matmul_of_a_product_in_the_hole_below_2_to_the_minus_126_is_plus_zero(gpu):
    """[[0x3F7FFFFF]] x [[0x00800000]] gave 0x00800000 (lavapipe, numpy) and 0 (Chromium); the
    input 2^-126 is flushed now, and so is a product of kept inputs that lands in the hole."""
    a = bits(0x3F7FFFFF).reshape(1, 1)
    b = np.repeat(bits(0x00800000).reshape(1, 1), 4, 1)
    hole_a = bits(0x3EFFFFFF).reshape(1, 1)  # (1/2)(1 - 2^-24) * 2^-125 = 2^-126 - 2^-150
    hole_b = np.repeat(bits(0x01000000).reshape(1, 1), 4, 1)
    for x, w in ((a, b), (hole_a, hole_b)):
        want = R.matmul(x, w)
        assert want.view(np.uint32).tolist() == [[0, 0, 0, 0]]
        for kernel in ("naive", "blocked", "wide"):
            assert same_bits(gpu.matmul(x, w, kernel=kernel), want)
    assert not (np.float32(hole_a[0, 0]) * np.float32(hole_b[0, 0])) == 0  # numpy alone keeps it


def test_results_never_hold_values_under_the_threshold_or_negative_zero():
    rng = np.random.default_rng(3)
    x = subnormal_mix(rng, 9, 40)
    a, b = tiny_scale_pair(rng, 9, 40, 12)
    wide = np.tile(np.float32([0.0, -95.0, -100.0, -103.0, -86.7]), (3, 5))  # tiny probabilities
    outs = [
        R.matmul(a, b), R.matmul(x, subnormal_mix(rng, 40, 6)), R.add(x, -x), R.bias_add(x, x[0]),
        R.relu(x), R.gelu(x), R.exp(x), R.exp(np.float32([-87.3, -87.0, -86.7, -86.6])), R.softmax(x),
        R.softmax(wide), R.layernorm(x, x[0], x[1]),
        R.attention(C(x[:, :8]), C(x[:, 8:16]), C(x[:, 16:24]), 2),
    ]
    for y in outs:
        assert nothing_under_the_threshold(y)
    # the inputs do produce such values without the flush: exact products (float64 holds the
    # product of two float32 exactly; no BLAS, no SIMD transcendental, no FTZ flag involved)
    assert under_the_threshold(a[:, :, None].astype(np.float64) * b[None, :, :].astype(np.float64))


def test_flushing_inputs_first_changes_nothing():
    """What an engine that flushes its inputs (SwiftShader) sees is what the kernels compute."""
    rng = np.random.default_rng(4)
    x, y = subnormal_mix(rng, 6, 16), subnormal_mix(rng, 16, 8)
    fx, fy = mathlib.ftz(x), mathlib.ftz(y)
    assert same_bits(R.matmul(x, y), R.matmul(fx, fy))
    assert same_bits(R.softmax(x), R.softmax(fx))
    assert same_bits(R.gelu(x), R.gelu(fx))
    assert same_bits(R.layernorm(x, x[0], x[1]), R.layernorm(fx, fx[0], fx[1]))
    assert same_bits(R.attention(C(x[:, :8]), C(x[:, 8:]), C(x[:, :8]), 2),
                     R.attention(C(fx[:, :8]), C(fx[:, 8:]), C(fx[:, :8]), 2))


KERNEL_CASES = kernel_cases(5)


@pytest.mark.parametrize("name,kernel,call", KERNEL_CASES, ids=[c[0] for c in KERNEL_CASES])
def test_webgpu_equals_reference_on_ordinary_and_subnormal_producing_inputs(gpu, name, kernel, call):
    assert same_bits(call(gpu), call(R))


def test_kernel_cases_cover_every_kernel_and_build_values_under_the_threshold():
    kernels = {c[1] for c in KERNEL_CASES}
    assert kernels == {"matmul_naive", "matmul_blocked", "matmul_wide", "binary", "unary",
                       "elementwise4", "relu4", "softmax", "layernorm", "attention", "embedding",
                       "sample", "int8_matmul"}
    plain = {c[0]: c[2] for c in KERNEL_CASES}
    assert any("subnormal" in name for name in plain)
    assert under_the_threshold(plain["matmul blocked, subnormal products"](_Products))


class _Products:
    """The exact products a matmul case adds up (float64: exact for float32 factors), to show
    that the case's inputs produce values under 2^-125 without relying on any summation order."""

    @staticmethod
    def matmul(a, b):
        return a[:, :, None].astype(np.float64) * b[None, :, :].astype(np.float64)


def test_blocked_matmul_flushes_a_partial_sum_under_the_threshold_mid_row(gpu):
    """Products 1, -1, 1.5 2^-125, -2^-125, 2^-122 (each kept): the sum passes through 2^-126
    (flushed to 0), so the flushed result is 2^-122; the exact sum, and so any unflushed
    evaluation in this order, is 2^-122 + 2^-126. The exact sum is taken in rationals, so no
    summation order (BLAS's or any other) enters the test."""
    call = {c[0]: c[2] for c in KERNEL_CASES}["matmul blocked, subnormal sum mid-row"]
    out = call(gpu)
    assert out.tobytes() == call(R).tobytes()
    assert (out == np.float32(2.0**-122)).all()

    class Exact:
        @staticmethod
        def matmul(a, b):
            return np.array([[float(sum(Fraction(float(x)) * Fraction(float(y)) for x, y in zip(a[i], b[:, j],
                                                                                               strict=True)))
                              for j in range(b.shape[1])] for i in range(a.shape[0])], np.float32)

    assert (call(Exact) == np.float32(2.0**-122 + 2.0**-126)).all()
