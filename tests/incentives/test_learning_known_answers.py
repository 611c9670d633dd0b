"""Known answers first (issue 19): learning recovers the challenge game's closed form within
the tolerance its regret bounds give, a platform rate above pi* drives cheating to zero, and
the certificate's search recovers the Chatterjee-Samuelson linear equilibrium."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oasis_lab.incentives import bilateral
from oasis_lab.incentives.challenge import challenge_equilibrium
from oasis_lab.incentives.learning import (
    equilibrium_gap,
    known_answer_game,
    known_answer_runs,
    known_answer_table,
    known_answers,
    learn_challenge_game,
    render_table,
    tolerances,
)

#: how the docs render the bilateral table's errors: below the claims (1e-7 on the actions,
#: 1e-12 on the gains), their digits are the machine's rounding
BILATERAL_FLOORS = {"max_error": 1e-7, "linear_gain": 1e-12}


def test_the_known_answer_game_is_mixed_away_from_the_corners() -> None:
    eq = challenge_equilibrium(known_answer_game(0.0))
    assert (eq.kind, eq.pi_star, eq.q_star) == ("mixed", pytest.approx(0.4), pytest.approx(0.6))
    eq = challenge_equilibrium(known_answer_game(0.2))
    assert eq.challenge_rate == pytest.approx((0.4 - 0.2) / 0.8) and eq.fraud_rate == pytest.approx(0.6)
    assert challenge_equilibrium(known_answer_game(0.6)).kind == "deterred"


@pytest.mark.parametrize("platform_rate", [0.0, 0.2])
@pytest.mark.parametrize("learner", ["hedge", "regret_matching"])
def test_full_information_learning_converges_to_the_mixed_equilibrium(learner, platform_rate) -> None:
    game = known_answer_game(platform_rate)
    eq = challenge_equilibrium(game)
    run = learn_challenge_game(game, provider=learner, challenger=learner, rounds=4000, repetitions=2,
                               feedback="expected", seed=5)
    tol_x, tol_c = run.tolerances()
    # informative: well inside the distance of the closed form from the corners
    assert run.guarantee == "always" and tol_x < 0.2 and tol_c < 0.2
    # deterministic dynamics: every run within the tolerance the bounds give
    assert np.abs(run.cheat_rate - eq.fraud_rate).max() <= tol_x
    assert np.abs(run.challenge_rate - eq.challenge_rate).max() <= tol_c
    # the regrets are within the bounds, and their scaled sum is the equilibrium gap
    assert run.provider_regret.regret.max() <= run.provider_bound
    assert run.challenger_regret.regret.max() <= run.challenger_bound
    lhs = (run.provider_regret.regret / (run.rounds * (1 - platform_rate) * game.provider_loss)
           + run.challenger_regret.regret / (run.rounds * game.reward))
    np.testing.assert_allclose(lhs, equilibrium_gap(game, run.cheat_rate, run.challenge_rate), atol=1e-12)


def test_bandit_learning_converges_in_expectation_and_the_identity_holds_run_by_run() -> None:
    game = known_answer_game(0.0)
    eq = challenge_equilibrium(game)
    run = learn_challenge_game(game, provider="exp3", challenger="exp3", rounds=6000, repetitions=12,
                               feedback="bandit", seed=2)
    tol_x, tol_c = run.tolerances()
    assert run.guarantee == "expected" and tol_x < 0.25
    # the bound is on the expected time averages: the mean over independent runs
    assert abs(run.cheat_rate.mean() - eq.fraud_rate) <= tol_x
    assert abs(run.challenge_rate.mean() - eq.challenge_rate) <= tol_c
    # with realised actions and r = 0 the scaled regrets sum to the gap exactly, run by run
    x_bar, c_bar = run.cheated.mean(axis=0), run.challenged.mean(axis=0)
    lhs = (run.provider_regret.regret / (run.rounds * game.provider_loss)
           + run.challenger_regret.regret / (run.rounds * game.reward))
    np.testing.assert_allclose(lhs, equilibrium_gap(game, x_bar, c_bar), atol=1e-12)
    # hence each run's distance from the closed form is bounded by its own regrets
    assert (np.abs(x_bar - eq.fraud_rate) * min(eq.challenge_rate, 1 - eq.challenge_rate) <= lhs + 1e-12).all()


@pytest.mark.parametrize(("learner", "feedback"), [("hedge", "expected"), ("exp3", "bandit"),
                                                   ("regret_matching", "bandit")])
def test_a_platform_rate_above_pi_star_drives_cheating_to_zero(learner, feedback) -> None:
    game = known_answer_game(0.6)  # r = 0.6 > pi* = 0.4: a cheat loses r L - G = 20 per round
    run = learn_challenge_game(game, provider=learner, challenger=learner, rounds=4000, repetitions=4,
                               feedback=feedback, seed=1)
    tol_x, tol_c = run.tolerances()
    assert tol_x == pytest.approx(run.provider_bound / (4000 * (0.6 * 100 - 40)))
    assert run.cheat_rate.mean() <= tol_x and run.challenge_rate.mean() <= tol_c
    if learner == "hedge":
        # the weight of cheating falls by eta (r L - G) / range every round
        eta = 8 * math.log(2) / 4000
        eta = math.sqrt(eta)
        assert run.cheat_probability[-1].max() <= math.exp(-eta * 3999 * 20 / 100)


def test_tolerances_need_a_bound_that_holds_in_a_game() -> None:
    run = learn_challenge_game(known_answer_game(0.0), provider="best_response", challenger="best_response",
                               rounds=50, feedback="bandit")
    assert run.guarantee == "stationary" and run.tolerances() == (math.inf, math.inf)
    assert tolerances(known_answer_game(0.0), 0.0, 0.0, 10) == (0.0, 0.0)
    with pytest.raises(ValueError, match="feedback = 'oracle' must be one of"):
        learn_challenge_game(known_answer_game(0.0), feedback="oracle")
    with pytest.raises(ValueError, match="learner = 'ucb' must be one of"):
        learn_challenge_game(known_answer_game(0.0), provider="ucb")
    with pytest.raises(ValueError, match="provider = 'hedge' needs full-information feedback"):
        learn_challenge_game(known_answer_game(0.0), provider="hedge", feedback="bandit")


def test_same_seed_same_run() -> None:
    a, b = (learn_challenge_game(known_answer_game(0.0), rounds=200, repetitions=3, seed=9) for _ in range(2))
    np.testing.assert_array_equal(a.cheat_probability, b.cheat_probability)
    np.testing.assert_array_equal(a.challenged, b.challenged)
    c = learn_challenge_game(known_answer_game(0.0), rounds=200, repetitions=3, seed=10)
    assert not np.array_equal(a.cheated, c.cheated)


# --- bilateral trade ----------------------------------------------------------------------


@pytest.mark.parametrize("k", [0.5, 0.25])
def test_best_response_to_the_linear_strategy_is_the_linear_equilibrium(k) -> None:
    buyer, seller = bilateral.linear_equilibrium(k)
    for side, mine, other in (("buyer", buyer, seller), ("seller", seller, buyer)):
        types = bilateral.interior_types(side, k, 7)
        br = bilateral.best_responses(side, types, other, k=k)
        np.testing.assert_allclose(br["best"], [mine(t) for t in types], atol=1e-7)
    if k == 0.5:  # the textbook numbers: bid 2v/3 + 1/12, ask 2c/3 + 1/4
        assert (buyer.slope, buyer.intercept) == pytest.approx((2 / 3, 1 / 12))
        assert (seller.slope, seller.intercept) == pytest.approx((2 / 3, 1 / 4))


def test_utilities_against_their_closed_forms() -> None:
    # buyer of value v bidding b against a(c) = 2c/3 + 1/4: trade for c <= 3/2 (b - 1/4), and
    # U = c_bar (v - b/2 - 1/8) - c_bar^2 / 6
    buyer, seller = bilateral.linear_equilibrium(0.5)
    for v, b in ((0.8, 0.6), (0.5, 0.3), (0.9, 0.95)):
        c_bar = min(max(1.5 * (b - 0.25), 0.0), 1.0)
        want = c_bar * (v - b / 2 - 0.125) - c_bar ** 2 / 6
        assert bilateral.buyer_utility(b, v, seller) == pytest.approx(want, abs=1e-12)
    assert bilateral.buyer_utility(0.2, 0.9, seller) == 0.0
    assert bilateral.seller_utility(0.9, 0.1, buyer) == 0.0  # above every bid


def test_certificate_of_the_linear_profile_and_of_truth() -> None:
    buyer, seller = bilateral.linear_equilibrium(0.5)
    kw = dict(buyer_types=[0.3, 0.7, 0.95], seller_types=[0.05, 0.5], epsilon=1e-10)
    cert = bilateral.certify_linear(buyer, seller, **kw)
    assert cert.passed, cert.table
    truth = bilateral.certify_linear(bilateral.Linear(1.0, 0.0), bilateral.Linear(1.0, 0.0), **kw)
    assert not truth.passed and len(truth.deviators) == 5


# --- the docs' tables ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def challenge_table():
    return known_answers(rounds=10_000, repetitions=10, seed=0)


def test_every_learned_rate_is_within_its_tolerance(challenge_table) -> None:
    assert np.isfinite(challenge_table["tolerance"]).all()
    assert challenge_table["within"].all(), challenge_table[~challenge_table["within"]]


def test_docs_quote_the_challenge_table_as_the_code_renders_it(challenge_table, docs_table) -> None:
    docs_table("challenge-learning", render_table(challenge_table), 4)


def test_docs_quote_the_bilateral_table_as_the_code_renders_it(docs_table) -> None:
    table = bilateral.known_answers()
    assert (table["max_error"] < 1e-7).all() and (table["linear_gain"] < 1e-12).all()
    assert (table["truthful_gain"] > 0.01).all()
    docs_table("bilateral-trade", render_table(table, digits=6, floor=BILATERAL_FLOORS), 6)


def test_another_game_has_its_own_closed_form_and_bad_keys_are_refused() -> None:
    # G = 30, P + f S = 40 + 0.5 * 100 = 90: pi* = 1/3; K = 10, R = 0.4 * 50 = 20: q* = 1/2
    game = {"payment": 40.0, "gain": 30.0, "recompute_cost": 10.0,
            "dispute": {"provider_stake": 100, "slash_fraction": 0.5, "challenger_reward_fraction": 0.4}}
    eq = challenge_equilibrium(known_answer_game(0.0, game))
    assert (eq.kind, eq.pi_star, eq.q_star) == ("mixed", pytest.approx(1 / 3), pytest.approx(0.5))
    with pytest.raises(ValueError, match="game: key 'gains' is unknown"):
        known_answer_game(0.0, {**game, "gains": 1.0})
    with pytest.raises(TypeError, match=r"game\['dispute'\] must be a table"):
        known_answer_game(0.0, {**game, "dispute": 5})


def test_the_table_is_the_summary_of_the_runs() -> None:
    runs = known_answer_runs(rounds=300, repetitions=2, seed=4, platform_rates=(0.0, 0.6))
    # pair by pair, rate by rate; pair i seeded seed + i
    assert [(r.provider.split("(")[0], r.game.platform_rate) for r in runs[:2]] == [("hedge", 0.0), ("hedge", 0.6)]
    table = known_answer_table(runs)
    assert table.equals(known_answers(rounds=300, repetitions=2, seed=4, platform_rates=(0.0, 0.6)))
    assert len(table) == 2 * len(runs) and list(table["platform_rate"]) == sorted(table["platform_rate"])
