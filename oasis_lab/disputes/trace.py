"""Committed traces of the fault proofs (whitepaper section 5), under one name.

The code lives in four modules, one per concern, each importing only from those before it:

* :mod:`oasis_lab.disputes.hashing`: SHA-256 (OpenSSL's, from compiled loops), node digests
  and chain steps;
* :mod:`oasis_lab.disputes.commitments`: the genesis, the two commitment schemes
  (``"chain"``, ``"merkle"``) and Merkle multi-proofs;
* :mod:`oasis_lab.disputes.traces`: committed traces and the openings a referee checks;
* :mod:`oasis_lab.disputes.computations`: the computations that are traced and disputed
  (executed models, synthetic DAGs).

This module re-exports their public names, so ``from oasis_lab.disputes.trace import ...``
keeps working.
"""

from __future__ import annotations

from oasis_lab.disputes.commitments import (
    COMMITMENTS,
    CommitmentMismatch,
    genesis_commitment,
    merkle_commitments,
    merkle_depth,
    merkle_opening_hashes,
)
from oasis_lab.disputes.computations import (
    Computation,
    ModelComputation,
    Perturbation,
    SyntheticComputation,
)
from oasis_lab.disputes.hashing import (
    COMPILED_SHA256,
    DIGEST_SIZE,
    chain_step,
    extend_chain,
    output_digest,
)
from oasis_lab.disputes.traces import (
    CommittedTrace,
    InputOpening,
    commit,
    make_input_opening,
    verify_input_opening,
    verify_output_opening,
)

__all__ = [
    "COMMITMENTS",
    "COMPILED_SHA256",
    "DIGEST_SIZE",
    "CommitmentMismatch",
    "CommittedTrace",
    "Computation",
    "InputOpening",
    "ModelComputation",
    "Perturbation",
    "SyntheticComputation",
    "chain_step",
    "commit",
    "extend_chain",
    "genesis_commitment",
    "make_input_opening",
    "merkle_commitments",
    "merkle_depth",
    "merkle_opening_hashes",
    "output_digest",
    "verify_input_opening",
    "verify_output_opening",
]
