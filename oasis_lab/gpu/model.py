"""A model as a DAG of named ops, run on ``"numpy"`` or ``"webgpu"``, with the full trace kept.

Whitepaper section 5: "Since the inference can be represented as a directed acyclic graph (DAG),
we can fix the source of randomness to produce deterministic inference processes. Then, a single
service provider is assigned to recompute each layer of the node in the topological order of the
model DAG." Here a :class:`Model` is a tuple of :class:`Node` in topological order; ``run``
evaluates them in that order and returns a :class:`Trace` holding every node's output (what a
provider commits to in a dispute); ``run_node`` recomputes one node from its opened inputs (what
the referee does).

Readings taken
--------------
- A "layer" is one node: one op (matmul, layernorm, attention, ...) with its weights. The tiny
  transformer has 61 nodes, so a bisection over it takes ``ceil(log2 61) = 6`` rounds.
- The only randomness is the ``sample`` node (next token per position), drawn from
  ``run(..., seed=...)``: the same seed gives the same trace on every engine. A referee that
  recomputes a ``sample`` node must pass the trace's seed (``Trace.seed``) to :func:`run_node`.
- The ``"numpy"`` backend runs the bitwise twins of :mod:`oasis_lab.gpu.reference`, not BLAS,
  so the two backends' traces can be compared bit for bit.

Shipped models (weights in ``data/models/*.npz``, see ``data/README.md``):

``tiny-transformer``
    decoder-only, vocabulary 512, width 128, 4 heads of 32, 4 blocks, MLP 512, context 64,
    pre-layernorm; float32 (weights stored as float16, cast exactly).
``quantized-mlp``
    integer mode: int8 ``x (batch, 64)`` -> 128 -> 128 -> 128 (requantized ReLU layers) ->
    int32 logits ``(batch, 16)``; exact on every engine.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, overload

import numpy as np
import pandas as pd

from oasis_lab import paths
from oasis_lab.checks import check_int
from oasis_lab.gpu import backends, device, reference
from oasis_lab.seeding import generator

__all__ = [
    "Node",
    "Model",
    "Trace",
    "DigestTrace",
    "InputSpec",
    "MODEL_NAMES",
    "MODELS_DIR",
    "OPS",
    "load_model",
    "example_inputs",
    "node_flops",
    "node_shapes",
    "run",
    "run_node",
    "array_digest",
    "build_weights",
    "backend_module",
]

MODELS_DIR = paths.MODELS_DIR
MODEL_NAMES = ("tiny-transformer", "quantized-mlp")


# ============================================================================ data model
@dataclass(frozen=True)
class Node:
    """One op of a model DAG.

    Attributes
    ----------
    name : str
        Unique within the model.
    op : str
        A key of :data:`OPS` (``"matmul"``, ``"layernorm"``, ``"attention"``, ...).
    inputs : tuple of str
        Names of model inputs or of earlier nodes, in the op's argument order.
    attrs : Mapping
        Weight names (values naming entries of ``Model.weights``) and constants.
    """

    name: str
    op: str
    inputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "attrs", MappingProxyType(dict(self.attrs)))


@dataclass(frozen=True)
class InputSpec:
    """Shape, dtype and value range ``[low, high)`` of a model input (for :func:`example_inputs`)."""

    shape: tuple[int, ...]
    dtype: str
    low: int
    high: int


@dataclass(frozen=True, eq=False)
class Model:
    """A model: inputs, nodes in topological order, and public weights.

    Raises
    ------
    ValueError
        Duplicate node names, an unknown op, an input that is neither a model input nor an
        earlier node, a wrong number of inputs, or a weight an op names but the model lacks.
    """

    name: str
    input_names: tuple[str, ...]
    nodes: tuple[Node, ...]
    weights: Mapping[str, np.ndarray]
    input_specs: Mapping[str, InputSpec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "input_names", tuple(self.input_names))
        set_(self, "nodes", tuple(self.nodes))
        weights = {}
        for key, w in dict(self.weights).items():
            arr = np.array(w, copy=True)  # the model owns read-only copies
            arr.setflags(write=False)
            device.mark_persistent(arr)  # uploaded once per process on the webgpu backend
            weights[str(key)] = arr
        set_(self, "weights", MappingProxyType(weights))
        set_(self, "input_specs", MappingProxyType(dict(self.input_specs)))
        known = set(self.input_names)
        if len(known) != len(self.input_names):
            raise ValueError(f"input_names {self.input_names} has duplicates")
        index: dict[str, int] = {}
        for i, node in enumerate(self.nodes):
            if not isinstance(node, Node):
                raise TypeError(f"nodes[{i}] must be a Node, got {type(node).__name__}")
            if node.name in index or node.name in known:
                raise ValueError(f"node name {node.name!r} is used twice")
            if node.op not in OPS:
                raise ValueError(f"node {node.name!r} has unknown op {node.op!r}; known: {sorted(OPS)}")
            spec = OPS[node.op]
            if len(node.inputs) != spec.n_inputs:
                raise ValueError(
                    f"node {node.name!r} ({node.op}) has {len(node.inputs)} inputs, needs {spec.n_inputs}"
                )
            for src in node.inputs:
                if src not in known and src not in index:
                    raise ValueError(
                        f"node {node.name!r} reads {src!r}, which is neither a model input nor an "
                        "earlier node (nodes must be in topological order)"
                    )
            for key in spec.weight_attrs:
                wname = node.attrs.get(key)
                if wname is None:
                    if key in spec.optional_weights:
                        continue
                    raise ValueError(f"node {node.name!r} ({node.op}) needs attrs[{key!r}]")
                if wname not in weights:
                    raise ValueError(f"node {node.name!r} names weight {wname!r}, not in the model")
            index[node.name] = i
        set_(self, "_index", index)

    def node_index(self, name: str) -> int:
        """Position of node ``name`` in topological order; ``ValueError`` if unknown."""
        try:
            return self._index[name]  # type: ignore[attr-defined]
        except (KeyError, TypeError):
            raise ValueError(f"model {self.name!r} has no node {name!r}") from None

    @property
    def node_names(self) -> tuple[str, ...]:
        """Node names in topological order."""
        return tuple(n.name for n in self.nodes)

    @property
    def n_parameters(self) -> int:
        """Number of weight entries."""
        return int(sum(w.size for w in self.weights.values()))

    def to_frame(self) -> pd.DataFrame:
        """One row per node: name, op, inputs, output shape and FLOPs for the example inputs."""
        shapes = node_shapes(self) if self.input_specs else [None] * len(self.nodes)
        flops = node_flops(self) if self.input_specs else [np.nan] * len(self.nodes)
        return pd.DataFrame(
            {
                "node": [n.name for n in self.nodes],
                "op": [n.op for n in self.nodes],
                "inputs": [", ".join(n.inputs) for n in self.nodes],
                "shape": [s for s in shapes],
                "flops": flops,
            }
        )


def array_digest(arr: np.ndarray) -> str:
    """SHA-256 hex digest of an array's dtype, shape and bytes (equal digests = equal bits)."""
    a = np.ascontiguousarray(arr)
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


