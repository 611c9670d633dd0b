"""The truthful variant under repetition (issue 19 item 4): a price no agent can move.

Claim (docs/mechanism.md, "The truthful variant under repetition"): with the public group
split (``price_source="other_group"``), single-minded users, providers whose speeds and
capacities are benchmarked, the same agents every round and the others' reports fixed, no
agent's report in one round changes anything it gets in a later round, so truth is dominant
round after round. Each test below fails if the claim's key step is false: the old price
source (the previous round's clearing price) and a leave-one-out price are shown manipulable
by the same search.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oasis_lab.incentives import clearing_price
from oasis_lab.incentives.repeated import (
    PRICE_SOURCES,
    cross_round_misreports,
    initial_price,
    price_groups,
    repeated_markets,
    run_repeated,
)
from oasis_lab.market import generate_market
from oasis_lab.params import AuctionParams
from oasis_lab.seeding import stream

PARAMS = AuctionParams(task_density="surplus")


def _issue_rounds(seed: int = 7009) -> list:
    """The issue's market (balanced, 40 tasks x 8 providers, seed 7009) and a next round with
    the same providers."""
    first = generate_market(40, 8, seed=seed)
    nxt = repeated_markets(40, 8, 2, seed=seed)[1]
    return [first, nxt.replace(speed=first.speed, capacity=first.capacity, cost=first.cost, psi=first.psi)]


def test_the_old_price_source_is_moved_by_an_inflated_cost() -> None:
    # the issue's example: provider 5 of seed 7009 reporting cost x1.65 moves the next price
    # from 10.34 to 15.67 under the previous round's clearing price
    rounds = _issue_rounds()
    lie = rounds[0].cost.copy()
    lie[5] *= 1.65
    assert clearing_price(rounds[0]) == pytest.approx(10.3439, abs=1e-4)
    assert clearing_price(rounds[0].replace(cost=lie)) == pytest.approx(15.6667, abs=1e-4)
    reports = [rounds[0].replace(cost=lie), rounds[1]]
    p0 = initial_price(40, 8, seed=7009)
    old = [run_repeated(rounds, r, price_source="previous_clearing", initial_price=p0) for r in (None, reports)]
    assert old[0].provider_price[1, 5] == pytest.approx(10.3439, abs=1e-4)
    assert old[1].provider_price[1, 5] == pytest.approx(15.6667, abs=1e-4)
    # under the group split the same lie leaves every price of provider 5's group unchanged
    new = [run_repeated(rounds, r, price_source="other_group", initial_price=p0) for r in (None, reports)]
    group = new[0].groups[1][5]
    same_t, same_p = new[0].groups[0] == group, new[0].groups[1] == group
    np.testing.assert_array_equal(new[0].provider_price[:, same_p], new[1].provider_price[:, same_p])
    np.testing.assert_array_equal(new[0].task_price[:, same_t], new[1].task_price[:, same_t])
    np.testing.assert_array_equal(new[0].units[1, same_p], new[1].units[1, same_p])


def _search(source: str, seeds, sides=("provider",)) -> tuple[int, int, pd.Series]:
    """Agents with a profitable cross-round lie, agents searched, and the best lie's row."""
    frames = []
    for s in seeds:
        rounds = repeated_markets(40, 8, 2, seed=s)
        df = cross_round_misreports(rounds, price_source=source, initial_price=initial_price(40, 8, seed=s),
                                    sides=sides)
        frames.append(df.assign(market=s))
    df = pd.concat(frames, ignore_index=True)
    by = df.groupby(["market", "side", "agent"])["profitable"].any()
    return int(by.sum()), len(by), df.loc[df["gain"].idxmax()]


def _lie(row: pd.Series) -> tuple[int, int, float, float, float, float]:
    return (int(row["market"]), int(row["agent"]), float(row["factor"]), round(float(row["gain"]), 1),
            round(float(row["next_price_truth"]), 2), round(float(row["next_price"]), 2))


def test_cross_round_search_old_and_leave_one_out_gain_the_split_does_not() -> None:
    seeds = range(7000, 7010)  # the issue's 10 markets of 40 x 8 (80 providers)
    # docs/mechanism.md ("The truthful variant under repetition") quotes these counts and lies
    old, total, best = _search("previous_clearing", seeds)
    assert total == 80 and old == 20
    assert _lie(best) == (7006, 0, 4.0, 91.9, 13.20, 20.11)  # cost x4 raises the next price
    loo, _, best = _search("leave_one_out", seeds)
    assert loo == 3  # the others' prices move who else trades ...
    assert _lie(best) == (7006, 3, 1.1, 13.1, 14.86, 14.86)  # ... its own price stays
    new, _, best = _search("other_group", seeds)
    assert new == 0 and best["gain"] <= 1e-9  # no provider gains by any misreport
    # users of the first 3 markets (120): shading moves the old price down; the split is unmoved
    old, total, best = _search("previous_clearing", seeds[:3], sides=("user",))
    assert total == 120 and old == 9
    assert _lie(best) == (7002, 34, 0.25, 14.3, 13.84, 11.80)
    new, total, best = _search("other_group", seeds[:3], sides=("user",))
    assert total == 120 and new == 0 and best["gain"] <= 1e-9


