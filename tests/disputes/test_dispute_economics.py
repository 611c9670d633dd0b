"""Deterrence closed forms, dispute cost tables and the challenge Monte Carlo (section 5)."""

import numpy as np
import pytest

from oasis_lab.disputes.economics import (
    challenge_probability,
    cheating_gain,
    cheating_pays,
    cost_table,
    deterrence_surface,
    dispute_costs,
    min_challenge_probability,
    min_stake,
    simulate_challenges,
)
from oasis_lab.disputes.graph import graph_from_edges
from oasis_lab.disputes.params import DisputeParams


def test_closed_forms():
    assert challenge_probability(0.1, 0.2) == pytest.approx(1 - 0.9 * 0.8)
    # p S >= G deters: p = 0.1, S = 1000, G = 100 is the frontier
    assert not cheating_pays(0.1, 1000, 100)
    assert cheating_pays(0.099, 1000, 100)
    assert cheating_gain(0.1, 1000, 150, payment=100) == pytest.approx(150 - 110)
    assert min_challenge_probability(1000, 100) == pytest.approx(0.1)
    assert min_challenge_probability(900, 100, payment=100) == pytest.approx(0.1)
    assert np.isinf(min_challenge_probability(0, 5))
    assert min_stake(0.1, 100) == pytest.approx(1000)
    assert min_stake(0.1, 100, payment=40, slash_fraction=0.5) == pytest.approx(1920)
    assert min_stake(0.5, 10, payment=40) == 0.0
    # the minimum stake sits on the frontier: cheating gains exactly 0 there, pays just below
    p, g, pay, f = 0.07, 130.0, 25.0, 0.6
    s_min = float(min_stake(p, g, payment=pay, slash_fraction=f))
    assert s_min == pytest.approx((g / p - pay) / f)
    assert cheating_gain(p, f * s_min, g, payment=pay) == pytest.approx(0.0, abs=1e-9)
    assert cheating_pays(p, f * (s_min - 1), g, payment=pay) and not cheating_pays(p, f * (s_min + 1), g, payment=pay)
    assert min_challenge_probability(f * s_min, g, payment=pay) == pytest.approx(p)
    with pytest.raises(ValueError, match="p_user"):
        challenge_probability(1.5, 0)
    with pytest.raises(ValueError, match="gain"):
        cheating_pays(0.1, 10, -1)


def test_surface_frontier_matches_min_probability():
    s = deterrence_surface(np.linspace(0, 1, 101), np.array([500.0, 1000.0, 2000.0]), gain=100.0)
    assert s.margin.shape == (101, 3)
    for j, stake in enumerate(s.stake):
        first = s.p[np.argmax(s.deterred[:, j])]
        assert first == pytest.approx(100.0 / stake, abs=0.01)
    assert len(s.to_frame()) == 303


def test_surface_plot_draws_each_frontier_with_the_legend_off_the_map():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = deterrence_surface(np.linspace(0, 0.3, 31), np.linspace(0, 5000, 51), gain=50.0, payment=100.0)
    ax = s.plot(other_slash_fractions=[0.5])
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"frontier p (f S + P) = G, f = 1", "frontier p (f S + P) = G, f = 0.5"}
    # each frontier is p* = G / (f S + P) where it lies on the map
    x, y = lines["frontier p (f S + P) = G, f = 0.5"].get_data()
    np.testing.assert_allclose(y, 50.0 / (0.5 * np.asarray(x) + 100.0))
    assert ax.get_legend().get_bbox_to_anchor().y0 < ax.get_position().y0 * ax.figure.bbox.height
    with pytest.raises(ValueError, match="other_slash_fractions"):
        s.plot(other_slash_fractions=[0.0])
    plt.close("all")


