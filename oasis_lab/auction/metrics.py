"""Independent checkers of an auction outcome (whitepaper section 4).

Each checker recomputes what it verifies from the market and the trades alone (not from the
result's own aggregates) and returns a :class:`CheckReport`:

- :func:`check_feasible`: capacities ``sum_i A_ij <= w_j`` (in units or time, shared or per
  type), served tasks fully served (``partial=False``) or at most served (``partial=True``),
  unserved tasks without trades, only runnable types traded, positive units.
- :func:`check_individual_rationality`: user utility ``sigma_i (v_i - e_i) - payment_i >= 0``
  for served users and provider utility ``revenue_j - unit_cost * units >= 0`` for trading
  providers, counted; and whether the result's own counts agree.
- :func:`check_budget_balance`: payments equal revenues plus the platform fee, no negative
  price.
- :func:`check_prices`: every trade's unit price is the pair price rule's.
- :func:`ir_violations_by_cause`: each user IR violation with its cause, the price fallback
  (a trade at ``p_provider > p_task``) or the user cost under the midpoint (every trade at the
  midpoint, yet ``e_i > (v_i - C_i) / 2`` with ``C_i`` the true cost of the task's units).

And tables for notebooks: :func:`trade_prices` (each trade's two per-unit prices, the pair
price and both sides' margins) and :func:`provider_outcomes` (who wins: units, revenue, utility
and capabilities per provider). Several readings on several markets, with or without the
exact optimum, are :func:`oasis_lab.auction.compare.compare_markets`'s job.

The auction result is duck-typed (anything with ``trades``, ``served_share``, ``params`` and
the payment arrays of :class:`~oasis_lab.auction.greedy.AuctionResult`), so exact baselines
can be checked the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.auction.pricing import (
    capacity_use,
    ir_violations,
    pair_price,
    task_unit_price,
    unit_cost_matrix,
    user_costs,
)
from oasis_lab.market import Market
from oasis_lab.params import AuctionParams

__all__ = [
    "CheckReport",
    "check_feasible",
    "check_individual_rationality",
    "check_budget_balance",
    "check_prices",
    "check_all",
    "ir_violations_by_cause",
    "IR_CAUSES",
    "trade_prices",
    "provider_outcomes",
]

#: Relative tolerance of the checks (round-off of the ``capacity="time"`` reading and of sums).
#: Purely relative (no absolute floor such as ``max(1, x)``), so the checks are as strict on a
#: market in units of 1e-12 as on the same market in units of 1.
RTOL = 1e-9


@dataclass(frozen=True)
class CheckReport:
    """Outcome of one check.

    Attributes
    ----------
    name : str
        Which check.
    ok : bool
        No violation found (``bool(report)`` is the same).
    counts : dict of str to int
        Number of violations of each kind (all zero when ``ok``).
    worst : float
        Largest violation found, in the check's unit (units, time, tokens); 0 when ``ok``.
    messages : tuple of str
        The first few violations, readable.
    """

    name: str
    ok: bool
    counts: dict[str, int] = field(default_factory=dict)
    worst: float = 0.0
    messages: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.ok

    def to_frame(self) -> pd.DataFrame:
        """One-row table: check, ok, total violations, the counts by kind, worst, first message."""
        counts = ", ".join(f"{key}={value}" for key, value in self.counts.items())
        row: dict[str, Any] = {
            "check": self.name,
            "ok": self.ok,
            "violations": sum(self.counts.values()),
            "counts": counts,
            "worst": self.worst,
            "first": self.messages[0] if self.messages else "",
        }
        return pd.DataFrame([row])


def _check_result(result: Any, *attrs: str) -> None:
    missing = [a for a in attrs if not hasattr(result, a)]
    if missing:
        raise TypeError(
            f"result must be an AuctionResult (or have {', '.join(attrs)}), "
            f"got {type(result).__name__} without {', '.join(missing)}"
        )


def _params(result: Any, params: AuctionParams | None) -> AuctionParams:
    if params is None:
        _check_result(result, "params")
        params = result.params
    if not isinstance(params, AuctionParams):
        raise TypeError(f"params must be an AuctionParams, got {type(params).__name__}")
    return params


def _trade_arrays(market: Market, result: Any) -> tuple[np.ndarray, ...]:
    if not isinstance(market, Market):
        raise TypeError(f"market must be an oasis_lab.market.Market, got {type(market).__name__}")
    _check_result(result, "trades", "served_share")
    tr = result.trades
    missing = {"task", "provider", "type", "units", "unit_price"} - set(tr.columns)
    if missing:
        raise ValueError(f"result.trades lacks column(s) {sorted(missing)}")
    task = tr["task"].to_numpy(dtype=np.int64)
    prov = tr["provider"].to_numpy(dtype=np.int64)
    typ = tr["type"].to_numpy(dtype=np.int64)
    for name, idx, n in (
        ("task", task, market.n_tasks),
        ("provider", prov, market.n_providers),
        ("type", typ, market.n_types),
    ):
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"result.trades[{name!r}] has indices outside [0, {n})")
    return task, prov, typ, tr["units"].to_numpy(dtype=float), tr["unit_price"].to_numpy(dtype=float)


# Result arrays a checker reads; NaN or inf in any of them fails every check (a comparison with
# NaN is False, so without this a NaN payment would "pass" the budget balance).
_RESULT_FIELDS = (
    "served_share", "task_payment", "provider_revenue", "user_utility", "provider_utility",
    "budget_surplus", "welfare",
)


def _non_finite(result: Any, **trade_columns: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """One flag per trade column and result field: does it hold NaN or inf?"""
    names: list[str] = []
    flags: list[bool] = []
    for column, values in trade_columns.items():
        names.append(f"trades[{column!r}]")
        flags.append(not bool(np.isfinite(values).all()))
    for attr in _RESULT_FIELDS:
        if hasattr(result, attr):
            values = np.asarray(getattr(result, attr), dtype=float)
            names.append(f"result.{attr}")
            flags.append(not bool(np.isfinite(values).all()))
    return np.array(flags, dtype=bool), names


def _describe_non_finite(names: list[str], idx: int) -> str:
    return f"{names[idx]} holds NaN or inf (float64 overflow?): no check can hold"


def _report(name: str, bad: dict[str, np.ndarray], excess: dict[str, np.ndarray], describe) -> CheckReport:
    counts = {key: int(mask.sum()) for key, mask in bad.items()}
    worst = 0.0
    messages: list[str] = []
    for key, mask in bad.items():
        if mask.any():
            worst = max(worst, float(np.max(excess[key][mask])))
            for idx in np.flatnonzero(mask)[:3]:
                messages.append(describe(key, int(idx)))
    return CheckReport(name, not any(counts.values()), counts, worst, tuple(messages))


def check_feasible(market: Market, result: Any, params: AuctionParams | None = None) -> CheckReport:
    """Capacity, demand and runnability constraints of section 4.

    Parameters
    ----------
    market : Market
    result : AuctionResult or alike
    params : AuctionParams, optional
        Readings (``capacity``, ``capacity_per_type``, ``partial``); ``result.params`` by default.

    Returns
    -------
    CheckReport
        Counts ``capacity`` (providers, or provider-types, over capacity), ``demand`` (served
        tasks not served in full, or served beyond demand), ``unserved_traded``,
        ``not_runnable`` and ``nonpositive_units`` (trades).
    """
    params = _params(result, params)
    task, prov, typ, units, _ = _trade_arrays(market, result)
    n_types = market.n_types
    use = capacity_use(market, params)[prov, typ]
    runnable = np.isfinite(use)
    used = np.where(runnable, use * units, 0.0)
    if params.capacity_per_type:
        load = np.bincount(prov * n_types + typ, weights=used, minlength=market.n_providers * n_types)
        cap = np.repeat(market.capacity, n_types)
    else:
        load = np.bincount(prov, weights=used, minlength=market.n_providers)
        cap = market.capacity
    over_cap = load - cap
    cap_bad = over_cap > RTOL * cap

    got = np.bincount(task * n_types + typ, weights=units, minlength=market.n_tasks * n_types)
    got = got.reshape(market.n_tasks, n_types)
    share = np.asarray(result.served_share, dtype=float)
    gap = np.abs(got - market.demand).max(axis=1)
    over = (got - market.demand).max(axis=1)
    tol = RTOL * market.demand.max(axis=1)
    if params.partial:
        # Served no more than asked, and the reported share is the served share of units.
        units_total = market.task_units
        true_share = np.divide(got.sum(axis=1), units_total, out=np.zeros(market.n_tasks), where=units_total > 0)
        share_gap = np.abs(true_share - share)
        demand_bad = (over > tol) | (share_gap > RTOL)
        demand_excess = np.maximum(over, share_gap)
    else:
        demand_bad = (share > 0) & (gap > tol)
        demand_excess = gap
    unserved_traded = (share <= 0) & (got.sum(axis=1) > 0)
    bad_trades = {"not_runnable": ~runnable, "nonpositive_units": ~(units > 0)}
    non_finite, sources = _non_finite(result, units=units)

    def describe(key: str, idx: int) -> str:
        if key == "non_finite":
            return _describe_non_finite(sources, idx)
        if key == "capacity":
            j = idx // n_types if params.capacity_per_type else idx
            return f"provider {j} uses {load[idx]:.6g} of capacity {cap[idx]:.6g}"
        if key == "demand":
            return f"task {idx} got {got[idx].tolist()} of demand {market.demand[idx].tolist()}"
        if key == "unserved_traded":
            return f"task {idx} is not served but has {got[idx].sum():.6g} units traded"
        return f"trade {idx} (task {task[idx]}, provider {prov[idx]}, type {typ[idx]}): {key}"

    return _report(
        "feasible",
        {"capacity": cap_bad, "demand": demand_bad, "unserved_traded": unserved_traded, **bad_trades,
         "non_finite": non_finite},
        {
            "non_finite": np.full(len(non_finite), np.inf),
            "capacity": over_cap,
            "demand": demand_excess,
            "unserved_traded": got.sum(axis=1),
            "not_runnable": units,
            "nonpositive_units": -units,
        },
        describe,
    )


def check_individual_rationality(
    market: Market, result: Any, params: AuctionParams | None = None
) -> CheckReport:
    """Users' and providers' utilities (section 4) recomputed from the trades.

    Returns
    -------
    CheckReport
        Counts ``users`` (served users with ``sigma_i (v_i - e_i) - payment_i < 0``),
        ``providers`` (trading providers with revenue below the true cost of their units) and
        ``count_mismatch`` (1 if the result's own violation counts disagree with these).
        ``worst`` is the largest loss in tokens.
    """
    params = _params(result, params)
    task, prov, typ, units, price = _trade_arrays(market, result)
    spend = units * price
    payment = np.bincount(task, weights=spend, minlength=market.n_tasks)
    revenue = (1 - params.fee) * np.bincount(prov, weights=spend, minlength=market.n_providers)
    true_cost = np.bincount(prov, weights=unit_cost_matrix(market, params)[prov, typ] * units,
                            minlength=market.n_providers)
    share = np.asarray(result.served_share, dtype=float)
    e = user_costs(market, params)
    user_loss = payment - share * (market.value - e)
    provider_loss = true_cost - revenue
    trading = np.bincount(prov, minlength=market.n_providers) > 0
    users, providers = ir_violations(market.value, -user_loss, share > 0, revenue, -provider_loss, trading)
    reported = (int(result.ir_violations_users), int(result.ir_violations_providers))
    mismatch = np.array([reported != (int(users.sum()), int(providers.sum()))])
    non_finite, sources = _non_finite(result, units=units, unit_price=price)

    def describe(key: str, idx: int) -> str:
        if key == "non_finite":
            return _describe_non_finite(sources, idx)
        if key == "users":
            # the numbers add up: loss = payment - share * (value - user cost)
            return (
                f"user {idx} loses {user_loss[idx]:.6g} = pays {payment[idx]:.6g} - served share "
                f"{share[idx]:.6g} x (value {market.value[idx]:.6g} - user cost e {e[idx]:.6g})"
            )
        if key == "providers":
            return (
                f"provider {idx} loses {provider_loss[idx]:.6g} = true cost of its units "
                f"{true_cost[idx]:.6g} - revenue {revenue[idx]:.6g}"
            )
        return f"result reports {reported} violations, recomputed {(int(users.sum()), int(providers.sum()))}"

    return _report(
        "individual_rationality",
        {"users": users, "providers": providers, "count_mismatch": mismatch, "non_finite": non_finite},
        {"users": user_loss, "providers": provider_loss, "count_mismatch": np.zeros(1),
         "non_finite": np.full(len(non_finite), np.inf)},
        describe,
    )


def check_budget_balance(market: Market, result: Any, params: AuctionParams | None = None) -> CheckReport:
    """Payments equal revenues plus the platform fee; no negative price (section 4.2).

    Returns
    -------
    CheckReport
        Counts ``balance`` (1 if total payments differ from revenues plus ``fee`` times the
        payments, or from the per-task / per-provider arrays of the result),
        ``negative_price`` (trades).
    """
    params = _params(result, params)
    task, prov, _, units, price = _trade_arrays(market, result)
    spend = units * price
    paid = np.bincount(task, weights=spend, minlength=market.n_tasks)
    earned = np.bincount(prov, weights=spend, minlength=market.n_providers)
    total = float(spend.sum())
    scale = RTOL * abs(total)
    gaps = np.array(
        [
            abs(
                float(np.sum(result.task_payment))
                - (float(np.sum(result.provider_revenue)) + float(result.budget_surplus))
            ),
            abs(float(result.budget_surplus) - params.fee * total),
            float(np.abs(np.asarray(result.task_payment) - paid).max(initial=0.0)),
            float(np.abs(np.asarray(result.provider_revenue) - (1 - params.fee) * earned).max(initial=0.0)),
        ]
    )
    balance = np.array([bool((gaps > scale).any())])
    negative = ~(price >= 0)
    non_finite, sources = _non_finite(result, units=units, unit_price=price)

    def describe(key: str, idx: int) -> str:
        if key == "non_finite":
            return _describe_non_finite(sources, idx)
        if key == "balance":
            return (
                f"payments {float(np.sum(result.task_payment)):.9g} != revenues "
                f"{float(np.sum(result.provider_revenue)):.9g} + fee {float(result.budget_surplus):.9g}"
                f" (gaps {gaps.tolist()})"
            )
        return f"trade {idx} has price {price[idx]!r}"

    return _report(
        "budget_balance",
        {"balance": balance, "negative_price": negative, "non_finite": non_finite},
        {"balance": np.array([gaps.max()]), "negative_price": -np.nan_to_num(price, nan=np.inf),
         "non_finite": np.full(len(non_finite), np.inf)},
        describe,
    )


def check_prices(market: Market, result: Any, params: AuctionParams | None = None) -> CheckReport:
    """Every trade's unit price is the pair price rule of ``params`` (section 4.2).

    Returns
    -------
    CheckReport
        Counts ``wrong_price`` (trades whose price differs from
        :func:`~oasis_lab.auction.pricing.pair_price`) and ``not_allowed`` (trades the rule
        forbids, ``price_rule="no_trade"``).
    """
    params = _params(result, params)
    task, prov, typ, _, price = _trade_arrays(market, result)
    expected, allowed = pair_price(
        unit_cost_matrix(market, params)[prov, typ], task_unit_price(market)[task], params.price_rule, params.fee
    )
    diff = np.abs(np.nan_to_num(expected, nan=np.inf) - price)
    wrong = allowed & (diff > RTOL * np.abs(price))
    non_finite, sources = _non_finite(result, unit_price=price)

    def describe(key: str, idx: int) -> str:
        if key == "non_finite":
            return _describe_non_finite(sources, idx)
        return (
            f"trade {idx} (task {task[idx]}, provider {prov[idx]}): price {price[idx]:.9g}, "
            f"rule gives {expected[idx]:.9g}"
        )

    return _report(
        "prices",
        {"wrong_price": wrong, "not_allowed": ~allowed, "non_finite": non_finite},
        {"wrong_price": diff, "not_allowed": np.ones(len(price)),
         "non_finite": np.full(len(non_finite), np.inf)},
        describe,
    )


def check_all(market: Market, result: Any, params: AuctionParams | None = None) -> pd.DataFrame:
    """All four checks as one table (one row per check), for notebooks."""
    reports = [
        check(market, result, params)
        for check in (check_feasible, check_individual_rationality, check_budget_balance, check_prices)
    ]
    return pd.concat([r.to_frame() for r in reports], ignore_index=True)


#: Causes of a user's IR violation, in the order :func:`ir_violations_by_cause` tests them.
IR_CAUSES = ("price_fallback", "user_cost_midpoint")


def ir_violations_by_cause(market: Market, result: Any, params: AuctionParams | None = None) -> pd.DataFrame:
    """Every served user with negative utility, and why (sections 4.1 and 4.2).

    At the midpoint a task pays ``sum (u_j + v_i / U_i) / 2`` per unit, i.e. ``(v_i + C_i) / 2``
    in total (``C_i`` the true cost of its units, ``U_i`` its units), so its utility is
    ``(v_i - C_i) / 2 - e_i``: the midpoint halves the gains *before* the user cost, and the
    user bears ``e_i`` alone. A user loses either because

    - ``"price_fallback"``: at least one of its trades ran at the provider's price above the
      task's (``price_rule="as_written"``, ``p_provider > p_task``), or
    - ``"user_cost_midpoint"``: every trade was at the midpoint, and ``e_i > (v_i - C_i) / 2``.

    Returns
    -------
    pandas.DataFrame
        Indexed by task: ``value``, ``user_cost``, ``true_cost`` (``C_i``), ``payment``,
        ``loss`` (> 0), ``fallback_units`` and ``cause`` (one of :data:`IR_CAUSES`). Its
        ``cause.value_counts()`` is the count by cause; the rows are exactly the users that
        :func:`check_individual_rationality` counts.
    """
    params = _params(result, params)
    task, prov, typ, units, price = _trade_arrays(market, result)
    n = market.n_tasks
    spend = units * price
    payment = np.bincount(task, weights=spend, minlength=n)
    cost = unit_cost_matrix(market, params)[prov, typ]
    true_cost = np.bincount(task, weights=cost * units, minlength=n)
    crossing = cost > task_unit_price(market)[task]
    fallback = np.bincount(task, weights=np.where(crossing, units, 0.0), minlength=n)
    share = np.asarray(result.served_share, dtype=float)
    e = user_costs(market, params)
    loss = payment - share * (market.value - e)
    trading = np.bincount(prov, minlength=market.n_providers) > 0
    revenue = (1 - params.fee) * np.bincount(prov, weights=spend, minlength=market.n_providers)
    users, _ = ir_violations(market.value, -loss, share > 0, revenue, revenue, trading)
    idx = np.flatnonzero(users)
    cause = np.where(fallback[idx] > 0, IR_CAUSES[0], IR_CAUSES[1])
    return pd.DataFrame(
        {
            "value": market.value[idx],
            "user_cost": e[idx],
            "true_cost": true_cost[idx],
            "payment": payment[idx],
            "loss": loss[idx],
            "fallback_units": fallback[idx],
            "cause": pd.Categorical(cause, categories=IR_CAUSES),
        },
        index=pd.Index(idx, name="task"),
    )


# ---------------------------------------------------------------------- tables for notebooks
def trade_prices(market: Market, result: Any) -> pd.DataFrame:
    """Each trade with the two per-unit prices it was struck between (sections 4.1, 4.2).

    Returns
    -------
    pandas.DataFrame
        The trades plus ``p_task`` (``v_i / sum_t C[i, t]``), ``p_provider`` (the provider's
        per-unit price of the type), ``unit_cost`` (its true cost per unit; equal to
        ``p_provider``), ``crossing`` (``p_provider > p_task``: the as-written fallback),
        ``user_margin`` (``p_task - unit_price`` per unit) and ``provider_margin``
        (``(1 - fee) unit_price - unit_cost`` per unit).
    """
    params = _params(result, None)
    task, prov, typ, _, price = _trade_arrays(market, result)
    frame = result.trades.copy()
    cost = unit_cost_matrix(market, params)[prov, typ]
    frame["p_task"] = task_unit_price(market)[task]
    frame["p_provider"] = cost
    frame["unit_cost"] = cost
    frame["crossing"] = frame["p_provider"] > frame["p_task"]
    frame["user_margin"] = frame["p_task"] - price
    frame["provider_margin"] = (1 - params.fee) * price - cost
    return frame


def provider_outcomes(market: Market, result: Any) -> pd.DataFrame:
    """One row per provider: units served, revenue, utility, unit cost and capabilities.

    Returns
    -------
    pandas.DataFrame
        Indexed by provider: ``units``, ``trading``, ``revenue``, ``utility``, ``unit_cost``
        (``c_j / sum_t s[j, t]``), ``runnable_types`` and one ``psi[...]`` column per
        capability component, to see which providers the densities and Psi weights favour.
    """
    if not isinstance(market, Market):
        raise TypeError(f"market must be an oasis_lab.market.Market, got {type(market).__name__}")
    tr = result.trades
    units = np.bincount(
        tr["provider"].to_numpy(np.int64), weights=tr["units"].to_numpy(float), minlength=market.n_providers
    )
    frame = market.providers[["unit_cost", "runnable_types"] + [f"psi[{n}]" for n in market.psi_names]]
    frame.insert(0, "units", units)
    frame.insert(1, "trading", units > 0)
    frame.insert(2, "revenue", np.asarray(result.provider_revenue, dtype=float))
    frame.insert(3, "utility", np.asarray(result.provider_utility, dtype=float))
    return frame

