"""Design search: the mechanism settings that keep the market efficient and honest.

:func:`design_search` searches the settings of the market over time
(:class:`oasis_lab.sim.SimConfig`, whitepaper sections 4 and 5) for the Pareto front of
welfare (the share of each round's exact optimum the auction reaches), fraud paid and the
cost of security, under constraints on false convictions and honest providers' participation,
judged by the worst case over scenarios.

- **The space** maps a *dotted path* into the config's table tree (:meth:`SimConfig.to_dict`,
  the same tree the YAML/TOML config files write) to a range or a choice:
  ``disputes.provider_stake``, ``disputes.slash_fraction``, ``p_platform``, ``dispute_delay``,
  ``referee``, ``auction.price_rule``, ``auction.psi_weights[0]``, ``auction.fee``,
  ``policies.challenger.n_challengers``, ... A field added to ``SimConfig`` is searchable the
  moment it is in that tree: nothing here names a field. Each dimension is a :class:`Float`, :class:`Int`
  (either on a log scale) or :class:`Choice`. Every key is checked against the base config
  and every scenario before any trial runs: an unknown key, an empty or inverted range, or an
  end of a range the config refuses is one error naming the key.
- **A trial** is one setting: one simulation (:func:`oasis_lab.sim.simulate`) per scenario
  and seed, the same seeds for every trial (common random numbers: trials differ by their
  settings, not by their luck). Each run is scored by the :data:`METRICS` (welfare share,
  fraud paid, security cost, false convictions, honest participation, ...), and a trial's
  score on a metric is its **worst scenario's mean over seeds** (``risk="worst"``) or the
  mean of its worst ``tail`` share of runs (``risk="cvar"``, a tail measure).
- **The optimiser** is Optuna (multi-objective TPE by default, or NSGA-II), asked for a
  batch of trials at a time; each batch's simulations run on Dask as
  :func:`~oasis_lab.experiments.sweep.sweep`'s do (a LocalCluster, a scheduler address, or
  ``"serial"`` in this process), and the results are told back in trial order. Constraints
  are Optuna's (``Trial.set_constraint``): a trial that breaks one is kept but ranked behind
  every feasible trial. The sampler of trial ``k`` is seeded from ``(seed, k)`` through
  :mod:`oasis_lab.seeding`, so a study is a pure function of its spec and seed, whether it
  ran serially, on Dask or was killed and resumed.
- **Resuming**: with ``out``, the study's journal (Optuna's ``JournalStorage`` on a file),
  each trial's runs (``runs/trial-NNNNN.parquet``, written atomically and checksummed as soon as
  the trial's simulations finish) and the spec (``design.json``) live in that folder. Run again with the
  same spec and ``out`` (after a crash, a ``kill -9`` or Ctrl-C) and finished trials are read
  back, not recomputed; a trial that was running is finished with the settings it was asked
  with, so the resumed study equals one that never stopped. A larger ``budget`` extends it.
- **Results**: ``runs.parquet`` (one row per trial x scenario x seed) and ``trials.parquet``
  (one row per trial: settings, scores, constraint slacks, feasibility); :func:`pareto_front`,
  :func:`recommend` (a stated rule picks one point) and :func:`held_out_check` (the recommended
  settings against the base config on held-out seeds, with t intervals).

Examples
--------
>>> from oasis_lab.experiments.design import Float, design_search
>>> study = design_search(
...     {"disputes.provider_stake": {"type": "int", "low": 100, "high": 20000, "log": True},
...      "p_platform": Float(0.0, 0.2)},
...     ["fraud_paid", "security_cost"], {"false_convictions": {"max": 0}},
...     ["balanced"], 2, budget=4, client="serial", batch_size=2, progress=False,
...     base={"rounds": 3, "tasks_per_round": 30, "n_providers": 8, "cheater_share": 0.25})
>>> list(study.trials["state"])
['complete', 'complete', 'complete', 'complete']
>>> len(study.runs)  # 4 trials x 1 scenario x 2 seeds
8
"""

from __future__ import annotations

import copy
import fcntl
import json
import math
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np
import pandas as pd

from oasis_lab.checks import check_bool, check_choice, check_int, check_real
from oasis_lab.experiments.sweep import _seeds, check_client, close_client, open_client
from oasis_lab.files import atomic_write, check_output_dir, read_sealed_parquet, write_sealed_parquet
from oasis_lab.seeding import child_seed
from oasis_lab.sim import SimConfig, SimulationResult, load_config, simulate

__all__ = [
    "DIRECTIONS",
    "METRICS",
    "RISKS",
    "RULES",
    "SAMPLERS",
    "Choice",
    "DesignSpec",
    "DesignStudy",
    "Float",
    "Int",
    "Metric",
    "check_design",
    "design_search",
    "held_out_check",
    "held_out_seeds",
    "load_study",
    "pareto_front",
    "recommend",
]

DIRECTIONS: tuple[str, ...] = ("maximize", "minimize")
#: How a trial's runs become its score on a metric: the worst scenario's mean over seeds, or
#: the mean of the worst ``tail`` share of all its runs (conditional value at risk).
RISKS: tuple[str, ...] = ("worst", "cvar")
#: Optuna samplers: multi-objective TPE, NSGA-II, uniform random (a baseline).
SAMPLERS: tuple[str, ...] = ("tpe", "nsga2", "random")
#: How :func:`recommend` picks one point of the feasible Pareto front (``best:<metric>`` too).
RULES: tuple[str, ...] = ("compromise",)

_STUDY_NAME = "design"
_MANIFEST = "design.json"
_JOURNAL = "study.journal"
_LOCK = "_design.lock"
_RUNS = "runs"
_FORMAT = "oasis_lab.design/1"
_PART_KEY = "oasis_lab.design"
_MAX_STORED_SEED = 2**63 - 1  # seeds are an int64 column of the runs' Parquet


# ----------------------------------------------------------------------------------- space
@dataclass(frozen=True)
class _Range:
    low: Any
    high: Any
    log: bool = False
    kind: ClassVar[str] = ""

    def spec(self) -> dict[str, Any]:
        return {"type": self.kind, "low": self.low, "high": self.high, "log": self.log}


@dataclass(frozen=True)
class Float(_Range):
    """A real range ``[low, high]`` of a setting; ``log``: sampled uniformly in ``log`` (low > 0)."""

    kind: ClassVar[str] = "float"


@dataclass(frozen=True)
class Int(_Range):
    """An integer range ``[low, high]`` of a setting; ``log``: sampled uniformly in ``log`` (low >= 1)."""

    kind: ClassVar[str] = "int"


@dataclass(frozen=True)
class Choice:
    """A setting chosen among ``choices`` (strings, booleans or numbers; ``None`` allowed)."""

    choices: tuple[Any, ...]

    def spec(self) -> dict[str, Any]:
        return {"type": "categorical", "choices": list(self.choices)}


Dimension = Float | Int | Choice
_DIMENSION_KEYS = {"float": {"type", "low", "high", "log"}, "int": {"type", "low", "high", "log"},
                   "categorical": {"type", "choices"}}


