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

from oasis_lab.auction.cli import positive_int
from oasis_lab.auction.compare import MECHANISMS, READINGS, compare, summarize
from oasis_lab.files import atomic_path, check_output_file
from oasis_lab.market import SCENARIOS
from oasis_lab.params import CHOICES, AuctionParams

__all__ = ["register_cli"]


def _int_list(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: sizes must be positive integers")
    return values




def _names(kind: str, known: list[str]):
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
    """Add the ``compare`` subcommand."""
    parser = subparsers.add_parser(
        "compare",
        help="greedy PRICES vs ILP optimum, LP bound, VCG and double auctions (table + CSV)",
        description="Compare the whitepaper's greedy auction (section 4.2) under several readings "
        "with the exact welfare optimum, its LP relaxation and mechanisms with proven properties, "
        "on generated markets of sizes x scenarios x seeds (as many providers as tasks).",
    )
    parser.add_argument(
        "--sizes", type=_int_list, default=[100, 1000], help="tasks (= providers), comma-separated (100,1000)"
    )
    parser.add_argument(
        "--scenarios",
        type=_names("scenario", sorted(SCENARIOS)),
        default=["balanced"],
        help="comma-separated scenarios or 'all' (balanced)",
    )
    parser.add_argument("--seeds", type=positive_int, default=1, help="markets per size and scenario (1)")
    parser.add_argument("--types", type=positive_int, default=4, help="model types (4)")
    parser.add_argument(
        "--unit-demand",
        action="store_true",
        help="single-type unit-demand markets, where McAfee, SBBA and the DP price apply",
    )
    parser.add_argument(
        "--readings",
        type=_names("reading", list(READINGS)),
        default=list(READINGS),
        help=f"greedy readings, comma-separated or 'all' ({','.join(READINGS)})",
    )
    parser.add_argument(
        "--mechanisms",
        type=_names("mechanism", list(MECHANISMS)),
        default=list(MECHANISMS),
        help=f"baselines, comma-separated or 'all' ({','.join(MECHANISMS)})",
    )
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
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    # checked before the study, which may take hours, not after it
    check_output_file("--out", args.out)
    params = AuctionParams(
        alpha=args.alpha,
        beta=args.beta,
        task_size=args.task_size,
        capacity=args.capacity,
        partial=args.partial,
        split=not args.no_split,
        capacity_per_type=args.capacity_per_type,
    )
    frame = compare(
        params=params,
        sizes=args.sizes,
        scenarios=args.scenarios,
        seeds=args.seeds,
        n_types=args.types,
        unit_demand=args.unit_demand,
        readings={name: READINGS[name] for name in args.readings},
        mechanisms=args.mechanisms,
        ilp_time_limit=args.time_limit,
        backend=args.backend,
        greedy_repeats=args.repeats,
        epsilon=args.epsilon,
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
    with pd.option_context("display.width", 200, "display.max_rows", 1000, "display.float_format", "{:,.4g}".format):
        print(f"welfare model: {params.label()}")
        print(table[shown].to_string(index=False))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out, keep_suffix=True) as tmp:
        frame.to_csv(tmp, index=False)
    print(f"wrote {len(frame)} rows to {args.out}")
    return 0
