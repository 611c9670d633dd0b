"""The ledger under hostile use (issue 21, items 5 and 6): one namespace of ids, fractions read
exactly as they are paid, and a stateful hypothesis test that drives random sequences of
operations with colliding ids, random valid fractions and stakes up to 10**400, checking after
every step that tokens are conserved and that every open challenge and appeal still settles
with every verdict."""

import itertools

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from oasis_lab.disputes.ledger import Ledger, LedgerError
from oasis_lab.disputes.params import DisputeParams, exact_fraction
from oasis_lab.disputes.referee import VERDICTS

BIG = 10**400
USERS, PROVIDERS, CHALLENGERS = ("u1", "u2"), ("p1", "p2", "p3"), ("c1", "c2")
#: Task, challenge and appeal ids all drawn from one small pool, so that they collide.
IDS = ("a", "b", "c", "d", "e", "f", "g", "h")


def test_a_challenge_cannot_take_an_open_appeals_id():
    # issue 21, item 5, as reported: accepted, the appeal bond was overwritten
    led = Ledger()
    led.open_account("u", "user", deposit=10_000)
    led.open_account("p", "provider", deposit=20_000)
    led.open_account("c", "challenger", deposit=10_000)
    led.stake("p")
    led.escrow("t1", "u", "p", 100)
    led.escrow("t2", "u", "p", 100)
    led.challenge("c1", "t1", "c")
    led.appeal("a1", "c1", "p")
    before = led.snapshot()
    with pytest.raises(LedgerError, match="'a1' exists already: it names an appeal"):
        led.challenge("a1", "t2", "c")
    assert led.snapshot() == before
    for op, match in (
        (lambda: led.escrow("c1", "u", "p", 1), "it names a challenge"),
        (lambda: led.appeal("t2", "c1", "c"), "it names a task"),
        (lambda: led.settle("c1"), "task = 'c1' is unknown: it names a challenge"),
        (lambda: led.resolve("a1", "ambiguous"), "challenge = 'a1' is unknown: it names an appeal"),
        (lambda: led.resolve_appeal("c1", first_verdict="ambiguous", final_verdict="ambiguous",
                                    first_referee="p"), "it names a challenge"),
        # the challenge under appeal is decided by its appeal, not directly
        (lambda: led.resolve("c1", "ambiguous"), "open appeal 'a1'"),
    ):
        with pytest.raises(LedgerError, match=match):
            op()
        assert led.snapshot() == before
    led.check_conservation()


def test_fractions_are_validated_as_the_ledger_reads_them():
    # issue 21, item 6, as reported: the float sum passed, the slash could not be paid
    with pytest.raises(ValueError, match="challenger_reward_fraction \\+ referee_reward_fraction"):
        DisputeParams(provider_stake=10**18, challenger_reward_fraction=1 - 0.7,
                      referee_reward_fraction=0.7, bond_to_provider_fraction=0.3,
                      appeal_reward_fraction=0.3)
    for a in ("bond_to_provider_fraction", "appeal_reward_fraction"):
        with pytest.raises(ValueError, match=f"{a} \\+ referee_reward_fraction"):
            fields = dict(referee_reward_fraction=0.7, challenger_reward_fraction=0.3,
                          bond_to_provider_fraction=0.3, appeal_reward_fraction=0.3)
            DisputeParams(**{**fields, a: 1 - 0.7})
    # sums of exactly 1 in the decimal reading are valid although 0.1 + 0.9 is a float sum
    DisputeParams(challenger_reward_fraction=0.9, referee_reward_fraction=0.1,
                  bond_to_provider_fraction=0.9, appeal_reward_fraction=0.9)


# fractions with the float-rounding traps (1 - 0.7, thirds) next to arbitrary ones
_fraction = st.one_of(
    st.sampled_from([0.0, 1.0, 0.1, 0.3, 0.7, 1 - 0.7, 1 - 0.1, 1 / 3, 2 / 3, 0.5]),
    st.floats(0.0, 1.0),
)
_amount = st.one_of(st.sampled_from([0, 1, 2**53 + 1, 10**18, BIG]), st.integers(0, BIG))


