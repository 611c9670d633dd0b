"""Market referees and split verification as experiments (issue 16's measurements; issue 21,
items 4, 9 and 16: bad settings refused by name before any dispute is played)."""

from __future__ import annotations

import math

import pytest

from oasis_lab.disputes.params import DisputeParams
from oasis_lab.disputes.referee_pool import caught_probability, make_pool, min_profitable_bribe
from oasis_lab.experiments import EXPERIMENTS, RefereeMarket, SplitVerification, run
from oasis_lab.experiments.sweep import sweep

SERIAL = {"client": "serial", "progress": False}


def _sweep(config, grid):
    return sweep(config, grid, [0], **SERIAL)


def test_measurements_corrupt_share_appeal_bond_stake() -> None:
    small = RefereeMarket(n_disputes=120, n_nodes=32)
    by_share = _sweep(small, {"appeal_to": ["none", "trusted"], "corrupt_share": [0.0, 0.5]})
    none, trusted = (by_share[by_share["appeal_to"] == a].reset_index() for a in ("none", "trusted"))
    assert none["wrong_first"].tolist() == trusted["wrong_first"].tolist()
    assert none["wrong_first"].iloc[0] == 0 and none["wrong_first"].iloc[1] > 0.1
    assert (none["wrong_final"] == none["wrong_first"]).all()
    assert (trusted["wrong_final"] == 0).all()
    assert trusted["referees_slashed"].iloc[1] > 0
    # an appeal bond beyond the wronged party's budget stops appeals: wrong verdicts stand
    bonds = _sweep(small.replace(corrupt_share=0.5), {"appeal_bond": [1_000, 50_000]})
    assert bonds["wrong_final"].iloc[0] == 0 and bonds["wrong_final"].iloc[1] == bonds["wrong_first"].iloc[1] > 0
    # bribable referees take a bribe of 3,000 only while their stake (plus fee) is below it
    bribable = small.replace(corrupt_share=0.5, corrupt_kind="bribable", bribe=3_000)
    stakes = _sweep(bribable, {"referee_stake": [1_000, 10_000]})
    assert stakes["wrong_first"].iloc[0] > 0 and stakes["wrong_first"].iloc[1] == 0
    assert (stakes["wrong_final"] == 0).all()
    assert stakes["bribe_price"].tolist() == [1_100, 10_100]
    assert min_profitable_bribe(1_000, 1.0, 1.0, fee=100) == 1_100
    open_market = run(bribable.replace(appeal_to="none", referee_stake=10_000), 0)
    assert open_market["wrong_final"].iloc[0] > 0  # without appeals no stake protects
    assert open_market["bribe_price"].iloc[0] == 0  # never caught: any bribe pays


def test_split_verification_one_of_n() -> None:
    c, trials = 0.2, 300
    frame = _sweep(SplitVerification(corrupt_share=c, n_trials=trials, n_nodes=32), {"n_verifiers": [1, 4, 16]})
    for _, row in frame.iterrows():
        sigma = (row["framed_closed_form"] * (1 - row["framed_closed_form"]) / (trials / 2)) ** 0.5
        assert abs(row["honest_framed"] - row["framed_closed_form"]) < 4 * sigma + 0.02
        assert abs(row["cheaters_freed"] - c) < 4 * (c * (1 - c) / (trials / 2)) ** 0.5 + 0.02
    framed = frame["honest_framed"].tolist()
    assert framed[0] < framed[1] < framed[2]  # one dishonest verifier of n suffices to frame


