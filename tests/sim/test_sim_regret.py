"""What learning agents did: the regret report (importance-weighted counterfactuals, bounds), the
final profile and its certificate by re-simulation, the learning curves (issue 19)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from oasis_lab.experiments import LearningCurves, run
from oasis_lab.sim import SimConfig, simulate
from oasis_lab.sim.learning import (
    certify_profile,
    curve_summary,
    final_profile,
    phase_table,
    regret_bounds,
    regret_report,
)

SMALL = dict(rounds=10, tasks_per_round=120, n_providers=16)


def _run(seed: int = 0, **data: object) -> object:
    base = dict(SMALL, cheater_share=0.3, p_platform=0.05,
                disputes={"provider_stake": 200, "challenger_bond": 20},
                policies={"provider": {"policy": "learning", "markups": [0.0, 0.2]},
                          "challenger": {"policy": "learning", "n_challengers": 2}})
    base.update(data)
    return simulate(SimConfig.from_dict(base), seed)


def test_the_regret_estimate_by_hand() -> None:
    res = _run()
    k = int(res.policies.set_index("policy").loc["challengers", "actions"])
    # three decisions of challenger 0 (one learner): actions 0, 1, 0 drawn with probabilities
    # 0.5, 0.25, 0.5, earning 2, 4, -1
    hand = pd.DataFrame({"role": "challenger", "policy": "challengers", "agent": [0, 0, 0], "challenger": [0, 0, 0],
                         "round": [0, 1, 2], "learned": [0, 1, 2], "action": [0, 1, 0],
                         "probability": [0.5, 0.25, 0.5], "payoff": [2.0, 4.0, -1.0]})
    rep = regret_report(dataclasses.replace(res, agents=hand))
    row = rep.iloc[0]
    # estimated totals: action 0: 2/0.5 - 1/0.5 = 2; action 1: 4/0.25 = 16; the others 0
    assert row["best_action"] == 1 and row["best_estimate"] == pytest.approx(16.0)
    assert row["earned"] == pytest.approx(5.0) and row["regret"] == pytest.approx(11.0)
    assert row["regret_se"] == pytest.approx(16.0) and row["rounds"] == 3
    assert row["bound"] == pytest.approx(float(regret_bounds(res, "challenger", "challengers", [3])[0]))
    assert row["best_label"] == "challenge_rate=0.005" and k == 7
    assert row["method"] == "importance-weighted estimate" and row["guarantee"] == "expected"


def test_the_regret_report_of_a_run() -> None:
    res = _run(1)
    rep = regret_report(res)
    d = res.agents
    assert set(rep["role"]) == {"provider", "challenger"}
    for _, row in rep.iterrows():
        if row["role"] == "challenger":
            mine = d[(d["role"] == "challenger") & (d["challenger"] == row["agent"])]
        else:
            mine = d[(d["role"] == row["role"]) & (d["policy"] == row["policy"]) & (d["agent"] == row["agent"])]
        assert row["rounds"] == len(mine)
        assert row["earned"] == pytest.approx(mine["payoff"].sum())
    # a challenger is two learners (dispute_delay 1): its bound is the sum of its copies'
    ch = rep[rep["role"] == "challenger"].iloc[0]
    per_copy = d[(d["role"] == "challenger") & (d["challenger"] == ch["agent"])].groupby("agent").size()
    assert ch["bound"] == pytest.approx(regret_bounds(res, "challenger", "challengers", per_copy.to_numpy()).sum())
    assert (rep["bound"] > 0).all() and rep["consistent"].dtype == bool
    with pytest.raises(ValueError, match="no learning agents"):
        regret_report(simulate(SimConfig(**SMALL), 0))
    with pytest.raises(TypeError, match="must be a SimulationResult"):
        regret_report(rep)  # type: ignore[arg-type]


def test_the_final_profile_is_each_agents_last_mixed_strategy() -> None:
    res = _run(2)
    prof = final_profile(res)
    d = res.agents
    ch = prof["challenger"].set_index("agent")["challenge_rate"]
    for i in (0, 1):
        mine = d[(d["role"] == "challenger") & (d["challenger"] == i)]
        last = mine.sort_values("round").groupby("agent").tail(1)
        assert ch[i] == pytest.approx(last["mixed_challenge_rate"].mean())
    p = prof["provider"]
    assert set(p["policy"]) <= {"cheaters", "honest"} and {"markup", "cheat_rate", "adversary"} <= set(p.columns)


def test_a_certificate_finds_the_deviation_and_states_its_epsilon() -> None:
    # no cheaters: a challenger's every recomputation is lost money, so its best deviation is
    # to stop checking, whatever its final rate; at that profile nobody gains
    data = dict(cheater_share=0.0, policies={"challenger": {"policy": "learning", "challenge_rates": [0.0, 0.5]}})
    res = _run(0, **data)
    cert = certify_profile(res, epsilon=1.0, rounds=3, scan=5, refine=1)
    t = cert.table
    assert list(t["agent"]) == ["challenger:0"]
    row = t.iloc[0]
    assert row["best"] == pytest.approx(0.0, abs=1e-9) and row["at_bound"]
    assert row["current"] > 0 and row["gain"] > 1.0 and not cert.passed
    assert "not an equilibrium" in cert.label
    # the deviation gain is the recomputation the checks cost
    assert row["gain"] == pytest.approx(row["best_utility"] - row["utility"])
    zero = dataclasses.replace(res, agents=res.agents.assign(mixed_challenge_rate=0.0))
    ok = certify_profile(zero, epsilon=0.0, rounds=3, scan=5, refine=1)
    assert ok.passed and ok.max_gain == 0.0 and "0-Nash equilibrium" in ok.label
    with pytest.raises(ValueError, match="no learned decision"):
        certify_profile(res, epsilon=1.0, agents=[("challenger", 5)])
    with pytest.raises(ValueError, match="epsilon = -1"):
        certify_profile(res, epsilon=-1.0)


def test_learning_curves_and_their_summaries(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("tasks_per_round: 120\nn_providers: 16\ncheater_share: 0.3\n"
                    "policies:\n  challenger: {policy: learning}\n")
    experiment = LearningCurves(config_file=str(path), rounds=6, columns=("mean_challenge_rate", "challenged_share",
                                                                         "mean_shade"))
    curves = pd.concat([run(experiment, s).assign(seed=s) for s in (0, 1)], ignore_index=True)
    # columns the run does not have (no learning user) are left out
    assert list(curves.columns) == ["round", "mean_challenge_rate", "challenged_share", "seed"]
    assert len(curves) == 12
    s = curve_summary(curves, "mean_challenge_rate", window=2)
    assert len(s) == 6 and (s["min"] <= s["mean"]).all() and (s["mean"] <= s["max"]).all()
    one = curves[curves["seed"] == 0].set_index("round")["mean_challenge_rate"]
    two = curves[curves["seed"] == 1].set_index("round")["mean_challenge_rate"]
    assert s.loc[3, "mean"] == pytest.approx((one[2:4].mean() + two[2:4].mean()) / 2)
    ph = phase_table(curves, ["mean_challenge_rate"], [0, 3, 6])
    assert ph["mean_challenge_rate_mean"].iloc[1] == pytest.approx((one[3:].mean() + two[3:].mean()) / 2)
    with pytest.raises(ValueError, match="increasing"):
        phase_table(curves, ["mean_challenge_rate"], [3, 3])
    with pytest.raises(ValueError, match="not in the curves"):
        phase_table(curves, ["mean_shade"], [0, 3])
    assert np.isfinite(ph["mean_challenge_rate_sd"]).all()
    with pytest.raises(TypeError, match="columns must be a non-empty sequence"):
        LearningCurves(columns="mean_shade")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="config_file"):
        LearningCurves(config_file="no_such_config.yaml")
