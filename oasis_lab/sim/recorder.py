"""What a simulation records: named per-round reporters, the provider table, the job logs.

As Mesa's ``DataCollector`` does with model reporters, the per-round table is a list of
:class:`Reporter` s, each a column name and a function of the state at the end of the round
(:class:`~oasis_lab.sim.state.SimState`, whose ``round`` holds what the round's stages did).
:data:`ROUND_REPORTERS` are the columns of ``SimulationResult.rounds`` in order, followed by one
``price[<model type>]`` column per model type (:func:`price_reporters`). Money is in tokens (the
books' integer smallest units divided by ``token_unit``), waits in rounds.

With ``record_jobs`` the recorder also keeps one row per task of each round's market, per job,
per re-auctioned task and per resolved dispute (``SimulationResult.tasks``, ``.jobs``,
``.requeued``, ``.disputes``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.disputes.market_referee import REFEREE_STRATEGIES
from oasis_lab.sim.court import CHEATER, OTHER_DEVICE, PROVIDER_KINDS
from oasis_lab.sim.result import SimulationResult
from oasis_lab.sim.state import JOB_STATUSES, SimState

__all__ = ["ROUND_REPORTERS", "Recorder", "Reporter", "price_reporters", "provider_table"]


@dataclass(frozen=True)
class Reporter:
    """One column of the per-round table: ``name``, what it is (``doc``) and how it is read."""

    name: str
    doc: str
    read: Callable[[SimState], Any]


def _tokens(amount: int, state: SimState) -> float:
    return amount / state.unit


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else np.nan


def _resolved(name: str, tokens: bool = False) -> Callable[[SimState], Any]:
    """Reads a total of the round's resolved disputes (:class:`~oasis_lab.sim.state.Resolution`)."""
    if tokens:
        return lambda s: getattr(s.round.resolution, name) / s.unit
    return lambda s: getattr(s.round.resolution, name)


def _challenger_costs(s: SimState) -> float:
    """One recomputation per challenged job; with racing challengers, every recomputation."""
    ch = s.round.challenges
    if ch.recomputations is None:
        return float(ch.challenger_cost[ch.challenged].sum())
    return float((ch.challenger_cost * ch.recomputations).sum())


def _price(t: int) -> Callable[[SimState], float]:
    return lambda s: float(s.round.type_prices[t])


