"""Scripted against learning agents (issue 19, notebook 10's first table): the same market and
seed with every role scripted and with learning cheaters and challengers, scored by the design
search's metrics; the table of docs/mechanism.md and what its paragraph claims."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oasis_lab.experiments import LearningCurves, ScriptedVsLearning, run
from oasis_lab.experiments.design import METRICS
from oasis_lab.experiments.learning import AGENTS_METRICS, AGENTS_SEEDS, agents_table
from oasis_lab.incentives.learning import render_table
from oasis_lab.sim import load_config, simulate
from oasis_lab.sim.policies import Policies

SMALL = ScriptedVsLearning(rounds=5, tasks_per_round=80, n_providers=30, optimum_every=2)


def test_each_row_is_its_simulation_scored_by_the_design_metrics() -> None:
    out = run(SMALL, 1)
    assert out["agents"].tolist() == ["scripted", "learning"]
    assert list(out.columns) == ["agents", *AGENTS_METRICS]
    configs = SMALL.configs()
    # the scripted market is the file's with its policies reset, nothing else changed
    assert configs["scripted"] == load_config("learning.yaml", rounds=5, tasks_per_round=80, n_providers=30,
                                              optimum_every=2).replace(policies=Policies())
    assert configs["learning"].policies.learning and not configs["scripted"].policies.learning
    assert configs["scripted"].replace(policies=configs["learning"].policies) == configs["learning"]
    for i, kind in enumerate(("scripted", "learning")):
        result = simulate(configs[kind], 1)
        assert out.loc[i, AGENTS_METRICS].tolist() == [METRICS[m].fn(result) for m in AGENTS_METRICS]
    # the same seed, the same market: the rows differ only through what the agents do
    assert out.loc[0, "challenge_rate"] != out.loc[1, "challenge_rate"]


def test_bad_configs_are_refused_by_field() -> None:
    with pytest.raises(ValueError, match="config_file = 'cheaters.yaml' has no learning role"):
        ScriptedVsLearning(config_file="cheaters.yaml")
    with pytest.raises(ValueError, match="config_file = 'no_such.yaml'"):
        ScriptedVsLearning(config_file="no_such.yaml")
    for field in ("rounds", "tasks_per_round", "n_providers", "optimum_every"):
        with pytest.raises(ValueError, match=field):
            ScriptedVsLearning(**{field: 0})


def _runs() -> pd.DataFrame:
    rows = []
    for seed, (s, lr) in enumerate(((1.0, 4.0), (3.0, 8.0), (5.0, 9.0))):
        for agents, v in (("scripted", s), ("learning", lr)):
            rows.append({"agents": agents, "seed": seed, **{m: v * (k + 1) for k, m in enumerate(AGENTS_METRICS)}})
    return pd.DataFrame(rows)


def test_agents_table_is_the_mean_and_sd_over_seeds() -> None:
    table = agents_table(_runs(), metrics=("welfare_share", "fraud_paid")).set_index("agents")
    assert table.loc["scripted", "seeds"] == 3
    assert table.loc["scripted", "welfare_share_mean"] == pytest.approx(3.0)
    assert table.loc["scripted", "welfare_share_sd"] == pytest.approx(2.0)
    assert table.loc["learning", "fraud_paid_mean"] == pytest.approx(2 * 7.0)
    assert table.loc["learning", "fraud_paid_sd"] == pytest.approx(2 * np.std([4.0, 8.0, 9.0], ddof=1))
    assert list(table.columns) == ["seeds", "welfare_share_mean", "welfare_share_sd", "fraud_paid_mean",
                                   "fraud_paid_sd"]
    one = agents_table(_runs().query("seed == 0"), metrics=("cheat_rate",))
    assert math.isnan(one.loc[0, "cheat_rate_sd"])


def test_agents_table_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="metrics: 'welfare' is not one of"):
        agents_table(_runs(), metrics=("welfare",))
    with pytest.raises(ValueError, match="runs has no column 'seed'"):
        agents_table(_runs().drop(columns="seed"))
    with pytest.raises(ValueError, match="runs has no 'learning' row"):
        agents_table(_runs().query("agents == 'scripted'"))
    with pytest.raises(ValueError, match="give runs or the experiment's fields, not both"):
        agents_table(_runs(), rounds=3)


def test_learning_curves_take_the_markets_size() -> None:
    assert (LearningCurves().sim_config().tasks_per_round, LearningCurves().sim_config().n_providers) == (1000, 100)
    cfg = LearningCurves(tasks_per_round=50, n_providers=12, rounds=4).sim_config()
    assert (cfg.tasks_per_round, cfg.n_providers, cfg.rounds) == (50, 12, 4)
    out = run(LearningCurves(tasks_per_round=50, n_providers=12, rounds=4), 0)
    assert len(out) == 4
    with pytest.raises(ValueError, match="tasks_per_round"):
        LearningCurves(tasks_per_round=0)
    with pytest.raises(TypeError, match="n_providers"):
        LearningCurves(n_providers=2.5)


# ------------------------------------------------------------------ the docs' table
#: The docs' table's metrics: agents_table's default.
DOCS_METRICS = ("welfare_share", "fraud_paid", "security_cost", "cheat_rate", "challenge_rate")


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    # the command in the docs (agents_table() at the docs' defaults), with every metric kept
    return agents_table(metrics=AGENTS_METRICS)


def test_docs_quote_the_scripted_vs_learning_table_as_the_code_renders_it(table, docs_table) -> None:
    shown = table[["agents", "seeds", *[f"{m}_{s}" for m in DOCS_METRICS for s in ("mean", "sd")]]]
    docs_table("scripted-vs-learning", render_table(shown, digits=3), 3)


def test_the_docs_claims_on_scripted_vs_learning(table) -> None:
    t = table.set_index("agents")
    sc, lr = t.loc["scripted"], t.loc["learning"]
    assert (sc["seeds"], lr["seeds"]) == (len(AGENTS_SEEDS), len(AGENTS_SEEDS))
    assert lr["cheat_rate_mean"] > 4 * sc["cheat_rate_mean"]  # "five times as often"
    assert lr["fraud_paid_mean"] > 6 * sc["fraud_paid_mean"]  # "eight times as much"
    assert 0.005 < sc["welfare_share_mean"] - lr["welfare_share_mean"] < 0.03  # "two points lower"
    assert abs(lr["challenge_rate_mean"] / sc["challenge_rate_mean"] - 1) < 0.1  # "the same share"
    # the stake locked is most of the security cost in both; the learning market's is higher
    for row in (sc, lr):
        assert row["stake_locked_mean"] > 0.5 * row["security_cost_mean"]
    assert lr["security_cost_mean"] > sc["security_cost_mean"] and lr["stake_locked_mean"] > sc["stake_locked_mean"]


# ------------------------------------------------------------------ notebook 10's narrative
NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "10_designing_the_market.ipynb"


def test_the_numbers_notebook_10s_narrative_states_are_the_codes() -> None:
    """The markdown of notebook 10 states a few settings in words (its computed findings are
    rendered from the run); each is the value the code uses, so a changed default fails here."""
    import inspect

    import nbformat

    from oasis_lab.experiments.design import held_out_check
    from oasis_lab.experiments.learning import KNOWN_ANSWER
    from oasis_lab.incentives.learning import KNOWN_ANSWER_RUNS

    text = " ".join(" ".join(c.source.split()) for c in nbformat.read(NOTEBOOK, as_version=4).cells
                    if c.cell_type == "markdown")
    configs = ScriptedVsLearning().configs()
    scripted, learning = configs["scripted"], configs["learning"]
    # section 1: the scripted market's users and platform, the learning market's challengers
    assert "`p_user` = 5%, the platform checks 1% of jobs" in text
    assert (scripted.p_user, scripted.p_platform) == (0.05, 0.01) == (learning.p_user, learning.p_platform)
    assert "three learning challengers" in text and learning.policies.challenger.n_challengers == 3
    # section 3: four learner pairs play the 2x2 game; the market of the game inside simulate
    assert "Four learner pairs" in text and len(KNOWN_ANSWER_RUNS) == 4
    assert "one provider serving a 20-task market alone" in text
    assert (KNOWN_ANSWER["tasks_per_round"], KNOWN_ANSWER["n_providers"]) == (20, 1)
    # section 5: the held-out check's intervals
    assert "95% t interval" in text
    assert inspect.signature(held_out_check).parameters["confidence"].default == 0.95
