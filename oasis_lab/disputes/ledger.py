"""The slashing ledger: escrow, stakes, bonds, slashing, rewards and reversal (section 5).

Section 5 borrows "a slashing mechanism similar to that of Ethereum's Proof-of-Stake": while a
challenge runs "the challenged provider is temporarily barred from accepting tasks"; when the
provider is found at fault "the challenger and service providers are rewarded and the
challenged service provider is punished. Punishments result in nefarious providers being
removed from the network with prejudice and the invalid transaction being reversed. The user's
task will then be returned to the auction with higher priority."

Readings taken (fields of :class:`~oasis_lab.disputes.params.DisputeParams`)
------------------------------------------------------------------------------
* Token amounts are exact integers of the smallest unit (Python ``int``, unbounded: amounts
  of 10**30 and beyond are exact), never floats; a float, a bool or a negative amount is
  refused. Shares of an amount (``floor(fraction * amount)``) are computed in exact rational
  arithmetic, the fraction read as the decimal it prints as (``0.1`` is one tenth), so a slash
  never exceeds the stake however large it is. A user's payment waits in an escrow account per task during
  the challenge window; :meth:`Ledger.settle` pays the provider, a challenge must come before.
* A provider locks ``provider_stake`` before it may accept tasks; a challenger locks
  ``challenger_bond`` per challenge.
* ``provider_guilty``: ``floor(slash_fraction * stake)`` is slashed; the challenger gets
  ``challenger_reward_fraction`` of it, the referee (the provider that recomputed, "service
  providers are rewarded") ``referee_reward_fraction``, the rest is burned or goes to the
  platform (``slash_remainder``). The bond returns to the challenger, the payment to the user
  (reversal), the rest of the stake to the provider, who is removed for good; the task and
  the provider's other unsettled tasks are refunded and queued for re-auction, the disputed
  one with priority (``reauction_priority``).
* ``challenger_wrong``: the bond is forfeited: ``bond_to_provider_fraction`` to the barred
  provider, ``referee_reward_fraction`` to the referee, the rest burned / to the platform.
  A provider removed meanwhile (convicted on another task) receives nothing: its share of the
  bond joins the remainder and the task's payment returns to the user.
* ``ambiguous`` (the referee agrees with neither): nobody is slashed, the bond returns, the
  user is refunded and the task re-auctioned without priority.
* Burned tokens move to the account ``burn``. Tokens enter only through the public
  :meth:`Ledger.deposit` (and the deposit of :meth:`Ledger.open_account`) and leave only
  through :meth:`Ledger.withdraw`; the outside is the pseudo-account ``mint``. These two
  methods record what crossed the boundary in their own counters, apart from the transfer
  log, and :meth:`Ledger.check_conservation` compares the sum of all balances with deposits
  minus withdrawals: a bug that moves tokens out of ``mint`` inside any other operation
  breaks the equality even though it is in the log. It also replays the log. An invalid
  operation raises :class:`LedgerError` naming the problem and changes nothing.
* Appeals (a market referee's ruling, :mod:`oasis_lab.disputes.market_referee`):
  :meth:`Ledger.appeal` locks the appellant's ``appeal_bond`` while the challenge is open;
  :meth:`Ledger.resolve_appeal` returns it and slashes the first referee
  (``referee_slash_fraction``, ``appeal_reward_fraction`` of it to the appellant, none to a
  removed provider, whose share joins the remainder; the referee removed) when the appellate
  verdict differs, forfeits it otherwise, then resolves the challenge with the verdict that
  stands.
* The ``platform`` account receives only slash and bond remainders
  (``slash_remainder="platform"``); :meth:`Ledger.deposit` refuses it, so its balance is
  exactly the platform's income from slashing. The platform may withdraw it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.disputes.params import DisputeParams, exact_fraction
from oasis_lab.disputes.referee import VERDICTS

__all__ = [
    "ACCOUNT_KINDS",
    "BURN",
    "DEPOSIT_KINDS",
    "MINT",
    "PLATFORM",
    "Ledger",
    "LedgerError",
    "Transfer",
    "single_task_ledger",
    "token_share",
    "token_shares",
]

#: Kinds of participant accounts.
ACCOUNT_KINDS: tuple[str, ...] = ("user", "provider", "challenger", "platform")
#: Kinds that may receive deposits from outside (the platform's income is slashing only).
DEPOSIT_KINDS: tuple[str, ...] = ("user", "provider", "challenger")
MINT = "mint"
BURN = "burn"
PLATFORM = "platform"


_A = {"task": "a task", "challenge": "a challenge", "appeal": "an appeal"}


class LedgerError(ValueError):
    """An invalid ledger operation (nothing was changed)."""


@dataclass(frozen=True)
class Transfer:
    """One recorded movement of tokens.

    Attributes
    ----------
    seq : int
        Position in the log.
    op : int
        Operation number (transfers of one operation share it).
    action : str
        The operation (``deposit``, ``stake``, ``escrow``, ``settle``, ``challenge``,
        ``slash``, ``reward``, ``reverse``, ...).
    src, dst : str
        Accounts (``mint`` is outside supply).
    amount : int
        Tokens moved (> 0).
    memo : str
    """

    seq: int
    op: int
    action: str
    src: str
    dst: str
    amount: int
    memo: str = ""


@dataclass
class _Task:
    user: str
    provider: str
    amount: int
    status: str  # escrowed, challenged, settled, reversed, refunded


@dataclass
class _Challenge:
    task: str
    challenger: str
    bond: int
    status: str  # open, resolved
    verdict: str = ""
    appeal: str = ""  # the appeal lodged against its first ruling, if any


@dataclass
class _Appeal:
    challenge: str
    appellant: str
    bond: int
    status: str  # open, upheld (the first ruling stands), overturned


def _amount(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise LedgerError(f"{name} must be an integer number of tokens, got {value!r}")
    if int(value) < 0:
        raise LedgerError(f"{name} = {value} must be >= 0")
    return int(value)


def token_share(amount: int, fraction: float) -> int:
    """``floor(fraction * amount)`` exactly, for any integer ``amount``: THE share rule of the
    ledger (slashes, rewards, bond shares); code that mirrors the ledger must call it.

    The float ``fraction`` is read as the decimal it prints as (``0.1`` is 1/10, not the binary
    0.1000000000000000055...) and the product is rational: a float product would round
    ``1.0 * amount`` up past the amount above 2**53 (a slash larger than the stake), overflow
    beyond 10**308, and floor ``0.29 * 100`` to 28.

    Examples
    --------
    >>> token_share(100, 0.29), token_share(2**54 + 1, 1.0) - 2**54
    (29, 1)
    >>> token_share(10**400, 0.5) == 10**400 // 2
    True
    """
    # floor, so shares never exceed the amount; the remainder goes to burn / platform
    return math.floor(amount * exact_fraction(fraction))


def token_shares(amounts: np.ndarray, fraction: float) -> np.ndarray:
    """:func:`token_share` over an integer array, exactly (int64 when the products fit, else
    Python integers in an object array).

    Examples
    --------
    >>> token_shares(np.array([100, 7, 2**60]), 0.29).tolist() == [29, 2, (2**60 * 29) // 100]
    True
    """
    frac = exact_fraction(fraction)
    a = np.asarray(amounts)
    if a.dtype.kind not in "iuO":
        raise TypeError(f"amounts must be integers, got dtype {a.dtype}")
    # int64 arithmetic only when the numerator, the denominator and every product fit (a tiny
    # fraction such as 4e-165 has a numerator and denominator far beyond int64)
    fits = frac.numerator < 2**63 and frac.denominator < 2**63
    if a.dtype.kind in "iu" and fits and (a.size == 0 or int(np.abs(a).max()) * frac.numerator < 2**63):
        return (a.astype(np.int64) * frac.numerator) // frac.denominator
    exact = [math.floor(int(x) * frac) for x in a.ravel()]
    # a share never exceeds its amount, so integer amounts give shares of their own dtype
    return np.array(exact, dtype=a.dtype if a.dtype.kind in "iu" else object).reshape(a.shape)




class Ledger:
    """Accounts and the recorded transfers of the slashing mechanism (section 5).

    Parameters
    ----------
    params : DisputeParams, optional
        Stake, bond, slash and reward fractions, remainder destination, re-auction priority.

    Examples
    --------
    >>> led = Ledger()
    >>> led.open_account("alice", "user", deposit=100)
    >>> led.open_account("gpu1", "provider", deposit=10_000)
    >>> led.stake("gpu1")
    >>> led.escrow("t1", "alice", "gpu1", 40)
    >>> led.settle("t1")
    >>> led.balance("gpu1"), led.check_conservation()["deposited"]
    (40, 10100)
    """

    def __init__(self, params: DisputeParams | None = None) -> None:
        self.params = params if params is not None else DisputeParams()
        if not isinstance(self.params, DisputeParams):
            raise TypeError(f"params must be DisputeParams, got {type(self.params).__name__}")
        self._balances: dict[str, int] = {BURN: 0, PLATFORM: 0}
        self._kinds: dict[str, str] = {BURN: "system", PLATFORM: "platform"}
        self._log: list[Transfer] = []
        self._ops = 0
        # tokens that crossed the public boundary, counted by deposit/withdraw only
        self._deposited = 0
        self._withdrawn = 0
        self._tasks: dict[str, _Task] = {}
        self._challenges: dict[str, _Challenge] = {}
        self._appeals: dict[str, _Appeal] = {}
        # one namespace for task, challenge and appeal ids: id -> what it names
        self._ids: dict[str, str] = {}
        self._barred: dict[str, int] = {}
        self._removed: set[str] = set()
        self._reauction: list[tuple[str, bool]] = []

    # ------------------------------------------------------------------ queries
    @staticmethod
    def stake_account(provider: str) -> str:
        """Name of ``provider``'s stake account."""
        return f"stake:{provider}"

    @staticmethod
    def escrow_account(task: str) -> str:
        """Name of ``task``'s escrow account."""
        return f"escrow:{task}"

    @staticmethod
    def bond_account(challenge: str) -> str:
        """Name of ``challenge``'s bond account."""
        return f"bond:{challenge}"

    def balance(self, account: str) -> int:
        """Tokens in ``account``."""
        self._need(account)
        return self._balances[account]

    def stake_of(self, provider: str) -> int:
        """Tokens ``provider`` has staked."""
        self._need_kind(provider, "provider")
        return self._balances[self.stake_account(provider)]

    def is_barred(self, provider: str) -> bool:
        """Whether a challenge against ``provider`` is running."""
        return self._barred.get(provider, 0) > 0

    def is_removed(self, provider: str) -> bool:
        """Whether ``provider`` was convicted and removed."""
        return provider in self._removed

    def task_status(self, task: str) -> str:
        """``escrowed``, ``challenged``, ``settled``, ``reversed`` or ``refunded``."""
        return self._lookup("task", task).status

    @property
    def reauction_queue(self) -> tuple[tuple[str, bool], ...]:
        """Tasks returned to the auction, as ``(task, priority)`` in the order returned."""
        return tuple(self._reauction)

    @property
    def transfers(self) -> tuple[Transfer, ...]:
        """Every transfer so far."""
        return tuple(self._log)

    def balances(self) -> pd.Series:
        """All balances, by account (system accounts included).

        ``int64`` while every balance fits, else Python ``int`` objects (exact at any size).
        """
        fits = all(-(2**63) <= v < 2**63 for v in self._balances.values())
        return pd.Series(self._balances, name="balance", dtype="int64" if fits else object).sort_index()

    def to_frame(self) -> pd.DataFrame:
        """The transfer log, one row per transfer."""
        return pd.DataFrame(
            [t.__dict__ for t in self._log],
            columns=["seq", "op", "action", "src", "dst", "amount", "memo"],
        )

    def accounts(self) -> pd.DataFrame:
        """Participant accounts: kind, balance, stake, barred, removed."""
        rows = []
        for name, kind in self._kinds.items():
            if kind not in ACCOUNT_KINDS:
                continue
            rows.append(
                {
                    "account": name,
                    "kind": kind,
                    "balance": self._balances[name],
                    "stake": self._balances.get(self.stake_account(name), 0),
                    "barred": self.is_barred(name),
                    "removed": self.is_removed(name),
                }
            )
        return pd.DataFrame(rows, columns=["account", "kind", "balance", "stake", "barred", "removed"])

    def copy(self) -> Ledger:
        """An independent copy of the whole ledger (to try an operation without applying it;
        recorded transfers are immutable and shared)."""
        new = copy.copy(self)
        new._balances, new._kinds = dict(self._balances), dict(self._kinds)
        new._log, new._reauction = list(self._log), list(self._reauction)
        new._tasks = {k: replace(t) for k, t in self._tasks.items()}
        new._challenges = {k: replace(c) for k, c in self._challenges.items()}
        new._appeals = {k: replace(a) for k, a in self._appeals.items()}
        new._ids, new._barred, new._removed = dict(self._ids), dict(self._barred), set(self._removed)
        return new

    def snapshot(self) -> dict[str, Any]:
        """A comparable copy of the whole state (tests check failed operations change nothing)."""
        return {
            "balances": dict(self._balances),
            "log": len(self._log),
            "deposited": self._deposited,
            "withdrawn": self._withdrawn,
            "tasks": {k: (t.user, t.provider, t.amount, t.status) for k, t in self._tasks.items()},
            "challenges": {
                k: (c.task, c.challenger, c.bond, c.status, c.verdict) for k, c in self._challenges.items()
            },
            "appeals": {k: (a.challenge, a.appellant, a.bond, a.status) for k, a in self._appeals.items()},
            "barred": dict(self._barred),
            "removed": set(self._removed),
            "reauction": list(self._reauction),
        }

    # ------------------------------------------------------------------ internals
    def _new_id(self, kind: str, ident: Any) -> str:
        """Check that ``ident`` may name a new ``kind`` (task, challenge or appeal): a
        non-empty string without ``:`` that names nothing yet. Task, challenge and appeal ids
        share one namespace (a challenge and an appeal each lock a bond account named by the
        id, so two of them under one id would share it)."""
        if not isinstance(ident, str) or not ident or ":" in ident:
            raise LedgerError(f"{kind} id {ident!r} is invalid (a non-empty string without ':')")
        if ident in self._ids:
            raise LedgerError(
                f"{kind} = {ident!r} exists already: it names {_A[self._ids[ident]]} (task, "
                "challenge and appeal ids share one namespace)"
            )
        return ident

    def _lookup(self, kind: str, ident: Any) -> Any:
        """The task, challenge or appeal ``ident`` names, or a LedgerError saying what it is."""
        tables: dict[str, dict[str, Any]] = {
            "task": self._tasks, "challenge": self._challenges, "appeal": self._appeals
        }
        table = tables[kind]
        if isinstance(ident, str) and ident in table:
            return table[ident]
        if isinstance(ident, str) and ident in self._ids:
            raise LedgerError(f"{kind} = {ident!r} is unknown: it names {_A[self._ids[ident]]}")
        raise LedgerError(f"{kind} = {ident!r} is unknown")

    def _need(self, account: str) -> None:
        if account not in self._balances:
            raise LedgerError(f"account = {account!r} is unknown")

    def _need_kind(self, account: str, kind: str) -> None:
        if self._kinds.get(account) != kind:
            if account not in self._kinds:
                raise LedgerError(f"account = {account!r} is unknown")
            raise LedgerError(f"account = {account!r} is a {self._kinds[account]}, not a {kind}")

    def _commit(self, action: str, moves: Iterable[tuple[str, str, int, str]]) -> None:
        """Apply ``(src, dst, amount, memo)`` moves all together, or raise and change nothing.

        ``MINT`` (the outside) may be a source or a destination; only :meth:`deposit` and
        :meth:`withdraw` should use it, and :meth:`check_conservation` catches any other use.
        """
        moves = [m for m in moves if m[2] > 0]
        delta: dict[str, int] = {}
        for src, dst, amount, _ in moves:
            if src != MINT:
                self._need(src)
                delta[src] = delta.get(src, 0) - amount
            if dst != MINT:
                self._need(dst)
                delta[dst] = delta.get(dst, 0) + amount
        # Check every intermediate step, not only the net: each transfer must be covered.
        running = {a: self._balances[a] for a in delta}
        for src, dst, amount, _ in moves:
            if src != MINT:
                running[src] -= amount
                if running[src] < 0:
                    raise LedgerError(
                        f"{action}: account {src!r} holds {running[src] + amount}, cannot pay {amount}"
                    )
            if dst != MINT:
                running[dst] += amount
        self._ops += 1
        for src, dst, amount, memo in moves:
            self._log.append(Transfer(len(self._log), self._ops, action, src, dst, amount, memo))
        self._balances.update(running)

    def _open_funded(self, account: str, action: str, src: str, amount: int, memo: str) -> None:
        """Create system ``account`` (an escrow or bond) funded by ``src``; on failure, no account."""
        self._balances[account] = 0
        self._kinds[account] = "system"
        try:
            self._commit(action, [(src, account, amount, memo)])
        except LedgerError:
            del self._balances[account], self._kinds[account]
            raise

    # ------------------------------------------------------------------ operations
    def open_account(self, name: str, kind: str, *, deposit: int = 0) -> None:
        """Create a participant account (``user``, ``provider``, ``challenger``), optionally
        funded from outside."""
        if not isinstance(name, str) or not name or ":" in name or name in (MINT, BURN, PLATFORM):
            raise LedgerError(f"account name {name!r} is invalid (non-empty, no ':', not reserved)")
        if kind not in ACCOUNT_KINDS or kind == "platform":
            raise LedgerError(f"kind = {kind!r} is not one of ['user', 'provider', 'challenger']")
        if name in self._kinds:
            raise LedgerError(f"account = {name!r} exists already")
        amount = _amount("deposit", deposit)
        self._kinds[name] = kind
        self._balances[name] = 0
        if kind == "provider":
            self._kinds[self.stake_account(name)] = "system"
            self._balances[self.stake_account(name)] = 0
        if amount:
            self._deposit(name, amount, "initial deposit")

    def _deposit(self, account: str, amount: int, memo: str) -> None:
        self._commit("deposit", [(MINT, account, amount, memo)])
        self._deposited += amount  # after the commit: a refused deposit counts nothing

    def deposit(self, account: str, amount: int) -> None:
        """Add ``amount`` tokens from outside to ``account`` (a user, provider or challenger).

        The ``platform`` account is refused: it receives only slash and bond remainders, so
        its balance is the platform's income from slashing and nothing else.
        """
        amount = _amount("amount", amount)
        if self._kinds.get(account) not in DEPOSIT_KINDS:
            raise LedgerError(
                f"account = {account!r} cannot receive deposits (only {list(DEPOSIT_KINDS)} accounts)"
            )
        self._deposit(account, amount, "")

    def withdraw(self, account: str, amount: int) -> None:
        """Pay ``amount`` of ``account``'s free balance out of the ledger (participants and
        the platform; stakes, escrows and bonds are locked and leave only through their
        operations)."""
        amount = _amount("amount", amount)
        if self._kinds.get(account) not in ACCOUNT_KINDS:
            raise LedgerError(f"account = {account!r} is not a participant account")
        self._commit("withdraw", [(account, MINT, amount, "")])
        self._withdrawn += amount

    def stake(self, provider: str, amount: int | None = None) -> None:
        """Lock ``amount`` (default ``params.provider_stake``) of ``provider``'s tokens."""
        self._need_kind(provider, "provider")
        if provider in self._removed:
            raise LedgerError(f"provider {provider!r} was removed and cannot stake")
        amount = _amount("amount", self.params.provider_stake if amount is None else amount)
        self._commit("stake", [(provider, self.stake_account(provider), amount, "")])

    def unstake(self, provider: str, amount: int) -> None:
        """Return staked tokens; refused while a challenge runs or the provider holds unsettled
        tasks (its stake backs them)."""
        self._need_kind(provider, "provider")
        amount = _amount("amount", amount)
        if self.is_barred(provider):
            raise LedgerError(f"provider {provider!r} is barred by a running challenge")
        open_tasks = [
            k for k, t in self._tasks.items() if t.provider == provider and t.status in ("escrowed", "challenged")
        ]
        if open_tasks:
            raise LedgerError(f"provider {provider!r} has unsettled tasks {open_tasks[:3]}")
        self._commit("unstake", [(self.stake_account(provider), provider, amount, "")])

    def escrow(self, task: str, user: str, provider: str, amount: int) -> None:
        """The user pays ``amount`` into the task's escrow; ``provider`` accepts the task.

        Refused when the provider is barred, removed or staked below ``params.provider_stake``.
        """
        self._new_id("task", task)
        self._need_kind(user, "user")
        self._need_kind(provider, "provider")
        amount = _amount("amount", amount)
        if provider in self._removed:
            raise LedgerError(f"provider {provider!r} was removed from the network")
        if self.is_barred(provider):
            raise LedgerError(f"provider {provider!r} is barred while a challenge runs")
        if self._balances[self.stake_account(provider)] < self.params.provider_stake:
            raise LedgerError(
                f"provider {provider!r} has staked {self._balances[self.stake_account(provider)]}, "
                f"needs {self.params.provider_stake}"
            )
        if self._balances[user] < amount:
            raise LedgerError(f"escrow: account {user!r} holds {self._balances[user]}, cannot pay {amount}")
        self._open_funded(self.escrow_account(task), "escrow", user, amount, task)
        self._tasks[task] = _Task(user, provider, amount, "escrowed")
        self._ids[task] = "task"

    def settle(self, task: str) -> None:
        """The challenge window closed: pay the escrow to the provider."""
        t = self._lookup("task", task)
        if t.status != "escrowed":
            raise LedgerError(f"task {task!r} is {t.status}, cannot settle")
        self._commit("settle", [(self.escrow_account(task), t.provider, t.amount, task)])
        t.status = "settled"

    def challenge(self, challenge: str, task: str, challenger: str, bond: int | None = None) -> None:
        """``challenger`` challenges ``task`` before settlement, locking its bond; the provider
        is barred until the challenge is resolved."""
        self._new_id("challenge", challenge)
        t = self._lookup("task", task)
        if t.status != "escrowed":
            raise LedgerError(f"task {task!r} is {t.status}: only escrowed tasks can be challenged")
        self._need_kind(challenger, "challenger")
        bond = _amount("bond", self.params.challenger_bond if bond is None else bond)
        if self._balances[challenger] < bond:
            raise LedgerError(
                f"challenge: account {challenger!r} holds {self._balances[challenger]}, cannot bond {bond}"
            )
        self._open_funded(self.bond_account(challenge), "challenge", challenger, bond, f"{challenge} on {task}")
        self._challenges[challenge] = _Challenge(task, challenger, bond, "open")
        self._ids[challenge] = "challenge"
        t.status = "challenged"
        self._barred[t.provider] = self._barred.get(t.provider, 0) + 1

    def resolve(self, challenge: str, verdict: str, *, referee: str | None = None) -> None:
        """Apply the referee's verdict to a running challenge (see the module readings).

        Parameters
        ----------
        challenge : str
        verdict : {"provider_guilty", "challenger_wrong", "ambiguous"}
        referee : str, optional
            The provider that recomputed; paid ``referee_reward_fraction`` of what is forfeited
            (without one, that share joins the remainder).
        """
        c = self._lookup("challenge", challenge)
        if c.status != "open":
            raise LedgerError(f"challenge {challenge!r} was resolved already ({c.verdict})")
        if c.appeal and self._appeals[c.appeal].status == "open":
            raise LedgerError(
                f"challenge {challenge!r} has the open appeal {c.appeal!r}: resolve_appeal decides it"
            )
        self._resolve(challenge, verdict, referee)

    def _resolve(self, challenge: str, verdict: str, referee: str | None) -> None:
        """:meth:`resolve` after its check that no appeal is open (:meth:`resolve_appeal`
        calls it once the appeal is decided)."""
        c = self._challenges[challenge]
        if verdict not in VERDICTS:
            raise LedgerError(f"verdict = {verdict!r} is not one of {list(VERDICTS)}")
        t = self._tasks[c.task]
        if referee is not None:
            self._need_kind(referee, "provider")
            if referee == t.provider or referee in self._removed:
                raise LedgerError(f"referee {referee!r} is the challenged or a removed provider")
        p = self.params
        remainder_to = BURN if p.slash_remainder == "burn" else PLATFORM
        bond_acct, escrow_acct = self.bond_account(challenge), self.escrow_account(c.task)
        moves: list[tuple[str, str, int, str]] = []
        requeue: list[tuple[str, bool]] = []
        refunded: list[str] = []
        if verdict == "provider_guilty":
            stake_acct = self.stake_account(t.provider)
            stake = self._balances[stake_acct]
            slashed = token_share(stake, p.slash_fraction)
            to_challenger = token_share(slashed, p.challenger_reward_fraction)
            to_referee = token_share(slashed, p.referee_reward_fraction) if referee else 0
            moves += [
                (stake_acct, c.challenger, to_challenger, f"slash reward, {challenge}"),
                (stake_acct, referee or remainder_to, to_referee, f"referee reward, {challenge}"),
                (stake_acct, remainder_to, slashed - to_challenger - to_referee, f"slash remainder, {challenge}"),
                (stake_acct, t.provider, stake - slashed, "unslashed stake returned on removal"),
                (bond_acct, c.challenger, c.bond, "bond returned"),
                (escrow_acct, t.user, t.amount, f"payment reversed, {c.task}"),
            ]
            requeue.append((c.task, p.reauction_priority))
            refunded = self._removal_refunds(t.provider, moves, requeue, skip=c.task)
            action = "slash"
        elif verdict == "challenger_wrong":
            # a provider removed meanwhile is gone for good: its share joins the remainder
            gone = t.provider in self._removed
            to_provider = 0 if gone else token_share(c.bond, p.bond_to_provider_fraction)
            to_referee = token_share(c.bond, p.referee_reward_fraction) if referee else 0
            moves += [
                (bond_acct, t.provider, to_provider, f"bond to barred provider, {challenge}"),
                (bond_acct, referee or remainder_to, to_referee, f"referee reward, {challenge}"),
                (bond_acct, remainder_to, c.bond - to_provider - to_referee, f"bond remainder, {challenge}"),
            ]
            if gone:
                # upheld on this task, but convicted on another meanwhile: it is gone for good
                moves.append((escrow_acct, t.user, t.amount, f"refund, provider removed, {c.task}"))
                requeue.append((c.task, False))
            action = "forfeit"
        else:
            moves += [
                (bond_acct, c.challenger, c.bond, "bond returned (ambiguous)"),
                (escrow_acct, t.user, t.amount, f"refund (ambiguous), {c.task}"),
            ]
            requeue.append((c.task, False))
            action = "ambiguous"
        self._commit(action, moves)
        # state changes after the transfers succeeded (they cannot fail)
        c.status, c.verdict = "resolved", verdict
        self._barred[t.provider] -= 1
        if verdict == "provider_guilty":
            t.status = "reversed"
            self._removed.add(t.provider)
            for k in refunded:
                self._tasks[k].status = "refunded"
        elif verdict == "challenger_wrong":
            # back in the window, it settles normally (refunded if the provider is gone)
            t.status = "refunded" if t.provider in self._removed else "escrowed"
        else:
            t.status = "refunded"
        self._reauction.extend(requeue)

    def _removal_refunds(
        self,
        provider: str,
        moves: list[tuple[str, str, int, str]],
        requeue: list[tuple[str, bool]],
        skip: str = "",
    ) -> list[str]:
        """Append the refunds of ``provider``'s escrowed tasks (it is being removed): they go
        back to their users and the auction. Returns the refunded tasks."""
        refunded = []
        for k, other in self._tasks.items():
            if other.provider == provider and other.status == "escrowed" and k != skip:
                moves.append((self.escrow_account(k), other.user, other.amount, f"refund, provider removed, {k}"))
                refunded.append(k)
                requeue.append((k, False))
        return refunded

    # ------------------------------------------------------------------ appeals
    def appeal(self, appeal: str, challenge: str, appellant: str, bond: int | None = None) -> None:
        """``appellant`` (the challenged provider or the challenger) appeals the market
        referee's first ruling on a running ``challenge``, locking ``bond`` (default
        ``params.appeal_bond``). The challenge stays open until :meth:`resolve_appeal`."""
        self._new_id("appeal", appeal)
        c = self._lookup("challenge", challenge)
        if c.status != "open":
            raise LedgerError(f"challenge {challenge!r} was resolved already: too late to appeal")
        if c.appeal:
            raise LedgerError(f"challenge {challenge!r} was appealed already ({c.appeal!r})")
        if appellant not in (c.challenger, self._tasks[c.task].provider):
            raise LedgerError(f"appellant {appellant!r} is not a party to challenge {challenge!r}")
        bond = _amount("bond", self.params.appeal_bond if bond is None else bond)
        if self._balances[appellant] < bond:
            raise LedgerError(f"appeal: account {appellant!r} holds {self._balances[appellant]}, cannot bond {bond}")
        self._open_funded(self.bond_account(appeal), "appeal", appellant, bond, f"{appeal} on {challenge}")
        self._appeals[appeal] = _Appeal(challenge, appellant, bond, "open")
        self._ids[appeal] = "appeal"
        c.appeal = appeal

    def resolve_appeal(
        self,
        appeal: str,
        *,
        first_verdict: str,
        final_verdict: str,
        first_referee: str,
        appeal_referee: str | None = None,
    ) -> None:
        """Decide an appeal and then the challenge it was lodged in.

        ``final_verdict == first_verdict`` (upheld): the appeal bond is forfeited,
        ``referee_reward_fraction`` to ``appeal_referee`` (a market referee; ``None`` for the
        platform's trusted stack, whose share joins the remainder), the rest burned / to the
        platform; the challenge is resolved with ``first_verdict`` and ``first_referee`` gets
        the referee reward. Otherwise (overturned): the bond returns to the appellant, the
        first referee's stake is slashed by ``referee_slash_fraction`` (``appeal_reward_fraction``
        of it to the appellant, ``referee_reward_fraction`` to ``appeal_referee``, the rest
        burned / to the platform; the unslashed rest returned), the first referee is removed
        (its escrowed tasks refunded and re-queued) and the challenge is resolved with
        ``final_verdict``, the referee reward going to ``appeal_referee``.
        """
        a = self._lookup("appeal", appeal)
        if a.status != "open":
            raise LedgerError(f"appeal {appeal!r} was decided already ({a.status})")
        for name, v in (("first_verdict", first_verdict), ("final_verdict", final_verdict)):
            if v not in VERDICTS:
                raise LedgerError(f"{name} = {v!r} is not one of {list(VERDICTS)}")
        c = self._challenges[a.challenge]
        t = self._tasks[c.task]
        for role, ref in (("first_referee", first_referee), ("appeal_referee", appeal_referee)):
            if ref is None:
                continue
            self._need_kind(ref, "provider")
            if ref == t.provider or ref in self._removed:
                raise LedgerError(f"{role} {ref!r} is the challenged or a removed provider")
        if appeal_referee is not None and appeal_referee == first_referee:
            raise LedgerError(f"appeal_referee {appeal_referee!r} made the first ruling")
        p = self.params
        remainder_to = BURN if p.slash_remainder == "burn" else PLATFORM
        bond_acct = self.bond_account(appeal)
        moves: list[tuple[str, str, int, str]] = []
        requeue: list[tuple[str, bool]] = []
        refunded: list[str] = []
        overturned = final_verdict != first_verdict
        if overturned:
            stake_acct = self.stake_account(first_referee)
            stake = self._balances[stake_acct]
            slashed = token_share(stake, p.referee_slash_fraction)
            # a removed provider receives nothing: its reward joins the remainder
            gone = a.appellant in self._removed
            to_appellant = 0 if gone else token_share(slashed, p.appeal_reward_fraction)
            to_referee = token_share(slashed, p.referee_reward_fraction) if appeal_referee else 0
            moves += [
                (bond_acct, a.appellant, a.bond, f"appeal bond returned, {appeal}"),
                (stake_acct, a.appellant, to_appellant, f"referee slashed, reward, {appeal}"),
                (stake_acct, appeal_referee or remainder_to, to_referee, f"appeal referee reward, {appeal}"),
                (stake_acct, remainder_to, slashed - to_appellant - to_referee, f"referee slash remainder, {appeal}"),
                (stake_acct, first_referee, stake - slashed, "unslashed referee stake returned on removal"),
            ]
            refunded = self._removal_refunds(first_referee, moves, requeue)
            action = "slash referee"
        else:
            to_referee = token_share(a.bond, p.referee_reward_fraction) if appeal_referee else 0
            moves += [
                (bond_acct, appeal_referee or remainder_to, to_referee, f"appeal referee reward, {appeal}"),
                (bond_acct, remainder_to, a.bond - to_referee, f"appeal bond forfeited, {appeal}"),
            ]
            action = "appeal upheld"
        self._commit(action, moves)
        a.status = "overturned" if overturned else "upheld"
        if overturned:
            self._removed.add(first_referee)
            for k in refunded:
                self._tasks[k].status = "refunded"
            self._reauction.extend(requeue)
        # the challenge itself, with the referee whose ruling stands (the checks it makes all
        # passed above, and its transfers are covered: nothing can fail after the appeal's)
        self._resolve(
            a.challenge, final_verdict, appeal_referee if overturned else first_referee
        )

    # ------------------------------------------------------------------ invariants
    def check_conservation(self) -> dict[str, int]:
        """Prove that no token was created or lost.

        The sum of all balances (burned tokens included) must equal the deposits minus the
        withdrawals counted by :meth:`deposit` and :meth:`withdraw` themselves, at the public
        boundary, independently of the transfer log: a transfer out of ``mint`` inside any
        other operation (a bug that creates tokens) fails the check although it is logged.
        Also replays the log from zero (it must reproduce every balance), checks that no
        balance is negative and that each escrow and bond account holds what its task or
        challenge state says.

        Returns
        -------
        dict
            ``deposited``, ``withdrawn``, ``total`` (sum of balances), ``burned``,
            ``transfers``.

        Raises
        ------
        LedgerError
            Naming the first violated invariant.
        """
        replay = {a: 0 for a in self._balances}
        for tr in self._log:
            if tr.amount <= 0:
                raise LedgerError(f"transfer {tr.seq} moves {tr.amount} <= 0 tokens")
            if tr.src != MINT:
                replay[tr.src] -= tr.amount
            if tr.dst != MINT:
                replay[tr.dst] += tr.amount
        if replay != self._balances:
            bad = next(a for a in replay if replay[a] != self._balances[a])
            raise LedgerError(f"account {bad!r} holds {self._balances[bad]}, the log says {replay[bad]}")
        negative = [a for a, v in self._balances.items() if v < 0]
        if negative:
            raise LedgerError(f"negative balance in {negative}")
        total = sum(self._balances.values())
        if total != self._deposited - self._withdrawn:
            raise LedgerError(
                f"accounts hold {total}, but {self._deposited} were deposited and "
                f"{self._withdrawn} withdrawn: {total - self._deposited + self._withdrawn:+d} tokens "
                "appeared or vanished inside the ledger"
            )
        for k, t in self._tasks.items():
            want = t.amount if t.status in ("escrowed", "challenged") else 0
            if self._balances[self.escrow_account(k)] != want:
                raise LedgerError(
                    f"escrow of task {k!r} holds {self._balances[self.escrow_account(k)]}, expected {want}"
                )
        for k, c in self._challenges.items():
            want = c.bond if c.status == "open" else 0
            if self._balances[self.bond_account(k)] != want:
                raise LedgerError(
                    f"bond of challenge {k!r} holds {self._balances[self.bond_account(k)]}, expected {want}"
                )
        for k, a in self._appeals.items():
            want = a.bond if a.status == "open" else 0
            if self._balances[self.bond_account(k)] != want:
                raise LedgerError(
                    f"bond of appeal {k!r} holds {self._balances[self.bond_account(k)]}, expected {want}"
                )
        return {
            "deposited": self._deposited,
            "withdrawn": self._withdrawn,
            "total": total,
            "burned": self._balances[BURN],
            "transfers": len(self._log),
        }


def single_task_ledger(
    verdict: str, params: DisputeParams | None = None, *, payment: int = 100
) -> tuple[Ledger, pd.DataFrame, int]:
    """A ledger with one escrowed task whose challenge ends in ``verdict``.

    Accounts ``user`` (pays ``payment``), ``provider`` and ``referee`` (staked providers) and
    ``challenger`` (funded with one bond). The challenge of ``task-1`` is resolved with
    ``verdict``; when the provider is upheld the window then closes and it is paid.

    Returns
    -------
    ledger : Ledger
    before : DataFrame
        Participant accounts just before the challenge.
    start : int
        Position in the transfer log where the challenge's transfers begin.
    """
    params = params if params is not None else DisputeParams()
    led = Ledger(params)
    led.open_account("user", "user", deposit=payment)
    led.open_account("provider", "provider", deposit=params.provider_stake)
    led.open_account("referee", "provider", deposit=params.provider_stake)
    led.open_account("challenger", "challenger", deposit=params.challenger_bond)
    led.stake("provider")
    led.stake("referee")
    led.escrow("task-1", "user", "provider", payment)
    before = led.accounts()
    start = len(led.transfers)
    led.challenge("challenge-1", "task-1", "challenger")
    led.resolve("challenge-1", verdict, referee="referee")
    if led.task_status("task-1") == "escrowed":
        led.settle("task-1")  # upheld: the challenge window closes and the provider is paid
    return led, before, start
