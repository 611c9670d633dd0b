"""Sweep throughput: serial vs a dask LocalCluster, and the scheduler's overhead per point.

A synthetic experiment burns a fixed amount of CPU (SHA-256 rounds calibrated to
``--seconds`` on this machine, single-threaded) and returns one row, so the benchmark measures
the sweep machinery, not an auction. Measured side by side in one run:

- ``serial``: ``sweep(..., client="serial")``, in this process;
- ``LocalCluster``: ``sweep`` on a LocalCluster of ``--workers`` single-threaded processes
  (startup timed separately), results written to a Parquet dataset as points finish;
- overhead per point: the same sweep of a zero-work experiment (``--overhead-points`` points)
  on the cluster and serially: the time each point costs beyond its work (submit, schedule,
  ship the frame back, write its Parquet file).

The issue's setting is ``--points 200 --seconds 1`` (about 200 s serially); the defaults are
smaller so that ``make bench`` stays short.

    python benchmarks/bench_sweep.py [--points 40] [--seconds 0.25] [--workers N]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from oasis_lab.experiments.base import ExperimentConfig
from oasis_lab.experiments.sweep import local_client, sweep
from oasis_lab.timing import best_of


@dataclass(frozen=True)
class Busy(ExperimentConfig):
    """``rounds`` SHA-256 rounds seeded by ``(x, seed)``: fixed work, deterministic output."""

    name = "bench_busy"
    x: int = 0
    rounds: int = 0

    def _run(self, seed: int) -> pd.DataFrame:
        digest = f"{self.x}:{seed}".encode()
        for _ in range(self.rounds):
            digest = hashlib.sha256(digest).digest()
        return pd.DataFrame({"digest": [digest.hex()[:16]]})


def calibrate(seconds: float) -> int:
    """SHA-256 rounds that take ``seconds`` here (best of 3 probes)."""
    probe = 20000
    best, _ = best_of(lambda: Busy(rounds=probe)._run(0), 3)
    return max(1, int(probe * seconds / best))


def timed(fn) -> tuple[float, pd.DataFrame]:
    """Seconds of one call of ``fn`` (a sweep runs once: a repeat would resume it) and its value."""
    return best_of(fn, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--points", type=int, default=40, help="grid points (the issue: 200)")
    ap.add_argument("--seconds", type=float, default=0.25, help="work per point, seconds (the issue: 1)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="LocalCluster workers (all cores)")
    ap.add_argument("--overhead-points", type=int, default=200, help="zero-work points for the overhead")
    args = ap.parse_args()

    rounds = calibrate(args.seconds)
    grid = {"x": list(range(args.points))}
    zero = {"x": list(range(args.overhead_points))}
    tmp = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
    try:
        t_serial, serial = timed(
            lambda: sweep(Busy(rounds=rounds), grid, 1, client="serial", out=tmp / "serial", progress=False)
        )
        t_start, client = timed(lambda: local_client(args.workers))
        try:
            t_dask, parallel = timed(
                lambda: sweep(Busy(rounds=rounds), grid, 1, client=client, out=tmp / "dask", progress=False)
            )
            t_dask0, _ = timed(lambda: sweep(Busy(), zero, 1, client=client, out=tmp / "dask0", progress=False))
            t_resume, _ = timed(
                lambda: sweep(Busy(rounds=rounds), grid, 1, client=client, out=tmp / "dask", progress=False)
            )
        finally:
            cluster = client.cluster
            client.close()
            cluster.close()
        t_serial0, _ = timed(lambda: sweep(Busy(), zero, 1, client="serial", out=tmp / "serial0", progress=False))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert parallel.equals(serial), "the LocalCluster sweep differs from the serial one"

    n, w = args.points, args.workers
    print(
        f"{n}-point sweep of a {args.seconds:g} s experiment ({rounds} SHA-256 rounds), "
        f"{w} workers, {os.cpu_count()} cores"
    )
    rows = [
        ("serial", t_serial, t_serial / n, 1.0),
        (f"LocalCluster ({w} workers), sweep only", t_dask, t_dask / n, t_serial / t_dask),
        (
            f"LocalCluster incl. startup ({t_start:.1f} s)",
            t_start + t_dask,
            (t_start + t_dask) / n,
            t_serial / (t_start + t_dask),
        ),
        ("resume: every point already written", t_resume, t_resume / n, float("nan")),
    ]
    table = pd.DataFrame(rows, columns=["mode", "wall s", "s per point", "speed-up vs serial"])
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.3f}"))
    ideal = t_serial / min(w, n)
    print(f"ideal parallel time {ideal:.2f} s; parallel efficiency {ideal / t_dask:.0%}")
    m = args.overhead_points
    print(
        f"overhead per point ({m} zero-work points): LocalCluster {1e3 * t_dask0 / m:.1f} ms, "
        f"serial {1e3 * t_serial0 / m:.1f} ms (run + Parquet write), "
        f"scheduler share {1e3 * (t_dask0 - t_serial0) / m:.1f} ms"
    )


if __name__ == "__main__":
    main()
