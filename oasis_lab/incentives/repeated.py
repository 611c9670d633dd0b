"""The truthful variant under repetition: a posted price no agent can move (issue 19 item 4).

:func:`~oasis_lab.incentives.truthful.truthful_greedy` is truthful for an agent who cannot
move its posted price. Round after round with the same agents, a price read off the previous
round's reports (``price_source="previous_clearing"``, the issue-12 reading) can be moved:
a provider who inflates its cost in the round that sets the next price raises that price,
and is paid it next round. This module runs the variant over consecutive rounds with three
price sources, and searches every agent's cross-round misreports:

- ``"previous_clearing"``: one market, one price, the previous round's clearing price of all
  reports (kept for comparison: manipulable);
- ``"leave_one_out"``: one market, a price per agent, each computed from the previous round's
  reports *without* that agent's (:class:`~oasis_lab.incentives.truthful.PostedPrices`). An
  agent's own price never depends on its own reports, but the others' prices do, and they
  decide who else is admitted: a provider who under-reports its cost lowers the other
  providers' prices (fewer of them admitted) and the users' (more of them admitted), and
  sells more next round at its own unchanged price. Not enough (measured);
- ``"other_group"`` (the default): the agents are split once, publicly, into two groups
  (:func:`price_groups`: identities, never reports, decide), each group trades in its own
  market, and each group's price is the *other* group's previous-round clearing price (the
  random-sampling idea of Goldberg, Hartline et al.). Nothing an agent reports ever enters
  a price of its own group's market, so nothing it reports in one round changes what it gets
  in any later round: truthful in every round, for agents who stay (proof and assumptions in
  ``docs/mechanism.md``, "The truthful variant under repetition"). The split costs welfare
  (two thinner markets; :func:`~oasis_lab.experiments.incentives` measures how much).

Round ``0`` posts ``initial_price`` (a public reference) to everyone. When a round has no
demand or no capacity to clear (in the group that sets a price), the price stays the one
the agents faced before, which is itself independent of their reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.auction.density import provider_order
from oasis_lab.auction.mechanisms import Outcome
from oasis_lab.auction.pricing import social_welfare
from oasis_lab.checks import check_choice, check_int, check_real
from oasis_lab.incentives.manipulability import GAIN_ATOL, GAIN_RTOL
from oasis_lab.incentives.truthful import PostedPrices, clearing_price, submarket, truthful_greedy
from oasis_lab.market import Market, generate_market
from oasis_lab.params import AuctionParams
from oasis_lab.seeding import check_seed, child_seed, stream

__all__ = [
    "CROSS_ROUND_FACTORS",
    "PRICE_SOURCES",
    "Repeated",
    "cross_round_misreports",
    "price_groups",
    "repeated_markets",
    "run_repeated",
]

#: Where each round's posted price comes from (module docstring).
PRICE_SOURCES: tuple[str, ...] = ("previous_clearing", "leave_one_out", "other_group")

#: Misreport factors of the cross-round search (value for users, cost for providers).
CROSS_ROUND_FACTORS: tuple[float, ...] = (
    0.25, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.05, 1.1, 1.2, 1.3, 1.4, 1.5, 1.65, 1.8, 2.0, 2.5, 3.0, 4.0,
)

_DEFAULT = AuctionParams(task_density="surplus")


def repeated_markets(
    n_tasks: int, n_providers: int, rounds: int, *, scenario: str = "balanced", seed: int = 0
) -> list[Market]:
    """Consecutive rounds with the same agents: the same providers (speeds, capacities, ``Psi``
    and true costs of round 0) and the same users, each with a new task every round.

    Round ``r`` draws its tasks from ``generate_market(..., seed=child_seed(seed, "markets",
    "repeated", scenario, r))``; user ``i`` is the ``i``-th task of every round.
    """
    rounds = check_int("rounds", rounds, 1, 10_000)
    seed = check_seed(seed)
    first = generate_market(n_tasks, n_providers, scenario=scenario,
                            seed=child_seed(seed, "markets", "repeated", scenario, 0))
    out = [first]
    for r in range(1, rounds):
        m = generate_market(n_tasks, n_providers, scenario=scenario,
                            seed=child_seed(seed, "markets", "repeated", scenario, r))
        out.append(m.replace(speed=first.speed, capacity=first.capacity, cost=first.cost, psi=first.psi))
    return out


def initial_price(n_tasks: int, n_providers: int, *, scenario: str = "balanced", seed: int = 0,
                  params: AuctionParams = _DEFAULT) -> float:
    """A public reference price for round 0: the clearing price of an independent market of
    the same scenario (``child_seed(seed, "markets", "repeated", scenario, "initial")``)."""
    m = generate_market(n_tasks, n_providers, scenario=scenario,
                        seed=child_seed(check_seed(seed), "markets", "repeated", scenario, "initial"))
    return clearing_price(m, params)


def price_groups(market: Market, params: AuctionParams = _DEFAULT, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The public split of users and providers into groups 0 and 1 (``"other_group"``).

    Providers are taken in verified-capability order (benchmarked speeds and ``Psi``, never a
    report) two by two, and a public coin (``stream(seed, "lotteries", "price groups")``) sends
    one of each pair to each group, so that both groups get a similar mix of devices. Users
    are split in half by a public random permutation of their identities. Neither depends on
    anything an agent reports.

    Returns
    -------
    user_group, provider_group : numpy.ndarray of int8
    """
    if not isinstance(market, Market):
        raise TypeError(f"market must be an oasis_lab.market.Market, got {type(market).__name__}")
    rng = stream(check_seed(seed), "lotteries", "price groups")
    order = provider_order(market, params.replace(provider_density="capability"))
    coins = rng.integers(0, 2, size=(order.size + 1) // 2)
    pos = np.arange(order.size)
    provider_group = np.empty(market.n_providers, np.int8)
    provider_group[order] = (pos % 2) ^ coins[pos // 2]
    user_group = np.zeros(market.n_tasks, np.int8)
    user_group[rng.permutation(market.n_tasks)[: market.n_tasks // 2]] = 1
    return user_group, provider_group


@dataclass(frozen=True, eq=False)
class Repeated:
    """Consecutive rounds of the truthful variant (:func:`run_repeated`), scored on the truth.

    Attributes
    ----------
    price_source : str
    task_price, provider_price : numpy.ndarray, shapes (rounds, n_tasks), (rounds, n_providers)
        The posted price each user and provider faced in each round.
    served : numpy.ndarray of bool, shape (rounds, n_tasks)
    units : numpy.ndarray, shape (rounds, n_providers)
        Units each provider served.
    user_utility, provider_utility : numpy.ndarray
        Each agent's utility per round on its true value or cost (``nan`` for a user whose
        payment was not computed).
    welfare : numpy.ndarray, shape (rounds,)
        Welfare of each round on the true values and costs.
    budget_surplus : numpy.ndarray, shape (rounds,)
        Payments minus revenues (``nan`` where payments were not all computed).
    groups : tuple of numpy.ndarray or None
        ``(user_group, provider_group)`` under ``"other_group"``.
    """

    price_source: str
    task_price: np.ndarray
    provider_price: np.ndarray
    served: np.ndarray
    units: np.ndarray
    user_utility: np.ndarray
    provider_utility: np.ndarray
    welfare: np.ndarray
    budget_surplus: np.ndarray
    groups: tuple[np.ndarray, np.ndarray] | None


def _check_rounds(name: str, markets: Any) -> list[Market]:
    if isinstance(markets, Market) or not isinstance(markets, Sequence) or not markets:
        raise TypeError(f"{name} must be a non-empty sequence of Market (one per round), got {markets!r}")
    for r, m in enumerate(markets):
        if not isinstance(m, Market):
            raise TypeError(f"{name}[{r}] must be an oasis_lab.market.Market, got {type(m).__name__}")
        if (m.n_tasks, m.n_providers, m.n_types) != (markets[0].n_tasks, markets[0].n_providers, markets[0].n_types):
            raise ValueError(f"{name}[{r}] has {m.n_tasks} tasks, {m.n_providers} providers, {m.n_types} types; "
                             f"round 0 has {markets[0].n_tasks}, {markets[0].n_providers}, {markets[0].n_types} "
                             "(the same agents every round)")
    return list(markets)


def _clear(market: Market, params: AuctionParams) -> float:
    """The clearing price of ``market``, or ``nan`` when it has nothing to clear (no demand
    or no capacity): the caller then keeps the prices the agents faced before."""
    try:
        return clearing_price(market, params)
    except ValueError:
        return float("nan")


def _next_prices(source: str, previous: Market, prices: PostedPrices, groups: Any,
                 params: AuctionParams) -> PostedPrices:
    """The prices of the next round from the previous round's reports (module docstring)."""
    n_tasks, n_prov = previous.n_tasks, previous.n_providers
    task, prov = prices.task.copy(), prices.provider.copy()
    if source == "previous_clearing":
        price = _clear(previous, params)
        if np.isfinite(price):
            task[:], prov[:] = price, price
    elif source == "other_group":
        ug, pg = groups
        for g in (0, 1):
            # group g's price: the other group's previous round (its reports only)
            price = _clear(submarket(previous, np.flatnonzero(ug != g), np.flatnonzero(pg != g)), params)
            if np.isfinite(price):
                task[ug == g], prov[pg == g] = price, price
    else:
        # leave_one_out: one clearing per agent (each needs the market without that agent; a
        # clearing is a sort of the remaining supply and demand, O(n log n) per agent)
        all_t, all_p = np.arange(n_tasks), np.arange(n_prov)
        for i in range(n_tasks):
            price = _clear(submarket(previous, np.delete(all_t, i), all_p), params)
            task[i] = price if np.isfinite(price) else task[i]
        for j in range(n_prov):
            price = _clear(submarket(previous, all_t, np.delete(all_p, j)), params)
            prov[j] = price if np.isfinite(price) else prov[j]
    return PostedPrices(task, prov)


def run_repeated(
    truth: Sequence[Market],
    reports: Sequence[Market] | None = None,
    *,
    price_source: str = "other_group",
    initial_price: float | PostedPrices,
    params: AuctionParams = _DEFAULT,
    seed: int = 0,
    compute_payments: bool = True,
    payments_for: Any = None,
) -> Repeated:
    """The truthful variant over consecutive rounds with the same agents.

    Parameters
    ----------
    truth : sequence of Market
        Each round's true market; agent ``i`` (user) and ``j`` (provider) are the same in every
        round (equal sizes required).
    reports : sequence of Market, optional
        Each round's reports (default: the truth).
    price_source : {"previous_clearing", "leave_one_out", "other_group"}
        Where each round's price comes from (module docstring).
    initial_price : float or PostedPrices
        Round 0's posted price (a public reference).
    params : AuctionParams
        As :func:`~oasis_lab.incentives.truthful.truthful_greedy`.
    seed : int
        The public split of ``"other_group"`` (:func:`price_groups`).
    compute_payments : bool, default True
        ``False``: no user payments (welfare and providers' utilities only; users' utilities
        are ``nan``).
    payments_for : sequence of int, optional
        Compute only these users' payments (the others' utilities are ``nan``).

    Returns
    -------
    Repeated
    """
    truth = _check_rounds("truth", truth)
    reports = truth if reports is None else _check_rounds("reports", reports)
    if len(reports) != len(truth):
        raise ValueError(f"reports has {len(reports)} rounds, truth {len(truth)}")
    if (reports[0].n_tasks, reports[0].n_providers) != (truth[0].n_tasks, truth[0].n_providers):
        raise ValueError("reports and truth must have the same agents")
    source = check_choice("price_source", price_source, PRICE_SOURCES)
    if not isinstance(compute_payments, bool):
        raise TypeError(f"compute_payments must be a bool, got {compute_payments!r}")
    n_tasks, n_prov, rounds = truth[0].n_tasks, truth[0].n_providers, len(truth)
    if isinstance(initial_price, PostedPrices):
        prices = initial_price.checked(n_tasks, n_prov)
    else:
        p0 = check_real("initial_price", initial_price, minimum=0.0)
        prices = PostedPrices(np.full(n_tasks, p0), np.full(n_prov, p0))
    wanted = None if payments_for is None else np.unique(np.asarray(payments_for, dtype=np.int64).ravel())
    if wanted is not None and wanted.size and (wanted.min() < 0 or wanted.max() >= n_tasks):
        raise ValueError(f"payments_for has user indices outside [0, {n_tasks})")
    groups = price_groups(truth[0], params, seed=seed) if source == "other_group" else None
    out: dict[str, np.ndarray] = {
        "task_price": np.empty((rounds, n_tasks)), "provider_price": np.empty((rounds, n_prov)),
        "served": np.zeros((rounds, n_tasks), bool), "units": np.zeros((rounds, n_prov)),
        "user_utility": np.empty((rounds, n_tasks)), "provider_utility": np.empty((rounds, n_prov)),
        "welfare": np.empty(rounds), "budget_surplus": np.empty(rounds),
    }
    # rounds are sequential: each round's price reads the previous round's reports
    for r in range(rounds):
        if r:
            prices = _next_prices(source, reports[r - 1], prices, groups, params)
        share = np.zeros(n_tasks)
        payment = np.full(n_tasks, np.nan)
        units = np.zeros((n_prov, truth[r].n_types))
        revenue = np.zeros(n_prov)
        parts = ([(np.arange(n_tasks), np.arange(n_prov))] if groups is None else
                 [(np.flatnonzero(groups[0] == g), np.flatnonzero(groups[1] == g)) for g in (0, 1)])
        for tasks, provs in parts:  # one market, or one per group
            if not tasks.size or not provs.size:
                payment[tasks] = 0.0  # nobody to trade with: unserved, pays nothing
                continue
            market = reports[r] if groups is None else submarket(reports[r], tasks, provs)
            local = None if wanted is None else np.flatnonzero(np.isin(tasks, wanted))
            res = truthful_greedy(market, PostedPrices(prices.task[tasks], prices.provider[provs]), params,
                                  compute_payments=compute_payments, payments_for=local)
            share[tasks] = res.served_share
            payment[tasks] = res.task_payment
            units[provs] = res.units
            revenue[provs] = res.provider_revenue
        uu, up = Outcome(share, payment, units, revenue).utilities(truth[r], params)
        out["task_price"][r], out["provider_price"][r] = prices.task, prices.provider
        out["served"][r] = share > 0
        out["units"][r] = units.sum(axis=1)
        out["user_utility"][r], out["provider_utility"][r] = uu, up
        out["welfare"][r] = social_welfare(truth[r], share, units, params)
        out["budget_surplus"][r] = float(payment.sum() - revenue.sum())
    return Repeated(price_source=source, groups=groups, **out)


def cross_round_misreports(
    truth: Sequence[Market],
    *,
    price_source: str = "other_group",
    initial_price: float,
    factors: Sequence[float] = CROSS_ROUND_FACTORS,
    sides: Sequence[str] = ("user", "provider"),
    agents: Any = None,
    misreport_round: int = 0,
    params: AuctionParams = _DEFAULT,
    seed: int = 0,
) -> pd.DataFrame:
    """Every agent's misreport in the round that sets the next price, scored over the rounds.

    Agent ``a`` reports ``factor`` times its value (user) or cost (provider) in round
    ``misreport_round`` and the truth in every other round; everyone else reports the truth.
    Its gain is its utility summed over rounds ``misreport_round`` onwards (true values and
    costs), less the same sum when it tells the truth (earlier rounds cannot change).

    Parameters
    ----------
    truth : sequence of Market
        The rounds (:func:`repeated_markets`); at least ``misreport_round + 2``.
    price_source, initial_price, params, seed
        As :func:`run_repeated`.
    factors : sequence of float
        Misreport factors (> 0, 1 excluded: the truth is the baseline).
    sides : sequence of {"user", "provider"}
    agents : mapping side -> indices, optional
        Whom to search (default every agent of each side).
    misreport_round : int, default 0

    Returns
    -------
    pandas.DataFrame
        One row per (side, agent, factor): ``side``, ``agent``, ``factor``, ``utility_truth``,
        ``utility`` (summed over the rounds), ``gain``, ``profitable`` (gain above
        ``1e-6 + 1e-6 |utility_truth|``, the scan's tolerance), ``next_price_truth`` and
        ``next_price`` (the price the agent faces in the next round).
    """
    truth = _check_rounds("truth", truth)
    r0 = check_int("misreport_round", misreport_round, 0, len(truth) - 2)
    fs = [check_real("factors", f, positive=True) for f in factors]
    if not fs or any(f == 1.0 for f in fs):
        raise ValueError(f"factors must be non-empty and exclude 1 (the truth), got {list(factors)}")
    bad = [s for s in sides if s not in ("user", "provider")]
    if bad or not sides:
        raise ValueError(f"sides {list(sides)} must be a non-empty list of 'user' and 'provider'")
    seed = check_seed(seed)
    base = run_repeated(truth, price_source=price_source, initial_price=initial_price, params=params, seed=seed)
    # The rounds before r0 do not depend on the misreport: start from r0 at the prices faced
    # there (per agent, which every source's next prices read only through the reports).
    start = PostedPrices(base.task_price[r0], base.provider_price[r0])
    tail = truth[r0:]
    rows = []
    for side in sides:
        n = truth[0].n_tasks if side == "user" else truth[0].n_providers
        who = range(n) if agents is None or side not in agents else [check_int("agents", a, 0, n - 1)
                                                                      for a in agents[side]]
        for a in who:
            price = base.task_price if side == "user" else base.provider_price
            util = base.user_utility if side == "user" else base.provider_utility
            u_truth = float(util[r0:, a].sum())
            for f in fs:
                lied = list(tail)
                m = tail[0]
                if side == "user":
                    v = m.value.copy()
                    v[a] *= f
                    lied[0] = m.replace(value=v)
                else:
                    c = m.cost.copy()
                    c[a] *= f
                    lied[0] = m.replace(cost=c)
                # a provider's utility needs no user payment; a user's needs only her own
                res = run_repeated(tail, lied, price_source=price_source, initial_price=start, params=params,
                                   seed=seed, compute_payments=side == "user",
                                   payments_for=[a] if side == "user" else None)
                after_price = res.task_price if side == "user" else res.provider_price
                u = float((res.user_utility if side == "user" else res.provider_utility)[:, a].sum())
                gain = u - u_truth
                rows.append({
                    "side": side, "agent": a, "factor": f, "utility_truth": u_truth, "utility": u, "gain": gain,
                    "profitable": bool(gain > GAIN_ATOL + GAIN_RTOL * abs(u_truth)),
                    "next_price_truth": float(price[r0 + 1, a]), "next_price": float(after_price[1, a]),
                })
    return pd.DataFrame(rows)
