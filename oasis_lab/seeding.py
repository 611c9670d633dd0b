"""One seed, independent random streams per purpose.

An experiment or a simulation is a pure function of ``(config, seed)``. Every random draw it
makes comes from a stream derived here from that one seed with
:class:`numpy.random.SeedSequence`: each *purpose* (arrivals, providers, execution,
challenges, disputes, lotteries, ...) gets a child sequence whose entropy is the root seed
plus a fixed key for the purpose's name, so

- the same ``(seed, purpose, *keys)`` gives the same stream in every process and run;
- different purposes (or keys, such as a round number or a grid point) give statistically
  independent streams, and adding a new purpose never changes the draws of an existing one
  (which is not true of ``SeedSequence.spawn`` counted by position);
- no code reuses a seed for two purposes or touches numpy's global state.

Examples
--------
>>> from oasis_lab.seeding import stream
>>> a = stream(7, "arrivals", 3).random()
>>> b = stream(7, "arrivals", 3).random()
>>> a == b
True
>>> stream(7, "arrivals", 3).random() == stream(7, "arrivals", 4).random()
False
"""

from __future__ import annotations

import hashlib
from numbers import Integral
from typing import Any

import numpy as np

from oasis_lab.checks import check_int

__all__ = [
    "PURPOSES",
    "check_seed",
    "child_seed",
    "generator",
    "seed_sequence",
    "stream",
    "streams",
]

#: The purposes the simulation and the experiments draw from (others are allowed; these are
#: the ones the house uses, listed so that a typo in a caller is easy to spot).
PURPOSES: tuple[str, ...] = (
    "arrivals",
    "providers",
    "execution",
    "challenges",
    "disputes",
    "lotteries",
    "markets",
    "strategies",
    "agents",
)

_MAX_SEED = 2**128 - 1


def check_seed(seed: Any, name: str = "seed") -> int:
    """Return ``seed`` as a Python int in ``[0, 2**128)``, or raise naming ``name``.

    Raises
    ------
    TypeError
        ``seed`` is not an integer (a ``Generator`` or a float is refused: a stream is always
        derived from an integer root seed so that it can be written down and replayed).
    ValueError
        ``seed`` is negative or too large.
    """
    s = check_int(name, seed)  # the type check of every integer argument
    if not 0 <= s <= _MAX_SEED:
        raise ValueError(f"{name} = {s} must be in [0, 2**128 - 1]")
    return s


def _key(part: Any) -> int:
    """A 64-bit integer for one part of a stream's name (str or non-negative int)."""
    if isinstance(part, str):
        return int.from_bytes(hashlib.sha256(part.encode()).digest()[:8], "little")
    if isinstance(part, (bool, np.bool_)) or not isinstance(part, Integral) or int(part) < 0:
        raise TypeError(f"stream keys must be strings or non-negative integers, got {part!r}")
    return int(part)


def seed_sequence(seed: Any, purpose: str, *keys: Any) -> np.random.SeedSequence:
    """The :class:`numpy.random.SeedSequence` of ``purpose`` (and optional ``keys``) under ``seed``.

    Parameters
    ----------
    seed : int
        The experiment's root seed.
    purpose : str
        What the stream is for, e.g. ``"arrivals"``.
    *keys : str or int
        Further names, e.g. a round number or a grid point's index, each giving its own
        independent stream.
    """
    if not isinstance(purpose, str) or not purpose:
        raise TypeError(f"purpose must be a non-empty string, got {purpose!r}")
    root = check_seed(seed)
    return np.random.SeedSequence(entropy=root, spawn_key=tuple(_key(p) for p in (purpose, *keys)))


def stream(seed: Any, purpose: str, *keys: Any) -> np.random.Generator:
    """A fresh :class:`numpy.random.Generator` for ``purpose`` (and ``keys``) under ``seed``."""
    return np.random.default_rng(seed_sequence(seed, purpose, *keys))


def streams(seed: Any, *purposes: str) -> dict[str, np.random.Generator]:
    """One generator per purpose, as a dict: ``streams(seed, "arrivals", "execution")``."""
    return {p: stream(seed, p) for p in purposes}


def generator(seed: Any, *keys: Any) -> np.random.Generator:
    """``np.random.default_rng(seed)`` (or ``default_rng([seed, *keys])``) with the seed checked.

    The one way to seed a generator directly from an integer, for code whose draws predate
    the purpose streams and must keep them (stored test inputs, the shipped models' weights, a
    synthetic graph's FLOPs, a computation's weights, a dispute party's randomness): the
    draws are exactly numpy's for every valid seed, and ``seed`` and each key go through
    :func:`check_seed` (one limit, ``[0, 2**128 - 1]``, for every entry point). New code that
    draws for a purpose should use :func:`stream`.

    Examples
    --------
    >>> import numpy as np
    >>> generator(7).random() == np.random.default_rng(7).random()
    True
    >>> generator(7, 0, 1).random() == np.random.default_rng([7, 0, 1]).random()
    True
    """
    root = check_seed(seed)
    if not keys:
        return np.random.default_rng(root)
    return np.random.default_rng([root, *(check_seed(k, "seed key") for k in keys)])


def child_seed(seed: Any, purpose: str, *keys: Any) -> int:
    """A 64-bit integer seed for code that takes an ``int`` seed (e.g. ``generate_market``).

    Derived from the purpose's sequence, so it is independent of every other purpose's.
    """
    return int(seed_sequence(seed, purpose, *keys).generate_state(1, np.uint64)[0])
