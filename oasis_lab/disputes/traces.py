"""Committed traces and their openings (whitepaper section 5).

Section 5 fixes the randomness so inference is deterministic and checks it "in the
topological order of the model DAG". For a run with node outputs ``o_0 .. o_{n-1}`` a provider
publishes per-node digests ``d_k = H(dtype | shape | bytes(o_k))`` and commitments ``c_k``
(:mod:`oasis_lab.disputes.commitments`: the hash chain ``c_k = H(c_{k-1} | d_k)`` from the
genesis ``c_{-1}``, or the Merkle scheme). ``H`` is SHA-256. Because each ``c_k`` binds the
whole prefix, two traces that diverge at node ``k`` have different commitments at every node
``>= k`` (disagreement is monotone), which is what lets a bisection over the commitments find
the *first* divergent node. Outputs stay private and are opened on demand: an opening of
``o_k`` is checked against ``c_{k-1}`` and ``c_k`` (:func:`verify_output_opening`); the inputs
of a disputed node ``k`` are opened against the agreed ``c_{k-1}`` with the digests
``d_j .. d_{k-1}`` (``j`` the earliest input), ``k - j`` hashes, or one Merkle multi-proof
(:func:`make_input_opening`, :func:`verify_input_opening`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np

from oasis_lab.disputes.commitments import (
    _ZEROS,
    CommitmentMismatch,
    MalformedOpening,
    _check_commitment,
    _merkle_root,
    _multiproof_order,
    _prefix_levels,
    _proof_leaves,
    merkle_commitments,
    merkle_depth,
)
from oasis_lab.disputes.graph import DisputeGraph
from oasis_lab.disputes.hashing import DIGEST_SIZE, _sha256, chain_rows, chain_step, extend_chain

__all__ = [
    "CommittedTrace",
    "InputOpening",
    "commit",
    "check_output",
    "make_input_opening",
    "verify_input_opening",
    "verify_output_opening",
]


@dataclass(frozen=True)
class CommittedTrace:
    """A party's trace: its node outputs (private) and their commitments (published).

    Attributes
    ----------
    genesis : bytes
        ``c_{-1}``.
    digests : ndarray of uint8, shape (n_nodes, 32)
        ``d_k``.
    chain : ndarray of uint8, shape (n_nodes, 32)
        ``c_k``; ``chain[-1]`` is the commitment to the whole inference.
    outputs : sequence of ndarray
        ``o_k``, opened on demand (a 2-D array for synthetic traces, one row per node).
    scheme : {"chain", "merkle"}
        How ``chain`` was computed (:data:`COMMITMENTS`).
    """

    genesis: bytes
    digests: np.ndarray
    chain: np.ndarray
    outputs: Sequence[np.ndarray] | np.ndarray
    scheme: str = "chain"

    @property
    def n_nodes(self) -> int:
        """Number of committed nodes."""
        return int(self.chain.shape[0])

    @property
    def head(self) -> bytes:
        """Commitment to the whole inference, ``c_{n-1}``."""
        return self.chain[-1].tobytes()

    def commitment(self, k: int) -> bytes:
        """``c_k`` (``k = -1`` gives the genesis)."""
        return self.genesis if k < 0 else self.chain[k].tobytes()

    def output(self, k: int) -> np.ndarray:
        """Opened output of node ``k``."""
        return self.outputs[k]

    def first_divergence(self, other: CommittedTrace) -> int:
        """First node whose commitment differs from ``other``'s; ``n_nodes`` when none does."""
        if other.n_nodes != self.n_nodes:
            raise ValueError(f"traces have {self.n_nodes} and {other.n_nodes} nodes")
        diff = np.any(self.chain != other.chain, axis=1)
        return int(np.argmax(diff)) if diff.any() else self.n_nodes


