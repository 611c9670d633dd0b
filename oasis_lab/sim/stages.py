"""The stages of a simulated round, one function each: ``stage(state, r) -> None``.

:data:`ROUND` lists them in the order :func:`oasis_lab.sim.simulate` plays and times them each
round (whitepaper sections 4 and 5):

1. ``arrivals``: new tasks arrive (:func:`oasis_lab.market.generate_market`'s task model) and
   join the tasks waiting from earlier rounds; providers that are removed, gone or barred by a
   running challenge sit the round out;
2. ``auction``: PRICES (:func:`oasis_lab.auction.greedy.run_greedy`) on the waiting tasks and
   the eligible providers, at the values and costs they report (seams ``user_reports``,
   ``provider_reports``);
3. ``optimum``: the round's exact welfare optimum every ``optimum_every`` rounds (HiGHS);
4. ``execution``: a provider fails the round with ``failure_probability`` (its jobs are not
   done, not paid, and return to the auction); cheaters decide which jobs to cheat on (seam
   ``cheat``) and save ``cheat_saving`` of their true cost; users escrow the delivered jobs'
   payments (integer smallest units);
5. ``challenges``: users and the platform decide which delivered jobs to challenge (seams
   ``user_challenge``, ``platform_challenge``) and recompute them (``challenge_cost``); a
   disagreement opens a dispute, decided by the fault-proof game
   (:class:`oasis_lab.sim.court.Court`), locking a bond and barring the provider until the
   dispute ends (``dispute_delay`` rounds later);
6. ``disputes``: the disputes due this round are resolved in the order they were opened: by the
   platform's trusted stack or a market referee (seams ``referee``, ``bribe``), perhaps
   appealed; stakes slashed, challengers and referees rewarded, payments reversed or refunded,
   convicted providers removed (:class:`oasis_lab.sim.books.Books`);
7. ``ledger``: the challenge window closes: the round's unchallenged jobs are settled, less the
   platform fee;
8. ``reauction``: failed jobs and unserved tasks (:func:`oasis_lab.auction.rebid.rebid`) and
   reversed or refunded jobs (the same raise, :func:`~oasis_lab.auction.rebid.raised_value`)
   form the next round's queue; tasks older than ``max_wait`` rounds are given up;
9. ``entry_exit``: providers pay their idle cost; with ``exit_window > 0`` those whose income
   over the window does not cover their costs leave (seam ``exit``); providers enter
   (``entry_rate``);
10. ``learn``: the learning agents (``SimConfig.policies``) whose actions' consequences have
    all landed learn their own payoffs; removed learning providers whose operators rejoin
    come back (:class:`oasis_lab.sim.adapters.Agents`; nothing when every role is scripted);
11. ``record``: conservation is checked against deposits minus withdrawals, and the recorder
    (:class:`oasis_lab.sim.recorder.Recorder`) writes the round's row (and, with
    ``record_jobs``, its tasks, jobs, re-auctioned tasks and disputes).

The unit of escrow and challenge is a *job*: one provider's part of one task (a task may be
split over providers). A job's payment is the sum of its trades' ``P_ij units``. Every draw comes
from :func:`oasis_lab.seeding.stream` with a purpose (``arrivals``, ``providers``,
``execution``, ``challenges``, ``disputes``) and the round number.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from oasis_lab.auction.baselines.optimum import solve_optimum
from oasis_lab.auction.greedy import AuctionResult, run_greedy
from oasis_lab.auction.pricing import unit_cost_matrix
from oasis_lab.auction.rebid import left_over, raised_value, remaining_demand, requeued
from oasis_lab.disputes.market_referee import REFEREE_STRATEGIES, Adjudication, MarketReferee
from oasis_lab.disputes.referee import VERDICTS
from oasis_lab.market import Market, generate_market
from oasis_lab.seeding import child_seed, stream
from oasis_lab.sim.behaviour import (
    BribeObservation,
    ChallengeObservation,
    ChallengeRace,
    CheatObservation,
    CostObservation,
    ExitObservation,
    RefereeObservation,
    ValueObservation,
    checked_amounts,
    checked_bribe,
    checked_cheating,
    checked_mask,
    checked_race,
    checked_strategies,
)
from oasis_lab.sim.config import CHEATER_ADVERSARIES, SimConfig
from oasis_lab.sim.court import CHEATER, OTHER_DEVICE, PROVIDER_KINDS
from oasis_lab.sim.population import draw_providers, referee_strategies
from oasis_lab.sim.state import (
    CHALLENGED,
    ESCROWED,
    FAILED,
    REFUNDED,
    REVERSED,
    SETTLED,
    Challenges,
    Jobs,
    PendingDispute,
    Requeued,
    Resolution,
    ReturnedTask,
    Round,
    SimState,
    TaskQueue,
)

__all__ = [
    "ROUND",
    "STAGES",
    "Stage",
    "arrivals",
    "auction",
    "challenges",
    "disputes",
    "entry_exit",
    "execution",
    "new_tasks",
    "learn",
    "ledger",
    "optimum",
    "reauction",
    "record",
]

#: A stage of a round: reads and writes the state, returns nothing.
Stage = Callable[[SimState, int], None]

_GUILTY, _WRONG = (VERDICTS.index(v) for v in ("provider_guilty", "challenger_wrong"))


# ---------------------------------------------------------------------------- 1. arrivals
def new_tasks(config: SimConfig, seed: int, r: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(demand, value, size)`` of the tasks arriving in round ``r``, or None when none do.

    Drawn from round ``r``'s own stream ``("arrivals", r)``, so a run's first rounds are the
    same whatever its length: the count (``tasks_per_round``, or a Poisson draw of that mean),
    then the tasks (:func:`~oasis_lab.market.generate_market`'s task model). Task values do not
    depend on the providers under ``capacity="units"`` (the price level is a constant), so one
    provider is drawn beside them; the "time" reading prices tasks per type against the
    providers' median speeds, so it draws a population-sized market.
    """
    c = config
    rng = stream(seed, "arrivals", r)
    n = c.tasks_per_round if c.arrivals == "fixed" else int(rng.poisson(c.tasks_per_round))
    if n == 0:
        return None
    m = generate_market(
        n,
        1 if c.auction.capacity == "units" else c.n_providers,
        n_types=c.n_types,
        scenario=c.scenario,
        seed=rng,
        capacity_unit=c.auction.capacity,
    )
    return m.demand, m.value, m.size if m.size is not None else np.zeros(n)


