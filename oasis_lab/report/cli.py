"""``python -m oasis_lab report``: the main job's subcommand."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import oasis_lab.report as report
from oasis_lab.clihelp import RawDescriptionHelpFormatter, fit_table, names

__all__ = ["register_cli"]


def _cli(args: argparse.Namespace) -> int:
    import pandas as pd

    runs = report.run_report(
        args.output,
        quick=args.quick,
        only=args.only,
        profile=args.profile,
        progress=not args.no_progress,
        show_code=args.show_code,
        notebook_dir=report.NOTEBOOK_DIR,  # read at call time: tests point it elsewhere
    )
    table = pd.DataFrame(
        {
            "notebook": [r.notebook for r in runs],
            "status": ["ok" if r.ok else "FAILED" for r in runs],
            "seconds": [round(r.seconds, 1) for r in runs],
            "html (in the output folder)": [r.html.name for r in runs],
        }
    )
    print(fit_table(table, float_format="{:.1f}".format))
    print(f"\nParameters: {runs[0].profile}")
    print(f"Report: {Path(args.output).resolve() / 'index.html'}")
    failed = [r for r in runs if not r.ok]
    for r in failed:
        print(f"FAILED {r.notebook}: {r.error}")
    return 1 if failed else 0


def register_cli(subparsers: Any) -> None:
    """Add ``report``: execute all notebooks and render HTML under ``reports/``."""
    parser = subparsers.add_parser(
        "report",
        help="execute every notebook with papermill and render HTML reports",
        description=report.__doc__,
        formatter_class=RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true",
                        help="run with each notebook's small CI parameters (under a minute each) "
                        "(default: the study sizes of --profile)")
    parser.add_argument("--output", default="reports", metavar="FOLDER",
                        help="folder the executed notebooks, HTML reports and index.html go to")
    parser.add_argument("--only", metavar="NAMES", type=names("notebook"),
                        help="comma-separated notebook names (file stems, e.g. "
                        "00_market_tour,04_fault_proofs) to run (default: every notebook)")
    parser.add_argument(
        "--profile", metavar="PROFILE",
        help="parameter profile: a YAML file (notebook name -> parameters), or the name of one in "
        "notebooks/params: full (the default, study sizes that run in minutes) or large (the "
        "biggest studies)",
    )
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress lines (default: the notebook, its running cell and the "
                        "cell's own loops on stderr, with the time elapsed and the time left by "
                        "the last run's measured times)")
    parser.add_argument("--show-code", action="store_true",
                        help="render every cell with its code (default: each page opens with its "
                        "title and findings and shows the narrative and outputs without code; "
                        "index.html records which)")
    parser.set_defaults(func=_cli)