@dataclass(frozen=True, eq=False)
class Trace:
    """Every node's output of one run, in topological order (what a provider commits to).

    Attributes
    ----------
    model_name, backend : str
    node_names : tuple of str
    outputs : tuple of ndarray
        One read-only array per node.
    seed : int
        The seed the ``sample`` nodes used (pass it to :func:`run_node` to recompute them).
    """

    model_name: str
    backend: str
    node_names: tuple[str, ...]
    outputs: tuple[np.ndarray, ...]
    seed: int = 0

    def output(self, name: str) -> np.ndarray:
        """Output of node ``name``; ``ValueError`` if the trace has no such node."""
        try:
            return self.outputs[self.node_names.index(name)]
        except ValueError:
            raise ValueError(f"trace of {self.model_name!r} has no node {name!r}") from None

    def digests(self) -> tuple[str, ...]:
        """:func:`array_digest` of every output, in topological order."""
        return tuple(array_digest(o) for o in self.outputs)

    def to_frame(self) -> pd.DataFrame:
        """One row per node: name, shape, dtype and the first 16 hex digits of its digest."""
        return pd.DataFrame(
            {
                "node": list(self.node_names),
                "shape": [o.shape for o in self.outputs],
                "dtype": [str(o.dtype) for o in self.outputs],
                "digest": [d[:16] for d in self.digests()],
            }
        )


