"""Stored expected outputs: every registered experiment and four simulations at CI size, on file.

A refactoring that should not change what the workbench computes proves it here: each
:class:`Case` (an experiment config or a simulation config, and one or two seeds) is run
afresh and compared field by field with the Parquet file of the same name under
:data:`EXPECTED_DIR` (``tests/expected/``), as Axelrod keeps its expected tournament results.
``tests/test_expected_outputs.py`` runs every case; ``python -m oasis_lab expected`` does the
same from the command line and ``python -m oasis_lab expected --update`` rewrites the files
when a change of behaviour is intended (then say why in the commit).

The comparison (:func:`compare_frames`) is strict where the computation is: column names,
their order and their dtypes must match, integers, booleans, strings and categories must be
equal, and NaN equals NaN. Floats are compared with :data:`RTOL` and :data:`ATOL`: tight enough
that a change of behaviour (a float moved by 1e-6 relative) is reported, loose enough that the
order in which BLAS, SIMD or a solver sums on another CPU (a few ULPs) is not, because a test
must not depend on the summation order. Columns that measure time are not compared:
:data:`EXCLUDED_COLUMNS` lists them, and only them.

Each stored file is one table (``<case>.parquet`` for an experiment, ``<case>.<table>.parquet``
for the per-round, per-provider, ledger and summary tables of a simulation); the rows of the
seeds are stacked in seed order with a ``seed`` column first, and an index other than the
default ``0 .. n-1`` is kept as a column (the per-provider table's ``provider``).

Examples
--------
>>> import pandas as pd
>>> stored = pd.DataFrame({"n": [1, 2], "welfare": [1.0, 2.0]})
>>> fresh = stored.assign(welfare=[1.0, 2.000001])
>>> [str(d) for d in compare_frames(stored, fresh)]
["column 'welfare' row 1: stored 2.0, fresh 2.000001"]
>>> compare_frames(stored, stored.assign(welfare=[1.0, 2.0 + 1e-15]))
[]
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from oasis_lab.auction.compare import BASELINES
from oasis_lab.checks import check_names
from oasis_lab.experiments.auction import GreedyVsOptimum, OutlierStudy, UnsplitGap, WorstMarket
from oasis_lab.experiments.base import EXPERIMENTS, ExperimentConfig, run
from oasis_lab.experiments.disputes import AdversaryMatrix, Deterrence, ResidualDrift
from oasis_lab.experiments.incentives import (
    DpPrivacy,
    Equilibrium,
    IncentiveTable,
    IrCauses,
    RepeatedWelfare,
    VcgBudget,
    WelfarePrice,
)
from oasis_lab.experiments.learning import LearningCurves, MarketChallengeGame, ScriptedVsLearning
from oasis_lab.experiments.referees import RefereeMarket, SplitVerification
from oasis_lab.experiments.sim import MarketOverTime
from oasis_lab.files import atomic_path
from oasis_lab.market import DATA_DIR
from oasis_lab.sim import SimConfig, load_config, simulate

__all__ = [
    "ATOL",
    "CASES",
    "EXCLUDED_COLUMNS",
    "EXPECTED_DIR",
    "RTOL",
    "Case",
    "CaseReport",
    "Difference",
    "ExperimentCase",
    "SimCase",
    "check",
    "compare_frames",
    "compute",
    "format_differences",
    "read_stored",
    "select",
    "stale_files",
    "update",
]

#: Where the expected outputs are kept: ``tests/expected/`` of the repository.
EXPECTED_DIR = DATA_DIR.parent / "tests" / "expected"

#: Relative tolerance of float columns. A float moved by 1e-6 relative (a changed formula, an
#: extra term, another draw) is a difference; a few ULPs (1e-16 relative each) from another
#: summation order (BLAS threads, SIMD width, the CPU's instruction set, a solver's pivoting)
#: are not, since a test must not depend on the summation order (README, "Tests").
RTOL = 1e-9
#: Absolute tolerance of float columns: for values that should be zero and are a cancellation
#: away from it (a sum of +x and -x in another order leaves ~1e-13 of amounts ~1e3).
ATOL = 1e-12

#: Columns measured with a clock (their values differ between two runs of one config on one
#: machine); checked for presence and dtype but not for values. ``runtime_s`` and
#: ``speedup_vs_ilp`` are ``greedy_vs_optimum``'s (:data:`oasis_lab.experiments.auction.
#: TIMING_COLUMNS`; NaN unless ``timings=True``), ``solve_s`` and ``compact_ilp_s``
#: ``unsplit_gap``'s (:data:`~oasis_lab.experiments.auction.UNSPLIT_TIMING_COLUMNS`, likewise).
#: The simulation's stage timings are not part of its tables
#: (:attr:`oasis_lab.sim.SimulationResult.timings`), so they are not stored.
EXCLUDED_COLUMNS: frozenset[str] = frozenset({"runtime_s", "speedup_vs_ilp", "solve_s", "compact_ilp_s"})


# ----------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class ExperimentCase:
    """A registered experiment at a CI-size config and its seeds: one stored table.

    The table is ``run(config, seed)`` for each seed, stacked in seed order, with ``seed`` as
    its first column.
    """

    name: str
    config: ExperimentConfig
    seeds: tuple[int, ...]

    @property
    def files(self) -> tuple[str, ...]:
        """The stems of the stored files (``<stem>.parquet``)."""
        return (self.name,)

    def compute(self) -> dict[str, pd.DataFrame]:
        """The case's tables by file stem, computed afresh."""
        return {self.name: _stack((_flat(run(self.config, seed)), seed) for seed in self.seeds)}

    def describe(self) -> str:
        """The experiment and the fields that differ from its defaults."""
        default = type(self.config)()
        changed = {f: getattr(self.config, f) for f in self.config.field_names()
                   if getattr(self.config, f) != getattr(default, f)}
        return f"experiment {self.config.name} {_args(changed)}, seeds {list(self.seeds)}"


