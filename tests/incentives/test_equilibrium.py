"""Best-response dynamics over shading and markups, and the epsilon-Nash certificate of where
they stop (issue 19 item 3): known answers first."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_lab.incentives import clearing_price
from oasis_lab.incentives.equilibrium import (
    EPSILON,
    RTOL,
    _Game,
    best_response_dynamics,
    certify_profile,
)
from oasis_lab.market import Market, generate_market
from oasis_lab.params import AuctionParams

BEST = AuctionParams(task_density="surplus", provider_density="unit_cost")


def _pair() -> Market:
    # Task: 2 units worth 30 (e = 2 log2 2 + 1 = 3); provider at unit cost 5, capacity 4.
    return Market(demand=np.array([[2.0]]), value=np.array([30.0]), speed=np.ones((1, 1)),
                  capacity=np.array([4.0]), cost=np.array([5.0]), psi=np.ones((1, 1)), model_types=("m",))


# Closed forms under the midpoint with the budget check (price_rule="no_trade"): a user
# shading s reports v = 30 - 27 s, a provider marking up m asks c = 5 (1 + m) per unit; the
# payment is (v + 2 c) / 2 and the task is served iff v >= 2 c + 6. Best responses sit on
# that edge: the user's v = 2 c + 6 (utility 24 - 2 c), the provider's c = (v - 6) / 2
# (utility v - 13).
def _user_best(m: float) -> tuple[float, float]:
    c = 5 * (1 + m)
    return (30 - (2 * c + 6)) / 27, 24 - 2 * c


def _provider_best(s: float) -> tuple[float, float]:
    v = 30 - 27 * s
    return ((v - 6) / 2) / 5 - 1, v - 13


def test_certificate_finds_the_closed_form_best_responses_off_the_grid() -> None:
    # the profile where grid dynamics stop (shades 0, .25, .5, .6; markups 0, .2, .5, 1)
    shades, markups = (0.0, 0.25, 0.5, 0.6), (0.0, 0.2, 0.5, 1.0)
    grid = best_response_dynamics(_pair(), "greedy", BEST, search="grid", user_shades=shades,
                                  provider_markups=markups, max_sweeps=6)
    assert grid.converged  # nobody moves on the grid ...
    s0, m0 = float(grid.shade[0]), float(grid.markup[0])
    cert = grid.certificate
    user, prov = cert.table.iloc[0], cert.table.iloc[1]
    # ... but off the grid both gain, by exactly the closed forms' amounts
    s_star, u_star = _user_best(m0)
    m_star, p_star = _provider_best(s0)
    assert user["best"] == pytest.approx(s_star, abs=1e-7)
    assert user["best_utility"] == pytest.approx(u_star, abs=1e-5)
    assert prov["best"] == pytest.approx(m_star, abs=1e-7)
    assert prov["best_utility"] == pytest.approx(p_star, abs=1e-5)
    assert not cert.passed and cert.max_gain == pytest.approx(max(u_star - user["utility"], p_star - prov["utility"]),
                                                              abs=1e-5)
    assert cert.label.startswith("dynamics stopped, not an equilibrium: max gain")
    assert not grid.certified


def test_continuous_dynamics_end_on_the_edge_and_are_certified() -> None:
    res = best_response_dynamics(_pair(), "greedy", BEST, max_sweeps=10)
    assert res.converged and res.certified
    assert res.label.startswith("epsilon-Nash equilibrium")
    s, m = float(res.shade[0]), float(res.markup[0])
    v, c = 30 - 27 * s, 5 * (1 + m)
    assert v >= 2 * c + 6 - 1e-9  # still served ...
    # ... within the tolerance of the edge: each side's closed-form best gains at most it
    tol = EPSILON + RTOL * 30
    assert _user_best(m)[1] - (27 - (v + 2 * c) / 2) <= tol
    assert _provider_best(s)[1] - ((v + 2 * c) / 2 - 10) <= tol
    assert res.welfare == pytest.approx(res.welfare_truth)  # the same trade, other transfers
    # a fresh certificate of the end profile agrees with the one the last sweep built
    fresh = certify_profile(_pair(), "greedy", BEST, res.shade, res.markup)
    assert fresh.passed
    np.testing.assert_allclose(fresh.table["gain"], res.certificate.table["gain"], atol=1e-9)


def test_a_provider_paid_its_ask_has_no_best_response() -> None:
    # Under the paper's price fallback the walk never checks the budget: the provider is paid
    # its ask, however high. Its gain grows without bound, so no profile is an equilibrium.
    cert = certify_profile(_pair(), "greedy", AuctionParams(price_rule="as_written", task_density="surplus",
                                                            provider_density="unit_cost"))
    prov = cert.table[cert.table["side"] == "provider"].iloc[0]
    assert bool(prov["unbounded"]) and prov["gain"] > 1e3
    assert not cert.passed and "gain without bound" in cert.label


def test_the_markup_interval_never_binds_under_a_price_check() -> None:
    # Beyond the interval's start a provider's ask exceeds every task's per-unit price: under
    # no_trade (and the truthful variant's posted price) it trades nothing there. Checked on
    # generated markets: utility 0 at the interval's end and 1000 times beyond it.
    for seed, scenario in ((0, "balanced"), (1, "scarce_supply"), (2, "price_crossing")):
        m = generate_market(14, 4, scenario=scenario, seed=seed)
        for mech, opts in (("greedy", {}), ("truthful", {"reference_price": clearing_price(
                generate_market(14, 4, scenario=scenario, seed=seed + 50))})):
            game = _Game(m, mech, BEST, opts, 0)
            shade = np.full(m.n_tasks, 0.3)
            for j in range(m.n_providers):
                f = game.utility("provider", j, shade, np.zeros(m.n_providers))
                hi = game.markup_start(j, shade)
                assert f(hi * 1.0000001) == 0.0 and f(1e3 * hi) == 0.0, (seed, mech, j)
    cert = certify_profile(m, "greedy", BEST, np.full(m.n_tasks, 0.3), np.zeros(m.n_providers), scan=31, refine=1)
    assert not cert.table["unbounded"].any()


def test_truth_is_certified_under_the_truthful_variant() -> None:
    m = generate_market(12, 4, seed=2)
    p = clearing_price(generate_market(12, 4, seed=3))
    res = best_response_dynamics(m, "truthful", BEST, max_sweeps=2, options={"reference_price": p}, scan=31, refine=1)
    assert res.converged and len(res.sweeps) == 1 and res.certified
    assert not res.shade.any() and not res.markup.any()
    assert res.certificate.max_gain <= 1e-6  # shading or marking up never gains, off any grid
    # the markup intervals reach past the posted price: a provider there is not admitted
    prov = res.certificate.table[res.certificate.table["side"] == "provider"]
    assert ((1 + prov["hi"]) * m.provider_unit_cost > p).all()


def test_grid_end_profiles_of_a_real_market_are_not_equilibria() -> None:
    # issue 19: grid dynamics stop where off-grid deviations pay (here, as on all 30 profiles
    # of the study)
    m = generate_market(14, 4, seed=3)
    res = best_response_dynamics(m, "greedy", BEST, search="grid", user_shades=(0.0, 0.3, 0.6),
                                 provider_markups=(0.0, 0.3, 0.6), max_sweeps=3, scan=31, refine=1)
    assert not res.certified and len(res.certificate.deviators) > 0
    off_grid = res.certificate.deviators["best"]
    assert (~np.isin(off_grid.round(9), [0.0, 0.3, 0.6])).any()


def test_bad_arguments() -> None:
    m = generate_market(4, 2, seed=0)
    with pytest.raises(ValueError, match="must contain 0"):
        best_response_dynamics(m, search="grid", user_shades=(0.1, 0.2))
    with pytest.raises(ValueError, match="user_shades"):
        best_response_dynamics(m, user_shades=(0.0, 1.0))
    with pytest.raises(TypeError, match="provider_markups must be a sequence of numbers, got 0.5"):
        best_response_dynamics(m, provider_markups=0.5)
    with pytest.raises(ValueError, match="search"):
        best_response_dynamics(m, search="newton")
    with pytest.raises(ValueError, match=r"shade\[1\] = 1.5 must be in \[0, 1\]"):
        certify_profile(m, shade=[0.0, 1.5, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"markup has shape \(3,\)"):
        certify_profile(m, markup=[0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="epsilon"):
        certify_profile(m, epsilon=-1.0)
