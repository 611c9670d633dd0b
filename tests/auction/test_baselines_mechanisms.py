"""VCG, McAfee, SBBA and the exponential-mechanism clearing price: hand cases and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from oasis_lab.auction.baselines import (
    dp_clearing_price,
    efficient_trades,
    gains_from_trade,
    mcafee,
    run_double_auction,
    sbba,
    solve_optimum,
    unit_demand_market,
    unit_sides,
    vcg,
)
from oasis_lab.auction.pricing import user_costs
from oasis_lab.market import Market, generate_market


def _unit_market(net_values, asks, capacity=None) -> Market:
    """One type, unit-demand tasks with net values ``v - e`` (e = beta = 1), one unit per seller."""
    asks = np.asarray(asks, dtype=float)
    n = asks.shape[0]
    return Market(
        demand=np.ones((len(net_values), 1)),
        value=np.asarray(net_values, dtype=float) + 1.0,
        speed=np.ones((n, 1)),
        capacity=np.ones(n) if capacity is None else capacity,
        cost=asks,
        psi=np.ones((n, 1)),
        model_types=("m",),
    )


# ---------------------------------------------------------------------------- VCG
def test_vcg_hand_example() -> None:
    # Two buyers (net 10 and 6) and one unit at cost 2. W* = 8; without buyer 0: 4, so it
    # pays 4 - (8 - 10) = 6 (the higher of the runner-up's bid and the ask). Without the
    # provider: 0, so it receives 8 - 0 + 2 = 10. Deficit 4.
    res = vcg(_unit_market([10.0, 6.0], [2.0]))
    assert res.status == "optimal" and res.welfare == pytest.approx(8.0)
    np.testing.assert_allclose(res.payments, [6.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(res.revenues, [10.0], atol=1e-7)
    np.testing.assert_allclose(res.user_utility, [4.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(res.provider_utility, [8.0], atol=1e-7)
    assert res.budget_surplus == pytest.approx(-4.0)
    assert res.n_solves == 3


def test_vcg_is_individually_rational_and_its_budget_is_measured() -> None:
    """IR always; the budget is payments - revenues, and its sign is not fixed: a surplus
    occurs with all-or-nothing bundles (scarce_supply, seed 4), a deficit elsewhere."""
    signs = set()
    for seed, scenario in [(0, "balanced"), (1, "price_crossing"), (4, "scarce_supply")]:
        res = vcg(generate_market(20, 10, scenario=scenario, seed=seed))
        assert res.status == "optimal"
        assert res.ir_violations_users == 0 and res.ir_violations_providers == 0
        assert res.budget_surplus == pytest.approx(res.payments.sum() - res.revenues.sum())
        signs.add(bool(res.budget_surplus > 1e-6))
    assert signs == {True, False}


def test_vcg_truthful_spot_check() -> None:
    """No task gains by reporting another value (on a grid) in sampled markets."""
    for seed in range(2):
        m = generate_market(7, 3, n_types=1, scenario="scarce_supply", seed=seed)
        true_net = m.value - user_costs(m)  # e_i depends on the task's size, not its report
        truth = vcg(m)
        for i in range(m.n_tasks):
            for factor in (0.5, 0.9, 1.2, 2.0):
                lie = m.value.copy()
                lie[i] *= factor
                res = vcg(m.replace(value=lie))
                u_lie = res.optimum.served[i] * true_net[i] - res.payments[i]
                assert u_lie <= truth.user_utility[i] + 1e-6, (seed, i, factor)


def test_vcg_refuses_large_markets() -> None:
    with pytest.raises(ValueError, match="n_tasks = 40 > max_tasks = 30"):
        vcg(generate_market(40, 5))


# ---------------------------------------------------------------------------- McAfee, SBBA
def test_mcafee_hand_examples() -> None:
    # k = 3 (6 >= 5, 4 < 7); p0 = (4 + 7) / 2 = 5.5 lies in [s_3, b_3] = [5, 6]: 3 trades at 5.5.
    res = mcafee([10, 8, 6, 4], [1, 3, 5, 7])
    assert (res.n_trades, res.efficient_trades) == (3, 3)
    assert res.buyer_price == res.seller_price == 5.5 and res.budget_surplus == 0.0
    # b_4 = 5.2, s_4 = 9: p0 = 7.1 > b_3 = 6, so the 3rd pair is dropped: buyers pay 6,
    # sellers get 5, surplus 2 * (6 - 5) = 2.
    res = mcafee([10, 8, 6, 5.2], [1, 3, 5, 9])
    assert res.n_trades == 2 and res.buyer_price == 6 and res.seller_price == 5
    assert res.budget_surplus == pytest.approx(2.0)
    assert sorted(res.buyers.tolist()) == [0, 1] and sorted(res.sellers.tolist()) == [0, 1]
    assert res.welfare == pytest.approx(10 + 8 - 1 - 3) and res.optimal_welfare == pytest.approx(15)
    # No (k+1)-th agent on one side: trade reduction.
    res = mcafee([10, 8], [1, 3, 20])
    assert res.n_trades == 1 and res.buyer_price == 8 and res.seller_price == 3
    assert mcafee([1.0], [2.0]).n_trades == 0


def test_sbba_hand_examples() -> None:
    # k = 3; s_4 = 7 > b_3 = 6: price 6, buyers 1-2 trade, 2 of the 3 cheapest sellers.
    res = sbba([10, 8, 6, 4], [1, 3, 5, 7], seed=0)
    assert res.n_trades == 2 and res.buyer_price == res.seller_price == 6
    assert set(res.sellers.tolist()) < {0, 1, 2} and sorted(res.buyers.tolist()) == [0, 1]
    np.testing.assert_allclose(res.seller_trade_probability, [2 / 3, 2 / 3, 2 / 3, 0])
    # s_4 = 5.5 <= b_3 = 6: price 5.5 and all 3 efficient trades.
    res = sbba([10, 8, 6, 4], [1, 3, 5, 5.5])
    assert res.n_trades == 3 and res.buyer_price == 5.5 and res.budget_surplus == 0.0
    # The lottery is seeded.
    a = [sbba([10, 8, 6, 4], [1, 3, 5, 7], seed=s).sellers.tolist() for s in range(12)]
    assert a == [sbba([10, 8, 6, 4], [1, 3, 5, 7], seed=s).sellers.tolist() for s in range(12)]
    assert len({tuple(x) for x in a}) > 1


def _utilities(mech: str, bids: np.ndarray, asks: np.ndarray, true_b: np.ndarray, true_s: np.ndarray):
    res = mcafee(bids, asks) if mech == "mcafee" else sbba(bids, asks, seed=0)
    return res.buyer_utility(true_b), res.seller_expected_utility(true_s)


@pytest.mark.parametrize("mech", ["mcafee", "sbba"])
def test_truthfulness_spot_checks(mech: str) -> None:
    """Unit demand, unit supply: no buyer or seller gains by misreporting on a grid."""
    rng = np.random.default_rng(5)
    grid = np.linspace(0.0, 20.0, 41) + 0.013  # off the draws, no ties
    for _ in range(25):
        n_b, n_s = rng.integers(2, 8, size=2)
        bids = rng.uniform(0, 20, n_b)
        asks = rng.uniform(0, 20, n_s)
        u_b, u_s = _utilities(mech, bids, asks, bids, asks)
        for i in range(n_b):
            for lie in grid:
                b = bids.copy()
                b[i] = lie
                assert _utilities(mech, b, asks, bids, asks)[0][i] <= u_b[i] + 1e-9
        for j in range(n_s):
            for lie in grid:
                s = asks.copy()
                s[j] = lie
                assert _utilities(mech, bids, s, bids, asks)[1][j] <= u_s[j] + 1e-9


@settings(max_examples=150, deadline=None)
@given(
    bids=st.lists(st.floats(0, 100, allow_nan=False), min_size=0, max_size=12),
    asks=st.lists(st.floats(0, 100, allow_nan=False), min_size=0, max_size=12),
    seed=st.integers(0, 2**16),
)
def test_trade_reduction_properties(bids: list[float], asks: list[float], seed: int) -> None:
    k = efficient_trades(bids, asks)
    b, s = np.asarray(bids), np.asarray(asks)
    opt = np.sort(b)[::-1][:k].sum() - np.sort(s)[:k].sum()
    for res in (mcafee(bids, asks), sbba(bids, asks, seed=seed)):
        assert res.efficient_trades == k
        assert res.n_trades in (k, max(k - 1, 0))  # at most one efficient trade lost
        assert res.optimal_welfare == pytest.approx(opt)
        assert res.welfare <= opt + 1e-9
        if res.n_trades:  # IR: each trader pays at most its bid, gets at least its ask
            assert (b[res.buyers] >= res.buyer_price - 1e-12).all()
            assert (s[res.sellers] <= res.seller_price + 1e-12).all()
        assert len(set(res.buyers.tolist())) == res.n_trades == len(set(res.sellers.tolist()))
    assert mcafee(bids, asks).budget_surplus >= -1e-12  # weak budget balance
    assert sbba(bids, asks, seed=seed).budget_surplus == 0.0  # strong budget balance


def test_market_level_double_auction_matches_ilp() -> None:
    """On a unit-demand market the ILP optimum is the gains from the k efficient trades."""
    for seed, scenario in enumerate(["balanced", "scarce_supply", "price_crossing"]):
        m = unit_demand_market(generate_market(60, 40, n_types=1, scenario=scenario, seed=seed))
        assert m.n_types == 1 and set(np.unique(m.demand)) == {1.0}
        res = run_double_auction(m, "mcafee")
        assert solve_optimum(m).welfare == pytest.approx(res.optimal_welfare, rel=1e-7)
        trades = res.trades()
        assert {"task", "provider"} <= set(trades.columns)
        # Each provider sells at most its capacity in units.
        sold = trades.groupby("provider").size()
        assert (sold.to_numpy() <= m.capacity[sold.index.to_numpy()]).all()


def test_unit_sides_and_derived_market() -> None:
    m = generate_market(30, 10, n_types=3, seed=2)
    u = unit_demand_market(m, model_type=1)
    wants = m.demand[:, 1] > 0
    assert u.n_tasks == wants.sum()
    np.testing.assert_allclose(u.value, m.value[wants] / m.task_units[wants])
    runs = m.speed[:, 1] > 0
    np.testing.assert_allclose(u.provider_unit_cost[runs], m.provider_unit_cost[runs])
    sides = unit_sides(u)
    assert sides.asks.shape[0] == int(u.capacity[runs].sum())
    with pytest.raises(ValueError, match="single-model-type"):
        unit_sides(m)
    with pytest.raises(ValueError, match=r"demand\[0, 0\] = 2.0 is not 0 or 1"):
        unit_sides(u.replace(demand=np.full((u.n_tasks, 1), 2.0)))
    with pytest.raises(ValueError, match="model_type = 7"):
        unit_demand_market(m, model_type=7)
    with pytest.raises(ValueError, match="mechanism = 'vickrey'"):
        run_double_auction(u, "vickrey")


# ---------------------------------------------------------------------------- DP price
def _brute_gains(bids, asks, p) -> float:
    b = sorted((x for x in bids if x >= p), reverse=True)
    s = sorted(x for x in asks if x <= p)
    n = min(len(b), len(s))
    return sum(b[:n]) - sum(s[:n])


def test_gains_from_trade_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    bids, asks = rng.uniform(0, 10, 9), rng.uniform(0, 10, 7)
    grid = np.linspace(0, 10, 23)
    _, gains = gains_from_trade(bids, asks, grid)
    np.testing.assert_allclose(gains, [_brute_gains(bids, asks, p) for p in grid])


def test_dp_probabilities_are_the_exponential_mechanism() -> None:
    rng = np.random.default_rng(1)
    bids, asks = rng.uniform(0, 10, 15), rng.uniform(0, 10, 15)
    grid = np.linspace(0, 10, 11)
    eps = 0.8
    res = dp_clearing_price(bids, asks, eps, grid, seed=0)
    delta = 10.0
    q = np.array([_brute_gains(bids, asks, p) for p in grid])
    expected = np.exp(eps * q / (2 * delta))
    expected /= expected.sum()
    np.testing.assert_allclose(res.probabilities, expected, rtol=1e-12)
    assert res.sensitivity == delta
    # Chi-square on a fixed-seed sample of the drawn prices.
    gen = np.random.default_rng(12345)
    n = 4000
    draws = np.array([dp_clearing_price(bids, asks, eps, grid, seed=gen).price for _ in range(n)])
    counts = np.array([(np.isclose(draws, p)).sum() for p in grid])
    keep = expected * n >= 5
    observed = np.append(counts[keep], counts[~keep].sum())
    predicted = np.append(expected[keep] * n, expected[~keep].sum() * n)
    if predicted[-1] == 0:
        observed, predicted = observed[:-1], predicted[:-1]
    assert counts.sum() == n
    assert chisquare(observed, predicted).pvalue > 1e-3


def test_dp_epsilon_to_infinity_recovers_best_grid_price() -> None:
    rng = np.random.default_rng(2)
    bids, asks = rng.uniform(0, 10, 20), rng.uniform(0, 10, 20)
    grid = np.linspace(0, 10, 101)
    _, gains = gains_from_trade(bids, asks, grid)
    best = gains.max()
    exact = dp_clearing_price(bids, asks, math.inf, grid)
    assert exact.welfare == pytest.approx(best)
    huge = dp_clearing_price(bids, asks, 1e7, grid, seed=3)
    assert huge.welfare == pytest.approx(best)
    assert huge.probabilities[gains < best - 1e-9].sum() < 1e-12
    # Expected welfare grows with epsilon (towards the best grid price).
    ew = [dp_clearing_price(bids, asks, e, grid).expected_welfare for e in (0.01, 0.1, 1, 10, 100)]
    assert all(a <= b + 1e-9 for a, b in zip(ew, ew[1:], strict=False)) and ew[-1] <= best + 1e-9


@settings(max_examples=120, deadline=None)
@given(
    bids=st.lists(st.floats(-5, 30, allow_nan=False), min_size=1, max_size=10),
    asks=st.lists(st.floats(-5, 30, allow_nan=False), min_size=1, max_size=10),
    who=st.integers(0, 19),
    new=st.floats(-5, 30, allow_nan=False),
)
def test_dp_score_sensitivity_is_the_grid_range(bids, asks, who, new) -> None:
    """Changing one report moves the (clamped) score at any price by at most hi - lo."""
    grid = np.linspace(0.0, 20.0, 41)
    base = dp_clearing_price(bids, asks, 1.0, grid).scores
    b, s = list(bids), list(asks)
    if who < 10 and who < len(b):
        b[who] = new
    elif who - 10 < len(s) and who >= 10:
        s[who - 10] = new
    moved = dp_clearing_price(b, s, 1.0, grid).scores
    assert np.abs(moved - base).max() <= 20.0 + 1e-9


def test_dp_budget_balance_and_ir_at_drawn_price() -> None:
    m = unit_demand_market(generate_market(80, 60, n_types=1, scenario="price_crossing", seed=4))
    sides = unit_sides(m)
    for seed in range(5):
        res = run_double_auction(m, "dp", epsilon=0.5, seed=seed, price_bounds=(0.0, 60.0))
        assert res.budget_surplus == 0.0
        if res.n_trades:
            assert (sides.bids[res.buyers] >= res.buyer_price).all()
            assert (sides.asks[res.sellers] <= res.seller_price).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(epsilon=0.0), "epsilon = 0.0 must be > 0"),
        (dict(grid=[1.0]), "at least two strictly increasing"),
        (dict(grid=[2.0, 1.0]), "at least two strictly increasing"),
        (dict(grid=[0.0, np.nan]), r"grid\[1\] is not finite"),
    ],
)
def test_dp_bad_arguments(kwargs: dict, match: str) -> None:
    args = dict(bids=[1.0, 2.0], asks=[0.5], epsilon=1.0, grid=[0.0, 1.0, 2.0])
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        dp_clearing_price(**args)


def test_dp_accepts_numpy_epsilon() -> None:
    # A numpy scalar epsilon (e.g. from np.logspace) is a valid epsilon, not "<= 0".
    args = dict(bids=[3.0, 2.0], asks=[1.0, 2.5], grid=[0.0, 1.0, 2.0, 3.0], seed=1)
    for eps in (np.float32(0.5), np.float64(0.5), np.int64(2)):
        res = dp_clearing_price(epsilon=eps, **args)
        ref = dp_clearing_price(epsilon=float(eps), **args)
        np.testing.assert_allclose(res.probabilities, ref.probabilities, rtol=1e-6)
    with pytest.raises(ValueError, match="epsilon = nan"):
        dp_clearing_price(epsilon=math.nan, **args)
    with pytest.raises(TypeError, match="epsilon"):
        dp_clearing_price(epsilon="1", **args)


@pytest.mark.parametrize("mech", ["mcafee", "sbba", "dp"])
def test_double_auctions_name_bad_arguments(mech: str) -> None:
    m = _unit_market([5.0, 4.0, 3.0], [1.0, 2.0, 6.0])
    with pytest.raises(TypeError, match="params"):
        run_double_auction(m, mech, None)
    # Checked up front, whatever the market: not only when SBBA's lottery or the draw runs.
    if mech != "mcafee":
        with pytest.raises(TypeError, match="seed"):
            run_double_auction(m, mech, seed="x")
    with pytest.raises(TypeError, match="bids"):
        mcafee({"a": 1}, [1.0])
    with pytest.raises(TypeError, match="asks"):
        sbba([1.0], ["cheap"])


# ---------------------------------------------------------------------------- issue 12 fixes
def test_dp_needs_a_public_grid() -> None:
    m = _unit_market([5.0, 4.0, 3.0], [1.0, 2.0, 6.0])
    with pytest.raises(ValueError, match="needs a public price grid"):
        run_double_auction(m, "dp")
    with pytest.raises(ValueError, match="price_bounds"):
        run_double_auction(m, "dp", price_bounds=(5.0, 1.0))
    res = run_double_auction(m, "dp", price_bounds=(0.0, 10.0))
    np.testing.assert_allclose(res.grid, np.linspace(0.0, 10.0, 201))


def test_dp_sensitivity_is_per_agent_and_checked() -> None:
    asks, owner = [1.0, 1.0, 1.0, 5.0], np.array([0, 0, 0, 1])
    res = dp_clearing_price([6.0, 6.0], asks, 1.0, np.linspace(0, 10, 11), max_units_per_agent=3,
                            ask_owner=owner)
    assert res.sensitivity == pytest.approx(30.0)
    with pytest.raises(ValueError, match="more than max_units_per_agent = 2"):
        dp_clearing_price([6.0], asks, 1.0, np.linspace(0, 10, 11), max_units_per_agent=2, ask_owner=owner)


def test_dp_worst_privacy_loss_over_neighbouring_profiles_is_at_most_epsilon() -> None:
    """Neighbours differ in one agent's whole report (a provider's every ask). Measured
    exactly: max over agents, alternative reports and prices of |log Pr - log Pr'|."""
    from oasis_lab.incentives.privacy import worst_privacy_loss

    # A 9-unit provider next to a 9-unit one and 10 eager buyers (net value 50).
    hand = Market(demand=np.ones((10, 1)), value=np.full(10, 51.0), speed=np.ones((2, 1)),
                  capacity=np.array([9.0, 9.0]), cost=np.array([1.0, 30.0]), psi=np.ones((2, 1)),
                  model_types=("m",))
    grid = np.linspace(0.0, 60.0, 61)
    factors = (0.0, 0.5, 10.0, 60.0)
    for eps in (0.3, 1.0):
        for m in (hand, unit_demand_market(generate_market(12, 5, n_types=1, seed=3))):
            loss = worst_privacy_loss(m, eps, grid, report_grid=factors)
            assert loss["loss"].max() <= eps + 1e-9
    # The old neighbour relation (one unit) and the old report-dependent grid both break it.
    assert worst_privacy_loss(hand, 1.0, grid, report_grid=factors, per_unit=True)["loss"].max() > 1.0
    assert worst_privacy_loss(hand, 1.0, "from_reports", report_grid=factors)["loss"].max() > 1.0


