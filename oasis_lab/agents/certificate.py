"""Epsilon-Nash certificates: each agent's best unilateral deviation, searched off any grid.

A profile of actions (one real number per agent: a shading factor, a markup, a bid, a rate) is
an **epsilon-Nash equilibrium** when no agent gains more than ``epsilon`` by changing its own
action with the others fixed. :func:`certify` searches each agent's best deviation over its
whole action interval, not a grid: a dense scan of ``scan`` evenly spaced points (the
current action included) brackets the maxima, then bounded Brent minimisation
(``scipy.optimize.minimize_scalar(method="bounded")``) refines the ``refine`` best local maxima
of the scan to ``xtol``. The certificate reports, per agent, the best deviation found, its
utility and its gain over the current action, and whether the largest gain is at most
``epsilon``. Nothing is called an equilibrium unless :attr:`Certificate.passed` holds.

What a passed certificate claims: the search found no deviation worth more than ``epsilon``.
A deviation hidden inside one scan interval, narrower than it and away from the scan's maxima,
can escape any finite search; ``scan`` sets that width (``(hi - lo) / (scan - 1)``) and the
table reports it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar

from oasis_lab.checks import check_int, check_real

__all__ = ["Certificate", "Deviation", "best_deviation", "certify"]


@dataclass(frozen=True)
class Deviation:
    """One agent's best unilateral deviation.

    Attributes
    ----------
    current, utility : float
        Its action and the utility there.
    best, best_utility : float
        The best action found and its utility.
    gain : float
        ``best_utility - utility`` (>= 0: the current action is among the candidates).
    at_bound : bool
        The best action is at an end of the interval (a cap may bind).
    evaluations : int
        Utility evaluations spent.
    """

    current: float
    utility: float
    best: float
    best_utility: float
    gain: float
    at_bound: bool
    evaluations: int


def _bounds(name: str, pair: Any) -> tuple[float, float]:
    if not isinstance(pair, (tuple, list, np.ndarray)) or len(pair) != 2:
        raise TypeError(f"{name} must be a pair (lo, hi), got {pair!r}")
    lo, hi = check_real(f"{name}[0]", pair[0]), check_real(f"{name}[1]", pair[1])
    if not lo < hi:
        raise ValueError(f"{name} = ({lo}, {hi}) must have lo < hi")
    return lo, hi


def best_deviation(
    utility: Callable[[Any], Any],
    bounds: tuple[float, float],
    *,
    current: float | None = None,
    scan: int = 201,
    refine: int = 4,
    xtol: float = 1e-10,
    vectorized: bool = False,
) -> Deviation:
    """The maximum of ``utility`` over ``bounds`` by a scan and bounded Brent refinement.

    Parameters
    ----------
    utility : callable
        ``utility(x) -> float`` (``vectorized``: ``utility(xs) -> array``).
    bounds : (float, float)
        The action interval ``[lo, hi]``.
    current : float, optional
        The agent's action (default ``lo``), scanned too; the gain is measured from it.
    scan : int, default 201
        Evenly spaced scan points (>= 3).
    refine : int, default 4
        Local maxima of the scan refined by Brent's method (>= 1).
    xtol : float, default 1e-10
        Brent's absolute tolerance on the action.

    Examples
    --------
    >>> d = best_deviation(lambda x: -(x - 0.3217) ** 2, (0.0, 1.0), current=0.5)
    >>> round(d.best, 6), d.gain > 0
    (0.3217, True)
    """
    lo, hi = _bounds("bounds", bounds)
    scan = check_int("scan", scan, 3)
    refine = check_int("refine", refine, 1)
    xtol = check_real("xtol", xtol, positive=True)
    x0 = lo if current is None else check_real("current", current)
    if not lo <= x0 <= hi:
        raise ValueError(f"current = {x0} is outside bounds ({lo}, {hi})")
    evaluations = 0

    def f(x: float) -> float:
        nonlocal evaluations
        evaluations += 1
        y = float(np.asarray(utility(np.array([x]) if vectorized else x)).reshape(-1)[0])
        if not np.isfinite(y):
            raise ValueError(f"utility({float(x)!r}) = {y} must be finite")
        return y

    xs = np.union1d(np.linspace(lo, hi, scan), [x0])
    if vectorized:
        ys = np.asarray(utility(xs), dtype=np.float64).reshape(-1)
        evaluations += xs.size
        if ys.shape != xs.shape:
            raise ValueError(f"a vectorized utility must return one value per action, got shape {ys.shape}")
        if not np.isfinite(ys).all():
            i = int(np.flatnonzero(~np.isfinite(ys))[0])
            raise ValueError(f"utility({float(xs[i])!r}) = {ys[i]} must be finite")
    else:
        # one call per scan point: a utility is typically a whole market run
        ys = np.array([f(x) for x in xs])
    u0 = float(ys[int(np.flatnonzero(xs == x0)[0])])
    # local maxima of the scan (plateaus included), best first
    left = np.concatenate([[-np.inf], ys[:-1]])
    right = np.concatenate([ys[1:], [-np.inf]])
    peaks = np.flatnonzero((ys >= left) & (ys >= right))
    peaks = peaks[np.argsort(-ys[peaks], kind="stable")][:refine]
    cand_x: list[float] = xs.tolist()
    cand_y: list[float] = ys.tolist()
    for i in peaks.tolist():
        a, b = xs[max(i - 1, 0)], xs[min(i + 1, xs.size - 1)]
        res = minimize_scalar(lambda x: -f(x), bounds=(a, b), method="bounded", options={"xatol": xtol})
        cand_x.append(float(res.x))
        cand_y.append(-float(res.fun))
    j = int(np.argmax(cand_y))
    best, best_u = float(cand_x[j]), float(cand_y[j])
    return Deviation(current=x0, utility=u0, best=best, best_utility=best_u, gain=max(best_u - u0, 0.0),
                     at_bound=bool(min(best - lo, hi - best) <= xtol), evaluations=evaluations)


@dataclass(frozen=True, eq=False)
class Certificate:
    """An epsilon-Nash certificate of a profile.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per agent: ``agent``, ``current``, ``utility``, ``best``, ``best_utility``,
        ``gain``, ``at_bound``, ``lo``, ``hi``, ``scan_step``.
    epsilon : float
        The stated tolerance (utility units).
    """

    table: pd.DataFrame
    epsilon: float

    @property
    def max_gain(self) -> float:
        """The largest gain of a unilateral deviation found."""
        return float(self.table["gain"].max()) if len(self.table) else 0.0

    @property
    def passed(self) -> bool:
        """No agent gains more than ``epsilon``: the profile is an epsilon-Nash equilibrium."""
        return self.max_gain <= self.epsilon

    @property
    def deviators(self) -> pd.DataFrame:
        """The agents that gain more than ``epsilon``, largest gain first."""
        return self.table[self.table["gain"] > self.epsilon].sort_values("gain", ascending=False)

    @property
    def label(self) -> str:
        """What the profile may be called."""
        if self.passed:
            return f"{self.epsilon:g}-Nash equilibrium (max deviation gain {self.max_gain:.3g})"
        return (f"not an equilibrium: {len(self.deviators)} of {len(self.table)} agents gain more than "
                f"{self.epsilon:g} (max {self.max_gain:.3g})")


def certify(
    utility: Callable[[int, Any], Any],
    profile: Sequence[float] | np.ndarray,
    bounds: Any,
    *,
    epsilon: float,
    agents: Sequence[Any] | None = None,
    scan: int = 201,
    refine: int = 4,
    xtol: float = 1e-10,
    vectorized: bool = False,
) -> Certificate:
    """Certify ``profile``: every agent's best unilateral deviation, and max gain <= epsilon.

    Parameters
    ----------
    utility : callable
        ``utility(i, x)``: agent ``i``'s utility when it alone plays ``x`` and every other
        agent plays its action in ``profile`` (``vectorized``: ``x`` is an array of actions).
    profile : sequence of float
        Each agent's action.
    bounds : (lo, hi) or sequence of (lo, hi)
        Each agent's action interval (one pair for all). Give the natural interval: a cap
        inside it hides the deviations beyond (``at_bound`` shows where the best is at a cap).
    epsilon : float
        The tolerance (>= 0, utility units).
    agents : sequence, optional
        Labels for the table's ``agent`` column (default ``0 .. n - 1``).
    scan, refine, xtol, vectorized
        As :func:`best_deviation`.

    Returns
    -------
    Certificate
    """
    x = np.asarray(profile, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"profile must be a non-empty 1-D sequence of actions, got shape {x.shape}")
    eps = check_real("epsilon", epsilon, minimum=0.0)
    n = x.size
    b = np.asarray(bounds, dtype=object)
    if b.ndim == 1 and len(b) == 2 and not isinstance(b[0], (tuple, list, np.ndarray)):
        pairs = [_bounds("bounds", tuple(bounds))] * n
    else:
        if len(bounds) != n:
            raise ValueError(f"bounds has {len(bounds)} pairs for {n} agents")
        pairs = [_bounds(f"bounds[{i}]", p) for i, p in enumerate(bounds)]
    labels = list(range(n)) if agents is None else list(agents)
    if len(labels) != n:
        raise ValueError(f"agents has {len(labels)} labels for {n} agents")
    rows = []
    # one search per agent: each evaluates that agent's own deviations (a market run each)
    for i in range(n):
        lo, hi = pairs[i]
        d = best_deviation(functools.partial(utility, i), (lo, hi), current=float(x[i]), scan=scan,
                           refine=refine, xtol=xtol, vectorized=vectorized)
        rows.append({"agent": labels[i], "current": d.current, "utility": d.utility, "best": d.best,
                     "best_utility": d.best_utility, "gain": d.gain, "at_bound": d.at_bound,
                     "lo": lo, "hi": hi, "scan_step": (hi - lo) / (scan - 1)})
    return Certificate(table=pd.DataFrame(rows), epsilon=eps)
