"""Timing shared by the benchmarks and the provider benchmark (wall clock or process CPU time).

The machines are shared and noisy, so every measurement is the minimum over repeats.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["best_of", "machine"]

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
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats = {repeats!r} must be an int >= 1")
    if warmup:
        fn()
    best = float("inf")
    value: T
    for _ in range(repeats):
        start = clock()
        value = fn()
        best = min(best, clock() - start)
    return best, value


def machine() -> str:
    """The machine a benchmark ran on: CPU model (``lscpu``), cores and load average."""
    cpu = platform.processor() or "unknown CPU"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        cpu = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name")),
                   cpu)
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return f"{cpu}, {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