def test_both_are_registered_and_read_from_yaml_keys() -> None:
    assert EXPERIMENTS["referee_market"] is RefereeMarket
    assert EXPERIMENTS["split_verification"] is SplitVerification
    cfg = RefereeMarket.from_dict({"appeal_to": "market", "corrupt_share": 0.3, "appeal_bond": 250})
    assert cfg.dispute_params().appeal_bond == 250
    with pytest.raises(ValueError, match="config key 'params' is not a parameter of experiment 'referee_market'"):
        RefereeMarket.from_dict({"params": {}})  # issue 21, item 16: was an AttributeError


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        # issue 21, item 4: accepted and answered before
        ({"appeal_budget": math.nan}, TypeError, "appeal_budget must be an integer, got float nan"),
        ({"appeal_budget": -1}, ValueError, "appeal_budget = -1 must be >= 0"),
        ({"payment": -10**9}, ValueError, "payment = -1000000000 must be >= 0"),
        ({"corrupt_share": 1.5}, ValueError, r"corrupt_share = 1.5 must be in \[0, 1\]"),
        ({"appeal_to": None}, ValueError, "appeal_to = None must be one of"),
        ({"appeal_to": "court"}, ValueError, "appeal_to = 'court' must be one of"),
        ({"corrupt_kind": "lazy"}, ValueError, "corrupt_kind = 'lazy' must be one of"),
        ({"bribe": -5}, ValueError, "bribe = -5 must be >= 0"),
        # issue 21, item 9: a MemoryError after work began, now refused at a stated bound
        ({"n_nodes": 10**12}, ValueError, "n_nodes = 1000000000000 must be <= 1000000"),
        ({"n_disputes": 10**12}, ValueError, "n_disputes = 1000000000000 must be <= 1000000"),
        ({"pool_size": 10**12}, ValueError, "pool_size = 1000000000000 must be <= 1000000"),
        ({"referee_stake": 10**400}, ValueError, "referee_stake = 1" + "0" * 400 + " must be <= 9007199254740992"),
        ({"slash_fraction": 2.0}, ValueError, r"slash_fraction = 2.0 must be in \[0, 1\]"),
    ],
)
def test_referee_market_refuses_bad_settings_by_name(changes, error, match) -> None:
    with pytest.raises(error, match=match):
        RefereeMarket(**changes)


def test_split_verification_refuses_bad_settings_by_name() -> None:
    with pytest.raises(ValueError, match="n_verifiers = 65 must be <= 64"):
        SplitVerification(n_verifiers=65, n_nodes=64)
    with pytest.raises(ValueError, match="n_trials = 1000000000000 must be <= 1000000"):
        SplitVerification(n_trials=10**12)
    with pytest.raises(ValueError, match="n_nodes = 1000000000000 must be <= 1000000"):
        SplitVerification(n_nodes=10**12)
    with pytest.raises(ValueError, match=r"n_trials = 1000000 x n_verifiers = 1000000 needs about .* GiB"):
        SplitVerification(n_trials=10**6, n_verifiers=10**6, n_nodes=10**6)


def test_bribe_and_caught_probability_refuse_nonsense() -> None:
    # issue 21, item 4: a negative fee gave a negative bribe, nan a nan one
    with pytest.raises(ValueError, match="fee = -20000 must be >= 0"):
        min_profitable_bribe(10_000, 1.0, 1.0, fee=-20_000)
    with pytest.raises(ValueError, match="fee = nan must be finite"):
        min_profitable_bribe(10_000, 1.0, 1.0, fee=math.nan)
    with pytest.raises(ValueError, match="referee_stake = 1" + "0" * 400 + " must be finite"):
        min_profitable_bribe(10**400, 1.0, 1.0)
    assert min_profitable_bribe(10_000, 0.5, 0.5, fee=100) == 2_550.0
    # an unknown appeal path answered 1.0
    with pytest.raises(ValueError, match="appeal_to = 'bogus' is not one of"):
        caught_probability("bogus", DisputeParams(), at_stake=1000, appeal_budget=5000)
    with pytest.raises(TypeError, match="appeal_budget must be an integer, got float nan"):
        caught_probability("trusted", DisputeParams(), at_stake=1000, appeal_budget=math.nan)
    with pytest.raises(ValueError, match=r"honest_share = -0.5 must be in \[0, 1\]"):
        caught_probability("market", DisputeParams(), at_stake=1000, appeal_budget=5000, honest_share=-0.5)
    with pytest.raises(TypeError, match="params must be a DisputeParams"):
        caught_probability("trusted", {}, at_stake=1000, appeal_budget=5000)
    assert caught_probability("market", DisputeParams(), at_stake=1000, appeal_budget=5000, honest_share=0.7) == 0.7
    assert caught_probability(None, DisputeParams(), at_stake=1000, appeal_budget=5000) == 0.0
    with pytest.raises(ValueError, match="size = 0 must be >= 1"):
        make_pool(0, 0.1)
