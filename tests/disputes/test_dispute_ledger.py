"""The slashing ledger: hand-computed flows, all-or-nothing errors, conservation (section 5)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oasis_lab.disputes.ledger import BURN, PLATFORM, Ledger, LedgerError
from oasis_lab.disputes.params import DisputeParams


def market(params=None):
    led = Ledger(params or DisputeParams(provider_stake=1000, challenger_bond=200))
    led.open_account("u1", "user", deposit=500)
    led.open_account("u2", "user", deposit=500)
    for p in ("p1", "p2", "ref"):
        led.open_account(p, "provider", deposit=1500)
        led.stake(p)
    led.open_account("c1", "challenger", deposit=1000)
    return led


def test_guilty_hand_computed():
    led = market(DisputeParams(provider_stake=1000, challenger_bond=200, slash_fraction=0.75,
                               challenger_reward_fraction=0.5, referee_reward_fraction=0.1,
                               slash_remainder="platform"))
    led.escrow("t1", "u1", "p1", 120)
    led.escrow("t2", "u2", "p1", 80)
    led.challenge("c", "t1", "c1")
    assert led.is_barred("p1") and led.balance("c1") == 800
    with pytest.raises(LedgerError, match="barred"):
        led.escrow("t3", "u1", "p1", 10)
    led.resolve("c", "provider_guilty", referee="ref")
    # slashed = floor(0.75 * 1000) = 750: 375 to the challenger, 75 to the referee, 300 to the
    # platform; 250 of the stake back to the removed provider; bond and both payments returned
    assert led.balance("c1") == 1000 - 200 + 375 + 200
    assert led.balance("ref") == 500 + 75
    assert led.balance(PLATFORM) == 300
    assert led.balance("p1") == 500 + 250 and led.stake_of("p1") == 0
    assert led.balance("u1") == 500 and led.balance("u2") == 500
    assert led.is_removed("p1") and not led.is_barred("p1")
    assert led.task_status("t1") == "reversed" and led.task_status("t2") == "refunded"
    assert led.reauction_queue == (("t1", True), ("t2", False))
    with pytest.raises(LedgerError, match="removed"):
        led.escrow("t4", "u1", "p1", 10)
    with pytest.raises(LedgerError, match="removed"):
        led.stake("p1", 1)
    assert led.check_conservation()["total"] == 500 * 2 + 1500 * 3 + 1000


def test_wrong_challenger_and_ambiguous_hand_computed():
    led = market()
    led.escrow("t1", "u1", "p1", 100)
    led.challenge("c", "t1", "c1")
    led.resolve("c", "challenger_wrong", referee="ref")
    # bond 200: 100 to the barred provider, 20 to the referee, 80 burned
    assert led.balance("p1") == 500 + 100 and led.balance("ref") == 500 + 20 and led.balance(BURN) == 80
    assert not led.is_barred("p1") and led.task_status("t1") == "escrowed"
    led.settle("t1")
    assert led.balance("p1") == 700
    with pytest.raises(LedgerError, match="settled, cannot settle"):
        led.settle("t1")
    led.escrow("t2", "u2", "p2", 50)
    led.challenge("d", "t2", "c1")
    led.resolve("d", "ambiguous")
    assert led.balance("c1") == 800 and led.balance("u2") == 500 and led.stake_of("p2") == 1000
    assert led.reauction_queue == (("t2", False),)
    with pytest.raises(LedgerError, match="resolved already"):
        led.resolve("d", "provider_guilty")
    led.check_conservation()


def test_invalid_operations_change_nothing():
    led = market()
    led.escrow("t1", "u1", "p1", 100)
    before = led.snapshot()
    bad = [
        lambda: led.escrow("t9", "u1", "p1", 10_000),  # overdraft
        lambda: led.escrow("t1", "u1", "p2", 1),  # duplicate task
        lambda: led.escrow("t8", "ghost", "p1", 1),  # unknown account
        lambda: led.escrow("t8", "u1", "u2", 1),  # not a provider
        lambda: led.settle("nope"),
        lambda: led.challenge("c", "t1", "c1", bond=10_000),  # overdraft
        lambda: led.challenge("c", "t1", "u1"),  # not a challenger
        lambda: led.resolve("zzz", "provider_guilty"),
        lambda: led.deposit("u1", -5),
        lambda: led.deposit("u1", 1.5),
        lambda: led.open_account("u1", "user"),
        lambda: led.open_account("x:y", "user"),
        lambda: led.open_account("z", "platform"),
        lambda: led.unstake("p1", 1),  # backs an unsettled task
        lambda: led.unstake("p2", 5000),  # more than staked
    ]
    for op in bad:
        with pytest.raises(LedgerError):
            op()
        assert led.snapshot() == before
    led.challenge("c", "t1", "c1")
    snap = led.snapshot()
    with pytest.raises(LedgerError, match="verdict"):
        led.resolve("c", "maybe")
    with pytest.raises(LedgerError, match="referee"):
        led.resolve("c", "provider_guilty", referee="p1")
    assert led.snapshot() == snap
    led.check_conservation()


ACCOUNTS = ["u1", "u2", "p1", "p2", "ref", "c1"]
VERDICTS = ["provider_guilty", "challenger_wrong", "ambiguous"]
# mostly well-typed operations on a few ids (so challenges and verdicts happen), some invalid
USERS = st.sampled_from(["u1", "u2", "u1", "u2", "c1"])
PROVIDERS = st.sampled_from(["p1", "p2", "p1", "p2", "u1"])
op_strategy = st.one_of(
    st.tuples(st.just("escrow"), st.integers(0, 3), USERS, PROVIDERS, st.integers(0, 300)),
    st.tuples(st.just("settle"), st.integers(0, 3)),
    st.tuples(
        st.just("challenge"),
        st.integers(0, 3),
        st.integers(0, 3),
        st.sampled_from(["c1", "c1", "u1"]),
        st.integers(0, 400),
    ),
    st.tuples(st.just("challenge"), st.integers(0, 3), st.integers(0, 3), st.just("c1"), st.integers(0, 400)),
    st.tuples(st.just("resolve"), st.integers(0, 3), st.sampled_from(VERDICTS), st.sampled_from([None, "ref", "p2"])),
    st.tuples(st.just("resolve"), st.integers(0, 3), st.sampled_from(VERDICTS), st.sampled_from([None, "ref", "p2"])),
    st.tuples(st.just("appeal"), st.integers(0, 3), st.integers(0, 3), st.sampled_from(["c1", "p1", "p2", "u1"]),
              st.integers(0, 400)),
    st.tuples(st.just("resolve_appeal"), st.integers(0, 3), st.sampled_from(VERDICTS), st.sampled_from(VERDICTS),
              st.sampled_from(["ref", "p2", "p1"]), st.sampled_from([None, "ref", "p2"])),
    st.tuples(st.just("deposit"), st.sampled_from(ACCOUNTS), st.integers(-3, 300)),
    st.tuples(st.just("withdraw"), st.sampled_from([*ACCOUNTS, "platform"]), st.integers(0, 300)),
    st.tuples(st.just("stake"), st.sampled_from(ACCOUNTS), st.integers(0, 600)),
    st.tuples(st.just("unstake"), st.sampled_from(ACCOUNTS), st.integers(0, 600)),
)


@settings(max_examples=300, deadline=None)
@given(
    ops=st.lists(op_strategy, max_size=40),
    payments=st.lists(st.integers(0, 200), min_size=4, max_size=4),
    slash=st.sampled_from([0.0, 0.37, 1.0]),
    remainder=st.sampled_from(["burn", "platform"]),
)
def test_random_sequences_conserve_tokens(ops, payments, slash, remainder):
    led = market(
        DisputeParams(provider_stake=1000, challenger_bond=200, slash_fraction=slash, slash_remainder=remainder)
    )
    # tasks t0..t3 start escrowed so that random challenges and verdicts find them
    for i, amount in enumerate(payments):
        led.escrow(f"t{i}", ["u1", "u2"][i % 2], ["p1", "p2"][i // 2], amount)
    deposited = led.check_conservation()["deposited"]
    withdrawn = 0
    for op in ops:
        before = led.snapshot()
        try:
            name, *args = op
            if name == "escrow":
                led.escrow(f"t{args[0]}", args[1], args[2], args[3])
            elif name == "settle":
                led.settle(f"t{args[0]}")
            elif name == "challenge":
                led.challenge(f"c{args[0]}", f"t{args[1]}", args[2], args[3])
            elif name == "resolve":
                led.resolve(f"c{args[0]}", args[1], referee=args[2])
            elif name == "appeal":
                led.appeal(f"a{args[0]}", f"c{args[1]}", args[2], args[3])
            elif name == "resolve_appeal":
                led.resolve_appeal(f"a{args[0]}", first_verdict=args[1], final_verdict=args[2],
                                   first_referee=args[3], appeal_referee=args[4])
            elif name == "deposit":
                led.deposit(args[0], args[1])
                deposited += args[1]
            elif name == "withdraw":
                led.withdraw(args[0], args[1])
                withdrawn += args[1]
            elif name == "stake":
                led.stake(args[0], args[1])
            else:
                led.unstake(args[0], args[1])
        except LedgerError:
            assert led.snapshot() == before  # all or nothing
        report = led.check_conservation()
        assert report["deposited"] == deposited and report["withdrawn"] == withdrawn
        assert report["total"] == deposited - withdrawn
        assert min(led.balances()) >= 0


def test_single_task_ledger_known_answers():
    from oasis_lab.disputes.ledger import single_task_ledger

    led, before, _ = single_task_ledger("challenger_wrong", payment=100)
    # default bond 1000: 500 to the provider, 100 to the referee, 400 burned; then the payment
    assert led.balance("provider") == 500 + 100 and led.balance("referee") == 100
    assert led.balance(BURN) == 400 and led.task_status("task-1") == "settled"
    assert before.set_index("account").loc["challenger", "balance"] == 1000
    led, _, _ = single_task_ledger("provider_guilty")
    assert led.is_removed("provider") and led.balance("user") == 100
    assert led.check_conservation()["burned"] == 4000
