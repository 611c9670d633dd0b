"""The challenge game: closed form against a 2x2 solved by hand and by the generic solver."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_lab.disputes.params import DisputeParams
from oasis_lab.incentives.challenge import (
    MAX_TOKENS,
    ChallengeGame,
    challenge_equilibrium,
    equilibrium_by_stake,
    fraud_by_platform_rate,
    honest_participation,
    mixed_equilibrium_2x2,
    participation_curve,
    payoff_matrices,
    platform_challenge_rate,
)


def test_two_by_two_mixed_equilibrium_in_closed_form() -> None:
    # P = 100, G = 50, S = 1000, f = 1: a conviction costs 1,100, so the provider is indifferent
    # at a detection of 50 / 1100 = 1/22. K = 50, reward 0.5 * 1000 = 500: the challenger is
    # indifferent at a fraud rate of 50 / 500 = 0.1.
    game = ChallengeGame(payment=100, gain=50, recompute_cost=50, dispute=DisputeParams(provider_stake=1000))
    provider, challenger = payoff_matrices(game)
    np.testing.assert_allclose(provider, [[0, 0], [50, 50 - 1100]])
    np.testing.assert_allclose(challenger, [[0, -50], [0, 450]])
    q, p = mixed_equilibrium_2x2(provider, challenger)
    assert q == pytest.approx(0.1) and p == pytest.approx(1 / 22)
    eq = challenge_equilibrium(game)
    assert eq.kind == "mixed"
    assert (eq.fraud_rate, eq.challenge_rate) == pytest.approx((q, p))
    # Indifference: each pure strategy earns the same against the other's mix.
    assert (1 - p) * provider[1, 0] + p * provider[1, 1] == pytest.approx(0.0, abs=1e-12)
    assert (1 - q) * challenger[0, 1] + q * challenger[1, 1] == pytest.approx(0.0, abs=1e-12)


def test_platform_rate_shifts_challenges_not_fraud_until_it_deters() -> None:
    game = ChallengeGame(dispute=DisputeParams(provider_stake=1000))
    for r in (0.0, 0.01, 0.03):
        eq = challenge_equilibrium(game.replace(platform_rate=r))
        q, p = mixed_equilibrium_2x2(*payoff_matrices(game.replace(platform_rate=r)))
        assert q == eq.fraud_rate == pytest.approx(0.1) and eq.challenge_rate == pytest.approx(p)
        assert 1 - (1 - p) * (1 - r) == pytest.approx(1 / 22)
    assert challenge_equilibrium(game.replace(platform_rate=1 / 22 + 1e-9)).kind == "deterred"
    assert platform_challenge_rate(game, 0.01) == pytest.approx(1 / 22)
    assert platform_challenge_rate(game, 0.2) == 0.0  # equilibrium fraud 0.1 already below
    # The stake changes the challenge rate, not the fraud rate (the verifier's dilemma).
    rich = game.dispute.replace(provider_stake=10_000)
    assert challenge_equilibrium(game.replace(dispute=rich)).fraud_rate == pytest.approx(50 / 5000)
    table = fraud_by_platform_rate(game, [0.0, 0.02, 0.05])
    assert table["kind"].tolist() == ["mixed", "mixed", "deterred"]


def test_unrewarded_checking_is_abandoned() -> None:
    game = ChallengeGame(recompute_cost=600, dispute=DisputeParams(provider_stake=1000))
    eq = challenge_equilibrium(game)
    assert eq.kind == "unchecked" and eq.fraud_rate == 1.0 and eq.challenge_rate == 0.0
    with pytest.raises(ValueError, match="no fully mixed"):
        mixed_equilibrium_2x2(*payoff_matrices(game))


def test_honest_provider_on_other_hardware() -> None:
    # docs' parameters: p_user = p_platform = 0.05 (pi = 0.0975), S = 1,000, P = 100:
    # exact mode costs 0.0975 * 1,100 = 107.25 per task, more than the payment.
    game = ChallengeGame(dispute=DisputeParams(provider_stake=1000))
    table = honest_participation(game, service_cost=40, challenge_probability=0.0975)
    assert table.loc["exact", "expected_loss"] == pytest.approx(107.25)
    assert not table.loc["exact", "participates"] and table.loc["tolerance", "participates"]
    # At the equilibrium detection pi* the loss is d * G.
    eq_table = honest_participation(game, service_cost=40, mismatch=0.5)
    assert eq_table.loc["exact", "expected_loss"] == pytest.approx(0.5 * 50)


def test_bad_game_parameters() -> None:
    with pytest.raises(ValueError, match="platform_rate"):
        ChallengeGame(platform_rate=1.5)
    with pytest.raises(ValueError, match="gain"):
        ChallengeGame(gain=-1)
    with pytest.raises(TypeError, match="dispute"):
        ChallengeGame(dispute={"provider_stake": 1})
    # issue 21, item 13: a stake beyond float64 crashed the closed forms (OverflowError)
    with pytest.raises(ValueError, match=r"dispute.provider_stake = 1" + "0" * 400 + r" must be <= 1e\+150"):
        challenge_equilibrium(ChallengeGame(dispute=DisputeParams(provider_stake=10**400)))
    with pytest.raises(ValueError, match="dispute.challenger_bond"):
        ChallengeGame(dispute=DisputeParams(challenger_bond=10**200))
    with pytest.raises(ValueError, match="capital_cost"):
        ChallengeGame(capital_cost=1e200)
    # at the bound every closed form stays finite
    big = challenge_equilibrium(ChallengeGame(payment=MAX_TOKENS, gain=MAX_TOKENS, recompute_cost=MAX_TOKENS,
                                              capital_cost=MAX_TOKENS,
                                              dispute=DisputeParams(provider_stake=int(MAX_TOKENS),
                                                                    challenger_bond=int(MAX_TOKENS))))
    assert all(np.isfinite(v) for k, v in big.as_dict().items() if k != "kind")


def test_curves_over_stake_and_challenge_probability() -> None:
    game = ChallengeGame(payment=100, gain=50, recompute_cost=50, dispute=DisputeParams(provider_stake=1_000))
    by_stake = equilibrium_by_stake(game, [1_000, 10_000])
    # pi* = G / (P + S), q* = K / (rho S)
    assert by_stake["stake"].tolist() == [1_000, 10_000]
    assert by_stake["pi_star"].tolist() == pytest.approx([50 / 1_100, 50 / 10_100])
    assert by_stake["fraud_rate"].tolist() == pytest.approx([0.1, 0.01])
    with pytest.raises(ValueError, match="stakes must be integer token amounts"):
        equilibrium_by_stake(game, [1.5])
    curve = participation_curve(game, service_cost=40.0, probabilities=[0.0, 0.1])
    # exact referee: P - cost - pi (P + S); tolerance: P - cost
    assert curve.loc[0.1, "exact"] == pytest.approx(60 - 0.1 * 1_100) and (curve["tolerance"] == 60).all()