def _dimension(key: str, spec: Any) -> Dimension:
    """A checked dimension from a :class:`Float` / :class:`Int` / :class:`Choice` or a table
    ``{type: float|int|categorical, low, high, log}`` / ``{type: categorical, choices}``."""
    name = f"space[{key!r}]"
    if isinstance(spec, Float | Int | Choice):
        spec = spec.spec()
    if not isinstance(spec, Mapping):
        raise TypeError(f"{name} must be a table {{type: float|int|categorical, ...}} or a Float, Int or "
                        f"Choice, got {spec!r}")
    kind = spec.get("type")
    if kind not in _DIMENSION_KEYS:
        raise ValueError(f"{name}: type = {kind!r} is not one of {list(_DIMENSION_KEYS)}")
    unknown = sorted(set(spec) - _DIMENSION_KEYS[kind])
    if unknown:
        raise ValueError(f"{name}: unknown key {unknown[0]!r} for type {kind!r}; "
                         f"known keys: {sorted(_DIMENSION_KEYS[kind])}")
    if kind == "categorical":
        choices = spec.get("choices")
        if isinstance(choices, str | bytes) or not isinstance(choices, Sequence):
            raise TypeError(f"{name}: choices must be a list, got {choices!r}")
        choices = tuple(choices)
        if len(choices) < 2:
            raise ValueError(f"{name}: choices {list(choices)} is empty or has one value; a fixed value "
                             "belongs in the base config")
        bad = [c for c in choices if c is not None and not isinstance(c, str | bool | int | float)]
        if bad:
            raise TypeError(f"{name}: choice {bad[0]!r} is not a string, boolean or number (search a list's "
                            "elements by index, e.g. auction.psi_weights[0])")
        kinds = {"text" if isinstance(c, str) else "bool" if isinstance(c, bool) else "number"
                 for c in choices if c is not None}
        if len(kinds) > 1:
            raise TypeError(f"{name}: choices {list(choices)} mix {sorted(kinds)}; give one kind")
        if len(set(choices)) != len(choices):
            raise ValueError(f"{name}: choices {list(choices)} repeat a value")
        return Choice(choices)
    for bound in ("low", "high"):
        if bound not in spec:
            raise ValueError(f"{name}: type {kind!r} needs {bound!r}")
    log = check_bool(f"{name}.log", spec.get("log", False))
    low: float
    high: float
    if kind == "int":
        low = check_int(f"{name}.low", spec["low"])
        high = check_int(f"{name}.high", spec["high"])
    else:
        low = check_real(f"{name}.low", spec["low"])
        high = check_real(f"{name}.high", spec["high"])
    if low >= high:
        what = "empty (a fixed value belongs in the base config)" if low == high else "inverted"
        raise ValueError(f"{name}: low = {low!r}, high = {high!r} is {what}; need low < high")
    if log and (low < 1 if kind == "int" else low <= 0):
        raise ValueError(f"{name}: a log range needs low {'>= 1' if kind == 'int' else '> 0'}, got {low!r}")
    return Int(int(low), int(high), log) if kind == "int" else Float(float(low), float(high), log)


def _probes(dim: Dimension) -> tuple[Any, ...]:
    """The values checked against the config before any trial: both ends, or every choice."""
    return dim.choices if isinstance(dim, Choice) else (dim.low, dim.high)


def _as_value(dim: Dimension, value: Any) -> Any:
    """A stored setting (from Optuna, or a table cell) as the Python value the config takes."""
    if isinstance(dim, Int):
        return int(value)
    if isinstance(dim, Float):
        return float(value)
    for choice in dim.choices:
        if choice == value and (choice is None) == (value is None):
            return choice
    raise ValueError(f"{value!r} is not one of the choices {list(dim.choices)}")


# ---------------------------------------------------------------------- dotted paths
_SEGMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)((?:\[[0-9]+\])*)$")


def _parse_path(path: Any, what: str) -> tuple[str | int, ...]:
    """``"auction.psi_weights[2]"`` -> ``("auction", "psi_weights", 2)``."""
    if not isinstance(path, str) or not path:
        raise TypeError(f"{what} must be a dotted path such as 'disputes.provider_stake', got {path!r}")
    parts: list[str | int] = []
    for segment in path.split("."):
        match = _SEGMENT.match(segment)
        if not match:
            raise ValueError(f"{what} {path!r}: {segment!r} is not a field name (optionally indexed, as "
                             "psi_weights[0])")
        parts.append(match.group(1))
        parts.extend(int(i) for i in re.findall(r"\[([0-9]+)\]", match.group(2)))
    return tuple(parts)


def _get(tree: Any, parts: tuple[str | int, ...], path: str, what: str) -> Any:
    """The value at ``parts`` of a config tree, or an error naming ``path`` and what is there."""
    node = tree
    for i, part in enumerate(parts):
        here = _fmt_path(parts[:i]) or "SimConfig"
        if isinstance(part, str):
            if not isinstance(node, dict):
                raise ValueError(f"{what} {path!r}: {here} is {node!r}, not a table of fields")
            if part not in node:
                raise ValueError(f"{what} {path!r}: {part!r} is not a field of {here}; its fields: {sorted(node)}")
        else:
            if not isinstance(node, list):
                hint = " (set the whole list in the base config to search its elements)" if node is None else ""
                raise ValueError(f"{what} {path!r}: {here} is {node!r}, not a list{hint}")
            if not 0 <= part < len(node):
                raise ValueError(f"{what} {path!r}: index {part} is outside {here}, which has {len(node)} elements")
        node = node[part]
    return node


def _set(tree: Any, parts: tuple[str | int, ...], value: Any) -> None:
    node = tree
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value


