"""The state of a simulation: typed records the stages read and write (whitepaper sections 4, 5).

:class:`SimState` is everything that lives from one round to the next: the provider population
(:class:`Providers`), the token books (:class:`~oasis_lab.sim.books.Books`), the dispute court,
the tasks waiting for the next auction (:class:`TaskQueue`), the running challenges
(:class:`PendingDispute`, in the order they were opened), the behaviour of the agents
(:class:`~oasis_lab.sim.behaviour.Behaviour`), the learning agents' bookkeeping (``agents``,
:class:`~oasis_lab.sim.adapters.Agents`; None when every role is scripted) and the recorder. :class:`Round` is what one
round's stages hand each other: the round's tasks and market, its jobs (:class:`Jobs`), the
challenges (:class:`Challenges`), what the resolved disputes moved (:class:`Resolution`) and the
tasks they send back to the auction (:class:`ReturnedTask`).

Per-task and per-provider quantities are numpy arrays (one row per task, job or provider);
the records of disputes and returned tasks are frozen dataclasses (a round has tens of them).
Money on the books is in integer smallest units (``SimConfig.token_unit`` to a token); costs are
floats in tokens.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from oasis_lab.auction.greedy import AuctionResult
from oasis_lab.market import Market
from oasis_lab.sim.books import Books
from oasis_lab.sim.config import SimConfig
from oasis_lab.sim.court import Court, DisputeResults

if TYPE_CHECKING:  # the recorder, the behaviour and the agents read the state: imported for types only
    from oasis_lab.sim.adapters import Agents
    from oasis_lab.sim.behaviour import Behaviour
    from oasis_lab.sim.recorder import Recorder

__all__ = [
    "JOB_STATUSES",
    "Challenges",
    "JobRecord",
    "Jobs",
    "PendingDispute",
    "Providers",
    "Resolution",
    "ReturnedTask",
    "Round",
    "SimState",
    "TaskQueue",
]

#: What became of a job by the end of its round (``SimulationResult.jobs["status"]``).
JOB_STATUSES: tuple[str, ...] = ("failed", "escrowed", "challenged", "settled", "reversed", "refunded")
FAILED, ESCROWED, CHALLENGED, SETTLED, REVERSED, REFUNDED = range(len(JOB_STATUSES))


@dataclass
class Providers:
    """The provider population (grows on entry), one row per provider ever present.

    ``kind`` is :data:`~oasis_lab.sim.court.PROVIDER_KINDS`' code; ``referee_strategy`` the
    index in :data:`~oasis_lab.disputes.market_referee.REFEREE_STRATEGIES` drawn for it as a
    market referee. Money accounts are integer smallest units, costs float tokens.
    """

    speed: np.ndarray
    capacity: np.ndarray
    cost: np.ndarray
    psi: np.ndarray
    kind: np.ndarray
    entered: np.ndarray
    exited: np.ndarray
    removed: np.ndarray
    open_challenges: np.ndarray
    income: np.ndarray  # settled payments, smallest units
    rewards: np.ndarray  # bond shares and referee rewards, smallest units
    slashed: np.ndarray
    compute_cost: np.ndarray  # tokens
    idle_cost: np.ndarray
    jobs: np.ndarray
    cheated: np.ndarray
    failed: np.ndarray
    won: np.ndarray
    lost: np.ndarray
    barred_rounds: np.ndarray
    referee_strategy: np.ndarray  # index of REFEREE_STRATEGIES (market referees)
    referee_income: np.ndarray  # referee rewards and bribes taken, smallest units (in rewards)
    referee_slashed: np.ndarray  # stake slashed as an overturned market referee
    appeal_net: np.ndarray  # appeal bonds returned and appeal rewards minus bonds locked
    bribes_paid: np.ndarray

    @classmethod
    def empty(cls, n_types: int, n_psi: int) -> Providers:
        z = np.zeros(0, dtype=np.int64)
        zf = np.zeros(0)
        return cls(
            speed=np.zeros((0, n_types)), capacity=zf, cost=zf, psi=np.zeros((0, n_psi)),
            kind=z.astype(np.int8), entered=z, exited=z, removed=z, open_challenges=z,
            income=z, rewards=z, slashed=z, compute_cost=zf, idle_cost=zf, jobs=z, cheated=z,
            failed=z, won=z, lost=z, barred_rounds=z, referee_strategy=z.astype(np.int8),
            referee_income=z, referee_slashed=z, appeal_net=z, bribes_paid=z,
        )

    @property
    def n(self) -> int:
        return int(self.capacity.size)

    def add(self, market: Market | dict[str, np.ndarray], kind: np.ndarray, round_no: int,
            referee_strategy: np.ndarray) -> None:
        """Providers join: a generated market's, or arrays ``speed, capacity, cost, psi``."""
        n = int(kind.size)
        for name in ("speed", "capacity", "cost", "psi"):
            new = market[name] if isinstance(market, dict) else getattr(market, name)
            setattr(self, name, np.concatenate([getattr(self, name), new]))
        self.kind = np.concatenate([self.kind, kind.astype(np.int8)])
        self.referee_strategy = np.concatenate([self.referee_strategy, referee_strategy.astype(np.int8)])
        self.entered = np.concatenate([self.entered, np.full(n, round_no, dtype=np.int64)])
        for name in ("exited", "removed"):
            setattr(self, name, np.concatenate([getattr(self, name), np.full(n, -1, dtype=np.int64)]))
        for f in dataclasses.fields(self):
            arr = getattr(self, f.name)
            if arr.shape[0] < self.n:
                pad = np.zeros((self.n - arr.shape[0],) + arr.shape[1:], dtype=arr.dtype)
                setattr(self, f.name, np.concatenate([arr, pad]))

    @property
    def present(self) -> np.ndarray:
        """Neither removed (convicted) nor gone (exited)."""
        return (self.exited < 0) & (self.removed < 0)