#: The per-round columns before the prices, in the order of ``SimulationResult.rounds``.
ROUND_REPORTERS: tuple[Reporter, ...] = (
    Reporter("round", "round number", lambda s: s.round.r),
    # --- tasks and providers when the auction opens
    Reporter("arrived", "new tasks this round", lambda s: s.round.arrived),
    Reporter("reauctioned_in", "tasks waiting from earlier rounds", lambda s: s.round.reauctioned_in),
    Reporter("tasks", "tasks in the round's auction", lambda s: s.round.tasks.n),
    Reporter("providers_present", "providers neither removed nor gone", lambda s: s.round.present),
    Reporter("providers_barred", "present providers barred by a running challenge", lambda s: s.round.barred),
    Reporter("providers_eligible", "providers in the round's auction", lambda s: int(s.round.eligible.size)),
    # --- the auction and its execution
    Reporter("served", "tasks with a delivered job", lambda s: int(s.round.served.sum())),
    Reporter("served_share", "mean share of a task's units delivered",
             lambda s: float(s.round.served_share.mean()) if s.round.served_share.size else 0.0),
    Reporter("jobs", "jobs (one provider's part of one task)", lambda s: s.round.jobs.n),
    Reporter("failed_jobs", "jobs of providers that failed the round", lambda s: int(s.round.jobs.failed.sum())),
    Reporter("cheated_jobs", "jobs cheated on", lambda s: int(s.round.jobs.cheated.sum())),
    Reporter("reauctioned", "tasks sent to the next round's queue (before max_wait)", lambda s: s.round.returned),
    Reporter("abandoned", "tasks given up (waited max_wait rounds)", lambda s: s.round.abandoned),
    Reporter("queue", "tasks waiting for the next round", lambda s: s.queue.n),
    Reporter("wait_mean", "mean rounds a served task waited (NaN: none served)", lambda s: _mean(s.round.waited)),
    Reporter("wait_max", "most rounds a served task waited",
             lambda s: int(s.round.waited.max()) if s.round.waited.size else 0),
    Reporter("welfare", "the auction's welfare at the reports (tokens)",
             lambda s: float(s.round.result.welfare) if s.round.result is not None else 0.0),
    Reporter("optimum_welfare", "the round's exact optimum (NaN: not solved)", lambda s: s.round.optimum),
    # --- money of the round's jobs
    Reporter("payments", "payments of the delivered jobs",
             lambda s: _tokens(int(s.round.jobs.pay[s.round.jobs.delivered].sum()), s)),
    Reporter("settled", "payments settled at the end of the round",
             lambda s: _tokens(int(s.round.jobs.pay[s.round.settle].sum()), s)),
    Reporter("cheated_settled", "settled payments of cheated jobs",
             lambda s: _tokens(int(s.round.jobs.pay[s.round.settle][s.round.jobs.cheated[s.round.settle]].sum()), s)),
    Reporter("fees", "platform fee taken at settlement",
             lambda s: _tokens(int(np.sum(s.round.jobs.pay[s.round.settle] - s.round.net)), s)),
    # --- challenges and disputes
    Reporter("challenges", "delivered jobs challenged", lambda s: int(s.round.challenges.challenged.sum())),
    Reporter("challenges_user", "of which by their user",
             lambda s: int((s.round.challenges.challenged & s.round.challenges.by_user).sum())),
    Reporter("disputes_opened", "challenges that opened a dispute", lambda s: int(s.round.challenges.index.size)),
    Reporter("disputes_resolved", "disputes resolved", _resolved("disputes")),
    Reporter("convictions", "guilty verdicts", _resolved("convictions")),
    Reporter("false_convictions", "guilty verdicts on jobs not cheated", _resolved("false_convictions")),
    Reporter("upheld", "verdicts for the provider (challenger wrong)", _resolved("upheld")),
    Reporter("ambiguous", "ambiguous verdicts", _resolved("ambiguous")),
    Reporter("dispute_rounds_mean", "mean rounds of the games of the disputes opened",
             lambda s: _mean(s.round.challenges.outcome.rounds)),
    Reporter("slashed", "stake slashed", _resolved("slashed", tokens=True)),
    Reporter("burned", "tokens burned this round", lambda s: _tokens(s.books.burn - s.round.burn_before, s)),
    Reporter("reversed", "payments reversed by convictions", _resolved("reversed", tokens=True)),
    Reporter("refunded", "payments refunded to users", _resolved("refunded", tokens=True)),
    Reporter("challenger_costs", "what the challenges cost their challengers (tokens)", _challenger_costs),
    Reporter("challenger_rewards", "slash shares paid to challengers",
             _resolved("challenger_rewards", tokens=True)),
    Reporter("referee_rewards", "rewards paid to referees", _resolved("referee_rewards", tokens=True)),
    Reporter("bond_to_providers", "forfeited bond shares paid to providers",
             _resolved("bond_to_providers", tokens=True)),
    Reporter("wrong_verdicts", "final verdicts unlike the trusted stack's", _resolved("wrong_verdicts")),
    Reporter("cheaters_freed", "wrong verdicts that freed a cheater", _resolved("cheaters_freed")),
    Reporter("appeals", "appeals", _resolved("appeals")),
    Reporter("appeals_overturned", "appeals that overturned the first ruling", _resolved("overturned")),
    Reporter("referees_slashed", "market referees slashed (and removed)", _resolved("referees_slashed")),
    Reporter("referee_slashed", "stake slashed from market referees",
             _resolved("referee_slashed", tokens=True)),
    Reporter("bribes", "bribes taken by market referees", _resolved("bribes", tokens=True)),
    # --- the books and the population at the end of the round
    Reporter("bonds_locked", "bonds of the running challenges", lambda s: _tokens(s.books.bonds_open, s)),
    Reporter("stake_locked", "providers' locked stakes", lambda s: _tokens(int(s.books.stake.sum()), s)),
    Reporter("providers_removed", "providers convicted (or slashed as referees), in total",
             lambda s: int((s.providers.removed >= 0).sum())),
    Reporter("providers_entered", "providers that entered this round", lambda s: s.round.entered),
    Reporter("providers_exited", "providers that left this round", lambda s: s.round.exited),
    Reporter("cheaters_present", "cheaters neither removed nor gone",
             lambda s: int((s.providers.present & (s.providers.kind == CHEATER)).sum())),
    Reporter("tokens_held", "all accounts together (conservation-checked)", lambda s: _tokens(s.round.total, s)),
    Reporter("deposited", "tokens deposited from outside, in total", lambda s: _tokens(s.books.deposited, s)),
    Reporter("withdrawn", "tokens withdrawn to outside, in total", lambda s: _tokens(s.books.withdrawn, s)),
)


