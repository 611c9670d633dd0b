"""Committed traces: node outputs in topological order and their hash-chain commitments.

Whitepaper section 5 fixes the randomness so inference is deterministic and checks it "in the
topological order of the model DAG". For a run with node outputs ``o_0 .. o_{n-1}`` a provider
publishes

* per-node digests ``d_k = H(dtype | shape | bytes(o_k))``, and
* the hash chain ``c_{-1} = g`` (the genesis: model name, public inputs and weights),
  ``c_k = H(c_{k-1} | d_k)``.

``H`` is SHA-256. Because each ``c_k`` binds the whole prefix, two traces that diverge at node
``k`` have different commitments at every node ``>= k`` (disagreement is monotone), which is
what lets a bisection over the chain find the *first* divergent node. Outputs stay private and
are opened on demand: an opening of ``o_k`` is checked against ``c_{k-1}`` and ``c_k``; the
inputs of a disputed node ``k`` are opened against the agreed ``c_{k-1}`` with the digests
``d_j .. d_{k-1}`` (``j`` the earliest input), ``k - j`` hashes
(:func:`make_input_opening`, :func:`verify_input_opening`).

A :class:`Computation` is the thing disputed: an executed model (:class:`ModelComputation`,
backed by ``oasis_lab.gpu.model``) or a seeded synthetic DAG (:class:`SyntheticComputation`)
whose nodes compute eight float32 from their inputs with a 64-bit mixer. Synthetic outputs are
exactly 32 pseudo-random bytes and serve as their own digests, so a synthetic trace costs one
hash per node (the chain) and 10,000 disputes over 1,000 nodes stay cheap.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numba
import numpy as np

from oasis_lab.disputes.graph import DisputeGraph, graph_from_model

__all__ = [
    "DIGEST_SIZE",
    "CommitmentMismatch",
    "CommittedTrace",
    "Computation",
    "InputOpening",
    "ModelComputation",
    "Perturbation",
    "SyntheticComputation",
    "chain_step",
    "extend_chain",
    "genesis_commitment",
    "make_input_opening",
    "output_digest",
    "verify_input_opening",
    "verify_output_opening",
]

DIGEST_SIZE = 32
_sha256 = hashlib.sha256

#: ``perturb(k, output, inputs) -> output'``: how a party changes node ``k``'s output.
Perturbation = Callable[[int, np.ndarray, Sequence[np.ndarray]], np.ndarray]


class CommitmentMismatch(ValueError):
    """An opening does not match the commitment it is checked against."""


# ---------------------------------------------------------------------------------------------
# hashing


def output_digest(output: np.ndarray) -> bytes:
    """``d = H(dtype | shape | bytes)`` of one node output (dtype and shape bind the layout)."""
    arr = np.ascontiguousarray(output)
    header = f"{arr.dtype.str}|{arr.shape}|".encode()
    return _sha256(header + arr.tobytes()).digest()


def chain_step(prev: bytes, digest: bytes) -> bytes:
    """``c_k = H(c_{k-1} | d_k)``."""
    return _sha256(prev + digest).digest()


def extend_chain(prev: bytes, digests: bytes) -> bytes:
    """Chain commitments of concatenated 32-byte digests, starting after ``prev``.

    Returns the commitments concatenated. This loop is the one hash per node a trace costs.
    """
    out: list[bytes] = []
    append = out.append
    sha = _sha256
    for i in range(0, len(digests), DIGEST_SIZE):
        prev = sha(prev + digests[i : i + DIGEST_SIZE]).digest()
        append(prev)
    return b"".join(out)


def genesis_commitment(model_name: str, public: Mapping[str, np.ndarray]) -> bytes:
    """``c_{-1}``: binds the model name and every public array (inputs, weights), by name."""
    h = _sha256(b"oasis-lab trace v1|" + model_name.encode() + b"|")
    for name in sorted(public):
        h.update(name.encode() + b"=" + output_digest(np.asarray(public[name])))
    return h.digest()


def _rows(buf: bytes, n: int) -> np.ndarray:
    arr = np.frombuffer(buf, dtype=np.uint8).reshape(n, DIGEST_SIZE)
    return arr


# ---------------------------------------------------------------------------------------------
# committed traces and openings


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
    """

    genesis: bytes
    digests: np.ndarray
    chain: np.ndarray
    outputs: Sequence[np.ndarray] | np.ndarray

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
) -> CommittedTrace:
    """Commit to a trace, reusing ``prefix``'s chain before node ``start`` (same genesis)."""
    digests = np.ascontiguousarray(digests, dtype=np.uint8)
    n = digests.shape[0]
    if prefix is not None and start > 0:
        if prefix.genesis != genesis or prefix.n_nodes != n:
            raise ValueError("prefix trace has another genesis or node count")
        head = prefix.chain[:start].tobytes()
        prev = prefix.chain[start - 1].tobytes()
    else:
        start, head, prev = 0, b"", genesis
    tail = extend_chain(prev, digests[start:].tobytes())
    return CommittedTrace(genesis, digests, _rows(head + tail, n), outputs)


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
        return int(self.path.shape[0]) + (1 if self.input_nodes else 0)

    @property
    def nbytes(self) -> int:
        """Bytes of opened outputs."""
        return int(sum(np.asarray(o).nbytes for o in self.outputs))


