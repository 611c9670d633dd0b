"""Learning agents in the market over time (issue 19): policies per role in SimConfig, the
agents' adapters at the engine's seams, feedback timing, racing challengers, market referees,
conservation, removal, determinism, and the per-round mean actions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oasis_lab.agents.policies import Profile
from oasis_lab.disputes.ledger import token_share
from oasis_lab.sim import SimConfig, load_config, simulate
from oasis_lab.sim.adapters import AGENT_COLUMNS
from oasis_lab.sim.court import CHEATER
from oasis_lab.sim.policies import Policies
from oasis_lab.sim.recorder import ROUND_REPORTERS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "mechanism.md"
SMALL = dict(rounds=12, tasks_per_round=150, n_providers=20)


def _config(**data: object) -> SimConfig:
    return SimConfig.from_dict({**SMALL, **data})


def _learning(**roles: dict) -> dict:
    return {"policies": {role: {"policy": "learning", **spec} for role, spec in roles.items()}}


# ---------------------------------------------------------------------------- the config
def test_policies_are_config_tables_with_dotted_fields(tmp_path: Path) -> None:
    path = tmp_path / "l.yaml"
    path.write_text("rounds: 3\npolicies:\n  provider:\n    policy: learning\n    cheat_rates: [0, 0.5, 1]\n"
                    "    payoff_range: [-100, 50]\n  challenger: {policy: learning, n_challengers: 2}\n")
    c = load_config(path)
    assert c.policies.provider.cheat_rates == (0.0, 0.5, 1.0)
    assert c.policies.provider.payoff_range == (-100.0, 50.0)
    assert c.policies.learning_roles == ("provider", "challenger")
    assert SimConfig.from_dict(c.to_dict()) == c
    tree = c.to_dict()
    assert tree["policies"]["provider"]["learner"] == "exp3"  # policies.provider.learner
    toml = tmp_path / "l.toml"
    toml.write_text('rounds = 3\n[policies.user]\npolicy = "learning"\nshades = [0.0, 0.2]\n')
    assert load_config(toml).policies.user.shades == (0.0, 0.2)
    assert "policies(provider=exp3(" in c.label() and SimConfig().label() == "defaults"
    assert SimConfig().policies == Policies() and not SimConfig().policies.learning


@pytest.mark.parametrize(
    ("text", "error", "match"),
    [
        ("policies:\n  prover: {}\n", ValueError, "unknown key policies.prover"),
        ("policies:\n  user: {shade: 0.1}\n", ValueError, "unknown key policies.user.shade"),
        ("policies:\n  provider: {cheat_rates: [0, 1]}\n", ValueError,
         r"policies\.provider\.cheat_rates = \[0\.0, 1\.0\] applies to policy='learning' only"),
        ("policies:\n  provider: {policy: learning, cheat_rates: [0, 1.5]}\n", ValueError,
         r"policies\.provider\.cheat_rates\[1\] = 1\.5 must be in \[0, 1\]"),
        ("policies:\n  challenger: {policy: learning, learner: hedge}\n", ValueError,
         "policies.challenger.learner = 'hedge' needs full-information feedback"),
        ("policies:\n  challenger: {policy: learning, learner: sgd}\n", ValueError, "policies.challenger.learner"),
        ("policies:\n  challenger: {policy: learning, n_challengers: 0}\n", ValueError,
         "policies.challenger.n_challengers = 0 must be >= 1"),
        ("policies:\n  user: {policy: learning, shades: [0, 1]}\n", ValueError, r"policies\.user\.shades\[1\] = 1"),
        ("policies:\n  user: {policy: learning, gamma: 0.1, inertia: 0.2}\n", ValueError,
         "policies.user.inertia applies to learner best_response"),
        ("policies:\n  provider: {policy: learning, payoff_range: [5, 1]}\n", ValueError,
         r"policies\.provider\.payoff_range = \[5, 1\] must have lo < hi"),
        ("policies:\n  provider: {policy: learning, adversaries: [honest]}\n", ValueError,
         r"policies\.provider\.adversaries\[0\]"),
        ("policies:\n  provider: {policy: learning, cheat_rates: [0], markups: [0]}\n", ValueError,
         "a learning provider needs at least 2"),
        ("policies:\n  referee: {policy: learning}\n", ValueError,
         "policies.referee.policy = 'learning' needs referee='market'"),
        ("policies: 3\n", TypeError, "policies must be a table"),
        ("policies:\n  user: 3\n", TypeError, "policies.user must be a table"),
    ],
)
def test_bad_policies_name_the_key(tmp_path: Path, text: str, error: type, match: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("rounds: 2\n" + text)
    with pytest.raises(error, match=match) as info:
        load_config(path)
    assert "bad.yaml" in str(info.value)


# -------------------------------------------------------- the default and the adapters' draws
def test_the_scripted_default_adds_nothing() -> None:
    res = simulate(_config(rounds=3), 0)
    assert res.agents is None and res.policies is None
    assert [c for c in res.rounds.columns if not c.startswith("price[")] == [r.name for r in ROUND_REPORTERS]


def test_fixed_agents_reproduce_the_scripted_draws() -> None:
    # learning providers playing the script's own actions (cheaters cheat on each job with
    # probability 0.5, the others never) draw the same numbers in the same order: every table
    # is the same
    data = dict(cheater_share=0.3, cheat_probability=0.5, p_user=0.3, failure_probability=0.05, dispute_delay=1)
    scripted = simulate(_config(**data), 3)
    config = _config(**data, **_learning(provider={}))
    kinds = scripted.providers["kind"].to_numpy() == "cheater"
    profile = Profile("provider", {"cheat_rate": 0.5 * kinds}, truthful_beyond=True)
    fixed = simulate(config, 3, policies={"provider": profile})
    cols = list(scripted.rounds.columns)
    pd.testing.assert_frame_equal(fixed.rounds[cols], scripted.rounds)
    pd.testing.assert_frame_equal(fixed.providers, scripted.providers)
    pd.testing.assert_frame_equal(fixed.ledger, scripted.ledger)
    # one challenger at the user's rate draws the user's numbers: same challenges and disputes
    chal = Profile("challenger", {"challenge_rate": np.full(2, 0.3)})
    raced = simulate(_config(**data, **_learning(challenger={})), 3, policies={"challenger": chal})
    same = [c for c in cols if c not in ("challenger_costs",)]
    pd.testing.assert_frame_equal(raced.rounds[same], scripted.rounds[same])


def test_learning_runs_are_deterministic_and_seeded() -> None:
    config = _config(cheater_share=0.3, **_learning(user={"n_users": 7}, provider={"markups": [0.0, 0.3]},
                                                    challenger={"n_challengers": 2}))
    a, b, c = simulate(config, 5), simulate(config, 5), simulate(config, 6)
    pd.testing.assert_frame_equal(a.rounds, b.rounds)
    pd.testing.assert_frame_equal(a.agents, b.agents)
    pd.testing.assert_frame_equal(a.providers, b.providers)
    assert not a.agents.equals(c.agents)
    # every role decided and learned
    assert set(a.agents["role"]) == {"user", "provider", "challenger"}
    assert set(a.agents["policy"]) == {"users", "cheaters", "honest", "challengers"}


def test_a_learning_result_saves_and_loads(tmp_path: Path) -> None:
    res = simulate(_config(rounds=4, **_learning(challenger={})), 0)
    back = type(res).load(res.save(tmp_path / "r.parquet"))
    pd.testing.assert_frame_equal(back.agents, res.agents)
    pd.testing.assert_frame_equal(back.policies, res.policies)
    assert back.config == res.config


# -------------------------------------------------------------------- the per-round table
def test_each_learning_role_adds_its_mean_action_columns() -> None:
    config = _config(cheater_share=0.3, **_learning(user={"n_users": 5}, provider={"markups": [0.0, 0.3]},
                                                    challenger={"n_challengers": 3}))
    res = simulate(config, 1)
    extra = [c for c in res.rounds.columns if c.startswith(("mean_", "take_"))]
    assert extra == ["mean_shade", "mean_markup", "mean_cheat_rate", "mean_challenge_rate"]
    d = res.agents
    # the challengers' mean is the mean of the rates they chose that round
    ch = d[d["role"] == "challenger"].groupby("round")["challenge_rate"].mean()
    learned = res.rounds.set_index("round").loc[ch.index, "mean_challenge_rate"]
    np.testing.assert_allclose(learned.to_numpy(), ch.to_numpy())
    cheat = d[(d["role"] == "provider") & (d["policy"] == "cheaters")].groupby("round")["cheat_rate"].mean()
    np.testing.assert_allclose(res.rounds.set_index("round").loc[cheat.index, "mean_cheat_rate"], cheat)


def test_the_documented_agent_columns_are_the_reporters() -> None:
    text = DOCS.read_text()
    for role, columns in AGENT_COLUMNS.items():
        for name, doc in columns:
            assert f"| `{name}` | {doc} |" in text, (role, name)


# ---------------------------------------------------------------------- conservation, removal
@pytest.mark.parametrize("case", range(6))
def test_tokens_are_conserved_every_round_with_learning_agents(case: int) -> None:
    rng = np.random.default_rng(case)
    data = dict(
        rounds=8, tasks_per_round=int(rng.integers(40, 200)), n_providers=int(rng.integers(6, 25)),
        cheater_share=float(rng.uniform(0.1, 0.5)), other_device_share=float(rng.uniform(0, 0.4)),
        failure_probability=float(rng.uniform(0, 0.1)), dispute_delay=int(rng.integers(0, 3)),
        entry_rate=float(rng.uniform(0, 2)), exit_window=int(rng.integers(0, 3)), idle_cost=1.0,
        p_platform=float(rng.uniform(0, 0.2)),
        disputes={"provider_stake": int(rng.integers(10, 500)), "challenger_bond": int(rng.integers(1, 50)),
                  "comparison": ["exact", "tolerance"][case % 2]},
        **_learning(user={"n_users": 4}, provider={"markups": [0.0, 0.5], "rejoin": bool(case % 2),
                                                   "cheaters": ["kind", "all"][case % 3 == 0]},
                    challenger={"n_challengers": int(rng.integers(1, 4)), "challenge_rates": [0.0, 0.3, 1.0]}),
    )
    if case >= 3:
        data.update(referee="market", referee_bribable_share=0.4, referee_collude_share=0.1, cheater_bribe=20,
                    appeal_to=["trusted", "market", None][case % 3])
        data["policies"]["referee"] = {"policy": "learning"}
    res = simulate(SimConfig.from_dict(data), case)
    r = res.rounds
    # the engine checks the books after every round (a LedgerError otherwise); the table says so
    np.testing.assert_allclose(r["tokens_held"], r["deposited"] - r["withdrawn"], rtol=0, atol=1e-6)
    assert int(res.ledger["balance"].min()) >= 0
    challengers = res.ledger[res.ledger["account"].str.startswith("challenger:learner")]
    assert len(challengers) == data["policies"]["challenger"]["n_challengers"]


def _cheaters_config(**changes: object) -> SimConfig:
    data = dict(cheater_share=0.5, p_platform=0.3, dispute_delay=1,
                disputes={"provider_stake": 100, "challenger_bond": 10},
                **_learning(provider={"cheat_rates": [0.5, 1.0]}))
    data.update(changes)
    return _config(**data)


def test_a_convicted_learner_is_removed_whatever_it_learned() -> None:
    res = simulate(_cheaters_config(), 2)
    p, d = res.providers, res.agents
    removed = p.index[(p["removed"] >= 0) & (p["kind"] == "cheater")]
    assert removed.size >= 3
    for row in removed:
        gone = int(p.loc[row, "removed"])
        mine = d[(d["role"] == "provider") & (d["provider"] == row)]
        # it decided no more after its conviction, and no job of it was ever served after
        assert mine["round"].max() < gone
        assert int(p.loc[row, "disputes_lost"]) >= 1
    assert len(p) == res.config.n_providers  # nobody rejoined


def test_with_rejoin_the_operator_comes_back_with_what_it_learned() -> None:
    res = simulate(_cheaters_config(policies={"provider": {"policy": "learning", "cheat_rates": [0.5, 1.0],
                                                           "rejoin": True}}), 2)
    p, d = res.providers, res.agents
    n0 = res.config.n_providers
    assert len(p) > n0  # new identities
    back = p.iloc[n0:]
    assert (back["entered"] >= 1).all() and (back["kind"] == "cheater").all()
    # each new row acts for an operator that was convicted before, under the same agent id
    prov = d[d["role"] == "provider"]
    for row in back.index:
        mine = prov[prov["provider"] == row]
        if mine.empty:
            continue
        agent = int(mine["agent"].iloc[0])
        before = prov[(prov["agent"] == agent) & (prov["provider"] < row)]
        assert not before.empty and before["round"].max() < mine["round"].min()
    # the fresh stakes were deposited: conservation holds (checked every round) and deposits grew
    assert res.rounds["deposited"].iloc[-1] > n0 * res.config.disputes.provider_stake


# ---------------------------------------------------------------------------- feedback timing
def test_a_providers_payoffs_add_up_to_its_profit() -> None:
    # charged once each: the payoffs of every decision of a provider are what its account gained
    res = simulate(_cheaters_config(rounds=10, failure_probability=0.1,
                                    **_learning(provider={"cheat_rates": [0.0, 0.5], "markups": [0.0, 0.2]})), 4)
    p, d = res.providers, res.agents
    prov = d[d["role"] == "provider"]
    # the last rounds' decisions may still await a dispute: leave those providers out
    pending = set(p.index[p["open_challenges"] > 0])
    for row, mine in prov.groupby("provider"):
        if row in pending:
            continue
        gained = (p.loc[row, "income"] + p.loc[row, "rewards"] - p.loc[row, "referee_income"] + p.loc[row, "appeal_net"]
                  - p.loc[row, "bribes_paid"] - p.loc[row, "slashed"] - p.loc[row, "compute_cost"])
        assert mine["payoff"].sum() == pytest.approx(gained, abs=1e-6)


def test_a_disputed_decision_is_learned_when_its_dispute_ends() -> None:
    res = simulate(_cheaters_config(dispute_delay=2, **_learning(provider={"cheat_rates": [0.5, 1.0]},
                                                                 challenger={})), 1)
    d = res.agents
    prov = d[d["role"] == "provider"]
    lag = prov["learned"] - prov["round"]
    assert set(lag) <= {0, 2} and (lag == 2).any()
    # a provider never decides while a decision of it awaits its payoff
    for _, mine in prov.groupby("agent"):
        m = mine.sort_values("round")
        assert (m["round"].to_numpy()[1:] > m["learned"].to_numpy()[:-1]).all()
    # challengers: three learners each (delay 2), round r's payoff learned at r + 2
    ch = d[d["role"] == "challenger"]
    assert ((ch["learned"] - ch["round"]) == 2).all()
    assert (ch["agent"] == ch["challenger"] * 3 + ch["round"] % 3).all()
    assert res.policies.set_index("role").loc["challenger", "copies"] == 3


# ------------------------------------------------------------------------------ challengers
def test_challengers_race_for_one_reward_and_the_others_bear_their_cost() -> None:
    config = _config(cheater_share=0.3, p_platform=0.0, dispute_delay=0,
                     disputes={"provider_stake": 100, "challenger_bond": 10},
                     **_learning(challenger={"n_challengers": 3}))
    every = Profile("challenger", {"challenge_rate": np.ones(3)})
    res = simulate(config, 0, policies={"challenger": every}, record_jobs=True)
    j, disp, d = res.jobs, res.disputes, res.agents
    delivered = ~j["failed"]
    # each of the three recomputed every delivered job; one challenge per job counts
    costs = (j["true_cost"] * config.challenge_cost)[delivered].groupby(j["round"][delivered]).sum() * 3
    np.testing.assert_allclose(res.rounds.set_index("round").loc[costs.index, "challenger_costs"], costs)
    assert (j.loc[delivered, "challenged"]).all()
    assert set(disp["challenger"]) <= {"learner0", "learner1", "learner2"}
    wins = disp["challenger"].value_counts()
    assert len(wins) == 3  # a random order: every challenger wins some races
    # a challenger's payoff: minus every recomputation, plus the slash share of each race it won
    ch = d[d["role"] == "challenger"]
    per_round_cost = (j["true_cost"] * config.challenge_cost)[delivered].groupby(j["round"][delivered]).sum()
    stake = config.disputes.provider_stake * config.token_unit
    share = token_share(token_share(stake, 1.0), 0.5) / config.token_unit
    for i in range(3):
        mine = ch[ch["challenger"] == i].set_index("round")["payoff"]
        won = disp[(disp["challenger"] == f"learner{i}") & (disp["verdict"] == "provider_guilty")
                   & (disp["slashed"] > 0)].groupby("opened").size()
        expected = -per_round_cost.reindex(mine.index, fill_value=0.0) + share * won.reindex(mine.index, fill_value=0)
        np.testing.assert_allclose(mine.to_numpy(), expected.to_numpy(), atol=1e-9)


def test_challengers_earn_by_convicting_honest_providers_on_other_hardware() -> None:
    # no cheaters; half the honest providers round one node differently: the strict exact
    # referee convicts them, the challenger earns the slash; the tolerance referee does not, and
    # the challenger loses its bond on each such dispute; the exact referee's rounding reading
    # (the default) finds them ambiguous: the bond returns, the challenger earns nothing
    base = dict(other_device_share=0.5, cheater_share=0.0, p_platform=0.0, dispute_delay=0,
                **_learning(challenger={}))
    every = {"challenger": Profile("challenger", {"challenge_rate": np.full(1, 0.5)})}
    exact = simulate(_config(**base, disputes={"provider_stake": 100, "challenger_bond": 10,
                                               "exact_reading": "strict"}), 0, policies=every)
    tol = simulate(_config(**base, disputes={"provider_stake": 100, "challenger_bond": 10,
                                             "comparison": "tolerance"}), 0, policies=every)
    rounding = simulate(_config(**base, disputes={"provider_stake": 100, "challenger_bond": 10}), 0, policies=every)
    assert exact.rounds["false_convictions"].sum() > 0 and tol.rounds["false_convictions"].sum() == 0
    r = rounding.rounds
    assert r["false_convictions"].sum() == 0 < r["ambiguous"].sum() == r["disputes_resolved"].sum()
    assert rounding.agents["payoff"].sum() + r["challenger_costs"].sum() == pytest.approx(0.0, abs=1e-9)
    e, t = exact.agents, tol.agents
    rewards = e["payoff"].sum() + exact.rounds["challenger_costs"].sum()
    assert rewards > 0
    lost = t["payoff"].sum() + tol.rounds["challenger_costs"].sum()
    assert lost == pytest.approx(-10.0 * tol.rounds["disputes_resolved"].sum())


# -------------------------------------------------------------------------------- referees
def _referee_config(appeal_to: str | None) -> SimConfig:
    return _config(rounds=15, cheater_share=0.4, p_platform=0.5, dispute_delay=0, referee="market",
                   referee_bribable_share=0.5, cheater_bribe=100, appeal_to=appeal_to, appeal_budget=5000,
                   disputes={"provider_stake": 500, "challenger_bond": 100, "appeal_bond": 100},
                   **_learning(referee={}))


@pytest.mark.parametrize("take", [False, True])
def test_a_referees_bribe_pays_without_appeal_and_costs_its_stake_with_one(take: bool) -> None:
    n = 80
    profile = {"referee": Profile("referee", {"take_bribe": np.full(n, take)})}
    free = simulate(_referee_config(None), 0, policies=profile)
    appealed = simulate(_referee_config("trusted"), 0, policies=profile)
    for res in (free, appealed):
        d = res.agents
        assert (d["role"] == "referee").any() and (d["take_bribe"] == take).all()
    if take:
        # no appeal: a bribed ruling stands and the referee keeps the bribe (100 and its fee, 10%
        # of the challenger's forfeited bond); with appeals to the trusted stack it is overturned
        # and the referee loses its stake (500)
        assert free.agents["payoff"].min() >= 110 - 1e-9
        assert appealed.agents["payoff"].min() <= 100 - 500 + 1e-9
        assert appealed.rounds["appeals_overturned"].sum() > 0
    else:
        # honest: its fee, 10% of the slashed stake of the convicted cheater
        assert free.rounds["bribes"].sum() == 0 and appealed.rounds["appeals_overturned"].sum() == 0
        assert free.agents["payoff"].max() == pytest.approx(50.0)


def test_learning_referees_learn_what_a_bribe_earns_given_stake_and_appeal_odds() -> None:
    # the learning referees' own payoffs, by the action they took: taking the bribe pays where
    # no appeal reaches the referee, and costs its stake where one does
    earned = {}
    for name, appeal in (("free", None), ("appealed", "trusted")):
        config = _referee_config(appeal).replace(rounds=60, p_platform=0.2, cheat_probability=0.5)
        runs = [simulate(config, seed) for seed in range(2)]
        d = pd.concat([r.agents for r in runs])
        assert set(d["action"]) == {0, 1}
        earned[name] = d.groupby("action")["payoff"].mean()
        assert "take_bribe_share" in runs[0].rounds
        obs = runs[0].rounds["take_bribe_share"].dropna()
        assert ((obs >= 0) & (obs <= 1)).all()
    assert earned["free"][1] > earned["free"][0]
    assert earned["appealed"][1] < 0 < earned["appealed"][0]


# ---------------------------------------------------------------------------------- users
def test_a_users_payoff_is_her_utility_at_her_true_values() -> None:
    config = _config(rounds=4, **_learning(user={"n_users": 6, "shades": [0.0, 0.5]}))
    res = simulate(config, 2, record_jobs=True)
    d, j, tasks = res.agents, res.jobs, res.tasks
    from oasis_lab.market import user_cost

    for r in range(config.rounds):
        tr = tasks[tasks["round"] == r]
        jr = j[(j["round"] == r) & ~j["failed"]]
        e = user_cost(tr["units"].to_numpy())
        units = jr.groupby("task_id")["units"].sum().reindex(tr["task_id"], fill_value=0.0).to_numpy()
        paid = jr.groupby("task_id")["payment"].sum().reindex(tr["task_id"], fill_value=0).to_numpy() / 1e6
        share = units / tr["units"].to_numpy()
        utility = np.where(share > 0, share * (tr["value"].to_numpy() - e) - paid, 0.0)
        per_user = pd.Series(utility).groupby(tr["task_id"].to_numpy() % 6).sum()
        mine = d[(d["role"] == "user") & (d["round"] == r)].set_index("agent")["payoff"]
        np.testing.assert_allclose(mine.sort_index().to_numpy(), per_user.sort_index().to_numpy(), atol=1e-9)


def test_shading_users_report_less_than_their_values() -> None:
    config = _config(rounds=3, **_learning(user={"n_users": 3}))
    half = {"user": Profile("user", {"shade": np.full(3, 0.5)})}
    truth = {"user": Profile("user", {"shade": np.zeros(3)})}
    shaded, honest = simulate(config, 0, policies=half), simulate(config, 0, policies=truth)
    assert (shaded.rounds["mean_shade"] == 0.5).all() and (honest.rounds["mean_shade"] == 0).all()
    # the auction's welfare is at the reports: lower when users shade
    assert shaded.rounds["welfare"].iloc[0] < honest.rounds["welfare"].iloc[0]


def test_policies_given_to_simulate_are_checked() -> None:
    config = _config(rounds=2)
    with pytest.raises(ValueError, match="unknown role 'auditor'"):
        simulate(config, 0, policies={"auditor": Profile("user", {"shade": [0.0]})})
    with pytest.raises(ValueError, match="is a policy of role 'user'"):
        simulate(config, 0, policies={"provider": Profile("user", {"shade": [0.0]})})
    with pytest.raises(TypeError, match="must be a Learning or Profile policy"):
        simulate(config, 0, policies={"user": object()})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="needs referee='market'"):
        simulate(config, 0, policies={"referee": Profile("referee", {"take_bribe": [True]})})
    with pytest.raises(TypeError, match="policies must be a mapping"):
        simulate(config, 0, policies=[1])  # type: ignore[arg-type]


def test_the_shipped_learning_configs_run() -> None:
    for name in ("learning.yaml", "dilemma.yaml"):
        c = load_config(name).replace(rounds=3, tasks_per_round=100, n_providers=20)
        res = simulate(c, 0)
        assert {"mean_cheat_rate", "mean_challenge_rate"} <= set(res.rounds.columns)
        assert (res.providers["kind"] == "cheater").any() or CHEATER is not None
