"""Per-unit prices, user cost and true unit costs (whitepaper sections 4 and 4.1).

Notation: task ``i`` demands ``C[i, t]`` units and values the bundle at ``v_i``; provider
``j`` has speeds ``s[j, t]``, capacity ``w_j`` and cost ``c_j``.

- User cost (section 4): ``e_i = t_i log_alpha(t_i) + beta`` with ``t_i = sum_t C[i, t]``
  (``task_size="units"``) or the market's ``size`` (``task_size="size"``).
- Task per-unit price (4.1): ``v_i / (units allocated to i)``; all-or-nothing bundles are
  allocated their whole demand, so ``v_i / sum_t C[i, t]``.
- Provider per-unit price (4.1): ``c_j / sum_t s[j, t]``, also its true marginal cost per unit
  under ``capacity="units"``. Under ``capacity="time"`` a unit of type ``t`` takes
  ``1 / s[j, t]`` of the round, so its true cost is ``c_j / s[j, t]``.

- Pair price (4.2, PRICES line 13-15): ``P_ij = (p_provider_j + p_task_i) / 2``; when it lies
  outside ``[p_provider_j, p_task_i]`` the paper falls back to ``p_provider_j``
  (``price_rule="as_written"``); the corrected ``price_rule="no_trade"`` skips such a pair. With
  a platform fee ``f`` (share of the payment the platform keeps) ``no_trade`` also skips pairs
  where the provider's net price ``(1 - f) P_ij`` is below its ask: a pair trades iff
  ``p_task_i >= p_provider_j (1 + f) / (1 - f)`` (:func:`ask_threshold`), which is the
  interval condition when ``f = 0``.
- Utilities (section 4): user ``v_i - (payment_i + e_i)`` if served, else 0; provider
  ``revenue_j - sum_t unit_cost[j, t] units[j, t]`` (the paper's ``- sum_i A_ij`` read as minus
  the true cost). With ``partial=True`` a task served a share ``sigma_i`` of its units earns
  ``sigma_i (v_i - e_i) - payment_i``.
- Social welfare (the project's objective, see ``docs/readings.md``):
  ``sum_i sigma_i (v_i - e_i) - sum_{j, t} unit_cost[j, t] units[j, t]``; payments cancel out.

These are the shared ingredients of the greedy, the exact optimum and the checkers, so that
they all measure welfare the same way.
"""

from __future__ import annotations

import numpy as np

from oasis_lab.checks import check_not_masked
from oasis_lab.market import Market, user_cost
from oasis_lab.params import AuctionParams

__all__ = [
    "task_size",
    "user_cost",
    "user_costs",
    "task_unit_price",
    "provider_unit_price",
    "unit_cost_matrix",
    "capacity_use",
    "ask_threshold",
    "pair_price",
    "user_utility",
    "provider_utility",
    "ir_violations",
    "IR_RTOL",
    "social_welfare",
]

#: Relative tolerance of an individual-rationality violation: utilities recomputed from the
#: trades sum in another order than the walk's own budget check, so a loss must exceed
#: ``IR_RTOL * v_i`` (users) or ``IR_RTOL * revenue_j`` (providers) to count. Relative only,
#: so values of 1e-12 tokens are checked as strictly as values of 1.
IR_RTOL = 1e-9


def task_size(market: Market, params: AuctionParams = AuctionParams()) -> np.ndarray:
    """``t_i`` of the user cost: total demanded units, or ``market.size``.

    Raises
    ------
    ValueError
        ``params.task_size == "size"`` on a market without a ``size`` column.
    """
    if params.task_size == "size":
        if market.size is None:
            raise ValueError('task_size = "size" needs a market with a size column (market.size is None)')
        return np.asarray(market.size, dtype=float)
    return market.task_units


def user_costs(market: Market, params: AuctionParams = AuctionParams()) -> np.ndarray:
    """``e_i`` for every task of ``market`` under ``params`` (shape ``(n_tasks,)``)."""
    return user_cost(task_size(market, params), params.alpha, params.beta)


