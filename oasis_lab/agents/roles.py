"""What each role observes, does and earns in a round (whitepaper sections 4 and 5).

Four roles act in the market: **users** (section 4: they report the value ``v_i`` of a task),
**providers** (section 4: a cost ``c_j``; section 5: they may cheat), **challengers** (section
5: "users are able to challenge the results of an inference") and **market referees** (section
5: "a single service provider is assigned to recompute"). For each role an *observation* (what
an agent knows when it acts), an *action* (what it decides) and an *outcome* (what the round
paid it) are typed, frozen records of parallel numpy arrays: one row per decision, with
``agent`` naming the agent (an integer id, dense from 0) of each row. A population of agents
that share a policy acts through one call with all its rows (``oasis_lab.agents.policies``), so
a simulation of 100 providers makes one call per round, not 100.

Actions
-------
- user: ``shade`` in ``[0, 1)``, the share of her surplus ``max(v_i - e_i, 0)`` she withholds
  (the reading of :mod:`oasis_lab.incentives.equilibrium`): she reports
  ``v_i - shade * max(v_i - e_i, 0)`` (:func:`reported_value`); 0 is the truth.
- provider: ``markup >= 0`` on its true cost (it reports ``c_j (1 + markup)``,
  :func:`reported_cost`), ``cheat_rate`` in ``[0, 1]`` (the chance it cheats on each job it
  wins) and ``adversary``, an index into :data:`CHEATER_ADVERSARIES` (the dishonest strategy of
  :mod:`oasis_lab.disputes.adversaries` it runs when it cheats).
- challenger: ``challenge_rate`` in ``[0, 1]``, the chance it recomputes each result it may
  challenge.
- referee: ``take_bribe``, whether a market referee rules for the party that offered it a
  bribe (``False``: it rules as it recomputes), given the offer, its stake and the odds that an
  appeal overturns it.

Outcomes carry ``payoff``, the tokens the round earned the agent (its utility: what the
learners learn from) and, optionally, ``payoffs``: what each action of the policy's grid would
have earned against the same round (full-information feedback; bandit learners ignore it). The
other fields are the accounting behind the payoff, for tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from oasis_lab.checks import check_int
from oasis_lab.disputes.adversaries import CHEATER_ADVERSARIES
from oasis_lab.disputes.market_referee import REFEREE_STRATEGIES

__all__ = [
    "ACTIONS",
    "CHEATER_ADVERSARIES",
    "OBSERVATIONS",
    "OUTCOMES",
    "PROVIDER_KINDS",
    "REFEREE_STRATEGIES",
    "ROLES",
    "Action",
    "ChallengerAction",
    "ChallengerObservation",
    "ChallengerOutcome",
    "Observation",
    "Outcome",
    "ProviderAction",
    "ProviderObservation",
    "ProviderOutcome",
    "RefereeAction",
    "RefereeObservation",
    "RefereeOutcome",
    "UserAction",
    "UserObservation",
    "UserOutcome",
    "check_role",
    "reported_cost",
    "reported_value",
    "scripted_cheat_rate",
    "scripted_take_bribe",
]

#: The roles that act (section 4: users, providers; section 5: challengers, market referees).
ROLES: tuple[str, ...] = ("user", "provider", "challenger", "referee")
#: What a provider is (the simulation's population codes: 0 honest, 1 cheater, 2 an honest
#: provider whose device rounds differently from the referee's).
PROVIDER_KINDS: tuple[str, ...] = ("honest", "cheater", "other_device")
_CHEATER = PROVIDER_KINDS.index("cheater")
_BRIBABLE = REFEREE_STRATEGIES.index("bribable")


def check_role(role: Any) -> str:
    """Return ``role`` if it is one of :data:`ROLES`, else raise naming it."""
    if not isinstance(role, str) or role not in ROLES:
        raise ValueError(f"role = {role!r} must be one of {list(ROLES)}")
    return role


# --- validation shared by every record ------------------------------------------------------

# dtype kind each array field must have: "i" integer ids or codes, "f" finite float, "b" bool
_KINDS = {"i": "an integer", "f": "a float", "b": "a bool"}


def _as_array(owner: str, name: str, value: Any, kind: str, n: int | None) -> np.ndarray:
    """``value`` as a 1-D array of ``kind`` (and length ``n``), or one error naming the field."""
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(f"{owner}.{name} must be a plain array, got a masked array")
    a = np.asarray(value)
    if a.ndim != 1:
        raise ValueError(f"{owner}.{name} must be 1-dimensional, got shape {a.shape}")
    if kind == "f":
        if a.dtype.kind not in "iuf" or a.dtype == np.bool_:
            raise TypeError(f"{owner}.{name} must hold real numbers, got dtype {a.dtype}")
        a = a.astype(np.float64, copy=False)
        if a.size and not np.isfinite(a).all():
            i = int(np.flatnonzero(~np.isfinite(a))[0])
            raise ValueError(f"{owner}.{name}[{i}] = {a[i]} must be finite")
    elif kind == "i":
        if a.dtype.kind not in "iu" and not (a.size == 0 and a.dtype.kind == "f"):
            raise TypeError(f"{owner}.{name} must hold integers, got dtype {a.dtype}")
        a = a.astype(np.int64, copy=False)
    else:
        if a.dtype != np.bool_ and not (a.size == 0):
            raise TypeError(f"{owner}.{name} must hold bools, got dtype {a.dtype}")
        a = a.astype(np.bool_, copy=False)
    if n is not None and a.shape[0] != n:
        raise ValueError(f"{owner}.{name} has {a.shape[0]} rows, expected {n} (one per row of agent)")
    return a


def _in_range(owner: str, name: str, a: np.ndarray, lo: float, hi: float, *, open_hi: bool = False) -> None:
    bad = (a < lo) | ((a >= hi) if open_hi else (a > hi))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        bracket = ")" if open_hi else "]"
        raise ValueError(f"{owner}.{name}[{i}] = {a[i]} must be in [{lo}, {hi}{bracket}")


@dataclass(frozen=True, eq=False)
class _Rows:
    """Parallel arrays, one row per decision; subclasses list their fields' dtype kinds."""

    #: field name -> dtype kind ("i", "f", "b"); every listed field is a 1-D array per row
    _ARRAYS: ClassVar[dict[str, str]] = {}
    #: listed fields that may be None (accounting a caller need not give)
    _OPTIONAL: ClassVar[tuple[str, ...]] = ()

    def _validate(self, n: int | None) -> int:
        owner = type(self).__name__
        for name, kind in self._ARRAYS.items():
            value = getattr(self, name)
            if value is None and name in self._OPTIONAL:
                continue
            a = _as_array(owner, name, value, kind, n)
            n = a.shape[0]
            object.__setattr__(self, name, a)
        return 0 if n is None else n

    def __len__(self) -> int:
        first = next(iter(self._ARRAYS))
        return int(np.shape(getattr(self, first))[0])


