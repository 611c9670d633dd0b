"""Properties of simulate over random configs: conservation, non-negative balances, honest
providers never slashed on the referee's backend, determinism."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oasis_lab.disputes.params import DisputeParams
from oasis_lab.params import AuctionParams
from oasis_lab.sim import SimConfig, simulate
from oasis_lab.sim.config import CHEATER_ADVERSARIES

# Adversaries whose games are cheap enough for many examples (every one is played in
# test_sim_court.py).
_FAST = [a for a in CHEATER_ADVERSARIES if a not in ("timeout",)]


@st.composite
def configs(draw: st.DrawFn) -> SimConfig:
    reward = draw(st.floats(0, 0.5))
    referee = draw(st.sampled_from(["trusted", "market"]))
    market = referee == "market"
    collude = draw(st.sampled_from([0.0, 0.3])) if market else 0.0
    frame = draw(st.sampled_from([0.0, 0.3])) if market else 0.0
    return SimConfig(
        referee=referee,
        referee_selection=draw(st.sampled_from(["uniform", "stake"])),
        referee_collude_share=collude,
        referee_frame_share=frame,
        referee_bribable_share=draw(st.sampled_from([0.0, 0.4])) if market else 0.0,
        referee_bribe_price=draw(st.integers(0, 3)),
        cheater_bribe=draw(st.integers(0, 5)),
        appeal_to=draw(st.sampled_from([None, "trusted", "market"])) if market else None,
        appeal_budget=draw(st.sampled_from([0, 5000])),
        rounds=draw(st.integers(1, 8)),
        tasks_per_round=draw(st.integers(1, 60)),
        arrivals=draw(st.sampled_from(["fixed", "poisson"])),
        n_providers=draw(st.integers(1, 12)),
        scenario=draw(st.sampled_from(["balanced", "scarce_supply", "abundant_supply"])),
        auction=AuctionParams(
            fee=draw(st.sampled_from([0.0, 0.1, 0.3])),
            rebid_bump=draw(st.sampled_from([0.0, 0.1, 0.5])),
            partial=draw(st.booleans()),
        ),
        disputes=DisputeParams(
            arity=draw(st.integers(2, 4)),
            comparison=draw(st.sampled_from(["exact", "tolerance"])),
            provider_stake=draw(st.integers(0, 3000)),
            challenger_bond=draw(st.integers(0, 500)),
            slash_fraction=draw(st.floats(0, 1)),
            challenger_reward_fraction=reward,
            referee_reward_fraction=draw(st.floats(0, 0.5)),
            bond_to_provider_fraction=draw(st.floats(0, 0.5)),
            slash_remainder=draw(st.sampled_from(["burn", "platform"])),
            reauction_priority=draw(st.booleans()),
            appeal_bond=draw(st.integers(0, 500)),
            referee_slash_fraction=draw(st.floats(0, 1)),
            appeal_reward_fraction=draw(st.floats(0, 0.5)),
        ),
        computation="synthetic:16",
        failure_probability=draw(st.sampled_from([0.0, 0.1, 0.5])),
        cheater_share=draw(st.sampled_from([0.0, 0.2, 0.6])),
        adversary=draw(st.sampled_from(_FAST)),
        other_device_share=draw(st.sampled_from([0.0, 0.3])),
        p_user=draw(st.sampled_from([0.0, 0.3, 1.0])),
        p_platform=draw(st.sampled_from([0.0, 0.2])),
        dispute_delay=draw(st.integers(0, 2)),
        requeue_unserved=draw(st.booleans()),
        max_wait=draw(st.integers(1, 4)),
        entry_rate=draw(st.sampled_from([0.0, 1.0])),
        exit_window=draw(st.integers(0, 3)),
        idle_cost=draw(st.sampled_from([0.0, 5.0])),
        token_unit=draw(st.sampled_from([1, 1000, 10**6])),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=configs(), seed=st.integers(0, 2**32))
def test_conservation_and_honest_providers(config: SimConfig, seed: int) -> None:
    # simulate itself proves conservation after every round (Books.check raises otherwise);
    # here the tables must say the same, and balances must never go negative.
    res = simulate(config, seed, record_jobs=True)
    r = res.rounds
    assert len(r) == config.rounds
    unit = config.token_unit
    held = np.rint(r["tokens_held"] * unit)
    assert (held == np.rint((r["deposited"] - r["withdrawn"]) * unit)).all()
    ledger = res.ledger
    assert ledger["balance"].dtype == np.int64
    assert (ledger["balance"] >= 0).all()
    assert int(ledger["balance"].sum()) == int(held.iloc[-1])
    # no open escrow or bond without a running challenge
    running = int(res.providers["open_challenges"].sum())
    if running == 0:
        assert ledger.set_index("account").loc[["escrow", "bonds"], "balance"].sum() == 0
    # honest providers on the referee's backend are never disputed, slashed or removed (a
    # market referee overturned on appeal is slashed and removed as a referee, not as a provider)
    honest = res.providers[res.providers["kind"] == "honest"]
    assert (honest["slashed"] == 0).all()
    assert (honest["disputes_lost"] == 0).all()
    overturned_referees: set[int] = set()
    if res.disputes is not None and len(res.disputes):
        d = res.disputes
        overturned_referees = set(d.loc[d["overturned"], "first_referee"].tolist())
    assert set(honest.index[honest["removed"] >= 0]) <= overturned_referees
    # only a market referee rules wrongly, and only an appeal overturns
    if config.referee == "trusted":
        assert (r[["wrong_verdicts", "appeals", "referees_slashed", "bribes"]] == 0).all().all()
    assert (r["appeals_overturned"] <= r["appeals"]).all()
    assert (r["cheaters_freed"] <= r["wrong_verdicts"]).all()
    if res.disputes is not None and len(res.disputes):
        assert set(res.disputes["kind"]) <= {"cheater", "other_device"}
    # a cheater is only ever disputed on a job it cheated on
    jobs = res.jobs
    if jobs is not None:
        assert not (jobs["disputed"] & (jobs["kind"] == "cheater") & ~jobs["cheated"]).any()
        assert not (jobs["disputed"] & (jobs["kind"] == "honest")).any()


def _bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf)
    return buf.getvalue()


def _cheating_config() -> SimConfig:
    return SimConfig(
        rounds=6,
        tasks_per_round=150,
        n_providers=25,
        cheater_share=0.2,
        other_device_share=0.2,
        failure_probability=0.1,
        p_user=0.3,
        entry_rate=1.0,
        exit_window=2,
        idle_cost=2.0,
        computation="synthetic:32",
        disputes=DisputeParams(provider_stake=500, challenger_bond=50),
    )


def test_same_seed_identical_tables_different_seeds_differ() -> None:
    config = _cheating_config()
    a = simulate(config, 11)
    b = simulate(config, 11)
    for name in ("rounds", "providers", "ledger"):
        assert _bytes(getattr(a, name)) == _bytes(getattr(b, name)), name
    c = simulate(config, 12)
    assert _bytes(a.rounds) != _bytes(c.rounds)
    assert not a.rounds["payments"].equals(c.rounds["payments"])


def test_record_jobs_does_not_change_the_run() -> None:
    config = _cheating_config()
    a = simulate(config, 5)
    b = simulate(config, 5, record_jobs=True)
    assert _bytes(a.rounds) == _bytes(b.rounds)
    assert a.jobs is None and b.jobs is not None


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="config must be a SimConfig"):
        simulate({"rounds": 3}, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed"):
        simulate(SimConfig(rounds=1, tasks_per_round=5, n_providers=2), -1)
    with pytest.raises(TypeError, match="seed"):
        simulate(SimConfig(rounds=1, tasks_per_round=5, n_providers=2), 1.5)  # type: ignore[arg-type]