#: The tables of a :class:`SimCase`, each a stored file ``<case>.<table>.parquet``.
SIM_TABLES = ("rounds", "providers", "ledger", "summary")


@dataclass(frozen=True)
class SimCase:
    """A shipped simulation configuration (``data/configs/``) at CI size and its seeds.

    Stores :func:`oasis_lab.sim.simulate`'s per-round table, per-provider table, final ledger
    (exact integer smallest units) and :meth:`~oasis_lab.sim.SimulationResult.summary`, each
    stacked over the seeds.
    """

    name: str
    config_file: str
    overrides: tuple[tuple[str, Any], ...]
    seeds: tuple[int, ...]
    #: the tables stored (a run with learning agents adds ``agents``, their decisions)
    tables: tuple[str, ...] = SIM_TABLES

    @property
    def files(self) -> tuple[str, ...]:
        """The stems of the stored files (``<stem>.parquet``)."""
        return tuple(f"{self.name}.{table}" for table in self.tables)

    def config(self) -> SimConfig:
        """The configuration run: the file with :attr:`overrides` (checked by the sim)."""
        return load_config(self.config_file, **dict(self.overrides))

    def compute(self) -> dict[str, pd.DataFrame]:
        """The case's tables by file stem, computed afresh (one simulation per seed)."""
        config = self.config()
        results = [simulate(config, seed) for seed in self.seeds]
        return {
            f"{self.name}.{table}": _stack(
                (_flat(r.summary() if table == "summary" else getattr(r, table)), r.seed) for r in results
            )
            for table in self.tables
        }

    def describe(self) -> str:
        """The configuration file and its overrides."""
        return f"simulation {self.config_file} {_args(dict(self.overrides))}, seeds {list(self.seeds)}"


#: A stored case: an experiment's or a simulation's.
Case: TypeAlias = ExperimentCase | SimCase

#: The simulations' CI size: 10 rounds of 100 tasks on 40 providers, 10% cheaters and a user
#: challenge probability of 0.2, so that both seeds have disputes, convictions and removals
#: (and, under market referees, an appeal and a slashed referee). ``other_hardware.toml`` keeps
#: its own (no) cheaters.
_SIM_SIZE: tuple[tuple[str, Any], ...] = (
    ("rounds", 10),
    ("tasks_per_round", 100),
    ("n_providers", 40),
    ("p_user", 0.2),
)
_CHEATERS: tuple[tuple[str, Any], ...] = (("cheater_share", 0.1),)

