"""Best-response dynamics over shading factors."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_lab.incentives import clearing_price
from oasis_lab.incentives.equilibrium import best_response_dynamics
from oasis_lab.market import Market, generate_market
from oasis_lab.params import AuctionParams

BEST = AuctionParams(task_density="surplus", provider_density="unit_cost")


def test_one_user_one_provider_shade_to_the_edge_of_the_budget() -> None:
    # Task: 2 units worth 30 (e = 3); provider at unit cost 5. A user shading s reports
    # v_hat = 30 - 27 s, a provider marking up m asks c_hat = 5 (1 + m) per unit; the midpoint
    # payment is (v_hat + 2 c_hat) / 2, the task is served iff that leaves v_hat - 3 >= it.
    # The dynamics' end point is checked against these closed forms by brute force.
    m = Market(demand=np.array([[2.0]]), value=np.array([30.0]), speed=np.ones((1, 1)),
               capacity=np.array([4.0]), cost=np.array([5.0]), psi=np.ones((1, 1)), model_types=("m",))
    shades, markups = (0.0, 0.25, 0.5, 0.6), (0.0, 0.2, 0.5, 1.0)
    res = best_response_dynamics(m, "greedy", BEST, user_shades=shades, provider_markups=markups, max_sweeps=6)
    assert res.converged

    def utilities(s: float, mk: float) -> tuple[float, float]:
        # served iff v_hat >= 2 c_hat + 6 (budget) ; user 27 - pay, provider pay - 10
        v_hat, c_hat = 30 - 27 * s, 5 * (1 + mk)
        if v_hat < 2 * c_hat + 6:
            return 0.0, 0.0
        pay = (v_hat + 2 * c_hat) / 2
        return 27 - pay, pay - 10

    s0, m0 = float(res.shade[0]), float(res.markup[0])
    u0, p0 = utilities(s0, m0)
    assert u0 > 0 and p0 > 0  # still served: the same allocation, transfers moved
    assert max(utilities(s, m0)[0] for s in shades) <= u0 + 1e-9  # no unilateral gain on the grid
    assert max(utilities(s0, m)[1] for m in markups) <= p0 + 1e-9
    assert s0 > 0  # the user shades
    assert res.welfare == pytest.approx(res.welfare_truth)


def test_truthful_variant_is_a_fixed_point() -> None:
    m = generate_market(12, 4, seed=2)
    p = clearing_price(generate_market(12, 4, seed=3))
    res = best_response_dynamics(m, "truthful", BEST, user_shades=(0.0, 0.3, 0.6),
                                 provider_markups=(0.0, 0.3, 1.0), max_sweeps=2,
                                 options={"reference_price": p})
    assert res.converged and len(res.sweeps) == 1
    assert not res.shade.any() and not res.markup.any()


def test_bad_grids() -> None:
    m = generate_market(4, 2, seed=0)
    with pytest.raises(ValueError, match="must contain 0"):
        best_response_dynamics(m, user_shades=(0.1, 0.2))
    with pytest.raises(ValueError, match="user_shades"):
        best_response_dynamics(m, user_shades=(0.0, 1.0))
    with pytest.raises(TypeError, match="provider_markups must be a sequence of numbers, got 0.5"):
        best_response_dynamics(m, provider_markups=0.5)
