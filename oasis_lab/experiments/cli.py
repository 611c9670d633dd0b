"""``python -m oasis_lab sweep``: an experiment over a grid and seeds, from a YAML file.

``sweep --config FILE [--scheduler ADDR] [--out DIR]`` runs a sweep described by a YAML file::

    experiment: deterrence          # a name of oasis_lab.experiments.EXPERIMENTS
    config: {n_tasks: 2000}         # the base config (optional)
    grid:                           # field -> values (their product), or a list of points
      stake: [0, 1000, 5000]
      p_platform: [0.0, 0.05, 0.2]
    seeds: 3                        # a count (0 .. n-1) or a list of seeds
    out: sweeps/deterrence          # the Parquet dataset (optional; --out wins)

on a LocalCluster over this machine's cores, or on the Dask cluster at ``--scheduler``
(``tcp://host:8786``), and prints the mean over seeds per grid point. Rerun it after an
interruption: finished points are read back from ``out``, not recomputed.

``python -m oasis_lab compare`` (the ``greedy_vs_optimum`` study) is
:mod:`oasis_lab.experiments.compare_cli`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from oasis_lab.clihelp import HelpFormatter, add_wide_option, fit_table
from oasis_lab.configfile import load_config_file
from oasis_lab.experiments.base import experiment_class
from oasis_lab.experiments.sweep import sweep
from oasis_lab.files import check_output_dir

__all__ = ["load_sweep_file", "register_cli"]

_SWEEP_KEYS = ("experiment", "config", "grid", "seeds", "out")


def load_sweep_file(path: Path) -> dict[str, Any]:
    """Read and check a sweep file; the returned dict has ``experiment`` (the base config),
    ``grid``, ``seeds`` and ``out`` (or None).

    The file is read by :func:`oasis_lab.configfile.load_config_file` (YAML 1.2 numbers,
    duplicate keys refused); a relative ``config_file`` of ``market_over_time`` is resolved
    here, against the current folder, not on the Dask workers.
    """
    data = load_config_file(path, "sweep config", toml=False)
    if not isinstance(data, dict):
        raise TypeError(f"sweep config {str(path)!r} must be a mapping with keys {list(_SWEEP_KEYS)}")
    unknown = [k for k in data if k not in _SWEEP_KEYS]
    if unknown:
        raise ValueError(f"sweep config key {unknown[0]!r} is unknown; the keys are {list(_SWEEP_KEYS)}")
    for key in ("experiment", "grid", "seeds"):
        if key not in data:
            raise ValueError(f"sweep config {str(path)!r} lacks the key {key!r}")
    out = data.get("out")
    if out is not None and (not isinstance(out, str) or not out):
        raise TypeError(f"sweep config key 'out' must be a folder path, got {type(out).__name__} {out!r}")
    cls = experiment_class(data["experiment"])
    base = cls.from_dict(data.get("config") or {})
    return {"experiment": base, "grid": data["grid"], "seeds": data["seeds"], "out": out}


def register_cli(subparsers: Any) -> None:
    """Add the ``sweep`` subcommand."""
    parser = subparsers.add_parser(
        "sweep",
        help="run an experiment over a grid and seeds on Dask (resumable Parquet dataset)",
        description="Run an experiment of oasis_lab.experiments over a grid of configs and seeds, "
        "on a LocalCluster over this machine's cores or on an existing Dask cluster. Finished "
        "points are appended to a Parquet dataset as they finish; rerunning resumes without "
        "recomputing them. Prints the mean over seeds per grid point.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--config", type=Path, required=True,
        help="YAML sweep file with keys experiment, config, grid, seeds, out (required)",
    )
    parser.add_argument(
        "--scheduler", default=None,
        help="address of a running Dask scheduler, tcp://HOST:8786 (default: a new LocalCluster "
        "with one worker process per core)",
    )
    parser.add_argument(
        "--out", type=Path, default=None,
        help="Parquet dataset folder (default: the file's 'out', else sweeps/<experiment>)",
    )
    parser.add_argument("--serial", action="store_true",
                        help="run in this process, without Dask (default: on Dask)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (default: shown)")
    add_wide_option(parser)
    parser.set_defaults(func=_run_sweep)


def _run_sweep(args: argparse.Namespace) -> int:
    spec = load_sweep_file(args.config)
    base = spec["experiment"]
    out = args.out or (Path(spec["out"]) if spec["out"] else Path("sweeps") / base.name)
    check_output_dir("--out", out)  # before the sweep, not after it
    client: Any = "serial" if args.serial else args.scheduler
    frame = sweep(base, spec["grid"], spec["seeds"], client=client, out=out, progress=not args.no_progress)
    keys = [c for c in frame.columns[: list(frame.columns).index("seed")] if c != "point"]
    numeric = [c for c in frame.select_dtypes("number").columns if c not in ("point", "seed", *keys)]
    table = frame.groupby(["point", *keys], sort=True)[numeric].mean().reset_index(level=0, drop=True)
    print(f"{base.name}: mean over {frame['seed'].nunique()} seed(s) per grid point")
    # within WIDTH columns: blocks of columns, each with the grid point's values (--wide: whole)
    print(fit_table(table, index=True, wide=args.wide))
    print(f"{len(frame)} rows in {out}")
    return 0