#: Every case by name. Every registered experiment has at least one (a test checks it); the
#: sizes keep all of them under half a minute on one core.
CASES: dict[str, Case] = {
    case.name: case
    for case in (
        ExperimentCase("greedy_vs_optimum", GreedyVsOptimum(n_tasks=20, n_types=2), (0, 1)),
        # single-type unit demand: where every classic mechanism applies (VCG, McAfee, SBBA, DP)
        ExperimentCase(
            "greedy_vs_optimum_unit_demand",
            GreedyVsOptimum(n_tasks=16, unit_demand=True, mechanisms=BASELINES),
            (0,),
        ),
        ExperimentCase("outlier", OutlierStudy(n_tasks=200), (0, 1)),
        ExperimentCase("worst_market", WorstMarket(n_tasks=12, n_markets=2), (0,)),
        # sizes every machine solves to optimality well inside the limit (a solve the limit stops
        # has a machine-dependent incumbent and bound)
        ExperimentCase("unsplit_gap", UnsplitGap(sizes=(6, 10), time_limit=60.0), (0, 1)),
        ExperimentCase("adversary_matrix", AdversaryMatrix(), (0,)),
        ExperimentCase("residual_drift", ResidualDrift(max_ulps=(1, 4)), (0,)),
        ExperimentCase("deterrence", Deterrence(n_tasks=600, n_nodes=32), (0, 1)),
        # a stake low enough that the opportunists cheat (the other branch of the welfare)
        ExperimentCase("deterrence_cheating", Deterrence(n_tasks=600, n_nodes=32, stake=100.0), (0, 1)),
        # learning agents: a shipped learning config's curves, and the known answer's game at a
        # platform rate that deters (short: the rates move, the closed form is the run's own)
        ExperimentCase("learning_curves", LearningCurves(rounds=6), (0,)),
        ExperimentCase("market_challenge_game", MarketChallengeGame(platform_rate=0.1, rounds=60), (0,)),
        # the learning market against the same market scripted, with the exact optimum every 3 rounds
        ExperimentCase(
            "scripted_vs_learning",
            ScriptedVsLearning(rounds=6, tasks_per_round=100, n_providers=40, optimum_every=3),
            (0,),
        ),
        ExperimentCase(
            "market_over_time",
            MarketOverTime(rounds=5, tasks_per_round=60, n_providers=20, p_user=0.2),
            (0, 1),
        ),
        # the studies of notebooks 08 and 09 at the notebooks' CI size (each case one grid
        # point of the notebook's sweep); each was run by the pre-move functions
        # (referee_study, incentives.study, equilibrium_study) with the same rows
        ExperimentCase(
            "referee_market",
            RefereeMarket(n_disputes=40, n_nodes=32, corrupt_share=0.3, appeal_to="market"),
            (0, 1),
        ),
        # bribable referees whose stake is below the bribe: wrong first rulings, all appealed
        ExperimentCase(
            "referee_market_bribable",
            RefereeMarket(n_disputes=40, n_nodes=32, corrupt_share=0.3, corrupt_kind="bribable", bribe=3000,
                          referee_stake=2000),
            (0, 1),
        ),
        ExperimentCase("split_verification", SplitVerification(n_verifiers=4, n_trials=80, n_nodes=32), (0, 1)),
        ExperimentCase(
            "incentive_table",
            IncentiveTable(n_tasks=14, n_providers=4, unit_tasks=14, unit_providers=6, tiny_tasks=4,
                           tiny_providers=2, report_grid=(0.5, 0.8, 1.25, 2.0), search="grid",
                           user_shades=(0.0, 0.3, 0.6), provider_markups=(0.0, 0.3, 0.6), max_sweeps=3,
                           certificate_scan=21, certificate_refine=1),
            (0, 1),
        ),
        ExperimentCase(
            "equilibrium",
            Equilibrium(n_tasks=12, n_providers=4, max_sweeps=2, scan=21, refine=1, certificate_scan=21,
                        certificate_refine=1),
            (0, 1),
        ),
        ExperimentCase("welfare_price", WelfarePrice(n_tasks=120, n_providers=12), (0, 1)),
        # the truthful variant round after round, by price source (issue 19 item 4)
        ExperimentCase("repeated_welfare", RepeatedWelfare(n_tasks=40, n_providers=8, rounds=3), (0, 1)),
        ExperimentCase("vcg_budget", VcgBudget(tiny_tasks=4, tiny_providers=2, draws=2), (0, 1)),
        ExperimentCase("dp_privacy", DpPrivacy(unit_tasks=14, unit_providers=6), (0, 1)),
        ExperimentCase("ir_causes", IrCauses(n_tasks=280, n_providers=40, scenario="price_crossing"), (0, 1)),
        # with the exact optimum every 5 rounds (the engine's optional optimum stage)
        SimCase("sim_cheaters", "cheaters.yaml", (*_SIM_SIZE, *_CHEATERS, ("optimum_every", 5)), (0, 2)),
        SimCase("sim_market_referees", "market_referees.yaml", (*_SIM_SIZE, *_CHEATERS), (0, 2)),
        # honest providers on other hardware: false convictions, idle costs and exits (TOML)
        SimCase("sim_other_hardware", "other_hardware.toml", _SIM_SIZE, (1, 2)),
        # learning cheaters and three racing challengers (best response), convicted cheaters
        # rejoining: the learners' decisions are stored too
        SimCase("sim_learning", "learning.yaml", (*_SIM_SIZE, ("cheater_share", 0.2)), (0, 2),
                (*SIM_TABLES, "agents")),
    )
}