def _fmt_path(parts: Sequence[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _overlap(a: tuple[str | int, ...], b: tuple[str | int, ...]) -> bool:
    """One path is the other or lies inside it."""
    n = min(len(a), len(b))
    return a[:n] == b[:n]


# --------------------------------------------------------------------------- metrics
@dataclass(frozen=True)
class Metric:
    """A number scored from one simulation run.

    Parameters
    ----------
    fn : callable
        ``fn(result, **options) -> float`` on a :class:`~oasis_lab.sim.SimulationResult`. A
        module-level function (or a ``functools.partial`` of one), so that Dask ships it to the
        workers.
    direction : {"maximize", "minimize"}
        Which way is better (the default direction of an objective; the worst case).
    description : str
    needs_optimum : bool
        It reads the rounds' exact optimum: every scenario must set ``optimum_every >= 1``.
    options : tuple of str
        Keyword options of :func:`design_search` passed on to ``fn`` (``stake_rate``).
    """

    fn: Callable[..., float]
    direction: str
    description: str
    needs_optimum: bool = False
    options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise TypeError(f"Metric fn must be callable, got {self.fn!r}")
        check_choice("Metric direction", self.direction, DIRECTIONS)


def welfare_share(result: SimulationResult) -> float:
    """Welfare over the rounds whose exact optimum was solved, as a share of that optimum (1 when
    no trade was possible in them)."""
    r = result.rounds
    solved = r["optimum_welfare"].notna().to_numpy()
    optimum = float(r["optimum_welfare"].to_numpy()[solved].sum())
    welfare = float(r["welfare"].to_numpy()[solved].sum())
    return welfare / optimum if optimum > 0 else 1.0


def fraud_paid(result: SimulationResult) -> float:
    """Tokens paid, and kept, for cheated results (payments of cheated jobs settled unreversed)."""
    return float(result.rounds["cheated_settled"].sum())


def security_cost(result: SimulationResult, stake_rate: float | None = None) -> float:
    """What security costs: the challengers' recomputation costs plus the stake locked.

    ``stake_rate=None`` (the issue's reading): plus the mean stake locked per round, in tokens.
    A rate (per token and round) instead prices the locked capital: plus ``stake_rate`` times the
    token-rounds locked.
    """
    r = result.rounds
    locked = r["stake_locked"].to_numpy()
    stake = float(locked.mean()) if stake_rate is None else stake_rate * float(locked.sum())
    return float(r["challenger_costs"].sum()) + stake


def _ratio(num: float, den: float, empty: float) -> float:
    return num / den if den > 0 else empty


def _sum(column: str) -> Callable[[SimulationResult], float]:
    return partial(_column_sum, column=column)


def _column_sum(result: SimulationResult, column: str) -> float:
    return float(result.rounds[column].sum())


def false_conviction_rate(result: SimulationResult) -> float:
    """False convictions per resolved dispute (0 when none was resolved)."""
    r = result.rounds
    return _ratio(float(r["false_convictions"].sum()), float(r["disputes_resolved"].sum()), 0.0)


def honest_participation(result: SimulationResult) -> float:
    """Share of the honest providers ever present (other-device ones included) still in the
    market at the end: neither removed by a conviction nor exited for want of income."""
    p = result.providers
    honest = p["honest"].to_numpy(dtype=bool)
    staying = (p["removed"].to_numpy() < 0) & (p["exited"].to_numpy() < 0)
    return _ratio(float((honest & staying).sum()), float(honest.sum()), 1.0)


def honest_profitable(result: SimulationResult) -> float:
    """Share of the honest providers whose profit over the run is not negative."""
    p = result.providers
    honest = p["honest"].to_numpy(dtype=bool)
    return _ratio(float((honest & (p["profit"].to_numpy() >= 0)).sum()), float(honest.sum()), 1.0)


def served_share(result: SimulationResult) -> float:
    """Tasks served over tasks arrived."""
    r = result.rounds
    return _ratio(float(r["served"].sum()), float(r["arrived"].sum()), 1.0)


def cheat_rate(result: SimulationResult) -> float:
    """Cheated jobs per job."""
    r = result.rounds
    return _ratio(float(r["cheated_jobs"].sum()), float(r["jobs"].sum()), 0.0)


def challenge_rate(result: SimulationResult) -> float:
    """Challenges per job."""
    r = result.rounds
    return _ratio(float(r["challenges"].sum()), float(r["jobs"].sum()), 0.0)


def stake_locked(result: SimulationResult) -> float:
    """Mean tokens locked as provider stake per round."""
    return float(result.rounds["stake_locked"].mean())


#: The metrics a design study can optimise or constrain, by name. Each is computed for every
#: run (and stored in ``runs.parquet``); ``welfare_share`` needs ``optimum_every >= 1``.
METRICS: dict[str, Metric] = {
    "welfare_share": Metric(welfare_share, "maximize", "welfare / the rounds' exact optimum",
                            needs_optimum=True),
    "welfare": Metric(_sum("welfare"), "maximize", "welfare over the run, tokens"),
    "served_share": Metric(served_share, "maximize", "tasks served / tasks arrived"),
    "fraud_paid": Metric(fraud_paid, "minimize", "tokens paid and kept for cheated results"),
    "security_cost": Metric(security_cost, "minimize", "challenger costs + stake locked, tokens",
                            options=("stake_rate",)),
    "challenger_costs": Metric(_sum("challenger_costs"), "minimize", "challengers' recomputation costs, tokens"),
    "stake_locked": Metric(stake_locked, "minimize", "mean provider stake locked per round, tokens"),
    "false_convictions": Metric(_sum("false_convictions"), "minimize", "honest providers convicted"),
    "false_conviction_rate": Metric(false_conviction_rate, "minimize", "false convictions per dispute"),
    "wrong_verdicts": Metric(_sum("wrong_verdicts"), "minimize", "verdicts unlike the trusted stack's"),
    "honest_participation": Metric(honest_participation, "maximize", "honest providers still present at the end"),
    "honest_profitable": Metric(honest_profitable, "maximize", "honest providers with profit >= 0"),
    "cheat_rate": Metric(cheat_rate, "minimize", "cheated jobs per job"),
    "challenge_rate": Metric(challenge_rate, "minimize", "challenges per job"),
}


def _run_one(config: SimConfig, seed: int, fns: Mapping[str, Callable[[SimulationResult], float]]) -> dict[str, float]:
    """One simulation, scored by every metric (module level: Dask ships it by reference)."""
    result = simulate(config, seed)
    return {name: float(fn(result)) for name, fn in fns.items()}


# ---------------------------------------------------------------------------- the spec
@dataclass(frozen=True, eq=False)
class DesignSpec:
    """A checked design study: everything but the budget and where it runs (see :func:`check_design`)."""

    base: SimConfig
    space: dict[str, Dimension]
    objectives: dict[str, str]
    constraints: dict[str, tuple[str, float]]
    scenarios: dict[str, dict[str, Any]]
    seeds: tuple[int, ...]
    seed: int = 0
    sampler: str = "tpe"
    sampler_options: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 8
    risk: str = "worst"
    tail: float = 0.25
    stake_rate: float | None = None
    metrics: dict[str, Metric] = field(default_factory=lambda: dict(METRICS))

    # -------------------------------------------------------------- configs
    def _tree(self, scenario: str) -> dict[str, Any]:
        tree = self.base.to_dict()
        for path, value in self.scenarios[scenario].items():
            _set(tree, _parse_path(path, "scenario key"), copy.deepcopy(value))
        return tree

    def configs(self, params: Mapping[str, Any] | None = None) -> dict[str, SimConfig]:
        """The config of each scenario with ``params`` (dotted path -> value) set.

        Raises
        ------
        ValueError, TypeError
            The config refuses the combination (e.g. challenger + referee shares above 1).
        """
        out = {}
        for name in self.scenarios:
            tree = self._tree(name)
            for path, value in (params or {}).items():
                parts = _parse_path(path, "setting")
                _get(tree, parts, path, "setting")
                _set(tree, parts, value)
            out[name] = SimConfig.from_dict(tree, source=f"scenario {name!r}")
        return out

    def params_of(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A trial's settings (a row of the trials table, or Optuna's params) as config values."""
        return {key: _as_value(dim, row[key]) for key, dim in self.space.items()}

    def metric_functions(self) -> dict[str, Callable[[SimulationResult], float]]:
        """Every metric bound to its options: what each run is scored by."""
        options = {"stake_rate": self.stake_rate}
        return {
            name: partial(m.fn, **{k: options[k] for k in m.options}) if m.options else m.fn
            for name, m in self.metrics.items()
        }

    def constraint_metrics(self) -> list[str]:
        return [name for name in self.constraints if name not in self.objectives]

    # -------------------------------------------------------------- scoring
    def aggregate(self, runs: pd.DataFrame, metric: str, lower_is_worse: bool) -> float:
        """A trial's score on ``metric`` from its runs: the worst scenario's mean over seeds, or the
        mean of the worst ``tail`` share of runs (``risk="cvar"``)."""
        if self.risk == "worst":
            means = runs.groupby("scenario", sort=False)[metric].mean().to_numpy()
            return float(means.min() if lower_is_worse else means.max())
        values = np.sort(runs[metric].to_numpy(dtype=float))
        if not lower_is_worse:
            values = values[::-1]
        k = max(1, math.ceil(self.tail * values.size))
        return float(values[:k].mean())

    def score(self, runs: pd.DataFrame) -> tuple[list[float], dict[str, float], dict[str, float]]:
        """``(objective values, constraint metric values, constraint slacks)`` of one trial's runs;
        a slack above 0 breaks its constraint."""
        values = [self.aggregate(runs, name, d == "maximize") for name, d in self.objectives.items()]
        measured: dict[str, float] = {}
        slack: dict[str, float] = {}
        for name, (kind, bound) in self.constraints.items():
            v = self.aggregate(runs, name, kind == "min")
            measured[name] = v
            slack[name] = v - bound if kind == "max" else bound - v
        return values, measured, slack

    # -------------------------------------------------------------- manifest
    def to_dict(self) -> dict[str, Any]:
        """Everything that defines the study's trials, as JSON-able values (``design.json``)."""
        return {
            "base": self.base.to_dict(),
            "space": {k: d.spec() for k, d in self.space.items()},
            "objectives": dict(self.objectives),
            "constraints": {k: {kind: bound} for k, (kind, bound) in self.constraints.items()},
            "scenarios": {k: dict(v) for k, v in self.scenarios.items()},
            "seeds": list(self.seeds),
            "seed": self.seed,
            "sampler": self.sampler,
            "sampler_options": dict(self.sampler_options),
            "batch_size": self.batch_size,
            "risk": self.risk,
            "tail": self.tail,
            "stake_rate": self.stake_rate,
            "custom_metrics": sorted(k for k, m in self.metrics.items() if METRICS.get(k) is not m),
        }

    def make_sampler(self, trial_number: int) -> Any:
        """The Optuna sampler that asks trial ``trial_number``, seeded from ``(seed, trial_number)``."""
        import optuna

        seed = child_seed(self.seed, "design", "sampler", trial_number) % 2**32
        cls = {"tpe": optuna.samplers.TPESampler, "nsga2": optuna.samplers.NSGAIISampler,
               "random": optuna.samplers.RandomSampler}[self.sampler]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return cls(seed=seed, **self.sampler_options)


def _scenarios(scenarios: Any, base_tree: dict[str, Any]) -> dict[str, dict[str, Any]]:
    if isinstance(scenarios, str):
        scenarios = [scenarios]
    if isinstance(scenarios, Mapping):
        items = list(scenarios.items())
    elif isinstance(scenarios, Sequence):
        items = []
        for s in scenarios:
            if not isinstance(s, str):
                raise TypeError(f"scenarios: a list holds market scenario names, got {s!r}; give a table "
                                "name -> overrides for other scenarios")
            items.append((s, {"scenario": s}))
    else:
        raise TypeError(f"scenarios must be a list of market scenario names or a table name -> overrides, "
                        f"got {scenarios!r}")
    if not items:
        raise ValueError("scenarios is empty: give at least one")
    out: dict[str, dict[str, Any]] = {}
    for name, overrides in items:
        if not isinstance(name, str) or not name:
            raise TypeError(f"scenarios: a scenario's name must be a non-empty string, got {name!r}")
        if name in out:
            raise ValueError(f"scenarios: {name!r} is named twice")
        if overrides is None:
            overrides = {}
        if not isinstance(overrides, Mapping):
            raise TypeError(f"scenarios[{name!r}] must be a table of config overrides, got {overrides!r}")
        out[name] = dict(_flatten(overrides, base_tree, "", f"scenarios[{name!r}] key"))
    return out


def _flatten(overrides: Mapping[str, Any], tree: dict[str, Any], prefix: str, what: str) -> Iterable[tuple[str, Any]]:
    """Dotted paths of a table of overrides (a nested table merges into the config's table)."""
    for key, value in overrides.items():
        path = f"{prefix}.{key}" if prefix else key
        node = _get(tree, _parse_path(path, what), path, what)
        if isinstance(value, Mapping) and isinstance(node, dict):
            yield from _flatten(value, tree, path, what)
        else:
            yield path, value


def _base(base: Any) -> SimConfig:
    if base is None:
        return SimConfig()
    if isinstance(base, SimConfig):
        return base
    if isinstance(base, str | Path):
        return load_config(base)
    if isinstance(base, Mapping):
        return SimConfig.from_dict(dict(base), source="base")
    raise TypeError(f"base must be a SimConfig, a table of its fields or a config file, got {base!r}")


def _objectives(objectives: Any, metrics: Mapping[str, Metric]) -> dict[str, str]:
    if isinstance(objectives, str):
        objectives = [objectives]
    if isinstance(objectives, Mapping):
        items = list(objectives.items())
    elif isinstance(objectives, Sequence):
        items = [(name, None) for name in objectives]
        seen = [name for name, _ in items]
        dup = [n for n in seen if seen.count(n) > 1]
        if dup:
            raise ValueError(f"objectives: {dup[0]!r} is named twice")
    else:
        raise TypeError(f"objectives must be a list of metric names or a table name -> direction, got {objectives!r}")
    if not items:
        raise ValueError(f"objectives is empty: give at least one of {sorted(metrics)}")
    out: dict[str, str] = {}
    for name, direction in items:
        if name not in metrics:
            raise ValueError(f"objectives: {name!r} is not a metric; the metrics: {sorted(metrics)}")
        d = metrics[name].direction if direction is None else direction
        if d not in DIRECTIONS:
            raise ValueError(f"objectives[{name!r}] = {direction!r} is not one of {list(DIRECTIONS)}")
        out[name] = d
    return out


def _constraints(
    constraints: Any, metrics: Mapping[str, Metric], objectives: Mapping[str, str]
) -> dict[str, tuple[str, float]]:
    if constraints is None:
        return {}
    if not isinstance(constraints, Mapping):
        raise TypeError(f"constraints must be a table metric -> {{max: X}} or {{min: X}}, got {constraints!r}")
    out: dict[str, tuple[str, float]] = {}
    for name, bound in constraints.items():
        if name not in metrics:
            raise ValueError(f"constraints: {name!r} is not a metric; the metrics: {sorted(metrics)}")
        if not isinstance(bound, Mapping) or len(bound) != 1 or next(iter(bound)) not in ("max", "min"):
            raise ValueError(f"constraints[{name!r}] must be {{max: X}} or {{min: X}}, got {bound!r}")
        kind, value = next(iter(bound.items()))
        value = check_real(f"constraints[{name!r}].{kind}", value)
        if name in objectives and (kind == "min") != (objectives[name] == "maximize"):
            raise ValueError(f"constraints[{name!r}]: a {kind} bound on an objective to {objectives[name]} "
                             "measures its worst case the other way; bound it the way it is optimised")
        out[name] = (kind, value)
    return out


def check_design(
    space: Mapping[str, Any],
    objectives: Any,
    constraints: Mapping[str, Any] | None,
    scenarios: Any,
    seeds: int | Iterable[int],
    *,
    base: Any = None,
    seed: int = 0,
    sampler: str = "tpe",
    sampler_options: Mapping[str, Any] | None = None,
    batch_size: int = 8,
    risk: str = "worst",
    tail: float = 0.25,
    stake_rate: float | None = None,
    metrics: Mapping[str, Metric] | None = None,
) -> DesignSpec:
    """Check a design study and return its :class:`DesignSpec`; nothing runs.

    Parameters are those of :func:`design_search`.

    Raises
    ------
    ValueError, TypeError
        The first problem, naming its key: an unknown space key (not in the config's tree), an
        empty or inverted range, a range end or a choice the config refuses (in any scenario),
        a scenario that overrides a searched key, an unknown metric, a bad direction or bound,
        a metric that needs ``optimum_every >= 1`` where a scenario has 0, bad seeds or options.
    """
    base_config = _base(base)
    registry = dict(METRICS)
    if metrics is not None:
        if not isinstance(metrics, Mapping):
            raise TypeError(f"metrics must be a table name -> Metric, got {metrics!r}")
        for name, m in metrics.items():
            if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"metrics: name {name!r} must be an identifier (letters, digits, _)")
            if not isinstance(m, Metric):
                raise TypeError(f"metrics[{name!r}] must be a Metric, got {m!r}")
            registry[name] = m
    tree = base_config.to_dict()
    scenario_map = _scenarios(scenarios, tree)
    if not isinstance(space, Mapping) or not space:
        raise (TypeError if not isinstance(space, Mapping) else ValueError)(
            f"space must be a non-empty table of dotted config path -> range, got {space!r}")
    dims: dict[str, Dimension] = {}
    for key, spec in space.items():
        parts = _parse_path(key, "space key")
        value = _get(tree, parts, key, "space key")
        if isinstance(value, dict | list):
            raise ValueError(f"space key {key!r} is a {'table' if isinstance(value, dict) else 'list'}; search "
                             f"its {'fields' if isinstance(value, dict) else 'elements'} ({key}"
                             f"{'.<field>' if isinstance(value, dict) else '[0]'})")
        for other in dims:
            if _overlap(parts, _parse_path(other, "space key")):
                raise ValueError(f"space key {key!r} overlaps {other!r}")
        dims[key] = _dimension(key, spec)
    for name, overrides in scenario_map.items():
        for path in overrides:
            for key in dims:
                if _overlap(_parse_path(path, "scenario key"), _parse_path(key, "space key")):
                    raise ValueError(f"scenarios[{name!r}] sets {path!r}, which the space searches ({key!r})")
    objective_map = _objectives(objectives, registry)
    constraint_map = _constraints(constraints, registry, objective_map)
    seed_list = tuple(_seeds(seeds))
    for s in seed_list:
        if s > _MAX_STORED_SEED:
            raise ValueError(f"seeds: {s} must be < 2**63 (seeds are stored as int64)")
    check_choice("sampler", sampler, SAMPLERS)
    options = dict(sampler_options or {})
    for k in options:
        if k in ("seed", "constraints_func"):
            raise ValueError(f"sampler_options: {k!r} is set by design_search (the seed through oasis_lab.seeding, "
                             "constraints through Trial.set_constraint)")
    spec = DesignSpec(
        base=base_config,
        space=dims,
        objectives=objective_map,
        constraints=constraint_map,
        scenarios=scenario_map,
        seeds=seed_list,
        seed=check_int("seed", seed, 0, _MAX_STORED_SEED),
        sampler=sampler,
        sampler_options=options,
        batch_size=check_int("batch_size", batch_size, 1),
        risk=check_choice("risk", risk, RISKS),
        tail=check_real("tail", tail, positive=True, maximum=1.0),
        stake_rate=None if stake_rate is None else check_real("stake_rate", stake_rate, minimum=0.0),
        metrics=registry,
    )
    try:
        spec.make_sampler(0)
    except TypeError as exc:
        raise TypeError(f"sampler_options {options} for sampler {sampler!r}: {exc}") from None
    # every scenario as given, then every end of every range (and every choice) alone in it
    try:
        scenario_configs = spec.configs()
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"scenarios: {exc}") from None
    for key, dim in dims.items():
        for value in _probes(dim):
            try:
                spec.configs({key: value})
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"space[{key!r}] = {value!r} is refused by the config: {exc}") from None
    used = {**objective_map, **constraint_map}
    for name in used:
        if registry[name].needs_optimum:
            for scen, config in scenario_configs.items():
                if config.optimum_every < 1:
                    raise ValueError(f"metric {name!r} needs the rounds' exact optimum: set optimum_every >= 1 "
                                     f"in the base config (scenario {scen!r} has optimum_every = 0)")
    return spec


