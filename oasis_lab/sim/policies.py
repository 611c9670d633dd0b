"""The policy of each role in a simulation: ``SimConfig.policies`` (issue 19, sections 4 and 5).

Four roles decide in the market over time (:mod:`oasis_lab.agents.roles`): **users** shade the
value they report, **providers** mark up the cost they report, cheat at a rate and pick an
adversary, **challengers** recompute results at a rate, **market referees** rule honestly or take
the bribe. Each role's table names its policy:

- ``policy: scripted`` (the default): today's behaviour, set by the config's own fields
  (users and providers report the truth; cheaters cheat with ``cheat_probability`` running
  ``adversary``; the task's user challenges with ``p_user``; referees play the strategy they
  were drawn with). Every existing result reproduces bit for bit.
- ``policy: learning``: the role's agents learn from their own payoffs (bandit feedback) over
  a finite grid of actions with a learner of :data:`SIM_LEARNERS`
  (:mod:`oasis_lab.agents.learners`, each with its regret bound). How each role's agents,
  payoffs and feedback timing are read is :mod:`oasis_lab.sim.adapters`.

In a YAML/TOML config::

    policies:
      provider: {policy: learning, learner: exp3, cheat_rates: [0, 0.05, 0.1, 0.5, 1]}
      challenger: {policy: learning, n_challengers: 3, challenge_rates: [0, 0.01, 0.05, 0.2]}

Every field is addressable by a dotted path (``policies.provider.learner``), as design search
addresses ``SimConfig`` fields. An unknown key, a bad value, or a learning-only field set under
``policy: scripted`` raises one error naming the key (``policies.provider.cheat_rates[2] = 1.5
must be in [0, 1]``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from oasis_lab.agents.learners import make_learner
from oasis_lab.agents.roles import CHEATER_ADVERSARIES, ROLES
from oasis_lab.checks import check_bool, check_choice, check_int, check_real
from oasis_lab.params import ParamsMixin

__all__ = [
    "POLICY_KINDS",
    "SIM_LEARNERS",
    "WHO_CHEATS",
    "ChallengerPolicy",
    "Policies",
    "ProviderPolicy",
    "RefereePolicy",
    "RolePolicy",
    "UserPolicy",
]

#: ``"scripted"``: today's behaviour; ``"learning"``: agents learning from their own payoffs.
POLICY_KINDS: tuple[str, ...] = ("scripted", "learning")
#: Learners the simulation can drive. Its agents see only their own payoff (bandit feedback), so
#: Hedge (full information) is not among them.
SIM_LEARNERS: tuple[str, ...] = ("exp3", "regret_matching", "best_response")
#: Which providers may cheat under a learning provider policy: those of the cheater kind
#: (``cheater_share`` of them; the others report and compute truthfully, or learn only their
#: markup), or every provider.
WHO_CHEATS: tuple[str, ...] = ("kind", "all")
# Largest grid and population sizes (a learner holds n_agents x K floats).
_MAX_GRID = 1000
_MAX_AGENTS = 10**6
_MAX_MARKUP = 1e3


def _grid(name: str, value: Any, lo: float, hi: float, *, open_hi: bool = False) -> tuple[float, ...]:
    """A non-empty tuple of distinct reals in ``[lo, hi]`` (``[lo, hi)``), or an error naming it."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)):
        raise TypeError(f"{name} must be a list of numbers, got {value!r}")
    if not value:
        raise ValueError(f"{name} is empty: give at least one value")
    if len(value) > _MAX_GRID:
        raise ValueError(f"{name} has {len(value)} values; at most {_MAX_GRID}")
    out = []
    for i, v in enumerate(value):
        x = check_real(f"{name}[{i}]", v)
        if x < lo or (x >= hi if open_hi else x > hi):
            raise ValueError(f"{name}[{i}] = {v!r} must be in [{lo:g}, {hi:g}{')' if open_hi else ']'}")
        out.append(x)
    if len(set(out)) != len(out):
        raise ValueError(f"{name} = {list(value)!r} repeats a value")
    return tuple(out)


