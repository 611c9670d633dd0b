"""Measurements of market referees and appeals (whitepaper section 5, issue 16), without the
market simulation.

* :func:`referee_market_study`: disputes ruled by referees drawn from a pool with a share of
  corrupt providers; wrong-verdict rate (final verdict differs from the trusted stack's),
  honest providers slashed, cheaters freed, appeals lodged and referees slashed, with and
  without an appeal path. :func:`referee_sweep` runs it over one parameter (corrupt share,
  appeal bond, referee stake).
* :func:`min_profitable_bribe`: the bribe at which corruption pays a referee,
  ``caught * (referee_slash_fraction * stake + fee)``; the study's bribable referees take a
  bribe exactly when it is at least this.
* :func:`split_verification_study`: the case the whitepaper warns about, the recomputation split
  over ``n`` providers (each checks a contiguous share of the nodes; any reported discrepancy
  convicts): measured cheaters freed and honest providers framed against ``n``, beside the
  closed forms ``c`` and ``1 - (1 - c)^n``.

Every dispute is played (:func:`~oasis_lab.disputes.market_referee.adjudicate`) on a seeded
synthetic computation; a study is a pure function of its arguments and seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.checks import check_fraction, check_int
from oasis_lab.disputes.adversaries import Honest, LyingChallenger, PerturbNode, Strategy
from oasis_lab.disputes.graph import synthetic_graph
from oasis_lab.disputes.market_referee import (
    APPEAL_TO,
    MarketReferee,
    adjudicate,
    appeal_pays,
)
from oasis_lab.disputes.params import DisputeParams
from oasis_lab.disputes.trace import SyntheticComputation, make_input_opening
from oasis_lab.seeding import child_seed, stream

__all__ = [
    "CORRUPT_KINDS",
    "caught_probability",
    "make_pool",
    "min_profitable_bribe",
    "referee_market_study",
    "referee_sweep",
    "split_verification_study",
]

#: How the corrupt referees of a pool behave: all ``collude`` (free cheaters), all ``frame``
#: (convict honest providers), ``mixed`` (half each), or ``bribable`` (for sale).
CORRUPT_KINDS: tuple[str, ...] = ("collude", "frame", "mixed", "bribable")


def min_profitable_bribe(referee_stake: int, slash_fraction: float, caught: float, fee: float = 0.0) -> float:
    """The smallest bribe for which a referee gains by ruling wrongly.

    A corrupt ruling is caught (appealed and overturned) with probability ``caught``; then
    the referee loses ``slash_fraction * referee_stake`` and the fee it would have earned.
    Corruption pays iff ``bribe >= caught * (slash_fraction * referee_stake + fee)``.

    Examples
    --------
    >>> min_profitable_bribe(10_000, 1.0, 1.0, fee=100)
    10100.0
    >>> min_profitable_bribe(10_000, 1.0, 0.0)  # no appeal path: any bribe pays
    0.0
    """
    check_int("referee_stake", referee_stake, 0)
    check_fraction("slash_fraction", slash_fraction)
    check_fraction("caught", caught)
    return float(caught * (slash_fraction * referee_stake + fee))


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
    it pays; a market appellate referee rules correctly with probability ``honest_share``)."""
    if appeal_to is None:
        return 0.0
    q = 1.0 if appeal_to == "trusted" else check_fraction("honest_share", honest_share)
    return q if appeal_pays(at_stake, params.appeal_bond, q, appeal_budget) else 0.0


def make_pool(
    size: int,
    corrupt_share: float,
    *,
    corrupt_kind: str = "collude",
    stake: int = 10_000,
    bribe_price: int = 0,
    rounding_ulps: int = 0,
) -> list[MarketReferee]:
    """A pool of ``size`` market referees, ``round(corrupt_share * size)`` of them corrupt."""
    size = check_int("size", size, 1)
    share = check_fraction("corrupt_share", corrupt_share)
    if corrupt_kind not in CORRUPT_KINDS:
        raise ValueError(f"corrupt_kind = {corrupt_kind!r} is not one of {list(CORRUPT_KINDS)}")
    n_bad = round(share * size)
    pool = []
    for i in range(size):
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


