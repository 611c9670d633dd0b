"""Strategic bidding: best-response dynamics over shading factors (whitepaper section 4.2).

Under the midpoint price of PRICES a user pays half her reported per-unit price, so she
shades; a provider is paid half its reported unit cost, so it marks up (the bilateral
k-double auction of Chatterjee and Samuelson 1983, here at market scale). Each agent picks a
factor from a grid:

- user ``i`` reports ``v_i - s_i max(v_i - e_i, 0)``: she withholds a share ``s_i`` of her
  surplus (``s_i = 0`` is the truth);
- provider ``j`` reports the cost ``c_j (1 + m_j)``: a markup ``m_j``.

:func:`best_response_dynamics` starts from the truth and sweeps the agents in a seeded random
order; each in turn switches to its best factor given everyone's current reports
(Gauss-Seidel). A sweep in which nobody moves has checked every unilateral deviation on the
grid: the profile is then a pure equilibrium *on the grid* (not a proof of one off the grid;
the dynamics may also cycle, and a run that stops at ``max_sweeps`` says so). The welfare is
always scored on the true values and costs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.auction.pricing import user_costs
from oasis_lab.checks import check_int, check_real
from oasis_lab.incentives.manipulability import GAIN_ATOL, GAIN_RTOL
from oasis_lab.incentives.outcomes import check_run_args, run_mechanism
from oasis_lab.market import Market
from oasis_lab.params import AuctionParams
from oasis_lab.seeding import check_seed, child_seed, stream

__all__ = [
    "PROVIDER_MARKUPS",
    "USER_SHADES",
    "EquilibriumResult",
    "best_response_dynamics",
    "check_strategy_grids",
    "shaded_reports",
]

#: Default user shading factors (share of surplus withheld).
USER_SHADES: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
#: Default provider markups on the cost.
PROVIDER_MARKUPS: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)


@dataclass(frozen=True, eq=False)
class EquilibriumResult:
    """Outcome of :func:`best_response_dynamics`.

    Attributes
    ----------
    shade : numpy.ndarray, shape (n_tasks,)
        Each user's final shading factor.
    markup : numpy.ndarray, shape (n_providers,)
        Each provider's final markup.
    converged : bool
        The last sweep moved nobody: no agent gains by a unilateral deviation on the grid.
    sweeps : pandas.DataFrame
        One row per sweep: ``sweep``, ``moves`` (agents that switched), ``max_gain`` (largest
        improvement taken), ``welfare`` (true welfare after the sweep), ``mean_shade``,
        ``mean_markup``.
    welfare_truth : float
        Welfare at truthful reports.
    welfare : float
        Welfare at the final profile (true values and costs).
    reports : Market
        The final reported market.
    """

    shade: np.ndarray
    markup: np.ndarray
    converged: bool
    sweeps: pd.DataFrame
    welfare_truth: float
    welfare: float
    reports: Market


def shaded_reports(market: Market, shade: np.ndarray, markup: np.ndarray, params: AuctionParams) -> Market:
    """The reports of a profile of shading factors (module docstring)."""
    surplus = np.maximum(market.value - user_costs(market, params), 0.0)
    value = market.value - shade * surplus
    # A report must stay > 0 (Market's contract); e_i >= beta keeps it so unless beta = 0.
    value = np.maximum(value, np.nextafter(0.0, 1.0))
    return market.replace(value=value, cost=market.cost * (1.0 + markup))


def check_strategy_grids(
    user_shades: Sequence[float], provider_markups: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """The shading and markup grids as arrays, or one error naming the grid.

    Shades must lie in ``[0, 0.999]`` (a user withholds less than all her surplus), markups
    be ``>= 0``, and each grid contain 0 (the truthful report).
    """
    for name, grid in (("user_shades", user_shades), ("provider_markups", provider_markups)):
        if isinstance(grid, (str, bytes)) or not isinstance(grid, Sequence | np.ndarray):
            raise TypeError(f"{name} must be a sequence of numbers, got {grid!r}")
    shades = np.array([check_real("user_shades", s, minimum=0.0, maximum=0.999) for s in user_shades])
    markups = np.array([check_real("provider_markups", m, minimum=0.0) for m in provider_markups])
    for name, values in (("user_shades", shades), ("provider_markups", markups)):
        if not (values == 0).any():
            raise ValueError(f"{name} must contain 0 (the truthful report)")
    return shades, markups


def best_response_dynamics(
    market: Market,
    mechanism: str = "greedy",
    params: AuctionParams = AuctionParams(),
    *,
    user_shades: Sequence[float] = USER_SHADES,
    provider_markups: Sequence[float] = PROVIDER_MARKUPS,
    max_sweeps: int = 12,
    seed: int = 0,
    options: Mapping[str, Any] | None = None,
) -> EquilibriumResult:
    """Iterated best responses over shading factors, from the truth (module docstring).

    Parameters
    ----------
    market : Market
        True values and costs.
    mechanism : str
        A mechanism with an outcome in :data:`oasis_lab.auction.mechanisms.MECHANISMS`
        (``"greedy"`` is the midpoint rule under ``params``).
    params : AuctionParams
    user_shades, provider_markups : sequence of float
        The grids; shades in ``[0, 1)``, markups ``>= 0``; each must contain 0 (the truth).
    max_sweeps : int
        Stop after this many sweeps (``converged=False`` if the last one still moved).
    seed : int
        Root seed of the sweep orders (``stream(seed, "strategies", sweep)``).
    options : mapping, optional
        Passed to :func:`~oasis_lab.incentives.outcomes.run_mechanism`.

    Returns
    -------
    EquilibriumResult
    """
    entry = check_run_args(market, mechanism, params)
    shades, markups = check_strategy_grids(user_shades, provider_markups)
    max_sweeps = check_int("max_sweeps", max_sweeps, 1)
    seed = check_seed(seed)
    opts = dict(options or {})

    def run(shade: np.ndarray, markup: np.ndarray, focus: Any = None) -> Any:
        reported = shaded_reports(market, shade, markup, params)
        extra = dict(opts)
        if entry.partial_payments and focus is not None:
            extra["payments_for"] = focus  # only the deviating user's critical value matters
        return run_mechanism(reported, mechanism, params, seed=child_seed(seed, "lotteries"), **extra)

    shade = np.zeros(market.n_tasks)
    markup = np.zeros(market.n_providers)
    truth = run(shade, markup, [])
    welfare_truth = truth.welfare(market, params)
    agents = [("user", i) for i in range(market.n_tasks)] + [("provider", j) for j in range(market.n_providers)]
    history = []
    converged = False
    for sweep in range(max_sweeps):
        order = stream(seed, "strategies", sweep).permutation(len(agents))
        moves = 0
        max_gain = 0.0
        for a in order:
            side, k = agents[a]
            grid = shades if side == "user" else markups
            current = shade[k] if side == "user" else markup[k]
            utils = np.empty(grid.shape[0])
            for g, x in enumerate(grid):
                s, m = shade.copy(), markup.copy()
                if side == "user":
                    s[k] = x
                else:
                    m[k] = x
                uu, up = run(s, m, [k] if side == "user" else []).utilities(market, params)
                utils[g] = uu[k] if side == "user" else up[k]
            now = float(utils[int(np.flatnonzero(grid == current)[0])])
            best = int(np.argmax(utils))
            gain = float(utils[best]) - now
            if gain > GAIN_ATOL + GAIN_RTOL * abs(now):
                moves += 1
                max_gain = max(max_gain, gain)
                if side == "user":
                    shade[k] = grid[best]
                else:
                    markup[k] = grid[best]
        welfare = run(shade, markup, []).welfare(market, params)
        history.append({"sweep": sweep + 1, "moves": moves, "max_gain": max_gain, "welfare": welfare,
                        "mean_shade": float(shade.mean()), "mean_markup": float(markup.mean())})
        if moves == 0:
            converged = True
            break
    return EquilibriumResult(
        shade=shade,
        markup=markup,
        converged=converged,
        sweeps=pd.DataFrame(history),
        welfare_truth=float(welfare_truth),
        welfare=float(history[-1]["welfare"]),
        reports=shaded_reports(market, shade, markup, params),
    )
