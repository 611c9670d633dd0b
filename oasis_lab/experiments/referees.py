"""Market referees and split verification as experiments (whitepaper section 5, notebook 09).

- ``referee_market`` (:class:`RefereeMarket`): disputes ruled by referees drawn from a pool with
  a share of corrupt providers; the wrong-verdict rate (a final verdict unlike the trusted
  stack's), honest providers slashed, cheaters freed, appeals lodged and referees slashed, with
  no appeal, an appeal to a second market referee or to the platform's trusted stack. Swept
  over the corrupt share, the appeal bond or the referee stake, it is the market-referee
  study of notebook 09.
- ``split_verification`` (:class:`SplitVerification`): the case the whitepaper warns about,
  the recomputation split over ``n`` verifiers (each checks a contiguous share of the nodes;
  any reported discrepancy convicts): cheaters freed and honest providers framed, measured,
  beside the closed forms ``c`` and ``1 - (1 - c)^n``. Swept over ``n_verifiers``.

Every dispute is played (:func:`~oasis_lab.disputes.market_referee.adjudicate`) on a seeded
synthetic computation; the pools and the bribe economics are
:mod:`oasis_lab.disputes.referee_pool`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from oasis_lab.checks import check_choice, check_fraction, check_int, check_memory
from oasis_lab.disputes.adversaries import Honest, LyingChallenger, PerturbNode, Strategy
from oasis_lab.disputes.graph import synthetic_graph
from oasis_lab.disputes.market_referee import adjudicate
from oasis_lab.disputes.params import DisputeParams
from oasis_lab.disputes.referee_pool import (
    CORRUPT_KINDS,
    MAX_POOL,
    caught_probability,
    make_pool,
    min_profitable_bribe,
)
from oasis_lab.disputes.trace import SyntheticComputation, make_input_opening
from oasis_lab.experiments.base import ExperimentConfig, register
from oasis_lab.seeding import child_seed, stream

__all__ = ["APPEAL_PATHS", "MAX_DISPUTES", "MAX_NODES", "MAX_TOKENS", "MAX_TRIALS", "RefereeMarket",
           "SplitVerification"]

#: Where a wronged party may appeal (``"none"``: nowhere), as the experiment names them.
APPEAL_PATHS: tuple[str, ...] = ("none", "market", "trusted")
#: Largest synthetic computation (nodes), as the ``dispute`` CLI's synthetic graphs.
MAX_NODES = 1_000_000
#: Most disputes one ``referee_market`` run plays (each a full game, about a millisecond).
MAX_DISPUTES = 1_000_000
#: Most trials of one ``split_verification`` run.
MAX_TRIALS = 1_000_000
#: Largest token amount (stakes, bonds, budgets, payments, bribes): below 2**53 the bribe
#: arithmetic in float64 is exact.
MAX_TOKENS = 2**53

_DISPUTE = DisputeParams()


@register
@dataclass(frozen=True)
class RefereeMarket(ExperimentConfig):
    """Disputes ruled by market referees drawn from a partly corrupt pool (section 5).

    Half the disputes are a cheating provider (one node perturbed) against an honest
    challenger, half an honest provider against a lying challenger, at seeded random nodes.
    With ``corrupt_kind="bribable"`` every corrupt referee is for sale at
    :func:`~oasis_lab.disputes.referee_pool.min_profitable_bribe` (its stake,
    ``referee_slash_fraction``, the probability of being caught under this appeal path, its
    fee); the cheater or the lying challenger offers ``bribe``.

    Parameters
    ----------
    corrupt_share : float
        Share of corrupt referees in the pool.
    corrupt_kind : str
        One of :data:`~oasis_lab.disputes.referee_pool.CORRUPT_KINDS`.
    appeal_to : {"none", "market", "trusted"}
        Where a wronged party may appeal.
    appeal_bond, provider_stake, challenger_bond : int
        Tokens (:class:`~oasis_lab.disputes.params.DisputeParams`).
    slash_fraction, referee_slash_fraction : float
        Of :class:`~oasis_lab.disputes.params.DisputeParams`.
    referee_stake : int
        Every referee's stake (tokens).
    bribe : int
        Tokens offered to the referee (0: none).
    pool_size, n_disputes, n_nodes : int
        Referees in the pool, disputes played, nodes of the synthetic computation.
    appeal_budget : int
        Tokens a wronged party can lock to appeal.
    payment : int
        The task payment (at stake for the provider).

    Returns (``run``)
    -----------------
    One row: the settings, ``wrong_first`` / ``wrong_final`` (share of verdicts that differ
    from the trusted stack's before / after appeals), ``cheaters_freed`` (share of cheating
    providers not convicted), ``honest_slashed`` (share of honest providers convicted),
    ``appeal_rate``, ``referees_slashed`` (overturned rulings), ``bribe_price`` (``nan``
    unless bribable).
    """

    name = "referee_market"

    corrupt_share: float = 0.2
    corrupt_kind: str = "mixed"
    appeal_to: str = "trusted"
    appeal_bond: int = _DISPUTE.appeal_bond
    provider_stake: int = _DISPUTE.provider_stake
    challenger_bond: int = _DISPUTE.challenger_bond
    slash_fraction: float = _DISPUTE.slash_fraction
    referee_slash_fraction: float = _DISPUTE.referee_slash_fraction
    referee_stake: int = 10_000
    bribe: int = 0
    pool_size: int = 20
    n_disputes: int = 200
    n_nodes: int = 64
    appeal_budget: int = 5_000
    payment: int = 100

    checks = {
        "corrupt_share": check_fraction,
        "corrupt_kind": partial(check_choice, choices=CORRUPT_KINDS),
        "appeal_to": partial(check_choice, choices=APPEAL_PATHS),
        **dict.fromkeys(("appeal_bond", "provider_stake", "challenger_bond", "referee_stake", "bribe",
                         "appeal_budget", "payment"), partial(check_int, minimum=0, maximum=MAX_TOKENS)),
        **dict.fromkeys(("slash_fraction", "referee_slash_fraction"), check_fraction),
        "pool_size": partial(check_int, minimum=1, maximum=MAX_POOL),
        "n_disputes": partial(check_int, minimum=1, maximum=MAX_DISPUTES),
        "n_nodes": partial(check_int, minimum=2, maximum=MAX_NODES),
    }

    def validate(self) -> None:
        self.dispute_params()  # DisputeParams' own checks, naming the field

    def dispute_params(self) -> DisputeParams:
        """The dispute rules of the run (the other fields of DisputeParams at their defaults)."""
        return DisputeParams(
            appeal_bond=self.appeal_bond,
            provider_stake=self.provider_stake,
            challenger_bond=self.challenger_bond,
            slash_fraction=self.slash_fraction,
            referee_slash_fraction=self.referee_slash_fraction,
        )

    def bribe_price(self) -> int:
        """What a bribable referee of this pool charges (0 unless ``corrupt_kind="bribable"``)."""
        if self.corrupt_kind != "bribable":
            return 0
        params = self.dispute_params()
        # the referee's fee: its share of the forfeited challenger bond or slashed stake
        fee = params.referee_reward_fraction * params.challenger_bond
        at_stake = min(params.challenger_bond, params.slash_fraction * params.provider_stake + self.payment)
        caught = caught_probability(
            None if self.appeal_to == "none" else self.appeal_to, params, at_stake=at_stake,
            appeal_budget=self.appeal_budget, honest_share=1.0 - self.corrupt_share,
        )
        return math.ceil(min_profitable_bribe(self.referee_stake, params.referee_slash_fraction, caught, fee))

    def _run(self, seed: int) -> pd.DataFrame:
        params = self.dispute_params()
        appeal_to = None if self.appeal_to == "none" else self.appeal_to
        graph = synthetic_graph(self.n_nodes, seed=child_seed(seed, "referee-study-graph"))
        comp = SyntheticComputation(graph, seed=child_seed(seed, "referee-study-values"))
        price = self.bribe_price()
        pool = make_pool(self.pool_size, self.corrupt_share, corrupt_kind=self.corrupt_kind,
                         stake=self.referee_stake, bribe_price=max(price, 1))
        rng = stream(seed, "referee-study-disputes")
        cheat = rng.random(self.n_disputes) < 0.5
        nodes = rng.integers(0, graph.n_nodes, size=self.n_disputes)
        rows = []
        for i in range(self.n_disputes):  # each dispute is a played game (rounds of messages)
            provider: Strategy
            challenger: Strategy
            if cheat[i]:
                provider, challenger, side = PerturbNode(node=int(nodes[i])), Honest(), "provider"
            else:
                provider, challenger, side = Honest(), LyingChallenger(node=int(nodes[i])), "challenger"
            adj = adjudicate(
                comp, provider, challenger, pool, params=params, appeal_to=appeal_to,
                appeal_budget=self.appeal_budget, payment=self.payment,
                bribe=(side, self.bribe) if self.bribe else None, seed=child_seed(seed, "referee-study", i),
            )
            rows.append((adj.first_verdict != adj.trusted_verdict, adj.wrong, adj.appealed,
                         adj.overturned, adj.final_verdict == "provider_guilty"))
        wrong_first, wrong_final, appealed, overturned, convicted = (np.array(c) for c in zip(*rows, strict=True))
        return pd.DataFrame([{
            "corrupt_share": self.corrupt_share,
            "corrupt_kind": self.corrupt_kind,
            "appeal_to": self.appeal_to,
            "appeal_bond": params.appeal_bond,
            "referee_stake": self.referee_stake,
            "bribe": self.bribe,
            "bribe_price": price if self.corrupt_kind == "bribable" else math.nan,
            "n_disputes": self.n_disputes,
            "wrong_first": float(wrong_first.mean()),
            "wrong_final": float(wrong_final.mean()),
            "cheaters_freed": float((cheat & ~convicted).sum() / max(cheat.sum(), 1)),
            "honest_slashed": float((~cheat & convicted).sum() / max((~cheat).sum(), 1)),
            "appeal_rate": float(appealed.mean()),
            "referees_slashed": int(overturned.sum()),
        }])


@register
@dataclass(frozen=True)
class SplitVerification(ExperimentConfig):
    """The recomputation split over ``n_verifiers``, each corrupt with probability
    ``corrupt_share`` (the whitepaper's "1-of-n dishonest parties", section 5).

    Each trial: a provider cheats at a random node (half the trials) or is honest. The nodes
    are split into ``n`` contiguous shares, one per verifier; an honest verifier recomputes
    every node of its share from the provider's opened inputs and reports a discrepancy iff one
    differs; a corrupt verifier sides against the truth (hides a cheat, or reports a made-up
    discrepancy against an honest provider). The provider is convicted iff any verifier
    reports a discrepancy.

    Parameters
    ----------
    n_verifiers : int
        ``n``, in ``[1, n_nodes]``.
    corrupt_share : float
        ``c``.
    n_trials, n_nodes : int

    Returns (``run``)
    -----------------
    One row: ``n_verifiers``, ``corrupt_share``, ``cheaters_freed`` and ``honest_framed``
    (measured shares), ``freed_closed_form = c`` and ``framed_closed_form = 1 - (1 - c)^n``,
    and ``work_per_verifier`` (share of the nodes each recomputes).
    """

    name = "split_verification"

    n_verifiers: int = 4
    corrupt_share: float = 0.1
    n_trials: int = 400
    n_nodes: int = 64

    checks = {
        "n_nodes": partial(check_int, minimum=2, maximum=MAX_NODES),
        "n_verifiers": partial(check_int, minimum=1),
        "n_trials": partial(check_int, minimum=1, maximum=MAX_TRIALS),
        "corrupt_share": check_fraction,
    }

    def validate(self) -> None:
        check_int("n_verifiers", self.n_verifiers, 1, self.n_nodes)  # at most one node each
        # the (trials x verifiers) draws of who is corrupt, in float64
        check_memory(f"n_trials = {self.n_trials} x n_verifiers = {self.n_verifiers}",
                     8 * self.n_trials * self.n_verifiers)

    def _run(self, seed: int) -> pd.DataFrame:
        c, n, n_trials = self.corrupt_share, self.n_verifiers, self.n_trials
        graph = synthetic_graph(self.n_nodes, seed=child_seed(seed, "split-graph"))
        comp = SyntheticComputation(graph, seed=child_seed(seed, "split-values"))
        rng = stream(seed, "split-verification", n)
        cheat = rng.random(n_trials) < 0.5
        cheat_node = rng.integers(0, graph.n_nodes, size=n_trials)
        corrupt = rng.random((n_trials, n)) < c
        shares = np.array_split(np.arange(graph.n_nodes), n)
        convicted = np.zeros(n_trials, dtype=bool)
        # trials, verifiers and nodes in Python: each honest verifier really recomputes its
        # nodes from the opened inputs (the measurement the closed forms are checked against)
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
        return pd.DataFrame([{
            "n_verifiers": n,
            "corrupt_share": c,
            "cheaters_freed": float((cheat & ~convicted).sum() / max(cheat.sum(), 1)),
            "honest_framed": float((~cheat & convicted).sum() / max((~cheat).sum(), 1)),
            "freed_closed_form": c,
            "framed_closed_form": 1.0 - (1.0 - c) ** n,
            "work_per_verifier": 1.0 / n,
        }])