def make_input_opening(trace: CommittedTrace, graph: DisputeGraph, k: int) -> InputOpening:
    """Open node ``k``'s inputs from ``trace`` (what an honest party sends the referee)."""
    k = graph.node_index(k)
    nodes = tuple(int(j) for j in graph.inputs_of(k))
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
) -> None:
    """Check opened inputs of node ``k = node`` against the agreed commitment ``c_{k-1}``.

    The opening must be for ``node`` (the verifier names the node it asked about: with the
    opening's own ``node`` trusted, a shorter path from a later start commitment can reach the
    same ``c_{k-1}`` and open another node's inputs), the path digests must chain from
    ``start_commitment`` to ``agreed_prev``, and each opened output must hash to its digest on
    the path. Collision resistance then makes the opened inputs the ones both parties
    committed to.

    Raises
    ------
    CommitmentMismatch
        Naming the first check that fails.
    """
    k = graph.node_index(node)
    if opening.node != k:
        raise CommitmentMismatch(f"opening is for node {opening.node!r}, the disputed node is {k}")
    expected = tuple(int(j) for j in graph.inputs_of(k))
    if opening.input_nodes != expected:
        raise CommitmentMismatch(
            f"opening names inputs {opening.input_nodes} of node {k}, the graph says {expected}"
        )
    if not expected:
        return
    j0 = expected[0]
    path = np.asarray(opening.path, dtype=np.uint8)
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


# ---------------------------------------------------------------------------------------------
# computations


