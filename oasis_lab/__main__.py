"""Command line interface: ``python -m oasis_lab <subcommand>``.

Each layer registers its own subcommands: a module listed in :data:`SUBCOMMANDS` defines
``register_cli(subparsers)``, which adds its subparser(s) and sets ``func`` (a callable taking
the parsed arguments and returning an exit status). Keeping registration next to the code it
drives means this file only lists modules.

Registration is lazy: ``python -m oasis_lab --help`` lists the subcommands from
:data:`SUBCOMMANDS` alone (their one-line help is written here too; a test checks it against
each module's), and ``python -m oasis_lab NAME ...`` imports only the module of ``NAME``. So
the list of subcommands costs no numpy, pandas or library import, and one subcommand none of
the others' (``--help`` took 3.8 to 6.5 s on a loaded machine when every module was imported).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterable, Sequence

from oasis_lab.clihelp import one_line_errors

#: Every subcommand: the module whose ``register_cli`` adds it, and its one-line help.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "report": ("oasis_lab.report.cli",
               "execute every notebook with papermill and render HTML reports"),
    "auction": ("oasis_lab.auction.cli",
                "run one PRICES round (whitepaper section 4) and print its summary"),
    "sweep": ("oasis_lab.experiments.cli",
              "run an experiment over a grid and seeds on Dask (resumable Parquet dataset)"),
    "compare": ("oasis_lab.experiments.compare_cli",
                "greedy PRICES vs ILP optimum, LP bound, VCG and double auctions (table + CSV)"),
    "expected": ("oasis_lab.experiments.expected_cli",
                 "check the stored expected outputs (tests/expected/) against fresh runs, or update them"),
    "design": ("oasis_lab.experiments.design_cli",
               "search the market's settings for the Pareto front (Optuna on Dask, resumable)"),
    "dispute": ("oasis_lab.disputes.cli",
                "challenge one inference: bisection transcript, verdict and ledger (section 5)"),
    "kernels": ("oasis_lab.gpu.cli", "WebGPU kernel tools"),
    "bench": ("oasis_lab.gpu.cli", "provider benchmark: kernel throughput -> market speeds"),
    "browser": ("oasis_lab.browser.cli", "browser providers (headless Chromium WebGPU)"),
    "simulate": ("oasis_lab.sim.cli",
                 "simulate the market over rounds: auction, challenges, disputes, slashing, re-auction"),
}


def build_parser(commands: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The top-level parser: the subcommands ``commands`` registered by their modules (default:
    every one), the others listed by name and help only, without importing their modules."""
    parser = argparse.ArgumentParser(
        prog="python -m oasis_lab",
        description="oasis-lab: research workbench for the Oasis.AI whitepaper.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="<subcommand>")
    names = SUBCOMMANDS if commands is None else commands
    modules = {SUBCOMMANDS[n][0] for n in names if n in SUBCOMMANDS}
    for name, (module, text) in SUBCOMMANDS.items():
        if name in subparsers.choices:
            continue  # added with another subcommand of its module
        if module in modules:
            importlib.import_module(module).register_cli(subparsers)
        else:
            subparsers.add_parser(name, help=text, add_help=False)
    one_line_errors(parser)  # a bad argument anywhere: one line, exit status 2
    return parser


def _subcommand(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names (its first argument not starting with ``-``; the top-level
    parser has no option taking a value)."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; return its exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    name = _subcommand(args_list)
    parser = build_parser([name] if name in SUBCOMMANDS else [])
    args = parser.parse_args(args_list)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        # Bad input reaches the user as one line, not a traceback.
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        # Ctrl-C (or a SIGTERM the report turns into one): one line (results are written
        # atomically, so what exists is complete); 130 for SIGINT, 143 for SIGTERM.
        print(f"interrupted{': ' + str(exc) if str(exc) else ''}", file=sys.stderr)
        return int(getattr(exc, "exit_status", 130))


if __name__ == "__main__":
    sys.exit(main())
