"""The subnormal policy (kernels/flush.wgsl, mathlib.ftz): inputs built to produce subnormal
inputs, products, sums and results give flushed (+0) values, the same bits on WebGPU and numpy."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_lab.gpu import mathlib
from oasis_lab.gpu import reference as R
from oasis_lab.gpu.determinism import kernel_cases, subnormal_mix

TINY = 2.0**-126
C = np.ascontiguousarray


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def no_subnormal_or_negative_zero(y: np.ndarray) -> bool:
    bits = y.view(np.uint32)
    exp_zero = (bits & 0x7F800000) == 0
    return bool(np.all(bits[exp_zero] == 0))


def tiny_scale_pair(rng, m, k, n):
    """Factors whose products and partial sums fall into the subnormal range."""
    a = (rng.standard_normal((m, k)) * 1e-20).astype(np.float32)
    b = (rng.standard_normal((k, n)) * 1e-19).astype(np.float32)
    return a, b


def test_ftz_flushes_exactly_the_zero_exponent_values():
    x = np.array([1e-45, -1e-45, 1e-40, -0.0, 0.0, TINY, -TINY, np.nextafter(np.float32(TINY), 0),
                  np.inf, -np.inf, 1.0], dtype=np.float32)
    y = mathlib.ftz(x)
    assert y.view(np.uint32).tolist()[:5] == [0] * 5
    assert y[5] == TINY and y[6] == -TINY and y[7] == 0.0
    assert np.isinf(y[8]) and np.isinf(y[9]) and y[10] == 1.0
    assert np.isnan(mathlib.ftz(np.array([np.nan], np.float32)))[0]


def test_reference_results_never_hold_subnormals_or_negative_zero():
    rng = np.random.default_rng(3)
    x = subnormal_mix(rng, 9, 40)
    a, b = tiny_scale_pair(rng, 9, 40, 12)
    wide = np.tile(np.float32([0.0, -95.0, -100.0, -103.0]), (3, 5))  # subnormal probabilities
    outs = [
        R.matmul(a, b), R.matmul(x, subnormal_mix(rng, 40, 6)), R.add(x, -x), R.bias_add(x, x[0]),
        R.relu(x), R.gelu(x), R.exp(x), R.exp(np.float32([-87.3, -87.0, -86.5])), R.softmax(x),
        R.softmax(wide), R.layernorm(x, x[0], x[1]), R.attention(C(x[:, :8]), C(x[:, 8:16]), C(x[:, 16:24]), 2),
    ]
    for y in outs:
        assert no_subnormal_or_negative_zero(y)
    # the inputs do produce subnormals without the flush: unflushed float32 gives them
    plain = [a @ b, np.exp(wide - wide.max(1, keepdims=True)) / np.float32(1.0)]
    assert any(not no_subnormal_or_negative_zero(p.astype(np.float32)) for p in plain)


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


def test_kernel_cases_cover_every_kernel_and_build_subnormals():
    kernels = {c[1] for c in KERNEL_CASES}
    assert kernels == {"matmul_naive", "matmul_blocked", "matmul_wide", "binary", "unary",
                       "elementwise4", "relu4", "softmax", "layernorm", "attention", "embedding",
                       "sample", "int8_matmul"}
    plain = {c[0]: c[2] for c in KERNEL_CASES}
    # without the flush these inputs give subnormal values: the cases exercise the policy
    assert any("subnormal" in name for name in plain)
    with np.errstate(all="ignore"):
        raw = plain["matmul blocked, subnormal products"](_Plain)
    assert not no_subnormal_or_negative_zero(raw)


class _Plain:
    """Unflushed float32 numpy, to show that a case's inputs produce subnormals."""

    @staticmethod
    def matmul(a, b):
        return (a @ b).astype(np.float32)


def test_blocked_matmul_flushes_a_subnormal_partial_sum_mid_row(gpu):
    """Products 1, -1, 1.5 2^-126, -2^-126, 2^-123: the sum passes through 2^-127 (flushed to 0),
    so the flushed result is 2^-123 and the unflushed one 2^-123 + 2^-127."""
    call = {c[0]: c[2] for c in KERNEL_CASES}["matmul blocked, subnormal sum mid-row"]
    out = call(gpu)
    assert out.tobytes() == call(R).tobytes()
    assert (out == np.float32(2.0**-123)).all()
    plain = {"matmul": lambda a, b: (a @ b.astype(np.float64)).astype(np.float32)}
    assert (call(type("Plain", (), {k: staticmethod(v) for k, v in plain.items()}))
            == np.float32(2.0**-123 + 2.0**-127)).all()
