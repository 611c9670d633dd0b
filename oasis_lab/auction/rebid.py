"""Re-auction of failed tasks (whitepaper section 4, last paragraph, and section 5).

"If the provider fails to complete the task within the allotted time, the task will be
inserted back into the auction with a higher demand ``v_i``", and a task reversed after a
successful challenge "will then be returned to the auction with higher priority". The paper
defines neither the raise nor the priority; the readings taken:

- the raise is ``v_i (1 + bump)`` (``mode="multiplicative"``, default) or ``v_i + bump``
  (``"additive"``), ``bump`` being ``AuctionParams.rebid_bump``;
- the re-auctioned task's ``priority`` grows by one, and PRICES sorts higher priority first
  (before bid density, :func:`oasis_lab.auction.density.task_order`);
- a task enters the next round with the demand it has not been served (under the default
  all-or-nothing reading: all of it) and the value of that remainder, pro rata, before the
  raise; tasks with no demand are not re-auctioned.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from oasis_lab.auction.metrics import _check_result, _trade_arrays
from oasis_lab.checks import check_real
from oasis_lab.market import Market
from oasis_lab.params import CHOICES

__all__ = ["left_over", "raised_value", "rebid", "remaining_demand", "requeued", "unserved_tasks"]


def remaining_demand(market: Market, task: np.ndarray, typ: np.ndarray, units: np.ndarray) -> np.ndarray:
    """The demand each task of ``market`` has left after trades ``(task, type, units)`` (arrays
    of one entry per trade, indices already checked against the market), floored at 0."""
    flat = task * market.n_types + typ
    got = np.bincount(flat, weights=units, minlength=market.n_tasks * market.n_types)
    return np.maximum(market.demand - got.reshape(market.demand.shape), 0.0)


def _remaining_demand(market: Market, result: Any) -> np.ndarray:
    # _trade_arrays checks the market and that every trade's indices fit it.
    task, _, typ, units, _ = _trade_arrays(market, result)
    return remaining_demand(market, task, typ, units)


def left_over(market: Market, remaining: np.ndarray) -> np.ndarray:
    """Indices of the tasks with demand left (``remaining``, :func:`remaining_demand`), in market
    order: what :func:`unserved_tasks` lists."""
    # Relative crumbs of the time reading do not make a task "unserved".
    return np.flatnonzero(remaining.sum(axis=1) > 1e-9 * market.task_units)


def requeued(
    market: Market, remaining: np.ndarray, idx: np.ndarray, bump: float, mode: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """Tasks ``idx`` of ``market`` as the next round gets them: ``(demand, value, size,
    priority)``, their remaining demand, the raised value of that remainder pro rata, the size
    pro rata (None if the market has none) and ``priority + 1`` (what :func:`rebid` returns,
    as arrays; ``bump`` and ``mode`` already checked)."""
    left = remaining[idx]
    share_left = left.sum(axis=1) / market.task_units[idx]
    value = market.value[idx] * share_left
    with np.errstate(over="ignore"):  # an overflow is refused just below, naming rebid_bump
        value = raised_value(value, bump, mode)
    if not np.isfinite(value).all():
        k = int(np.flatnonzero(~np.isfinite(value))[0])
        raise ValueError(f"bump = {bump!r} ({mode}) raises task {int(idx[k])}'s value to {value[k]}: lower rebid_bump")
    size = None if market.size is None else market.size[idx] * share_left
    return left, value, size, market.priority[idx] + 1


def raised_value(value: np.ndarray, bump: float, mode: str) -> np.ndarray:
    """The raised valuation of a re-auctioned task: ``v (1 + bump)`` or ``v + bump``.

    The one place the raise is computed: :func:`rebid` and the multi-round simulation
    (:mod:`oasis_lab.sim`, for tasks whose payment is reversed rounds later) both use it.
    """
    value = np.asarray(value, dtype=np.float64)
    return value * (1 + bump) if mode == "multiplicative" else value + bump


def unserved_tasks(market: Market, result: Any) -> np.ndarray:
    """Indices (into ``market``) of the tasks :func:`rebid` puts into the next round.

    Tasks with demand left after ``result``, in market order.
    """
    if not isinstance(market, Market):
        raise TypeError(f"market must be an oasis_lab.market.Market, got {type(market).__name__}")
    _check_result(result, "trades", "served_share")
    if np.shape(result.served_share) != (market.n_tasks,):
        raise ValueError(
            f"result has {np.shape(result.served_share)[0]} tasks but the market has {market.n_tasks}"
        )
    return left_over(market, _remaining_demand(market, result))


def rebid(
    market: Market,
    result: Any,
    bump: float | None = None,
    mode: str | None = None,
) -> Market:
    """The market of the next round: unserved tasks with raised valuations and priority.

    Parameters
    ----------
    market : Market
        The round's market.
    result : AuctionResult
        Its outcome (``trades``, ``served_share``, ``params``).
    bump : float, optional
        Raise of the valuation (>= 0); ``result.params.rebid_bump`` by default.
    mode : {"multiplicative", "additive"}, optional
        ``v (1 + bump)`` or ``v + bump``; ``result.params.rebid_mode`` by default.

    Returns
    -------
    Market
        Rows are the tasks :func:`unserved_tasks` lists, in that order, with their remaining
        demand, the raised value of that remainder and ``priority + 1``; the providers are
        the same (capacity renews each round).

    Raises
    ------
    ValueError
        Every task was served (nothing to re-auction), a negative ``bump``, an unknown
        ``mode``, or a result of another market (task count, or trades whose indices do
        not fit it).
    TypeError
        ``market`` not a Market, ``result`` not an auction result, ``bump`` not a number.

    Examples
    --------
    >>> from oasis_lab.market import generate_market
    >>> from oasis_lab.auction.greedy import run_greedy
    >>> market = generate_market(200, 10, scenario="scarce_supply", seed=0)
    >>> nxt = rebid(market, run_greedy(market))
    >>> int(nxt.priority.min())
    1
    """
    _check_result(result, "trades", "served_share", "params")
    bump = result.params.rebid_bump if bump is None else bump
    mode = result.params.rebid_mode if mode is None else mode
    if check_real("bump", bump) < 0:
        raise ValueError(f"bump = {bump!r} must be >= 0")
    if mode not in CHOICES["rebid_mode"]:
        raise ValueError(f"mode = {mode!r} is not one of {list(CHOICES['rebid_mode'])}")
    idx = unserved_tasks(market, result)
    if idx.size == 0:
        raise ValueError("every task with demand was served: nothing to re-auction")
    demand, value, size, priority = requeued(market, _remaining_demand(market, result), idx, bump, mode)
    return market.replace(demand=demand, value=value, size=size, priority=priority)