def arrivals(state: SimState, r: int) -> None:
    """New arrivals join the waiting tasks; the providers neither removed nor barred are eligible."""
    arrived = new_tasks(state.config, state.seed, r)
    n_new = 0 if arrived is None else arrived[1].size
    requeued_in = state.queue.n
    tasks = state.queue
    if arrived is not None:
        ids = np.arange(state.next_task_id, state.next_task_id + n_new, dtype=np.int64)
        state.next_task_id += n_new
        new = TaskQueue(
            demand=arrived[0],
            value=arrived[1],
            size=arrived[2],
            priority=np.zeros(n_new, dtype=np.int64),
            task_id=ids,
            arrived=np.full(n_new, r, dtype=np.int64),
        )
        tasks = TaskQueue.concat([state.queue, new], state.n_types)
    prov = state.providers
    present = prov.present
    barred = present & (prov.open_challenges > 0)
    prov.barred_rounds[barred] += 1
    state.now = Round(
        r=r,
        tasks=tasks,
        arrived=n_new,
        reauctioned_in=requeued_in,
        present=int(present.sum()),
        barred=int(barred.sum()),
        eligible=np.flatnonzero(present & ~barred),
        burn_before=state.books.burn,
    )


# ---------------------------------------------------------------------------- 2. auction
def auction(state: SimState, r: int) -> None:
    """PRICES on the round's tasks and eligible providers, at the values and costs reported."""
    rnd = state.round
    tasks, eligible = rnd.tasks, rnd.eligible
    if not (tasks.n and eligible.size):
        return
    prov = state.providers
    true_cost = prov.cost[eligible]
    rnd.true_market = Market(
        demand=tasks.demand,
        value=tasks.value,
        speed=prov.speed[eligible],
        capacity=prov.capacity[eligible],
        cost=true_cost,
        psi=prov.psi[eligible],
        model_types=state.model_types,
        size=tasks.size,
        psi_names=state.psi_names,
        priority=tasks.priority,
    )
    value, cost = _reports(state, rnd, true_cost, r)
    reported = value is tasks.value and cost is true_cost
    rnd.market = rnd.true_market if reported else rnd.true_market.replace(value=value, cost=cost)
    rnd.result = run_greedy(rnd.market, state.config.auction)