@dataclass(frozen=True, eq=False)
class DigestTrace:
    """Every node's :func:`array_digest` of one run, without the outputs (what a provider
    commits to when only the commitment is asked for: ``run(..., keep="digests")``).

    Attributes
    ----------
    model_name, backend : str
    node_names : tuple of str
    node_digests : tuple of str
        One SHA-256 hex digest per node, in topological order.
    seed : int
    """

    model_name: str
    backend: str
    node_names: tuple[str, ...]
    node_digests: tuple[str, ...]
    seed: int = 0

    def digests(self) -> tuple[str, ...]:
        """The node digests in topological order (as :meth:`Trace.digests`)."""
        return self.node_digests

    def to_frame(self) -> pd.DataFrame:
        """One row per node: name and the first 16 hex digits of its digest."""
        return pd.DataFrame({"node": list(self.node_names), "digest": [d[:16] for d in self.node_digests]})


# ============================================================================ op table
Arrays = Sequence[np.ndarray]


@dataclass(frozen=True)
class OpSpec:
    """How to run, shape and count one op.

    ``call(backend_module, xs, attrs, weights, seed)`` runs it on the module's functions (the
    reference and :mod:`oasis_lab.gpu.ops` share names and signatures); ``shape`` infers the output
    shape from input shapes; ``flops`` counts arithmetic operations (int ops for integer ops).
    """

    n_inputs: int
    weight_attrs: tuple[str, ...]
    call: Callable[[Any, Arrays, Mapping[str, Any], Mapping[str, np.ndarray], int], np.ndarray]
    shape: Callable[[Sequence[tuple[int, ...]], Mapping[str, Any], Mapping[str, np.ndarray]], tuple[int, ...]]
    flops: Callable[[Sequence[tuple[int, ...]], Mapping[str, Any], Mapping[str, np.ndarray]], int]
    optional_weights: tuple[str, ...] = ()


#: Nominal float operations of one ``mathlib.exp`` (clamp 2, reduction 6, Horner 14, scale 1).
EXP_FLOPS = 23


def _w(weights: Mapping[str, np.ndarray], attrs: Mapping[str, Any], key: str) -> np.ndarray:
    return weights[attrs[key]]


def _matmul_shape(s, a, w):
    return (s[0][0], _w(w, a, "weight").shape[1])


def _same_shape(s, a, w):
    return tuple(s[0])


def _numel(shape: Sequence[int]) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _attention_flops(s, a, w) -> int:
    t, d = s[0]
    pairs = t * (t + 1) // 2  # causal
    dh = d // int(a["n_heads"])
    per_pair = 2 * dh + 1 + 1 + EXP_FLOPS + 1 + 1 + 2 * dh  # score, scale, sub, exp, sum, div, PV
    return int(a["n_heads"]) * pairs * per_pair


