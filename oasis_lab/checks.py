"""Boundary checks shared by every layer: one clear error per bad argument.

Every public entry point validates its scalar and array arguments here before any work
starts, so a bad input gives one ``TypeError``/``ValueError`` that names the argument and the
bad value (never a numpy traceback from deep inside, never a silent cast).

Every check takes ``(name, value, ...)`` and returns the value (normalised: an ``int`` for an
integer, a ``tuple`` for a sequence), so a configuration class states its fields' checks as one
table, ``field -> check`` (:data:`FieldCheck`, e.g. ``partial(check_int, minimum=1)``), checked
by :func:`check_fields` in its ``__post_init__``; only the rules that tie fields together are
written out after it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from numbers import Integral, Real
from typing import Any

import numpy as np

__all__ = [
    "FieldCheck",
    "as_given",
    "check_array",
    "check_bool",
    "check_choice",
    "check_fields",
    "check_fraction",
    "check_instance",
    "check_int",
    "check_ints",
    "check_memory",
    "check_names",
    "check_not_masked",
    "check_optional",
    "check_real",
    "check_reals",
    "physical_memory",
]

#: One field's check in a configuration's table: called as ``check(name, value)``, it returns
#: the value to keep (normalised) or raises ``TypeError``/``ValueError`` naming ``name``.
FieldCheck = Callable[[str, Any], Any]


def check_real(
    name: str,
    value: Any,
    *,
    positive: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float:
    """Return ``value`` as a finite float, or raise naming the parameter ``name``.

    Parameters
    ----------
    name : str
        The argument's name, quoted in the error.
    value : Any
        A real number (``bool`` is refused; numpy scalars are accepted).
    positive : bool, default False
        Require ``value > 0``.
    minimum, maximum : float, optional
        Inclusive bounds.

    Raises
    ------
    TypeError
        ``value`` is not a real number.
    ValueError
        ``value`` is NaN or infinite, or outside the bounds.

    Examples
    --------
    >>> check_real("fee", 0.25)
    0.25
    >>> check_real("fee", float("nan"))
    Traceback (most recent call last):
    ...
    ValueError: fee = nan must be finite
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    try:
        x = float(value)
    except OverflowError:  # an int beyond float's range
        raise ValueError(f"{name} = {value!r} must be finite") from None
    if not math.isfinite(x):
        raise ValueError(f"{name} = {value!r} must be finite{' and > 0' if positive else ''}")
    if positive and x <= 0:
        raise ValueError(f"{name} = {value!r} must be finite and > 0")
    return _within(name, repr(value), x, minimum, maximum)


def _within(name: str, shown: str, x: Any, minimum: Any, maximum: Any) -> Any:
    """``x`` if it lies in ``[minimum, maximum]`` (either may be None), else the one error."""
    if minimum is not None and x < minimum:
        raise ValueError(f"{name} = {shown} must be >= {minimum}")
    if maximum is not None and x > maximum:
        raise ValueError(f"{name} = {shown} must be <= {maximum}")
    return x


def check_fraction(name: str, value: Any) -> float:
    """Return ``value`` as a float in ``[0, 1]``, or raise naming ``name``.

    Examples
    --------
    >>> check_fraction("slash_fraction", 1)
    1.0
    """
    x = check_real(name, value)
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"{name} = {value!r} must be in [0, 1]")
    return x


