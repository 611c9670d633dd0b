"""Baselines for the section-4 auction: exact optima and classic mechanisms.

- :func:`solve_optimum`: the welfare-maximizing allocation (ILP, LP relaxation) with cvxpy.
"""

from oasis_lab.auction.baselines.optimum import (
    BACKENDS,
    FORMULATIONS,
    STATUSES,
    OptimumResult,
    solve_optimum,
)

__all__ = [
    "BACKENDS",
    "FORMULATIONS",
    "STATUSES",
    "OptimumResult",
    "solve_optimum",
]