def task_unit_price(market: Market) -> np.ndarray:
    """Task per-unit price ``v_i / sum_t C[i, t]`` (section 4.1); ``nan`` for empty tasks."""
    units = market.task_units
    # over: a ratio of extreme numbers is inf; run_greedy refuses it with a clear message
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(units > 0, market.value / units, np.nan)


def provider_unit_price(market: Market) -> np.ndarray:
    """Provider per-unit price ``c_j / sum_t s[j, t]`` (section 4.1); ``inf`` if it runs nothing."""
    return market.provider_unit_cost


def unit_cost_matrix(market: Market, params: AuctionParams = AuctionParams()) -> np.ndarray:
    """True cost to provider ``j`` of serving one unit of type ``t``, shape (n_providers, n_types).

    ``c_j / sum_t s[j, t]`` under ``capacity="units"``, ``c_j / s[j, t]`` under
    ``capacity="time"``; ``inf`` where ``s[j, t] = 0`` (the type cannot run there).
    """
    runnable = market.speed > 0
    if params.capacity == "time":
        with np.errstate(divide="ignore", over="ignore"):
            per_type = market.cost[:, None] / np.where(runnable, market.speed, 1.0)
    else:
        per_type = np.broadcast_to(market.provider_unit_cost[:, None], market.speed.shape)
    return np.where(runnable, per_type, np.inf)


def capacity_use(market: Market, params: AuctionParams = AuctionParams()) -> np.ndarray:
    """Capacity ``w_j`` one unit of type ``t`` consumes on provider ``j``, shape (n_providers, n_types).

    1 under ``capacity="units"``; ``1 / s[j, t]`` (time) under ``capacity="time"``; ``inf``
    where the type cannot run.
    """
    runnable = market.speed > 0
    if params.capacity == "time":
        use = 1.0 / np.where(runnable, market.speed, 1.0)
    else:
        use = np.ones(market.speed.shape)
    return np.where(runnable, use, np.inf)


def ask_threshold(provider_price: np.ndarray, fee: float = 0.0) -> np.ndarray:
    """Lowest task per-unit price at which a pair trades under ``price_rule="no_trade"``.

    A pair trades iff ``p_task >= p_provider (1 + fee) / (1 - fee)``: then the midpoint
    ``P = (p_provider + p_task) / 2`` is at most ``p_task`` and the provider's net price
    ``(1 - fee) P`` is at least ``p_provider``. With ``fee = 0`` this is ``p_provider <= p_task``,
    the interval test of PRICES line 14. The greedy and :func:`pair_price` share this function
    so that they agree to the last bit.
    """
    if not 0 <= fee < 1:
        raise ValueError(f"fee = {fee!r} must be in [0, 1)")
    return np.asarray(provider_price, dtype=float) * ((1 + fee) / (1 - fee))