class Computation(ABC):
    """A deterministic DAG computation that parties trace, commit to and dispute.

    Subclasses implement :meth:`_forward` (run nodes ``start ..`` given earlier outputs),
    :meth:`recompute` (one node from opened inputs: the referee's work), :meth:`digest` and
    :meth:`substitute` (a cheaper model with the same graph, for the model-swap adversary).
    """

    graph: DisputeGraph
    genesis: bytes

    @property
    def name(self) -> str:
        """Model name."""
        return self.graph.name

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return self.graph.n_nodes

    @abstractmethod
    def digest(self, output: np.ndarray) -> bytes:
        """Per-node digest ``d_k`` of one output."""

    @abstractmethod
    def recompute(self, k: int, inputs: Sequence[np.ndarray], backend: str = "numpy") -> np.ndarray:
        """Recompute node ``k`` from the outputs of ``graph.inputs_of(k)`` (the referee's work)."""

    @abstractmethod
    def substitute(self) -> Computation:
        """A cheaper stand-in model with the same graph and genesis (what a model swap runs)."""

    @abstractmethod
    def _honest(self) -> CommittedTrace:
        """The trace of an honest run."""

    @abstractmethod
    def _trace_from(
        self, start: int, perturb: Mapping[int, Perturbation], base: CommittedTrace
    ) -> CommittedTrace:
        """Re-run nodes ``start ..`` on top of ``base``'s prefix, applying ``perturb``."""

    @cached_property
    def honest_trace(self) -> CommittedTrace:
        """The committed trace of an honest run (computed once)."""
        return self._honest()

    def trace(self, perturb: Mapping[int, Perturbation] | None = None) -> CommittedTrace:
        """Committed trace of a run in which node ``k``'s output is replaced by
        ``perturb[k](k, output, inputs)``; later nodes compute on the changed values.

        Nodes before the first perturbed one are shared with :attr:`honest_trace`.
        """
        if not perturb:
            return self.honest_trace
        keys = sorted(self.graph.node_index(k) for k in perturb)
        fixed = {self.graph.node_index(k): f for k, f in perturb.items()}
        return self._trace_from(keys[0], fixed, self.honest_trace)

    def commit_outputs(self, outputs: Sequence[np.ndarray]) -> CommittedTrace:
        """Commit to arbitrary outputs under this computation's genesis."""
        digests = np.stack([np.frombuffer(self.digest(o), np.uint8) for o in outputs])
        return commit(self.genesis, digests, tuple(outputs))


class ModelComputation(Computation):
    """An executed model of ``oasis_lab.gpu.model`` on given inputs.

    Parameters
    ----------
    model : oasis_lab.gpu.model.Model
    inputs : mapping of str to ndarray
        Model inputs (public, part of the genesis with the weights).
    backend : str, default "numpy"
        Backend of the honest run.
    seed : int, default 0
        The fixed randomness of the run (section 5: "fix the source of randomness").
    genesis : bytes, optional
        Override the genesis (a substitute model claims the original's).
    """

    def __init__(
        self,
        model: Any,
        inputs: Mapping[str, np.ndarray],
        *,
        backend: str = "numpy",
        seed: int = 0,
        genesis: bytes | None = None,
    ) -> None:
        missing = [x for x in model.input_names if x not in inputs]
        if missing:
            raise ValueError(f"inputs lack model input(s) {missing} of {model.name!r}")
        self.model = model
        self.inputs = {k: np.asarray(v) for k, v in inputs.items()}
        self.backend = backend
        self.seed = seed
        public = {f"input:{k}": v for k, v in self.inputs.items()}
        public.update({f"weight:{k}": np.asarray(v) for k, v in model.weights.items()})
        self.genesis = genesis if genesis is not None else genesis_commitment(model.name, public)
        self._node_index = {node.name: k for k, node in enumerate(model.nodes)}

    @cached_property
    def _run(self) -> tuple[np.ndarray, ...]:
        from oasis_lab.gpu.model import run

        tr = run(self.model, self.inputs, backend=self.backend, seed=self.seed)
        return tuple(np.asarray(o) for o in tr.outputs)

    @cached_property
    def graph(self) -> DisputeGraph:  # type: ignore[override]
        return graph_from_model(self.model, self._run, self.inputs)

    def digest(self, output: np.ndarray) -> bytes:
        return output_digest(output)

    def node_arguments(self, k: int, node_outputs: Callable[[int], np.ndarray]) -> list[np.ndarray]:
        """Arrays for ``run_node``: model inputs and weights by name, node outputs by index."""
        args = []
        for x in self.model.nodes[k].inputs:
            if x in self._node_index:
                args.append(node_outputs(self._node_index[x]))
            elif x in self.inputs:
                args.append(self.inputs[x])
            elif x in self.model.weights:
                args.append(np.asarray(self.model.weights[x]))
            else:
                raise ValueError(f"node {k} reads {x!r}, which is no input, weight or node")
        return args

    def recompute(self, k: int, inputs: Sequence[np.ndarray], backend: str = "numpy") -> np.ndarray:
        from oasis_lab.gpu.model import run_node

        k = self.graph.node_index(k)
        nodes = [int(j) for j in self.graph.inputs_of(k)]
        if len(inputs) != len(nodes):
            raise ValueError(f"node {k} reads {len(nodes)} node outputs, got {len(inputs)}")
        given = dict(zip(nodes, inputs, strict=True))
        args = self.node_arguments(k, given.__getitem__)
        return np.asarray(run_node(self.model, k, args, backend=backend, seed=self.seed))

    def substitute(self) -> ModelComputation:
        # The cheap stand-in a provider might serve: float weights quantized to int8
        # (symmetric, per tensor) and dequantized, integer weights with their lowest bit dropped.
        def cheaper(w: np.ndarray) -> np.ndarray:
            w = np.asarray(w)
            if w.dtype.kind == "f":
                scale = float(np.max(np.abs(w))) / 127.0 if w.size else 0.0
                if scale == 0.0:
                    return w
                return (np.round(w / scale) * scale).astype(w.dtype)
            if w.dtype.kind in "iu":
                return (w >> 1) << 1
            return w

        swapped = replace(self.model, weights={k: cheaper(v) for k, v in self.model.weights.items()})
        return ModelComputation(
            swapped, self.inputs, backend=self.backend, seed=self.seed, genesis=self.genesis
        )

    def _honest(self) -> CommittedTrace:
        return self.commit_outputs(self._run)

    def _trace_from(
        self, start: int, perturb: Mapping[int, Perturbation], base: CommittedTrace
    ) -> CommittedTrace:
        from oasis_lab.gpu.model import run_node

        outputs = list(base.outputs)
        for k in range(start, self.n_nodes):
            args = self.node_arguments(k, outputs.__getitem__)
            out = np.array(run_node(self.model, k, args, backend=self.backend, seed=self.seed))
            if k in perturb:
                out = np.asarray(perturb[k](k, out, [outputs[j] for j in self.graph.inputs_of(k)]))
            outputs[k] = out
        digests = base.digests.copy()
        digests[start:] = np.stack(
            [np.frombuffer(output_digest(o), np.uint8) for o in outputs[start:]]
        )
        return commit(self.genesis, digests, tuple(outputs), prefix=base, start=start)


