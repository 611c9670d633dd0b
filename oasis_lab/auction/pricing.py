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

These are the shared ingredients of the greedy, the exact optimum and the checkers, so that
they all measure welfare the same way.
"""

from __future__ import annotations

import warnings

import numpy as np

from oasis_lab.market import Market
from oasis_lab.params import AuctionParams

__all__ = [
    "task_size",
    "user_cost",
    "user_costs",
    "task_unit_price",
    "provider_unit_price",
    "unit_cost_matrix",
    "capacity_use",
]


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


def user_cost(size: np.ndarray, alpha: float = 2, beta: float = 1) -> np.ndarray:
    """User cost ``e = t log_alpha(t) + beta`` (section 4), with ``0 log 0 = 0``.

    Parameters
    ----------
    size : array_like
        ``t_i >= 0``.
    alpha : float
        Base of the logarithm, > 1.
    beta : float
        Constant, >= 0.

    Returns
    -------
    numpy.ndarray
        ``e_i``, same shape as ``size``. Warns (``RuntimeWarning``) when some ``0 < t_i < 1``,
        where ``e_i < beta`` and may be negative: a subsidy, not a cost.
    """
    t = np.asarray(size, dtype=float)
    if (t < 0).any() or not np.isfinite(t).all():
        raise ValueError("size must be finite and >= 0 for the user cost t log_alpha(t) + beta")
    if alpha <= 1:
        raise ValueError(f"alpha = {alpha!r} must be > 1")
    if ((t > 0) & (t < 1)).any():
        warnings.warn(
            "some task sizes are in (0, 1): t log_alpha(t) is negative there, so e_i < beta",
            RuntimeWarning,
            stacklevel=2,
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        t_log_t = np.where(t > 0, t * np.log(np.where(t > 0, t, 1.0)) / np.log(alpha), 0.0)
    return t_log_t + beta


def user_costs(market: Market, params: AuctionParams = AuctionParams()) -> np.ndarray:
    """``e_i`` for every task of ``market`` under ``params`` (shape ``(n_tasks,)``)."""
    return user_cost(task_size(market, params), params.alpha, params.beta)


def task_unit_price(market: Market) -> np.ndarray:
    """Task per-unit price ``v_i / sum_t C[i, t]`` (section 4.1); ``nan`` for empty tasks."""
    units = market.task_units
    with np.errstate(divide="ignore", invalid="ignore"):
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
        with np.errstate(divide="ignore"):
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
