"""Every allocation mechanism of the package in one registry: how to run it, what it reports.

The section-4 auction (PRICES, :func:`~oasis_lab.auction.greedy.run_greedy`) is measured
against exact references and classic mechanisms, and each of them is needed by three callers:
:func:`~oasis_lab.auction.compare.compare_markets` (welfare, runtime and individual
rationality per market), :mod:`oasis_lab.incentives` (the expected allocation and transfers
a mechanism computes from reports, scored on the true values) and the simulation's config
(which mechanisms it can run round after round). :data:`MECHANISMS` holds one
:class:`Mechanism` per name and :func:`mechanism_result` is the one dispatch all of them use.

Registered here (the auction layer):

- ``"ilp"``, ``"lp"``: the exact welfare optimum and the compact LP bound
  (:func:`~oasis_lab.auction.baselines.solve_optimum`); references, no transfers;
- ``"greedy"``: PRICES under the readings of ``params``;
- ``"vcg"``: the exact optimum with Clarke payments (small markets);
- ``"mcafee"``, ``"sbba"``, ``"dp"``: the double auctions of
  :mod:`oasis_lab.auction.baselines.double_auction` (single-type, unit-demand markets;
  ``"dp"`` needs a public ``grid`` or ``price_bounds``).

:mod:`oasis_lab.incentives` registers ``"truthful"`` (the posted-price variant of the greedy)
and ``"first_price"`` (a pay-your-bid toy) when it is imported: a layer above registers its
own mechanisms into this registry; nothing here names that layer.

Examples
--------
>>> from oasis_lab.market import generate_market
>>> m = generate_market(8, 3, seed=0)
>>> round(mechanism_result(m, "greedy").welfare, 6) == round(run_mechanism(m, "greedy").welfare(m, AuctionParams()), 6)
True
>>> mechanism_names("compare")
('ilp', 'lp', 'vcg', 'mcafee', 'sbba', 'dp')
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from oasis_lab.auction.baselines.double_auction import (
    DOUBLE_AUCTIONS,
    DPClearingResult,
    gains_from_trade,
    run_double_auction,
)
from oasis_lab.auction.baselines.optimum import solve_optimum
from oasis_lab.auction.baselines.vcg import vcg
from oasis_lab.auction.greedy import run_greedy
from oasis_lab.auction.pricing import social_welfare, unit_cost_matrix, user_costs
from oasis_lab.market import Market
from oasis_lab.params import AuctionParams

__all__ = [
    "CAPABILITIES",
    "MECHANISMS",
    "Mechanism",
    "Outcome",
    "check_mechanism",
    "check_run_args",
    "is_unit_market",
    "mechanism_names",
    "mechanism_result",
    "register_mechanism",
    "run_mechanism",
]


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
        """Expected social welfare under the true market ``truth`` (payments cancel out)."""
        return social_welfare(truth, self.served_share, self.units, params)

    @property
    def budget_surplus(self) -> float:
        """Expected payments minus expected revenues (the platform's income; < 0 a deficit)."""
        return float(self.payment.sum() - self.revenue.sum())


#: What a mechanism can be asked for (:func:`mechanism_names`): a baseline of
#: :func:`~oasis_lab.auction.compare.compare_markets`, an expected :class:`Outcome` for the
#: incentive scans, a mechanism the multi-round simulation runs.
CAPABILITIES: tuple[str, ...] = ("compare", "outcome", "simulate")

#: Which markets a mechanism applies to: any, single-type unit-demand only, or small ones
#: (one exact solve per trading agent; the caller sets the size with the ``max_tasks`` option).
_MARKETS = ("any", "unit", "small")


@dataclass(frozen=True, eq=False)
class Mechanism:
    """One registered mechanism: how to run it and what it reports.

    Attributes
    ----------
    name : str
        The registry key.
    summary : str
        One line: what it is (whitepaper section).
    run : callable
        ``run(market, params, seed, options) -> result``: the mechanism's own result object.
    options : frozenset of str
        Keyword options it takes (refused otherwise, by name).
    required : frozenset of str
        Options it cannot run without.
    market : {"any", "unit", "small"}
        Where it applies (:func:`is_unit_market` for ``"unit"``).
    reference : bool
        An exact welfare reference without transfers (the optimum, its LP bound): no
        :class:`Outcome`, listed before the greedy in a comparison.
    randomized : bool
        It draws from its seed (a lottery), so each run needs its own seed.
    partial_payments : bool
        Takes ``payments_for`` (compute only some users' payments; a scan of one user's
        misreports needs only hers).
    report : callable, optional
        ``report(result) -> dict``: its row of a comparison (``welfare``, ``runtime_s``,
        ``served``, ``status`` and what else it measures: ``gap``, ``ir_violations_users``,
        ``ir_violations_providers``, ``budget_surplus``, ``welfare_std``, ...).
    outcome : callable, optional
        ``outcome(result, market, params) -> Outcome``: the expected allocation and transfers.
    compare : bool
        A baseline :func:`~oasis_lab.auction.compare.compare_markets` runs next to the greedy.
    simulate : bool
        The multi-round simulation (:mod:`oasis_lab.sim`) can run it.
    """

    name: str
    summary: str
    run: Callable[[Market, AuctionParams, int, dict[str, Any]], Any]
    options: frozenset[str] = frozenset()
    required: frozenset[str] = frozenset()
    market: str = "any"
    reference: bool = False
    randomized: bool = False
    partial_payments: bool = False
    report: Callable[[Any], dict[str, Any]] | None = None
    outcome: Callable[[Any, Market, AuctionParams], Outcome] | None = None
    compare: bool = False
    simulate: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"mechanism name must be a non-empty str, got {self.name!r}")
        if self.market not in _MARKETS:
            raise ValueError(f"mechanism {self.name!r}: market = {self.market!r} must be one of {list(_MARKETS)}")
        if not self.required <= self.options:
            raise ValueError(f"mechanism {self.name!r}: required options {sorted(self.required - self.options)} "
                             "are not among its options")
        if self.compare and self.report is None:
            raise ValueError(f"mechanism {self.name!r} is a comparison baseline but has no report")

    def can(self, capability: str) -> bool:
        """Whether it offers ``capability`` (one of :data:`CAPABILITIES`)."""
        if capability == "outcome":
            return self.outcome is not None
        return bool(getattr(self, capability))