OPS: dict[str, OpSpec] = {
    "matmul": OpSpec(
        1, ("weight",),
        lambda m, x, a, w, seed: m.matmul(x[0], _w(w, a, "weight")),
        _matmul_shape,
        lambda s, a, w: 2 * s[0][0] * s[0][1] * _w(w, a, "weight").shape[1],
    ),
    "bias_add": OpSpec(
        1, ("bias",),
        lambda m, x, a, w, seed: m.bias_add(x[0], _w(w, a, "bias")),
        _same_shape,
        lambda s, a, w: _numel(s[0]),
    ),
    "add": OpSpec(
        2, (),
        lambda m, x, a, w, seed: m.add(x[0], x[1]),
        _same_shape,
        lambda s, a, w: _numel(s[0]),
    ),
    "relu": OpSpec(
        1, (), lambda m, x, a, w, seed: m.relu(x[0]), _same_shape, lambda s, a, w: _numel(s[0])
    ),
    "gelu": OpSpec(
        1, (),
        lambda m, x, a, w, seed: m.gelu(x[0]),
        _same_shape,
        lambda s, a, w: (7 + EXP_FLOPS) * _numel(s[0]),
    ),
    "softmax": OpSpec(
        1, (),
        lambda m, x, a, w, seed: m.softmax(x[0]),
        _same_shape,
        lambda s, a, w: (4 + EXP_FLOPS) * _numel(s[0]),
    ),
    "layernorm": OpSpec(
        1, ("gamma", "beta"),
        lambda m, x, a, w, seed: m.layernorm(
            x[0], _w(w, a, "gamma"), _w(w, a, "beta"), float(a.get("eps", 1e-5))
        ),
        _same_shape,
        lambda s, a, w: 8 * _numel(s[0]),
    ),
    "attention": OpSpec(
        3, (),
        lambda m, x, a, w, seed: m.attention(x[0], x[1], x[2], int(a["n_heads"])),
        _same_shape,
        _attention_flops,
    ),
    "embedding": OpSpec(
        1, ("table", "positions"),
        lambda m, x, a, w, seed: m.embedding(
            x[0], _w(w, a, "table"), _w(w, a, "positions") if a.get("positions") else None
        ),
        lambda s, a, w: (s[0][0], _w(w, a, "table").shape[1]),
        lambda s, a, w: s[0][0] * _w(w, a, "table").shape[1] * (1 if a.get("positions") else 0),
        optional_weights=("positions",),
    ),
    "sample": OpSpec(
        1, (),
        lambda m, x, a, w, seed: m.sample(x[0], seed),
        lambda s, a, w: (s[0][0],),
        lambda s, a, w: _numel(s[0]),
    ),
    "int8_matmul": OpSpec(
        1, ("weight",),
        lambda m, x, a, w, seed: m.int8_matmul(x[0], _w(w, a, "weight")),
        _matmul_shape,
        lambda s, a, w: 2 * s[0][0] * s[0][1] * _w(w, a, "weight").shape[1],
    ),
    "int8_matmul_requant": OpSpec(
        1, ("weight", "bias"),
        lambda m, x, a, w, seed: m.int8_matmul_requant(
            x[0], _w(w, a, "weight"), _w(w, a, "bias"), int(a["multiplier"]), int(a["shift"]),
            bool(a.get("relu", False)),
        ),
        _matmul_shape,
        lambda s, a, w: (2 * s[0][1] + 6) * s[0][0] * _w(w, a, "weight").shape[1],
    ),
}


def backend_module(backend: str | backends.Backend) -> Any:
    """The ops of ``backend`` (a name of :func:`oasis_lab.gpu.backends.names` or a
    :class:`~oasis_lab.gpu.backends.Backend`): :mod:`~oasis_lab.gpu.reference` for
    ``"numpy"``, :mod:`~oasis_lab.gpu.ops` for ``"webgpu"``, a registered engine's ops otherwise
    (same names and signatures)."""
    return backends.get(backend).ops()


# ============================================================================ running
def _check_seed(seed: Any) -> int:
    return check_int("seed", seed, 0, 2**32 - 1)


@overload
def run(model: Model, inputs: Mapping[str, np.ndarray], backend: str | backends.Backend = ...,
        seed: int = ..., *, keep: Literal["outputs"] = ...) -> Trace: ...


@overload
def run(model: Model, inputs: Mapping[str, np.ndarray], backend: str | backends.Backend = ...,
        seed: int = ..., *, keep: Literal["digests"]) -> DigestTrace: ...