def test_cost_model_known_answers():
    # a chain of 8 nodes, arity 2: every node takes exactly 3 rounds
    g = graph_from_edges("chain", [f"n{i}" for i in range(8)], ["op"] * 8,
                         [[]] + [[i - 1] for i in range(1, 8)], np.arange(1, 9), [4] * 8)
    c = dispute_costs(g, 2)
    np.testing.assert_array_equal(c.rounds, [3] * 8)
    np.testing.assert_allclose(c.referee_flops_share, np.arange(1, 9) / 36)
    # node 0 reads only public inputs: no opening; others open one digest + start commitment
    np.testing.assert_array_equal(c.opening_hashes, [0] + [2] * 7)
    # arity 8 decides in one round; the challenger names a part unless it is the last one
    c8 = dispute_costs(g, 8)
    np.testing.assert_array_equal(c8.rounds, [1] * 8)
    np.testing.assert_array_equal(c8.hashes_exchanged - c8.opening_hashes, [2 + 7 + 1] * 7 + [2 + 7])
    table = cost_table({"chain": g}, (2, 8))
    assert table["rounds_max"].tolist() == [3, 1]


def test_monte_carlo_exact_mode_never_slashes_honest_on_one_device():
    r = simulate_challenges(600, cheat_share=0.2, p_user=0.2, p_platform=0.1, lying_share=0.1,
                            n_nodes=64, seed=3)
    s = r.summary()
    assert s["honest_wrongly_slashed"] == 0 and s["lying_challenges_won"] == 0
    # every challenged cheater is convicted, no unchallenged one is
    cheat = r.kind == 1
    np.testing.assert_array_equal(r.convicted[cheat], r.challenged[cheat])
    assert s["fraud_detected"] + s["fraud_undetected"] == s["cheated"]


def test_monte_carlo_other_devices_exact_vs_tolerance():
    kw = {"cheat_share": 0.0, "other_device_share": 0.5, "p_user": 0.5, "p_platform": 0.0, "n_nodes": 48, "seed": 7}
    exact = simulate_challenges(200, **kw).summary()
    strict = simulate_challenges(200, params=DisputeParams(exact_reading="strict"), **kw).summary()
    tol = simulate_challenges(200, params=DisputeParams(comparison="tolerance", max_ulp=2), **kw).summary()
    # strict bitwise comparison across devices convicts honest providers; the rounding reading
    # (the default) and tolerance mode convict none of the same disputes
    assert strict["honest_wrongly_slashed"] > 0 and strict["disputes"] == exact["disputes"] > 0
    assert exact["honest_wrongly_slashed"] == 0
    assert tol["honest_wrongly_slashed"] == 0


def test_monte_carlo_gain_tracks_prediction():
    r = simulate_challenges(4000, cheat_share=0.5, p_user=0.1, p_platform=0.0, stake=300, gain=50, payment=100,
                            n_nodes=32, seed=11)
    # realised gain per cheat G - (S + P) * detected share vs G - p (S + P): binomial noise only
    sd = (300 + 100) * np.sqrt(0.1 * 0.9 / r.summary()["cheated"])
    assert abs(r.cheater_gain - r.predicted_cheater_gain) < 4 * sd
    with pytest.raises(ValueError, match="n_tasks"):
        simulate_challenges(0)


def test_monte_carlo_draws_each_purpose_from_its_own_stream():
    # who cheats and who is challenged do not move when another purpose's draws change (more
    # lying challengers, hence more disputes played), and the disputes are not seeded with the
    # task draws' seed
    from oasis_lab.disputes.economics import simulate_challenges

    a = simulate_challenges(300, cheat_share=0.2, n_nodes=16, seed=4)
    b = simulate_challenges(300, cheat_share=0.2, n_nodes=16, lying_share=0.3, seed=4)
    assert (a.kind == b.kind).all() and (a.challenged == b.challenged).all()
    assert b.disputed.sum() > a.disputed.sum()
    c = simulate_challenges(300, cheat_share=0.2, n_nodes=16, seed=5)
    assert not (a.challenged == c.challenged).all()
