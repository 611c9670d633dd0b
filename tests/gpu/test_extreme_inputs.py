"""Inputs that used to slip through (issue 9 item 6): eps that vanishes in float32, masked arrays.

Both checks run before any device work, so these tests need no WebGPU adapter: they call the
ops module and its numpy twin alike.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from oasis_lab.gpu import ops
from oasis_lab.gpu import reference as R

MODULES = pytest.mark.parametrize("mod", [R, ops], ids=["reference", "ops"])


def _ln_args():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 8)).astype(np.float32)
    return x, np.ones(8, np.float32), np.zeros(8, np.float32)


@MODULES
@pytest.mark.parametrize("eps, becomes", [(1e-50, "0.0"), (1e-40, "9.99994610111476e-41"),
                                         (2.0**-126, "1.1754943508222875e-38"), (1e39, "inf")])
def test_layernorm_eps_is_validated_in_float32(mod, eps, becomes) -> None:
    """Below 2^-125 the subnormal policy would flush eps to 0 (then 0/0 on a constant row)."""
    with pytest.raises(ValueError, match=rf"eps = {re.escape(repr(eps))} becomes {becomes} in float32: "
                                         r"it must be a float32 the subnormal policy keeps"):
        mod.layernorm(*_ln_args(), eps)


def test_smallest_eps_the_policy_keeps_keeps_a_constant_row_finite() -> None:
    x = np.full((2, 8), 3.0, np.float32)  # variance 0: eps alone keeps 1/sqrt(var + eps) finite
    y = R.layernorm(x, np.ones(8, np.float32), np.zeros(8, np.float32), 2.0**-125)
    assert np.isfinite(y).all()


def _masked(a: np.ndarray) -> np.ma.MaskedArray:
    m = np.ma.masked_array(a, mask=np.zeros(a.shape, bool))
    m.mask.flat[0] = True
    return m


_F = np.ones((4, 4), np.float32)
_V = np.ones(4, np.float32)
_I8 = np.ones((4, 4), np.int8)
CALLS = {
    "matmul": lambda mod, a: mod.matmul(a, _F),
    "bias_add": lambda mod, a: mod.bias_add(a, _V),
    "add": lambda mod, a: mod.add(a, _F),
    "relu": lambda mod, a: mod.relu(a),
    "gelu": lambda mod, a: mod.gelu(a),
    "exp": lambda mod, a: mod.exp(a),
    "softmax": lambda mod, a: mod.softmax(a),
    "layernorm": lambda mod, a: mod.layernorm(a, _V, _V),
    "attention": lambda mod, a: mod.attention(a, _F, _F, 2),
    "embedding": lambda mod, a: mod.embedding(np.zeros(2, np.int32), a),
    "sample": lambda mod, a: mod.sample(a / 4, 0),
    "int8_matmul": lambda mod, a: mod.int8_matmul(a.astype(np.int8), _I8),
}


@MODULES
@pytest.mark.parametrize("op", sorted(CALLS))
def test_masked_arrays_are_refused_by_every_op(mod, op) -> None:
    with pytest.raises(TypeError, match="masked array"):
        CALLS[op](mod, _masked(_F.copy()))