@dataclass
class TaskQueue:
    """Tasks waiting for an auction, as parallel arrays (one row per task)."""

    demand: np.ndarray
    value: np.ndarray
    size: np.ndarray
    priority: np.ndarray
    task_id: np.ndarray
    arrived: np.ndarray

    @classmethod
    def empty(cls, n_types: int) -> TaskQueue:
        z = np.zeros(0, dtype=np.int64)
        return cls(np.zeros((0, n_types)), np.zeros(0), np.zeros(0), z, z, z)

    @property
    def n(self) -> int:
        return int(self.value.size)

    def take(self, idx: np.ndarray) -> TaskQueue:
        return TaskQueue(*(getattr(self, f.name)[idx] for f in dataclasses.fields(self)))

    @staticmethod
    def concat(parts: list[TaskQueue], n_types: int) -> TaskQueue:
        parts = [p for p in parts if p.n]
        if not parts:
            return TaskQueue.empty(n_types)
        return TaskQueue(
            *(np.concatenate([getattr(p, f.name) for p in parts]) for f in dataclasses.fields(TaskQueue))
        )


@dataclass(frozen=True)
class JobRecord:
    """One job's share of its task: enough to re-auction it in a later round.

    ``round`` and ``row`` locate the task in that round's market, ``job`` the job in that
    round's jobs; ``value`` and ``size`` are the task's, pro rata to the job's units; ``amount``
    is the job's payment (smallest units).
    """

    round: int
    row: int
    job: int
    task_id: int
    arrived: int
    priority: int
    demand: np.ndarray
    value: float
    size: float
    amount: int


@dataclass(frozen=True)
class PendingDispute:
    """A running challenge that opened a dispute, resolved at the end of round ``due``.

    ``kind`` is the provider's :data:`~oasis_lab.sim.court.PROVIDER_KINDS` code and
    ``adversary`` the strategy it cheated with (a key of
    :data:`~oasis_lab.sim.config.CHEATER_ADVERSARIES`); ``verdict`` (index of
    :data:`~oasis_lab.disputes.referee.VERDICTS`), ``node`` and ``rounds`` are the game's under
    the platform's trusted stack, decided when the dispute opened.
    """

    job: JobRecord
    due: int
    provider: int
    kind: int
    cheated: bool
    adversary: str
    challenger: str
    bond: int
    verdict: int
    node: int
    rounds: int


@dataclass(frozen=True)
class ReturnedTask:
    """A job's task sent back to the auction by a dispute: ``reason`` is ``"reversed"`` (its
    provider was convicted) or ``"refunded"``; ``bump_priority``: its priority rises by one."""

    job: JobRecord
    reason: str
    bump_priority: bool


