"""Pools of market referees and the economics of corrupting one (whitepaper section 5, issue 16).

* :func:`make_pool`: ``size`` market referees, a share of them corrupt (colluding with the
  provider, framing it, half each, or for sale).
* :func:`min_profitable_bribe`: the bribe at which corruption pays a referee,
  ``caught * (referee_slash_fraction * stake + fee)``.
* :func:`caught_probability`: the probability that a wrong ruling is appealed and overturned,
  under the appeal reading of :func:`~oasis_lab.disputes.market_referee.appeal_pays`.

The studies that draw pools and play disputes ruled by them (wrong-verdict rates against the
corrupt share, the appeal bond and the referee stake; the recomputation split over ``n``
verifiers) are experiments: ``referee_market`` and ``split_verification`` of
:mod:`oasis_lab.experiments.referees`.
"""

from __future__ import annotations

import math

from oasis_lab.checks import check_choice, check_fraction, check_int, check_real
from oasis_lab.disputes.market_referee import APPEAL_TO, MarketReferee, appeal_pays
from oasis_lab.disputes.params import DisputeParams

__all__ = [
    "CORRUPT_KINDS",
    "MAX_POOL",
    "caught_probability",
    "make_pool",
    "min_profitable_bribe",
]

#: How the corrupt referees of a pool behave: all ``collude`` (free cheaters), all ``frame``
#: (convict honest providers), ``mixed`` (half each), or ``bribable`` (for sale).
CORRUPT_KINDS: tuple[str, ...] = ("collude", "frame", "mixed", "bribable")

#: Largest pool :func:`make_pool` builds (one referee object each; a market's active providers).
MAX_POOL = 1_000_000


def min_profitable_bribe(referee_stake: int, slash_fraction: float, caught: float, fee: float = 0.0) -> float:
    """The smallest bribe for which a referee gains by ruling wrongly.

    A corrupt ruling is caught (appealed and overturned) with probability ``caught``; then
    the referee loses ``slash_fraction * referee_stake`` and the fee it would have earned.
    Corruption pays iff ``bribe >= caught * (slash_fraction * referee_stake + fee)``.

    Parameters
    ----------
    referee_stake : int
        Tokens, ``>= 0``.
    slash_fraction, caught : float
        In ``[0, 1]``.
    fee : float
        Tokens, finite and ``>= 0``.

    Raises
    ------
    TypeError, ValueError
        A bad argument (named), or a stake and fee whose sum is beyond float64.

    Examples
    --------
    >>> min_profitable_bribe(10_000, 1.0, 1.0, fee=100)
    10100.0
    >>> min_profitable_bribe(10_000, 1.0, 0.0)  # no appeal path: any bribe pays
    0.0
    """
    stake = check_int("referee_stake", referee_stake, 0)
    check_real("referee_stake", stake)  # finite as a float: beyond 1.8e308 it is refused by name
    f = check_fraction("slash_fraction", slash_fraction)
    q = check_fraction("caught", caught)
    fee = check_real("fee", fee, minimum=0.0)
    price = q * (f * stake + fee)
    if not math.isfinite(price):
        raise ValueError(f"referee_stake = {stake} and fee = {fee!r}: the bribe overflows float64")
    return float(price)


def caught_probability(
    appeal_to: str | None,
    params: DisputeParams,
    *,
    at_stake: float,
    appeal_budget: int,
    honest_share: float = 1.0,
) -> float:
    """Probability that a wrong ruling is appealed and overturned, under the appeal reading of
    :func:`~oasis_lab.disputes.market_referee.appeal_pays` (the wronged party appeals when
    it pays; a market appellate referee rules correctly with probability ``honest_share``).

    Parameters
    ----------
    appeal_to : {"trusted", "market", None}
        Where a wronged party may appeal (``None``: nowhere).
    params : DisputeParams
        Its ``appeal_bond``.
    at_stake : float
        Tokens the wronged party stands to lose, ``>= 0``.
    appeal_budget : int
        Tokens the wronged party can lock for an appeal, ``>= 0``.
    honest_share : float
        Share of honest referees in the pool, in ``[0, 1]``.

    Examples
    --------
    >>> caught_probability("trusted", DisputeParams(), at_stake=1000, appeal_budget=5000)
    1.0
    >>> caught_probability("trusted", DisputeParams(appeal_bond=6000), at_stake=1000, appeal_budget=5000)
    0.0
    """
    if appeal_to not in APPEAL_TO:
        raise ValueError(f"appeal_to = {appeal_to!r} is not one of {list(APPEAL_TO)}")
    if not isinstance(params, DisputeParams):
        raise TypeError(f"params must be a DisputeParams, got {type(params).__name__}")
    stake = check_real("at_stake", at_stake, minimum=0.0)
    budget = check_int("appeal_budget", appeal_budget, 0)
    honest = check_fraction("honest_share", honest_share)
    if appeal_to is None:
        return 0.0
    q = 1.0 if appeal_to == "trusted" else honest
    return q if appeal_pays(stake, params.appeal_bond, q, budget) else 0.0


def make_pool(
    size: int,
    corrupt_share: float,
    *,
    corrupt_kind: str = "collude",
    stake: int = 10_000,
    bribe_price: int = 0,
    rounding_ulps: int = 0,
) -> list[MarketReferee]:
    """A pool of ``size`` market referees, ``round(corrupt_share * size)`` of them corrupt.

    Raises
    ------
    TypeError, ValueError
        ``size`` outside ``[1, MAX_POOL]``, a share outside ``[0, 1]``, an unknown kind.
    """
    size = check_int("size", size, 1, MAX_POOL)
    share = check_fraction("corrupt_share", corrupt_share)
    check_choice("corrupt_kind", corrupt_kind, CORRUPT_KINDS)
    n_bad = round(share * size)
    pool = []
    for i in range(size):  # one referee object each (a frozen dataclass): no array to vectorise
        if i >= n_bad:
            strategy = "honest"
        elif corrupt_kind == "mixed":
            strategy = "collude" if i % 2 == 0 else "frame"
        else:
            strategy = corrupt_kind
        pool.append(
            MarketReferee(
                name=f"ref{i}",
                strategy=strategy,
                stake=stake,
                bribe_price=bribe_price,
                rounding_ulps=rounding_ulps,
            )
        )
    return pool
