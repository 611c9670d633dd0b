"""Timing shared by the benchmarks and the provider benchmark (wall clock or process CPU time).

The machines are shared and noisy, so every measurement is the minimum over repeats.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

__all__ = ["best_of", "best_of_each", "machine"]

T = TypeVar("T")


def best_of(
    fn: Callable[[], T],
    repeats: int = 3,
    *,
    warmup: bool = False,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[float, T]:
    """Run ``fn`` ``repeats`` times; return the fastest seconds on ``clock`` and the last value.

    Parameters
    ----------
    fn : callable
        Takes no argument.
    repeats : int
        Timed runs, >= 1.
    warmup : bool
        Make one untimed call first (compilation, caches, pipeline creation).
    clock : callable
        ``time.perf_counter`` (wall clock, the default) or ``time.process_time`` (this process's
        CPU seconds: on a shared machine they do not count the time other processes held the
        cores, for single-threaded work).

    Examples
    --------
    >>> seconds, value = best_of(lambda: sum(range(1000)), 3)
    >>> value, seconds >= 0
    (499500, True)
    """
    _check_repeats(repeats)
    if warmup:
        fn()
    best = float("inf")
    value: T
    for _ in range(repeats):
        start = clock()
        value = fn()
        best = min(best, clock() - start)
    return best, value


def best_of_each(
    fns: Mapping[str, Callable[[], object]],
    repeats: int = 3,
    *,
    warmup: bool = False,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    """The fastest seconds of each callable over ``repeats`` rounds, the callables alternating
    within each round (a ratio measured side by side: a slow spell of the shared machine hits
    every side, not one).

    Parameters are those of :func:`best_of`; ``fns`` maps a name to a callable taking no
    argument. Returns the seconds by name, in the order of ``fns``.

    Examples
    --------
    >>> sorted(best_of_each({"a": lambda: None, "b": lambda: None}, 2))
    ['a', 'b']
    """
    _check_repeats(repeats)
    if warmup:
        for fn in fns.values():
            fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            start = clock()
            fn()
            best[name] = min(best[name], clock() - start)
    return best


def _check_repeats(repeats: object) -> None:
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats = {repeats!r} must be an int >= 1")


def machine() -> str:
    """One line naming where a benchmark ran: CPU model (``/proc/cpuinfo``), the cores this
    process may use, and the load average (1, 5, 15 minutes) now; benchmarks print it at their
    start and end, since the machines are shared.

    >>> "cores" in machine() and "load average" in machine()
    True
    """
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        load = "/".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        load = "unknown"
    return f"{model}, {cores} cores, load average {load}"

