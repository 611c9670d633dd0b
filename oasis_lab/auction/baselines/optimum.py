"""Exact welfare optimum of the section-4 market: ILP and LP relaxation (cvxpy + HiGHS).

Model (whitepaper section 4, with the readings of ``docs/readings.md``). Task ``i``
demands ``C[i, t]`` units of model type ``t`` and is worth ``v_i``; its user bears the cost
``e_i = t_i log_alpha(t_i) + beta``. Provider ``j`` serves a unit of type ``t`` at the true cost
``u[j, t]`` (``c_j / sum_t s[j, t]``, or ``c_j / s[j, t]`` under ``capacity="time"``) and the
unit uses ``g[j, t]`` of its capacity ``w_j`` (1, or ``1 / s[j, t]`` under ``capacity="time"``).
Payments cancel out of social welfare, so the optimum solves

    maximize    sum_i y_i (v_i - e_i) - sum_{j,t} u[j, t] x[j, t]
    subject to  sum_j x[j, t] = sum_i C[i, t] y_i          for every type t      (demand)
                sum_t g[j, t] x[j, t] <= w_j              for every provider j  (capacity)
                y_i in {0, 1},  x[j, t] >= 0,  x[j, t] = 0 where s[j, t] = 0

with ``y_i`` "task ``i`` is served in full" (all-or-nothing, the pseudo-code's rollback) and
``x[j, t]`` the units of type ``t`` provider ``j`` serves. This **compact** formulation
aggregates units per provider and type: with ``split=True`` any split of the aggregate
between tasks is feasible and costs the same, because a unit's cost does not depend on the
task it serves. The explicit **per-pair** formulation (units ``a[i, j, t]`` of task ``i``
from provider ``j``) is kept for small markets and is tested to agree. Readings:

- ``capacity_per_type=True``: ``g[j, t] x[j, t] <= w_j`` for each type separately.
- ``partial=True``: value earned pro rata. Task ``i`` earns ``(v_i - e_i) / sum_t C[i, t]``
  per unit served (``sigma_i (v_i - e_i)`` with ``sigma_i`` its served share, as
  :func:`~oasis_lab.auction.pricing.social_welfare` counts it), and ``z[i, t] in [0, 1]``
  (share of ``C[i, t]`` served) replaces ``y_i``. With ``split=False`` a (task, type) demand
  is served whole by one provider or not at all, as in the greedy.
- ``split=False``: each (task, type) demand goes to a single provider: binary
  ``b[i, j, t]`` with ``sum_j b[i, j, t] = y_i``, a generalized-assignment ILP (NP-hard);
  only the per-pair formulation expresses it. Its LP relaxation is at least as tight as the
  compact LP (a fractional ``b`` is a split, and the pairs whose demand does not fit the
  provider are gone), which stays available as the cheaper, weaker bound
  (``formulation="compact", relax=True``).
- ``relax=True``: ``y`` (and ``b``) in ``[0, 1]``, the LP relaxation, an upper bound.

Exact reductions keep models small: a task with ``v_i - e_i <= 0``, with no demand, or with
a type nobody can run is never served; providers without capacity or speed get no columns;
under ``split=False`` a (task, provider, type) whose demand exceeds the provider's capacity
gets no column.

The same model (sparse matrices) is solved by cvxpy (``backend="cvxpy"``, the reference,
``"HIGHS"`` or ``"SCIPY"``) or handed to HiGHS directly through highspy
(``backend="highspy"``: the same solver without cvxpy's compile step, for the hundreds of tiny
instances of the tests and VCG's re-solves; tested to agree).
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from oasis_lab.auction.pricing import capacity_use, social_welfare, unit_cost_matrix, user_costs
from oasis_lab.market import Market
from oasis_lab.params import AuctionParams

__all__ = [
    "OptimumResult",
    "solve_optimum",
    "FORMULATIONS",
    "BACKENDS",
    "STATUSES",
]

FORMULATIONS = ("auto", "compact", "per_pair")
BACKENDS = ("cvxpy", "highspy")
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
# cvxpy MIP-capable solvers whose options we know how to pass.
_CVXPY_SOLVERS = ("HIGHS", "SCIPY")
# Integrality tolerance used when rounding a MIP solution's binary columns.
_INT_TOL = 1e-5


# ---------------------------------------------------------------------------- model
@dataclass(frozen=True, eq=False)
class _Model:
    """A linear model ``max c z  s.t.  A_eq z = b_eq,  A_ub z <= b_ub,  lb <= z <= ub``.

    Integer columns come first (``n_int`` of them). Decoding information maps columns back
    to tasks, providers and types.
    """

    c: np.ndarray
    a_eq: sp.csr_matrix
    b_eq: np.ndarray
    a_ub: sp.csr_matrix
    b_ub: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    n_int: int
    formulation: str
    # Task-side columns: y_i (all-or-nothing) or z[i, t] (partial, compact); weight = the
    # share of task i's units the column stands for (1 for y, C[i, t] / U_i for z).
    task_cols: np.ndarray
    task_of_col: np.ndarray
    task_weight: np.ndarray
    task_col_type: np.ndarray  # model type of a z[i, t] column; -1 for y_i
    # Unit columns: units of `unit_type` from `unit_provider` (to `unit_task`, -1 = pooled)
    # equal to `unit_scale` times the column's value.
    unit_cols: np.ndarray
    unit_task: np.ndarray
    unit_provider: np.ndarray
    unit_type: np.ndarray
    unit_scale: np.ndarray

    @property
    def n_cols(self) -> int:
        return int(self.c.shape[0])


def _empty_int() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


def _check_args(market: Any, params: Any) -> None:
    if not isinstance(market, Market):
        raise TypeError(f"market must be an oasis_lab Market, got {type(market).__name__}")
    if not isinstance(params, AuctionParams):
        raise TypeError(f"params must be an AuctionParams, got {type(params).__name__}")


def _mask(name: str, mask: Any, n: int) -> np.ndarray:
    if mask is None:
        return np.ones(n, dtype=bool)
    arr = np.asarray(mask)
    if arr.dtype != np.bool_ or arr.shape != (n,):
        raise ValueError(f"{name} must be a boolean array of shape ({n},), got {arr.dtype} {arr.shape}")
    return arr


def _build_model(
    market: Market,
    params: AuctionParams,
    *,
    relax: bool,
    formulation: str,
    task_on: np.ndarray | None = None,
    provider_on: np.ndarray | None = None,
) -> _Model:
    """Assemble the welfare ILP/LP of the module docstring as sparse matrices."""
    demand = market.demand
    n_tasks, n_types = demand.shape
    n_prov = market.n_providers
    task_on = _mask("task_on", task_on, n_tasks)
    provider_on = _mask("provider_on", provider_on, n_prov)
    surplus = market.value - user_costs(market, params)
    unit_cost = unit_cost_matrix(market, params)
    use = capacity_use(market, params)
    cap = market.capacity
    units_total = market.task_units

    runnable = (market.speed > 0) & (provider_on & (cap > 0))[:, None] & np.isfinite(use)
    type_runnable = runnable.any(axis=0)
    # Upper bound of x[j, t] from capacity: binding alone under capacity_per_type, and a
    # valid (redundant) bound otherwise that helps the solver.
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cap = np.where(runnable, cap[:, None] / np.where(runnable, use, 1.0), 0.0)

    wants = (demand > 0) & task_on[:, None] & (surplus > 0)[:, None]
    if params.partial:
        pair_on = wants & type_runnable[None, :]  # (i, t) that can earn value
        tasks_served = pair_on.any(axis=1)
    else:
        tasks_served = wants.any(axis=1) & ~(wants & ~type_runnable[None, :]).any(axis=1)
        pair_on = wants & tasks_served[:, None]
    task_idx = np.flatnonzero(tasks_served)
    pi, pt = np.nonzero(pair_on)  # eligible (task, type) demands, row-major

    integral = not relax
    if formulation == "compact":
        return _compact(
            market, params, surplus, unit_cost, use, runnable, x_cap, pair_on, task_idx,
            pi, pt, integral=integral,
        )
    return _per_pair(
        market, params, surplus, unit_cost, use, runnable, x_cap, task_idx, pi, pt,
        integral=integral, units_total=units_total,
    )


def _compact(
    market: Market,
    params: AuctionParams,
    surplus: np.ndarray,
    unit_cost: np.ndarray,
    use: np.ndarray,
    runnable: np.ndarray,
    x_cap: np.ndarray,
    pair_on: np.ndarray,
    task_idx: np.ndarray,
    pi: np.ndarray,
    pt: np.ndarray,
    *,
    integral: bool,
) -> _Model:
    demand = market.demand
    n_types = demand.shape[1]
    types_needed = pair_on.any(axis=0)
    xj, xt = np.nonzero(runnable & types_needed[None, :])
    if params.partial:
        # z[i, t]: share of C[i, t] served, worth (v_i - e_i) C[i, t] / U_i; one column per pair.
        n_task_cols = pi.shape[0]
        weight = demand[pi, pt] / market.task_units[pi]
        c_task = surplus[pi] * weight
        task_of_col = pi
        task_col_of_pair = np.arange(n_task_cols)
        n_int = 0
    else:
        # y_i: one column per task; row t of the demand balance gets -C[i, t] in it.
        n_task_cols = task_idx.shape[0]
        weight = np.ones(n_task_cols)
        c_task = surplus[task_idx]
        task_of_col = task_idx
        col_of_task = np.full(market.n_tasks, -1, dtype=np.int64)
        col_of_task[task_idx] = np.arange(n_task_cols)
        task_col_of_pair = col_of_task[pi]
        n_int = n_task_cols if integral else 0
    n_x = xj.shape[0]
    n_cols = n_task_cols + n_x
    x_cols = n_task_cols + np.arange(n_x)
    a_eq = sp.csr_matrix(
        (
            np.concatenate([-demand[pi, pt], np.ones(n_x)]),
            (np.concatenate([pt, xt]), np.concatenate([task_col_of_pair, x_cols])),
        ),
        shape=(n_types, n_cols),
    )
    b_eq = np.zeros(n_types)
    if params.capacity_per_type:
        a_ub = sp.csr_matrix((0, n_cols))
        b_ub = np.zeros(0)
    else:
        a_ub = sp.csr_matrix((use[xj, xt], (xj, x_cols)), shape=(market.n_providers, n_cols))
        b_ub = market.capacity.astype(float)
    return _Model(
        c=np.concatenate([c_task, -unit_cost[xj, xt]]),
        a_eq=a_eq,
        b_eq=b_eq,
        a_ub=a_ub,
        b_ub=b_ub,
        lb=np.zeros(n_cols),
        ub=np.concatenate([np.ones(n_task_cols), x_cap[xj, xt]]),
        n_int=n_int,
        formulation="compact",
        task_cols=np.arange(n_task_cols),
        task_of_col=task_of_col,
        task_weight=weight,
        task_col_type=pt if params.partial else np.full(n_task_cols, -1, dtype=np.int64),
        unit_cols=x_cols,
        unit_task=np.full(n_x, -1, dtype=np.int64),
        unit_provider=xj,
        unit_type=xt,
        unit_scale=np.ones(n_x),
    )


def _per_pair(
    market: Market,
    params: AuctionParams,
    surplus: np.ndarray,
    unit_cost: np.ndarray,
    use: np.ndarray,
    runnable: np.ndarray,
    x_cap: np.ndarray,
    task_idx: np.ndarray,
    pi: np.ndarray,
    pt: np.ndarray,
    *,
    integral: bool,
    units_total: np.ndarray,
) -> _Model:
    demand = market.demand
    n_pairs = pi.shape[0]
    # Candidate (pair p, provider j) columns: provider j runs the pair's type.
    cand = runnable[:, pt].T  # (n_pairs, n_prov)
    amount = demand[pi, pt]
    if not params.split:
        # A single provider takes the whole (i, t) demand: it must fit in its capacity.
        need = use[:, pt].T * amount[:, None]
        with np.errstate(invalid="ignore"):
            cand &= need <= market.capacity[None, :] * (1 + 1e-12)
    cp_pair, cp_prov = np.nonzero(cand)
    cp_task, cp_type = pi[cp_pair], pt[cp_pair]
    n_c = cp_pair.shape[0]
    per_unit_value = surplus / np.where(units_total > 0, units_total, 1.0)
    cost_c = unit_cost[cp_prov, cp_type]
    use_c = use[cp_prov, cp_type]

    rows_eq: list[np.ndarray] = []
    cols_eq: list[np.ndarray] = []
    vals_eq: list[np.ndarray] = []
    rows_ub: list[np.ndarray] = []
    cols_ub: list[np.ndarray] = []
    vals_ub: list[np.ndarray] = []
    b_ub_parts: list[np.ndarray] = []
    n_ub = 0

    def capacity_rows(cols: np.ndarray, coef: np.ndarray) -> None:
        nonlocal n_ub
        if params.capacity_per_type:
            key = cp_prov * market.n_types + cp_type
            uniq, row = np.unique(key, return_inverse=True)
            rhs = market.capacity[uniq // market.n_types]
        else:
            uniq, row = np.unique(cp_prov, return_inverse=True)
            rhs = market.capacity[uniq]
        rows_ub.append(n_ub + row)
        cols_ub.append(cols)
        vals_ub.append(coef)
        b_ub_parts.append(rhs.astype(float))
        n_ub += uniq.shape[0]

    if params.partial:
        if params.split:
            # a[i, j, t] units, worth per_unit_value_i - u[j, t]; sum_j a <= C[i, t].
            n_cols, n_int = n_c, 0
            a_cols = np.arange(n_c)
            c = per_unit_value[cp_task] - cost_c
            rows_ub.append(cp_pair)
            cols_ub.append(a_cols)
            vals_ub.append(np.ones(n_c))
            b_ub_parts.append(amount)
            n_ub = n_pairs
            capacity_rows(a_cols, use_c)
            lb, ub = np.zeros(n_cols), np.minimum(amount[cp_pair], x_cap[cp_prov, cp_type])
            unit_cols, unit_scale = a_cols, np.ones(n_c)
        else:
            # b[i, j, t] binary: provider j serves all of C[i, t] (the greedy's reading of
            # split=False); a task may be served for some of its types, sum_j b <= 1.
            n_cols, n_int = n_c, (n_c if integral else 0)
            b_cols = np.arange(n_c)
            c = (per_unit_value[cp_task] - cost_c) * amount[cp_pair]
            rows_ub.append(cp_pair)
            cols_ub.append(b_cols)
            vals_ub.append(np.ones(n_c))
            b_ub_parts.append(np.ones(n_pairs))
            n_ub = n_pairs
            capacity_rows(b_cols, use_c * amount[cp_pair])
            lb, ub = np.zeros(n_cols), np.ones(n_cols)
            unit_cols, unit_scale = b_cols, amount[cp_pair]
        task_cols = _empty_int()
        task_of_col = _empty_int()
        task_weight = np.zeros(0)
    else:
        n_y = task_idx.shape[0]
        col_of_task = np.full(market.n_tasks, -1, dtype=np.int64)
        col_of_task[task_idx] = np.arange(n_y)
        y_col_of_pair = col_of_task[pi]
        c_cols = n_y + np.arange(n_c)
        n_cols = n_y + n_c
        if params.split:
            # a[i, j, t] units with sum_j a[i, j, t] = C[i, t] y_i.
            n_int = n_y if integral else 0
            rows_eq += [cp_pair, np.arange(n_pairs)]
            cols_eq += [c_cols, y_col_of_pair]
            vals_eq += [np.ones(n_c), -amount]
            c = np.concatenate([surplus[task_idx], -cost_c])
            capacity_rows(c_cols, use_c)
            ub = np.concatenate([np.ones(n_y), np.minimum(amount[cp_pair], x_cap[cp_prov, cp_type])])
            unit_scale = np.ones(n_c)
        else:
            # b[i, j, t] binary with sum_j b[i, j, t] = y_i; b serves all C[i, t] units.
            n_int = n_cols if integral else 0
            rows_eq += [cp_pair, np.arange(n_pairs)]
            cols_eq += [c_cols, y_col_of_pair]
            vals_eq += [np.ones(n_c), -np.ones(n_pairs)]
            c = np.concatenate([surplus[task_idx], -cost_c * amount[cp_pair]])
            capacity_rows(c_cols, use_c * amount[cp_pair])
            ub = np.ones(n_cols)
            unit_scale = amount[cp_pair]
        lb = np.zeros(n_cols)
        unit_cols = c_cols
        task_cols = np.arange(n_y)
        task_of_col = task_idx
        task_weight = np.ones(n_y)

    n_eq = n_pairs if rows_eq else 0
    a_eq = sp.csr_matrix(
        (np.concatenate(vals_eq), (np.concatenate(rows_eq), np.concatenate(cols_eq))),
        shape=(n_eq, n_cols),
    ) if rows_eq else sp.csr_matrix((0, n_cols))
    a_ub = sp.csr_matrix(
        (np.concatenate(vals_ub), (np.concatenate(rows_ub), np.concatenate(cols_ub))),
        shape=(n_ub, n_cols),
    ) if rows_ub else sp.csr_matrix((0, n_cols))
    return _Model(
        c=np.asarray(c, dtype=float),
        a_eq=a_eq,
        b_eq=np.zeros(n_eq),
        a_ub=a_ub,
        b_ub=np.concatenate(b_ub_parts) if b_ub_parts else np.zeros(0),
        lb=lb,
        ub=np.asarray(ub, dtype=float),
        n_int=n_int,
        formulation="per_pair",
        task_cols=task_cols,
        task_of_col=task_of_col,
        task_weight=task_weight,
        task_col_type=np.full(task_cols.shape[0], -1, dtype=np.int64),
        unit_cols=unit_cols,
        unit_task=cp_task,
        unit_provider=cp_prov,
        unit_type=cp_type,
        unit_scale=unit_scale,
    )


# ---------------------------------------------------------------------------- backends
@dataclass(frozen=True)
class _Raw:
    status: str
    z: np.ndarray | None  # primal solution (None when the solver has none)
    bound: float  # upper bound on the model's optimum (nan when unknown)
    solver_time_s: float
    message: str = ""


def _solve_cvxpy(model: _Model, solver: str, time_limit: float | None, mip_rel_gap: float) -> _Raw:
    import cvxpy as cp

    n, n_int = model.n_cols, model.n_int
    parts = []
    if n_int:
        parts.append(cp.Variable(n_int, integer=True, bounds=[model.lb[:n_int], model.ub[:n_int]]))
    if n - n_int:
        parts.append(cp.Variable(n - n_int, bounds=[model.lb[n_int:], model.ub[n_int:]]))
    z = parts[0] if len(parts) == 1 else cp.hstack(parts)
    constraints = []
    if model.a_eq.shape[0]:
        constraints.append(model.a_eq @ z == model.b_eq)
    if model.a_ub.shape[0]:
        constraints.append(model.a_ub @ z <= model.b_ub)
    problem = cp.Problem(cp.Maximize(model.c @ z), constraints)
    opts: dict[str, Any] = {}
    if solver == "HIGHS":
        opts["output_flag"] = False
        if time_limit is not None:
            opts["time_limit"] = float(time_limit)
        if n_int:
            opts["mip_rel_gap"] = float(mip_rel_gap)
    elif solver == "SCIPY":
        sopts: dict[str, Any] = {}
        if time_limit is not None:
            sopts["time_limit"] = float(time_limit)
        if n_int:
            sopts["mip_rel_gap"] = float(mip_rel_gap)
        opts["scipy_options"] = sopts
    try:
        with warnings.catch_warnings():
            # cvxpy warns "may be inaccurate" on a time limit: the status says it already.
            warnings.simplefilter("ignore", UserWarning)
            problem.solve(solver=solver, **opts)
    except cp.error.SolverError as exc:
        return _Raw("solver_error", None, math.nan, math.nan, str(exc))
    except (ValueError, IndexError) as exc:
        # cvxpy fails to unpack a limit-stopped HiGHS run that found no solution.
        return _Raw("solver_limit" if time_limit is None else "time_limit", None, math.nan,
                    math.nan, f"{type(exc).__name__}: {exc}")
    stats = problem.solver_stats
    solver_time = float(stats.solve_time) if stats is not None and stats.solve_time is not None else math.nan
    info = stats.extra_stats if stats is not None else None
    status = problem.status
    has_solution = z.value is not None
    if info is not None and hasattr(info, "primal_solution_status"):
        has_solution = has_solution and int(info.primal_solution_status) == 2
    if status in ("optimal",):
        kind = "optimal"
    elif status == "user_limit":
        kind = "time_limit" if time_limit is not None else "solver_limit"
    elif status == "optimal_inaccurate":
        kind = "inaccurate"
    elif status in ("infeasible", "infeasible_inaccurate"):
        kind = "infeasible"
    elif status in ("unbounded", "unbounded_inaccurate", "infeasible_or_unbounded"):
        kind = "unbounded"
    else:
        kind = "solver_error"
    bound = math.nan
    if info is not None and n_int and hasattr(info, "mip_dual_bound"):
        # cvxpy hands HiGHS "minimize -welfare": its dual bound is minus a welfare bound.
        bound = -float(info.mip_dual_bound)
    elif kind == "optimal" and problem.value is not None:
        bound = float(problem.value)
    zval = np.asarray(z.value, dtype=float).ravel() if has_solution else None
    return _Raw(kind, zval, bound, solver_time, str(status))


_HIGHS_BANNER_SILENCED = False


def _silence_highs_banner() -> None:
    """Construct the process's first ``Highs`` with file descriptor 1 on ``/dev/null``.

    HiGHS prints its licence banner from C++ on the first construction in a process, whatever
    ``output_flag`` says later; it would land in every notebook that solves an optimum.
    """
    global _HIGHS_BANNER_SILENCED
    if _HIGHS_BANNER_SILENCED:
        return
    import highspy as hp

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            hp.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    _HIGHS_BANNER_SILENCED = True


def _solve_highspy(model: _Model, time_limit: float | None, mip_rel_gap: float) -> _Raw:
    """Hand the model to HiGHS directly (the solver cvxpy calls, without cvxpy's compile)."""
    import highspy as hp

    solver = hp.Highs()
    solver.setOptionValue("output_flag", False)
    if time_limit is not None:
        solver.setOptionValue("time_limit", float(time_limit))
    if model.n_int:
        solver.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    lp = hp.HighsLp()
    n = model.n_cols
    a = sp.vstack([model.a_eq, model.a_ub]).tocsc()
    lp.num_col_ = n
    lp.num_row_ = a.shape[0]
    lp.sense_ = hp.ObjSense.kMaximize
    lp.col_cost_ = model.c
    lp.col_lower_ = model.lb
    lp.col_upper_ = model.ub
    lp.row_lower_ = np.concatenate([model.b_eq, np.full(model.a_ub.shape[0], -np.inf)])
    lp.row_upper_ = np.concatenate([model.b_eq, model.b_ub])
    lp.a_matrix_.format_ = hp.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data
    if model.n_int:
        lp.integrality_ = [hp.HighsVarType.kInteger] * model.n_int + [
            hp.HighsVarType.kContinuous
        ] * (n - model.n_int)
    solver.passModel(lp)
    solver.run()
    status = solver.getModelStatus()
    info = solver.getInfo()
    kinds = {
        hp.HighsModelStatus.kOptimal: "optimal",
        hp.HighsModelStatus.kTimeLimit: "time_limit",
        hp.HighsModelStatus.kInfeasible: "infeasible",
        hp.HighsModelStatus.kUnbounded: "unbounded",
        hp.HighsModelStatus.kUnboundedOrInfeasible: "unbounded",
        hp.HighsModelStatus.kIterationLimit: "solver_limit",
        hp.HighsModelStatus.kSolutionLimit: "solver_limit",
        hp.HighsModelStatus.kInterrupt: "solver_limit",
    }
    kind = kinds.get(status, "solver_error")
    has_solution = int(info.primal_solution_status) == 2
    zval = np.asarray(solver.getSolution().col_value, dtype=float) if has_solution else None
    if model.n_int:
        bound = float(info.mip_dual_bound)  # maximization: an upper bound on welfare
    else:
        bound = float(info.objective_function_value) if kind == "optimal" else math.nan
    return _Raw(kind, zval, bound, float(solver.getRunTime()), solver.modelStatusToString(status))


# ---------------------------------------------------------------------------- result
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
        Wall time of the whole call: model build, compile and solve.
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
        if not np.all(np.isfinite(self.units)):
            return pd.DataFrame(columns=["task", "provider", "type", "units", "unit_cost"])
        cost = unit_cost_matrix(market, self.params)
        if self.pair_units is not None:
            frame = self.pair_units.copy()
        else:
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


# ---------------------------------------------------------------------------- solve
def solve_optimum(
    market: Market,
    params: AuctionParams = AuctionParams(),
    *,
    relax: bool = False,
    solver: str = "HIGHS",
    time_limit: float | None = None,
    formulation: str = "auto",
    backend: str = "cvxpy",
    mip_rel_gap: float = 1e-7,
    task_on: np.ndarray | None = None,
    provider_on: np.ndarray | None = None,
    max_variables: int = 5_000_000,
) -> OptimumResult:
    """Maximize social welfare exactly: the ILP (or its LP relaxation) of section 4.

    Parameters
    ----------
    market : Market
    params : AuctionParams
        The readings: ``capacity``, ``capacity_per_type``, ``split``, ``partial``, ``alpha``,
        ``beta`` and ``task_size`` change the model; density and price readings do not (the
        optimum has no priorities or prices).
    relax : bool, default False
        Solve the LP relaxation: an upper bound on the optimal welfare.
    solver : str, default "HIGHS"
        cvxpy solver (``"HIGHS"`` or ``"SCIPY"``); ignored by ``backend="highspy"``.
    time_limit : float, optional
        Seconds the solver may run. When it stops on the limit, ``status="time_limit"``,
        ``welfare`` is ``nan`` and ``incumbent``, ``bound`` and ``gap`` tell how far it got.
    formulation : {"auto", "compact", "per_pair"}, default "auto"
        ``auto`` is compact unless ``split=False`` (a generalized-assignment problem that only
        the per-pair model expresses; with ``relax=True``, ``"compact"`` gives the weaker split
        LP bound at a fraction of the size).
    backend : {"cvxpy", "highspy"}, default "cvxpy"
        cvxpy (the reference) or HiGHS called directly on the same matrices (no compile
        step: for many tiny instances).
    mip_rel_gap : float, default 1e-7
        Relative gap at which HiGHS declares a MIP optimal (its own default, 1e-4, is too
        loose to compare mechanisms whose welfare differs by less than that).
    task_on, provider_on : numpy.ndarray of bool, optional
        Agents taking part (VCG re-solves without one agent); all by default.
    max_variables : int, default 5,000,000
        Refuse to build a larger model (``status="too_large"``, nothing solved): the per-pair
        model of a 10,000 x 10,000 market would need about 10^8 columns.

    Returns
    -------
    OptimumResult

    Raises
    ------
    ValueError, TypeError
        Bad arguments, naming them.
    """
    t0 = time.perf_counter()
    _check_args(market, params)
    if not isinstance(relax, bool):
        raise TypeError(f"relax must be a bool, got {relax!r}")
    if formulation not in FORMULATIONS:
        raise ValueError(f"formulation = {formulation!r} is not one of {list(FORMULATIONS)}")
    if backend not in BACKENDS:
        raise ValueError(f"backend = {backend!r} is not one of {list(BACKENDS)}")
    if backend == "cvxpy" and solver not in _CVXPY_SOLVERS:
        raise ValueError(f"solver = {solver!r} is not one of {list(_CVXPY_SOLVERS)} (MIP-capable cvxpy solvers)")
    if time_limit is not None:
        if isinstance(time_limit, bool) or not isinstance(time_limit, Real) or not time_limit > 0:
            raise ValueError(f"time_limit = {time_limit!r} must be a positive number of seconds or None")
    if isinstance(mip_rel_gap, bool) or not isinstance(mip_rel_gap, Real) or not 0 <= mip_rel_gap < 1:
        raise ValueError(f"mip_rel_gap = {mip_rel_gap!r} must be in [0, 1)")
    if formulation == "compact" and not params.split and not relax:
        raise ValueError(
            'formulation = "compact" cannot express split=False (one provider per task and type): '
            'use "per_pair" or "auto"'
        )
    chosen = formulation
    if chosen == "auto":
        chosen = "compact" if params.split else "per_pair"
    if isinstance(max_variables, bool) or not isinstance(max_variables, (int, np.integer)) or max_variables < 1:
        raise ValueError(f"max_variables = {max_variables!r} must be a positive int")
    solver_name = f"cvxpy/{solver}" if backend == "cvxpy" else "highspy/HIGHS"
    if chosen == "per_pair":
        size = _per_pair_size(market, params)
        if size > max_variables:
            return _too_large(market, params, relax, solver_name, size, time.perf_counter() - t0)
    model = _build_model(
        market, params, relax=relax, formulation=chosen, task_on=task_on, provider_on=provider_on
    )
    if model.n_cols == 0:  # nothing can trade: the empty allocation is optimal
        raw = _Raw("optimal", np.zeros(0), 0.0, 0.0, "no tradeable task")
    elif backend == "cvxpy":
        if solver == "HIGHS":
            _silence_highs_banner()
        raw = _solve_cvxpy(model, solver, time_limit, mip_rel_gap)
    else:
        _silence_highs_banner()
        raw = _solve_highspy(model, time_limit, mip_rel_gap)
    return _decode(market, params, model, raw, relax, solver_name, time.perf_counter() - t0)


def _per_pair_size(market: Market, params: AuctionParams) -> int:
    """Columns of the per-pair model before reductions: (task, type) demands x runnable providers."""
    demands = (market.demand > 0).sum(axis=0)
    runnable = ((market.speed > 0) & (market.capacity > 0)[:, None]).sum(axis=0)
    return int(demands @ runnable) + market.n_tasks


def _too_large(
    market: Market, params: AuctionParams, relax: bool, solver_name: str, size: int, elapsed: float
) -> OptimumResult:
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


def _decode(
    market: Market,
    params: AuctionParams,
    model: _Model,
    raw: _Raw,
    relax: bool,
    solver_name: str,
    elapsed: float,
) -> OptimumResult:
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
