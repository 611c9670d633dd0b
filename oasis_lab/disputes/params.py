"""Frozen, validated parameters of the optimistic fault proofs (whitepaper section 5).

Every reading of section 5 that the code takes is a field of :class:`DisputeParams`; what each
changes is measured in ``docs/mechanism.md`` ("Fault proofs").
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from typing import Any

from oasis_lab.checks import (
    FieldCheck,
    as_given,
    check_bool,
    check_choice,
    check_fields,
    check_fraction,
    check_int,
    check_real,
)
from oasis_lab.disputes.commitments import COMMITMENTS
from oasis_lab.params import ParamsMixin

__all__ = [
    "COMPARISONS",
    "EXACT_READINGS",
    "MAX_ULP_LIMIT",
    "SLASH_REMAINDER",
    "DisputeParams",
    "check_engines",
    "exact_fraction",
]

COMPARISONS: tuple[str, ...] = ("exact", "tolerance")
#: How the exact referee reads a provider's output that no engine reproduces (issue 20 item 4):
#: ``"rounding"`` (within ``rounding_ulp`` of an engine's at a float node: ambiguous) or
#: ``"strict"`` (guilty whatever the distance, on the referee's own backend only).
EXACT_READINGS: tuple[str, ...] = ("rounding", "strict")
#: Largest ``max_ulp``: ULP distances are unsigned 64-bit (a NaN is at distance 2**64 - 1), and
#: 2**63 - 1 already spans every pair of finite float64 of one sign.
MAX_ULP_LIMIT = 2**63 - 1
SLASH_REMAINDER: tuple[str, ...] = ("burn", "platform")
#: Pairs of fractions paid out of one amount (a slashed stake, a forfeited bond, a slashed
#: referee stake): each pair must sum to at most 1, exactly as the ledger reads them.
_SHARED_FRACTIONS: tuple[tuple[str, str], ...] = (
    ("challenger_reward_fraction", "referee_reward_fraction"),
    ("bond_to_provider_fraction", "referee_reward_fraction"),
    ("appeal_reward_fraction", "referee_reward_fraction"),
)


def check_engines(name: str, engines: object) -> tuple[str, ...]:
    """``engines`` as a tuple of non-empty backend names (a list from a config file is read as
    one), else one error naming ``name`` and the bad value."""
    if isinstance(engines, (str, bytes)) or not isinstance(engines, (tuple, list)):
        raise TypeError(f"{name} must be a tuple of backend names, got {engines!r}")
    bad = [e for e in engines if not isinstance(e, str) or not e]
    if bad:
        raise TypeError(f"{name} must hold backend names (non-empty strings), got {bad[0]!r}")
    return tuple(engines)


def exact_fraction(value: float) -> Fraction:
    """A fraction of tokens as the ledger reads it: the exact decimal the float prints as
    (``0.1`` is 1/10, ``1 - 0.7`` is 0.30000000000000004), THE reading of every share.

    Examples
    --------
    >>> exact_fraction(0.1), exact_fraction(1 - 0.7) + exact_fraction(0.7) > 1
    (Fraction(1, 10), True)
    """
    return Fraction(repr(float(value)))


@dataclass(frozen=True)
class DisputeParams(ParamsMixin):
    """Parameters of the dispute game, the referee and the slashing ledger (section 5).

    Parameters
    ----------
    arity : int, default 2
        Parts per round of the dissection: 2 is bisection, ``k`` is k-way dissection, in which
        the defending provider reveals ``arity - 1`` commitments per round. A dispute over
        ``n`` nodes ends in at most ``ceil(log_arity(n))`` rounds.
    comparison : {"exact", "tolerance"}, default "exact"
        How the referee compares its recomputed node with the parties' claims: bitwise (through
        the hash chain) or within ``atol`` / ``max_ulp`` on the opened outputs.
    exact_reading : {"rounding", "strict"}, default "rounding"
        ``comparison="exact"`` only. ``"rounding"``: the referee recomputes the disputed node on
        every engine of ``referee_engines`` this machine can run; a provider whose commitment
        is one engine's bits is upheld; one whose output (then opened) is within
        ``rounding_ulp`` ULPs of an engine's at a float node is not convicted there (what
        device rounding can explain: ``ambiguous``, unless a later node of its trace is beyond
        the bound against its own inputs, which convicts); beyond the bound, or any
        difference at a discrete node, is guilty. ``"strict"``: bitwise on ``referee_backend``
        only, any difference guilty (an honest provider whose device rounds a node
        differently is convicted).
    rounding_ulp : int, default 4
        The bound of ``exact_reading="rounding"``: ULPs of one float element that rounding on
        another device can explain (0: no rounding is excused). At most ``2**63 - 1``.
    referee_engines : tuple of str, default ("numpy", "webgpu")
        Engines the ``"rounding"`` exact referee recomputes the disputed node on besides
        ``referee_backend``, where the computation can run them (a synthetic computation runs
        on ``numpy`` only; ``webgpu`` needs an adapter). Names of
        :mod:`oasis_lab.gpu.backends`.
    atol : float, default 0.0
        Absolute tolerance (``comparison="tolerance"``): elements within ``atol`` agree.
    max_ulp : int, default 4
        ULP tolerance (``comparison="tolerance"``): elements at most ``max_ulp`` units in the
        last place apart agree. An element agrees when either threshold holds. Both
        tolerances apply to floating-point outputs only: discrete outputs (token ids,
        quantized activations) must be equal in every mode. At most ``2**63 - 1``.
    round_timeout_s : float, default 60.0
        The clock of one round: a party whose answer takes longer loses the dispute.
    referee_backend : str, default "numpy"
        Backend the referee recomputes the disputed node on (``"numpy"`` or ``"webgpu"``).
    provider_stake : int, default 10_000
        Tokens a provider locks before it may accept tasks. Token amounts are exact Python
        integers of the smallest unit, unbounded (no float, no int64 limit).
    challenger_bond : int, default 1_000
        Tokens a challenger locks when it opens a challenge; forfeited when it is wrong.
    slash_fraction : float, default 1.0
        Share of a convicted provider's stake that is slashed (the rest is returned when it is
        removed). The paper removes cheaters "with prejudice": the default slashes everything.
    challenger_reward_fraction : float, default 0.5
        Share of the slashed stake paid to the challenger who proved the fault.
    referee_reward_fraction : float, default 0.1
        Share of the forfeited amount (slashed stake or lost bond) paid to the referee, the
        "service provider assigned to recompute" whom the paper also rewards.
    slash_remainder : {"burn", "platform"}, default "burn"
        Where the rest of a slashed stake or forfeited bond goes.
    bond_to_provider_fraction : float, default 0.5
        Share of a wrong challenger's bond paid to the provider it had barred.
    reauction_priority : bool, default True
        A task whose payment was reversed after a conviction re-enters the auction with
        priority (the paper's "returned to the auction with higher priority").
    appeal_bond : int, default 1_000
        Tokens a party locks to appeal a market referee's verdict (returned when the appeal
        overturns it, forfeited otherwise).
    referee_slash_fraction : float, default 1.0
        Share of a market referee's stake slashed when an appeal overturns its verdict (the
        referee is then removed like a convicted provider).
    appeal_reward_fraction : float, default 0.5
        Share of the slashed referee stake paid to the appellant who proved it wrong.
    commitment : {"chain", "merkle"}, default "chain"
        How traces are committed (:data:`oasis_lab.disputes.commitments.COMMITMENTS`): the hash
        chain (one hash per node, openings up to ``O(n)``) or prefix Merkle roots (``O(log n)``
        openings, ``D + 2`` hashes per node to build). The bisection is the same.

    Every fraction of tokens is read as the exact decimal it prints as
    (:func:`exact_fraction`, the ledger's reading), and the fractions paid out of one amount
    (``challenger_reward_fraction``, ``bond_to_provider_fraction`` and
    ``appeal_reward_fraction``, each with ``referee_reward_fraction``) must sum to at most 1
    in that reading, so every valid set of parameters settles every verdict at every stake.

    Raises
    ------
    ValueError, TypeError
        Naming the field and the bad value, e.g. ``arity = 1 must be >= 2``.
    """

    arity: int = 2
    comparison: str = "exact"
    exact_reading: str = "rounding"
    rounding_ulp: int = 4
    referee_engines: tuple[str, ...] = ("numpy", "webgpu")
    atol: float = 0.0
    max_ulp: int = 4
    round_timeout_s: float = 60.0
    referee_backend: str = "numpy"
    provider_stake: int = 10_000
    challenger_bond: int = 1_000
    slash_fraction: float = 1.0
    challenger_reward_fraction: float = 0.5
    referee_reward_fraction: float = 0.1
    slash_remainder: str = "burn"
    bond_to_provider_fraction: float = 0.5
    reauction_priority: bool = True
    appeal_bond: int = 1_000
    referee_slash_fraction: float = 1.0
    appeal_reward_fraction: float = 0.5
    commitment: str = "chain"

    def __post_init__(self) -> None:
        check_fields(self, _DISPUTE_CHECKS)
        # Exactly as the ledger pays them (floor of each exact share): two shares of one amount
        # then never exceed it, at any stake; a float sum would pass 1 - 0.7 + 0.7.
        for a, b in _SHARED_FRACTIONS:
            x, y = getattr(self, a), getattr(self, b)
            if exact_fraction(x) + exact_fraction(y) > 1:
                raise ValueError(
                    f"{a} + {b} = {x!r} + {y!r} must be <= 1, each read as the exact decimal it "
                    f"prints as (the ledger's reading; the sum is "
                    f"{float(exact_fraction(x) + exact_fraction(y) - 1):.3g} above 1)"
                )


def _check_backend_name(name: str, value: Any) -> Any:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a backend name, got {value!r}")
    return value


#: Each field's check (:func:`oasis_lab.checks.check_fields`): integers as exact Python ints,
#: fractions and tolerances as given; the sums of fractions are checked after them.
_DISPUTE_CHECKS: dict[str, FieldCheck] = {
    "arity": partial(check_int, minimum=2),
    "comparison": partial(check_choice, choices=COMPARISONS),
    "exact_reading": partial(check_choice, choices=EXACT_READINGS),
    "rounding_ulp": partial(check_int, minimum=0, maximum=MAX_ULP_LIMIT),
    "referee_engines": check_engines,
    "slash_remainder": partial(check_choice, choices=SLASH_REMAINDER),
    "referee_backend": _check_backend_name,
    "atol": as_given(partial(check_real, minimum=0)),
    "max_ulp": partial(check_int, minimum=0, maximum=MAX_ULP_LIMIT),
    "round_timeout_s": as_given(partial(check_real, positive=True)),
    "provider_stake": partial(check_int, minimum=0),
    "challenger_bond": partial(check_int, minimum=0),
    "appeal_bond": partial(check_int, minimum=0),
    **{name: as_given(check_fraction) for name in (
        "slash_fraction",
        "challenger_reward_fraction",
        "referee_reward_fraction",
        "bond_to_provider_fraction",
        "referee_slash_fraction",
        "appeal_reward_fraction",
    )},
    "reauction_priority": check_bool,
    "commitment": partial(check_choice, choices=COMMITMENTS),
}
