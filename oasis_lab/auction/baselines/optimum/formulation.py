"""The welfare ILP/LP of the section-4 market as sparse matrices (whitepaper section 4).

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

Before a solver sees it, :func:`scale_model` rescales the model by powers of two (columns,
rows and objective) so that its numbers sit where a double-precision solver works: HiGHS
treats costs and bounds of 1e20 as infinite and refuses matrix entries of 1e15, so a market
priced in 1e20s or counting 1e15 units was otherwise solved wrongly (a "proved" bound below
the welfare) or not at all. A market whose welfare can overflow float64 is refused with a
``ValueError`` that says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from oasis_lab.auction.baselines.optimum.solvers import LinearProgram
from oasis_lab.auction.pricing import capacity_use, unit_cost_matrix, user_costs
from oasis_lab.market import Market
from oasis_lab.params import AuctionParams

__all__ = [
    "FORMULATIONS",
    "LinearModel",
    "Scaling",
    "build_model",
    "check_args",
    "per_pair_size",
    "scale_model",
]

FORMULATIONS = ("auto", "compact", "per_pair")


@dataclass(frozen=True, eq=False)
class LinearModel(LinearProgram):
    """The welfare model: a :class:`LinearProgram` with what maps its columns back to tasks,
    providers and types. Integer columns come first (``n_int`` of them)."""

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


def _empty_int() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


def check_args(market: Any, params: Any) -> None:
    """Refuse a ``market`` or ``params`` of the wrong type, naming it."""
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


def build_model(
    market: Market,
    params: AuctionParams,
    *,
    relax: bool,
    formulation: str,
    task_on: np.ndarray | None = None,
    provider_on: np.ndarray | None = None,
) -> LinearModel:
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
) -> LinearModel:
    demand = market.demand
    n_types = demand.shape[1]
    types_needed = np.any(pair_on, axis=0)
    xj, xt = np.nonzero(runnable & types_needed[None, :])
    type_demand = np.bincount(pt, weights=demand[pi, pt], minlength=n_types)
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
    return LinearModel(
        c=np.concatenate([c_task, -unit_cost[xj, xt]]),
        a_eq=a_eq,
        b_eq=b_eq,
        a_ub=a_ub,
        b_ub=b_ub,
        lb=np.zeros(n_cols),
        # x[j, t] never exceeds the type's eligible demand either: a finite bound of the
        # demand's magnitude even where capacity is huge (the scaling below relies on it).
        ub=np.concatenate([np.ones(n_task_cols), np.minimum(x_cap[xj, xt], type_demand[xt])]),
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
) -> LinearModel:
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
    with np.errstate(over="ignore"):  # an overflow here is refused by scale_model, by name
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
    return LinearModel(
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



def per_pair_size(market: Market, params: AuctionParams) -> int:
    """Columns of the per-pair model before reductions: (task, type) demands x runnable providers."""
    demands = (market.demand > 0).sum(axis=0)
    runnable = ((market.speed > 0) & (market.capacity > 0)[:, None]).sum(axis=0)
    return int(demands @ runnable) + market.n_tasks



# ---------------------------------------------------------------------------- scaling
#: Geometric-mean scaling passes over rows and columns (each is one sweep of the nonzeros).
_SCALE_PASSES = 6
#: A continuous column costing more than this many times the most any column can earn, per
#: scaled unit, cannot be part of an optimum within the solver's tolerances: it is fixed at 0
#: (HiGHS would otherwise read a cost of 1e20 or more as infinite).
_MAX_COST_RATIO = 1e12


@dataclass(frozen=True)
class Scaling:
    """How a scaled model's answer maps back: ``z = col * z_scaled`` and
    ``objective = 2**obj_exp * scaled objective`` (an exponent: ``2**obj_exp`` alone may
    overflow where the objective does not)."""

    col: np.ndarray
    obj_exp: int

    def objective(self, scaled: float) -> float:
        """The model's objective value from the scaled model's."""
        return float(np.ldexp(scaled, self.obj_exp))


def _pow2(x: np.ndarray) -> np.ndarray:
    """Nearest power of two of each positive finite entry (1 elsewhere): scaling by it is exact."""
    out = np.ones_like(x)
    ok = np.isfinite(x) & (x > 0)
    out[ok] = np.exp2(np.round(np.log2(x[ok])))
    return out


def _extremes(values: np.ndarray, starts: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Largest and smallest of ``values`` per segment (segments begin at ``starts``, length
    ``n + 1`` like a CSR ``indptr``); nan for an empty segment."""
    big, small = np.full(n, np.nan), np.full(n, np.nan)
    filled = np.flatnonzero(np.diff(starts) > 0)
    if filled.size:
        big[filled] = np.maximum.reduceat(values, starts[filled])
        small[filled] = np.minimum.reduceat(values, starts[filled])
    return big, small


