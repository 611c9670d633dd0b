"""The combinatorial double auction of whitepaper section 4 and its baselines.

:func:`run_greedy` (PRICES, section 4.2) returns an :class:`AuctionResult`; :func:`check_all`
checks it independently (:class:`CheckReport`); :func:`rebid` raises unserved tasks for the
next round. Modules: ``density`` (bid densities, step 2 of PRICES), ``pricing`` (per-unit
prices, user costs, utilities, welfare), ``greedy``, ``metrics`` (independent checkers),
``rebid``, ``compare`` (readings and baselines measured side by side), ``baselines`` (exact
optimum, VCG, McAfee, SBBA, DP price; imported on demand: they load the solvers).
"""

from oasis_lab.auction.greedy import AuctionResult, run_greedy
from oasis_lab.auction.metrics import CheckReport, check_all
from oasis_lab.auction.rebid import rebid

__all__ = ["AuctionResult", "CheckReport", "check_all", "rebid", "run_greedy"]
