"""Learning agents inside the market over time: the seams they act through, the payoffs they
learn from, and the record of their decisions (issue 19; whitepaper sections 4 and 5).

The engine's seams (:mod:`oasis_lab.sim.behaviour`) work per job, per task or per member of a
referee pool; the agents' policies (:mod:`oasis_lab.agents.policies`) decide once per agent and
round with typed records. :class:`Agents` translates between them for the roles that
``SimConfig.policies`` makes ``learning`` (or for policies given to ``simulate``):

- **users** (seam ``user_reports``): task ``i`` belongs to user ``i mod n_users``; a user
  shades every task she has in the round's auction by her one decision. Her payoff is the
  round's utility at her true values, ``sigma (v - e) - payment`` summed over her tasks
  (``sigma`` the delivered share: a failed job delivers nothing and is not paid). A later
  reversal of a served job is not charged to her: it refunds her payment and sends the task
  back to the auction.
- **providers** (seams ``provider_reports`` and ``cheat``): an agent is an *operator*,
  provider ``j`` at the start (entrants get new operators). Its one decision per round is a
  markup on its reported cost (the auction) and a cheat rate and adversary (each job it
  delivers is cheated with that chance, drawn from the execution stream exactly as today's
  script draws). Its payoff is what its provider account gains from that round: settled
  payments, bond shares and appeal refunds, less bribes paid, stake slashed and the true
  compute cost (``income + rewards - referee income + appeal net - bribes - slashed -
  compute cost``; idle costs do not depend on the decision and are left out).
- **challengers** (seam ``user_challenge``): ``n_challengers`` agents watching every
  delivered job. Each recomputes each job with its learned rate (its cost,
  ``challenge_cost`` times the job's true cost); among those that recomputed a job the first
  valid challenge wins (a uniformly random order) and opens the dispute with its bond; the
  others bore their recomputation for nothing. Payoff: minus its recomputations, plus for each
  dispute its challenge opened the verdict's flows (``provider_guilty``: its share of the
  slashed stake, bond returned; ``challenger_wrong``: the bond forfeited; ``ambiguous``: the
  bond returned) and its appeals' net. The platform still challenges with ``p_platform``; when
  both recompute a job, the challenger's challenge counts (as the user's does today).
- **market referees** (seam ``referee``, ``referee: market``): a pool member drawn honest or
  bribable decides, when a bribe is offered, whether to take it (``bribable``: it rules for the
  provider) or rule as it recomputes. Only a referee that then rules learns from the decision
  (its fee and bribe less any stake an overturning appeal slashed); the pool's other members
  forget it (their decision changed nothing).

**When an agent learns: feedback timing.** A decision's consequences may land after its round:
a challenged job's dispute is resolved ``dispute_delay`` rounds later, and with it the slash,
the reward and the bond. The reading taken is that every payoff is **charged to the round of
the decision and delivered when its last consequence has landed** (never to the round it
lands in: a slash landing in round ``r + d`` says nothing about the action of round ``r + d``,
and charging it there would make the payoffs depend on past actions, outside what the regret
bounds cover). Concretely:

- users and referees: everything lands in the round; they learn at its end;
- providers: a provider with a running challenge is barred from the auction until the dispute
  ends, so it never acts between a decision and that decision's last consequence: it learns
  round ``r``'s payoff at the end of round ``r`` (no dispute) or of the round its last dispute
  is resolved, and each provider's learner sees an ordinary bandit sequence of its own
  decisions. Its regret bound holds as stated over the rounds it acted;
- challengers are never barred, so a challenger acts again before its round-``r`` rewards
  land. Each challenger is ``dispute_delay + 1`` learners, the ``k``-th acting in the rounds
  ``r`` with ``r mod (dispute_delay + 1) = k`` and learning round ``r``'s payoff at the end of
  round ``r + dispute_delay``, before it acts again (Joulani, Gyorgy and Szepesvari 2013: a
  delay of ``d`` costs running ``d + 1`` copies). Its regret against the best fixed rate is
  at most the sum of the copies' bounds, ``(d + 1) B(T / (d + 1))``, which for ``B(T) = c
  sqrt(T)`` is ``sqrt(d + 1) B(T)``.

A learning provider that is removed (convicted, or slashed as a referee) is gone whatever it
learned; with ``policies.provider.rejoin`` its operator comes back at the end of the round as
a new provider (same device, a fresh stake deposited, the same learner). Tokens stay conserved:
the books are checked every round after this stage.

Every learning decision is recorded (:meth:`Agents.decisions`: the action, the probability it
was drawn with, the mixed strategy's mean action, the payoff), which
:func:`oasis_lab.sim.learning.regret_report` reads.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from oasis_lab.agents.learners import make_learner
from oasis_lab.agents.policies import ACTION_FIELDS, Learning, Policy, Profile, action_grid
from oasis_lab.agents.roles import (
    OUTCOMES,
    ROLES,
    Action,
    ChallengerAction,
    ChallengerObservation,
    Observation,
    ProviderAction,
    ProviderObservation,
    RefereeAction,
    RefereeObservation,
    UserAction,
    UserObservation,
    reported_value,
)
from oasis_lab.auction.greedy import run_greedy
from oasis_lab.auction.pricing import unit_cost_matrix
from oasis_lab.disputes.market_referee import REFEREE_STRATEGIES
from oasis_lab.market import Market, user_cost
from oasis_lab.seeding import stream
from oasis_lab.sim import behaviour as seams
from oasis_lab.sim.court import CHEATER
from oasis_lab.sim.policies import horizon_copies
from oasis_lab.sim.recorder import Reporter
from oasis_lab.sim.stages import new_tasks
from oasis_lab.sim.state import PendingDispute, SimState

__all__ = ["AGENT_COLUMNS", "Agents", "auto_payoff_ranges"]

_HONEST, _BRIBABLE = REFEREE_STRATEGIES.index("honest"), REFEREE_STRATEGIES.index("bribable")

#: The per-round columns each learning role adds (name, what it is), after the prices.
AGENT_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "user": (("mean_shade", "mean shade of the round's reported values (learning users)"),),
    "provider": (("mean_markup", "mean markup of the providers in the auction (learning providers)"),
                 ("mean_cheat_rate", "mean cheat rate of the providers in the auction that may cheat")),
    "challenger": (("mean_challenge_rate", "mean challenge rate of the learning challengers"),),
    "referee": (("take_bribe_share", "share of market referees offered a bribe that chose to take it"),),
}


@dataclass(frozen=True)
class _Seam:
    """An object with the seam's ``act`` (a bound method of an adapter)."""

    act: Callable[[Any], Any]


