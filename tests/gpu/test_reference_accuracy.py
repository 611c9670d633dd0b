"""Accuracy of every op against float64, within the bounds documented in reference.py.

The kernels return the same bits as these numpy twins (test_webgpu_ops.py), so the bounds hold
for the kernels too.
"""

from __future__ import annotations

import numpy as np
import pytest

from oasis_lab.gpu import mathlib
from oasis_lab.gpu import reference as R

U = 2.0**-24


def ulp(y64: np.ndarray) -> np.ndarray:
    return np.spacing(np.abs(y64).astype(np.float32)).astype(np.float64)


def test_exp_is_within_its_documented_ulp_bound():
    x = np.concatenate([np.linspace(-86.64, 88.7, 2_000_001), np.linspace(-1, 1, 200_001)])  # above the flush
    x = x.astype(np.float32)
    y64 = np.exp(x.astype(np.float64))
    err = np.abs(mathlib.exp(x) - y64) / ulp(y64)
    assert err.max() <= mathlib.EXP_MAX_ULP
    assert err.max() > 0.5  # not correctly rounded: the bound is not vacuous


def test_exp_special_values():
    x = np.array([0.0, -0.0, 1.0, -87.0, 88.8, 90.0, 1e30, -1e30], np.float32)
    y = mathlib.exp(x)
    assert y[0] == 1.0 and y[1] == 1.0
    assert abs(float(y[2]) - np.e) <= 2 * U * np.e
    assert y[3] == 0.0 and np.isinf(y[4]) and np.isinf(y[5]) and np.isinf(y[6]) and y[7] == 0.0


def test_gelu_is_within_its_documented_bound():
    x = np.linspace(-12, 12, 1_000_001).astype(np.float32)
    xd = x.astype(np.float64)
    t = 2 * np.sqrt(2 / np.pi) * (xd + 0.044715 * xd**3)
    y64 = xd / (1 + np.exp(-t))  # 0.5 x (1 + tanh(t/2)) without cancellation
    err = np.abs(mathlib.gelu(x) - y64)
    assert (err <= (4 + 3 * np.abs(t)) * ulp(y64) + 3e-37).all()
    # the tanh form of GPT-2 is the same function
    tanh_form = 0.5 * xd * (1 + np.tanh(np.sqrt(2 / np.pi) * (xd + 0.044715 * xd**3)))
    np.testing.assert_allclose(mathlib.gelu(x), tanh_form, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("m,k,n", [(5, 1, 3), (33, 257, 17), (8, 2000, 8)])
def test_matmul_within_the_recursive_summation_bound(m, k, n):
    rng = np.random.default_rng(k)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    bound = k * U * (np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64))
    err = np.abs(R.matmul(a, b) - exact)
    assert (err <= bound).all()
    assert err.max() > 0  # float32 really rounds


def test_matmul_known_answer():
    a = np.array([[1, 2], [3, 4]], np.float32)
    b = np.array([[5, 6], [7, 8]], np.float32)
    assert np.array_equal(R.matmul(a, b), [[19, 22], [43, 50]])
    # order matters: (1e8 + 1) - 1e8 in float32 is 0, summed in order k = 0, 1, 2
    a = np.array([[1e8, 1.0, -1e8]], np.float32)
    assert R.matmul(a, np.ones((3, 1), np.float32))[0, 0] == 0.0


def test_bias_add_add_relu_embedding_are_exactly_rounded():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 30)).astype(np.float32)
    b = rng.standard_normal(30).astype(np.float32)
    assert np.array_equal(R.bias_add(x, b), (x.astype(np.float64) + b).astype(np.float32))
    assert np.array_equal(R.add(x, x), 2 * x)
    assert np.array_equal(R.relu(x), np.maximum(x, 0)) and not np.signbit(R.relu(-x * 0)).any()
    ids = rng.integers(0, 50, 40).astype(np.int32)
    assert np.array_equal(R.embedding(ids, x), x[ids])  # a lookup: exact
    pos = rng.standard_normal((45, 30)).astype(np.float32)
    with_pos = (x[ids].astype(np.float64) + pos[:40]).astype(np.float32)  # one rounding: 0.5 ulp
    assert np.array_equal(R.embedding(ids, x, pos), with_pos)