# --------------------------------------------------------------------------- running
def _evaluate(
    jobs: Sequence[tuple[Any, SimConfig, int]],
    active: Any,
    fns: Mapping[str, Callable[[SimulationResult], float]],
    done: Callable[[Any, dict[str, float]], None],
) -> None:
    """Run ``(key, config, seed)`` jobs serially or on a Dask client; ``done(key, metrics)`` as each ends."""
    if not jobs:
        return
    if active == "serial":
        for key, config, seed in jobs:
            done(key, _run_one(config, seed, fns))
        return
    from distributed import as_completed

    futures = {active.submit(_run_one, config, seed, fns, pure=False): key for key, config, seed in jobs}
    try:
        for future, row in as_completed(list(futures), with_results=True):
            done(futures[future], row)
    except BaseException:
        # a failed run (or Ctrl-C): stop the rest; finished trials are already written
        active.cancel(list(futures))
        raise


class _Store:
    """Where a study lives: Optuna's storage and each trial's runs (a folder, or memory)."""

    def __init__(self, out: Path | None, spec: DesignSpec) -> None:
        import optuna
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock, JournalStorage

        self.out = out
        self.frames: dict[int, tuple[pd.DataFrame, dict[str, Any]]] = {}
        self._lock: IO[Any] | None = None
        if out is None:
            storage: Any = optuna.storages.InMemoryStorage()
        else:
            out.mkdir(parents=True, exist_ok=True)
            (out / _RUNS).mkdir(exist_ok=True)
            # one search per folder at a time; the OS drops the lock when its process dies
            self._lock = open(out / _LOCK, "a+")  # noqa: SIM115 (held until close)
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._lock.close()
                raise ValueError(f"out = {str(out)!r} is in use by another design search") from None
            _check_manifest(out, spec)
            journal = out / _JOURNAL
            # only this process writes the journal (the folder lock): a journal lock left
            # behind is a killed run's, and would stall the next write for its grace period
            Path(f"{journal}.lock").unlink(missing_ok=True)
            storage = JournalStorage(JournalFileBackend(str(journal), lock_obj=JournalFileOpenLock(str(journal))))
        self.storage = storage

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None

    def path(self, number: int) -> Path | None:
        return None if self.out is None else self.out / _RUNS / f"trial-{number:05d}.parquet"

    def read(self, number: int) -> tuple[pd.DataFrame, dict[str, Any]] | None:
        """A trial's stored runs and the settings they were run with (None: not stored)."""
        if number in self.frames:
            return self.frames[number]
        path = self.path(number)
        if path is None or not path.exists():
            return None
        what = f"design runs file {str(path)!r}"
        try:
            table, metadata = read_sealed_parquet(path, what)
            record = json.loads(metadata[_PART_KEY])
        except (KeyError, ValueError) as exc:
            raise ValueError(f"{exc}; delete it to run that trial again") from None
        if record.get("trial") != number:
            raise ValueError(f"{what} holds trial {record.get('trial')!r}, not {number}; delete it")
        self.frames[number] = (table.to_pandas(), record["params"])
        return self.frames[number]

    def write(self, number: int, frame: pd.DataFrame, params: Mapping[str, Any]) -> None:
        path = self.path(number)
        if path is not None:
            # atomic and checksummed: a trial's runs are complete or absent, so a killed study
            # resumes cleanly, and a damaged file is refused, naming it
            _write_table(path, frame, {"format": _FORMAT, "trial": number, "params": dict(params)})
        self.frames[number] = (frame, dict(params))

    def write_tables(self, trials: pd.DataFrame, runs: pd.DataFrame) -> None:
        if self.out is None:
            return
        for name, frame in (("trials", trials), ("runs", runs)):
            _write_table(self.out / f"{name}.parquet", frame, {"format": _FORMAT, "table": name})


