"""External regret of an action history: the best fixed action in hindsight against what was
earned (the measure the learners' bounds speak of, :mod:`oasis_lab.agents.learners`).

For an agent that played ``a_1 .. a_T`` and earned ``x_1 .. x_T``, with ``u_t(k)`` what action
``k`` would have earned in round ``t`` (the others' actions and the round's draws fixed), the
external regret is ``max_k sum_t u_t(k) - sum_t x_t``. It may be negative (an agent that
switched at the right times beats every fixed action). Averaged over rounds it goes to 0 for a
no-regret learner; in a game, every agent's average regret at most ``eps`` makes the empirical
distribution of play an ``eps``-coarse correlated equilibrium.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Regret", "external_regret"]


@dataclass(frozen=True, eq=False)
class Regret:
    """External regret of ``n`` agents.

    Attributes
    ----------
    regret : numpy.ndarray, shape (n,)
        ``best_total - earned``.
    best_action : numpy.ndarray of int64, shape (n,)
        The best fixed action in hindsight (lowest index among ties).
    best_total : numpy.ndarray, shape (n,)
        What it would have earned over the rounds the agent played.
    earned : numpy.ndarray, shape (n,)
        What the agent earned.
    rounds : numpy.ndarray of int64, shape (n,)
        Rounds the agent played.
    """

    regret: np.ndarray
    best_action: np.ndarray
    best_total: np.ndarray
    earned: np.ndarray
    rounds: np.ndarray

    @property
    def average(self) -> np.ndarray:
        """Regret per round played (0 for an agent that never played)."""
        return np.where(self.rounds > 0, self.regret / np.maximum(self.rounds, 1), 0.0)

    def to_frame(self) -> pd.DataFrame:
        """One row per agent."""
        return pd.DataFrame({"regret": self.regret, "average_regret": self.average,
                             "best_action": self.best_action, "best_total": self.best_total,
                             "earned": self.earned, "rounds": self.rounds})


def external_regret(payoffs: Any, chosen: Any = None, *, earned: Any = None, played: Any = None) -> Regret:
    """External regret from what every action would have earned each round.

    Parameters
    ----------
    payoffs : array_like, shape (T, K) or (T, n, K)
        ``u_t(k)`` of each round (and agent).
    chosen : array_like of int, shape (T,) or (T, n), optional
        The action played each round; the earned payoff is then ``u_t(chosen_t)``.
    earned : array_like, shape (T,) or (T, n), optional
        What was earned each round (e.g. a mixed strategy's expected payoff); overrides
        ``chosen``. One of the two is required.
    played : array_like of bool, shape (T,) or (T, n), optional
        Rounds each agent played (default all); the others count on neither side.

    Returns
    -------
    Regret
        Per agent (a single agent for ``(T, K)`` payoffs).

    Examples
    --------
    >>> u = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    >>> r = external_regret(u, chosen=[1, 0, 1])
    >>> r.regret.tolist(), r.best_action.tolist()
    ([2.0], [0])
    """
    u = np.asarray(payoffs, dtype=np.float64)
    if u.ndim == 2:
        u = u[:, None, :]
    if u.ndim != 3 or u.shape[0] == 0 or u.shape[2] == 0:
        raise ValueError(f"payoffs must have shape (T, K) or (T, n, K) with T, K >= 1, got {np.shape(payoffs)}")
    if not np.isfinite(u).all():
        raise ValueError("payoffs must be finite")
    t, n, k = u.shape

    def per_agent(name: str, x: Any, dtype: Any) -> np.ndarray:
        a = np.asarray(x)
        if a.ndim == 1:
            a = a[:, None]
        if a.shape != (t, n):
            raise ValueError(f"{name} must have shape {(t,) if n == 1 else (t, n)}, got {np.shape(x)}")
        return a.astype(dtype)

    mask = np.ones((t, n), dtype=bool) if played is None else per_agent("played", played, bool)
    if earned is not None:
        got = per_agent("earned", earned, np.float64)
        if not np.isfinite(got).all():
            raise ValueError("earned must be finite")
    elif chosen is not None:
        c = np.asarray(chosen)
        if c.dtype.kind not in "iu":
            raise TypeError(f"chosen must hold integer action indices, got dtype {c.dtype}")
        c = per_agent("chosen", c, np.int64)
        if c.size and (int(c.min()) < 0 or int(c.max()) >= k):
            raise ValueError(f"chosen must be action indices in [0, {k}), got {int(c.min())}..{int(c.max())}")
        got = np.take_along_axis(u, c[:, :, None], axis=2)[:, :, 0]
    else:
        raise ValueError("give chosen (the actions played) or earned (what was earned)")
    totals = np.where(mask[:, :, None], u, 0.0).sum(axis=0)
    best = totals.argmax(axis=1)
    best_total = totals[np.arange(n), best]
    earned_total = np.where(mask, got, 0.0).sum(axis=0)
    return Regret(regret=best_total - earned_total, best_action=best.astype(np.int64), best_total=best_total,
                  earned=earned_total, rounds=mask.sum(axis=0).astype(np.int64))
