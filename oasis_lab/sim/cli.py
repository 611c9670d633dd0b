"""``python -m oasis_lab simulate``: the market over time from a config file.

Example::

    python -m oasis_lab simulate --config data/configs/cheaters.yaml --rounds 100 --seed 1 \\
        --out cheaters.parquet

runs the simulation with a progress bar, prints its summary and the last rounds, and writes the
result (per-round table, per-provider table, final ledger, config) to one Parquet file,
atomically. A bad config is one line naming the key, exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import Any

from tqdm import tqdm

from oasis_lab.clihelp import WIDTH, HelpFormatter, add_wide_option, fit_table, integer, real, seed
from oasis_lab.files import check_output_file
from oasis_lab.plotting import format_number
from oasis_lab.sim.config import load_config
from oasis_lab.sim.engine import simulate

__all__ = ["register_cli"]

_SHOWN = [
    "arrived", "served", "queue", "wait_mean", "welfare", "payments", "disputes_resolved",
    "convictions", "false_convictions", "slashed", "providers_present", "cheaters_present",
]
#: Shown too when market referees rule (``referee: market``).
_MARKET_REFEREE = ["wrong_verdicts", "cheaters_freed", "appeals", "referees_slashed"]


#: Economic options of ``simulate``: option -> (field of the config, ``disputes`` table or top level).
_ECONOMICS: dict[str, tuple[str, bool]] = {
    "stake": ("provider_stake", True),
    "slash_fraction": ("slash_fraction", True),
    "challenger_bond": ("challenger_bond", True),
    "cheater_share": ("cheater_share", False),
    "p_user": ("p_user", False),
    "p_platform": ("p_platform", False),
}


def _run(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {} if args.rounds is None else {"rounds": args.rounds}
    disputes = {field: getattr(args, opt) for opt, (field, nested) in _ECONOMICS.items()
                if nested and getattr(args, opt) is not None}
    overrides.update({field: getattr(args, opt) for opt, (field, nested) in _ECONOMICS.items()
                      if not nested and getattr(args, opt) is not None})
    if disputes:
        overrides["disputes"] = disputes  # merged over the file's disputes table
    config = load_config(args.config, **overrides)
    out = Path(args.out) if args.out is not None else None
    if out is not None:
        # refuse a bad destination before the run, not after it
        if out.suffix != ".parquet":
            raise ValueError(f"--out {str(out)!r} must end in .parquet")
        check_output_file("--out", out)  # a directory, a file as its folder, no permission
        if not out.parent.is_dir():
            raise FileNotFoundError(f"--out folder {str(out.parent)!r} does not exist")
    with tqdm(total=config.rounds, desc="rounds", unit="round", disable=args.quiet, file=sys.stderr) as bar:
        result = simulate(config, args.seed, progress=lambda r: bar.update(1))
    summary = result.summary().iloc[0]
    print(f"{Path(args.config).name}, seed {args.seed}")
    if "readings" in summary:  # one long label: wrapped text, not a table cell
        print(textwrap.fill(f"readings: {summary.pop('readings')}", WIDTH,
                            subsequent_indent="  "))
    values = summary.map(format_number)
    print(fit_table(values.to_frame("value"), wide=args.wide, index=True, header=False))
    print()
    shown = _SHOWN + (_MARKET_REFEREE if config.referee == "market" else [])
    print(fit_table(result.to_frame()[shown].tail(args.tail), wide=args.wide, index=True))
    total = sum(result.timings.values())
    shares = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in result.timings.items())
    print("\n" + textwrap.fill(f"{config.rounds} rounds in {total:.2f} s ({config.rounds / total:.1f} "
                               f"rounds/s): {shares}", WIDTH))
    if out is not None:
        result.save(out)
        print(f"wrote {out}")
    return 0


def register_cli(subparsers: Any) -> None:
    """Add the ``simulate`` subcommand."""
    parser = subparsers.add_parser(
        "simulate",
        help="simulate the market over rounds: auction, challenges, disputes, slashing, re-auction",
        description="Simulate the Oasis market round after round (whitepaper sections 4 and 5) "
        "from a YAML/TOML config (data/configs/ holds examples): tasks arrive, the auction "
        "assigns them, challenges lead to disputes, cheaters are slashed and their tasks "
        "re-auctioned. Prints the summary and the last rounds (amounts in tokens, waits in "
        f"rounds), optionally saves the result as Parquet. Tables fit {WIDTH} columns; --wide "
        "prints them whole.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--config", required=True, metavar="FILE",
                        help="YAML or TOML config file, e.g. data/configs/cheaters.yaml (required)")
    parser.add_argument("--rounds", type=integer("rounds", 1), default=None,
                        help="number of rounds to simulate, >= 1 (default: the config's rounds)")
    parser.add_argument("--seed", type=seed, default=0,
                        help="seed of the whole simulation (arrivals, markets, cheating, "
                        "challenges), in [0, 2**128 - 1]")
    parser.add_argument("--out", default=None, metavar="FILE",
                        help="also write the result (per-round and per-provider tables, final "
                        "ledger, config) to this .parquet file, atomically (default: not saved)")
    economics = parser.add_argument_group(
        "economics (section 5; each replaces the config's value, the rest of its disputes table kept)")
    economics.add_argument("--stake", type=integer("stake", 0), default=None, metavar="TOKENS",
                           help="provider stake S in tokens, an integer >= 0 (disputes.provider_stake; "
                           "default: the config's)")
    economics.add_argument("--slash-fraction", type=real("slash-fraction", minimum=0.0, maximum=1.0),
                           default=None, metavar="F",
                           help="share f of the stake slashed on conviction, in [0, 1] "
                           "(disputes.slash_fraction; default: the config's)")
    economics.add_argument("--challenger-bond", type=integer("challenger-bond", 0), default=None,
                           metavar="TOKENS", help="bond a challenger locks, an integer >= 0 "
                           "(disputes.challenger_bond; default: the config's)")
    economics.add_argument("--cheater-share", type=real("cheater-share", minimum=0.0, maximum=1.0),
                           default=None, metavar="SHARE",
                           help="share of providers that cheat, in [0, 1] (default: the config's)")
    economics.add_argument("--p-user", type=real("p-user", minimum=0.0, maximum=1.0), default=None,
                           metavar="P", help="probability a user challenges a result, in [0, 1] "
                           "(default: the config's)")
    economics.add_argument("--p-platform", type=real("p-platform", minimum=0.0, maximum=1.0), default=None,
                           metavar="P", help="probability the platform challenges a result, in "
                           "[0, 1] (default: the config's)")
    parser.add_argument("--tail", type=integer("tail", 1), default=5,
                        help="number of last rounds shown in the per-round table (>= 1)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar (default: one on stderr)")
    add_wide_option(parser)
    parser.set_defaults(func=_run)
