"""Learning agents in the market over time as experiments (issue 19; whitepaper sections 4 and 5).

- ``learning_curves`` (:class:`LearningCurves`): a shipped configuration (``data/configs/``) run
  with one seed: per round, what its learning agents chose (``mean_*``) and did (the shares of
  jobs cheated and recomputed), for :func:`oasis_lab.sim.learning.curve_summary` and
  :func:`~oasis_lab.sim.learning.phase_table` over seeds; :func:`dilemma_table` is the
  verifier's dilemma of ``docs/mechanism.md``.
- ``market_challenge_game`` (:class:`MarketChallengeGame`): one provider and one challenger
  repeating the challenge game inside :func:`oasis_lab.sim.simulate` (:data:`KNOWN_ANSWER`), the
  learned rates against the closed form of :mod:`oasis_lab.incentives.challenge` with the
  tolerance the learners' regret bounds give (:func:`oasis_lab.incentives.learning.tolerances`);
  :func:`known_answers` is the table of ``docs/mechanism.md``.
- ``scripted_vs_learning`` (:class:`ScriptedVsLearning`): a shipped learning configuration
  and the same market with every role scripted (today's behaviour), on the same seed: welfare
  share of the rounds' optimum, fraud paid, security cost, cheat and challenge rates (the
  metrics of :mod:`oasis_lab.experiments.design`); :func:`agents_table` summarises it over
  seeds (the first table of notebook 10 and of ``docs/mechanism.md``).

:mod:`oasis_lab.incentives.learning` plays the 2x2 challenge game between two learners
directly. Here the simulation's own agents play it: a one-provider market whose provider may
cheat on every job of a round (or none) and one challenger who recomputes every delivered job
of a round (or none), the auction, the court, the books and the feedback timing of the
simulation in between. Each round is one play of the game with that round's own coefficients;
:func:`challenge_game` reads the run's mean coefficients and :func:`known_answer` compares the
time-averaged learned rates with the closed form.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.checks import check_fraction, check_int
from oasis_lab.disputes.params import DisputeParams
from oasis_lab.experiments.base import ExperimentConfig, register, run
from oasis_lab.experiments.design import METRICS
from oasis_lab.experiments.sim import _check_config_file
from oasis_lab.incentives.challenge import ChallengeGame, challenge_equilibrium
from oasis_lab.incentives.learning import tolerances
from oasis_lab.seeding import check_seed
from oasis_lab.sim import SimConfig, SimulationResult, load_config, simulate
from oasis_lab.sim.learning import phase_table, regret_bounds
from oasis_lab.sim.policies import Policies

__all__ = [
    "CURVE_COLUMNS",
    "DILEMMA_COLUMNS",
    "DILEMMA_CONFIGS",
    "DILEMMA_PHASES",
    "DILEMMA_SEEDS",
    "AGENTS_METRICS",
    "AGENTS_SEEDS",
    "KNOWN_ANSWER",
    "KNOWN_ANSWER_RUNS",
    "LearningCurves",
    "MarketChallengeGame",
    "ScriptedVsLearning",
    "agents_table",
    "challenge_game",
    "dilemma_table",
    "known_answer",
    "known_answer_config",
    "known_answers",
]

#: The per-round columns ``learning_curves`` keeps by default (those a run has): what the
#: agents chose, what was done (``cheated_share``: jobs cheated over jobs; ``challenged_share``:
#: delivered jobs recomputed over delivered jobs) and what it cost.
CURVE_COLUMNS: tuple[str, ...] = ("mean_cheat_rate", "mean_challenge_rate", "mean_shade", "mean_markup",
                                  "take_bribe_share", "cheated_share", "challenged_share", "cheated_settled",
                                  "convictions", "false_convictions", "welfare", "challenger_costs")


def _curves(result: SimulationResult, columns: Sequence[str]) -> pd.DataFrame:
    r = result.rounds
    delivered = (r["jobs"] - r["failed_jobs"]).to_numpy(float)
    r = r.assign(
        cheated_share=np.divide(r["cheated_jobs"], r["jobs"], out=np.full(len(r), np.nan),
                                where=r["jobs"].to_numpy() > 0),
        challenged_share=np.divide(r["challenges"], delivered, out=np.full(len(r), np.nan), where=delivered > 0),
    )
    return r[["round", *[c for c in columns if c in r]]]


@register
@dataclass(frozen=True)
class LearningCurves(ExperimentConfig):
    """A shipped configuration with learning agents, run for ``rounds`` rounds.

    Parameters
    ----------
    config_file : str
        A configuration of ``data/configs/`` (or a path), e.g. ``learning.yaml``.
    rounds : int
        Rounds to run (the file's own count replaced).
    tasks_per_round, n_providers : int, optional
        The market's size (default: the file's own).
    columns : tuple of str
        Per-round columns to keep (of :data:`CURVE_COLUMNS` and the per-round table; those
        the run does not have are left out).

    Returns (``run``)
    -----------------
    One row per round: ``round`` and the columns.
    """

    name = "learning_curves"

    config_file: str = "learning.yaml"
    rounds: int = 300
    columns: tuple[str, ...] = CURVE_COLUMNS
    tasks_per_round: int | None = None
    n_providers: int | None = None

    checks = {
        "config_file": _check_config_file,
        "rounds": partial(check_int, minimum=1),
        "columns": lambda name, value: _check_columns(name, value),
        "tasks_per_round": lambda name, value: _optional_count(name, value),
        "n_providers": lambda name, value: _optional_count(name, value),
    }

    def validate(self) -> None:
        try:
            self.sim_config()
        except FileNotFoundError as exc:
            raise ValueError(f"config_file = {self.config_file!r}: {exc}") from None

    def sim_config(self) -> SimConfig:
        """The :class:`~oasis_lab.sim.SimConfig` this experiment runs."""
        return load_config(self.config_file, rounds=self.rounds, **_sizes(self.tasks_per_round, self.n_providers))

    def _run(self, seed: int) -> pd.DataFrame:
        return _curves(simulate(self.sim_config(), seed), self.columns)


def _optional_count(name: str, value: Any) -> int | None:
    return None if value is None else check_int(name, value, 1)


def _sizes(tasks_per_round: int | None, n_providers: int | None) -> dict[str, int]:
    """The size overrides that are set (``None`` keeps the config file's own)."""
    sizes = {"tasks_per_round": tasks_per_round, "n_providers": n_providers}
    return {k: v for k, v in sizes.items() if v is not None}


def _check_columns(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (tuple, list)) or not value:
        raise TypeError(f"{name} must be a non-empty sequence of column names, got {value!r}")
    if not all(isinstance(v, str) and v for v in value):
        raise TypeError(f"{name} must hold column names, got {value!r}")
    return tuple(value)


#: The verifier's dilemma of ``docs/mechanism.md``: the shipped configs, their seeds, the
#: phases of rounds and the columns of :func:`dilemma_table`.
DILEMMA_CONFIGS: tuple[str, ...] = ("learning.yaml", "dilemma.yaml")
DILEMMA_SEEDS: tuple[int, ...] = (0, 1, 2)
DILEMMA_PHASES: tuple[int, ...] = (0, 25, 50, 100, 200, 300)
DILEMMA_COLUMNS: tuple[str, ...] = ("mean_cheat_rate", "mean_challenge_rate", "cheated_share", "challenged_share")


def dilemma_table(configs: Sequence[str] = DILEMMA_CONFIGS, seeds: Sequence[int] = DILEMMA_SEEDS,
                  phases: Sequence[int] = DILEMMA_PHASES) -> pd.DataFrame:
    """The verifier's dilemma observed: ``learning_curves`` of each shipped config over ``seeds``
    and :func:`~oasis_lab.sim.learning.phase_table` of :data:`DILEMMA_COLUMNS`, one row per
    config and phase."""
    seeds = [check_seed(s) for s in seeds]
    frames = []
    for name in configs:
        experiment = LearningCurves(config_file=name, rounds=int(max(phases)), columns=DILEMMA_COLUMNS)
        curves = pd.concat([run(experiment, s).assign(seed=s) for s in seeds], ignore_index=True)
        frames.append(phase_table(curves, DILEMMA_COLUMNS, phases).assign(config=name))
    out = pd.concat(frames, ignore_index=True)
    return out[["config", *[c for c in out.columns if c != "config"]]]


#: The simulation's known answer: one provider (it may cheat on every job, ``cheat_rates`` 0
#: or 1, and cheating saves its whole compute cost) and one learning challenger (rates 0 or 1)
#: in a market of 20 tasks a round that the provider serves alone (``abundant_supply``, seed
#: 0's provider), disputes resolved in the round (``dispute_delay`` 0), nothing re-auctioned
#: (``max_wait`` 1), and the convicted provider's operator rejoining with a fresh stake, so
#: the round's challenge game repeats: cheat and gain ``G`` (the round's compute cost), or be
#: caught and lose every payment of the round ``P`` and the slashed stake ``f S = 200``; check
#: at cost ``K`` (0.08 of the compute) and earn ``R = rho f S = 100`` on a cheat. The payoff
#: ranges cover every round's payoff of seed 0.
KNOWN_ANSWER: dict[str, Any] = {
    "tasks_per_round": 20, "n_providers": 1, "arrivals": "fixed", "scenario": "abundant_supply",
    "max_wait": 1, "dispute_delay": 0, "cheat_saving": 1.0, "challenge_cost": 0.08,
    "disputes": {"provider_stake": 200, "challenger_bond": 10},
    "policies": {
        "provider": {"policy": "learning", "cheaters": "all", "cheat_rates": [0.0, 1.0], "rejoin": True,
                     "payoff_range": [-250.0, 1900.0]},
        "challenger": {"policy": "learning", "challenge_rates": [0.0, 1.0], "payoff_range": [-100.0, 100.0]},
    },
}


def known_answer_config(platform_rate: float = 0.0, rounds: int = 4000, **changes: Any) -> SimConfig:
    """:data:`KNOWN_ANSWER` with the platform's per-job rate and ``rounds`` (and ``changes``)."""
    data = {**KNOWN_ANSWER, "p_platform": platform_rate, "rounds": rounds, **changes}
    return SimConfig.from_dict(data, source="known answer")


def challenge_game(result: SimulationResult) -> ChallengeGame:
    """The per-round challenge game the run's provider and challenger played, with the run's
    own mean coefficients (a run of :func:`known_answer_config`).

    A round's coefficients are random (its tasks are), independent of the decisions taken in
    it, so each player's expected payoff given the other's rates is the bilinear payoff of the
    game with the means over the rounds: ``P`` the payments of a round's delivered jobs (net of
    the fee), ``G`` ``cheat_saving`` times their true compute cost, ``K`` ``challenge_cost``
    times it, and the platform catching a cheat in a round with the mean of ``1 - (1 -
    p_platform)^n`` (``n`` the round's jobs: it checks each job). The closed form with these
    means is the known answer (the learners' regret bounds hold in expectation, which is all
    the argument of :mod:`oasis_lab.incentives.learning` needs). The means come from the
    provider's decisions (``jobs``, ``payment``, ``compute`` of
    :meth:`~oasis_lab.sim.adapters.Agents.decisions`); a round without a decision counts 0.
    """
    if not isinstance(result, SimulationResult):
        raise TypeError(f"result must be a SimulationResult, got {type(result).__name__}")
    d = result.agents
    if d is None or not (d["role"] == "provider").any():
        raise ValueError("challenge_game needs a run with a learning provider (known_answer_config)")
    c = result.config
    t = len(result.rounds)
    prov = d[d["role"] == "provider"]
    by_round = prov.groupby("round")
    pay = by_round["payment"].sum().reindex(range(t), fill_value=0.0).to_numpy(float)
    cost = by_round["compute"].sum().reindex(range(t), fill_value=0.0).to_numpy(float)
    n = by_round["jobs"].sum().reindex(range(t), fill_value=0).to_numpy()
    dp = c.disputes
    return ChallengeGame(
        payment=float(pay.mean()) * (1.0 - c.auction.fee),
        gain=c.cheat_saving * float(cost.mean()),
        recompute_cost=c.challenge_cost * float(cost.mean()),
        platform_rate=float(np.mean(1.0 - (1.0 - c.p_platform) ** n)),
        dispute=DisputeParams(provider_stake=dp.provider_stake, slash_fraction=dp.slash_fraction,
                              challenger_reward_fraction=dp.challenger_reward_fraction,
                              challenger_bond=dp.challenger_bond),
    )


def known_answer(results: Sequence[SimulationResult]) -> pd.DataFrame:
    """Closed form against learned rates for runs of :func:`known_answer_config` (the same
    config, other seeds), with the regret bounds' tolerance.

    Returns
    -------
    pandas.DataFrame
        One row per quantity (``cheat rate``, ``challenge rate``): the case (mixed or deterred),
        ``closed_form`` (the mean over runs of each run's closed form), ``learned`` (the mean
        over runs of the time-averaged mixed strategies), ``error``, ``tolerance`` (the
        largest over runs of :func:`oasis_lab.incentives.learning.tolerances` with the
        learners' bounds in tokens) and ``within``.
    """
    if isinstance(results, SimulationResult) or not results:
        raise TypeError("results must be a non-empty sequence of SimulationResult")
    rows: dict[str, list[Any]] = {"case": [], "x": [], "c": [], "q": [], "p": [], "tx": [], "tc": []}
    for res in results:
        d = res.agents
        if d is None:
            raise ValueError("a known-answer run has learning agents: give runs of known_answer_config")
        game = challenge_game(res)
        eq = challenge_equilibrium(game)
        prov, chal = d[d["role"] == "provider"], d[d["role"] == "challenger"]
        t = len(res.rounds)
        b_p = float(regret_bounds(res, "provider", "cheaters", [len(prov)])[0])
        b_c = float(regret_bounds(res, "challenger", "challengers", [len(chal)])[0])
        tx, tc = tolerances(game, b_p, b_c, t)
        rows["case"].append(eq.kind)
        rows["x"].append(float(prov["mixed_cheat_rate"].mean()))
        rows["c"].append(float(chal["mixed_challenge_rate"].mean()))
        rows["q"].append(eq.fraud_rate)
        rows["p"].append(eq.challenge_rate)
        rows["tx"].append(tx)
        rows["tc"].append(tc)
    case = rows["case"][0] if len(set(rows["case"])) == 1 else "/".join(sorted(set(rows["case"])))
    out = []
    for quantity, learned, closed, tol in (("cheat rate", rows["x"], rows["q"], rows["tx"]),
                                           ("challenge rate", rows["c"], rows["p"], rows["tc"])):
        mean, form = float(np.mean(learned)), float(np.mean(closed))
        out.append({"case": case, "quantity": quantity, "runs": len(results), "closed_form": form,
                    "learned": mean, "error": abs(mean - form), "tolerance": float(np.max(tol)),
                    "within": abs(mean - form) <= float(np.max(tol))})
    return pd.DataFrame(out)


#: The runs of the known-answer table of ``docs/mechanism.md``: (platform rate per job, rounds,
#: seeds). At 0 the game is mixed; at 0.1 the platform catches a cheat in a round of 20 jobs
#: with probability ``1 - 0.9^20 = 0.88 > pi* = 0.5``, so cheating is deterred.
KNOWN_ANSWER_RUNS: tuple[tuple[float, int, tuple[int, ...]], ...] = ((0.0, 3000, (0,)), (0.1, 2000, (0,)))


def _with_last_quarter(results: Sequence[SimulationResult], rate: float, rounds: int) -> pd.DataFrame:
    """:func:`known_answer` with the platform rate, the rounds and the learned rates over the
    last quarter of the rounds (where learning has settled)."""
    table = known_answer(results).assign(p_platform=rate, rounds=rounds)
    late = []
    for quantity in table["quantity"]:
        role, field = (("provider", "mixed_cheat_rate") if quantity == "cheat rate"
                       else ("challenger", "mixed_challenge_rate"))
        vals = []
        for res in results:
            d = res.agents
            assert d is not None
            mine = d[(d["role"] == role) & (d["round"] >= 3 * rounds // 4)]
            vals.append(float(mine[field].mean()))
        late.append(float(np.mean(vals)))
    cols = ["p_platform", "case", "rounds", "runs", "quantity", "closed_form", "learned", "error", "tolerance",
            "within", "last_quarter"]
    return table.assign(last_quarter=late)[cols]


@register
@dataclass(frozen=True)
class MarketChallengeGame(ExperimentConfig):
    """One provider and one challenger repeating the challenge game inside ``simulate``
    (:data:`KNOWN_ANSWER`), at a platform rate, for ``rounds`` rounds.

    Returns (``run``)
    -----------------
    Two rows (cheat rate, challenge rate): the case, the closed form with the run's own mean
    coefficients, the time-averaged learned rate, the error, the tolerance of the regret
    bounds, whether it is within, and the learned rate over the last quarter of the rounds.
    """

    name = "market_challenge_game"

    platform_rate: float = 0.0
    rounds: int = 3000

    checks = {"platform_rate": check_fraction, "rounds": partial(check_int, minimum=4)}

    def _run(self, seed: int) -> pd.DataFrame:
        result = simulate(known_answer_config(self.platform_rate, self.rounds), seed)
        return _with_last_quarter([result], self.platform_rate, self.rounds)


def known_answers(runs: Sequence[tuple[float, int, Sequence[int]]] = KNOWN_ANSWER_RUNS) -> pd.DataFrame:
    """The known-answer table of ``docs/mechanism.md``: for each run of
    :data:`KNOWN_ANSWER_RUNS` (platform rate, rounds, seeds), the closed form against the
    learned rates over its seeds (:func:`known_answer`), with the last quarter's rates."""
    frames = []
    for rate, rounds, seeds in runs:
        results = [simulate(known_answer_config(rate, rounds), s) for s in seeds]
        frames.append(_with_last_quarter(results, rate, rounds))
    return pd.concat(frames, ignore_index=True)


#: The metrics of :class:`ScriptedVsLearning` (:data:`oasis_lab.experiments.design.METRICS`),
#: each computed on both runs.
AGENTS_METRICS: tuple[str, ...] = ("welfare_share", "fraud_paid", "security_cost", "challenger_costs",
                                   "stake_locked", "cheat_rate", "challenge_rate", "false_convictions",
                                   "honest_participation", "served_share")


@register
@dataclass(frozen=True)
class ScriptedVsLearning(ExperimentConfig):
    """A shipped configuration with learning agents against the same market with every role
    scripted, on the same seed (common random numbers).

    The scripted market is the file's with ``policies`` reset (:class:`~oasis_lab.sim.policies.
    Policies`: today's behaviour): cheaters cheat with ``cheat_probability`` (1 by default),
    users challenge with ``p_user``, the platform with ``p_platform``, and a convicted cheater is
    removed for good (``rejoin`` is the learning providers'). Both are scored by the design
    search's metrics (:data:`AGENTS_METRICS` of :data:`oasis_lab.experiments.design.METRICS`):
    ``welfare_share`` over the rounds whose exact optimum was solved, ``fraud_paid``,
    ``security_cost`` (challenger costs plus the mean stake locked), ``cheat_rate`` (cheated
    jobs per job), ``challenge_rate`` (challenges per job), ...

    Parameters
    ----------
    config_file : str
        A learning configuration of ``data/configs/`` (or a path); ``learning.yaml`` is the
        docs' defaults with learning cheaters and challengers.
    rounds, tasks_per_round, n_providers : int
        The market's length and size (the docs' defaults: 1,000 tasks and 100 providers).
    optimum_every : int
        Solve the round's exact welfare optimum every this many rounds (``welfare_share``).

    Returns (``run``)
    -----------------
    Two rows, ``agents`` ``"scripted"`` then ``"learning"``, with every metric of
    :data:`AGENTS_METRICS`.
    """

    name = "scripted_vs_learning"

    config_file: str = "learning.yaml"
    rounds: int = 300
    tasks_per_round: int = 1000
    n_providers: int = 100
    optimum_every: int = 25

    checks = {
        "config_file": _check_config_file,
        **dict.fromkeys(("rounds", "tasks_per_round", "n_providers", "optimum_every"),
                        partial(check_int, minimum=1)),
    }

    def validate(self) -> None:
        try:
            config = self.sim_config()
        except FileNotFoundError as exc:
            raise ValueError(f"config_file = {self.config_file!r}: {exc}") from None
        if not config.policies.learning:
            raise ValueError(f"config_file = {self.config_file!r} has no learning role: both runs would be scripted")

    def sim_config(self) -> SimConfig:
        """The learning :class:`~oasis_lab.sim.SimConfig` (:meth:`configs` has both)."""
        return load_config(self.config_file, rounds=self.rounds, tasks_per_round=self.tasks_per_round,
                           n_providers=self.n_providers, optimum_every=self.optimum_every)

    def configs(self) -> dict[str, SimConfig]:
        """``{"scripted": ..., "learning": ...}``: the same market, scripted and learning."""
        learning = self.sim_config()
        return {"scripted": learning.replace(policies=Policies()), "learning": learning}

    def _run(self, seed: int) -> pd.DataFrame:
        rows = []
        for agents, config in self.configs().items():  # two runs: scripted, then learning
            result = simulate(config, seed)
            rows.append({"agents": agents, **{m: float(METRICS[m].fn(result)) for m in AGENTS_METRICS}})
        return pd.DataFrame(rows)


#: The seeds of :func:`agents_table` in ``docs/mechanism.md``.
AGENTS_SEEDS: tuple[int, ...] = (0, 1, 2)


def agents_table(runs: pd.DataFrame | None = None, *, seeds: Sequence[int] = AGENTS_SEEDS,
                 metrics: Sequence[str] = ("welfare_share", "fraud_paid", "security_cost", "cheat_rate",
                                           "challenge_rate"),
                 **fields: Any) -> pd.DataFrame:
    """Scripted against learning agents over seeds: each metric's mean and standard deviation.

    Parameters
    ----------
    runs : pandas.DataFrame, optional
        Rows of :class:`ScriptedVsLearning` over seeds (``agents``, ``seed`` and the metrics, as
        :func:`~oasis_lab.experiments.sweep.sweep` returns them); by default run here with
        ``fields`` (the experiment's fields; the docs' defaults) on ``seeds``.
    seeds : sequence of int
    metrics : sequence of str
        Of :data:`AGENTS_METRICS`.

    Returns
    -------
    pandas.DataFrame
        One row per ``agents`` (scripted, then learning): ``seeds`` and ``<metric>_mean``,
        ``<metric>_sd`` (over seeds, ``ddof=1``; NaN with one seed).
    """
    unknown = [m for m in metrics if m not in AGENTS_METRICS]
    if unknown:
        raise ValueError(f"metrics: {unknown[0]!r} is not one of {list(AGENTS_METRICS)}")
    if runs is None:
        experiment = ScriptedVsLearning(**fields)
        runs = pd.concat([run(experiment, check_seed(s)).assign(seed=s) for s in seeds], ignore_index=True)
    elif fields:
        raise ValueError(f"give runs or the experiment's fields, not both (got {sorted(fields)})")
    missing = [c for c in ("agents", "seed", *metrics) if c not in runs]
    if missing:
        raise ValueError(f"runs has no column {missing[0]!r} (rows of ScriptedVsLearning over seeds)")
    rows = []
    for agents in ("scripted", "learning"):
        mine = runs[runs["agents"] == agents]
        if mine.empty:
            raise ValueError(f"runs has no {agents!r} row")
        row: dict[str, Any] = {"agents": agents, "seeds": int(mine["seed"].nunique())}
        for m in metrics:
            values = mine[m].to_numpy(float)
            row[f"{m}_mean"] = float(values.mean())
            row[f"{m}_sd"] = float(values.std(ddof=1)) if values.size > 1 else np.nan
        rows.append(row)
    return pd.DataFrame(rows)