def price_reporters(model_types: Sequence[str]) -> tuple[Reporter, ...]:
    """``price[<type>]``: the mean per-unit price paid for each model type over the delivered
    trades (NaN when none)."""
    return tuple(
        Reporter(f"price[{name}]", f"mean per-unit price paid for {name} (NaN: none delivered)",
                 _price(t))
        for t, name in enumerate(model_types)
    )


class Recorder:
    """Collects the per-round rows (one value per reporter) and, with ``record_jobs``, the logs.

    Parameters
    ----------
    reporters : sequence of Reporter
        The columns of the per-round table, in order (names unique).
    record_jobs : bool
        Also keep the per-task, per-job, per-requeued-task and per-dispute logs.
    """

    def __init__(self, reporters: Sequence[Reporter], record_jobs: bool = False) -> None:
        names = [rep.name for rep in reporters]
        if len(set(names)) != len(names):
            raise ValueError(f"reporter names must be unique, got {names}")
        self.reporters = tuple(reporters)
        self.record_jobs = record_jobs
        self.rows: list[dict[str, Any]] = []
        self.logs: dict[str, list[Any]] = {"jobs": [], "requeued": [], "tasks": [], "disputes": []}

    @classmethod
    def for_run(cls, model_types: Sequence[str], record_jobs: bool = False) -> Recorder:
        """The simulation's recorder: :data:`ROUND_REPORTERS` and a price per model type."""
        return cls(ROUND_REPORTERS + price_reporters(model_types), record_jobs)

    @property
    def columns(self) -> list[str]:
        """The per-round table's columns, in order."""
        return [rep.name for rep in self.reporters]

    def collect(self, state: SimState) -> None:
        """Record the round just played: a row of every reporter's value, and the logs."""
        self.rows.append({rep.name: rep.read(state) for rep in self.reporters})
        if self.record_jobs:
            self._log(state)

    def table(self) -> pd.DataFrame:
        """The per-round table (one row per round played)."""
        return pd.DataFrame(self.rows, columns=self.columns)

    def _log(self, state: SimState) -> None:
        """``record_jobs``: the round's tasks, jobs, re-auctioned tasks and resolved disputes."""
        rnd = state.round
        tasks, jobs, ch, r = rnd.tasks, rnd.jobs, rnd.challenges, rnd.r
        self.logs["disputes"].extend(rnd.resolution.log)
        q = rnd.requeued
        if q is not None:
            self.logs["requeued"].append(
                pd.DataFrame(
                    {
                        "round": r,
                        "task_id": q.tasks.task_id,
                        "value": q.tasks.value,
                        "units": q.tasks.demand.sum(axis=1),
                        "priority": q.tasks.priority,
                        "arrived": q.tasks.arrived,
                        "reason": q.reason,
                        "source_round": q.source_round,
                        "source_row": q.source_row,
                        "kept": q.kept,
                    }
                )
            )
        if tasks.n:
            self.logs["tasks"].append(
                pd.DataFrame(
                    {
                        "round": r,
                        "row": np.arange(tasks.n),
                        "task_id": tasks.task_id,
                        "value": tasks.value,
                        "units": tasks.demand.sum(axis=1),
                        "priority": tasks.priority,
                        "arrived": tasks.arrived,
                    }
                )
            )
        market = rnd.true_market
        if jobs.n and market is not None:
            self.logs["jobs"].append(
                pd.DataFrame(
                    {
                        "round": r,
                        "task_id": tasks.task_id[jobs.task],
                        "value": tasks.value[jobs.task],
                        "task_units": market.task_units[jobs.task],
                        "priority": tasks.priority[jobs.task],
                        "provider": jobs.provider,
                        "kind": np.asarray(PROVIDER_KINDS, dtype=object)[jobs.kind],
                        "units": jobs.units,
                        "true_cost": jobs.cost,
                        "payment": jobs.pay,
                        "failed": jobs.failed,
                        "cheated": jobs.cheated,
                        "challenged": ch.challenged,
                        "disputed": ch.disputed,
                        "node": jobs.node,
                        "status": np.asarray(JOB_STATUSES, dtype=object)[jobs.status],
                    }
                )
            )

    def _frames(self, name: str) -> pd.DataFrame | None:
        parts = self.logs[name]
        return pd.concat(parts, ignore_index=True) if parts else None

    def result(self, state: SimState, timings: dict[str, float]) -> SimulationResult:
        """The tables of the run so far."""
        return SimulationResult(
            config=state.config,
            seed=state.seed,
            rounds=self.table(),
            providers=provider_table(state),
            ledger=state.books.to_frame(),
            timings=timings,
            jobs=self._frames("jobs"),
            requeued=self._frames("requeued"),
            tasks=self._frames("tasks"),
            disputes=pd.DataFrame(self.logs["disputes"]) if self.record_jobs else None,
            games_played=state.court.games_played,
            agents=state.agents.decisions() if state.agents is not None else None,
            policies=state.agents.policy_table() if state.agents is not None else None,
        )


