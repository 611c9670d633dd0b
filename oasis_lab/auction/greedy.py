"""PRICES: the whitepaper's greedy combinatorial double auction (section 4.2).

Model (section 4, indices of ``docs/readings.md``): task ``i`` requests ``C[i, t]``
units of model type ``t`` and is worth ``v_i`` for the bundle; provider ``j`` offers
``S_j = (s_j, w_j, c_j)``. PRICES sorts tasks by non-increasing bid density ``G`` and
providers by non-increasing bid density ``H`` (:mod:`oasis_lab.auction.density`), then walks
both lists with two pointers ``i`` and ``j``: each step gives task ``i`` as many units as
provider ``j`` can still serve of the types ``j`` can run, at the pair price ``P_ij``
(:func:`oasis_lab.auction.pricing.pair_price`); when ``j`` is exhausted ``j += 1``, when
task ``i`` is satisfied ``i += 1``. Payments are ``sum_j P_ij units_ij`` for the task and
``sum_i P_ij units_ij`` for the provider (less the platform ``fee``).

Readings taken (each a field of :class:`~oasis_lab.params.AuctionParams`, measured in
``docs/mechanism.md``):

- **Pointer** ``j`` is "the first provider in ``H`` that can still serve the type": in a
  one-type market where every pair trades it is exactly the paper's monotone pointer, and it
  lets a provider passed over for one task (it cannot run the task's types, or the pair does
  not trade) still serve later tasks, instead of being skipped forever.
- Within a step the provider's capacity goes to the task's types in type order; serving the
  types one after the other, each from the first provider that still has room, gives the same
  allocation (by induction over the types), which is how the walk is computed.
- **All-or-nothing** (``partial=False``): a task whose demand cannot be met in full is rolled
  back and its units returned to the providers, which become available again to later tasks.
  ``partial=True`` keeps what was served; value and ``e_i`` then count pro rata to the served
  share ``sigma_i = served units / demanded units``.
- **Budget** (PRICES lines 10 and 16, ``v_i <- v_i - q_i``): read as the task's remaining
  budget ``v_i - payment_i``. Under ``price_rule="no_trade"`` a task is rolled back as soon as
  ``payment_i + e_i > v_i`` (user individual rationality; with ``partial=True``, once its
  walk ends, if ``payment_i > sigma_i (v_i - e_i)``), so no served user loses. Under
  ``"as_written"`` the walk does not stop on the budget (the paper never does), so users may
  pay more than their value: those are the counted IR violations. Empty tasks are skipped
  (``C = 0``).
- **Prices**: task per-unit price ``v_i / sum_t C[i, t]``; provider per-unit price of type
  ``t`` ``unit_cost[j, t]`` (``c_j / sum_t s[j, t]`` as in section 4.1; ``c_j / s[j, t]`` under
  ``capacity="time"``, where that is the true cost of a unit).
- **Units** are divisible (the constraint's ``A_ij in [0, 1]``): under ``capacity="units"``
  with integer demand and capacities every trade is a whole number of units; under
  ``capacity="time"`` a provider serves ``remaining time * s[j, t]`` units of type ``t``.
- ``split=False``: each (task, type) demand goes whole to the first provider that can take it.
- ``capacity_per_type=True``: ``w_j`` applies to each model type separately.
- Re-auctioned tasks (``Market.priority``) go first; see :mod:`oasis_lab.auction.rebid`.

Implementation: the walk is inherently sequential (rollbacks return capacity that later
tasks may use), so it is a numba-compiled loop over trades. "The first provider in ``H`` that
can still serve type ``t`` (and, under ``no_trade``, whose ask the task's price covers)" is a
leftmost-leaf search in one segment tree per type over the providers in ``H`` order, keyed by
the provider's ask threshold: ``O(log n_providers)`` per trade, so a round costs
``O((n_tasks + n_trades) log n_providers)`` after the ``O(n log n)`` sorts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from oasis_lab.market import Market
from oasis_lab.params import AuctionParams
from oasis_lab.auction.density import provider_order, psi_weights, task_order
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

__all__ = ["AuctionResult", "run_greedy", "UNIT_EPS"]

#: Remaining capacity (in units of a type) at or below which a provider counts as exhausted
#: for that type: guards the ``capacity="time"`` reading against round-off crumbs.
UNIT_EPS = 1e-9

_MAX_FLOAT = float(np.finfo(np.float64).max)


@dataclass(frozen=True, eq=False)
class AuctionResult:
    """Outcome of one PRICES round (whitepaper section 4).

    Attributes
    ----------
    trades : pandas.DataFrame
        One row per (task, provider, type) trade: ``task``, ``provider``, ``type`` (model type
        index), ``units`` and ``unit_price`` (``P_ij``, what the user pays per unit).
    served : numpy.ndarray of bool, shape (n_tasks,)
        Task won (all-or-nothing: fully served; ``partial=True``: served a positive share).
    served_share : numpy.ndarray, shape (n_tasks,)
        ``sigma_i``: served units over demanded units (1 or 0 unless ``partial=True``).
    task_payment : numpy.ndarray, shape (n_tasks,)
        Task trade price ``sum_j P_ij units_ij``.
    provider_revenue : numpy.ndarray, shape (n_providers,)
        Device trade price ``(1 - fee) sum_i P_ij units_ij``.
    user_utility, provider_utility : numpy.ndarray
        ``sigma_i (v_i - e_i) - payment_i`` and ``revenue_j - true cost of its units``.
    welfare : float
        ``sum_i sigma_i (v_i - e_i) - sum_{j, t} unit_cost[j, t] units[j, t]``.
    ir_violations_users : int
        Served users with negative utility.
    ir_violations_providers : int
        Trading providers with negative utility.
    budget_surplus : float
        Payments minus revenues: the platform's fee income (0 when ``fee = 0``).
    runtime_s : float
        Wall time of :func:`run_greedy`.
    params : AuctionParams
        The readings used.
    """

    trades: pd.DataFrame
    served: np.ndarray
    served_share: np.ndarray
    task_payment: np.ndarray
    provider_revenue: np.ndarray
    user_utility: np.ndarray
    provider_utility: np.ndarray
    welfare: float
    ir_violations_users: int
    ir_violations_providers: int
    budget_surplus: float
    runtime_s: float
    params: AuctionParams

    @property
    def n_tasks(self) -> int:
        """Number of tasks in the round."""
        return int(self.served.shape[0])

    @property
    def n_providers(self) -> int:
        """Number of providers in the round."""
        return int(self.provider_revenue.shape[0])

    def units_matrix(self, n_types: int) -> np.ndarray:
        """Units served per provider and type, shape (n_providers, n_types)."""
        tr = self.trades
        flat = tr["provider"].to_numpy() * n_types + tr["type"].to_numpy()
        units = np.bincount(flat, weights=tr["units"].to_numpy(), minlength=self.n_providers * n_types)
        return units.reshape(self.n_providers, n_types)

    def summary(self) -> pd.DataFrame:
        """One-row table of the round: readings, served tasks, welfare, utilities, violations."""
        payments = float(self.task_payment.sum())
        return pd.DataFrame(
            {
                "readings": [self.params.label()],
                "n_tasks": [self.n_tasks],
                "n_providers": [self.n_providers],
                "tasks_served": [int(self.served.sum())],
                "served_share": [float(self.served_share.mean())],
                "trades": [len(self.trades)],
                "units": [float(self.trades["units"].sum())],
                "welfare": [self.welfare],
                "user_utility": [float(self.user_utility.sum())],
                "provider_utility": [float(self.provider_utility.sum())],
                "payments": [payments],
                "budget_surplus": [self.budget_surplus],
                "ir_violations_users": [self.ir_violations_users],
                "ir_violations_providers": [self.ir_violations_providers],
                "runtime_s": [self.runtime_s],
            }
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per task: served, share, payment and utility."""
        return pd.DataFrame(
            {
                "served": self.served,
                "served_share": self.served_share,
                "payment": self.task_payment,
                "user_utility": self.user_utility,
            }
        ).rename_axis("task")


