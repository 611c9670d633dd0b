"""Optimistic fault proofs (whitepaper section 5): committed traces, k-way bisection over the
model DAG, a referee recomputing one node, a slashing ledger and challenge economics.

Layers inside, each importing only from those before it: ``graph``, ``hashing`` (SHA-256),
``commitments`` (genesis, chain and Merkle schemes), ``traces`` (committed traces, openings),
``computations`` (what is disputed; ``trace`` re-exports these four), ``params``, ``referee``,
``adversaries``, ``bisection``, ``ledger``, ``economics``, ``profiles``, ``registry`` (the
named adversaries and computations), ``market_referee`` (a provider as referee, appeals),
``referee_pool`` (pools, the profitable bribe), ``verification`` (the trade-off table against zkML and
the alternatives), ``cli``.
"""

from oasis_lab.disputes.bisection import (
    DisputeBatch,
    DisputeOutcome,
    play,
    run_dispute,
    run_disputes,
)
from oasis_lab.disputes.ledger import Ledger, LedgerError
from oasis_lab.disputes.params import DisputeParams
from oasis_lab.disputes.referee import Referee

__all__ = [
    "DisputeBatch",
    "DisputeOutcome",
    "DisputeParams",
    "Ledger",
    "LedgerError",
    "Referee",
    "play",
    "run_dispute",
    "run_disputes",
]