def test_a_misreport_never_reaches_its_own_group_in_later_rounds() -> None:
    # Random misreports by one agent in every round but the last: under the split, every price
    # and every outcome of its own group's market in later rounds is bit-identical to the
    # truthful run's, and in each round its utility is at most the truthful one (one-shot
    # truthfulness at a price it cannot move). The old source fails the first part.
    rounds = repeated_markets(24, 6, 4, scenario="scarce_supply", seed=3)
    p0 = initial_price(24, 6, scenario="scarce_supply", seed=3)
    rng = stream(0, "strategies", "test")
    moved = {s: 0 for s in PRICE_SOURCES}
    for source in PRICE_SOURCES:
        truth = run_repeated(rounds, price_source=source, initial_price=p0)
        for side, n in (("user", 24), ("provider", 6)):
            for a in range(n):
                reports = list(rounds)
                for r in range(3):  # misreports in rounds 0, 1, 2; the truth in round 3
                    f = float(rng.choice([0.3, 0.6, 0.9, 1.2, 1.7, 3.0]))
                    m, me = reports[r], np.arange(n) == a
                    reports[r] = (m.replace(value=np.where(me, m.value * f, m.value)) if side == "user"
                                  else m.replace(cost=np.where(me, m.cost * f, m.cost)))
                lied = run_repeated(rounds, reports, price_source=source, initial_price=p0,
                                    payments_for=[a] if side == "user" else None,
                                    compute_payments=side == "user")
                price = "task_price" if side == "user" else "provider_price"
                util = "user_utility" if side == "user" else "provider_utility"
                if not np.array_equal(getattr(truth, price)[:, a], getattr(lied, price)[:, a]):
                    moved[source] += 1
                if source == "other_group":
                    ug, pg = truth.groups
                    g = (ug if side == "user" else pg)[a]
                    np.testing.assert_array_equal(truth.task_price[:, ug == g], lied.task_price[:, ug == g])
                    np.testing.assert_array_equal(truth.provider_price[:, pg == g], lied.provider_price[:, pg == g])
                    gain = getattr(lied, util)[:, a] - getattr(truth, util)[:, a]
                    assert (gain <= 1e-6 + 1e-6 * np.abs(getattr(truth, util)[:, a])).all(), (side, a, gain)
                    assert gain[3] == 0.0  # truthful in the last round: the same outcome exactly
    assert moved["other_group"] == 0
    assert moved["previous_clearing"] > 0 and moved["leave_one_out"] == 0  # LOO: own price fixed...


def test_price_groups_are_public_balanced_and_report_free() -> None:
    m = generate_market(30, 7, seed=1)
    ug, pg = price_groups(m, seed=5)
    assert abs(int(ug.sum()) - 15) == 0 and int(pg.sum()) in (3, 4)
    # reports (values, costs) do not move the split; identities and the public seed do
    lied = m.replace(value=m.value[::-1].copy(), cost=m.cost * 3)
    for a, b in zip(price_groups(lied, seed=5), (ug, pg), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(price_groups(m, seed=6)[0], ug)


def test_repeated_welfare_and_budget() -> None:
    rounds = repeated_markets(40, 8, 3, seed=1)
    p0 = initial_price(40, 8, seed=1)
    for source in PRICE_SOURCES:
        res = run_repeated(rounds, price_source=source, initial_price=p0)
        assert res.welfare.shape == (3,) and (res.welfare >= -1e-9).all()
        assert (res.user_utility >= -1e-9).all() and (res.provider_utility >= -1e-9).all()  # IR
        if source != "leave_one_out":  # one price per market: weakly budget balanced
            assert (res.budget_surplus >= -1e-9).all()


def test_bad_arguments() -> None:
    rounds = repeated_markets(6, 2, 2, seed=0)
    with pytest.raises(ValueError, match="price_source"):
        run_repeated(rounds, price_source="median", initial_price=1.0)
    with pytest.raises(TypeError, match="truth must be a non-empty sequence of Market"):
        run_repeated(rounds[0], initial_price=1.0)
    with pytest.raises(ValueError, match=r"truth\[1\] has 5 tasks"):
        run_repeated([rounds[0], generate_market(5, 2, seed=1)], initial_price=1.0)
    with pytest.raises(ValueError, match="initial_price"):
        run_repeated(rounds, initial_price=-1.0)
    with pytest.raises(ValueError, match="exclude 1"):
        cross_round_misreports(rounds, initial_price=1.0, factors=[0.5, 1.0])
    with pytest.raises(ValueError, match="misreport_round"):
        cross_round_misreports(rounds, initial_price=1.0, misreport_round=1)
