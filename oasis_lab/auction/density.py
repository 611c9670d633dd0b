"""Normalization and bid densities of PRICES (whitepaper section 4.2).

Notation: task ``i`` demands ``C[i, t]`` units of model type ``t`` and values the bundle at
``v_i``; provider ``j`` has speeds ``s[j, t]`` and capability components ``Psi[j, c]``.

Step 2 of PRICES normalizes ``C``, ``v``, ``s`` and ``Psi`` "to be in the range (0, 1)"; then

- ``bd_task_i = sqrt(sum_t C[i, t]^2 + v_i^2)`` (as written, ``task_density="as_written"``),
- ``bd_provider_j = sqrt(sum_t 1 / s[j, t]^2 + sum_c w_c Psi[j, c])`` (as written,
  ``provider_density="as_written"``), ``w_c`` being the economist's Psi weights,

and both lists are sorted in non-increasing order. Readings taken (see
``docs/mechanism.md`` and ``docs/readings.md``):

- Normalization is per column over the round. ``normalize="max"`` divides by the column
  maximum; ``"minmax"`` maps ``[min, max]`` to ``[MINMAX_EPS, 1]``. Zeros of ``C`` (type not
  requested) and ``s`` (type cannot run) are structural: they stay 0 and are skipped, so a
  provider's density never divides by zero.
- ``task_density="surplus"`` is the Lehmann-O'Callaghan-Shoham density
  ``(v_i - e_i) / sqrt(sum_t C[i, t])`` on raw (unnormalized) values, ``e_i`` the user cost.
- ``provider_density="capability"`` is ``sqrt(sum_t s[j, t]^2 + sum_c w_c Psi[j, c])`` (fast and
  capable first); ``"unit_cost"`` orders providers by ascending per-unit price
  ``c_j / sum_t s[j, t]`` (a McAfee-style supply curve); its density is minus that price so that
  every reading sorts non-increasing.
- Ties keep market order (stable sorts). Re-auctioned tasks (``Market.priority``, higher
  first) go before every task of lower priority, whatever their density.
- Empty tasks and providers that can run nothing get density ``-inf``: they sort last and
  never trade.
"""

from __future__ import annotations

import numba
import numpy as np

from oasis_lab.auction.pricing import user_costs
from oasis_lab.checks import check_not_masked
from oasis_lab.market import Market
from oasis_lab.params import AuctionParams

__all__ = [
    "MINMAX_EPS",
    "normalize_columns",
    "normalized_inputs",
    "psi_weights",
    "task_density",
    "provider_density",
    "task_order",
    "provider_order",
    "stable_descending_order",
]

#: Lower end of the ``normalize="minmax"`` range ``[MINMAX_EPS, 1]`` (kept above 0 so that
#: ``1 / s^2`` stays finite and the range is the paper's open-at-zero ``(0, 1]``).
MINMAX_EPS = 1e-3


def normalize_columns(x: np.ndarray, method: str = "max", *, structural_zeros: bool = False) -> np.ndarray:
    """Scale each column of ``x`` into ``(0, 1]`` (PRICES step 2, section 4.2).

    Parameters
    ----------
    x : array_like, shape (n,) or (n, d)
        Non-negative values; each column is normalized over its rows (the round).
    method : {"max", "minmax"}
        ``"max"``: ``x / max(column)``. ``"minmax"``: ``[min, max]`` mapped linearly to
        ``[MINMAX_EPS, 1]``; a constant column maps to 1.
    structural_zeros : bool, default False
        Zeros mean "absent" (a type not requested, a type a provider cannot run): they stay 0
        and are left out of the column's min and max.

    Returns
    -------
    numpy.ndarray
        Same shape as ``x``, float. A column of zeros stays zero.

    Raises
    ------
    ValueError
        ``method`` unknown, or ``x`` negative or not finite.

    Examples
    --------
    >>> normalize_columns(np.array([[1.0, 0.0], [4.0, 2.0]]))
    array([[0.25, 0.  ],
           [1.  , 1.  ]])
    """
    if method not in ("max", "minmax"):
        raise ValueError(f"method = {method!r} is not one of ['max', 'minmax']")
    arr = np.asarray(check_not_masked("x", x), dtype=float)
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError("x must be finite and >= 0 to be normalized into (0, 1]")
    flat = arr.ndim == 1
    a = arr[:, None] if flat else arr
    present = a > 0 if structural_zeros else np.ones(a.shape, dtype=bool)
    # Column max / min over the present entries only; a column with none present stays 0.
    col_max = np.where(present, a, -np.inf).max(axis=0, initial=-np.inf)
    has = np.isfinite(col_max) & (col_max > 0)
    if method == "max":
        scale = np.where(has, col_max, 1.0)
        out = np.where(present & has[None, :], a / scale, 0.0)
    else:
        col_min = np.where(present, a, np.inf).min(axis=0, initial=np.inf)
        span = np.where(has, col_max - col_min, 0.0)
        safe = np.where(span > 0, span, 1.0)
        scaled = np.where(
            span[None, :] > 0, MINMAX_EPS + (1 - MINMAX_EPS) * (a - col_min) / safe, 1.0
        )
        out = np.where(present & has[None, :], scaled, 0.0)
    return out[:, 0] if flat else out


