"""``python -m oasis_lab design``: a design search of the market's settings, from a YAML file.

``design --config FILE [--scheduler ADDR] [--serial] [--out DIR] [--budget N]`` runs
:func:`oasis_lab.experiments.design.design_search` as the file describes::

    base:                            # SimConfig fields (or the name of a config file)
      rounds: 20
      tasks_per_round: 200
      n_providers: 20
      cheater_share: 0.1
      optimum_every: 5               # welfare_share needs the rounds' optimum
    space:                           # dotted config path -> range or choice
      disputes.provider_stake: {type: int, low: 100, high: 20000, log: true}
      disputes.slash_fraction: {type: float, low: 0.0, high: 1.0}
      p_platform: {type: float, low: 0.0, high: 0.2}
      referee: {type: categorical, choices: [trusted, market]}
    objectives: [welfare_share, fraud_paid, security_cost]
    constraints:
      false_convictions: {max: 0}
      honest_participation: {min: 0.95}
    scenarios: [balanced, scarce_supply]  # or a table name -> config overrides
    seeds: 3
    budget: 100
    out: designs/market          # optional; --out wins

(optional keys: ``seed``, ``sampler``, ``sampler_options``, ``batch_size``, ``risk``, ``tail``,
``stake_rate``, ``held_out``, ``rule``), on a LocalCluster over this machine's cores, in this
process (``--serial``) or on the Dask cluster at ``--scheduler``. It prints the Pareto front,
the recommended settings and, with ``held_out: N`` (or ``--held-out N``), their check against
the base config on ``N`` held-out seeds. Rerun it after an interruption: finished trials are
read back from ``out``, not recomputed; a larger ``--budget`` extends the study.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from oasis_lab.clihelp import HelpFormatter, add_wide_option, fit_table
from oasis_lab.configfile import load_config_file
from oasis_lab.experiments.design import RULES, design_search, held_out_check
from oasis_lab.files import check_output_dir

__all__ = ["DESIGN_KEYS", "load_design_file", "register_cli"]

#: The keys of a design file (the first six are required).
DESIGN_KEYS: tuple[str, ...] = (
    "space", "objectives", "scenarios", "seeds", "budget", "base", "constraints", "seed", "sampler",
    "sampler_options", "batch_size", "risk", "tail", "stake_rate", "out", "held_out", "rule",
)
_REQUIRED = ("space", "objectives", "scenarios", "seeds", "budget")


def load_design_file(path: Path) -> dict[str, Any]:
    """Read a design file (YAML or TOML, :func:`oasis_lab.configfile.load_config_file`: YAML 1.2
    numbers, duplicate keys refused): a table with the keys of :data:`DESIGN_KEYS`.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError, TypeError
        An unreadable file, not a table, an unknown or missing key (named). The values are checked by
        :func:`~oasis_lab.experiments.design.check_design` when the search starts.
    """
    data = load_config_file(path, "design file")
    if not isinstance(data, dict):
        raise TypeError(f"design file {path.name!r} must be a table with keys {list(DESIGN_KEYS)}")
    unknown = [k for k in data if k not in DESIGN_KEYS]
    if unknown:
        raise ValueError(f"design file {path.name!r}: key {unknown[0]!r} is unknown; the keys are {list(DESIGN_KEYS)}")
    for key in _REQUIRED:
        if key not in data:
            raise ValueError(f"design file {path.name!r} lacks the key {key!r}")
    return data


def register_cli(subparsers: Any) -> None:
    """Add the ``design`` subcommand."""
    parser = subparsers.add_parser(
        "design",
        help="search the market's settings for the Pareto front (Optuna on Dask, resumable)",
        description="Search the market's settings (stake, slash, shares, bonds, challenge rate, "
        "referee, price rule, Psi weights, fee, ...) for the Pareto front of welfare share, fraud "
        "paid and security cost under constraints, worst case over scenarios, as a YAML file "
        "describes. Trials run on a LocalCluster over this machine's cores, in this process, or "
        "on an existing Dask cluster; a killed study resumes from its folder without recomputing "
        "finished trials. Prints the front, the recommended settings and their held-out check.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--config", type=Path, required=True,
        help="YAML design file with keys space, objectives, constraints, scenarios, seeds, budget, "
        "base, ... (required)",
    )
    parser.add_argument(
        "--scheduler", default=None,
        help="address of a running Dask scheduler, tcp://HOST:8786 (default: a new LocalCluster "
        "with one worker process per core)",
    )
    parser.add_argument("--serial", action="store_true",
                        help="run in this process, without Dask (default: on Dask)")
    parser.add_argument(
        "--out", type=Path, default=None,
        help="the study's folder (default: the file's 'out', else designs/<file name>)",
    )
    parser.add_argument("--budget", type=int, default=None,
                        help="trials in all, overriding the file's budget (default: the file's)")
    parser.add_argument("--held-out", type=int, default=None,
                        help="held-out seeds to check the recommended settings on; 0 skips the check "
                        "(default: the file's held_out, else 0)")
    parser.add_argument("--rule", default=None,
                        help=f"how the recommended point is picked: {', '.join(RULES)} or best:<objective> "
                        "(default: the file's rule, else compromise)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (default: shown)")
    add_wide_option(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    spec = load_design_file(args.config)
    out = args.out or (Path(spec["out"]) if spec.get("out") else Path("designs") / args.config.stem)
    check_output_dir("--out", out)  # before the search, not after it
    if args.serial and args.scheduler:
        raise ValueError("--serial and --scheduler exclude each other")
    budget = spec["budget"] if args.budget is None else args.budget
    held_out = args.held_out if args.held_out is not None else spec.get("held_out", 0)
    rule = args.rule or spec.get("rule", "compromise")
    client: Any = "serial" if args.serial else args.scheduler
    options = {k: spec[k] for k in ("base", "seed", "sampler", "sampler_options", "batch_size", "risk", "tail",
                                    "stake_rate") if k in spec}
    study = design_search(spec["space"], spec["objectives"], spec.get("constraints"), spec["scenarios"],
                          spec["seeds"], budget, client, out=out, progress=not args.no_progress, **options)
    trials = study.trials
    states = trials["state"].value_counts()
    print(f"design: {len(trials)} trials ({states.get('complete', 0)} complete, {states.get('refused', 0)} "
          f"refused by the config), {int(trials['feasible'].sum())} feasible, worst case "
          f"({study.spec.risk}) over {len(study.spec.scenarios)} scenario(s) x {len(study.spec.seeds)} seed(s)")
    front = study.pareto_front()
    shown = ["trial", *study.spec.space, *study.spec.objectives]
    print(f"Pareto front ({len(front)} trials):")
    if front.empty:
        print("  (no feasible trial: relax the constraints or raise the budget)")
        print(f"results in {out} (trials.parquet, runs.parquet)")
        return 0
    print(fit_table(front[shown], wide=args.wide))
    chosen = study.recommend(rule)
    print(f"recommended ({rule}): " + ", ".join(f"{k} = {v!r}" for k, v in chosen.items()))
    if held_out:
        table = held_out_check(study, held_out, client, params=chosen)
        print(f"held-out check on {held_out} seeds (recommended - base config, 95% t intervals):")
        print(fit_table(table[["scenario", "metric", "baseline", "recommended", "difference", "difference_low",
                               "difference_high", "improves"]], wide=args.wide))
    print(f"results in {out} (trials.parquet, runs.parquet)")
    return 0