@dataclass
class Jobs:
    """The jobs of one round (one provider's part of one task each) and what became of them."""

    task: np.ndarray  # row of the round's market
    local: np.ndarray  # provider index in the round's market
    provider: np.ndarray  # provider index in the population
    trade_job: np.ndarray  # job of each trade
    t_type: np.ndarray
    t_units: np.ndarray
    spend: np.ndarray  # per trade, tokens
    units: np.ndarray
    cost: np.ndarray  # true cost at the provider's prices, tokens
    pay: np.ndarray  # integer smallest units
    kind: np.ndarray
    failed: np.ndarray
    cheated: np.ndarray
    node: np.ndarray
    status: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    adversary: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))

    @property
    def n(self) -> int:
        return int(self.task.size)

    @property
    def delivered(self) -> np.ndarray:
        return ~self.failed

    @classmethod
    def none(cls) -> Jobs:
        z = np.zeros(0, dtype=np.int64)
        f = np.zeros(0, dtype=np.float64)
        b = np.zeros(0, dtype=bool)
        return cls(z, z, z, z, z, f, f, f, f, z, z.astype(np.int8), b, b, z, z.astype(np.int8))


@dataclass
class Challenges:
    """The round's challenges: who challenged which job, and the disputes they opened.

    With challengers racing (a :class:`~oasis_lab.sim.behaviour.ChallengeRace`), ``winner``
    names whose challenge counts on each job (index of ``names``; -1: the platform's or none) and
    ``recomputations`` how many times each job was recomputed (every checking challenger, and
    the platform); both are None otherwise.
    """

    by_user: np.ndarray
    challenged: np.ndarray
    disputed: np.ndarray
    index: np.ndarray  # jobs disputed
    outcome: DisputeResults
    challenger_cost: np.ndarray
    winner: np.ndarray | None = None
    recomputations: np.ndarray | None = None
    names: tuple[str, ...] = ()

    @classmethod
    def none(cls) -> Challenges:
        b = np.zeros(0, dtype=bool)
        z = np.zeros(0, dtype=np.int64)
        outcome = DisputeResults(z.astype(np.int8), z, z, z, np.zeros(0))
        return cls(b, b, b, z, outcome, np.zeros(0))


@dataclass
class Resolution:
    """What the disputes resolved this round moved (smallest units) and sent back to auction.

    ``log`` holds one row per resolved dispute (``record_jobs``: ``SimulationResult.disputes``).
    """

    returned: list[ReturnedTask] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    disputes: int = 0
    convictions: int = 0
    false_convictions: int = 0
    upheld: int = 0
    ambiguous: int = 0
    slashed: int = 0
    challenger_rewards: int = 0
    referee_rewards: int = 0
    bond_to_providers: int = 0
    reversed: int = 0
    refunded: int = 0
    wrong_verdicts: int = 0
    cheaters_freed: int = 0
    appeals: int = 0
    overturned: int = 0
    referees_slashed: int = 0
    referee_slashed: int = 0
    bribes: int = 0


@dataclass
class Requeued:
    """The next round's queue before tasks past ``max_wait`` are given up, with why each task
    is there (``unserved``, ``failed``, ``reversed``, ``refunded``) and where it came from."""

    tasks: TaskQueue
    reason: np.ndarray
    source_round: np.ndarray
    source_row: np.ndarray
    kept: np.ndarray


