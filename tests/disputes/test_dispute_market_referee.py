"""Market referees and appeals (issue 16, item 1): the game, the ledger and the measurements."""

from dataclasses import replace

import numpy as np
import pytest

from oasis_lab.disputes import DisputeParams, Ledger, LedgerError, Referee, play
from oasis_lab.disputes.adversaries import Honest, LyingChallenger, PerturbNode
from oasis_lab.disputes.ledger import BURN
from oasis_lab.disputes.market_referee import (
    MarketReferee,
    adjudicate,
    apply_to_ledger,
    draw_referee,
)
from oasis_lab.disputes.referee_pool import make_pool
from oasis_lab.disputes.registry import ADVERSARIES, computation_for
from oasis_lab.seeding import stream

MODES = [DisputeParams(arity=3), DisputeParams(arity=3, comparison="tolerance", max_ulp=4)]
STRATEGIES = [
    MarketReferee(name="r", strategy="collude"),
    MarketReferee(name="r", strategy="frame"),
    MarketReferee(name="r", strategy="bribable", bribe_price=10),
    MarketReferee(name="r", strategy="honest", rounding_ulps=3),
    MarketReferee(name="r", strategy="honest"),
]


@pytest.fixture(scope="module")
def synthetic():
    return computation_for("synthetic:40")


def _parties(name, comp):
    node = comp.n_nodes // 3
    return ADVERSARIES[name](node)


@pytest.mark.parametrize("params", MODES, ids=["exact", "tolerance"])
def test_honest_market_referee_same_backend_equals_trusted(synthetic, params):
    pytest.importorskip("oasis_lab.gpu.model")
    for comp in (synthetic, computation_for("tiny-transformer"), computation_for("quantized-mlp")):
        for name in ADVERSARIES:
            provider, challenger = _parties(name, comp)
            trusted = play(comp, provider, challenger, params=params, record=False)
            market = play(comp, provider, challenger, params=params, record=False,
                          referee=replace(MarketReferee(name="m"), comparison=params.comparison,
                                          max_ulp=params.max_ulp))
            assert (market.verdict, market.reason) == (trusted.verdict, trusted.reason), (comp.name, name)


def test_colluding_referee_frees_a_cheater_unless_appealed(synthetic):
    pool = [MarketReferee(name="bad", strategy="collude"), MarketReferee(name="good")]
    cheat = PerturbNode(node=7)
    # the only eligible referee colludes (the good one is the challenger's pool name)
    free = adjudicate(synthetic, cheat, Honest(), pool, appeal_to=None, parties=("p", "good"))
    assert free.first_verdict == free.final_verdict == "challenger_wrong" and free.wrong
    for appeal_to in ("trusted", "market"):
        pool3 = [*pool, MarketReferee(name="judge")]
        adj = adjudicate(synthetic, cheat, Honest(), pool3, appeal_to=appeal_to, parties=("p", "good"),
                         seed=next(s for s in range(50) if _draws(pool3, s) == "bad"))
        assert adj.first_referee.name == "bad" and adj.appellant == "challenger"
        assert adj.final_verdict == "provider_guilty" and adj.overturned and not adj.wrong


def _draws(pool, seed):
    return draw_referee(pool, stream(seed, "market-referee"), exclude=("p", "good")).name


@pytest.mark.parametrize("params", MODES, ids=["exact", "tolerance"])
def test_appeal_to_trusted_always_restores_the_trusted_verdict(synthetic, params):
    wrong_first = 0
    for name in ADVERSARIES:
        provider, challenger = _parties(name, synthetic)
        for ref in STRATEGIES:
            for bribe in (None, ("provider", 50), ("challenger", 50)):
                adj = adjudicate(synthetic, provider, challenger, [ref], params=params,
                                 appeal_to="trusted", bribe=bribe, parties=("p", "c"))
                assert adj.final_verdict == adj.trusted_verdict, (name, ref.strategy, bribe)
                wrong_first += adj.first_verdict != adj.trusted_verdict
                assert adj.appealed == (adj.first_verdict != adj.trusted_verdict)
    assert wrong_first > 0  # the corrupt referees did rule wrongly first


def _ledger(params, pool):
    led = Ledger(params)
    for name in ("prov", *[r.name for r in pool]):
        led.open_account(name, "provider", deposit=params.provider_stake + 3_000)
        led.stake(name)
    led.open_account("chal", "challenger", deposit=20_000)
    led.open_account("user", "user", deposit=10_000)
    return led