def test_randomized_welfare_is_an_expectation_with_its_spread() -> None:
    # SBBA, k = 3, buyer 3 sets the price 6: buyers 10 and 8 trade with 2 of the asks {1, 3, 5},
    # the left-out one uniform: expected welfare 18 - 9 + 3 = 12, std of {1, 3, 5}.
    res = sbba([10, 8, 6, 4], [1, 3, 5, 7], seed=0)
    assert res.expected_welfare == pytest.approx(12.0)
    assert res.welfare_std == pytest.approx(np.std([1.0, 3.0, 5.0]))
    draws = [sbba([10, 8, 6, 4], [1, 3, 5, 7], seed=s).welfare for s in range(300)]
    assert np.mean(draws) == pytest.approx(12.0, abs=0.3)
    mc = mcafee([10, 8, 6, 4], [1, 3, 5, 7])
    assert mc.expected_welfare == mc.welfare and mc.welfare_std == 0.0
    # DP: the expectation and spread of the gains over the price distribution.
    rng = np.random.default_rng(4)
    bids, asks = rng.uniform(0, 10, 12), rng.uniform(0, 10, 12)
    dp = dp_clearing_price(bids, asks, 0.5, np.linspace(0, 10, 21), seed=1)
    assert dp.expected_welfare == pytest.approx(dp.probabilities @ dp.gains)
    var = dp.probabilities @ (dp.gains - dp.expected_welfare) ** 2
    assert dp.welfare_std == pytest.approx(np.sqrt(var))
    assert dp.welfare_std > 0
