"""Greedy PRICES against exact optima and classic mechanisms (whitepaper sections 3 and 4).

Section 4.2 presents PRICES as "a polynomial time combinatorial algorithm for Equation 1, which
is NP-Hard". :func:`compare_markets` measures what that buys and what it costs: on each market it
runs the greedy under several readings of the paper, the exact ILP optimum, its LP
relaxation (an upper bound) and, where they apply, VCG (small markets) and the double
auctions McAfee, SBBA and the exponential-mechanism clearing price (single-type,
unit-demand markets). All measure the same social welfare
``sum_i sigma_i (v_i - e_i) - sum_{j,t} u[j, t] x[j, t]``.

The welfare model (``capacity``, ``capacity_per_type``, ``split``, ``partial``, ``alpha``,
``beta``, ``task_size``) comes from one :class:`~oasis_lab.params.AuctionParams`; a
*reading* only changes how the greedy orders and prices (densities, price rule), so every
reading of a market is measured against the same optimum.

:func:`compare_markets` measures given markets; the seeded study over generated markets (sizes,
scenarios, seeds) is the ``greedy_vs_optimum`` experiment of :mod:`oasis_lab.experiments`,
which draws each market from :mod:`oasis_lab.seeding` and runs it here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.auction.baselines import check_epsilon, solve_optimum
from oasis_lab.auction.baselines.optimum.solvers import check_time_limit
from oasis_lab.auction.greedy import run_greedy
from oasis_lab.auction.mechanisms import (
    MECHANISMS,
    is_unit_market,
    mechanism_names,
    mechanism_result,
)
from oasis_lab.market import Market, generate_market
from oasis_lab.params import AuctionParams
from oasis_lab.timing import best_of

__all__ = [
    "BASELINES",
    "READINGS",
    "DP_GRID",
    "WELFARE_FIELDS",
    "compare_markets",
    "summarize",
]

#: Greedy readings compared by default: overrides of the density and price fields.
READINGS: dict[str, dict[str, Any]] = {
    "paper": {"price_rule": "as_written"},
    "no_trade": {},
    "capability": {"provider_density": "capability"},
    "unit_cost": {"provider_density": "unit_cost"},
    "surplus": {"task_density": "surplus"},
    "surplus+unit_cost": {"task_density": "surplus", "provider_density": "unit_cost"},
}

#: Baselines :func:`compare_markets` can add next to the greedy: the registered mechanisms
#: (:data:`oasis_lab.auction.mechanisms.MECHANISMS`) that report a comparison row.
BASELINES: tuple[str, ...] = mechanism_names("compare")

#: The DP clearing price's public grid: 241 prices on [0, 60] tokens per unit, fixed before any
#: report is seen (a grid read off the reports would void the privacy guarantee).
DP_GRID: np.ndarray = np.linspace(0.0, 60.0, 241)

#: Fields of AuctionParams that define the welfare model (a reading must not change them).
WELFARE_FIELDS = ("alpha", "beta", "task_size", "partial", "capacity", "split", "capacity_per_type")

_COLUMNS = [
    "market", "n_tasks", "n_providers", "scenario", "seed", "mechanism", "reading",
    "welfare", "ratio_opt", "ratio_lp", "served", "ir_violations_users",
    "ir_violations_providers", "budget_surplus", "units", "user_utility", "provider_utility",
    "runtime_s", "speedup_vs_ilp", "status", "gap",
]


def _check_readings(
    readings: Mapping[str, Mapping[str, Any]], params: AuctionParams, exact: bool = True
) -> dict[str, AuctionParams]:
    if not isinstance(readings, Mapping) or not readings:
        raise ValueError("readings must be a non-empty mapping of name -> AuctionParams overrides")
    out = {}
    for name, overrides in readings.items():
        if isinstance(overrides, AuctionParams):
            overrides = {f: getattr(overrides, f) for f in overrides.__dataclass_fields__
                         if getattr(overrides, f) != getattr(AuctionParams(), f)}
        if not isinstance(overrides, Mapping):
            raise TypeError(
                f"readings[{name!r}] must be a dict of AuctionParams overrides or an AuctionParams, "
                f"got {type(overrides).__name__}"
            )
        bad = sorted(set(overrides) & set(WELFARE_FIELDS))
        if bad and exact:
            raise ValueError(
                f"reading {name!r} changes the welfare model ({bad}): set those in params, "
                "so every reading is measured against the same optimum (readings may change it "
                "only when no exact baseline, ilp, lp or vcg, is asked for)"
            )
        out[str(name)] = params.replace(**dict(overrides))
    return out


def _ratio(a: float, b: float) -> float:
    return a / b if (math.isfinite(a) and math.isfinite(b) and b > 0) else math.nan


def compare_markets(
    markets: Iterable[tuple[dict[str, Any], Market]],
    params: AuctionParams = AuctionParams(),
    *,
    readings: Mapping[str, Mapping[str, Any]] = READINGS,
    mechanisms: Sequence[str] = ("ilp", "lp", "vcg", "mcafee", "sbba", "dp"),
    ilp_time_limit: float | None = None,
    backend: str = "cvxpy",
    greedy_repeats: int = 3,
    vcg_max_tasks: int = 30,
    epsilon: float = 1.0,
    seed: int = 0,
    progress: bool = False,
    total: int | None = None,
) -> pd.DataFrame:
    """Greedy (each reading) vs ILP vs LP bound vs VCG and double auctions on given markets.

    Parameters
    ----------
    markets : iterable of (dict, Market)
        Each market with the labels to copy into its rows (``market``, ``scenario``,
        ``seed``, ...).
    params : AuctionParams
        The welfare model (and the fields the readings do not override).
    readings : mapping of name -> dict or AuctionParams
        Greedy readings: overrides of ``params`` (densities, price rule, normalization); see
        :data:`READINGS`. A reading may change the welfare model (``alpha``, ``beta``, ...)
        only when no exact baseline (``ilp``, ``lp``, ``vcg``) is asked for, so that every
        ratio is against the optimum of the same model.
    mechanisms : sequence of str
        Baselines among :data:`BASELINES` (``()``: the greedy readings alone). ``vcg`` runs
        only on markets of at most ``vcg_max_tasks`` tasks; the double auctions only on
        single-type unit-demand markets.
    ilp_time_limit : float, optional
        Per exact solve; a solve that hits it reports ``nan`` welfare and its status.
    backend : {"cvxpy", "highspy"}
        For the ILP and LP.
    greedy_repeats : int
        The greedy's runtime is the minimum over this many runs.
    vcg_max_tasks : int
    epsilon : float
        Of the DP clearing price.
    seed : int
        SBBA's lottery and the DP draw.
    progress : bool
        Show a progress bar (:func:`oasis_lab.progress.progress_bar`; under the report it is on
        the report's console whatever this says).
    total : int, optional
        Number of markets, for the progress bar.

    Returns
    -------
    pandas.DataFrame
        One row per (market, mechanism, reading): the labels, ``n_tasks, n_providers,
        mechanism, reading, welfare, ratio_opt`` (welfare / ILP optimum), ``ratio_lp``
        (welfare / LP bound), ``served`` (tasks, or trades for the double auctions),
        ``ir_violations_users, ir_violations_providers, budget_surplus``, for the greedy
        ``units, user_utility, provider_utility``, then ``runtime_s, speedup_vs_ilp`` (ILP
        time / this runtime), ``status, gap``.
    """
    if not isinstance(params, AuctionParams):
        raise TypeError(f"params must be an AuctionParams, got {type(params).__name__}")
    if isinstance(mechanisms, str) or not isinstance(mechanisms, Iterable):
        raise TypeError(f"mechanisms must be a sequence of names among {list(BASELINES)}, got {mechanisms!r}")
    mechanisms = tuple(mechanisms)
    unknown = [m for m in mechanisms if m not in BASELINES]
    if unknown:
        raise ValueError(f"mechanisms {unknown} are not among {list(BASELINES)}")
    for name, value in (("greedy_repeats", greedy_repeats), ("vcg_max_tasks", vcg_max_tasks)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} = {value!r} must be an int >= 1")
    epsilon = check_epsilon(epsilon)
    ilp_time_limit = check_time_limit("ilp_time_limit", ilp_time_limit)
    exact = [m for m in mechanisms if MECHANISMS[m].reference or MECHANISMS[m].market == "small"]
    reading_params = _check_readings(readings, params, exact=bool(exact))
    # Warm up (imports, cvxpy's first compile, numba's cache load) so that the first market's
    # timings are not inflated by one-off costs.
    tiny = generate_market(3, 2, seed=0)
    run_greedy(tiny, params)
    if exact:
        solve_optimum(tiny, params, backend=backend)
    from oasis_lab.progress import progress_bar

    # always on the report's console (oasis_lab.progress); shown elsewhere when asked
    iterator: Iterable[tuple[dict[str, Any], Market]] = progress_bar(
        markets, total=total, desc="compare", unit="market", disable=not progress)
    rows: list[dict[str, Any]] = []
    for labels, market in iterator:
        rows.extend(
            _one_market(labels, market, params, reading_params, mechanisms, ilp_time_limit,
                        backend, greedy_repeats, vcg_max_tasks, epsilon, seed)
        )
    frame = pd.DataFrame(rows)
    for col in _COLUMNS:
        if col not in frame:
            frame[col] = np.nan
    return frame[_COLUMNS + [c for c in frame.columns if c not in _COLUMNS]]


def _one_market(
    labels: dict[str, Any],
    market: Market,
    params: AuctionParams,
    reading_params: dict[str, AuctionParams],
    mechanisms: Sequence[str],
    ilp_time_limit: float | None,
    backend: str,
    greedy_repeats: int,
    vcg_max_tasks: int,
    epsilon: float,
    seed: int,
) -> list[dict[str, Any]]:
    base = {"n_tasks": market.n_tasks, "n_providers": market.n_providers, **labels}
    rows: list[dict[str, Any]] = []
    # each baseline's options, from compare's arguments
    options: dict[str, dict[str, Any]] = {
        "ilp": {"time_limit": ilp_time_limit, "backend": backend},
        "lp": {"backend": backend},
        "vcg": {"max_tasks": vcg_max_tasks, "time_limit": ilp_time_limit},
        "dp": {"epsilon": epsilon, "grid": DP_GRID},
    }
    results: dict[str, Any] = {}
    # the optimum is every ratio's denominator (vcg's rows too), the LP bound the other's
    if "ilp" in mechanisms or "vcg" in mechanisms:
        results["ilp"] = mechanism_result(market, "ilp", params, **options["ilp"])
    if "lp" in mechanisms:
        results["lp"] = mechanism_result(market, "lp", params, **options["lp"])
    opt, lp = results.get("ilp"), results.get("lp")
    w_opt = opt.welfare if opt is not None else math.nan
    w_lp = lp.welfare if lp is not None else math.nan
    t_opt = opt.solve_time_s if opt is not None and opt.ok else math.nan

    def row(mechanism: str, reading: str, report: dict[str, Any]) -> None:
        welfare, runtime = report["welfare"], report["runtime_s"]
        rows.append({
            **base, "mechanism": mechanism, "reading": reading, "welfare": welfare,
            "ratio_opt": _ratio(welfare, w_opt), "ratio_lp": _ratio(welfare, w_lp),
            "runtime_s": runtime, "speedup_vs_ilp": _ratio(t_opt, runtime),
            **{k: v for k, v in report.items() if k not in ("welfare", "runtime_s")},
        })

    def baseline(name: str) -> None:
        entry = MECHANISMS[name]
        if name not in mechanisms or entry.report is None:
            return
        if (entry.market == "unit" and not is_unit_market(market)) or (
            entry.market == "small" and market.n_tasks > vcg_max_tasks
        ):
            return  # it does not apply to this market
        res = results.get(name)
        if res is None:
            res = mechanism_result(market, name, params, seed=seed, **options.get(name, {}))
        row(name, "", entry.report(res))

    # references (the optimum, its LP bound) first, then the greedy readings, then the others
    for name in BASELINES:
        if MECHANISMS[name].reference:
            baseline(name)
    greedy = MECHANISMS["greedy"]
    assert greedy.report is not None
    for name, p in reading_params.items():
        # min of repeats: the machine is shared and noisy
        seconds, g = best_of(partial(mechanism_result, market, "greedy", p), greedy_repeats)
        row("greedy", name, {**greedy.report(g), "runtime_s": seconds})
    for name in BASELINES:
        if not MECHANISMS[name].reference:
            baseline(name)
    return rows


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per size, scenario, mechanism and reading (the table the CLI prints).

    Columns: ``welfare_ratio`` (mean welfare / ILP), ``ratio_min`` (worst market),
    ``ratio_lp``, ``served``, ``ir_violations_users``, ``runtime_s``, ``speedup_vs_ilp``
    (ILP time / runtime, geometric mean), ``markets`` and ``failed`` (runs without a welfare).
    """
    if frame.empty:
        return frame
    keys = ["n_tasks", "scenario", "mechanism", "reading"]
    df = frame.copy()
    df["log_speedup"] = np.log(df["speedup_vs_ilp"].astype(float))
    grouped = df.groupby(keys, sort=True, dropna=False)
    out = pd.DataFrame({
        "welfare_ratio": grouped["ratio_opt"].mean(),
        "ratio_min": grouped["ratio_opt"].min(),
        "ratio_lp": grouped["ratio_lp"].mean(),
        "served": grouped["served"].mean(),
        "ir_violations_users": grouped["ir_violations_users"].mean(),
        "runtime_s": grouped["runtime_s"].mean(),
        "speedup_vs_ilp": np.exp(grouped["log_speedup"].mean()),
        "markets": grouped["welfare"].size(),
        "failed": grouped["welfare"].apply(lambda w: int(w.isna().sum())),
    })
    order = {m: k for k, m in enumerate(("greedy",) + BASELINES)}
    out = out.reset_index()
    out["_o"] = out["mechanism"].map(order)
    return out.sort_values(["n_tasks", "scenario", "_o", "reading"]).drop(columns="_o").reset_index(drop=True)