def _write_table(path: Path, frame: pd.DataFrame, record: dict[str, Any]) -> None:
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    write_sealed_parquet(path, table, {_PART_KEY: json.dumps(record)})


def _read_table(path: Path, what: str) -> pd.DataFrame:
    table, _ = read_sealed_parquet(path, what)
    return table.to_pandas()


def _check_manifest(out: Path, spec: DesignSpec) -> None:
    manifest = out / _MANIFEST
    new = json.loads(json.dumps(spec.to_dict(), default=repr))
    if manifest.exists():
        old = json.loads(manifest.read_text())
        if old != new:
            key = next(k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k))
            raise ValueError(f"out = {str(out)!r} holds a design study with another {key!r} "
                             f"({old.get(key)!r}, now {new.get(key)!r}); resume it with the same spec or "
                             "choose another folder")
        return
    with atomic_write(manifest, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(new, indent=1) + "\n")


def _suggest(trial: Any, spec: DesignSpec) -> dict[str, Any]:
    """Ask ``trial`` for every setting of the space (a setting it already has is returned as is)."""
    out = {}
    for key, dim in spec.space.items():
        if isinstance(dim, Float):
            out[key] = trial.suggest_float(key, dim.low, dim.high, log=dim.log)
        elif isinstance(dim, Int):
            out[key] = trial.suggest_int(key, dim.low, dim.high, log=dim.log)
        else:
            out[key] = trial.suggest_categorical(key, dim.choices)
    return out