@dataclass(frozen=True)
class RolePolicy(ParamsMixin):
    """The policy of one role: scripted, or learning with a learner and its options.

    Parameters
    ----------
    policy : {"scripted", "learning"}, default "scripted"
    learner : {"exp3", "regret_matching", "best_response"}, default "exp3"
        The learner of every agent of the role (bandit feedback).
    gamma : float, optional
        Exploration share of ``exp3`` / ``regret_matching`` (default: tuned to the horizon).
    inertia, explore : float, optional
        ``best_response``'s (defaults 0.5 and 0.05).
    payoff_range : (float, float), optional
        ``[lo, hi]``: the range of one agent's payoff in one round, in tokens. Payoffs are scaled
        by it into ``[0, 1]`` for the learner (its regret bound times ``hi - lo`` is the bound in
        tokens) and clipped outside it (counted). Default: derived from a truthful pilot of
        round 0's market (:func:`oasis_lab.sim.adapters.auto_payoff_ranges`).
    """

    policy: str = "scripted"
    learner: str = "exp3"
    gamma: float | None = None
    inertia: float | None = None
    explore: float | None = None
    payoff_range: tuple[float, float] | None = None

    role: ClassVar[str] = ""

    def __post_init__(self) -> None:
        check_choice("policy", self.policy, POLICY_KINDS)
        if self.learner == "hedge":
            raise ValueError("learner = 'hedge' needs full-information feedback; the simulation's agents see "
                             f"only their own payoff: use one of {list(SIM_LEARNERS)}")
        check_choice("learner", self.learner, SIM_LEARNERS)
        if self.gamma is not None:
            if self.learner == "best_response":
                raise ValueError("gamma applies to learner exp3 or regret_matching")
            hi = 1.0 if self.learner == "exp3" else 0.999
            object.__setattr__(self, "gamma", check_real("gamma", self.gamma, positive=True, maximum=hi))
        for name in ("inertia", "explore"):
            if getattr(self, name) is not None and self.learner != "best_response":
                raise ValueError(f"{name} applies to learner best_response")
        if self.inertia is not None:
            object.__setattr__(self, "inertia", check_real("inertia", self.inertia, minimum=0.0))
            if self.inertia >= 1.0:
                raise ValueError(f"inertia = {self.inertia!r} must be < 1")
        if self.explore is not None:
            object.__setattr__(self, "explore", check_real("explore", self.explore, minimum=0.0, maximum=1.0))
        if self.payoff_range is not None:
            pr = self.payoff_range
            if isinstance(pr, (str, bytes)) or not isinstance(pr, (tuple, list)) or len(pr) != 2:
                raise TypeError(f"payoff_range must be [lo, hi] (tokens), got {pr!r}")
            lo, hi = check_real("payoff_range[0]", pr[0]), check_real("payoff_range[1]", pr[1])
            if not lo < hi:
                raise ValueError(f"payoff_range = {list(pr)!r} must have lo < hi")
            object.__setattr__(self, "payoff_range", (lo, hi))
        self._check_role()
        if self.policy == "scripted":
            for f in fields(self):
                if f.name != "policy" and getattr(self, f.name) != f.default:
                    raise ValueError(f"{f.name} = {_show(getattr(self, f.name))} applies to policy='learning' only "
                                     f"(this role's policy is 'scripted')")
        else:
            # the learner's options are checked by building it once
            make_learner(self.learner, 2, 1, **self.learner_options())

    def _check_role(self) -> None:
        """Role-specific fields (grids, counts)."""

    @property
    def learning(self) -> bool:
        return self.policy == "learning"

    def learner_options(self) -> dict[str, Any]:
        """Keyword options of :func:`~oasis_lab.agents.learners.make_learner` (bandit feedback)."""
        opts: dict[str, Any] = {}
        if self.learner != "exp3":
            opts["feedback"] = "bandit"
        if self.gamma is not None:
            opts["gamma"] = self.gamma
        if self.inertia is not None:
            opts["inertia"] = self.inertia
        if self.explore is not None:
            opts["explore"] = self.explore
        return opts

    def describe(self) -> str:
        """Short description for labels."""
        if not self.learning:
            return "scripted"
        parts = [f"{f.name}={_show(getattr(self, f.name))}" for f in fields(self)
                 if f.name not in ("policy", "learner") and getattr(self, f.name) != f.default]
        return f"{self.learner}({', '.join(parts)})" if parts else self.learner


def _show(value: Any) -> str:
    return str(list(value)) if isinstance(value, tuple) else repr(value)


