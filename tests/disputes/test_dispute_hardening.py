"""Issue 9, items 2 and 3: conservation that cannot be fooled, exact token amounts, and the
small refusals (NaN latency, deposits to the platform, one default tolerance)."""

import math

import pytest

from oasis_lab.disputes import DisputeParams, Referee, play
from oasis_lab.disputes.adversaries import PerturbNode, Reply, Strategy, Timeout
from oasis_lab.disputes.graph import synthetic_graph
from oasis_lab.disputes.ledger import BURN, MINT, PLATFORM, Ledger, LedgerError, single_task_ledger
from oasis_lab.disputes.trace import SyntheticComputation


def _market(params):
    led = Ledger(params)
    led.open_account("u", "user", deposit=params.provider_stake)
    for p in ("p", "ref"):
        led.open_account(p, "provider", deposit=params.provider_stake)
        led.stake(p)
    led.open_account("c", "challenger", deposit=params.challenger_bond)
    return led


# --- item 2: conservation ---------------------------------------------------------------------


def test_injected_internal_minting_is_caught(monkeypatch):
    """A bug that creates tokens inside an operation (a transfer out of ``mint`` in ``slash``)
    is in the log, so a check that counts the log's mint transfers would pass; the boundary
    counters of deposit/withdraw do not see it, and conservation fails."""
    params = DisputeParams(provider_stake=1000, challenger_bond=100)
    led = _market(params)
    led.escrow("t", "u", "p", 50)
    led.challenge("x", "t", "c")
    led.check_conservation()
    real_commit = Ledger._commit

    def buggy(self, action, moves):
        moves = list(moves)
        if action == "slash":
            moves.append((MINT, "c", 7, "bug: reward paid from thin air"))
        real_commit(self, action, moves)

    monkeypatch.setattr(Ledger, "_commit", buggy)
    led.resolve("x", "provider_guilty", referee="ref")
    with pytest.raises(LedgerError, match=r"\+7 tokens appeared"):
        led.check_conservation()


def test_injected_silent_burn_is_caught(monkeypatch):
    """The other direction: tokens sent to the outside inside an operation."""
    params = DisputeParams(provider_stake=1000, challenger_bond=100)
    led = _market(params)
    led.escrow("t", "u", "p", 50)
    real_commit = Ledger._commit

    def buggy(self, action, moves):
        moves = [(s, MINT if d == "p" else d, a, m) for s, d, a, m in moves]
        real_commit(self, action, moves)

    monkeypatch.setattr(Ledger, "_commit", buggy)
    led.settle("t")
    with pytest.raises(LedgerError, match=r"-50 tokens"):
        led.check_conservation()


def test_withdraw_and_conservation_report():
    params = DisputeParams(provider_stake=1000, challenger_bond=100, slash_remainder="platform")
    led = _market(params)
    led.escrow("t", "u", "p", 50)
    led.challenge("x", "t", "c")
    led.resolve("x", "provider_guilty", referee="ref")
    platform_income = led.balance(PLATFORM)
    assert platform_income == 1000 - 500 - 100
    led.withdraw(PLATFORM, platform_income)
    led.withdraw("u", 20)
    with pytest.raises(LedgerError, match="cannot pay"):
        led.withdraw("u", 10**6)
    with pytest.raises(LedgerError, match="participant"):
        led.withdraw(Ledger.stake_account("ref"), 1)
    report = led.check_conservation()
    assert report["deposited"] == 4 * 1000 - 1000 + 100  # u, p, ref deposit 1000; c 100
    assert report["withdrawn"] == platform_income + 20
    assert report["total"] == report["deposited"] - report["withdrawn"]


def test_deposit_refuses_the_platform_account():
    led = Ledger()
    before = led.snapshot()
    with pytest.raises(LedgerError, match="'platform' cannot receive deposits"):
        led.deposit(PLATFORM, 5)
    with pytest.raises(LedgerError, match="cannot receive deposits"):
        led.deposit(BURN, 5)
    assert led.snapshot() == before


def test_timeout_refuses_nan_latency_and_play_treats_nan_as_late():
    with pytest.raises(ValueError, match="latency_s = nan"):
        Timeout(latency_s=math.nan)
    with pytest.raises(ValueError, match="latency_s"):
        Timeout(latency_s=-1.0)
    with pytest.raises(ValueError, match="at_round"):
        Timeout(at_round=-1)
    with pytest.raises(TypeError, match="base"):
        Timeout(base="honest")
    assert Timeout(latency_s=math.inf).latency_s == math.inf

    class NanLatency(Strategy):
        """A custom strategy (no Timeout validation) answering after NaN seconds."""

        def reveal(self, state, nodes, round_no):
            return Reply(state.trace.chain[nodes], math.nan)

    comp = SyntheticComputation(synthetic_graph(30), seed=1)
    out = play(comp, NanLatency(), PerturbNode(node=3))
    assert (out.verdict, out.reason) == ("provider_guilty", "timeout")


