"""The challenge game played inside the market over time: learning recovers its closed form
(issue 19; whitepaper section 5).

:mod:`oasis_lab.incentives.learning` plays the 2x2 challenge game between two learners
directly. Here the same game is played by the simulation's own agents inside
:func:`oasis_lab.sim.simulate`: a one-provider market whose provider may cheat on every job of
a round (or none) and one challenger who recomputes every delivered job of a round (or none),
the auction, the court, the books and the feedback timing of the simulation in between
(:data:`KNOWN_ANSWER`). Each round is one play of the game with that round's own coefficients;
:func:`challenge_game` reads the run's mean coefficients and :func:`known_answer` compares the
time-averaged learned rates with the closed form (:func:`~oasis_lab.incentives.challenge.
challenge_equilibrium`) within the tolerance the learners' regret bounds give
(:func:`~oasis_lab.incentives.learning.tolerances`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.disputes.params import DisputeParams
from oasis_lab.incentives.challenge import ChallengeGame, challenge_equilibrium
from oasis_lab.incentives.learning import tolerances
from oasis_lab.sim import SimConfig, SimulationResult
from oasis_lab.sim.learning import regret_bounds

__all__ = ["KNOWN_ANSWER", "KNOWN_ANSWER_RUNS", "challenge_game", "known_answer", "known_answer_config",
           "known_answers"]


#: The simulation's known answer: one provider (it may cheat on every job, ``cheat_rates`` 0
#: or 1, and cheating saves its whole compute cost) and one learning challenger (rates 0 or 1)
#: in a market of 20 tasks a round that the provider serves alone (``abundant_supply``, seed
#: 0's provider), disputes resolved in the round (``dispute_delay`` 0), nothing re-auctioned
#: (``max_wait`` 1), and the convicted provider's operator rejoining with a fresh stake, so
#: the round's challenge game repeats: cheat and gain ``G`` (the round's compute cost), or be
#: caught and lose every payment of the round ``P`` and the slashed stake ``f S = 200``; check
#: at cost ``K`` (0.08 of the compute) and earn ``R = rho f S = 100`` on a cheat. The payoff
#: ranges cover every round's payoff of seed 0.
KNOWN_ANSWER: dict[str, Any] = {
    "tasks_per_round": 20, "n_providers": 1, "arrivals": "fixed", "scenario": "abundant_supply",
    "max_wait": 1, "dispute_delay": 0, "cheat_saving": 1.0, "challenge_cost": 0.08,
    "disputes": {"provider_stake": 200, "challenger_bond": 10},
    "policies": {
        "provider": {"policy": "learning", "cheaters": "all", "cheat_rates": [0.0, 1.0], "rejoin": True,
                     "payoff_range": [-250.0, 1900.0]},
        "challenger": {"policy": "learning", "challenge_rates": [0.0, 1.0], "payoff_range": [-100.0, 100.0]},
    },
}


def known_answer_config(platform_rate: float = 0.0, rounds: int = 4000, **changes: Any) -> SimConfig:
    """:data:`KNOWN_ANSWER` with the platform's per-job rate and ``rounds`` (and ``changes``)."""
    data = {**KNOWN_ANSWER, "p_platform": platform_rate, "rounds": rounds, **changes}
    return SimConfig.from_dict(data, source="known answer")


def challenge_game(result: SimulationResult) -> ChallengeGame:
    """The per-round challenge game the run's provider and challenger played, with the run's
    own mean coefficients (a run of :func:`known_answer_config`).

    A round's coefficients are random (its tasks are), independent of the decisions taken in
    it, so each player's expected payoff given the other's rates is the bilinear payoff of the
    game with the means over the rounds: ``P`` the payments of a round's delivered jobs (net of
    the fee), ``G`` ``cheat_saving`` times their true compute cost, ``K`` ``challenge_cost``
    times it, and the platform catching a cheat in a round with the mean of ``1 - (1 -
    p_platform)^n`` (``n`` the round's jobs: it checks each job). The closed form with these
    means is the known answer (the learners' regret bounds hold in expectation, which is all
    the argument of :mod:`oasis_lab.incentives.learning` needs). The means come from the
    provider's decisions (``jobs``, ``payment``, ``compute`` of
    :meth:`~oasis_lab.sim.adapters.Agents.decisions`); a round without a decision counts 0.
    """
    if not isinstance(result, SimulationResult):
        raise TypeError(f"result must be a SimulationResult, got {type(result).__name__}")
    d = result.agents
    if d is None or not (d["role"] == "provider").any():
        raise ValueError("challenge_game needs a run with a learning provider (known_answer_config)")
    c = result.config
    t = len(result.rounds)
    prov = d[d["role"] == "provider"]
    by_round = prov.groupby("round")
    pay = by_round["payment"].sum().reindex(range(t), fill_value=0.0).to_numpy(float)
    cost = by_round["compute"].sum().reindex(range(t), fill_value=0.0).to_numpy(float)
    n = by_round["jobs"].sum().reindex(range(t), fill_value=0).to_numpy()
    dp = c.disputes
    return ChallengeGame(
        payment=float(pay.mean()) * (1.0 - c.auction.fee),
        gain=c.cheat_saving * float(cost.mean()),
        recompute_cost=c.challenge_cost * float(cost.mean()),
        platform_rate=float(np.mean(1.0 - (1.0 - c.p_platform) ** n)),
        dispute=DisputeParams(provider_stake=dp.provider_stake, slash_fraction=dp.slash_fraction,
                              challenger_reward_fraction=dp.challenger_reward_fraction,
                              challenger_bond=dp.challenger_bond),
    )


