"""The incentives layer's mechanisms, registered into the one mechanism registry.

An incentive question ("does agent ``a`` gain by reporting ``x``?") needs the *allocation and
transfers* a mechanism computes from the reports, and the *true* values and costs to score
them. Every mechanism lives in :data:`oasis_lab.auction.mechanisms.MECHANISMS`;
:func:`~oasis_lab.auction.mechanisms.run_mechanism` runs one on a report market and returns
an :class:`~oasis_lab.auction.mechanisms.Outcome` (expected over any lottery: SBBA's seller
draw, the DP price draw), and :meth:`Outcome.utilities` scores it against the true market
(whitepaper section 4's utilities: a user earns ``sigma_i (v_i - e_i) - payment_i``, a
provider ``revenue_j - sum_t u[j, t] x[j, t]`` with its true unit cost ``u``).

This module registers the two mechanisms of this layer:

- ``"truthful"``: the truthful variant of the greedy
  (:func:`~oasis_lab.incentives.truthful.truthful_greedy`), needs ``reference_price``;
- ``"first_price"``: a deliberately non-truthful toy (the greedy's allocation, every served
  user pays its whole reported net value, every trading provider receives its reported cost),
  used to show that :func:`~oasis_lab.incentives.manipulability.manipulability` finds lies.

The auction layer's own (``"greedy"``, ``"vcg"``, ``"mcafee"``, ``"sbba"``, ``"dp"``) are
described in :mod:`oasis_lab.auction.mechanisms`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from oasis_lab.auction.greedy import run_greedy
from oasis_lab.auction.mechanisms import (
    Mechanism,
    Outcome,
    check_run_args,
    register_mechanism,
    run_mechanism,
)
from oasis_lab.auction.pricing import unit_cost_matrix, user_costs
from oasis_lab.incentives.truthful import truthful_greedy
from oasis_lab.market import Market
from oasis_lab.params import AuctionParams

__all__ = ["Outcome", "check_run_args", "run_mechanism"]


def _first_price_outcome(res: Any, market: Market, params: AuctionParams) -> Outcome:
    """Pay-your-bid on the greedy's allocation: a mechanism that rewards shading on both sides."""
    units = res.units_matrix(market.n_types)
    share = res.served_share
    payment = np.where(share > 0, share * (market.value - user_costs(market, params)), 0.0)
    cost = unit_cost_matrix(market, params)
    with np.errstate(invalid="ignore"):
        revenue = np.where(units > 0, cost * units, 0.0).sum(axis=1)
    return Outcome(share, payment, units, revenue)


def _truthful_outcome(res: Any, market: Market, params: AuctionParams) -> Outcome:
    return Outcome(res.served_share, res.task_payment, res.units, res.provider_revenue)


register_mechanism(Mechanism(
    "truthful", "the truthful posted-price variant of the greedy (issue 12)",
    lambda m, p, seed, o: truthful_greedy(m, o["reference_price"], p,
                                          compute_payments=o.get("compute_payments", True),
                                          payments_for=o.get("payments_for")),
    options=frozenset({"reference_price", "compute_payments", "payments_for"}),
    required=frozenset({"reference_price"}), partial_payments=True, outcome=_truthful_outcome,
))
register_mechanism(Mechanism(
    "first_price", "pay-your-bid on the greedy's allocation (a non-truthful toy)",
    lambda m, p, seed, o: run_greedy(m, p), outcome=_first_price_outcome,
))
