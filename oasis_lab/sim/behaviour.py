"""Where the agents of a simulation decide: one seam per behavioural choice (sections 4 and 5).

Every choice an agent of the simulation makes goes through exactly one *seam*: a stage of
:mod:`oasis_lab.sim.stages` builds an observation (a frozen dataclass of what the agent can
see), calls ``policy.act(observation)`` on the policy the run's :class:`Behaviour` holds for
that role, and checks the action at the boundary (shape, dtype, range) before using it. The
default policies are the scripts the simulation has always followed (:meth:`Behaviour.scripted`),
and they draw the same random numbers in the same order as before the seams existed, so every
result is unchanged. A learning agent is any object with the same ``act`` method (plug it in with
``simulate(config, seed, behaviour=Behaviour.scripted(config).replace(cheat=my_policy))``).

The seams (``Behaviour`` field, the stage that calls it: what the policy sees -> what it returns):

- ``cheat``, execution: :class:`CheatObservation` (the round's jobs: provider, kind, failed, true
  cost, payment; the stage's stream) -> :class:`CheatAction` (cheated per job, and the adversary
  of :data:`~oasis_lab.sim.config.CHEATER_ADVERSARIES` each cheated job is committed with);
- ``user_challenge`` then ``platform_challenge``, challenges: :class:`ChallengeObservation` (the
  jobs: provider, delivered, payment, what a challenge costs; the stage's stream) -> a bool per
  job (challenge it); ``user_challenge`` may instead return a :class:`ChallengeRace` (several
  challengers racing: who recomputed each job and whose challenge counts);
- ``user_reports``, auction: :class:`ValueObservation` (the waiting tasks' true values, demand,
  priority, arrival) -> the value reported per task (tokens, > 0);
- ``provider_reports``, auction: :class:`CostObservation` (the eligible providers' true costs,
  speeds, capacities) -> the cost reported per provider (tokens, >= 0);
- ``referee``, disputes (market referees): :class:`RefereeObservation` (the pool, the strategy
  each member was drawn with, their stakes, the parties, the payment, the bribe offered) -> the
  strategy each pool member plays (index of ``REFEREE_STRATEGIES``: honest, collude, frame,
  bribable);
- ``bribe``, disputes (market referees): :class:`BribeObservation` (the provider, its kind, its
  free balance, how many referees may rule, the payment) -> the bribe offered to each referee
  (smallest units, 0: none);
- ``exit``, entry and exit: :class:`ExitObservation` (the providers free to leave and their
  profit over the window) -> a bool per provider (it leaves).

The two seams whose scripts draw random numbers (``cheat``, both ``*_challenge``) get the
stage's own stream in ``observation.rng``, positioned where the script draws: the scripted
policy draws from it, which keeps every later draw of the stage (e.g. the node a cheater
perturbs) where it was. Another policy should draw from its own seeded stream; whatever it
takes from ``rng`` moves the stage's later draws. Decisions inside the dispute game
itself (whether a wronged party appeals, :func:`oasis_lab.disputes.market_referee.appeal_pays`)
and exogenous events (arrivals, failures, entry) are not agents' choices here.

Welfare (``SimulationResult.rounds["welfare"]``) is the auction's, at the reports it was given:
equal to the welfare at true values only while ``user_reports`` and ``provider_reports`` are
truthful. Execution costs, the optimum and re-auction always use the true values and costs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from oasis_lab.disputes.market_referee import REFEREE_STRATEGIES
from oasis_lab.sim.config import CHEATER_ADVERSARIES, SimConfig
from oasis_lab.sim.court import CHEATER

__all__ = [
    "Behaviour",
    "BribeObservation",
    "ChallengeObservation",
    "ChallengeRace",
    "CheatAction",
    "CheatObservation",
    "CostObservation",
    "ExitObservation",
    "Policy",
    "RefereeObservation",
    "ScriptedBribe",
    "ScriptedChallenge",
    "ScriptedCheating",
    "ScriptedExit",
    "ScriptedReferee",
    "TruthfulCosts",
    "TruthfulValues",
    "ValueObservation",
]


class Policy(Protocol):
    """A role's policy: ``act(observation) -> action`` (see the module's table of seams)."""

    def act(self, observation: Any) -> Any: ...


# ---------------------------------------------------------------------------- observations
@dataclass(frozen=True)
class CheatObservation:
    """The round's jobs as their providers see them before delivering (execution stage).

    ``kind`` is each job's provider kind (:data:`~oasis_lab.sim.court.PROVIDER_KINDS` code),
    ``cost`` its true cost (tokens), ``payment`` smallest units; ``rng`` the execution stream.
    """

    round: int
    provider: np.ndarray
    kind: np.ndarray
    failed: np.ndarray
    cost: np.ndarray
    payment: np.ndarray
    rng: np.random.Generator

    @property
    def n(self) -> int:
        return int(self.provider.size)


@dataclass(frozen=True)
class CheatAction:
    """``cheated``: bool per job (a failed job cannot be: the stage refuses it);
    ``adversary``: per job, the index in :data:`~oasis_lab.sim.config.CHEATER_ADVERSARIES` of
    the strategy a cheated job is committed with (read only where ``cheated``)."""

    cheated: np.ndarray
    adversary: np.ndarray


@dataclass(frozen=True)
class ChallengeObservation:
    """The round's jobs as a challenger sees them after delivery (challenges stage).

    ``cost`` is what challenging each job costs (it recomputes the job, tokens); ``rng`` the
    challenges stream (the user draws first, then the platform).
    """

    round: int
    provider: np.ndarray
    delivered: np.ndarray
    payment: np.ndarray
    cost: np.ndarray
    rng: np.random.Generator

    @property
    def n(self) -> int:
        return int(self.provider.size)


@dataclass(frozen=True)
class ChallengeRace:
    """What a population of challengers racing for the rewards did (the ``user_challenge`` seam's
    richer action): ``challenged``, a bool per job (someone recomputed it); ``winner``, the index
    of the challenger whose challenge counts (the first valid one; -1: none); ``checks``, how many
    challengers recomputed each job (each bears the cost); ``names``, the challengers' ledger
    accounts (``winner`` indexes them)."""

    challenged: np.ndarray
    winner: np.ndarray
    checks: np.ndarray
    names: tuple[str, ...]


@dataclass(frozen=True)
class ValueObservation:
    """The tasks of the round's auction and their users' true values (tokens); ``size`` each
    task's size (0 where the market has none)."""

    round: int
    task_id: np.ndarray
    value: np.ndarray
    demand: np.ndarray
    priority: np.ndarray
    arrived: np.ndarray
    size: np.ndarray | None = None