def _reports(state: SimState, rnd: Round, true_cost: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """Seams ``user_reports`` and ``provider_reports``: the values and costs the auction sees."""
    b, tasks, eligible = state.behaviour, rnd.tasks, rnd.eligible
    prov = state.providers
    value = b.user_reports.act(
        ValueObservation(r, tasks.task_id, tasks.value, tasks.demand, tasks.priority, tasks.arrived, tasks.size)
    )
    cost = b.provider_reports.act(
        CostObservation(r, eligible, true_cost, prov.speed[eligible], prov.capacity[eligible])
    )
    return (checked_amounts("user_reports", value, tasks.value, positive=True),
            checked_amounts("provider_reports", cost, true_cost))


# ---------------------------------------------------------------------------- 3. optimum
def optimum(state: SimState, r: int) -> None:
    """The round's exact welfare optimum at true values (every ``optimum_every`` rounds)."""
    c, rnd = state.config, state.round
    if rnd.true_market is not None and c.optimum_every and r % c.optimum_every == 0:
        opt = solve_optimum(rnd.true_market, c.auction, time_limit=c.optimum_time_limit, backend="highspy")
        rnd.optimum = float(opt.welfare)


# ---------------------------------------------------------------------------- 4. execution
def execution(state: SimState, r: int) -> None:
    """Jobs from the trades; failures drawn; cheating decided; integer payments escrowed."""
    c, prov, rnd = state.config, state.providers, state.round
    market, result, eligible = rnd.true_market, rnd.result, rnd.eligible
    rng = stream(state.seed, "execution", r)
    if market is not None and result is not None and len(result.trades):
        jobs = _jobs(state, market, result, eligible)
    else:
        jobs = Jobs.none()
    fails = rng.random(eligible.size) < c.failure_probability
    jobs.failed = fails[jobs.local] if jobs.n else np.zeros(0, dtype=bool)
    jobs.kind = prov.kind[jobs.provider]
    action = checked_cheating(
        state.behaviour.cheat.act(CheatObservation(r, jobs.provider, jobs.kind, jobs.failed, jobs.cost, jobs.pay, rng)),
        jobs.failed,
    )
    jobs.cheated, jobs.adversary = action.cheated, action.adversary
    # the node a cheater perturbs or an other-device provider rounds (WrongAfter needs a
    # node before the last one)
    jobs.node = rng.integers(0, max(state.court.n_nodes - 1, 1), size=jobs.n)
    jobs.status = np.where(jobs.failed, FAILED, ESCROWED).astype(np.int8)
    delivered = jobs.delivered
    true_cost = np.where(jobs.cheated, (1.0 - c.cheat_saving) * jobs.cost, jobs.cost)
    prov.compute_cost += np.bincount(jobs.provider[delivered], weights=true_cost[delivered], minlength=prov.n)
    prov.jobs += np.bincount(jobs.provider[delivered], minlength=prov.n)
    prov.cheated += np.bincount(jobs.provider[jobs.cheated], minlength=prov.n)
    prov.failed += np.bincount(jobs.provider[jobs.failed], minlength=prov.n)
    if jobs.n and int(jobs.pay.max()) >= 2**53:
        raise ValueError(
            f"round {r}: a job pays {int(jobs.pay.max())} smallest units >= 2**53; "
            f"lower token_unit = {state.unit}"
        )
    rnd.jobs = jobs
    state.books.escrow(jobs.pay[delivered])


def _jobs(state: SimState, market: Market, result: AuctionResult, eligible: np.ndarray) -> Jobs:
    """The trades aggregated into jobs (task, provider), with true costs and integer payments."""
    tr = result.trades
    t_task = tr["task"].to_numpy()
    t_prov = tr["provider"].to_numpy()
    key = t_task * market.n_providers + t_prov
    uniq, trade_job = np.unique(key, return_inverse=True)
    job_task, job_local = uniq // market.n_providers, uniq % market.n_providers
    t_units = tr["units"].to_numpy()
    t_type = tr["type"].to_numpy()
    spend = tr["unit_price"].to_numpy() * t_units
    n = job_task.size
    unit_cost = unit_cost_matrix(market, state.config.auction)
    return Jobs(
        task=job_task,
        local=job_local,
        provider=eligible[job_local],
        trade_job=trade_job,
        t_type=t_type,
        t_units=t_units,
        spend=spend,
        units=np.bincount(trade_job, weights=t_units, minlength=n),
        cost=np.bincount(trade_job, weights=unit_cost[t_prov, t_type] * t_units, minlength=n),
        # ledger boundary: float spend -> integer smallest units
        pay=np.floor(np.bincount(trade_job, weights=spend, minlength=n) * state.unit).astype(np.int64),
        kind=np.zeros(0, dtype=np.int8),
        failed=np.zeros(0, dtype=bool),
        cheated=np.zeros(0, dtype=bool),
        node=np.zeros(0, dtype=np.int64),
    )


# ---------------------------------------------------------------------------- 5. challenges
def challenges(state: SimState, r: int) -> None:
    """Users and the platform challenge; disagreements open disputes, decided by the court."""
    c, rnd = state.config, state.round
    jobs = rnd.jobs
    rng = stream(state.seed, "challenges", r)
    cost = c.challenge_cost * jobs.cost
    b = state.behaviour
    # the user (or racing challengers) decides first, then the platform (the order of today's draws)
    raw = b.user_challenge.act(ChallengeObservation(r, jobs.provider, jobs.delivered, jobs.pay, cost, rng))
    race = checked_race(raw, jobs.n) if isinstance(raw, ChallengeRace) else None
    by_user = race.challenged if race is not None else checked_mask("user_challenge", raw, jobs.n)
    by_platform = checked_mask("platform_challenge", b.platform_challenge.act(
        ChallengeObservation(r, jobs.provider, jobs.delivered, jobs.pay, cost, rng)), jobs.n)
    challenged = jobs.delivered & (by_user | by_platform)
    disputed = challenged & (jobs.cheated | (jobs.kind == OTHER_DEVICE))
    index = np.flatnonzero(disputed)
    # a cheated job is disputed as a cheater's (whatever the provider's drawn kind)
    game_kind = np.where(jobs.cheated[index], CHEATER, jobs.kind[index]).astype(np.int64)
    adversary = [CHEATER_ADVERSARIES[a] for a in jobs.adversary[index]]
    outcome = state.court.decide(game_kind, jobs.node[index], r, adversary=adversary, job=index)
    rnd.challenges = Challenges(by_user, challenged, disputed, index, outcome, cost)
    if race is not None:
        # a job the challengers recomputed counts for them when the platform also checked it
        rnd.challenges.winner = np.where(jobs.delivered, race.winner, -1)
        rnd.challenges.recomputations = race.checks + (by_platform & jobs.delivered)
        rnd.challenges.names = race.names
    _open_disputes(state, rnd, r)


def _open_disputes(state: SimState, rnd: Round, r: int) -> None:
    """Each disputed job: the challenger locks its bond, the provider is barred, the dispute waits."""
    jobs, ch, prov, books = rnd.jobs, rnd.challenges, state.providers, state.books
    bond = state.bond_amount
    # Python loop over disputes: a round has tens of them among thousands of jobs (the
    # benchmark: about 130 in 1,000 rounds), and each moves a handful of integer amounts.
    for q, j in enumerate(ch.index):
        if ch.winner is not None and ch.winner[j] >= 0:
            who = ch.names[int(ch.winner[j])]
        else:
            who = "user" if ch.by_user[j] else "platform"
        books.open_challenge(who, int(jobs.pay[j]), bond)
        p = int(jobs.provider[j])
        prov.open_challenges[p] += 1
        jobs.status[j] = CHALLENGED
        state.pending.append(
            PendingDispute(
                job=rnd.job_record(int(j)),
                due=r + state.config.dispute_delay,
                provider=p,
                kind=int(jobs.kind[j]),
                cheated=bool(jobs.cheated[j]),
                adversary=CHEATER_ADVERSARIES[int(jobs.adversary[j])],
                challenger=who,
                bond=bond,
                verdict=int(ch.outcome.verdict[q]),
                node=int(jobs.node[j]),
                rounds=int(ch.outcome.rounds[q]),
            )
        )


# ---------------------------------------------------------------------------- 6. disputes
def disputes(state: SimState, r: int) -> None:
    """Resolve the disputes due this round, in the order they were opened."""
    c, prov, rnd = state.config, state.providers, state.round
    due = [d for d in state.pending if d.due <= r]
    state.pending = [d for d in state.pending if d.due > r]
    referees = stream(state.seed, "disputes", "referee", r)
    out = rnd.resolution = Resolution(disputes=len(due))
    # Python loop over disputes (tens a round, see _open_disputes)
    for i, d in enumerate(due):
        p = d.provider
        prov.open_challenges[p] -= 1
        appealed = overturned = False
        if c.referee == "market":
            verdict, referee, first, appealed, overturned = _market_ruling(state, rnd, d, r, i)
        else:
            pool_mask = prov.present
            pool_mask[p] = False
            pool = np.flatnonzero(pool_mask)
            referee = int(pool[referees.integers(pool.size)]) if pool.size else -1
            verdict = d.verdict
            first = referee
        flows = state.books.resolve(
            VERDICTS[verdict], p, d.challenger, d.job.amount, d.bond, referee, c.disputes,
            removed=bool(prov.removed[p] >= 0), fee=c.auction.fee,
        )
        if state.record:
            out.log.append(
                {
                    "opened": d.job.round, "resolved": r, "task_id": d.job.task_id,
                    "provider": p, "kind": PROVIDER_KINDS[d.kind], "cheated": d.cheated,
                    "challenger": d.challenger, "verdict": VERDICTS[verdict],
                    "amount": d.job.amount, "returned": flows["returned"], "paid": flows["paid"],
                    "bond_share": flows["to_provider"],
                    "slashed": flows["slashed"], "referee": referee, "game_rounds": d.rounds,
                    "trusted_verdict": VERDICTS[d.verdict], "first_referee": first,
                    "appealed": appealed, "overturned": overturned,
                }
            )
        _pay_out(state, out, d, verdict, referee, flows)
        if state.agents is not None:
            state.agents.on_dispute(d, VERDICTS[verdict], flows)
        if verdict == _GUILTY:
            _convict(state, rnd, out, d, flows, r)
        else:
            if verdict == _WRONG:
                prov.won[p] += 1
                out.upheld += 1
            else:
                out.ambiguous += 1
            if flows["returned"]:
                out.refunded += flows["returned"]
                out.returned.append(ReturnedTask(d.job, "refunded", bump_priority=False))


def _pay_out(state: SimState, out: Resolution, d: PendingDispute, verdict: int, referee: int,
             flows: dict[str, int]) -> None:
    """A resolved dispute's flows in the providers' accounts and the round's totals."""
    prov, p = state.providers, d.provider
    if referee >= 0:
        prov.rewards[referee] += flows["to_referee"]
        prov.referee_income[referee] += flows["to_referee"]
    prov.rewards[p] += flows["to_provider"]
    prov.income[p] += flows["paid"]
    prov.slashed[p] += flows["slashed"]
    out.slashed += flows["slashed"]
    out.challenger_rewards += flows["to_challenger"]
    out.referee_rewards += flows["to_referee"]
    out.bond_to_providers += flows["to_provider"]


def _convict(state: SimState, rnd: Round, out: Resolution, d: PendingDispute, flows: dict[str, int],
             r: int) -> None:
    """A guilty verdict: the payment reversed, the provider removed, its task re-auctioned and its
    unsettled jobs of this round refunded."""
    prov, p = state.providers, d.provider
    prov.lost[p] += 1
    out.reversed += flows["returned"]
    out.convictions += 1
    out.false_convictions += int(not d.cheated)
    if prov.removed[p] < 0:
        prov.removed[p] = r
    if d.job.round == r:
        rnd.jobs.status[d.job.job] = REVERSED
    out.returned.append(ReturnedTask(d.job, "reversed", bump_priority=state.config.disputes.reauction_priority))
    _refund_escrowed(state, rnd, out, p)


def _refund_escrowed(state: SimState, rnd: Round, out: Resolution, p: int) -> None:
    """A removed provider's unsettled jobs of this round go back to their users and the auction."""
    jobs = rnd.jobs
    for j in np.flatnonzero((jobs.provider == p) & (jobs.status == ESCROWED)):
        jobs.status[j] = REFUNDED
        state.books.refund(jobs.pay[j : j + 1])
        out.refunded += int(jobs.pay[j])
        out.returned.append(ReturnedTask(rnd.job_record(int(j)), "refunded", bump_priority=False))


def _market_ruling(state: SimState, rnd: Round, d: PendingDispute, r: int, i: int) -> tuple[int, int, int, bool, bool]:
    """A due dispute ruled by a market referee, perhaps appealed (section 5, issue 16).

    The pool is every present provider but the challenged one (the challenger is a user or
    the platform); each recomputes on its own device (an other-device provider rounds
    ``other_device_ulps`` away) and plays the strategy the ``referee`` seam gives it; the
    provider offers the bribe the ``bribe`` seam gives. Bribes and the appeal move tokens here;
    the caller then resolves the challenge with the final verdict. With no provider left to
    referee (none present, or none with stake under stake-weighted selection), the platform's
    trusted stack rules.

    Returns
    -------
    (verdict, referee, first_referee, appealed, overturned)
        ``verdict`` indexes VERDICTS; ``referee`` is who is rewarded for the ruling that
        stands (-1: the trusted stack).
    """
    c, out = state.config, rnd.resolution
    trusted = d.verdict
    idx = _referee_pool(state, d.provider)
    if not idx.size:
        return trusted, -1, -1, False, False
    pool, amount = _referees_and_bribe(state, d, idx, r)
    offer = ("provider", amount) if amount else None
    adj = state.court.adjudicate(
        CHEATER if d.cheated else d.kind, d.node, pool,
        provider_name=str(d.provider), challenger_name=d.challenger, weighting=c.referee_selection,
        appeal_to=c.appeal_to, appeal_budget=c.appeal_budget, payment=d.job.amount // state.unit,
        bribe=offer, seed=child_seed(state.seed, "disputes", "market", r, i), job=(d.job.round, d.job.job),
        adversary=d.adversary,
    )
    first = int(adj.first_referee.name)
    second = int(adj.appeal_referee.name) if adj.appeal_referee is not None else -1
    if state.agents is not None:
        state.agents.on_ruling(first, second, amount)
    for ref, who in ((adj.first_referee, first), (adj.appeal_referee, second)):
        # a bribable referee that rules for the provider took its offer
        if offer is not None and ref is not None and ref.strategy == "bribable" and ref.sides_with == "provider":
            _pay_bribe(state, out, d.provider, who, amount)
    referee = first
    if adj.appealed:
        _appeal(state, rnd, d, adj, first, second, r)
        if adj.overturned:
            referee = second
    final = VERDICTS.index(adj.final_verdict)
    if final != trusted:
        out.wrong_verdicts += 1
        out.cheaters_freed += int(trusted == _GUILTY and d.cheated)
    return final, referee, first, adj.appealed, adj.overturned


def _referee_pool(state: SimState, provider: int) -> np.ndarray:
    """Who may rule: the present providers but the challenged one (with stake, under
    stake-weighted selection: a provider with none is never drawn, nor counted among the
    possible appellate referees)."""
    prov, books = state.providers, state.books
    idx = np.flatnonzero(prov.present)
    idx = idx[idx != provider]
    if state.config.referee_selection == "stake":
        idx = idx[books.stake[idx] > 0]
    return idx


def _referees_and_bribe(state: SimState, d: PendingDispute, idx: np.ndarray, r: int) -> tuple[list[MarketReferee], int]:
    """Seams ``bribe`` and ``referee``: the bribe the provider offers each referee (smallest
    units) and the pool as market referees playing the strategies the policy gives them."""
    c, prov, books, unit, b = state.config, state.providers, state.books, state.unit, state.behaviour
    balance = int(books.provider[d.provider])
    n_referees = 2 if c.appeal_to == "market" else 1
    amount = checked_bribe(
        b.bribe.act(BribeObservation(r, d.provider, d.kind, balance, n_referees, d.job.amount,
                                     c.cheater_bribe * unit)),
        balance, n_referees,
    )
    strategy = checked_strategies(
        b.referee.act(RefereeObservation(r, idx, prov.referee_strategy[idx], books.stake[idx], d.provider,
                                         d.challenger, d.job.amount, amount, c.appeal_to)),
        idx.size,
    )
    pool = [
        MarketReferee(
            backend=c.disputes.referee_backend,
            name=str(q),
            strategy=REFEREE_STRATEGIES[int(s)],
            rounding_ulps=c.other_device_ulps if prov.kind[q] == OTHER_DEVICE else 0,
            stake=int(books.stake[q]),
            bribe_price=c.referee_bribe_price * unit,
        )
        for q, s in zip(idx, strategy, strict=True)
    ]
    return pool, amount


def _pay_bribe(state: SimState, out: Resolution, provider: int, referee: int, amount: int) -> None:
    """A referee took the provider's bribe: a transfer between their balances."""
    prov = state.providers
    state.books.bribe(provider, referee, amount)
    prov.bribes_paid[provider] += amount
    prov.rewards[referee] += amount
    prov.referee_income[referee] += amount
    out.bribes += amount


def _appeal(state: SimState, rnd: Round, d: PendingDispute, adj: Adjudication, first: int, second: int,
            r: int) -> None:
    """The losing party appealed: its bond, the appellate referee's reward and, when the ruling
    is overturned, the first referee slashed, removed and its unsettled jobs refunded."""
    c, prov, out = state.config, state.providers, rnd.resolution
    out.appeals += 1
    bond = c.disputes.appeal_bond * state.unit
    p = d.provider
    appellant: str | int = p if adj.appellant == "provider" else d.challenger
    fa = state.books.appeal(
        appellant, bond, overturned=adj.overturned, first_referee=first, appeal_referee=second, params=c.disputes
    )
    if appellant == p:
        prov.appeal_net[p] += fa["to_appellant"] - bond
    elif state.agents is not None:
        state.agents.on_appeal(d, fa["to_appellant"] - bond)
    if second >= 0:
        prov.rewards[second] += fa["to_referee"]
        prov.referee_income[second] += fa["to_referee"]
    out.referee_rewards += fa["to_referee"]
    if adj.overturned:
        out.overturned += 1
        out.referees_slashed += 1
        out.referee_slashed += fa["referee_slashed"]
        prov.referee_slashed[first] += fa["referee_slashed"]
        prov.removed[first] = r
        _refund_escrowed(state, rnd, out, first)


# ---------------------------------------------------------------------------- 7. ledger
def ledger(state: SimState, r: int) -> None:
    """The challenge window closes: the round's unchallenged jobs are paid, less the fee."""
    rnd, prov = state.round, state.providers
    jobs = rnd.jobs
    rnd.settle = np.flatnonzero(jobs.status == ESCROWED)
    rnd.net = state.books.settle(jobs.provider[rnd.settle], jobs.pay[rnd.settle], state.config.auction.fee)
    np.add.at(prov.income, jobs.provider[rnd.settle], rnd.net)
    jobs.status[rnd.settle] = SETTLED


# ---------------------------------------------------------------------------- 8. re-auction
#: Tasks going back to the auction: the tasks, why (``unserved``, ``failed``, ``reversed``,
#: ``refunded``), and the round and row of the market they come from.
_Back = tuple[TaskQueue, np.ndarray, np.ndarray, np.ndarray]


def reauction(state: SimState, r: int) -> None:
    """The next round's queue: failed and unserved tasks (rebid), reversed and refunded jobs;
    tasks that arrived ``max_wait`` rounds ago are given up."""
    c, rnd = state.config, state.round
    rnd.served = np.zeros(rnd.tasks.n, dtype=bool)
    rnd.served_share = np.zeros(rnd.tasks.n)
    parts: list[_Back] = []
    if rnd.true_market is not None and rnd.result is not None:
        parts += _after_auction(state, rnd, rnd.true_market, rnd.result, r)
    elif rnd.tasks.n and c.requeue_unserved:
        parts.append(_unauctioned(state, rnd.tasks, r))
    if rnd.resolution.returned:
        parts.append(_returned(state, rnd.resolution.returned))
    nq = TaskQueue.concat([p[0] for p in parts], state.n_types)
    keep = (r + 1 - nq.arrived) < c.max_wait
    if nq.n:
        reason, source_round, source_row = (np.concatenate([p[k] for p in parts]) for k in (1, 2, 3))
        rnd.requeued = Requeued(nq, reason, source_round, source_row, keep)
    state.queue = nq.take(np.flatnonzero(keep))
    rnd.returned, rnd.abandoned = nq.n, int((~keep).sum())


def _after_auction(state: SimState, rnd: Round, market: Market, result: AuctionResult, r: int) -> list[_Back]:
    """What the delivered jobs served; the failed and (``requeue_unserved``) unserved tasks rebid."""
    c, tasks, jobs = state.config, rnd.tasks, rnd.jobs
    rnd.served_share = result.served_share
    rnd.served[jobs.task[jobs.delivered]] = True
    # rebid of the delivered trades (the trades of failed jobs are not done), from the jobs'
    # arrays: the same sums in the same order as rebid(market, result less those trades)
    kept = ~jobs.failed[jobs.trade_job] if jobs.n else np.zeros(0, dtype=bool)
    remaining = remaining_demand(market, jobs.task[jobs.trade_job][kept], jobs.t_type[kept], jobs.t_units[kept])
    left = left_over(market, remaining)
    had_failure = np.zeros(market.n_tasks, dtype=bool)
    had_failure[jobs.task[jobs.failed]] = True
    sel = np.arange(left.size) if c.requeue_unserved else np.flatnonzero(had_failure[left])
    if not sel.size:
        return []
    left = left[sel]
    demand, value, size, priority = requeued(market, remaining, left, c.auction.rebid_bump, c.auction.rebid_mode)
    queue = TaskQueue(
        demand=demand,
        value=value,
        size=size if size is not None else np.zeros(sel.size),
        priority=priority if c.disputes.reauction_priority else tasks.priority[left],
        task_id=tasks.task_id[left],
        arrived=tasks.arrived[left],
    )
    reason = np.where(had_failure[left], "failed", "unserved").astype(object)
    return [(queue, reason, np.full(sel.size, r, dtype=np.int64), left)]


def _unauctioned(state: SimState, tasks: TaskQueue, r: int) -> _Back:
    """No auction this round (no task or no eligible provider): every task waits, raised."""
    c = state.config
    queue = TaskQueue(
        demand=tasks.demand,
        value=raised_value(tasks.value, c.auction.rebid_bump, c.auction.rebid_mode),
        size=tasks.size,
        priority=tasks.priority + (1 if c.disputes.reauction_priority else 0),
        task_id=tasks.task_id,
        arrived=tasks.arrived,
    )
    return queue, np.full(tasks.n, "unserved", dtype=object), np.full(tasks.n, r, dtype=np.int64), np.arange(tasks.n)


def _returned(state: SimState, back: list[ReturnedTask]) -> _Back:
    """Jobs reversed or refunded by the disputes: their share of the task, raised."""
    c = state.config
    queue = TaskQueue(
        demand=np.array([b.job.demand for b in back]),
        value=raised_value(np.array([b.job.value for b in back]), c.auction.rebid_bump, c.auction.rebid_mode),
        size=np.array([b.job.size for b in back]),
        priority=np.array([b.job.priority + int(b.bump_priority) for b in back], dtype=np.int64),
        task_id=np.array([b.job.task_id for b in back], dtype=np.int64),
        arrived=np.array([b.job.arrived for b in back], dtype=np.int64),
    )
    return (queue, np.array([b.reason for b in back], dtype=object),
            np.array([b.job.round for b in back], dtype=np.int64), np.array([b.job.row for b in back], dtype=np.int64))


# ---------------------------------------------------------------------------- 9. entry and exit
def entry_exit(state: SimState, r: int) -> None:
    """Idle costs; exits of providers whose window's income misses their costs; entries."""
    c, prov, books, rnd = state.config, state.providers, state.books, state.round
    present = prov.present
    prov.idle_cost[present] += c.idle_cost
    window = state.window
    if c.exit_window:
        # cumulative profit after each of the last ``exit_window + 1`` rounds: the profit
        # over the window is its difference with the value ``exit_window`` rounds ago
        cum = (prov.income + prov.rewards + prov.appeal_net - prov.bribes_paid) / state.unit - (
            prov.compute_cost + prov.idle_cost
        )
        state.profit_hist = _grow(state.profit_hist, prov.n)
        state.profit_hist[r % (window + 1)] = cum
        if r + 1 >= window:
            prev = state.profit_hist[(r - window) % (window + 1)] if r >= window else 0.0
            old = (r + 1 - prov.entered) >= window
            free = np.flatnonzero(present & old & (prov.open_challenges == 0))
            profit = (cum - prev)[free]
            leaves = checked_mask("exit", state.behaviour.exit.act(ExitObservation(r, free, profit)), free.size)
            leave = free[leaves]
            if leave.size:
                books.withdraw_providers(leave)
                prov.exited[leave] = r
                rnd.exited = int(leave.size)
    if c.entry_rate > 0:
        k = int(stream(state.seed, "providers", "entry", r).poisson(c.entry_rate))
        if k:
            newcomers, kinds = draw_providers(c, k, state.seed, "entry", r)
            prov.add(newcomers, kinds, r + 1, referee_strategies(c, k, state.seed, "entry", r))
            books.add_providers(k, state.stake_amount)
            state.profit_hist = _grow(state.profit_hist, prov.n)
            rnd.entered = k


def _grow(hist: np.ndarray, n: int) -> np.ndarray:
    if hist.shape[1] >= n:
        return hist
    return np.concatenate([hist, np.zeros((hist.shape[0], n - hist.shape[1]))], axis=1)


# ---------------------------------------------------------------------------- 10. learn
def learn(state: SimState, r: int) -> None:
    """The learning agents' feedback: each agent whose action's consequences have all landed
    learns its own payoff (:meth:`oasis_lab.sim.adapters.Agents.learn`); removed learning
    providers whose operators rejoin come back. Nothing happens when every role is scripted."""
    if state.agents is not None:
        state.agents.learn(state, r)


# ---------------------------------------------------------------------------- 11. record
def record(state: SimState, r: int) -> None:
    """Conservation checked; the round's row (and with ``record_jobs`` its logs) recorded."""
    rnd = state.round
    rnd.total = state.books.check(state.pending_escrow(), state.pending_bonds(), r)
    state.recorder.collect(state)


#: The stages of a round in the order they are played (name, function).
ROUND: tuple[tuple[str, Stage], ...] = (
    ("arrivals", arrivals),
    ("auction", auction),
    ("optimum", optimum),
    ("execution", execution),
    ("challenges", challenges),
    ("disputes", disputes),
    ("ledger", ledger),
    ("reauction", reauction),
    ("entry_exit", entry_exit),
    ("learn", learn),
    ("record", record),
)

#: The names of the round's stages, in order (keys of ``SimulationResult.timings`` after
#: ``"setup"``).
STAGES: tuple[str, ...] = tuple(name for name, _ in ROUND)
