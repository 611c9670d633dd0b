"""``python -m oasis_lab compare``: greedy PRICES vs exact optima and baselines, table + CSV.

Example (the study of ``docs/mechanism.md``)::

    python -m oasis_lab compare --sizes 100,1000,10000 --scenarios all --seeds 5

prints the mean over seeds per size, scenario, mechanism and greedy reading (welfare / ILP
optimum, worst market, welfare / LP bound, served tasks, IR violations, runtime, speed-up over
the ILP) and writes one row per run to ``--out`` (CSV).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pandas as pd

from oasis_lab.auction.baselines.optimum.solvers import MAX_TIME_LIMIT, check_time_limit
from oasis_lab.auction.cli import READING_HELP
from oasis_lab.auction.compare import BASELINES, READINGS, summarize
from oasis_lab.clihelp import WIDTH, HelpFormatter, integer, integers, names
from oasis_lab.experiments.auction import GreedyVsOptimum
from oasis_lab.experiments.sweep import MAX_RUNS, sweep
from oasis_lab.files import atomic_path, check_output_file
from oasis_lab.market import SCENARIOS, check_market_size
from oasis_lab.params import CHOICES, AuctionParams
from oasis_lab.plotting import format_number

__all__ = ["register_cli"]


def register_cli(subparsers: Any) -> None:
    """Add the ``compare`` subcommand."""
    parser = subparsers.add_parser(
        "compare",
        help="greedy PRICES vs ILP optimum, LP bound, VCG and double auctions (table + CSV)",
        description="Compare the whitepaper's greedy auction (section 4.2) under several readings "
        "with the exact welfare optimum, its LP relaxation and mechanisms with proven properties, "
        "on generated markets of sizes x scenarios x seeds (as many providers as tasks). Prints "
        "the mean over seeds (welfare / optimum, worst market, welfare / LP bound, served tasks, "
        "IR violations, runtime in ms, speed-up over the ILP) and writes one row per run to --out. "
        "Welfare and prices are in tokens. The table fits 100 columns; --wide prints it whole.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--sizes",
        type=integers("sizes", 1),
        default=[100, 1000],
        help="market sizes, comma-separated: tasks per market (as many providers)",
    )
    parser.add_argument(
        "--scenarios",
        type=names("scenario", sorted(SCENARIOS)),
        default=["balanced"],
        help=f"comma-separated scenarios or 'all' ({', '.join(sorted(SCENARIOS))})",
    )
    parser.add_argument("--seeds", type=integer("seeds", 1), default=1,
                        help="markets per size and scenario (seeds 0, 1, ...)")
    parser.add_argument(
        "--types", type=integer("types", 1), default=4, help="model types, the first rows of data/model_types.csv"
    )
    parser.add_argument(
        "--unit-demand",
        action="store_true",
        help="single-type unit-demand markets, where McAfee, SBBA and the DP price apply (default: multi-type markets)",
    )
    parser.add_argument(
        "--readings",
        type=names("reading", list(READINGS)),
        default=list(READINGS),
        help="greedy readings, comma-separated or 'all': "
        + "; ".join(
            f"{name} = {', '.join(f'{k}={v}' for k, v in changes.items()) or 'defaults'}"
            for name, changes in READINGS.items()
        ),
    )
    parser.add_argument(
        "--mechanisms",
        type=names("mechanism", list(BASELINES)),
        default=list(BASELINES),
        help="baselines, comma-separated or 'all': ilp = exact welfare optimum, lp = "
        "its LP relaxation (an upper bound), vcg = VCG payments on the ILP (small "
        "markets), mcafee, sbba, dp = double auctions (--unit-demand only)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help=f"seconds per exact solve, > 0 and <= {MAX_TIME_LIMIT:g} (default: none; a time-limited "
        "solve reports its proved gap)",
    )
    parser.add_argument(
        "--backend",
        choices=("cvxpy", "highspy"),
        default="cvxpy",
        help="how the ILP reaches HiGHS: through cvxpy, or highspy directly",
    )
    parser.add_argument(
        "--epsilon",
        type=float,
        default=1.0,
        help="privacy parameter of the DP clearing price, > 0 (larger: less private, closer to the best price)",
    )
    parser.add_argument(
        "--repeats", type=integer("repeats", 1), default=3, help="greedy runs per market; the fastest time is kept"
    )
    defaults = AuctionParams()
    parser.add_argument(
        "--capacity", choices=CHOICES["capacity"], default=defaults.capacity, help=READING_HELP["capacity"]
    )
    parser.add_argument(
        "--task-size", choices=CHOICES["task_size"], default=defaults.task_size, help=READING_HELP["task_size"]
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=defaults.alpha,
        help="base of the logarithm of the user cost e_i = t_i log_alpha(t_i) + beta (> 1)",
    )
    parser.add_argument("--beta", type=float, default=defaults.beta, help="constant of the user cost, in tokens (>= 0)")
    parser.add_argument(
        "--partial",
        action="store_true",
        help="a task may be served in part; value and user cost count pro rata (default: all or nothing)",
    )
    parser.add_argument(
        "--no-split",
        action="store_true",
        help="each (task, type) demand goes whole to one provider: the optimum is "
        "a generalized assignment ILP (default: split)",
    )
    parser.add_argument(
        "--capacity-per-type",
        action="store_true",
        help="w_j bounds each model type separately (default: one budget for all types)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("compare.csv"),
        help="CSV file of every run (one row per market, mechanism and reading); checked before the study starts",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--wide", action="store_true", help="print the table whole, however wide (default: fit 100 columns)"
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    # checked before the study, which may take hours, not after it
    check_output_file("--out", args.out)
    check_market_size(max(args.sizes), max(args.sizes), args.types, names=("--sizes", "providers"))
    check_time_limit("--time-limit", args.time_limit)
    if args.seeds > MAX_RUNS:
        raise ValueError(f"--seeds = {args.seeds} must be <= {MAX_RUNS:,} (the runs a sweep may hold)")
    base = GreedyVsOptimum(
        n_types=args.types,
        unit_demand=args.unit_demand,
        readings=tuple(args.readings),
        mechanisms=tuple(args.mechanisms),
        alpha=args.alpha,
        beta=args.beta,
        task_size=args.task_size,
        partial=args.partial,
        capacity=args.capacity,
        split=not args.no_split,
        capacity_per_type=args.capacity_per_type,
        backend=args.backend,
        ilp_time_limit=args.time_limit,
        greedy_repeats=args.repeats,
        epsilon=args.epsilon,
        timings=True,
    )
    params = base.auction_params()
    # the greedy_vs_optimum experiment over sizes x scenarios x seeds 0 .. n-1, in this process:
    # the runtimes (and the speed-up over the ILP) are measured one market at a time
    frame = sweep(
        base,
        {"n_tasks": args.sizes, "scenario": args.scenarios},
        args.seeds,
        client="serial",
        progress=not args.no_progress,
    )
    table = summarize(frame)
    table["runtime_ms"] = table.pop("runtime_s") * 1e3
    shown = [
        "n_tasks",
        "scenario",
        "mechanism",
        "reading",
        "welfare_ratio",
        "ratio_min",
        "ratio_lp",
        "served",
        "ir_violations_users",
        "runtime_ms",
        "speedup_vs_ilp",
        "failed",
    ]
    with pd.option_context("display.max_rows", 1000, "display.float_format", format_number):
        print(f"welfare model: {params.label()}")
        print(table[shown].to_string(index=False, line_width=None if args.wide else WIDTH))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out, keep_suffix=True) as tmp:
        frame.to_csv(tmp, index=False)
    print(f"wrote {len(frame)} rows to {args.out}")
    return 0
