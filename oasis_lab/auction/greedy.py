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

Implementation: the walk is inherently sequential (an earlier task's trades decide what is
left for later ones), so it is a numba-compiled loop over trades. "The first provider in ``H``
that can still serve type ``t`` (and, under ``no_trade``, whose ask the task's price covers)"
is a leftmost-leaf search in one segment tree per type over the providers in ``H`` order, keyed
by the provider's ask threshold. A task's trades are tried in a local buffer of tentative
capacities and committed to the trees only when the task is served, so a rolled-back task
costs its searches and nothing else, committed capacity only decreases, and each search
starts from a per-type pointer to the first provider with room (``O(log distance)``). A
task whose demand exceeds the room left for one of its types (all-or-nothing), or whose
cheapest possible payment exceeds its budget (``no_trade``), is skipped without a search:
the walk never visits every provider for a task it cannot serve. A round costs
``O((n_tasks + n_trades) log n_providers)`` after the ``O(n log n)`` sorts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

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
from oasis_lab.market import Market
from oasis_lab.params import AuctionParams

__all__ = ["CAPACITY_RTOL", "AuctionResult", "run_greedy", "walk_work"]

#: Share of a provider's capacity at or below which what is left counts as exhausted: guards
#: the ``capacity="time"`` reading against round-off crumbs. Relative to the provider's own
#: capacity ``w_j``, so the walk does not depend on the unit of account: a market whose units
#: are 1e-12 is served exactly as the same market in units of 1 (an absolute threshold would
#: count every provider of the small market as exhausted).
CAPACITY_RTOL = 1e-9

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
def _refresh(maxavail, minkey, key, use, cap, cap0, size, j, c, t_only, track_avail):
    """Recompute the leaves of the provider at position ``j`` of ``H`` (types sharing capacity
    column ``c``) and their paths.

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
        node = size + j
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
def _first_fit_below(maxavail, minkey, t, node, size, x, need, stack):
    """Leftmost leaf under ``node`` with ask threshold ``<= x`` and room ``>= need``, or -1.

    The two conditions hold on different leaves of a subtree in general, so this is a
    depth-first search that prunes subtrees failing either bound (``split=False``).
    """
    stack[0] = node
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
def _first_leaf_from(maxavail, minkey, t, size, p, x, need, track_avail, stack):
    """Leftmost provider at position ``>= p`` in ``H`` with ask threshold ``<= x`` (and, with
    ``track_avail``, room ``>= need``); -1 when there is none.

    Walks the subtrees covering ``[p, size)`` left to right, climbing from leaf ``p``: the cost
    is ``O(log distance)`` to the answer, not ``O(log n)`` from the root, which is what makes
    starting from the per-type pointer pay.
    """
    if p >= size:
        return -1
    node = size + p
    while True:
        if minkey[t, node] <= x:
            if not track_avail:
                while node < size:
                    node = 2 * node if minkey[t, 2 * node] <= x else 2 * node + 1
                return node - size
            if maxavail[t, node] >= need:
                leaf = _first_fit_below(maxavail, minkey, t, node, size, x, need, stack)
                if leaf >= 0:
                    return leaf
        while node & 1:  # a right child: its parent's range is done, move up
            node >>= 1
        if node == 0:
            return -1
        node += 1


@numba.njit(cache=True)
def _prices_walk(
    t_order, demand, task_price, surplus, p_order, use, key, provider_price, cap0,
    per_type, split, partial, no_trade, price_per_key,
):
    """The PRICES walk; returns the trades (task, provider, type, units), ``sigma_i`` and the
    number of tree searches made (the walk's work, counted for the tests).

    ``demand``, ``task_price`` and ``surplus`` come permuted into ``G`` order (row ``q`` is
    task ``t_order[q]``) and ``use``, ``key``, ``provider_price`` and ``cap0`` into ``H`` order
    (row ``r`` is provider ``p_order[r]``, the tree's leaf ``r``): the walk then reads the tasks
    sequentially and the providers near the pointers, instead of a cache miss per array per
    task or trade at 10^6 tasks.

    A task's trades are tried against a local buffer of tentative capacities (the trees hold
    committed capacity only) and committed when the task is served; a failed task leaves no
    trace, so committed capacity only ever decreases. Hence, per type, the first provider with
    room (``first[t]``) only moves right: every search starts there. A task whose demand of
    one type exceeds all the committed room for that type cannot be served in full and is
    skipped without a search (``partial=False``; issue 9, item 7: otherwise ``n`` tasks each
    walking ``n`` providers is quadratic).
    """
    n_tasks, n_types = demand.shape
    n_providers = use.shape[0]
    n_cols = cap0.shape[1]
    size = 1
    while size < n_providers:
        size *= 2
    track_avail = not split
    cap = cap0.copy()
    # the room tree exists only where it is searched (split=False): 8 MB less to write at 10^5
    maxavail = np.zeros((n_types, 2 * size if track_avail else 1))
    minkey = np.full((n_types, 2 * size), np.inf)
    room = np.zeros(n_types)  # committed room per type (units), an upper bound kept by sums
    for r in range(n_providers):
        j = r
        for t in range(n_types):
            u = use[j, t]
            if np.isfinite(u):
                avail = cap[j, t if per_type else 0] / u
                if track_avail:
                    maxavail[t, size + r] = avail
                room[t] += avail
                if avail > 0:
                    minkey[t, size + r] = key[j, t]
    for t in range(n_types):
        for node in range(size - 1, 0, -1):
            minkey[t, node] = min(minkey[t, 2 * node], minkey[t, 2 * node + 1])
            if track_avail:
                maxavail[t, node] = max(maxavail[t, 2 * node], maxavail[t, 2 * node + 1])
    # The running sums drift by a few ulps of the initial room per update; this slack keeps
    # the "cannot be served" test conservative (it only skips tasks the walk would reject).
    room_slack = np.empty(n_types)
    for t in range(n_types):
        room_slack[t] = 1e-7 * room[t]
    first = np.zeros(n_types, np.int64)
    for t in range(n_types):
        while first[t] < n_providers and minkey[t, size + first[t]] == np.inf:
            first[t] += 1
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
    share = np.zeros(n_tasks)
    n_tr = 0
    n_searches = 0
    # Local buffer: the (provider, capacity column) pairs the current task touched and their
    # tentative capacity; ``stamp`` marks the pairs touched by task number ``q``.
    stamp = np.full(n_providers * n_cols, -1, np.int64)
    slot = np.empty(n_providers * n_cols, np.int64)
    lb_prov = np.empty(n_providers * n_cols, np.int64)
    lb_col = np.empty(n_providers * n_cols, np.int64)
    lb_cap = np.empty(n_providers * n_cols)

    for q in range(n_tasks):
        i = q  # the task arrays come in G order (read sequentially); t_order[q] is its index
        total = 0.0
        for t in range(n_types):
            total += demand[i, t]
        if total <= 0:
            continue  # C = 0: never served
        if no_trade and surplus[i] <= 0:
            continue  # every price is > 0, so payment + e_i > v_i: it would be rolled back
        hopeless = False
        if not partial:
            for t in range(n_types):
                if demand[i, t] > room[t] + room_slack[t]:
                    hopeless = True
        if no_trade and not hopeless:
            # Every unit of type t costs at least the midpoint of the task's price and the
            # cheapest ask with room (the tree's root); if even that total exceeds the budget
            # the walk would roll the task back. The margin covers the sums' round-off.
            bound = 0.0
            cheapest = _MAX_FLOAT
            for t in range(n_types):
                if demand[i, t] > 0:
                    floor = minkey[t, 1] * price_per_key
                    bound += demand[i, t] * ((floor + task_price[i]) / 2)
                    cheapest = min(cheapest, floor)
            if partial:
                hopeless = (cheapest + task_price[i]) / 2 > surplus[i] / total * (1 + 1e-9)
            else:
                hopeless = bound > surplus[i] * (1 + 1e-9)
        if hopeless:
            continue
        # Exhausted leaves hold +inf, so "every provider with room" is "threshold <= max float".
        x = task_price[i] if no_trade else _MAX_FLOAT
        start = n_tr
        n_lb = 0
        payment = 0.0
        served_units = 0.0
        failed = False
        for t in range(n_types):
            r = demand[i, t]
            pos = first[t]
            while r > 0:
                n_searches += 1
                leaf = _first_leaf_from(maxavail, minkey, t, size, pos, x, r, track_avail, stack)
                if leaf < 0:
                    break
                pos = leaf + 1
                j = leaf
                c = t if per_type else 0
                u = use[j, t]
                s = j * n_cols + c
                if stamp[s] == q:
                    k = slot[s]
                    avail = lb_cap[k] / u
                    # The trees see committed room; this task may already have used it.
                    if not lb_cap[k] > CAPACITY_RTOL * cap0[j, c] or (track_avail and avail < r):
                        continue
                else:
                    k = n_lb
                    n_lb += 1
                    stamp[s] = q
                    slot[s] = k
                    lb_prov[k] = j
                    lb_col[k] = c
                    lb_cap[k] = cap[j, c]
                    avail = lb_cap[k] / u
                tr_task[n_tr] = t_order[q]
                tr_prov[n_tr] = p_order[j]
                tr_type[n_tr] = t
                if split and avail < r:
                    units = avail
                    lb_cap[k] = 0.0
                else:
                    units = r
                    lb_cap[k] = max(lb_cap[k] - units * u, 0.0)
                tr_units[n_tr] = units
                n_tr += 1
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
            n_tr = start  # nothing was committed: dropping the tentative trades is the rollback
            continue
        share[i] = served_units / total if partial else 1.0
        for k in range(n_lb):
            j = lb_prov[k]
            c = lb_col[k]
            old = cap[j, c]
            cap[j, c] = lb_cap[k]
            for t in range(n_types):
                if (per_type and t != c) or not np.isfinite(use[j, t]):
                    continue
                room[t] -= (old - lb_cap[k]) / use[j, t]
            _refresh(maxavail, minkey, key, use, cap, cap0, size, j, c,
                     c if per_type else -1, track_avail)
        for t in range(n_types):
            while first[t] < n_providers and minkey[t, size + first[t]] == np.inf:
                first[t] += 1
    share_by_task = np.empty(n_tasks)
    share_by_task[t_order] = share
    return (tr_task[:n_tr].copy(), tr_prov[:n_tr].copy(), tr_type[:n_tr].copy(),
            tr_units[:n_tr].copy(), share_by_task, n_searches)


# ---------------------------------------------------------------------- public API
def _check_inputs(market: Market, params: AuctionParams) -> None:
    if not isinstance(market, Market):
        raise TypeError(f"market must be an oasis_lab.market.Market, got {type(market).__name__}")
    if not isinstance(params, AuctionParams):
        raise TypeError(f"params must be an AuctionParams, got {type(params).__name__}")
    psi_weights(market, params)  # length check, before any work


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


def _walk(
    market: Market, params: AuctionParams, p_task: np.ndarray, p_provider: np.ndarray,
    e: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Orders, prices and capacities of ``market`` fed to the compiled walk; its output."""
    no_trade = params.price_rule == "no_trade"
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
    order = task_order(market, params)
    h_order = provider_order(market, params)
    t_idx, p_idx, type_idx, units, share, n_searches = _prices_walk(
        order,
        np.ascontiguousarray(market.demand[order]),
        np.nan_to_num(p_task, nan=0.0)[order],
        (market.value - e)[order],
        h_order,
        np.ascontiguousarray(use[h_order]),
        np.ascontiguousarray(key[h_order]),
        np.ascontiguousarray(p_provider[h_order]),
        np.ascontiguousarray(cap0[h_order]),
        params.capacity_per_type,
        params.split,
        params.partial,
        no_trade,
        # a provider's price from its ask threshold, rounded down (a lower bound)
        (1 - params.fee) / (1 + params.fee) * (1 - 1e-12),
    )
    return t_idx, p_idx, type_idx, units, share, int(n_searches)


def walk_work(market: Market, params: AuctionParams = AuctionParams()) -> int:
    """Number of provider searches the walk of :func:`run_greedy` makes on ``market``.

    The walk's work in a unit that does not depend on the machine: the tests bound it (a
    task that cannot be served must not search every provider) instead of timing it.
    """
    _check_inputs(market, params)
    return _walk(market, params, task_unit_price(market), unit_cost_matrix(market, params),
                 user_costs(market, params))[-1]


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
        ``psi_weights`` of the wrong length, ``task_size="size"`` without a size column, a
        per-unit price or user cost that overflows float64 (checked before the walk), or
        totals that overflow (welfare, payments: never returned as ``inf``/``nan``).

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
    p_task = task_unit_price(market)
    p_provider = unit_cost_matrix(market, params)
    e = user_costs(market, params)
    _check_finite(market, p_task, p_provider, e)
    t_idx, p_idx, type_idx, units, share, _ = _walk(market, params, p_task, p_provider, e)
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