class _Group:
    """One agents-layer policy driving a population of agents of one role, with what each agent's
    pending decision was (action, probabilities, snapshot) until its payoff is delivered."""

    def __init__(self, role: str, name: str, policy: Policy) -> None:
        self.role, self.name, self.policy = role, name, policy
        self.learning = isinstance(policy, Learning)
        self.fields = list(ACTION_FIELDS[role])
        self.k = policy.n_actions if isinstance(policy, Learning) else 1
        self.pending = np.full(0, -1, dtype=np.int64)  # round of each agent's pending decision
        self.action = np.zeros(0, dtype=np.int64)
        self.prob = np.zeros(0)
        self.values = {f: np.zeros(0) for f in self.fields}
        self.mixed = {f: np.zeros(0) for f in self.fields}
        self.snapshot = np.zeros(0)
        self.row = np.zeros(0, dtype=np.int64)  # the provider row an operator acted as
        # facts of a pending decision recorded with it (providers: its round's jobs)
        self.extra: dict[str, np.ndarray] = {}
        self.records: list[dict[str, Any]] = []

    def grow(self, n: int) -> None:
        extra = n - self.pending.size
        if extra <= 0:
            return
        self.pending = np.concatenate([self.pending, np.full(extra, -1, dtype=np.int64)])
        for name in ("action", "row"):
            setattr(self, name, np.concatenate([getattr(self, name), np.zeros(extra, dtype=np.int64)]))
        for name in ("prob", "snapshot"):
            setattr(self, name, np.concatenate([getattr(self, name), np.zeros(extra)]))
        for d in (self.values, self.mixed):
            for f in self.fields:
                d[f] = np.concatenate([d[f], np.zeros(extra)])
        for key, arr in self.extra.items():
            self.extra[key] = np.concatenate([arr, np.zeros(extra, dtype=arr.dtype)])

    def act(self, obs: Observation) -> tuple[Action, np.ndarray]:
        """The policy's action per row of ``obs``, and the agents that decided now (first time
        this round)."""
        action = self.policy.act(obs)
        ids = obs.agent
        if not ids.size:
            return action, ids
        self.grow(int(ids.max()) + 1)
        # first row of each agent; agents that decided earlier in this round keep their record
        first = np.full(self.pending.size, -1, dtype=np.int64)
        first[ids[::-1]] = np.arange(ids.size - 1, -1, -1)
        fresh = np.flatnonzero((first >= 0) & (self.pending != obs.round))
        if fresh.size:
            if (self.pending[fresh] >= 0).any():
                raise RuntimeError(f"{self.role} agents {fresh[self.pending[fresh] >= 0][:5].tolist()} act before "
                                   "their last decision was learned")
            rows = first[fresh]
            self.pending[fresh] = obs.round
            for f in self.fields:
                self.values[f][fresh] = np.asarray(getattr(action, f))[rows]
            if isinstance(self.policy, Learning):
                self.action[fresh] = self.policy.chosen(fresh)
                p = self.policy.played_probabilities[fresh]
                self.prob[fresh] = p[np.arange(fresh.size), self.action[fresh]]
                for f in self.fields:
                    self.mixed[f][fresh] = p @ self.policy.grid[f].astype(np.float64)
            else:
                self.action[fresh] = -1
                self.prob[fresh] = 1.0
                for f in self.fields:
                    self.mixed[f][fresh] = self.values[f][fresh]
        return action, fresh

    def waiting(self) -> np.ndarray:
        """Agents with a decision awaiting its payoff."""
        return np.flatnonzero(self.pending >= 0)

    def deliver(self, r: int, agents: np.ndarray, payoff: np.ndarray, learned: int, **extra: Any) -> None:
        """Agents ``agents`` (distinct, each with a decision of round ``r`` pending) earned
        ``payoff`` (tokens) from it: the policy learns it and the decision is recorded."""
        if not agents.size:
            return
        if (self.pending[agents] != r).any():
            raise RuntimeError(f"{self.role} payoffs of round {r} delivered to agents without a decision of it")
        self.policy.learn(OUTCOMES[self.role](r, agents, payoff))
        rec: dict[str, Any] = {"role": self.role, "policy": self.name, "agent": agents, "round": r,
                               "learned": learned, "action": self.action[agents], "probability": self.prob[agents],
                               "payoff": payoff, **extra}
        for key, arr in self.extra.items():
            rec[key] = arr[agents].copy()
            arr[agents] = 0
        for f in self.fields:
            rec[f] = self.values[f][agents]
            rec[f"mixed_{f}"] = self.mixed[f][agents]
        self.records.append(rec)
        self.pending[agents] = -1

    def forget(self, agents: np.ndarray) -> None:
        """Their decisions changed nothing: dropped unlearned."""
        if not agents.size:
            return
        if isinstance(self.policy, Learning):
            self.policy.forget(agents)
        self.pending[agents] = -1

    def frame(self) -> pd.DataFrame | None:
        if not self.records:
            return None
        # one concatenation per column (a DataFrame per record costs a millisecond each)
        sizes = [int(np.asarray(rec["agent"]).size) for rec in self.records]
        columns: dict[str, Any] = {}
        for key in self.records[0]:
            parts = [np.broadcast_to(np.asarray(rec[key]), (n,)) for rec, n in zip(self.records, sizes, strict=True)]
            columns[key] = np.concatenate(parts) if parts else np.zeros(0)
        return pd.DataFrame(columns)


