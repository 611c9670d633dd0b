"""PRICES on 3 tasks x 2 providers, checked trade by trade against the whitepaper's steps.

Every expected number below is computed by hand in the comments from section 4
(``e_i = t_i log2 t_i + 1``, per-unit prices of 4.1, the densities and walk of 4.2), not by
running the code. Default readings unless a test says otherwise: ``alpha=2, beta=1``,
normalize by column max, densities as written, ``price_rule="no_trade"``, all-or-nothing,
``capacity="units"``, ``split=True``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from oasis_lab.auction.density import provider_order, task_density, task_order
from oasis_lab.auction.greedy import run_greedy
from oasis_lab.auction.metrics import (
    check_budget_balance,
    check_feasible,
    check_individual_rationality,
    check_prices,
)
from oasis_lab.market import Market
from oasis_lab.params import AuctionParams


def market_a() -> Market:
    """One model type. Tasks C = 2, 4, 1 units, v = 11, 12, 8; providers s = 1, 2, w = 3, 4, c = 2, 8.

    e = t log2 t + 1: e0 = 2*1 + 1 = 3, e1 = 4*2 + 1 = 9, e2 = 0 + 1 = 1.
    Task per-unit price v / units: 5.5, 3, 8. Provider per-unit price c / s: 2, 4.
    Normalized (column max): C = .5, 1, .25; v = 11/12, 1, 8/12.
    bd_task = sqrt(C^2 + v^2): t0 sqrt(.25 + .8403) = 1.044, t1 sqrt(2) = 1.414,
    t2 sqrt(.0625 + .4444) = .712  ->  G = [1, 0, 2].
    s normalized: .5, 1; Psi normalized: 1, 1.
    bd_provider = sqrt(1/s^2 + Psi): p0 sqrt(4 + 1) = 2.236, p1 sqrt(1 + 1) = 1.414 -> H = [0, 1]
    (the slower provider first, as written).
    """
    return Market(
        demand=[[2.0], [4.0], [1.0]],
        value=[11.0, 12.0, 8.0],
        speed=[[1.0], [2.0]],
        capacity=[3.0, 4.0],
        cost=[2.0, 8.0],
        psi=[[1.0], [1.0]],
        model_types=("m",),
    )


def market_partial() -> Market:
    """One type. C = 4, 2, 1; v = 40, 11, 8; s = 1, 1; w = 2, 1; c = 2, 4.

    e = 9, 3, 1; surplus v - e = 31, 8, 7; task prices 10, 5.5, 8; provider prices 2, 4.
    C norm 1, .5, .25; v norm 1, .275, .2: bd_task t0 1.414, t1 sqrt(.25 + .0756) = .571,
    t2 sqrt(.0625 + .04) = .320 -> G = [0, 1, 2]. Providers tie (s norm 1, Psi 1) -> H = [0, 1].
    """
    return Market(
        demand=[[4.0], [2.0], [1.0]],
        value=[40.0, 11.0, 8.0],
        speed=[[1.0], [1.0]],
        capacity=[2.0, 1.0],
        cost=[2.0, 4.0],
        psi=[[1.0], [1.0]],
        model_types=("m",),
    )


def market_s() -> Market:
    """One type. C = 4, 1, 2; v = 24, 9, 12; s = 1, 1; w = 3, 1; c = 1, 1.

    e = 9, 1, 3; surplus 15, 8, 9; task prices 6, 9, 6; provider prices 1, 1 (tie: H = [0, 1]).
    As written: C norm 1, .25, .5; v norm 1, .375, .5: t0 sqrt(2) = 1.414,
    t1 sqrt(.0625 + .1406) = .451, t2 sqrt(.25 + .25) = .707 -> G = [0, 2, 1].
    Surplus density (v - e) / sqrt(units): 15/2 = 7.5, 8/1 = 8, 9/sqrt(2) = 6.36 -> G = [1, 0, 2].
    """
    return Market(
        demand=[[4.0], [1.0], [2.0]],
        value=[24.0, 9.0, 12.0],
        speed=[[1.0], [1.0]],
        capacity=[3.0, 1.0],
        cost=[1.0, 1.0],
        psi=[[1.0], [1.0]],
        model_types=("m",),
    )


def market_t() -> Market:
    """Two types a, b. Tasks C = (2, 0), (0, 2), (1, 1), v = 30 each; providers
    s0 = (2, .5), s1 = (1, .5), w = 2, 2, c = 2, 3, Psi = 1, 5.

    e = 2 log2 2 + 1 = 3 each; task price 30 / 2 = 15 each.
    capacity="units": provider price c / sum s: p0 2 / 2.5 = .8, p1 3 / 1.5 = 2.
    capacity="time": unit cost c / s[j, t]: p0 a 1, b 4; p1 a 3, b 6; time per unit 1/s:
    p0 a .5, b 2; p1 a 1, b 2.
    C norm (col max 2): (1, 0), (0, 1), (.5, .5); v norm 1: bd_task t0 = t1 = sqrt(2),
    t2 = sqrt(1.5) -> G = [0, 1, 2] (tie kept in market order).
    s norm: col a max 2 -> p0 1, p1 .5; col b max .5 -> 1, 1. Psi norm: .2, 1.
    As written: p0 sqrt(1 + 1 + .2) = 1.483, p1 sqrt(4 + 1 + 1) = 2.449 -> H = [1, 0].
    Capability: p0 sqrt(1 + 1 + .2) = 1.483, p1 sqrt(.25 + 1 + 1) = 1.5 -> H = [1, 0];
    with Psi weight 0: p0 sqrt(2) = 1.414, p1 sqrt(1.25) = 1.118 -> H = [0, 1].
    Unit cost: .8 < 2 -> H = [0, 1].
    """
    return Market(
        demand=[[2.0, 0.0], [0.0, 2.0], [1.0, 1.0]],
        value=[30.0, 30.0, 30.0],
        speed=[[2.0, 0.5], [1.0, 0.5]],
        capacity=[2.0, 2.0],
        cost=[2.0, 3.0],
        psi=[[1.0], [5.0]],
        model_types=("a", "b"),
    )


def trades_of(result) -> list[tuple]:
    tr = result.trades
    return [
        (int(r.task), int(r.provider), int(r.type), float(r.units), float(r.unit_price))
        for r in tr.itertuples()
    ]


def assert_consistent(market: Market, result) -> None:
    """The independent checkers agree with the hand computation being feasible and balanced."""
    assert check_feasible(market, result)
    assert check_budget_balance(market, result)
    assert check_prices(market, result)
    ir = check_individual_rationality(market, result)
    assert ir.counts["count_mismatch"] == 0


def test_orders_of_market_a_are_the_hand_computed_ones():
    m = market_a()
    assert_allclose(task_density(m), [np.sqrt(0.25 + (11 / 12) ** 2), np.sqrt(2), np.sqrt(0.0625 + (8 / 12) ** 2)])
    assert_array_equal(task_order(m), [1, 0, 2])
    assert_array_equal(provider_order(m), [0, 1])


def test_default_reading_market_a():
    m = market_a()
    r = run_greedy(m)
    # G = [1, 0, 2], H = [0, 1].
    # Task 1 (4 units, p_task 3, budget v - e = 3): p0 ask 2 <= 3, takes min(4, 3) = 3 units at
    #   (2 + 3) / 2 = 2.5 -> pays 7.5 > 3: user IR fails, roll back (p0 gets its 3 units back).
    # Task 0 (2 units, p_task 5.5, budget 8): p0, 2 units at (2 + 5.5) / 2 = 3.75 -> 7.5 <= 8.
    # Task 2 (1 unit, p_task 8, budget 7): p0 has 1 left, 1 unit at (2 + 8) / 2 = 5 -> 5 <= 7.
    assert trades_of(r) == [(0, 0, 0, 2.0, 3.75), (2, 0, 0, 1.0, 5.0)]
    assert_array_equal(r.served, [True, False, True])
    assert_allclose(r.task_payment, [7.5, 0.0, 5.0])
    # user utility v - (payment + e): 11 - 7.5 - 3 = .5, 0, 8 - 5 - 1 = 2
    assert_allclose(r.user_utility, [0.5, 0.0, 2.0])
    # p0 earns 12.5 for 3 units at unit cost 2: 12.5 - 6 = 6.5
    assert_allclose(r.provider_revenue, [12.5, 0.0])
    assert_allclose(r.provider_utility, [6.5, 0.0])
    # welfare = (11 - 3) + (8 - 1) - 3 * 2 = 9
    assert r.welfare == pytest.approx(9.0)
    assert (r.ir_violations_users, r.ir_violations_providers) == (0, 0)
    assert r.budget_surplus == 0.0
    assert_consistent(m, r)


def test_as_written_price_rule_market_a():
    m = market_a()
    r = run_greedy(m, AuctionParams(price_rule="as_written"))
    # Task 1: p0 3 units at 2.5 (7.5); p0 exhausted, j += 1: p1 ask 4 > p_task 3, the midpoint
    #   3.5 is outside [4, 3], so P = 4: 1 unit at 4. Paid 11.5; the budget is only tracked.
    # Task 0: p1 (3 left): 2 units at (4 + 5.5) / 2 = 4.75 -> 9.5.
    # Task 2: p1 (1 left): 1 unit at (4 + 8) / 2 = 6.
    assert trades_of(r) == [
        (1, 0, 0, 3.0, 2.5),
        (1, 1, 0, 1.0, 4.0),
        (0, 1, 0, 2.0, 4.75),
        (2, 1, 0, 1.0, 6.0),
    ]
    assert r.served.all()
    # users: 11 - 9.5 - 3 = -1.5, 12 - 11.5 - 9 = -8.5, 8 - 6 - 1 = 1 -> 2 IR violations
    assert_allclose(r.user_utility, [-1.5, -8.5, 1.0])
    assert r.ir_violations_users == 2
    # providers: p0 7.5 - 3 * 2 = 1.5; p1 (4 + 9.5 + 6) - 4 * 4 = 3.5
    assert_allclose(r.provider_utility, [1.5, 3.5])
    assert r.ir_violations_providers == 0
    # welfare = (8 + 3 + 7) - (6 + 16) = -4
    assert r.welfare == pytest.approx(-4.0)
    assert_consistent(m, r)


def test_split_false_market_a_as_written():
    m = market_a()
    r = run_greedy(m, AuctionParams(price_rule="as_written", split=False))
    # Task 1 (4 units) needs one provider with 4 units: p0 has 3, p1 has 4 -> p1 at P = 4
    #   (ask 4 > p_task 3, fallback): 16.
    # Task 0 (2 units): p0 has 3 -> 2 units at 3.75.  Task 2: p0 has 1 -> 1 unit at 5.
    assert trades_of(r) == [(1, 1, 0, 4.0, 4.0), (0, 0, 0, 2.0, 3.75), (2, 0, 0, 1.0, 5.0)]
    # users: 12 - 16 - 9 = -13, 11 - 7.5 - 3 = .5, 8 - 5 - 1 = 2
    assert_allclose(r.user_utility, [0.5, -13.0, 2.0])
    assert r.ir_violations_users == 1
    # welfare = 18 - (3 * 2 + 4 * 4) = -4
    assert r.welfare == pytest.approx(-4.0)
    assert_consistent(m, r)


def test_fee_market_a():
    m = market_a()
    r = run_greedy(m, AuctionParams(fee=0.25))
    # no_trade with fee f: trade iff p_task >= ask (1 + f) / (1 - f) = ask * 5/3:
    #   p0 3.33, p1 6.67. Task 1 (p_task 3) trades with nobody -> unserved.
    # Task 0 (5.5 >= 3.33): p0 2 units at 3.75 = 7.5 <= 8. Task 2 (8): p0 1 unit at 5.
    assert trades_of(r) == [(0, 0, 0, 2.0, 3.75), (2, 0, 0, 1.0, 5.0)]
    # The platform keeps 25% of 12.5 = 3.125; p0 gets 9.375, utility 9.375 - 6 = 3.375.
    assert r.budget_surplus == pytest.approx(3.125)
    assert_allclose(r.provider_revenue, [9.375, 0.0])
    assert_allclose(r.provider_utility, [3.375, 0.0])
    assert r.welfare == pytest.approx(9.0)  # transfers do not change welfare
    assert_consistent(m, r)


def test_partial_reading():
    m = market_partial()
    # All-or-nothing: task 0 gets p0 2 units at (2 + 10) / 2 = 6 and p1 1 unit at 7, 1 unit
    #   short: rolled back. Task 1: p0 2 units at 3.75 = 7.5 <= 8. Task 2: p1 1 unit at 6 <= 7.
    r = run_greedy(m)
    assert trades_of(r) == [(1, 0, 0, 2.0, 3.75), (2, 1, 0, 1.0, 6.0)]
    # welfare = 8 + 7 - (2 * 2 + 1 * 4) = 7
    assert r.welfare == pytest.approx(7.0)
    # Partial: task 0 keeps 3 of 4 units (share .75); pays 12 + 7 = 19 <= .75 * 31 = 23.25.
    rp = run_greedy(m, AuctionParams(partial=True))
    assert trades_of(rp) == [(0, 0, 0, 2.0, 6.0), (0, 1, 0, 1.0, 7.0)]
    assert_allclose(rp.served_share, [0.75, 0.0, 0.0])
    assert_array_equal(rp.served, [True, False, False])
    # user utility .75 * (40 - 9) - 19 = 4.25; welfare 23.25 - 8 = 15.25
    assert_allclose(rp.user_utility, [4.25, 0.0, 0.0])
    assert rp.welfare == pytest.approx(15.25)
    assert_consistent(m, rp)


def test_surplus_density_and_priority_market_s():
    m = market_s()
    assert_array_equal(task_order(m), [0, 2, 1])
    assert_array_equal(task_order(m, AuctionParams(task_density="surplus")), [1, 0, 2])
    # As written: task 0 (4 units, p_task 6, budget 15): p0 3 units at (1 + 6) / 2 = 3.5, p1 1
    #   unit at 3.5: 14 <= 15, served; nothing left for tasks 2 and 1. Welfare 15 - 4 = 11.
    r = run_greedy(m)
    assert trades_of(r) == [(0, 0, 0, 3.0, 3.5), (0, 1, 0, 1.0, 3.5)]
    assert r.welfare == pytest.approx(11.0)
    # Surplus: task 1: p0 1 unit at (1 + 9) / 2 = 5. Task 0: p0 2 + p1 1 = 3 < 4, rolled back.
    #   Task 2 (p_task 6): p0 2 units at 3.5 = 7 <= 9. Welfare 8 + 9 - 3 = 14 > 11.
    rs = run_greedy(m, AuctionParams(task_density="surplus"))
    assert trades_of(rs) == [(1, 0, 0, 1.0, 5.0), (2, 0, 0, 2.0, 3.5)]
    assert rs.welfare == pytest.approx(14.0)
    assert_consistent(m, rs)
    # Re-auction priority sorts before density: priority (0, 1, 0) -> G = [1, 0, 2], so the
    #   as-written walk serves task 1 first, rolls back task 0 and serves task 2, as above.
    mp = m.replace(priority=np.array([0, 1, 0]))
    assert_array_equal(task_order(mp), [1, 0, 2])
    assert trades_of(run_greedy(mp)) == [(1, 0, 0, 1.0, 5.0), (2, 0, 0, 2.0, 3.5)]


def test_provider_density_readings_market_t():
    m = market_t()
    assert_array_equal(provider_order(m), [1, 0])
    assert_array_equal(provider_order(m, AuctionParams(provider_density="capability")), [1, 0])
    assert_array_equal(
        provider_order(m, AuctionParams(provider_density="capability", psi_weights=(0.0,))), [0, 1]
    )
    assert_array_equal(provider_order(m, AuctionParams(provider_density="unit_cost")), [0, 1])
    # H = [1, 0]: task 0 (a: 2): p1 2 units at (2 + 15) / 2 = 8.5, p1 full.
    #   Task 1 (b: 2): p0 2 units at (.8 + 15) / 2 = 7.9, p0 full. Task 2: nobody left.
    #   Welfare (30 - 3) * 2 - (2 * 2 + 2 * .8) = 48.4.
    r = run_greedy(m)
    assert trades_of(r) == [(0, 1, 0, 2.0, 8.5), (1, 0, 1, 2.0, 7.9)]
    assert r.welfare == pytest.approx(48.4)
    # H = [0, 1] (unit cost): task 0 takes p0 (a at 7.9), task 1 takes p1 (b at 8.5).
    ru = run_greedy(m, AuctionParams(provider_density="unit_cost"))
    assert trades_of(ru) == [(0, 0, 0, 2.0, 7.9), (1, 1, 1, 2.0, 8.5)]
    assert ru.welfare == pytest.approx(48.4)
    assert_consistent(m, ru)


def test_capacity_per_type_market_t():
    m = market_t()
    r = run_greedy(m, AuctionParams(capacity_per_type=True))
    # w applies to each type: p1 has 2 of a and 2 of b, p0 too. H = [1, 0].
    # Task 0: p1 a 2 units at 8.5. Task 1: p1 b 2 units at 8.5.
    # Task 2: a from p0 (p1's a is used up) at 7.9, b from p0 at 7.9.
    assert trades_of(r) == [
        (0, 1, 0, 2.0, 8.5),
        (1, 1, 1, 2.0, 8.5),
        (2, 0, 0, 1.0, 7.9),
        (2, 0, 1, 1.0, 7.9),
    ]
    # welfare 3 * 27 - (4 * 2 + 2 * .8) = 71.4
    assert r.welfare == pytest.approx(71.4)
    assert_consistent(m, r)


def test_capacity_time_market_t():
    m = market_t()
    r = run_greedy(m, AuctionParams(capacity="time"))
    # w is time; a unit of type t takes 1/s[j, t]; prices use c / s[j, t]. H = [1, 0].
    # Task 0 (a: 2): p1 a room 2 / 1 = 2 units at (3 + 15) / 2 = 9 -> p1 time 0.
    # Task 1 (b: 2): p0 b room 2 / 2 = 1 unit at (4 + 15) / 2 = 9.5, then nobody: rolled back.
    # Task 2 (a: 1, b: 1): a from p0 (room 4) at (1 + 15) / 2 = 8, time left 2 - .5 = 1.5;
    #   b from p0: room 1.5 / 2 = .75 unit, .25 short: rolled back.
    assert trades_of(r) == [(0, 1, 0, 2.0, 9.0)]
    assert_array_equal(r.served, [True, False, False])
    # welfare 27 - 2 * 3 = 21
    assert r.welfare == pytest.approx(21.0)
    assert_consistent(m, r)
    # The same market in units: task 2 also fails, but task 1 is served (48.4 above).
    assert run_greedy(m).served.tolist() == [True, True, False]


def test_trades_frame_has_the_contract_columns():
    r = run_greedy(market_a())
    assert list(r.trades.columns) == ["task", "provider", "type", "units", "unit_price"]
    summary = r.summary()
    assert isinstance(summary, pd.DataFrame) and len(summary) == 1
    assert summary.loc[0, "welfare"] == pytest.approx(9.0)
    assert summary.loc[0, "tasks_served"] == 2


def test_minmax_normalization_reorders_tasks():
    # One type. Tasks C = 10, 5, 1 units, v = 50, 45, 49. Providers s = 1, 1; w = 5, 1;
    # c = 1, 100 (provider prices 1 and 100; equal densities: H = [0, 1]).
    m = Market(demand=[[10.0], [5.0], [1.0]], value=[50.0, 45.0, 49.0], speed=[[1.0], [1.0]],
               capacity=[5.0, 1.0], cost=[1.0, 100.0], psi=[[1.0], [1.0]], model_types=("m",))
    # max: C/10 = 1, .5, .1; v/50 = 1, .9, .98 -> t0 2, t1 .25 + .81 = 1.06,
    #   t2 .01 + .9604 = .9704 -> G = [0, 1, 2].
    # minmax ([min, max] -> [.001, 1]): C -> 1, .001 + .999 * 4/9 = .445, .001;
    #   v ([45, 50]) -> 1, .001, .001 + .999 * .8 = .8002 -> t0 2, t1 .198, t2 .640 -> G = [0, 2, 1].
    assert_array_equal(task_order(m), [0, 1, 2])
    assert_array_equal(task_order(m, AuctionParams(normalize="minmax")), [0, 2, 1])
    # e = t log2 t + 1: t0 10 * 3.3219 + 1 = 34.22 (budget 15.78), t1 5 * 2.3219 + 1 = 12.61
    #   (budget 32.39), t2 1 (budget 48). Task prices 5, 9, 49.
    # max order: t0 takes p0's 5 units at (1 + 5) / 2 = 3 (15 <= 15.78), p1 asks 100 > 5: 5
    #   units short, rolled back. t1: p0 5 units at 5 = 25 <= 32.39. t2: p0 is full, p1 asks
    #   100 > 49: unserved. Welfare 45 - 12.61 - 5 = 27.39.
    r = run_greedy(m)
    assert trades_of(r) == [(1, 0, 0, 5.0, 5.0)]
    assert r.welfare == pytest.approx(45 - (5 * np.log2(5) + 1) - 5)
    # minmax order: t0 rolled back as before; t2: p0 1 unit at (1 + 49) / 2 = 25 <= 48;
    #   t1: p0's 4 units, 1 short: rolled back. Welfare 49 - 1 - 1 = 47.
    rm = run_greedy(m, AuctionParams(normalize="minmax"))
    assert trades_of(rm) == [(2, 0, 0, 1.0, 25.0)]
    assert rm.welfare == pytest.approx(47.0)
    assert_consistent(m, rm)
