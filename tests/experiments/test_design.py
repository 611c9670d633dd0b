"""design_search: checked up front naming the key, deterministic on any client, resumable after
SIGKILL without recomputing finished trials; Pareto front, recommendation, held-out check."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oasis_lab import paths
from oasis_lab.__main__ import main
from oasis_lab.experiments import design as design_module
from oasis_lab.experiments.design import (
    METRICS,
    Choice,
    Float,
    Int,
    Metric,
    check_design,
    design_search,
    held_out_check,
    held_out_seeds,
    load_study,
    pareto_front,
    recommend,
)
from oasis_lab.experiments.sweep import local_client
from oasis_lab.seeding import stream
from oasis_lab.sim import SimConfig

ROOT = paths.ROOT

#: Tiny markets: a run takes a few hundredths of a second.
BASE = {"rounds": 3, "tasks_per_round": 30, "n_providers": 8, "cheater_share": 0.25, "other_device_share": 0.2}
SPACE = {
    "disputes.provider_stake": Int(100, 20000, log=True),
    "p_platform": Float(0.0, 0.3),
    "disputes.comparison": Choice(("exact", "tolerance")),
}
OBJECTIVES = ["fraud_paid", "security_cost"]
CONSTRAINTS = {"false_convictions": {"max": 0}}
SCENARIOS = {"balanced": {}, "cheaters": {"cheater_share": 0.5}}


def _study(tmp: Path | None = None, client="serial", budget=4, **kw):
    args = dict(base=BASE, batch_size=2, progress=False, out=tmp)
    args.update(kw)
    return design_search(SPACE, OBJECTIVES, CONSTRAINTS, SCENARIOS, 2, budget, client, **args)


# ----------------------------------------------------------------- bad input, up front
BAD = [
    ({"space": {"disputes.stake": Float(0, 1)}}, ValueError, "'disputes.stake'"),
    ({"space": {"stakes": Float(0, 1)}}, ValueError, "'stakes' is not a field of SimConfig"),
    ({"space": {"p_platform": Float(0.3, 0.1)}}, ValueError, "space['p_platform']: low = 0.3, high = 0.1 is inverted"),
    ({"space": {"dispute_delay": Int(2, 2)}}, ValueError, "space['dispute_delay']: low = 2, high = 2 is empty"),
    ({"space": {"p_platform": Float(0.0, 2.0)}}, ValueError, "space['p_platform'] = 2.0 is refused by the config"),
    ({"space": {"disputes.provider_stake": Float(1.0, 10.0)}}, TypeError, "space['disputes.provider_stake'] = 1.0"),
    ({"space": {"referee": Choice(("trusted", "court"))}}, ValueError, "space['referee'] = 'court' is refused"),
    ({"space": {"referee": Choice(("trusted",))}}, ValueError, "space['referee']: choices"),
    ({"space": {"p_platform": {"type": "double", "low": 0, "high": 1}}}, ValueError, "space['p_platform']: type"),
    ({"space": {"p_platform": {"type": "float", "lo": 0, "high": 1}}}, ValueError, "unknown key 'lo'"),
    ({"space": {"p_platform": {"type": "float", "low": 0.0, "high": 0.2, "log": True}}}, ValueError,
     "space['p_platform']: a log range needs low > 0"),
    ({"space": {"auction.psi_weights[0]": Float(0, 2)}}, ValueError, "auction.psi_weights is None"),
    ({"space": {"disputes": Float(0, 2)}}, ValueError, "space key 'disputes' is a table"),
    ({"space": {"disputes..slash": Float(0, 1)}}, ValueError, "space key 'disputes..slash'"),
    ({"space": {}}, ValueError, "space must be a non-empty table"),
    ({"space": {"p_platform": Float(0, 0.1), "p_platform[0]": Float(0, 0.1)}}, ValueError, "not a list"),
    ({"scenarios": {"x": {"p_platform": 0.5}}}, ValueError, "scenarios['x'] sets 'p_platform', which the space"),
    ({"scenarios": {"x": {"disputes": {"stake": 5}}}}, ValueError, "'stake' is not a field of disputes"),
    ({"scenarios": {"x": {"cheater_share": 2.0}}}, ValueError, "scenarios: scenario 'x': cheater_share = 2.0"),
    ({"scenarios": []}, ValueError, "scenarios is empty"),
    ({"objectives": ["welfare_shares"]}, ValueError, "objectives: 'welfare_shares' is not a metric"),
    ({"objectives": {"fraud_paid": "lower"}}, ValueError, "objectives['fraud_paid'] = 'lower'"),
    ({"objectives": []}, ValueError, "objectives is empty"),
    ({"objectives": ["fraud_paid", "fraud_paid"]}, ValueError, "'fraud_paid' is named twice"),
    ({"objectives": ["welfare_share"]}, ValueError, "metric 'welfare_share' needs the rounds' exact optimum"),
    ({"constraints": {"honesty": {"min": 0.9}}}, ValueError, "constraints: 'honesty' is not a metric"),
    ({"constraints": {"false_convictions": {"below": 1}}}, ValueError, "constraints['false_convictions'] must be"),
    ({"constraints": {"fraud_paid": {"min": 1}}}, ValueError, "constraints['fraud_paid']: a min bound"),
    ({"constraints": {"false_convictions": {"max": float("nan")}}}, ValueError, "constraints['false_convictions'].max"),
    ({"seeds": []}, ValueError, "seeds is empty"),
    ({"seeds": [2**64]}, ValueError, "must be < 2**63"),
    ({"sampler": "cmaes"}, ValueError, "sampler = 'cmaes'"),
    ({"sampler_options": {"population": 4}}, TypeError, "sampler_options {'population': 4} for sampler 'tpe'"),
    ({"sampler_options": {"seed": 4}}, ValueError, "sampler_options: 'seed' is set by design_search"),
    ({"batch_size": 0}, ValueError, "batch_size = 0"),
    ({"risk": "mean"}, ValueError, "risk = 'mean'"),
    ({"tail": 0.0}, ValueError, "tail = 0.0"),
    ({"metrics": {"bad name": Metric(len, "minimize", "x")}}, ValueError, "metrics: name 'bad name'"),
    ({"base": {"rounds": 0}}, ValueError, "base: rounds = 0"),
]


@pytest.mark.parametrize(("change", "error", "message"), BAD, ids=[b[2][:40] for b in BAD])
def test_bad_design_is_refused_naming_the_key_before_any_run(change, error, message, monkeypatch) -> None:
    def no_runs(*args, **kwargs):
        raise AssertionError("a simulation ran before the design was checked")

    monkeypatch.setattr(design_module, "simulate", no_runs)
    args = dict(space=SPACE, objectives=OBJECTIVES, constraints=CONSTRAINTS, scenarios=SCENARIOS, seeds=2)
    options = dict(base=BASE)
    for key, value in change.items():
        (args if key in args else options)[key] = value
    with pytest.raises(error) as info:
        design_search(args["space"], args["objectives"], args["constraints"], args["scenarios"], args["seeds"],
                      4, "serial", progress=False, **options)
    assert message in str(info.value)


@pytest.mark.parametrize(("budget", "client", "error"), [(0, "serial", "budget = 0"), (4, 3, "client must be")])
def test_bad_budget_and_client(budget, client, error) -> None:
    with pytest.raises((TypeError, ValueError), match=error):
        _study(budget=budget, client=client)


def test_paths_reach_list_elements_and_tables_inside_lists() -> None:
    # a field added to SimConfig later is searched as these are: by its path in to_dict()'s tree
    base = {**BASE, "auction": {"psi_weights": [1.0, 1.0, 1.0, 1.0]},
            "extra_providers": [{"name": "measured", "speed": [1.0, 1.0, 1.0, 1.0], "psi": [1.0, 8.0, 100.0, 4.0]}]}
    spec = check_design({"auction.psi_weights[2]": Float(0.0, 3.0), "extra_providers[0].cost": Float(1.0, 50.0)},
                        ["fraud_paid"], None, ["balanced"], 1, base=base)
    config = spec.configs({"auction.psi_weights[2]": 2.5, "extra_providers[0].cost": 7.0})["balanced"]
    assert config.auction.psi_weights == (1.0, 1.0, 2.5, 1.0)
    assert config.extra_providers[0].cost == 7.0
    assert spec.base.auction.psi_weights == (1.0, 1.0, 1.0, 1.0)  # the base is not changed
    with pytest.raises(ValueError, match="index 4 is outside auction.psi_weights, which has 4 elements"):
        check_design({"auction.psi_weights[4]": Float(0.0, 3.0)}, ["fraud_paid"], None, ["balanced"], 1, base=base)


def test_learning_policies_are_searched_as_any_other_setting() -> None:
    # the policy tables arrived in SimConfig after design_search was written: nothing changed here
    base = {**BASE, "policies": {"provider": {"policy": "learning"}, "challenger": {"policy": "learning"}}}
    space = {"policies.challenger.n_challengers": Int(1, 3),
             "policies.provider.learner": Choice(("exp3", "regret_matching")),
             "disputes.provider_stake": Int(100, 20000, log=True)}
    with pytest.raises(ValueError, match=r"space\['policies.provider.learner'\] = 'hedge' is refused by the config"):
        check_design({**space, "policies.provider.learner": Choice(("exp3", "hedge"))}, ["fraud_paid"], None,
                     ["balanced"], 1, base=base)
    study = design_search(space, ["fraud_paid", "security_cost"], None, ["balanced"], 2, 4, "serial", base=base,
                          batch_size=2, progress=False)
    assert (study.trials["state"] == "complete").all()
    configs = [study.spec.configs(study.spec.params_of(row))["balanced"] for _, row in study.trials.iterrows()]
    searched = list(study.trials["policies.challenger.n_challengers"])
    assert [c.policies.challenger.n_challengers for c in configs] == searched
    assert all(c.policies.provider.policy == "learning" for c in configs)


def test_scenarios_nested_and_dotted_overrides_agree() -> None:
    nested = check_design(SPACE, OBJECTIVES, None, {"s": {"disputes": {"challenger_bond": 7}}}, 1, base=BASE)
    dotted = check_design(SPACE, OBJECTIVES, None, {"s": {"disputes.challenger_bond": 7}}, 1, base=BASE)
    assert nested.configs()["s"] == dotted.configs()["s"]
    assert nested.configs()["s"].disputes.challenger_bond == 7
    names = check_design(SPACE, OBJECTIVES, None, ["balanced", "scarce_supply"], 1, base=BASE)
    assert [c.scenario for c in names.configs().values()] == ["balanced", "scarce_supply"]


# ------------------------------------------------------------------------- scoring
def test_worst_case_and_tail_scores_by_hand() -> None:
    spec = check_design(SPACE, {"fraud_paid": "minimize", "honest_participation": "maximize"}, None,
                        SCENARIOS, 2, base=BASE)
    runs = pd.DataFrame({"scenario": ["balanced", "balanced", "cheaters", "cheaters"],
                         "fraud_paid": [1.0, 3.0, 10.0, 0.0], "honest_participation": [1.0, 0.5, 0.9, 0.8]})
    # worst scenario mean: fraud max(2, 5) = 5; participation min(0.75, 0.85) = 0.75
    assert spec.score(runs)[0] == [5.0, 0.75]
    cvar = check_design(SPACE, {"fraud_paid": "minimize", "honest_participation": "maximize"}, None,
                        SCENARIOS, 2, base=BASE, risk="cvar", tail=0.5)
    # the worst half of the four runs: fraud (10 + 3) / 2; participation (0.5 + 0.8) / 2
    assert cvar.score(runs)[0] == [6.5, 0.65]
    constrained = check_design(SPACE, ["fraud_paid"], {"honest_participation": {"min": 0.8}, "false_convictions":
                               {"max": 1}}, SCENARIOS, 2, base=BASE)
    _, measured, slack = constrained.score(runs.assign(false_convictions=[0.0, 0.0, 2.0, 2.0]))
    assert measured == {"honest_participation": 0.75, "false_convictions": 2.0}
    assert slack == pytest.approx({"honest_participation": 0.05, "false_convictions": 1.0})


def test_metrics_from_a_simulation() -> None:
    from oasis_lab.sim import simulate

    result = simulate(SimConfig(**{**BASE, "optimum_every": 1}), 3)
    r, p = result.rounds, result.providers
    assert METRICS["welfare_share"].fn(result) == pytest.approx(r["welfare"].sum() / r["optimum_welfare"].sum())
    assert METRICS["fraud_paid"].fn(result) == pytest.approx(r["cheated_settled"].sum())
    assert METRICS["security_cost"].fn(result) == pytest.approx(r["challenger_costs"].sum() + r["stake_locked"].mean())
    assert METRICS["security_cost"].fn(result, stake_rate=0.01) == pytest.approx(
        r["challenger_costs"].sum() + 0.01 * r["stake_locked"].sum())
    honest = p["honest"].to_numpy(dtype=bool)
    staying = (p["removed"] < 0) & (p["exited"] < 0)
    assert METRICS["honest_participation"].fn(result) == pytest.approx((honest & staying).sum() / honest.sum())
    assert METRICS["false_convictions"].fn(result) == r["false_convictions"].sum()


# ----------------------------------------------------------------- running a study
def test_tiny_study_same_results_serial_twice_and_on_a_local_cluster(tmp_path: Path) -> None:
    serial = _study(tmp_path / "serial", budget=6)
    again = _study(None, budget=6)
    client = local_client(2)
    try:
        on_dask = _study(tmp_path / "dask", client=client, budget=6)
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
    for other in (again, on_dask):
        pd.testing.assert_frame_equal(serial.trials, other.trials)
        pd.testing.assert_frame_equal(serial.runs, other.runs)
    assert list(serial.trials["trial"]) == list(range(6))
    assert len(serial.runs) == 6 * 2 * 2  # trials x scenarios x seeds
    # the Parquet tables are the returned ones
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "serial" / "trials.parquet"), serial.trials)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "serial" / "runs.parquet"), serial.runs)
    # every trial's score is its runs' worst scenario mean
    for _, row in serial.trials.iterrows():
        runs = serial.runs[serial.runs["trial"] == row["trial"]]
        means = runs.groupby("scenario")[["fraud_paid", "security_cost"]].mean()
        assert row["fraud_paid"] == pytest.approx(means["fraud_paid"].max())
        assert row["feasible"] == (runs.groupby("scenario")["false_convictions"].mean().max() <= 0)
    # another seed samples other settings
    other = _study(None, budget=2, seed=1)
    assert not other.trials["p_platform"].equals(serial.trials["p_platform"].iloc[:2])


def test_nsga2_and_random_samplers_and_welfare_share() -> None:
    base = {**BASE, "optimum_every": 3}  # the optimum of round 0 of each run
    for sampler, options in (("nsga2", {"population_size": 2}), ("random", {})):
        study = design_search(SPACE, ["welfare_share", "fraud_paid"], CONSTRAINTS, SCENARIOS, 2, 4, "serial",
                              base=base, batch_size=2, progress=False, sampler=sampler, sampler_options=options)
        assert (study.trials["state"] == "complete").all()
        assert ((study.runs["welfare_share"] > 0) & (study.runs["welfare_share"] <= 1 + 1e-9)).all()
        worst = study.runs.groupby(["trial", "scenario"])["welfare_share"].mean().groupby("trial").min()
        assert study.trials["welfare_share"].to_numpy() == pytest.approx(worst.to_numpy())


def test_combinations_the_config_refuses_are_recorded_not_run() -> None:
    space = {"disputes.challenger_reward_fraction": Float(0.0, 0.9),
             "disputes.referee_reward_fraction": Float(0.0, 0.5)}
    study = design_search(space, ["fraud_paid"], None, ["balanced"], 1, 12, "serial", base=BASE, batch_size=4,
                          progress=False, sampler="random")
    t = study.trials
    over = t["disputes.challenger_reward_fraction"] + t["disputes.referee_reward_fraction"] > 1
    assert over.any() and (~over).any()
    assert (t.loc[over, "state"] == "refused").all() and (t.loc[~over, "state"] == "complete").all()
    assert t.loc[over, "refused"].str.contains("must be <= 1").all()
    assert set(study.runs["trial"]) == set(t.loc[~over, "trial"])
    assert not t.loc[over, "feasible"].any()


def test_resume_with_another_spec_is_refused_and_a_larger_budget_extends(tmp_path: Path) -> None:
    first = _study(tmp_path, budget=4)
    with pytest.raises(ValueError, match="holds a design study with another 'seeds'"):
        design_search(SPACE, OBJECTIVES, CONSTRAINTS, SCENARIOS, 3, 4, "serial", base=BASE, batch_size=2,
                      out=tmp_path, progress=False)
    calls = []
    counting = Metric(_Counter(calls), "minimize", "counts runs")
    with pytest.raises(ValueError, match="another 'custom_metrics'"):
        _study(tmp_path, budget=6, metrics={"calls": counting})
    longer = _study(tmp_path, budget=6)
    pd.testing.assert_frame_equal(longer.trials.iloc[:4], first.trials)
    assert len(longer.trials) == 6
    loaded = load_study(tmp_path)
    pd.testing.assert_frame_equal(loaded.trials, longer.trials)
    pd.testing.assert_frame_equal(loaded.runs, longer.runs)
    assert loaded.spec.to_dict() == longer.spec.to_dict()


class _Counter:
    """A metric that records every run it scores (config and seed) and returns 0."""

    def __init__(self, calls: list) -> None:
        self.calls = calls

    def __call__(self, result) -> float:
        self.calls.append((result.config.to_json(), result.seed))
        return 0.0


KILLED = """
import json, os, signal, sys
from oasis_lab.experiments.design import Choice, Float, Int, Metric, design_search