def _learning(role: str, name: str, grid: dict[str, np.ndarray], spec: Any, horizon: int, n_agents: int,
              payoff_range: tuple[float, float], seed: int) -> Learning:
    k = len(next(iter(grid.values())))
    learner = make_learner(spec.learner, k, horizon, n_agents=n_agents, **spec.learner_options())
    return Learning(role, learner, grid, payoff_range=payoff_range, seed=seed, name=name, out_of_range="clip",
                    protocol="agent")


def _provider_totals(state: SimState, rows: np.ndarray) -> np.ndarray:
    """What the provider accounts of ``rows`` gained so far in their provider role (tokens)."""
    p = state.providers
    money = (p.income[rows] + p.rewards[rows] - p.referee_income[rows] + p.appeal_net[rows] - p.bribes_paid[rows]
             - p.slashed[rows])
    return np.asarray(money / state.unit - p.compute_cost[rows])


def _referee_totals(state: SimState, rows: np.ndarray) -> np.ndarray:
    """What the provider accounts of ``rows`` gained so far as market referees (tokens)."""
    p = state.providers
    return np.asarray((p.referee_income[rows] - p.referee_slashed[rows]) / state.unit)


def _round_mean(values: np.ndarray | None) -> float:
    return float(values.mean()) if values is not None and values.size else np.nan


# ---------------------------------------------------------------------------------- users
class _Users:
    def __init__(self, agents: Agents, policy: Policy | None) -> None:
        c = agents.config
        spec = c.policies.user
        self.n_users = spec.n_users
        self.params = c.auction
        if policy is None:
            grid = action_grid("user", shade=list(spec.shades))
            policy = _learning("user", "users", grid, spec, c.rounds, self.n_users, agents.ranges["user"], agents.seed)
        self.group = _Group("user", "users", policy)
        self.round = -1
        self.agent = np.zeros(0, dtype=np.int64)
        self.cost = np.zeros(0)
        self.shade: np.ndarray | None = None

    def reports(self, obs: seams.ValueObservation) -> np.ndarray:
        """Seam ``user_reports``: each task's user shades it by her decision of the round."""
        units = obs.demand.sum(axis=1)
        size = units if self.params.task_size == "units" or obs.size is None else obs.size
        e = user_cost(size, self.params.alpha, self.params.beta)
        agent = obs.task_id % self.n_users
        o = UserObservation(obs.round, agent, value=obs.value, user_cost=e)
        act, _ = self.group.act(o)
        action = cast(UserAction, act)
        self.round, self.agent, self.cost, self.shade = obs.round, agent, e, action.shade
        if not action.shade.any():
            return obs.value  # the truth itself: the auction sees the true market
        return reported_value(o, action)

    def learn(self, state: SimState, r: int) -> None:
        if self.round != r:
            return
        rnd = state.round
        tasks, jobs = rnd.tasks, rnd.jobs
        utility = np.zeros(tasks.n)
        if jobs.n and rnd.true_market is not None:
            done = jobs.delivered
            units = np.bincount(jobs.task[done], weights=jobs.units[done], minlength=tasks.n)
            paid = np.bincount(jobs.task[done], weights=jobs.pay[done], minlength=tasks.n) / state.unit
            task_units = rnd.true_market.task_units
            share = np.divide(units, task_units, out=np.zeros(tasks.n), where=task_units > 0)
            utility = np.where(share > 0, share * (tasks.value - self.cost) - paid, 0.0)
        n = self.group.pending.size
        acted = np.flatnonzero(self.group.pending == r)
        payoff = np.bincount(self.agent, weights=utility, minlength=n)[acted]
        self.group.deliver(r, acted, payoff, r)

    def mean(self, r: int) -> float:
        return _round_mean(self.shade) if self.round == r else np.nan


