"""Experiments are pure functions of (config, seed); the studies docs/mechanism.md quotes."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oasis_lab.auction.compare import READINGS, summarize
from oasis_lab.experiments import (
    EXPERIMENTS,
    AdversaryMatrix,
    Deterrence,
    DpPrivacy,
    Equilibrium,
    GreedyVsOptimum,
    IncentiveTable,
    IrCauses,
    LearningCurves,
    MarketChallengeGame,
    MarketOverTime,
    OutlierStudy,
    RefereeMarket,
    RepeatedWelfare,
    ResidualDrift,
    ScriptedVsLearning,
    SplitVerification,
    UnsplitGap,
    VcgBudget,
    WelfarePrice,
    WorstMarket,
    run,
)
from oasis_lab.experiments.auction import TIMING_COLUMNS
from oasis_lab.experiments.sweep import sweep

SMALL = {
    "greedy_vs_optimum": GreedyVsOptimum(n_tasks=20, mechanisms=("ilp", "lp", "vcg")),
    "outlier": OutlierStudy(n_tasks=300, multiples=(1.0, 5.0)),
    "worst_market": WorstMarket(n_tasks=12, scenarios=("balanced", "scarce_supply"), n_markets=2),
    "adversary_matrix": AdversaryMatrix(),
    "residual_drift": ResidualDrift(max_ulps=(2,), directions=("up",)),
    "deterrence": Deterrence(n_tasks=300, n_nodes=32),
    "market_over_time": MarketOverTime(rounds=4),
    "learning_curves": LearningCurves(rounds=3),
    "market_challenge_game": MarketChallengeGame(rounds=20),
    "scripted_vs_learning": ScriptedVsLearning(rounds=3, tasks_per_round=40, n_providers=20, optimum_every=2),
    "referee_market": RefereeMarket(n_disputes=20, n_nodes=16),
    "split_verification": SplitVerification(n_trials=20, n_nodes=16),
    "incentive_table": IncentiveTable(n_tasks=8, n_providers=3, unit_tasks=8, unit_providers=3, tiny_tasks=3,
                                      tiny_providers=2, mechanisms=("greedy surplus+unit_cost", "SBBA", "VCG"),
                                      report_grid=(0.5, 2.0), search="grid", user_shades=(0.0, 0.5),
                                      provider_markups=(0.0, 0.5), max_sweeps=2, certificate_scan=11,
                                      certificate_refine=1),
    "equilibrium": Equilibrium(n_tasks=8, n_providers=3, max_sweeps=2, scan=11, refine=1, certificate_scan=11,
                               certificate_refine=1),
    "welfare_price": WelfarePrice(n_tasks=20, n_providers=4),
    "repeated_welfare": RepeatedWelfare(n_tasks=20, n_providers=4, rounds=2),
    "vcg_budget": VcgBudget(tiny_tasks=4, tiny_providers=2, draws=2),
    "dp_privacy": DpPrivacy(unit_tasks=8, unit_providers=3),
    "ir_causes": IrCauses(n_tasks=60, n_providers=10),
    "unsplit_gap": UnsplitGap(sizes=(6, 10), time_limit=60.0),
}


def test_every_registered_experiment_has_a_small_config_here() -> None:
    registered = {name for name in EXPERIMENTS if not name.startswith("test_")}  # the tests' own
    assert registered <= set(SMALL), f"untested experiments: {sorted(registered - set(SMALL))}"


def test_unsplit_gap_bounds_the_greedy_by_the_tighter_bound() -> None:
    """Both the MIP bound and the split optimum bound the unsplittable optimum; the greedy
    (split=False) is measured against the smaller, and at an optimal solve the incumbent is
    the unsplittable optimum, at most the split one and at least the greedy."""
    t = run(UnsplitGap(sizes=(6, 10, 14), time_limit=60.0), 0)
    assert list(t["n"]) == [6, 10, 14] and (t["status"] == "optimal").all()
    assert (t["best_bound"] == t[["bound", "split_optimum"]].min(axis=1)).all()
    assert (t["incumbent"] <= t["split_optimum"] * (1 + 1e-9)).all()
    assert (t["greedy"] <= t["incumbent"] * (1 + 1e-9)).all() and (t["greedy/best bound"] <= 1 + 1e-9).all()
    assert t[["solve_s", "compact_ilp_s"]].isna().all().all()  # timings only when asked
    timed = run(UnsplitGap(sizes=(6,), time_limit=60.0, timings=True), 0)
    assert (timed[["solve_s", "compact_ilp_s"]] > 0).all().all()
    # the markets are greedy_vs_optimum's at that size and seed
    g = run(GreedyVsOptimum(n_tasks=10, readings=("no_trade",), mechanisms=("ilp",)), 0)
    ilp = g.loc[g["mechanism"] == "ilp", "welfare"].iloc[0]
    assert t.loc[t["n"] == 10, "split_optimum"].iloc[0] == pytest.approx(ilp, rel=1e-6)
    for bad, match in (({"sizes": ()}, "sizes is empty"), ({"sizes": (10, 20_000)}, r"sizes\[1\] = 20000"),
                       ({"time_limit": 2.2e6}, "time_limit"), ({"reading": "best"}, "reading")):
        with pytest.raises(ValueError, match=match):
            UnsplitGap(**bad)


def test_the_docs_list_every_registered_experiment() -> None:
    # docs/mechanism.md's "One runner" bullet names the registry; a new experiment must be named
    text = (Path(__file__).parents[2] / "docs" / "mechanism.md").read_text()
    bullet = text.split("- **One runner.**", 1)[1].split("`sweep` runs", 1)[0]
    listed = set(re.findall(r"`([a-z_]+)`", bullet)) - {"EXPERIMENTS"}
    registered = {name for name in EXPERIMENTS if not name.startswith("test_")}
    assert listed == registered, (sorted(registered - listed), sorted(listed - registered))
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    in_readme = readme.split("(`EXPERIMENTS`:", 1)[1].split("`experiments.expected`", 1)[0]
    listed = set(re.findall(r"`([a-z_]+)`", in_readme))
    assert listed == registered, ("README", sorted(registered - listed), sorted(listed - registered))


@pytest.mark.parametrize("name", sorted(SMALL))
def test_same_config_and_seed_give_identical_frames(name: str) -> None:
    config = SMALL[name]
    a, b = run(config, 3), run(config, 3)
    pd.testing.assert_frame_equal(a, b)
    assert not a.empty


@pytest.mark.parametrize("name", ["greedy_vs_optimum", "deterrence", "outlier"])
def test_another_seed_gives_another_frame(name: str) -> None:
    config = SMALL[name]
    assert not run(config, 1).equals(run(config, 2))


def test_timings_are_the_only_difference_between_runs() -> None:
    config = GreedyVsOptimum(n_tasks=15, readings=("no_trade",), mechanisms=("ilp",), timings=True)
    a, b = run(config, 0), run(config, 0)
    assert a[list(TIMING_COLUMNS)].notna().any().all()
    pd.testing.assert_frame_equal(a.drop(columns=list(TIMING_COLUMNS)), b.drop(columns=list(TIMING_COLUMNS)))


def test_greedy_vs_optimum_bounds_and_ir() -> None:
    frame = sweep(
        GreedyVsOptimum(n_tasks=20, mechanisms=("ilp", "lp", "vcg")),
        {"scenario": ["balanced", "price_crossing"]},
        2,
        client="serial",
        progress=False,
    )
    assert set(frame["mechanism"]) == {"ilp", "lp", "greedy", "vcg"}
    assert len(frame) == 2 * 2 * (3 + len(READINGS))
    ilp = frame[frame["mechanism"] == "ilp"]
    assert (ilp["status"] == "optimal").all()
    greedy = frame[frame["mechanism"] == "greedy"]
    # a greedy allocation is feasible, so it never beats the optimum, which never beats the LP
    assert (greedy["ratio_opt"] <= 1 + 1e-7).all()
    assert (greedy["ratio_lp"] <= greedy["ratio_opt"] + 1e-9).all()
    np.testing.assert_allclose(frame.loc[frame["mechanism"] == "vcg", "ratio_opt"], 1.0, rtol=1e-7)
    # only the as-written price fallback makes users pay above their value
    violating = greedy.groupby("reading")["ir_violations_users"].sum()
    assert (violating.drop("paper") == 0).all() and violating["paper"] > 0
    table = summarize(frame)
    assert (table["markets"] == 2).all() and (table["failed"] == 0).all()


def test_markets_follow_the_seed_not_a_counter() -> None:
    # the old compare() drew markets 0..seeds-1 whatever its seed; each seed is its own market
    config = GreedyVsOptimum(n_tasks=10, readings=("no_trade",), mechanisms=())
    assert not config.market(5).equals(config.market(6))
    assert config.market(5).equals(config.market(5))
    assert run(config, 5)["market_seed"].iloc[0] != run(config, 6)["market_seed"].iloc[0]


def test_unit_demand_runs_the_double_auctions() -> None:
    config = GreedyVsOptimum(
        n_tasks=40, unit_demand=True, readings=("unit_cost",), mechanisms=("ilp", "mcafee", "sbba", "dp")
    )
    frame = run(config, 0)
    assert set(frame["mechanism"]) == {"ilp", "greedy", "mcafee", "sbba", "dp"}
    mc = frame[frame["mechanism"] == "mcafee"]
    assert (mc["budget_surplus"] >= 0).all() and (mc["ratio_opt"] <= 1 + 1e-9).all()
    assert (frame.loc[frame["mechanism"].isin(["sbba", "dp"]), "budget_surplus"] == 0).all()


def test_time_limit_gives_no_ratio() -> None:
    frame = run(
        GreedyVsOptimum(n_tasks=150, split=False, readings=("no_trade",), mechanisms=("ilp",), ilp_time_limit=0.02), 0
    )
    ilp = frame[frame["mechanism"] == "ilp"].iloc[0]
    assert ilp["status"] == "time_limit" and math.isnan(ilp["welfare"])
    greedy = frame[frame["mechanism"] == "greedy"].iloc[0]
    assert math.isnan(greedy["ratio_opt"]) and greedy["welfare"] > 0


def test_outlier_moves_the_as_written_order_only() -> None:
    # docs/mechanism.md: the largest bid changes everyone's order under the as-written task
    # density (normalized by the round's maximum); the surplus order does not move
    frame = run(OutlierStudy(n_tasks=2000, multiples=(1.0, 2.0, 5.0, 10.0)), 0)
    change = frame.pivot(index="largest_bid_x", columns="task_density", values="others_change")
    assert change["as_written"].abs().max() > 1e-3
    assert change["surplus"].abs().max() < 1e-9
    np.testing.assert_allclose(change.loc[1.0], 0.0)


def test_worst_market_is_the_minimum_and_its_dissection_adds_up() -> None:
    config = SMALL["worst_market"]
    labels, market, d = config.worst(0)
    frame = run(config, 0)
    assert frame["ratio_opt"].iloc[0] == labels["ratio_opt"] < 1.0
    assert len(frame) == market.n_tasks
    t = d.totals
    assert t["welfare_optimum"] >= t["welfare_greedy"] - 1e-7
    assert t["welfare_greedy"] / t["welfare_optimum"] == pytest.approx(labels["ratio_opt"], rel=1e-6)
    assert t["only_optimum"] == ((frame["optimum"] == 1) & (frame["greedy"] == 0)).sum()


def test_adversary_matrix_convicts_every_cheater_except_documented_cases() -> None:
    frame = run(AdversaryMatrix(), 0)
    assert len(frame) == 13 * 2
    wrong = frame[~frame["correct"]]
    assert wrong["documented"].all(), wrong[["matchup", "comparison", "verdict"]]
    # and every documented case is still wrong (else the documentation is stale): the 2-ULP
    # cheat at one node, ambiguous in exact mode (within the rounding bound) and upheld in
    # tolerance mode; no honest provider is convicted (the one on other hardware is ambiguous
    # in exact mode, issue 20 item 4); the laundered cheat is convicted at its real cheat in both
    assert frame["documented"].sum() == len(wrong) == 2
    assert set(wrong["matchup"]) == {"2 ULPs at one node"}
    assert not (frame["provider_honest"] & (frame["verdict"] == "provider_guilty")).any()
    exact = frame[frame["comparison"] == "exact"].set_index("matchup")
    assert exact.loc["2 ULPs at one node", "verdict"] == exact.loc["honest, other device", "verdict"] == "ambiguous"
    cheats = exact.loc[~exact["provider_honest"]].drop(index="2 ULPs at one node")
    assert (cheats["verdict"] == "provider_guilty").all()
    launder = frame.set_index(["matchup", "comparison"]).loc["launder: 1 ULP then cheat"]
    assert launder["verdict"].tolist() == ["provider_guilty"] * 2
    assert launder["disputed_node"].tolist() == [61 - 5] * 2


def test_adversary_matrix_takes_its_nodes_from_the_model() -> None:
    # issue 20, item 7: the 4-node quantized MLP crashed (matchups named node 5)
    frame = run(AdversaryMatrix(model="quantized-mlp"), 0)
    assert len(frame) == 13 * 2 and frame["disputed_node"].max() <= 3
    # every node is discrete: no rounding to tolerate, no device rounds differently
    assert frame["correct"].all()
    from oasis_lab.experiments.disputes import matchups

    with pytest.raises(ValueError, match="n \\(nodes\\) = 1 must be >= 2"):
        matchups(1)


def test_deterrence_follows_the_frontier() -> None:
    # cheating pays iff G > p (f S + P): below the frontier opportunists cheat and profit
    low = run(Deterrence(n_tasks=800, n_nodes=32, stake=0.0, payment=0.0, p_user=0.02, p_platform=0.0), 0)
    high = run(Deterrence(n_tasks=800, n_nodes=32, stake=5000.0), 0)
    assert bool(low["cheats"].iloc[0]) and low["cheater_profit"].iloc[0] > 0
    assert not bool(high["cheats"].iloc[0]) and high["cheater_profit"].iloc[0] == 0
    assert high["welfare"].iloc[0] > low["welfare"].iloc[0]
    # the honest world pays only for the challengers' re-execution: V - G (1 + share challenged)
    row = high.iloc[0]
    assert row["welfare_if_honest"] == pytest.approx(150 - 50 * (1 + 0.0975), abs=50 * 0.05)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: GreedyVsOptimum(scenario="moon"), "scenario = 'moon'"),
        (lambda: GreedyVsOptimum(readings=("greedy",)), "readings has unknown"),
        (lambda: GreedyVsOptimum(mechanisms="ilp"), "mechanisms must be a tuple"),
        (lambda: GreedyVsOptimum(n_tasks=0), "n_tasks = 0"),
        (lambda: GreedyVsOptimum(alpha=1.0), "alpha"),
        (lambda: GreedyVsOptimum(epsilon=-1.0), "epsilon"),
        (lambda: Deterrence(p_user=1.5), "p_user"),
        (lambda: Deterrence(stake=-1.0), "stake"),
        (lambda: Deterrence(comparison="fuzzy"), "comparison"),
        (lambda: OutlierStudy(multiples=(0.5,)), "multiples"),
        (lambda: WorstMarket(reading="best"), "reading = 'best'"),
        (lambda: AdversaryMatrix(arity=1), "arity = 1"),
        (lambda: GreedyVsOptimum().replace(sizes=[1]), "'sizes' is not a parameter"),
        (lambda: GreedyVsOptimum.from_dict({"n_task": 3}), "'n_task' is not a parameter"),
    ],
)
def test_bad_configs_name_the_field(make, match: str) -> None:
    with pytest.raises((TypeError, ValueError), match=match):
        make()


def test_run_refuses_bad_seed_and_config() -> None:
    with pytest.raises(TypeError, match="seed"):
        run(SMALL["deterrence"], 1.5)
    with pytest.raises(TypeError, match="config must be an ExperimentConfig"):
        run({"n_tasks": 3}, 0)


def test_worst_market_looks_at_the_sweeps_markets() -> None:
    # notebook 01 dissects the worst market of its own greedy_vs_optimum sweep
    frame = sweep(
        GreedyVsOptimum(n_tasks=12, readings=("no_trade",), mechanisms=("ilp",)),
        {"scenario": ["balanced", "scarce_supply"]},
        2,
        client="serial",
        progress=False,
    )
    worst = frame[frame["mechanism"] == "greedy"]["ratio_opt"].min()
    assert run(SMALL["worst_market"], 0)["ratio_opt"].iloc[0] == pytest.approx(worst, rel=1e-9)


def test_market_over_time_challenges_remove_cheaters() -> None:
    # the simulation study: with no challenge nobody is caught; with many, every cheater is
    # removed and keeps less, and the challengers pay for it
    none = run(MarketOverTime(p_user=0.0, p_platform=0.0), 0).iloc[0]
    many = run(MarketOverTime(p_user=0.3, p_platform=0.0, stake=5000), 0).iloc[0]
    assert none["cheaters"] > 0 and none["cheaters_removed"] == 0 and none["challenger_costs"] == 0
    assert many["cheaters_removed"] == many["cheaters"]
    assert many["cheater_income_per_cheater"] < none["cheater_income_per_cheater"]
    assert many["false_convictions"] == 0
    with pytest.raises(ValueError, match="p_user"):
        MarketOverTime(p_user=2.0)


def test_repeated_welfare_at_40_x_8_is_the_docs_table() -> None:
    # docs/mechanism.md ("The truthful variant under repetition", its welfare price): the
    # 40 x 8 rows, mean +- standard deviation over 5 draws of each draw's 3 scored rounds, and
    # the mean; min-max over the 25 draws (the larger sizes: the sweep the docs name)
    scenarios = ["abundant_supply", "balanced", "heterogeneous", "price_crossing", "scarce_supply"]
    df = sweep(RepeatedWelfare(n_tasks=40, n_providers=8, rounds=4, draws=5), {"scenario": scenarios}, [0],
               client="serial", progress=False)
    per_draw = df.groupby(["scenario", "mechanism", "draw"])["ratio"].mean()
    order = ["greedy", "truthful, previous_clearing", "truthful, leave_one_out", "truthful, other_group"]
    lines = (Path(__file__).resolve().parents[2] / "docs" / "mechanism.md").read_text().splitlines()
    start = lines.index(next(x for x in lines if x.startswith("| 40 x 8 | abundant_supply |")))
    for k, scenario in enumerate(scenarios):
        cells = [c.strip() for c in lines[start + k].strip("|").split("|")]
        assert cells[1] == scenario, cells
        stats = per_draw[scenario].groupby("mechanism").agg(["mean", "std"])
        assert cells[2:] == [f"{stats.loc[m, 'mean']:.3f} +- {stats.loc[m, 'std']:.3f}" for m in order], scenario
    cells = [c.strip().strip("*") for c in lines[start + 5].strip("|").split("|")]
    overall = per_draw.groupby("mechanism").agg(["mean", "min", "max"])
    assert cells[2:] == [f"{overall.loc[m, 'mean']:.3f}; {overall.loc[m, 'min']:.3f}-{overall.loc[m, 'max']:.3f}"
                         for m in order]


def test_market_over_time_economics_reach_the_simulation() -> None:
    """Every economic field is the simulation's: stake, slash, bond, cheat saving, challenge cost."""
    c = MarketOverTime(stake=300, slash_fraction=0.4, challenger_bond=25, cheat_saving=0.8,
                       challenge_cost=2.0, p_platform=0.03).sim_config()
    assert (c.disputes.provider_stake, c.disputes.slash_fraction, c.disputes.challenger_bond) == (300, 0.4, 25)
    assert (c.cheat_saving, c.challenge_cost, c.p_platform) == (0.8, 2.0, 0.03)
    with pytest.raises(ValueError, match="challenger_bond"):
        MarketOverTime(challenger_bond=-1)
    with pytest.raises(ValueError, match="cheat_saving"):
        MarketOverTime(cheat_saving=1.5)
    with pytest.raises(ValueError, match="challenge_cost"):
        MarketOverTime(challenge_cost=float("nan"))
    # a bond past what the ledger can hold in smallest units: named by the experiment's field
    with pytest.raises(ValueError, match="challenger_bond = 10000000000000"):
        MarketOverTime(challenger_bond=10**13)