def test_exp_is_zero_exactly_below_its_documented_flush_threshold():
    below = np.linspace(-200.0, mathlib.EXP_FLUSH_BELOW, 100_001).astype(np.float32)
    assert (mathlib.exp(below) == 0).all()
    above = np.linspace(-86.643, -80.0, 100_001).astype(np.float32)  # results >= 2^-125
    y64 = np.exp(above.astype(np.float64))
    assert (np.abs(mathlib.exp(above) - y64) <= mathlib.EXP_MAX_ULP * ulp(y64)).all()


def test_softmax_within_its_bound():
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((40, 300)) * 5).astype(np.float32)
    xd = x.astype(np.float64)
    e = np.exp(xd - xd.max(1, keepdims=True))
    y64 = e / e.sum(1, keepdims=True)
    c = x.shape[1]
    spread = np.abs(xd - xd.max(1, keepdims=True))
    assert (np.abs(R.softmax(x) - y64) <= (c + 4 + 2 * spread) * U * y64 + 1e-45).all()
    np.testing.assert_allclose(R.softmax(x).sum(1), 1.0, rtol=c * U)


def test_layernorm_within_its_bound():
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((40, 128)) * 3 + 1).astype(np.float32)
    g, b = rng.standard_normal(128).astype(np.float32), rng.standard_normal(128).astype(np.float32)
    xd = x.astype(np.float64)
    mu = xd.mean(1, keepdims=True)
    sd = np.sqrt(xd.var(1, keepdims=True) + 1e-5)
    y64 = (xd - mu) / sd * g + b
    bound = (2 * 128 + 8) * U * (np.abs(xd - mu) / sd * np.abs(g) + 1) + ulp(b)
    assert (np.abs(R.layernorm(x, g, b, 1e-5) - y64) <= bound).all()


def test_attention_within_its_bound():
    rng = np.random.default_rng(3)
    t, d, h = 40, 64, 4
    q, k, v = (rng.standard_normal((t, d)).astype(np.float32) for _ in range(3))
    dh = d // h
    out = np.zeros((t, d))
    mask = np.tril(np.ones((t, t), bool))
    smax = 0.0
    for j in range(h):
        sl = slice(j * dh, (j + 1) * dh)
        s = q[:, sl].astype(np.float64) @ k[:, sl].T.astype(np.float64) / np.sqrt(dh)
        smax = max(smax, np.abs(s).max())
        e = np.where(mask, np.exp(s - np.where(mask, s, -np.inf).max(1, keepdims=True)), 0)
        out[:, sl] = e / e.sum(1, keepdims=True) @ v[:, sl]
    bound = (dh + t + 8) * U * (1 + smax) * np.abs(v).max() * 4
    assert np.abs(R.attention(q, k, v, h) - out).max() <= bound


def test_int8_requant_known_answer():
    # multiplier 2^14 / 2^17 = 1/8, halves rounded up: 40 -> 5, -36 -> -4.5 -> -4, -44 -> -5.5 -> -5,
    # 1600 -> 200 -> clamped to 127
    a = np.array([[40], [-36], [-44], [100]], np.int8)
    b = np.array([[1, 16]], np.int8)
    got = R.int8_matmul_requant(a, b, np.zeros(2, np.int32), 2**14, 17)
    assert got[:, 0].tolist() == [5, -4, -5, 13] and got[3, 1] == 127 and got[2, 1] == -88
    relu = R.int8_matmul_requant(a, b, np.array([0, 8], np.int32), 2**14, 17, relu=True)
    assert relu[:, 0].tolist() == [5, 0, 0, 13] and relu[0, 1] == 81
