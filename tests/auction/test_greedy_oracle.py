"""Oracle: the greedy as it was on main before the issue-15 rewrite (local buffers, pointers, fused
densities, faster sort), kept verbatim in the tests only. The new ``run_greedy`` must give
identical results field by field (trades, shares, payments, revenues, utilities, welfare,
violation counts, budget surplus) on every reading and all five scenarios."""

from __future__ import annotations

import time

import numba
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

from oasis_lab.auction.density import normalize_columns, psi_weights
from oasis_lab.auction.greedy import CAPACITY_RTOL, AuctionResult, run_greedy, walk_work
from oasis_lab.auction.pricing import (
    ask_threshold,
    capacity_use,
    ir_violations,
    pair_price,
    provider_utility,
    social_welfare,
    task_unit_price,
    unit_cost_matrix,
    user_costs,
    user_utility,
)
from oasis_lab.market import SCENARIOS, Market, generate_market
from oasis_lab.params import AuctionParams

_MAX_FLOAT = float(np.finfo(np.float64).max)


# ---------------------------------------------------------------------- old densities
def _normalized_inputs(
    market: Market, params: AuctionParams = AuctionParams()
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``C``, ``v``, ``s`` and ``Psi`` of ``market`` normalized as PRICES step 2 asks.

    Returns
    -------
    demand, value, speed, psi : numpy.ndarray
        Shapes as in the market; zeros of ``demand`` and ``speed`` stay 0 (structural).
    """
    method = params.normalize
    return (
        normalize_columns(market.demand, method, structural_zeros=True),
        normalize_columns(market.value, method),
        normalize_columns(market.speed, method, structural_zeros=True),
        normalize_columns(market.psi, method),
    )


def _task_density(market: Market, params: AuctionParams = AuctionParams()) -> np.ndarray:
    """Task bid density ``bd_task_i`` (section 4.2) under ``params.task_density``.

    ``"as_written"``: ``sqrt(sum_t Cn[i, t]^2 + vn_i^2)`` on normalized inputs.
    ``"surplus"``: ``(v_i - e_i) / sqrt(sum_t C[i, t])`` on raw inputs (Lehmann,
    O'Callaghan and Shoham, JACM 2002). Empty tasks get ``-inf``.

    Returns
    -------
    numpy.ndarray, shape (n_tasks,)
    """
    units = market.task_units
    if params.task_density == "surplus":
        surplus = market.value - user_costs(market, params)
        with np.errstate(divide="ignore", invalid="ignore"):
            density = surplus / np.sqrt(units)
    else:
        demand, value, _, _ = _normalized_inputs(market, params)
        density = np.sqrt((demand**2).sum(axis=1) + value**2)
    return np.where(units > 0, density, -np.inf)


def _provider_density(market: Market, params: AuctionParams = AuctionParams()) -> np.ndarray:
    """Provider bid density ``bd_provider_j`` (section 4.2) under ``params.provider_density``.

    ``"as_written"``: ``sqrt(sum_{t: s>0} 1 / sn[j, t]^2 + sum_c w_c Psin[j, c])``: types the
    provider cannot run are skipped (no ``1 / 0``). ``"capability"``:
    ``sqrt(sum_t sn[j, t]^2 + sum_c w_c Psin[j, c])``. ``"unit_cost"``: ``-c_j / sum_t s[j, t]``
    (ascending per-unit price once sorted non-increasing). Providers that can run nothing get
    ``-inf``.

    Returns
    -------
    numpy.ndarray, shape (n_providers,)
    """
    runnable = market.speed > 0
    can_run = runnable.any(axis=1)
    if params.provider_density == "unit_cost":
        return np.where(can_run, -market.provider_unit_cost, -np.inf)
    weights = psi_weights(market, params)
    _, _, speed, psi = _normalized_inputs(market, params)
    psi_term = psi @ weights
    if params.provider_density == "as_written":
        inv = np.where(runnable, 1.0 / np.where(runnable, speed, 1.0) ** 2, 0.0)
        density = np.sqrt(inv.sum(axis=1) + psi_term)
    else:
        density = np.sqrt((speed**2).sum(axis=1) + psi_term)
    return np.where(can_run, density, -np.inf)


def _task_order(market: Market, params: AuctionParams = AuctionParams()) -> np.ndarray:
    """Task indices in PRICES order: priority first (higher first), then non-increasing density.

    Stable: equal keys keep market order.
    """
    density = _task_density(market, params)
    # lexsort sorts by the last key first and is stable.
    return np.lexsort((-density, -market.priority)).astype(np.int64)


def _provider_order(market: Market, params: AuctionParams = AuctionParams()) -> np.ndarray:
    """Provider indices in PRICES order: non-increasing provider density (stable)."""
    density = _provider_density(market, params)
    return np.argsort(-density, kind="stable").astype(np.int64)


# ---------------------------------------------------------------------- compiled walk
@numba.njit(cache=True)
def _refresh(maxavail, minkey, key, use, cap, cap0, order_pos, size, j, c, t_only, track_avail):
    """Recompute provider ``j``'s leaves (types sharing capacity column ``c``) and their paths.

    ``minkey`` holds the smallest ask threshold among providers with room left (more than
    ``CAPACITY_RTOL`` of their capacity ``cap0``);
    ``maxavail`` the largest room left (maintained only when ``track_avail``: ``split=False``
    needs it, the split walk does not). A path update stops as soon as a node is unchanged.
    """
    n_types = use.shape[1]
    for t in range(n_types):
        if t_only >= 0 and t != t_only:
            continue
        u = use[j, t]
        if not np.isfinite(u):
            continue
        avail = cap[j, c] / u
        new_key = key[j, t] if cap[j, c] > CAPACITY_RTOL * cap0[j, c] else np.inf
        node = size + order_pos[j]
        if track_avail:
            maxavail[t, node] = avail
        elif minkey[t, node] == new_key:
            continue
        minkey[t, node] = new_key
        node //= 2
        while node >= 1:
            left = 2 * node
            mk = min(minkey[t, left], minkey[t, left + 1])
            if track_avail:
                ma = max(maxavail[t, left], maxavail[t, left + 1])
                if mk == minkey[t, node] and ma == maxavail[t, node]:
                    break
                maxavail[t, node] = ma
            elif mk == minkey[t, node]:
                break
            minkey[t, node] = mk
            node //= 2


@numba.njit(cache=True)
def _first_leaf(maxavail, minkey, t, size, x, need, track_avail, stack):
    """Leftmost provider (position in ``H``) with ask threshold ``<= x`` and room ``>= need``.

    Without ``track_avail`` (split walk) any room left (see ``_refresh``) will do and the search is a
    single root-to-leaf descent. Returns -1 when there is none.
    """
    if minkey[t, 1] > x:
        return -1
    if not track_avail:
        node = 1
        while node < size:
            node = 2 * node if minkey[t, 2 * node] <= x else 2 * node + 1
        return node - size
    top = 0
    stack[0] = 1
    top = 1
    while top > 0:
        top -= 1
        node = stack[top]
        if minkey[t, node] > x or maxavail[t, node] < need:
            continue
        if node >= size:
            return node - size
        stack[top] = 2 * node + 1
        stack[top + 1] = 2 * node
        top += 2
    return -1


@numba.njit(cache=True)
def _prices_walk(
    t_order, demand, task_price, surplus, p_order, use, key, provider_price, cap0,
    per_type, split, partial, no_trade,
):
    """The PRICES walk; returns the trades (task, provider, type, units) and ``sigma_i``."""
    n_tasks, n_types = demand.shape
    n_providers = use.shape[0]
    size = 1
    while size < n_providers:
        size *= 2
    track_avail = not split
    order_pos = np.empty(n_providers, np.int64)
    for r in range(n_providers):
        order_pos[p_order[r]] = r
    cap = cap0.copy()
    maxavail = np.zeros((n_types, 2 * size))
    minkey = np.full((n_types, 2 * size), np.inf)
    for r in range(n_providers):
        j = p_order[r]
        for t in range(n_types):
            u = use[j, t]
            if np.isfinite(u):
                avail = cap[j, t if per_type else 0] / u
                maxavail[t, size + r] = avail
                if avail > 0:
                    minkey[t, size + r] = key[j, t]
    for node in range(size - 1, 0, -1):
        for t in range(n_types):
            maxavail[t, node] = max(maxavail[t, 2 * node], maxavail[t, 2 * node + 1])
            minkey[t, node] = min(minkey[t, 2 * node], minkey[t, 2 * node + 1])
    stack = np.empty(4 * 64, np.int64)

    # Kept trades never exceed one per (task, type) demand plus one per provider (type)
    # exhaustion; the current task's tentative trades fit in the same bound.
    n_wanted = 0
    for i in range(n_tasks):
        for t in range(n_types):
            if demand[i, t] > 0:
                n_wanted += 1
    n_buf = n_wanted + n_providers * n_types + 1
    tr_task = np.empty(n_buf, np.int64)
    tr_prov = np.empty(n_buf, np.int64)
    tr_type = np.empty(n_buf, np.int64)
    tr_units = np.empty(n_buf)
    tr_prev = np.empty(n_buf)
    share = np.zeros(n_tasks)
    n_tr = 0

    for q in range(n_tasks):
        i = t_order[q]
        total = 0.0
        for t in range(n_types):
            total += demand[i, t]
        if total <= 0:
            continue  # C = 0: never served
        if no_trade and surplus[i] <= 0:
            continue  # every price is > 0, so payment + e_i > v_i: it would be rolled back
        # Exhausted leaves hold +inf, so "every provider with room" is "threshold <= max float".
        x = task_price[i] if no_trade else _MAX_FLOAT
        first = n_tr
        payment = 0.0
        served_units = 0.0
        failed = False
        for t in range(n_types):
            r = demand[i, t]
            while r > 0:
                leaf = _first_leaf(maxavail, minkey, t, size, x, r, track_avail, stack)
                if leaf < 0:
                    break
                j = p_order[leaf]
                c = t if per_type else 0
                u = use[j, t]
                avail = cap[j, c] / u
                tr_task[n_tr] = i
                tr_prov[n_tr] = j
                tr_type[n_tr] = t
                tr_prev[n_tr] = cap[j, c]
                if split and avail < r:
                    units = avail
                    cap[j, c] = 0.0
                else:
                    units = r
                    cap[j, c] = max(cap[j, c] - units * u, 0.0)
                tr_units[n_tr] = units
                n_tr += 1
                _refresh(maxavail, minkey, key, use, cap, cap0, order_pos, size, j, c,
                         t if per_type else -1, track_avail)
                served_units += units
                r -= units
                if no_trade:
                    payment += (provider_price[j, t] + task_price[i]) / 2 * units
                    if not partial and payment > surplus[i]:
                        failed = True
                        break
            if failed:
                break
            if r > 0 and not partial:
                failed = True
                break
        if not failed and no_trade and partial and payment > served_units / total * surplus[i]:
            failed = True
        if failed or served_units <= 0:
            # Roll back in reverse so every provider gets back exactly its earlier capacity.
            for b in range(n_tr - 1, first - 1, -1):
                j = tr_prov[b]
                t = tr_type[b]
                c = t if per_type else 0
                cap[j, c] = tr_prev[b]
                _refresh(maxavail, minkey, key, use, cap, cap0, order_pos, size, j, c,
                         t if per_type else -1, track_avail)
            n_tr = first
        else:
            share[i] = served_units / total if partial else 1.0
    return tr_task[:n_tr].copy(), tr_prov[:n_tr].copy(), tr_type[:n_tr].copy(), tr_units[:n_tr].copy(), share



def _check_finite(market: Market, p_task: np.ndarray, p_provider: np.ndarray, e: np.ndarray) -> None:
    """Refuse a market whose per-unit prices or user costs overflow float64 (before the walk).

    The market's own numbers are finite, but a ratio of extreme ones is not (``value = 1e200``
    over ``demand = 1e-200``): such a round would trade at an infinite price and report
    ``inf``/``nan`` payments, a silent wrong answer.
    """
    units = market.task_units
    bad = (units > 0) & ~np.isfinite(p_task)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"task {i}: per-unit price value[{i}] / sum(demand[{i}]) = {float(market.value[i])!r} / "
            f"{float(units[i])!r} overflows float64 (limit {_MAX_FLOAT:.3g}); rescale value or demand"
        )
    bad = (market.speed > 0) & ~np.isfinite(p_provider)
    if bad.any():
        j, t = (int(k) for k in np.argwhere(bad)[0])
        raise ValueError(
            f"provider {j}: per-unit price of type {t} (cost[{j}] = {float(market.cost[j])!r} over its "
            f"speed) overflows float64 (limit {_MAX_FLOAT:.3g}); rescale cost or speed"
        )
    bad = ~np.isfinite(e)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"task {i}: user cost e = t log_alpha(t) + beta overflows float64 for its size "
            f"t = {float(np.asarray(market.task_units if market.size is None else market.size)[i])!r}"
        )


def oracle_greedy(market: Market, params: AuctionParams) -> AuctionResult:
    """The run_greedy of main before the issue-15 rewrite, verbatim apart from names."""
    start = time.perf_counter()
    no_trade = params.price_rule == "no_trade"
    e = user_costs(market, params)
    surplus = market.value - e
    p_task = task_unit_price(market)
    p_provider = unit_cost_matrix(market, params)
    _check_finite(market, p_task, p_provider, e)
    use = capacity_use(market, params)
    runnable = np.isfinite(use)
    if no_trade:
        key = np.where(runnable, ask_threshold(np.where(runnable, p_provider, 0.0), params.fee), np.inf)
    else:
        key = np.where(runnable, 0.0, np.inf)
    cap0 = (
        np.repeat(market.capacity[:, None], market.n_types, axis=1)
        if params.capacity_per_type
        else market.capacity[:, None].copy()
    )
    t_idx, p_idx, type_idx, units, share = _prices_walk(
        _task_order(market, params),
        np.ascontiguousarray(market.demand),
        np.nan_to_num(p_task, nan=0.0),
        surplus,
        _provider_order(market, params),
        np.ascontiguousarray(use),
        np.ascontiguousarray(key),
        np.ascontiguousarray(p_provider),
        np.ascontiguousarray(cap0),
        params.capacity_per_type,
        params.split,
        params.partial,
        no_trade,
    )
    price, _ = pair_price(p_provider[p_idx, type_idx], p_task[t_idx], params.price_rule, params.fee)
    spend = price * units
    n_tasks, n_providers, n_types = market.n_tasks, market.n_providers, market.n_types
    payment = np.bincount(t_idx, weights=spend, minlength=n_tasks)
    revenue = (1 - params.fee) * np.bincount(p_idx, weights=spend, minlength=n_providers)
    units_pt = np.bincount(p_idx * n_types + type_idx, weights=units, minlength=n_providers * n_types)
    units_pt = units_pt.reshape(n_providers, n_types)
    true_cost = np.bincount(p_idx, weights=p_provider[p_idx, type_idx] * units, minlength=n_providers)
    u_user = user_utility(market.value, e, payment, share)
    u_provider = provider_utility(revenue, true_cost)
    served = share > 0
    trading = np.bincount(p_idx, minlength=n_providers) > 0
    ir_users, ir_providers = ir_violations(market.value, u_user, served, revenue, u_provider, trading)
    trades = pd.DataFrame(
        {"task": t_idx, "provider": p_idx, "type": type_idx, "units": units, "unit_price": price}
    )
    welfare = social_welfare(market, share, units_pt, params)
    totals = {"welfare": welfare, "payments": spend.sum(), "user utility": u_user.sum(),
              "provider utility": u_provider.sum()}
    overflow = [name for name, x in totals.items() if not np.isfinite(x)]
    if overflow:
        raise ValueError(
            f"the round's {', '.join(overflow)} overflow float64 (limit {_MAX_FLOAT:.3g}): the "
            "market's values or prices are too large to add up; rescale value and cost"
        )
    return AuctionResult(
        trades=trades,
        served=served,
        served_share=share,
        task_payment=payment,
        provider_revenue=revenue,
        user_utility=u_user,
        provider_utility=u_provider,
        welfare=welfare,
        ir_violations_users=int(ir_users.sum()),
        ir_violations_providers=int(ir_providers.sum()),
        # The fee is the only wedge between payments and revenues (summing both would add
        # round-off noise); check_budget_balance compares the two sums independently.
        budget_surplus=float(params.fee * spend.sum()),
        runtime_s=time.perf_counter() - start,
        params=params,
    )


# ---------------------------------------------------------------------- the comparison
READINGS = {
    "defaults": AuctionParams(),
    "as_written": AuctionParams(price_rule="as_written"),
    "surplus+unit_cost": AuctionParams(task_density="surplus", provider_density="unit_cost"),
    "capability+minmax": AuctionParams(provider_density="capability", normalize="minmax"),
    "split=False": AuctionParams(split=False),
    "split=False+as_written": AuctionParams(split=False, price_rule="as_written"),
    "partial": AuctionParams(partial=True),
    "partial+split=False+fee": AuctionParams(partial=True, split=False, fee=0.1),
    "time": AuctionParams(capacity="time"),
    "time+partial+per_type": AuctionParams(capacity="time", partial=True, capacity_per_type=True),
    "per_type": AuctionParams(capacity_per_type=True),
    "per_type+split=False+as_written": AuctionParams(
        capacity_per_type=True, split=False, price_rule="as_written"
    ),
    "fee+alpha3+beta0": AuctionParams(fee=0.1, alpha=3, beta=0),
    "task_size=size+psi_weights": AuctionParams(task_size="size", psi_weights=(1.0, 0.0, 2.0, 0.5)),
}


def assert_same_result(new: AuctionResult, old: AuctionResult) -> None:
    """Every field identical (bitwise for floats; NaN equal to NaN), except the runtime."""
    assert new.trades.columns.tolist() == old.trades.columns.tolist()
    for column in old.trades.columns:
        assert new.trades[column].dtype == old.trades[column].dtype, column
        assert_array_equal(new.trades[column].to_numpy(), old.trades[column].to_numpy(), column)
    for name in ("served", "served_share", "task_payment", "provider_revenue", "user_utility",
                 "provider_utility"):
        a, b = getattr(new, name), getattr(old, name)
        assert a.dtype == b.dtype, name
        assert_array_equal(a, b, name)
    for name in ("welfare", "ir_violations_users", "ir_violations_providers", "budget_surplus"):
        assert getattr(new, name) == getattr(old, name), name
    assert new.params == old.params


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("reading", sorted(READINGS))
def test_identical_to_the_previous_greedy(scenario, reading):
    params = READINGS[reading]
    unit = "time" if params.capacity == "time" else "units"
    market = generate_market(3000, 300, scenario=scenario, seed=11, capacity_unit=unit)
    assert_same_result(run_greedy(market, params), oracle_greedy(market, params))


def test_identical_with_priorities_ties_and_empty_tasks():
    # Re-auctioned tasks first, many exact density ties (duplicated rows), empty tasks,
    # providers that run nothing and zero capacities: the tie-run fixing and the pointers.
    base = generate_market(400, 40, seed=5)
    demand = np.vstack([base.demand[:200], base.demand[:200]])
    demand[::17] = 0.0
    value = np.concatenate([base.value[:200], base.value[:200]])
    priority = np.arange(400) % 3
    speed = base.speed.copy()
    speed[::7] = 0.0
    capacity = base.capacity.copy()
    capacity[::5] = 0.0
    market = base.replace(demand=demand, value=value, priority=priority, speed=speed,
                          capacity=capacity, size=np.concatenate([base.size[:200]] * 2))
    for params in READINGS.values():
        assert_same_result(run_greedy(market, params), oracle_greedy(market, params))


def quadratic_corner(n: int) -> Market:
    """Issue 9, item 7: ``n`` providers of capacity 1 and ``n`` tasks demanding ``n + 1`` units
    each (one type). No task can be served; a walk that finds out by searching every provider
    for every task does ``n^2`` searches."""
    return Market(
        demand=np.full((n, 1), n + 1.0),
        value=np.full(n, 1e9),
        speed=np.ones((n, 1)),
        capacity=np.ones(n),
        cost=np.ones(n),
        psi=np.ones((n, 1)),
        model_types=("llm",),
    )


@pytest.mark.parametrize("params", [AuctionParams(), AuctionParams(price_rule="as_written"),
                                    AuctionParams(capacity_per_type=True)])
def test_unservable_tasks_do_not_walk_every_provider(params):
    # Counted work, not time: at most one search per task and provider, never n^2.
    n = 3000
    market = quadratic_corner(n)
    assert walk_work(market, params) <= 2 * n
    result = run_greedy(market, params)
    assert not result.served.any() and len(result.trades) == 0
    small = quadratic_corner(200)
    assert_same_result(run_greedy(small, params), oracle_greedy(small, params))


def test_nearly_unservable_tasks_are_still_served():
    # One unit short of the corner: the first task fits exactly (the room check must not
    # reject a task the walk would serve) and takes every provider.
    n = 500
    market = quadratic_corner(n).replace(demand=np.full((n, 1), float(n)))
    result = run_greedy(market)
    assert result.served.sum() == 1 and len(result.trades) == n
    assert_same_result(result, oracle_greedy(market, AuctionParams()))


def test_tasks_over_budget_at_the_cheapest_ask_are_skipped_without_a_search():
    # Every unit costs at least the midpoint of the task's price (10) and the cheapest ask (9):
    # 9.5 per unit against a budget of v - e = 10 - 1 = 9: no task can be served, and the walk
    # must find out without searching (before, every task searched and rolled back).
    n = 200
    market = Market(
        demand=np.ones((n, 1)),
        value=np.full(n, 10.0),
        speed=np.ones((n, 1)),
        capacity=np.full(n, 5.0),
        cost=np.linspace(9.0, 9.9, n),
        psi=np.ones((n, 1)),
        model_types=("llm",),
    )
    assert walk_work(market) == 0
    assert_same_result(run_greedy(market), oracle_greedy(market, AuctionParams()))
    # one unit of slack in the budget: the same market is served, with searches
    cheaper = market.replace(cost=np.full(n, 7.0))
    assert walk_work(cheaper) > 0 and run_greedy(cheaper).served.all()
    assert_same_result(run_greedy(cheaper), oracle_greedy(cheaper, AuctionParams()))


@pytest.mark.parametrize("n", [5, 2047, 2048, 100_003])
def test_stable_descending_order_is_the_stable_sort(n):
    # the radix path (n >= 2048) and the small path give numpy's stable order, ties by index,
    # -0.0 equal to +0.0, infinities and subnormals in place
    from oasis_lab.auction.density import stable_descending_order

    rng = np.random.default_rng(n)
    for d in (
        rng.standard_normal(n),
        rng.integers(-3, 3, n).astype(float),
        np.where(rng.random(n) < 0.5, -0.0, 0.0),
    ):
        d = d.copy()
        d[::7] = -np.inf
        d[1::11] = np.inf
        d[2::13] = 5e-324
        d[3::17] = -5e-324
        assert_array_equal(stable_descending_order(d), np.argsort(-d, kind="stable"))
    with_nan = rng.standard_normal(n)
    with_nan[0] = np.nan
    assert_array_equal(stable_descending_order(with_nan), np.argsort(-with_nan, kind="stable"))