# --- observations ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Observation(_Rows):
    """What the agents of one role know when they act in round ``round``.

    Attributes
    ----------
    round : int
        The round (>= 0).
    agent : numpy.ndarray of int64, shape (n,)
        The acting agent of each row (ids >= 0; an agent may have several rows, e.g. a user
        with several tasks: it takes one decision per round, applied to all its rows).
    """

    round: int
    agent: np.ndarray

    _ARRAYS: ClassVar[dict[str, str]] = {"agent": "i"}
    role: ClassVar[str] = ""

    def __post_init__(self) -> None:
        check_int(f"{type(self).__name__}.round", self.round, 0)
        self._validate(None)
        if self.agent.size and int(self.agent.min()) < 0:
            raise ValueError(f"{type(self).__name__}.agent has a negative id {int(self.agent.min())}")


@dataclass(frozen=True, eq=False)
class UserObservation(Observation):
    """A user about to report a task's value (section 4).

    Attributes
    ----------
    value : numpy.ndarray, shape (n,)
        The task's true value ``v_i`` (tokens).
    user_cost : numpy.ndarray, shape (n,)
        Its user cost ``e_i = t_i log_alpha(t_i) + beta``: her surplus is ``max(v_i - e_i, 0)``.
    """

    value: np.ndarray
    user_cost: np.ndarray

    _ARRAYS: ClassVar[dict[str, str]] = {"agent": "i", "value": "f", "user_cost": "f"}
    role: ClassVar[str] = "user"


