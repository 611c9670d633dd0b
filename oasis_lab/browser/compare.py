"""Three-way bitwise comparison: the browser (Chromium WebGPU), wgpu-py and the numpy references.

Whitepaper section 5: an honest provider loses a dispute on one flipped bit, so a browser
provider is only safe if its runtime computes the referee's bits. :func:`kernel_table` runs
every kernel case of :func:`oasis_lab.gpu.determinism.kernel_cases` (ordinary inputs and
inputs built to produce subnormals) on the three backends; :func:`three_way` compares a whole
model's traces node by node (bitwise, else the largest distance in ulp).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.browser.provider import BrowserProvider
from oasis_lab.gpu import model as M
from oasis_lab.gpu import reference as R
from oasis_lab.gpu.determinism import kernel_cases, op_model, ulp_distance

__all__ = ["BACKEND_ORDER", "kernel_table", "max_ulp", "same_bits", "three_way", "traces"]

#: Column order of the tables: the browser, wgpu-py, the numpy references.
BACKEND_ORDER = ("browser", "webgpu", "numpy")


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Same dtype, shape and bytes."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def max_ulp(a: np.ndarray, b: np.ndarray) -> float:
    """Largest elementwise distance (float32 ulp; integers: absolute), 0 when equal or empty,
    NaN when dtypes or shapes differ."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return float("nan")
    if same_bits(a, b) or a.size == 0:
        return 0.0
    return float(ulp_distance(a, b).max())


def _row(outs: Mapping[str, np.ndarray]) -> dict[str, Any]:
    b, w, n = (outs[k] for k in BACKEND_ORDER)
    return {
        "browser=webgpu": same_bits(b, w),
        "browser=numpy": same_bits(b, n),
        "webgpu=numpy": same_bits(w, n),
        "max_ulp browser-numpy": max_ulp(b, n),
        "max_ulp webgpu-numpy": max_ulp(w, n),
    }


def kernel_table(provider: BrowserProvider, seed: int = 0, *, subnormal: bool = True) -> pd.DataFrame:
    """Every kernel case on the browser, wgpu-py and numpy, compared bit for bit.

    Parameters
    ----------
    provider : BrowserProvider
        A started provider (the browser column).
    seed : int
        Seed of the cases' inputs.
    subnormal : bool
        Include the subnormal-producing cases.

    Returns
    -------
    DataFrame
        ``case, kernel, browser=webgpu, browser=numpy, webgpu=numpy, max_ulp ...``.
    """
    from oasis_lab.gpu import ops

    if not isinstance(provider, BrowserProvider):
        raise TypeError(f"provider must be a BrowserProvider, got {type(provider).__name__}")
    rows = []
    for name, kernel, call in kernel_cases(seed, subnormal=subnormal):
        outs = {"browser": call(provider.ops), "webgpu": call(ops), "numpy": call(R)}
        rows.append({"case": name, "kernel": kernel, **_row(outs)})
    return pd.DataFrame(rows)


def _resolve(target: Any, inputs: Mapping[str, np.ndarray] | None, seed: int) -> tuple[M.Model, dict]:
    if isinstance(target, str):
        if target in M.MODEL_NAMES:
            model = M.load_model(target)
            feed = M.example_inputs(model, seed)
        elif target in M.OPS:
            model, feed = op_model(target, seed)
        else:
            raise ValueError(f"target = {target!r} is neither a model {list(M.MODEL_NAMES)} "
                             f"nor an op {sorted(M.OPS)}")
    elif isinstance(target, M.Model):
        model = target
        feed = M.example_inputs(model, seed) if inputs is None else {}
    else:
        raise TypeError(f"target must be a Model or a name, got {type(target).__name__}")
    return model, dict(feed if inputs is None else inputs)


def traces(provider: BrowserProvider, target: Any, inputs: Mapping[str, np.ndarray] | None = None,
           seed: int = 0) -> dict[str, M.Trace]:
    """The traces of ``target`` (model, model name or op name) on the three backends."""
    model, feed = _resolve(target, inputs, seed)
    return {
        "browser": provider.run(model, feed, seed=seed),
        "webgpu": M.run(model, feed, backend="webgpu", seed=seed),
        "numpy": M.run(model, feed, backend="numpy", seed=seed),
    }


def three_way(provider: BrowserProvider, target: Any, inputs: Mapping[str, np.ndarray] | None = None,
              seed: int = 0) -> pd.DataFrame:
    """Node-by-node comparison of one model's traces on the three backends.

    Returns
    -------
    DataFrame
        One row per node: ``node, op, digest`` (browser, first 16 hex digits), the three
        pairwise bitwise equalities and the largest ulp distances to numpy.
    """
    model, feed = _resolve(target, inputs, seed)
    tr = traces(provider, model, feed, seed)
    rows = []
    for i, node in enumerate(model.nodes):
        outs = {k: tr[k].outputs[i] for k in BACKEND_ORDER}
        rows.append({"node": node.name, "op": node.op,
                     "digest": M.array_digest(outs["browser"])[:16], **_row(outs)})
    return pd.DataFrame(rows)