def provider_table(state: SimState) -> pd.DataFrame:
    """One row per provider ever present (``SimulationResult.providers``), money in tokens."""
    prov, books, unit, c = state.providers, state.books, state.unit, state.config
    kind = np.asarray(PROVIDER_KINDS, dtype=object)[prov.kind]
    strategy = np.where(
        prov.kind == CHEATER,
        c.adversary,
        np.where(prov.kind == OTHER_DEVICE, f"other-device({c.other_device_ulps} ulp)", "honest"),
    )
    income = prov.income / unit
    rewards = prov.rewards / unit
    appeal_net = prov.appeal_net / unit
    bribes_paid = prov.bribes_paid / unit
    names = [f"generated:{j}" for j in range(prov.n)]
    n_gen = c.n_providers
    for k, e in enumerate(c.extra_providers):
        names[n_gen + k] = e.name
    return pd.DataFrame(
        {
            "provider": np.arange(prov.n),
            "name": names,
            "kind": kind,
            "strategy": strategy,
            "honest": prov.kind != CHEATER,
            "entered": prov.entered,
            "exited": prov.exited,
            "removed": prov.removed,
            "jobs": prov.jobs,
            "failed_jobs": prov.failed,
            "cheated_jobs": prov.cheated,
            "income": income,
            "rewards": rewards,
            "compute_cost": prov.compute_cost,
            "idle_cost": prov.idle_cost,
            "referee_strategy": np.asarray(REFEREE_STRATEGIES, dtype=object)[prov.referee_strategy]
            if c.referee == "market"
            else "trusted",
            "referee_income": prov.referee_income / unit,
            "referee_slashed": prov.referee_slashed / unit,
            "appeal_net": appeal_net,
            "bribes_paid": bribes_paid,
            "profit": income + rewards + appeal_net - bribes_paid - prov.compute_cost - prov.idle_cost,
            "slashed": prov.slashed / unit,
            "stake": books.stake / unit,
            "balance": books.provider / unit,
            "disputes_won": prov.won,
            "disputes_lost": prov.lost,
            "barred_rounds": prov.barred_rounds,
            "open_challenges": prov.open_challenges,
        }
    ).set_index("provider")
