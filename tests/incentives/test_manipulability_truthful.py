"""Manipulability scans and the truthful variant of the greedy: known answers and properties."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_lab.auction.baselines import unit_demand_market
from oasis_lab.incentives import (
    clearing_price,
    manipulability,
    misreport,
    run_mechanism,
    summarize,
    truthful_greedy,
)
from oasis_lab.market import Market, generate_market
from oasis_lab.params import AuctionParams

BEST = AuctionParams(task_density="surplus", provider_density="unit_cost")


def _one_type(demand, value, cost, capacity) -> Market:
    n = len(cost)
    return Market(
        demand=np.asarray(demand, float)[:, None], value=np.asarray(value, float),
        speed=np.ones((n, 1)), capacity=np.asarray(capacity, float), cost=np.asarray(cost, float),
        psi=np.ones((n, 1)), model_types=("m",),
    )


# ---------------------------------------------------------------------------- known answers
def test_user_gain_from_shading_under_the_midpoint_is_half_the_shade() -> None:
    # One task of 2 units worth 30, e = 2 log2 2 + 1 = 3; one provider at unit cost 5.
    # Truth: p_task = 15, P = 10, payment 20, utility 30 - 3 - 20 = 7 = (v - C)/2 - e.
    # Reporting 20: p_task = 10, P = 7.5, payment 15 (budget 15 <= 20 - 3): utility 12, gain 5
    # = (30 - 20) / 2. Below 16 = C + 2e the budget check rolls the task back.
    m = _one_type([2], [30.0], [5.0], [4.0])
    scan = manipulability(m, "greedy", BEST, agents=[("user", 0)], report_grid=[0.5, 2 / 3, 0.8, 1.0])
    gain = scan.set_index("factor")["gain"]
    assert scan["utility_base"].iloc[0] == pytest.approx(7.0)
    assert gain[2 / 3] == pytest.approx(5.0)
    assert gain[0.8] == pytest.approx((30 - 24) / 2)
    assert gain[0.5] == pytest.approx(-7.0)  # 15 < 16: rolled back, utility 0


def test_critical_payment_by_hand() -> None:
    # Posted price 10. Provider 0: unit cost 4, 3 units (eligible); provider 1: cost 12 (not).
    # Tasks: T0 2 units, net 40 (density 40/sqrt2); T1 2 units, net 30 (30/sqrt2); T2 1 unit,
    # net 15. Walk: T0 takes 2, T1 needs 2 of the 1 left (rolled back), T2 takes 1.
    # T0 must stay ahead of T1: critical net value 30 (T1's), payment 30. T2 is served anywhere
    # it is eligible: payment p * 1 = 10. Provider 0: 3 units at 10.
    m = _one_type([2, 2, 1], [43.0, 33.0, 16.0], [4.0, 12.0], [3.0, 10.0])
    res = truthful_greedy(m, 10.0)
    np.testing.assert_array_equal(res.served, [True, False, True])
    np.testing.assert_allclose(res.task_payment, [30.0, 0.0, 10.0], rtol=1e-7)
    np.testing.assert_allclose(res.provider_revenue, [30.0, 0.0])
    assert res.budget_surplus == pytest.approx(10.0, rel=1e-7)
    # Reporting just above the critical value still wins at the same price; just below loses.
    for v, served in ((33.0 + 0.01, True), (33.0 - 0.01, False)):
        lied = m.replace(value=np.array([v, 33.0, 16.0]))
        assert truthful_greedy(lied, 10.0).served[0] == served


# ---------------------------------------------------------------------------- manipulability
def test_manipulability_finds_the_lie_of_a_pay_your_bid_toy() -> None:
    m = generate_market(20, 5, seed=3)
    scan = manipulability(m, "first_price", BEST, report_grid=[0.6, 0.8, 1.0, 1.2])
    served = run_mechanism(m, "first_price", BEST).served_share > 0
    users = scan[scan["side"] == "user"]
    best = users.groupby("agent")["gain"].max()
    # Every served user with surplus gains by shading: it pays its own report.
    assert (best[np.flatnonzero(served)] > 0).mean() > 0.5
    assert summarize(scan).loc["all", "share_profitable"] > 0.3
    lie = users.loc[users["gain"].idxmax()]
    assert lie["factor"] < 1.0
    from oasis_lab.incentives.manipulability import best_misreports

    per_agent = best_misreports(scan)
    assert per_agent.loc[("user", int(lie["agent"])), "gain"] == lie["gain"]
    assert (per_agent.loc["user", "factor"][per_agent.loc["user", "profitable"]] < 1.0).all()


def test_truthful_variant_has_no_profitable_misreport() -> None:
    """No user (value) and no provider (cost, speed) gains on random markets, to GAIN_ATOL."""
    for seed, scenario in [(0, "balanced"), (1, "scarce_supply"), (2, "price_crossing")]:
        m = generate_market(18, 5, scenario=scenario, seed=seed)
        p = clearing_price(generate_market(18, 5, scenario=scenario, seed=seed + 100))
        scan = manipulability(m, "truthful", report_grid=[0.3, 0.7, 0.9, 1.1, 1.5, 3.0],
                              dimensions=["cost", "speed"], options={"reference_price": p})
        assert not scan["profitable"].any(), scan[scan["profitable"]]
        res = truthful_greedy(m, p)
        assert res.budget_surplus >= -1e-9
        # individually rational at truth
        uu, up = run_mechanism(m, "truthful", reference_price=p).utilities(m, AuctionParams())
        assert (uu >= -1e-9).all() and (up >= -1e-9).all()


def test_greedy_midpoint_is_manipulable() -> None:
    m = generate_market(30, 6, seed=0)
    summary = summarize(manipulability(m, "greedy", BEST, report_grid=[0.5, 0.8, 1.0, 1.5]))
    assert summary.loc["user", "share_profitable"] > 0.2


def test_truthful_allocation_is_monotone_in_the_value() -> None:
    rng = np.random.default_rng(0)
    for seed in range(4):
        m = generate_market(25, 6, scenario="scarce_supply", seed=seed)
        p = clearing_price(generate_market(25, 6, scenario="scarce_supply", seed=seed + 50))
        for i in rng.choice(m.n_tasks, 5, replace=False):
            served = []
            for f in (0.5, 0.8, 1.0, 1.3, 2.0, 4.0):
                v = m.value.copy()
                v[i] *= f
                served.append(bool(truthful_greedy(m.replace(value=v), p, compute_payments=False).served[i]))
            assert served == sorted(served), (seed, i, served)


@pytest.mark.parametrize("mech", ["mcafee", "sbba"])
def test_trade_reduction_has_no_profitable_single_unit_misreport(mech: str) -> None:
    for seed, scenario in [(0, "balanced"), (1, "price_crossing")]:
        m = unit_demand_market(generate_market(40, 14, n_types=1, scenario=scenario, seed=seed))
        m = m.replace(capacity=np.minimum(m.capacity, 1.0))  # unit supply
        scan = manipulability(m, mech, report_grid=[0.3, 0.6, 0.9, 0.97, 1.03, 1.1, 1.5, 3.0],
                              dimensions=["cost"])
        assert not scan["profitable"].any(), scan[scan["profitable"]].head()


def test_manipulability_bad_arguments() -> None:
    m = generate_market(5, 2, seed=0)
    with pytest.raises(ValueError, match="mechanism = 'nope'"):
        manipulability(m, "nope")
    with pytest.raises(ValueError, match=r"report_grid\[1\]"):
        manipulability(m, "greedy", report_grid=[1.0, -2.0])
    with pytest.raises(ValueError, match="user index 9"):
        manipulability(m, "greedy", agents=[("user", 9)])
    with pytest.raises(ValueError, match="agents = 'everyone'"):
        manipulability(m, "greedy", agents="everyone")
    with pytest.raises(ValueError, match="needs reference_price"):
        manipulability(m, "truthful")
    with pytest.raises(ValueError, match="takes no option"):
        manipulability(m, "greedy", options={"grid": [0, 1]})
    with pytest.raises(ValueError, match="params.split = True"):
        truthful_greedy(m, 10.0, AuctionParams(split=False))
    with pytest.raises(ValueError, match="reference_price = -1"):
        truthful_greedy(m, -1.0)


def test_misreport_changes_exactly_one_report_of_the_side_named() -> None:
    # issue 21, item 4: True doubled every user's value, -1 changed the last user, an unknown
    # side was accepted and ("user", 0, "cost") changed provider 0's cost
    m = generate_market(5, 3, seed=0)
    lied = misreport(m, "user", 2, "value", 2.0)
    assert np.array_equal(lied.value != m.value, np.arange(5) == 2) and lied.value[2] == 2 * m.value[2]
    assert np.array_equal(misreport(m, "provider", 1, "cost", 0.5).cost != m.cost, np.arange(3) == 1)
    with pytest.raises(TypeError, match="agent must be an integer, got bool True"):
        misreport(m, "user", True, "value", 2.0)
    with pytest.raises(ValueError, match="agent = -1 must be >= 0"):
        misreport(m, "user", -1, "value", 2.0)
    with pytest.raises(ValueError, match="agent = 3 must be <= 2"):
        misreport(m, "provider", 3, "cost", 2.0)
    with pytest.raises(ValueError, match="side = 'seller' must be one of"):
        misreport(m, "seller", 0, "cost", 2.0)
    with pytest.raises(ValueError, match=r"dimension = 'cost' must be one of \['value'\]"):
        misreport(m, "user", 0, "cost", 2.0)
    with pytest.raises(ValueError, match="factor = 0 must be finite and > 0"):
        misreport(m, "user", 0, "value", 0)
    with pytest.raises(TypeError, match="market must be"):
        misreport(m.value, "user", 0, "value", 2.0)
