"""The computation graph a dispute bisects over (whitepaper section 5).

Section 5: "the inference can be represented as a directed acyclic graph (DAG) [...] in the
topological order of the model DAG". A :class:`DisputeGraph` is that DAG reduced to what the
dispute needs: nodes ``0 .. n-1`` in topological order, for each node ``k`` the earlier nodes it
reads (model inputs and weights are public and not listed), its FLOPs (the referee's cost when
``k`` is disputed) and its output bytes (what opening it costs).

Three sources build one: an executed model of ``oasis_lab.gpu.model`` (:func:`graph_from_model`),
a published-architecture profile (``oasis_lab.disputes.profiles``) and a seeded synthetic DAG
(:func:`synthetic_graph`) for dispute studies at scale.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.checks import check_int
from oasis_lab.seeding import generator

__all__ = ["DisputeGraph", "graph_from_model", "synthetic_graph"]


@dataclass(frozen=True)
class DisputeGraph:
    """A DAG in topological order with the per-node costs a dispute needs.

    Parameters
    ----------
    name : str
        Model name (part of the trace's genesis commitment).
    node_names : tuple of str
        Unique node names, in topological order.
    ops : tuple of str
        Operation of each node (``"matmul"``, ``"softmax"``, ...), for tables.
    indptr, indices : ndarray of int64
        CSR adjacency: node ``k`` reads the outputs of nodes ``indices[indptr[k]:indptr[k+1]]``,
        each ``< k`` (topological order). Model inputs and weights are public and not listed.
    flops : ndarray of float64, shape (n_nodes,)
        Floating-point operations of each node: what the referee spends recomputing it.
    output_bytes : ndarray of int64, shape (n_nodes,)
        Size of each node's output: what opening it as an input costs.

    Raises
    ------
    ValueError
        If names repeat, an input is not an earlier node, a node's inputs are not listed once
        each in ascending order, or the arrays disagree in length.
    """

    name: str
    node_names: tuple[str, ...]
    ops: tuple[str, ...]
    indptr: np.ndarray
    indices: np.ndarray
    flops: np.ndarray
    output_bytes: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.node_names)
        if n == 0:
            raise ValueError(f"graph {self.name!r} has no nodes")
        if len(set(self.node_names)) != n:
            dup = next(x for x, k in Counter(self.node_names).items() if k > 1)
            raise ValueError(f"node name {dup!r} appears twice in graph {self.name!r}")
        if len(self.ops) != n:
            raise ValueError(f"ops has {len(self.ops)} entries for {n} nodes")
        indptr = np.asarray(self.indptr, dtype=np.int64)
        indices = np.asarray(self.indices, dtype=np.int64)
        flops = np.asarray(self.flops, dtype=np.float64)
        out_bytes = np.asarray(self.output_bytes, dtype=np.int64)
        if indptr.shape != (n + 1,) or indptr[0] != 0 or np.any(np.diff(indptr) < 0):
            raise ValueError("indptr must be a non-decreasing (n_nodes + 1,) array from 0")
        if indices.shape != (indptr[-1],):
            raise ValueError(f"indices has {indices.size} entries, indptr says {indptr[-1]}")
        owner = np.repeat(np.arange(n), np.diff(indptr))
        bad = (indices < 0) | (indices >= owner)
        if np.any(bad):
            k = int(owner[np.argmax(bad)])
            raise ValueError(
                f"node {k} ({self.node_names[k]!r}) reads node {int(indices[np.argmax(bad)])}, "
                "which is not an earlier node (the graph must be in topological order)"
            )
        same_row = owner[1:] == owner[:-1]
        if np.any(same_row & (indices[1:] <= indices[:-1])):
            k = int(owner[1:][np.argmax(same_row & (indices[1:] <= indices[:-1]))])
            raise ValueError(f"inputs of node {k} must be listed once each, ascending")
        for field, arr in (("flops", flops), ("output_bytes", out_bytes)):
            if arr.shape != (n,):
                raise ValueError(f"{field} has shape {arr.shape}, expected ({n},)")
            if np.any(~np.isfinite(arr)) or np.any(arr < 0):
                raise ValueError(f"{field} must be finite and >= 0")
        for field, arr in (
            ("indptr", indptr),
            ("indices", indices),
            ("flops", flops),
            ("output_bytes", out_bytes),
        ):
            arr.setflags(write=False)
            object.__setattr__(self, field, arr)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_names)

    def inputs_of(self, k: int) -> np.ndarray:
        """Earlier nodes read by node ``k``, ascending."""
        return self.indices[self.indptr[k] : self.indptr[k + 1]]

    def node_index(self, node: int | str) -> int:
        """Index of ``node`` given by name or index; ``ValueError`` when it does not exist."""
        if isinstance(node, (bool, np.bool_)):
            raise TypeError(f"node must be a name or an index, got {node!r}")
        if isinstance(node, (int, np.integer)):
            if not 0 <= int(node) < self.n_nodes:
                raise ValueError(
                    f"node = {int(node)} is not a node of {self.name!r} (0 .. {self.n_nodes - 1})"
                )
            return int(node)
        if isinstance(node, str):
            try:
                return self.node_names.index(node)
            except ValueError:
                raise ValueError(f"node = {node!r} is not a node of {self.name!r}") from None
        raise TypeError(f"node must be a name or an index, got {type(node).__name__} {node!r}")

    @property
    def opening_span(self) -> np.ndarray:
        """For each node ``k``, ``k - min(inputs of k)`` (0 when it reads only public inputs).

        Opening node ``k``'s inputs against the hash chain reveals this many per-node digests
        (see :func:`oasis_lab.disputes.traces.make_input_opening`).
        """
        n = self.n_nodes
        span = np.zeros(n, dtype=np.int64)
        counts = np.diff(self.indptr)
        has = counts > 0
        if np.any(has):
            owner = np.repeat(np.arange(n), counts)
            first = np.full(n, n, dtype=np.int64)
            np.minimum.at(first, owner, self.indices)
            span[has] = np.arange(n)[has] - first[has]
        return span

    @property
    def opened_input_bytes(self) -> np.ndarray:
        """For each node, the total output bytes of the earlier nodes it reads."""
        n = self.n_nodes
        owner = np.repeat(np.arange(n), np.diff(self.indptr))
        return np.bincount(owner, weights=self.output_bytes[self.indices], minlength=n).astype(
            np.int64
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per node: name, op, inputs (names), flops, output bytes."""
        names = np.asarray(self.node_names, dtype=object)
        inputs = [
            ";".join(names[self.indices[self.indptr[k] : self.indptr[k + 1]]])
            for k in range(self.n_nodes)
        ]
        return pd.DataFrame(
            {
                "name": list(self.node_names),
                "op": list(self.ops),
                "inputs": inputs,
                "flops": self.flops,
                "output_bytes": self.output_bytes,
            }
        )


def graph_from_edges(
    name: str,
    node_names: Sequence[str],
    ops: Sequence[str],
    inputs: Sequence[Sequence[int]],
    flops: Any,
    output_bytes: Any,
) -> DisputeGraph:
    """Build a :class:`DisputeGraph` from per-node lists of earlier input indices."""
    counts = np.fromiter((len(x) for x in inputs), dtype=np.int64, count=len(inputs))
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    indices = (
        np.concatenate([np.asarray(x, dtype=np.int64) for x in inputs])
        if indptr[-1]
        else np.zeros(0, dtype=np.int64)
    )
    return DisputeGraph(
        name=name,
        node_names=tuple(node_names),
        ops=tuple(ops),
        indptr=indptr,
        indices=indices,
        flops=np.asarray(flops, dtype=np.float64),
        output_bytes=np.asarray(output_bytes, dtype=np.int64),
    )


def graph_from_model(
    model: Any,
    outputs: Sequence[np.ndarray] | None = None,
    inputs: Any = None,
) -> DisputeGraph:
    """The dispute graph of an ``oasis_lab.gpu.model.Model``.

    Parameters
    ----------
    model : oasis_lab.gpu.model.Model
        Nodes in topological order; a node input is a model input name, a weight name or an
        earlier node's name. Only earlier nodes become graph edges: the rest are public.
    outputs : sequence of ndarray, optional
        Node outputs of one run, for ``output_bytes`` (zeros when omitted).
    inputs : mapping of str to ndarray, optional
        The run's inputs, for the FLOPs (default: the model's example input shapes).

    Returns
    -------
    DisputeGraph
        FLOPs from ``oasis_lab.gpu.model.node_flops``.
    """
    from oasis_lab.gpu.model import node_flops

    index = {node.name: k for k, node in enumerate(model.nodes)}
    edges = [sorted({index[x] for x in node.inputs if x in index}) for node in model.nodes]
    n = len(model.nodes)
    out_bytes = (
        np.zeros(n, dtype=np.int64)
        if outputs is None
        else np.array([np.asarray(o).nbytes for o in outputs], dtype=np.int64)
    )
    return graph_from_edges(
        model.name,
        [node.name for node in model.nodes],
        [node.op for node in model.nodes],
        edges,
        np.asarray(node_flops(model, inputs), dtype=np.float64),
        out_bytes,
    )


def synthetic_graph(
    n_nodes: int,
    *,
    block: int = 8,
    seed: int = 0,
    output_bytes: int = 32,
    name: str | None = None,
) -> DisputeGraph:
    """A seeded transformer-like DAG: a chain with a residual edge closing every block.

    Node ``k`` reads node ``k - 1``; the last node of each block of ``block`` nodes also reads
    the block's first input (a residual connection), so opening spans stay short as in real
    models. FLOPs are lognormal (a few large matmuls, many cheap element-wise nodes).

    Parameters
    ----------
    n_nodes : int
        Number of nodes (>= 1).
    block : int, default 8
        Nodes per residual block (>= 2).
    seed : int
        Randomness of the FLOPs (the draws of numpy's default generator of ``seed``, through
        :func:`oasis_lab.seeding.generator`).
    output_bytes : int, default 32
        Output size of every node (synthetic traces carry eight float32 per node).
    name : str, optional
        Graph name; default ``"synthetic-<n_nodes>"``.
    """
    n_nodes = check_int("n_nodes", n_nodes, 1)
    block = check_int("block", block, 2)
    rng = generator(seed)
    inputs: list[list[int]] = []
    for k in range(n_nodes):
        edges = [k - 1] if k > 0 else []
        start = (k // block) * block
        if k % block == block - 1 and start - 1 >= 0 and start - 1 != k - 1:
            edges.append(start - 1)
        inputs.append(sorted(edges))
    flops = np.round(rng.lognormal(mean=13.0, sigma=2.0, size=n_nodes))
    ops = ["residual" if len(x) > 1 else "op" for x in inputs]
    return graph_from_edges(
        name or f"synthetic-{n_nodes}",
        [f"n{k}" for k in range(n_nodes)],
        ops,
        inputs,
        flops,
        np.full(n_nodes, output_bytes, dtype=np.int64),
    )