# ------------------------------------------------------------------------------ providers
class _Providers:
    def __init__(self, agents: Agents, policy: Policy | None) -> None:
        c = agents.config
        spec = c.policies.provider
        self.agents = agents
        self.spec = spec
        n0 = agents.operator.size
        self.groups: list[_Group] = []
        if policy is not None:
            self.groups.append(_Group("provider", "providers", policy))
            self.cheats_all, self.honest_group = True, False
        else:
            adversaries = list(spec.adversaries) or [c.adversary]
            grid = action_grid("provider", markup=list(spec.markups), cheat_rate=list(spec.cheat_rates),
                               adversary=adversaries)
            self.groups.append(_Group("provider", "cheaters", _learning(
                "provider", "cheaters", grid, spec, c.rounds, n0, agents.ranges["provider"], agents.seed)))
            self.cheats_all = spec.cheaters == "all"
            self.honest_group = not self.cheats_all and len(spec.markups) >= 2
            if self.honest_group:
                self.groups.append(_Group("provider", "honest", _learning(
                    "provider", "honest", action_grid("provider", markup=list(spec.markups)), spec, c.rounds, n0,
                    agents.ranges["provider"], agents.seed)))
        for group in self.groups:
            group.extra = {"jobs": np.zeros(0, dtype=np.int64), "payment": np.zeros(0), "compute": np.zeros(0)}
        self.round = -1
        self.markup = np.zeros(0)
        self.cheat = np.zeros(0)
        self.adversary = np.zeros(0, dtype=np.int64)
        self.cheating = np.zeros(0, dtype=bool)  # may cheat (rows in this round's auction)
        self.acting = np.zeros(0, dtype=np.int64)

    def _group_of(self, state: SimState, rows: np.ndarray) -> list[tuple[_Group, np.ndarray]]:
        """Each group with the rows (of ``rows``) it drives; rows no group drives report the truth."""
        if self.cheats_all:
            return [(self.groups[0], rows)]
        cheater = state.providers.kind[rows] == CHEATER
        out = [(self.groups[0], rows[cheater])]
        if self.honest_group:
            out.append((self.groups[1], rows[~cheater]))
        return out

    def reports(self, obs: seams.CostObservation) -> np.ndarray:
        """Seam ``provider_reports``: each provider in the auction decides its round (markup,
        cheat rate, adversary); it reports its cost marked up."""
        state = self.agents.state
        self.agents.sync(state)
        n, r = state.providers.n, obs.round
        self.round = r
        self.markup, self.cheat = np.zeros(n), np.zeros(n)
        self.adversary = np.zeros(n, dtype=np.int64)
        local = np.full(n, -1, dtype=np.int64)
        local[obs.provider] = np.arange(obs.provider.size)
        cheating = np.zeros(n, dtype=bool)
        for group, rows in self._group_of(state, obs.provider):
            if not rows.size:
                continue
            ops = self.agents.operator[rows]
            o = ProviderObservation(r, ops, cost=obs.cost[local[rows]],
                                    kind=state.providers.kind[rows].astype(np.int64),
                                    stake=state.books.stake[rows] / state.unit)
            act, _ = group.act(o)
            action = cast(ProviderAction, act)
            self.markup[rows], self.cheat[rows] = action.markup, action.cheat_rate
            self.adversary[rows] = action.adversary
            if group.name != "honest":
                cheating[rows] = True
            group.row[ops] = rows
            group.snapshot[ops] = _provider_totals(state, rows)
        self.cheating = cheating[obs.provider]
        self.acting = obs.provider
        markup = self.markup[obs.provider]
        if not markup.any():
            return obs.cost  # the truth itself
        return obs.cost * (1.0 + markup)

    def cheat_seam(self, obs: seams.CheatObservation) -> seams.CheatAction:
        """Seam ``cheat``: each delivered job is cheated with its provider's rate, one draw per job
        from the execution stream (as today's script draws)."""
        u = obs.rng.random(obs.n)
        if self.round != obs.round:  # no auction this round: no decision, no job
            return seams.CheatAction(np.zeros(obs.n, dtype=bool), np.zeros(obs.n, dtype=np.int8))
        # what each provider's decision was about: its delivered jobs, their payments and true cost
        n, done = self.cheat.size, ~obs.failed
        self.jobs = np.bincount(obs.provider[done], minlength=n)
        self.paid = np.bincount(obs.provider[done], weights=obs.payment[done], minlength=n)
        self.compute = np.bincount(obs.provider[done], weights=obs.cost[done], minlength=n)
        for group in self.groups:
            ops, rows = self.agents.operator[self.acting], self.acting
            inside = ops < group.pending.size
            ops, rows = ops[inside], rows[inside]
            mine = group.pending[ops] == obs.round
            ops, rows = ops[mine], rows[mine]
            group.extra["jobs"][ops] = self.jobs[rows]
            group.extra["payment"][ops] = self.paid[rows] / self.agents.state.unit
            group.extra["compute"][ops] = self.compute[rows]
        cheated = (u < self.cheat[obs.provider]) & done
        return seams.CheatAction(cheated, self.adversary[obs.provider].astype(np.int8))

    def learn(self, state: SimState, r: int) -> None:
        open_ = state.providers.open_challenges
        for group in self.groups:
            waiting = group.waiting()
            if not waiting.size:
                continue
            rows = group.row[waiting]
            done = waiting[open_[rows] == 0]
            for when in np.unique(group.pending[done]):
                ops = done[group.pending[done] == when]
                payoff = _provider_totals(state, group.row[ops]) - group.snapshot[ops]
                group.deliver(int(when), ops, payoff, r, provider=group.row[ops])

    def means(self, r: int) -> tuple[float, float]:
        if self.round != r:
            return np.nan, np.nan
        return (_round_mean(self.markup[self.acting]),
                _round_mean(self.cheat[self.acting][self.cheating]))