# --- synthetic DAG: eight float32 per node, a splitmix64 mixer over the inputs' bits ---------

_LANES = 8


@numba.njit(cache=True, inline="always")
def _mix64(x):
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


@numba.njit(cache=True)
def _synthetic_node(salt, rows, out):
    # rows: (m, 8) uint32 input bits; out: (8,) uint32. Floats in [1, 2): exponent fixed,
    # 23 mantissa bits from the mixer, so every input bit reaches every output element.
    acc = _mix64(salt)
    for r in range(rows.shape[0]):
        for lane in range(rows.shape[1]):
            acc = _mix64(acc ^ (np.uint64(rows[r, lane]) + (np.uint64(lane) << np.uint64(32))))
    for lane in range(out.shape[0]):
        h = _mix64(acc + np.uint64(lane + 1) * np.uint64(0x9E3779B97F4A7C15))
        out[lane] = np.uint32(0x3F800000) | np.uint32((h >> np.uint64(41)) & np.uint64(0x7FFFFF))


@numba.njit(cache=True)
def _synthetic_forward(start, stop, bits, indptr, indices, salts, public):
    pub = public.reshape(1, public.shape[0])
    for k in range(start, stop):
        lo, hi = indptr[k], indptr[k + 1]
        if hi == lo:
            _synthetic_node(salts[k], pub, bits[k])
        else:
            rows = np.empty((hi - lo, bits.shape[1]), dtype=np.uint32)
            for r in range(hi - lo):
                rows[r] = bits[indices[lo + r]]
            _synthetic_node(salts[k], rows, bits[k])