def referee_market_study(
    corrupt_share: float = 0.2,
    *,
    corrupt_kind: str = "mixed",
    appeal_to: str | None = "trusted",
    appeal_bond: int | None = None,
    referee_stake: int = 10_000,
    bribe: int = 0,
    pool_size: int = 20,
    n_disputes: int = 200,
    n_nodes: int = 64,
    appeal_budget: int = 5_000,
    payment: int = 100,
    params: DisputeParams | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Play ``n_disputes`` disputes ruled by market referees; score against the trusted stack.

    Half the disputes are a cheating provider (one node perturbed) against an honest
    challenger, half an honest provider against a lying challenger, at seeded random nodes.
    ``corrupt_kind="bribable"``: every corrupt referee is for sale at
    :func:`min_profitable_bribe` (its stake, ``referee_slash_fraction``, the probability of
    being caught under this appeal path, its fee); the cheater or the lying challenger offers
    ``bribe``.

    Returns
    -------
    dict
        The settings, and ``wrong_first`` / ``wrong_final`` (share of verdicts that differ
        from the trusted stack's before / after appeals), ``cheaters_freed`` (share of
        cheating providers not convicted), ``honest_slashed`` (share of honest providers
        convicted), ``appeal_rate``, ``referees_slashed`` (overturned rulings), ``bribe_price``.
    """
    params = params if params is not None else DisputeParams()
    if appeal_bond is not None:
        params = params.replace(appeal_bond=appeal_bond)
    n_disputes = check_int("n_disputes", n_disputes, 1)
    check_int("bribe", bribe, 0)
    if appeal_to not in APPEAL_TO:
        raise ValueError(f"appeal_to = {appeal_to!r} is not one of {list(APPEAL_TO)}")
    graph = synthetic_graph(check_int("n_nodes", n_nodes, 2), seed=child_seed(seed, "referee-study-graph"))
    comp = SyntheticComputation(graph, seed=child_seed(seed, "referee-study-values"))
    price = 0
    if corrupt_kind == "bribable":
        # the referee's fee: its share of the forfeited challenger bond or slashed stake
        fee = params.referee_reward_fraction * params.challenger_bond
        caught = caught_probability(
            appeal_to, params, at_stake=min(params.challenger_bond,
                                            params.slash_fraction * params.provider_stake + payment),
            appeal_budget=appeal_budget, honest_share=1.0 - corrupt_share,
        )
        price = math.ceil(min_profitable_bribe(referee_stake, params.referee_slash_fraction, caught, fee))
    pool = make_pool(pool_size, corrupt_share, corrupt_kind=corrupt_kind, stake=referee_stake,
                     bribe_price=max(price, 1))
    rng = stream(seed, "referee-study-disputes")
    cheat = rng.random(n_disputes) < 0.5
    nodes = rng.integers(0, graph.n_nodes, size=n_disputes)
    rows = []
    for i in range(n_disputes):
        provider: Strategy
        challenger: Strategy
        if cheat[i]:
            provider, challenger, side = PerturbNode(node=int(nodes[i])), Honest(), "provider"
        else:
            provider, challenger, side = Honest(), LyingChallenger(node=int(nodes[i])), "challenger"
        adj = adjudicate(
            comp, provider, challenger, pool, params=params, appeal_to=appeal_to,
            appeal_budget=appeal_budget, payment=payment,
            bribe=(side, bribe) if bribe else None, seed=child_seed(seed, "referee-study", i),
        )
        rows.append((adj.first_verdict != adj.trusted_verdict, adj.wrong, adj.appealed,
                     adj.overturned, adj.final_verdict == "provider_guilty"))
    wrong_first, wrong_final, appealed, overturned, convicted = (np.array(c) for c in zip(*rows, strict=True))
    return {
        "corrupt_share": corrupt_share,
        "corrupt_kind": corrupt_kind,
        "appeal_to": appeal_to or "none",
        "appeal_bond": params.appeal_bond,
        "referee_stake": referee_stake,
        "bribe": bribe,
        "bribe_price": price if corrupt_kind == "bribable" else math.nan,
        "n_disputes": n_disputes,
        "wrong_first": float(wrong_first.mean()),
        "wrong_final": float(wrong_final.mean()),
        "cheaters_freed": float((cheat & ~convicted).sum() / max(cheat.sum(), 1)),
        "honest_slashed": float((~cheat & convicted).sum() / max((~cheat).sum(), 1)),
        "appeal_rate": float(appealed.mean()),
        "referees_slashed": int(overturned.sum()),
    }


def referee_sweep(parameter: str, values: Sequence[Any], **settings: Any) -> pd.DataFrame:
    """:func:`referee_market_study` once per value of ``parameter`` (e.g. ``"corrupt_share"``,
    ``"appeal_bond"``, ``"referee_stake"``), other settings fixed; one row per value."""
    return pd.DataFrame([referee_market_study(**{**settings, parameter: v}) for v in values])


def split_verification_study(
    n_verifiers: Sequence[int] = (1, 2, 4, 8, 16),
    corrupt_share: float = 0.1,
    *,
    n_trials: int = 400,
    n_nodes: int = 64,
    seed: int = 0,
) -> pd.DataFrame:
    """The recomputation split over ``n`` verifiers, each corrupt with probability
    ``corrupt_share`` (the whitepaper's "1-of-n dishonest parties").

    Each trial: a provider cheats at a random node (half the trials) or is honest. The nodes
    are split into ``n`` contiguous shares, one per verifier; an honest verifier recomputes
    every node of its share from the provider's opened inputs and reports a discrepancy iff one
    differs; a corrupt verifier sides against the truth (hides a cheat, or reports a made-up
    discrepancy against an honest provider). The provider is convicted iff any verifier
    reports a discrepancy.

    Returns
    -------
    DataFrame
        Per ``n``: ``cheaters_freed`` and ``honest_framed`` (measured shares),
        ``freed_closed_form = c`` and ``framed_closed_form = 1 - (1 - c)^n``, and
        ``work_per_verifier`` (share of the nodes each recomputes).
    """
    c = check_fraction("corrupt_share", corrupt_share)
    n_trials = check_int("n_trials", n_trials, 1)
    graph = synthetic_graph(check_int("n_nodes", n_nodes, 2), seed=child_seed(seed, "split-graph"))
    comp = SyntheticComputation(graph, seed=child_seed(seed, "split-values"))
    rows = []
    for n in n_verifiers:
        n = check_int("n_verifiers", n, 1, graph.n_nodes)
        rng = stream(seed, "split-verification", n)
        cheat = rng.random(n_trials) < 0.5
        cheat_node = rng.integers(0, graph.n_nodes, size=n_trials)
        corrupt = rng.random((n_trials, n)) < c
        shares = np.array_split(np.arange(graph.n_nodes), n)
        convicted = np.zeros(n_trials, dtype=bool)
        for t in range(n_trials):
            trace = PerturbNode(node=int(cheat_node[t])).prepare(comp, rng).trace if cheat[t] else comp.honest_trace
            reports = []
            for v, share in enumerate(shares):
                if corrupt[t, v]:
                    reports.append(not cheat[t])  # hide a cheat, or frame an honest provider
                    continue
                found = False
                for k in share:  # an honest verifier recomputes its whole share
                    inputs = make_input_opening(trace, graph, int(k)).outputs
                    if comp.digest(comp.recompute(int(k), inputs)) != comp.digest(trace.output(int(k))):
                        found = True
                        break
                reports.append(found)
            convicted[t] = any(reports)
        rows.append(
            {
                "n_verifiers": n,
                "corrupt_share": c,
                "cheaters_freed": float((cheat & ~convicted).sum() / max(cheat.sum(), 1)),
                "honest_framed": float((~cheat & convicted).sum() / max((~cheat).sum(), 1)),
                "freed_closed_form": c,
                "framed_closed_form": 1.0 - (1.0 - c) ** n,
                "work_per_verifier": 1.0 / n,
            }
        )
    return pd.DataFrame(rows)
