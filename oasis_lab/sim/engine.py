"""The market over time: auction, execution, challenges, disputes, slashing and re-auction.

:func:`simulate` plays the system of whitepaper sections 4 and 5 round after round. Each round

1. **arrivals**: new tasks arrive (:func:`oasis_lab.market.generate_market`'s task model);
   tasks returned for re-auction come back with their raised value and priority;
2. **auction**: providers that are removed, gone or barred by a running challenge sit out;
   PRICES runs (:func:`oasis_lab.auction.greedy.run_greedy`) on the rest;
3. **execution**: a provider fails the round with ``failure_probability`` (its jobs are not
   done, not paid, and return to the auction); a cheater cheats on each job it won with
   ``cheat_probability`` and saves ``cheat_saving`` of its true cost;
4. **challenges**: each delivered job is challenged by its user (``p_user``) or at random by
   the platform (``p_platform``); the challenger recomputes it (``challenge_cost``) and opens a
   dispute when its result differs from the provider's commitment, locking a bond and barring
   the provider until the dispute ends (``dispute_delay`` rounds later);
5. **disputes**: the fault-proof game of :mod:`oasis_lab.disputes` decides each dispute
   (:class:`oasis_lab.sim.court.Court`, played or looked up, same verdicts);
6. **ledger**: payments are escrowed and settled, stakes slashed, challengers and referees
   rewarded, payments reversed, convicted providers removed (:class:`oasis_lab.sim.books.Books`,
   integer smallest units); conservation is checked every round against deposits minus
   withdrawals;
7. **re-auction**: failed jobs and unserved tasks (:func:`oasis_lab.auction.rebid.rebid`) and
   reversed or refunded jobs (the same raise, :func:`~oasis_lab.auction.rebid.raised_value`)
   form the next round's queue; tasks older than ``max_wait`` rounds are given up;
8. **entry and exit**: providers enter (``entry_rate``) and, with ``exit_window > 0``, a
   provider whose income over the window does not cover its costs leaves.

The unit of escrow and challenge is a *job*: one provider's part of one task (a task may be
split over providers). A job's payment is the sum of its trades' ``P_ij units``.

An experiment is a pure function of ``(config, seed)``: every draw comes from
:func:`oasis_lab.seeding.stream` with a purpose (``arrivals``, ``providers``, ``execution``,
``challenges``, ``disputes``) and the round number.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.auction.baselines.optimum import solve_optimum
from oasis_lab.auction.greedy import AuctionResult, run_greedy
from oasis_lab.auction.pricing import unit_cost_matrix
from oasis_lab.auction.rebid import raised_value, rebid, unserved_tasks
from oasis_lab.disputes.referee import VERDICTS
from oasis_lab.market import Market, generate_market
from oasis_lab.seeding import check_seed, child_seed, stream
from oasis_lab.sim.books import Books
from oasis_lab.sim.config import SimConfig
from oasis_lab.sim.court import CHEATER, HONEST, OTHER_DEVICE, PROVIDER_KINDS, Court

__all__ = ["JOB_STATUSES", "STAGES", "simulate"]

#: The stages whose wall time :func:`simulate` measures (``SimulationResult.timings``).
STAGES: tuple[str, ...] = ("arrivals", "auction", "execution", "disputes", "ledger", "reauction")

#: What became of a job by the end of its round (``SimulationResult.jobs["status"]``).
JOB_STATUSES: tuple[str, ...] = ("failed", "escrowed", "challenged", "settled", "reversed", "refunded")
_FAILED, _ESCROWED, _CHALLENGED, _SETTLED, _REVERSED, _REFUNDED = range(len(JOB_STATUSES))
_GUILTY, _WRONG, _AMBIGUOUS = (VERDICTS.index(v) for v in ("provider_guilty", "challenger_wrong", "ambiguous"))


@dataclass
class _Providers:
    """The provider population (grows on entry), one row per provider ever present."""

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

    @classmethod
    def empty(cls, n_types: int, n_psi: int) -> _Providers:
        z = np.zeros(0, dtype=np.int64)
        zf = np.zeros(0)
        return cls(
            speed=np.zeros((0, n_types)), capacity=zf, cost=zf, psi=np.zeros((0, n_psi)),
            kind=z.astype(np.int8), entered=z, exited=z, removed=z, open_challenges=z,
            income=z, rewards=z, slashed=z, compute_cost=zf, idle_cost=zf, jobs=z, cheated=z,
            failed=z, won=z, lost=z, barred_rounds=z,
        )

    @property
    def n(self) -> int:
        return int(self.capacity.size)

    def add(self, market: Market, kind: np.ndarray, round_no: int) -> None:
        n = market.n_providers
        for name in ("speed", "capacity", "cost", "psi"):
            setattr(self, name, np.concatenate([getattr(self, name), getattr(market, name)]))
        self.kind = np.concatenate([self.kind, kind.astype(np.int8)])
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
class _Queue:
    """Tasks waiting for the next auction, as parallel arrays (one row per task)."""

    demand: np.ndarray
    value: np.ndarray
    size: np.ndarray
    priority: np.ndarray
    task_id: np.ndarray
    arrived: np.ndarray

    @classmethod
    def empty(cls, n_types: int) -> _Queue:
        z = np.zeros(0, dtype=np.int64)
        return cls(np.zeros((0, n_types)), np.zeros(0), np.zeros(0), z, z, z)

    @property
    def n(self) -> int:
        return int(self.value.size)

    def take(self, idx: np.ndarray) -> _Queue:
        return _Queue(*(getattr(self, f.name)[idx] for f in dataclasses.fields(self)))

    @staticmethod
    def concat(parts: list[_Queue], n_types: int) -> _Queue:
        parts = [p for p in parts if p.n]
        if not parts:
            return _Queue.empty(n_types)
        return _Queue(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in dataclasses.fields(_Queue)))


@dataclass
class _Pending:
    """Running challenges (disputes), as parallel lists in the order they were opened."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def escrow(self) -> int:
        return sum(r["amount"] for r in self.rows)

    def bonds(self) -> int:
        return sum(r["bond"] for r in self.rows)


