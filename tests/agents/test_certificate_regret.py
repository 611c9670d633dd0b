"""Certificates search off the grid; external regret is the best fixed action in hindsight."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_lab.agents.certificate import best_deviation, certify
from oasis_lab.agents.regret import external_regret


def test_best_deviation_finds_an_optimum_between_grid_points() -> None:
    # the optimum 0.123456789 is on no scan point (step 0.005): Brent refines it to xtol
    d = best_deviation(lambda x: -abs(x - 0.123456789) ** 1.5, (0.0, 1.0), current=0.5, xtol=1e-12)
    assert d.best == pytest.approx(0.123456789, abs=1e-8)
    assert d.utility == pytest.approx(-((0.5 - 0.123456789) ** 1.5))
    assert not d.at_bound


def test_best_deviation_takes_the_global_maximum_among_local_ones() -> None:
    # two peaks: a broad low one and a narrow higher one between scan points
    def u(x: float) -> float:
        return 0.5 * np.exp(-((x - 0.2) / 0.1) ** 2) + np.exp(-((x - 0.7013) / 0.004) ** 2)

    d = best_deviation(u, (0.0, 1.0), current=0.2)
    assert d.best == pytest.approx(0.7013, abs=1e-7)
    assert d.best_utility == pytest.approx(1.0, abs=1e-9)


def test_best_deviation_at_a_cap_and_vectorized() -> None:
    d = best_deviation(lambda x: np.asarray(x) * 2.0, (0.0, 3.0), current=1.0, vectorized=True)
    assert d.best == 3.0 and d.at_bound and d.gain == pytest.approx(4.0)
    # a discontinuous utility: the jump up at 0.3 is located to the tolerance
    d = best_deviation(lambda x: 1.0 if x >= 0.3 else 0.0, (0.0, 1.0), current=0.0)
    assert d.gain == 1.0


def test_best_deviation_checks_its_inputs() -> None:
    with pytest.raises(ValueError, match="must have lo < hi"):
        best_deviation(lambda x: x, (1.0, 1.0))
    with pytest.raises(ValueError, match="current = 2.0 is outside bounds"):
        best_deviation(lambda x: x, (0.0, 1.0), current=2.0)
    with pytest.raises(ValueError, match=r"utility\(0.0\) = nan must be finite"):
        best_deviation(lambda x: np.nan, (0.0, 1.0))
    with pytest.raises(ValueError, match="scan = 2 must be >= 3"):
        best_deviation(lambda x: x, (0.0, 1.0), scan=2)


def _cournot(profile: np.ndarray, a: float = 10.1, c: float = 1.0):
    """Cournot duopoly/oligopoly: price a - sum q, cost c; equilibrium q* = (a - c) / (n + 1)."""
    def utility(i: int, x: float) -> float:
        total = profile.sum() - profile[i] + x
        return x * (a - total - c)
    return utility


def test_certificate_passes_at_the_cournot_equilibrium_and_fails_elsewhere() -> None:
    n = 3
    eq = np.full(n, 9.1 / (n + 1))  # 2.275: between the scan points of [0, 10] (step 0.05)
    cert = certify(_cournot(eq), eq, (0.0, 10.0), epsilon=1e-9, scan=201)
    assert cert.passed and cert.max_gain <= 1e-9
    np.testing.assert_allclose(cert.table["best"], eq, atol=1e-6)
    assert "Nash equilibrium" in cert.label
    off = eq + np.array([0.5, 0.0, -0.3])
    bad = certify(_cournot(off), off, (0.0, 10.0), epsilon=1e-6)
    assert not bad.passed and len(bad.deviators) == 3
    # best response in Cournot: (a - c - sum of the others) / 2
    others = off.sum() - off
    best = (9.1 - others) / 2
    np.testing.assert_allclose(bad.table["best"], best, atol=1e-6)
    np.testing.assert_allclose(bad.table["gain"], (best - off) ** 2, rtol=1e-9)
    assert bad.label.startswith("not an equilibrium: 3 of 3 agents gain more than 1e-06")


def test_certificate_sees_past_a_grid_cap() -> None:
    # a profile stuck at a cap of 1.0 (the grid's top) while the optimum is 2.275: the certificate
    # searches the natural interval and reports the deviation beyond the cap
    capped = np.full(3, 1.0)
    cert = certify(_cournot(capped), capped, (0.0, 10.0), epsilon=1e-6)
    assert not cert.passed
    np.testing.assert_allclose(cert.table["best"], 3.55, atol=1e-6)
    with pytest.raises(ValueError, match="bounds has 2 pairs for 3 agents"):
        certify(_cournot(capped), capped, [(0, 1), (0, 1)], epsilon=0.0)
    with pytest.raises(ValueError, match="epsilon = -1 must be >= 0"):
        certify(_cournot(capped), capped, (0, 1), epsilon=-1)


def test_external_regret_by_hand() -> None:
    u = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.5]])
    r = external_regret(u, chosen=[1, 1, 1, 1])
    assert r.regret.tolist() == [3.0 - 1.5] and r.best_action.tolist() == [0]
    # switching at the right times beats every fixed action: negative regret
    r = external_regret(u, chosen=[0, 1, 0, 0])
    assert r.regret.tolist() == [-1.0]
    # per agent, with rounds not played left out on both sides
    u2 = np.stack([u, u[:, ::-1]], axis=1)  # (T, 2 agents, K)
    played = np.array([[True, False], [True, True], [True, True], [True, True]])
    r = external_regret(u2, earned=np.zeros((4, 2)), played=played)
    # agent 1 plays rounds 1..3: action 0 would have earned 1 + 0 + 0.5, action 1 0 + 1 + 1
    assert r.best_total.tolist() == [3.0, 2.0] and r.best_action.tolist() == [0, 1]
    assert r.rounds.tolist() == [4, 3]
    np.testing.assert_allclose(r.average, [0.75, 2.0 / 3])
    assert list(r.to_frame().columns) == ["regret", "average_regret", "best_action", "best_total", "earned",
                                          "rounds"]


def test_external_regret_checks_its_inputs() -> None:
    with pytest.raises(ValueError, match="give chosen"):
        external_regret(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"chosen must be action indices in \[0, 2\)"):
        external_regret(np.zeros((3, 2)), chosen=[0, 1, 2])
    with pytest.raises(ValueError, match=r"earned must have shape \(3,\)"):
        external_regret(np.zeros((3, 2)), earned=np.zeros(4))
    with pytest.raises(TypeError, match="integer action indices"):
        external_regret(np.zeros((3, 2)), chosen=[0.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="payoffs must have shape"):
        external_regret(np.zeros(3), chosen=[0, 0, 0])
