"""Auction studies as experiments (whitepaper sections 4, 4.1, 4.2).

- ``greedy_vs_optimum`` (:class:`GreedyVsOptimum`): the greedy PRICES under several readings
  against the exact ILP optimum, its LP bound and the classic mechanisms on one seeded market
  (notebooks 01 and 02, the ``compare`` CLI, ``docs/mechanism.md``'s tables). The one runner:
  the market comes from :func:`~oasis_lab.seeding.child_seed` ``(seed, "markets")``, the
  double auctions' lotteries from ``(seed, "lotteries")``, and the measurement is
  :func:`oasis_lab.auction.compare.compare_markets`.
- ``outlier`` (:class:`OutlierStudy`): one task's value raised to a multiple of the round's
  largest, and the welfare of every *other* task (notebook 02, section 5).
- ``worst_market`` (:class:`WorstMarket`): the market on which a reading does worst against
  the optimum, dissected task by task (notebook 01); :func:`dissect` is the dissection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.auction.baselines import solve_optimum, unit_demand_market
from oasis_lab.auction.baselines.optimum.solvers import check_time_limit
from oasis_lab.auction.compare import BASELINES, READINGS, compare_markets
from oasis_lab.auction.density import provider_order, task_order
from oasis_lab.auction.greedy import run_greedy
from oasis_lab.auction.pricing import task_unit_price, unit_cost_matrix, user_costs
from oasis_lab.checks import (
    FieldCheck,
    as_given,
    check_bool,
    check_choice,
    check_int,
    check_ints,
    check_names,
    check_optional,
    check_real,
    check_reals,
)
from oasis_lab.experiments.base import ExperimentConfig, register
from oasis_lab.market import SCENARIOS, Market, generate_market
from oasis_lab.params import CHOICES, AuctionParams
from oasis_lab.seeding import child_seed

__all__ = ["PARAM_FIELDS", "TIMING_COLUMNS", "UNSPLIT_TIMING_COLUMNS", "Dissection", "GreedyVsOptimum", "OutlierStudy",
           "UnsplitGap", "WorstMarket", "dissect"]

#: Columns measured with a clock: the only ones that differ between two runs of one config.
TIMING_COLUMNS = ("runtime_s", "speedup_vs_ilp")


#: The fields of :class:`GreedyVsOptimum` passed to :class:`~oasis_lab.params.AuctionParams`.
PARAM_FIELDS = ("alpha", "beta", "fee", "task_size", "partial", "capacity", "split", "capacity_per_type")


def _market_params(cfg: Any) -> AuctionParams:
    return AuctionParams(**{f: getattr(cfg, f) for f in PARAM_FIELDS})


_N_PROVIDERS = partial(check_optional, check=partial(check_int, minimum=1))
_SCENARIO = partial(check_choice, choices=sorted(SCENARIOS))

#: Each field's check of :class:`GreedyVsOptimum`.
_GREEDY_VS_OPTIMUM_CHECKS: dict[str, FieldCheck] = {
    "n_tasks": partial(check_int, minimum=1),
    "n_providers": _N_PROVIDERS,
    "n_types": partial(check_int, minimum=1),
    "scenario": _SCENARIO,
    "unit_demand": check_bool,
    "readings": partial(check_names, choices=list(READINGS)),
    "mechanisms": partial(check_names, choices=BASELINES, empty=True),
    **dict.fromkeys(("alpha", "beta", "fee"), check_real),
    "backend": partial(check_choice, choices=("highspy", "cvxpy")),
    "ilp_time_limit": as_given(check_time_limit),
    "greedy_repeats": partial(check_int, minimum=1),
    "vcg_max_tasks": partial(check_int, minimum=1),
    "epsilon": as_given(partial(check_real, positive=True)),
    "timings": check_bool,
}

#: Each field's check of :class:`OutlierStudy`.
_OUTLIER_CHECKS: dict[str, FieldCheck] = {
    "n_tasks": partial(check_int, minimum=2),
    "n_providers": _N_PROVIDERS,
    "scenario": _SCENARIO,
    "multiples": partial(check_reals, minimum=1.0, empty=False),
    "task_densities": partial(check_names, choices=CHOICES["task_density"]),
}

#: Each field's check of :class:`WorstMarket`.
_WORST_MARKET_CHECKS: dict[str, FieldCheck] = {
    "n_tasks": partial(check_int, minimum=1),
    "scenarios": partial(check_names, choices=sorted(SCENARIOS)),
    "n_markets": partial(check_int, minimum=1),
    "reading": partial(check_choice, choices=list(READINGS)),
}


@register
@dataclass(frozen=True)
class GreedyVsOptimum(ExperimentConfig):
    """Greedy readings vs the exact optimum and baselines on one seeded market.

    Parameters
    ----------
    n_tasks : int
    n_providers : int, optional
        Default: as many as tasks.
    n_types : int
    scenario : str
        A key of :data:`oasis_lab.market.SCENARIOS`.
    unit_demand : bool
        Single-type unit-demand markets (where McAfee, SBBA and the DP price apply).
    readings : tuple of str
        Keys of :data:`oasis_lab.auction.compare.READINGS`.
    mechanisms : tuple of str
        Baselines among :data:`oasis_lab.auction.compare.BASELINES`; ``()`` for the greedy alone.
    alpha, beta, fee, task_size, partial, capacity, split, capacity_per_type
        The welfare model and fee (:class:`~oasis_lab.params.AuctionParams`); markets are
        drawn in the unit ``capacity`` reads.
    backend : {"highspy", "cvxpy"}
    ilp_time_limit : float, optional
    greedy_repeats : int
    epsilon : float
        Privacy of the DP clearing price.
    timings : bool
        Keep the measured runtimes; ``False`` (default) leaves :data:`TIMING_COLUMNS` NaN so
        that the frame is a pure function of ``(config, seed)``.

    Returns (``run``)
    -----------------
    One row per mechanism and reading, the columns of
    :func:`~oasis_lab.auction.compare.compare_markets` plus ``market_seed``.
    """

    name = "greedy_vs_optimum"

    n_tasks: int = 100
    n_providers: int | None = None
    n_types: int = 4
    scenario: str = "balanced"
    unit_demand: bool = False
    readings: tuple[str, ...] = tuple(READINGS)
    mechanisms: tuple[str, ...] = ("ilp", "lp")
    alpha: float = 2.0
    beta: float = 1.0
    fee: float = 0.0
    task_size: str = "units"
    partial: bool = False
    capacity: str = "units"
    split: bool = True
    capacity_per_type: bool = False
    backend: str = "highspy"
    ilp_time_limit: float | None = None
    greedy_repeats: int = 1
    vcg_max_tasks: int = 30
    epsilon: float = 1.0
    timings: bool = False

    checks = _GREEDY_VS_OPTIMUM_CHECKS

    def validate(self) -> None:
        _market_params(self)  # AuctionParams' own checks (alpha > 1, fee in [0, 1), choices, bools)

    def auction_params(self) -> AuctionParams:
        """The welfare model and fee of this config as :class:`~oasis_lab.params.AuctionParams`."""
        return _market_params(self)

    def market(self, seed: int) -> Market:
        """The market of this config under ``seed`` (from the ``"markets"`` stream)."""
        params = _market_params(self)
        market = generate_market(
            self.n_tasks,
            self.n_providers or self.n_tasks,
            n_types=1 if self.unit_demand else self.n_types,
            scenario=self.scenario,
            seed=child_seed(seed, "markets"),
            capacity_unit=params.capacity,
        )
        return unit_demand_market(market) if self.unit_demand else market

    def _run(self, seed: int) -> pd.DataFrame:
        labels = {"scenario": self.scenario, "market_seed": child_seed(seed, "markets")}
        frame = compare_markets(
            [(labels, self.market(seed))],
            _market_params(self),
            readings={r: READINGS[r] for r in self.readings},
            mechanisms=self.mechanisms,
            ilp_time_limit=self.ilp_time_limit,
            backend=self.backend,
            greedy_repeats=self.greedy_repeats,
            vcg_max_tasks=self.vcg_max_tasks,
            epsilon=self.epsilon,
            seed=child_seed(seed, "lotteries"),
        )
        frame = frame.drop(columns=[c for c in ("market", "seed") if c in frame])
        if not self.timings:
            for col in TIMING_COLUMNS:
                frame[col] = math.nan
        return frame


_UNSPLIT_GAP_CHECKS: dict[str, FieldCheck] = {
    # the per-pair ILP has about n^2 binaries per type: past 10^4 solve_optimum refuses it anyway
    "sizes": partial(check_ints, minimum=1, maximum=10_000),
    "scenario": partial(check_choice, choices=sorted(SCENARIOS)),
    "time_limit": as_given(check_time_limit),
    "reading": partial(check_choice, choices=list(READINGS)),
    "timings": check_bool,
}

#: Columns of :class:`UnsplitGap` that are measured times (NaN unless ``timings=True``).
UNSPLIT_TIMING_COLUMNS = ("solve_s", "compact_ilp_s")


@register
@dataclass(frozen=True)
class UnsplitGap(ExperimentConfig):
    """Unsplittable demand: the ``split=False`` (generalized assignment) ILP against the
    splittable optimum and the greedy, by size (whitepaper section 4.2's "NP-hard").

    Each size's market is :class:`GreedyVsOptimum`'s (``n`` tasks, ``n`` providers, the
    scenario) at the seed, so a ``greedy_vs_optimum`` sweep at that size sees the same markets.
    The per-pair ILP runs under ``time_limit``; both its own bound and the splittable optimum
    bound the unsplittable optimum from above, and the greedy (``reading``, ``split=False``) is
    measured against the tighter one.

    Parameters
    ----------
    sizes : tuple of int
        Tasks = providers, each in ``[1, 10000]``.
    scenario : str
        A key of :data:`oasis_lab.market.SCENARIOS`.
    time_limit : float, optional
        Seconds per unsplittable solve (``None``: no limit). A solve stopped by it has a status
        other than ``optimal`` and its gap, incumbent and bound depend on the machine's speed.
    reading : str
        The greedy's reading (a key of :data:`oasis_lab.auction.compare.READINGS`).
    timings : bool
        Keep the measured solve times; ``False`` (default) leaves :data:`UNSPLIT_TIMING_COLUMNS`
        NaN.

    Returns (``run``)
    -----------------
    One row per size: ``n, status, variables, solve_s, mip_gap, incumbent, bound,
    compact_ilp_s, split_optimum, greedy, best_bound, bound_used, greedy/best bound,
    greedy/incumbent``. A ratio is NaN where its denominator is 0 (a market where nothing can
    trade has no welfare ratio) or missing (a solve the limit stopped before any incumbent).
    """

    name = "unsplit_gap"

    sizes: tuple[int, ...] = (10, 30, 100)
    scenario: str = "balanced"
    time_limit: float | None = 2.0
    reading: str = "surplus+unit_cost"
    timings: bool = False

    checks = _UNSPLIT_GAP_CHECKS

    def _run(self, seed: int) -> pd.DataFrame:
        unsplit = AuctionParams(split=False)
        greedy_params = unsplit.replace(**READINGS[self.reading])
        rows = []
        for n in self.sizes:  # a handful of sizes, each one exact solve: a loop is the study
            market = GreedyVsOptimum(n_tasks=n, scenario=self.scenario).market(seed)
            r = solve_optimum(market, unsplit, backend="highspy", time_limit=self.time_limit)
            s = solve_optimum(market, AuctionParams(), backend="highspy")
            rows.append({
                "n": n, "status": r.status, "variables": r.n_variables, "solve_s": r.solve_time_s,
                "mip_gap": r.gap, "incumbent": r.incumbent, "bound": r.bound,
                "compact_ilp_s": s.solve_time_s, "split_optimum": s.welfare,
                "greedy": run_greedy(market, greedy_params).welfare,
            })
        table = pd.DataFrame(rows)
        # both bound the unsplit optimum from above; the tighter one is the fair yardstick
        table["best_bound"] = table[["bound", "split_optimum"]].min(axis=1)
        table["bound_used"] = np.where(table["split_optimum"] <= table["bound"].fillna(np.inf),
                                       "split optimum", "MIP bound")
        table["greedy/best bound"] = table["greedy"] / table["best_bound"]
        table["greedy/incumbent"] = table["greedy"] / table["incumbent"]
        if not self.timings:
            for col in UNSPLIT_TIMING_COLUMNS:
                table[col] = math.nan
        return table


@register
@dataclass(frozen=True)
class OutlierStudy(ExperimentConfig):
    """The largest bid moves everyone's order under the as-written task density (section 4.2).

    Step 2 of PRICES normalizes values by the round's maximum; one task's value is raised to
    ``multiple`` times the round's largest and the welfare of all the *other* tasks is measured
    under each task density.

    Returns (``run``)
    -----------------
    One row per (multiple, task density): ``largest_bid_x``, ``task_density``, ``served``
    (share of tasks), ``welfare_others`` (welfare less the raised task's own extra value) and
    ``others_change`` (relative to ``multiple = 1`` under the same density; 0 when the list
    has no 1).
    """

    name = "outlier"

    n_tasks: int = 5000
    n_providers: int | None = None
    scenario: str = "balanced"
    multiples: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0)
    task_densities: tuple[str, ...] = ("as_written", "surplus")

    checks = _OUTLIER_CHECKS

    def _run(self, seed: int) -> pd.DataFrame:
        base = generate_market(
            self.n_tasks,
            self.n_providers or max(self.n_tasks // 10, 1),
            scenario=self.scenario,
            seed=child_seed(seed, "markets"),
        )
        rows = []
        for multiple in self.multiples:
            values = base.value.copy()
            values[-1] = base.value.max() * multiple
            bumped = base.replace(value=values)
            for density in self.task_densities:
                res = run_greedy(bumped, AuctionParams(task_density=density))
                # the raised task's own extra value is taken out: what is left is everyone else's
                own_gain = res.served_share[-1] * (values[-1] - base.value[-1])
                rows.append(
                    {
                        "largest_bid_x": multiple,
                        "task_density": density,
                        "served": float(res.served.mean()),
                        "welfare_others": float(res.welfare - own_gain),
                    }
                )
        frame = pd.DataFrame(rows)
        ref = frame[frame["largest_bid_x"] == 1.0].set_index("task_density")["welfare_others"]
        base_w = frame["task_density"].map(ref)
        frame["others_change"] = (frame["welfare_others"] / base_w - 1.0).fillna(0.0)
        return frame


@dataclass(frozen=True, eq=False)
class Dissection:
    """One market's greedy outcome next to the optimum's, task by task and provider by provider.

    Attributes
    ----------
    tasks : DataFrame
        Per task in the walk's order: ``G rank, units, value/unit, surplus v-e, greedy,
        optimum`` (served 0/1), ``greedy unit cost, optimum unit cost`` (units-weighted).
    providers : DataFrame
        Per provider in ``H`` order: unit cost, capacity, runnable types, units served by each.
    greedy_trades, optimum_trades : DataFrame
        The trades with each provider's unit cost.
    totals : dict
        ``value_greedy, value_optimum, cost_greedy, cost_optimum, welfare_greedy,
        welfare_optimum, unit_cost_greedy, unit_cost_optimum, only_greedy, only_optimum,
        surplus_only_greedy, surplus_only_optimum``.
    """

    tasks: pd.DataFrame
    providers: pd.DataFrame
    greedy_trades: pd.DataFrame
    optimum_trades: pd.DataFrame
    totals: dict[str, float]


def dissect(market: Market, params: AuctionParams) -> Dissection:
    """Replay the greedy under ``params`` and the exact optimum on ``market`` (section 4.2)."""
    g = run_greedy(market, params)
    opt = solve_optimum(market, params, formulation="per_pair")
    surplus = market.value - user_costs(market, params)
    rank = np.empty(market.n_tasks, dtype=int)
    rank[task_order(market, params)] = np.arange(market.n_tasks)
    cost = unit_cost_matrix(market, params)
    gt = g.trades.assign(unit_cost=cost[g.trades["provider"], g.trades["type"]])
    ot = opt.trades(market)

    def mean_unit_cost(trades: pd.DataFrame) -> np.ndarray:
        paid = np.bincount(trades["task"], weights=trades["units"] * trades["unit_cost"], minlength=market.n_tasks)
        units = np.bincount(trades["task"], weights=trades["units"], minlength=market.n_tasks)
        with np.errstate(invalid="ignore", divide="ignore"):
            return paid / units

    tasks = pd.DataFrame(
        {
            "G rank": rank,
            "units": market.task_units,
            "value/unit": task_unit_price(market),
            "surplus v-e": surplus,
            "greedy": g.served.astype(int),
            "optimum": opt.served.astype(int),
            "greedy unit cost": mean_unit_cost(gt),
            "optimum unit cost": mean_unit_cost(ot),
        }
    ).sort_values("G rank")
    prov_rank = np.empty(market.n_providers, dtype=int)
    prov_rank[provider_order(market, params)] = np.arange(market.n_providers)
    providers = (
        market.providers[["unit_cost", "capacity", "runnable_types"]]
        .assign(
            H_rank=prov_rank,
            greedy_units=g.units_matrix(market.n_types).sum(axis=1),
            optimum_units=opt.units.sum(axis=1),
        )
        .sort_values("H_rank")
    )
    value_g, value_o = float(surplus @ g.served_share), float(surplus @ opt.served)
    cost_g = float((gt.units * gt.unit_cost).sum())
    cost_o = float((ot.units * ot.unit_cost).sum())
    only_g = tasks[(tasks.greedy == 1) & (tasks.optimum == 0)]
    only_o = tasks[(tasks.greedy == 0) & (tasks.optimum == 1)]
    totals = {
        "value_greedy": value_g,
        "value_optimum": value_o,
        "cost_greedy": cost_g,
        "cost_optimum": cost_o,
        "welfare_greedy": value_g - cost_g,
        "welfare_optimum": value_o - cost_o,
        "unit_cost_greedy": cost_g / max(float(gt.units.sum()), 1e-12),
        "unit_cost_optimum": cost_o / max(float(ot.units.sum()), 1e-12),
        "only_greedy": float(len(only_g)),
        "only_optimum": float(len(only_o)),
        "surplus_only_greedy": float(only_g["surplus v-e"].sum()),
        "surplus_only_optimum": float(only_o["surplus v-e"].sum()),
    }
    return Dissection(tasks, providers, gt, ot, totals)


@register
@dataclass(frozen=True)
class WorstMarket(ExperimentConfig):
    """The market on which a reading does worst against the optimum, dissected (notebook 01).

    The markets are :class:`GreedyVsOptimum`'s at seeds ``seed .. seed + n_markets - 1`` for
    each scenario (so this experiment at seed 0 looks at the markets of a ``greedy_vs_optimum``
    sweep over seeds ``0 .. n_markets - 1``); the worst under ``reading`` is replayed by
    :func:`dissect`.

    Returns (``run``)
    -----------------
    The worst market's :attr:`Dissection.tasks` with the market-level figures as columns:
    ``scenario, seed_of_market, ratio_opt`` and the :attr:`Dissection.totals`.
    """

    name = "worst_market"

    n_tasks: int = 30
    scenarios: tuple[str, ...] = tuple(sorted(SCENARIOS))
    n_markets: int = 2
    reading: str = "no_trade"

    checks = _WORST_MARKET_CHECKS

    def markets(self, seed: int) -> list[tuple[dict[str, Any], Market]]:
        out = []
        for scenario in self.scenarios:
            config = GreedyVsOptimum(n_tasks=self.n_tasks, scenario=scenario)
            for s in range(seed, seed + self.n_markets):
                out.append(({"scenario": scenario, "seed_of_market": s}, config.market(s)))
        return out

    def worst(self, seed: int) -> tuple[dict[str, Any], Market, Dissection]:
        """The worst market's labels (with ``ratio_opt``), the market and its dissection."""
        markets = self.markets(seed)
        frame = compare_markets(
            markets,
            readings={self.reading: READINGS[self.reading]},
            mechanisms=("ilp",),
            backend="highspy",
            greedy_repeats=1,
        )
        greedy = frame[frame["mechanism"] == "greedy"].reset_index(drop=True)
        k = int(greedy["ratio_opt"].idxmin())
        labels, market = markets[k]
        params = AuctionParams().replace(**READINGS[self.reading])
        return {**labels, "ratio_opt": float(greedy.loc[k, "ratio_opt"])}, market, dissect(market, params)

    def _run(self, seed: int) -> pd.DataFrame:
        labels, _, d = self.worst(seed)
        return d.tasks.assign(**labels, **d.totals)
