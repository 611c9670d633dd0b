"""``python -m oasis_lab expected``: compare fresh runs with the stored expected outputs.

``expected`` runs every case of :data:`oasis_lab.experiments.expected.CASES` and compares each
table with its Parquet file in ``tests/expected/``: exit status 0 when all agree, 1 with every
difference listed (column, row, stored and fresh value) when one does not. ``expected
--update`` rewrites the files that differ (and removes files no case writes): run it when a
change of behaviour is intended, and say in the commit why the numbers moved.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from oasis_lab.clihelp import HelpFormatter
from oasis_lab.experiments import expected

__all__ = ["register_cli"]


def register_cli(subparsers: Any) -> None:
    """Add the ``expected`` subcommand."""
    parser = subparsers.add_parser(
        "expected",
        help="check the stored expected outputs (tests/expected/) against fresh runs, or update them",
        description="Run every registered experiment and three simulation configs at CI size "
        "and compare each output table, field by field, with its stored Parquet file "
        "(floats within a relative 1e-9, clock columns excluded). Exit status 1 lists every "
        "difference; --update rewrites the files that differ when a change is intended.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--update", action="store_true",
        help="write the tables that differ from (or are absent in) the folder, and remove "
        "files no case writes (default: only compare)",
    )
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", default=None,
        help=f"run only these cases (default: all: {', '.join(expected.CASES)})",
    )
    parser.add_argument(
        "--folder", type=Path, default=expected.EXPECTED_DIR,
        help="folder of the stored files (default: the repository's tests/expected)",
    )
    parser.add_argument(
        "--limit", type=int, default=10,
        help="differing rows shown per column; 0 shows every one",
    )
    parser.add_argument("--list", action="store_true", help="list the cases and exit (default: run them)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise ValueError(f"--limit = {args.limit} must be >= 0")
    cases = expected.select(args.only)
    if args.list:
        for case in cases:
            print(f"{case.name}: {case.describe()}")
            print(f"    files: {', '.join(f'{stem}.parquet' for stem in case.files)}")
        return 0
    folder = Path(args.folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"--folder {str(folder)!r} does not exist")
    failed = 0
    started = time.perf_counter()
    for case in cases:
        t0 = time.perf_counter()
        (report,) = (expected.update if args.update else expected.check)([case], folder)
        took = time.perf_counter() - t0
        rows = ", ".join(f"{stem} {n} rows" for stem, n in report.rows.items())
        if report.ok:
            print(f"ok       {case.name} ({rows}; {took:.1f} s)")
            continue
        failed += 1
        print(f"{'updated' if args.update else 'DIFFERS'}  {case.name} ({rows}; {took:.1f} s)")
        for stem, diffs in report.differences.items():
            if diffs:
                print(f"  {stem}.parquet: {len(diffs)} difference(s)")
                for line in expected.format_differences(diffs, args.limit):
                    print(f"    {line}")
    stale = expected.stale_files(folder) if args.only is None else []
    for path in stale:
        if args.update:
            path.unlink()
            print(f"removed  {path.name} (no case writes it)")
        else:
            print(f"STALE    {path.name} (no case writes it; --update removes it)")
    total = time.perf_counter() - started
    if args.update:
        print(f"{failed} case(s) written, {len(cases) - failed} unchanged, in {total:.1f} s")
        return 0
    print(f"{len(cases) - failed} of {len(cases)} case(s) as stored, {len(stale)} stale file(s), "
          f"in {total:.1f} s")
    if failed or stale:
        print("to accept the changes: python -m oasis_lab expected --update")
        return 1
    return 0