# ---------------------------------------------------------------------------- challengers
class _Challengers:
    def __init__(self, agents: Agents, policy: Policy | None) -> None:
        c = agents.config
        spec = c.policies.challenger
        self.agents = agents
        self.k = spec.n_challengers
        self.copies, horizon = horizon_copies(c.dispute_delay, c.rounds)
        self.delay = c.dispute_delay
        if policy is None:
            grid = action_grid("challenger", challenge_rate=list(spec.challenge_rates))
            policy = _learning("challenger", "challengers", grid, spec, horizon, self.k * self.copies,
                               agents.ranges["challenger"], agents.seed)
        self.group = _Group("challenger", "challengers", policy)
        self.names = tuple(f"learner{i}" for i in range(self.k))
        self.index = {name: i for i, name in enumerate(self.names)}
        agents.state.books.add_challengers(list(self.names))
        self.payoff: dict[int, np.ndarray] = {}
        self.checks: dict[int, np.ndarray] = {}
        self.round = -1
        self.rate = np.zeros(0)

    def ids(self, r: int) -> np.ndarray:
        """The learners of round ``r``: copy ``r mod (delay + 1)`` of each challenger."""
        return np.arange(self.k, dtype=np.int64) * self.copies + r % self.copies

    def act(self, obs: seams.ChallengeObservation) -> seams.ChallengeRace:
        """Seam ``user_challenge``: each challenger recomputes each delivered job with its rate;
        the first valid challenge of a job wins."""
        r, n, unit = obs.round, obs.n, self.agents.state.unit
        delivered = obs.delivered
        pay = float(obs.payment[delivered].mean()) / unit if delivered.any() else 0.0
        cost = float(obs.cost[delivered].mean()) if delivered.any() else 0.0
        o = ChallengerObservation(r, self.ids(r), payment=np.full(self.k, pay), check_cost=np.full(self.k, cost))
        act, _ = self.group.act(o)
        self.round, self.rate = r, cast(ChallengerAction, act).challenge_rate
        # one uniform per challenger and job from the stage's stream: with one challenger these
        # are today's draws of the user's challenge
        u = obs.rng.random((self.k, n))
        checks = (u < self.rate[:, None]) & delivered[None, :]
        count = checks.sum(axis=0)
        if self.k == 1:
            winner = np.where(checks[0], 0, -1)
        else:
            # who submits first among those who recomputed: a uniformly random order
            order = stream(self.agents.seed, "agents", "challenger", "race", r).random((self.k, n))
            winner = np.where(count > 0, np.where(checks, order, np.inf).argmin(axis=0), -1)
        self.payoff[r] = -(checks * np.where(delivered, obs.cost, 0.0)[None, :]).sum(axis=1)
        self.checks[r] = checks.sum(axis=1)
        return seams.ChallengeRace(count > 0, winner.astype(np.int64), count.astype(np.int64), self.names)

    def on_dispute(self, d: PendingDispute, verdict: str, flows: dict[str, int]) -> None:
        i = self.index.get(d.challenger)
        if i is None:
            return
        unit = self.agents.state.unit
        if verdict == "provider_guilty":
            net = flows["to_challenger"]
        elif verdict == "challenger_wrong":
            net = -d.bond
        else:
            net = 0
        self.payoff[d.job.round][i] += net / unit

    def on_appeal(self, d: PendingDispute, net: int) -> None:
        i = self.index.get(d.challenger)
        if i is not None:
            self.payoff[d.job.round][i] += net / self.agents.state.unit

    def learn(self, state: SimState, r: int) -> None:
        origin = r - self.delay
        if origin in self.payoff:
            payoff = self.payoff.pop(origin)
            checks = self.checks.pop(origin)
            self.group.deliver(origin, self.ids(origin), payoff, r, challenger=np.arange(self.k), checks=checks)

    def mean(self, r: int) -> float:
        return _round_mean(self.rate) if self.round == r else np.nan


