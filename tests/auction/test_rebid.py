"""Re-auction of unserved tasks (section 4, last paragraph)."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from oasis_lab.auction.density import task_order
from oasis_lab.auction.greedy import run_greedy
from oasis_lab.auction.rebid import rebid, unserved_tasks
from oasis_lab.market import Market, generate_market
from oasis_lab.params import AuctionParams


def market_s() -> Market:
    # The market of test_greedy_hand.market_s: as written, task 0 takes every unit; 1, 2 fail.
    return Market(demand=[[4.0], [1.0], [2.0]], value=[24.0, 9.0, 12.0], speed=[[1.0], [1.0]],
                  capacity=[3.0, 1.0], cost=[1.0, 1.0], psi=[[1.0], [1.0]], model_types=("m",))


def test_rebid_raises_values_and_priority_by_hand():
    m = market_s()
    result = run_greedy(m)
    assert_array_equal(unserved_tasks(m, result), [1, 2])
    nxt = rebid(m, result)  # bump .1, multiplicative: 9 * 1.1 = 9.9, 12 * 1.1 = 13.2
    assert_allclose(nxt.value, [9.9, 13.2])
    assert_allclose(nxt.demand, [[1.0], [2.0]])
    assert_array_equal(nxt.priority, [1, 1])
    assert_allclose(rebid(m, result, bump=2.0, mode="additive").value, [11.0, 14.0])
    add = run_greedy(m, AuctionParams(rebid_bump=3.0, rebid_mode="additive"))
    assert_allclose(rebid(m, add).value, [12.0, 15.0])


def test_priority_puts_reauctioned_tasks_first():
    m = generate_market(40, 3, scenario="scarce_supply", seed=5)
    first = run_greedy(m)
    nxt = rebid(m, first)
    fresh = generate_market(10, 3, scenario="scarce_supply", seed=6)
    combined = Market(
        demand=np.vstack([fresh.demand, nxt.demand]),
        value=np.concatenate([fresh.value, nxt.value]),
        speed=m.speed, capacity=m.capacity, cost=m.cost, psi=m.psi, model_types=m.model_types,
        priority=np.concatenate([fresh.priority, nxt.priority]),
    )
    order = task_order(combined)
    assert set(order[: nxt.n_tasks]) == set(range(10, 10 + nxt.n_tasks))


def test_partial_results_reauction_the_remainder():
    # One task of 4 units, 3 units of capacity: partial keeps 3 (share .75); 1 unit is re-auctioned
    # with a quarter of the value, bumped: 40 / 4 * 1.1 = 11.
    m = Market(demand=[[4.0]], value=[40.0], speed=[[1.0]], capacity=[3.0], cost=[1.0],
               psi=[[1.0]], model_types=("m",))
    result = run_greedy(m, AuctionParams(partial=True))
    assert_allclose(result.served_share, [0.75])
    nxt = rebid(m, result)
    assert_allclose(nxt.demand, [[1.0]])
    assert_allclose(nxt.value, [11.0])


def test_rebid_errors():
    m = market_s()
    result = run_greedy(m)
    with pytest.raises(ValueError, match="bump"):
        rebid(m, result, bump=-1.0)
    with pytest.raises(ValueError, match="mode"):
        rebid(m, result, mode="exponential")
    with pytest.raises(ValueError, match="tasks but the market has"):
        rebid(generate_market(5, 2, seed=0), result)
    everyone = m.replace(capacity=np.array([10.0, 10.0]))
    with pytest.raises(ValueError, match="nothing to re-auction"):
        rebid(everyone, run_greedy(everyone))


def test_rebid_refuses_a_result_of_another_market():
    # Same number of tasks, fewer model types: the trades' type indices do not fit the market.
    four = generate_market(10, 4, n_types=4, seed=0)
    two = generate_market(10, 4, n_types=2, seed=0)
    result = run_greedy(four)
    assert result.trades["type"].max() >= 2
    with pytest.raises(ValueError, match="type"):
        rebid(two, result)
    with pytest.raises(TypeError, match="result"):
        rebid(four, None)
    with pytest.raises(TypeError, match="bump"):
        rebid(four, result, bump="0.1")


def test_a_raise_to_infinity_names_rebid_bump():
    m = market_s()
    with pytest.raises(ValueError, match=r"bump = 1e\+308 \(multiplicative\) raises task 1's value to inf"):
        rebid(m, run_greedy(m, AuctionParams(rebid_bump=1e308)))
