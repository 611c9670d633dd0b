"""Tiny, huge and extreme numbers (issue 9 item 6): relative tolerances, no silent inf/nan."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from oasis_lab.auction.greedy import run_greedy
from oasis_lab.auction.metrics import (
    check_all,
    check_budget_balance,
    check_feasible,
    check_individual_rationality,
    check_prices,
)
from oasis_lab.auction.rebid import unserved_tasks
from oasis_lab.market import Market, generate_market
from oasis_lab.params import AuctionParams

# generated task sizes (TFLOP) include some below 1, where the user cost warns
pytestmark = pytest.mark.filterwarnings("ignore:some task sizes are in:RuntimeWarning")

READINGS = [
    {},
    {"split": False},
    {"partial": True},
    {"capacity_per_type": True},
    {"price_rule": "as_written"},
]


def _rescaled(market: Market, scale: float, capacity: str) -> Market:
    """The same market counted in units ``1 / scale`` as large: demand and speeds (units per
    second) times ``scale``; capacity too when it counts units (not when it counts seconds).
    Prices per unit change by ``1 / scale``, values and costs (tokens) do not."""
    changes = {"demand": market.demand * scale, "speed": market.speed * scale}
    if capacity == "units":
        changes["capacity"] = market.capacity * scale
    return market.replace(**changes)


@pytest.mark.parametrize("capacity", ["units", "time"])
@pytest.mark.parametrize("reading", READINGS, ids=lambda r: ",".join(r) or "default")
@pytest.mark.parametrize("scale", [2.0**-40, 2.0**-70, 2.0**-200, 2.0**40])
def test_greedy_serves_a_rescaled_market_exactly_as_the_original(capacity, reading, scale) -> None:
    # task_size="size": the user cost depends on the task's size, not on the unit of account
    market = generate_market(300, 40, seed=3, capacity_unit=capacity)
    params = AuctionParams(task_size="size", capacity=capacity, **reading)
    base = run_greedy(market, params)
    small = _rescaled(market, scale, capacity)
    got = run_greedy(small, params)
    assert base.served.sum() > 50
    # a power-of-two scale is exact in binary: the very same allocation, bit for bit
    np.testing.assert_array_equal(got.served, base.served)
    np.testing.assert_array_equal(got.trades["units"].to_numpy(), base.trades["units"].to_numpy() * scale)
    assert got.welfare == base.welfare
    # the checks judge both alike (as_written breaks user IR in both, by design)
    mine, theirs = check_all(small, got), check_all(market, base)
    assert mine[["check", "ok", "violations"]].equals(theirs[["check", "ok", "violations"]])
    assert mine.loc[mine["check"] != "individual_rationality", "ok"].all()
    assert np.array_equal(unserved_tasks(small, got), unserved_tasks(market, base))


@pytest.mark.parametrize("scale", [1e-10, 1e-12, 1e-20])
def test_the_issue_example_units_of_1e_10_are_served(scale) -> None:
    market = generate_market(200, 30, seed=1)
    params = AuctionParams(task_size="size")
    base = run_greedy(market, params)
    got = run_greedy(_rescaled(market, scale, "units"), params)
    assert got.served.sum() == base.served.sum() > 0
    assert got.welfare == pytest.approx(base.welfare, rel=1e-9)


def test_checkers_are_relative_too() -> None:
    """A capacity overrun of 1% is caught at units of 1e-12 as at units of 1."""
    market = _rescaled(generate_market(50, 10, seed=2), 1e-12, "units")
    result = run_greedy(market)
    tampered = result.trades.copy()
    tampered.loc[0, "units"] *= 1.01
    fake = type("Fake", (), {})()
    for name in ("served_share", "task_payment", "provider_revenue", "ir_violations_users",
                 "ir_violations_providers", "budget_surplus", "params"):
        setattr(fake, name, getattr(result, name))
    fake.trades = tampered
    report = check_feasible(market, fake)
    assert not report.ok and report.counts["demand"] >= 1


def _extreme_market() -> Market:
    return Market(demand=[[1e-200]], value=[1e200], speed=[[1.0]], capacity=[1.0], cost=[1.0],
                  psi=[[1.0]], model_types=("a",))


@pytest.mark.parametrize("price_rule", ["no_trade", "as_written"])
def test_greedy_refuses_prices_that_overflow(price_rule) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # task sizes in (0, 1)
        with pytest.raises(ValueError, match=r"task 0: per-unit price value\[0\] / sum\(demand\[0\]\) "
                                             r"= 1e\+200 / 1e-200 overflows float64"):
            run_greedy(_extreme_market(), AuctionParams(price_rule=price_rule))
    cheap = Market(demand=[[1.0]], value=[10.0], speed=[[1e-300]], capacity=[1.0], cost=[1e300],
                   psi=[[1.0]], model_types=("a",))
    with pytest.raises(ValueError, match=r"provider 0: per-unit price of type 0 .* overflows float64"):
        run_greedy(cheap, AuctionParams(price_rule=price_rule))


def test_greedy_refuses_totals_that_overflow() -> None:
    market = Market(demand=[[1.0], [1.0]], value=[1.7e308, 1.7e308], speed=[[1.0]], capacity=[2.0],
                    cost=[1.0], psi=[[1.0]], model_types=("a",))
    with pytest.raises(ValueError, match="overflow float64"):
        run_greedy(market)


def test_every_checker_fails_on_non_finite_values() -> None:
    """Results with inf/nan (as an unchecked computation would give) fail every check."""
    market = Market(demand=[[1.0]], value=[10.0], speed=[[1.0]], capacity=[1.0], cost=[1.0],
                    psi=[[1.0]], model_types=("a",))
    result = run_greedy(market)
    assert check_all(market, result)["ok"].all()
    broken = type("Broken", (), {})()
    for name in ("served_share", "provider_revenue", "ir_violations_users", "ir_violations_providers",
                 "params", "user_utility", "provider_utility", "welfare"):
        setattr(broken, name, getattr(result, name))
    broken.trades = result.trades.assign(unit_price=np.inf)
    broken.task_payment = np.array([np.inf])
    broken.budget_surplus = float("nan")
    for check in (check_feasible, check_individual_rationality, check_budget_balance, check_prices):
        report = check(market, broken)
        assert not report.ok and report.counts["non_finite"] >= 1, check.__name__
        assert any("NaN or inf" in m for m in report.messages)


def _masked(values) -> np.ma.MaskedArray:
    arr = np.ma.masked_array(np.asarray(values, dtype=float))
    arr[0] = np.ma.masked
    return arr


def test_masked_arrays_are_refused_where_arrays_enter_the_auction() -> None:
    from oasis_lab.auction.baselines.double_auction import dp_clearing_price, mcafee, sbba
    from oasis_lab.auction.density import normalize_columns
    from oasis_lab.auction.pricing import (
        ir_violations,
        pair_price,
        provider_utility,
        social_welfare,
        user_cost,
        user_utility,
    )

    market = generate_market(5, 3, seed=0)
    two = [1.0, 2.0]
    calls = {
        "size": lambda: user_cost(_masked(two)),
        "provider_price": lambda: pair_price(_masked(two), np.array(two)),
        "task_price": lambda: pair_price(np.array(two), _masked(two)),
        "payment": lambda: user_utility(np.array(two), np.array(two), _masked(two), np.array(two)),
        "revenue": lambda: provider_utility(_masked(two), np.array(two)),
        "served_share": lambda: social_welfare(market, _masked(np.ones(5)), np.zeros(market.speed.shape)),
        "x": lambda: normalize_columns(_masked([[1.0, 2.0]])),
        "bids": lambda: mcafee(_masked(two), np.array(two)),
        "asks": lambda: sbba(np.array(two), _masked(two)),
        "grid": lambda: dp_clearing_price(np.array(two), np.array(two), 1.0, _masked([0.0, 1.0, 2.0])),
        "value": lambda: ir_violations(_masked(two), np.array(two), np.ones(2, bool), np.array(two),
                                       np.array(two), np.ones(2, bool)),
    }
    for name, call in calls.items():
        with pytest.raises(TypeError, match=rf"{name} must be a plain array, got a masked array"):
            call()