@dataclass(frozen=True)
class _RoundJobs:
    """The jobs of one round, enough to re-auction any of them later."""

    round_no: int
    tasks: _Queue
    job_task: np.ndarray
    job_units: np.ndarray
    task_units: np.ndarray
    trade_job: np.ndarray
    t_type: np.ndarray
    t_units: np.ndarray
    job_pay: np.ndarray
    n_types: int

    def record(self, j: int) -> dict[str, Any]:
        """Job ``j``'s task, units per type and share of the task's value and size."""
        t = int(self.job_task[j])
        share_of_task = self.job_units[j] / self.task_units[t]
        mine = self.trade_job == j
        return {
            "round": self.round_no,
            "row": t,
            "job": j,
            "task_id": int(self.tasks.task_id[t]),
            "arrived": int(self.tasks.arrived[t]),
            "priority": int(self.tasks.priority[t]),
            "demand": np.bincount(self.t_type[mine], weights=self.t_units[mine], minlength=self.n_types),
            "value": float(self.tasks.value[t] * share_of_task),
            "size": float(self.tasks.size[t] * share_of_task),
            "amount": int(self.job_pay[j]),
        }


def _population(config: SimConfig, n: int, seed: int, *purpose: Any) -> tuple[Market, np.ndarray]:
    """``n`` providers drawn for the config's scenario, and their kinds (honest/cheater/other device).

    Capacities are sized against ``tasks_per_round`` tasks shared by ``n_providers``
    providers (entrants are drawn at the same scale).
    """
    size = max(n, config.n_providers)
    market = generate_market(
        config.tasks_per_round,
        size,
        n_types=config.n_types,
        scenario=config.scenario,
        seed=child_seed(seed, "providers", *purpose),
        capacity_unit=config.auction.capacity,
    )
    rows = np.arange(n)
    market = market.replace(
        speed=market.speed[rows],
        capacity=market.capacity[rows],
        cost=market.cost[rows],
        psi=market.psi[rows],
    )
    u = stream(seed, "strategies", *purpose).random(n)
    honest_u = (u - config.cheater_share) / max(1.0 - config.cheater_share, 1e-300)
    kind = np.where(
        u < config.cheater_share,
        CHEATER,
        np.where(honest_u < config.other_device_share, OTHER_DEVICE, HONEST),
    )
    return market, kind.astype(np.int8)


#: Rounds whose arrivals are drawn in one call of ``generate_market`` (its fixed cost per
#: call is most of the time of drawing 10,000 tasks).
ARRIVAL_BLOCK = 16