def normalized_inputs(
    market: Market, params: AuctionParams = AuctionParams()
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``C``, ``v``, ``s`` and ``Psi`` of ``market`` normalized as PRICES step 2 asks.

    Returns
    -------
    demand, value, speed, psi : numpy.ndarray
        Shapes as in the market; zeros of ``demand`` and ``speed`` stay 0 (structural).
    """
    method = params.normalize
    return (
        normalize_columns(market.demand, method, structural_zeros=True),
        normalize_columns(market.value, method),
        normalize_columns(market.speed, method, structural_zeros=True),
        normalize_columns(market.psi, method),
    )


def psi_weights(market: Market, params: AuctionParams = AuctionParams()) -> np.ndarray:
    """The Psi weights ``w_c`` of ``params`` checked against the market's components.

    Raises
    ------
    ValueError
        ``params.psi_weights`` has a different length than ``market.psi`` has columns.
    """
    n_psi = market.psi.shape[1]
    if params.psi_weights is None:
        return np.ones(n_psi)
    if len(params.psi_weights) != n_psi:
        raise ValueError(
            f"psi_weights has {len(params.psi_weights)} weights but the market has {n_psi} "
            f"Psi components {list(market.psi_names)}"
        )
    return np.asarray(params.psi_weights, dtype=float)


@numba.njit(cache=True)
def _task_density_max(demand: np.ndarray, value: np.ndarray) -> np.ndarray:
    """``task_density="as_written"`` under ``normalize="max"`` in two fused passes.

    Same operations in the same order as the numpy formula (``C / max`` per present entry,
    squares summed left to right, then ``+ vn^2`` and the square root), so the same bits,
    without the ``(n_tasks, n_types)`` temporaries.
    """
    n, d = demand.shape
    col_max = np.zeros(d)
    v_max = -np.inf
    for i in range(n):
        for t in range(d):
            col_max[t] = max(col_max[t], demand[i, t])
        v_max = max(v_max, value[i])
    out = np.empty(n)
    for i in range(n):
        acc = 0.0
        any_units = False
        for t in range(d):
            c = demand[i, t]
            if c > 0:
                any_units = True
                x = c / col_max[t]
                acc += x * x
        if not any_units:
            out[i] = -np.inf
            continue
        vn = value[i] / v_max if v_max > 0 else 0.0
        out[i] = np.sqrt(acc + vn * vn)
    return out


def task_density(market: Market, params: AuctionParams = AuctionParams()) -> np.ndarray:
    """Task bid density ``bd_task_i`` (section 4.2) under ``params.task_density``.

    ``"as_written"``: ``sqrt(sum_t Cn[i, t]^2 + vn_i^2)`` on normalized inputs.
    ``"surplus"``: ``(v_i - e_i) / sqrt(sum_t C[i, t])`` on raw inputs (Lehmann,
    O'Callaghan and Shoham, JACM 2002). Empty tasks get ``-inf``.

    Returns
    -------
    numpy.ndarray, shape (n_tasks,)
    """
    units = market.task_units
    if params.task_density == "surplus":
        surplus = market.value - user_costs(market, params)
        with np.errstate(divide="ignore", invalid="ignore"):
            density = surplus / np.sqrt(units)
    elif params.normalize == "max":
        return _task_density_max(market.demand, market.value)
    else:
        method = params.normalize
        demand = normalize_columns(market.demand, method, structural_zeros=True)
        value = normalize_columns(market.value, method)
        density = np.sqrt((demand**2).sum(axis=1) + value**2)
    return np.where(units > 0, density, -np.inf)


def provider_density(market: Market, params: AuctionParams = AuctionParams()) -> np.ndarray:
    """Provider bid density ``bd_provider_j`` (section 4.2) under ``params.provider_density``.

    ``"as_written"``: ``sqrt(sum_{t: s>0} 1 / sn[j, t]^2 + sum_c w_c Psin[j, c])``: types the
    provider cannot run are skipped (no ``1 / 0``). ``"capability"``:
    ``sqrt(sum_t sn[j, t]^2 + sum_c w_c Psin[j, c])``. ``"unit_cost"``: ``-c_j / sum_t s[j, t]``
    (ascending per-unit price once sorted non-increasing). Providers that can run nothing get
    ``-inf``.

    Returns
    -------
    numpy.ndarray, shape (n_providers,)
    """
    runnable = market.speed > 0
    can_run = runnable.any(axis=1)
    if params.provider_density == "unit_cost":
        return np.where(can_run, -market.provider_unit_cost, -np.inf)
    weights = psi_weights(market, params)
    # only the providers' columns: normalizing the tasks' demand here would be wasted work
    speed = normalize_columns(market.speed, params.normalize, structural_zeros=True)
    psi = normalize_columns(market.psi, params.normalize)
    psi_term = psi @ weights
    if params.provider_density == "as_written":
        inv = np.where(runnable, 1.0 / np.where(runnable, speed, 1.0) ** 2, 0.0)
        density = np.sqrt(inv.sum(axis=1) + psi_term)
    else:
        density = np.sqrt((speed**2).sum(axis=1) + psi_term)
    return np.where(can_run, density, -np.inf)


def task_order(market: Market, params: AuctionParams = AuctionParams()) -> np.ndarray:
    """Task indices in PRICES order: priority first (higher first), then non-increasing density.

    Stable: equal keys keep market order.
    """
    density = task_density(market, params)
    priority = market.priority
    if priority.size and (priority == priority[0]).all():
        return stable_descending_order(density)
    # lexsort sorts by the last key first and is stable.
    return np.lexsort((-density, -priority)).astype(np.int64)


def provider_order(market: Market, params: AuctionParams = AuctionParams()) -> np.ndarray:
    """Provider indices in PRICES order: non-increasing provider density (stable)."""
    return stable_descending_order(provider_density(market, params))


def stable_descending_order(density: np.ndarray) -> np.ndarray:
    """Indices sorting ``density`` non-increasing, ties in index order (a stable sort).

    Large inputs go through a compiled LSD radix sort on the keys' bits (linear time, stable by
    construction: 6 passes of 11 bits, a pass skipped when every key has the same digit);
    ``-0.0`` is read as ``+0.0`` first, so equal keys are equal bits. Small inputs, and any with
    a NaN, use numpy's stable sort; the order is the same.

    Examples
    --------
    >>> stable_descending_order(np.array([1.0, 3.0, 1.0, 3.0, -np.inf]))
    array([1, 3, 0, 2, 4])
    """
    keys = -np.asarray(density, dtype=float)
    if keys.size < _RADIX_MIN or np.isnan(keys).any():
        return np.argsort(keys, kind="stable").astype(np.int64)
    return _radix_argsort(keys + 0.0)  # + 0.0: -0.0 becomes +0.0


_RADIX_MIN = 2048


@numba.njit(cache=True)
def _radix_argsort(keys: np.ndarray) -> np.ndarray:
    """Stable ascending argsort of float64 ``keys`` (no NaN, no -0.0) by LSD radix on their bits."""
    n = keys.shape[0]
    bits = keys.view(np.uint64)
    sign = np.uint64(1) << np.uint64(63)
    ukey = np.empty(n, np.uint64)
    for i in range(n):
        b = bits[i]
        # negative floats: flip every bit; positive: flip the sign bit -> unsigned order
        ukey[i] = ~b if b & sign else b | sign
    order = np.arange(n)
    tmp = np.empty(n, np.int64)
    n_pass = 6  # 11-bit digits
    count = np.zeros((n_pass, 2049), np.int64)
    for i in range(n):  # every pass's histogram in one read of the keys
        u = ukey[i]
        for p in range(n_pass):
            count[p, ((u >> np.uint64(11 * p)) & np.uint64(0x7FF)) + np.uint64(1)] += 1
    for p in range(n_pass):
        if count[p].max() == n:
            continue  # every key has this digit: the pass would not move anything
        sh = np.uint64(11 * p)
        c = count[p]
        for d in range(2048):
            c[d + 1] += c[d]
        for i in range(n):
            idx = order[i]
            d = (ukey[idx] >> sh) & np.uint64(0x7FF)
            tmp[c[d]] = idx
            c[d] += 1
        order, tmp = tmp, order
    return order
