"""``python -m oasis_lab sweep`` and ``python -m oasis_lab compare``.

``sweep --config FILE [--scheduler ADDR] [--out DIR]`` runs a sweep described by a YAML file::

    experiment: deterrence          # a name of oasis_lab.experiments.EXPERIMENTS
    config: {n_tasks: 2000}         # the base config (optional)
    grid:                           # field -> values (their product), or a list of points
      stake: [0, 1000, 5000]
      p_platform: [0.0, 0.05, 0.2]
    seeds: 3                        # a count (0 .. n-1) or a list of seeds
    out: sweeps/deterrence          # the Parquet dataset (optional; --out wins)

on a LocalCluster over this machine's cores, or on the Dask cluster at ``--scheduler``
(``tcp://host:8786``), and prints the mean over seeds per grid point. Rerun it after an
interruption: finished points are read back from ``out``, not recomputed.

``compare`` (the study of ``docs/mechanism.md``)::

    python -m oasis_lab compare --sizes 100,1000,10000 --scenarios all --seeds 5

runs the ``greedy_vs_optimum`` experiment over sizes x scenarios x seeds in this process (the
runtimes it reports are measured one market at a time), prints the mean over seeds per size,
scenario, mechanism and greedy reading and writes one row per run to ``--out`` (CSV).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

from oasis_lab.auction.cli import positive_int
from oasis_lab.auction.compare import MECHANISMS, READINGS, summarize
from oasis_lab.experiments.auction import GreedyVsOptimum
from oasis_lab.experiments.base import experiment_class
from oasis_lab.experiments.sweep import sweep
from oasis_lab.files import atomic_path, check_output_dir, check_output_file
from oasis_lab.market import SCENARIOS
from oasis_lab.params import CHOICES, AuctionParams

__all__ = ["load_sweep_file", "register_cli"]

_SWEEP_KEYS = ("experiment", "config", "grid", "seeds", "out")


def load_sweep_file(path: Path) -> dict[str, Any]:
    """Read and check a sweep file; the returned dict has ``experiment`` (the base config),
    ``grid``, ``seeds`` and ``out`` (or None)."""
    import yaml

    if not path.exists():
        raise FileNotFoundError(f"sweep config {str(path)!r} does not exist")
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict):
        raise TypeError(f"sweep config {str(path)!r} must be a mapping with keys {list(_SWEEP_KEYS)}")
    unknown = [k for k in data if k not in _SWEEP_KEYS]
    if unknown:
        raise ValueError(f"sweep config key {unknown[0]!r} is unknown; the keys are {list(_SWEEP_KEYS)}")
    for key in ("experiment", "grid", "seeds"):
        if key not in data:
            raise ValueError(f"sweep config {str(path)!r} lacks the key {key!r}")
    cls = experiment_class(data["experiment"])
    base = cls.from_dict(data.get("config") or {})
    return {"experiment": base, "grid": data["grid"], "seeds": data["seeds"], "out": data.get("out")}


def _int_list(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: sizes must be positive integers")
    return values


def _names(kind: str, known: list[str]) -> Any:
    def parse(text: str) -> list[str]:
        if text == "all":
            return list(known)
        names = [x.strip() for x in text.split(",") if x.strip()]
        bad = [n for n in names if n not in known]
        if bad or not names:
            raise argparse.ArgumentTypeError(f"unknown {kind} {bad or text!r}; choose among {known} or 'all'")
        return names

    return parse


def register_cli(subparsers: Any) -> None:
    """Add the ``sweep`` and ``compare`` subcommands."""
    parser = subparsers.add_parser(
        "sweep", help="run an experiment over a grid and seeds on Dask (resumable Parquet dataset)",
        description="Run an experiment of oasis_lab.experiments over a grid of configs and seeds, "
        "on a LocalCluster over this machine's cores or on an existing Dask cluster. Finished "
        "points are appended to a Parquet dataset; rerunning resumes without recomputing them.",
    )
    parser.add_argument("--config", type=Path, required=True, help="YAML sweep file (experiment, config, grid, seeds, out)")
    parser.add_argument("--scheduler", default=None, help="address of a running Dask scheduler (tcp://HOST:8786)")
    parser.add_argument("--out", type=Path, default=None, help="Parquet dataset folder (default: the file's 'out', else sweeps/<experiment>)")
    parser.add_argument("--serial", action="store_true", help="run in this process, without Dask")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run_sweep)

    parser = subparsers.add_parser(
        "compare",
        help="greedy PRICES vs ILP optimum, LP bound, VCG and double auctions (table + CSV)",
        description="Compare the whitepaper's greedy auction (section 4.2) under several readings "
        "with the exact welfare optimum, its LP relaxation and mechanisms with proven properties, "
        "on generated markets of sizes x scenarios x seeds (as many providers as tasks).",
    )
    parser.add_argument("--sizes", type=_int_list, default=[100, 1000], help="tasks (= providers), comma-separated (100,1000)")
    parser.add_argument("--scenarios", type=_names("scenario", sorted(SCENARIOS)), default=["balanced"],
                        help="comma-separated scenarios or 'all' (balanced)")
    parser.add_argument("--seeds", type=positive_int, default=1, help="markets per size and scenario: seeds 0 .. n-1 (1)")
    parser.add_argument("--types", type=positive_int, default=4, help="model types (4)")
    parser.add_argument("--unit-demand", action="store_true",
                        help="single-type unit-demand markets, where McAfee, SBBA and the DP price apply")
    parser.add_argument("--readings", type=_names("reading", list(READINGS)), default=list(READINGS),
                        help=f"greedy readings, comma-separated or 'all' ({','.join(READINGS)})")
    parser.add_argument("--mechanisms", type=_names("mechanism", list(MECHANISMS)), default=list(MECHANISMS),
                        help=f"baselines, comma-separated or 'all' ({','.join(MECHANISMS)})")
    parser.add_argument("--time-limit", type=float, default=None, help="seconds per exact solve")
    parser.add_argument("--backend", choices=("cvxpy", "highspy"), default="cvxpy")
    parser.add_argument("--epsilon", type=float, default=1.0, help="privacy of the DP clearing price (1.0)")
    parser.add_argument("--repeats", type=positive_int, default=3, help="greedy runs per market, min time kept (3)")
    defaults = AuctionParams()
    parser.add_argument("--capacity", choices=CHOICES["capacity"], default=defaults.capacity)
    parser.add_argument("--task-size", choices=CHOICES["task_size"], default=defaults.task_size)
    parser.add_argument("--alpha", type=float, default=defaults.alpha)
    parser.add_argument("--beta", type=float, default=defaults.beta)
    parser.add_argument("--partial", action="store_true", help="value earned pro rata")
    parser.add_argument("--no-split", action="store_true", help="one provider per (task, type): a GAP ILP")
    parser.add_argument("--capacity-per-type", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("compare.csv"), help="CSV of every run (compare.csv)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run_compare)


def _run_sweep(args: argparse.Namespace) -> int:
    spec = load_sweep_file(args.config)
    base = spec["experiment"]
    out = args.out or (Path(spec["out"]) if spec["out"] else Path("sweeps") / base.name)
    check_output_dir("--out", out)  # before the sweep, not after it
    client: Any = "serial" if args.serial else args.scheduler
    frame = sweep(base, spec["grid"], spec["seeds"], client=client, out=out, progress=not args.no_progress)
    keys = [c for c in frame.columns[: list(frame.columns).index("seed")] if c != "point"]
    numeric = [c for c in frame.select_dtypes("number").columns if c not in ("point", "seed", *keys)]
    table = frame.groupby(["point", *keys], sort=True)[numeric].mean().reset_index(level=0, drop=True)
    with pd.option_context("display.width", 200, "display.max_rows", 200, "display.max_columns", 12,
                           "display.float_format", "{:,.4g}".format):
        print(f"{base.name}: mean over {frame['seed'].nunique()} seed(s) per grid point")
        print(table.to_string())
    print(f"{len(frame)} rows in {out}")
    return 0


def _run_compare(args: argparse.Namespace) -> int:
    # checked before the study, which may take hours, not after it
    check_output_file("--out", args.out)
    base = GreedyVsOptimum(
        n_types=args.types, unit_demand=args.unit_demand, readings=tuple(args.readings),
        mechanisms=tuple(args.mechanisms), alpha=args.alpha, beta=args.beta,
        task_size=args.task_size, partial=args.partial, capacity=args.capacity,
        split=not args.no_split, capacity_per_type=args.capacity_per_type, backend=args.backend,
        ilp_time_limit=args.time_limit, greedy_repeats=args.repeats, epsilon=args.epsilon,
        timings=True,
    )
    # serial: the runtimes (and the speed-up over the ILP) are measured one market at a time
    frame = sweep(base, {"n_tasks": args.sizes, "scenario": args.scenarios}, args.seeds,
                  client="serial", progress=not args.no_progress)
    table = summarize(frame)
    table["runtime_ms"] = table.pop("runtime_s") * 1e3
    shown = ["n_tasks", "scenario", "mechanism", "reading", "welfare_ratio", "ratio_min", "ratio_lp",
             "served", "ir_violations_users", "runtime_ms", "speedup_vs_ilp", "failed"]
    with pd.option_context("display.width", 200, "display.max_rows", 1000, "display.float_format", "{:,.4g}".format):
        print(f"welfare model: {base.auction_params().label()}")
        print(table[shown].to_string(index=False))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out, keep_suffix=True) as tmp:
        frame.to_csv(tmp, index=False)
    print(f"wrote {len(frame)} rows to {args.out}")
    return 0