class SyntheticComputation(Computation):
    """A seeded computation over any :class:`DisputeGraph` (synthetic DAG or a profile).

    Node ``k`` outputs eight float32 in ``[1, 2)`` whose bits are a 64-bit mix of a per-node
    weight ``salt[k]`` and every bit of its inputs' outputs (nodes without node inputs read the
    public model input). Outputs are exactly 32 pseudo-random bytes, so they are their own
    digests: a synthetic trace costs one SHA-256 per node, for the chain.

    Parameters
    ----------
    graph : DisputeGraph
    seed : int, default 0
        Seeds the weights (salts) and the public model input.
    genesis : bytes, optional
        Override the genesis (a substitute model claims the original's).
    """

    def __init__(self, graph: DisputeGraph, *, seed: int = 0, genesis: bytes | None = None) -> None:
        if not isinstance(graph, DisputeGraph):
            raise TypeError(f"graph must be a DisputeGraph, got {type(graph).__name__}")
        self.graph = graph
        self.seed = seed
        rng = np.random.default_rng(seed)
        self.salts = rng.integers(0, 2**63, size=graph.n_nodes, dtype=np.uint64)
        self.public = rng.integers(0, 2**32, size=_LANES, dtype=np.uint32)
        self.genesis = (
            genesis
            if genesis is not None
            else genesis_commitment(
                graph.name, {"input:x": self.public, "weight:salts": self.salts}
            )
        )

    def digest(self, output: np.ndarray) -> bytes:
        arr = np.asarray(output)
        if arr.dtype != np.float32 or arr.shape != (_LANES,):
            # Not a synthetic output at all: give it a digest no synthetic output can have.
            return output_digest(arr)
        return arr.tobytes()

    def recompute(self, k: int, inputs: Sequence[np.ndarray], backend: str = "numpy") -> np.ndarray:
        if backend != "numpy":
            raise ValueError(f"backend = {backend!r}: a synthetic computation runs on 'numpy' only")
        k = self.graph.node_index(k)
        n_in = int(self.graph.indptr[k + 1] - self.graph.indptr[k])
        if len(inputs) != n_in:
            raise ValueError(f"node {k} reads {n_in} node outputs, got {len(inputs)}")
        rows = (
            np.stack([np.asarray(x, dtype=np.float32).reshape(_LANES).view(np.uint32) for x in inputs])
            if n_in
            else self.public.reshape(1, _LANES)
        )
        out = np.empty(_LANES, dtype=np.uint32)
        _synthetic_node(self.salts[k], np.ascontiguousarray(rows), out)
        return out.view(np.float32)

    def substitute(self) -> SyntheticComputation:
        sub = SyntheticComputation(self.graph, seed=self.seed, genesis=self.genesis)
        sub.salts = np.random.default_rng([self.seed, 1]).integers(
            0, 2**63, size=self.graph.n_nodes, dtype=np.uint64
        )
        return sub

    def _forward(self, bits: np.ndarray, start: int, stop: int) -> None:
        g = self.graph
        _synthetic_forward(start, stop, bits, g.indptr, g.indices, self.salts, self.public)

    def _honest(self) -> CommittedTrace:
        bits = np.empty((self.n_nodes, _LANES), dtype=np.uint32)
        self._forward(bits, 0, self.n_nodes)
        values = bits.view(np.float32)
        return commit(self.genesis, bits.view(np.uint8), values)

    def _trace_from(
        self, start: int, perturb: Mapping[int, Perturbation], base: CommittedTrace
    ) -> CommittedTrace:
        values = np.array(base.outputs, dtype=np.float32, copy=True)
        bits = values.view(np.uint32)
        g = self.graph
        k = start
        for p in sorted(perturb):
            self._forward(bits, k, p)
            self._forward(bits, p, p + 1)
            ins = [values[j] for j in g.inputs_of(p)]
            out = np.asarray(perturb[p](p, values[p].copy(), ins), dtype=np.float32)
            if out.shape != (_LANES,):
                raise ValueError(f"perturbation of node {p} returned shape {out.shape}")
            values[p] = out
            k = p + 1
        self._forward(bits, k, self.n_nodes)
        return commit(self.genesis, bits.view(np.uint8), values, prefix=base, start=start)