#: The registry: name -> :class:`Mechanism`, in registration order.
MECHANISMS: dict[str, Mechanism] = {}


def register_mechanism(mechanism: Mechanism) -> Mechanism:
    """Add ``mechanism`` to :data:`MECHANISMS` (a name is registered once)."""
    if not isinstance(mechanism, Mechanism):
        raise TypeError(f"mechanism must be a Mechanism, got {type(mechanism).__name__}")
    known = MECHANISMS.get(mechanism.name)
    if known is not None and known is not mechanism:
        raise ValueError(f"mechanism name {mechanism.name!r} is already registered")
    MECHANISMS[mechanism.name] = mechanism
    return mechanism


def mechanism_names(capability: str | None = None) -> tuple[str, ...]:
    """Registered names (in registration order), those offering ``capability`` if given."""
    if capability is not None and capability not in CAPABILITIES:
        raise ValueError(f"capability = {capability!r} must be one of {list(CAPABILITIES)}")
    return tuple(n for n, m in MECHANISMS.items() if capability is None or m.can(capability))


def check_mechanism(name: Any, capability: str | None = None) -> Mechanism:
    """The registered mechanism ``name`` (offering ``capability`` if given), or one clear error."""
    names = mechanism_names(capability)
    if not isinstance(name, str) or name not in names:
        raise ValueError(f"mechanism = {name!r} is not one of {list(names)}")
    return MECHANISMS[name]


def check_run_args(market: Any, mechanism: Any, params: Any, capability: str | None = "outcome") -> Mechanism:
    """One clear error for a bad market, mechanism name or params (before any run)."""
    if not isinstance(market, Market):
        raise TypeError(f"market must be an oasis_lab.market.Market, got {type(market).__name__}")
    entry = check_mechanism(mechanism, capability)
    if not isinstance(params, AuctionParams):
        raise TypeError(f"params must be an AuctionParams, got {type(params).__name__}")
    return entry


def is_unit_market(market: Market) -> bool:
    """A single-type, unit-demand market (where the double auctions apply)."""
    return market.n_types == 1 and bool(np.isin(market.demand, (0.0, 1.0)).all())


def mechanism_result(
    market: Market,
    mechanism: str,
    params: AuctionParams = AuctionParams(),
    *,
    seed: int = 0,
    capability: str | None = None,
    **options: Any,
) -> Any:
    """Run a registered mechanism on ``market``: the one dispatch.

    Parameters
    ----------
    market : Market
        The (reported) market.
    mechanism : str
        A key of :data:`MECHANISMS`.
    params : AuctionParams
        Readings (greedy) and the welfare model (all).
    seed : int
        The lottery of a randomized mechanism (SBBA's seller draw, the DP price draw).
    capability : str, optional
        Refuse a mechanism without it (one of :data:`CAPABILITIES`).
    **options
        The mechanism's options (:attr:`Mechanism.options`).

    Returns
    -------
    object
        The mechanism's own result (:class:`~oasis_lab.auction.greedy.GreedyResult`,
        :class:`~oasis_lab.auction.baselines.OptimumResult`, ...).

    Raises
    ------
    TypeError, ValueError
        A bad market or params, an unknown mechanism, an option it does not take or a required
        one missing: before any run.
    """
    entry = check_run_args(market, mechanism, params, capability)
    extra = set(options) - entry.options
    if extra:
        raise ValueError(f"mechanism {mechanism!r} takes no option(s) {sorted(extra)}")
    missing = entry.required - set(options)
    if missing:
        raise ValueError(f"mechanism {mechanism!r} needs {' and '.join(sorted(missing))} (an option)")
    return entry.run(market, params, seed, options)


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
        A mechanism with an outcome (``mechanism_names("outcome")``; ``"truthful"`` and
        ``"first_price"`` once :mod:`oasis_lab.incentives` is imported).
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
    result = mechanism_result(market, mechanism, params, seed=seed, capability="outcome", **options)
    outcome = MECHANISMS[mechanism].outcome
    assert outcome is not None  # checked by capability="outcome"
    return outcome(result, market, params)


