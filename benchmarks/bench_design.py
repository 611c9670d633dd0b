"""Benchmark: a design study (issue 19 item 5) on 1 and 2 Dask workers, side by side.

The learning simulation alone (200 rounds x 1,000 tasks x 100 providers) is
``benchmarks/bench_learning.py``'s.

1. **Design study**: ``data/designs/market.yaml`` (18 settings, 3 objectives, 2 constraints,
   2 scenarios x 3 seeds, 100 trials in batches of 8; each run 20 rounds x 200 tasks x 20
   providers, learning providers and challengers, the exact optimum every 5 rounds), run from
   scratch on a LocalCluster of 1 and of 2 single-threaded worker processes, side by side in
   one run (same trials, checked). Wall seconds include the cluster's start; CPU seconds (this
   process, the workers and their solver processes) are what the study cost whatever else
   shares the cores. Target: under 15 minutes.
2. **Resume**: the last study run again on its folder, in this process: every trial read back.
3. **The search's own cost**: the same study, serially, with each simulation replaced by fixed
   numbers (a hash of the run's config and seed): Optuna's asking and telling, the checks,
   the journal and the Parquet files, without the simulations.

The machine is quoted (CPU model from ``lscpu``, cores, load average before and after): the
2-core machine here is shared, so a loaded run is slower than a quiet one.

    .venv/bin/python benchmarks/bench_design.py [--budget 100] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import warnings

import pandas as pd

from oasis_lab.experiments.design import design_search
from oasis_lab.experiments.design_cli import load_design_file
from oasis_lab.experiments.sweep import close_client, local_client

STUDY_TARGET_S = 15 * 60.0


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return f"{model}, {os.cpu_count()} cores"


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def options(spec: dict) -> dict:
    """The file's optional keys that design_search takes."""
    return {k: spec[k] for k in ("base", "seed", "sampler", "sampler_options", "batch_size", "risk", "tail",
                                 "stake_rate") if k in spec}


def cpu_seconds() -> float:
    """CPU seconds of this process and every live process under it (the Dask workers and their
    solver processes): what the study cost whatever else shares the cores."""
    import psutil

    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.NoSuchProcess:
            pass
    return total


def fake_run(config, seed, fns) -> dict:
    """Metric values from a hash of (config, seed): the search's machinery without a simulation."""
    import hashlib

    digest = hashlib.sha256(f"{config.to_json()}:{seed}".encode()).digest()
    return {name: digest[i % len(digest)] / 255 for i, name in enumerate(fns)}


def machinery_seconds(spec: dict, budget: int, out: Path) -> float:
    import oasis_lab.experiments.design as design

    real = design._run_one
    design._run_one = fake_run
    try:
        t0 = time.perf_counter()
        design_search(spec["space"], spec["objectives"], spec.get("constraints"), spec["scenarios"],
                      spec["seeds"], budget, "serial", out=out, progress=False, **options(spec))
        return time.perf_counter() - t0
    finally:
        design._run_one = real


def run_study(spec: dict, budget: int, workers: int, out: Path) -> tuple[float, float, float, pd.DataFrame]:
    """Wall seconds with the cluster's start and without it, CPU seconds of the search, trials."""
    start = time.perf_counter()
    client = local_client(workers)
    started = time.perf_counter() - start
    cpu0 = cpu_seconds()
    try:
        study = design_search(spec["space"], spec["objectives"], spec.get("constraints"), spec["scenarios"],
                              spec["seeds"], budget, client, out=out, progress=False, **options(spec))
        cpu = cpu_seconds() - cpu0  # before the workers exit with their counts
    finally:
        close_client(client)
    total = time.perf_counter() - start
    return total, total - started, cpu, study.trials


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=ROOT / "data" / "designs" / "market.yaml",
                        help="design file (default: data/designs/market.yaml)")
    parser.add_argument("--budget", type=int, default=None, help="trials (default: the file's, 100)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="LocalCluster sizes (default: 1 2)")
    args = parser.parse_args()
    # another session's cluster may hold Dask's dashboard port: the scheduler then takes another
    warnings.filterwarnings("ignore", message="Port 8787 is already in use")

    print(f"machine: {machine()}; load average before: {load()}")
    spec = load_design_file(args.file)
    budget = args.budget or spec["budget"]
    n_scen = len(spec["scenarios"])
    n_seeds = spec["seeds"] if isinstance(spec["seeds"], int) else len(spec["seeds"])
    runs = budget * n_scen * n_seeds
    print(f"design study {args.file.name}: {budget} trials x {n_scen} scenarios x {n_seeds} seeds = "
          f"{runs} simulations (at most; refused trials run none)")
    tmp = Path(tempfile.mkdtemp(prefix="bench_design_"))
    rows = []
    tables = {}
    try:
        for w in args.workers:
            total, search, cpu, trials = run_study(spec, budget, w, tmp / f"w{w}")
            tables[w] = trials
            done = int((trials["state"] == "complete").sum())
            sims = done * n_scen * n_seeds
            rows.append({"workers": w, "wall s": total, "search s (no start)": search,
                         "s per trial": search / budget, "CPU s": cpu, "CPU s per simulation": cpu / sims,
                         "simulations": sims, "load after": load()})
            print(f"  {w} worker(s): {total:.0f} s", flush=True)
        last = args.workers[-1]
        t0 = time.perf_counter()
        # in this process: a trial recomputed would show as minutes here
        again = design_search(spec["space"], spec["objectives"], spec.get("constraints"), spec["scenarios"],
                              spec["seeds"], budget, "serial", out=tmp / f"w{last}", progress=False,
                              **options(spec)).trials
        resume = time.perf_counter() - t0
        machinery = machinery_seconds(spec, budget, tmp / "machinery")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    first = tables[args.workers[0]]
    for w, t in tables.items():
        pd.testing.assert_frame_equal(t, first, obj=f"trials with {w} workers")
    pd.testing.assert_frame_equal(again, tables[last], obj="resumed trials")
    table = pd.DataFrame(rows)
    base = table["search s (no start)"].iloc[0]
    table["speed-up"] = base / table["search s (no start)"]
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    print(f"same trials on every cluster size: yes; feasible {int(first['feasible'].sum())} of {budget}")
    print(f"resume of the finished {last}-worker study: {resume:.1f} s (every trial read back, none recomputed)")
    print(f"the search's own cost (simulations replaced by fixed numbers, serial): {machinery:.1f} s for "
          f"{budget} trials")
    worst = table["wall s"].max()
    print(f"target: the study under {STUDY_TARGET_S / 60:g} min: slowest {worst / 60:.1f} min "
          f"({'met' if worst < STUDY_TARGET_S else 'NOT met'}); load average after: {load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
