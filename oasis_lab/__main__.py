"""Command line interface: ``python -m oasis_lab <subcommand>``.

Each layer registers its own subcommands: a module listed in ``_SUBCOMMAND_MODULES`` defines
``register_cli(subparsers)``, which adds its subparser(s) and sets ``func`` (a callable taking
the parsed arguments and returning an exit status). Keeping registration next to the code it
drives means this file only lists modules.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from oasis_lab.clihelp import one_line_errors

_SUBCOMMAND_MODULES: tuple[str, ...] = (
    "oasis_lab.report.cli",
    "oasis_lab.auction.cli",
    "oasis_lab.experiments.cli",
    "oasis_lab.experiments.compare_cli",
    "oasis_lab.experiments.expected_cli",
    "oasis_lab.experiments.design_cli",
    "oasis_lab.disputes.cli",
    "oasis_lab.gpu.cli",
    "oasis_lab.browser.cli",
    "oasis_lab.sim.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="python -m oasis_lab",
        description="oasis-lab: research workbench for the Oasis.AI whitepaper.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="<subcommand>")
    for module_name in _SUBCOMMAND_MODULES:
        importlib.import_module(module_name).register_cli(subparsers)
    one_line_errors(parser)  # a bad argument anywhere: one line, exit status 2
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