def check_int(name: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as a Python ``int`` if it is an integer in ``[minimum, maximum]``.

    ``bool`` is refused (``True`` is not a count); numpy integers are accepted, so a uint64
    cannot wrap: the bound is checked on the exact Python integer.

    Raises
    ------
    TypeError
        ``value`` is not an integer.
    ValueError
        ``value`` is outside the bounds; the message names ``name`` and the bound.

    Examples
    --------
    >>> check_int("arity", 3, 2)
    3
    >>> check_int("arity", 1, 2)
    Traceback (most recent call last):
    ...
    ValueError: arity = 1 must be >= 2
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    v = int(value)
    return _within(name, str(v), v, minimum, maximum)


def check_not_masked(name: str, x: Any) -> Any:
    """Return ``x`` unless it is a masked array, whose mask ``np.asarray`` would silently drop.

    Raises
    ------
    TypeError
        ``x`` is a ``numpy.ma.MaskedArray``.

    Examples
    --------
    >>> check_not_masked("value", np.ma.masked_array([1.0, 2.0], mask=[False, True]))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: value must be a plain array, got a masked array (its mask would be ignored); ...
    """
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(
            f"{name} must be a plain array, got a masked array (its mask would be ignored); "
            f"pass {name}.filled(...) or drop the masked entries"
        )
    return x


def check_array(
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
        ``x`` is not an ndarray (masked arrays included: their mask would be dropped) or has
        another dtype (no silent casts: a float64 array in a float32 kernel would change the
        bits), including ``dtype`` in non-native byte order (kernels read the raw bytes, so a
        big-endian ``>f4`` array would be misread).
    ValueError
        Wrong number of dimensions, not C-contiguous, or (``finite``) a NaN/inf entry.
    """
    dtypes = dtype if isinstance(dtype, tuple) else (dtype,)
    check_not_masked(name, x)
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


def physical_memory() -> int:
    """Bytes of physical memory of this machine (``2**63 - 1`` when the OS does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # not POSIX: no limit known
        return 2**63 - 1


def check_memory(what: str, n_bytes: int | float) -> None:
    """Refuse a computation whose arrays need more than this machine's physical memory.

    Checked before allocating, so a size that cannot fit gives one clear error instead of a
    ``MemoryError`` (or an ``OverflowError`` from numpy, or the machine swapping) deep inside.

    Parameters
    ----------
    what : str
        The arguments responsible, with their values, e.g. ``"--tasks = 10**12"``.
    n_bytes : int or float
        Estimated memory the computation needs (Python ints do not overflow).

    Raises
    ------
    ValueError
        ``n_bytes`` exceeds the physical memory (the limit is named in the message).

    Examples
    --------
    >>> check_memory("n = 10", 80)
    >>> check_memory("n = 10**30", 8 * 10**30)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: n = 10**30 needs about 7.45e+21 GiB of memory; this machine has ... GiB (the limit)
    """
    limit = physical_memory()
    if n_bytes > limit:
        raise ValueError(
            f"{what} needs about {float(n_bytes) / 2**30:.3g} GiB of memory; this machine has "
            f"{limit / 2**30:.3g} GiB (the limit)"
        )


def check_choice(name: str, value: Any, choices: Any) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise naming ``name``.

    Examples
    --------
    >>> check_choice("scenario", "balanced", ("balanced", "scarce_supply"))
    'balanced'
    >>> check_choice("appeal_to", None, (None, "trusted"))  # None only where it is a choice
    """
    if (value is not None and not isinstance(value, str)) or value not in choices:
        raise ValueError(f"{name} = {value!r} must be one of {list(choices)}")
    return value


def check_names(name: str, value: Any, choices: Any, *, empty: bool = False) -> tuple[str, ...]:
    """Return ``value`` as a tuple of names among ``choices``, else raise naming ``name``."""
    if isinstance(value, str) or not isinstance(value, (tuple, list)):
        raise TypeError(f"{name} must be a tuple of names among {list(choices)}, got {value!r}")
    bad = [v for v in value if v not in choices]
    if bad:
        raise ValueError(f"{name} has unknown names {bad}; choose among {list(choices)}")
    if not value and not empty:
        raise ValueError(f"{name} is empty; choose among {list(choices)}")
    return tuple(value)


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool, else raise naming ``name``."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return value


def check_instance(name: str, value: Any, cls: type | tuple[type, ...]) -> Any:
    """Return ``value`` if it is an instance of ``cls``, else raise ``TypeError`` naming ``name``.

    Examples
    --------
    >>> check_instance("auction", 3, dict)
    Traceback (most recent call last):
    ...
    TypeError: auction must be a dict, got int
    """
    if not isinstance(value, cls):
        want = " or ".join(c.__name__ for c in (cls if isinstance(cls, tuple) else (cls,)))
        article = "an" if want[:1].lower() in "aeiou" else "a"
        raise TypeError(f"{name} must be {article} {want}, got {type(value).__name__}")
    return value


def check_optional(name: str, value: Any, check: FieldCheck) -> Any:
    """``None``, or ``value`` as ``check(name, value)`` returns it.

    Examples
    --------
    >>> from functools import partial
    >>> check_optional("n_providers", None, partial(check_int, minimum=1)) is None
    True
    """
    return None if value is None else check(name, value)


def check_reals(
    name: str, value: Any, *, minimum: float | None = None, maximum: float | None = None, empty: bool = True
) -> tuple[float, ...]:
    """Return ``value`` as a tuple of finite floats (each in ``[minimum, maximum]``), naming the bad
    element.

    Raises
    ------
    TypeError
        ``value`` is a string or not a sequence, or an element is not a real number.
    ValueError
        An element is not finite or outside the bounds (``name[k] = ...``), or ``value`` is
        empty where ``empty`` is False.

    Examples
    --------
    >>> check_reals("psi_weights", [1, 2.5])
    (1.0, 2.5)
    >>> check_reals("psi_weights", (1.0, -2.0), minimum=0)
    Traceback (most recent call last):
    ...
    ValueError: psi_weights[1] = -2.0 must be >= 0
    """
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__") or not hasattr(value, "__len__"):
        raise TypeError(f"{name} must be a sequence of numbers, got {value!r}")
    if not empty and len(value) == 0:
        raise ValueError(f"{name} is empty; it needs at least one number")
    return tuple(check_real(f"{name}[{k}]", v, minimum=minimum, maximum=maximum) for k, v in enumerate(value))


def check_ints(
    name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None, empty: bool = False
) -> tuple[int, ...]:
    """Return ``value`` as a tuple of Python ints (each in ``[minimum, maximum]``), naming the bad
    element; empty only where ``empty``.

    Examples
    --------
    >>> check_ints("max_ulps", [1, 4], minimum=1)
    (1, 4)
    >>> check_ints("max_ulps", (1, 0), minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: max_ulps[1] = 0 must be >= 1
    """
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__") or not hasattr(value, "__len__"):
        raise TypeError(f"{name} must be a sequence of integers, got {value!r}")
    if not empty and len(value) == 0:
        raise ValueError(f"{name} is empty; it needs at least one integer")
    return tuple(check_int(f"{name}[{k}]", v, minimum, maximum) for k, v in enumerate(value))


def as_given(check: FieldCheck) -> FieldCheck:
    """``check`` that keeps the value as it was given (checked, not normalised).

    For fields whose written form is part of a configuration's identity: ``alpha = 2`` stays
    the int ``2`` (a float field normalised to ``2.0`` would print, hash and store differently).
    """

    def checked(name: str, value: Any) -> Any:
        check(name, value)
        return value

    return checked


def check_fields(obj: Any, checks: Mapping[str, FieldCheck], *, prefix: str = "") -> None:
    """Check the fields of ``obj`` (a frozen dataclass) named in ``checks``, in the table's order,
    and keep each normalised value (``object.__setattr__``: the dataclass is frozen).

    Parameters
    ----------
    obj : dataclass instance
        The configuration being built (call from its ``__post_init__``).
    checks : mapping of str to FieldCheck
        ``field -> check``; each is called as ``check(prefix + field, value)``.
    prefix : str
        Put before each field's name in the messages (e.g. ``"extra provider 'a' "``).

    Raises
    ------
    TypeError, ValueError
        The first field that fails, named (one error, before any work starts).

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> from functools import partial
    >>> @dataclass(frozen=True)
    ... class Run:
    ...     rounds: int = 10
    ...     p_user: float = 0.05
    ...     def __post_init__(self):
    ...         check_fields(self, {"rounds": partial(check_int, minimum=1), "p_user": check_fraction})
    >>> Run(p_user=0)
    Run(rounds=10, p_user=0.0)
    >>> Run(rounds=0)
    Traceback (most recent call last):
    ...
    ValueError: rounds = 0 must be >= 1
    """
    for field, check in checks.items():
        object.__setattr__(obj, field, check(prefix + field, getattr(obj, field)))