def pair_price(
    provider_price: np.ndarray,
    task_price: np.ndarray,
    price_rule: str = "no_trade",
    fee: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit price of a (task, provider) pair and whether it trades (section 4.2, lines 13-15).

    Parameters
    ----------
    provider_price, task_price : array_like
        ``p_provider_j`` (per-unit price of the provider for the unit's type) and ``p_task_i``,
        broadcast together.
    price_rule : {"no_trade", "as_written"}
        ``"as_written"``: the midpoint, or ``p_provider`` when the midpoint is outside
        ``[p_provider, p_task]`` (i.e. when ``p_provider > p_task``); every pair trades.
        ``"no_trade"``: the midpoint where :func:`ask_threshold` allows it, no trade elsewhere.
    fee : float
        Platform share of the payment, in [0, 1).

    Returns
    -------
    price : numpy.ndarray
        What the user pays per unit (``nan`` where there is no trade).
    trades : numpy.ndarray of bool

    Examples
    --------
    >>> pair_price(np.array([2.0, 6.0]), np.array([4.0, 4.0]), "as_written")
    (array([3., 6.]), array([ True,  True]))
    >>> pair_price(np.array([2.0, 6.0]), np.array([4.0, 4.0]), "no_trade")
    (array([ 3., nan]), array([ True, False]))
    """
    if price_rule not in ("no_trade", "as_written"):
        raise ValueError(f"price_rule = {price_rule!r} is not one of ['no_trade', 'as_written']")
    pp, pt = np.broadcast_arrays(
        np.asarray(check_not_masked("provider_price", provider_price), float),
        np.asarray(check_not_masked("task_price", task_price), float),
    )
    midpoint = (pp + pt) / 2
    if price_rule == "as_written":
        inside = (pp <= midpoint) & (midpoint <= pt)
        return np.where(inside, midpoint, pp), np.isfinite(pp)
    trades = pt >= ask_threshold(pp, fee)
    return np.where(trades, midpoint, np.nan), trades


def user_utility(
    value: np.ndarray, user_cost_: np.ndarray, payment: np.ndarray, served_share: np.ndarray
) -> np.ndarray:
    """User utility ``sigma_i (v_i - e_i) - payment_i`` (section 4; 0 when not served).

    ``served_share`` ``sigma_i`` is 1 for a served all-or-nothing task, 0 for an unserved one,
    and the served share of its units under ``partial=True``.
    """
    for name, x in (("value", value), ("user_cost_", user_cost_), ("payment", payment),
                    ("served_share", served_share)):
        check_not_masked(name, x)
    share = np.asarray(served_share, dtype=float)
    return np.where(share > 0, share * (value - user_cost_) - payment, 0.0)


def provider_utility(revenue: np.ndarray, true_cost: np.ndarray) -> np.ndarray:
    """Provider utility ``revenue_j - sum_t unit_cost[j, t] units[j, t]`` (section 4)."""
    check_not_masked("revenue", revenue)
    check_not_masked("true_cost", true_cost)
    return np.asarray(revenue, dtype=float) - np.asarray(true_cost, dtype=float)


def ir_violations(
    value: np.ndarray,
    user_utility_: np.ndarray,
    served: np.ndarray,
    revenue: np.ndarray,
    provider_utility_: np.ndarray,
    trading: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Individual-rationality violations (section 4's utilities), the one definition used by
    the greedy's counts and by :func:`~oasis_lab.auction.metrics.check_individual_rationality`.

    Returns
    -------
    users, providers : numpy.ndarray of bool
        Served users with negative utility, trading providers with negative utility (beyond
        :data:`IR_RTOL`).
    """
    for name, x in (("value", value), ("user_utility_", user_utility_), ("served", served),
                    ("revenue", revenue), ("provider_utility_", provider_utility_), ("trading", trading)):
        check_not_masked(name, x)
    users = np.asarray(served, bool) & (user_utility_ < -IR_RTOL * np.asarray(value, float))
    providers = np.asarray(trading, bool) & (
        provider_utility_ < -IR_RTOL * np.asarray(revenue, float)
    )
    return users, providers


def social_welfare(
    market: Market,
    served_share: np.ndarray,
    units: np.ndarray,
    params: AuctionParams = AuctionParams(),
) -> float:
    """Social welfare ``sum_i sigma_i (v_i - e_i) - sum_{j,t} unit_cost[j, t] units[j, t]``.

    Parameters
    ----------
    market : Market
    served_share : array_like, shape (n_tasks,)
        ``sigma_i``: 1 / 0 for all-or-nothing tasks (or a bool mask), the served share of the
        task's units under ``partial=True``.
    units : array_like, shape (n_providers, n_types)
        Units of each type each provider serves in total.
    params : AuctionParams
        ``alpha``, ``beta``, ``task_size`` (user cost) and ``capacity`` (unit cost) matter.

    Returns
    -------
    float
        Payments and the platform fee are transfers and cancel out.
    """
    share = np.asarray(check_not_masked("served_share", served_share), dtype=float)
    units = np.asarray(check_not_masked("units", units), dtype=float)
    if share.shape != (market.n_tasks,):
        raise ValueError(f"served_share has shape {share.shape}, expected ({market.n_tasks},)")
    if units.shape != market.speed.shape:
        raise ValueError(f"units has shape {units.shape}, expected {market.speed.shape}")
    gain = share * (market.value - user_costs(market, params))
    unit_cost = unit_cost_matrix(market, params)
    # inf * 0 where a type cannot run and nothing was served there: no cost.
    with np.errstate(invalid="ignore"):
        cost = np.where(units > 0, unit_cost * units, 0.0)
    return float(gain[share > 0].sum() - cost.sum())
