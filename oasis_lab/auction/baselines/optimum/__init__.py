"""Exact welfare optimum of the section-4 market: ILP and LP relaxation (cvxpy + HiGHS).

- :mod:`.formulation`: the model (what is maximized, subject to what, under each reading) as
  sparse matrices, with the exact reductions that keep it small.
- :mod:`.solvers`: :func:`solve_optimum`, argument checks and the cvxpy and highspy backends.
- :mod:`.result`: :class:`OptimumResult` and the decoding of a solver's answer into it.
"""

from oasis_lab.auction.baselines.optimum.formulation import FORMULATIONS
from oasis_lab.auction.baselines.optimum.result import STATUSES, OptimumResult
from oasis_lab.auction.baselines.optimum.solvers import BACKENDS, solve_optimum

__all__ = [
    "OptimumResult",
    "solve_optimum",
    "FORMULATIONS",
    "BACKENDS",
    "STATUSES",
]
