"""Who gains by lying: unilateral misreports scanned on a grid, for any mechanism.

Every welfare ratio of the workbench assumes truthful reports. :func:`manipulability` asks,
for each agent and each misreport on a grid, how much that agent's (true) utility changes when
it alone misreports and everyone else keeps its report (whitepaper section 4's utilities,
scored by :meth:`~oasis_lab.incentives.outcomes.Outcome.utilities`):

- users misreport their value ``v_i`` (``"value"``);
- providers misreport their cost ``c_j`` (``"cost"``), their benchmarked speeds ``s[j, :]``
  (``"speed"``, all types scaled together) or their capacity ``w_j`` (``"capacity"``).

A misreport is ``factor * report`` for each ``factor`` of ``report_grid``. The baseline is the
``reports`` market (the true market by default), so the same scan is the best-response step of
:mod:`oasis_lab.incentives.equilibrium`.

:func:`summarize` turns a scan into the share of agents with a profitable lie, the gain
distribution and each agent's best misreport.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.auction.pricing import unit_cost_matrix, user_costs
from oasis_lab.checks import check_choice, check_int, check_real
from oasis_lab.incentives.outcomes import Outcome, check_run_args, run_mechanism
from oasis_lab.market import Market
from oasis_lab.params import AuctionParams
from oasis_lab.seeding import check_seed, child_seed

__all__ = [
    "DEFAULT_GRID",
    "DIMENSIONS",
    "GAIN_ATOL",
    "GAIN_RTOL",
    "best_misreports",
    "check_report_grid",
    "manipulability",
    "misreport",
    "profitable",
    "summarize",
]

#: What each side can misreport.
DIMENSIONS: dict[str, tuple[str, ...]] = {"user": ("value",), "provider": ("cost", "speed", "capacity")}

#: A misreport counts as profitable when it gains more than
#: ``GAIN_ATOL + GAIN_RTOL * |utility at the baseline|`` tokens: round-off of sums and of the
#: truthful variant's bisection stays far below this; a real lie gains far more.
GAIN_ATOL = 1e-6
GAIN_RTOL = 1e-6

#: Default grid of report factors: 20 points from 0.1x to 2x, the truth (1.0) among them.
DEFAULT_GRID: np.ndarray = np.round(np.linspace(0.1, 2.0, 20), 10)


def misreport(market: Market, side: str, agent: int, dimension: str, factor: float) -> Market:
    """``market`` with one agent's report in ``dimension`` scaled by ``factor`` (> 0).

    Parameters
    ----------
    market : Market
    side : {"user", "provider"}
    agent : int
        The user's (task's) or the provider's index, ``0 <= agent < n``.
    dimension : str
        One of ``DIMENSIONS[side]``: a user reports only its value, a provider its cost, speed
        or capacity.
    factor : float
        Finite and ``> 0``.

    Raises
    ------
    TypeError, ValueError
        Naming the bad argument: a side or dimension it does not have, an index that is not
        an integer in range (``True`` and ``-1`` are refused, not read as a mask or from the end).
    """
    if not isinstance(market, Market):
        raise TypeError(f"market must be an oasis_lab.market.Market, got {type(market).__name__}")
    check_choice("side", side, tuple(DIMENSIONS))
    check_choice("dimension", dimension, DIMENSIONS[side])
    n = market.n_tasks if side == "user" else market.n_providers
    agent = check_int("agent", agent, 0, n - 1)
    factor = check_real("factor", factor, positive=True)
    if dimension == "value":
        value = market.value.copy()
        value[agent] *= factor
        return market.replace(value=value)
    if dimension == "cost":
        cost = market.cost.copy()
        cost[agent] *= factor
        return market.replace(cost=cost)
    if dimension == "speed":
        speed = market.speed.copy()
        speed[agent] *= factor
        return market.replace(speed=speed)
    capacity = market.capacity.copy()  # the one dimension left
    capacity[agent] *= factor
    return market.replace(capacity=capacity)


def _agents(market: Market, agents: Any) -> list[tuple[str, int]]:
    if isinstance(agents, str):
        if agents not in ("all", "users", "providers"):
            raise ValueError(f"agents = {agents!r} is not 'all', 'users', 'providers' or a list of (side, index)")
        out: list[tuple[str, int]] = []
        if agents in ("all", "users"):
            out += [("user", i) for i in range(market.n_tasks)]
        if agents in ("all", "providers"):
            out += [("provider", j) for j in range(market.n_providers)]
        return out
    try:
        pairs = [(str(s), int(k)) for s, k in agents]
    except (TypeError, ValueError):
        raise TypeError(f"agents must be 'all', 'users', 'providers' or (side, index) pairs, got {agents!r}") from None
    for side, k in pairs:
        n = market.n_tasks if side == "user" else market.n_providers
        if side not in DIMENSIONS:
            raise ValueError(f"agents: side {side!r} is not 'user' or 'provider'")
        if not 0 <= k < n:
            raise ValueError(f"agents: {side} index {k} is outside [0, {n})")
    return pairs


def check_report_grid(report_grid: Any) -> np.ndarray:
    """The misreport factors as an array, or one error naming ``report_grid``."""
    try:
        grid = np.asarray(report_grid, dtype=float).ravel()
    except (TypeError, ValueError):
        raise TypeError(f"report_grid must be a sequence of positive factors, got {report_grid!r}") from None
    if grid.size == 0:
        raise ValueError("report_grid is empty")
    for k, x in enumerate(grid):
        check_real(f"report_grid[{k}]", float(x), positive=True)
    return grid


def manipulability(
    market: Market,
    mechanism: str,
    params: AuctionParams = AuctionParams(),
    *,
    agents: str | Sequence[tuple[str, int]] = "all",
    report_grid: Any = DEFAULT_GRID,
    seed: int = 0,
    reports: Market | None = None,
    dimensions: Sequence[str] | None = None,
    options: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Utility gained by every unilateral misreport on a grid (section 4's utilities).

    Parameters
    ----------
    market : Market
        The *true* values, costs, speeds and capacities (they score every outcome).
    mechanism : str
        A mechanism with an outcome in :data:`oasis_lab.auction.mechanisms.MECHANISMS`.
    params : AuctionParams
        The greedy's readings and the welfare model.
    agents : {"all", "users", "providers"} or sequence of (side, index)
        Who deviates; ``side`` is ``"user"`` or ``"provider"``.
    report_grid : sequence of float
        Factors ``> 0``: the misreport is ``factor * baseline report``.
    seed : int
        Root seed; each run gets ``child_seed(seed, "lotteries", ...)`` (lotteries are
        integrated out exactly, so results do not depend on it except through that draw).
    reports : Market, optional
        Everyone's baseline reports (default: ``market``, truthful).
    dimensions : sequence of str, optional
        Restrict the provider dimensions (default all of :data:`DIMENSIONS`).
    options : dict, optional
        Passed to :func:`~oasis_lab.incentives.outcomes.run_mechanism` (``reference_price``,
        ``grid``, ``epsilon``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per (agent, dimension, factor): ``side``, ``agent``, ``dimension``,
        ``factor``, ``report``, ``utility_base`` (at the baseline reports), ``utility``
        (misreporting), ``gain`` and ``profitable`` (gain above :data:`GAIN_ATOL` +
        :data:`GAIN_RTOL` ``* |utility_base|``).

    Raises
    ------
    TypeError, ValueError
        Bad market, mechanism, agents, grid or dimensions, before any run.
    """
    entry = check_run_args(market, mechanism, params)
    seed = check_seed(seed)
    base = market if reports is None else reports
    if not isinstance(base, Market):
        raise TypeError(f"reports must be a Market, got {type(base).__name__}")
    if base.demand.shape != market.demand.shape or base.speed.shape != market.speed.shape:
        raise ValueError("reports must have the same tasks, providers and types as market")
    pairs = _agents(market, agents)
    grid = check_report_grid(report_grid)
    dims_p = DIMENSIONS["provider"] if dimensions is None else tuple(dimensions)
    bad = set(dims_p) - set(DIMENSIONS["provider"]) - {"value"}
    if bad:
        raise ValueError(f"dimensions {sorted(bad)} are not among {DIMENSIONS}")
    opts = dict(options or {})
    e_true = user_costs(market, params)
    cost_true = unit_cost_matrix(market, params)

    def run(reported: Market, key: tuple[Any, ...], focus: Any = None) -> Outcome:
        extra = dict(opts)
        if entry.partial_payments and focus is not None:
            # Only the deviator's critical value is needed (a provider's utility needs none).
            extra["payments_for"] = focus
        # Only randomized mechanisms draw; deriving a child seed per run costs ~0.25 ms.
        run_seed = child_seed(seed, "lotteries", *key) if entry.randomized else seed
        return run_mechanism(reported, mechanism, params, seed=run_seed, **extra)

    u_users, u_prov = run(base, ("base",)).utilities_from(market.value, e_true, cost_true)
    rows: list[dict[str, Any]] = []
    for side, k in pairs:
        dims = ("value",) if side == "user" else tuple(d for d in dims_p if d != "value")
        u0 = float(u_users[k] if side == "user" else u_prov[k])
        for d_idx, dim in enumerate(dims):
            baseline = _baseline_report(base, dim, k)
            for g, factor in enumerate(grid):
                if factor == 1.0:
                    u = u0  # the baseline itself
                else:
                    lied = misreport(base, side, k, dim, float(factor))
                    out = run(lied, (side, k, d_idx, g), [k] if side == "user" else [])
                    if side == "user":  # a user's utility needs no provider units (cheaper)
                        u = float(out.user_utilities_from(market.value, e_true)[k])
                    else:
                        u = float(out.utilities_from(market.value, e_true, cost_true)[1][k])
                rows.append({
                    "side": side, "agent": k, "dimension": dim, "factor": float(factor),
                    "report": baseline * float(factor), "utility_base": u0, "utility": u,
                })
    frame = pd.DataFrame(rows, columns=["side", "agent", "dimension", "factor", "report", "utility_base", "utility"])
    frame["gain"] = frame["utility"] - frame["utility_base"]
    frame["profitable"] = profitable(frame["gain"].to_numpy(), frame["utility_base"].to_numpy())
    return frame


