"""Known answer in the simulation (issue 19): one provider and one challenger repeating the
challenge game inside ``simulate`` recover its closed form within the tolerance the learners'
regret bounds give, and a platform rate above pi* drives learned cheating to zero."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oasis_lab.experiments import MarketChallengeGame, run
from oasis_lab.experiments.learning import (
    KNOWN_ANSWER_RUNS,
    challenge_game,
    known_answer,
    known_answer_config,
    known_answers,
)
from oasis_lab.incentives.challenge import challenge_equilibrium
from oasis_lab.incentives.learning import render_table
from oasis_lab.sim import simulate


def test_the_games_coefficients_are_the_runs_own() -> None:
    res = simulate(known_answer_config(0.05, rounds=30), 1, record_jobs=True)
    game = challenge_game(res)
    j = res.jobs[~res.jobs["failed"]]
    per_round = j.groupby("round")
    pay = per_round["payment"].sum().reindex(range(30), fill_value=0).to_numpy() / 1e6
    cost = per_round["true_cost"].sum().reindex(range(30), fill_value=0.0).to_numpy()
    n = per_round.size().reindex(range(30), fill_value=0).to_numpy()
    assert game.payment == pytest.approx(pay.mean())
    assert game.gain == pytest.approx(cost.mean())  # cheating saves the whole compute cost
    assert game.recompute_cost == pytest.approx(0.08 * cost.mean())
    assert game.platform_rate == pytest.approx(np.mean(1 - 0.95**n))
    assert game.reward == pytest.approx(100.0) and game.provider_loss == pytest.approx(pay.mean() + 200.0)
    # one provider serves every round alone (never barred: disputes end in their round)
    assert (res.rounds["providers_eligible"] == 1).all()


def test_known_answer_refuses_what_is_not_a_known_answer_run() -> None:
    with pytest.raises(TypeError, match="non-empty sequence"):
        known_answer([])
    with pytest.raises(ValueError, match="learning provider"):
        challenge_game(simulate(known_answer_config(0.0, rounds=3).replace(
            policies=known_answer_config().policies.replace(provider={"policy": "scripted"})), 0))


@pytest.fixture(scope="module")
def table():
    return known_answers(KNOWN_ANSWER_RUNS)


def test_learning_in_the_market_recovers_the_closed_form(table) -> None:
    mixed = table[table["case"] == "mixed"]
    assert len(mixed) == 2 and mixed["within"].all(), mixed
    # the bounds say something: each tolerance is below 0.5 (rates live in [0, 1])
    assert (mixed["tolerance"] < 0.5).all()
    closed = mixed.set_index("quantity")["closed_form"]
    game = challenge_equilibrium(challenge_game(simulate(known_answer_config(0.0, rounds=200), 0)))
    assert closed["cheat rate"] == pytest.approx(game.fraud_rate, rel=0.05)


def test_a_platform_rate_above_pi_star_drives_learned_cheating_to_zero(table) -> None:
    deterred = table[table["case"] == "deterred"].set_index("quantity")
    assert deterred["within"].all() and (deterred["closed_form"] == 0).all()
    assert deterred.loc["cheat rate", "tolerance"] < 0.5
    # where learning has settled, cheating is at the learner's exploration floor
    assert deterred.loc["cheat rate", "last_quarter"] < 0.05


def test_docs_quote_the_market_known_answer_as_the_code_renders_it(table, docs_table) -> None:
    docs_table("market-challenge-learning", render_table(table), 4)


def test_the_experiment_is_one_seeds_known_answer() -> None:
    config = MarketChallengeGame(platform_rate=0.05, rounds=40)
    one = run(config, 3)
    assert list(one["quantity"]) == ["cheat rate", "challenge rate"]
    expected = known_answers(((0.05, 40, (3,)),))
    pd.testing.assert_frame_equal(one, expected)
    with pytest.raises(ValueError, match="platform_rate = 2"):
        MarketChallengeGame(platform_rate=2)