@st.composite
def dispute_params(draw):
    """Valid DisputeParams with adversarial fractions and amounts up to 10**400."""
    referee = draw(_fraction)
    fields = {
        "referee_reward_fraction": referee,
        "slash_fraction": draw(_fraction),
        "referee_slash_fraction": draw(_fraction),
        "slash_remainder": draw(st.sampled_from(["burn", "platform"])),
        "provider_stake": draw(_amount),
        "challenger_bond": draw(_amount),
        "appeal_bond": draw(_amount),
    }
    for name in ("challenger_reward_fraction", "bond_to_provider_fraction", "appeal_reward_fraction"):
        # near the bound 1 - referee (as floats, which may land just above it exactly)
        fields[name] = draw(st.one_of(_fraction, st.just(1.0 - referee),
                                      st.floats(0.0, max(0.0, 1.0 - referee))))
    try:
        return DisputeParams(**fields)
    except ValueError:
        assume(False)


def _funded(params):
    led = Ledger(params)
    for u in USERS:
        led.open_account(u, "user", deposit=10 * BIG)
    for p in PROVIDERS:
        led.open_account(p, "provider", deposit=3 * params.provider_stake + BIG)
        led.stake(p)
    for c in CHALLENGERS:
        led.open_account(c, "challenger", deposit=4 * max(params.challenger_bond, params.appeal_bond) + BIG)
    return led


def _referees(snap, task):
    """Providers that may rule on ``task``: not its provider, not removed."""
    provider = snap["tasks"][task][1]
    return [p for p in PROVIDERS if p != provider and p not in snap["removed"]]


def assert_everything_settles(led):
    """Every open challenge settles with every verdict, every open appeal with every pair of
    verdicts (on copies), each conserving tokens."""
    snap = led.snapshot()
    appealed = {a[0] for a in snap["appeals"].values() if a[3] == "open"}
    for ch, (task, _, _, status, _) in snap["challenges"].items():
        if status != "open" or ch in appealed:
            continue
        for verdict, referee in itertools.product(VERDICTS, [None, *_referees(snap, task)[:1]]):
            trial = led.copy()
            trial.resolve(ch, verdict, referee=referee)
            trial.check_conservation()
    for ap, (ch, _, _, status) in snap["appeals"].items():
        refs = _referees(snap, snap["challenges"][ch][0])
        if status != "open" or not refs:
            continue
        for first, final in itertools.product(VERDICTS, VERDICTS):
            for second in [None, *refs[1:2]]:
                trial = led.copy()
                trial.resolve_appeal(ap, first_verdict=first, final_verdict=final,
                                     first_referee=refs[0], appeal_referee=second)
                trial.check_conservation()


@pytest.mark.parametrize("appeal", [False, True])
@given(params=dispute_params(), payment=_amount)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
def test_every_valid_params_settle_every_verdict_at_every_stake(appeal, params, payment):
    led = _funded(params)
    led.escrow("t", "u1", "p1", payment)
    led.challenge("c", "t", "c1")
    if appeal:
        led.appeal("a", "c", "p1")
    assert_everything_settles(led)