def commit(
    genesis: bytes,
    digests: np.ndarray,
    outputs: Sequence[np.ndarray] | np.ndarray,
    *,
    prefix: CommittedTrace | None = None,
    start: int = 0,
    commitment: str = "chain",
) -> CommittedTrace:
    """Commit to a trace, reusing ``prefix``'s commitments before node ``start`` (same genesis).

    ``commitment`` chooses the scheme (:data:`COMMITMENTS`); a Merkle trace is recomputed in
    full (its prefix roots need the whole frontier, ``D`` hashes per node either way).
    """
    _check_commitment(commitment)
    digests = np.ascontiguousarray(digests, dtype=np.uint8)
    n = digests.shape[0]
    if prefix is not None and start > 0 and (
        prefix.genesis != genesis or prefix.n_nodes != n or prefix.scheme != commitment
    ):
        raise ValueError("prefix trace has another genesis, node count or commitment")
    if commitment == "merkle":
        return CommittedTrace(
            genesis, digests,
            np.frombuffer(merkle_commitments(genesis, digests.tobytes()), np.uint8).reshape(n, DIGEST_SIZE),
            outputs, "merkle",
        )
    chain = np.empty((n, DIGEST_SIZE), np.uint8)
    if prefix is not None and start > 0:
        chain[:start] = prefix.chain[:start]
        prev = prefix.chain[start - 1].tobytes()
    else:
        start, prev = 0, genesis
    chain[start:] = chain_rows(prev, digests[start:])
    chain.flags.writeable = False  # published: nobody edits a commitment in place
    return CommittedTrace(genesis, digests, chain, outputs)


def verify_output_opening(prev: bytes, claimed: bytes, digest: bytes) -> None:
    """Check that an opened output with ``digest`` chains from ``prev`` to ``claimed``.

    Raises
    ------
    CommitmentMismatch
        When ``H(prev | digest) != claimed``.
    """
    if chain_step(prev, digest) != claimed:
        raise CommitmentMismatch(
            f"opened output (digest {digest.hex()[:12]}) does not match commitment "
            f"{claimed.hex()[:12]}"
        )


@dataclass(frozen=True)
class InputOpening:
    """The inputs of disputed node ``node``, opened against the agreed ``c_{node-1}``.

    Under ``commitment="merkle"`` the same fields carry the Merkle opening:
    ``start_commitment`` is ``d_{k-1}`` when node ``k - 1`` is not an input (else empty) and
    ``path`` the multi-proof's sibling hashes in :func:`merkle_opening_hashes` order.

    Attributes
    ----------
    node : int
        The disputed node ``k``.
    input_nodes : tuple of int
        Earlier nodes ``k`` reads (ascending).
    outputs : tuple of ndarray
        Their opened outputs, in ``input_nodes`` order.
    start_commitment : bytes
        ``c_{j-1}`` for the earliest input ``j`` (unused when ``input_nodes`` is empty).
    path : ndarray of uint8, shape (k - j, 32)
        Digests ``d_j .. d_{k-1}``.
    """

    node: int
    input_nodes: tuple[int, ...]
    outputs: tuple[np.ndarray, ...]
    start_commitment: bytes
    path: np.ndarray

    @property
    def hashes(self) -> int:
        """Hashes this opening reveals (path digests plus the start commitment)."""
        return int(np.asarray(self.path).shape[0]) + (1 if self.start_commitment else 0)

    @property
    def nbytes(self) -> int:
        """Bytes of opened outputs."""
        return int(sum(np.asarray(o).nbytes for o in self.outputs))