@dataclass(frozen=True, eq=False)
class ProviderObservation(Observation):
    """A provider about to bid its cost and decide how it computes (sections 4 and 5).

    Attributes
    ----------
    cost : numpy.ndarray, shape (n,)
        Its true cost ``c_j`` of the round (tokens).
    kind : numpy.ndarray of int64, shape (n,)
        Its kind, an index of :data:`PROVIDER_KINDS` (the simulation's population draw:
        today's scripted cheaters are kind ``"cheater"``).
    stake : numpy.ndarray, shape (n,)
        Tokens it has at stake (what a conviction can slash).
    """

    cost: np.ndarray
    kind: np.ndarray
    stake: np.ndarray

    _ARRAYS: ClassVar[dict[str, str]] = {"agent": "i", "cost": "f", "kind": "i", "stake": "f"}
    role: ClassVar[str] = "provider"

    def __post_init__(self) -> None:
        super().__post_init__()
        _in_range(type(self).__name__, "kind", self.kind, 0, len(PROVIDER_KINDS) - 1)


@dataclass(frozen=True, eq=False)
class ChallengerObservation(Observation):
    """A challenger about to decide how often it recomputes results (section 5).

    Attributes
    ----------
    payment : numpy.ndarray, shape (n,)
        The payment ``P`` of the results it may challenge this round (mean per result).
    check_cost : numpy.ndarray, shape (n,)
        What one challenge costs it (``K + lambda B``).
    """

    payment: np.ndarray
    check_cost: np.ndarray

    _ARRAYS: ClassVar[dict[str, str]] = {"agent": "i", "payment": "f", "check_cost": "f"}
    role: ClassVar[str] = "challenger"


@dataclass(frozen=True, eq=False)
class RefereeObservation(Observation):
    """A market referee about to rule on a dispute it was drawn for (section 5).

    Attributes
    ----------
    strategy : numpy.ndarray of int64, shape (n,)
        Its drawn strategy, an index of :data:`REFEREE_STRATEGIES` (today's scripted
        referees: honest, collude, frame, bribable).
    offer : numpy.ndarray, shape (n,)
        The bribe offered in this dispute (tokens; 0: none).
    stake : numpy.ndarray, shape (n,)
        Its stake (what an overturned appeal slashes, with the slash fraction).
    overturn_probability : numpy.ndarray, shape (n,)
        The chance that a ruling against the trusted stack is appealed and overturned.
    """

    strategy: np.ndarray
    offer: np.ndarray
    stake: np.ndarray
    overturn_probability: np.ndarray

    _ARRAYS: ClassVar[dict[str, str]] = {"agent": "i", "strategy": "i", "offer": "f", "stake": "f",
                                         "overturn_probability": "f"}
    role: ClassVar[str] = "referee"

    def __post_init__(self) -> None:
        super().__post_init__()
        _in_range(type(self).__name__, "strategy", self.strategy, 0, len(REFEREE_STRATEGIES) - 1)
        _in_range(type(self).__name__, "overturn_probability", self.overturn_probability, 0.0, 1.0)


# --- actions --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Action(_Rows):
    """The decisions of one role's agents, one row per row of the observation."""

    role: ClassVar[str] = ""

    def __post_init__(self) -> None:
        self._validate(None)


@dataclass(frozen=True, eq=False)
class UserAction(Action):
    """``shade`` in ``[0, 1)``: the share of her surplus a user withholds (0: the truth)."""

    shade: np.ndarray

    _ARRAYS: ClassVar[dict[str, str]] = {"shade": "f"}
    role: ClassVar[str] = "user"

    def __post_init__(self) -> None:
        super().__post_init__()
        _in_range("UserAction", "shade", self.shade, 0.0, 1.0, open_hi=True)


@dataclass(frozen=True, eq=False)
class ProviderAction(Action):
    """A provider's ``markup >= 0``, ``cheat_rate`` in ``[0, 1]`` and ``adversary`` (an index
    of :data:`CHEATER_ADVERSARIES`, used on the jobs it cheats on)."""

    markup: np.ndarray
    cheat_rate: np.ndarray
    adversary: np.ndarray

    _ARRAYS: ClassVar[dict[str, str]] = {"markup": "f", "cheat_rate": "f", "adversary": "i"}
    role: ClassVar[str] = "provider"

    def __post_init__(self) -> None:
        super().__post_init__()
        _in_range("ProviderAction", "markup", self.markup, 0.0, np.inf)
        _in_range("ProviderAction", "cheat_rate", self.cheat_rate, 0.0, 1.0)
        _in_range("ProviderAction", "adversary", self.adversary, 0, len(CHEATER_ADVERSARIES) - 1)


