"""Solving the welfare model: :func:`solve_optimum` and its two backends (whitepaper section 4).

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
from numbers import Real
from typing import Any

import numpy as np
import scipy.sparse as sp

from oasis_lab.auction.baselines.optimum.formulation import (
    FORMULATIONS,
    LinearModel,
    build_model,
    check_args,
    per_pair_size,
)
from oasis_lab.auction.baselines.optimum.result import OptimumResult, RawSolution, decode, too_large
from oasis_lab.market import Market
from oasis_lab.params import AuctionParams

__all__ = ["BACKENDS", "solve_optimum"]

BACKENDS = ("cvxpy", "highspy")
# cvxpy MIP-capable solvers whose options we know how to pass.
_CVXPY_SOLVERS = ("HIGHS", "SCIPY")


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
    check_args(market, params)
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
        size = per_pair_size(market, params)
        if size > max_variables:
            return too_large(market, params, relax, solver_name, size, time.perf_counter() - t0)
    model = build_model(
        market, params, relax=relax, formulation=chosen, task_on=task_on, provider_on=provider_on
    )
    if model.n_cols == 0:  # nothing can trade: the empty allocation is optimal
        raw = RawSolution("optimal", np.zeros(0), 0.0, 0.0, "no tradeable task")
    elif backend == "cvxpy":
        if solver == "HIGHS":
            _silence_highs_banner()
        raw = _solve_cvxpy(model, solver, time_limit, mip_rel_gap)
    else:
        _silence_highs_banner()
        raw = _solve_highspy(model, time_limit, mip_rel_gap)
    return decode(market, params, model, raw, relax, solver_name, time.perf_counter() - t0)


def _solve_cvxpy(model: LinearModel, solver: str, time_limit: float | None, mip_rel_gap: float) -> RawSolution:
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
        return RawSolution("solver_error", None, math.nan, math.nan, str(exc))
    except (ValueError, IndexError) as exc:
        # cvxpy fails to unpack a limit-stopped HiGHS run that found no solution.
        return RawSolution("solver_limit" if time_limit is None else "time_limit", None, math.nan,
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
    return RawSolution(kind, zval, bound, solver_time, str(status))


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


def _solve_highspy(model: LinearModel, time_limit: float | None, mip_rel_gap: float) -> RawSolution:
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
    return RawSolution(kind, zval, bound, float(solver.getRunTime()), solver.modelStatusToString(status))