def run(
    model: Model,
    inputs: Mapping[str, np.ndarray],
    backend: str | backends.Backend = "numpy",
    seed: int = 0,
    *,
    keep: str = "outputs",
) -> Trace | DigestTrace:
    """Evaluate every node of ``model`` in topological order and keep all outputs (section 5).

    Parameters
    ----------
    model : Model
    inputs : mapping of str to ndarray
        Exactly the model's ``input_names``.
    backend : str or Backend
        ``"numpy"`` (bitwise numpy twins), ``"webgpu"`` (the WGSL kernels through wgpu-py), a
        registered name (``"browser"``: the same kernels in headless Chromium, registered by
        ``oasis_lab.browser``) or a :class:`~oasis_lab.gpu.backends.Backend` object (e.g. a
        browser provider's ``backend``). Same bits on engines that do not reassociate.
    seed : int
        The only source of randomness (the ``sample`` nodes), ``0 <= seed < 2^32`` (the
        kernel's seed is one u32).
    keep : {"outputs", "digests"}
        ``"outputs"``: return a :class:`Trace` with every node's output; ``"digests"``: return a
        :class:`DigestTrace` (an engine that hashes its outputs itself, such as a browser, then
        need not send them back).

    Returns
    -------
    Trace or DigestTrace

    Raises
    ------
    ValueError, TypeError
        Unknown backend, missing or extra inputs, a bad ``keep``, or an input an op rejects
        (the message names the node).
    """
    if not isinstance(model, Model):
        raise TypeError(f"model must be a Model, got {type(model).__name__}")
    be = backends.get(backend)
    s = _check_seed(seed)
    if keep not in ("outputs", "digests"):
        raise ValueError(f"keep = {keep!r} must be 'outputs' or 'digests'")
    if not isinstance(inputs, Mapping):
        raise TypeError(f"inputs must be a mapping of input name to array, got {type(inputs).__name__}")
    missing = [n for n in model.input_names if n not in inputs]
    extra = [n for n in inputs if n not in model.input_names]
    if missing or extra:
        raise ValueError(
            f"inputs of {model.name!r} must be exactly {list(model.input_names)}; "
            f"missing {missing}, unexpected {extra}"
        )
    digests_only = keep == "digests"
    module = be.ops()
    values: dict[str, np.ndarray] = {n: inputs[n] for n in model.input_names}
    outputs: list[np.ndarray] = []
    digests: list[str] = []
    be.prepare(model, values, digests_only)
    try:
        for i, node in enumerate(model.nodes):
            with be.node(model, i, digests_only) as record:
                out = _call(module, model, node, [values[src] for src in node.inputs], s)
            out.setflags(write=False)
            values[node.name] = out
            if digests_only:
                digests.append(record.digest if record.digest is not None else array_digest(out))
            else:
                outputs.append(out)
    finally:
        be.finish(model)
    if digests_only:
        return DigestTrace(model.name, be.name, model.node_names, tuple(digests), s)
    return Trace(model.name, be.name, model.node_names, tuple(outputs), s)


def _call(module: Any, model: Model, node: Node, xs: Arrays, seed: int) -> np.ndarray:
    try:
        out = OPS[node.op].call(module, xs, node.attrs, model.weights, seed)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"node {node.name!r} ({node.op}): {exc}") from None
    return np.ascontiguousarray(out)


