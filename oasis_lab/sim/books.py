"""The simulation's token books: the slashing ledger of section 5 on integer arrays.

:class:`oasis_lab.disputes.ledger.Ledger` records every transfer as an object, which is right
for one dispute and far too slow for 10,000 tasks a round over 1,000 rounds. :class:`Books`
keeps the same accounts and applies the same operations (deposit, stake, escrow, settle,
challenge, the three verdicts, withdrawal) in bulk:

- amounts are exact integers in the smallest token unit (``SimConfig.token_unit`` of them to a
  token; numpy int64 arrays for the per-provider accounts, Python ints elsewhere). Prices are
  floats; a job's payment becomes ``floor(spend * token_unit)`` smallest units here, at the
  ledger boundary, and nowhere else. Stakes and bonds (whole tokens in ``DisputeParams``) are
  multiplied by ``token_unit``;
- shares (fee, slash, rewards) follow the Ledger's rule
  (:func:`oasis_lab.disputes.ledger.token_share`: the fraction read as the decimal it prints, the
  product floored exactly); remainders go to ``burn`` or ``platform`` per ``slash_remainder``;
- the platform ``fee`` of the auction is taken at settlement: the provider gets
  ``payment - floor(payment * fee)`` and the platform the rest (the Ledger itself has no fee);
- users are one pooled account (each task's user deposits exactly its payment when it escrows
  and is refunded to the pool; per-task refunds are in the simulation's job records);
- the two challengers (``user`` and ``platform``) fund a bond from their balance and deposit
  the shortfall.

:meth:`Books.check` proves conservation after every round: all accounts together hold exactly
what was deposited minus what was withdrawn, no account is negative, the open escrows and
bonds hold what the pending challenges say, and no removed provider (a convicted provider, a
market referee overturned on appeal) holds more than it held when it was removed, plus what it
deposited itself since: it receives nothing after its removal (a forfeited bond's provider
share and an appeal reward due to it join the remainder, as in the Ledger). ``tests/sim``
replays a simulation's operations through :class:`~oasis_lab.disputes.ledger.Ledger` and finds
the same balances.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from oasis_lab.disputes.ledger import LedgerError, token_share, token_shares
from oasis_lab.disputes.params import DisputeParams
from oasis_lab.disputes.referee import VERDICTS

__all__ = ["CHALLENGERS", "Books"]

#: The challenger accounts: a task's user, and the platform's random challenges.
CHALLENGERS: tuple[str, ...] = ("user", "platform")


class Books:
    """Integer accounts of a simulation (see the module notes).

    Attributes
    ----------
    provider, stake : ndarray of int64
        Free balance and locked stake of each provider.
    users, platform, burn : int
    challenger : dict of str to int
        The ``user`` and ``platform`` challengers' balances.
    escrow_open, bonds_open : int
        Escrowed payments and locked bonds of the running challenges.
    deposited, withdrawn : int
        Everything that entered from and left to the outside.
    removed : ndarray of bool
        Providers removed (convicted, or slashed as a referee on appeal).
    held_at_removal : ndarray of int64
        A removed provider's free balance and stake when it was removed, plus what it has
        deposited since (the most it may hold: it receives nothing after its removal).
    """

    def __init__(self) -> None:
        self.provider = np.zeros(0, dtype=np.int64)
        self.stake = np.zeros(0, dtype=np.int64)
        self.users = 0
        self.platform = 0
        self.burn = 0
        self.challenger = {c: 0 for c in CHALLENGERS}
        self.escrow_open = 0
        self.bonds_open = 0
        self.deposited = 0
        self.withdrawn = 0
        self.removed = np.zeros(0, dtype=bool)
        self.held_at_removal = np.zeros(0, dtype=np.int64)

    # ---------------------------------------------------------------- providers
    def add_providers(self, n: int, stake: int) -> None:
        """``n`` providers join: each deposits ``stake`` and locks it."""
        self.provider = np.concatenate([self.provider, np.zeros(n, dtype=np.int64)])
        self.stake = np.concatenate([self.stake, np.full(n, stake, dtype=np.int64)])
        self.removed = np.concatenate([self.removed, np.zeros(n, dtype=bool)])
        self.held_at_removal = np.concatenate([self.held_at_removal, np.zeros(n, dtype=np.int64)])
        self.deposited += n * stake

    def withdraw_providers(self, idx: np.ndarray) -> int:
        """Providers ``idx`` leave: their balance and stake are withdrawn; returns the total."""
        amount = int(self.provider[idx].sum() + self.stake[idx].sum())
        self.provider[idx] = 0
        self.stake[idx] = 0
        self.withdrawn += amount
        return amount

    def add_challengers(self, names: list[str]) -> None:
        """Challenger accounts beside ``user`` and ``platform`` (learning challengers), empty."""
        for name in names:
            if name in self.challenger:
                raise ValueError(f"challenger account {name!r} exists already")
            self.challenger[name] = 0

    # ---------------------------------------------------------------- payments
    def escrow(self, payment: np.ndarray) -> None:
        """Users deposit and escrow the payments of a round's delivered jobs."""
        self.deposited += int(payment.sum())

    def settle(self, provider: np.ndarray, payment: np.ndarray, fee: float) -> np.ndarray:
        """Pay escrowed jobs to their providers, less the platform fee; returns the net amounts."""
        cut = token_shares(payment, fee)
        net = payment - cut
        np.add.at(self.provider, provider, net)
        self.platform += int(cut.sum())
        return net

    def refund(self, payment: np.ndarray) -> None:
        """Escrowed payments go back to their users (reversal, refund)."""
        self.users += int(payment.sum())

    # ---------------------------------------------------------------- challenges
    def open_challenge(self, challenger: str, amount: int, bond: int) -> int:
        """A challenger locks ``bond`` against an escrowed job of ``amount``; returns its deposit."""
        shortfall = max(bond - self.challenger[challenger], 0)
        self.deposited += shortfall
        self.challenger[challenger] += shortfall - bond
        self.bonds_open += bond
        # the job's payment was escrowed this round; it now waits for the verdict
        self.escrow_open += amount
        return shortfall

    def release_escrow(self, amount: int) -> None:
        """A resolved challenge's escrow leaves the open escrows (to the user or the provider)."""
        self.escrow_open -= amount

    def release_bond(self, bond: int) -> None:
        """A resolved challenge's bond leaves the open bonds."""
        self.bonds_open -= bond

    def remove(self, provider: int) -> None:
        """Mark ``provider`` removed (after its removal's own flows): from now on it receives
        nothing, which :meth:`check` proves."""
        if not self.removed[provider]:
            self.removed[provider] = True
            self.held_at_removal[provider] = self.provider[provider] + self.stake[provider]

    def remainder(self, amount: int, to: str) -> None:
        """The unrewarded rest of a slash or a forfeited bond: ``burn`` or ``platform``."""
        if to == "burn":
            self.burn += amount
        else:
            self.platform += amount

    def resolve(
        self,
        verdict: str,
        provider: int,
        challenger: str,
        amount: int,
        bond: int,
        referee: int,
        params: DisputeParams,
        *,
        removed: bool,
        fee: float = 0.0,
    ) -> dict[str, int]:
        """Apply a verdict to a running challenge, as :meth:`Ledger.resolve` does.

        Parameters
        ----------
        verdict : {"provider_guilty", "challenger_wrong", "ambiguous"}
        provider : int
            The challenged provider.
        challenger : {"user", "platform"}
        amount, bond : int
            The job's escrowed payment and the challenger's bond.
        referee : int
            The provider that recomputed (rewarded), or -1 for none.
        params : DisputeParams
        removed : bool
            Whether the provider was convicted (removed) on another job before: it receives
            nothing (a forfeited bond's provider share joins the remainder, an upheld job's
            payment returns to the user).
        fee : float
            The auction's fee, taken when an upheld job's payment is settled.

        Returns
        -------
        dict
            Token flows: ``slashed``, ``to_challenger``, ``to_referee``, ``to_provider``
            (bond share), ``remainder``, ``returned`` (payment back to the user), ``paid``
            (payment settled to the provider, net of the fee).
        """
        self.release_bond(bond)
        self.release_escrow(amount)
        flows = dict.fromkeys(
            ("slashed", "to_challenger", "to_referee", "to_provider", "remainder", "returned", "paid"), 0
        )
        to = params.slash_remainder
        if verdict == "provider_guilty":
            stake = int(self.stake[provider])
            slashed = token_share(stake, params.slash_fraction)
            to_ch = token_share(slashed, params.challenger_reward_fraction)
            to_ref = token_share(slashed, params.referee_reward_fraction) if referee >= 0 else 0
            self.stake[provider] = 0
            self.challenger[challenger] += to_ch + bond
            if referee >= 0:
                self.provider[referee] += to_ref
            self.remainder(slashed - to_ch - to_ref, to)
            self.provider[provider] += stake - slashed
            self.users += amount
            self.remove(provider)
            flows.update(slashed=slashed, to_challenger=to_ch, to_referee=to_ref,
                         remainder=slashed - to_ch - to_ref, returned=amount)
        elif verdict == "challenger_wrong":
            # a provider removed meanwhile is gone for good: its share joins the remainder
            to_p = 0 if removed else token_share(bond, params.bond_to_provider_fraction)
            to_ref = token_share(bond, params.referee_reward_fraction) if referee >= 0 else 0
            self.provider[provider] += to_p
            if referee >= 0:
                self.provider[referee] += to_ref
            self.remainder(bond - to_p - to_ref, to)
            flows.update(to_provider=to_p, to_referee=to_ref, remainder=bond - to_p - to_ref)
            if removed:
                # upheld here, but convicted on another job meanwhile: gone for good
                self.users += amount
                flows["returned"] = amount
            else:
                net = self.settle(np.array([provider]), np.array([amount], dtype=np.int64), fee)
                flows["paid"] = int(net[0])
        elif verdict == "ambiguous":
            self.challenger[challenger] += bond
            self.users += amount
            flows["returned"] = amount
        else:
            raise ValueError(f"verdict = {verdict!r} is not one of {list(VERDICTS)}")
        return flows

    # ---------------------------------------------------------------- appeals
    def fund(self, account: str | int, amount: int) -> None:
        """``account`` (a challenger name or a provider index) pays ``amount`` from its free
        balance, depositing the shortfall (as a challenger funds its bond)."""
        if isinstance(account, str):
            shortfall = max(amount - self.challenger[account], 0)
            self.challenger[account] += shortfall - amount
        else:
            shortfall = max(amount - int(self.provider[account]), 0)
            self.provider[account] += shortfall - amount
            if self.removed[account]:
                self.held_at_removal[account] += shortfall  # its own deposit, not an income
        self.deposited += shortfall

    def credit(self, account: str | int, amount: int) -> None:
        """``amount`` to a challenger (by name) or a provider's free balance (by index)."""
        if isinstance(account, str):
            self.challenger[account] += amount
        else:
            self.provider[account] += amount

    def bribe(self, payer: int, referee: int, amount: int) -> None:
        """Provider ``payer`` pays ``amount`` from its free balance to ``referee``."""
        if amount > int(self.provider[payer]):
            raise LedgerError(f"provider {payer} holds {int(self.provider[payer])}, cannot pay a bribe of {amount}")
        self.provider[payer] -= amount
        self.provider[referee] += amount

    def appeal(
        self,
        appellant: str | int,
        bond: int,
        *,
        overturned: bool,
        first_referee: int,
        appeal_referee: int,
        params: DisputeParams,
    ) -> dict[str, int]:
        """Lock an appeal bond and decide the appeal, as :meth:`Ledger.appeal` and
        :meth:`Ledger.resolve_appeal` do (before the challenge itself is resolved).

        Upheld: the bond is forfeited, ``referee_reward_fraction`` of it to ``appeal_referee``
        (-1: the trusted stack, whose share joins the remainder). Overturned: the bond returns,
        the first referee's stake is slashed by ``referee_slash_fraction``
        (``appeal_reward_fraction`` of it to the appellant, none to a removed provider,
        ``referee_reward_fraction`` to the appeal referee, the rest to the remainder) and the
        unslashed rest returned to its free balance; it is removed.

        Returns
        -------
        dict
            ``to_appellant`` (returned bond and reward), ``to_referee`` (appeal referee),
            ``referee_slashed``, ``remainder``.
        """
        self.fund(appellant, bond)
        self.bonds_open += bond
        self.release_bond(bond)
        to = params.slash_remainder
        if overturned:
            stake = int(self.stake[first_referee])
            slashed = token_share(stake, params.referee_slash_fraction)
            removed = not isinstance(appellant, str) and bool(self.removed[appellant])
            to_app = 0 if removed else token_share(slashed, params.appeal_reward_fraction)
            to_ref = token_share(slashed, params.referee_reward_fraction) if appeal_referee >= 0 else 0
            self.stake[first_referee] = 0
            self.provider[first_referee] += stake - slashed
            self.remove(first_referee)
            self.credit(appellant, bond + to_app)
            if appeal_referee >= 0:
                self.provider[appeal_referee] += to_ref
            self.remainder(slashed - to_app - to_ref, to)
            return {"to_appellant": bond + to_app, "to_referee": to_ref, "referee_slashed": slashed,
                    "remainder": slashed - to_app - to_ref}
        to_ref = token_share(bond, params.referee_reward_fraction) if appeal_referee >= 0 else 0
        if appeal_referee >= 0:
            self.provider[appeal_referee] += to_ref
        self.remainder(bond - to_ref, to)
        return {"to_appellant": 0, "to_referee": to_ref, "referee_slashed": 0, "remainder": bond - to_ref}

    # ---------------------------------------------------------------- invariants
    def total(self) -> int:
        """Every token held by any account."""
        return (
            int(self.provider.sum())
            + int(self.stake.sum())
            + self.users
            + self.platform
            + self.burn
            + sum(self.challenger.values())
            + self.escrow_open
            + self.bonds_open
        )

    def check(self, escrow_pending: int, bonds_pending: int, round_no: int) -> int:
        """Conservation and non-negativity after ``round_no``; returns the total held.

        Raises
        ------
        LedgerError
            Naming the violated invariant and the round.
        """
        total = self.total()
        if total != self.deposited - self.withdrawn:
            raise LedgerError(
                f"round {round_no}: accounts hold {total}, deposits minus withdrawals are "
                f"{self.deposited - self.withdrawn}"
            )
        scalars = {
            "users": self.users,
            "platform": self.platform,
            "burn": self.burn,
            "escrow": self.escrow_open,
            "bonds": self.bonds_open,
            **{f"challenger:{c}": v for c, v in self.challenger.items()},
        }
        negative = [k for k, v in scalars.items() if v < 0]
        if self.provider.size and int(self.provider.min()) < 0:
            negative.append(f"provider:{int(np.argmin(self.provider))}")
        if self.stake.size and int(self.stake.min()) < 0:
            negative.append(f"stake:{int(np.argmin(self.stake))}")
        if negative:
            raise LedgerError(f"round {round_no}: negative balance in {negative}")
        if self.escrow_open != escrow_pending or self.bonds_open != bonds_pending:
            raise LedgerError(
                f"round {round_no}: open escrow {self.escrow_open} / bonds {self.bonds_open} differ "
                f"from the running challenges' {escrow_pending} / {bonds_pending}"
            )
        gained = np.flatnonzero(self.removed & (self.provider + self.stake > self.held_at_removal))
        if gained.size:
            p = int(gained[0])
            raise LedgerError(
                f"round {round_no}: removed providers {gained.tolist()} received tokens after their "
                f"removal (provider {p} holds {int(self.provider[p] + self.stake[p])}, "
                f"{int(self.held_at_removal[p])} when removed)"
            )
        return total

    def to_frame(self) -> pd.DataFrame:
        """Every account: ``account``, ``kind`` and ``balance`` (smallest units, int64)."""
        n = self.provider.size
        names = (
            [f"provider:{j}" for j in range(n)]
            + [f"stake:{j}" for j in range(n)]
            + ["users", "platform", "burn"]
            + [f"challenger:{c}" for c in self.challenger]
            + ["escrow", "bonds"]
        )
        kinds = (
            ["provider"] * n
            + ["stake"] * n
            + ["user", "platform", "system"]
            + ["challenger"] * len(self.challenger)
            + ["system", "system"]
        )
        balances = np.concatenate(
            [
                self.provider,
                self.stake,
                np.array(
                    [self.users, self.platform, self.burn]
                    + list(self.challenger.values())
                    + [self.escrow_open, self.bonds_open],
                    dtype=np.int64,
                ),
            ]
        )
        return pd.DataFrame({"account": names, "kind": kinds, "balance": balances})
