"""compare_markets() and summarize(); the seeded study and the CLI are in tests/experiments."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oasis_lab.auction.compare import compare_markets, summarize
from oasis_lab.auction.greedy import run_greedy
from oasis_lab.market import generate_market
from oasis_lab.params import AuctionParams


def test_compare_markets_keeps_labels_and_bounds_greedy_by_the_optimum() -> None:
    # Notebook 02's use: labelled markets (more tasks than providers), density and price readings.
    markets = [({"scenario": s, "seed": seed}, generate_market(40, 6, scenario=s, seed=seed))
               for s in ("balanced", "scarce_supply") for seed in (0, 1)]
    readings = {"as written": AuctionParams(),
                "as written prices": AuctionParams(price_rule="as_written"),
                "surplus": AuctionParams(task_density="surplus", provider_density="unit_cost")}
    frame = compare_markets(markets, readings=readings, mechanisms=("ilp",), backend="highspy",
                            greedy_repeats=1)
    greedy = frame[frame["mechanism"] == "greedy"]
    assert len(greedy) == 12
    assert set(zip(greedy["scenario"], greedy["seed"], strict=True)) == {
        (s, k) for s in ("balanced", "scarce_supply") for k in (0, 1)
    }
    optimum = frame[frame["mechanism"] == "ilp"].set_index(["scenario", "seed"])["welfare"]
    w_opt = optimum.loc[list(zip(greedy["scenario"], greedy["seed"], strict=True))].to_numpy()
    # A greedy allocation is feasible, so it never beats the exact optimum.
    assert (greedy["welfare"].to_numpy() <= w_opt * (1 + 1e-7) + 1e-9).all()
    np.testing.assert_allclose(greedy["ratio_opt"], greedy["welfare"] / w_opt)


def test_compare_markets_time_limit_failure() -> None:
    markets = [({"market": "m"}, generate_market(150, 150, seed=0))]
    frame = compare_markets(markets, AuctionParams(split=False), readings={"no_trade": {}},
                            mechanisms=["ilp"], ilp_time_limit=0.02, backend="highspy", greedy_repeats=1)
    ilp = frame[frame["mechanism"] == "ilp"].iloc[0]
    assert ilp["status"] == "time_limit" and math.isnan(ilp["welfare"])
    greedy = frame[frame["mechanism"] == "greedy"].iloc[0]
    assert math.isnan(greedy["ratio_opt"]) and greedy["welfare"] > 0  # no ratio to an unproved optimum
    assert summarize(frame).set_index("mechanism").loc["ilp", "failed"] == 1


def test_readings_may_change_the_welfare_model_only_without_an_exact_baseline() -> None:
    markets = [({"market": "m"}, generate_market(30, 10, seed=0))]
    costs = {"alpha=2": AuctionParams(), "alpha=10": AuctionParams(alpha=10.0)}
    frame = compare_markets(markets, readings=costs, mechanisms=())
    assert set(frame["mechanism"]) == {"greedy"} and frame["ratio_opt"].isna().all()
    direct = run_greedy(markets[0][1], AuctionParams(alpha=10.0))
    row = frame.set_index("reading").loc["alpha=10"]
    assert row["welfare"] == direct.welfare and row["user_utility"] == float(direct.user_utility.sum())
    with pytest.raises(ValueError, match="changes the welfare model"):
        compare_markets(markets, readings=costs, mechanisms=("ilp",))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(readings={"bad": {"split": False}}), "changes the welfare model"),
        (dict(readings={"bad": 3}), r"readings\['bad'\] must be"),
        (dict(mechanisms=["vickrey"]), "not among"),
        (dict(mechanisms="ilp"), "mechanisms must be a sequence"),
        (dict(epsilon=-1.0, mechanisms=["dp"]), "epsilon = -1.0"),
        (dict(vcg_max_tasks="x"), "vcg_max_tasks = 'x'"),
        (dict(params="defaults"), "params must be an AuctionParams"),
    ],
)
def test_compare_markets_bad_arguments(kwargs: dict, match: str) -> None:
    markets = [({"market": "m"}, generate_market(5, 2, seed=0))]
    with pytest.raises((ValueError, TypeError), match=match):
        compare_markets(markets, **kwargs)
