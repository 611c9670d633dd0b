"""Baselines for the section-4 auction: exact optima and mechanisms with proven properties.

- :func:`solve_optimum` (:mod:`.optimum`): the welfare-maximizing allocation, ILP and LP
  relaxation, with cvxpy (or HiGHS directly).
- :func:`vcg` (:mod:`.vcg`): the optimum with Clarke-pivot payments, for small markets.
- :func:`mcafee`, :func:`sbba`, :func:`dp_clearing_price` (:mod:`.double_auction`): trade
  reduction and an epsilon-differentially-private clearing price on single-type,
  unit-demand markets (:func:`unit_demand_market`, :func:`run_double_auction`).
"""

from oasis_lab.auction.baselines.double_auction import (
    DOUBLE_AUCTIONS,
    DoubleAuctionResult,
    DoubleAuctionSides,
    DPClearingResult,
    check_epsilon,
    dp_clearing_price,
    efficient_trades,
    gains_from_trade,
    mcafee,
    run_double_auction,
    sbba,
    unit_demand_market,
    unit_sides,
)
from oasis_lab.auction.baselines.optimum import (
    BACKENDS,
    FORMULATIONS,
    MAX_TIME_LIMIT,
    STATUSES,
    OptimumResult,
    solve_optimum,
)
from oasis_lab.auction.baselines.vcg import VCGResult, vcg

__all__ = [
    "BACKENDS",
    "FORMULATIONS",
    "MAX_TIME_LIMIT",
    "STATUSES",
    "OptimumResult",
    "solve_optimum",
    "VCGResult",
    "vcg",
    "DOUBLE_AUCTIONS",
    "DoubleAuctionResult",
    "DoubleAuctionSides",
    "DPClearingResult",
    "check_epsilon",
    "dp_clearing_price",
    "efficient_trades",
    "gains_from_trade",
    "mcafee",
    "run_double_auction",
    "sbba",
    "unit_demand_market",
    "unit_sides",
]
