"""VCG payments on top of the exact optimum (whitepaper section 4, as a mechanism).

The welfare optimum of :func:`~oasis_lab.auction.baselines.solve_optimum` becomes a truthful
mechanism with Clarke-pivot (Vickrey-Clarke-Groves) transfers. With ``W*`` the optimal
welfare and ``W*_{-a}`` the optimal welfare of the market without agent ``a``:

- served task ``i`` (its value to the welfare is ``sigma_i (v_i - e_i)``) pays
  ``payment_i = W*_{-i} - (W* - sigma_i (v_i - e_i))``, so its utility is ``W* - W*_{-i} >= 0``;
- trading provider ``j`` (its value is minus the true cost ``sum_t u[j, t] x[j, t]`` of its
  units) receives ``revenue_j = W* - W*_{-j} + sum_t u[j, t] x[j, t]``, so its utility is
  ``W* - W*_{-j} >= 0``.

Truthful (dominant strategy, for users reporting a value and providers reporting a cost:
each agent's utility is its marginal contribution ``W* - W*_{-a}``, which it cannot raise by
misreporting when the optimum is exact) and individually rational. Its budget is *not*
balanced, and its sign is not a theorem here: Myerson-Satterthwaite says no efficient, IR,
truthful mechanism is budget balanced, which with unit traders means a deficit, but with
all-or-nothing bundles and shared capacity a removed agent can change the optimum enough for
payments to exceed revenues. ``budget_surplus`` is therefore reported as a measured quantity
(its distribution over markets is in ``docs/mechanism.md``, "Incentives": mostly a deficit,
with surpluses in some scarce-supply markets). An agent that does not trade
changes nothing when removed (the optimum without it is still feasible and optimal), so only
trading agents are re-solved: at most ``1 + n_tasks + n_providers`` exact solves, which is why
VCG is for small markets (up to about 30 tasks).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.auction.baselines.optimum import OptimumResult, solve_optimum
from oasis_lab.auction.pricing import unit_cost_matrix, user_costs
from oasis_lab.market import Market
from oasis_lab.params import AuctionParams

__all__ = ["VCGResult", "vcg"]

# Tight MIP gap: VCG transfers are differences of optima, and a 1e-7 relative slack would
# show up as spurious negative utilities.
_VCG_MIP_GAP = 1e-9


@dataclass(frozen=True, eq=False)
class VCGResult:
    """Efficient allocation with VCG transfers (whitepaper section 4 as a mechanism).

    Attributes
    ----------
    optimum : OptimumResult
        The welfare-maximizing allocation.
    welfare : float
        ``W*`` (``nan`` if any exact solve failed).
    payments : numpy.ndarray, shape (n_tasks,)
        What each user pays (0 for unserved tasks).
    revenues : numpy.ndarray, shape (n_providers,)
        What each provider receives (0 for providers that do not trade).
    user_utility, provider_utility : numpy.ndarray
        ``W* - W*_{-a}`` for trading agents, 0 for the others.
    budget_surplus : float
        ``sum payments - sum revenues``: negative is a deficit the platform pays, positive a
        surplus it keeps (both occur; see the module docstring).
    ir_violations_users, ir_violations_providers : int
        Trading agents with negative utility (0 up to solver tolerance: VCG is IR).
    status : str
        ``"optimal"`` when every solve was, else the first failing solve's status.
    n_solves : int
        Exact solves performed.
    runtime_s : float
        Wall time.
    """

    optimum: OptimumResult
    welfare: float
    payments: np.ndarray
    revenues: np.ndarray
    user_utility: np.ndarray
    provider_utility: np.ndarray
    budget_surplus: float
    ir_violations_users: int
    ir_violations_providers: int
    status: str
    n_solves: int
    runtime_s: float

    def summary(self) -> dict[str, Any]:
        """Headline numbers for a table row."""
        return {
            "welfare": self.welfare,
            "served": self.optimum.n_served,
            "payments": float(self.payments.sum()),
            "revenues": float(self.revenues.sum()),
            "budget_surplus": self.budget_surplus,
            "ir_violations_users": self.ir_violations_users,
            "ir_violations_providers": self.ir_violations_providers,
            "status": self.status,
            "n_solves": self.n_solves,
            "runtime_s": self.runtime_s,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per agent: side, index, payment (users) or revenue (providers), utility."""
        users = pd.DataFrame(
            {"side": "user", "agent": np.arange(self.payments.shape[0]),
             "transfer": self.payments, "utility": self.user_utility}
        )
        providers = pd.DataFrame(
            {"side": "provider", "agent": np.arange(self.revenues.shape[0]),
             "transfer": self.revenues, "utility": self.provider_utility}
        )
        return pd.concat([users, providers], ignore_index=True)