class LedgerMachine(RuleBasedStateMachine):
    """Random sequences of ledger operations over one small pool of ids."""

    @initialize(params=dispute_params(), payments=st.lists(_amount, min_size=3, max_size=3))
    def open_market(self, params, payments):
        # three tasks in escrow and one of them challenged, so that the rules find work
        self.led = _funded(params)
        for task, user, provider, amount in zip("abc", USERS * 2, PROVIDERS, payments, strict=False):
            self.led.escrow(task, user, provider, amount)
        self.led.challenge("d", "a", "c1")
        self.deposited = self.led.check_conservation()["deposited"]
        self.withdrawn = 0

    def _apply(self, name, op):
        before = self.led.snapshot()
        try:
            op()
        except LedgerError:
            assert self.led.snapshot() == before  # refused: nothing changed
            return False
        event(f"accepted: {name}")
        return True

    def _pick(self, data, kind, status=None):
        """An id: mostly one naming an existing ``kind`` (with ``status``), else any id of
        the pool (which may name something else: the ids collide on purpose)."""
        snap = self.led.snapshot()
        table = snap[{"task": "tasks", "challenge": "challenges", "appeal": "appeals"}[kind]]
        live = sorted(k for k, v in table.items() if status is None or v[3] == status)
        return data.draw(st.sampled_from(live) if live and data.draw(st.integers(0, 3)) else st.sampled_from(IDS))

    @rule(task=st.sampled_from(IDS), user=st.sampled_from(USERS), provider=st.sampled_from(PROVIDERS),
          amount=_amount)
    def escrow(self, task, user, provider, amount):
        self._apply("escrow", lambda: self.led.escrow(task, user, provider, amount))

    @rule(data=st.data())
    def settle(self, data):
        task = self._pick(data, "task", "escrowed")
        self._apply("settle", lambda: self.led.settle(task))

    @rule(data=st.data(), challenge=st.sampled_from(IDS), challenger=st.sampled_from(CHALLENGERS))
    def challenge(self, data, challenge, challenger):
        task = self._pick(data, "task", "escrowed")
        self._apply("challenge", lambda: self.led.challenge(challenge, task, challenger))

    @rule(data=st.data(), appeal=st.sampled_from(IDS))
    def appeal(self, data, appeal):
        challenge = self._pick(data, "challenge", "open")
        snap = self.led.snapshot()
        parties = CHALLENGERS + PROVIDERS
        if challenge in snap["challenges"] and data.draw(st.booleans()):
            task, challenger = snap["challenges"][challenge][:2]
            parties = (challenger, snap["tasks"][task][1])
        appellant = data.draw(st.sampled_from(parties))
        self._apply("appeal", lambda: self.led.appeal(appeal, challenge, appellant))

    @rule(data=st.data(), verdict=st.sampled_from(VERDICTS), referee=st.sampled_from((None, *PROVIDERS)))
    def resolve(self, data, verdict, referee):
        challenge = self._pick(data, "challenge", "open")
        self._apply("resolve", lambda: self.led.resolve(challenge, verdict, referee=referee))

    @rule(data=st.data(), first=st.sampled_from(VERDICTS), final=st.sampled_from(VERDICTS),
          first_referee=st.sampled_from(PROVIDERS), appeal_referee=st.sampled_from((None, *PROVIDERS)))
    def resolve_appeal(self, data, first, final, first_referee, appeal_referee):
        appeal = self._pick(data, "appeal", "open")
        self._apply("resolve_appeal", lambda: self.led.resolve_appeal(
            appeal, first_verdict=first, final_verdict=final, first_referee=first_referee,
            appeal_referee=appeal_referee))

    @rule(account=st.sampled_from(USERS + PROVIDERS + CHALLENGERS), amount=_amount)
    def deposit(self, account, amount):
        if self._apply("deposit", lambda: self.led.deposit(account, amount)):
            self.deposited += amount

    @rule(account=st.sampled_from(USERS + PROVIDERS + CHALLENGERS + ("platform",)), amount=_amount)
    def withdraw(self, account, amount):
        if self._apply("withdraw", lambda: self.led.withdraw(account, amount)):
            self.withdrawn += amount

    @rule(provider=st.sampled_from(PROVIDERS), amount=st.one_of(st.none(), _amount))
    def stake(self, provider, amount):
        self._apply("stake", lambda: self.led.stake(provider, amount))

    @invariant()
    def tokens_are_conserved(self):
        report = self.led.check_conservation()
        assert report["deposited"] == self.deposited and report["withdrawn"] == self.withdrawn
        assert report["total"] == self.deposited - self.withdrawn

    @invariant()
    def everything_open_settles(self):
        assert_everything_settles(self.led)


LedgerMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
test_ledger_under_random_operations = LedgerMachine.TestCase


def test_a_copy_is_independent():
    led = _funded(DisputeParams())
    led.escrow("t", "u1", "p1", 5)
    trial = led.copy()
    trial.challenge("c", "t", "c1")
    trial.resolve("c", "provider_guilty")
    assert led.task_status("t") == "escrowed" and not led.is_removed("p1")
    assert trial.snapshot() != led.snapshot() and len(led.transfers) < len(trial.transfers)
    led.check_conservation()
    trial.check_conservation()


def test_exact_fraction_is_the_ledger_share_rule():
    from oasis_lab.disputes.ledger import token_share

    for f in (0.1, 1 - 0.7, 1 / 3, 0.29):
        assert token_share(BIG, f) == BIG * exact_fraction(f).numerator // exact_fraction(f).denominator
