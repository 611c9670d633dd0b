"""The simulation's faithful fast paths: the vectorised court gives the played game's verdicts,
and the integer Books apply a verdict exactly as the disputes Ledger does."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oasis_lab.disputes.ledger import Ledger, LedgerError
from oasis_lab.disputes.params import DisputeParams
from oasis_lab.disputes.referee import VERDICTS
from oasis_lab.sim import SimConfig, simulate
from oasis_lab.sim.books import Books
from oasis_lab.sim.config import CHEATER_ADVERSARIES
from oasis_lab.sim.court import CHEATER, OTHER_DEVICE, Court


@pytest.mark.parametrize("adversary", CHEATER_ADVERSARIES)
@pytest.mark.parametrize(
    "params",
    [DisputeParams(), DisputeParams(arity=4, comparison="tolerance", max_ulp=2)],
    ids=["exact", "tolerance"],
)
def test_vectorised_court_equals_played_games(adversary: str, params: DisputeParams) -> None:
    n = 24
    kind = np.array([CHEATER] * (n - 1) + [OTHER_DEVICE] * (n - 1), dtype=np.int64)
    node = np.concatenate([np.arange(n - 1), np.arange(n - 1)])
    kw = {"computation": f"synthetic:{n}", "params": params, "adversary": adversary, "other_device_ulps": 1, "seed": 5}
    fast = Court(**kw, mode="vectorised").decide(kind, node, round_no=3)
    played = Court(**kw, mode="played").decide(kind, node, round_no=3)
    for name in ("verdict", "disputed_node", "rounds", "hashes", "referee_flops_share"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(played, name), err_msg=name)
    # an honest provider on other hardware is never convicted (exact mode's rounding reading
    # finds it ambiguous); the exact referee convicts every cheater but one within the rounding
    # bound (below-tolerance: one ULP, ambiguous)
    assert not fast.guilty[kind == OTHER_DEVICE].any()
    if params.comparison == "exact":
        assert (fast.verdict[kind == OTHER_DEVICE] == VERDICTS.index("ambiguous")).all()
        cheats = fast.guilty[kind == CHEATER]
        assert (not cheats.any()) if adversary == "below-tolerance" else cheats.all()


def test_played_and_vectorised_simulations_are_identical() -> None:
    config = SimConfig(
        rounds=5, tasks_per_round=150, n_providers=25, cheater_share=0.3, other_device_share=0.3,
        p_user=0.5, computation="synthetic:32", adversary="wrong-after",
        disputes=DisputeParams(comparison="tolerance", max_ulp=1, provider_stake=300),
    )
    a = simulate(config, 8)
    b = simulate(config.replace(dispute_mode="played"), 8)
    assert a.rounds["disputes_resolved"].sum() > 0
    assert b.games_played >= a.games_played
    for name in ("rounds", "providers", "ledger"):
        x, y = io.BytesIO(), io.BytesIO()
        getattr(a, name).to_parquet(x)
        getattr(b, name).to_parquet(y)
        assert x.getvalue() == y.getvalue(), name


def test_court_refuses_honest_kind() -> None:
    court = Court("synthetic:8", DisputeParams(), "perturb", 1, 0)
    with pytest.raises(ValueError, match="kind = 0"):
        court.strategy(0, 1)


@settings(max_examples=60, deadline=None)
@given(
    verdict=st.sampled_from(VERDICTS),
    stake=st.integers(0, 10**7),
    bond=st.integers(0, 10**6),
    payment=st.integers(0, 10**6),
    slash=st.floats(0, 1),
    ch=st.floats(0, 0.5),
    ref=st.floats(0, 0.5),
    to_p=st.floats(0, 0.5),
    remainder=st.sampled_from(["burn", "platform"]),
    removed=st.booleans(),
)
def test_books_resolve_equals_ledger_resolve(
    verdict: str, stake: int, bond: int, payment: int, slash: float, ch: float, ref: float,
    to_p: float, remainder: str, removed: bool,
) -> None:
    params = DisputeParams(
        provider_stake=stake, challenger_bond=bond, slash_fraction=slash,
        challenger_reward_fraction=ch, referee_reward_fraction=ref,
        bond_to_provider_fraction=to_p, slash_remainder=remainder,
    )
    led = Ledger(params)
    led.open_account("user", "user", deposit=payment + 5)
    for name in ("provider", "referee", "judge"):
        led.open_account(name, "provider", deposit=stake)
        led.stake(name)
    led.open_account("challenger", "challenger", deposit=bond)
    led.escrow("t", "user", "provider", payment)
    if removed:
        # convicted on another task before this one is resolved
        led.escrow("t0", "user", "provider", 5)
        led.open_account("other", "challenger", deposit=bond)
        led.challenge("c0", "t0", "other")
        led.challenge("c", "t", "challenger")
        led.resolve("c0", "provider_guilty", referee="judge")
    else:
        led.challenge("c", "t", "challenger")
    led.resolve("c", verdict, referee="referee")
    if led.task_status("t") == "escrowed":
        led.settle("t")

    books = Books()
    books.add_providers(3, stake)
    books.escrow(np.array([payment], dtype=np.int64))
    if removed:
        books.escrow(np.array([5], dtype=np.int64))
        books.open_challenge("platform", 5, bond)
        books.open_challenge("user", payment, bond)
        books.resolve("provider_guilty", 0, "platform", 5, bond, 2, params, removed=False)
    else:
        books.open_challenge("user", payment, bond)
    books.resolve(verdict, 0, "user", payment, bond, 1, params, removed=removed)
    bal = led.balances()
    assert int(books.provider[0]) == bal["provider"]
    assert int(books.stake[0]) == bal["stake:provider"]
    assert int(books.provider[1]) == bal["referee"]
    assert books.challenger["user"] == bal["challenger"]
    assert books.burn == bal["burn"] and books.platform == bal["platform"]
    # the Ledger's user started with payment + 5 and paid payment (and 5 for t0 when removed);
    # the Books' user pool holds the refunds only
    assert books.users == bal["user"] - 5 + (5 if removed else 0)
    books.check(0, 0, 0)


def test_books_check_catches_lost_tokens() -> None:
    books = Books()
    books.add_providers(2, 100)
    books.check(0, 0, 0)
    books.provider[0] += 1  # a token from nowhere
    with pytest.raises(LedgerError, match="round 4: accounts hold 201"):
        books.check(0, 0, 4)
    books.provider[0] -= 2
    books.stake[0] += 1
    with pytest.raises(LedgerError, match="negative balance"):
        books.check(0, 0, 5)
    books.provider[0] += 1
    books.stake[0] -= 1
    books.escrow_open += 3
    books.users -= 3
    with pytest.raises(LedgerError, match="negative balance"):
        books.check(3, 0, 6)


@settings(max_examples=100, deadline=None)
@given(
    amounts=st.lists(st.integers(0, 2**53 - 1), min_size=1, max_size=20),
    fraction=st.one_of(st.sampled_from([0.0, 0.1, 0.29, 0.3, 0.7, 1.0]), st.floats(0, 1)),
)
def test_vectorised_shares_follow_the_ledger_rule(amounts: list[int], fraction: float) -> None:
    from oasis_lab.disputes.ledger import token_share as share
    from oasis_lab.disputes.ledger import token_shares as shares

    got = shares(np.array(amounts, dtype=np.int64), fraction)
    assert got.dtype == np.int64
    assert got.tolist() == [share(a, fraction) for a in amounts]