def _baseline_report(market: Market, dim: str, k: int) -> float:
    if dim == "value":
        return float(market.value[k])
    if dim == "cost":
        return float(market.cost[k])
    if dim == "speed":
        return float(market.speed[k].sum())
    return float(market.capacity[k])


def profitable(gain: np.ndarray, utility_base: np.ndarray) -> np.ndarray:
    """Whether a gain counts as a profitable lie (beyond round-off, see :data:`GAIN_ATOL`)."""
    return np.asarray(gain) > GAIN_ATOL + GAIN_RTOL * np.abs(np.asarray(utility_base))


def best_misreports(scan: pd.DataFrame) -> pd.DataFrame:
    """Each agent's most profitable misreport in a scan (ties: the first on the grid).

    Returns
    -------
    pandas.DataFrame
        Indexed by (``side``, ``agent``): ``dimension``, ``factor``, ``report``,
        ``utility_base``, ``utility``, ``gain``, ``profitable``.
    """
    if not isinstance(scan, pd.DataFrame) or not {"side", "agent", "gain"} <= set(scan.columns):
        raise TypeError("scan must be the DataFrame returned by manipulability()")
    best = scan.loc[scan.groupby(["side", "agent"])["gain"].idxmax()]
    return best.set_index(["side", "agent"])