@dataclass(frozen=True, eq=False)
class ChallengerAction(Action):
    """``challenge_rate`` in ``[0, 1]``: the chance a challenger recomputes each result."""

    challenge_rate: np.ndarray

    _ARRAYS: ClassVar[dict[str, str]] = {"challenge_rate": "f"}
    role: ClassVar[str] = "challenger"

    def __post_init__(self) -> None:
        super().__post_init__()
        _in_range("ChallengerAction", "challenge_rate", self.challenge_rate, 0.0, 1.0)


@dataclass(frozen=True, eq=False)
class RefereeAction(Action):
    """``take_bribe``: the referee rules for the party that offered (False: as it recomputes)."""

    take_bribe: np.ndarray

    _ARRAYS: ClassVar[dict[str, str]] = {"take_bribe": "b"}
    role: ClassVar[str] = "referee"


# --- outcomes -------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Outcome(_Rows):
    """What round ``round`` paid the agents that acted in it.

    Attributes
    ----------
    round : int
        The round the agents acted in.
    agent : numpy.ndarray of int64, shape (n,)
        The agent of each row; an agent's rows are summed (a provider's jobs, a user's tasks).
        Every agent that acted in the round must have at least one row.
    payoff : numpy.ndarray, shape (n,)
        Tokens earned (utility; negative for a loss, e.g. a slashed stake).
    payoffs : numpy.ndarray, shape (n, K), optional
        Full-information feedback: what each of the policy's ``K`` grid actions would have
        earned in the row (the others' actions and the round's draws fixed). Needed by the
        full-information learners, ignored by the bandit ones.
    """

    round: int
    agent: np.ndarray
    payoff: np.ndarray
    payoffs: np.ndarray | None = None

    _ARRAYS: ClassVar[dict[str, str]] = {"agent": "i", "payoff": "f"}
    role: ClassVar[str] = ""

    def __post_init__(self) -> None:
        owner = type(self).__name__
        check_int(f"{owner}.round", self.round, 0)
        n = self._validate(None)
        if self.agent.size and int(self.agent.min()) < 0:
            raise ValueError(f"{owner}.agent has a negative id {int(self.agent.min())}")
        if self.payoffs is not None:
            check_payoffs = np.asarray(self.payoffs)
            if check_payoffs.ndim != 2 or check_payoffs.shape[0] != n:
                raise ValueError(f"{owner}.payoffs must have shape (n, K) with n = {n} rows, "
                                 f"got {check_payoffs.shape}")
            if check_payoffs.dtype.kind not in "iuf" or check_payoffs.dtype == np.bool_:
                raise TypeError(f"{owner}.payoffs must hold real numbers, got dtype {check_payoffs.dtype}")
            p = check_payoffs.astype(np.float64, copy=False)
            if p.size and not np.isfinite(p).all():
                raise ValueError(f"{owner}.payoffs must be finite")
            object.__setattr__(self, "payoffs", p)


@dataclass(frozen=True, eq=False)
class UserOutcome(Outcome):
    """A user's round: ``payoff = v_i - price - e_i`` if served, else 0; ``served``, ``payment``."""

    served: np.ndarray | None = None
    payment: np.ndarray | None = None

    _ARRAYS: ClassVar[dict[str, str]] = {"agent": "i", "payoff": "f", "served": "b", "payment": "f"}
    _OPTIONAL: ClassVar[tuple[str, ...]] = ("served", "payment")
    role: ClassVar[str] = "user"


@dataclass(frozen=True, eq=False)
class ProviderOutcome(Outcome):
    """A provider's round: ``payoff = income - compute_cost - slashed`` (tokens); ``income``
    (payments and rewards), ``compute_cost``, ``slashed`` (stake lost), ``convicted``."""

    income: np.ndarray | None = None
    compute_cost: np.ndarray | None = None
    slashed: np.ndarray | None = None
    convicted: np.ndarray | None = None

    _ARRAYS: ClassVar[dict[str, str]] = {"agent": "i", "payoff": "f", "income": "f", "compute_cost": "f",
                                         "slashed": "f", "convicted": "b"}
    _OPTIONAL: ClassVar[tuple[str, ...]] = ("income", "compute_cost", "slashed", "convicted")
    role: ClassVar[str] = "provider"


