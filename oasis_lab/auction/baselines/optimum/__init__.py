"""Exact welfare optimum of the section-4 market: ILP and LP relaxation (cvxpy + HiGHS).

- :mod:`.formulation`: the model (what is maximized, subject to what, under each reading) as
  sparse matrices, the exact reductions that keep it small, and its scaling.
- :mod:`.solvers`: the cvxpy and highspy backends, and the worker process that holds a
  time-limited solve to its deadline.
- :mod:`.result`: :class:`OptimumResult` and the decoding of a solver's answer into it.

:func:`solve_optimum` (here) checks the arguments and runs the three in turn.
"""

from __future__ import annotations

import time
from dataclasses import replace
from numbers import Real

import numpy as np

from oasis_lab.auction.baselines.optimum.formulation import (
    FORMULATIONS,
    Scaling,
    build_model,
    check_args,
    per_pair_size,
    scale_model,
)
from oasis_lab.auction.baselines.optimum.result import STATUSES, OptimumResult, decode, too_large
from oasis_lab.auction.baselines.optimum.solvers import (
    BACKENDS,
    CVXPY_SOLVERS,
    MAX_TIME_LIMIT,
    RawSolution,
    check_time_limit,
    run_backend,
    solve_before,
)
from oasis_lab.market import Market
from oasis_lab.params import AuctionParams

__all__ = [
    "MAX_TIME_LIMIT",
    "OptimumResult",
    "solve_optimum",
    "FORMULATIONS",
    "BACKENDS",
    "STATUSES",
]


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
        Seconds the whole call may take (model build, solve and decoding), at most
        :data:`MAX_TIME_LIMIT` (about 11.6 days; a longer one is refused). The solver runs in
        a worker process with what is left and is stopped at the deadline if it has not
        answered (HiGHS overruns its own limit in some phases, by minutes on large markets).
        Starting that process (once per session, and again after a stopped solve: about a
        second) is counted neither in the limit nor in ``solve_time_s``. When the
        limit is hit, ``status="time_limit"`` and ``welfare`` is ``nan``; ``incumbent``,
        ``bound`` and ``gap`` tell how far the solver got if it stopped by itself, and are
        ``nan`` if it had to be stopped. Without a limit the solver runs in this process.
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
        Bad arguments, naming them; a market whose magnitudes the solver cannot represent
        (see :func:`~oasis_lab.auction.baselines.optimum.formulation.scale_model`).
    """
    t0 = time.perf_counter()
    check_args(market, params)
    if not isinstance(relax, bool):
        raise TypeError(f"relax must be a bool, got {relax!r}")
    if formulation not in FORMULATIONS:
        raise ValueError(f"formulation = {formulation!r} is not one of {list(FORMULATIONS)}")
    if backend not in BACKENDS:
        raise ValueError(f"backend = {backend!r} is not one of {list(BACKENDS)}")
    if backend == "cvxpy" and solver not in CVXPY_SOLVERS:
        raise ValueError(f"solver = {solver!r} is not one of {list(CVXPY_SOLVERS)} (MIP-capable cvxpy solvers)")
    time_limit = check_time_limit("time_limit", time_limit)
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
        setup = 0.0
    else:
        scaled, scaling = scale_model(model)
        if time_limit is None:
            raw = run_backend(scaled, backend, solver, time_limit, mip_rel_gap)
            setup = 0.0
        else:
            raw, setup = solve_before(
                scaled, float(time_limit) - (time.perf_counter() - t0),
                backend=backend, solver=solver, mip_rel_gap=mip_rel_gap,
            )
        raw = _unscale(raw, scaling)
    elapsed = time.perf_counter() - t0 - setup
    return decode(market, params, model, raw, relax, solver_name, elapsed)


def _unscale(raw: RawSolution, scaling: Scaling) -> RawSolution:
    """The answer of the scaled model in the model's own columns and objective."""
    z = None if raw.z is None else raw.z * scaling.col
    return replace(raw, z=z, bound=scaling.objective(raw.bound))