def scale_model(model: LinearModel) -> tuple[LinearModel, Scaling]:
    """Rescale ``model`` by powers of two into the range a double-precision solver handles.

    Rows and continuous columns get a few passes of geometric-mean scaling (integer columns
    keep scale 1 so that integrality is unchanged), then each row is divided by its largest
    entry and the objective by the most any column can earn. The scaled model has the same
    solutions: ``z = scaling.col * z_scaled`` and ``objective = scaling.obj * scaled``.

    After scaling, every row's largest entry is in (1/2, 1], so the entries HiGHS drops
    (below 1e-9) change a row by less than its feasibility tolerance (1e-7); a column that
    costs more than ``_MAX_COST_RATIO`` times the most any column earns is fixed at 0.

    Raises
    ------
    ValueError
        When the market's magnitudes cannot be represented: a non-finite objective, or a
        welfare that can exceed the float64 range.
    """
    n, n_int = model.n_cols, model.n_int
    c = np.asarray(model.c, dtype=float)
    if not np.all(np.isfinite(c)):
        raise ValueError(
            "the welfare model has a non-finite objective coefficient: market.value, "
            "market.cost or the user costs overflow float64"
        )
    earn = c * np.where(np.isfinite(model.ub), model.ub, 1.0)
    with np.errstate(over="ignore"):
        most = float(np.sum(earn[earn > 0]))
    if not np.isfinite(most):
        raise ValueError(
            f"the welfare of this market can exceed the float64 range (the values sum to more "
            f"than {np.finfo(float).max:.3g}): scale market.value and market.cost down"
        )
    n_eq = model.a_eq.shape[0]
    a = sp.vstack([model.a_eq, model.a_ub], format="csr").astype(float)
    a.sum_duplicates()
    a.eliminate_zeros()
    n_rows = a.shape[0]
    # The nonzeros once, in row order (CSR) and through a permutation in column order.
    mag = np.abs(a.data)
    r_of = np.repeat(np.arange(n_rows), np.diff(a.indptr))
    c_of = a.indices
    by_col = np.argsort(c_of, kind="stable")
    col_starts = np.concatenate([[0], np.cumsum(np.bincount(c_of, minlength=n))])
    row = np.ones(n_rows)
    col = np.ones(n)
    free = np.arange(n) >= n_int  # integer columns keep scale 1
    for _ in range(_SCALE_PASSES):
        big, small = _extremes(mag * row[r_of] * col[c_of], a.indptr, n_rows)
        row *= _pow2(1.0 / np.sqrt(big * small))
        big, small = _extremes((mag * row[r_of] * col[c_of])[by_col], col_starts, n)
        col = np.where(free, col * _pow2(1.0 / np.sqrt(big * small)), 1.0)
    big, _ = _extremes(mag * row[r_of] * col[c_of], a.indptr, n_rows)
    # Final row scale: the largest entry of each row in (1/2, 1].
    with np.errstate(divide="ignore", invalid="ignore"):
        row *= np.where(np.isfinite(big) & (big > 0), np.exp2(-np.ceil(np.log2(big))), 1.0)
    scaled = sp.csr_matrix((a.data * row[r_of] * col[c_of], a.indices, a.indptr), shape=a.shape)
    # c * col / 2**obj_exp with the largest earning in [1/2, 1), by exponents: c * col alone
    # overflows when values near 1e300 meet units near 1e-12.
    col_exp = np.frexp(col)[1] - 1  # col is a power of two
    c_exp = np.frexp(c)[1] + col_exp
    ref = c_exp[c > 0] if np.any(c > 0) else c_exp[c != 0]
    obj_exp = int(ref.max()) if ref.size else 0
    cz = np.ldexp(c, col_exp - obj_exp)
    lb = model.lb / col
    ub = model.ub / col
    ub = np.where(free & (cz < -_MAX_COST_RATIO), np.maximum(lb, 0.0), ub)
    b_eq = model.b_eq * row[:n_eq]
    b_ub = model.b_ub * row[n_eq:]
    out = replace(
        model, c=cz, a_eq=sp.csr_matrix(scaled[:n_eq]), b_eq=b_eq,
        a_ub=sp.csr_matrix(scaled[n_eq:]), b_ub=b_ub, lb=lb, ub=ub,
    )
    return out, Scaling(col=col, obj_exp=obj_exp)