# ----------------------------------------------------------------- the auction layer's own


def _optimum_report(res: Any) -> dict[str, Any]:
    return {"welfare": res.welfare, "runtime_s": res.solve_time_s, "served": res.n_served,
            "status": res.status, "gap": res.gap}


def _ilp_report(res: Any) -> dict[str, Any]:
    # the optimum's allocation is one no agent is asked to pay for: IR holds trivially
    return {**_optimum_report(res), "ir_violations_users": 0, "ir_violations_providers": 0}


def _greedy_report(res: Any) -> dict[str, Any]:
    return {
        "welfare": res.welfare, "runtime_s": res.runtime_s, "served": float(res.served_share.sum()),
        "status": "ok", "ir_violations_users": res.ir_violations_users,
        "ir_violations_providers": res.ir_violations_providers, "budget_surplus": res.budget_surplus,
        "units": float(res.trades["units"].sum()), "user_utility": float(res.user_utility.sum()),
        "provider_utility": float(res.provider_utility.sum()),
    }


def _greedy_outcome(res: Any, market: Market, params: AuctionParams) -> Outcome:
    return Outcome(res.served_share, res.task_payment, lambda: res.units_matrix(market.n_types), res.provider_revenue)


def _vcg_report(res: Any) -> dict[str, Any]:
    return {"welfare": res.welfare, "runtime_s": res.runtime_s, "served": res.optimum.n_served,
            "status": res.status, "ir_violations_users": res.ir_violations_users,
            "ir_violations_providers": res.ir_violations_providers, "budget_surplus": res.budget_surplus}


def _vcg_outcome(res: Any, market: Market, params: AuctionParams) -> Outcome:
    if res.status != "optimal":
        raise RuntimeError(f"vcg: an exact solve ended with status {res.status!r}")
    return Outcome(res.optimum.served.astype(float), res.payments, res.optimum.units, res.revenues)


def _double_auction_report(res: Any) -> dict[str, Any]:
    # randomized mechanisms: the welfare in expectation over their lottery, with its spread
    return {"welfare": res.expected_welfare, "runtime_s": res.runtime_s, "served": float(res.n_trades),
            "status": "ok", "ir_violations_users": 0, "ir_violations_providers": 0,
            "budget_surplus": res.budget_surplus, "welfare_std": res.welfare_std}


def _double_auction_outcome(res: Any, market: Market, params: AuctionParams) -> Outcome:
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


def _double_auction(name: str) -> Callable[[Market, AuctionParams, int, Mapping[str, Any]], Any]:
    def run(market: Market, params: AuctionParams, seed: int, options: Mapping[str, Any]) -> Any:
        return run_double_auction(market, name, params, seed=seed, **options)

    return run


register_mechanism(Mechanism(
    "ilp", "the exact welfare optimum of section 4's program (HiGHS), no transfers",
    lambda m, p, seed, o: solve_optimum(m, p, **o),
    options=frozenset({"backend", "time_limit"}), reference=True, report=_ilp_report, compare=True,
))
register_mechanism(Mechanism(
    "lp", "the compact LP relaxation: an upper bound on every reading's welfare",
    # the compact LP bounds every reading (for split=False it is the split relaxation) and
    # stays cheap at any size, unlike the per-pair relaxation
    lambda m, p, seed, o: solve_optimum(m, p, relax=True, formulation="compact", **o),
    options=frozenset({"backend"}), reference=True, report=_optimum_report, compare=True,
))
register_mechanism(Mechanism(
    "greedy", "PRICES (section 4.2) under the readings of params",
    lambda m, p, seed, o: run_greedy(m, p),
    report=_greedy_report, outcome=_greedy_outcome, simulate=True,
))
register_mechanism(Mechanism(
    "vcg", "the exact optimum with Clarke payments (one exact solve per trading agent)",
    lambda m, p, seed, o: vcg(m, p, **o),
    options=frozenset({"max_tasks", "backend", "time_limit"}), market="small",
    report=_vcg_report, outcome=_vcg_outcome, compare=True,
))
for _name, _summary in zip(DOUBLE_AUCTIONS, (
    "McAfee's trade reduction (single-type, unit-demand markets)",
    "SBBA: strongly budget-balanced trade reduction with a seller lottery",
    "the epsilon-differentially-private clearing price on a public grid",
), strict=True):
    register_mechanism(Mechanism(
        _name, _summary, _double_auction(_name),
        options=frozenset({"epsilon", "grid", "price_bounds", "max_units_per_agent"}) if _name == "dp" else frozenset(),
        market="unit", randomized=_name != "mcafee", report=_double_auction_report,
        outcome=_double_auction_outcome, compare=True,
    ))
