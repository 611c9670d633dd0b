"""Normalization, bid densities, pair prices, utilities and welfare (sections 4, 4.1, 4.2).

Expected values are computed by hand in the comments.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from oasis_lab.auction.density import (
    MINMAX_EPS,
    normalize_columns,
    provider_density,
    provider_order,
    task_density,
    task_order,
)
from oasis_lab.auction.pricing import (
    ask_threshold,
    pair_price,
    provider_utility,
    social_welfare,
    user_cost,
    user_utility,
)
from oasis_lab.market import Market, generate_market
from oasis_lab.params import AuctionParams


def test_normalize_max_keeps_structural_zeros():
    x = np.array([[1.0, 0.0], [3.0, 2.0], [5.0, 4.0]])
    assert_allclose(normalize_columns(x), [[0.2, 0.0], [0.6, 0.5], [1.0, 1.0]])


def test_normalize_minmax_by_hand():
    x = np.array([[1.0, 0.0], [3.0, 2.0], [5.0, 4.0]])
    eps = MINMAX_EPS
    # column 0: [1, 5] -> [eps, 1]: 3 is halfway. Column 1 (zeros structural): [2, 4] -> [eps, 1].
    out = normalize_columns(x, "minmax", structural_zeros=True)
    assert_allclose(out, [[eps, 0.0], [eps + (1 - eps) / 2, eps], [1.0, 1.0]])
    # Without structural zeros the 0 is the column minimum.
    assert_allclose(normalize_columns(x[:, 1], "minmax"), [eps, eps + (1 - eps) / 2, 1.0])
    # A constant column maps to 1; a column of zeros stays 0.
    assert_allclose(normalize_columns(np.array([[2.0, 0.0], [2.0, 0.0]]), "minmax"), [[1.0, 0.0], [1.0, 0.0]])


def test_normalize_rejects_bad_input():
    with pytest.raises(ValueError, match="method"):
        normalize_columns(np.ones(3), "sum")
    with pytest.raises(ValueError, match="finite"):
        normalize_columns(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match=">= 0"):
        normalize_columns(np.array([1.0, -1.0]))


def two_type_market() -> Market:
    # Provider 1 cannot run type b (speed 0): that type is skipped in its density, never 1/0.
    return Market(
        demand=[[1.0, 1.0], [2.0, 0.0], [0.0, 0.0]],
        value=[4.0, 2.0, 1.0],
        speed=[[2.0, 1.0], [1.0, 0.0], [0.0, 0.0]],
        capacity=[1.0, 1.0, 5.0],
        cost=[3.0, 1.0, 1.0],
        psi=[[2.0, 1.0], [1.0, 1.0], [2.0, 2.0]],
        model_types=("a", "b"),
    )


def test_provider_density_as_written_skips_types_a_provider_cannot_run():
    m = two_type_market()
    # s norm: a /2 -> 1, .5, 0; b /1 -> 1, 0, 0. Psi norm: c0 /2 -> 1, .5, 1; c1 /2 -> .5, .5, 1.
    # p0: 1/1 + 1/1 + (1 + .5) = 3.5; p1: 1/.25 + (.5 + .5) = 5; p2 runs nothing: -inf.
    assert_allclose(provider_density(m), [np.sqrt(3.5), np.sqrt(5.0), -np.inf])
    assert_array_equal(provider_order(m), [1, 0, 2])
    # capability: p0 1 + 1 + 1.5 = 3.5; p1 .25 + 1 = 1.25.
    cap = AuctionParams(provider_density="capability")
    assert_allclose(provider_density(m, cap), [np.sqrt(3.5), np.sqrt(1.25), -np.inf])
    # weights (2, 0): p0 1 + 1 + 2 = 4; p1 .25 + 1 = 1.25.
    weighted = AuctionParams(provider_density="capability", psi_weights=(2.0, 0.0))
    assert_allclose(provider_density(m, weighted), [2.0, np.sqrt(1.25), -np.inf])
    # unit cost: c / sum s = 3 / 3 = 1, 1 / 1 = 1 (tie kept in market order), runs nothing last.
    uc = AuctionParams(provider_density="unit_cost")
    assert_allclose(provider_density(m, uc), [-1.0, -1.0, -np.inf])
    assert_array_equal(provider_order(m, uc), [0, 1, 2])


def test_task_density_readings():
    m = two_type_market()
    # C norm: a /2 -> .5, 1, 0; b /1 -> 1, 0, 0. v norm /4 -> 1, .5, .25.
    # t0 sqrt(.25 + 1 + 1) = 1.5; t1 sqrt(1 + .25); t2 is empty: -inf.
    assert_allclose(task_density(m), [1.5, np.sqrt(1.25), -np.inf])
    # surplus: e = t log2 t + 1: t0 2 -> 3, t1 2 -> 3: (4 - 3) / sqrt(2), (2 - 3) / sqrt(2).
    s = AuctionParams(task_density="surplus")
    assert_allclose(task_density(m, s), [1 / np.sqrt(2), -1 / np.sqrt(2), -np.inf])
    assert_array_equal(task_order(m, s), [0, 1, 2])


def test_as_written_task_density_prefers_big_bundles():
    # Same value per unit (2); the bigger bundle ranks first as written, last by surplus density
    # once the user cost t log t grows faster than the value.
    m = Market(
        demand=[[1.0], [8.0]], value=[2.0, 16.0], speed=[[1.0]], capacity=[1.0], cost=[1.0],
        psi=[[1.0]], model_types=("m",),
    )
    assert_array_equal(task_order(m), [1, 0])
    # surplus: (2 - 1) / 1 = 1 vs (16 - 25) / sqrt(8) < 0
    assert_array_equal(task_order(m, AuctionParams(task_density="surplus")), [0, 1])


def test_user_cost_by_hand():
    # e = t log_alpha t + beta: 8 log2 8 + 1 = 25; 9 log3 9 + 2 = 20; 0 -> beta
    assert_allclose(user_cost(np.array([8.0, 1.0, 0.0]), 2, 1), [25.0, 1.0, 1.0])
    assert_allclose(user_cost(np.array([9.0]), 3, 2), [20.0])
    with pytest.warns(RuntimeWarning, match=r"\(0, 1\)"):
        user_cost(np.array([0.5]))


def test_pair_price_rules():
    pp = np.array([2.0, 6.0, 4.0])
    pt = np.array([4.0, 4.0, 4.0])
    price, trades = pair_price(pp, pt, "as_written")
    # midpoints 3, 5, 4; the second is outside [6, 4] -> falls back to the provider's 6.
    assert_allclose(price, [3.0, 6.0, 4.0])
    assert trades.all()
    price, trades = pair_price(pp, pt, "no_trade")
    assert_array_equal(trades, [True, False, True])
    assert_allclose(price[trades], [3.0, 4.0])
    # fee .5: threshold ask * 1.5 / .5 = 3 ask = 6, 18, 12, all above p_task 4: nothing trades.
    # With p_task 7 the first does, at (2 + 7) / 2 = 4.5, the provider netting 2.25 >= 2.
    assert not pair_price(pp, pt, "no_trade", fee=0.5)[1].any()
    price, trades = pair_price(2.0, 7.0, "no_trade", fee=0.5)
    assert trades and price == pytest.approx(4.5) and 0.5 * price >= 2.0
    assert_allclose(ask_threshold(np.array([2.0]), 0.5), [6.0])
    with pytest.raises(ValueError, match="price_rule"):
        pair_price(pp, pt, "vickrey")
    with pytest.raises(ValueError, match="fee"):
        ask_threshold(pp, 1.0)


def test_utilities_and_welfare_by_hand():
    m = two_type_market()
    # e = 3, 3, 1. Served shares 1, .5, 0; payments 2, 1, 0.
    assert_allclose(user_utility(m.value, np.array([3.0, 3.0, 1.0]), np.array([2.0, 1.0, 0.0]),
                                 np.array([1.0, 0.5, 0.0])), [4 - 3 - 2, 0.5 * (2 - 3) - 1, 0.0])
    assert_allclose(provider_utility([5.0, 0.0], [3.0, 0.0]), [2.0, 0.0])
    # Task 0 served: p0 one a and one b (unit cost 3 / 3 = 1 each).
    units = np.array([[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
    assert social_welfare(m, np.array([1.0, 0.0, 0.0]), units) == pytest.approx((4 - 3) - 2)
    # capacity="time": unit cost c / s: a 3/2, b 3/1 -> 4.5
    assert social_welfare(m, np.array([1.0, 0.0, 0.0]), units, AuctionParams(capacity="time")) == pytest.approx(1 - 4.5)
    with pytest.raises(ValueError, match="units has shape"):
        social_welfare(m, np.zeros(3), np.zeros((2, 2)))


def test_density_and_price_arrays_have_the_market_shapes():
    m = generate_market(50, 7, seed=0)
    assert task_density(m).shape == (50,)
    assert provider_density(m).shape == (7,)
    assert sorted(task_order(m)) == list(range(50))
    assert sorted(provider_order(m)) == list(range(7))


def test_task_size_reading_uses_the_size_column():
    from oasis_lab.auction.pricing import user_costs

    m = Market(demand=[[4.0], [2.0]], value=[30.0, 30.0], speed=[[1.0]], capacity=[6.0],
               cost=[1.0], psi=[[1.0]], model_types=("m",), size=[8.0, 1.0])
    # units: 4 log2 4 + 1 = 9, 2 log2 2 + 1 = 3; size: 8 log2 8 + 1 = 25, 1 log2 1 + 1 = 1
    assert_allclose(user_costs(m), [9.0, 3.0])
    assert_allclose(user_costs(m, AuctionParams(task_size="size")), [25.0, 1.0])
    # The surplus density follows: (30 - 25) / 2 < (30 - 1) / sqrt(2).
    s = AuctionParams(task_size="size", task_density="surplus")
    assert_allclose(task_density(m, s), [2.5, 29 / np.sqrt(2)])


def test_user_cost_has_one_definition_below_the_auction():
    # generate_market (market layer) prices bundles with the same function pricing uses.
    import oasis_lab.auction.pricing as pricing
    import oasis_lab.market as market

    assert pricing.user_cost is market.user_cost
    t = np.array([1.0, 3.0, 7.0, 12.0])
    # at the default alpha = 2 it is exactly t log2 t + 1
    assert_array_equal(user_cost(t), t * np.log2(t) + 1.0)
