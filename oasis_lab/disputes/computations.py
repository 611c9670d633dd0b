"""The computations that parties trace, commit to and dispute (whitepaper section 5).

A :class:`Computation` is the thing disputed: an executed model (:class:`ModelComputation`,
backed by ``oasis_lab.gpu.model``) or a seeded synthetic DAG (:class:`SyntheticComputation`)
whose nodes compute eight float32 from their inputs with a 64-bit mixer. Synthetic outputs are
exactly 32 pseudo-random bytes and serve as their own digests, so a synthetic trace costs one
hash per node (the chain) and 10,000 disputes over 1,000 nodes stay cheap.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import cached_property
from typing import Any

import numba
import numpy as np

from oasis_lab.disputes.commitments import _check_commitment, genesis_commitment
from oasis_lab.disputes.graph import DisputeGraph, graph_from_model
from oasis_lab.disputes.hashing import output_digest
from oasis_lab.disputes.traces import CommittedTrace, commit
from oasis_lab.seeding import generator

__all__ = [
    "Computation",
    "ModelComputation",
    "Perturbation",
    "SyntheticComputation",
]

#: ``perturb(k, output, inputs) -> output'``: how a party changes node ``k``'s output.
Perturbation = Callable[[int, np.ndarray, Sequence[np.ndarray]], np.ndarray]


class Computation(ABC):
    """A deterministic DAG computation that parties trace, commit to and dispute.

    Subclasses implement :meth:`_forward` (run nodes ``start ..`` given earlier outputs),
    :meth:`recompute` (one node from opened inputs: the referee's work), :meth:`digest` and
    :meth:`substitute` (a cheaper model with the same graph, for the model-swap adversary).
    """

    graph: DisputeGraph
    genesis: bytes
    #: How traces of this computation are committed (:data:`COMMITMENTS`).
    commitment: str = "chain"

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

    def can_run(self, backend: str) -> bool:
        """Whether :meth:`recompute` can run on ``backend`` on this machine (the referee's
        rounding reading recomputes on every engine it can). Default: ``numpy`` only."""
        return backend == "numpy"

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

    def commit_outputs(self, outputs: Sequence[np.ndarray] | np.ndarray) -> CommittedTrace:
        """Commit to arbitrary outputs under this computation's genesis."""
        digests = np.stack([np.frombuffer(self.digest(o), np.uint8) for o in outputs])
        return commit(self.genesis, digests, tuple(outputs), commitment=self.commitment)

    def recompute_all(self, outputs: Sequence[np.ndarray] | np.ndarray, backend: str = "numpy") -> list[np.ndarray]:
        """Every node recomputed from ``outputs`` as its inputs: node ``k`` from
        ``outputs[j]`` for ``j`` in ``graph.inputs_of(k)`` (a node-local check of a trace,
        each node against its own committed inputs, not against an honest run)."""
        # one call per node: every node is its own operation
        return [
            np.asarray(self.recompute(k, [outputs[j] for j in self.graph.inputs_of(k)], backend))
            for k in range(self.n_nodes)
        ]

    def with_output(self, trace: CommittedTrace, k: int, output: np.ndarray) -> CommittedTrace:
        """``trace`` with node ``k``'s output replaced by ``output`` (nothing recomputed after
        it), committed again from node ``k`` on."""
        outputs = list(trace.outputs)
        outputs[k] = np.asarray(output)
        digests = np.array(trace.digests, copy=True)
        digests[k] = np.frombuffer(self.digest(outputs[k]), np.uint8)
        return commit(self.genesis, digests, tuple(outputs), prefix=trace, start=k,
                      commitment=self.commitment)


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
    commitment : {"chain", "merkle"}, default "chain"
        How traces are committed (:data:`COMMITMENTS`).
    """

    def __init__(
        self,
        model: Any,
        inputs: Mapping[str, np.ndarray],
        *,
        backend: str = "numpy",
        seed: int = 0,
        genesis: bytes | None = None,
        commitment: str = "chain",
    ) -> None:
        self.commitment = _check_commitment(commitment)
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

    def can_run(self, backend: str) -> bool:
        """A registered backend of :mod:`oasis_lab.gpu.backends`; ``webgpu`` only where an
        adapter can be created (the first call creates the process's device)."""
        from oasis_lab.gpu import backends

        if backend not in backends.names():
            return False
        if backend == "webgpu":
            from oasis_lab.gpu.device import is_available

            return is_available()
        return True

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
            swapped, self.inputs, backend=self.backend, seed=self.seed, genesis=self.genesis,
            commitment=self.commitment,
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
        return commit(self.genesis, digests, tuple(outputs), prefix=base, start=start,
                      commitment=self.commitment)


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
def _synthetic_nodes(start, stop, src, dst, indptr, indices, salts, public):
    # nodes start .. stop - 1 into dst from their inputs' bits in src: src is dst for a forward
    # run (each node reads the nodes computed before it), another array for the node-local
    # check (each node reads the given outputs)
    pub = public.reshape(1, public.shape[0])
    for k in range(start, stop):
        lo, hi = indptr[k], indptr[k + 1]
        if hi == lo:
            _synthetic_node(salts[k], pub, dst[k])
        else:
            rows = np.empty((hi - lo, src.shape[1]), dtype=np.uint32)
            for r in range(hi - lo):
                rows[r] = src[indices[lo + r]]
            _synthetic_node(salts[k], rows, dst[k])


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
    commitment : {"chain", "merkle"}, default "chain"
        How traces are committed (:data:`COMMITMENTS`).
    """

    def __init__(
        self, graph: DisputeGraph, *, seed: int = 0, genesis: bytes | None = None,
        commitment: str = "chain",
    ) -> None:
        if not isinstance(graph, DisputeGraph):
            raise TypeError(f"graph must be a DisputeGraph, got {type(graph).__name__}")
        self.commitment = _check_commitment(commitment)
        self.graph = graph
        rng = generator(seed)  # the seed checked once, here
        self.seed = int(seed)
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

    def commit_outputs(self, outputs: Sequence[np.ndarray] | np.ndarray) -> CommittedTrace:
        # an (n, 8) float32 array of synthetic outputs is its own digests: no loop
        arr = outputs if isinstance(outputs, np.ndarray) else None
        if arr is not None and arr.dtype == np.float32 and arr.shape == (self.n_nodes, _LANES):
            arr = np.ascontiguousarray(arr)
            return commit(self.genesis, arr.view(np.uint8), arr, commitment=self.commitment)
        return super().commit_outputs(outputs)

    def recompute_all(self, outputs: Sequence[np.ndarray] | np.ndarray, backend: str = "numpy") -> list[np.ndarray]:
        if backend != "numpy":
            raise ValueError(f"backend = {backend!r}: a synthetic computation runs on 'numpy' only")
        values = np.array([np.asarray(o, dtype=np.float32).reshape(_LANES) for o in outputs]
                          if not isinstance(outputs, np.ndarray) else outputs, dtype=np.float32)
        out = np.empty((self.n_nodes, _LANES), dtype=np.uint32)
        g = self.graph
        _synthetic_nodes(0, self.n_nodes, np.ascontiguousarray(values).view(np.uint32), out,
                         g.indptr, g.indices, self.salts, self.public)
        return list(out.view(np.float32))

    def with_output(self, trace: CommittedTrace, k: int, output: np.ndarray) -> CommittedTrace:
        values = np.array(trace.outputs, dtype=np.float32, copy=True)
        values[k] = np.asarray(output, dtype=np.float32).reshape(_LANES)
        return commit(self.genesis, values.view(np.uint8), values, prefix=trace, start=k,
                      commitment=self.commitment)

    def substitute(self) -> SyntheticComputation:
        sub = SyntheticComputation(self.graph, seed=self.seed, genesis=self.genesis,
                                   commitment=self.commitment)
        sub.salts = generator(self.seed, 1).integers(
            0, 2**63, size=self.graph.n_nodes, dtype=np.uint64
        )
        return sub

    def _forward(self, bits: np.ndarray, start: int, stop: int) -> None:
        g = self.graph
        _synthetic_nodes(start, stop, bits, bits, g.indptr, g.indices, self.salts, self.public)

    def _honest(self) -> CommittedTrace:
        bits = np.empty((self.n_nodes, _LANES), dtype=np.uint32)
        self._forward(bits, 0, self.n_nodes)
        values = bits.view(np.float32)
        return commit(self.genesis, bits.view(np.uint8), values, commitment=self.commitment)

    def _trace_from(
        self, start: int, perturb: Mapping[int, Perturbation], base: CommittedTrace
    ) -> CommittedTrace:
        values = np.array(base.outputs, dtype=np.float32, copy=True)
        bits = values.view(np.uint32)
        g = self.graph
        k = start
        for p in sorted(perturb):
            self._forward(bits, k, p + 1)  # nodes k .. p, p computed honestly, then perturbed
            ins = [values[j] for j in g.inputs_of(p)]
            out = np.asarray(perturb[p](p, values[p].copy(), ins), dtype=np.float32)
            if out.shape != (_LANES,):
                raise ValueError(f"perturbation of node {p} returned shape {out.shape}")
            values[p] = out
            k = p + 1
        self._forward(bits, k, self.n_nodes)
        return commit(self.genesis, bits.view(np.uint8), values, prefix=base, start=start,
                      commitment=self.commitment)
