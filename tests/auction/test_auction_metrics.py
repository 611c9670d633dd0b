"""The independent checkers catch each kind of broken outcome."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from oasis_lab.auction.greedy import run_greedy
from oasis_lab.auction.metrics import (
    check_all,
    check_budget_balance,
    check_feasible,
    check_individual_rationality,
    check_prices,
    provider_outcomes,
    trade_prices,
)
from oasis_lab.market import generate_market
from oasis_lab.params import AuctionParams


@pytest.fixture(scope="module")
def market():
    return generate_market(200, 20, scenario="price_crossing", seed=4)


@pytest.fixture(scope="module")
def result(market):
    return run_greedy(market)


def with_trades(result, trades):
    return dataclasses.replace(result, trades=trades)


def test_a_greedy_outcome_passes_every_check(market, result):
    table = check_all(market, result)
    assert table["ok"].all(), table
    assert list(table["check"]) == ["feasible", "individual_rationality", "budget_balance", "prices"]


def test_capacity_excess_is_caught(market, result):
    trades = result.trades.copy()
    j = int(trades.loc[0, "provider"])
    trades.loc[0, "units"] += market.capacity[j] + 1
    report = check_feasible(market, with_trades(result, trades))
    assert not report and report.counts["capacity"] == 1 and report.worst >= 1
    assert report.counts["demand"] == 1  # the task now gets more than it asked for
    assert f"provider {j} uses" in report.messages[0]


def test_partly_served_and_unserved_traded_tasks_are_caught(market, result):
    dropped = with_trades(result, result.trades.iloc[1:])
    assert check_feasible(market, dropped).counts["demand"] == 1
    i = int(result.trades.loc[0, "task"])
    share = result.served_share.copy()
    share[i] = 0.0
    report = check_feasible(market, dataclasses.replace(result, served_share=share))
    assert report.counts["unserved_traded"] == 1


def test_unrunnable_type_is_caught():
    market = generate_market(100, 20, scenario="heterogeneous", seed=2)
    result = run_greedy(market)
    trades = result.trades.copy()
    cannot = np.argwhere(market.speed == 0)
    j, t = cannot[0]
    trades.loc[0, ["provider", "type"]] = [j, t]
    assert check_feasible(market, with_trades(result, trades)).counts["not_runnable"] == 1


def test_ir_violations_of_the_as_written_rule_are_counted(market):
    result = run_greedy(market, AuctionParams(price_rule="as_written"))
    report = check_individual_rationality(market, result)
    assert report.counts["users"] == result.ir_violations_users > 0
    assert report.counts["count_mismatch"] == 0
    assert report.worst > 0
    lied = dataclasses.replace(result, ir_violations_users=0)
    assert check_individual_rationality(market, lied).counts["count_mismatch"] == 1


def test_budget_imbalance_and_wrong_prices_are_caught(market, result):
    revenue = result.provider_revenue.copy()
    revenue[int(np.argmax(revenue))] += 1.0
    assert check_budget_balance(market, dataclasses.replace(result, provider_revenue=revenue)).counts["balance"] == 1
    trades = result.trades.copy()
    trades.loc[0, "unit_price"] *= 1.01
    assert check_prices(market, with_trades(result, trades)).counts["wrong_price"] == 1


def test_checkers_refuse_foreign_results(market, result):
    other = generate_market(10, 3, seed=0)
    with pytest.raises(ValueError, match="outside"):
        check_feasible(other, result)
    with pytest.raises(ValueError, match="lacks column"):
        check_prices(market, with_trades(result, result.trades.drop(columns="unit_price")))


def test_trade_prices_by_rule(market):
    # As written, a crossing pair (provider price above the task's) trades at the provider price:
    # the user's margin per unit is negative there. With no_trade no pair crosses, and with no
    # fee both sides get half the spread: (p_task - p_provider) / 2 each.
    aw = trade_prices(market, run_greedy(market, AuctionParams(price_rule="as_written")))
    crossing = aw[aw["crossing"]]
    assert len(crossing) > 0
    np.testing.assert_allclose(crossing["unit_price"], crossing["p_provider"])
    assert (crossing["user_margin"] < 0).all()
    nt = trade_prices(market, run_greedy(market))
    assert not nt["crossing"].any()
    half = (nt["p_task"] - nt["p_provider"]) / 2
    np.testing.assert_allclose(nt["user_margin"], half, atol=1e-9)
    np.testing.assert_allclose(nt["provider_margin"], half, atol=1e-9)


def test_provider_outcomes_add_up(market, result):
    table = provider_outcomes(market, result)
    assert len(table) == market.n_providers
    assert table["units"].sum() == pytest.approx(result.trades["units"].sum())
    assert (table["trading"] == (table["units"] > 0)).all()


def test_ir_violations_by_cause_hand_and_generated() -> None:
    """Two users lose under the as-written rule: one through the fallback price, one at the
    midpoint because its user cost exceeds half the gains before it."""
    from oasis_lab.auction.metrics import ir_violations_by_cause
    from oasis_lab.market import Market

    # Task 0: 1 unit worth 3 (e = 1), provider 0 at unit cost 4: fallback price 4, loss 2.
    # Task 1: 4 units worth 20 (e = 4 log2 4 + 1 = 9), provider 1 at unit cost 2: midpoint
    # (2 + 5) / 2 = 3.5 per unit, payment 14, utility (20 - 8) / 2 - 9 = -3.
    m = Market(demand=np.array([[1.0, 0.0], [0.0, 4.0]]), value=np.array([3.0, 20.0]),
               speed=np.array([[1.0, 0.0], [0.0, 1.0]]), capacity=np.array([1.0, 4.0]),
               cost=np.array([4.0, 2.0]), psi=np.ones((2, 1)), model_types=("a", "b"))
    res = run_greedy(m, AuctionParams(price_rule="as_written"))
    causes = ir_violations_by_cause(m, res)
    assert causes["cause"].tolist() == ["price_fallback", "user_cost_midpoint"]
    np.testing.assert_allclose(causes["loss"], [2.0, 3.0])
    np.testing.assert_allclose(causes["true_cost"], [4.0, 8.0])
    # On generated markets the rows are exactly the counted violations, and both causes occur.
    market = generate_market(600, 60, scenario="balanced", seed=0)
    res = run_greedy(market, AuctionParams(price_rule="as_written"))
    causes = ir_violations_by_cause(market, res)
    assert len(causes) == res.ir_violations_users
    assert set(causes["cause"]) == {"price_fallback", "user_cost_midpoint"}
    midpoint = causes[causes["cause"] == "user_cost_midpoint"]
    half_gain = (midpoint["value"] - midpoint["true_cost"]) / 2
    np.testing.assert_allclose(midpoint["loss"], midpoint["user_cost"] - half_gain)
    assert ir_violations_by_cause(market, run_greedy(market)).empty
