"""compare(), summarize() and the ``compare`` CLI."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from oasis_lab.__main__ import main
from oasis_lab.auction.compare import READINGS, compare, compare_markets, summarize
from oasis_lab.market import generate_market
from oasis_lab.params import AuctionParams


def test_compare_generated_markets_rows_and_ratios() -> None:
    frame = compare(sizes=[12, 25], scenarios=["balanced", "scarce_supply"], seeds=2, greedy_repeats=1)
    n_markets = 2 * 2 * 2
    # ilp, lp, one row per reading, and vcg (both sizes <= 30 tasks); no double auctions.
    assert len(frame) == n_markets * (3 + len(READINGS))
    assert set(frame["mechanism"]) == {"ilp", "lp", "greedy", "vcg"}
    ilp = frame[frame["mechanism"] == "ilp"]
    assert (ilp["status"] == "optimal").all()
    np.testing.assert_allclose(ilp["ratio_opt"], 1.0)
    greedy = frame[frame["mechanism"] == "greedy"]
    assert (greedy["ratio_opt"] <= 1 + 1e-7).all()
    assert (greedy["ratio_lp"] <= greedy["ratio_opt"] + 1e-9).all()
    assert (frame.loc[frame["mechanism"] == "lp", "ratio_opt"] >= 1 - 1e-9).all()
    np.testing.assert_allclose(frame.loc[frame["mechanism"] == "vcg", "ratio_opt"], 1.0, rtol=1e-7)
    assert (greedy["speedup_vs_ilp"] > 0).all()
    # Only the as-written price fallback makes users pay above their value.
    violating = greedy.groupby("reading")["ir_violations_users"].sum()
    assert (violating.drop("paper") == 0).all()
    table = summarize(frame)
    assert len(table) == 2 * 2 * (3 + len(READINGS))
    assert (table["markets"] == 2).all() and (table["failed"] == 0).all()


def test_compare_unit_demand_runs_the_double_auctions() -> None:
    frame = compare(sizes=[40], scenarios=["balanced", "price_crossing"], seeds=1, unit_demand=True,
                    readings={"unit_cost": READINGS["unit_cost"]}, mechanisms=["ilp", "mcafee", "sbba", "dp"])
    assert set(frame["mechanism"]) == {"ilp", "greedy", "mcafee", "sbba", "dp"}
    mc = frame[frame["mechanism"] == "mcafee"]
    assert (mc["budget_surplus"] >= 0).all() and (mc["ratio_opt"] <= 1 + 1e-9).all()
    assert (frame.loc[frame["mechanism"] == "sbba", "budget_surplus"] == 0).all()
    assert (frame.loc[frame["mechanism"] == "dp", "budget_surplus"] == 0).all()


def test_compare_explicit_markets_and_time_limit_failure() -> None:
    markets = [generate_market(150, 150, seed=0)]
    frame = compare(markets, AuctionParams(split=False), readings={"no_trade": {}},
                    mechanisms=["ilp"], ilp_time_limit=0.02, backend="highspy", greedy_repeats=1)
    ilp = frame[frame["mechanism"] == "ilp"].iloc[0]
    assert ilp["status"] == "time_limit" and math.isnan(ilp["welfare"])
    greedy = frame[frame["mechanism"] == "greedy"].iloc[0]
    assert math.isnan(greedy["ratio_opt"]) and greedy["welfare"] > 0  # no ratio to an unproved optimum
    assert summarize(frame).set_index("mechanism").loc["ilp", "failed"] == 1


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


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(readings={"bad": {"split": False}}), "changes the welfare model"),
        (dict(mechanisms=["vickrey"]), "not among"),
        (dict(scenarios=["moon"]), "unknown"),
        (dict(sizes=[0]), "positive ints"),
        (dict(seeds=0), "seeds = 0"),
        (dict(markets=["m"]), r"markets\[0\] must be a Market"),
        (dict(markets=generate_market(5, 2, seed=0)), "markets must be an iterable of Market"),
        (dict(markets=5), "markets must be an iterable of Market"),
        (dict(sizes=10), "sizes = 10"),
        (dict(mechanisms="ilp"), "mechanisms must be a sequence"),
        (dict(epsilon=-1.0, mechanisms=["dp"]), "epsilon = -1.0"),
        (dict(vcg_max_tasks="x"), "vcg_max_tasks = 'x'"),
    ],
)
def test_compare_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        compare(**kwargs)


def test_cli_prints_table_and_writes_csv(tmp_path, capsys) -> None:
    out = tmp_path / "cmp.csv"
    code = main(
        [
            "compare",
            "--sizes",
            "10,20",
            "--scenarios",
            "balanced",
            "--seeds",
            "1",
            "--readings",
            "no_trade,unit_cost",
            "--out",
            str(out),
            "--no-progress",
            "--repeats",
            "1",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "welfare_ratio" in printed and f"wrote 10 rows to {out}" in printed
    frame = pd.read_csv(out)
    assert len(frame) == 10 and set(frame["reading"].dropna()) == {"no_trade", "unit_cost"}


def test_cli_rejects_bad_lists() -> None:
    with pytest.raises(SystemExit):
        main(["compare", "--sizes", "ten"])
    with pytest.raises(SystemExit):
        main(["compare", "--readings", "greedy"])