def run_node(
    model: Model,
    node: str | int,
    node_inputs: Sequence[np.ndarray],
    backend: str | backends.Backend = "numpy",
    seed: int = 0,
) -> np.ndarray:
    """Recompute one node from its opened input arrays (what the referee does, section 5).

    Parameters
    ----------
    model : Model
    node : str or int
        Node name or position in topological order.
    node_inputs : sequence of ndarray
        The node's inputs in ``Node.inputs`` order.
    backend : str or Backend
        As for :func:`run`.
    seed : int
        Only read by ``sample`` nodes: pass ``Trace.seed`` of the trace being checked.

    Returns
    -------
    ndarray
    """
    if not isinstance(model, Model):
        raise TypeError(f"model must be a Model, got {type(model).__name__}")
    if isinstance(node, (int, np.integer)) and not isinstance(node, bool):
        i = int(node)
        if not 0 <= i < len(model.nodes):
            raise ValueError(f"node = {i} is outside [0, {len(model.nodes)})")
    elif isinstance(node, str):
        i = model.node_index(node)
    else:
        raise TypeError(f"node must be a node name or index, got {type(node).__name__}")
    nd = model.nodes[i]
    module = backend_module(backend)
    if len(node_inputs) != len(nd.inputs):
        raise ValueError(
            f"node {nd.name!r} takes {len(nd.inputs)} inputs {list(nd.inputs)}, got {len(node_inputs)}"
        )
    return _call(module, model, nd, list(node_inputs), _check_seed(seed))


# ============================================================================ shapes, FLOPs
def _input_shapes(model: Model, inputs: Mapping[str, np.ndarray] | None) -> dict[str, tuple[int, ...]]:
    if inputs is None:
        if not model.input_specs:
            raise ValueError(f"model {model.name!r} has no input specs: pass inputs")
        return {n: tuple(model.input_specs[n].shape) for n in model.input_names}
    return {n: tuple(np.shape(inputs[n])) for n in model.input_names}


def node_shapes(
    model: Model, inputs: Mapping[str, np.ndarray] | None = None
) -> list[tuple[int, ...]]:
    """Output shape of every node for ``inputs`` (default: the example inputs' shapes)."""
    shapes = _input_shapes(model, inputs)
    out = []
    for node in model.nodes:
        s = OPS[node.op].shape([shapes[x] for x in node.inputs], node.attrs, model.weights)
        shapes[node.name] = tuple(int(k) for k in s)
        out.append(shapes[node.name])
    return out


