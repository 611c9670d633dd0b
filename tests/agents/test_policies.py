"""Policies per role: today's behaviour scripted, the truthful action, learning from one's own
payoff; the round protocol and the records' checks."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from oasis_lab.agents.learners import Exp3, Hedge, RegretMatching
from oasis_lab.agents.policies import SCRIPTED_DEFAULTS, Learning, Profile, Scripted, Truthful, action_grid
from oasis_lab.agents.roles import (
    CHEATER_ADVERSARIES,
    PROVIDER_KINDS,
    REFEREE_STRATEGIES,
    ChallengerObservation,
    ChallengerOutcome,
    ProviderAction,
    ProviderObservation,
    ProviderOutcome,
    RefereeObservation,
    UserAction,
    UserObservation,
    UserOutcome,
    reported_cost,
    reported_value,
)
from oasis_lab.seeding import stream


def _providers(n: int, r: int = 0, kind=None) -> ProviderObservation:
    kinds = np.arange(n) % 3 if kind is None else kind
    return ProviderObservation(r, np.arange(n), cost=np.linspace(1, 2, n), kind=kinds, stake=np.full(n, 100.0))


def test_scripted_provider_cheats_as_the_simulation_draws_today() -> None:
    # engine: cheated = (kind == CHEATER) & (u < cheat_probability); with the scripted action the
    # engine draws the same u and compares with the action's rate: identical bits
    obs = _providers(1000)
    u = stream(5, "execution", 3).random(1000)
    for cp in (0.0, 0.3, 1.0):
        rate = Scripted("provider", cheat_probability=cp).act(obs).cheat_rate
        today = (obs.kind == PROVIDER_KINDS.index("cheater")) & (u < cp)
        np.testing.assert_array_equal(u < rate, today)
    a = Scripted("provider", adversary="swap", markup=0.2).act(obs)
    assert (a.adversary == CHEATER_ADVERSARIES.index("swap")).all() and (a.markup == 0.2).all()


def test_scripted_challenger_user_and_referee() -> None:
    obs = ChallengerObservation(0, np.arange(4), payment=np.ones(4), check_cost=np.ones(4))
    rate = SCRIPTED_DEFAULTS["challenger"]["challenge_rate"]
    assert Scripted("challenger").act(obs).challenge_rate.tolist() == [rate] * 4
    u = UserObservation(0, np.arange(2), value=np.array([5.0, 1.0]), user_cost=np.array([1.0, 2.0]))
    assert Scripted("user").act(u).shade.tolist() == [0.0, 0.0]
    names = ("honest", "bribable", "bribable", "bribable", "collude")
    strategy = np.array([REFEREE_STRATEGIES.index(s) for s in names])
    ref = RefereeObservation(0, np.arange(5), strategy=strategy, offer=np.array([50.0, 50.0, 9.0, 0.0, 50.0]),
                             stake=np.full(5, 1e4), overturn_probability=np.full(5, 0.5))
    # as MarketReferee.sides_with: a bribable referee takes a positive offer of at least the price
    assert Scripted("referee", bribe_price=10).act(ref).take_bribe.tolist() == [False, True, False, False, False]
    assert Scripted("referee").act(ref).take_bribe.tolist() == [False, True, True, False, False]
    assert not Truthful("referee").act(ref).take_bribe.any()


def test_truthful_actions() -> None:
    obs = _providers(6)
    a = Truthful("provider").act(obs)
    assert not a.cheat_rate.any() and not a.markup.any()
    np.testing.assert_array_equal(reported_cost(obs, a), obs.cost)
    u = UserObservation(0, np.arange(2), value=np.array([5.0, 1.0]), user_cost=np.array([1.0, 2.0]))
    np.testing.assert_array_equal(reported_value(u, Truthful("user").act(u)), u.value)
    np.testing.assert_allclose(reported_value(u, UserAction(shade=np.array([0.5, 0.9]))), [3.0, 1.0])
    with pytest.raises(ValueError, match="no truthful action"):
        Truthful("challenger")


def test_scripted_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown provider setting 'cheat_prob'"):
        Scripted("provider", cheat_prob=0.5)
    with pytest.raises(ValueError, match="cheat_probability = 1.5 must be in"):
        Scripted("provider", cheat_probability=1.5)
    with pytest.raises(ValueError, match="adversary = 'nope' must be one of"):
        Scripted("provider", adversary="nope")
    with pytest.raises(ValueError, match="role = 'auditor' must be one of"):
        Scripted("auditor")
    with pytest.raises(TypeError, match="must be a ProviderObservation"):
        Scripted("provider").act(ChallengerObservation(0, np.arange(1), payment=np.ones(1), check_cost=np.ones(1)))


def test_records_name_the_bad_field() -> None:
    with pytest.raises(ValueError, match=r"ProviderObservation.cost has 2 rows, expected 3"):
        ProviderObservation(0, np.arange(3), cost=np.ones(2), kind=np.zeros(3, int), stake=np.ones(3))
    with pytest.raises(ValueError, match=r"ProviderObservation.kind\[0\] = 7 must be in"):
        ProviderObservation(0, np.arange(1), cost=np.ones(1), kind=np.array([7]), stake=np.ones(1))
    with pytest.raises(ValueError, match=r"UserObservation.value\[1\] = nan must be finite"):
        UserObservation(0, np.arange(2), value=np.array([1.0, np.nan]), user_cost=np.ones(2))
    with pytest.raises(TypeError, match="agent must hold integers"):
        UserObservation(0, np.array([0.5]), value=np.ones(1), user_cost=np.ones(1))
    with pytest.raises(ValueError, match=r"ProviderAction.cheat_rate\[0\] = 1.5 must be in \[0.0, 1.0\]"):
        ProviderAction(markup=np.zeros(1), cheat_rate=np.array([1.5]), adversary=np.zeros(1, int))
    with pytest.raises(ValueError, match=r"UserAction.shade\[0\] = 1.0 must be in \[0.0, 1.0\)"):
        UserAction(shade=np.array([1.0]))
    with pytest.raises(ValueError, match="ProviderOutcome.agent has a negative id -2"):
        ProviderOutcome(0, np.array([-2]), payoff=np.ones(1))
    with pytest.raises(ValueError, match="round = -1 must be >= 0"):
        UserOutcome(-1, np.arange(1), payoff=np.ones(1))
    with pytest.raises(ValueError, match=r"payoffs must have shape \(n, K\) with n = 1"):
        UserOutcome(0, np.arange(1), payoff=np.ones(1), payoffs=np.ones((2, 2)))


def test_action_grid_is_the_product_and_checks_values() -> None:
    g = action_grid("provider", cheat_rate=[0.0, 0.5, 1.0], adversary=["perturb", "swap"])
    assert len(g["cheat_rate"]) == 6 and set(g) == {"markup", "cheat_rate", "adversary"}
    assert sorted(set(g["adversary"].tolist())) == sorted(CHEATER_ADVERSARIES.index(a) for a in ("perturb", "swap"))
    with pytest.raises(ValueError, match="unknown user action field 'markup'"):
        action_grid("user", markup=[0, 1])
    with pytest.raises(ValueError, match=r"UserAction.shade\[1\] = 1.2 must be in"):
        action_grid("user", shade=[0.0, 1.2])
    with pytest.raises(ValueError, match="at least 2 actions"):
        action_grid("challenger", challenge_rate=[0.1])


def _learning(role="provider", n=0, seed=0, learner=None, **grid) -> Learning:
    grid = grid or {"cheat_rate": [0.0, 0.5, 1.0]}
    g = action_grid(role, **grid)
    k = len(next(iter(g.values())))
    return Learning(role, learner or Exp3(k, 100, n_agents=n), g, payoff_range=(-10.0, 10.0), seed=seed)


def test_learning_policy_is_seeded_and_one_decision_per_agent_per_round() -> None:
    a, b, c = _learning(seed=1), _learning(seed=1), _learning(seed=2)
    obs = ProviderObservation(0, np.array([3, 1, 3, 0, 1]), cost=np.ones(5), kind=np.ones(5, int), stake=np.ones(5))
    xa, xb, xc = a.act(obs), b.act(obs), c.act(obs)
    np.testing.assert_array_equal(xa.cheat_rate, xb.cheat_rate)
    # rows of one agent share its decision; agent ids grow the population
    assert xa.cheat_rate[0] == xa.cheat_rate[2] and xa.cheat_rate[1] == xa.cheat_rate[4]
    assert a.learner.n_agents == 4
    # a second call in the same round keeps the decisions taken
    again = a.act(ProviderObservation(0, np.array([1, 3]), cost=np.ones(2), kind=np.ones(2, int), stake=np.ones(2)))
    assert again.cheat_rate.tolist() == [xa.cheat_rate[1], xa.cheat_rate[0]]
    assert xc.cheat_rate.shape == xa.cheat_rate.shape
    # other seeds draw other streams
    many = _providers(200, kind=np.ones(200, int))
    assert not np.array_equal(_learning(seed=1).act(many).cheat_rate, _learning(seed=2).act(many).cheat_rate)


def test_learning_sums_each_agents_rows_and_learns_its_own_payoff() -> None:
    # Hedge with full information: the agent's payoff vector is the sum of its rows'
    g = action_grid("user", shade=[0.0, 0.5])
    pol = Learning("user", Hedge(2, 100, eta=1.0), g, payoff_range=(-4.0, 4.0), seed=0)
    obs = UserObservation(0, np.array([0, 0, 1]), value=np.ones(3), user_cost=np.zeros(3))
    pol.act(obs)
    pol.learn(UserOutcome(0, np.array([0, 0, 1]), payoff=np.array([1.0, 1.0, 0.0]),
                          payoffs=np.array([[1.0, -1.0], [1.0, -1.0], [0.0, 0.0]])))
    # agent 0: (2, -2) scaled by the range (-4, 4) -> (0.75, 0.25); agent 1: (0.5, 0.5)
    np.testing.assert_allclose(pol.learner.total, [[0.75, 0.25], [0.5, 0.5]])
    p = pol.probabilities()
    assert p[0, 0] > 0.5 and p[1, 0] == pytest.approx(0.5)
    assert pol.mean_action()["shade"][1] == pytest.approx(0.25)
    assert pol.regret_bound(100) == pytest.approx(8 * (np.log(2) / 1.0 + 100 / 8))


def test_learning_round_protocol_is_enforced() -> None:
    pol = _learning()
    obs = _providers(2, kind=np.ones(2, int))
    with pytest.raises(ValueError, match="no round awaits an outcome"):
        pol.learn(ProviderOutcome(0, np.arange(2), payoff=np.zeros(2)))
    pol.act(obs)
    with pytest.raises(ValueError, match="round 0 was acted but never learned"):
        pol.act(_providers(2, r=1))
    with pytest.raises(ValueError, match=r"agents \[1\] acted in round 0 but have no outcome row"):
        pol.learn(ProviderOutcome(0, np.array([0]), payoff=np.zeros(1)))
    pol = _learning()
    pol.act(obs)
    with pytest.raises(ValueError, match=r"did not act in round 0: \[5\]"):
        pol.learn(ProviderOutcome(0, np.array([0, 1, 5]), payoff=np.zeros(3)))
    pol = _learning()
    pol.act(obs)
    with pytest.raises(ValueError, match=r"outside payoff_range \(-10.0, 10.0\)"):
        pol.learn(ProviderOutcome(0, np.arange(2), payoff=np.array([0.0, 11.0])))
    with pytest.raises(TypeError, match="must be a ProviderOutcome"):
        pol.learn(ChallengerOutcome(0, np.arange(2), payoff=np.zeros(2)))
    pol = _learning()
    pol.act(obs)
    pol.learn(ProviderOutcome(0, np.arange(2), payoff=np.zeros(2)))
    with pytest.raises(ValueError, match="round 0 was already learned"):
        pol.act(obs)
    pol.act(_providers(2, r=3, kind=np.ones(2, int)))
    pol.learn(ProviderOutcome(3, np.arange(2), payoff=np.zeros(2)))
    with pytest.raises(ValueError, match="before the last round acted, 3"):
        pol.act(_providers(2, r=2))
    # a refused outcome leaves the round open: the right one is still taken
    pol.act(_providers(2, r=4, kind=np.ones(2, int)))
    with pytest.raises(ValueError, match="no outcome row"):
        pol.learn(ProviderOutcome(4, np.array([0]), payoff=np.zeros(1)))
    pol.learn(ProviderOutcome(4, np.arange(2), payoff=np.zeros(2)))
    # clipping is opt-in and counted
    g = action_grid("provider", cheat_rate=[0.0, 1.0])
    clip = Learning("provider", Exp3(2, 10), g, payoff_range=(0.0, 1.0), seed=0, out_of_range="clip")
    clip.act(obs)
    clip.learn(ProviderOutcome(0, np.arange(2), payoff=np.array([2.0, -1.0])))
    assert clip.clipped == 2


def test_learning_policy_checks_its_parts() -> None:
    g = action_grid("provider", cheat_rate=[0.0, 1.0])
    with pytest.raises(ValueError, match="learner has 3 actions, the grid 2"):
        Learning("provider", Exp3(3, 10), g, payoff_range=(0, 1), seed=0)
    with pytest.raises(ValueError, match="must have lo < hi"):
        Learning("provider", Exp3(2, 10), g, payoff_range=(1, 1), seed=0)
    with pytest.raises(ValueError, match="grid must map every provider action field"):
        Learning("provider", Exp3(2, 10), {"cheat_rate": [0, 1]}, payoff_range=(0, 1), seed=0)
    pol = Learning("provider", RegretMatching(2, 10, feedback="full"), g, payoff_range=(0, 1), seed=0)
    pol.act(_providers(1))
    with pytest.raises(ValueError, match="needs payoffs"):
        pol.learn(ProviderOutcome(0, np.arange(1), payoff=np.zeros(1)))


def test_a_population_learns_the_dominant_action() -> None:
    # 50 providers; cheating always costs 5 more than honesty: every one learns not to cheat
    g = action_grid("provider", cheat_rate=[0.0, 1.0])
    pol = Learning("provider", Exp3(2, 3000), g, payoff_range=(-10.0, 10.0), seed=4)
    for r in range(3000):
        a = pol.act(_providers(50, r=r, kind=np.ones(50, int)))
        pol.learn(ProviderOutcome(r, np.arange(50), payoff=2.0 - 5.0 * a.cheat_rate))
    assert pol.mean_action()["cheat_rate"].max() < 0.1


def test_agent_protocol_lets_each_agent_await_its_own_outcome() -> None:
    # the market's timing: agent 1's round-0 action is learned two rounds later, agent 0 plays on
    g = action_grid("provider", cheat_rate=[0.0, 1.0])
    pol = Learning("provider", Exp3(2, 100), g, payoff_range=(-1.0, 1.0), seed=0, protocol="agent")
    pol.act(_providers(2, r=0, kind=np.ones(2, int)))
    p0 = pol.played_probabilities.copy()
    np.testing.assert_allclose(p0, 0.5)
    pol.learn(ProviderOutcome(0, np.array([0]), payoff=np.array([1.0])))
    assert pol.pending().tolist() == [-1, 0]
    one = ProviderObservation(1, np.array([0]), cost=np.ones(1), kind=np.ones(1, int), stake=np.ones(1))
    pol.act(one)
    with pytest.raises(ValueError, match=r"agents \[1\] still await the outcome of round\(s\) \[0\]"):
        pol.act(_providers(2, r=1))
    with pytest.raises(ValueError, match=r"no action of round 1 awaiting its outcome: \[1\]"):
        pol.learn(ProviderOutcome(1, np.array([0, 1]), payoff=np.zeros(2)))
    pol.learn(ProviderOutcome(0, np.array([1]), payoff=np.array([-1.0])))
    pol.learn(ProviderOutcome(1, np.array([0]), payoff=np.array([0.0])))
    # a decision that did not matter is forgotten: no update, free to act again
    before = pol.learner.estimate.copy()
    pol.act(_providers(2, r=2, kind=np.ones(2, int)))
    pol.forget([1])
    np.testing.assert_array_equal(pol.learner.estimate[1], before[1])
    with pytest.raises(ValueError, match="have no action awaiting"):
        pol.forget([1])
    pol.learn(ProviderOutcome(2, np.array([0]), payoff=np.zeros(1)))
    pol.act(_providers(2, r=3, kind=np.ones(2, int)))
    with pytest.raises(ValueError, match="before the last round acted, 3"):
        pol.act(_providers(2, r=2))
    with pytest.raises(ValueError, match="forget applies to protocol='agent'"):
        _learning().forget([0])


def test_profile_plays_each_agents_own_action() -> None:
    pol = Profile("provider", {"cheat_rate": [0.0, 0.25, 1.0]})
    a = pol.act(_providers(3))
    assert a.cheat_rate.tolist() == [0.0, 0.25, 1.0] and a.markup.tolist() == [0.0] * 3
    pol.learn(ProviderOutcome(0, np.arange(3), payoff=np.zeros(3)))
    pol.act(_providers(2, r=5))  # no round protocol: a profile learns nothing
    with pytest.raises(TypeError, match="must be a ProviderOutcome"):
        pol.learn(UserOutcome(0, np.arange(1), payoff=np.zeros(1)))
    with pytest.raises(ValueError, match="agent 3 has no action in the profile of 3 agents"):
        pol.act(_providers(4, r=1))
    wide = Profile("provider", {"cheat_rate": [0.0, 0.25, 1.0]}, truthful_beyond=True)
    assert wide.act(_providers(5)).cheat_rate.tolist() == [0.0, 0.25, 1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match=r"unknown provider action fields \['shade'\]"):
        Profile("provider", {"shade": [0.1]})
    with pytest.raises(ValueError, match=r"cheat_rate\[1\] = 2.0 must be in \[0.0, 1.0\]"):
        Profile("provider", {"cheat_rate": [0.0, 2.0]})


LOWER = ("market", "params", "seeding", "checks", "auction", "gpu", "disputes", "agents")


def test_agents_import_only_the_layers_below() -> None:
    root = Path(__file__).resolve().parents[2] / "oasis_lab" / "agents"
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            for name in names:
                if name.startswith("oasis_lab."):
                    top = name.split(".")[1]
                    assert top in LOWER and not name.endswith(".cli"), f"{path.name} imports {name}"
