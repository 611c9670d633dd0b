"""Wall-clock timing shared by the benchmarks and the provider benchmark.

The machines are shared and noisy, so every measurement is the minimum over repeats.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["best_of"]

T = TypeVar("T")


def best_of(fn: Callable[[], T], repeats: int = 3, *, warmup: bool = False) -> tuple[float, T]:
    """Run ``fn`` ``repeats`` times; return the fastest wall-clock seconds and the last value.

    Parameters
    ----------
    fn : callable
        Takes no argument.
    repeats : int
        Timed runs, >= 1.
    warmup : bool
        Make one untimed call first (compilation, caches, pipeline creation).
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats = {repeats!r} must be an int >= 1")
    if warmup:
        fn()
    best = float("inf")
    value: T
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value
