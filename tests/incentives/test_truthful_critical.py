"""Critical payments of the truthful variant, exact at near-ties (issue 19 item 4).

A served user pays ``theta - e``, ``theta`` the smallest report at which the walk still serves
her. Exact means: reporting ``theta`` wins, reporting the float just below it loses, whatever
the gaps between the other tasks' densities (a relative probe margin jumped over tasks within
``1e-9`` of each other and charged too little).
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oasis_lab.auction.pricing import user_costs
from oasis_lab.incentives import truthful_greedy
from oasis_lab.market import Market
from oasis_lab.params import AuctionParams

PARAMS = AuctionParams(task_density="surplus")


def _unit_market(values, capacity=1.0) -> Market:
    n = len(values)
    return Market(demand=np.ones((n, 1)), value=np.asarray(values, float), speed=np.ones((1, 1)),
                  capacity=np.array([float(capacity)]), cost=np.array([1.0]), psi=np.ones((1, 1)),
                  model_types=("m",))


def _smallest_net_above(x: float, strict: bool) -> float:
    """The smallest report v with fl(v - 1) > x (strict) or >= x, found by stepping floats."""
    v = x + 1.0
    while (v - 1.0 > x) if strict else (v - 1.0 >= x):
        v = np.nextafter(v, 0.0)
    while not ((v - 1.0 > x) if strict else (v - 1.0 >= x)):
        v = np.nextafter(v, np.inf)
    return float(v)


def test_the_issue_near_tie_case() -> None:
    # Unit tasks worth 1e9 (1 + 2.5e-10), 1e9 (1 + 5e-10), 1e9, plus e = 1 each; one provider of
    # capacity 1 at cost 1, posted price 1. Net densities 1e9 + 0.25, 1e9 + 0.5, 1e9.
    nets = [1e9 * (1 + 2.5e-10), 1e9 * (1 + 5e-10), 1e9]
    m = _unit_market(np.array(nets) + 1.0)
    truth = truthful_greedy(m, 1.0)
    assert truth.served.tolist() == [False, True, False]
    # User 1 must stay ahead of task 0 (which sorts first at a tie: lower index): her critical
    # net value is the smallest above 1e9 + 0.25, not 1e9.
    theta1 = _smallest_net_above(nets[0], strict=True)
    assert truth.critical_value[1] == theta1
    assert truth.task_payment[1] == theta1 - 1.0 > nets[0]
    # User 0, unserved at truth, reports 1e10: served; her critical value is 1e9 + 0.5 (she
    # wins a tie with task 1 by index), so she pays 1e9 + 0.5 and gains nothing by the lie.
    lie = truthful_greedy(m.replace(value=np.array([1e10, nets[1] + 1, nets[2] + 1])), 1.0)
    assert lie.served.tolist() == [True, False, False]
    assert lie.task_payment[0] == nets[1] == 1e9 + 0.5
    true_utility = nets[0] - lie.task_payment[0]
    assert true_utility < 0  # the lie loses: truth (unserved, 0) is better


def _check_exact(market: Market, price: float) -> int:
    """Every served user pays theta - e, wins at theta and loses just below; returns winners."""
    res = truthful_greedy(market, price)
    e = user_costs(market, PARAMS)
    winners = np.flatnonzero(res.served)
    for k in winners:
        theta = float(res.critical_value[k])
        assert theta <= market.value[k]
        assert res.task_payment[k] == theta - e[k]
        assert res.task_payment[k] >= price * market.task_units[k]  # the posted price is a floor
        v = market.value.copy()
        v[k] = theta
        assert truthful_greedy(market.replace(value=v), price, compute_payments=False).served[k], (k, theta)
        below = float(np.nextafter(theta, 0.0))
        if below > 0:
            v[k] = below
            assert not truthful_greedy(market.replace(value=v), price, compute_payments=False).served[k], (k, theta)
    return int(winners.size)


@st.composite
def near_tie_markets(draw) -> tuple[Market, float]:
    """Tasks of 1 to 3 units whose densities are within a few 1e-10 (or exactly equal) of each
    other at magnitude 1e9 (or 1), two providers of integer capacity, a posted price."""
    n = draw(st.integers(2, 7))
    scale = draw(st.sampled_from([1.0, 1e9]))
    units = np.array(draw(st.lists(st.integers(1, 3), min_size=n, max_size=n)), float)
    # net densities 1 + k * 2.5e-10 (k small: exact ties possible), times the scale
    ks = np.array(draw(st.lists(st.integers(0, 6), min_size=n, max_size=n)), float)
    density = scale * (1.0 + ks * 2.5e-10)
    e = units * np.log2(units) + 1.0  # user cost at alpha = 2, beta = 1 (size = units)
    value = density * np.sqrt(units) + e
    capacity = np.array(draw(st.lists(st.integers(0, 6), min_size=2, max_size=2)), float)
    market = Market(demand=units[:, None], value=value, speed=np.ones((2, 1)), capacity=capacity,
                    cost=np.array([0.5, 0.25]) * scale, psi=np.array([[1.0], [2.0]]), model_types=("m",))
    price = draw(st.sampled_from([0.0, 0.5, 0.9]))
    return market, price * scale


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_tie_markets())
def test_winners_pay_exactly_their_critical_value_at_near_ties(case) -> None:
    market, price = case
    _check_exact(market, price)


def test_exact_critical_values_on_generated_markets() -> None:
    # away from ties the same: every winner wins at theta and loses one float below
    from oasis_lab.incentives import clearing_price
    from oasis_lab.market import generate_market

    served = 0
    for seed in range(3):
        m = generate_market(20, 5, scenario="scarce_supply", seed=seed)
        served += _check_exact(m, clearing_price(generate_market(20, 5, scenario="scarce_supply", seed=seed + 9)))
    assert served > 5