@dataclass
class Round:
    """What the stages of round ``r`` hand each other (see :mod:`oasis_lab.sim.stages`).

    Filled stage by stage: arrivals (``tasks``, ``eligible`` and the counts), auction
    (``market``, ``result``; ``market`` carries the reported values and costs and
    ``true_market`` the true ones, the same object while reports are truthful), optimum,
    execution (``jobs``), challenges, disputes (``resolution``), ledger (``settle``, ``net``),
    re-auction, entry and exit; ``total`` is the books' total after the conservation check.
    """

    r: int
    tasks: TaskQueue
    arrived: int
    reauctioned_in: int
    present: int
    barred: int
    eligible: np.ndarray
    burn_before: int  # the burn account when the round began
    market: Market | None = None
    true_market: Market | None = None
    result: AuctionResult | None = None
    optimum: float = np.nan
    jobs: Jobs = field(default_factory=Jobs.none)
    challenges: Challenges = field(default_factory=Challenges.none)
    resolution: Resolution = field(default_factory=Resolution)
    settle: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    net: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    served: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    served_share: np.ndarray = field(default_factory=lambda: np.zeros(0))
    requeued: Requeued | None = None
    returned: int = 0
    abandoned: int = 0
    entered: int = 0
    exited: int = 0
    total: int = 0

    def job_record(self, j: int) -> JobRecord:
        """Job ``j``'s task, units per type and share of the task's value and size."""
        jobs, tasks = self.jobs, self.tasks
        t = int(jobs.task[j])
        task_units = self.true_market.task_units if self.true_market is not None else np.zeros(0)
        share_of_task = jobs.units[j] / task_units[t]
        mine = jobs.trade_job == j
        n_types = tasks.demand.shape[1]
        return JobRecord(
            round=self.r,
            row=t,
            job=j,
            task_id=int(tasks.task_id[t]),
            arrived=int(tasks.arrived[t]),
            priority=int(tasks.priority[t]),
            demand=np.bincount(jobs.t_type[mine], weights=jobs.t_units[mine], minlength=n_types),
            value=float(tasks.value[t] * share_of_task),
            size=float(tasks.size[t] * share_of_task),
            amount=int(jobs.pay[j]),
        )

    @cached_property
    def type_prices(self) -> np.ndarray:
        """Mean per-unit price paid for each model type over the delivered trades (NaN: none)."""
        jobs = self.jobs
        n_types = self.tasks.demand.shape[1]
        keep_tr = ~jobs.failed[jobs.trade_job] if jobs.n else np.zeros(0, dtype=bool)
        delivered_types = np.bincount(jobs.t_type[keep_tr], weights=jobs.t_units[keep_tr], minlength=n_types)
        paid_types = np.bincount(jobs.t_type[keep_tr], weights=jobs.spend[keep_tr], minlength=n_types)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(delivered_types > 0, paid_types / delivered_types, np.nan)

    @cached_property
    def waited(self) -> np.ndarray:
        """Rounds each served task waited since its arrival."""
        return self.r - self.tasks.arrived[self.served]


@dataclass
class SimState:
    """Everything a simulation carries from one round to the next (see the module notes).

    ``now`` is the round being played (None before the first). ``profit_hist`` holds each
    provider's cumulative profit after each of the last ``exit_window + 1`` rounds (the exit
    rule's window).
    """

    config: SimConfig
    seed: int
    record: bool
    providers: Providers
    books: Books
    court: Court
    behaviour: Behaviour
    recorder: Recorder
    model_types: tuple[str, ...]
    psi_names: tuple[str, ...]
    queue: TaskQueue
    pending: list[PendingDispute] = field(default_factory=list)
    next_task_id: int = 0
    profit_hist: np.ndarray = field(default_factory=lambda: np.zeros((2, 0)))
    now: Round | None = None
    agents: Agents | None = None

    @property
    def unit(self) -> int:
        """Smallest units per token."""
        return self.config.token_unit

    @property
    def n_types(self) -> int:
        return len(self.model_types)

    @property
    def stake_amount(self) -> int:
        """A provider's stake, smallest units."""
        return self.config.disputes.provider_stake * self.config.token_unit

    @property
    def bond_amount(self) -> int:
        """A challenger's bond, smallest units."""
        return self.config.disputes.challenger_bond * self.config.token_unit

    @property
    def window(self) -> int:
        """Rounds of the exit rule's window (at least 1)."""
        return max(self.config.exit_window, 1)

    @property
    def round(self) -> Round:
        """The round being played (raises before the first round's arrivals)."""
        if self.now is None:
            raise RuntimeError("no round is being played: the arrivals stage opens one")
        return self.now

    def pending_escrow(self) -> int:
        """Payments escrowed by the running challenges, smallest units."""
        return sum(d.job.amount for d in self.pending)

    def pending_bonds(self) -> int:
        """Bonds locked by the running challenges, smallest units."""
        return sum(d.bond for d in self.pending)