# ------------------------------------------------------------------------------- referees
class _Referees:
    def __init__(self, agents: Agents, policy: Policy | None) -> None:
        c = agents.config
        self.agents = agents
        self.appeal_to = c.appeal_to
        if policy is None:
            grid = action_grid("referee", take_bribe=[False, True])
            policy = _learning("referee", "referees", grid, c.policies.referee, c.rounds, agents.operator.size,
                               agents.ranges["referee"], agents.seed)
        self.group = _Group("referee", "referees", policy)
        self.round = -1
        self.ruled: set[int] = set()
        self.took: list[bool] = []

    def act(self, obs: seams.RefereeObservation) -> np.ndarray:
        """Seam ``referee``: offered a bribe, pool members drawn honest or bribable decide."""
        if obs.round != self.round:
            self.round, self.ruled, self.took = obs.round, set(), []
        if obs.bribe <= 0:
            return obs.assigned
        state = self.agents.state
        self.agents.sync(state)
        decide = (obs.assigned == _HONEST) | (obs.assigned == _BRIBABLE)
        rows = obs.pool[decide]
        if not rows.size:
            return obs.assigned
        if self.appeal_to == "trusted":
            q = 1.0
        elif self.appeal_to == "market":
            q = float(np.mean(obs.assigned == _HONEST))
        else:
            q = 0.0
        ops = self.agents.operator[rows]
        n = rows.size
        o = RefereeObservation(obs.round, ops, strategy=obs.assigned[decide].astype(np.int64),
                               offer=np.full(n, obs.bribe / state.unit), stake=obs.stake[decide] / state.unit,
                               overturn_probability=np.full(n, q))
        act, fresh = self.group.act(o)
        action = cast(RefereeAction, act)
        self.group.row[ops] = rows
        new = np.isin(ops, fresh)
        self.group.snapshot[ops[new]] = _referee_totals(state, rows[new])
        out = np.asarray(obs.assigned).copy()
        out[decide] = np.where(action.take_bribe, _BRIBABLE, _HONEST)
        return out

    def on_ruling(self, first: int, second: int, amount: int) -> None:
        if amount > 0:
            op = self.agents.operator
            for q in (first, second):
                if q >= 0:
                    agent = int(op[q])
                    if agent < self.group.pending.size and self.group.pending[agent] == self.round:
                        self.ruled.add(agent)
                        self.took.append(bool(self.group.values["take_bribe"][agent]))

    def learn(self, state: SimState, r: int) -> None:
        acted = np.flatnonzero(self.group.pending == r)
        if not acted.size:
            return
        ruled = np.array(sorted(self.ruled & set(acted.tolist())), dtype=np.int64)
        if ruled.size:
            payoff = _referee_totals(state, self.group.row[ruled]) - self.group.snapshot[ruled]
            self.group.deliver(r, ruled, payoff, r, provider=self.group.row[ruled])
        self.group.forget(np.setdiff1d(acted, ruled))

    def share(self, r: int) -> float:
        return float(np.mean(self.took)) if self.round == r and self.took else np.nan


# ------------------------------------------------------------------------------- ranges
def auto_payoff_ranges(state: SimState) -> dict[str, tuple[float, float]]:
    """Each role's default ``payoff_range`` (tokens per agent and round), from a truthful pilot
    of round 0's market (its arrivals and the initial providers; nothing of the run is used).

    With ``A`` and ``C`` the largest payment and true cost one provider has in the pilot, ``f S``
    the slashable stake, ``B`` the bond, ``R`` the challenger's share of a slash, ``rho`` the
    largest rate of a grid and ``K`` the pilot's total recomputation cost:

    - user: ``[-m max e, m max (v - e)+]``, ``m`` twice the most tasks one user has in the pilot;
    - provider: ``[-(f S + 2 C + 2 bribe + appeal bond), 2 A (1 + max markup) + B]``;
    - challenger: ``[-rho K - B, 2 R]`` (a round with more than two convictions is clipped:
      the range is what a challenger's usual rounds span, so small rates are told apart);
    - referee: ``[-referee_slash_fraction S, 2 (fee + bribe)]``, the fee the referee's share of a
      slash or a bond.

    Payoffs beyond a range are clipped (counted in the policies table's ``clipped``); give
    ``payoff_range`` in the config to set it.
    """
    c, prov = state.config, state.providers
    dp = c.disputes
    stake, bond = float(dp.provider_stake), float(dp.challenger_bond)
    slash = dp.slash_fraction * stake
    reward = dp.challenger_reward_fraction * slash
    fee = dp.referee_reward_fraction * max(slash, bond)
    bribe = float(c.cheater_bribe)
    tasks = new_tasks(c, state.seed, 0)
    rev: np.ndarray = np.zeros(prov.n)
    cost: np.ndarray = np.zeros(prov.n)
    values, e = np.ones(1), np.ones(1)
    job_cost = np.zeros(0)
    if tasks is not None:
        demand, values, size = tasks
        market = Market(demand=demand, value=values, speed=prov.speed, capacity=prov.capacity, cost=prov.cost,
                        psi=prov.psi, model_types=state.model_types, size=size, psi_names=state.psi_names)
        res = run_greedy(market, c.auction)
        tr = res.trades
        t_prov, t_type, units = tr["provider"].to_numpy(), tr["type"].to_numpy(), tr["units"].to_numpy()
        spend = tr["unit_price"].to_numpy() * units
        job_cost = unit_cost_matrix(market, c.auction)[t_prov, t_type] * units
        rev = np.bincount(t_prov, weights=spend, minlength=prov.n)
        cost = np.bincount(t_prov, weights=job_cost, minlength=prov.n)
        t = demand.sum(axis=1) if c.auction.task_size == "units" else size
        e = user_cost(t, c.auction.alpha, c.auction.beta)
    a, cmax = float(rev.max(initial=0.0)), float(cost.max(initial=0.0))
    pol = c.policies
    out: dict[str, tuple[float, float]] = {}
    n_tasks = values.size
    per_user = np.bincount(np.arange(n_tasks) % pol.user.n_users, minlength=1).max()
    m = 2.0 * float(per_user)
    out["user"] = (-m * float(e.max()), max(m * float(np.maximum(values - e, 0.0).max()), 1.0))
    out["provider"] = (-(slash + 2.0 * cmax + 2.0 * bribe + dp.appeal_bond),
                       max(2.0 * a * (1.0 + max(pol.provider.markups)) + bond, 1.0))
    rho = max(pol.challenger.challenge_rates)
    recompute = c.challenge_cost * float(job_cost.sum())
    out["challenger"] = (-(rho * recompute + bond), max(2.0 * reward, 1.0))
    out["referee"] = (-dp.referee_slash_fraction * stake, max(2.0 * (fee + bribe), 1.0))
    for role, (lo, hi) in list(out.items()):
        if not lo < hi:
            out[role] = (min(lo, -1.0), max(hi, 1.0))
    return out


