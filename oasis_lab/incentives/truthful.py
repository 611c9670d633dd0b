"""A truthful variant of PRICES: posted per-unit price, monotone walk, critical-value payments.

Whitepaper section 4 matches tasks and providers greedily by bid density and prices each pair
at the midpoint of the two per-unit prices; every agent can gain by misreporting
(``docs/mechanism.md``, "Incentives"). This variant keeps the greedy walk (first fit, all or
nothing, surplus task density) and changes what the reports decide:

1. **A posted per-unit price** ``p`` that does not depend on this round's reports (the price
   that did best in a previous round, :func:`tuned_price`, a previous round's clearing price,
   :func:`clearing_price`, or a public reference).
2. **Providers**: provider ``j`` is eligible iff its reported unit cost ``c_j / sum_t s[j, t]``
   is at most ``p``; eligible providers are walked in order of *verified* capability
   (``provider_density="capability"``: benchmarked speeds and ``Psi``, not the cost report) and
   receive ``p`` per unit served: ``p`` is their critical ask, the highest cost report at which
   they still trade the same units.
3. **Users**: task ``i`` is eligible iff its reported net value covers the posted price,
   ``v_i - e_i >= p sum_t C[i, t]``; eligible tasks are walked in order of surplus density
   ``(v_i - e_i) / sqrt(sum_t C[i, t])`` (Lehmann, O'Callaghan and Shoham 2002), first fit over
   the eligible providers, all or nothing, no budget check. A served user pays its **critical
   value** ``theta_i - e_i``, the lowest report at which it would still be served (found on the
   same walk by bisection over the positions it could take), at least ``p sum_t C[i, t]``.

Properties (proofs in ``docs/mechanism.md``, "A truthful variant of the greedy"; tested with
:func:`~oasis_lab.incentives.manipulability.manipulability`):

- dominant-strategy truthful and individually rational for **users** who are single-minded
  (they want their whole bundle and nothing less), whose bundle ``C[i, :]`` and size are public
  (the task is what is executed; ``e_i`` is a function of it) and whose only private report is
  ``v_i``;
- dominant-strategy truthful and individually rational for **providers** whose speeds, ``Psi``
  and capacity are verified (benchmarked by the platform) and whose only private report is the
  cost ``c_j``, whatever their number of units (the price is posted, so a multi-unit provider
  cannot move it);
- weakly budget balanced: users pay at least ``p`` per unit, providers receive exactly ``p``.

It is *not* truthful against a misreported bundle, an unverified speed or capacity, collusion,
or an agent that can move ``p`` (e.g. by bidding in the round that sets it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from oasis_lab.auction.density import provider_order, task_density
from oasis_lab.auction.greedy import run_greedy
from oasis_lab.auction.pricing import social_welfare, user_costs
from oasis_lab.checks import check_int, check_real
from oasis_lab.market import Market
from oasis_lab.params import AuctionParams

__all__ = ["PostedPrices", "TruthfulResult", "clearing_price", "submarket", "truthful_greedy", "tuned_price"]


@dataclass(frozen=True, eq=False)
class PostedPrices:
    """One posted per-unit price per agent (instead of one for the whole market).

    ``task[i]`` is user ``i``'s price (admission ``v_i - e_i >= task[i] U_i``, payment at
    least ``task[i] U_i``), ``provider[j]`` provider ``j``'s (admission ``u_j <= provider[j]``,
    paid ``provider[j]`` per unit). A leave-one-out price (each agent's computed without its
    own reports) is of this kind; users may then pay less per unit than some providers
    receive, so weak budget balance is no longer guaranteed.
    """

    task: np.ndarray
    provider: np.ndarray

    def checked(self, n_tasks: int, n_providers: int) -> PostedPrices:
        """Float arrays of the right lengths, finite and ``>= 0``, or one error naming the side."""
        out = []
        for name, arr, n in (("task", self.task, n_tasks), ("provider", self.provider, n_providers)):
            a = np.asarray(arr, dtype=np.float64)
            if a.shape != (n,):
                raise ValueError(f"PostedPrices.{name} has shape {a.shape}, the market needs ({n},)")
            if not np.isfinite(a).all() or (a < 0).any():
                i = int(np.flatnonzero(~np.isfinite(a) | (a < 0))[0])
                raise ValueError(f"PostedPrices.{name}[{i}] = {a[i]} must be finite and >= 0")
            out.append(a)
        return PostedPrices(out[0], out[1])


@dataclass(frozen=True, eq=False)
class TruthfulResult:
    """Outcome of :func:`truthful_greedy` (computed on the reports it was given).

    Attributes
    ----------
    served_share : numpy.ndarray, shape (n_tasks,)
        1 for served tasks, 0 otherwise (all or nothing).
    task_payment : numpy.ndarray, shape (n_tasks,)
        Critical value ``theta_i - e_i`` of each served user (``nan`` if not computed).
    critical_value : numpy.ndarray, shape (n_tasks,)
        ``theta_i``, the lowest reported value at which the task is still served (``nan`` for
        unserved tasks or when payments were not computed).
    units : numpy.ndarray, shape (n_providers, n_types)
        Units served by each provider and type.
    provider_revenue : numpy.ndarray, shape (n_providers,)
        ``p`` (the provider's posted price) times the units served.
    eligible_tasks, eligible_providers : numpy.ndarray of bool
        Who passed the posted-price test.
    reference_price : float
        The posted per-unit price ``p`` (``nan`` under per-agent :class:`PostedPrices`).
    task_price, provider_price : numpy.ndarray
        The price each user and each provider faced (all ``p`` under one posted price).
    welfare : float
        Social welfare of the allocation on the given market.
    budget_surplus : float
        Payments minus revenues (>= 0 under one posted price; ``nan`` if payments were not
        computed).
    n_walks : int
        Greedy walks run (1 for the allocation plus the bisection probes).
    runtime_s : float
    """

    served_share: np.ndarray
    task_payment: np.ndarray
    critical_value: np.ndarray
    units: np.ndarray
    provider_revenue: np.ndarray
    eligible_tasks: np.ndarray
    eligible_providers: np.ndarray
    reference_price: float
    task_price: np.ndarray
    provider_price: np.ndarray
    welfare: float
    budget_surplus: float
    n_walks: int
    runtime_s: float

    @property
    def served(self) -> np.ndarray:
        """Tasks served."""
        return self.served_share > 0


def _check(market: Market, params: AuctionParams) -> None:
    if not isinstance(market, Market):
        raise TypeError(f"market must be an oasis_lab.market.Market, got {type(market).__name__}")
    if not isinstance(params, AuctionParams):
        raise TypeError(f"params must be an AuctionParams, got {type(params).__name__}")
    # The monotonicity proof needs split first fit on a shared (or per-type) unit capacity.
    for name, want in (("capacity", "units"), ("split", True), ("partial", False), ("fee", 0.0)):
        if getattr(params, name) != want:
            raise ValueError(
                f"truthful_greedy needs params.{name} = {want!r} (its proof does not cover "
                f"{name} = {getattr(params, name)!r})"
            )


def clearing_price(market: Market, params: AuctionParams = AuctionParams()) -> float:
    """Per-unit price where aggregate unit demand meets aggregate unit supply.

    Tasks demand ``sum_t C[i, t]`` units each at per-unit net value
    ``(v_i - e_i) / sum_t C[i, t]``; providers supply ``w_j`` units at unit cost
    ``c_j / sum_t s[j, t]`` (types are pooled). Returns the midpoint of the interval of prices
    that separates the last unit traded from the first not traded. Used on a *previous*
    round's market to post the price of :func:`truthful_greedy` (it reads the reports of the
    market it is given, so it must not be this round's).

    Raises
    ------
    ValueError
        The market has no task with demand or no provider that can run anything.
    """
    if not isinstance(market, Market):
        raise TypeError(f"market must be an oasis_lab.market.Market, got {type(market).__name__}")
    units = market.task_units
    has = units > 0
    unit_cost = market.provider_unit_cost
    runs = np.isfinite(unit_cost) & (market.capacity > 0)
    if not has.any() or not runs.any():
        raise ValueError("clearing_price needs at least one task with demand and one provider with capacity")
    per_unit = (market.value - user_costs(market, params))[has] / units[has]
    candidates = np.unique(np.concatenate([per_unit, unit_cost[runs]]))
    # Units demanded at price >= x and supplied at cost <= x, for every candidate x.
    vo = np.argsort(-per_unit, kind="stable")
    demand_cum = np.cumsum(units[has][vo])
    d_at = np.searchsorted(-per_unit[vo], -candidates, side="right")
    demanded = np.where(d_at > 0, demand_cum[np.maximum(d_at - 1, 0)], 0.0)
    co = np.argsort(unit_cost[runs], kind="stable")
    supply_cum = np.cumsum(market.capacity[runs][co])
    s_at = np.searchsorted(unit_cost[runs][co], candidates, side="right")
    supplied = np.where(s_at > 0, supply_cum[np.maximum(s_at - 1, 0)], 0.0)
    excess = demanded - supplied  # non-increasing in the price
    over = np.flatnonzero(excess > 0)
    under = np.flatnonzero(excess <= 0)
    if not over.size:
        return float(candidates[0])
    if not under.size:
        return float(candidates[-1])
    return float((candidates[over[-1]] + candidates[under[0]]) / 2)


def submarket(market: Market, tasks: Any, providers: Any, *, cost: np.ndarray | None = None) -> Market:
    """The market of the tasks and providers named (index arrays, in market order kept).

    ``cost`` replaces the chosen providers' costs (one per chosen provider).
    """
    tasks, providers = np.asarray(tasks, dtype=np.int64), np.asarray(providers, dtype=np.int64)
    return Market(
        demand=market.demand[tasks],
        value=market.value[tasks],
        speed=market.speed[providers],
        capacity=market.capacity[providers],
        cost=market.cost[providers] if cost is None else cost,
        psi=market.psi[providers],
        model_types=market.model_types,
        size=None if market.size is None else market.size[tasks],
        psi_names=market.psi_names,
        priority=market.priority[tasks],
    )


def _walk_market(market: Market, tasks: np.ndarray, providers: np.ndarray, rank: np.ndarray) -> Market:
    """The eligible sub-market, with costs replaced so that ``unit_cost`` order is ``rank`` order.

    The walk itself is :func:`run_greedy`'s (``price_rule="as_written"`` makes every runnable
    pair trade and never stops on a budget); only its allocation is used. Costs are set to
    ``(rank + 1) sum_t s[j, t]`` so that ascending unit cost is the verified-capability order.
    """
    return submarket(market, tasks, providers,
                     cost=(rank[providers] + 1.0) * market.speed[providers].sum(axis=1))


def truthful_greedy(
    market: Market,
    reference_price: float | PostedPrices,
    params: AuctionParams = AuctionParams(task_density="surplus"),
    *,
    compute_payments: bool = True,
    payments_for: Any = None,
) -> TruthfulResult:
    """Run the truthful variant of PRICES on the reports in ``market`` (section 4).

    Parameters
    ----------
    market : Market
        Reported values and costs; speeds, ``Psi`` and capacities are taken as verified.
    reference_price : float or PostedPrices
        The posted per-unit price ``p >= 0``; it must not depend on this round's reports
        (e.g. :func:`clearing_price` of the previous round; under repetition, see
        :mod:`oasis_lab.incentives.repeated`). :class:`PostedPrices` posts one price per
        agent (a leave-one-out price).
    params : AuctionParams
        ``alpha``, ``beta``, ``task_size`` (user cost) and ``capacity_per_type``; the densities
        are fixed by the mechanism (surplus tasks, verified-capability providers). Needs
        ``capacity="units"``, ``split=True``, ``partial=False``, ``fee=0``.
    compute_payments : bool, default True
        Compute each served user's critical value (about ``log2(n_tasks) + 1`` walks per served
        user). ``False`` for welfare studies: payments and budget surplus are then ``nan``.
    payments_for : sequence of int, optional
        Compute the critical value of these tasks only (the others' payments are ``nan``):
        a unilateral-deviation scan needs the deviator's payment alone.

    Returns
    -------
    TruthfulResult

    Raises
    ------
    TypeError, ValueError
        Bad market, params or price, before any work.

    Examples
    --------
    >>> from oasis_lab.market import generate_market
    >>> m = generate_market(30, 6, seed=1)
    >>> p = clearing_price(generate_market(30, 6, seed=2))
    >>> res = truthful_greedy(m, p)
    >>> bool(res.budget_surplus >= 0)
    True
    """
    start = time.perf_counter()
    _check(market, params)
    if isinstance(reference_price, PostedPrices):
        prices = reference_price.checked(market.n_tasks, market.n_providers)
        p = float("nan")
        p_task, p_prov = prices.task, prices.provider
    else:
        p = check_real("reference_price", reference_price, minimum=0.0)
        p_task, p_prov = np.full(market.n_tasks, p), np.full(market.n_providers, p)
    if not isinstance(compute_payments, bool):
        raise TypeError(f"compute_payments must be a bool, got {compute_payments!r}")
    wanted = np.ones(market.n_tasks, dtype=bool)
    if payments_for is not None:
        idx = np.asarray(payments_for, dtype=np.int64).ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= market.n_tasks):
            raise ValueError(f"payments_for has task indices outside [0, {market.n_tasks})")
        wanted = np.zeros(market.n_tasks, dtype=bool)
        wanted[idx] = True
    walk_params = params.replace(
        task_density="surplus", provider_density="unit_cost", price_rule="as_written", psi_weights=None
    )
    n_tasks, n_prov, n_types = market.n_tasks, market.n_providers, market.n_types
    e = user_costs(market, params)
    units_total = market.task_units
    net = market.value - e
    eligible_t = (units_total > 0) & (net >= p_task * units_total)
    eligible_p = (market.provider_unit_cost <= p_prov) & (market.capacity > 0)
    # Verified-capability order over *all* providers (reports of cost do not enter it).
    order = provider_order(market, params.replace(provider_density="capability"))
    rank = np.empty(n_prov, np.float64)
    rank[order] = np.arange(n_prov)
    tasks = np.flatnonzero(eligible_t)
    provs = np.flatnonzero(eligible_p)
    share = np.zeros(n_tasks)
    units = np.zeros((n_prov, n_types))
    payment = np.full(n_tasks, np.nan)
    critical = np.full(n_tasks, np.nan)
    n_walks = 0
    if tasks.size and provs.size:
        sub = _walk_market(market, tasks, provs, rank)
        res = run_greedy(sub, walk_params)
        n_walks += 1
        share[tasks] = res.served_share
        units[provs] = res.units_matrix(n_types)
        if compute_payments:
            dens = task_density(sub, walk_params)
            for k in np.flatnonzero(res.served & wanted[tasks]):
                theta, walks = _critical_value(sub, walk_params, int(k), dens, float(p_task[tasks[k]]),
                                               float(e[tasks[k]]))
                critical[tasks[k]] = theta
                n_walks += walks
    served = share > 0
    if compute_payments:
        payment = np.where(served, critical - e, np.where(wanted, 0.0, np.nan))
        critical = np.where(served, critical, np.nan)
    revenue = p_prov * units.sum(axis=1)
    budget = float(payment.sum() - revenue.sum()) if compute_payments else float("nan")
    return TruthfulResult(
        served_share=share,
        task_payment=payment,
        critical_value=critical,
        units=units,
        provider_revenue=revenue,
        eligible_tasks=eligible_t,
        eligible_providers=eligible_p,
        reference_price=p,
        task_price=p_task,
        provider_price=p_prov,
        welfare=social_welfare(market, share, units, params),
        budget_surplus=budget,
        n_walks=n_walks,
        runtime_s=time.perf_counter() - start,
    )


def _least_float(pred: Any, lo: float, hi: float) -> float:
    """The smallest float ``x`` in ``[lo, hi]`` with ``pred(x)``, for ``0 < lo <= hi``, ``pred``
    monotone (false then true) and ``pred(hi)`` true: bisection on the floats themselves.

    Positive floats are ordered as their int64 bit patterns, so about 62 steps reach the exact
    float whatever the magnitudes.
    """
    if pred(lo):
        return lo
    a = int(np.float64(lo).view(np.int64))  # pred false here
    b = int(np.float64(hi).view(np.int64))  # pred true here
    while b - a > 1:
        mid = (a + b) // 2
        if pred(float(np.int64(mid).view(np.float64))):
            b = mid
        else:
            a = mid
    return float(np.int64(b).view(np.float64))


def _critical_value(
    sub: Market, params: AuctionParams, k: int, dens: np.ndarray, p: float, e_k: float
) -> tuple[float, int]:
    """The smallest report at which task ``k`` of the eligible sub-market is still served, exactly.

    The walk depends on ``k``'s report only through its position among the tasks of its
    priority (the walk of the tasks before it does not depend on it; ``price_rule="as_written"``
    never reads a budget) and through admission (``v - e_k >= p U_k``). Its density
    ``fl(fl(v - e_k) / sqrt(U_k))`` is non-decreasing in ``v``, so each competing task ``m``
    that the walk places after ``k`` has a *threshold*: the smallest float ``v`` at which ``k``
    still sorts before ``m`` (density above ``m``'s, or equal with ``k``'s index lower: ties
    keep market order), found by bisection on the floats (:func:`_least_float`, no walk). In
    walk order the thresholds do not increase, and being served is monotone in the position
    (proof in ``docs/mechanism.md``), so the critical report is one of these thresholds (or
    the admission bound), found by bisection over them with one walk per probe, each probe at
    the threshold itself: no relative margin that could jump over a near-tie.
    """
    root = float(np.sqrt(sub.task_units[k]))
    e_sub = float(user_costs(sub, params)[k])  # the e the walk's density reads (== e_k)
    tiny = float(np.nextafter(0.0, 1.0))  # a report must stay > 0 (Market's contract)
    v_k = float(sub.value[k])
    need = p * float(sub.task_units[k])
    admitted = _least_float(lambda v: v - e_k >= need, tiny, v_k)
    same = np.flatnonzero(sub.priority == sub.priority[k])
    d_k = float(dens[k])
    idx = np.arange(sub.n_tasks)
    after = same[((dens[same] < d_k) | ((dens[same] == d_k) & (idx[same] > k)))]
    # walk order of the competitors: density non-increasing, ties by index (a stable sort)
    after = after[np.lexsort((after, -dens[after]))]

    def threshold(q: int) -> float:
        m, d_m = int(after[q]), float(dens[after[q]])
        if k < m:
            before = lambda v: (v - e_sub) / root >= d_m  # noqa: E731
        else:
            before = lambda v: (v - e_sub) / root > d_m  # noqa: E731
        return max(admitted, _least_float(before, tiny, v_k))

    def served_at(v: float) -> bool:
        value = sub.value.copy()
        value[k] = v
        return bool(run_greedy(sub.replace(value=value), params).served[k])

    # candidates[q] = threshold(q) for q < n, admitted for q = n: non-increasing in q, and
    # served at candidates[0] (k's own position). Find the largest q still served.
    n = after.size
    walks = 0
    lo, hi = 0, n  # served at candidate lo; the answer is in [lo, hi]
    cache: dict[int, float] = {}

    def candidate(q: int) -> float:
        if q not in cache:
            cache[q] = admitted if q == n else threshold(q)
        return cache[q]

    while lo < hi:
        mid = (lo + hi + 1) // 2
        if candidate(mid) == candidate(lo):
            lo = mid  # the same report: the same walk
            continue
        walks += 1
        if served_at(candidate(mid)):
            lo = mid
        else:
            hi = mid - 1
    return candidate(lo), walks


def tuned_price(
    previous: Market,
    params: AuctionParams = AuctionParams(task_density="surplus"),
    *,
    n_candidates: int = 41,
) -> float:
    """The posted price that would have maximized this mechanism's welfare in a previous round.

    Candidates are ``n_candidates`` quantiles of the previous round's per-unit net values and
    provider unit costs, and its :func:`clearing_price`; each is tried with
    :func:`truthful_greedy` (allocation only) on the previous market. Like
    :func:`clearing_price` it reads only the previous round's reports, so it is a
    report-independent price for the current round.
    """
    if not isinstance(previous, Market):
        raise TypeError(f"previous must be an oasis_lab.market.Market, got {type(previous).__name__}")
    n = check_int("n_candidates", n_candidates, 2)
    units = previous.task_units
    has = units > 0
    per_unit = (previous.value - user_costs(previous, params))[has] / units[has]
    costs = previous.provider_unit_cost[np.isfinite(previous.provider_unit_cost)]
    pool = np.concatenate([per_unit[per_unit > 0], costs])
    if pool.size == 0:
        raise ValueError("the previous round has no positive per-unit value or finite unit cost")
    # The clearing price is a candidate too, so the tuned price never does worse than it on
    # the round it reads.
    candidates = np.unique(np.append(np.quantile(pool, np.linspace(0.0, 1.0, n)), clearing_price(previous, params)))
    welfare = [truthful_greedy(previous, float(c), params, compute_payments=False).welfare for c in candidates]
    return float(candidates[int(np.argmax(welfare))])