def _runs_frame(spec: DesignSpec, number: int, params: Mapping[str, Any],
                rows: Mapping[tuple[str, int], dict[str, float]]) -> pd.DataFrame:
    """One trial's runs, in (scenario, seed) order whatever order they finished in."""
    records = []
    for scenario in spec.scenarios:
        for s in spec.seeds:
            records.append({"trial": number, "scenario": scenario, "seed": s, **params, **rows[(scenario, s)]})
    return pd.DataFrame.from_records(records)


def _trials_frame(spec: DesignSpec, study: Any) -> pd.DataFrame:
    from optuna.trial import TrialState

    states = {TrialState.COMPLETE: "complete", TrialState.FAIL: "refused", TrialState.RUNNING: "running"}
    rows = []
    for t in study.get_trials(deepcopy=False):
        state = states.get(t.state, t.state.name.lower())
        row: dict[str, Any] = {"trial": t.number, "state": state}
        for key in spec.space:
            row[key] = t.params.get(key)
        for i, name in enumerate(spec.objectives):
            row[name] = t.values[i] if t.values else np.nan
        for name in spec.constraint_metrics():
            row[name] = t.user_attrs.get(f"value:{name}", np.nan)
        slacks = t.constraints
        for name in spec.constraints:
            row[f"slack[{name}]"] = slacks.get(name, np.nan)
        row["feasible"] = state == "complete" and all(slacks.get(n, 0.0) <= 0 for n in spec.constraints)
        row["refused"] = t.user_attrs.get("refused", "")
        rows.append(row)
    columns = ["trial", "state", *spec.space, *spec.objectives, *spec.constraint_metrics(),
               *(f"slack[{n}]" for n in spec.constraints), "feasible", "refused"]
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True, eq=False)
class DesignStudy:
    """What :func:`design_search` returns (and :func:`load_study` reads back).

    Attributes
    ----------
    spec : DesignSpec
    trials : pandas.DataFrame
        One row per trial: ``trial``, ``state`` (``complete``; ``refused`` when the config refused
        the combination, with the reason in ``refused``), each setting (its dotted path), each
        objective's score, each constraint's metric and ``slack[<metric>]`` (> 0: broken),
        ``feasible``.
    runs : pandas.DataFrame
        One row per trial x scenario x seed: the settings and every metric of :attr:`spec`.
    out : Path or None
        The study's folder.
    """

    spec: DesignSpec
    trials: pd.DataFrame
    runs: pd.DataFrame
    out: Path | None = None

    def pareto_front(self) -> pd.DataFrame:
        """The feasible trials no other feasible trial dominates (:func:`pareto_front`)."""
        return pareto_front(self.trials, self.spec.objectives)

    def recommend(self, rule: str = "compromise") -> dict[str, Any]:
        """The settings of the Pareto point ``rule`` picks (:func:`recommend`)."""
        return self.spec.params_of(recommend(self.trials, self.spec.objectives, rule))


def design_search(
    space: Mapping[str, Any],
    objectives: Any,
    constraints: Mapping[str, Any] | None,
    scenarios: Any,
    seeds: int | Iterable[int],
    budget: int,
    client: Any = None,
    *,
    base: Any = None,
    out: str | Path | None = None,
    seed: int = 0,
    sampler: str = "tpe",
    sampler_options: Mapping[str, Any] | None = None,
    batch_size: int = 8,
    risk: str = "worst",
    tail: float = 0.25,
    stake_rate: float | None = None,
    metrics: Mapping[str, Metric] | None = None,
    progress: bool = False,
) -> DesignStudy:
    """Search the market's settings for the Pareto front of the objectives, worst case over scenarios.

    Parameters
    ----------
    space : table of dotted config path -> range
        ``{"disputes.provider_stake": {"type": "int", "low": 100, "high": 20000, "log": True},
        "referee": {"type": "categorical", "choices": ["trusted", "market"]}}``, or
        :class:`Float` / :class:`Int` / :class:`Choice` values. Paths address
        :meth:`SimConfig.to_dict`'s tree (``auction.psi_weights[0]`` an element of a list).
    objectives : list of metric names, or table name -> "maximize" / "minimize"
        Names of :data:`METRICS` (or of ``metrics``); a list takes each metric's own direction.
    constraints : table metric -> {max: X} or {min: X}, optional
        E.g. ``{"false_convictions": {"max": 0}, "honest_participation": {"min": 0.95}}``, on the
        same worst case as the objectives.
    scenarios : list of market scenario names, or table name -> config overrides
        Each trial runs in every scenario; ``["balanced", "scarce_supply"]`` sets ``scenario``;
        a table sets anything (``{"many_cheaters": {"cheater_share": 0.3}}``, dotted or nested).
    seeds : int or list of int
        Simulation seeds (a count ``n``: ``0 .. n-1``), the same for every trial and scenario.
    budget : int
        Trials in all (refused ones included); a resumed study runs up to this many.
    client : None, "serial", str or distributed.Client
        As :func:`~oasis_lab.experiments.sweep.sweep`'s: a new LocalCluster, this process, a
        scheduler address, or a Client (used as is). Same results on each.
    base : SimConfig, table of its fields, or a config file, optional
        The config the scenarios and settings change (default ``SimConfig()``).
    out : path, optional
        The study's folder (journal, runs, tables); without it the study lives in memory.
    seed : int
        Root seed of the samplers (trial ``k``'s sampler is seeded from ``(seed, k)``).
    sampler : {"tpe", "nsga2", "random"}
        Optuna's multi-objective TPE, NSGA-II, or uniform random sampling.
    sampler_options : table, optional
        Keyword arguments of the Optuna sampler (e.g. ``{"population_size": 20}`` for NSGA-II).
    batch_size : int
        Trials asked at once and run in parallel; part of the spec (the same batches on any client).
    risk : {"worst", "cvar"}
        A trial's score: its worst scenario's mean over seeds, or the mean of its worst
        ``tail`` share of runs.
    tail : float
        The share of runs ``risk="cvar"`` averages, in (0, 1].
    stake_rate : float, optional
        ``security_cost``'s price of locked stake per token and round (None: the mean stake
        locked, the issue's reading).
    metrics : table name -> Metric, optional
        Further metrics (module-level functions of a ``SimulationResult``).
    progress : bool
        Show a progress bar over trials. Under the report (``python -m oasis_lab report``) the
        bar goes to the report's console whatever this says (:mod:`oasis_lab.progress`).

    Returns
    -------
    DesignStudy

    Raises
    ------
    ValueError, TypeError
        Before any trial: see :func:`check_design`; a bad budget, client or ``out``; an ``out``
        holding another study's spec, or in use by another search.
    """
    spec = check_design(space, objectives, constraints, scenarios, seeds, base=base, seed=seed, sampler=sampler,
                        sampler_options=sampler_options, batch_size=batch_size, risk=risk, tail=tail,
                        stake_rate=stake_rate, metrics=metrics)
    budget = check_int("budget", budget, 1)
    check_client(client)
    out_dir = check_output_dir("out", Path(out)) if out is not None else None
    import optuna

    active, own = client, None
    if isinstance(client, str) and client != "serial":
        active, own = open_client(client)  # a wrong address fails before anything is created
    store: _Store | None = None
    bar = None
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no line per study; restored below
    try:
        store = _Store(out_dir, spec)
        directions: list[Any] = list(spec.objectives.values())
        study = optuna.create_study(storage=store.storage, study_name=_STUDY_NAME, load_if_exists=True,
                                    directions=directions, sampler=spec.make_sampler(0))
        from oasis_lab.progress import progress_bar

        # shown when asked; under the report always on its console (oasis_lab.progress)
        finished = sum(t.state.is_finished() for t in study.get_trials(deepcopy=False))
        bar = progress_bar(total=max(budget, finished), initial=finished, desc="design", unit="trial",
                           disable=not progress)
        while True:
            batch = _next_batch(study, spec, budget)
            if not batch:
                break
            if active is None and _needs_work(batch, spec, store):
                # a LocalCluster starts once there is work: a finished study reads back without one
                active, own = open_client(None)
            _run_batch(study, spec, store, batch, active)
            if bar is not None:
                bar.update(len(batch))
        missing = _missing_runs(study, spec, store)
        if missing:  # run again (the same runs: a run is a pure function of its config and seed)
            if active is None:
                active, own = open_client(None)
            _simulate(spec, store, missing, active)
        trials = _trials_frame(spec, study)
        runs = _all_runs(spec, store, trials)
        store.write_tables(trials, runs)
    finally:
        if bar is not None:
            bar.close()
        close_client(own)
        if store is not None:
            store.close()
        optuna.logging.set_verbosity(verbosity)
    return DesignStudy(spec, trials, runs, out_dir)


