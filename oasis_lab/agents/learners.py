"""No-regret learners over a finite action set, for a whole population at once.

A :class:`Learner` holds the state of ``n_agents`` agents that choose among the same ``K``
actions, as ``(n_agents, K)`` arrays: one call draws every acting agent's action and one call
updates them all (no Python object per agent, so 100 providers x 200 rounds costs 400 numpy
calls). Payoffs are scaled to ``[0, 1]`` by the caller (:class:`~oasis_lab.agents.policies.
Learning` does it from a declared payoff range). Two kinds of feedback:

- ``"bandit"``: an agent sees only the payoff of the action it played (its own payment, cost,
  slash, reward);
- ``"full"``: it also sees what each of its other actions would have earned in the round.

Each learner states its regret bound (:meth:`Learner.regret_bound`, for payoffs in ``[0, 1]``
over ``T`` rounds; regret is the best fixed action's total in hindsight minus the learner's):

- :class:`Hedge` (full): ``ln K / eta + eta T / 8``, which is ``sqrt(T ln K / 2)`` at the
  default ``eta = sqrt(8 ln K / H)`` and ``T = H`` (horizon ``H``); *always*.
- :class:`Exp3` (bandit): ``(e - 1) gamma T + K ln K / gamma``, which is
  ``2 sqrt(e - 1) sqrt(T K ln K)`` at the default gamma and ``T = H``; *in expectation*.
- :class:`RegretMatching` (full): ``sqrt(T (K - 1))``; *always*.
- :class:`RegretMatching` (bandit): ``gamma T + sqrt(T (K^2 / gamma + (K - 1) / (1 - gamma)))``;
  *in expectation*.
- :class:`BestResponse` (either): ``explore T + K / (1 - inertia)``; *stationary* only.

"always": for every payoff sequence, the regret of the mixed strategies played (``sum_t p_t .
u_t``; the regret of the sampled actions has the same expectation). "in expectation": the expected
regret against any sequence fixed in advance, and for each fixed action against an adaptive
opponent. "stationary": every action's payoff is the same every round (the others do not move,
no noise); best response has **no** worst-case guarantee. Sources and proofs:
``docs/mechanism.md``, "Agents that respond".
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from oasis_lab.checks import check_fraction, check_int, check_real

__all__ = [
    "FEEDBACK",
    "LEARNERS",
    "BestResponse",
    "Exp3",
    "Hedge",
    "Learner",
    "RegretMatching",
    "make_learner",
]

#: ``"bandit"``: only the played action's payoff is seen; ``"full"``: every action's.
FEEDBACK: tuple[str, ...] = ("bandit", "full")


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=1, keepdims=True))
    return np.asarray(z / z.sum(axis=1, keepdims=True))


def _check_agents(agents: Any, n_agents: int) -> np.ndarray:
    a = np.asarray(agents)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise TypeError(f"agents must be a 1-D integer array, got {a.dtype} of shape {a.shape}")
    if a.size and (int(a.min()) < 0 or int(a.max()) >= n_agents):
        raise ValueError(f"agents must be ids in [0, {n_agents}), got {int(a.min())}..{int(a.max())}")
    if a.size > 1 and np.bincount(a, minlength=1).max() > 1:
        raise ValueError("agents must be distinct (sum an agent's payoffs before updating)")
    return a.astype(np.int64, copy=False)


def _check_unit(name: str, x: Any, shape: tuple[int, ...]) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    if a.size and not (np.isfinite(a).all() and a.min() >= 0.0 and a.max() <= 1.0):
        raise ValueError(f"{name} must be scaled into [0, 1] (got {a.min()}..{a.max()})")
    return a


class Learner(ABC):
    """A population of agents learning over the same ``n_actions`` actions.

    Parameters
    ----------
    n_actions : int
        ``K >= 2``.
    horizon : int
        ``H``: the rounds an agent will play at most; the step sizes are tuned for it.
    n_agents : int, default 0
        Agents at the start (:meth:`grow` adds more, e.g. entrants).

    Notes
    -----
    :meth:`draw` chooses the acting agents' actions; :meth:`update` must follow with their
    payoffs before they act again (the mixed strategy an update uses is the one they drew
    from). State is plain arrays: a learner pickles, and two copies advance identically.
    """

    name: ClassVar[str] = ""
    #: what :meth:`regret_bound` holds for: "always" (every payoff sequence), "expected" (in
    #: expectation over the learner's draws) or "stationary" (a stationary environment only)
    guarantee: ClassVar[str] = "always"
    #: the feedback kinds the learner accepts
    accepts: ClassVar[tuple[str, ...]] = FEEDBACK

    def __init__(self, n_actions: int, horizon: int, n_agents: int = 0, feedback: str = "bandit") -> None:
        self.n_actions = check_int("n_actions", n_actions, 2)
        self.horizon = check_int("horizon", horizon, 1)
        if feedback not in self.accepts:
            raise ValueError(f"feedback = {feedback!r}: {type(self).__name__} accepts {list(self.accepts)}")
        self.feedback = feedback
        self.n_agents = 0
        self._init_state()
        self.grow(check_int("n_agents", n_agents, 0))

    # -- population -------------------------------------------------------------------------

    @abstractmethod
    def _init_state(self) -> None:
        """Empty per-agent arrays."""

    @abstractmethod
    def _append(self, n: int) -> None:
        """Append ``n`` fresh agents to the arrays."""

    def grow(self, n_agents: int) -> None:
        """Make room for agents ``0 .. n_agents - 1`` (new ones start afresh)."""
        n_agents = check_int("n_agents", n_agents, 0)
        if n_agents > self.n_agents:
            self._append(n_agents - self.n_agents)
            self.n_agents = n_agents

    # -- play -------------------------------------------------------------------------------

    def probabilities(self, agents: Any = None) -> np.ndarray:
        """The mixed strategies of ``agents`` (default all), shape ``(n, K)``."""
        return self._probs(None if agents is None else _check_agents(agents, self.n_agents))

    @abstractmethod
    def _probs(self, agents: np.ndarray | None) -> np.ndarray:
        """Mixed strategies of validated ``agents`` (None: all)."""

    def draw(self, agents: Any, rng: np.random.Generator) -> np.ndarray:
        """One action per agent from its mixed strategy."""
        return self._draw(_check_agents(agents, self.n_agents), rng)

    def _draw(self, agents: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        p = self._probs(agents)
        u = rng.random(agents.size)
        # inverse CDF (one uniform per agent); the cumulative sum may end a rounding below 1
        return np.minimum((np.cumsum(p, axis=1) <= u[:, None]).sum(axis=1), self.n_actions - 1).astype(np.int64)

    def update(self, agents: Any, actions: Any, payoff: Any, payoffs: Any = None) -> None:
        """Learn from a round: ``payoff`` of the played ``actions`` (bandit) and ``payoffs``,
        shape ``(n, K)``, what every action would have earned (full), all in ``[0, 1]``."""
        a = _check_agents(agents, self.n_agents)
        act = np.asarray(actions)
        if act.shape != a.shape or act.dtype.kind not in "iu":
            raise ValueError(f"actions must be {a.size} integers, got {act.dtype} of shape {act.shape}")
        if act.size and (int(act.min()) < 0 or int(act.max()) >= self.n_actions):
            raise ValueError(f"actions must be in [0, {self.n_actions}), got {int(act.min())}..{int(act.max())}")
        x = _check_unit("payoff", payoff, a.shape)
        if self.feedback == "full":
            if payoffs is None:
                raise ValueError(f"{type(self).__name__} with full feedback needs payoffs (what every action "
                                 "would have earned)")
            vec = _check_unit("payoffs", payoffs, (a.size, self.n_actions))
        else:
            vec = None
        self._update(a, act.astype(np.int64), x, vec)

    @abstractmethod
    def _update(self, agents: np.ndarray, actions: np.ndarray, payoff: np.ndarray, payoffs: np.ndarray | None) -> None:
        """Update the state of ``agents`` (validated)."""

    @abstractmethod
    def regret_bound(self, rounds: int | None = None) -> float:
        """The bound on regret after ``rounds`` (default the horizon) rounds, payoffs in [0, 1]."""

    def _rounds(self, rounds: int | None) -> int:
        return self.horizon if rounds is None else check_int("rounds", rounds, 0)

    def describe(self) -> str:
        """Name and parameters, for tables."""
        return f"{self.name}({self.feedback})"


class Hedge(Learner):
    """Exponential weights with full information (Freund and Schapire 1997).

    An agent plays ``p_t(k) ~ exp(eta S_t(k))``, with ``S_t`` the cumulative payoffs of each
    action. For payoffs in ``[0, 1]``, the regret of ``sum_t p_t . u_t`` against the best fixed
    action is at most ``ln K / eta + eta T / 8`` after ``T`` rounds, for every sequence
    (Cesa-Bianchi and Lugosi 2006, Theorem 2.2); the default ``eta = sqrt(8 ln K / H)`` makes
    it ``sqrt(H ln K / 2)`` at ``T = H``.

    Parameters
    ----------
    n_actions, horizon, n_agents
        As :class:`Learner`.
    eta : float, optional
        Learning rate (> 0).
    """

    name = "hedge"
    accepts = ("full",)

    def __init__(self, n_actions: int, horizon: int, n_agents: int = 0, *, eta: float | None = None,
                 feedback: str = "full") -> None:
        super().__init__(n_actions, horizon, n_agents, feedback)
        self.eta = (math.sqrt(8.0 * math.log(self.n_actions) / self.horizon) if eta is None
                    else check_real("eta", eta, positive=True))

    def _init_state(self) -> None:
        self.total = np.zeros((0, self.n_actions))

    def _append(self, n: int) -> None:
        self.total = np.concatenate([self.total, np.zeros((n, self.n_actions))])

    def _probs(self, agents: np.ndarray | None) -> np.ndarray:
        return _softmax(self.eta * (self.total if agents is None else self.total[agents]))

    def _update(self, agents: np.ndarray, actions: np.ndarray, payoff: np.ndarray, payoffs: np.ndarray | None) -> None:
        assert payoffs is not None
        self.total[agents] += payoffs

    def regret_bound(self, rounds: int | None = None) -> float:
        t = self._rounds(rounds)
        return math.log(self.n_actions) / self.eta + self.eta * t / 8.0

    def describe(self) -> str:
        return f"hedge(eta={self.eta:.4g})"


class Exp3(Learner):
    """Exp3 with bandit feedback (Auer, Cesa-Bianchi, Freund and Schapire 2002).

    An agent plays ``p_t(k) = (1 - gamma) w_t(k) / sum w_t + gamma / K``; after playing ``k``
    with payoff ``x`` in ``[0, 1]`` it multiplies ``w(k)`` by ``exp(gamma x / (p_t(k) K))``
    (an unbiased estimate of every action's payoff, nonzero only at ``k``). Theorem 3.1: the
    expected regret after ``T`` rounds is at most ``(e - 1) gamma G_max + K ln K / gamma <=
    (e - 1) gamma T + K ln K / gamma``; with the default ``gamma = min(1, sqrt(K ln K / ((e-1)
    H)))`` (Corollary 3.2, ``g = H``) that is ``2 sqrt(e - 1) sqrt(H K ln K)`` at ``T = H``.

    Parameters
    ----------
    n_actions, horizon, n_agents
        As :class:`Learner`.
    gamma : float, optional
        Exploration share in ``(0, 1]``.
    """

    name = "exp3"
    guarantee = "expected"
    accepts = ("bandit",)

    def __init__(self, n_actions: int, horizon: int, n_agents: int = 0, *, gamma: float | None = None,
                 feedback: str = "bandit") -> None:
        super().__init__(n_actions, horizon, n_agents, feedback)
        k = self.n_actions
        if gamma is None:
            self.gamma = min(1.0, math.sqrt(k * math.log(k) / ((math.e - 1.0) * self.horizon)))
        else:
            self.gamma = check_real("gamma", gamma, positive=True, maximum=1.0)

    def _init_state(self) -> None:
        self.estimate = np.zeros((0, self.n_actions))

    def _append(self, n: int) -> None:
        self.estimate = np.concatenate([self.estimate, np.zeros((n, self.n_actions))])

    def _probs(self, agents: np.ndarray | None) -> np.ndarray:
        s = self.estimate if agents is None else self.estimate[agents]
        k = self.n_actions
        return np.asarray((1.0 - self.gamma) * _softmax(self.gamma / k * s) + self.gamma / k)

    def _update(self, agents: np.ndarray, actions: np.ndarray, payoff: np.ndarray, payoffs: np.ndarray | None) -> None:
        p = self._probs(agents)[np.arange(agents.size), actions]
        self.estimate[agents, actions] += payoff / p

    def regret_bound(self, rounds: int | None = None) -> float:
        t = self._rounds(rounds)
        k = self.n_actions
        return (math.e - 1.0) * self.gamma * t + k * math.log(k) / self.gamma

    def describe(self) -> str:
        return f"exp3(gamma={self.gamma:.4g})"


class RegretMatching(Learner):
    """Regret matching (Hart and Mas-Colell 2000), with full or bandit feedback.

    An agent keeps ``R(k)``, the cumulative regret of not having played ``k``, and plays
    ``q(k) = R(k)+ / sum_j R(j)+`` (uniform when no regret is positive).

    - ``feedback="full"``: ``R += u - q . u`` each round. Since ``R+ . (u - q . u) = 0``,
      ``||R_T+||^2 <= sum_t ||u_t - q_t . u_t||^2 <= T (K - 1)``, so the regret of the mixed
      strategies is at most ``sqrt(T (K - 1))`` for every sequence of payoffs in ``[0, 1]``.
    - ``feedback="bandit"`` (the reinforcement variant of Hart and Mas-Colell 2001): it plays
      ``p = (1 - gamma) q + gamma / K`` and updates ``R`` with the estimate ``u_hat(k) = x /
      p(k)`` at the played ``k`` (0 elsewhere). The same argument gives ``E ||R_T+||^2 <= T
      (K^2 / gamma + (K - 1) / (1 - gamma))``, and playing ``p`` instead of ``q`` costs at most
      ``gamma T``: the expected regret is at most ``gamma T + sqrt(T (K^2 / gamma + (K - 1) /
      (1 - gamma)))`` (proof in the docs); the default ``gamma = min(1/2, (K^2 / (4 H))^(1/3))``
      makes it ``O(H^(2/3))``.

    Parameters
    ----------
    n_actions, horizon, n_agents, feedback
        As :class:`Learner`.
    gamma : float, optional
        Exploration share in ``(0, 1)`` (bandit feedback only).
    """

    name = "regret_matching"

    def __init__(self, n_actions: int, horizon: int, n_agents: int = 0, *, feedback: str = "bandit",
                 gamma: float | None = None) -> None:
        super().__init__(n_actions, horizon, n_agents, feedback)
        k = self.n_actions
        self.guarantee = "always" if self.feedback == "full" else "expected"  # type: ignore[misc]
        if self.feedback == "full":
            if gamma is not None:
                raise ValueError("gamma applies to feedback='bandit' only")
            self.gamma = 0.0
        elif gamma is None:
            self.gamma = min(0.5, (k * k / (4.0 * self.horizon)) ** (1.0 / 3.0))
        else:
            self.gamma = check_real("gamma", gamma, positive=True, maximum=0.999)

    def _init_state(self) -> None:
        self.regret = np.zeros((0, self.n_actions))

    def _append(self, n: int) -> None:
        self.regret = np.concatenate([self.regret, np.zeros((n, self.n_actions))])

    def _matching(self, agents: np.ndarray | None) -> np.ndarray:
        r = self.regret if agents is None else self.regret[agents]
        pos = np.maximum(r, 0.0)
        total = pos.sum(axis=1, keepdims=True)
        uniform = np.full_like(pos, 1.0 / self.n_actions)
        return np.where(total > 0, pos / np.where(total > 0, total, 1.0), uniform)

    def _probs(self, agents: np.ndarray | None) -> np.ndarray:
        q = self._matching(agents)
        return q if self.feedback == "full" else (1.0 - self.gamma) * q + self.gamma / self.n_actions

    def _update(self, agents: np.ndarray, actions: np.ndarray, payoff: np.ndarray, payoffs: np.ndarray | None) -> None:
        q = self._matching(agents)
        if self.feedback == "full":
            assert payoffs is not None
            self.regret[agents] += payoffs - (q * payoffs).sum(axis=1, keepdims=True)
            return
        rows = np.arange(agents.size)
        p = (1.0 - self.gamma) * q[rows, actions] + self.gamma / self.n_actions
        est = payoff / p
        self.regret[agents] -= (q[rows, actions] * est)[:, None]
        self.regret[agents, actions] += est

    def regret_bound(self, rounds: int | None = None) -> float:
        t = self._rounds(rounds)
        k = self.n_actions
        if self.feedback == "full":
            return math.sqrt(t * (k - 1))
        g = self.gamma
        return g * t + math.sqrt(t * (k * k / g + (k - 1) / (1.0 - g)))

    def describe(self) -> str:
        return "regret_matching(full)" if self.feedback == "full" else f"regret_matching(gamma={self.gamma:.4g})"


class BestResponse(Learner):
    """Best response with inertia: keep the last action, or switch to the best one so far.

    Each round an agent explores with probability ``explore`` (a uniformly random action);
    otherwise it keeps its held action with probability ``inertia`` and else switches to the
    action with the highest mean payoff so far (actions never tried first, lowest index
    first; a tie keeps the held action). Its estimates are the mean payoff of each action when
    played (``feedback="bandit"``) or of every action every round (``"full"``: fictitious play
    with inertia).

    No worst-case regret bound exists for it (no rule that best-responds to the past has one).
    Against a stationary environment (each action's payoff the same every round, gaps at most
    1) its expected regret after ``T`` rounds is at most ``explore T + K / (1 - inertia)``:
    exploring costs at most ``explore T``; outside exploration the held action is wrong only
    before the ``K``-th switch (each switch tries an untried action until none is left, then
    takes the best), and each non-exploring round switches with probability ``1 - inertia``.

    Parameters
    ----------
    n_actions, horizon, n_agents, feedback
        As :class:`Learner`.
    inertia : float, default 0.5
        Chance of keeping the held action, in ``[0, 1)``.
    explore : float, default 0.05
        Chance of a uniformly random action, in ``[0, 1]``.
    """

    name = "best_response"
    guarantee = "stationary"

    def __init__(self, n_actions: int, horizon: int, n_agents: int = 0, *, feedback: str = "bandit",
                 inertia: float = 0.5, explore: float = 0.05) -> None:
        self.inertia = check_real("inertia", inertia, minimum=0.0)
        if self.inertia >= 1.0:
            raise ValueError(f"inertia = {inertia!r} must be < 1 (1 never switches)")
        self.explore = check_fraction("explore", explore)
        super().__init__(n_actions, horizon, n_agents, feedback)

    def _init_state(self) -> None:
        self.total = np.zeros((0, self.n_actions))
        self.count = np.zeros((0, self.n_actions))
        self.held = np.zeros(0, dtype=np.int64)

    def _append(self, n: int) -> None:
        self.total = np.concatenate([self.total, np.zeros((n, self.n_actions))])
        self.count = np.concatenate([self.count, np.zeros((n, self.n_actions))])
        self.held = np.concatenate([self.held, np.full(n, -1, dtype=np.int64)])

    def _best(self, agents: np.ndarray) -> np.ndarray:
        count = self.count[agents]
        mean = np.where(count > 0, self.total[agents] / np.maximum(count, 1.0), np.inf)
        top = mean == mean.max(axis=1, keepdims=True)
        held = self.held[agents]
        keep = (held >= 0) & top[np.arange(agents.size), np.maximum(held, 0)]
        return np.where(keep, held, top.argmax(axis=1))

    def _probs(self, agents: np.ndarray | None) -> np.ndarray:
        a = np.arange(self.n_agents) if agents is None else agents
        k = self.n_actions
        rows = np.arange(a.size)
        held = self.held[a]
        p = np.full((a.size, k), self.explore / k)
        stay = np.where(held >= 0, self.inertia, 0.0)
        np.add.at(p, (rows, np.maximum(held, 0)), (1.0 - self.explore) * stay)
        np.add.at(p, (rows, self._best(a)), (1.0 - self.explore) * (1.0 - stay))
        return p

    def _draw(self, agents: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        a = agents
        u = rng.random((a.size, 3))
        held = self.held[a]
        switch = (held < 0) | (u[:, 1] >= self.inertia)
        explore = u[:, 0] < self.explore
        # an exploring round leaves the held action (and the switch decision) alone
        new_held = np.where(switch & ~explore, self._best(a), held)
        self.held[a] = new_held
        random_action = np.minimum((u[:, 2] * self.n_actions).astype(np.int64), self.n_actions - 1)
        return np.where(explore | (new_held < 0), random_action, new_held)

    def _update(self, agents: np.ndarray, actions: np.ndarray, payoff: np.ndarray, payoffs: np.ndarray | None) -> None:
        if self.feedback == "full":
            assert payoffs is not None
            self.total[agents] += payoffs
            self.count[agents] += 1.0
        else:
            self.total[agents, actions] += payoff
            self.count[agents, actions] += 1.0

    def regret_bound(self, rounds: int | None = None) -> float:
        t = self._rounds(rounds)
        return self.explore * t + self.n_actions / (1.0 - self.inertia)

    def describe(self) -> str:
        return f"best_response(inertia={self.inertia:g}, explore={self.explore:g}, {self.feedback})"


#: Learners by name.
LEARNERS: dict[str, type[Learner]] = {c.name: c for c in (Hedge, Exp3, RegretMatching, BestResponse)}


def make_learner(name: str, n_actions: int, horizon: int, **options: Any) -> Learner:
    """A learner of :data:`LEARNERS` by name, e.g. ``make_learner("exp3", 2, 1000)``."""
    if not isinstance(name, str) or name not in LEARNERS:
        raise ValueError(f"learner = {name!r} must be one of {sorted(LEARNERS)}")
    return LEARNERS[name](n_actions, horizon, **options)
