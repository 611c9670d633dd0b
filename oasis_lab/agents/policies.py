"""Behaviour as a component: one policy per role, ``act(observation) -> action`` and
``learn(outcome)`` (whitepaper sections 4 and 5).

A policy drives every agent of one role that shares it, through one call per round with all
their rows (:mod:`oasis_lab.agents.roles`):

- :class:`Scripted`: today's behaviour, set by today's constants (a user reports the truth; a
  provider of the cheater kind cheats with ``cheat_probability`` running ``adversary``; a
  challenger challenges at ``challenge_rate`` (the simulation's ``p_user``); a bribable
  referee takes a positive offer of at least ``bribe_price``). It learns nothing.
- :class:`Truthful`: the truthful action (no shading, no markup, no cheating, no bribe).
- :class:`Learning`: a :class:`~oasis_lab.agents.learners.Learner` over a finite grid of
  actions (:func:`action_grid`), learning from each agent's own payoff.
- :class:`Profile`: each agent plays its own fixed action (a profile to certify).

A policy is a pure seeded object: its draws come from
``oasis_lab.seeding.stream(seed, "agents", role, name)``, so the same seed and the same calls
give the same actions, and policies of different roles draw independently.

The round protocol: ``act`` for round ``r`` (possibly several calls, e.g. a referee drawn for
two disputes: an agent decides once per round and keeps its decision), then one ``learn`` with
the outcome of round ``r`` for every agent that acted, before ``act`` for a later round.
``Learning(..., protocol="agent")`` lets each agent await its own outcome instead (the market's
timing, :mod:`oasis_lab.sim.adapters`).
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from oasis_lab.agents.learners import Learner
from oasis_lab.agents.roles import (
    ACTIONS,
    CHEATER_ADVERSARIES,
    OBSERVATIONS,
    OUTCOMES,
    Action,
    ChallengerAction,
    Observation,
    Outcome,
    ProviderAction,
    RefereeAction,
    UserAction,
    check_role,
    scripted_cheat_rate,
    scripted_take_bribe,
)
from oasis_lab.checks import check_bool, check_choice, check_fraction, check_real
from oasis_lab.seeding import check_seed, stream

__all__ = [
    "ACTION_FIELDS",
    "SCRIPTED_DEFAULTS",
    "Learning",
    "Policy",
    "Profile",
    "Scripted",
    "Truthful",
    "action_grid",
]

#: The decision fields of each role's action, with their truthful value.
ACTION_FIELDS: dict[str, dict[str, Any]] = {
    "user": {"shade": 0.0},
    "provider": {"markup": 0.0, "cheat_rate": 0.0, "adversary": CHEATER_ADVERSARIES.index("perturb")},
    "challenger": {"challenge_rate": 0.0},
    "referee": {"take_bribe": False},
}

#: Today's constants (the simulation's ``SimConfig`` defaults) that :class:`Scripted` takes.
SCRIPTED_DEFAULTS: dict[str, dict[str, Any]] = {
    "user": {"shade": 0.0},
    "provider": {"markup": 0.0, "cheat_probability": 1.0, "adversary": "perturb"},
    "challenger": {"challenge_rate": 0.05},
    "referee": {"bribe_price": 0},
}


class Policy(ABC):
    """The behaviour of every agent of one role that shares it.

    Attributes
    ----------
    role : str
        One of :data:`~oasis_lab.agents.roles.ROLES`.
    """

    def __init__(self, role: str) -> None:
        self.role = check_role(role)
        self._round = -1  # the round of the last act
        self._learned = True  # that round's outcome was learned

    def _observe(self, observation: Any) -> Observation:
        want = OBSERVATIONS[self.role]
        if not isinstance(observation, want):
            raise TypeError(f"observation must be a {want.__name__} for the {self.role} policy, "
                            f"got {type(observation).__name__}")
        if observation.round < self._round:
            raise ValueError(f"observation.round = {observation.round} is before the last round acted, {self._round}")
        if observation.round > self._round:
            if not self._learned:
                raise ValueError(f"round {self._round} was acted but never learned: call learn(outcome) "
                                 f"before acting in round {observation.round}")
            self._round = observation.round
            self._learned = False
            self._start_round()
        elif self._learned:
            raise ValueError(f"round {observation.round} was already learned; act in a later round")
        return observation

    def _start_round(self) -> None:  # noqa: B027 (a hook: most policies keep no per-round state)
        """A new round begins."""

    def _outcome(self, outcome: Any) -> Outcome:
        want = OUTCOMES[self.role]
        if not isinstance(outcome, want):
            raise TypeError(f"outcome must be a {want.__name__} for the {self.role} policy, "
                            f"got {type(outcome).__name__}")
        if outcome.round != self._round or self._learned:
            raise ValueError(f"outcome.round = {outcome.round}: the policy awaits the outcome of round "
                             f"{self._round}" if not self._learned else
                             f"outcome.round = {outcome.round}: no round awaits an outcome")
        return outcome

    @abstractmethod
    def act(self, observation: Observation) -> Action:
        """The action of each row of ``observation``."""

    def learn(self, outcome: Outcome) -> None:
        """Take the outcome of the round acted in (a fixed policy only checks it)."""
        self._outcome(outcome)
        self._learned = True

    def describe(self) -> str:
        """Name and parameters, for tables."""
        return f"{type(self).__name__}({self.role})"


class Scripted(Policy):
    """Today's behaviour of ``role``, set by today's constants (:data:`SCRIPTED_DEFAULTS`).

    Parameters
    ----------
    role : str
    **settings
        user: ``shade``; provider: ``markup``, ``cheat_probability`` (of a provider of the
        cheater kind; others never cheat), ``adversary`` (a name of
        :data:`~oasis_lab.agents.roles.CHEATER_ADVERSARIES`); challenger: ``challenge_rate``;
        referee: ``bribe_price`` (a bribable referee takes a positive offer of at least
        ``bribe_price`` tokens; collude and frame referees are the simulation's, not a
        decision).

    Examples
    --------
    >>> from oasis_lab.agents.roles import ProviderObservation
    >>> obs = ProviderObservation(0, np.arange(3), cost=np.ones(3), kind=np.array([0, 1, 2]), stake=np.zeros(3))
    >>> Scripted("provider", cheat_probability=0.25).act(obs).cheat_rate.tolist()
    [0.0, 0.25, 0.0]
    """

    def __init__(self, role: str, **settings: Any) -> None:
        super().__init__(role)
        known = SCRIPTED_DEFAULTS[self.role]
        for key in settings:
            if key not in known:
                raise ValueError(f"unknown {self.role} setting {key!r}; known: {sorted(known)}")
        s = {**known, **settings}
        if self.role == "user":
            s["shade"] = check_real("shade", s["shade"], minimum=0.0)
            if s["shade"] >= 1.0:
                raise ValueError(f"shade = {s['shade']!r} must be < 1")
        elif self.role == "provider":
            s["markup"] = check_real("markup", s["markup"], minimum=0.0)
            s["cheat_probability"] = check_fraction("cheat_probability", s["cheat_probability"])
            check_choice("adversary", s["adversary"], CHEATER_ADVERSARIES)
        elif self.role == "challenger":
            s["challenge_rate"] = check_fraction("challenge_rate", s["challenge_rate"])
        else:
            s["bribe_price"] = check_real("bribe_price", s["bribe_price"], minimum=0.0)
        self.settings = s

    def act(self, observation: Observation) -> Action:
        obs = self._observe(observation)
        n, s = len(obs), self.settings
        if self.role == "user":
            return UserAction(shade=np.full(n, s["shade"]))
        if self.role == "provider":
            return ProviderAction(
                markup=np.full(n, s["markup"]),
                cheat_rate=scripted_cheat_rate(obs.kind, s["cheat_probability"]),  # type: ignore[attr-defined]
                adversary=np.full(n, CHEATER_ADVERSARIES.index(s["adversary"]), dtype=np.int64),
            )
        if self.role == "challenger":
            return ChallengerAction(challenge_rate=np.full(n, s["challenge_rate"]))
        return RefereeAction(take_bribe=scripted_take_bribe(obs.strategy, obs.offer,  # type: ignore[attr-defined]
                                                            s["bribe_price"]))

    def describe(self) -> str:
        return f"scripted({', '.join(f'{k}={v}' for k, v in self.settings.items())})"


class Truthful(Scripted):
    """The truthful action of ``role``: no shading, no markup, never cheating, no bribe.

    A challenger has no truthful action (how often to check is a choice, not a report):
    ``Truthful("challenger")`` raises; use ``Scripted("challenger", challenge_rate=...)``.
    """

    def __init__(self, role: str) -> None:
        if check_role(role) == "challenger":
            raise ValueError("role = 'challenger' has no truthful action; use Scripted('challenger', "
                             "challenge_rate=...)")
        super().__init__(role, **({"cheat_probability": 0.0} if role == "provider" else {}))
        if role == "referee":
            self.settings["bribe_price"] = np.inf  # never takes a bribe

    def describe(self) -> str:
        return f"truthful({self.role})"


class Profile(Policy):
    """Each agent plays its own fixed action: a profile (e.g. the end of a learning run, whose
    certificate re-plays it with one agent's action changed).

    Parameters
    ----------
    role : str
    actions : mapping of field to array
        Each action field of the role (:data:`ACTION_FIELDS`) to one value per agent id
        (``actions[field][i]`` is agent ``i``'s); fields not given keep their truthful value.
    truthful_beyond : bool, default False
        Agents with ids beyond the arrays play the truthful action (e.g. providers entering a
        market after the profile was taken); otherwise such an agent raises.

    Examples
    --------
    >>> from oasis_lab.agents.roles import ChallengerObservation
    >>> pol = Profile("challenger", {"challenge_rate": [0.1, 0.3]})
    >>> obs = ChallengerObservation(0, np.array([1, 0, 1]), payment=np.ones(3), check_cost=np.ones(3))
    >>> pol.act(obs).challenge_rate.tolist()
    [0.3, 0.1, 0.3]
    """

    def __init__(self, role: str, actions: Mapping[str, Any], *, truthful_beyond: bool = False) -> None:
        super().__init__(role)
        self.truthful_beyond = check_bool("truthful_beyond", truthful_beyond)
        fields_ = ACTION_FIELDS[self.role]
        if not isinstance(actions, Mapping) or not actions:
            raise TypeError(f"actions must map {self.role} action fields to per-agent values, got {actions!r}")
        unknown = sorted(set(actions) - set(fields_))
        if unknown:
            raise ValueError(f"unknown {self.role} action fields {unknown}; known: {list(fields_)}")
        sizes = {np.asarray(v).shape for v in actions.values()}
        if len(sizes) != 1 or len(next(iter(sizes))) != 1:
            raise ValueError(f"every field of actions must be a 1-D array of one value per agent, got shapes {sizes}")
        n = next(iter(sizes))[0]
        full = {name: np.asarray(actions[name]) if name in actions else np.full(n, truth)
                for name, truth in fields_.items()}
        self.actions = _grid(self.role, full)
        self.n_agents = n

    def act(self, observation: Observation) -> Action:
        # a fixed profile learns nothing: no round protocol, any round in any order
        want = OBSERVATIONS[self.role]
        if not isinstance(observation, want):
            raise TypeError(f"observation must be a {want.__name__} for the {self.role} policy, "
                            f"got {type(observation).__name__}")
        ids = observation.agent
        if ids.size and int(ids.max()) >= self.n_agents:
            if not self.truthful_beyond:
                raise ValueError(f"agent {int(ids.max())} has no action in the profile of {self.n_agents} agents")
            inside = ids < self.n_agents
            safe = np.where(inside, ids, 0)
            return ACTIONS[self.role](**{k: np.where(inside, v[safe], ACTION_FIELDS[self.role][k]).astype(v.dtype)
                                         for k, v in self.actions.items()})
        return ACTIONS[self.role](**{k: v[ids] for k, v in self.actions.items()})

    def learn(self, outcome: Outcome) -> None:
        """A fixed profile learns nothing (the outcome's type is checked)."""
        want = OUTCOMES[self.role]
        if not isinstance(outcome, want):
            raise TypeError(f"outcome must be a {want.__name__} for the {self.role} policy, "
                            f"got {type(outcome).__name__}")

    def describe(self) -> str:
        return f"profile({self.role}, {self.n_agents} agents)"


def action_grid(role: str, **axes: Sequence[Any]) -> dict[str, np.ndarray]:
    """The ``K`` joint actions of ``role``: the product of the given values of each field.

    Fields not given keep their truthful value (:data:`ACTION_FIELDS`); ``adversary`` may be
    given by name. Rows are in ``itertools.product`` order of the fields as the role lists them.

    Examples
    --------
    >>> g = action_grid("provider", cheat_rate=[0, 1], markup=[0.0, 0.5])
    >>> g["markup"].tolist(), g["cheat_rate"].tolist()
    ([0.0, 0.0, 0.5, 0.5], [0.0, 1.0, 0.0, 1.0])
    """
    role = check_role(role)
    fields_ = ACTION_FIELDS[role]
    for key in axes:
        if key not in fields_:
            raise ValueError(f"unknown {role} action field {key!r}; known: {list(fields_)}")
    values: list[list[Any]] = []
    for name, truth in fields_.items():
        given = axes.get(name, [truth])
        if isinstance(given, (str, bytes)) or not isinstance(given, (Sequence, np.ndarray)) or len(given) == 0:
            raise ValueError(f"{role} action field {name} must be a non-empty sequence of values, got {given!r}")
        if name == "adversary":
            given = [CHEATER_ADVERSARIES.index(check_choice("adversary", v, CHEATER_ADVERSARIES))
                     if isinstance(v, str) else v for v in given]
        values.append(list(given))
    rows = list(itertools.product(*values))
    grid = {name: np.array([r[i] for r in rows]) for i, name in enumerate(fields_)}
    if len(rows) < 2:
        raise ValueError(f"a {role} grid needs at least 2 actions to learn over, got {len(rows)}")
    return _grid(role, grid)


def _grid(role: str, grid: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The grid's arrays as the role's action record validates them (ranges, dtypes)."""
    action = ACTIONS[role](**dict(grid))
    return {name: getattr(action, name) for name in ACTION_FIELDS[role]}


class Learning(Policy):
    """Agents of ``role`` learning over a grid of actions from their own payoffs.

    Parameters
    ----------
    role : str
    learner : Learner
        The population's learner; its ``n_actions`` must equal the grid's size.
    grid : mapping of field to sequence
        The ``K`` actions (:func:`action_grid`).
    payoff_range : (float, float)
        ``(lo, hi)``: the range of one agent's payoff in one round (tokens). Payoffs are scaled
        by it into ``[0, 1]`` for the learner, so the learner's regret bound times ``hi - lo``
        bounds the regret in tokens (:meth:`regret_bound`).
    seed : int
        Root seed of the policy's draws.
    name : str, optional
        Key of the policy's stream (default the learner's name): two policies of one role and
        one seed need different names to draw independently.
    out_of_range : {"raise", "clip"}, default "raise"
        A payoff outside ``payoff_range`` raises, or is clipped and counted in ``clipped``
        (the regret bound then holds for the clipped payoffs).
    protocol : {"round", "agent"}, default "round"
        ``"round"``: the module's round protocol (every agent that acted in a round learns in
        one call before anyone acts in a later round). ``"agent"``: each agent's action awaits
        its own outcome: ``learn`` takes the outcome of a round for any subset of the agents
        that acted in it, and an agent acts again only once its last action was learned (or
        :meth:`forget`-ten). Rounds of different agents may interleave: in a market an
        action's consequences land when its disputes are resolved, not at the end of its round.

    Attributes
    ----------
    played_probabilities : numpy.ndarray, shape (n_agents, K)
        Each agent's mixed strategy when it last drew an action (what its draw was sampled
        from: the importance weights of a bandit estimate).
    """

    def __init__(self, role: str, learner: Learner, grid: Mapping[str, Any], *, payoff_range: tuple[float, float],
                 seed: int, name: str | None = None, out_of_range: str = "raise", protocol: str = "round") -> None:
        super().__init__(role)
        self.protocol = check_choice("protocol", protocol, ("round", "agent"))
        if not isinstance(learner, Learner):
            raise TypeError(f"learner must be a Learner, got {type(learner).__name__}")
        if not isinstance(grid, Mapping) or set(grid) != set(ACTION_FIELDS[self.role]):
            raise ValueError(f"grid must map every {self.role} action field {list(ACTION_FIELDS[self.role])} to "
                             f"its K values (use action_grid), got {list(grid) if isinstance(grid, Mapping) else grid}")
        self.grid = _grid(self.role, grid)
        k = len(next(iter(self.grid.values())))
        if learner.n_actions != k:
            raise ValueError(f"learner has {learner.n_actions} actions, the grid {k}")
        self.learner = learner
        if not isinstance(payoff_range, (tuple, list)) or len(payoff_range) != 2:
            raise TypeError(f"payoff_range must be (lo, hi), got {payoff_range!r}")
        lo = check_real("payoff_range[0]", payoff_range[0])
        hi = check_real("payoff_range[1]", payoff_range[1])
        if not hi > lo:
            raise ValueError(f"payoff_range = {payoff_range!r} must have lo < hi")
        self.payoff_range = (lo, hi)
        self.out_of_range = check_choice("out_of_range", out_of_range, ("raise", "clip"))
        self.clipped = 0
        self.name = learner.name if name is None else name
        self._rng = stream(check_seed(seed), "agents", self.role, self.name)
        self._action = np.zeros(learner.n_agents, dtype=np.int64)  # each agent's action this round
        self._acted = np.zeros(learner.n_agents, dtype=bool)  # acted in the current round
        # protocol "agent": the round of each agent's action awaiting its outcome (-1: none)
        self._pending = np.full(learner.n_agents, -1, dtype=np.int64)
        self.played_probabilities = np.zeros((learner.n_agents, learner.n_actions))

    @property
    def n_actions(self) -> int:
        """``K``, the grid's size."""
        return self.learner.n_actions

    def _grow(self, n: int) -> None:
        if n > self.learner.n_agents:
            extra = n - self.learner.n_agents
            self.learner.grow(n)
            self._action = np.concatenate([self._action, np.zeros(extra, dtype=np.int64)])
            self._acted = np.concatenate([self._acted, np.zeros(extra, dtype=bool)])
            self._pending = np.concatenate([self._pending, np.full(extra, -1, dtype=np.int64)])
            self.played_probabilities = np.concatenate([self.played_probabilities,
                                                        np.zeros((extra, self.n_actions))])

    def _start_round(self) -> None:
        self._acted[:] = False

    def act(self, observation: Observation) -> Action:
        if self.protocol == "agent":
            return self._act_agents(observation)
        obs = self._observe(observation)
        ids = obs.agent
        if ids.size:
            self._grow(int(ids.max()) + 1)
            fresh = np.zeros(self._acted.size, dtype=bool)
            fresh[ids] = True  # a mask, not np.unique: no sort on the hot path
            fresh = np.flatnonzero(fresh & ~self._acted)
            if fresh.size:
                self._draw(fresh)
        a = self._action[ids]
        return ACTIONS[self.role](**{k: v[a] for k, v in self.grid.items()})

    def _draw(self, fresh: np.ndarray) -> None:
        """Draw the actions of the distinct agents ``fresh``, keeping what they were drawn from."""
        self.played_probabilities[fresh] = self.learner._probs(fresh)
        self._action[fresh] = self.learner._draw(fresh, self._rng)
        self._acted[fresh] = True

    def _act_agents(self, observation: Any) -> Action:
        """``act`` under the ``"agent"`` protocol."""
        want = OBSERVATIONS[self.role]
        if not isinstance(observation, want):
            raise TypeError(f"observation must be a {want.__name__} for the {self.role} policy, "
                            f"got {type(observation).__name__}")
        obs, r = observation, observation.round
        if r < self._round:
            raise ValueError(f"observation.round = {r} is before the last round acted, {self._round}")
        if r > self._round:
            self._round = r
            self._acted[:] = False
        ids = obs.agent
        if ids.size:
            self._grow(int(ids.max()) + 1)
            mask = np.zeros(self._acted.size, dtype=bool)
            mask[ids] = True
            waiting = mask & (self._pending >= 0) & ~self._acted
            if waiting.any():
                bad = np.flatnonzero(waiting)
                raise ValueError(f"agents {bad[:5].tolist()} still await the outcome of round(s) "
                                 f"{sorted(set(self._pending[bad[:5]].tolist()))}: learn or forget it before they act "
                                 f"in round {r}")
            fresh = np.flatnonzero(mask & ~self._acted)
            if fresh.size:
                self._draw(fresh)
                self._pending[fresh] = r
        a = self._action[ids]
        return ACTIONS[self.role](**{k: v[a] for k, v in self.grid.items()})

    def forget(self, agents: Any) -> None:
        """Protocol ``"agent"``: drop the pending actions of ``agents`` unlearned (their decision
        turned out not to matter, e.g. a referee of the pool that was not drawn to rule). Their
        state is unchanged, as if they had not acted."""
        if self.protocol != "agent":
            raise ValueError("forget applies to protocol='agent'")
        a = np.asarray(agents, dtype=np.int64).reshape(-1)
        if a.size and (int(a.min()) < 0 or int(a.max()) >= self._pending.size or (self._pending[a] < 0).any()):
            raise ValueError(f"agents {a.tolist()[:5]} have no action awaiting its outcome")
        self._pending[a] = -1

    def pending(self) -> np.ndarray:
        """Protocol ``"agent"``: the round of each agent's action awaiting its outcome (-1: none)."""
        return self._pending.copy()

    def _scale(self, x: np.ndarray, what: str) -> np.ndarray:
        lo, hi = self.payoff_range
        bad = (x < lo) | (x > hi)
        if bad.any():
            if self.out_of_range == "raise":
                i = np.unravel_index(int(np.flatnonzero(bad.ravel())[0]), x.shape)
                raise ValueError(f"{what}{list(i)} = {x[i]} is outside payoff_range {self.payoff_range} "
                                 "(widen it, or out_of_range='clip')")
            self.clipped += int(bad.sum())
        return np.clip((x - lo) / (hi - lo), 0.0, 1.0)

    def learn(self, outcome: Outcome) -> None:
        if self.protocol == "agent":
            self._learn_agents(outcome)
            return
        out = self._outcome(outcome)
        acted = np.flatnonzero(self._acted)
        ids = out.agent
        if ids.size and (int(ids.max()) >= self._acted.size or not self._acted[ids].all()):
            bad = ids[(ids >= self._acted.size) | ~self._acted[np.minimum(ids, self._acted.size - 1)]]
            raise ValueError(f"outcome has rows for agents that did not act in round {out.round}: {bad[:5].tolist()}")
        seen = np.zeros(self._acted.size, dtype=bool)
        seen[ids] = True
        if not seen[acted].all():
            missing = acted[~seen[acted]]
            raise ValueError(f"agents {missing[:5].tolist()} acted in round {out.round} but have no outcome row")
        n = self._acted.size
        payoff = np.bincount(ids, weights=out.payoff, minlength=n)[acted]
        self._update(acted, out, payoff)
        self._learned = True

    def _update(self, acted: np.ndarray, out: Outcome, payoff: np.ndarray) -> None:
        """The learner's update of the distinct agents ``acted`` (``payoff`` summed per agent)."""
        n = self._acted.size
        vectors = None
        if out.payoffs is None and self.learner.feedback == "full":
            raise ValueError(f"{self.learner.describe()} with full feedback needs payoffs (what every action "
                             "of the grid would have earned): give outcome.payoffs")
        if out.payoffs is not None:
            if out.payoffs.shape[1] != self.n_actions:
                raise ValueError(f"outcome.payoffs has {out.payoffs.shape[1]} columns, the grid {self.n_actions}")
            vectors = np.zeros((n, self.n_actions))
            np.add.at(vectors, out.agent, out.payoffs)
            vectors = self._scale(vectors[acted], "outcome.payoffs summed per agent")
        scaled = self._scale(payoff, "payoff summed per agent")
        # acted is distinct and the payoffs scaled into [0, 1]: the learner's unchecked update
        self.learner._update(acted, self._action[acted], scaled, vectors)

    def _learn_agents(self, outcome: Any) -> None:
        """``learn`` under the ``"agent"`` protocol: the outcome of round ``outcome.round`` for
        some of the agents whose action of that round awaits it."""
        want = OUTCOMES[self.role]
        if not isinstance(outcome, want):
            raise TypeError(f"outcome must be a {want.__name__} for the {self.role} policy, "
                            f"got {type(outcome).__name__}")
        ids = outcome.agent
        if not ids.size:
            return
        n = self._pending.size
        if int(ids.max()) >= n or (self._pending[ids] != outcome.round).any():
            bad = ids[(ids >= n) | (self._pending[np.minimum(ids, n - 1)] != outcome.round)]
            raise ValueError(f"outcome has rows for agents with no action of round {outcome.round} awaiting its "
                             f"outcome: {bad[:5].tolist()}")
        seen = np.zeros(n, dtype=bool)
        seen[ids] = True
        acted = np.flatnonzero(seen)
        payoff = np.bincount(ids, weights=outcome.payoff, minlength=n)[acted]
        self._update(acted, outcome, payoff)
        self._pending[acted] = -1

    def chosen(self, agents: Any = None) -> np.ndarray:
        """The grid index of each agent's action this round (``agents`` default all; an agent
        that has not acted this round raises)."""
        a = np.arange(self._acted.size) if agents is None else np.asarray(agents)
        if a.ndim != 1 or a.dtype.kind not in "iu" or (a.size and (a.min() < 0 or a.max() >= self._acted.size)):
            raise ValueError(f"agents must be ids of agents in [0, {self._acted.size}), got {agents!r}")
        if not self._acted[a].all():
            raise ValueError(f"agents {a[~self._acted[a]][:5].tolist()} have not acted in round {self._round}")
        return self._action[a].copy()

    def probabilities(self, agents: Any = None) -> np.ndarray:
        """The agents' current mixed strategies over the grid, shape ``(n, K)``."""
        return self.learner.probabilities(agents)

    def mean_action(self, agents: Any = None) -> dict[str, np.ndarray]:
        """Each agent's expected value of each action field under its mixed strategy."""
        p = self.probabilities(agents)
        return {k: p @ v.astype(np.float64) for k, v in self.grid.items()}

    def regret_bound(self, rounds: int | None = None) -> float:
        """The learner's regret bound in tokens: its bound on ``[0, 1]`` payoffs times ``hi - lo``."""
        lo, hi = self.payoff_range
        return self.learner.regret_bound(rounds) * (hi - lo)

    def describe(self) -> str:
        return f"learning({self.role}, {self.learner.describe()})"