@dataclass(frozen=True, eq=False)
class ChallengerOutcome(Outcome):
    """A challenger's round: ``payoff = reward - cost - bond_lost``; ``challenges`` made."""

    cost: np.ndarray | None = None
    reward: np.ndarray | None = None
    bond_lost: np.ndarray | None = None
    challenges: np.ndarray | None = None

    _ARRAYS: ClassVar[dict[str, str]] = {"agent": "i", "payoff": "f", "cost": "f", "reward": "f",
                                         "bond_lost": "f", "challenges": "i"}
    _OPTIONAL: ClassVar[tuple[str, ...]] = ("cost", "reward", "bond_lost", "challenges")
    role: ClassVar[str] = "challenger"


@dataclass(frozen=True, eq=False)
class RefereeOutcome(Outcome):
    """A market referee's round: ``payoff = fee + bribe - slashed``."""

    fee: np.ndarray | None = None
    bribe: np.ndarray | None = None
    slashed: np.ndarray | None = None

    _ARRAYS: ClassVar[dict[str, str]] = {"agent": "i", "payoff": "f", "fee": "f", "bribe": "f", "slashed": "f"}
    _OPTIONAL: ClassVar[tuple[str, ...]] = ("fee", "bribe", "slashed")
    role: ClassVar[str] = "referee"


#: The record types of each role.
OBSERVATIONS: dict[str, type[Observation]] = {
    "user": UserObservation, "provider": ProviderObservation,
    "challenger": ChallengerObservation, "referee": RefereeObservation,
}
ACTIONS: dict[str, type[Action]] = {
    "user": UserAction, "provider": ProviderAction, "challenger": ChallengerAction, "referee": RefereeAction,
}
OUTCOMES: dict[str, type[Outcome]] = {
    "user": UserOutcome, "provider": ProviderOutcome, "challenger": ChallengerOutcome, "referee": RefereeOutcome,
}


def reported_value(observation: UserObservation, action: UserAction) -> np.ndarray:
    """The value a user reports: ``v_i - shade * max(v_i - e_i, 0)``, kept > 0 (a Market's
    contract), as :func:`oasis_lab.incentives.equilibrium.shaded_reports`.

    Examples
    --------
    >>> obs = UserObservation(0, np.array([0, 1]), value=np.array([10.0, 3.0]), user_cost=np.array([2.0, 5.0]))
    >>> reported_value(obs, UserAction(shade=np.array([0.5, 0.5]))).tolist()
    [6.0, 3.0]
    """
    if len(action) != len(observation):
        raise ValueError(f"action has {len(action)} rows, observation {len(observation)}")
    surplus = np.maximum(observation.value - observation.user_cost, 0.0)
    return np.maximum(observation.value - action.shade * surplus, np.nextafter(0.0, 1.0))


def reported_cost(observation: ProviderObservation, action: ProviderAction) -> np.ndarray:
    """The cost a provider reports: ``c_j (1 + markup)``."""
    if len(action) != len(observation):
        raise ValueError(f"action has {len(action)} rows, observation {len(observation)}")
    return observation.cost * (1.0 + action.markup)


def scripted_cheat_rate(kind: np.ndarray, cheat_probability: float) -> np.ndarray:
    """Today's cheat rate per provider: ``cheat_probability`` for the cheater kind, else 0."""
    return np.where(kind == _CHEATER, cheat_probability, 0.0)


def scripted_take_bribe(strategy: np.ndarray, offer: np.ndarray, bribe_price: float) -> np.ndarray:
    """Today's bribed ruling: a ``bribable`` referee takes a positive offer of at least
    ``bribe_price`` tokens (:attr:`oasis_lab.disputes.market_referee.MarketReferee.sides_with`,
    whose offers are whole tokens: at least one smallest unit there is at least one token here)."""
    return (strategy == _BRIBABLE) & (offer > 0) & (offer >= bribe_price)