@dataclass(frozen=True)
class CostObservation:
    """The providers eligible for the round's auction (population indices) and their true
    costs (tokens per round, or per second under ``capacity="time"``), speeds and capacities."""

    round: int
    provider: np.ndarray
    cost: np.ndarray
    speed: np.ndarray
    capacity: np.ndarray


@dataclass(frozen=True)
class RefereeObservation:
    """A due dispute's pool of possible market referees (population indices), the strategy
    each was drawn with (``assigned``, index of ``REFEREE_STRATEGIES``), their locked stakes,
    the parties, the disputed payment and the bribe offered to each referee (smallest units)."""

    round: int
    pool: np.ndarray
    assigned: np.ndarray
    stake: np.ndarray
    provider: int
    challenger: str
    payment: int
    bribe: int
    appeal_to: str | None


@dataclass(frozen=True)
class BribeObservation:
    """A challenged provider facing market referees: its kind, its free balance, how many
    referees may rule (two when an appeal goes to another market referee), the disputed
    payment, and the bribe its script offers (``SimConfig.cheater_bribe``), smallest units."""

    round: int
    provider: int
    kind: int
    balance: int
    referees: int
    payment: int
    price: int


@dataclass(frozen=True)
class ExitObservation:
    """The providers free to leave (present for a whole window, no challenge running against
    them) and each one's profit over the window (tokens)."""

    round: int
    provider: np.ndarray
    profit: np.ndarray


