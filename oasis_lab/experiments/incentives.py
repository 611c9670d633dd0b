"""The incentives studies of notebook 08 as experiments (whitepaper section 4, issue 12).

Each run draws its markets from :func:`oasis_lab.seeding.child_seed` ``(seed, "markets",
scenario, draw, kind)`` (:func:`study_markets`): a general market (multi-type bundles), its
*previous round* (an independent market of the same scenario, from which the truthful
variant's posted price is read), a single-type unit-demand market for the double auctions and
a tiny one for VCG. ``draws`` markets of each kind per run; sweep ``scenario`` for the table
over scenarios.

- ``incentive_table`` (:class:`IncentiveTable`): for each mechanism of
  :data:`MECHANISM_SPECS`, the share of agents with a profitable unilateral lie (a
  manipulability scan), the welfare at truthful reports and at the end of best-response
  dynamics, as shares of the exact optimum of the same market, and whether that end profile
  passes its epsilon-Nash certificate
  (:func:`~oasis_lab.incentives.equilibrium.certify_profile`: each agent's best deviation
  searched off any grid, no cap);
- ``welfare_price`` (:class:`WelfarePrice`): the truthful variant against the best greedy
  reading, over the optimum;
- ``repeated_welfare`` (:class:`RepeatedWelfare`): the truthful variant round after round with
  the same agents, under each price source of
  :data:`~oasis_lab.incentives.repeated.PRICE_SOURCES` (the welfare price of a price no agent
  can move), against the greedy and the optimum of each round;
- ``vcg_budget`` (:class:`VcgBudget`): VCG's budget surplus, measured;
- ``equilibrium`` (:class:`Equilibrium`): best-response dynamics and the certificate alone,
  on one general market per draw, for chosen mechanisms;
- ``dp_privacy`` (:class:`DpPrivacy`): the DP clearing price's measured privacy loss with the
  public grid and the per-agent sensitivity, against the old per-unit sensitivity and the old
  grid read off the reports;
- ``ir_causes`` (:class:`IrCauses`): the users left with negative utility under the price
  fallback, counted by cause.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.auction.baselines.double_auction import unit_demand_market
from oasis_lab.auction.baselines.optimum import solve_optimum
from oasis_lab.auction.baselines.vcg import vcg
from oasis_lab.auction.compare import DP_GRID
from oasis_lab.auction.greedy import run_greedy
from oasis_lab.auction.metrics import IR_CAUSES, ir_violations_by_cause
from oasis_lab.checks import FieldCheck, check_choice, check_int, check_names, check_real
from oasis_lab.experiments.base import ExperimentConfig, register
from oasis_lab.incentives.equilibrium import (
    EPSILON,
    PROVIDER_MARKUPS,
    RTOL,
    SEARCH,
    USER_SHADES,
    best_response_dynamics,
    check_strategy_grids,
)
from oasis_lab.incentives.manipulability import DEFAULT_GRID, check_report_grid, manipulability
from oasis_lab.incentives.outcomes import run_mechanism
from oasis_lab.incentives.privacy import worst_privacy_loss
from oasis_lab.incentives.repeated import PRICE_SOURCES, initial_price, repeated_markets, run_repeated
from oasis_lab.incentives.truthful import clearing_price, truthful_greedy, tuned_price
from oasis_lab.market import SCENARIOS, Market, generate_market
from oasis_lab.params import CHOICES, AuctionParams
from oasis_lab.progress import progress_bar
from oasis_lab.seeding import child_seed

__all__ = [
    "BEST",
    "MECHANISM_SPECS",
    "PRIVACY_VARIANTS",
    "RepeatedWelfare",
    "SPEC_NAMES",
    "VCG_MAX_TASKS",
    "DpPrivacy",
    "Equilibrium",
    "IncentiveTable",
    "IrCauses",
    "MechanismSpec",
    "StudyMarket",
    "VcgBudget",
    "WelfarePrice",
    "study_markets",
]

#: Largest market a study draws (tasks or providers): every market is scanned agent by agent.
MAX_SIZE = 100_000
#: Most markets of one kind a run draws.
MAX_DRAWS = 1_000
#: Largest VCG market (``tiny_tasks``): :func:`~oasis_lab.auction.baselines.vcg`'s default
#: ``max_tasks``, checked before any work rather than when VCG's turn comes.
VCG_MAX_TASKS = 30


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


#: The best non-truthful greedy reading (surplus density for tasks, unit cost for providers).
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
#: The names of :data:`MECHANISM_SPECS` (what an experiment's ``mechanisms`` field lists).
SPEC_NAMES: tuple[str, ...] = tuple(s.name for s in MECHANISM_SPECS)
_SPECS = {s.name: s for s in MECHANISM_SPECS}


@dataclass(frozen=True, eq=False)
class StudyMarket:
    """One scenario and draw: the general market, its previous round, unit and tiny markets."""

    scenario: str
    seed: int
    general: Market
    previous: Market
    unit: Market
    tiny: Market


def _draw(seed: int, scenario: str, k: int, kind: str, n_tasks: int, n_providers: int, **kw: Any) -> Market:
    # each market from its own child seed: drawing one kind never moves another
    return generate_market(n_tasks, n_providers, scenario=scenario, seed=child_seed(seed, "markets", scenario, k, kind),
                           **kw)


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
    """Seeded markets of the study: ``seeds`` draws per scenario (``child_seed(seed, "markets",
    scenario, draw, kind)``); the same markets the experiments of this module draw."""
    n_tasks = check_int("n_tasks", n_tasks, 1, MAX_SIZE)
    n_providers = check_int("n_providers", n_providers, 1, MAX_SIZE)
    seeds = check_int("seeds", seeds, 1, MAX_DRAWS)
    if isinstance(scenarios, str):
        raise TypeError(f"scenarios must be a sequence of scenario names, got {scenarios!r}")
    bad = [s for s in scenarios if s not in SCENARIOS]
    if bad:
        raise ValueError(f"scenarios {bad} are unknown; choose among {sorted(SCENARIOS)}")
    out = []
    for scenario in scenarios:
        for k in range(seeds):
            unit = _draw(seed, scenario, k, "unit", unit_tasks or n_tasks, unit_providers or n_providers, n_types=1)
            out.append(StudyMarket(
                scenario=scenario, seed=k,
                general=_draw(seed, scenario, k, "general", n_tasks, n_providers),
                previous=_draw(seed, scenario, k, "previous", n_tasks, n_providers),
                unit=unit_demand_market(unit),
                tiny=_draw(seed, scenario, k, "tiny", tiny_tasks, tiny_providers),
            ))
    return out


def _options(spec: MechanismSpec, previous: Market) -> dict[str, Any]:
    opts = dict(spec.options)
    if opts.get("reference_price") == "previous":
        opts["reference_price"] = clearing_price(previous, spec.params)
    return opts


def _ratio(welfare: float, optimum: float) -> float:
    return welfare / optimum if optimum > 0 else np.nan


def _dynamics_columns(res: Any, optimum: float) -> dict[str, Any]:
    """What best-response dynamics did and what the certificate says of where they stopped:
    welfare at truth and at the end over the optimum, how far the agents moved, whether the
    end profile is a certified epsilon-Nash equilibrium and the largest deviation gain."""
    cert = res.certificate
    return {
        "ratio_truth": _ratio(res.welfare_truth, optimum), "ratio_end": _ratio(res.welfare, optimum),
        "converged": res.converged, "certified": cert.passed, "max_gain": cert.max_gain,
        "max_relative_gain": cert.max_relative_gain, "deviators": len(cert.deviators),
        "unbounded": int(cert.table["unbounded"].sum()), "sweeps": len(res.sweeps),
        "mean_shade": float(res.shade.mean()), "mean_markup": float(res.markup.mean()),
        "label": cert.label,
    }


def _market_size(name: str, value: Any) -> int:
    # VCG's markets: one exact solve per trading agent, within vcg's own limit
    return check_int(name, value, 1, VCG_MAX_TASKS if name == "tiny_tasks" else MAX_SIZE)


def _sizes(*names: str) -> dict[str, FieldCheck]:
    """The market-size fields of a study (tasks and providers of each kind of market)."""
    return dict.fromkeys(names, _market_size)


def _report_grid(name: str, value: Any) -> tuple[float, ...]:
    return tuple(float(x) for x in check_report_grid(value))


def _reals(name: str, value: Any, **bounds: Any) -> tuple[float, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise TypeError(f"{name} must be a non-empty sequence of numbers, got {value!r}")
    return tuple(check_real(name, x, **bounds) for x in value)


#: The fields every study below shares (each class's table adds its own).
_SCENARIO_CHECKS: dict[str, FieldCheck] = {"scenario": partial(check_choice, choices=tuple(SCENARIOS))}
_DRAWN_CHECKS: dict[str, FieldCheck] = {**_SCENARIO_CHECKS, "draws": partial(check_int, minimum=1, maximum=MAX_DRAWS)}
_STRATEGIC_CHECKS: dict[str, FieldCheck] = {
    **_DRAWN_CHECKS,
    "mechanisms": partial(check_names, choices=SPEC_NAMES),
    "search": partial(check_choice, choices=SEARCH),
    "max_sweeps": partial(check_int, minimum=1, maximum=1_000),
    # the certificate's tolerance and the searches (the dynamics' and the certificate's)
    "epsilon": partial(check_real, minimum=0.0),
    "rtol": partial(check_real, minimum=0.0),
    **dict.fromkeys(("scan", "certificate_scan"), partial(check_int, minimum=3, maximum=100_000)),
    **dict.fromkeys(("refine", "certificate_refine"), partial(check_int, minimum=1, maximum=100)),
}


@dataclass(frozen=True)
class _Scenario(ExperimentConfig):
    """Shared field: the scenario (each study's table checks its market sizes)."""

    scenario: str = "balanced"
    checks = _SCENARIO_CHECKS


@dataclass(frozen=True)
class _Drawn(_Scenario):
    """Shared field: how many markets of each kind a run draws."""

    draws: int = 1
    checks = _DRAWN_CHECKS


@dataclass(frozen=True)
class _Strategic(_Drawn):
    """Shared fields of the studies that run best-response dynamics and certify where they stop
    (:func:`~oasis_lab.incentives.equilibrium.best_response_dynamics`)."""

    mechanisms: tuple[str, ...] = SPEC_NAMES
    search: str = "continuous"
    user_shades: tuple[float, ...] = USER_SHADES
    provider_markups: tuple[float, ...] = PROVIDER_MARKUPS
    max_sweeps: int = 8
    epsilon: float = EPSILON
    rtol: float = RTOL
    scan: int = 51
    refine: int = 2
    certificate_scan: int = 51
    certificate_refine: int = 2
    checks = _STRATEGIC_CHECKS

    def validate(self) -> None:
        # the two grids together (each must contain 0, the truthful report)
        shades, markups = check_strategy_grids(self.user_shades, self.provider_markups)
        self._set("user_shades", tuple(float(x) for x in shades))
        self._set("provider_markups", tuple(float(x) for x in markups))

    def _dynamics(self, market: Market, spec: MechanismSpec, opts: dict[str, Any], seed: int) -> Any:
        return best_response_dynamics(market, spec.mechanism, spec.params, search=self.search,
                                      user_shades=self.user_shades, provider_markups=self.provider_markups,
                                      max_sweeps=self.max_sweeps, seed=seed, options=opts, epsilon=self.epsilon,
                                      rtol=self.rtol, scan=self.scan, refine=self.refine,
                                      certificate_scan=self.certificate_scan,
                                      certificate_refine=self.certificate_refine)


@register
@dataclass(frozen=True)
class IncentiveTable(_Strategic):
    """Who gains by lying under each mechanism, and what equilibrium bidding costs (section 4).

    Parameters
    ----------
    scenario : str
        A key of :data:`oasis_lab.market.SCENARIOS`.
    draws : int
        Markets of each kind drawn (rows per mechanism).
    n_tasks, n_providers : int
        The general markets (bundles over every model type) and their previous rounds.
    unit_tasks, unit_providers : int
        The single-type unit-demand markets (McAfee, SBBA, the DP price).
    tiny_tasks, tiny_providers : int
        VCG's markets (one exact solve per agent).
    mechanisms : tuple of str
        Names of :data:`MECHANISM_SPECS`.
    report_grid : tuple of float
        Misreport factors of the scan (users' value; providers' cost, speed and capacity).
    search : {"continuous", "grid"}
        How the dynamics find best responses
        (:func:`~oasis_lab.incentives.equilibrium.best_response_dynamics`).
    user_shades, provider_markups : tuple of float
        Grids of ``search="grid"`` (each contains 0, the truth).
    max_sweeps : int
    epsilon, rtol : float
        The certificate's tolerance: a deviation counts above ``epsilon + rtol |utility|``
        tokens.
    scan, refine : int
        The dynamics' search (scan points per interval, local maxima refined).
    certificate_scan, certificate_refine : int
        The certificate's search (the end profile's, as fine or finer).

    Returns (``run``)
    -----------------
    One row per (mechanism, draw): ``mechanism``, ``market`` (general / unit / tiny),
    ``scenario``, ``draw``, ``share_profitable`` (agents with a profitable unilateral
    misreport on ``report_grid``), ``share_profitable_users``, ``share_profitable_providers``,
    ``share_profitable_cost`` (providers, counting cost misreports only), ``ratio_truth`` and
    ``ratio_end`` (welfare at truthful reports and where the dynamics stopped, over the
    optimum), ``converged`` (the last sweep moved nobody), ``certified`` (the end profile
    passes its certificate), ``max_gain`` (the largest deviation gain found, tokens),
    ``max_relative_gain`` (over the deviator's utility), ``deviators``, ``unbounded``
    (providers whose gain grows without bound), ``sweeps``, ``mean_shade``, ``mean_markup``,
    ``label`` (what the end profile may be called), ``budget_surplus`` (at truth).
    """

    name = "incentive_table"

    n_tasks: int = 24
    n_providers: int = 5
    unit_tasks: int = 24
    unit_providers: int = 8
    tiny_tasks: int = 6
    tiny_providers: int = 3
    report_grid: tuple[float, ...] = tuple(float(x) for x in DEFAULT_GRID)
    checks = {
        **_STRATEGIC_CHECKS,
        **_sizes("n_tasks", "n_providers", "unit_tasks", "unit_providers", "tiny_tasks", "tiny_providers"),
        "report_grid": _report_grid,
    }

    def _run(self, seed: int) -> pd.DataFrame:
        markets = study_markets(self.n_tasks, self.n_providers, [self.scenario], self.draws,
                                unit_tasks=self.unit_tasks, unit_providers=self.unit_providers,
                                tiny_tasks=self.tiny_tasks, tiny_providers=self.tiny_providers, seed=seed)
        specs = [_SPECS[name] for name in self.mechanisms]
        rows = []
        # the slowest study of notebook 08: its markets on the report's console (oasis_lab.progress)
        for sm in progress_bar(markets, desc=f"incentive table {self.scenario}", unit="market", disable=True):
            optima: dict[str, float] = {}
            for spec in specs:
                market = getattr(sm, spec.market)
                if spec.market not in optima:  # one optimum per market: the welfare model is shared
                    optima[spec.market] = solve_optimum(market, spec.params, backend="highspy").welfare
                opt = optima[spec.market]
                opts = _options(spec, sm.previous)
                scan_seed = child_seed(seed, "lotteries", spec.name, sm.scenario, sm.seed)
                scan = manipulability(market, spec.mechanism, spec.params, report_grid=self.report_grid,
                                      seed=scan_seed, options=opts)
                best = scan.groupby(["side", "agent"])["profitable"].any()
                cost_only = scan[(scan["side"] == "provider") & (scan["dimension"] == "cost")]
                eq = self._dynamics(market, spec, opts, scan_seed)
                truth = run_mechanism(market, spec.mechanism, spec.params, seed=scan_seed, **opts)
                rows.append({
                    "mechanism": spec.name, "market": spec.market, "scenario": sm.scenario, "draw": sm.seed,
                    "share_profitable": float(best.mean()),
                    "share_profitable_users": float(best.get("user", pd.Series(dtype=bool)).mean()),
                    "share_profitable_providers": float(best.get("provider", pd.Series(dtype=bool)).mean()),
                    "share_profitable_cost": float(cost_only.groupby("agent")["profitable"].any().mean()),
                    **_dynamics_columns(eq, opt),
                    "budget_surplus": truth.budget_surplus,
                })
        return pd.DataFrame(rows)


@register
@dataclass(frozen=True)
class Equilibrium(_Strategic):
    """Welfare at truth and where best-response dynamics stop, certified or not (section 4.2).

    The general markets of :func:`study_markets` (and their previous rounds, for the truthful
    variant's posted price); each mechanism's dynamics from
    ``child_seed(seed, "strategies", name)``, and the end profile's epsilon-Nash certificate
    (:func:`~oasis_lab.incentives.equilibrium.certify_profile`). The dynamics of
    :class:`IncentiveTable`, without the manipulability scan. Only a row with ``certified``
    describes an equilibrium; the others say where the dynamics stopped.

    Parameters
    ----------
    scenario : str
    draws : int
    n_tasks, n_providers : int
    mechanisms : tuple of str
        Names of :data:`MECHANISM_SPECS` that run on general markets.
    search, user_shades, provider_markups, max_sweeps, epsilon, rtol, scan, refine,
    certificate_scan, certificate_refine
        As :class:`IncentiveTable`.

    Returns (``run``)
    -----------------
    One row per (draw, mechanism): ``draw``, ``mechanism``, ``optimum``, ``welfare_truth``,
    ``welfare_end``, and the columns of :class:`IncentiveTable`'s dynamics (``ratio_truth``
    to ``label``).
    """

    name = "equilibrium"

    n_tasks: int = 24
    n_providers: int = 5
    mechanisms: tuple[str, ...] = tuple(s.name for s in MECHANISM_SPECS if s.market == "general")
    max_sweeps: int = 12
    checks = {**_STRATEGIC_CHECKS, **_sizes("n_tasks", "n_providers")}

    def validate(self) -> None:
        super().validate()
        other = [m for m in self.mechanisms if _SPECS[m].market != "general"]
        if other:
            raise ValueError(f"mechanisms {other} do not run on general markets; choose among "
                             f"{[s.name for s in MECHANISM_SPECS if s.market == 'general']}")

    def _run(self, seed: int) -> pd.DataFrame:
        rows = []
        for k in progress_bar(range(self.draws), desc=self.name, unit="draw", disable=True):
            market = _draw(seed, self.scenario, k, "general", self.n_tasks, self.n_providers)
            optima: dict[AuctionParams, float] = {}
            for name in self.mechanisms:
                spec = _SPECS[name]
                opts = dict(spec.options)
                if opts.get("reference_price") == "previous":
                    opts = _options(spec, _draw(seed, self.scenario, k, "previous", self.n_tasks, self.n_providers))
                if spec.params not in optima:  # one optimum per welfare model
                    optima[spec.params] = solve_optimum(market, spec.params, backend="highspy").welfare
                res = self._dynamics(market, spec, opts, child_seed(seed, "strategies", name))
                opt = optima[spec.params]
                rows.append({
                    "draw": k, "mechanism": name, "optimum": opt,
                    "welfare_truth": res.welfare_truth, "welfare_end": res.welfare,
                    **_dynamics_columns(res, opt),
                })
        return pd.DataFrame(rows)


@register
@dataclass(frozen=True)
class WelfarePrice(_Drawn):
    """The truthful variant's welfare against the best greedy reading, over the optimum.

    Parameters
    ----------
    scenario : str
    draws : int
    n_tasks, n_providers : int
        Each round's market (and its previous round).

    Returns (``run``)
    -----------------
    One row per draw: ``scenario``, ``draw``, ``optimum``, ``greedy`` (:data:`BEST`, at
    truthful reports), ``truthful`` (posted price = the previous round's clearing price),
    ``truthful_tuned`` (posted price tuned on the previous round,
    :func:`~oasis_lab.incentives.truthful.tuned_price`: better on thick markets, overfits
    thin ones), ``truthful_hindsight`` (the best posted price for this round's own reports:
    an upper reference, not truthful), ``reference_price``, ``served_greedy``,
    ``served_truthful``.
    """

    name = "welfare_price"

    n_tasks: int = 2000
    n_providers: int = 200
    checks = {**_DRAWN_CHECKS, **_sizes("n_tasks", "n_providers")}

    def _run(self, seed: int) -> pd.DataFrame:
        params = BEST
        rows = []
        for k in progress_bar(range(self.draws), desc=self.name, unit="draw", disable=True):
            m = _draw(seed, self.scenario, k, "general", self.n_tasks, self.n_providers)
            previous = _draw(seed, self.scenario, k, "previous", self.n_tasks, self.n_providers)
            opt = solve_optimum(m, params, backend="highspy").welfare
            g = run_greedy(m, params)
            price = clearing_price(previous, params)
            t = truthful_greedy(m, price, params, compute_payments=False)
            tuned = truthful_greedy(m, tuned_price(previous, params), params, compute_payments=False)
            own = truthful_greedy(m, tuned_price(m, params), params, compute_payments=False)
            rows.append({
                "scenario": self.scenario, "draw": k, "optimum": opt,
                "greedy": g.welfare / opt, "truthful": t.welfare / opt,
                "truthful_tuned": tuned.welfare / opt, "truthful_hindsight": own.welfare / opt,
                "reference_price": price,
                "served_greedy": float(g.served.mean()), "served_truthful": float(t.served.mean()),
            })
        return pd.DataFrame(rows)


@register
@dataclass(frozen=True)
class RepeatedWelfare(_Drawn):
    """The truthful variant round after round, by price source, against the greedy (section 4).

    Each draw is ``rounds`` consecutive markets with the same providers and users
    (:func:`~oasis_lab.incentives.repeated.repeated_markets` from ``child_seed(seed, "markets",
    "repeated_welfare", draw)``); round 0 posts a public reference price
    (:func:`~oasis_lab.incentives.repeated.initial_price`), later rounds read it from the
    previous round by ``price_sources``. Rounds 1 onwards are scored (round 0's price is the
    same for every source), each against its exact optimum; the greedy
    (``surplus+unit_cost``, not truthful) at truthful reports is the reference.

    Parameters
    ----------
    scenario : str
    draws : int
    n_tasks, n_providers : int
        Each round's market.
    rounds : int
        Rounds per draw (>= 2).
    price_sources : tuple of str
        Names of :data:`~oasis_lab.incentives.repeated.PRICE_SOURCES`.

    Returns (``run``)
    -----------------
    One row per (draw, scored round, mechanism): ``scenario``, ``draw``, ``round``,
    ``mechanism`` (``"greedy"`` or ``"truthful, <price source>"``), ``optimum``, ``welfare``,
    ``ratio`` (welfare / optimum), ``served`` (share of tasks), ``price`` (mean posted price
    faced by the providers; ``nan`` for the greedy).
    """

    name = "repeated_welfare"

    n_tasks: int = 400
    n_providers: int = 40
    rounds: int = 4
    price_sources: tuple[str, ...] = PRICE_SOURCES
    checks = {**_DRAWN_CHECKS, **_sizes("n_tasks", "n_providers"),
              "rounds": partial(check_int, minimum=2, maximum=1_000),
              "price_sources": partial(check_names, choices=PRICE_SOURCES)}

    def _run(self, seed: int) -> pd.DataFrame:
        params = BEST
        rows = []
        for k in range(self.draws):
            root = child_seed(seed, "markets", "repeated_welfare", self.scenario, k)
            markets = repeated_markets(self.n_tasks, self.n_providers, self.rounds, scenario=self.scenario, seed=root)
            p0 = initial_price(self.n_tasks, self.n_providers, scenario=self.scenario, seed=root, params=params)
            runs = {f"truthful, {src}": run_repeated(markets, price_source=src, initial_price=p0, params=params,
                                                     seed=root, compute_payments=False)
                    for src in self.price_sources}
            for r in range(1, self.rounds):
                opt = solve_optimum(markets[r], params, backend="highspy").welfare
                g = run_greedy(markets[r], params)
                rows.append({"scenario": self.scenario, "draw": k, "round": r, "mechanism": "greedy", "optimum": opt,
                             "welfare": g.welfare, "ratio": _ratio(g.welfare, opt),
                             "served": float(g.served.mean()), "price": np.nan})
                for name, res in runs.items():
                    rows.append({"scenario": self.scenario, "draw": k, "round": r, "mechanism": name, "optimum": opt,
                                 "welfare": float(res.welfare[r]), "ratio": _ratio(float(res.welfare[r]), opt),
                                 "served": float(res.served[r].mean()),
                                 "price": float(res.provider_price[r].mean())})
        return pd.DataFrame(rows)


@register
@dataclass(frozen=True)
class VcgBudget(_Drawn):
    """VCG's budget surplus (payments - revenues) on tiny markets, measured (section 4).

    Parameters
    ----------
    scenario : str
    draws : int
    tiny_tasks, tiny_providers : int
        The markets (one exact solve per trading agent).

    Returns (``run``)
    -----------------
    One row per draw: ``scenario``, ``draw``, ``welfare``, ``budget_surplus`` and
    ``surplus_share`` (budget over welfare: < 0 a deficit, > 0 a surplus).
    """

    name = "vcg_budget"

    tiny_tasks: int = 6
    tiny_providers: int = 3
    checks = {**_DRAWN_CHECKS, **_sizes("tiny_tasks", "tiny_providers")}

    def _run(self, seed: int) -> pd.DataFrame:
        rows = []
        for k in progress_bar(range(self.draws), desc=self.name, unit="draw", disable=True):
            res = vcg(_draw(seed, self.scenario, k, "tiny", self.tiny_tasks, self.tiny_providers), AuctionParams(),
                      backend="highspy")
            rows.append({"scenario": self.scenario, "draw": k, "welfare": res.welfare,
                         "budget_surplus": res.budget_surplus,
                         "surplus_share": res.budget_surplus / res.welfare if res.welfare > 0 else np.nan})
        return pd.DataFrame(rows)


#: The DP price's variants measured by ``dp_privacy``: name -> options of
#: :func:`~oasis_lab.incentives.privacy.worst_privacy_loss`.
PRIVACY_VARIANTS: dict[str, dict[str, Any]] = {
    "public grid, per-agent sensitivity": {"grid": DP_GRID},
    "public grid, per-unit sensitivity (old)": {"grid": DP_GRID, "per_unit": True},
    "grid from the reports (old)": {"grid": "from_reports"},
}


@register
@dataclass(frozen=True)
class DpPrivacy(_Scenario):
    """The DP clearing price's measured privacy loss, public grid against the old readings.

    The market is the study's unit-demand market of the first draw
    (:func:`study_markets`' ``unit``). Neighbouring profiles differ in one agent's whole
    report; the loss is the largest ``|log Pr[p] - log Pr'[p]|`` over every agent, alternative
    report (``factor`` times its report) and price
    (:func:`~oasis_lab.incentives.privacy.worst_privacy_loss`).

    Parameters
    ----------
    scenario : str
    unit_tasks, unit_providers : int
    epsilons : tuple of float
    report_grid : tuple of float
        Alternative-report factors (0 allowed: a zero report).

    Returns (``run``)
    -----------------
    One row per (variant of :data:`PRIVACY_VARIANTS`, epsilon): ``variant``, ``epsilon``,
    ``loss`` (the worst; ``inf`` where a price possible under one profile is impossible under
    its neighbour).
    """

    name = "dp_privacy"

    unit_tasks: int = 14
    unit_providers: int = 6
    epsilons: tuple[float, ...] = (0.5, 1.0)
    report_grid: tuple[float, ...] = (0.0, 0.5, 2.0, 10.0)
    checks = {
        **_SCENARIO_CHECKS,
        **_sizes("unit_tasks", "unit_providers"),
        "epsilons": partial(_reals, positive=True),
        "report_grid": partial(_reals, minimum=0.0),
    }

    def _run(self, seed: int) -> pd.DataFrame:
        unit = unit_demand_market(_draw(seed, self.scenario, 0, "unit", self.unit_tasks, self.unit_providers,
                                        n_types=1))
        rows = [
            {"variant": variant, "epsilon": eps,
             "loss": float(worst_privacy_loss(unit, eps, report_grid=self.report_grid, **kw)["loss"].max())}
            for variant, kw in PRIVACY_VARIANTS.items() for eps in self.epsilons
        ]
        return pd.DataFrame(rows)


@register
@dataclass(frozen=True)
class IrCauses(_Scenario):
    """Users left with negative utility by the greedy, counted by cause (sections 4.1, 4.2).

    The market is ``generate_market(n_tasks, n_providers, scenario, seed=seed)`` (the seed's
    own market, as notebook 08 draws it); the greedy runs with ``price_rule``. Causes
    (:func:`~oasis_lab.auction.metrics.ir_violations_by_cause`): a trade at the provider's price
    above the task's (``"price_fallback"``), or the midpoint itself, which leaves the user
    ``(v - C) / 2 - e`` (``"user_cost_midpoint"``).

    Returns (``run``)
    -----------------
    One row: ``scenario`` and the number of users per cause of
    :data:`~oasis_lab.auction.metrics.IR_CAUSES` (0 where none).
    """

    name = "ir_causes"

    n_tasks: int = 280
    n_providers: int = 40
    price_rule: str = "as_written"
    checks = {
        **_SCENARIO_CHECKS,
        **_sizes("n_tasks", "n_providers"),
        "price_rule": partial(check_choice, choices=CHOICES["price_rule"]),
    }

    def _run(self, seed: int) -> pd.DataFrame:
        market = generate_market(self.n_tasks, self.n_providers, scenario=self.scenario, seed=seed)
        res = run_greedy(market, AuctionParams(price_rule=self.price_rule))
        counts = ir_violations_by_cause(market, res)["cause"].value_counts()
        return pd.DataFrame([{"scenario": self.scenario, **{c: int(counts.get(c, 0)) for c in IR_CAUSES}}])