@dataclass(frozen=True)
class UserPolicy(RolePolicy):
    """Users: the share of her surplus a user withholds when she reports a task's value.

    Parameters
    ----------
    n_users : int, default 100
        Learning users; the task with id ``i`` belongs to user ``i mod n_users``.
    shades : list of float, default [0, 0.1, 0.2, 0.3, 0.4, 0.5]
        The grid of shading factors in ``[0, 1)``: a user reports ``v - shade max(v - e, 0)``
        (:func:`oasis_lab.agents.roles.reported_value`).
    """

    n_users: int = 100
    shades: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)

    role: ClassVar[str] = "user"

    def _check_role(self) -> None:
        object.__setattr__(self, "n_users", check_int("n_users", self.n_users, 1, _MAX_AGENTS))
        object.__setattr__(self, "shades", _grid("shades", self.shades, 0.0, 1.0, open_hi=True))
        if self.learning and len(self.shades) < 2:
            raise ValueError(f"shades = {list(self.shades)!r}: a learning user needs at least 2 to choose from")


@dataclass(frozen=True)
class ProviderPolicy(RolePolicy):
    """Providers: the markup on the cost they report, how often they cheat and how.

    Parameters
    ----------
    markups : list of float, default [0]
        Markups ``>= 0`` on the true cost (a provider reports ``c (1 + markup)``).
    cheat_rates : list of float, default [0, 0.05, 0.1, 0.25, 0.5, 1]
        Chances in ``[0, 1]`` of cheating on each job won.
    adversaries : list of str, default [] (the config's ``adversary``)
        Dishonest strategies (:data:`~oasis_lab.agents.roles.CHEATER_ADVERSARIES`) a cheat
        may run.
    cheaters : {"kind", "all"}, default "kind"
        Who may cheat: the providers of the cheater kind (``cheater_share``), learning over
        ``markups x cheat_rates x adversaries``, while the others learn over ``markups`` only
        (and report the truth when it has one value); or every provider.
    rejoin : bool, default False
        A removed (convicted) learning provider is gone for good, whatever it learned. With
        ``rejoin``, its operator comes back at the end of the round as a new provider with the
        same device and a fresh stake, keeping what it learned (a new identity: nothing in
        section 5 stops it). The repeated challenge game needs it: without it the game ends at
        the first conviction.
    """

    markups: tuple[float, ...] = (0.0,)
    cheat_rates: tuple[float, ...] = (0.0, 0.05, 0.1, 0.25, 0.5, 1.0)
    adversaries: tuple[str, ...] = ()
    cheaters: str = "kind"
    rejoin: bool = False

    role: ClassVar[str] = "provider"

    def _check_role(self) -> None:
        object.__setattr__(self, "markups", _grid("markups", self.markups, 0.0, _MAX_MARKUP))
        object.__setattr__(self, "cheat_rates", _grid("cheat_rates", self.cheat_rates, 0.0, 1.0))
        adv = self.adversaries
        if isinstance(adv, (str, bytes)) or not isinstance(adv, (tuple, list)):
            raise TypeError(f"adversaries must be a list of names, got {adv!r}")
        for i, a in enumerate(adv):
            check_choice(f"adversaries[{i}]", a, CHEATER_ADVERSARIES)
        if len(set(adv)) != len(adv):
            raise ValueError(f"adversaries = {list(adv)!r} repeats a name")
        object.__setattr__(self, "adversaries", tuple(adv))
        check_choice("cheaters", self.cheaters, WHO_CHEATS)
        check_bool("rejoin", self.rejoin)
        if self.learning and len(self.markups) * len(self.cheat_rates) * max(len(adv), 1) < 2:
            raise ValueError("markups x cheat_rates x adversaries has one action: a learning provider needs at "
                             "least 2 to choose from")


@dataclass(frozen=True)
class ChallengerPolicy(RolePolicy):
    """Challengers: how often each recomputes a delivered result.

    Parameters
    ----------
    n_challengers : int, default 1
        Learning challengers watching every delivered job; they race for one reward: the
        first valid challenge of a job wins, the others bear their recomputation cost. They
        take the place of the tasks' users as challengers (``p_user`` is then unused); the
        platform still challenges with ``p_platform``.
    challenge_rates : list of float, default [0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2]
        Chances in ``[0, 1]`` of recomputing each delivered job (a rate of 1 recomputes the
        whole market: as costly as the computation itself).
    """

    n_challengers: int = 1
    challenge_rates: tuple[float, ...] = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2)

    role: ClassVar[str] = "challenger"

    def _check_role(self) -> None:
        object.__setattr__(self, "n_challengers", check_int("n_challengers", self.n_challengers, 1, 10_000))
        object.__setattr__(self, "challenge_rates", _grid("challenge_rates", self.challenge_rates, 0.0, 1.0))
        if self.learning and len(self.challenge_rates) < 2:
            raise ValueError(f"challenge_rates = {list(self.challenge_rates)!r}: a learning challenger needs at "
                             "least 2 to choose from")


