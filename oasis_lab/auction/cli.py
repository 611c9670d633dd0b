"""``python -m oasis_lab auction``: one PRICES round on a generated market, summary printed.

Every reading of :class:`~oasis_lab.params.AuctionParams` is an option, so a reading can be
compared from the shell, e.g.::

    python -m oasis_lab auction --tasks 10000 --providers 1000 --scenario price_crossing \\
        --price-rule as_written
"""

from __future__ import annotations

import argparse
from typing import Any

import pandas as pd

from oasis_lab.auction.greedy import run_greedy
from oasis_lab.auction.metrics import check_all
from oasis_lab.market import SCENARIOS, generate_market
from oasis_lab.params import CHOICES, AuctionParams

__all__ = ["register_cli", "params_from_args"]

_CHOICE_FIELDS = (
    "task_density",
    "provider_density",
    "price_rule",
    "normalize",
    "capacity",
    "task_size",
)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def register_cli(subparsers: Any) -> None:
    """Add the ``auction`` subcommand."""
    parser = subparsers.add_parser(
        "auction",
        help="run one PRICES round (whitepaper section 4) and print its summary",
        description="Run the whitepaper's greedy combinatorial double auction on a generated "
        "market and print the summary table (welfare, served tasks, IR violations).",
    )
    parser.add_argument("--tasks", type=positive_int, default=1000, help="number of tasks (1000)")
    parser.add_argument("--providers", type=positive_int, default=100, help="number of providers (100)")
    parser.add_argument("--types", type=positive_int, default=4, help="model types (4)")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="balanced")
    parser.add_argument("--seed", type=int, default=0)
    defaults = AuctionParams()
    for name in _CHOICE_FIELDS:
        parser.add_argument(
            "--" + name.replace("_", "-"), choices=CHOICES[name], default=getattr(defaults, name)
        )
    parser.add_argument("--alpha", type=float, default=defaults.alpha)
    parser.add_argument("--beta", type=float, default=defaults.beta)
    parser.add_argument("--fee", type=float, default=defaults.fee, help="platform share of payments")
    parser.add_argument("--psi-weights", type=float, nargs="+", default=None, metavar="W")
    parser.add_argument("--partial", action="store_true", help="value earned pro rata")
    parser.add_argument("--no-split", action="store_true", help="one provider per (task, type)")
    parser.add_argument("--capacity-per-type", action="store_true")
    parser.add_argument("--check", action="store_true", help="also print the feasibility / IR / budget checks")
    parser.set_defaults(func=_run)


def params_from_args(args: argparse.Namespace) -> AuctionParams:
    """The :class:`AuctionParams` the parsed options describe."""
    return AuctionParams(
        alpha=args.alpha,
        beta=args.beta,
        fee=args.fee,
        psi_weights=None if args.psi_weights is None else tuple(args.psi_weights),
        partial=args.partial,
        split=not args.no_split,
        capacity_per_type=args.capacity_per_type,
        **{name: getattr(args, name) for name in _CHOICE_FIELDS},
    )


def _run(args: argparse.Namespace) -> int:
    params = params_from_args(args)
    # the market's capacity and cost count what the --capacity reading says they count
    market = generate_market(
        args.tasks, args.providers, n_types=args.types, scenario=args.scenario, seed=args.seed,
        capacity_unit=args.capacity,
    )
    result = run_greedy(market, params)
    summary = result.summary().T.rename(columns={0: f"{args.scenario}, seed {args.seed}"})
    with pd.option_context("display.max_colwidth", 80, "display.float_format", "{:,.6g}".format):
        print(summary.to_string())
        if args.check:
            print()
            print(check_all(market, result).to_string(index=False))
    return 0