# --------------------------------------------------------------------------------- agents
class Agents:
    """The learning agents of one run (see the module notes).

    Parameters
    ----------
    state : SimState
        The run's state before round 0 (its behaviour is the base the agents' seams replace).
    policies : mapping of role to Policy, optional
        Agents-layer policies replacing the config's for some roles (e.g. a
        :class:`~oasis_lab.agents.policies.Profile` of fixed actions, to certify a profile):
        each drives every agent of its role (providers: every operator). The other roles
        follow ``config.policies``.
    """

    def __init__(self, state: SimState, policies: Mapping[str, Policy] | None = None) -> None:
        self.state = state
        self.config = c = state.config
        self.seed = state.seed
        given = dict(policies or {})
        for role, pol in given.items():
            if role not in ROLES:
                raise ValueError(f"policies has an unknown role {role!r}; roles are {list(ROLES)}")
            if not isinstance(pol, (Learning, Profile)):
                raise TypeError(f"policies[{role!r}] must be a Learning or Profile policy, got {type(pol).__name__}")
            if pol.role != role:
                raise ValueError(f"policies[{role!r}] is a policy of role {pol.role!r}")
            if isinstance(pol, Learning) and pol.protocol != "agent":
                raise ValueError(f"policies[{role!r}]: a Learning policy in the market needs protocol='agent'")
        if "referee" in given and c.referee != "market":
            raise ValueError(f"policies['referee'] needs referee='market', got referee={c.referee!r}")
        self.operator = np.arange(state.providers.n, dtype=np.int64)
        self.next_operator = int(state.providers.n)
        roles = set(c.policies.learning_roles) | set(given)
        learning_specs = [r for r in roles if r not in given]
        auto = auto_payoff_ranges(state) if learning_specs else {}
        self.ranges = {role: getattr(c.policies, role).payoff_range or auto.get(role, (-1.0, 1.0)) for role in ROLES}
        self.users = _Users(self, given.get("user")) if "user" in roles else None
        self.providers = _Providers(self, given.get("provider")) if "provider" in roles else None
        self.challengers = _Challengers(self, given.get("challenger")) if "challenger" in roles else None
        self.referees = _Referees(self, given.get("referee")) if "referee" in roles else None
        self.rejoined = 0

    @property
    def roles(self) -> tuple[str, ...]:
        """The roles these agents play, in :data:`~oasis_lab.agents.roles.ROLES` order."""
        have = {"user": self.users, "provider": self.providers, "challenger": self.challengers,
                "referee": self.referees}
        return tuple(role for role in ROLES if have[role] is not None)

    def groups(self) -> list[_Group]:
        out: list[_Group] = []
        if self.users is not None:
            out.append(self.users.group)
        if self.providers is not None:
            out.extend(self.providers.groups)
        if self.challengers is not None:
            out.append(self.challengers.group)
        if self.referees is not None:
            out.append(self.referees.group)
        return out

    def behaviour(self, base: seams.Behaviour) -> seams.Behaviour:
        """``base`` with the seams of these agents' roles replaced."""
        changes: dict[str, Any] = {}
        if self.users is not None:
            changes["user_reports"] = _Seam(self.users.reports)
        if self.providers is not None:
            changes["provider_reports"] = _Seam(self.providers.reports)
            changes["cheat"] = _Seam(self.providers.cheat_seam)
        if self.challengers is not None:
            changes["user_challenge"] = _Seam(self.challengers.act)
        if self.referees is not None:
            changes["referee"] = _Seam(self.referees.act)
        return base.replace(**changes)

    def sync(self, state: SimState) -> None:
        """Entrants (``entry_rate``) get new operators."""
        n = state.providers.n
        if n > self.operator.size:
            extra = n - self.operator.size
            self.operator = np.concatenate([self.operator, np.arange(self.next_operator, self.next_operator + extra)])
            self.next_operator += extra

    # -- hooks the disputes stage calls -------------------------------------------------------
    def on_dispute(self, d: PendingDispute, verdict: str, flows: dict[str, int]) -> None:
        if self.challengers is not None:
            self.challengers.on_dispute(d, verdict, flows)

    def on_appeal(self, d: PendingDispute, net: int) -> None:
        """A challenger appealed (``net``: its bond back and reward less the bond, smallest units)."""
        if self.challengers is not None:
            self.challengers.on_appeal(d, net)

    def on_ruling(self, first: int, second: int, bribe: int) -> None:
        if self.referees is not None:
            self.referees.on_ruling(first, second, bribe)

    # -- the learn stage ----------------------------------------------------------------------
    def learn(self, state: SimState, r: int) -> None:
        """Deliver every payoff whose decision's consequences have all landed; rejoin."""
        self.sync(state)
        if self.users is not None:
            self.users.learn(state, r)
        if self.providers is not None:
            self.providers.learn(state, r)
            if self.config.policies.provider.rejoin:
                self._rejoin(state, r)
        if self.challengers is not None:
            self.challengers.learn(state, r)
        if self.referees is not None:
            self.referees.learn(state, r)

    def _rejoin(self, state: SimState, r: int) -> None:
        """Operators of providers removed this round come back as new providers (same device,
        a fresh stake), from the next round."""
        prov = state.providers
        rows = np.flatnonzero(prov.removed == r)
        if not rows.size:
            return
        arrays = {name: getattr(prov, name)[rows] for name in ("speed", "capacity", "cost", "psi")}
        prov.add(arrays, prov.kind[rows].copy(), r + 1, prov.referee_strategy[rows].copy())
        state.books.add_providers(rows.size, state.stake_amount)
        hist = state.profit_hist
        if hist.shape[1] < prov.n:
            state.profit_hist = np.concatenate([hist, np.zeros((hist.shape[0], prov.n - hist.shape[1]))], axis=1)
        self.operator = np.concatenate([self.operator, self.operator[rows]])
        self.rejoined += int(rows.size)

    # -- what is recorded ---------------------------------------------------------------------
    def reporters(self) -> tuple[Reporter, ...]:
        """The per-round columns of these agents' roles (:data:`AGENT_COLUMNS`)."""
        read: dict[str, Callable[[SimState], Any]] = {}
        if self.users is not None:
            users = self.users
            read["mean_shade"] = lambda s: users.mean(s.round.r)
        if self.providers is not None:
            providers = self.providers
            read["mean_markup"] = lambda s: providers.means(s.round.r)[0]
            read["mean_cheat_rate"] = lambda s: providers.means(s.round.r)[1]
        if self.challengers is not None:
            challengers = self.challengers
            read["mean_challenge_rate"] = lambda s: challengers.mean(s.round.r)
        if self.referees is not None:
            referees = self.referees
            read["take_bribe_share"] = lambda s: referees.share(s.round.r)
        return tuple(Reporter(name, doc, read[name]) for role in self.roles for name, doc in AGENT_COLUMNS[role])

    def decisions(self) -> pd.DataFrame:
        """One row per decision learned: ``role``, ``policy`` (its population), ``agent``,
        ``round`` (decided), ``learned`` (the round its payoff was delivered), ``action`` (grid
        index; -1 under a fixed profile), ``probability`` (the chance it was drawn with),
        ``payoff`` (tokens), each action field and its mean under the mixed strategy
        (``mixed_<field>``), and per role: providers ``provider`` (the provider row acted as),
        ``jobs``, ``payment`` and ``compute`` (its delivered jobs of the round, their payments and
        their true cost, tokens); challengers ``challenger`` and ``checks``
        (recomputations)."""
        frames = [f for f in (g.frame() for g in self.groups()) if f is not None]
        if not frames:
            return pd.DataFrame(columns=["role", "policy", "agent", "round", "learned", "action", "probability",
                                         "payoff"])
        return pd.concat(frames, ignore_index=True)

    def policy_table(self) -> pd.DataFrame:
        """One row per population: role, policy, learner, grid (JSON), ``K``, payoff range,
        horizon, learners per agent (``copies``), payoffs clipped."""
        rows = []
        for g in self.groups():
            pol = g.policy
            if isinstance(pol, Learning):
                grid = {f: v.tolist() for f, v in pol.grid.items()}
                lo, hi = pol.payoff_range
                rows.append({"role": g.role, "policy": g.name, "learner": pol.learner.describe(),
                             "grid": json.dumps(grid), "actions": pol.n_actions, "payoff_lo": lo, "payoff_hi": hi,
                             "horizon": pol.learner.horizon,
                             "copies": self.challengers.copies if g.role == "challenger" and self.challengers else 1,
                             "clipped": pol.clipped})
            else:
                rows.append({"role": g.role, "policy": g.name, "learner": pol.describe(), "grid": "{}",
                             "actions": 1, "payoff_lo": math.nan, "payoff_hi": math.nan, "horizon": 0,
                             "copies": 1, "clipped": 0})
        return pd.DataFrame(rows)