def _next_batch(study: Any, spec: DesignSpec, budget: int) -> list[Any]:
    """The trials to run next: those a killed run left running, after asking the rest of their
    batch (batches are ``[k B, (k + 1) B)`` by trial number); else the next batch, asked now."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    n = len(trials)
    running = [t.number for t in trials if t.state == TrialState.RUNNING]
    size = spec.batch_size
    end = n if running and n % size == 0 else min(budget, (n // size + 1) * size)
    for number in range(n, end):
        study.sampler = spec.make_sampler(number)
        _suggest(study.ask(), spec)
        running.append(number)
    return running


def _needs_work(batch: Sequence[int], spec: DesignSpec, store: _Store) -> bool:
    return any(store.read(n) is None for n in batch)


def _simulate(spec: DesignSpec, store: _Store, params: Mapping[int, dict[str, Any]], active: Any) -> dict[int, str]:
    """Simulate every scenario and seed of the trials ``params`` gives (trial -> settings) whose
    runs are not stored with those settings, writing each trial's runs as soon as they are all
    done; return the trials whose combination the config refuses, with the reason."""
    refused: dict[int, str] = {}
    jobs: list[tuple[Any, SimConfig, int]] = []
    for number, settings in params.items():
        stored = store.read(number)
        if stored is not None and _json(stored[1]) == _json(settings):
            continue  # finished before the kill: read back, not recomputed
        store.frames.pop(number, None)
        try:
            configs = spec.configs(settings)
        except (TypeError, ValueError) as exc:
            refused[number] = str(exc)
            continue
        for scenario, config in configs.items():
            for s in spec.seeds:
                jobs.append(((number, scenario, s), config, s))
    expected = len(spec.scenarios) * len(spec.seeds)
    collected: dict[int, dict[tuple[str, int], dict[str, float]]] = {}

    def done(key: tuple[int, str, int], row: dict[str, float]) -> None:
        number, scenario, s = key
        got = collected.setdefault(number, {})
        got[(scenario, s)] = row
        if len(got) == expected:  # the trial's last run: write it now, not at the batch's end
            store.write(number, _runs_frame(spec, number, params[number], got), params[number])

    _evaluate(jobs, active, spec.metric_functions(), done)
    return refused


def _run_batch(study: Any, spec: DesignSpec, store: _Store, batch: Sequence[int], active: Any) -> None:
    """Simulate the batch's trials (reading back any whose runs are stored), then tell them in order."""
    import optuna
    from optuna.trial import TrialState

    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    params: dict[int, dict[str, Any]] = {}
    for number in batch:
        t = trials[number]
        if set(t.params) != set(spec.space):  # killed while being asked: ask the rest now
            study.sampler = spec.make_sampler(number)
            _suggest(optuna.Trial(study, t._trial_id), spec)
            t = study.get_trials(deepcopy=False)[number]
        params[number] = spec.params_of(t.params)
    refused = _simulate(spec, store, params, active)
    for number in sorted(batch):
        trial = optuna.Trial(study, trials[number]._trial_id)
        if number in refused:
            trial.set_user_attr("refused", refused[number])
            study.tell(number, state=TrialState.FAIL)
            continue
        stored = store.read(number)
        assert stored is not None
        values, measured, slack = spec.score(stored[0])
        for name, v in zip(spec.objectives, values, strict=True):
            if not math.isfinite(v):
                raise ValueError(f"trial {number}: objective {name!r} is {v} (settings {params[number]})")
        for name, v in measured.items():
            trial.set_user_attr(f"value:{name}", v)
        for name, v in slack.items():
            trial.set_constraint(name, v)
        study.tell(number, values)


def _missing_runs(study: Any, spec: DesignSpec, store: _Store) -> dict[int, dict[str, Any]]:
    """Complete trials whose runs file is gone (deleted, say, after it was found damaged)."""
    from optuna.trial import TrialState

    return {t.number: spec.params_of(t.params) for t in study.get_trials(deepcopy=False)
            if t.state == TrialState.COMPLETE and store.read(t.number) is None}


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _all_runs(spec: DesignSpec, store: _Store, trials: pd.DataFrame) -> pd.DataFrame:
    stored = [store.read(int(n)) for n in trials.loc[trials["state"] == "complete", "trial"]]
    present = [f[0] for f in stored if f is not None]
    if not present:
        columns = ["trial", "scenario", "seed", *spec.space, *spec.metrics]
        return pd.DataFrame(columns=columns)
    return pd.concat(present, ignore_index=True)


def load_study(out: str | Path, metrics: Mapping[str, Metric] | None = None) -> DesignStudy:
    """Read a stored design study (its spec, trials and runs) from its folder.

    Parameters
    ----------
    out : path
        The folder :func:`design_search` wrote.
    metrics : table name -> Metric, optional
        The custom metrics the study used, if any.

    Raises
    ------
    FileNotFoundError
        No design study there.
    ValueError
        The study used custom metrics not given.
    """
    folder = Path(out)
    manifest = folder / _MANIFEST
    if not manifest.is_file() or not (folder / "trials.parquet").is_file():
        raise FileNotFoundError(f"{str(folder)!r} holds no finished design study ({_MANIFEST} and trials.parquet)")
    data = json.loads(manifest.read_text())
    missing = [m for m in data["custom_metrics"] if m not in (metrics or {})]
    if missing:
        raise ValueError(f"the study in {str(folder)!r} used the custom metrics {missing}: pass them as metrics=")
    spec = check_design(data["space"], data["objectives"], data["constraints"], data["scenarios"], data["seeds"],
                        base=data["base"], seed=data["seed"], sampler=data["sampler"],
                        sampler_options=data["sampler_options"], batch_size=data["batch_size"], risk=data["risk"],
                        tail=data["tail"], stake_rate=data["stake_rate"], metrics=metrics)
    trials = _read_table(folder / "trials.parquet", f"design trials file {str(folder / 'trials.parquet')!r}")
    runs = _read_table(folder / "runs.parquet", f"design runs file {str(folder / 'runs.parquet')!r}")
    return DesignStudy(spec, trials, runs, folder)


# -------------------------------------------------------------------- Pareto front
def _directions(objectives: Mapping[str, str] | Sequence[str]) -> dict[str, str]:
    if isinstance(objectives, Mapping):
        return dict(objectives)
    return _objectives(objectives, METRICS)


def _minimised(frame: pd.DataFrame, directions: Mapping[str, str]) -> np.ndarray:
    """The objectives as a matrix in which smaller is better in every column."""
    missing = [k for k in directions if k not in frame.columns]
    if missing:
        raise ValueError(f"the trials table has no column {missing[0]!r} (an objective)")
    x = frame[list(directions)].to_numpy(dtype=float)
    sign = np.array([-1.0 if d == "maximize" else 1.0 for d in directions.values()])
    return x * sign


