"""Commitment schemes of a trace (whitepaper section 5): the genesis, the Merkle scheme and its
multi-proofs.

Two schemes (``commitment=`` of a computation, :data:`COMMITMENTS`), both over per-node
digests ``d_k`` (:func:`~oasis_lab.disputes.hashing.output_digest`) and the genesis
``c_{-1} = g`` (:func:`genesis_commitment`: the model name, public inputs and weights):

* ``"chain"``: ``c_k = H(c_{k-1} | d_k)``; building costs one hash per node; opening node
  ``k``'s inputs costs ``k - j`` hashes (``j`` its earliest input), up to the whole trace for
  a late node reading an early input.
* ``"merkle"``: ``c_k = H(A_k | d_k)`` with the accumulator ``A_k = H(g | R_k)``, ``R_k`` the
  root of a binary Merkle tree of fixed depth ``D = ceil(log2 n)`` over ``d_0 .. d_{k-1}``
  (empty leaves hold fixed constants ``Z_h``). ``c_k`` binds the prefix, so disagreement is
  still monotone and the bisection is unchanged; the last step is still
  ``H(A_k | d_k)``, so the referee's exact rule is unchanged given ``A_k``. Node ``k``'s
  inputs (and ``d_{k-1}``) are opened by one multi-proof in the tree of ``R_k``: at most
  ``D - 1`` sibling hashes per opened leaf, ``O(log n)`` (:func:`merkle_opening_hashes`).
  Building costs ``D + 2`` hashes per node (every prefix root), ``O(n log n)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from oasis_lab.disputes.graph import DisputeGraph
from oasis_lab.disputes.hashing import (
    DIGEST_SIZE,
    _sha256,
    frontier_commitments,
    output_digest,
)

__all__ = [
    "COMMITMENTS",
    "CommitmentMismatch",
    "MalformedOpening",
    "genesis_commitment",
    "merkle_commitments",
    "merkle_depth",
    "merkle_opening_hashes",
]


class CommitmentMismatch(ValueError):
    """An opening does not match the commitment it is checked against."""


class MalformedOpening(CommitmentMismatch):
    """An opening that is not even of the right form (a field of the wrong type or size): the
    party that sent it loses as it does for an opening that does not match."""


#: Commitment schemes of a trace (see the module docstring).
COMMITMENTS: tuple[str, ...] = ("chain", "merkle")

_MAX_DEPTH = 64
_ZEROS: list[bytes] = [_sha256(b"oasis-lab merkle empty leaf v1").digest()]
for _h in range(_MAX_DEPTH):
    _ZEROS.append(_sha256(_ZEROS[-1] + _ZEROS[-1]).digest())


def _check_commitment(commitment: str) -> str:
    if commitment not in COMMITMENTS:
        raise ValueError(f"commitment = {commitment!r} is not one of {list(COMMITMENTS)}")
    return commitment


def merkle_depth(n_nodes: int) -> int:
    """Depth ``D = ceil(log2 n)`` (at least 1) of the Merkle tree over ``n`` node digests."""
    return max(1, (int(n_nodes) - 1).bit_length())


def merkle_commitments(genesis: bytes, digests: bytes, n_nodes: int | None = None) -> bytes:
    """Merkle-scheme commitments ``c_0 .. c_{n-1}`` of concatenated 32-byte digests.

    ``c_k = H(H(g | R_k) | d_k)``, ``R_k`` the root of the depth-``D`` tree over
    ``d_0 .. d_{k-1}``; ``n_nodes`` (default: the number of digests) fixes ``D``.
    """
    n = len(digests) // DIGEST_SIZE
    depth = merkle_depth(n if n_nodes is None else n_nodes)
    return frontier_commitments(genesis, digests, _ZEROS, depth)


def _multiproof_order(leaves: Sequence[int], prefix: int, depth: int) -> list[tuple[int, int]]:
    """Sibling nodes ``(level, index)`` a multi-proof of ``leaves`` sends, in sending order, in
    the tree of the first ``prefix`` leaves (siblings wholly past the prefix are constants,
    siblings computed from opened leaves are not sent)."""
    known = sorted(set(leaves))
    order = []
    for h in range(depth):
        have = set(known)
        for x in known:
            s = x ^ 1
            if s not in have and (s << h) < prefix:
                order.append((h, s))
        known = sorted({x >> 1 for x in known})
    return order


def _proof_leaves(graph: DisputeGraph, k: int) -> tuple[int, ...]:
    nodes = tuple(graph.inputs_of(k).tolist())
    return tuple(sorted(set(nodes) | {k - 1})) if k >= 1 else ()


def merkle_opening_hashes(graph: DisputeGraph, k: int) -> int:
    """Hashes a Merkle opening of node ``k``'s inputs sends: the multi-proof's siblings plus
    ``d_{k-1}`` when node ``k - 1`` is not an input (its output is not opened)."""
    k = graph.node_index(k)
    leaves = _proof_leaves(graph, k)
    if not leaves:
        return 0
    inputs = set(graph.inputs_of(k).tolist())
    extra = 0 if (k - 1) in inputs else 1
    return len(_multiproof_order(leaves, k, merkle_depth(graph.n_nodes))) + extra


def _merkle_root(leaves: Mapping[int, bytes], proof: Sequence[bytes], prefix: int, depth: int) -> bytes:
    """Root of the tree of the first ``prefix`` leaves from opened ``leaves`` and the proof
    (in :func:`_multiproof_order`); raises :class:`CommitmentMismatch` on a proof of the
    wrong length."""
    sha = _sha256
    level = dict(leaves)
    it = iter(proof)
    used = 0
    for h in range(depth):
        nxt: dict[int, bytes] = {}
        for x in sorted(level):
            parent = x >> 1
            if parent in nxt:
                continue
            s = x ^ 1
            if s in level:
                sib = level[s]
            elif (s << h) >= prefix:
                sib = _ZEROS[h]
            else:
                try:
                    sib = next(it)
                except StopIteration:
                    raise CommitmentMismatch("Merkle proof is too short") from None
                used += 1
            nxt[parent] = sha(level[x] + sib if x % 2 == 0 else sib + level[x]).digest()
        level = nxt
    if used != len(proof):
        raise CommitmentMismatch(f"Merkle proof has {len(proof)} hashes, {used} were needed")
    return level[0]


def _prefix_levels(digests: np.ndarray, prefix: int, depth: int) -> list[list[bytes]]:
    """Every level of the tree of the first ``prefix`` digests (the prover's side)."""
    sha = _sha256
    cur = [digests[i].tobytes() for i in range(prefix)]
    levels = []
    for h in range(depth):
        if len(cur) % 2:
            cur.append(_ZEROS[h])
        levels.append(cur)
        cur = [sha(cur[i] + cur[i + 1]).digest() for i in range(0, len(cur), 2)]
    return levels


def genesis_commitment(model_name: str, public: Mapping[str, np.ndarray]) -> bytes:
    """``c_{-1}``: binds the model name and every public array (inputs, weights), by name."""
    h = _sha256(b"oasis-lab trace v1|" + model_name.encode() + b"|")
    for name in sorted(public):
        h.update(name.encode() + b"=" + output_digest(np.asarray(public[name])))
    return h.digest()

