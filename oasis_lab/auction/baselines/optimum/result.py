"""What :func:`~oasis_lab.auction.baselines.optimum.solve_optimum` returns (whitepaper section 4).

A backend's raw answer (:class:`RawSolution`: status, primal columns, dual bound) is decoded
against the :class:`~oasis_lab.auction.baselines.optimum.formulation.LinearModel` into an
:class:`OptimumResult`: served tasks, units per provider and type, welfare, bound and gap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.auction.baselines.optimum.formulation import LinearModel
from oasis_lab.auction.baselines.optimum.solvers import RawSolution
from oasis_lab.auction.pricing import social_welfare, unit_cost_matrix
from oasis_lab.market import Market
from oasis_lab.params import AuctionParams

__all__ = ["STATUSES", "OptimumResult", "decode", "too_large"]

#: Every status :func:`solve_optimum` reports. Only ``"optimal"`` comes with a welfare.
STATUSES = (
    "optimal",
    "time_limit",
    "solver_limit",
    "inaccurate",
    "infeasible",
    "unbounded",
    "solver_error",
    "too_large",
)


@dataclass(frozen=True, eq=False)
class OptimumResult:
    """Exact welfare optimum (or LP bound) of one market (whitepaper section 4).

    Attributes
    ----------
    welfare : float
        Optimal social welfare; ``nan`` unless ``status == "optimal"`` (a time-limited or
        failed solve never reports a number it has not proved).
    served : numpy.ndarray, shape (n_tasks,)
        ``y_i`` of the solution found (binary for the ILP, fractional for the LP relaxation,
        the served share under ``partial=True``); ``nan`` when the solver returned none.
    units : numpy.ndarray, shape (n_providers, n_types)
        Units of each type each provider serves; ``nan`` when the solver returned none.
    status : str
        One of :data:`STATUSES`.
    solver : str
        ``"cvxpy/HIGHS"``, ``"cvxpy/SCIPY"`` or ``"highspy/HIGHS"``.
    solve_time_s : float
        Wall time of the whole call: model build, compile and solve (not the start of the
        solver worker process of a time-limited call, paid once per session).
    gap : float
        ``(bound - incumbent) / |bound|``: 0 for an LP or a proved ILP optimum (up to the
        requested ``mip_rel_gap``), positive after a time limit, ``nan`` when unknown.
    bound : float
        Proved upper bound on the optimal welfare (the MIP dual bound; the LP value).
    incumbent : float
        Welfare of the best solution found (``welfare`` when optimal; after a time limit,
        a feasible but unproved lower bound), ``nan`` if none.
    relax : bool
        Whether this is the LP relaxation.
    formulation : str
        ``"compact"`` or ``"per_pair"``.
    n_variables, n_constraints : int
        Size of the model handed to the solver.
    solver_time_s : float
        Time the solver itself reports (excluding model build and cvxpy compile).
    message : str
        The solver's own status text.
    pair_units : pandas.DataFrame
        Per-pair formulation only: ``task, provider, type, units`` of the solution.
    demand_served : numpy.ndarray, shape (n_tasks, n_types)
        Units of each task's demand of each type that the solution serves.
    """

    welfare: float
    served: np.ndarray
    units: np.ndarray
    status: str
    solver: str
    solve_time_s: float
    gap: float
    bound: float
    incumbent: float
    relax: bool
    formulation: str
    n_variables: int
    n_constraints: int
    solver_time_s: float
    message: str = ""
    params: AuctionParams = field(default_factory=AuctionParams)
    pair_units: pd.DataFrame | None = None
    demand_served: np.ndarray | None = None

    @property
    def ok(self) -> bool:
        """``True`` when the welfare is a proved optimum."""
        return self.status == "optimal"

    @property
    def n_served(self) -> float:
        """Number of tasks served (sum of ``served``; fractional for a relaxation; ``nan`` if none found)."""
        return float(np.sum(self.served))

    def trades(self, market: Market) -> pd.DataFrame:
        """Trades ``task, provider, type, units, unit_cost`` of the solution.

        The per-pair formulation gives them exactly. The compact one gives aggregate units per
        provider and type; any split of those between the served tasks has the same welfare,
        so they are assigned by the north-west corner rule (tasks and providers in index order).
        """
        if not np.all(np.isfinite(self.units)) or (self.pair_units is None and self.demand_served is None):
            return pd.DataFrame(columns=["task", "provider", "type", "units", "unit_cost"])
        cost = unit_cost_matrix(market, self.params)
        if self.pair_units is not None:
            frame = self.pair_units.copy()
        else:
            assert self.demand_served is not None  # checked above
            frame = _northwest_corner(market, self.demand_served, self.units)
        frame["unit_cost"] = cost[frame["provider"].to_numpy(), frame["type"].to_numpy()]
        return frame.reset_index(drop=True)

    def summary(self) -> dict[str, Any]:
        """Headline numbers for a table row."""
        return {
            "welfare": self.welfare,
            "bound": self.bound,
            "incumbent": self.incumbent,
            "gap": self.gap,
            "served": self.n_served,
            "status": self.status,
            "relax": self.relax,
            "formulation": self.formulation,
            "solver": self.solver,
            "solve_time_s": self.solve_time_s,
            "n_variables": self.n_variables,
            "n_constraints": self.n_constraints,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per task: ``served``."""
        return pd.DataFrame({"task": np.arange(self.served.shape[0]), "served": self.served}).set_index("task")

    def __repr__(self) -> str:
        return (
            f"OptimumResult(status={self.status!r}, welfare={self.welfare:.6g}, "
            f"bound={self.bound:.6g}, gap={self.gap:.3g}, served={self.n_served:.6g}, "
            f"formulation={self.formulation!r}, relax={self.relax}, "
            f"solve_time_s={self.solve_time_s:.3g})"
        )


