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

from oasis_lab.clihelp import WIDTH, HelpFormatter, add_wide_option, fit_table, integer, seed
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


def _run(args: argparse.Namespace) -> int:
    overrides = {} if args.rounds is None else {"rounds": args.rounds}
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
    parser.add_argument("--tail", type=integer("tail", 1), default=5,
                        help="number of last rounds shown in the per-round table (>= 1)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar (default: one on stderr)")
    add_wide_option(parser)
    parser.set_defaults(func=_run)