def pareto_front(trials: pd.DataFrame, objectives: Mapping[str, str] | Sequence[str],
                 *, feasible_only: bool = True) -> pd.DataFrame:
    """The trials no other trial dominates (at least as good on every objective, better on one).

    Parameters
    ----------
    trials : pandas.DataFrame
        The objectives' columns, and ``feasible`` (and ``state``) when there are constraints.
    objectives : list of names or table name -> direction
        A list takes each metric's direction from :data:`METRICS`.
    feasible_only : bool
        Consider only complete, feasible trials (rows with ``feasible`` False are dropped).

    Returns
    -------
    pandas.DataFrame
        The non-dominated rows, in their order in ``trials``.

    Examples
    --------
    >>> t = pd.DataFrame({"welfare_share": [0.9, 0.8, 0.7], "fraud_paid": [5.0, 1.0, 2.0]})
    >>> pareto_front(t, ["welfare_share", "fraud_paid"]).index.tolist()
    [0, 1]
    """
    directions = _directions(objectives)
    rows = trials
    if feasible_only and "feasible" in rows.columns:
        rows = rows[rows["feasible"].to_numpy(dtype=bool)]
    x = _minimised(rows, directions)
    keep = ~np.isnan(x).any(axis=1)
    rows, x = rows[keep], x[keep]
    dominated = np.zeros(len(x), dtype=bool)
    # pairwise in blocks of rows: n^2 comparisons without an n x n x m array at once
    for start in range(0, len(x), 512):
        block = x[start : start + 512, None, :]
        no_worse = (x[None, :, :] <= block).all(axis=2)
        better = (x[None, :, :] < block).any(axis=2)
        dominated[start : start + 512] = (no_worse & better).any(axis=1)
    return rows[~dominated]


def recommend(trials: pd.DataFrame, objectives: Mapping[str, str] | Sequence[str],
              rule: str = "compromise") -> pd.Series:
    """One point of the feasible Pareto front, picked by a stated rule.

    Parameters
    ----------
    trials, objectives
        As :func:`pareto_front`.
    rule : str
        ``"compromise"``: the point nearest (Euclidean) the ideal point once each objective is
        scaled to [0, 1] over the front (0 its best value there, 1 its worst; an objective
        constant on the front counts 0). ``"best:<objective>"``: the best on that objective,
        ties broken by the other objectives in order. Remaining ties: the lowest trial.

    Returns
    -------
    pandas.Series
        The chosen trial's row.

    Raises
    ------
    ValueError
        An unknown rule, or no feasible trial.
    """
    directions = _directions(objectives)
    if not isinstance(rule, str) or not (rule in RULES or (rule.startswith("best:") and rule[5:] in directions)):
        raise ValueError(f"rule = {rule!r} is not 'compromise' or best:<objective> with an objective of "
                         f"{list(directions)}")
    front = pareto_front(trials, directions)
    if front.empty:
        raise ValueError("no feasible trial to recommend: relax the constraints or raise the budget")
    x = _minimised(front, directions)
    numbers = front["trial"].to_numpy() if "trial" in front.columns else np.arange(len(front))
    if rule == "compromise":
        lo, hi = x.min(axis=0), x.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        distance = np.sqrt((((x - lo) / span) ** 2).sum(axis=1))
        keys: list[np.ndarray] = [distance]
    else:
        first = list(directions).index(rule[5:])
        keys = [x[:, first], *(x[:, j] for j in range(x.shape[1]) if j != first)]
    # np.lexsort sorts by its last key first: the rule's keys in order, then the trial number
    rank = np.lexsort([numbers, *reversed(keys)])
    return front.iloc[int(rank[0])]


# ------------------------------------------------------------------ held-out check
def held_out_seeds(seed: int, n: int) -> list[int]:
    """``n`` simulation seeds derived from the study's root ``seed`` for the held-out check
    (:mod:`oasis_lab.seeding`, purpose ``design/held_out``), never the training seeds ``0 .. n-1``
    in practice and checked against them by :func:`held_out_check`."""
    return [child_seed(seed, "design", "held_out", k) % (_MAX_STORED_SEED + 1) for k in range(n)]


def _t_interval(values: np.ndarray, confidence: float) -> tuple[float, float, float]:
    from scipy import stats

    mean = float(values.mean())
    half = float(stats.t.ppf(0.5 + confidence / 2, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size))
    return mean, mean - half, mean + half


def held_out_check(
    study: DesignStudy,
    seeds: int | Iterable[int] = 10,
    client: Any = None,
    *,
    params: Mapping[str, Any] | None = None,
    rule: str = "compromise",
    metrics: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """The recommended settings against the base config, on seeds the search never saw.

    Both settings run every scenario on the same held-out seeds; each metric's mean over seeds
    gets a t interval, and so does the paired difference (recommended minus baseline, seed by
    seed), whose interval says whether the change is more than luck.

    Parameters
    ----------
    study : DesignStudy
    seeds : int or list of int
        A count ``n >= 2`` (:func:`held_out_seeds` of the study's seed) or the seeds; none may be
        a training seed.
    client : None, "serial", str or distributed.Client
        Where the runs go (as :func:`design_search`).
    params : table of dotted path -> value, optional
        The settings to check (default: :meth:`DesignStudy.recommend` with ``rule``).
    rule : str
        :func:`recommend`'s rule.
    metrics : list of str, optional
        Default: the study's objectives and constrained metrics.
    confidence : float
        Of the intervals, in (0, 1).

    Returns
    -------
    pandas.DataFrame
        One row per scenario and metric: ``direction``, ``baseline`` / ``recommended`` /
        ``difference`` means with their ``_low`` and ``_high`` bounds, ``improves`` (the
        difference's interval lies wholly on the better side of 0), ``n_seeds``.
    """
    if not isinstance(study, DesignStudy):
        raise TypeError(f"study must be a DesignStudy, got {type(study).__name__}")
    spec = study.spec
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seed_list = held_out_seeds(spec.seed, check_int("seeds", seeds, 2))
    else:
        seed_list = _seeds(seeds)
        if len(seed_list) < 2:
            raise ValueError(f"seeds = {seed_list}: an interval needs at least 2 held-out seeds")
    seen = sorted(set(seed_list) & set(spec.seeds))
    if seen:
        raise ValueError(f"seeds {seen} were training seeds of the study; held-out seeds must be new")
    confidence = check_real("confidence", confidence)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence = {confidence} must be in (0, 1)")
    names = list(metrics) if metrics is not None else [*spec.objectives, *spec.constraint_metrics()]
    for name in names:
        if name not in spec.metrics:
            raise ValueError(f"metrics: {name!r} is not a metric; the metrics: {sorted(spec.metrics)}")
    chosen = study.recommend(rule) if params is None else dict(params)
    settings = {"baseline": spec.configs(), "recommended": spec.configs(chosen)}
    check_client(client)
    jobs = [((which, scen, s), config, s) for which, configs in settings.items()
            for scen, config in configs.items() for s in seed_list]
    got: dict[tuple[str, str, int], dict[str, float]] = {}
    active, own = open_client(client)
    try:
        _evaluate(jobs, active, spec.metric_functions(), lambda key, row: got.__setitem__(key, row))
    finally:
        close_client(own)
    rows = []
    for scen in spec.scenarios:
        for name in names:
            base = np.array([got[("baseline", scen, s)][name] for s in seed_list])
            rec = np.array([got[("recommended", scen, s)][name] for s in seed_list])
            row: dict[str, Any] = {"scenario": scen, "metric": name, "direction": spec.metrics[name].direction}
            for label, values in (("baseline", base), ("recommended", rec), ("difference", rec - base)):
                mean, low, high = _t_interval(values, confidence)
                row.update({label: mean, f"{label}_low": low, f"{label}_high": high})
            up = spec.metrics[name].direction == "maximize"
            row["improves"] = bool(row["difference_low"] > 0) if up else bool(row["difference_high"] < 0)
            row["n_seeds"] = len(seed_list)
            rows.append(row)
    return pd.DataFrame(rows)