def test_referee_and_params_agree_on_defaults():
    assert Referee() == Referee.from_params(DisputeParams())
    assert Referee().max_ulp == DisputeParams().max_ulp == 4
    with pytest.raises(ValueError, match="max_ulp = 18446744073709551616 must be <="):
        Referee(max_ulp=2**64)
    with pytest.raises(ValueError, match="max_ulp = 18446744073709551616 must be <="):
        DisputeParams(max_ulp=2**64)


# --- item 3: exact token amounts --------------------------------------------------------------


@pytest.mark.parametrize("stake", [2**54 + 1, 2**54 + 2, 7205759403792794, 2**63 + 5, 10**18 + 3, 10**30 + 7])
def test_large_stakes_slash_exactly(stake):
    params = DisputeParams(provider_stake=stake, challenger_bond=stake // 3 + 1)
    led, _, _ = single_task_ledger("provider_guilty", params, payment=stake - 1)
    slashed = stake  # slash_fraction = 1
    assert led.balance("challenger") == params.challenger_bond + slashed // 2
    assert led.balance("referee") == slashed // 10
    assert led.balance(BURN) == slashed - slashed // 2 - slashed // 10
    assert led.is_removed("provider") and led.task_status("task-1") == "reversed"
    assert not led.is_barred("provider")
    report = led.check_conservation()
    assert report["total"] == report["deposited"] == 2 * stake + params.challenger_bond + stake - 1
    assert all(type(v) is int for v in (led.balance("challenger"), led.balance(BURN)))


def test_large_amounts_every_verdict_and_fractions_exact():
    stake = 10**30
    params = DisputeParams(provider_stake=stake, challenger_bond=10**29 + 1, slash_fraction=0.37,
                           referee_reward_fraction=0.1)
    led, _, _ = single_task_ledger("provider_guilty", params, payment=10**30)
    slashed = stake * 37 // 100  # 0.37 read as the decimal it prints as
    assert led.balance("referee") == slashed // 10
    assert led.balance("provider") == stake - slashed
    led.check_conservation()
    for verdict in ("challenger_wrong", "ambiguous"):
        led, _, _ = single_task_ledger(verdict, params, payment=10**30)
        led.check_conservation()
    bond = params.challenger_bond
    led, _, _ = single_task_ledger("challenger_wrong", params, payment=10**30)
    assert led.balance("provider") == bond // 2 + 10**30 and led.balance("referee") == bond // 10
    frame = led.accounts()
    assert int(frame.set_index("account").loc["provider", "balance"]) == bond // 2 + 10**30
    assert led.balances()["provider"] == bond // 2 + 10**30  # exact, not a float


def test_huge_amounts_exact_and_floats_refused():
    big = 10**400
    params = DisputeParams(provider_stake=big, challenger_bond=big)
    led, _, _ = single_task_ledger("provider_guilty", params, payment=big)
    assert led.balance("challenger") == big + big // 2 and led.balance(BURN) == big - big // 2 - big // 10
    led.check_conservation()
    with pytest.raises(LedgerError, match="integer number of tokens"):
        Ledger().open_account("u", "user", deposit=1e30)
    with pytest.raises(TypeError, match="provider_stake must be an integer"):
        DisputeParams(provider_stake=1e30)


def test_token_share_is_exact_and_decimal():
    import numpy as np

    from oasis_lab.disputes.ledger import token_share, token_shares

    assert token_share(100, 0.29) == 29  # the float product 0.29 * 100 floors to 28
    assert token_share(2**54 + 1, 1.0) == 2**54 + 1
    amounts = np.array([0, 1, 99, 100, 12345, 2**40, 2**62])
    for f in (0.0, 0.1, 0.29, 0.37, 0.5, 1.0):
        assert token_shares(amounts, f).tolist() == [token_share(int(a), f) for a in amounts], f
    big = np.array([10**30, 3], dtype=object)
    assert token_shares(big, 0.1).tolist() == [10**29, 0]
    with pytest.raises(TypeError, match="integers"):
        token_shares(np.array([1.5]), 0.5)