def known_answer(results: Sequence[SimulationResult]) -> pd.DataFrame:
    """Closed form against learned rates for runs of :func:`known_answer_config` (the same
    config, other seeds), with the regret bounds' tolerance.

    Returns
    -------
    pandas.DataFrame
        One row per quantity (``cheat rate``, ``challenge rate``): the case (mixed or deterred),
        ``closed_form`` (the mean over runs of each run's closed form), ``learned`` (the mean
        over runs of the time-averaged mixed strategies), ``error``, ``tolerance`` (the
        largest over runs of :func:`oasis_lab.incentives.learning.tolerances` with the
        learners' bounds in tokens) and ``within``.
    """
    if isinstance(results, SimulationResult) or not results:
        raise TypeError("results must be a non-empty sequence of SimulationResult")
    rows: dict[str, list[Any]] = {"case": [], "x": [], "c": [], "q": [], "p": [], "tx": [], "tc": []}
    for res in results:
        d = res.agents
        if d is None:
            raise ValueError("a known-answer run has learning agents: give runs of known_answer_config")
        game = challenge_game(res)
        eq = challenge_equilibrium(game)
        prov, chal = d[d["role"] == "provider"], d[d["role"] == "challenger"]
        t = len(res.rounds)
        b_p = float(regret_bounds(res, "provider", "cheaters", [len(prov)])[0])
        b_c = float(regret_bounds(res, "challenger", "challengers", [len(chal)])[0])
        tx, tc = tolerances(game, b_p, b_c, t)
        rows["case"].append(eq.kind)
        rows["x"].append(float(prov["mixed_cheat_rate"].mean()))
        rows["c"].append(float(chal["mixed_challenge_rate"].mean()))
        rows["q"].append(eq.fraud_rate)
        rows["p"].append(eq.challenge_rate)
        rows["tx"].append(tx)
        rows["tc"].append(tc)
    case = rows["case"][0] if len(set(rows["case"])) == 1 else "/".join(sorted(set(rows["case"])))
    out = []
    for quantity, learned, closed, tol in (("cheat rate", rows["x"], rows["q"], rows["tx"]),
                                           ("challenge rate", rows["c"], rows["p"], rows["tc"])):
        mean, form = float(np.mean(learned)), float(np.mean(closed))
        out.append({"case": case, "quantity": quantity, "runs": len(results), "closed_form": form,
                    "learned": mean, "error": abs(mean - form), "tolerance": float(np.max(tol)),
                    "within": abs(mean - form) <= float(np.max(tol))})
    return pd.DataFrame(out)


#: The runs of the known-answer table of ``docs/mechanism.md``: (platform rate per job, rounds,
#: seeds). At 0 the game is mixed; at 0.1 the platform catches a cheat in a round of 20 jobs
#: with probability ``1 - 0.9^20 = 0.88 > pi* = 0.5``, so cheating is deterred.
KNOWN_ANSWER_RUNS: tuple[tuple[float, int, tuple[int, ...]], ...] = ((0.0, 3000, (0,)), (0.1, 2000, (0,)))


def known_answers(runs: Sequence[tuple[float, int, Sequence[int]]] = KNOWN_ANSWER_RUNS) -> pd.DataFrame:
    """:func:`known_answer` of each run of :data:`KNOWN_ANSWER_RUNS`, with the platform rate and
    the cheat rate of the last quarter of the rounds (where learning has settled)."""
    from oasis_lab.sim import simulate

    frames = []
    for rate, rounds, seeds in runs:
        results = [simulate(known_answer_config(rate, rounds), s) for s in seeds]
        table = known_answer(results).assign(p_platform=rate, rounds=rounds)
        late = []
        for quantity in table["quantity"]:
            role, field = (("provider", "mixed_cheat_rate") if quantity == "cheat rate"
                           else ("challenger", "mixed_challenge_rate"))
            vals = []
            for res in results:
                d = res.agents
                assert d is not None
                mine = d[(d["role"] == role) & (d["round"] >= 3 * rounds // 4)]
                vals.append(float(mine[field].mean()))
            late.append(float(np.mean(vals)))
        frames.append(table.assign(last_quarter=late))
    cols = ["p_platform", "case", "rounds", "runs", "quantity", "closed_form", "learned", "error", "tolerance",
            "within", "last_quarter"]
    return pd.concat(frames, ignore_index=True)[cols]
