"""``python -m oasis_lab auction``: one PRICES round on a generated market, summary printed.

Every reading of :class:`~oasis_lab.params.AuctionParams` is an option, so a reading can be
compared from the shell, e.g.::

    python -m oasis_lab auction --tasks 10000 --providers 1000 --scenario price_crossing \\
        --price-rule as_written
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

import pandas as pd

from oasis_lab.auction.greedy import run_greedy
from oasis_lab.auction.metrics import check_all
from oasis_lab.clihelp import HelpFormatter, add_wide_option, fit_table, integer, seed
from oasis_lab.market import SCENARIOS, check_market_size, generate_market
from oasis_lab.params import CHOICES, AuctionParams
from oasis_lab.plotting import format_number

__all__ = ["READING_HELP", "format_checks", "params_from_args", "register_cli"]

_CHOICE_FIELDS = (
    "task_density",
    "provider_density",
    "price_rule",
    "normalize",
    "capacity",
    "task_size",
)


#: What each reading option means (units and meaning; argparse appends the default).
READING_HELP: dict[str, str] = {
    "task_density": "task bid density G: as_written = sqrt(sum_t C[i,t]^2 + v_i^2); surplus = "
    "(v_i - e_i) / sqrt(sum_t C[i,t])",
    "provider_density": "provider bid density H: as_written = sqrt(sum_t 1/s[j,t]^2 + sum Psi_j); "
    "capability = sqrt(sum_t s[j,t]^2 + sum Psi_j); unit_cost = ascending unit cost",
    "price_rule": "when the midpoint of the two per-unit prices leaves [p_provider, p_task]: "
    "no_trade skips the pair; as_written trades at the provider price (users may lose)",
    "normalize": "scaling of C, v, s and Psi before the densities: max = divide by the column "
    "maximum; minmax = map [min, max] to [0.001, 1]",
    "capacity": "what w_j counts: units of any type per round, or seconds per round (a unit "
    "of type t uses 1/s[j,t] s); the market is generated in the same unit",
    "task_size": "t_i of the user cost e_i = t_i log_alpha(t_i) + beta: units = total demanded "
    "units; size = the task's TFLOP",
}


def register_cli(subparsers: Any) -> None:
    """Add the ``auction`` subcommand."""
    parser = subparsers.add_parser(
        "auction",
        help="run one PRICES round (whitepaper section 4) and print its summary",
        description="Run the whitepaper's greedy combinatorial double auction (PRICES, section "
        "4.2) on a generated market and print the summary (welfare, served tasks, payments, "
        "IR violations). Prices and values are in tokens; units are requests of a model type. "
        "Tables fit 100 columns; --wide prints them whole.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--tasks", type=integer("tasks", 1), default=1000,
                        help="number of tasks (bundles of inference requests); at most what fits in "
                        "this machine's memory")
    parser.add_argument("--providers", type=integer("providers", 1), default=100,
                        help="number of providers (browser devices)")
    parser.add_argument("--types", type=integer("types", 1), default=4,
                        help="number of model types, the first rows of data/model_types.csv "
                        "(at most as many as it lists)")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="balanced", metavar="NAME",
                        help="market scenario, one of " + "; ".join(
                            f"{name}: {spec.description}".replace("%", "%%")  # argparse %-formats help
                            for name, spec in sorted(SCENARIOS.items())))
    parser.add_argument("--seed", type=seed, default=0,
                        help="seed of the generated market, an integer in [0, 2**128)")
    defaults = AuctionParams()
    for name in _CHOICE_FIELDS:
        parser.add_argument(
            "--" + name.replace("_", "-"), choices=CHOICES[name], default=getattr(defaults, name),
            help=READING_HELP[name],
        )
    parser.add_argument("--alpha", type=float, default=defaults.alpha,
                        help="base of the logarithm of the user cost e_i = t_i log_alpha(t_i) + "
                        "beta (> 1)")
    parser.add_argument("--beta", type=float, default=defaults.beta,
                        help="constant of the user cost, in tokens (>= 0)")
    parser.add_argument("--fee", type=float, default=defaults.fee,
                        help="platform share of every payment, in [0, 1)")
    parser.add_argument("--psi-weights", type=float, nargs="+", default=None, metavar="W",
                        help="one weight >= 0 per Psi component of the provider density, in the "
                        "order gpu_tflops memory_gb bandwidth_gbs cpu_cores (default: all 1)")
    parser.add_argument("--partial", action="store_true",
                        help="a task may be served in part; its value and user cost count pro "
                        "rata (default: all or nothing)")
    parser.add_argument("--no-split", action="store_true",
                        help="each (task, type) demand goes whole to one provider (default: a "
                        "task's units may come from several providers)")
    parser.add_argument("--capacity-per-type", action="store_true",
                        help="w_j bounds each model type separately (default: one budget for all "
                        "types)")
    parser.add_argument("--check", action="store_true",
                        help="also run the independent checks: feasibility, individual "
                        "rationality, budget balance, prices")
    add_wide_option(parser)
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
    # every argument checked before any work: one line naming the option and its limit (the
    # argument types checked each alone while parsing)
    check_market_size(args.tasks, args.providers, args.types, names=("--tasks", "--providers"))
    params = params_from_args(args)
    # the market's capacity and cost count what the --capacity reading says they count
    market = generate_market(
        args.tasks, args.providers, n_types=args.types, scenario=args.scenario, seed=args.seed,
        capacity_unit=args.capacity,
    )
    result = run_greedy(market, params)
    print(f"readings: {params.label()}")
    summary = result.summary().drop(columns="readings").iloc[0]
    # one notation (plotting.format_number): thousands separators, 4 significant digits, no exponent
    values = summary.map(format_number)
    with pd.option_context("display.max_colwidth", None if args.wide else 60):
        print(fit_table(values.to_frame(f"{args.scenario}, seed {args.seed}"), wide=args.wide,
                        index=True))
        if args.check:
            print()
            print(format_checks(check_all(market, result), wide=args.wide))
    return 0


def format_checks(table: pd.DataFrame, *, wide: bool = False, width: int = 100) -> str:
    """The table of :func:`~oasis_lab.auction.metrics.check_all` for a terminal.

    ``wide``: the whole table. Otherwise one line per check (status, violations, worst, the
    kinds that occurred) and its first violation on the next line, wrapped to ``width``.
    """
    if wide:
        return table.to_string(index=False)
    lines = []
    name_width = int(table["check"].str.len().max())
    for row in table.itertuples(index=False):
        kinds = ", ".join(k for k in str(row.counts).split(", ") if not k.endswith("=0"))
        line = f"{row.check:<{name_width}}  {'ok' if row.ok else 'FAILED':<6}  {row.violations} violations"
        if not row.ok:
            line += f" ({kinds}), worst {row.worst:.6g}"
        lines.append(line)
        if row.first:
            lines.extend(textwrap.wrap(str(row.first), width=width, initial_indent="    first: ",
                                       subsequent_indent="      "))
    return "\n".join(lines)