def summarize(scan: pd.DataFrame) -> pd.DataFrame:
    """Per side: agents, share with a profitable lie, gain quantiles, most profitable dimension.

    Parameters
    ----------
    scan : pandas.DataFrame
        The output of :func:`manipulability`.

    Returns
    -------
    pandas.DataFrame
        Indexed by side (plus ``"all"``): ``agents``, ``share_profitable``,
        ``median_gain`` and ``max_gain`` (best lie per agent, over agents with a profitable
        one), ``median_relative_gain`` (best gain over ``|utility_base|``, same agents) and
        ``best_dimension`` (the dimension of most agents' best lie).
    """
    if not isinstance(scan, pd.DataFrame) or not {"side", "agent", "gain", "profitable"} <= set(scan.columns):
        raise TypeError("scan must be the DataFrame returned by manipulability()")
    best = best_misreports(scan).reset_index()
    rows = []
    for side, grp in list(best.groupby("side")) + [("all", best)]:
        win = grp[grp["profitable"]]
        rel = win["gain"] / win["utility_base"].abs().where(win["utility_base"].abs() > 0)
        rows.append({
            "side": side,
            "agents": len(grp),
            "share_profitable": float(grp["profitable"].mean()) if len(grp) else np.nan,
            "median_gain": float(win["gain"].median()) if len(win) else 0.0,
            "max_gain": float(win["gain"].max()) if len(win) else 0.0,
            "median_relative_gain": float(rel.median()) if rel.notna().any() else np.nan,
            "best_dimension": win["dimension"].mode().iloc[0] if len(win) else "",
        })
    return pd.DataFrame(rows).set_index("side")
