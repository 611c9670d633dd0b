"""The incentives study of notebook 08: every mechanism, who lies, and what lying costs.

:func:`study_markets` draws the markets (each with its *previous round*, from which the
truthful variant's posted price is read, and a unit-demand and a tiny market of the same
scenario for the double auctions and VCG); :func:`incentive_table` runs, for each mechanism of
:data:`MECHANISM_SPECS`, a manipulability scan, the welfare at truthful reports and the welfare
after best-response dynamics, each welfare as a share of the exact optimum of the same market.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.auction.baselines.double_auction import unit_demand_market
from oasis_lab.auction.baselines.optimum import solve_optimum
from oasis_lab.auction.baselines.vcg import vcg
from oasis_lab.auction.compare import DP_GRID
from oasis_lab.auction.greedy import run_greedy
from oasis_lab.checks import check_int
from oasis_lab.incentives.equilibrium import (
    PROVIDER_MARKUPS,
    USER_SHADES,
    best_response_dynamics,
)
from oasis_lab.incentives.manipulability import DEFAULT_GRID, manipulability
from oasis_lab.incentives.outcomes import run_mechanism
from oasis_lab.incentives.truthful import clearing_price, truthful_greedy, tuned_price
from oasis_lab.market import SCENARIOS, Market, generate_market
from oasis_lab.params import AuctionParams
from oasis_lab.seeding import child_seed

__all__ = [
    "MECHANISM_SPECS",
    "MechanismSpec",
    "StudyMarket",
    "incentive_table",
    "study_markets",
    "vcg_budget",
    "welfare_price",
]


@dataclass(frozen=True)
class MechanismSpec:
    """A mechanism of the study: the name shown, the mechanism, its readings and options.

    ``market`` says which market of a :class:`StudyMarket` it runs on: ``"general"``
    (multi-type bundles), ``"unit"`` (single type, unit demand) or ``"tiny"`` (VCG's size).
    ``options["reference_price"] == "previous"`` posts the previous round's clearing price
    (:func:`~oasis_lab.incentives.truthful.clearing_price`).
    """

    name: str
    mechanism: str
    params: AuctionParams
    options: Mapping[str, Any]
    market: str


BEST = AuctionParams(task_density="surplus", provider_density="unit_cost")

#: The mechanisms of the study (the table of issue 12).
MECHANISM_SPECS: tuple[MechanismSpec, ...] = (
    MechanismSpec("greedy paper (fallback price)", "greedy", AuctionParams(price_rule="as_written"), {}, "general"),
    MechanismSpec("greedy no_trade (as-written densities)", "greedy", AuctionParams(), {}, "general"),
    MechanismSpec("greedy surplus+unit_cost", "greedy", BEST, {}, "general"),
    MechanismSpec("truthful greedy (posted price)", "truthful", BEST, {"reference_price": "previous"}, "general"),
    MechanismSpec("McAfee", "mcafee", AuctionParams(), {}, "unit"),
    MechanismSpec("SBBA", "sbba", AuctionParams(), {}, "unit"),
    MechanismSpec("DP price, epsilon = 1", "dp", AuctionParams(), {"epsilon": 1.0, "grid": DP_GRID}, "unit"),
    MechanismSpec("greedy surplus+unit_cost (unit demand)", "greedy", BEST, {}, "unit"),
    MechanismSpec("VCG", "vcg", AuctionParams(), {}, "tiny"),
)


@dataclass(frozen=True, eq=False)
class StudyMarket:
    """One scenario and seed: the general market, its previous round, unit and tiny markets."""

    scenario: str
    seed: int
    general: Market
    previous: Market
    unit: Market
    tiny: Market


def study_markets(
    n_tasks: int,
    n_providers: int,
    scenarios: Sequence[str],
    seeds: int,
    *,
    unit_tasks: int | None = None,
    unit_providers: int | None = None,
    tiny_tasks: int = 6,
    tiny_providers: int = 3,
    seed: int = 0,
) -> list[StudyMarket]:
    """Seeded markets of the study (each draw from ``child_seed(seed, "markets", ...)``)."""
    n_tasks, n_providers = check_int("n_tasks", n_tasks, 1), check_int("n_providers", n_providers, 1)
    seeds = check_int("seeds", seeds, 1)
    bad = [s for s in scenarios if s not in SCENARIOS]
    if bad:
        raise ValueError(f"scenarios {bad} are unknown; choose among {sorted(SCENARIOS)}")
    out = []
    for scenario in scenarios:
        for k in range(seeds):
            def draw(kind: str, n: int, p: int, scenario: str = scenario, k: int = k, **kw: Any) -> Market:
                draw_seed = child_seed(seed, "markets", scenario, k, kind)
                return generate_market(n, p, scenario=scenario, seed=draw_seed, **kw)

            unit = draw("unit", unit_tasks or n_tasks, unit_providers or n_providers, n_types=1)
            out.append(StudyMarket(
                scenario=scenario, seed=k,
                general=draw("general", n_tasks, n_providers),
                previous=draw("previous", n_tasks, n_providers),
                unit=unit_demand_market(unit),
                tiny=draw("tiny", tiny_tasks, tiny_providers),
            ))
    return out


def _options(spec: MechanismSpec, sm: StudyMarket) -> dict[str, Any]:
    opts = dict(spec.options)
    if opts.get("reference_price") == "previous":
        opts["reference_price"] = clearing_price(sm.previous, spec.params)
    return opts


def incentive_table(
    markets: Sequence[StudyMarket],
    specs: Sequence[MechanismSpec] = MECHANISM_SPECS,
    *,
    report_grid: Any = DEFAULT_GRID,
    user_shades: Sequence[float] = USER_SHADES,
    provider_markups: Sequence[float] = PROVIDER_MARKUPS,
    max_sweeps: int = 8,
    seed: int = 0,
) -> pd.DataFrame:
    """Share of agents with a profitable lie, welfare at truth and in equilibrium, per market.

    Returns
    -------
    pandas.DataFrame
        One row per (mechanism, market): ``mechanism``, ``market`` (general / unit / tiny),
        ``scenario``, ``seed``, ``share_profitable`` (agents with a profitable unilateral
        misreport on ``report_grid``: users' value, providers' cost, speed and capacity),
        ``share_profitable_users``, ``share_profitable_providers``, ``share_profitable_cost``
        (providers, counting cost misreports only), ``ratio_truth`` and ``ratio_eq`` (welfare
        at truthful reports and after best-response dynamics, over the optimum),
        ``converged``, ``mean_shade``, ``mean_markup``, ``budget_surplus`` (at truth).
    """
    rows = []
    for sm in markets:
        optima: dict[str, float] = {}
        for spec in specs:
            market = getattr(sm, spec.market)
            if spec.market not in optima:
                optima[spec.market] = solve_optimum(market, spec.params, backend="highspy").welfare
            opt = optima[spec.market]
            opts = _options(spec, sm)
            scan_seed = child_seed(seed, "lotteries", spec.name, sm.scenario, sm.seed)
            scan = manipulability(market, spec.mechanism, spec.params, report_grid=report_grid,
                                  seed=scan_seed, options=opts)
            best = scan.groupby(["side", "agent"])["profitable"].any()
            cost_only = scan[(scan["side"] == "provider") & (scan["dimension"] == "cost")]
            eq = best_response_dynamics(market, spec.mechanism, spec.params, user_shades=user_shades,
                                        provider_markups=provider_markups, max_sweeps=max_sweeps,
                                        seed=scan_seed, options=opts)
            truth = run_mechanism(market, spec.mechanism, spec.params, seed=scan_seed, **opts)
            rows.append({
                "mechanism": spec.name, "market": spec.market, "scenario": sm.scenario, "seed": sm.seed,
                "share_profitable": float(best.mean()),
                "share_profitable_users": float(best.get("user", pd.Series(dtype=bool)).mean()),
                "share_profitable_providers": float(best.get("provider", pd.Series(dtype=bool)).mean()),
                "share_profitable_cost": float(cost_only.groupby("agent")["profitable"].any().mean()),
                "ratio_truth": eq.welfare_truth / opt if opt > 0 else np.nan,
                "ratio_eq": eq.welfare / opt if opt > 0 else np.nan,
                "converged": eq.converged, "sweeps": len(eq.sweeps),
                "mean_shade": float(eq.shade.mean()), "mean_markup": float(eq.markup.mean()),
                "budget_surplus": truth.budget_surplus,
            })
    return pd.DataFrame(rows)


def welfare_price(markets: Sequence[StudyMarket], params: AuctionParams = BEST) -> pd.DataFrame:
    """Welfare of the truthful variant against the best greedy reading, over the optimum.

    Returns
    -------
    pandas.DataFrame
        One row per market: ``scenario``, ``seed``, ``optimum``, ``greedy`` (``params``, at
        truthful reports), ``truthful`` (posted price = the previous round's clearing price),
        ``truthful_tuned`` (posted price tuned on the previous round,
        :func:`~oasis_lab.incentives.truthful.tuned_price`: better on thick markets, overfits
        thin ones), ``truthful_hindsight`` (the best posted price for this round's own reports:
        an upper reference, not truthful), ``reference_price``, ``served_greedy``,
        ``served_truthful``.
    """
    rows = []
    for sm in markets:
        m = sm.general
        opt = solve_optimum(m, params, backend="highspy").welfare
        g = run_greedy(m, params)
        price = clearing_price(sm.previous, params)
        t = truthful_greedy(m, price, params, compute_payments=False)
        tuned = truthful_greedy(m, tuned_price(sm.previous, params), params, compute_payments=False)
        own = truthful_greedy(m, tuned_price(m, params), params, compute_payments=False)
        rows.append({
            "scenario": sm.scenario, "seed": sm.seed, "optimum": opt,
            "greedy": g.welfare / opt, "truthful": t.welfare / opt,
            "truthful_tuned": tuned.welfare / opt, "truthful_hindsight": own.welfare / opt,
            "reference_price": price,
            "served_greedy": float(g.served.mean()), "served_truthful": float(t.served.mean()),
        })
    return pd.DataFrame(rows)


def vcg_budget(markets: Sequence[StudyMarket], params: AuctionParams = AuctionParams()) -> pd.DataFrame:
    """VCG's budget surplus (payments - revenues) on each market's ``tiny`` market, measured.

    Returns
    -------
    pandas.DataFrame
        One row per market: ``scenario``, ``seed``, ``welfare``, ``budget_surplus`` and
        ``surplus_share`` (budget over welfare: < 0 a deficit, > 0 a surplus).
    """
    rows = []
    for sm in markets:
        res = vcg(sm.tiny, params, backend="highspy")
        rows.append({"scenario": sm.scenario, "seed": sm.seed, "welfare": res.welfare,
                     "budget_surplus": res.budget_surplus,
                     "surplus_share": res.budget_surplus / res.welfare if res.welfare > 0 else np.nan})
    return pd.DataFrame(rows)
