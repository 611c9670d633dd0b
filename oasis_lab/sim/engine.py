"""The market over time: :func:`simulate` plays the rounds of a simulation (sections 4 and 5).

A run is a loop over rounds of the stages of :mod:`oasis_lab.sim.stages` (arrivals, auction,
optimum, execution, challenges, disputes, ledger, re-auction, entry and exit, record), called in
the order of :data:`~oasis_lab.sim.stages.ROUND` on one :class:`~oasis_lab.sim.state.SimState`.
Every stage is timed, the optimum and the recording included, so ``SimulationResult.timings``
(``"setup"`` then one entry per stage) adds up to the run's time but for assembling the result.
The agents' decisions go through the seams of :mod:`oasis_lab.sim.behaviour`; the per-round
table is written by the reporters of :mod:`oasis_lab.sim.recorder`.

An experiment is a pure function of ``(config, seed)``: every draw comes from
:func:`oasis_lab.seeding.stream` with a purpose (``arrivals``, ``providers``, ``execution``,
``challenges``, ``disputes``) and the round number.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import numpy as np

from oasis_lab.agents.policies import Policy
from oasis_lab.progress import progress_bar
from oasis_lab.seeding import check_seed
from oasis_lab.sim.adapters import Agents
from oasis_lab.sim.behaviour import Behaviour
from oasis_lab.sim.books import Books
from oasis_lab.sim.config import SimConfig
from oasis_lab.sim.court import Court
from oasis_lab.sim.population import draw_providers, extra_providers, referee_strategies
from oasis_lab.sim.recorder import Recorder
from oasis_lab.sim.result import SimulationResult
from oasis_lab.sim.stages import ROUND, STAGES
from oasis_lab.sim.state import JOB_STATUSES, Providers, SimState, TaskQueue

__all__ = ["JOB_STATUSES", "STAGES", "TIMED", "initial_state", "simulate"]

#: The keys of ``SimulationResult.timings``: building the initial state, then each stage.
TIMED: tuple[str, ...] = ("setup", *STAGES)


def initial_state(config: SimConfig, seed: int, record_jobs: bool = False,
                  behaviour: Behaviour | None = None, policies: Mapping[str, Policy] | None = None) -> SimState:
    """The state before round 0: the initial population (and the config's measured providers)
    with their stakes deposited, an empty queue, the court, the behaviour, the learning agents
    (when a role learns, or ``policies`` are given) and the recorder."""
    c = config
    first, kinds = draw_providers(c, c.n_providers, seed, "initial")
    prov = Providers.empty(first.n_types, first.psi.shape[1])
    prov.add(first, kinds, 0, referee_strategies(c, c.n_providers, seed, "initial"))
    books = Books()
    stake = c.disputes.provider_stake * c.token_unit
    books.add_providers(c.n_providers, stake)
    if c.extra_providers:
        arrays, extra_kinds = extra_providers(c, first)
        prov.add(arrays, extra_kinds, 0, referee_strategies(c, len(c.extra_providers), seed, "extra"))
        books.add_providers(len(c.extra_providers), stake)
    state = SimState(
        config=c,
        seed=seed,
        record=record_jobs,
        providers=prov,
        books=books,
        court=Court(c.computation, c.disputes, c.adversary, c.other_device_ulps, seed, c.dispute_mode),
        behaviour=Behaviour.scripted(c) if behaviour is None else behaviour,
        recorder=Recorder.for_run(first.model_types, record_jobs),
        model_types=tuple(first.model_types),
        psi_names=tuple(first.psi_names),
        queue=TaskQueue.empty(first.n_types),
    )
    state.profit_hist = np.zeros((state.window + 1, prov.n))
    if policies or c.policies.learning:
        # the learning roles take their seams in the behaviour (scripted, or the one given)
        state.agents = Agents(state, policies)
        state.behaviour = state.agents.behaviour(state.behaviour)
        state.recorder = Recorder(state.recorder.reporters + state.agents.reporters(), record_jobs)
    return state


def simulate(
    config: SimConfig,
    seed: int = 0,
    *,
    record_jobs: bool = False,
    progress: Callable[[int], None] | None = None,
    behaviour: Behaviour | None = None,
    policies: Mapping[str, Policy] | None = None,
) -> SimulationResult:
    """Simulate ``config.rounds`` rounds of the market (whitepaper sections 4 and 5).

    Parameters
    ----------
    config : SimConfig
        Every choice of the run (validated).
    seed : int
        Root seed: the run is a pure function of ``(config, seed)``.
    record_jobs : bool, default False
        Keep one row per job, per re-auctioned task, per task of each round's market and per
        resolved dispute (``SimulationResult.jobs``, ``.requeued``, ``.tasks``, ``.disputes``):
        for tests and small studies; it does not change the run.
    progress : callable, optional
        Called with the round number after each round (the CLI's progress bar). Under the
        report the rounds are shown on its console without it (:mod:`oasis_lab.progress`).
    behaviour : Behaviour, optional
        The policy of each role (:mod:`oasis_lab.sim.behaviour`); default the scripted agents
        of :meth:`Behaviour.scripted(config) <oasis_lab.sim.behaviour.Behaviour.scripted>`.
        The roles ``config.policies`` makes learning take their seams in it.
    policies : mapping of role to agents-layer Policy, optional
        Policies replacing the config's for some roles (a
        :class:`~oasis_lab.agents.policies.Profile` of fixed actions, or a
        :class:`~oasis_lab.agents.policies.Learning` with ``protocol="agent"``), as
        :class:`oasis_lab.sim.adapters.Agents` takes them.

    Returns
    -------
    SimulationResult
        Per-round and per-provider tables, the final ledger, wall seconds of the setup and of
        each stage (keys :data:`TIMED`).

    Raises
    ------
    TypeError, ValueError
        ``config`` not a SimConfig, bad ``seed``, ``behaviour`` not a Behaviour, or a policy's
        action of the wrong shape, type or range (naming the role).
    oasis_lab.disputes.ledger.LedgerError
        Tokens were created or lost (a bug: conservation is checked every round).

    Examples
    --------
    >>> from oasis_lab.sim import SimConfig, simulate
    >>> res = simulate(SimConfig(rounds=3, tasks_per_round=50, n_providers=10), seed=1)
    >>> len(res.rounds)
    3
    """
    if not isinstance(config, SimConfig):
        raise TypeError(f"config must be a SimConfig, got {type(config).__name__}")
    seed = check_seed(seed)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable, got {type(progress).__name__}")
    if behaviour is not None and not isinstance(behaviour, Behaviour):
        raise TypeError(f"behaviour must be a Behaviour, got {type(behaviour).__name__}")
    if policies is not None and not isinstance(policies, Mapping):
        raise TypeError(f"policies must be a mapping of role to Policy, got {type(policies).__name__}")
    clock = time.perf_counter
    timings = dict.fromkeys(TIMED, 0.0)
    start = clock()
    state = initial_state(config, seed, record_jobs, behaviour, policies)
    timings["setup"] = clock() - start
    # a bar seen only on the report's console (oasis_lab.progress); silent elsewhere
    for r in progress_bar(range(config.rounds), desc="simulate", unit="round", disable=True):
        # everything a round does happens inside a timed stage
        for name, stage in ROUND:
            t0 = clock()
            stage(state, r)
            timings[name] += clock() - t0
        if progress is not None:
            progress(r)
    return state.recorder.result(state, timings)