def node_flops(model: Model, inputs: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """Arithmetic operations per node (int ops for integer nodes), in node order.

    Counted for ``inputs`` (default: the shapes of :func:`example_inputs`); ``exp`` counts as
    :data:`EXP_FLOPS`. Attention counts causal pairs only.

    Returns
    -------
    ndarray of int64, shape (n_nodes,)
    """
    shapes = _input_shapes(model, inputs)
    flops = np.zeros(len(model.nodes), dtype=np.int64)
    for i, node in enumerate(model.nodes):
        spec = OPS[node.op]
        ins = [shapes[x] for x in node.inputs]
        flops[i] = spec.flops(ins, node.attrs, model.weights)
        shapes[node.name] = tuple(int(k) for k in spec.shape(ins, node.attrs, model.weights))
    return flops


def example_inputs(model: Model, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded inputs of the shapes in ``model.input_specs`` (uniform integers in ``[low, high)``)."""
    if not model.input_specs:
        raise ValueError(f"model {model.name!r} has no input specs")
    rng = generator(seed)
    out = {}
    for name in model.input_names:
        spec = model.input_specs[name]
        out[name] = rng.integers(spec.low, spec.high, size=spec.shape).astype(spec.dtype)
    return out


# ============================================================================ shipped models
_TT = dict(vocab=512, width=128, heads=4, blocks=4, mlp=512, context=64, seq_len=32)
_TT_EPS = 1e-5  # layernorm epsilon of the tiny transformer
_QM = dict(inputs=64, hidden=128, layers=3, classes=16, batch=8)


def _transformer_nodes() -> tuple[Node, ...]:
    c = _TT
    nodes = [Node("embed", "embedding", ("tokens",), {"table": "wte", "positions": "wpe"})]
    x = "embed"
    for b in range(c["blocks"]):
        p = f"block{b}."
        ln = {"eps": _TT_EPS}
        nodes += [
            Node(p + "ln1", "layernorm", (x,), {"gamma": p + "ln1.gamma", "beta": p + "ln1.beta", **ln}),
            Node(p + "q", "matmul", (p + "ln1",), {"weight": p + "attn.wq"}),
            Node(p + "k", "matmul", (p + "ln1",), {"weight": p + "attn.wk"}),
            Node(p + "v", "matmul", (p + "ln1",), {"weight": p + "attn.wv"}),
            Node(p + "attn", "attention", (p + "q", p + "k", p + "v"), {"n_heads": c["heads"]}),
            Node(p + "proj", "matmul", (p + "attn",), {"weight": p + "attn.wo"}),
            Node(p + "res1", "add", (x, p + "proj")),
            Node(p + "ln2", "layernorm", (p + "res1",), {"gamma": p + "ln2.gamma", "beta": p + "ln2.beta", **ln}),
            Node(p + "fc1", "matmul", (p + "ln2",), {"weight": p + "mlp.w1"}),
            Node(p + "fc1_bias", "bias_add", (p + "fc1",), {"bias": p + "mlp.b1"}),
            Node(p + "gelu", "gelu", (p + "fc1_bias",)),
            Node(p + "fc2", "matmul", (p + "gelu",), {"weight": p + "mlp.w2"}),
            Node(p + "fc2_bias", "bias_add", (p + "fc2",), {"bias": p + "mlp.b2"}),
            Node(p + "res2", "add", (p + "res1", p + "fc2_bias")),
        ]
        x = p + "res2"
    nodes += [
        Node("ln_f", "layernorm", (x,), {"gamma": "ln_f.gamma", "beta": "ln_f.beta", "eps": _TT_EPS}),
        Node("logits", "matmul", ("ln_f",), {"weight": "lm_head"}),
        Node("probs", "softmax", ("logits",)),
        Node("next_token", "sample", ("probs",)),
    ]
    return tuple(nodes)


def _transformer_weight_shapes() -> dict[str, tuple[int, ...]]:
    c = _TT
    d, f = c["width"], c["mlp"]
    shapes = {"wte": (c["vocab"], d), "wpe": (c["context"], d), "ln_f.gamma": (d,), "ln_f.beta": (d,),
              "lm_head": (d, c["vocab"])}
    for b in range(c["blocks"]):
        p = f"block{b}."
        shapes.update({
            p + "ln1.gamma": (d,), p + "ln1.beta": (d,), p + "ln2.gamma": (d,), p + "ln2.beta": (d,),
            p + "attn.wq": (d, d), p + "attn.wk": (d, d), p + "attn.wv": (d, d), p + "attn.wo": (d, d),
            p + "mlp.w1": (d, f), p + "mlp.b1": (f,), p + "mlp.w2": (f, d), p + "mlp.b2": (d,),
        })
    return shapes


def _mlp_dims() -> list[tuple[int, int]]:
    c = _QM
    dims = [c["inputs"]] + [c["hidden"]] * c["layers"] + [c["classes"]]
    return list(zip(dims[:-1], dims[1:], strict=True))


def _mlp_nodes(scales: Mapping[str, np.ndarray]) -> tuple[Node, ...]:
    nodes, x = [], "x"
    for i in range(_QM["layers"]):
        name = f"fc{i + 1}"
        nodes.append(Node(name, "int8_matmul_requant", (x,), {
            "weight": name + ".weight", "bias": name + ".bias",
            "multiplier": int(scales[name + ".multiplier"]), "shift": int(scales[name + ".shift"]),
            "relu": True,
        }))
        x = name
    nodes.append(Node("logits", "int8_matmul", (x,), {"weight": "head.weight"}))
    return tuple(nodes)


def build_weights(name: str, seed: int = 2024) -> dict[str, np.ndarray]:
    """Draw the seeded weights of a shipped model (how ``data/models/*.npz`` were made).

    The files are stored rather than regenerated because numpy does not promise the same random
    stream across versions. Transformer: ``N(0, 1/fan_in)`` matrices, unit-scale embeddings,
    layernorm gains ``1 + N(0, 0.1^2)``, everything rounded to float16 (stored so, cast exactly to
    float32). Quantized MLP: float weights quantized symmetrically per tensor to int8; each
    layer's requantization ``multiplier / 2^shift`` is calibrated so that the 99.9th percentile
    of its pre-activation on 256 seeded inputs maps to 100.
    """
    rng = generator(seed)
    out: dict[str, np.ndarray] = {}
    if name == "tiny-transformer":
        for key, shape in _transformer_weight_shapes().items():
            if key.endswith("gamma"):
                w = 1.0 + 0.1 * rng.standard_normal(shape)
            elif key.endswith(("beta", ".b1", ".b2")):
                w = 0.1 * rng.standard_normal(shape)
            elif key == "wte":
                w = rng.standard_normal(shape)
            elif key == "wpe":
                w = 0.5 * rng.standard_normal(shape)
            else:
                w = rng.standard_normal(shape) / math.sqrt(shape[0])
            out[key] = w.astype(np.float16)
        return out
    if name == "quantized-mlp":
        x = rng.integers(-127, 128, size=(256, _QM["inputs"])).astype(np.int8)
        dims = _mlp_dims()
        for i, (fan_in, fan_out) in enumerate(dims):
            last = i == len(dims) - 1
            key = "head" if last else f"fc{i + 1}"
            w = rng.standard_normal((fan_in, fan_out)) / math.sqrt(fan_in)
            wq = np.clip(np.round(w / (np.abs(w).max() / 127)), -127, 127).astype(np.int8)
            out[key + ".weight"] = wq
            if last:
                break
            acc = x.astype(np.int64) @ wq.astype(np.int64)
            bias = np.round(rng.standard_normal(fan_out) * acc.std() * 0.1).astype(np.int32)
            out[key + ".bias"] = bias
            scale = 100.0 / np.percentile(np.abs(acc + bias), 99.9)
            shift = 30
            mult = int(round(scale * 2**shift))
            while mult >= 2**15:
                shift -= 1
                mult = int(round(scale * 2**shift))
            out[key + ".multiplier"] = np.array(mult, dtype=np.int64)
            out[key + ".shift"] = np.array(shift, dtype=np.int64)
            x = reference.requantize(acc + bias, mult, shift, relu=True)
        return out
    raise ValueError(f"model name = {name!r} is unknown; choose one of {list(MODEL_NAMES)}")


def _read_npz(name: str) -> dict[str, np.ndarray]:
    path = MODELS_DIR / f"{name}.npz"
    if not path.exists():
        raise FileNotFoundError(f"weights of {name!r} are missing: {str(path)!r}")
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def load_model(name: str) -> Model:
    """Load a shipped model (``"tiny-transformer"`` or ``"quantized-mlp"``) with its weights.

    Raises
    ------
    ValueError
        Unknown name (the message lists the known ones) or a weight file of the wrong shapes.
    """
    if name == "tiny-transformer":
        raw = _read_npz(name)
        shapes = _transformer_weight_shapes()
        if set(raw) != set(shapes):
            raise ValueError(f"{name} weight file has keys {sorted(raw)}, expected {sorted(shapes)}")
        for key, shape in shapes.items():
            if raw[key].shape != shape:
                raise ValueError(f"{name} weight {key!r} has shape {raw[key].shape}, expected {shape}")
        weights = {k: v.astype(np.float32) for k, v in raw.items()}
        specs = {"tokens": InputSpec((_TT["seq_len"],), "int32", 0, _TT["vocab"])}
        return Model(name, ("tokens",), _transformer_nodes(), weights, specs)
    if name == "quantized-mlp":
        raw = _read_npz(name)
        scales = {k: v for k, v in raw.items() if k.endswith((".multiplier", ".shift"))}
        weights = {k: v for k, v in raw.items() if k not in scales}
        specs = {"x": InputSpec((_QM["batch"], _QM["inputs"]), "int8", -127, 128)}
        return Model(name, ("x",), _mlp_nodes(scales), weights, specs)
    raise ValueError(f"model name = {name!r} is unknown; choose one of {list(MODEL_NAMES)}")