# ---------------------------------------------------------------------------- the scripts
@dataclass(frozen=True)
class ScriptedCheating:
    """A cheater cheats on each job it delivers with ``probability``, always with ``adversary``."""

    probability: float
    adversary: str

    def act(self, observation: CheatObservation) -> CheatAction:
        o = observation
        cheated = (o.kind == CHEATER) & (o.rng.random(o.n) < self.probability) & ~o.failed
        code = CHEATER_ADVERSARIES.index(self.adversary)
        return CheatAction(cheated, np.full(o.n, code, dtype=np.int8))


@dataclass(frozen=True)
class ScriptedChallenge:
    """Challenges each job (delivered or not: the stage keeps the delivered) with ``probability``."""

    probability: float

    def act(self, observation: ChallengeObservation) -> np.ndarray:
        return observation.rng.random(observation.n) < self.probability


@dataclass(frozen=True)
class TruthfulValues:
    """Users report their true values."""

    def act(self, observation: ValueObservation) -> np.ndarray:
        return observation.value


@dataclass(frozen=True)
class TruthfulCosts:
    """Providers report their true costs."""

    def act(self, observation: CostObservation) -> np.ndarray:
        return observation.cost


@dataclass(frozen=True)
class ScriptedReferee:
    """Each market referee plays the strategy it was drawn with (``referee_*_share``)."""

    def act(self, observation: RefereeObservation) -> np.ndarray:
        return observation.assigned


@dataclass(frozen=True)
class ScriptedBribe:
    """A cheater offers ``SimConfig.cheater_bribe`` to each referee when its balance covers
    every referee that may rule; nobody else offers anything."""

    def act(self, observation: BribeObservation) -> int:
        o = observation
        if o.kind == CHEATER and o.price and o.balance >= o.price * o.referees:
            return o.price
        return 0


@dataclass(frozen=True)
class ScriptedExit:
    """A provider leaves when its income over the window does not cover its costs."""

    def act(self, observation: ExitObservation) -> np.ndarray:
        return observation.profit < 0