def select(only: Iterable[str] | None = None) -> list[Case]:
    """The cases named in ``only`` (all of them when ``None``), refusing an unknown name."""
    if only is None:
        return list(CASES.values())
    names = check_names("only", list(only), list(CASES))
    return [CASES[n] for n in dict.fromkeys(names)]


def _args(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in values.items()) or "(defaults)"


def _flat(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a default index: any other index (named, or not ``0 .. n-1``) becomes
    columns, so that it is stored and compared like the other fields."""
    index = frame.index
    default = (
        isinstance(index, pd.RangeIndex) and index.name is None and index.start == 0 and index.step == 1
    )
    return frame.copy() if default else frame.reset_index()


def _stack(frames: Iterable[tuple[pd.DataFrame, int]]) -> pd.DataFrame:
    """The frames of the seeds, in seed order, with ``seed`` first (kept where it exists)."""
    parts = []
    for frame, seed in frames:
        if "seed" in frame:
            if not (frame["seed"] == seed).all():
                raise ValueError(f"a table of seed {seed} has other seeds in its 'seed' column")
            frame = frame[["seed", *[c for c in frame if c != "seed"]]]
        else:
            frame.insert(0, "seed", seed)
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)


# ----------------------------------------------------------------------------- Parquet
def _to_parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False, compression="zstd")
    return buf.getvalue()


def _through_parquet(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as it reads back from its file: a fresh frame is compared with a stored one
    in the same representation (Parquet's dtypes), so only real differences are reported."""
    return pd.read_parquet(io.BytesIO(_to_parquet(frame)))


def read_stored(stem: str, folder: str | Path | None = None) -> pd.DataFrame:
    """The stored table ``<folder>/<stem>.parquet`` (``folder`` defaults to :data:`EXPECTED_DIR`)."""
    path = Path(folder or EXPECTED_DIR) / f"{stem}.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"no stored expected output {str(path)!r}")
    return pd.read_parquet(path)


# ----------------------------------------------------------------------------- comparison
@dataclass(frozen=True)
class Difference:
    """One difference between a stored table and a fresh one.

    ``what`` is ``"value"`` (``column``, ``row``, ``stored`` and ``fresh`` values), ``"dtype"``
    (the two dtypes), ``"missing column"``/``"extra column"``, ``"column order"``,
    ``"missing row"``/``"extra row"`` (the row as a dict) or ``"missing file"``.
    """

    what: str
    column: str | None = None
    row: int | None = None
    stored: Any = None
    fresh: Any = None

    def __str__(self) -> str:
        if self.what == "value":
            return f"column {self.column!r} row {self.row}: stored {self.stored!r}, fresh {self.fresh!r}"
        if self.what == "dtype":
            return f"column {self.column!r}: dtype stored {self.stored}, fresh {self.fresh}"
        if self.what in ("missing column", "extra column"):
            held = "the stored table" if self.what == "missing column" else "the fresh table"
            return f"{self.what} {self.column!r}: only {held} has it"
        if self.what in ("missing row", "extra row"):
            values = self.stored if self.what == "missing row" else self.fresh
            return f"{self.what} {self.row}: {values}"
        if self.what == "column order":
            return f"column order: stored {self.stored}, fresh {self.fresh}"
        return f"{self.what}: {self.stored!r}"


def _numeric(dtype: Any) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _floaty(dtype: Any) -> bool:
    return pd.api.types.is_float_dtype(dtype) or pd.api.types.is_complex_dtype(dtype)


def _as_float(values: pd.Series) -> np.ndarray:
    return np.asarray(values.astype("float64"), dtype=float)


def _equal_cells(a: Any, b: Any) -> bool:
    if isinstance(a, (np.ndarray, list, tuple)) or isinstance(b, (np.ndarray, list, tuple)):
        # a list column reads back as arrays: equal when the shapes and every element are
        x, y = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
        return x.shape == y.shape and all(_equal_cells(u, v) for u, v in zip(x.ravel(), y.ravel(), strict=True))
    a_na, b_na = _is_na(a), _is_na(b)
    if a_na or b_na:
        return a_na and b_na
    return bool(a == b)


def _is_na(x: Any) -> bool:
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):  # a container cell: not a missing value
        return False