def test_ledger_conserves_through_appeals_and_referee_slashing(synthetic):
    params = DisputeParams(provider_stake=5_000, challenger_bond=500, appeal_bond=800,
                           slash_remainder="platform")
    pool = make_pool(6, 0.5, corrupt_kind="mixed", stake=params.provider_stake)
    led = _ledger(params, pool)
    overturned = upheld = 0
    for i in range(12):
        active = [r for r in pool if not led.is_removed(r.name)]
        cheat = i % 2 == 0
        provider = PerturbNode(node=i % 40) if cheat else Honest()
        challenger = Honest() if cheat else LyingChallenger(node=(3 * i) % 40)
        prov_name = "prov" if not led.is_removed("prov") else None
        if prov_name is None:
            led.open_account(f"prov{i}", "provider", deposit=params.provider_stake)
            led.stake(f"prov{i}")
            prov_name = f"prov{i}"
        led.escrow(f"t{i}", "user", prov_name, 100)
        appeal_to = ("trusted", "market", None)[i % 3]
        adj = adjudicate(synthetic, provider, challenger, active, params=params, appeal_to=appeal_to,
                         parties=(prov_name, "chal"), seed=i)
        apply_to_ledger(led, adj, task=f"t{i}", challenge=f"c{i}", provider=prov_name, challenger="chal")
        overturned += adj.overturned
        upheld += adj.appealed and not adj.overturned
        report = led.check_conservation()
        assert report["total"] == report["deposited"] - report["withdrawn"]
        if adj.overturned:
            assert led.is_removed(adj.first_referee.name)
            assert led.stake_of(adj.first_referee.name) == 0
    assert overturned > 0


def test_appeal_hand_computed_and_refusals():
    params = DisputeParams(provider_stake=1_000, challenger_bond=200, appeal_bond=300,
                           referee_slash_fraction=0.5, appeal_reward_fraction=0.5,
                           referee_reward_fraction=0.1)
    pool = [MarketReferee(name="r1"), MarketReferee(name="r2")]
    led = _ledger(params, pool)
    led.escrow("t", "user", "prov", 100)
    led.challenge("c", "t", "chal")
    before = led.snapshot()
    for bad in (
        lambda: led.appeal("a", "c", "user"),  # not a party
        lambda: led.appeal("c", "c", "chal"),  # id of the challenge
        lambda: led.appeal("a", "nope", "chal"),
        lambda: led.appeal("a", "c", "chal", bond=10**9),  # cannot pay
    ):
        with pytest.raises(LedgerError):
            bad()
        assert led.snapshot() == before
    chal0 = led.balance("chal")
    led.appeal("a", "c", "chal")
    assert led.balance("chal") == chal0 - 300
    with pytest.raises(LedgerError, match="appealed already"):
        led.appeal("b", "c", "prov")
    with pytest.raises(LedgerError, match="made the first ruling"):
        led.resolve_appeal("a", first_verdict="challenger_wrong", final_verdict="provider_guilty",
                           first_referee="r1", appeal_referee="r1")
    # r1 ruled for the cheater, r2 overturns: r1's stake 1000, half slashed = 500: 250 to the
    # appellant, 50 to r2, 200 burned, 500 back to r1; then the conviction of prov (stake 1000:
    # 500 to the challenger, 100 to r2, 400 burned); bonds back
    led.resolve_appeal("a", first_verdict="challenger_wrong", final_verdict="provider_guilty",
                       first_referee="r1", appeal_referee="r2")
    assert led.is_removed("r1") and led.is_removed("prov")
    assert led.balance("chal") == chal0 + 250 + 500 + 200  # + the challenge bond returned
    assert led.balance("r2") == 3_000 + 50 + 100
    assert led.balance("r1") == 3_000 + 500
    assert led.balance(BURN) == 200 + 400
    led.check_conservation()
    with pytest.raises(LedgerError, match="decided already"):
        led.resolve_appeal("a", first_verdict="challenger_wrong", final_verdict="provider_guilty",
                           first_referee="r1")
    # an upheld appeal: the bond is forfeited (trusted appellate: no referee share), r2 rewarded
    led2 = _ledger(params, pool)
    led2.escrow("t", "user", "prov", 100)
    led2.challenge("c", "t", "chal")
    led2.appeal("a", "c", "prov")
    led2.resolve_appeal("a", first_verdict="provider_guilty", final_verdict="provider_guilty",
                        first_referee="r2")
    assert led2.balance(BURN) == 300 + 400 and not led2.is_removed("r2")
    assert led2.balance("r2") == 3_000 + 100
    led2.check_conservation()


