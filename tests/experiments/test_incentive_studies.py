"""The incentives studies of notebook 08 as experiments (small markets)."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_lab.auction.pricing import user_costs
from oasis_lab.experiments import (
    EXPERIMENTS,
    DpPrivacy,
    Equilibrium,
    IncentiveTable,
    IrCauses,
    RepeatedWelfare,
    VcgBudget,
    WelfarePrice,
    run,
)
from oasis_lab.experiments.incentives import BEST, PRIVACY_VARIANTS, SPEC_NAMES, study_markets
from oasis_lab.experiments.sweep import sweep
from oasis_lab.incentives.truthful import clearing_price, truthful_greedy, tuned_price


def test_study_markets_are_seeded_and_each_kind_is_drawn_apart() -> None:
    a = study_markets(16, 4, ["balanced"], 1, tiny_tasks=4, tiny_providers=2, seed=3)
    b = study_markets(16, 4, ["balanced"], 1, tiny_tasks=4, tiny_providers=2, seed=3)
    assert a[0].general.equals(b[0].general) and not a[0].general.equals(a[0].previous)
    # drawing fewer kinds (welfare_price draws no unit or tiny market) leaves the others as they are
    wp = run(WelfarePrice(n_tasks=16, n_providers=4), 3)
    g = a[0].general
    assert wp["optimum"].iloc[0] > 0 and wp["reference_price"].iloc[0] == clearing_price(a[0].previous, BEST)
    assert np.isclose(wp["greedy"].iloc[0] * wp["optimum"].iloc[0], _greedy_welfare(g))
    with pytest.raises(TypeError, match="scenarios must be a sequence"):
        study_markets(16, 4, "balanced", 1)


def _greedy_welfare(market) -> float:
    from oasis_lab.auction.greedy import run_greedy

    return run_greedy(market, BEST).welfare


def test_welfare_price_and_vcg_budget_have_their_columns() -> None:
    wp = run(WelfarePrice(n_tasks=16, n_providers=4, draws=2), 3)
    assert wp["draw"].tolist() == [0, 1]
    assert (wp[["greedy", "truthful", "truthful_hindsight"]] <= 1 + 1e-7).all().all()
    # the hindsight price is the best posted price for this round's own reports
    assert (wp["truthful_hindsight"] >= wp["truthful"] - 1e-9).all()
    budget = run(VcgBudget(tiny_tasks=4, tiny_providers=2, draws=3), 3)
    assert np.isfinite(budget["budget_surplus"]).all() and len(budget) == 3


def test_incentive_table_scans_and_plays_each_mechanism() -> None:
    names = ("greedy surplus+unit_cost", "McAfee", "VCG")
    study = IncentiveTable(n_tasks=16, n_providers=4, unit_tasks=12, unit_providers=4, tiny_tasks=4, tiny_providers=2,
                           mechanisms=names, report_grid=(0.5, 2.0), search="grid", user_shades=(0.0, 0.5),
                           provider_markups=(0.0, 0.5), max_sweeps=2, certificate_scan=21, certificate_refine=1)
    table = sweep(study, {"scenario": ["balanced", "price_crossing"]}, [3], client="serial", progress=False)
    assert len(table) == 6 and table["share_profitable"].between(0, 1).all()
    assert table["mechanism"].tolist() == list(names) * 2
    vcg = table[table["mechanism"] == "VCG"]
    # truthful in values and costs (over-claimed capacity or speed is not a report it accepts), efficient
    assert (vcg[["share_profitable_users", "share_profitable_cost"]] == 0).all().all()
    assert np.allclose(vcg["ratio_truth"], 1.0)
    # every end profile carries its certificate; VCG's (the truth) passes it, and a row is
    # labelled an equilibrium only when certified
    assert vcg["certified"].all() and (vcg["max_gain"] <= 1e-6).all()
    assert (table["certified"] == table["label"].str.startswith("epsilon-Nash equilibrium")).all()
    assert (table["certified"] == (table["deviators"] == 0)).all()


def test_equilibrium_greedy_is_not_a_fixed_point_and_reports_ratios() -> None:
    cheap = {"scan": 21, "refine": 1, "certificate_scan": 21, "certificate_refine": 1}
    table = run(Equilibrium(n_tasks=12, n_providers=4, mechanisms=("greedy surplus+unit_cost",), max_sweeps=2,
                            **cheap), 0)
    row = table.iloc[0]
    assert row["mean_shade"] > 0
    assert 0 < row["ratio_truth"] <= 1 + 1e-9 and row["ratio_end"] <= 1 + 1e-9
    assert row["label"].startswith("epsilon-Nash" if row["certified"] else "dynamics stopped, not an equilibrium")
    truthful = run(Equilibrium(n_tasks=12, n_providers=4, mechanisms=("truthful greedy (posted price)",),
                               max_sweeps=2, **cheap), 0).iloc[0]
    assert truthful["converged"] and truthful["sweeps"] == 1 and truthful["mean_shade"] == 0
    assert truthful["certified"] and truthful["max_gain"] <= 1e-6


def test_repeated_welfare_has_a_row_per_round_and_mechanism() -> None:
    t = run(RepeatedWelfare(n_tasks=20, n_providers=6, rounds=3, draws=2), 1)
    assert len(t) == 2 * 2 * 4  # draws x scored rounds x (greedy + three price sources)
    assert set(t["round"]) == {1, 2} and (t["ratio"] <= 1 + 1e-7).all()
    assert set(t["mechanism"]) == {"greedy", "truthful, previous_clearing", "truthful, leave_one_out",
                                   "truthful, other_group"}


def test_dp_privacy_and_ir_causes() -> None:
    p = run(DpPrivacy(unit_tasks=10, unit_providers=4, epsilons=(1.0,)), 0)
    assert p["variant"].tolist() == list(PRIVACY_VARIANTS)
    public = p.set_index("variant")["loss"]
    assert 0 < public["public grid, per-agent sensitivity"] <= 1.0 + 1e-9  # the guarantee holds
    assert public["grid from the reports (old)"] == np.inf
    c = run(IrCauses(n_tasks=120, n_providers=20, scenario="price_crossing"), 0)
    assert c[["price_fallback", "user_cost_midpoint"]].sum(axis=1).iloc[0] > 0
    assert run(IrCauses(n_tasks=120, n_providers=20, price_rule="no_trade"), 0)["price_fallback"].iloc[0] == 0


def test_tuned_price_is_the_best_candidate_on_the_round_it_reads() -> None:
    # the tuned price maximises the variant's welfare over its candidate prices (quantiles of the
    # per-unit net values and unit costs, and the clearing price), recomputed here independently
    better = 0
    for seed in range(3):
        prev = study_markets(40, 8, ["heterogeneous"], 1, seed=seed)[0].previous
        units = prev.task_units
        per_unit = (prev.value - user_costs(prev, BEST))[units > 0] / units[units > 0]
        costs = prev.provider_unit_cost[np.isfinite(prev.provider_unit_cost)]
        pool = np.concatenate([per_unit[per_unit > 0], costs])
        candidates = [*np.quantile(pool, np.linspace(0.0, 1.0, 41)), clearing_price(prev, BEST)]
        welfare = [truthful_greedy(prev, float(c), BEST, compute_payments=False).welfare for c in candidates]
        w_tuned = truthful_greedy(prev, tuned_price(prev, BEST), BEST, compute_payments=False).welfare
        assert w_tuned == max(welfare)
        better += w_tuned > welfare[-1]  # strictly better than the clearing price itself
    assert better >= 1


@pytest.mark.parametrize(
    ("cls", "changes", "error", "match"),
    [
        (IncentiveTable, {"scenario": "moon"}, ValueError, "scenario = 'moon' must be one of"),
        (IncentiveTable, {"mechanisms": ("VCG", "Dutch")}, ValueError, r"mechanisms has unknown names \['Dutch'\]"),
        (IncentiveTable, {"user_shades": (0.2, 0.4)}, ValueError, "user_shades must contain 0"),
        (IncentiveTable, {"provider_markups": "0.1"}, TypeError, "provider_markups must be a sequence"),
        (IncentiveTable, {"report_grid": (0.5, -1.0)}, ValueError, r"report_grid\[1\] = -1.0 must be finite and > 0"),
        (IncentiveTable, {"n_tasks": 10**9}, ValueError, "n_tasks = 1000000000 must be <= 100000"),
        (IncentiveTable, {"draws": 0}, ValueError, "draws = 0 must be >= 1"),
        (IncentiveTable, {"search": "newton"}, ValueError, "search = 'newton' must be one of"),
        (Equilibrium, {"certificate_scan": 2}, ValueError, "certificate_scan = 2 must be >= 3"),
        (Equilibrium, {"epsilon": -0.1}, ValueError, "epsilon"),
        (RepeatedWelfare, {"rounds": 1}, ValueError, "rounds = 1 must be >= 2"),
        (RepeatedWelfare, {"price_sources": ("median",)}, ValueError, r"price_sources has unknown names \['median'\]"),
        (Equilibrium, {"mechanisms": ("McAfee",)}, ValueError, r"mechanisms \['McAfee'\] do not run on general"),
        (VcgBudget, {"tiny_tasks": 40}, ValueError, "tiny_tasks = 40 must be <= 30"),
        (IncentiveTable, {"tiny_tasks": 31}, ValueError, "tiny_tasks = 31 must be <= 30"),
        (DpPrivacy, {"epsilons": (0.0,)}, ValueError, "epsilons = 0.0 must be finite and > 0"),
        (IrCauses, {"price_rule": "haggle"}, ValueError, "price_rule"),
    ],
)
def test_bad_settings_are_refused_by_name(cls, changes, error, match) -> None:
    with pytest.raises(error, match=match):
        cls(**changes)


def test_all_seven_are_registered() -> None:
    for name in ("incentive_table", "equilibrium", "welfare_price", "repeated_welfare", "vcg_budget", "dp_privacy",
                 "ir_causes"):
        assert name in EXPERIMENTS
    assert IncentiveTable().mechanisms == SPEC_NAMES