def vcg(
    market: Market,
    params: AuctionParams = AuctionParams(),
    *,
    max_tasks: int = 30,
    backend: str = "highspy",
    time_limit: float | None = None,
) -> VCGResult:
    """Efficient allocation with Clarke-pivot VCG payments (small markets).

    Parameters
    ----------
    market : Market
    params : AuctionParams
        Readings of the welfare model (as for :func:`solve_optimum`).
    max_tasks : int, default 30
        Refuse larger markets: every trading agent costs one exact ILP solve.
    backend : {"highspy", "cvxpy"}, default "highspy"
        Passed to :func:`solve_optimum` (the same model either way).
    time_limit : float, optional
        Per solve.

    Returns
    -------
    VCGResult

    Raises
    ------
    ValueError
        ``market.n_tasks > max_tasks``.
    """
    if not isinstance(market, Market):
        raise TypeError(f"market must be an oasis_lab Market, got {type(market).__name__}")
    if isinstance(max_tasks, bool) or not isinstance(max_tasks, (int, np.integer)) or max_tasks < 1:
        raise ValueError(f"max_tasks = {max_tasks!r} must be a positive int")
    if market.n_tasks > max_tasks:
        raise ValueError(
            f"market has n_tasks = {market.n_tasks} > max_tasks = {max_tasks}: VCG re-solves the "
            "ILP once per trading agent; raise max_tasks if you mean it"
        )
    start = time.perf_counter()
    kw: dict[str, Any] = dict(backend=backend, time_limit=time_limit, mip_rel_gap=_VCG_MIP_GAP)
    best = solve_optimum(market, params, **kw)
    n_tasks, n_prov = market.n_tasks, market.n_providers
    payments = np.zeros(n_tasks)
    revenues = np.zeros(n_prov)
    u_user = np.zeros(n_tasks)
    u_prov = np.zeros(n_prov)
    status = best.status
    n_solves = 1
    if best.ok:
        w_star = best.welfare
        own_value = best.served * (market.value - user_costs(market, params))
        cost = unit_cost_matrix(market, params)
        with np.errstate(invalid="ignore"):
            own_cost = np.where(best.units > 0, cost * best.units, 0.0).sum(axis=1)
        everyone_t = np.ones(n_tasks, dtype=bool)
        everyone_p = np.ones(n_prov, dtype=bool)
        # One re-solve per trading agent: the loop is over agents, each a whole ILP.
        for i in np.flatnonzero(best.served > 0):
            without = everyone_t.copy()
            without[i] = False
            res = solve_optimum(market, params, task_on=without, **kw)
            n_solves += 1
            if not res.ok:
                status = res.status if status == "optimal" else status
                payments[i] = u_user[i] = math.nan
                continue
            payments[i] = res.welfare - (w_star - own_value[i])
            u_user[i] = own_value[i] - payments[i]
        for j in np.flatnonzero(best.units.sum(axis=1) > 0):
            without = everyone_p.copy()
            without[j] = False
            res = solve_optimum(market, params, provider_on=without, **kw)
            n_solves += 1
            if not res.ok:
                status = res.status if status == "optimal" else status
                revenues[j] = u_prov[j] = math.nan
                continue
            revenues[j] = w_star - res.welfare + own_cost[j]
            u_prov[j] = revenues[j] - own_cost[j]
        welfare = w_star if status == "optimal" else math.nan
    else:
        payments[:] = revenues[:] = u_user[:] = u_prov[:] = math.nan
        welfare = math.nan
    tol = 1e-6 * max(1.0, abs(best.welfare) if best.ok else 1.0)
    return VCGResult(
        optimum=best,
        welfare=welfare,
        payments=payments,
        revenues=revenues,
        user_utility=u_user,
        provider_utility=u_prov,
        budget_surplus=float(payments.sum() - revenues.sum()),
        ir_violations_users=int((u_user < -tol).sum()),
        ir_violations_providers=int((u_prov < -tol).sum()),
        status=status,
        n_solves=n_solves,
        runtime_s=time.perf_counter() - start,
    )