log, out, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
count = [0]

def calls(result):
    count[0] += 1
    with open(log, "a") as fh:
        fh.write(json.dumps([result.config.to_json(), result.seed]) + "\\n")
    if count[0] == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)  # mid-run: no clean-up, no finally
    return 0.0

design_search(SPACE, OBJECTIVES, CONSTRAINTS, SCENARIOS, 2, 6, "serial", base=BASE, batch_size=2, out=out,
              progress=False, metrics={"calls": Metric(calls, "minimize", "counts runs")})
"""


def test_study_killed_with_sigkill_resumes_without_recomputing_finished_trials(tmp_path: Path) -> None:
    out, log = tmp_path / "study", tmp_path / "calls.jsonl"
    header = f"BASE = {BASE!r}\nSPACE = {SPACE!r}\nOBJECTIVES = {OBJECTIVES!r}\nCONSTRAINTS = {CONSTRAINTS!r}\n" \
             f"SCENARIOS = {SCENARIOS!r}\n"
    script = KILLED.replace("log, out", header + "log, out", 1)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # 4 runs per trial (2 scenarios x 2 seeds), 2 trials per batch: trials 0-1 take runs 1-8 and
    # are told; in the second batch trial 2 takes runs 9-12 (stored), trial 3 dies in its third
    proc = subprocess.run([sys.executable, "-c", script, str(log), str(out), "15"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    before = [tuple(json.loads(line)) for line in log.read_text().splitlines()]
    assert len(before) == 15
    stored = sorted(p.name for p in (out / "runs").iterdir())
    assert stored == ["trial-00000.parquet", "trial-00001.parquet", "trial-00002.parquet"]

    calls: list = []
    resumed = _study(out, budget=6, metrics={"calls": Metric(_Counter(calls), "minimize", "counts runs")})
    # trial 3 (killed in its third run) and trials 4 and 5: 12 runs; trials 0-2 were read back
    assert len(calls) == 12
    finished = set(before[:12])  # the runs of trials 0, 1 and 2
    assert not finished & set(calls)
    assert set(before[12:15]) <= set(calls)  # trial 3's runs before the kill are run again
    # and the study is the one that was never killed
    fresh = _study(tmp_path / "fresh", budget=6, metrics={"calls": Metric(_Counter([]), "minimize", "counts runs")})
    pd.testing.assert_frame_equal(resumed.trials, fresh.trials)
    pd.testing.assert_frame_equal(resumed.runs, fresh.runs)


def test_a_folder_in_use_is_refused(tmp_path: Path) -> None:
    import fcntl

    _study(tmp_path, budget=2)
    with open(tmp_path / "_design.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ValueError, match="is in use by another design search"):
            _study(tmp_path, budget=4)


# ----------------------------------------------------------- Pareto front, recommend
def _dominates(a: np.ndarray, b: np.ndarray) -> bool:
    return bool((a <= b).all() and (a < b).any())


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_pareto_front_is_exactly_the_non_dominated_feasible_trials(n: int, m: int, seed: int) -> None:
    rng = stream(seed, "tests", "pareto")
    values = rng.integers(0, 4, size=(n, m)).astype(float)  # small integers: many ties
    directions = {f"o{j}": ("maximize" if j % 2 else "minimize") for j in range(m)}
    trials = pd.DataFrame(values, columns=list(directions)).assign(trial=range(n), feasible=rng.random(n) < 0.8)
    front = pareto_front(trials, directions)
    x = values * np.array([-1.0 if d == "maximize" else 1.0 for d in directions.values()])
    feasible = np.flatnonzero(trials["feasible"].to_numpy())
    kept = set(front["trial"])
    assert kept <= set(feasible)
    for i in feasible:
        dominated = any(_dominates(x[j], x[i]) for j in feasible)
        assert (i in kept) == (not dominated)


def test_recommend_rules_by_hand() -> None:
    trials = pd.DataFrame({
        "trial": [0, 1, 2, 3, 4],
        "welfare_share": [0.9, 0.8, 0.5, 0.95, 0.85],
        "fraud_paid": [50.0, 10.0, 0.0, 100.0, 30.0],
        "feasible": [True, True, True, True, False],
    })
    objectives = ["welfare_share", "fraud_paid"]
    assert list(pareto_front(trials, objectives)["trial"]) == [0, 1, 2, 3]
    # scaled to the front: welfare (0.95 - w) / 0.45, fraud f / 100; nearest the ideal: trial 1
    assert recommend(trials, objectives)["trial"] == 1
    assert recommend(trials, objectives, "best:welfare_share")["trial"] == 3
    assert recommend(trials, objectives, "best:fraud_paid")["trial"] == 2
    with pytest.raises(ValueError, match="rule = 'best:welfare'"):
        recommend(trials, objectives, "best:welfare")
    with pytest.raises(ValueError, match="no feasible trial"):
        recommend(trials.assign(feasible=False), objectives)
    # ties go to the lowest trial
    tied = pd.DataFrame({"trial": [5, 2], "welfare_share": [0.9, 0.9], "fraud_paid": [1.0, 1.0]})
    assert recommend(tied, objectives)["trial"] == 2


# ------------------------------------------------------------------ held-out check
def test_held_out_check_intervals_contain_their_estimates_on_new_seeds() -> None:
    study = design_search(SPACE, OBJECTIVES, None, SCENARIOS, 2, 4, "serial", base=BASE, batch_size=2,
                          progress=False)
    table = held_out_check(study, 3, "serial")
    assert len(table) == 2 * 2  # scenarios x metrics
    for label in ("baseline", "recommended", "difference"):
        assert (table[f"{label}_low"] <= table[label]).all() and (table[label] <= table[f"{label}_high"]).all()
    assert table["difference"].to_numpy() == pytest.approx((table["recommended"] - table["baseline"]).to_numpy())
    assert (table["n_seeds"] == 3).all()
    seeds = held_out_seeds(study.spec.seed, 3)
    assert len(set(seeds)) == 3 and not set(seeds) & set(study.spec.seeds)
    # the same settings as the base config: no difference, and the intervals say so
    same = held_out_check(study, [11, 12], "serial", params={"p_platform": study.spec.base.p_platform})
    assert (same["difference"] == 0).all() and (same["baseline"] == same["recommended"]).all()
    assert not same["improves"].any()
    with pytest.raises(ValueError, match=r"seeds \[0\] were training seeds"):
        held_out_check(study, [0, 99], "serial")
    with pytest.raises(ValueError, match="seeds = 1 must be >= 2"):
        held_out_check(study, 1, "serial")
    with pytest.raises(ValueError, match="'stakes' is not a field"):
        held_out_check(study, 2, "serial", params={"stakes": 3})


# ------------------------------------------------------------------------------ CLI
def test_cli_runs_a_design_file_and_refuses_a_bad_key(tmp_path: Path, capsys) -> None:
    import yaml

    spec = {"base": BASE, "space": {"p_platform": {"type": "float", "low": 0.0, "high": 0.3},
                                    "disputes.comparison": {"type": "categorical", "choices": ["exact", "tolerance"]}},
            "objectives": OBJECTIVES, "constraints": CONSTRAINTS, "scenarios": ["balanced"], "seeds": 2,
            "budget": 2, "batch_size": 2}
    path = tmp_path / "design.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["design", "--config", str(path), "--serial", "--out", str(tmp_path / "out"), "--budget", "4",
                 "--no-progress", "--held-out", "2"]) == 0
    text = capsys.readouterr().out
    assert "design: 4 trials" in text and "Pareto front" in text and "held-out check on 2 seeds" in text
    assert len(pd.read_parquet(tmp_path / "out" / "trials.parquet")) == 4
    path.write_text(yaml.safe_dump({**spec, "space": {"disputes.stake": {"type": "int", "low": 1, "high": 9}}}))
    assert main(["design", "--config", str(path), "--serial", "--out", str(tmp_path / "bad")]) == 2
    assert "'stake' is not a field of disputes" in capsys.readouterr().err
    path.write_text(yaml.safe_dump({**spec, "budgets": 3}))
    assert main(["design", "--config", str(path), "--serial"]) == 2
    assert "key 'budgets' is unknown" in capsys.readouterr().err


def test_shipped_design_file_is_valid() -> None:
    from oasis_lab.experiments.design_cli import load_design_file

    data = load_design_file(ROOT / "data" / "designs" / "market.yaml")
    options = {k: data[k] for k in ("base", "seed", "batch_size") if k in data}
    spec = check_design(data["space"], data["objectives"], data["constraints"], data["scenarios"], data["seeds"],
                        **options)
    # every mechanism setting the issue names is searched
    for key in ("disputes.provider_stake", "disputes.slash_fraction", "disputes.challenger_reward_fraction",
                "disputes.referee_reward_fraction", "disputes.challenger_bond", "p_platform", "dispute_delay",
                "disputes.comparison", "auction.price_rule", "auction.psi_weights[0]", "auction.alpha",
                "auction.beta", "auction.fee"):
        assert key in spec.space


def test_a_damaged_runs_file_is_refused_naming_it_and_a_deleted_one_run_again(tmp_path: Path, monkeypatch) -> None:
    first = _study(tmp_path, budget=2)
    path = tmp_path / "runs" / "trial-00001.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"design runs file '.*trial-00001.parquet'.*delete it to run that trial"):
        _study(tmp_path, budget=2)
    path.unlink()
    real, seeds = design_module._run_one, []

    def counting(config, seed, fns):
        seeds.append(seed)
        return real(config, seed, fns)

    monkeypatch.setattr(design_module, "_run_one", counting)
    again = _study(tmp_path, budget=2)
    assert len(seeds) == 2 * 2  # trial 1's runs only (2 scenarios x 2 seeds), the same as before
    pd.testing.assert_frame_equal(again.runs, first.runs)
    pd.testing.assert_frame_equal(again.trials, first.trials)
    assert path.exists()


def test_a_wrong_scheduler_address_fails_before_anything_is_created(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("oasis_lab.experiments.sweep.CONNECT_TIMEOUT_S", 1)
    with pytest.raises(ValueError, match="no Dask scheduler answered"):
        _study(tmp_path / "study", client="tcp://127.0.0.1:1")
    assert not (tmp_path / "study").exists()