@dataclass(frozen=True)
class RefereePolicy(RolePolicy):
    """Market referees (``referee: market``): offered a bribe, a referee drawn honest or bribable
    learns whether to take it (``take_bribe`` in {no, yes}), given its stake and the odds that an
    appeal overturns it; colluding and framing referees keep their scripts."""

    role: ClassVar[str] = "referee"


_ROLE_CLASSES: dict[str, type[RolePolicy]] = {
    "user": UserPolicy, "provider": ProviderPolicy, "challenger": ChallengerPolicy, "referee": RefereePolicy,
}


@dataclass(frozen=True)
class Policies:
    """The policy of each role of a simulation (``SimConfig.policies``)."""

    user: UserPolicy = field(default_factory=UserPolicy)
    provider: ProviderPolicy = field(default_factory=ProviderPolicy)
    challenger: ChallengerPolicy = field(default_factory=ChallengerPolicy)
    referee: RefereePolicy = field(default_factory=RefereePolicy)

    def __post_init__(self) -> None:
        for role in ROLES:
            value = getattr(self, role)
            if not isinstance(value, _ROLE_CLASSES[role]):
                raise TypeError(f"{role} must be a {_ROLE_CLASSES[role].__name__}, got {type(value).__name__}")

    @property
    def learning_roles(self) -> tuple[str, ...]:
        """The roles whose policy is ``learning``, in :data:`~oasis_lab.agents.roles.ROLES` order."""
        return tuple(role for role in ROLES if getattr(self, role).learning)

    @property
    def learning(self) -> bool:
        """Any role learns."""
        return bool(self.learning_roles)

    def replace(self, **changes: Any) -> Policies:
        """A validated copy with some roles replaced (a role's table may be a mapping)."""
        unknown = sorted(set(changes) - set(ROLES))
        if unknown:
            raise ValueError(f"unknown roles {unknown}; roles are {list(ROLES)}")
        built: dict[str, Any] = {k: v if isinstance(v, RolePolicy) else _role_from_dict(k, v, "policies")
                                 for k, v in changes.items()}
        return dataclasses.replace(self, **built)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain nested tables (tuples as lists), as a config file writes them."""
        return {role: {f.name: list(v) if isinstance(v := getattr(getattr(self, role), f.name), tuple) else v
                       for f in fields(getattr(self, role))} for role in ROLES}

    @classmethod
    def from_dict(cls, data: Any, source: str = "config") -> Policies:
        """From a mapping of role -> table (a YAML/TOML ``policies:`` table), naming bad keys
        as ``policies.<role>.<field>``."""
        if not isinstance(data, dict):
            raise TypeError(f"{source}: policies must be a table of roles {list(ROLES)}, got {data!r}")
        for role in data:
            if role not in ROLES:
                raise ValueError(f"{source}: unknown key policies.{role!s}; known keys: {list(ROLES)}")
        built: dict[str, Any] = {role: _role_from_dict(role, value, source) for role, value in data.items()}
        return cls(**built)

    def label(self) -> str:
        """The roles that are not scripted, for labels (``provider=exp3, challenger=exp3(...)``)."""
        return ", ".join(f"{role}={getattr(self, role).describe()}" for role in self.learning_roles)


def _role_from_dict(role: str, value: Any, source: str) -> RolePolicy:
    cls = _ROLE_CLASSES[role]
    if not isinstance(value, dict):
        raise TypeError(f"{source}: policies.{role} must be a table of {cls.__name__} fields, got {value!r}")
    known = [f.name for f in fields(cls)]
    for k in value:
        if k not in known:
            raise ValueError(f"{source}: unknown key policies.{role}.{k!s}; known keys: {sorted(known)}")
    data: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
    make: Any = cls
    try:
        return make(**data)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{source}: policies.{role}.{exc}") from None


def horizon_copies(delay: int, rounds: int) -> tuple[int, int]:
    """``(copies, horizon)`` of a role whose payoffs land ``delay`` rounds after it acts: ``delay
    + 1`` learners per agent, each playing every ``delay + 1``-th round, ``ceil(rounds / (delay +
    1))`` rounds at most (the reduction of Joulani, Gyorgy and Szepesvari 2013)."""
    copies = delay + 1
    return copies, max(1, math.ceil(rounds / copies))
