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
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from oasis_lab.auction.cli import positive_int
from oasis_lab.sim.config import load_config
from oasis_lab.sim.engine import simulate

__all__ = ["register_cli"]

_SHOWN = [
    "arrived", "served", "queue", "wait_mean", "welfare", "payments", "disputes_resolved",
    "convictions", "false_convictions", "slashed", "providers_present", "cheaters_present",
]
#: Shown too when market referees rule (``referee: market``).
_MARKET_REFEREE = ["wrong_verdicts", "cheaters_freed", "appeals", "referees_slashed"]


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be >= 0")
    return value


def _run(args: argparse.Namespace) -> int:
    overrides = {} if args.rounds is None else {"rounds": args.rounds}
    config = load_config(args.config, **overrides)
    out = Path(args.out) if args.out is not None else None
    if out is not None:
        # refuse a bad destination before the run, not after it
        if out.suffix != ".parquet":
            raise ValueError(f"--out {str(out)!r} must end in .parquet")
        if not out.parent.exists():
            raise FileNotFoundError(f"--out folder {str(out.parent)!r} does not exist")
    with tqdm(total=config.rounds, desc="rounds", unit="round", disable=args.quiet, file=sys.stderr) as bar:
        result = simulate(config, args.seed, progress=lambda r: bar.update(1))
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.float_format", "{:,.4g}".format):
        print(result.summary().T.rename(columns={0: f"{Path(args.config).name}, seed {args.seed}"}).to_string())
        print()
        shown = _SHOWN + (_MARKET_REFEREE if config.referee == "market" else [])
        print(result.to_frame()[shown].tail(args.tail).to_string())
        total = sum(result.timings.values())
        shares = ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in result.timings.items())
        print(f"\n{config.rounds} rounds in {total:.2f} s ({config.rounds / total:.1f} rounds/s): {shares}")
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
        "from a YAML/TOML config in data/configs/, print the summary, optionally save Parquet.",
    )
    parser.add_argument("--config", required=True, help="YAML or TOML file (e.g. data/configs/cheaters.yaml)")
    parser.add_argument("--rounds", type=positive_int, default=None, help="override the config's rounds")
    parser.add_argument("--seed", type=_seed, default=0)
    parser.add_argument("--out", default=None, help="write the result to this .parquet file")
    parser.add_argument("--tail", type=positive_int, default=5, help="rounds shown at the end (5)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run)
