"""The referee as a market provider, and the appeal path (whitepaper section 5, issue 16).

Section 5: "a single service provider is assigned to recompute each layer". Until now every
referee in the project was the platform's trusted stack (:class:`~oasis_lab.disputes.referee.
Referee`). Here the referee of a dispute may be an ordinary provider:

* **Selection** (:func:`draw_referee`): ``referee="trusted"`` (the platform's stack) or
  ``"market"``: a provider drawn from the active pool other than the two parties, uniformly
  or weighted by stake (``weighting``).
* **A market referee** (:class:`MarketReferee`) has its own backend and rounding profile
  (``rounding_ulps``: its device's recomputation of a float node lands that many ULPs away),
  its own strategy (``honest``; ``collude``: rules for the provider whatever it recomputes;
  ``frame``: rules for the challenger; ``bribable``: rules for whoever offered at least
  ``bribe_price``), a fee (the ledger's ``referee_reward_fraction`` of what is forfeited) and
  a stake that an appeal can slash.
* **Appeal** (:func:`adjudicate`): after the market referee's first ruling the losing party
  may appeal, locking ``DisputeParams.appeal_bond``, to a second market referee or to the
  platform's trusted stack (``appeal_to``). The appellate ruling is final. If it differs from
  the first, the appeal bond returns and the first referee's stake is slashed
  (``referee_slash_fraction``, ``appeal_reward_fraction`` of it to the appellant) and it is
  removed; otherwise the bond is forfeited (:meth:`~oasis_lab.disputes.ledger.Ledger.
  resolve_appeal`). Cost of an appeal: the bond at risk, a second recomputation of the one
  disputed node (the bisection is not replayed: its transcript is public and the appellate
  referee only re-rules node ``k``), and the time of one more ruling.
* **Who appeals** (the reading taken, :func:`appeal_pays`): the party the first ruling treats
  worse than the platform's trusted stack would (each party can recompute the disputed node on
  the reference stack itself, so it knows) appeals when the expected gain ``q * at_stake``
  exceeds the expected loss ``(1 - q) * appeal_bond`` and it can lock the bond
  (``appeal_budget``), with ``q`` the chance the appellate referee rules as the trusted stack
  (1 for the trusted stack, the honest share of the rest of the pool for a market referee). A
  party the first ruling treats as the trusted stack would gains nothing and does not appeal.

Measurements that need no market simulation (wrong-verdict rate against the corrupt share,
the appeal bond and the referee stake; the bribe that makes corruption pay; verification split
over several providers) are the ``referee_market`` and ``split_verification`` experiments
(:mod:`oasis_lab.experiments.referees`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from oasis_lab.checks import check_int
from oasis_lab.disputes.adversaries import Strategy, shift_ulps
from oasis_lab.disputes.bisection import DisputeOutcome, play
from oasis_lab.disputes.computations import Computation
from oasis_lab.disputes.ledger import Ledger
from oasis_lab.disputes.params import DisputeParams
from oasis_lab.disputes.referee import Referee, Ruling

__all__ = [
    "APPEAL_TO",
    "REFEREE_STRATEGIES",
    "WEIGHTINGS",
    "Adjudication",
    "MarketReferee",
    "adjudicate",
    "appeal_pays",
    "apply_to_ledger",
    "check_pool",
    "draw_referee",
]

#: Strategies of a market referee.
REFEREE_STRATEGIES: tuple[str, ...] = ("honest", "collude", "frame", "bribable")
#: How a market referee is drawn from the pool.
WEIGHTINGS: tuple[str, ...] = ("uniform", "stake")
#: Where a losing party may appeal (None: no appeal).
APPEAL_TO: tuple[str | None, ...] = (None, "trusted", "market")
_SIDES = ("provider", "challenger")


@dataclass(frozen=True)
class MarketReferee(Referee):
    """A provider acting as the referee of one dispute.

    Parameters
    ----------
    backend, comparison, atol, max_ulp
        As :class:`~oasis_lab.disputes.referee.Referee`.
    name : str
        Its ledger account (a provider).
    strategy : {"honest", "collude", "frame", "bribable"}
    rounding_ulps : int, default 0
        Its device's rounding profile: its recomputation of a float node is this many ULPs
        above the reference (0: the parties' backend).
    stake : int, default 10_000
        What it has staked, an integer amount of the ledger's smallest unit (the simulation
        passes its books' stake, ``provider_stake * token_unit``). Read only as a weight
        (:func:`draw_referee` with ``weighting="stake"``), so only its ratio to the other
        referees' stakes matters; an overturned appeal slashes the stake the *ledger* holds.
    bribe_price : int, default 0
        The smallest bribe a ``bribable`` referee takes, in the unit of ``offer``.
    offer : tuple of (str, int), optional
        A bribe offered in this dispute: ``("provider" or "challenger", amount)``, compared
        with ``bribe_price`` only (the simulation passes both in smallest units).
    """

    name: str = "referee"
    strategy: str = "honest"
    rounding_ulps: int = 0
    stake: int = 10_000
    bribe_price: int = 0
    offer: tuple[str, int] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty string, got {self.name!r}")
        if self.strategy not in REFEREE_STRATEGIES:
            raise ValueError(f"strategy = {self.strategy!r} is not one of {list(REFEREE_STRATEGIES)}")
        check_int("rounding_ulps", self.rounding_ulps, 0)
        check_int("stake", self.stake, 0)
        check_int("bribe_price", self.bribe_price, 0)
        if self.offer is not None:
            if not isinstance(self.offer, tuple) or len(self.offer) != 2:
                raise ValueError(
                    f"offer = {self.offer!r} must be a (side, amount) pair, e.g. ('provider', 100)"
                )
            side, amount = self.offer
            if side not in _SIDES:
                raise ValueError(f"offer side = {side!r} is not one of {list(_SIDES)}")
            check_int("offer amount", amount, 0)

    @property
    def sides_with(self) -> str | None:
        """The party this referee rules for whatever it recomputes (None: it rules honestly)."""
        if self.strategy == "collude":
            return "provider"
        if self.strategy == "frame":
            return "challenger"
        if self.strategy == "bribable" and self.offer is not None and self.offer[1] >= max(self.bribe_price, 1):
            return self.offer[0]
        return None

    def recompute(self, computation: Computation, k: int, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """Recompute node ``k`` on this referee's backend, with its device's rounding (the
        strict exact reading and tolerance mode; the rounding reading recomputes on the
        protocol's engines, :meth:`~oasis_lab.disputes.referee.Referee.recompute_on`, which any
        honest referee runs alike: the numpy twin in software, kernels that give one answer on
        every engine)."""
        out = super().recompute(computation, k, inputs)
        if self.rounding_ulps and np.asarray(out).dtype.kind == "f":
            out = shift_ulps(out, self.rounding_ulps)
        return out

    def _corrupt(self, ruling: Ruling) -> Ruling:
        side = self.sides_with
        if side is None:
            return ruling
        verdict = "challenger_wrong" if side == "provider" else "provider_guilty"
        return replace(
            ruling,
            verdict=verdict,
            detail=f"{ruling.detail}; {self.strategy} referee {self.name} rules for the {side}",
        )

    def judge(self, ruling: Ruling) -> Ruling:
        """As the trusted referee, then bent by the strategy (the exact rounding reading)."""
        return self._corrupt(ruling)

    def rule_exact(
        self,
        computation: Computation,
        recomputed: np.ndarray,
        agreed_prev: bytes,
        provider_claim: bytes,
        challenger_claim: bytes,
    ) -> Ruling:
        """As the trusted referee, then bent by the strategy."""
        return self._corrupt(
            super().rule_exact(computation, recomputed, agreed_prev, provider_claim, challenger_claim)
        )

    def rule_tolerance(
        self, recomputed: np.ndarray, provider_output: np.ndarray, challenger_output: np.ndarray
    ) -> Ruling:
        """As the trusted referee, then bent by the strategy."""
        return self._corrupt(super().rule_tolerance(recomputed, provider_output, challenger_output))


def draw_referee(
    pool: Sequence[MarketReferee],
    rng: np.random.Generator,
    *,
    exclude: Sequence[str] = (),
    weighting: str = "uniform",
) -> MarketReferee:
    """Draw a market referee from ``pool``, never one named in ``exclude`` (the parties).

    ``weighting="uniform"``: each eligible provider equally likely; ``"stake"``: in proportion
    to its stake (a provider with zero stake is never drawn), exactly for stakes of any size
    (10**400 included): one uniform draw ``u`` (the draw ``rng.choice(n, p=...)`` makes) picks
    the first referee whose cumulative stake exceeds ``u`` times the total, compared in
    integers (numpy's float weights give the same pick except where ``u`` falls within
    rounding of a boundary, and overflow beyond 1.8e308).

    Raises
    ------
    ValueError
        No eligible referee, duplicate names in the pool (a name is a ledger account: two
        referees under one name could not be told apart, and excluding one excludes both), or
        an unknown weighting.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting = {weighting!r} is not one of {list(WEIGHTINGS)}")
    check_pool(pool)
    excluded = set(exclude)
    eligible = [r for r in pool if r.name not in excluded]
    if weighting == "stake":
        eligible = [r for r in eligible if r.stake > 0]
    if not eligible:
        raise ValueError(f"no eligible referee in a pool of {len(pool)} (excluding {list(exclude)})")
    if weighting == "uniform":
        return eligible[int(rng.integers(len(eligible)))]
    # exact integer arithmetic: u = m / 2**53 exactly, pick the first i with cum_i > u * total
    m = int(rng.random() * 2**53)
    total = sum(int(r.stake) for r in eligible)
    cum = 0
    for r in eligible:  # a pool of referees: a few hundred at most, exact ints
        cum += int(r.stake)
        if cum * 2**53 > m * total:
            return r
    return eligible[-1]  # unreachable: cum == total and m < 2**53


def check_pool(pool: Sequence[MarketReferee]) -> Sequence[MarketReferee]:
    """``pool`` if it is a sequence of :class:`MarketReferee` with distinct names, else one
    error naming the problem (a name is a ledger account; duplicates cannot be told apart)."""
    if isinstance(pool, (str, bytes)) or not isinstance(pool, Sequence):
        raise TypeError(f"pool must be a sequence of MarketReferee, got {type(pool).__name__}")
    bad = [r for r in pool if not isinstance(r, MarketReferee)]
    if bad:
        raise TypeError(f"pool must hold MarketReferee, got {type(bad[0]).__name__}")
    names = Counter(r.name for r in pool)
    dupes = sorted(n for n, c in names.items() if c > 1)
    if dupes:
        raise ValueError(f"pool has referees with the same name {dupes}: names must be distinct")
    return pool


def appeal_pays(at_stake: float, appeal_bond: float, overturn_probability: float, budget: float) -> bool:
    """Whether a wronged party appeals: it can lock the bond and ``q * at_stake > (1 - q) * bond``.

    Examples
    --------
    >>> appeal_pays(1000, 1000, 1.0, 5000), appeal_pays(1000, 6000, 1.0, 5000)
    (True, False)
    >>> appeal_pays(1000, 3000, 0.7, 5000)  # 700 < 900
    False
    """
    if appeal_bond > budget:
        return False
    q = overturn_probability
    return q * at_stake > (1.0 - q) * appeal_bond


@dataclass(frozen=True)
class Adjudication:
    """A dispute ruled by a market referee, perhaps appealed.

    Attributes
    ----------
    outcome : DisputeOutcome
        The first-instance dispute (ruled by ``first_referee``).
    trusted_verdict : str
        What the platform's trusted stack rules on the same dispute (the reference).
    first_referee : MarketReferee
    first_verdict : str
    appellant : str or None
        ``"provider"``, ``"challenger"`` or None (no appeal).
    appeal_referee : MarketReferee or None
        The second market referee (None: no appeal, or the appeal went to the trusted stack).
    final_verdict : str
    """

    outcome: DisputeOutcome
    trusted_verdict: str
    first_referee: MarketReferee
    first_verdict: str
    appellant: str | None
    appeal_to: str | None
    appeal_referee: MarketReferee | None
    final_verdict: str

    @property
    def appealed(self) -> bool:
        return self.appellant is not None

    @property
    def overturned(self) -> bool:
        return self.appealed and self.final_verdict != self.first_verdict

    @property
    def wrong(self) -> bool:
        """The final verdict differs from the trusted stack's."""
        return self.final_verdict != self.trusted_verdict


def _at_stake(side: str, params: DisputeParams, payment: int) -> float:
    if side == "provider":
        return params.slash_fraction * params.provider_stake + payment
    return float(params.challenger_bond)


#: How good each verdict is for the provider (the challenger's order is the reverse).
_PROVIDER_RANK = {"provider_guilty": 0, "ambiguous": 1, "challenger_wrong": 2}


def _wronged(first: str, trusted: str) -> str | None:
    """The party the first ruling treats worse than the trusted stack would (None: same)."""
    diff = _PROVIDER_RANK[first] - _PROVIDER_RANK[trusted]
    return None if diff == 0 else ("provider" if diff < 0 else "challenger")


def adjudicate(
    computation: Computation,
    provider: Strategy,
    challenger: Strategy,
    pool: Sequence[MarketReferee],
    *,
    params: DisputeParams | None = None,
    appeal_to: str | None = "trusted",
    weighting: str = "uniform",
    parties: tuple[str, str] = ("provider", "challenger"),
    appeal_budget: int = 5_000,
    payment: int = 100,
    bribe: tuple[str, int] | None = None,
    seed: int = 0,
    game: Callable[[Referee], DisputeOutcome] | None = None,
) -> Adjudication:
    """Play a dispute ruled by a market referee drawn from ``pool``, with an optional appeal.

    Parameters
    ----------
    computation, provider, challenger
        As :func:`~oasis_lab.disputes.bisection.play`.
    pool : sequence of MarketReferee
        The active providers that may referee.
    params : DisputeParams, optional
        Comparison, tolerances, stake, bonds, ``appeal_bond``.
    appeal_to : {"trusted", "market", None}
        Where a wronged party may appeal.
    weighting : {"uniform", "stake"}
    parties : (str, str)
        Pool names of the provider and the challenger (never drawn as referee).
    appeal_budget : int
        Tokens a party can lock for an appeal.
    payment : int
        The task payment (at stake for the provider).
    bribe : (str, int), optional
        A bribe offered to the referees by ``"provider"`` or ``"challenger"``.
    seed : int
    game : callable, optional
        ``game(referee)`` plays (or looks up) the dispute ruled by ``referee``; default: it is
        played with :func:`~oasis_lab.disputes.bisection.play`. The simulation passes its court's
        game, seeded by the disputed job: every referee rules on the same traces (and a game
        whose parties drew nothing is looked up by what decides its verdict: the trusted stack,
        or a market referee's rounding and the side it takes).

    Returns
    -------
    Adjudication
    """
    from oasis_lab.seeding import stream

    params = params if params is not None else DisputeParams()
    check_pool(pool)
    if appeal_to not in APPEAL_TO:
        raise ValueError(f"appeal_to = {appeal_to!r} is not one of {list(APPEAL_TO)}")
    rng = stream(seed, "market-referee")
    trusted = Referee.from_params(params)

    def with_rules(ref: MarketReferee) -> MarketReferee:
        # the market referee compares like the protocol says, on its own device
        return replace(ref, comparison=params.comparison, atol=params.atol, max_ulp=params.max_ulp,
                       offer=bribe)

    def played(referee: Referee) -> DisputeOutcome:
        return play(computation, provider, challenger, params=params, referee=referee, seed=seed, record=False)

    rule = game if game is not None else played
    first = with_rules(draw_referee(pool, rng, exclude=parties, weighting=weighting))
    out = rule(first)
    reference = rule(trusted)
    final = out.verdict
    appellant = None
    second: MarketReferee | None = None
    # Each party can recompute the disputed node on the platform's reference stack itself, so
    # it knows whether the trusted stack would rule otherwise: only such a party appeals.
    loser = _wronged(out.verdict, reference.verdict)
    if appeal_to is not None and loser is not None:
        if appeal_to == "trusted":
            q = 1.0
        else:
            others = [r for r in pool if r.name not in (*parties, first.name)]
            q = float(np.mean([r.strategy == "honest" for r in others])) if others else 0.0
        if appeal_pays(_at_stake(loser, params, payment), params.appeal_bond, q, appeal_budget):
            appellant = loser
            if appeal_to == "trusted":
                final = reference.verdict
            else:
                second = with_rules(
                    draw_referee(pool, rng, exclude=(*parties, first.name), weighting=weighting)
                )
                final = rule(second).verdict
    return Adjudication(
        outcome=out,
        trusted_verdict=reference.verdict,
        first_referee=first,
        first_verdict=out.verdict,
        appellant=appellant,
        appeal_to=appeal_to if appellant else None,
        appeal_referee=second,
        final_verdict=final,
    )


def apply_to_ledger(
    ledger: Ledger,
    adj: Adjudication,
    *,
    task: str,
    challenge: str,
    provider: str,
    challenger: str,
) -> None:
    """Apply an adjudication to ``ledger``: the challenge of escrowed ``task`` (opened here),
    the appeal if one was lodged, and the final verdict. Referees are the pool names (ledger
    providers)."""
    ledger.challenge(challenge, task, challenger)
    if not adj.appealed:
        ledger.resolve(challenge, adj.final_verdict, referee=adj.first_referee.name)
        return
    appellant = provider if adj.appellant == "provider" else challenger
    appeal = f"{challenge}-appeal"
    ledger.appeal(appeal, challenge, appellant)
    ledger.resolve_appeal(
        appeal,
        first_verdict=adj.first_verdict,
        final_verdict=adj.final_verdict,
        first_referee=adj.first_referee.name,
        appeal_referee=adj.appeal_referee.name if adj.appeal_referee is not None else None,
    )