def make_input_opening(trace: CommittedTrace, graph: DisputeGraph, k: int) -> InputOpening:
    """Open node ``k``'s inputs from ``trace`` (what an honest party sends the referee)."""
    k = graph.node_index(k)
    nodes = tuple(graph.inputs_of(k).tolist())
    if trace.scheme == "merkle":
        leaves = _proof_leaves(graph, k)
        depth = merkle_depth(trace.n_nodes)
        levels = _prefix_levels(trace.digests, k, depth) if leaves else []
        order = _multiproof_order(leaves, k, depth)
        path = np.array(
            [np.frombuffer(levels[h][x], np.uint8) for h, x in order], dtype=np.uint8
        ).reshape(len(order), DIGEST_SIZE)
        prev = trace.digests[k - 1].tobytes() if k >= 1 and (k - 1) not in nodes else b""
        return InputOpening(k, nodes, tuple(trace.output(j) for j in nodes), prev, path)
    if not nodes:
        return InputOpening(k, (), (), b"", np.zeros((0, DIGEST_SIZE), np.uint8))
    j0 = nodes[0]
    return InputOpening(
        node=k,
        input_nodes=nodes,
        outputs=tuple(trace.output(j) for j in nodes),
        start_commitment=trace.commitment(j0 - 1),
        path=trace.digests[j0:k].copy(),
    )


def verify_input_opening(
    opening: InputOpening,
    graph: DisputeGraph,
    agreed_prev: bytes,
    digest: Callable[[np.ndarray], bytes],
    *,
    node: int,
    commitment: str = "chain",
    genesis: bytes = b"",
) -> bytes:
    """Check opened inputs of node ``k = node`` against the agreed commitment ``c_{k-1}``.

    Returns the value the node's own step extends, ``c_k = H(x | d_k)``: ``x = c_{k-1}``
    (``agreed_prev``) for the chain, ``x = A_k`` (derived from the checked proof) under
    ``commitment="merkle"``, which also needs the public ``genesis``.

    The opening must be for ``node`` (the verifier names the node it asked about: with the
    opening's own ``node`` trusted, a shorter path from a later start commitment can reach the
    same ``c_{k-1}`` and open another node's inputs), the path digests must chain from
    ``start_commitment`` to ``agreed_prev``, and each opened output must hash to its digest on
    the path. Collision resistance then makes the opened inputs the ones both parties
    committed to.

    Raises
    ------
    MalformedOpening
        The opening is not of the form an honest party sends (a field of another type or
        size: every field is checked before any is read).
    CommitmentMismatch
        Naming the first check that fails.
    """
    k = graph.node_index(node)
    expected = tuple(graph.inputs_of(k).tolist())
    _check_form(opening, k, expected, _check_commitment(commitment))
    if opening.node != k:
        raise CommitmentMismatch(f"opening is for node {opening.node!r}, the disputed node is {k}")
    if opening.input_nodes != expected:
        raise CommitmentMismatch(
            f"opening names inputs {opening.input_nodes} of node {k}, the graph says {expected}"
        )
    if len(opening.outputs) != len(expected):
        raise CommitmentMismatch(
            f"opening of node {k} opens {len(opening.outputs)} outputs, the node reads {len(expected)}"
        )
    if commitment == "merkle":
        return _verify_merkle_opening(opening, graph, agreed_prev, digest, k, genesis)
    if not expected:
        return agreed_prev
    j0 = expected[0]
    path = opening.path
    if path.shape != (k - j0, DIGEST_SIZE) or len(opening.outputs) != len(expected):
        raise CommitmentMismatch(
            f"opening of node {k} has a path of shape {path.shape}, expected {(k - j0, DIGEST_SIZE)}"
        )
    chain = extend_chain(opening.start_commitment, path.tobytes())
    if chain[-DIGEST_SIZE:] != agreed_prev:
        raise CommitmentMismatch(
            f"opened digests of nodes {j0}..{k - 1} do not chain to the agreed commitment c_{k - 1}"
        )
    for j, out in zip(expected, opening.outputs, strict=True):
        if digest(out) != path[j - j0].tobytes():
            raise CommitmentMismatch(f"opened output of node {j} does not match its digest")
    return agreed_prev


def check_output(output: Any, what: str) -> np.ndarray:
    """``output`` as a plain C-ordered array if it is a numeric ndarray (an opened node
    output of any layout), else :class:`MalformedOpening` naming ``what``."""
    if not isinstance(output, np.ndarray) or output.dtype.kind not in "biufc":
        kind = output.dtype if isinstance(output, np.ndarray) else type(output).__name__
        raise MalformedOpening(f"{what} is no numeric array ({kind})")
    return np.asarray(output, order="C")


