"""Boundary checks shared by the numpy reference and the WebGPU ops (one error per bad input)."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np

__all__ = ["array", "finite_float", "integer"]


def array(
    name: str,
    x: Any,
    dtype: type | tuple[type, ...],
    ndim: int | None = None,
    *,
    finite: bool = True,
) -> np.ndarray:
    """Return ``x`` unchanged if it is a C-contiguous ndarray of ``dtype`` (and ``ndim``), else raise.

    Raises
    ------
    TypeError
        ``x`` is not an ndarray or has another dtype (no silent casts: a float64 array in a
        float32 kernel would change the bits), including ``dtype`` in non-native byte order
        (the kernels read the raw bytes, so a big-endian ``>f4`` array would be misread).
    ValueError
        Wrong number of dimensions, not C-contiguous, or (``finite``) a NaN/inf entry.
    """
    dtypes = dtype if isinstance(dtype, tuple) else (dtype,)
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}")
    if x.dtype not in [np.dtype(d) for d in dtypes]:  # np.dtype(d) is native byte order
        want = " or ".join(np.dtype(d).name for d in dtypes)
        swapped = "" if x.dtype.isnative else " in non-native byte order"
        raise TypeError(f"{name} must have dtype {want}, got {x.dtype}{swapped}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {x.shape}")
    if not x.flags.c_contiguous:
        raise ValueError(
            f"{name} is not C-contiguous (strides {x.strides}); pass np.ascontiguousarray({name})"
        )
    if finite and x.dtype.kind == "f" and x.size and not np.isfinite(x).all():
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
        raise ValueError(f"{name}[{', '.join(map(str, idx))}] = {x[idx]} must be finite")
    return x


def finite_float(name: str, value: Any, *, positive: bool = False) -> float:
    """Return ``value`` as a float if it is a finite real (and ``> 0`` when ``positive``)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    v = float(value)
    if not np.isfinite(v) or (positive and v <= 0):
        raise ValueError(f"{name} = {value!r} must be finite{' and > 0' if positive else ''}")
    return v


def integer(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    """Return ``value`` as an int if it is an integer in ``[lo, hi]``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    v = int(value)
    if lo is not None and v < lo:
        raise ValueError(f"{name} = {v} must be >= {lo}")
    if hi is not None and v > hi:
        raise ValueError(f"{name} = {v} must be <= {hi}")
    return v
