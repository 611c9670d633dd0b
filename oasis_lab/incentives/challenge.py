"""The challenge game of section 5: who checks, who cheats, and who can afford to take part.

Section 5 secures results by challenges ("users ... can challenge", the platform "will also
randomly initiate challenges") and slashing. :mod:`oasis_lab.disputes.economics` treats the
challenge probability as given; here it is a choice. Checking costs a full recomputation and
pays only when the provider cheated (the verifier's dilemma: Luu et al., CCS 2015; Truebit;
Proof of Sampling), so a rational challenger mixes, and so does a rational cheater.

The inspection game, with the ledger's own rules (:class:`~oasis_lab.disputes.params.DisputeParams`):

- a **provider** serves a task for payment ``P`` and may cheat, saving ``G``; a challenged
  cheater is convicted (exact referee, proved in the disputes tests): it loses ``P`` (the
  payment is reversed) and the slashed stake ``f S`` (``slash_fraction`` of ``provider_stake``);
- a **challenger** re-executes at cost ``K`` and locks the bond ``B`` (``challenger_bond``)
  for the challenge window at a capital cost ``lambda B``; when it proves a fault it earns
  ``R = rho f S`` (``challenger_reward_fraction`` ``rho`` of the slashed stake), plus ``P`` when
  the challenger is the user who paid;
- the **platform** challenges each task independently at rate ``r``.

With ``p`` the challenger's rate and ``q`` the provider's cheating rate, a cheat is caught with
probability ``pi = 1 - (1 - p)(1 - r)``. The provider is indifferent at ``pi* = G / (P + f S)``
and the challenger at ``q* = (K + lambda B) / R``. If ``r < pi*`` and ``q* < 1`` the unique
equilibrium is mixed: fraud rate ``q*`` and challenge rate ``p* = 1 - (1 - pi*) / (1 - r)``; the
fraud rate does not depend on the stake or on ``r`` at all. If ``r >= pi*`` nobody cheats and
nobody else challenges. If ``q* >= 1`` challenging never pays and providers cheat unless
``r >= pi*``. So keeping fraud below a target ``tau < q*`` needs ``r >= pi*``
(:func:`platform_challenge_rate`).

An **honest provider whose device rounds differently** from the referee's (probability ``d``
per task that its output differs bitwise) is convicted in exact mode whenever it is challenged
(:func:`honest_participation`): it expects to lose ``pi d (P + f S)`` per task, which at the
equilibrium challenge probability is ``d G``. Under the tolerance referee it loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.checks import FieldCheck, as_given, check_bool, check_fields, check_fraction, check_instance, check_real
from oasis_lab.disputes.params import DisputeParams
from oasis_lab.params import ParamsMixin

__all__ = [
    "MAX_TOKENS",
    "ChallengeEquilibrium",
    "ChallengeGame",
    "challenge_equilibrium",
    "equilibrium_by_stake",
    "fraud_by_platform_rate",
    "honest_participation",
    "participation_curve",
    "mixed_equilibrium_2x2",
    "payoff_matrices",
    "platform_challenge_rate",
]


#: Largest token amount of the game (payment, gain, recompute cost, stake, bond) and largest
#: capital cost: every sum and product of two of them stays finite in float64 (the ledger's
#: integers are exact at any size; the game's closed forms are floats).
MAX_TOKENS = 1e150

#: Each field's check of :class:`ChallengeGame` (:func:`oasis_lab.checks.check_fields`).
_GAME_CHECKS: dict[str, FieldCheck] = {
    **dict.fromkeys(("payment", "gain", "recompute_cost", "capital_cost"),
                    as_given(partial(check_real, minimum=0.0, maximum=MAX_TOKENS))),
    "platform_rate": as_given(check_fraction),
    "challenger_is_user": check_bool,
    "dispute": partial(check_instance, cls=DisputeParams),
}


@dataclass(frozen=True)
class ChallengeGame(ParamsMixin):
    """One task's challenge game (section 5), in tokens per task.

    Parameters
    ----------
    payment : float, default 100
        ``P``: what the user pays; reversed on conviction.
    gain : float, default 50
        ``G``: what a cheating provider saves (the compute it skips).
    recompute_cost : float, default 50
        ``K``: a challenger's cost of re-executing the task.
    capital_cost : float, default 0
        ``lambda``: cost of locking the bond for the challenge window, as a share of the bond.
    platform_rate : float, default 0
        ``r``: the platform's independent random-challenge rate.
    challenger_is_user : bool, default False
        The challenger is the user who paid: a proven fault also refunds it ``P``.
    dispute : DisputeParams
        Stake, slash fraction, challenger reward fraction and bond (the ledger's rules).
    """

    payment: float = 100.0
    gain: float = 50.0
    recompute_cost: float = 50.0
    capital_cost: float = 0.0
    platform_rate: float = 0.0
    challenger_is_user: bool = False
    dispute: DisputeParams = field(default_factory=DisputeParams)

    def __post_init__(self) -> None:
        check_fields(self, _GAME_CHECKS)
        for name in ("provider_stake", "challenger_bond"):
            # DisputeParams takes any integer (the ledger is exact); the closed forms are floats
            value = getattr(self.dispute, name)
            if value > MAX_TOKENS:
                raise ValueError(f"dispute.{name} = {value} must be <= {MAX_TOKENS:g} (the challenge game's "
                                 "closed forms are float64)")

    @property
    def slashed(self) -> float:
        """``f S``: stake taken from a convicted provider."""
        return self.dispute.slash_fraction * self.dispute.provider_stake

    @property
    def provider_loss(self) -> float:
        """``P + f S``: what a conviction costs the provider."""
        return self.payment + self.slashed

    @property
    def reward(self) -> float:
        """``R``: what a challenger earns by proving a fault."""
        refund = self.payment if self.challenger_is_user else 0.0
        return self.dispute.challenger_reward_fraction * self.slashed + refund

    @property
    def check_cost(self) -> float:
        """``K + lambda B``: what one challenge costs the challenger."""
        return self.recompute_cost + self.capital_cost * self.dispute.challenger_bond


@dataclass(frozen=True)
class ChallengeEquilibrium:
    """Equilibrium of :class:`ChallengeGame`.

    Attributes
    ----------
    kind : str
        ``"mixed"``, ``"deterred"`` (``r >= pi*``: nobody cheats) or ``"unchecked"``
        (challenging never pays, ``q* >= 1``: providers cheat unless the platform deters).
    challenge_rate : float
        ``p``, the (non-platform) challenger's rate.
    fraud_rate : float
        ``q``, the provider's cheating rate.
    detection : float
        ``pi = 1 - (1 - p)(1 - r)``.
    pi_star, q_star : float
        The indifference points ``G / (P + f S)`` and ``(K + lambda B) / R``.
    """

    kind: str
    challenge_rate: float
    fraud_rate: float
    detection: float
    pi_star: float
    q_star: float

    def as_dict(self) -> dict[str, Any]:
        """The fields as a dict (a table row)."""
        return dict(self.__dict__)


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else (0.0 if a == 0 else np.inf)


def challenge_equilibrium(game: ChallengeGame) -> ChallengeEquilibrium:
    """The equilibrium of the challenge game in closed form (module docstring).

    Examples
    --------
    >>> eq = challenge_equilibrium(ChallengeGame(dispute=DisputeParams(provider_stake=1000)))
    >>> round(eq.pi_star, 4), round(eq.fraud_rate, 4)
    (0.0455, 0.1)
    """
    if not isinstance(game, ChallengeGame):
        raise TypeError(f"game must be a ChallengeGame, got {type(game).__name__}")
    r = game.platform_rate
    pi_star = _ratio(game.gain, game.provider_loss)
    q_star = _ratio(game.check_cost, game.reward)
    if r >= pi_star:
        return ChallengeEquilibrium("deterred", 0.0, 0.0, r, pi_star, q_star)
    if q_star >= 1.0:
        return ChallengeEquilibrium("unchecked", 0.0, 1.0, r, pi_star, q_star)
    p = 1.0 - (1.0 - pi_star) / (1.0 - r)
    return ChallengeEquilibrium("mixed", float(p), float(q_star), float(pi_star), pi_star, q_star)


def payoff_matrices(game: ChallengeGame) -> tuple[np.ndarray, np.ndarray]:
    """Provider and challenger payoffs of the 2x2 game, built from the ledger's transfers.

    Rows: provider honest / cheat; columns: challenger does not challenge / challenges. The
    platform's rate ``r`` is folded into the provider's payoffs. The provider's payoffs are
    relative to serving honestly unchallenged (``P`` minus its cost, which cancels).

    Returns
    -------
    provider, challenger : numpy.ndarray, shape (2, 2)
    """
    r = game.platform_rate
    loss, g = game.provider_loss, game.gain
    # A cheat is caught by the platform (rate r) or, in the second column, for sure.
    provider = np.array([[0.0, 0.0], [g - r * loss, g - loss]])
    challenger = np.array([[0.0, -game.check_cost], [0.0, game.reward - game.check_cost]])
    return provider, challenger


def mixed_equilibrium_2x2(row: np.ndarray, col: np.ndarray) -> tuple[float, float]:
    """Fully mixed equilibrium of a 2x2 bimatrix game by the indifference conditions.

    Returns ``(x, y)``: the probability of the *second* row and of the *second* column.

    Raises
    ------
    ValueError
        The game has no fully mixed equilibrium (an indifference has no solution in (0, 1)).
    """
    a = np.asarray(row, float)
    b = np.asarray(col, float)
    if a.shape != (2, 2) or b.shape != (2, 2):
        raise ValueError("row and col must be 2x2 payoff matrices")
    # Column player indifferent: (1-x) b00 + x b10 = (1-x) b01 + x b11.
    den_x = (b[1, 0] - b[0, 0]) - (b[1, 1] - b[0, 1])
    # Row player indifferent: (1-y) a00 + y a01 = (1-y) a10 + y a11.
    den_y = (a[0, 1] - a[0, 0]) - (a[1, 1] - a[1, 0])
    if den_x == 0 or den_y == 0:
        raise ValueError("no fully mixed equilibrium: a player is never indifferent")
    x = (b[0, 1] - b[0, 0]) / den_x
    y = (a[1, 0] - a[0, 0]) / den_y
    if not (0 < x < 1 and 0 < y < 1):
        raise ValueError(f"no fully mixed equilibrium: indifference at ({x:.4g}, {y:.4g})")
    return float(x), float(y)


def platform_challenge_rate(game: ChallengeGame, fraud_target: float) -> float:
    """Smallest platform random-challenge rate ``r`` whose equilibrium fraud is ``<= target``.

    The equilibrium fraud rate is ``min(q*, 1)`` for every ``r < pi*`` and 0 from ``r = pi*``
    on, so the answer is 0 if ``target >= min(q*, 1)`` and ``pi* = G / (P + f S)`` otherwise
    (``inf`` if even ``r = 1`` does not deter, i.e. ``G > P + f S``).
    """
    tau = check_fraction("fraud_target", fraud_target)
    eq = challenge_equilibrium(game.replace(platform_rate=0.0))
    if eq.fraud_rate <= tau:
        return 0.0
    return float(eq.pi_star) if eq.pi_star <= 1.0 else float("inf")


def fraud_by_platform_rate(game: ChallengeGame, rates: Any) -> pd.DataFrame:
    """Equilibrium challenge rate, fraud rate and detection for each platform rate ``r``."""
    rows = []
    for r in np.asarray(rates, float).ravel():
        eq = challenge_equilibrium(game.replace(platform_rate=float(r)))
        rows.append({"platform_rate": float(r), **eq.as_dict(),
                     "platform_checks_cost": float(r) * game.recompute_cost})
    return pd.DataFrame(rows)


def equilibrium_by_stake(game: ChallengeGame, stakes: Any) -> pd.DataFrame:
    """The equilibrium of ``game`` at each provider stake (``dispute.provider_stake``).

    Returns
    -------
    pandas.DataFrame
        One row per stake: :class:`ChallengeEquilibrium`'s fields and ``stake``.
    """
    if not isinstance(game, ChallengeGame):
        raise TypeError(f"game must be a ChallengeGame, got {type(game).__name__}")
    values = np.asarray(stakes).ravel()
    if values.dtype.kind not in "iu" or (values < 0).any():
        raise ValueError(f"stakes must be integer token amounts >= 0, got {stakes!r}")
    # one closed form per stake: a handful of scalar divisions each
    games = [game.replace(dispute=game.dispute.replace(provider_stake=int(s))) for s in values]
    return pd.DataFrame([challenge_equilibrium(g).as_dict() | {"stake": s} for g, s in zip(games, values, strict=True)])


def participation_curve(game: ChallengeGame, *, service_cost: float, probabilities: Any,
                        mismatch: float = 1.0) -> pd.DataFrame:
    """:func:`honest_participation`'s profit per task at each challenge probability.

    Returns
    -------
    pandas.DataFrame
        Indexed by the challenge probability; one column per referee mode (``"exact"``,
        ``"tolerance"``): the honest provider's expected profit per task.
    """
    ps = np.asarray(probabilities, dtype=float).ravel()
    rows = {float(p): honest_participation(game, service_cost=service_cost, mismatch=mismatch,
                                           challenge_probability=float(p))["profit"] for p in ps}
    frame = pd.DataFrame(rows).T
    frame.columns.name = None
    return frame


def honest_participation(
    game: ChallengeGame,
    *,
    service_cost: float,
    mismatch: float = 1.0,
    challenge_probability: float | None = None,
) -> pd.DataFrame:
    """Expected profit per task of an honest provider whose device rounds differently.

    Parameters
    ----------
    game : ChallengeGame
    service_cost : float
        The honest provider's cost of serving the task (its true cost).
    mismatch : float, default 1
        ``d``: probability that its output differs bitwise from the referee's device's.
    challenge_probability : float, optional
        Probability its task is challenged; default the equilibrium detection ``pi`` of
        ``game`` (``pi*`` in the mixed equilibrium).

    Returns
    -------
    pandas.DataFrame
        One row per referee mode (``"exact"``, ``"tolerance"``): ``challenge_probability``,
        ``expected_loss`` (``pi d (P + f S)`` in exact mode, 0 under tolerance: the referee
        compares within ``atol`` / ``max_ulp`` and a rounding difference is no fault),
        ``profit`` (``P - cost - loss``) and ``participates`` (``profit >= 0``).
    """
    cost = check_real("service_cost", service_cost, minimum=0.0)
    d = check_fraction("mismatch", mismatch)
    pi = (challenge_equilibrium(game).detection if challenge_probability is None
          else check_fraction("challenge_probability", challenge_probability))
    rows = []
    for mode in ("exact", "tolerance"):
        loss = pi * d * game.provider_loss if mode == "exact" else 0.0
        profit = game.payment - cost - loss
        rows.append({"referee": mode, "challenge_probability": pi, "expected_loss": loss,
                     "profit": profit, "participates": bool(profit >= 0)})
    return pd.DataFrame(rows).set_index("referee")