def _check_form(opening: Any, k: int, expected: tuple[int, ...], commitment: str) -> None:
    """Refuse an opening of the wrong form before any field is read (the party loses)."""
    if not isinstance(opening, InputOpening):
        raise MalformedOpening(f"the opening of node {k} is no InputOpening ({type(opening).__name__})")
    if isinstance(opening.node, bool) or not isinstance(opening.node, Integral):
        raise MalformedOpening(f"the opening names node {opening.node!r}, not an integer")
    if not isinstance(opening.input_nodes, tuple):
        raise MalformedOpening(f"the opening's input nodes are a {type(opening.input_nodes).__name__}, not a tuple")
    outputs = opening.outputs
    if not isinstance(outputs, (tuple, list)):
        raise MalformedOpening(f"the opened outputs are a {type(outputs).__name__}, not a tuple")
    for j, out in enumerate(outputs):
        check_output(out, f"opened output {j} of node {k}")
    start = opening.start_commitment
    if type(start) is not bytes:
        raise MalformedOpening(f"the start commitment is a {type(start).__name__}, not bytes")
    if commitment == "merkle":
        need = DIGEST_SIZE if k >= 1 and (k - 1) not in expected else 0
    else:
        need = DIGEST_SIZE if expected else 0
    if len(start) != need:
        raise MalformedOpening(f"the start commitment has {len(start)} bytes, node {k}'s opening needs {need}")
    path = opening.path
    if not isinstance(path, np.ndarray) or path.dtype != np.uint8 or path.ndim != 2 or path.shape[1] != DIGEST_SIZE:
        shape = path.shape if isinstance(path, np.ndarray) else type(path).__name__
        raise MalformedOpening(f"the opening's path is {shape}, not rows of {DIGEST_SIZE} bytes")
    if path.shape[0] and (not expected if commitment == "chain" else k == 0):
        raise MalformedOpening(f"the opening of node {k} sends a path where none is needed")


def _verify_merkle_opening(
    opening: InputOpening,
    graph: DisputeGraph,
    agreed_prev: bytes,
    digest: Callable[[np.ndarray], bytes],
    k: int,
    genesis: bytes,
) -> bytes:
    """The Merkle half of :func:`verify_input_opening`: returns ``A_k``.

    With the opened leaves (inputs and ``d_{k-1}``) and the proof, the root ``R_k`` of the
    first ``k`` leaves gives ``A_k = H(g | R_k)``; the same proof with leaf ``k - 1`` empty
    gives ``R_{k-1}``, and ``H(H(g | R_{k-1}) | d_{k-1})`` must be the agreed ``c_{k-1}``.
    """
    depth = merkle_depth(graph.n_nodes)
    if k == 0:
        if agreed_prev != genesis:
            raise CommitmentMismatch("node 0 is opened against the genesis, another value was agreed")
        return _sha256(genesis + _ZEROS[depth]).digest()
    leaves = {j: digest(out) for j, out in zip(opening.input_nodes, opening.outputs, strict=True)}
    if (k - 1) not in leaves:
        leaves[k - 1] = opening.start_commitment  # 32 bytes (checked by _check_form)
    proof = [row.tobytes() for row in opening.path]
    root = _merkle_root(leaves, proof, k, depth)
    before = dict(leaves)
    before[k - 1] = _ZEROS[0]
    # nodes other than leaf k - 1's ancestors are the same in both trees: the same proof
    root_before = _merkle_root(before, proof, k, depth)
    acc_before = _sha256(genesis + root_before).digest()
    if _sha256(acc_before + leaves[k - 1]).digest() != agreed_prev:
        raise CommitmentMismatch(
            f"opened digests of node {k}'s inputs do not prove the agreed commitment c_{k - 1}"
        )
    return _sha256(genesis + root).digest()
