"""Design files as a library call (design_from_file), the recommended settings beside the base
config's, and the held-out table docs/mechanism.md quotes (notebook 10's third table)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from oasis_lab.experiments.design import (
    DESIGN_DIR,
    design_from_file,
    design_search,
    held_out_check,
    load_design_file,
    recommend,
    recommended_settings,
)
from oasis_lab.incentives.learning import known_answer_runs, render_table

#: A tiny design file: two settings, one scenario, two seeds, three-round markets.
TINY = {
    "base": {"rounds": 3, "tasks_per_round": 30, "n_providers": 8, "cheater_share": 0.25},
    "space": {"disputes.provider_stake": {"type": "int", "low": 100, "high": 20000, "log": True},
              "p_platform": {"type": "float", "low": 0.0, "high": 0.3}},
    "objectives": ["fraud_paid", "security_cost"],
    "constraints": {"false_convictions": {"max": 0}},
    "scenarios": ["balanced"],
    "seeds": 2,
    "budget": 3,
    "batch_size": 2,
    "out": "designs/tiny",
    "held_out": 2,
}


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def test_design_from_file_is_design_search_with_the_files_arguments(tiny: Path) -> None:
    study = design_from_file(tiny)
    direct = design_search(TINY["space"], TINY["objectives"], TINY["constraints"], TINY["scenarios"], 2, 3, "serial",
                           base=TINY["base"], batch_size=2, progress=False)
    pd.testing.assert_frame_equal(study.trials, direct.trials)
    assert study.out is None  # the file's out is the CLI's folder, not used here


def test_changes_and_base_changes_replace_keys_of_the_file(tiny: Path) -> None:
    study = design_from_file(tiny, budget=2, seeds=[5, 6], base_changes={"rounds": 2, "n_providers": 6})
    assert len(study.trials) == 2 and set(study.runs["seed"]) == {5, 6}
    base = study.spec.base
    assert (base.rounds, base.n_providers, base.tasks_per_round, base.cheater_share) == (2, 6, 30, 0.25)


def test_bad_keys_are_refused_by_name(tiny: Path) -> None:
    with pytest.raises(ValueError, match="'budgets' is not a key design_from_file changes"):
        design_from_file(tiny, budgets=3)
    with pytest.raises(ValueError, match="'held_out' is not a key"):
        design_from_file(tiny, held_out=3)
    with pytest.raises(ValueError, match="roundz"):
        design_from_file(tiny, base_changes={"roundz": 3})
    with pytest.raises(TypeError, match="base_changes must be a table"):
        design_from_file(tiny, base_changes=[("rounds", 3)])
    with pytest.raises(FileNotFoundError):
        design_from_file(tiny.parent / "no_such_design.yaml")


def test_a_bare_name_is_found_in_data_designs() -> None:
    assert load_design_file("market.yaml") == load_design_file(DESIGN_DIR / "market.yaml")
    # the command line reads files through the same function
    from oasis_lab.experiments import design_cli

    assert design_cli.load_design_file is load_design_file


def test_recommended_settings_show_the_base_and_the_chosen_values(tiny: Path) -> None:
    study = design_from_file(tiny)
    table = recommended_settings(study)
    chosen = study.recommend()
    assert table["setting"].tolist() == list(TINY["space"])
    assert table["base"].tolist() == ["10000", "0.01"]  # SimConfig's defaults: the docs'
    assert table["recommended"].tolist() == [str(chosen["disputes.provider_stake"]), f"{chosen['p_platform']:.4g}"]
    mine = recommended_settings(study, params={"disputes.provider_stake": 500, "p_platform": 0.125})
    assert mine["recommended"].tolist() == ["500", "0.125"]
    with pytest.raises(ValueError, match="no value for the searched key 'p_platform'"):
        recommended_settings(study, params={"disputes.provider_stake": 500})
    with pytest.raises(TypeError, match="study must be a DesignStudy"):
        recommended_settings(table)  # type: ignore[arg-type]


# ------------------------------------------------------------------ the docs' table
#: The docs' study: the shipped design file on 10-round markets of 100 tasks and 20 providers,
#: 16 trials on 2 training seeds, checked on 5 held-out seeds (the command in docs/mechanism.md).
DOCS_STUDY = {"budget": 16, "seeds": 2, "base_changes": {"rounds": 10, "tasks_per_round": 100, "n_providers": 20}}
DOCS_HELD_OUT = 5


@pytest.fixture(scope="module")
def docs_study():
    return design_from_file("market.yaml", **DOCS_STUDY)


@pytest.fixture(scope="module")
def docs_held_out(docs_study):
    return held_out_check(docs_study, DOCS_HELD_OUT, "serial")


def test_docs_quote_the_recommended_settings_and_their_held_out_check(docs_study, docs_held_out, docs_table) -> None:
    docs_table("design-recommended", render_table(recommended_settings(docs_study)), 4)
    docs_table("design-held-out", render_table(docs_held_out), 4)


def test_the_docs_held_out_claims(docs_study, docs_held_out) -> None:
    h = docs_held_out
    # every interval holds its estimate; every scenario and metric of the study is checked
    for which in ("baseline", "recommended", "difference"):
        assert (h[f"{which}_low"] <= h[which] + 1e-9).all() and (h[which] <= h[f"{which}_high"] + 1e-9).all()
    assert set(h["scenario"]) == set(docs_study.spec.scenarios) and (h["n_seeds"] == DOCS_HELD_OUT).all()
    # the recommended point is a feasible point of the front
    chosen = recommend(docs_study.trials, docs_study.spec.objectives)
    assert bool(chosen["feasible"]) and int(chosen["trial"]) in set(docs_study.pareto_front()["trial"])
    # what the docs say: in every scenario both settings meet the constraints (exact mode's
    # rounding reading convicts no honest provider on other hardware, so the defaults' exact
    # referee convicts none, as the recommended tolerance referee), the recommended settings cost
    # less security beyond the interval, and the welfare difference is not told apart from luck
    by = h.set_index(["metric", "scenario"])
    for scenario in docs_study.spec.scenarios:
        assert by.loc[("security_cost", scenario), "improves"]
        fc, hp = by.loc[("false_convictions", scenario)], by.loc[("honest_participation", scenario)]
        assert fc["recommended"] == fc["baseline"] == fc["baseline_high"] == 0 and not fc["improves"]
        assert hp["recommended"] == hp["baseline"] == hp["baseline_low"] == 1
        sec = by.loc[("security_cost", scenario)]
        assert 1 / 8 < sec["recommended"] / sec["baseline"] < 1 / 6  # "a seventh of the security"
        for metric in ("welfare_share", "fraud_paid"):  # not told apart from luck
            d = by.loc[(metric, scenario)]
            assert d["difference_low"] < 0 < d["difference_high"]
    assert docs_study.recommend()["disputes.comparison"] == "tolerance"


# ------------------------------------------------------------------ notebook 10 at the docs' sizes
def test_the_full_profile_runs_notebook_10_at_the_sizes_the_docs_quote() -> None:
    """``make run`` (notebooks/params/full.yaml) runs every table of notebook 10 at the sizes of
    the docs' tables, so the report's notebook shows the docs' runs: the scripted-vs-learning
    table, the verifier's dilemma, both known-answer tables, bilateral trade and this file's
    design study with its held-out check."""
    import ast
    import inspect

    import papermill

    from oasis_lab.experiments.learning import (
        AGENTS_SEEDS,
        DILEMMA_CONFIGS,
        DILEMMA_PHASES,
        DILEMMA_SEEDS,
        KNOWN_ANSWER_RUNS,
        ScriptedVsLearning,
    )
    from oasis_lab.incentives import bilateral
    from oasis_lab.incentives.learning import known_answer_game
    from oasis_lab.sim import load_config

    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "10_designing_the_market.ipynb"
    defaults = {k: ast.literal_eval(v["default"]) for k, v in papermill.inspect_notebook(str(notebook)).items()}
    profile = yaml.safe_load((notebook.parent / "params" / "full.yaml").read_text())["10_designing_the_market"]
    p = {**defaults, **profile}
    # 1. scripted against learning: agents_table() at ScriptedVsLearning's defaults
    docs = ScriptedVsLearning()
    assert (p["config_file"], p["compare_rounds"], p["compare_tasks"], p["compare_providers"], p["optimum_every"]) == (
        docs.config_file, docs.rounds, docs.tasks_per_round, docs.n_providers, docs.optimum_every)
    assert tuple(p["compare_seeds"]) == AGENTS_SEEDS
    # 2. the verifier's dilemma: dilemma_table() (the configs' own market size)
    config = load_config(DILEMMA_CONFIGS[0])
    assert (p["dilemma_tasks"], p["dilemma_providers"]) == (config.tasks_per_round, config.n_providers)
    assert (tuple(p["dilemma_configs"]), tuple(p["dilemma_seeds"]), tuple(p["dilemma_phases"])) == (
        DILEMMA_CONFIGS, DILEMMA_SEEDS, DILEMMA_PHASES)
    assert p["dilemma_rounds"] == max(DILEMMA_PHASES)
    # 3. the 2x2 game (the docs: T = 10,000 rounds, 10 runs, seed 0, the default game and rates),
    # the game inside simulate (experiments.learning.known_answers()) and bilateral trade
    assert (p["game_rounds"], p["game_repetitions"], p["seed"]) == (10_000, 10, 0)
    assert all(known_answer_game(r, p["game"]) == known_answer_game(r) for r in p["game_platform_rates"])
    assert tuple(p["game_platform_rates"]) == inspect.signature(known_answer_runs).parameters["platform_rates"].default
    assert ((0.0, p["market_mixed_rounds"], (p["seed"],)), (p["market_deterred_rate"], p["market_deterred_rounds"],
                                                           (p["seed"],))) == KNOWN_ANSWER_RUNS
    bilateral_docs = inspect.signature(bilateral.known_answers).parameters
    assert (tuple(p["bilateral_ks"]), p["bilateral_types"], p["bilateral_scan"]) == tuple(
        bilateral_docs[k].default for k in ("ks", "n_types", "scan"))
    # 5. the design study and its held-out check of this file's docs' tables
    assert (p["design_file"], p["design_budget"], p["design_seeds"], p["design_market"], p["design_held_out"]) == (
        "market.yaml", DOCS_STUDY["budget"], DOCS_STUDY["seeds"], DOCS_STUDY["base_changes"], DOCS_HELD_OUT)
    assert (p["design_rule"], p["design_client"]) == ("compromise", "serial")
