"""The subnormal policy (kernels/flush.wgsl, mathlib.ftz): inputs built to produce subnormal
inputs, products, sums and results give flushed (+0) values, the same bits on WebGPU and numpy."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_lab.gpu import mathlib
from oasis_lab.gpu import reference as R

TINY = 2.0**-126
C = np.ascontiguousarray


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def no_subnormal_or_negative_zero(y: np.ndarray) -> bool:
    bits = y.view(np.uint32)
    exp_zero = (bits & 0x7F800000) == 0
    return bool(np.all(bits[exp_zero] == 0))


def subnormal_inputs(rng, *shape) -> np.ndarray:
    """Normal values mixed with subnormals, -0 and values near 2^-126 of both signs."""
    x = rng.standard_normal(shape).astype(np.float32)
    special = np.array([1e-40, -3e-39, -0.0, 2.0**-126, -(2.0**-126), 1.2e-38, 1e-45, 5e-39],
                       dtype=np.float32)
    mask = rng.random(shape) < 0.4
    x[mask] = rng.choice(special, size=int(mask.sum()))
    return x


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
    x = subnormal_inputs(rng, 9, 40)
    a, b = tiny_scale_pair(rng, 9, 40, 12)
    wide = np.tile(np.float32([0.0, -95.0, -100.0, -103.0]), (3, 5))  # subnormal probabilities
    outs = [
        R.matmul(a, b), R.matmul(x, subnormal_inputs(rng, 40, 6)), R.add(x, -x), R.bias_add(x, x[0]),
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
    x, y = subnormal_inputs(rng, 6, 16), subnormal_inputs(rng, 16, 8)
    fx, fy = mathlib.ftz(x), mathlib.ftz(y)
    assert same_bits(R.matmul(x, y), R.matmul(fx, fy))
    assert same_bits(R.softmax(x), R.softmax(fx))
    assert same_bits(R.gelu(x), R.gelu(fx))
    assert same_bits(R.layernorm(x, x[0], x[1]), R.layernorm(fx, fx[0], fx[1]))
    assert same_bits(R.attention(C(x[:, :8]), C(x[:, 8:]), C(x[:, :8]), 2),
                     R.attention(C(fx[:, :8]), C(fx[:, 8:]), C(fx[:, :8]), 2))


def subnormal_cases():
    rng = np.random.default_rng(5)
    x = subnormal_inputs(rng, 17, 33)
    w = subnormal_inputs(rng, 33, 8)
    a, b = tiny_scale_pair(rng, 13, 70, 16)
    wide = (np.tile(np.float32([0.0, -95.0, -100.0, -103.0, -87.2]), (5, 3))
            + np.float32(rng.standard_normal((5, 15))))
    q = subnormal_inputs(rng, 12, 16)
    ids = np.array([3, 0, 5], dtype=np.int32)
    return [
        ("matmul subnormal inputs", lambda m: m.matmul(x, w)),
        ("matmul blocked subnormal products", lambda m: m.matmul(a, b)),
        ("matmul naive subnormal products", lambda m: m.matmul(a, b, kernel="naive")
         if m is not R else m.matmul(a, b)),
        ("add cancelling", lambda m: m.add(x, -x + np.float32(2.0**-149))),
        ("bias_add", lambda m: m.bias_add(x, x[1])),
        ("relu", lambda m: m.relu(x)),
        ("gelu", lambda m: m.gelu(np.concatenate([x.ravel(), np.float32([1.3e-38, -1.3e-38])]))),
        ("exp", lambda m: m.exp(np.concatenate([x.ravel(), np.float32([-87.0, -86.9, -80.0])]))),
        ("softmax wide logits", lambda m: m.softmax(wide)),
        ("softmax subnormal inputs", lambda m: m.softmax(x)),
        ("layernorm", lambda m: m.layernorm(x, x[0], x[2])),
        ("attention", lambda m: m.attention(q[:, :8] * np.float32(1e-19), q[:, 8:] * np.float32(1e-19),
                                            C(q[:, :8]), 2)),
        ("embedding", lambda m: m.embedding(ids, x[:6], x[6:10])),
        ("sample", lambda m: m.sample(np.abs(np.concatenate([wide * 0 + 1e-40, np.abs(x[:5, :15])])),
                                      7)),
    ]


SUBNORMAL_CASES = subnormal_cases()


@pytest.mark.parametrize("name,call", SUBNORMAL_CASES, ids=[c[0] for c in SUBNORMAL_CASES])
def test_webgpu_equals_reference_on_subnormal_producing_inputs(gpu, name, call):
    assert same_bits(call(gpu), call(R))