class _Arrivals:
    """The tasks arriving each round, drawn a block of :data:`ARRIVAL_BLOCK` rounds at a time.

    Round ``r``'s count is ``tasks_per_round`` or a Poisson draw from ``("arrivals", r)``; the
    tasks of block ``b`` come from one market drawn with ``("arrivals", "block", b)`` and are
    split over its rounds in order. Task values do not depend on the providers under
    ``capacity="units"`` (the price level is a constant), so one provider is drawn; the "time"
    reading prices tasks per type against the providers' median speeds, so it draws a
    population-sized market.
    """

    def __init__(self, config: SimConfig, seed: int) -> None:
        self.config = config
        self.seed = seed
        self.block = -1
        self.market: Market | None = None
        self.starts = np.zeros(1, dtype=np.int64)

    def count(self, round_no: int) -> int:
        c = self.config
        if c.arrivals == "fixed":
            return c.tasks_per_round
        return int(stream(self.seed, "arrivals", round_no).poisson(c.tasks_per_round))

    def __call__(self, round_no: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """``(demand, value, size)`` of round ``round_no``'s new tasks, or None when none."""
        c = self.config
        block = round_no // ARRIVAL_BLOCK
        if block != self.block:
            first = block * ARRIVAL_BLOCK
            last = min(first + ARRIVAL_BLOCK, c.rounds)
            counts = np.array([self.count(r) for r in range(first, last)], dtype=np.int64)
            self.starts = np.concatenate([[0], np.cumsum(counts)])
            self.block = block
            total = int(self.starts[-1])
            self.market = None if total == 0 else generate_market(
                total,
                1 if c.auction.capacity == "units" else c.n_providers,
                n_types=c.n_types,
                scenario=c.scenario,
                seed=child_seed(self.seed, "arrivals", "block", block),
                capacity_unit=c.auction.capacity,
            )
        k = round_no - block * ARRIVAL_BLOCK
        lo, hi = int(self.starts[k]), int(self.starts[k + 1])
        if hi == lo or self.market is None:
            return None
        m = self.market
        size = m.size[lo:hi] if m.size is not None else np.zeros(hi - lo)
        return m.demand[lo:hi], m.value[lo:hi], size


def _jobs(result: AuctionResult, n_providers: int) -> tuple[np.ndarray, ...]:
    """Aggregate the trades into jobs (task, provider): returns job arrays and each trade's job."""
    tr = result.trades
    task = tr["task"].to_numpy()
    prov = tr["provider"].to_numpy()
    key = task * n_providers + prov
    uniq, inverse = np.unique(key, return_inverse=True)
    return uniq // n_providers, uniq % n_providers, inverse


def simulate(
    config: SimConfig,
    seed: int = 0,
    *,
    record_jobs: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Any:
    """Simulate ``config.rounds`` rounds of the market (whitepaper sections 4 and 5).

    Parameters
    ----------
    config : SimConfig
        Every choice of the run (validated).
    seed : int
        Root seed: the run is a pure function of ``(config, seed)``.
    record_jobs : bool, default False
        Keep one row per job and per re-auctioned task (``SimulationResult.jobs`` and
        ``.requeued``): for tests and small studies; it does not change the run.
    progress : callable, optional
        Called with the round number after each round (the CLI's progress bar).

    Returns
    -------
    SimulationResult
        Per-round and per-provider tables, the final ledger, stage timings.

    Raises
    ------
    TypeError, ValueError
        ``config`` not a SimConfig, bad ``seed``.
    oasis_lab.disputes.ledger.LedgerError
        Tokens were created or lost (a bug: conservation is checked every round).

    Examples
    --------
    >>> from oasis_lab.sim import SimConfig, simulate
    >>> res = simulate(SimConfig(rounds=3, tasks_per_round=50, n_providers=10), seed=1)
    >>> len(res.rounds)
    3
    """
    from oasis_lab.sim.result import SimulationResult

    if not isinstance(config, SimConfig):
        raise TypeError(f"config must be a SimConfig, got {type(config).__name__}")
    seed = check_seed(seed)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable, got {type(progress).__name__}")
    c = config
    dp = c.disputes
    unit = c.token_unit
    stake_amount = dp.provider_stake * unit
    bond_amount = dp.challenger_bond * unit
    fee = c.auction.fee
    timings = dict.fromkeys(STAGES, 0.0)
    clock = time.perf_counter

    t0 = clock()
    first, kinds = _population(c, c.n_providers, seed, "initial")
    model_types = first.model_types
    psi_names = first.psi_names
    n_types = first.n_types
    prov = _Providers.empty(n_types, first.psi.shape[1])
    prov.add(first, kinds, 0)
    books = Books()
    books.add_providers(c.n_providers, stake_amount)
    court = Court(c.computation, dp, c.adversary, c.other_device_ulps, seed, c.dispute_mode)
    n_nodes = court.n_nodes
    queue = _Queue.empty(n_types)
    arrivals = _Arrivals(c, seed)
    pending = _Pending()
    window = max(c.exit_window, 1)
    profit_hist = np.zeros((window + 1, c.n_providers))
    next_task_id = 0
    rows: list[dict[str, Any]] = []
    job_log: list[pd.DataFrame] = []
    requeue_log: list[pd.DataFrame] = []
    task_log: list[pd.DataFrame] = []
    dispute_log: list[dict[str, Any]] = []
    timings["arrivals"] += clock() - t0

    for r in range(c.rounds):
        row: dict[str, Any] = {"round": r}
        # ------------------------------------------------------------ arrivals
        t0 = clock()
        arrived = arrivals(r)
        n_new = 0 if arrived is None else arrived[1].size
        requeued_in = queue.n
        if arrived is not None:
            ids = np.arange(next_task_id, next_task_id + n_new, dtype=np.int64)
            next_task_id += n_new
            new = _Queue(
                demand=arrived[0],
                value=arrived[1],
                size=arrived[2],
                priority=np.zeros(n_new, dtype=np.int64),
                task_id=ids,
                arrived=np.full(n_new, r, dtype=np.int64),
            )
            tasks = _Queue.concat([queue, new], n_types)
        else:
            tasks = queue
        present = prov.present
        barred = present & (prov.open_challenges > 0)
        prov.barred_rounds[barred] += 1
        eligible = np.flatnonzero(present & ~barred)
        timings["arrivals"] += clock() - t0
        row.update(
            arrived=n_new,
            reauctioned_in=requeued_in,
            tasks=tasks.n,
            providers_present=int(present.sum()),
            providers_barred=int(barred.sum()),
            providers_eligible=int(eligible.size),
        )

        # ------------------------------------------------------------ auction
        t0 = clock()
        market: Market | None = None
        result: AuctionResult | None = None
        if tasks.n and eligible.size:
            market = Market(
                demand=tasks.demand,
                value=tasks.value,
                speed=prov.speed[eligible],
                capacity=prov.capacity[eligible],
                cost=prov.cost[eligible],
                psi=prov.psi[eligible],
                model_types=model_types,
                size=tasks.size,
                psi_names=psi_names,
                priority=tasks.priority,
            )
            result = run_greedy(market, c.auction)
        timings["auction"] += clock() - t0
        optimum = np.nan
        if market is not None and c.optimum_every and r % c.optimum_every == 0:
            opt = solve_optimum(market, c.auction, time_limit=c.optimum_time_limit, backend="highspy")
            optimum = float(opt.welfare)

        # ------------------------------------------------------------ execution
        t0 = clock()
        rng_exec = stream(seed, "execution", r)
        rng_chal = stream(seed, "challenges", r)
        if result is not None and len(result.trades):
            assert market is not None
            job_task, job_local, trade_job = _jobs(result, market.n_providers)
            tr = result.trades
            t_units = tr["units"].to_numpy()
            t_type = tr["type"].to_numpy()
            t_prov = tr["provider"].to_numpy()
            spend = tr["unit_price"].to_numpy() * t_units
            n_jobs = job_task.size
            job_spend = np.bincount(trade_job, weights=spend, minlength=n_jobs)
            job_units = np.bincount(trade_job, weights=t_units, minlength=n_jobs)
            unit_cost = unit_cost_matrix(market, c.auction)
            job_cost = np.bincount(
                trade_job, weights=unit_cost[t_prov, t_type] * t_units, minlength=n_jobs
            )
            job_prov = eligible[job_local]
        else:
            job_task = job_local = trade_job = np.zeros(0, dtype=np.int64)
            t_type = np.zeros(0, dtype=np.int64)
            t_units = spend = np.zeros(0, dtype=np.float64)
            job_spend = job_units = job_cost = np.zeros(0, dtype=np.float64)
            job_prov = np.zeros(0, dtype=np.int64)
            n_jobs = 0
        fails = rng_exec.random(eligible.size) < c.failure_probability
        job_failed = fails[job_local] if n_jobs else np.zeros(0, dtype=bool)
        job_kind = prov.kind[job_prov]
        job_cheated = (
            (job_kind == CHEATER) & (rng_exec.random(n_jobs) < c.cheat_probability) & ~job_failed
        )
        # the node a cheater perturbs or an other-device provider rounds (WrongAfter needs a
        # node before the last one)
        job_node = rng_exec.integers(0, max(n_nodes - 1, 1), size=n_jobs)
        delivered = ~job_failed
        job_true_cost = np.where(job_cheated, (1.0 - c.cheat_saving) * job_cost, job_cost)
        prov.compute_cost += np.bincount(
            job_prov[delivered], weights=job_true_cost[delivered], minlength=prov.n
        )
        prov.jobs += np.bincount(job_prov[delivered], minlength=prov.n)
        prov.cheated += np.bincount(job_prov[job_cheated], minlength=prov.n)
        prov.failed += np.bincount(job_prov[job_failed], minlength=prov.n)
        # ledger boundary: float spend -> integer smallest units
        job_pay = np.floor(job_spend * unit).astype(np.int64)
        if n_jobs and int(job_pay.max()) >= 2**53:
            raise ValueError(
                f"round {r}: a job pays {int(job_pay.max())} smallest units >= 2**53; "
                f"lower token_unit = {unit}"
            )
        timings["execution"] += clock() - t0

        # ------------------------------------------------------------ challenges and disputes
        t0 = clock()
        by_user = rng_chal.random(n_jobs) < c.p_user
        by_platform = rng_chal.random(n_jobs) < c.p_platform
        challenged = delivered & (by_user | by_platform)
        challenger_cost = c.challenge_cost * job_cost
        diverges = job_cheated | (job_kind == OTHER_DEVICE)
        disputed = challenged & diverges
        d_idx = np.flatnonzero(disputed)
        outcome = court.decide(job_kind[d_idx].astype(np.int64), job_node[d_idx], r)
        timings["disputes"] += clock() - t0

        # ------------------------------------------------------------ ledger
        t0 = clock()
        books.escrow(job_pay[delivered])
        status = np.where(job_failed, _FAILED, _ESCROWED).astype(np.int8)

        jobs_now = _RoundJobs(
            r, tasks, job_task, job_units,
            market.task_units if market is not None else np.zeros(0),
            trade_job, t_type, t_units, job_pay, n_types,
        )
        # Python loops over disputes: a round has tens of them among thousands of jobs (the
        # benchmark: about 130 in 1,000 rounds), and each moves a handful of integer amounts.
        for q, j in enumerate(d_idx):
            who = "user" if by_user[j] else "platform"
            books.open_challenge(who, int(job_pay[j]), bond_amount)
            p = int(job_prov[j])
            prov.open_challenges[p] += 1
            status[j] = _CHALLENGED
            pending.rows.append(
                {
                    **jobs_now.record(int(j)),
                    "due": r + c.dispute_delay,
                    "provider": p,
                    "kind": int(job_kind[j]),
                    "cheated": bool(job_cheated[j]),
                    "challenger": who,
                    "bond": bond_amount,
                    "verdict": int(outcome.verdict[q]),
                    "rounds": int(outcome.rounds[q]),
                }
            )
        # resolve the disputes due this round, in the order they were opened
        due = [row_ for row_ in pending.rows if row_["due"] <= r]
        pending.rows = [row_ for row_ in pending.rows if row_["due"] > r]
        referees = stream(seed, "disputes", "referee", r)
        back: list[dict[str, Any]] = []  # jobs whose payment goes back (re-auctioned)
        counts = {"disputes": len(due), "convictions": 0, "false_convictions": 0, "upheld": 0, "ambiguous": 0}
        flows = {"slashed": 0, "burned_before": books.burn, "challenger_rewards": 0, "referee_rewards": 0,
                     "reversed": 0, "refunded": 0, "bond_to_providers": 0}
        for d in due:
            p = d["provider"]
            prov.open_challenges[p] -= 1
            present_now = prov.present
            present_now[p] = False
            pool = np.flatnonzero(present_now)
            referee = int(pool[referees.integers(pool.size)]) if pool.size else -1
            verdict = d["verdict"]
            f = books.resolve(
                VERDICTS[verdict], p, d["challenger"], d["amount"], d["bond"], referee, dp,
                removed=bool(prov.removed[p] >= 0), fee=fee,
            )
            if record_jobs:
                dispute_log.append(
                    {
                        "opened": d["round"], "resolved": r, "task_id": d["task_id"],
                        "provider": p, "kind": PROVIDER_KINDS[d["kind"]], "cheated": d["cheated"],
                        "challenger": d["challenger"], "verdict": VERDICTS[verdict],
                        "amount": d["amount"], "returned": f["returned"], "paid": f["paid"],
                        "slashed": f["slashed"], "referee": referee, "game_rounds": d["rounds"],
                    }
                )
            if referee >= 0:
                prov.rewards[referee] += f["to_referee"]
            prov.rewards[p] += f["to_provider"]
            prov.income[p] += f["paid"]
            prov.slashed[p] += f["slashed"]
            flows["slashed"] += f["slashed"]
            flows["challenger_rewards"] += f["to_challenger"]
            flows["referee_rewards"] += f["to_referee"]
            flows["bond_to_providers"] += f["to_provider"]
            if verdict == _GUILTY:
                prov.lost[p] += 1
                flows["reversed"] += f["returned"]
                counts["convictions"] += 1
                counts["false_convictions"] += int(d["kind"] != CHEATER)
                if prov.removed[p] < 0:
                    prov.removed[p] = r
                if d["round"] == r:
                    status[d["job"]] = _REVERSED
                back.append({**d, "reason": "reversed", "bump_priority": dp.reauction_priority})
                # its other unsettled jobs of this round go back to their users and the auction
                others = np.flatnonzero((job_prov == p) & (status == _ESCROWED))
                for j in others:
                    status[j] = _REFUNDED
                    books.refund(job_pay[j : j + 1])
                    flows["refunded"] += int(job_pay[j])
                    back.append({**jobs_now.record(int(j)), "provider": p, "reason": "refunded", "bump_priority": False})
            else:
                if verdict == _WRONG:
                    prov.won[p] += 1
                    counts["upheld"] += 1
                else:
                    counts["ambiguous"] += 1
                if f["returned"]:
                    flows["refunded"] += f["returned"]
                    back.append({**d, "reason": "refunded", "bump_priority": False})
        # the challenge window closes: the round's unchallenged jobs are paid
        settle = np.flatnonzero(status == _ESCROWED)
        net = books.settle(job_prov[settle], job_pay[settle], fee)
        np.add.at(prov.income, job_prov[settle], net)
        status[settle] = _SETTLED
        timings["ledger"] += clock() - t0

        # ------------------------------------------------------------ re-auction
        t0 = clock()
        parts: list[_Queue] = []
        reasons: list[np.ndarray] = []
        sources: list[np.ndarray] = []
        source_rows: list[np.ndarray] = []
        returned = 0
        if market is not None and result is not None:
            kept = ~job_failed[trade_job] if n_jobs else np.zeros(0, dtype=bool)
            effective = dataclasses.replace(result, trades=result.trades[kept].reset_index(drop=True))
            left = unserved_tasks(market, effective)
            had_failure = np.zeros(market.n_tasks, dtype=bool)
            had_failure[job_task[job_failed]] = True
            sel = np.arange(left.size) if c.requeue_unserved else np.flatnonzero(had_failure[left])
            if sel.size:
                # rebid's rows are the unserved tasks in the order unserved_tasks lists them
                nxt = rebid(market, effective)
                left = left[sel]
                parts.append(
                    _Queue(
                        demand=nxt.demand[sel],
                        value=nxt.value[sel],
                        size=nxt.size[sel] if nxt.size is not None else np.zeros(sel.size),
                        priority=nxt.priority[sel] if dp.reauction_priority else tasks.priority[left],
                        task_id=tasks.task_id[left],
                        arrived=tasks.arrived[left],
                    )
                )
                reasons.append(np.where(had_failure[left], "failed", "unserved").astype(object))
                sources.append(np.full(sel.size, r, dtype=np.int64))
                source_rows.append(left)
                returned += sel.size
            served_share = effective.served_share
            got = np.zeros(market.n_tasks, dtype=bool)
            got[job_task[delivered]] = True
        elif tasks.n and c.requeue_unserved:
            parts.append(
                _Queue(
                    demand=tasks.demand,
                    value=raised_value(tasks.value, c.auction.rebid_bump, c.auction.rebid_mode),
                    size=tasks.size,
                    priority=tasks.priority + (1 if dp.reauction_priority else 0),
                    task_id=tasks.task_id,
                    arrived=tasks.arrived,
                )
            )
            reasons.append(np.full(tasks.n, "unserved", dtype=object))
            sources.append(np.full(tasks.n, r, dtype=np.int64))
            source_rows.append(np.arange(tasks.n))
            returned += tasks.n
            got = np.zeros(tasks.n, dtype=bool)
            served_share = np.zeros(tasks.n)
        else:
            got = np.zeros(tasks.n, dtype=bool)
            served_share = np.zeros(tasks.n)
        if back:
            parts.append(
                _Queue(
                    demand=np.array([b["demand"] for b in back]),
                    value=raised_value(
                        np.array([b["value"] for b in back]), c.auction.rebid_bump, c.auction.rebid_mode
                    ),
                    size=np.array([b["size"] for b in back]),
                    priority=np.array([b["priority"] + int(b["bump_priority"]) for b in back], dtype=np.int64),
                    task_id=np.array([b["task_id"] for b in back], dtype=np.int64),
                    arrived=np.array([b["arrived"] for b in back], dtype=np.int64),
                )
            )
            reasons.append(np.array([b["reason"] for b in back], dtype=object))
            sources.append(np.array([b["round"] for b in back], dtype=np.int64))
            source_rows.append(np.array([b["row"] for b in back], dtype=np.int64))
            returned += len(back)
        nq = _Queue.concat(parts, n_types)
        keep = (r + 1 - nq.arrived) < c.max_wait
        abandoned = int((~keep).sum())
        if record_jobs and nq.n:
            requeue_log.append(
                pd.DataFrame(
                    {
                        "round": r,
                        "task_id": nq.task_id,
                        "value": nq.value,
                        "units": nq.demand.sum(axis=1),
                        "priority": nq.priority,
                        "arrived": nq.arrived,
                        "reason": np.concatenate(reasons),
                        "source_round": np.concatenate(sources),
                        "source_row": np.concatenate(source_rows),
                        "kept": keep,
                    }
                )
            )
        queue = nq.take(np.flatnonzero(keep))
        timings["reauction"] += clock() - t0

        # ------------------------------------------------------------ entry and exit
        t0 = clock()
        present = prov.present
        prov.idle_cost[present] += c.idle_cost
        exited_now = 0
        if c.exit_window:
            # cumulative profit after each of the last ``exit_window + 1`` rounds: the profit
            # over the window is its difference with the value ``exit_window`` rounds ago
            cum = (prov.income + prov.rewards) / unit - prov.compute_cost - prov.idle_cost
            profit_hist = _grow(profit_hist, prov.n)
            profit_hist[r % (window + 1)] = cum
            if r + 1 >= window:
                prev = profit_hist[(r - window) % (window + 1)] if r >= window else 0.0
                old = (r + 1 - prov.entered) >= window
                leave = np.flatnonzero(
                    present & old & (cum - prev < 0) & (prov.open_challenges == 0)
                )
                if leave.size:
                    books.withdraw_providers(leave)
                    prov.exited[leave] = r
                    exited_now = int(leave.size)
        entered_now = 0
        if c.entry_rate > 0:
            k = int(stream(seed, "providers", "entry", r).poisson(c.entry_rate))
            if k:
                newcomers, kinds_new = _population(c, k, seed, "entry", r)
                prov.add(newcomers, kinds_new, r + 1)
                books.add_providers(k, stake_amount)
                profit_hist = _grow(profit_hist, prov.n)
                entered_now = k
        timings["ledger"] += clock() - t0

        # ------------------------------------------------------------ conservation and tables
        t0 = clock()
        total = books.check(pending.escrow(), pending.bonds(), r)
        n_tasks_round = tasks.n
        waited = (r - tasks.arrived[got]) if n_tasks_round else np.zeros(0)
        keep_tr = ~job_failed[trade_job] if n_jobs else np.zeros(0, dtype=bool)
        delivered_types = np.bincount(t_type[keep_tr], weights=t_units[keep_tr], minlength=n_types)
        paid_types = np.bincount(t_type[keep_tr], weights=spend[keep_tr], minlength=n_types)
        with np.errstate(invalid="ignore", divide="ignore"):
            prices = np.where(delivered_types > 0, paid_types / delivered_types, np.nan)
        row.update(
            served=int(got.sum()),
            served_share=float(served_share.mean()) if served_share.size else 0.0,
            jobs=n_jobs,
            failed_jobs=int(job_failed.sum()),
            cheated_jobs=int(job_cheated.sum()),
            reauctioned=returned,
            abandoned=abandoned,
            queue=queue.n,
            wait_mean=float(waited.mean()) if waited.size else np.nan,
            wait_max=int(waited.max()) if waited.size else 0,
            welfare=float(result.welfare) if result is not None else 0.0,
            optimum_welfare=optimum,
            payments=int(job_pay[delivered].sum()) / unit,
            settled=int(job_pay[settle].sum()) / unit,
            cheated_settled=int(job_pay[settle][job_cheated[settle]].sum()) / unit,
            fees=int(np.sum(job_pay[settle] - net)) / unit,
            challenges=int(challenged.sum()),
            challenges_user=int((challenged & by_user).sum()),
            disputes_opened=int(d_idx.size),
            disputes_resolved=counts["disputes"],
            convictions=counts["convictions"],
            false_convictions=counts["false_convictions"],
            upheld=counts["upheld"],
            ambiguous=counts["ambiguous"],
            dispute_rounds_mean=float(outcome.rounds.mean()) if outcome.rounds.size else np.nan,
            slashed=flows["slashed"] / unit,
            burned=(books.burn - flows["burned_before"]) / unit,
            reversed=flows["reversed"] / unit,
            refunded=flows["refunded"] / unit,
            challenger_costs=float(challenger_cost[challenged].sum()),
            challenger_rewards=flows["challenger_rewards"] / unit,
            referee_rewards=flows["referee_rewards"] / unit,
            bond_to_providers=flows["bond_to_providers"] / unit,
            bonds_locked=books.bonds_open / unit,
            stake_locked=int(books.stake.sum()) / unit,
            providers_removed=int((prov.removed >= 0).sum()),
            providers_entered=entered_now,
            providers_exited=exited_now,
            cheaters_present=int((prov.present & (prov.kind == CHEATER)).sum()),
            tokens_held=total / unit,
            deposited=books.deposited / unit,
            withdrawn=books.withdrawn / unit,
        )
        for t, name in enumerate(model_types):
            row[f"price[{name}]"] = float(prices[t])
        rows.append(row)
        if record_jobs and tasks.n:
            task_log.append(
                pd.DataFrame(
                    {
                        "round": r,
                        "row": np.arange(tasks.n),
                        "task_id": tasks.task_id,
                        "value": tasks.value,
                        "units": tasks.demand.sum(axis=1),
                        "priority": tasks.priority,
                        "arrived": tasks.arrived,
                    }
                )
            )
        if record_jobs and n_jobs:
            assert market is not None
            job_log.append(
                pd.DataFrame(
                    {
                        "round": r,
                        "task_id": tasks.task_id[job_task],
                        "value": tasks.value[job_task],
                        "task_units": market.task_units[job_task],
                        "priority": tasks.priority[job_task],
                        "provider": job_prov,
                        "kind": np.asarray(PROVIDER_KINDS, dtype=object)[job_kind],
                        "units": job_units,
                        "true_cost": job_cost,
                        "payment": job_pay,
                        "failed": job_failed,
                        "cheated": job_cheated,
                        "challenged": challenged,
                        "disputed": disputed,
                        "node": job_node,
                        "status": np.asarray(JOB_STATUSES, dtype=object)[status],
                    }
                )
            )
        timings["ledger"] += clock() - t0
        if progress is not None:
            progress(r)

    providers = _provider_table(prov, books, unit, c)
    return SimulationResult(
        config=c,
        seed=seed,
        rounds=pd.DataFrame(rows),
        providers=providers,
        ledger=books.to_frame(),
        timings=timings,
        jobs=pd.concat(job_log, ignore_index=True) if job_log else None,
        requeued=pd.concat(requeue_log, ignore_index=True) if requeue_log else None,
        tasks=pd.concat(task_log, ignore_index=True) if task_log else None,
        disputes=pd.DataFrame(dispute_log) if record_jobs else None,
        games_played=court.games_played,
    )


def _grow(hist: np.ndarray, n: int) -> np.ndarray:
    if hist.shape[1] >= n:
        return hist
    return np.concatenate([hist, np.zeros((hist.shape[0], n - hist.shape[1]))], axis=1)


def _provider_table(prov: _Providers, books: Books, unit: int, c: SimConfig) -> pd.DataFrame:
    kind = np.asarray(PROVIDER_KINDS, dtype=object)[prov.kind]
    strategy = np.where(
        prov.kind == CHEATER,
        c.adversary,
        np.where(prov.kind == OTHER_DEVICE, f"other-device({c.other_device_ulps} ulp)", "honest"),
    )
    income = prov.income / unit
    rewards = prov.rewards / unit
    return pd.DataFrame(
        {
            "provider": np.arange(prov.n),
            "kind": kind,
            "strategy": strategy,
            "honest": prov.kind != CHEATER,
            "entered": prov.entered,
            "exited": prov.exited,
            "removed": prov.removed,
            "jobs": prov.jobs,
            "failed_jobs": prov.failed,
            "cheated_jobs": prov.cheated,
            "income": income,
            "rewards": rewards,
            "compute_cost": prov.compute_cost,
            "idle_cost": prov.idle_cost,
            "profit": income + rewards - prov.compute_cost - prov.idle_cost,
            "slashed": prov.slashed / unit,
            "stake": books.stake / unit,
            "balance": books.provider / unit,
            "disputes_won": prov.won,
            "disputes_lost": prov.lost,
            "barred_rounds": prov.barred_rounds,
            "open_challenges": prov.open_challenges,
        }
    ).set_index("provider")
