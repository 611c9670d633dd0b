"""Measured privacy loss of the DP clearing price (McSherry and Talwar 2007; whitepaper section 3).

Section 3 calls the auction "differential privacy-based". The exponential-mechanism clearing
price (:func:`~oasis_lab.auction.baselines.double_auction.dp_clearing_price`) promises that
two report profiles that differ in *one agent's whole report* (a user's bid, or every ask of
one provider) give price distributions within a factor ``exp(epsilon)`` of each other. This
module measures the promise instead of assuming it: the privacy loss of a pair of profiles is
``max_p |log Pr[p | profile] - log Pr[p | neighbour]|`` over the grid, and
:func:`worst_privacy_loss` takes the largest over every agent and every alternative report
on a grid (exact probabilities, no sampling).

``grid="from_reports"`` reproduces the grid the compare CLI used to take (201 prices on
``[0, max report]``), and ``per_unit=True`` the per-unit sensitivity ``hi - lo``: each voids
the guarantee, and the measurement shows by how much.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.auction.baselines.double_auction import dp_clearing_price, unit_sides
from oasis_lab.checks import check_real
from oasis_lab.market import Market
from oasis_lab.params import AuctionParams

__all__ = ["price_distribution", "privacy_loss", "worst_privacy_loss"]


def price_distribution(
    bids: np.ndarray,
    asks: np.ndarray,
    owner: np.ndarray,
    epsilon: float,
    grid: Any,
    *,
    per_unit: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Grid and price probabilities of the DP clearing price on these reports.

    ``grid="from_reports"`` takes 201 prices on ``[0, max(bids, asks, 1)]`` (the old,
    non-private default); ``per_unit=True`` uses the sensitivity of one unit instead of one
    agent's whole supply.
    """
    if isinstance(grid, str):
        if grid != "from_reports":
            raise ValueError(f"grid = {grid!r}: give prices or 'from_reports'")
        top = max(float(bids.max(initial=0.0)), float(asks.max(initial=0.0)), 1.0)
        grid = np.linspace(0.0, top, 201)
    m = 1 if per_unit else max(int(np.bincount(owner).max(initial=1)), 1)
    res = dp_clearing_price(bids, asks, epsilon, grid, 0, max_units_per_agent=m,
                            ask_owner=None if per_unit else owner)
    return res.grid, res.probabilities


def privacy_loss(grid_a: np.ndarray, prob_a: np.ndarray, grid_b: np.ndarray, prob_b: np.ndarray) -> float:
    """``max_p |log Pr_a[p] - log Pr_b[p]|`` over the union of both grids (``inf`` when a price
    possible under one profile is impossible under the other)."""
    prices = np.union1d(grid_a, grid_b)
    pa = np.zeros(prices.shape[0])
    pb = np.zeros(prices.shape[0])
    pa[np.searchsorted(prices, grid_a)] += prob_a
    pb[np.searchsorted(prices, grid_b)] += prob_b
    both = (pa > 0) & (pb > 0)
    if ((pa > 0) != (pb > 0)).any():
        return float("inf")
    return float(np.abs(np.log(pa[both]) - np.log(pb[both])).max(initial=0.0))


def worst_privacy_loss(
    market: Market,
    epsilon: float,
    grid: Any,
    params: AuctionParams = AuctionParams(),
    *,
    report_grid: Any = (0.0, 0.25, 0.5, 2.0, 4.0, 100.0),
    per_unit: bool = False,
) -> pd.DataFrame:
    """Privacy loss of the DP price over every agent's neighbouring profiles.

    Parameters
    ----------
    market : Market
        Single-type, unit-demand (see
        :func:`~oasis_lab.auction.baselines.double_auction.unit_demand_market`).
    epsilon : float
    grid : array_like or "from_reports"
        The public grid, or the old report-dependent one.
    params : AuctionParams
    report_grid : sequence of float
        Each agent's alternative report is ``factor * its report`` (a provider's factor moves
        all its asks together); factors may be 0 (a zero report).
    per_unit : bool
        Use one unit's sensitivity (the old neighbour relation).

    Returns
    -------
    pandas.DataFrame
        One row per (agent, factor): ``side``, ``agent``, ``units`` (asks the agent holds),
        ``factor``, ``loss``. Its ``loss.max()`` is the worst privacy loss; the guarantee says
        it is at most ``epsilon``.
    """
    eps = check_real("epsilon", epsilon, positive=True)
    factors = [check_real("report_grid", f, minimum=0.0) for f in report_grid]
    sides = unit_sides(market, params)
    bids, asks, owner = sides.bids, sides.asks, sides.ask_provider
    base = price_distribution(bids, asks, owner, eps, grid, per_unit=per_unit)
    rows = []
    for i in range(bids.shape[0]):
        for f in factors:
            b = bids.copy()
            b[i] = bids[i] * f
            loss = privacy_loss(*base, *price_distribution(b, asks, owner, eps, grid, per_unit=per_unit))
            rows.append({"side": "user", "agent": int(sides.bid_task[i]), "units": 1, "factor": f, "loss": loss})
    for j in np.unique(owner):
        mine = owner == j
        for f in factors:
            s = asks.copy()
            s[mine] = asks[mine] * f
            loss = privacy_loss(*base, *price_distribution(bids, s, owner, eps, grid, per_unit=per_unit))
            rows.append({"side": "provider", "agent": int(j), "units": int(mine.sum()), "factor": f, "loss": loss})
    return pd.DataFrame(rows)
