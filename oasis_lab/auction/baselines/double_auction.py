"""Classic double auctions for a single-type, unit-demand market (whitepaper sections 3 and 4).

Section 3 says trades execute "when the bid price of a user matches the seller's ask price"
and that the auction is "differential privacy-based" (Zhai et al.). This module supplies the
mechanisms with proven properties that the greedy PRICES is compared against, on the market
where they are defined: one model type, every task asks for one unit.

Buyers are tasks with net value ``b_i = v_i - e_i`` (the user's value less its cost of
participating); sellers are units of provider capacity, each asking the provider's true unit
cost ``u_j`` (a provider with ``w_j`` units of capacity is ``floor(w_j / g_j)`` unit sellers,
``g_j`` the capacity one unit uses). Bids sorted ``b_1 >= b_2 >= ...``, asks
``s_1 <= s_2 <= ...``; ``k = max {q : b_q >= s_q}`` trades are efficient.

- **McAfee (1992)** trade reduction: with ``p0 = (b_{k+1} + s_{k+1}) / 2``, if
  ``s_k <= p0 <= b_k`` all ``k`` pairs trade at ``p0``; otherwise ``k - 1`` pairs trade,
  buyers pay ``b_k`` and sellers receive ``s_k``. Dominant-strategy truthful for unit
  demand and unit supply, individually rational, weakly budget balanced (surplus
  ``(k - 1)(b_k - s_k) >= 0``), at most one efficient trade lost.
- **SBBA** (Segal-Halevi, Hassidim and Aumann 2016): one price ``p = min(b_k, s_{k+1})``. If
  ``p = s_{k+1}`` the ``k`` buyers and ``k`` sellers trade; otherwise buyer ``k`` is left out
  and ``k - 1`` of the ``k`` cheapest sellers, drawn uniformly, trade. Truthful (sellers in
  expectation over the lottery), individually rational, **strongly** budget balanced, at
  most one efficient trade lost.
- **Exponential-mechanism clearing price** (McSherry and Talwar 2007): a price ``p`` drawn
  from a **public grid** (a required argument, fixed without looking at the reports: a grid
  read off the reports moves when one report moves, and prices possible under one profile
  get zero probability under its neighbour) with ``Pr[p] proportional to
  exp(epsilon q(p) / (2 Delta))``, where ``q(p)`` is the gains from trade at ``p`` (buyers with
  ``b >= p`` and sellers with ``s <= p``, the ``min`` of the two counts trading, highest bids
  with lowest asks) on reports clamped to ``[lo, hi]`` = the grid's range. **Neighbours** are
  two report profiles that differ in *one agent's whole report*: a user's bid, or every ask of
  one provider (a provider with ``w_j`` units moves ``w_j`` asks at once). One ask moves
  ``q(p)`` by at most ``hi - lo`` (it adds or removes one traded pair's gain, or swaps one
  traded value for another), so one agent with at most ``m`` units moves it by at most
  ``Delta = m (hi - lo)``, ``m`` = ``max_units_per_agent``, a public bound (capacities are
  benchmarked by the platform). With that ``Delta`` the drawn price is
  ``epsilon``-differentially private for this neighbour relation (the privacy-loss test
  measures the largest log-ratio of price probabilities over neighbouring profiles).
  Strongly budget balanced and individually rational at the drawn price. It is **not**
  truthful, not even approximately in the ``2 epsilon Delta`` sense: who trades at the drawn
  price is rationed on the raw reports, so a seller gains by underbidding into the traded
  set (measured in ``docs/mechanism.md``, "Incentives").

Welfare of the randomized mechanisms is reported as an expectation over their lottery with
its standard deviation (``expected_welfare``, ``welfare_std``); ``welfare`` is the one draw.

Truthfulness of McAfee and SBBA is proved for unit-supply sellers; a provider with several
units is several sellers with one report, which can gain by shading (measured, not fixed).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, cast

import numpy as np
import pandas as pd

from oasis_lab.auction.pricing import capacity_use, unit_cost_matrix, user_costs
from oasis_lab.checks import check_int, check_memory, check_not_masked
from oasis_lab.market import Market
from oasis_lab.params import AuctionParams
from oasis_lab.seeding import generator

__all__ = [
    "DoubleAuctionSides",
    "DoubleAuctionResult",
    "DPClearingResult",
    "unit_demand_market",
    "unit_sides",
    "efficient_trades",
    "mcafee",
    "sbba",
    "gains_from_trade",
    "dp_clearing_price",
    "run_double_auction",
    "DOUBLE_AUCTIONS",
    "check_epsilon",
]

DOUBLE_AUCTIONS = ("mcafee", "sbba", "dp")


# ---------------------------------------------------------------------------- sides
@dataclass(frozen=True, eq=False)
class DoubleAuctionSides:
    """Bids and asks of a single-type, unit-demand market.

    Attributes
    ----------
    bids : numpy.ndarray
        Net value ``v_i - e_i`` of each unit-demand task.
    bid_task : numpy.ndarray of int
        The task each bid comes from.
    asks : numpy.ndarray
        True unit cost of each unit of provider capacity.
    ask_provider : numpy.ndarray of int
        The provider each ask comes from.
    """

    bids: np.ndarray
    bid_task: np.ndarray
    asks: np.ndarray
    ask_provider: np.ndarray


def unit_demand_market(market: Market, model_type: int = 0, *, capacity_scale: float | None = None) -> Market:
    """Derive a single-type, unit-demand market from ``market`` (for trade reduction).

    Tasks that request ``model_type`` become one-unit tasks valued at their section-4.1 per-unit
    price ``v_i / sum_t C[i, t]``. Providers keep their speed for that type and their unit
    cost (``c_j`` is scaled by ``s[j, t] / sum_t s[j, t]`` so that ``c'_j / s'_j`` equals the
    original ``c_j / sum_t s[j, t]``). Capacities are scaled so that the supply-to-demand
    ratio of the scenario is kept: ``round(w_j * capacity_scale)`` with, by default,
    ``capacity_scale`` = (number of unit tasks) / (units of the type demanded).

    Parameters
    ----------
    market : Market
    model_type : int, default 0
        Index of the model type to keep.
    capacity_scale : float, optional
        Override the capacity scaling.

    Returns
    -------
    Market
        ``n_types = 1``; ``demand`` all ones.

    Raises
    ------
    ValueError
        ``model_type`` out of range, or no task requests it.
    """
    if not isinstance(market, Market):
        raise TypeError(f"market must be an oasis_lab Market, got {type(market).__name__}")
    is_int = isinstance(model_type, (int, np.integer)) and not isinstance(model_type, bool)
    if not is_int or not 0 <= model_type < market.n_types:
        raise ValueError(f"model_type = {model_type!r} must be an int in [0, {market.n_types})")
    wants = market.demand[:, model_type] > 0
    if not wants.any():
        raise ValueError(f"no task requests model_type = {model_type} ({market.model_types[model_type]!r})")
    units_of_type = market.demand[wants, model_type].sum()
    if capacity_scale is None:
        capacity_scale = wants.sum() / units_of_type
    if not (
        isinstance(capacity_scale, (int, float, np.floating)) and capacity_scale > 0 and math.isfinite(capacity_scale)
    ):
        raise ValueError(f"capacity_scale = {capacity_scale!r} must be a positive finite number")
    speed = market.speed[:, [model_type]]
    total_speed = market.speed.sum(axis=1)
    share = np.where(total_speed > 0, speed[:, 0] / np.where(total_speed > 0, total_speed, 1.0), 0.0)
    n_unit = int(wants.sum())
    return Market(
        demand=np.ones((n_unit, 1)),
        value=market.value[wants] / market.task_units[wants],
        speed=speed,
        capacity=np.round(market.capacity * capacity_scale),
        cost=market.cost * share,
        psi=market.psi,
        model_types=(market.model_types[model_type],),
        psi_names=market.psi_names,
    )


# Memory per unit seller: its ask and provider, the sort's index and sorted copy, the trade
# probability (float64 / int64 each), with room for temporaries.
_BYTES_PER_SELLER = 64


def unit_sides(market: Market, params: AuctionParams = AuctionParams()) -> DoubleAuctionSides:
    """Bids (tasks' net values) and asks (units of provider capacity) of a unit-demand market.

    Raises
    ------
    ValueError
        The market has more than one model type, or a task demands other than 0 or 1 unit.
    """
    if not isinstance(market, Market):
        raise TypeError(f"market must be an oasis_lab Market, got {type(market).__name__}")
    _check_params(params)
    if market.n_types != 1:
        raise ValueError(
            f"double auctions need a single-model-type market, got n_types = {market.n_types} "
            "(derive one with unit_demand_market)"
        )
    demand = market.demand[:, 0]
    bad = (demand != 0) & (demand != 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"double auctions need unit demand: demand[{i}, 0] = {demand[i]} is not 0 or 1")
    bid_task = np.flatnonzero(demand == 1)
    bids = (market.value - user_costs(market, params))[bid_task]
    use = capacity_use(market, params)[:, 0]
    cost = unit_cost_matrix(market, params)[:, 0]
    runnable = np.isfinite(use)
    n_units = np.zeros(market.n_providers, dtype=np.int64)
    # A whole unit must fit; the tolerance absorbs round-off of capacity / use.
    units_f = np.floor(market.capacity[runnable] / use[runnable] + 1e-9)
    # Every unit of capacity is one seller (an ask and its provider, sorted): refuse before
    # allocating what cannot fit (capacity 1e12 would be a 7 TiB array, 1e20 overflows int64).
    check_memory(
        f"market.capacity (sum {float(market.capacity.sum()):.6g}, i.e. {float(units_f.sum()):.6g} "
        "unit sellers, one per unit of capacity)",
        float(units_f.sum()) * _BYTES_PER_SELLER,
    )
    n_units[runnable] = units_f.astype(np.int64)
    ask_provider = np.repeat(np.arange(market.n_providers), n_units)
    return DoubleAuctionSides(bids=bids, bid_task=bid_task, asks=cost[ask_provider], ask_provider=ask_provider)


# ---------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class DoubleAuctionResult:
    """Outcome of a double auction on bids and asks.

    Attributes
    ----------
    mechanism : str
        ``"mcafee"``, ``"sbba"`` or ``"dp"``.
    buyers, sellers : numpy.ndarray of int
        Indices (into ``bids`` / ``asks``) of the agents that trade, paired in order.
    buyer_price, seller_price : float
        What each trading buyer pays and each trading seller receives (``nan`` if none trade).
    n_trades : int
    efficient_trades : int
        ``k``, the number of trades of the welfare-maximizing allocation.
    welfare : float
        Gains from trade realized: traded bids minus traded asks.
    optimal_welfare : float
        Gains from trade of the ``k`` efficient trades.
    budget_surplus : float
        Payments minus revenues, ``n_trades (buyer_price - seller_price)``.
    seller_trade_probability : numpy.ndarray
        Probability that each ask trades (SBBA's lottery; 0 or 1 for the others).
    runtime_s : float
    sides : DoubleAuctionSides, optional
        Maps agents back to tasks and providers (market-level calls).
    expected_welfare : float
        Welfare in expectation over the mechanism's lottery (SBBA's left-out seller, the DP
        price); equal to ``welfare`` for McAfee.
    welfare_std : float
        Standard deviation of the welfare over that lottery (0 for McAfee).
    """

    mechanism: str
    buyers: np.ndarray
    sellers: np.ndarray
    buyer_price: float
    seller_price: float
    n_trades: int
    efficient_trades: int
    welfare: float
    optimal_welfare: float
    budget_surplus: float
    seller_trade_probability: np.ndarray
    runtime_s: float
    sides: DoubleAuctionSides | None = None
    expected_welfare: float = math.nan
    welfare_std: float = 0.0

    def buyer_utility(self, values: np.ndarray) -> np.ndarray:
        """Utility of every buyer, given their true net values (``value - price`` if trading)."""
        values = np.asarray(values, dtype=float)
        u = np.zeros(values.shape[0])
        u[self.buyers] = values[self.buyers] - self.buyer_price
        return u

    def seller_expected_utility(self, costs: np.ndarray) -> np.ndarray:
        """Expected utility of every seller given true costs (over SBBA's lottery)."""
        costs = np.asarray(costs, dtype=float)
        price = 0.0 if math.isnan(self.seller_price) else self.seller_price
        return self.seller_trade_probability * (price - costs)

    def trades(self) -> pd.DataFrame:
        """One row per trade: buyer, seller (and task, provider when known), prices."""
        frame = pd.DataFrame(
            {
                "buyer": self.buyers,
                "seller": self.sellers,
                "buyer_price": self.buyer_price,
                "seller_price": self.seller_price,
            }
        )
        if self.sides is not None:
            frame.insert(2, "task", self.sides.bid_task[self.buyers])
            frame.insert(3, "provider", self.sides.ask_provider[self.sellers])
        return frame

    def summary(self) -> dict[str, Any]:
        """Headline numbers for a table row."""
        return {
            "mechanism": self.mechanism,
            "trades": self.n_trades,
            "efficient_trades": self.efficient_trades,
            "welfare": self.welfare,
            "expected_welfare": self.expected_welfare,
            "welfare_std": self.welfare_std,
            "optimal_welfare": self.optimal_welfare,
            "buyer_price": self.buyer_price,
            "seller_price": self.seller_price,
            "budget_surplus": self.budget_surplus,
            "runtime_s": self.runtime_s,
        }


@dataclass(frozen=True, eq=False)
class DPClearingResult(DoubleAuctionResult):
    """An exponential-mechanism clearing price (adds the price distribution).

    Attributes
    ----------
    price : float
        The drawn clearing price (also when nobody trades at it).
    epsilon : float
    sensitivity : float
        ``Delta = max_units_per_agent * (hi - lo)``: the most one agent's whole report moves
        the score.
    max_units_per_agent : int
        The public bound ``m`` on the units one agent reports.
    grid : numpy.ndarray
        Candidate prices.
    scores : numpy.ndarray
        ``q(p)``: gains from trade at each grid price on the clamped reports.
    probabilities : numpy.ndarray
        ``Pr[p]`` of the exponential mechanism.
    gains : numpy.ndarray
        Gains from trade at each grid price on the actual reports; ``expected_welfare`` is
        ``sum_p Pr[p] gains(p)``.
    """

    price: float = math.nan
    epsilon: float = math.inf
    sensitivity: float = math.nan
    max_units_per_agent: int = 1
    grid: np.ndarray = field(default_factory=lambda: np.zeros(0))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    probabilities: np.ndarray = field(default_factory=lambda: np.zeros(0))
    gains: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        out.update(price=self.price, epsilon=self.epsilon, sensitivity=self.sensitivity)
        return out


# ---------------------------------------------------------------------------- helpers
def _as_side(name: str, x: Any) -> np.ndarray:
    check_not_masked(name, x)
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a 1-dimensional array of numbers, got {x!r:.80}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}[{int(np.flatnonzero(~np.isfinite(arr))[0])}] is not finite")
    return arr


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return generator(seed)  # one seed limit, numpy's draws


def check_epsilon(epsilon: Any) -> float:
    """``epsilon`` of the DP clearing price as a float ``> 0`` (``math.inf`` allowed), or raise."""
    if isinstance(epsilon, bool) or not isinstance(epsilon, Real):
        raise TypeError(f"epsilon must be a real number, got {type(epsilon).__name__} {epsilon!r}")
    epsilon = float(epsilon)
    if not epsilon > 0:
        raise ValueError(f"epsilon = {epsilon!r} must be > 0 (math.inf for no privacy)")
    return epsilon


def _check_params(params: Any) -> None:
    if not isinstance(params, AuctionParams):
        raise TypeError(f"params must be an AuctionParams, got {type(params).__name__}")


def _sorted(bids: np.ndarray, asks: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Bid order (non-increasing), ask order (non-decreasing), ``k``. Ties keep input order."""
    bo = np.argsort(-bids, kind="stable")
    so = np.argsort(asks, kind="stable")
    n = min(bo.shape[0], so.shape[0])
    # b_q - s_q is non-increasing in q, so the efficient trades are a prefix.
    k = int(np.count_nonzero(bids[bo[:n]] >= asks[so[:n]]))
    return bo, so, k


def efficient_trades(bids: Any, asks: Any) -> int:
    """``k = max {q : b_q >= s_q}``: trades of the welfare-maximizing allocation."""
    return _sorted(_as_side("bids", bids), _as_side("asks", asks))[2]


def _result(
    mechanism: str,
    bids: np.ndarray,
    asks: np.ndarray,
    buyers: np.ndarray,
    sellers: np.ndarray,
    buyer_price: float,
    seller_price: float,
    k: int,
    bo: np.ndarray,
    so: np.ndarray,
    prob: np.ndarray,
    start: float,
    **extra: Any,
) -> DoubleAuctionResult:
    n = int(buyers.shape[0])
    if n == 0:
        buyer_price = seller_price = math.nan
    optimal = float(bids[bo[:k]].sum() - asks[so[:k]].sum())
    kwargs: dict[str, Any] = dict(
        mechanism=mechanism,
        buyers=buyers,
        sellers=sellers,
        buyer_price=float(buyer_price),
        seller_price=float(seller_price),
        n_trades=n,
        efficient_trades=k,
        welfare=float(bids[buyers].sum() - asks[sellers].sum()),
        optimal_welfare=optimal,
        budget_surplus=float(n * (buyer_price - seller_price)) if n else 0.0,
        seller_trade_probability=prob,
        runtime_s=time.perf_counter() - start,
    )
    kwargs["expected_welfare"] = kwargs["welfare"]
    kwargs.update(extra)
    cls = DPClearingResult if mechanism == "dp" else DoubleAuctionResult
    return cls(**kwargs)


# ---------------------------------------------------------------------------- mechanisms
def mcafee(bids: Any, asks: Any) -> DoubleAuctionResult:
    """McAfee's (1992) trade-reduction double auction.

    Parameters
    ----------
    bids : array_like
        Buyers' (net) values, one unit each.
    asks : array_like
        Sellers' unit costs, one unit each.

    Returns
    -------
    DoubleAuctionResult
        Weakly budget balanced: ``budget_surplus >= 0``.
    """
    start = time.perf_counter()
    bids, asks = _as_side("bids", bids), _as_side("asks", asks)
    bo, so, k = _sorted(bids, asks)
    prob = np.zeros(asks.shape[0])
    empty = np.zeros(0, dtype=np.int64)
    if k == 0:
        return _result("mcafee", bids, asks, empty, empty, math.nan, math.nan, k, bo, so, prob, start)
    if k < bo.shape[0] and k < so.shape[0]:
        p0 = (bids[bo[k]] + asks[so[k]]) / 2
        if asks[so[k - 1]] <= p0 <= bids[bo[k - 1]]:
            prob[so[:k]] = 1.0
            return _result("mcafee", bids, asks, bo[:k], so[:k], p0, p0, k, bo, so, prob, start)
    # Trade reduction: the k-th pair sets the prices and does not trade.
    prob[so[: k - 1]] = 1.0
    return _result(
        "mcafee", bids, asks, bo[: k - 1], so[: k - 1], bids[bo[k - 1]], asks[so[k - 1]], k, bo, so, prob, start
    )


def sbba(bids: Any, asks: Any, seed: int | np.random.Generator = 0) -> DoubleAuctionResult:
    """SBBA, the strongly budget-balanced trade reduction (Segal-Halevi et al. 2016).

    Parameters
    ----------
    bids, asks : array_like
        Unit bids and asks.
    seed : int or numpy.random.Generator
        Draws which ``k - 1`` of the ``k`` cheapest sellers trade when buyer ``k`` sets the
        price.

    Returns
    -------
    DoubleAuctionResult
        One price for everybody: ``budget_surplus == 0``.
    """
    start = time.perf_counter()
    rng = _rng(seed)  # checked even when no lottery is drawn
    bids, asks = _as_side("bids", bids), _as_side("asks", asks)
    bo, so, k = _sorted(bids, asks)
    prob = np.zeros(asks.shape[0])
    empty = np.zeros(0, dtype=np.int64)
    if k == 0:
        return _result("sbba", bids, asks, empty, empty, math.nan, math.nan, k, bo, so, prob, start)
    next_ask = asks[so[k]] if k < so.shape[0] else math.inf
    if next_ask <= bids[bo[k - 1]]:
        # Seller k+1 sets the price: all k efficient pairs trade.
        prob[so[:k]] = 1.0
        return _result("sbba", bids, asks, bo[:k], so[:k], next_ask, next_ask, k, bo, so, prob, start)
    price = bids[bo[k - 1]]
    prob[so[:k]] = (k - 1) / k
    left_out = int(rng.integers(k))
    sellers = np.delete(so[:k], left_out)
    # Over the lottery the left-out seller is uniform among the k cheapest: the welfare is
    # sum of the k - 1 bids - sum of the k asks + the left-out ask.
    cheapest = asks[so[:k]]
    expected = float(bids[bo[: k - 1]].sum() - cheapest.sum() + cheapest.mean())
    return _result("sbba", bids, asks, bo[: k - 1], sellers, price, price, k, bo, so, prob, start,
                   expected_welfare=expected, welfare_std=float(cheapest.std()))


def gains_from_trade(bids: Any, asks: Any, prices: Any) -> tuple[np.ndarray, np.ndarray]:
    """Trades and gains from trade if the market clears at each of ``prices``.

    At price ``p`` the buyers with ``b >= p`` and the sellers with ``s <= p`` are willing; the
    smaller group trades in full with the highest bids / lowest asks of the other.

    Returns
    -------
    n_trades : numpy.ndarray of int
    gains : numpy.ndarray
    """
    bids, asks = _as_side("bids", bids), _as_side("asks", asks)
    prices = _as_side("prices", prices)
    b = np.sort(bids)[::-1]
    s = np.sort(asks)
    cum_b = np.concatenate([[0.0], np.cumsum(b)])
    cum_s = np.concatenate([[0.0], np.cumsum(s)])
    willing_b = np.searchsorted(-b, -prices, side="right")  # count of b >= p
    willing_s = np.searchsorted(s, prices, side="right")  # count of s <= p
    n = np.minimum(willing_b, willing_s)
    return n, cum_b[n] - cum_s[n]


def dp_clearing_price(
    bids: Any,
    asks: Any,
    epsilon: float,
    grid: Any,
    seed: int | np.random.Generator = 0,
    *,
    max_units_per_agent: int = 1,
    ask_owner: Any = None,
) -> DPClearingResult:
    """An ``epsilon``-differentially-private clearing price (exponential mechanism).

    Parameters
    ----------
    bids, asks : array_like
        Unit bids and asks.
    epsilon : float
        Privacy parameter, ``> 0``; ``math.inf`` returns the welfare-maximizing grid price
        (the lowest one among ties).
    grid : array_like
        Candidate prices, strictly increasing, at least two. It must be public: fixed without
        looking at the reports (e.g. from published price bounds), or the guarantee is void.
    seed : int or numpy.random.Generator
    max_units_per_agent : int, default 1
        Public bound ``m`` on the asks (units) one agent reports; the sensitivity is
        ``m (hi - lo)``, so two profiles differing in one agent's whole report have price
        probabilities within a factor ``exp(epsilon)``.
    ask_owner : array_like of int, optional
        The agent of each ask; checked against ``max_units_per_agent`` (an agent with more
        units than the bound would void the guarantee).

    Returns
    -------
    DPClearingResult
        Trades at the drawn price (one price: strongly budget balanced), the price
        distribution, the expected welfare and its standard deviation over the draw.

    Raises
    ------
    ValueError
        A bad grid, ``epsilon``, bound, or an owner with more asks than the bound.
    """
    start = time.perf_counter()
    rng = _rng(seed)
    bids, asks = _as_side("bids", bids), _as_side("asks", asks)
    grid = _as_side("grid", grid)
    if grid.shape[0] < 2 or not (np.diff(grid) > 0).all():
        raise ValueError("grid must hold at least two strictly increasing prices")
    epsilon = check_epsilon(epsilon)
    max_units_per_agent = check_int("max_units_per_agent", max_units_per_agent, 1)
    if ask_owner is not None:
        owner = np.asarray(ask_owner)
        if owner.shape != asks.shape or owner.dtype.kind not in "iu":
            raise ValueError("ask_owner must hold one integer agent index per ask")
        if owner.size and np.bincount(owner - owner.min()).max() > max_units_per_agent:
            raise ValueError(
                f"an agent reports {int(np.bincount(owner - owner.min()).max())} asks, more than "
                f"max_units_per_agent = {max_units_per_agent}: the privacy guarantee would not hold"
            )
    lo, hi = float(grid[0]), float(grid[-1])
    delta = int(max_units_per_agent) * (hi - lo)
    _, scores = gains_from_trade(np.clip(bids, lo, hi), np.clip(asks, lo, hi), grid)
    n_at, gains = gains_from_trade(bids, asks, grid)
    if math.isinf(epsilon):
        probs = np.zeros(grid.shape[0])
        probs[int(np.argmax(scores))] = 1.0
    else:
        # Shift before scaling: epsilon * scores may overflow (epsilon = 1e308) where
        # epsilon * (scores - max) is -inf off the best prices and exactly 0 on them, so a huge
        # epsilon tends to the uniform draw among the best prices instead of NaN.
        factor = epsilon / (2 * delta)
        shifted = scores - scores.max()
        with np.errstate(over="ignore", invalid="ignore"):
            logits = np.where(shifted == 0, 0.0, shifted * factor)
        probs = np.exp(logits)
        probs /= probs.sum()
    g = int(rng.choice(grid.shape[0], p=probs)) if not math.isinf(epsilon) else int(np.argmax(probs))
    price = float(grid[g])
    bo, so, k = _sorted(bids, asks)
    n = int(n_at[g])
    prob = np.zeros(asks.shape[0])
    prob[so[:n]] = 1.0
    expected = float(probs @ gains)
    spread = float(np.sqrt(max(float(probs @ gains**2) - expected**2, 0.0)))
    return cast(
        DPClearingResult,
        _result(  # _result builds a DPClearingResult for "dp"
            "dp",
            bids,
            asks,
            bo[:n],
            so[:n],
            price,
            price,
            k,
            bo,
            so,
            prob,
            start,
            price=price,
            epsilon=float(epsilon),
            sensitivity=delta,
            max_units_per_agent=int(max_units_per_agent),
            grid=grid,
            scores=scores,
            probabilities=probs,
            gains=gains,
            expected_welfare=expected,
            welfare_std=spread,
        ),
    )


def run_double_auction(
    market: Market,
    mechanism: str = "mcafee",
    params: AuctionParams = AuctionParams(),
    *,
    epsilon: float = 1.0,
    grid: Any = None,
    price_bounds: tuple[float, float] | None = None,
    max_units_per_agent: int | None = None,
    seed: int | np.random.Generator = 0,
) -> DoubleAuctionResult:
    """Run McAfee, SBBA or the DP clearing price on a single-type, unit-demand market.

    Parameters
    ----------
    market : Market
        One model type, demand 0 or 1 per task (see :func:`unit_demand_market`).
    mechanism : {"mcafee", "sbba", "dp"}
    params : AuctionParams
        ``alpha``, ``beta``, ``task_size`` (net values) and ``capacity`` (units per provider).
    epsilon : float
        For ``"dp"``.
    grid : array_like, optional
        For ``"dp"``: the public price grid. Either ``grid`` or ``price_bounds`` is required:
        a grid is never derived from the reports.
    price_bounds : (float, float), optional
        For ``"dp"`` without ``grid``: published bounds ``(lo, hi)``; the grid is 201 prices
        on ``[lo, hi]``.
    max_units_per_agent : int, optional
        For ``"dp"``: public bound on one provider's units. Default: the largest number of
        units a provider's (benchmarked, hence public) capacity gives.
    seed : int or numpy.random.Generator
        SBBA's lottery and the DP draw.

    Returns
    -------
    DoubleAuctionResult
        With ``sides`` set, so ``trades()`` names tasks and providers.

    Raises
    ------
    ValueError
        Unknown mechanism; ``"dp"`` without a public grid or bounds.
    """
    if mechanism not in DOUBLE_AUCTIONS:
        raise ValueError(f"mechanism = {mechanism!r} is not one of {list(DOUBLE_AUCTIONS)}")
    _check_params(params)
    if mechanism != "mcafee":
        _rng(seed)  # a bad seed fails on every market, not only when a draw happens
    if mechanism == "dp" and grid is None:
        if price_bounds is None:
            raise ValueError(
                "mechanism 'dp' needs a public price grid: pass grid= or price_bounds=(lo, hi) "
                "(a grid derived from the reports is not differentially private)"
            )
        try:
            lo, hi = (float(x) for x in price_bounds)
        except (TypeError, ValueError):
            raise ValueError(f"price_bounds = {price_bounds!r} must be two numbers (lo, hi)") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"price_bounds = {price_bounds!r} must be finite with lo < hi")
        grid = np.linspace(lo, hi, 201)
    sides = unit_sides(market, params)
    if mechanism == "mcafee":
        res = mcafee(sides.bids, sides.asks)
    elif mechanism == "sbba":
        res = sbba(sides.bids, sides.asks, seed)
    else:
        if max_units_per_agent is None:
            counts = np.bincount(sides.ask_provider, minlength=1)
            max_units_per_agent = max(int(counts.max(initial=0)), 1)
        res = dp_clearing_price(sides.bids, sides.asks, epsilon, grid, seed,
                                max_units_per_agent=max_units_per_agent, ask_owner=sides.ask_provider)
    return _replace_sides(res, sides)


def _replace_sides(res: DoubleAuctionResult, sides: DoubleAuctionSides) -> DoubleAuctionResult:
    from dataclasses import replace

    return replace(res, sides=sides)
