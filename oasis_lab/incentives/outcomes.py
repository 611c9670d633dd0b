"""Every mechanism of the package behind one interface: reports in, expected outcome out.

An incentive question ("does agent ``a`` gain by reporting ``x``?") needs the *allocation and
transfers* a mechanism computes from the reports, and the *true* values and costs to score
them. :func:`run_mechanism` runs a mechanism on a report market and returns an
:class:`Outcome` (expected over any lottery: SBBA's seller draw, the DP price draw), and
:meth:`Outcome.utilities` scores it against the true market (whitepaper section 4's
utilities: a user earns ``sigma_i (v_i - e_i) - payment_i``, a provider
``revenue_j - sum_t u[j, t] x[j, t]`` with its true unit cost ``u``).

Mechanisms (:data:`MECHANISMS`):

- ``"greedy"``: PRICES (:func:`~oasis_lab.auction.greedy.run_greedy`) under the readings of
  ``params`` (each greedy reading is a ``params``);
- ``"truthful"``: the truthful variant of the greedy
  (:func:`~oasis_lab.incentives.truthful.truthful_greedy`), needs ``reference_price``;
- ``"mcafee"``, ``"sbba"``, ``"dp"``: the double auctions of
  :mod:`oasis_lab.auction.baselines.double_auction` on single-type unit-demand markets
  (``"dp"`` needs a public ``grid``);
- ``"vcg"``: the exact optimum with Clarke payments (small markets);
- ``"first_price"``: a deliberately non-truthful toy (the greedy's allocation, every served
  user pays its whole reported net value, every trading provider receives its reported cost),
  used to show that :func:`~oasis_lab.incentives.manipulability.manipulability` finds lies.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from oasis_lab.auction.baselines.double_auction import (
    DPClearingResult,
    gains_from_trade,
    run_double_auction,
)
from oasis_lab.auction.baselines.vcg import vcg
from oasis_lab.auction.greedy import run_greedy
from oasis_lab.auction.pricing import social_welfare, unit_cost_matrix, user_costs
from oasis_lab.market import Market
from oasis_lab.params import AuctionParams

__all__ = ["MECHANISMS", "Outcome", "check_run_args", "run_mechanism"]

MECHANISMS: tuple[str, ...] = ("greedy", "truthful", "mcafee", "sbba", "dp", "vcg", "first_price")


@dataclass(frozen=True, eq=False)
class Outcome:
    """Expected allocation and transfers of one mechanism run on reported values.

    Attributes
    ----------
    served_share : numpy.ndarray, shape (n_tasks,)
        Expected ``sigma_i`` (probability of being served for an all-or-nothing task).
    payment : numpy.ndarray, shape (n_tasks,)
        Expected payment of each user.
    units_source : numpy.ndarray or callable
        Expected units each provider serves of each type, shape (n_providers, n_types), or a
        function returning them: reading the greedy's trades table is the costly part of a
        scan, and a user's utility does not need it (see :attr:`units`).
    revenue : numpy.ndarray, shape (n_providers,)
        Expected revenue of each provider.
    """

    served_share: np.ndarray
    payment: np.ndarray
    units_source: np.ndarray | Callable[[], np.ndarray]
    revenue: np.ndarray

    @cached_property
    def units(self) -> np.ndarray:
        """Expected units per provider and type, shape (n_providers, n_types)."""
        src = self.units_source
        return np.asarray(src() if callable(src) else src, dtype=float)

    def utilities(self, truth: Market, params: AuctionParams) -> tuple[np.ndarray, np.ndarray]:
        """Users' and providers' expected utilities under the *true* market ``truth``.

        ``e_i`` and the true unit costs come from ``truth`` (section 4); payments and units
        from the reports.
        """
        return self.utilities_from(truth.value, user_costs(truth, params), unit_cost_matrix(truth, params))

    def utilities_from(
        self, value: np.ndarray, user_cost: np.ndarray, unit_cost: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`utilities` from the true values, user costs and unit costs (precomputed once
        by a scan that scores thousands of outcomes against the same truth)."""
        with np.errstate(invalid="ignore"):
            spent = np.where(self.units > 0, unit_cost * self.units, 0.0).sum(axis=1)
        return self.user_utilities_from(value, user_cost), self.revenue - spent

    def user_utilities_from(self, value: np.ndarray, user_cost: np.ndarray) -> np.ndarray:
        """Users' utilities alone (they do not need the providers' units)."""
        share = self.served_share
        return np.where(share > 0, share * (value - user_cost), 0.0) - self.payment

    def welfare(self, truth: Market, params: AuctionParams) -> float:
        """Expected social welfare under the true market (payments cancel out)."""
        return social_welfare(truth, self.served_share, self.units, params)

    @property
    def budget_surplus(self) -> float:
        """Expected payments minus expected revenues (the platform's income; < 0 a deficit)."""
        return float(self.payment.sum() - self.revenue.sum())


def _greedy(market: Market, params: AuctionParams) -> Outcome:
    res = run_greedy(market, params)
    return Outcome(res.served_share, res.task_payment, lambda: res.units_matrix(market.n_types), res.provider_revenue)


def _first_price(market: Market, params: AuctionParams) -> Outcome:
    """Pay-your-bid on the greedy's allocation: a mechanism that rewards shading on both sides."""
    res = run_greedy(market, params)
    units = res.units_matrix(market.n_types)
    share = res.served_share
    payment = np.where(share > 0, share * (market.value - user_costs(market, params)), 0.0)
    cost = unit_cost_matrix(market, params)
    with np.errstate(invalid="ignore"):
        revenue = np.where(units > 0, cost * units, 0.0).sum(axis=1)
    return Outcome(share, payment, units, revenue)