def _unequal_rows(old: pd.Series, new: pd.Series, rtol: float, atol: float) -> np.ndarray:
    """Positions where two aligned columns differ under the rules of :func:`compare_frames`."""
    if _numeric(old.dtype) and _numeric(new.dtype) and (_floaty(old.dtype) or _floaty(new.dtype)):
        a, b = _as_float(old), _as_float(new)
        same = np.isclose(b, a, rtol=rtol, atol=atol, equal_nan=True)
        return np.flatnonzero(~same)
    if (
        (_numeric(old.dtype) and _numeric(new.dtype))
        or (pd.api.types.is_bool_dtype(old.dtype) and pd.api.types.is_bool_dtype(new.dtype))
    ) and not (old.hasnans or new.hasnans):
        return np.flatnonzero(old.to_numpy() != new.to_numpy())
    # strings, categories, objects, nullable values: exact, cell by cell (a Python loop over
    # the rows of one column of a CI-size table; the cells may be strings, None or arrays)
    a, b = old.astype(object).tolist(), new.astype(object).tolist()
    return np.array([i for i, (x, y) in enumerate(zip(a, b, strict=True)) if not _equal_cells(x, y)], dtype=int)


def _cell(value: Any) -> Any:
    """A value as reported: a plain Python scalar (numpy scalars printed without their type)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def compare_frames(
    stored: pd.DataFrame,
    fresh: pd.DataFrame,
    *,
    rtol: float = RTOL,
    atol: float = ATOL,
    exclude: Iterable[str] = EXCLUDED_COLUMNS,
) -> list[Difference]:
    """Every difference between a stored table and a fresh one, field by field.

    Parameters
    ----------
    stored, fresh : pandas.DataFrame
        Tables with a default index (:func:`compute` gives such tables); rows are compared by
        position.
    rtol, atol : float
        Float columns: a value differs where ``|fresh - stored| > atol + rtol |stored|``;
        NaN equals NaN (and nothing else).
    exclude : iterable of str
        Columns compared for presence, order and dtype but not for values (clock readings).

    Returns
    -------
    list of Difference
        Missing and extra columns, a changed column order, changed dtypes (strings and
        categories included: a categorical column's categories are part of its dtype), then
        every differing cell of the columns both tables have, column by column in the stored
        order, then missing and extra rows. Empty when the tables agree.
    """
    for name, frame in (("stored", stored), ("fresh", fresh)):
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"{name} must be a DataFrame, got {type(frame).__name__}")
    excluded = set(exclude)
    old_cols, new_cols = [str(c) for c in stored.columns], [str(c) for c in fresh.columns]
    for name, cols in (("stored", old_cols), ("fresh", new_cols)):
        if len(set(cols)) != len(cols):
            raise ValueError(f"{name} table has repeated column names {sorted({c for c in cols if cols.count(c) > 1})}")
    diffs = [Difference("missing column", c) for c in old_cols if c not in new_cols]
    diffs += [Difference("extra column", c) for c in new_cols if c not in old_cols]
    common = [c for c in old_cols if c in new_cols]
    if [c for c in new_cols if c in old_cols] != common:
        diffs.append(Difference("column order", stored=common, fresh=[c for c in new_cols if c in old_cols]))
    old = stored.set_axis(old_cols, axis=1).reset_index(drop=True)
    new = fresh.set_axis(new_cols, axis=1).reset_index(drop=True)
    for c in common:
        if str(old[c].dtype) != str(new[c].dtype) or (
            isinstance(old[c].dtype, pd.CategoricalDtype) and old[c].dtype != new[c].dtype
        ):
            diffs.append(Difference("dtype", c, stored=old[c].dtype, fresh=new[c].dtype))
    n = min(len(old), len(new))
    for c in common:
        if c in excluded:
            continue
        a, b = old[c].iloc[:n], new[c].iloc[:n]
        for i in _unequal_rows(a, b, rtol, atol):
            diffs.append(Difference("value", c, int(i), _cell(a.iloc[i]), _cell(b.iloc[i])))
    for i in range(n, len(old)):
        diffs.append(Difference("missing row", row=i, stored={k: _cell(v) for k, v in old.iloc[i].items()}))
    for i in range(n, len(new)):
        diffs.append(Difference("extra row", row=i, fresh={k: _cell(v) for k, v in new.iloc[i].items()}))
    return diffs


def format_differences(diffs: Sequence[Difference], limit: int = 10) -> list[str]:
    """Lines reporting ``diffs``: every differing column and row, at most ``limit`` cells per
    column (then how many more; ``limit=0`` shows all)."""
    lines: list[str] = []
    shown: dict[str | None, int] = {}
    hidden: dict[str | None, int] = {}
    for d in diffs:
        if d.what == "value" and limit:
            shown[d.column] = shown.get(d.column, 0) + 1
            if shown[d.column] > limit:
                hidden[d.column] = hidden.get(d.column, 0) + 1
                continue
        lines.append(str(d))
    for column, count in hidden.items():
        lines.append(f"column {column!r}: {count} more differing row(s) not shown")
    return lines


# ----------------------------------------------------------------------------- check, update
@dataclass(frozen=True)
class CaseReport:
    """What :func:`check` found for one case: the differences of each of its stored files."""

    case: Case
    differences: dict[str, list[Difference]]
    rows: dict[str, int]

    @property
    def ok(self) -> bool:
        return not any(self.differences.values())


def compute(case: Case) -> dict[str, pd.DataFrame]:
    """A case's tables by file stem, computed afresh and read back through Parquet."""
    return {stem: _through_parquet(frame) for stem, frame in case.compute().items()}


def _compare_case(case: Case, tables: Mapping[str, pd.DataFrame], folder: Path) -> CaseReport:
    differences: dict[str, list[Difference]] = {}
    for stem, fresh in tables.items():
        path = folder / f"{stem}.parquet"
        if not path.is_file():
            differences[stem] = [Difference("missing file", stored=str(path))]
        else:
            differences[stem] = compare_frames(pd.read_parquet(path), fresh)
    return CaseReport(case, differences, {stem: len(t) for stem, t in tables.items()})


def check(cases: Iterable[Case] | None = None, folder: str | Path | None = None) -> list[CaseReport]:
    """Run ``cases`` (default: all) and compare each table with its stored file."""
    folder = Path(folder or EXPECTED_DIR)
    return [_compare_case(case, compute(case), folder) for case in (CASES.values() if cases is None else cases)]


def update(cases: Iterable[Case] | None = None, folder: str | Path | None = None) -> list[CaseReport]:
    """Run ``cases`` (default: all) and write every table whose stored file differs or is
    absent (atomically); a table within tolerance of its file is left as it is, so a rerun on
    another CPU rewrites nothing. Returns what differed before the writes."""
    folder = Path(folder or EXPECTED_DIR)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {str(folder)!r} does not exist")
    reports = []
    for case in CASES.values() if cases is None else cases:
        tables = compute(case)
        report = _compare_case(case, tables, folder)
        for stem, diffs in report.differences.items():
            if diffs:
                with atomic_path(folder / f"{stem}.parquet", keep_suffix=True) as tmp:
                    tmp.write_bytes(_to_parquet(tables[stem]))
        reports.append(report)
    return reports


def stale_files(folder: str | Path | None = None) -> list[Path]:
    """Parquet files in ``folder`` that no case writes (a case renamed or removed)."""
    folder = Path(folder or EXPECTED_DIR)
    known = {f"{stem}.parquet" for case in CASES.values() for stem in case.files}
    return sorted(p for p in folder.glob("*.parquet") if p.name not in known)


def _unregistered() -> list[str]:
    """Registered experiments without a case (tests register their own ``test_*`` ones)."""
    covered = {c.config.name for c in CASES.values() if isinstance(c, ExperimentCase)}
    return sorted(n for n in EXPERIMENTS if n not in covered and not n.startswith("test_"))