def _northwest_corner(market: Market, demand_served: np.ndarray, units: np.ndarray) -> pd.DataFrame:
    """Split aggregate ``units[j, t]`` between the tasks' served demand, in index order."""
    frames = []
    for t in range(market.n_types):  # n_types is a handful: the loop is over model types
        need = demand_served[:, t]
        have = units[:, t]
        d_cum, s_cum = np.cumsum(need), np.cumsum(have)
        total = min(d_cum[-1], s_cum[-1])
        if total <= 0:
            continue
        cuts = np.unique(np.concatenate([[0.0], d_cum, s_cum]))
        cuts = cuts[cuts <= total * (1 + 1e-12)]
        lo, hi = cuts[:-1], cuts[1:]
        amount = hi - lo
        mid = (lo + hi) / 2
        keep = amount > 1e-9 * max(1.0, total)
        task = np.searchsorted(d_cum, mid[keep], side="right")
        prov = np.searchsorted(s_cum, mid[keep], side="right")
        frame = pd.DataFrame(
            {"task": task, "provider": prov, "type": t, "units": amount[keep]}
        )
        frames.append(frame.groupby(["task", "provider", "type"], as_index=False)["units"].sum())
    if not frames:
        return pd.DataFrame({"task": [], "provider": [], "type": [], "units": []}).astype(
            {"task": int, "provider": int, "type": int, "units": float}
        )
    return pd.concat(frames, ignore_index=True)


def too_large(
    market: Market, params: AuctionParams, relax: bool, solver_name: str, size: int, elapsed: float
) -> OptimumResult:
    """The result of a model refused for its size (``status="too_large"``, nothing solved)."""
    return OptimumResult(
        welfare=math.nan,
        served=np.full(market.n_tasks, np.nan),
        units=np.full((market.n_providers, market.n_types), np.nan),
        status="too_large",
        solver=solver_name,
        solve_time_s=elapsed,
        gap=math.nan,
        bound=math.nan,
        incumbent=math.nan,
        relax=relax,
        formulation="per_pair",
        n_variables=size,
        n_constraints=0,
        solver_time_s=math.nan,
        message=f"per-pair model would have about {size} columns (max_variables)",
        params=params,
    )


def decode(
    market: Market,
    params: AuctionParams,
    model: LinearModel,
    raw: RawSolution,
    relax: bool,
    solver_name: str,
    elapsed: float,
) -> OptimumResult:
    """Map a backend's columns back to tasks, providers and types and count the welfare."""
    n_tasks, n_prov, n_types = market.n_tasks, market.n_providers, market.n_types
    n_constraints = int(model.a_eq.shape[0] + model.a_ub.shape[0])
    pair_units = None
    if raw.z is None:
        served = np.full(n_tasks, np.nan)
        units = np.full((n_prov, n_types), np.nan)
        demand_served = np.full((n_tasks, n_types), np.nan)
        incumbent = math.nan
    else:
        z = np.clip(raw.z, model.lb, model.ub)
        if model.n_int:
            z[: model.n_int] = np.round(z[: model.n_int])
        served = np.zeros(n_tasks)
        np.add.at(served, model.task_of_col, z[model.task_cols] * model.task_weight)
        amount = z[model.unit_cols] * model.unit_scale
        units = np.zeros((n_prov, n_types))
        np.add.at(units, (model.unit_provider, model.unit_type), amount)
        if params.partial and model.formulation == "per_pair":
            # Served share = units delivered to the task over its demand.
            got = np.bincount(model.unit_task, weights=amount, minlength=n_tasks)
            total = market.task_units
            served = np.where(total > 0, got / np.where(total > 0, total, 1.0), 0.0)
        if model.formulation == "per_pair":
            demand_served = np.zeros((n_tasks, n_types))
            np.add.at(demand_served, (model.unit_task, model.unit_type), amount)
        elif params.partial:
            demand_served = np.zeros((n_tasks, n_types))
            zt = z[model.task_cols]
            i, t = model.task_of_col, model.task_col_type
            demand_served[i, t] = market.demand[i, t] * zt
        else:
            demand_served = market.demand * served[:, None]
        if model.formulation == "per_pair":
            keep = amount > 1e-9
            pair_units = pd.DataFrame(
                {
                    "task": model.unit_task[keep],
                    "provider": model.unit_provider[keep],
                    "type": model.unit_type[keep],
                    "units": amount[keep],
                }
            )
        incumbent = social_welfare(market, served, units, params)
    bound = raw.bound if math.isfinite(raw.bound) else math.nan  # an infinite bound is no bound
    if raw.status == "optimal" and not math.isfinite(bound):
        bound = incumbent
    if raw.status == "optimal":
        welfare = incumbent
        gap = 0.0 if not model.n_int else _gap(bound, incumbent)
        # HiGHS stops within mip_rel_gap: report the proved gap, never a negative one.
    else:
        welfare = math.nan
        gap = _gap(bound, incumbent)
    return OptimumResult(
        welfare=welfare,
        served=served,
        units=units,
        status=raw.status,
        solver=solver_name,
        solve_time_s=elapsed,
        gap=gap,
        bound=bound,
        incumbent=incumbent,
        relax=relax,
        formulation=model.formulation,
        n_variables=model.n_cols,
        n_constraints=n_constraints,
        solver_time_s=raw.solver_time_s,
        message=raw.message,
        params=params,
        pair_units=pair_units,
        demand_served=demand_served,
    )


def _gap(bound: float, incumbent: float) -> float:
    if not (math.isfinite(bound) and math.isfinite(incumbent)):
        return math.nan
    if bound == incumbent:
        return 0.0
    return max(0.0, (bound - incumbent) / max(abs(bound), 1e-12))