# ---------------------------------------------------------------------- compiled walk
@numba.njit(cache=True)
def _refresh(maxavail, minkey, key, use, cap, order_pos, size, j, c, t_only, track_avail):
    """Recompute provider ``j``'s leaves (types sharing capacity column ``c``) and their paths.

    ``minkey`` holds the smallest ask threshold among providers with room left (> UNIT_EPS);
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
        new_key = key[j, t] if avail > UNIT_EPS else np.inf
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

    Without ``track_avail`` (split walk) any room above UNIT_EPS will do and the search is a
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
                if avail > UNIT_EPS:
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
                _refresh(maxavail, minkey, key, use, cap, order_pos, size, j, c,
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
                _refresh(maxavail, minkey, key, use, cap, order_pos, size, j, c,
                         t if per_type else -1, track_avail)
            n_tr = first
        else:
            share[i] = served_units / total if partial else 1.0
    return tr_task[:n_tr].copy(), tr_prov[:n_tr].copy(), tr_type[:n_tr].copy(), tr_units[:n_tr].copy(), share


# ---------------------------------------------------------------------- public API
def _check_inputs(market: Market, params: AuctionParams) -> None:
    if not isinstance(market, Market):
        raise TypeError(f"market must be an oasis_lab.market.Market, got {type(market).__name__}")
    if not isinstance(params, AuctionParams):
        raise TypeError(f"params must be an AuctionParams, got {type(params).__name__}")
    psi_weights(market, params)  # length check, before any work


def run_greedy(market: Market, params: AuctionParams = AuctionParams()) -> AuctionResult:
    """Run one round of PRICES (whitepaper section 4.2) under the readings of ``params``.

    Parameters
    ----------
    market : Market
        Tasks and providers of the round (not modified).
    params : AuctionParams
        Densities, price rule, capacity and splitting readings, ``alpha``, ``beta``, fee.

    Returns
    -------
    AuctionResult
        Trades, served tasks, payments, revenues, utilities, welfare, IR violation counts.

    Raises
    ------
    TypeError
        ``market`` or ``params`` of the wrong type.
    ValueError
        ``psi_weights`` of the wrong length, ``task_size="size"`` without a size column.

    Notes
    -----
    Deterministic: ties in density keep market order. The first call in a fresh environment
    compiles the walk (a few seconds, cached on disk by numba afterwards).

    Examples
    --------
    >>> from oasis_lab.market import generate_market
    >>> result = run_greedy(generate_market(50, 10, seed=1))
    >>> result.ir_violations_users
    0
    """
    start = time.perf_counter()
    _check_inputs(market, params)
    no_trade = params.price_rule == "no_trade"
    e = user_costs(market, params)
    surplus = market.value - e
    p_task = task_unit_price(market)
    p_provider = unit_cost_matrix(market, params)
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
        task_order(market, params),
        np.ascontiguousarray(market.demand),
        np.nan_to_num(p_task, nan=0.0),
        surplus,
        provider_order(market, params),
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
    return AuctionResult(
        trades=trades,
        served=served,
        served_share=share,
        task_payment=payment,
        provider_revenue=revenue,
        user_utility=u_user,
        provider_utility=u_provider,
        welfare=social_welfare(market, share, units_pt, params),
        ir_violations_users=int(ir_users.sum()),
        ir_violations_providers=int(ir_providers.sum()),
        # The fee is the only wedge between payments and revenues (summing both would add
        # round-off noise); check_budget_balance compares the two sums independently.
        budget_surplus=float(params.fee * spend.sum()),
        runtime_s=time.perf_counter() - start,
        params=params,
    )