@dataclass(frozen=True)
class Behaviour:
    """The policy of each role of a simulation (see the module's table of seams)."""

    cheat: Policy
    user_challenge: Policy
    platform_challenge: Policy
    user_reports: Policy
    provider_reports: Policy
    referee: Policy
    bribe: Policy
    exit: Policy

    @classmethod
    def scripted(cls, config: SimConfig) -> Behaviour:
        """Today's scripted agents, with the config's probabilities (the default of ``simulate``)."""
        return cls(
            cheat=ScriptedCheating(config.cheat_probability, config.adversary),
            user_challenge=ScriptedChallenge(config.p_user),
            platform_challenge=ScriptedChallenge(config.p_platform),
            user_reports=TruthfulValues(),
            provider_reports=TruthfulCosts(),
            referee=ScriptedReferee(),
            bribe=ScriptedBribe(),
            exit=ScriptedExit(),
        )

    def replace(self, **policies: Policy) -> Behaviour:
        """A copy with some roles' policies replaced (each must have a callable ``act``)."""
        unknown = sorted(set(policies) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(f"unknown roles {unknown}; roles are {[f.name for f in dataclasses.fields(self)]}")
        return dataclasses.replace(self, **policies)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if not callable(getattr(getattr(self, f.name), "act", None)):
                policy = getattr(self, f.name)
                raise TypeError(f"behaviour {f.name} = {policy!r} has no act(observation) method")


# ---------------------------------------------------------------------------- checks at the seams
def checked_mask(role: str, action: Any, n: int) -> np.ndarray:
    """A policy's bool-per-item action, or a TypeError/ValueError naming the role."""
    a = np.asarray(action)
    if a.dtype != np.bool_:
        raise TypeError(f"behaviour {role} returned {a.dtype} values; a bool per item is expected")
    if a.shape != (n,):
        raise ValueError(f"behaviour {role} returned shape {a.shape}; expected ({n},)")
    return a


def checked_amounts(role: str, action: Any, truth: np.ndarray, *, positive: bool = False) -> np.ndarray:
    """A policy's reported amounts (finite, >= 0 or with ``positive`` > 0 as a market's values
    must be, one per item), or an error naming the role. The truthful report (``truth``
    itself) passes unchecked."""
    if action is truth:
        return truth
    a = np.asarray(action)
    if a.shape != truth.shape or not np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_:
        raise ValueError(f"behaviour {role} returned {a.dtype} of shape {a.shape}; expected numbers of "
                         f"shape {truth.shape}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all() or (a <= 0 if positive else a < 0).any():
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"behaviour {role} reported an amount that is not finite and {bound}")
    return a


def checked_race(action: ChallengeRace, n: int) -> ChallengeRace:
    """The challenge seam's race: a bool, a winner and a count per job, consistent."""
    challenged = checked_mask("user_challenge", action.challenged, n)
    winner, checks = np.asarray(action.winner), np.asarray(action.checks)
    for name, a in (("winner", winner), ("checks", checks)):
        if a.shape != (n,) or not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"behaviour user_challenge returned {name} {a.dtype} of shape {a.shape}; expected ({n},) "
                             "integers")
    if ((winner >= 0) != challenged).any() or ((checks > 0) != challenged).any():
        raise ValueError("behaviour user_challenge: a job is challenged exactly when it has a winner and checks > 0")
    if n and winner.max() >= len(action.names):
        raise ValueError(f"behaviour user_challenge: winner {int(winner.max())} is not one of "
                         f"{len(action.names)} names")
    return ChallengeRace(challenged, winner.astype(np.int64), checks.astype(np.int64), tuple(action.names))


def checked_cheating(action: Any, failed: np.ndarray) -> CheatAction:
    """The cheat seam's action, checked: a bool per job, never a failed job, known adversaries."""
    if not isinstance(action, CheatAction):
        raise TypeError(f"behaviour cheat returned {type(action).__name__}; a CheatAction is expected")
    cheated = checked_mask("cheat", action.cheated, failed.size)
    if (cheated & failed).any():
        raise ValueError("behaviour cheat cheated on a failed job (it was never delivered)")
    adv = np.asarray(action.adversary)
    if adv.shape != failed.shape or not np.issubdtype(adv.dtype, np.integer):
        raise ValueError(f"behaviour cheat returned adversary codes {adv.dtype} of shape {adv.shape}; "
                         f"expected integers of shape {failed.shape}")
    used = adv[cheated]
    if used.size and (used.min() < 0 or used.max() >= len(CHEATER_ADVERSARIES)):
        raise ValueError(f"behaviour cheat returned adversary codes outside [0, {len(CHEATER_ADVERSARIES)})")
    return CheatAction(cheated, adv.astype(np.int8))


def checked_strategies(action: Any, n: int) -> np.ndarray:
    """The referee seam's action: a strategy index per pool member."""
    a = np.asarray(action)
    if a.shape != (n,) or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"behaviour referee returned {a.dtype} of shape {a.shape}; expected ({n},) integers")
    if n and (a.min() < 0 or a.max() >= len(REFEREE_STRATEGIES)):
        raise ValueError(f"behaviour referee returned strategies outside [0, {len(REFEREE_STRATEGIES)})")
    return a


def checked_bribe(action: Any, balance: int, referees: int) -> int:
    """The bribe seam's action: a whole amount the provider can pay every referee that may rule."""
    if isinstance(action, bool) or not isinstance(action, (int, np.integer)):
        raise TypeError(f"behaviour bribe returned {type(action).__name__}; an int (smallest units) is expected")
    amount = int(action)
    if amount < 0 or amount * referees > balance:
        raise ValueError(f"behaviour bribe offered {amount} to each of {referees} referees with a balance of {balance}")
    return amount