def test_draw_referee_excludes_parties_and_weights_by_stake():
    pool = [MarketReferee(name="a", stake=0), MarketReferee(name="b", stake=1), MarketReferee(name="c", stake=3)]
    rng = stream(0, "test-draw")
    names = [draw_referee(pool, rng, exclude=("c",)).name for _ in range(200)]
    assert set(names) == {"a", "b"}
    names = [draw_referee(pool, rng, weighting="stake").name for _ in range(4000)]
    assert "a" not in names and 0.70 < names.count("c") / 4000 < 0.80
    with pytest.raises(ValueError, match="no eligible referee"):
        draw_referee(pool, rng, exclude=("a", "b", "c"))
    with pytest.raises(ValueError, match="strategy"):
        MarketReferee(strategy="lazy")
    with pytest.raises(ValueError, match="offer side"):
        MarketReferee(offer=("user", 5))
    # an honest market referee on the parties' device rules as the platform's stack does
    comp = computation_for("synthetic:40")
    for provider, challenger in (ADVERSARIES["perturb"](7), ADVERSARIES["lying-challenger"](7)):
        for params in MODES:
            rulings = [
                play(comp, provider, challenger, params=params, referee=ref).ruling
                for ref in (Referee.from_params(params),
                            replace(MarketReferee(name="m"), comparison=params.comparison,
                                    max_ulp=params.max_ulp))
            ]
            assert rulings[0] == rulings[1]


def test_offer_must_be_a_side_and_an_amount():
    # issue 21, item 16: ("provider",) gave "not enough values to unpack"
    for bad in [("provider",), ("provider", 5, 6), "provider", ["provider", 5]]:
        with pytest.raises(ValueError, match="offer = .* must be a \\(side, amount\\) pair"):
            MarketReferee(offer=bad)


def test_a_pool_with_two_referees_of_one_name_is_refused():
    # issue 21, item 4: duplicate names made a market appeal silently impossible (excluding
    # the first referee's name excluded its twin, so no second referee was ever there)
    pool = [MarketReferee(name="r", strategy="collude"), MarketReferee(name="r"),
            MarketReferee(name="s")]
    comp = computation_for("synthetic:40")
    with pytest.raises(ValueError, match="same name \\['r'\\]"):
        adjudicate(comp, *ADVERSARIES["perturb"](7), pool, appeal_to="market", parties=("p", "c"))
    with pytest.raises(ValueError, match="same name"):
        draw_referee(pool, stream(0, "test-draw"))
    with pytest.raises(TypeError, match="pool must hold MarketReferee"):
        draw_referee([Referee()], stream(0, "test-draw"))


def test_stake_weighted_draw_is_exact_at_any_stake():
    # issue 21, item 13: stake=10**400 overflowed the float weights
    stakes = [0, 5, 17, 1_000, 3, 250, 42]
    pool = [MarketReferee(name=f"r{i}", stake=s) for i, s in enumerate(stakes)]
    eligible = [r for r in pool if r.stake > 0]
    weights = np.array([float(r.stake) for r in eligible])
    for seed in range(3000):  # the draw numpy's rng.choice makes, with the same pick
        numpy_pick = eligible[int(np.random.default_rng(seed).choice(len(eligible), p=weights / weights.sum()))]
        assert draw_referee(pool, np.random.default_rng(seed), weighting="stake") is numpy_pick
    # scaled by 10**400 the picks are the same (only ratios of stakes matter)
    huge = [replace(r, stake=r.stake * 10**400) for r in pool]
    for seed in range(200):
        a = draw_referee(pool, np.random.default_rng(seed), weighting="stake").name
        assert draw_referee(huge, np.random.default_rng(seed), weighting="stake").name == a
    # and one stake of 10**400 against 3 * 10**400 is drawn a quarter of the time
    two = [MarketReferee(name="a", stake=10**400), MarketReferee(name="b", stake=3 * 10**400)]
    rng = stream(1, "test-draw")
    share = np.mean([draw_referee(two, rng, weighting="stake").name == "a" for _ in range(4000)])
    assert 0.22 < share < 0.28


def test_an_honest_market_referee_rules_as_the_trusted_referee():
    # A market referee is a drop-in referee: honest, on the parties' backend, it gives the
    # trusted referee's ruling field for field (tolerances included); a colluding one does not.
    import numpy as np

    from oasis_lab.disputes.adversaries import shift_ulps

    recomputed = np.linspace(-1.0, 1.0, 7, dtype=np.float32)
    for ulps in (0, 3, 8):
        provider = shift_ulps(recomputed, ulps) if ulps else recomputed.copy()
        challenger = recomputed
        for max_ulp in (0, 4):
            trusted = Referee(comparison="tolerance", max_ulp=max_ulp)
            market = MarketReferee(name="m", comparison="tolerance", max_ulp=max_ulp)
            ruling = trusted.rule_tolerance(recomputed, provider, challenger)
            assert market.rule_tolerance(recomputed, provider, challenger) == ruling
            assert ruling.verdict == ("challenger_wrong" if ulps <= max_ulp else "provider_guilty")
            assert ruling.max_ulp_provider == ulps
            colluding = replace(market, strategy="collude").rule_tolerance(recomputed, provider, challenger)
            assert colluding.verdict == "challenger_wrong"