def _double_auction(market: Market, mechanism: str, params: AuctionParams, seed: int, kw: dict) -> Outcome:
    res = run_double_auction(market, mechanism, params, seed=seed, **kw)
    sides = res.sides
    assert sides is not None  # run_double_auction always attaches the sides
    n_b, n_s = sides.bids.shape[0], sides.asks.shape[0]
    if isinstance(res, DPClearingResult):
        # Exact expectation over the price lottery: at grid price g the n_g highest bids and
        # the n_g lowest asks trade at grid[g].
        bo = np.argsort(-sides.bids, kind="stable")
        so = np.argsort(sides.asks, kind="stable")
        rank_b = np.empty(n_b, np.int64)
        rank_b[bo] = np.arange(n_b)
        rank_s = np.empty(n_s, np.int64)
        rank_s[so] = np.arange(n_s)
        n_at, _ = gains_from_trade(sides.bids, sides.asks, res.grid)
        pr = res.probabilities
        buy = rank_b[None, :] < n_at[:, None]  # (grid, bids)
        sell = rank_s[None, :] < n_at[:, None]
        p_buy = pr @ buy
        pay_buy = (pr * res.grid) @ buy
        p_sell = pr @ sell
        rev_sell = (pr * res.grid) @ sell
    else:
        p_buy = np.zeros(n_b)
        pay_buy = np.zeros(n_b)
        if res.n_trades:
            p_buy[res.buyers] = 1.0
            pay_buy[res.buyers] = res.buyer_price
        p_sell = res.seller_trade_probability
        price = 0.0 if math.isnan(res.seller_price) else res.seller_price
        rev_sell = p_sell * price
    share = np.zeros(market.n_tasks)
    share[sides.bid_task] = p_buy
    payment = np.zeros(market.n_tasks)
    payment[sides.bid_task] = pay_buy
    units = np.bincount(sides.ask_provider, weights=p_sell, minlength=market.n_providers)
    revenue = np.bincount(sides.ask_provider, weights=rev_sell, minlength=market.n_providers)
    return Outcome(share, payment, units[:, None].astype(float), revenue)


def _vcg(market: Market, params: AuctionParams, kw: dict) -> Outcome:
    res = vcg(market, params, **kw)
    if res.status != "optimal":
        raise RuntimeError(f"vcg: an exact solve ended with status {res.status!r}")
    return Outcome(res.optimum.served.astype(float), res.payments, res.optimum.units, res.revenues)


def check_run_args(market: Any, mechanism: Any, params: Any) -> None:
    """One clear error for a bad market, mechanism name or params (before any run)."""
    if not isinstance(market, Market):
        raise TypeError(f"market must be an oasis_lab.market.Market, got {type(market).__name__}")
    if mechanism not in MECHANISMS:
        raise ValueError(f"mechanism = {mechanism!r} is not one of {list(MECHANISMS)}")
    if not isinstance(params, AuctionParams):
        raise TypeError(f"params must be an AuctionParams, got {type(params).__name__}")


def run_mechanism(
    market: Market,
    mechanism: str,
    params: AuctionParams = AuctionParams(),
    *,
    seed: int = 0,
    **options: Any,
) -> Outcome:
    """Run ``mechanism`` on the reports in ``market``; return its expected :class:`Outcome`.

    Parameters
    ----------
    market : Market
        The *reported* values, costs, speeds and capacities.
    mechanism : str
        One of :data:`MECHANISMS`.
    params : AuctionParams
        Readings (greedy) and the welfare model (all).
    seed : int
        Lotteries are integrated out exactly (SBBA's seller draw, the DP price), so the seed
        only fixes the one draw the underlying function makes.
    **options
        ``reference_price`` (``"truthful"``), ``epsilon``, ``grid``, ``max_units_per_agent``
        (``"dp"``), ``max_tasks`` (``"vcg"``).

    Returns
    -------
    Outcome

    Raises
    ------
    ValueError
        Unknown mechanism or options that mechanism does not take.
    """
    check_run_args(market, mechanism, params)
    allowed = {
        "greedy": set(),
        "first_price": set(),
        "truthful": {"reference_price", "compute_payments", "payments_for"},
        "mcafee": set(),
        "sbba": set(),
        "dp": {"epsilon", "grid", "price_bounds", "max_units_per_agent"},
        "vcg": {"max_tasks", "backend", "time_limit"},
    }[mechanism]
    extra = set(options) - allowed
    if extra:
        raise ValueError(f"mechanism {mechanism!r} takes no option(s) {sorted(extra)}")
    if mechanism == "greedy":
        return _greedy(market, params)
    if mechanism == "first_price":
        return _first_price(market, params)
    if mechanism == "truthful":
        from oasis_lab.incentives.truthful import truthful_greedy

        if "reference_price" not in options:
            raise ValueError("mechanism 'truthful' needs reference_price (a public per-unit price)")
        res = truthful_greedy(market, options["reference_price"], params,
                              compute_payments=options.get("compute_payments", True),
                              payments_for=options.get("payments_for"))
        return Outcome(res.served_share, res.task_payment, res.units, res.provider_revenue)
    if mechanism == "vcg":
        return _vcg(market, params, options)
    return _double_auction(market, mechanism, params, seed, options)
