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

Two commitment schemes (``commitment=`` of a computation, :data:`COMMITMENTS`):

* ``"chain"`` (above): building costs one hash per node; opening node ``k``'s inputs costs
  ``k - j`` hashes, up to the whole trace for a late node reading an early input.
* ``"merkle"``: ``c_k = H(A_k | d_k)`` with the accumulator ``A_k = H(g | R_k)``, ``R_k`` the
  root of a binary Merkle tree of fixed depth ``D = ceil(log2 n)`` over ``d_0 .. d_{k-1}``
  (empty leaves hold fixed constants ``Z_h``). ``c_k`` binds the prefix, so disagreement is
  still monotone and the bisection is unchanged; the last step is still
  ``H(A_k | d_k)``, so the referee's exact rule is unchanged given ``A_k``. Node ``k``'s
  inputs (and ``d_{k-1}``) are opened by one multi-proof in the tree of ``R_k``: at most
  ``D - 1`` sibling hashes per opened leaf, ``O(log n)`` (:func:`make_input_opening`,
  :func:`verify_input_opening`, :func:`merkle_opening_hashes`). Building costs ``D + 2``
  hashes per node (every prefix root), ``O(n log n)``.

Hashing goes through the SHA-256 of the OpenSSL library Python's ``hashlib`` already loaded,
called from compiled loops (numba, linking the library's ``SHA256_*`` symbols by name, so
the loops are cached on disk): the same bits as ``hashlib`` with no new dependency; where
that library cannot be found the pure-Python loops run (:data:`COMPILED_SHA256` says which;
the tests check both give the same digests).
"""

from __future__ import annotations

import ctypes
import ctypes.util
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


def _extend_chain_python(prev: bytes, digests: bytes) -> bytes:
    out: list[bytes] = []
    append = out.append
    sha = _sha256
    for i in range(0, len(digests), DIGEST_SIZE):
        prev = sha(prev + digests[i : i + DIGEST_SIZE]).digest()
        append(prev)
    return b"".join(out)


def extend_chain(prev: bytes, digests: bytes) -> bytes:
    """Chain commitments of concatenated 32-byte digests, starting after ``prev``.

    Returns the commitments concatenated. This loop is the one hash per node a trace costs
    (compiled when :data:`COMPILED_SHA256`, the same bits either way).
    """
    n = len(digests) // DIGEST_SIZE
    if not _SHA or n < _COMPILED_MIN_STEPS:
        return _extend_chain_python(prev, digests)
    out = np.empty((n, DIGEST_SIZE), np.uint8)
    _chain_compiled(np.frombuffer(prev, np.uint8), np.frombuffer(digests, np.uint8).reshape(n, DIGEST_SIZE), out)
    return out.tobytes()


# --- compiled SHA-256: OpenSSL's, the library hashlib loaded, called from numba -------------

def _find_libcrypto() -> str | None:
    """Path of the libcrypto Python's ``_hashlib`` is linked against (or any found), whose
    SHA-256 gives ``hashlib``'s bits; ``None`` when there is none."""
    try:
        import _hashlib  # noqa: F401  (loads libcrypto into the process)

        with open("/proc/self/maps") as maps:
            paths = [line.split()[-1] for line in maps if "libcrypto" in line and "/" in line]
    except (ImportError, OSError):
        paths = []
    found = ctypes.util.find_library("crypto")
    for path in dict.fromkeys([*paths, *([found] if found else [])]):
        try:
            lib = ctypes.CDLL(path)
            init, update, final = lib.SHA256_Init, lib.SHA256_Update, lib.SHA256_Final
        except (OSError, AttributeError):
            continue
        init.argtypes, init.restype = [ctypes.c_void_p], ctypes.c_int
        update.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
        update.restype = ctypes.c_int
        final.argtypes, final.restype = [ctypes.c_void_p, ctypes.c_void_p], ctypes.c_int
        # the compiled path must give hashlib's bits, or it is not used at all
        ctx = ctypes.create_string_buffer(512)
        md = ctypes.create_string_buffer(32)
        probe = b"oasis-lab sha256 probe" * 3
        init(ctx)
        update(ctx, probe, len(probe))
        final(md, ctx)
        if md.raw == _sha256(probe).digest():
            return path
    return None


def _load_sha() -> bool:
    """Make libcrypto's SHA-256 symbols visible to numba's linker (by name, so the compiled
    loops below are cached on disk like the rest of the package's numba code)."""
    path = _find_libcrypto()
    if path is None:
        return False
    try:
        import llvmlite.binding as llvm  # type: ignore[import-untyped]

        llvm.load_library_permanently(path)
    except Exception:  # llvmlite refusing the library means: no compiled path
        return False
    return True


_SHA = _load_sha()
#: Whether SHA-256 runs compiled (OpenSSL through numba) or in the pure-Python loops.
COMPILED_SHA256 = _SHA
# Below this many steps the compiled loop's call overhead is not worth it.
_COMPILED_MIN_STEPS = 4
_CTX_BYTES = 512  # SHA256_CTX is 112 bytes; room to spare

# OpenSSL's incremental SHA-256, resolved by symbol name when the loops are compiled or loaded
# from numba's cache (pointers passed as integers: the x86-64 and AArch64 ABIs pass both alike).
_sha_init: Any = numba.types.ExternalFunction("SHA256_Init", numba.types.int32(numba.types.uintp))
_sha_update: Any = numba.types.ExternalFunction(
    "SHA256_Update", numba.types.int32(numba.types.uintp, numba.types.uintp, numba.types.uintp)
)
_sha_final: Any = numba.types.ExternalFunction(
    "SHA256_Final", numba.types.int32(numba.types.uintp, numba.types.uintp)
)


@numba.njit(cache=True, inline="always")
def _h64(ctx, buf, out):
    # out = SHA-256(buf[0:64])
    _sha_init(ctx.ctypes.data)
    _sha_update(ctx.ctypes.data, buf.ctypes.data, 64)
    _sha_final(out.ctypes.data, ctx.ctypes.data)


@numba.njit(cache=True)
def _chain_loop(prev, digests, out):
    ctx = np.empty(_CTX_BYTES, np.uint8)
    buf = np.empty(64, np.uint8)
    buf[:32] = prev
    for k in range(digests.shape[0]):
        buf[32:] = digests[k]
        _h64(ctx, buf, out[k])
        buf[:32] = out[k]


@numba.njit(cache=True)
def _merkle_loop(genesis, digests, zeros, depth, out):
    # Every c_k = H(A_k | d_k), A_k = H(g | R_k), R_k the prefix root over d_0..d_{k-1}:
    # the incremental ("frontier") tree, D hashes per appended leaf.
    ctx = np.empty(_CTX_BYTES, np.uint8)
    buf = np.empty(64, np.uint8)
    node = np.empty(32, np.uint8)
    acc = np.empty(32, np.uint8)
    frontier = np.zeros((depth, 32), np.uint8)
    root = zeros[depth].copy()
    for k in range(digests.shape[0]):
        buf[:32] = genesis
        buf[32:] = root
        _h64(ctx, buf, acc)
        buf[:32] = acc
        buf[32:] = digests[k]
        _h64(ctx, buf, out[k])
        # append leaf k, recompute the root
        node[:] = digests[k]
        idx = k
        for h in range(depth):
            if idx & 1:
                buf[:32] = frontier[h]
                buf[32:] = node
            else:
                frontier[h] = node
                buf[:32] = node
                buf[32:] = zeros[h]
            _h64(ctx, buf, node)
            idx >>= 1
        root[:] = node


def _chain_compiled(prev: np.ndarray, digests: np.ndarray, out: np.ndarray) -> None:
    _chain_loop(prev, digests, out)


# --- Merkle commitments -------------------------------------------------------------------

#: Commitment schemes of a trace (see the module docstring).
COMMITMENTS: tuple[str, ...] = ("chain", "merkle")

_MAX_DEPTH = 64
_ZEROS: list[bytes] = [_sha256(b"oasis-lab merkle empty leaf v1").digest()]
for _h in range(_MAX_DEPTH):
    _ZEROS.append(_sha256(_ZEROS[-1] + _ZEROS[-1]).digest())
_ZEROS_ARRAY = np.frombuffer(b"".join(_ZEROS), np.uint8).reshape(-1, DIGEST_SIZE)


def _check_commitment(commitment: str) -> str:
    if commitment not in COMMITMENTS:
        raise ValueError(f"commitment = {commitment!r} is not one of {list(COMMITMENTS)}")
    return commitment


def merkle_depth(n_nodes: int) -> int:
    """Depth ``D = ceil(log2 n)`` (at least 1) of the Merkle tree over ``n`` node digests."""
    return max(1, (int(n_nodes) - 1).bit_length())


def _merkle_python(genesis: bytes, digests: bytes, depth: int) -> bytes:
    sha = _sha256
    zeros = _ZEROS
    frontier = [b""] * depth
    root = zeros[depth]
    out = []
    for k in range(len(digests) // DIGEST_SIZE):
        d = digests[k * DIGEST_SIZE : (k + 1) * DIGEST_SIZE]
        out.append(sha(sha(genesis + root).digest() + d).digest())
        node, idx = d, k
        for h in range(depth):
            if idx & 1:
                node = sha(frontier[h] + node).digest()
            else:
                frontier[h] = node
                node = sha(node + zeros[h]).digest()
            idx >>= 1
        root = node
    return b"".join(out)


def merkle_commitments(genesis: bytes, digests: bytes, n_nodes: int | None = None) -> bytes:
    """Merkle-scheme commitments ``c_0 .. c_{n-1}`` of concatenated 32-byte digests.

    ``c_k = H(H(g | R_k) | d_k)``, ``R_k`` the root of the depth-``D`` tree over
    ``d_0 .. d_{k-1}``; ``n_nodes`` (default: the number of digests) fixes ``D``.
    """
    n = len(digests) // DIGEST_SIZE
    depth = merkle_depth(n if n_nodes is None else n_nodes)
    if not _SHA:
        return _merkle_python(genesis, digests, depth)
    out = np.empty((n, DIGEST_SIZE), np.uint8)
    _merkle_loop(
        np.frombuffer(genesis, np.uint8), np.frombuffer(digests, np.uint8).reshape(n, DIGEST_SIZE),
        _ZEROS_ARRAY, depth, out,
    )
    return out.tobytes()


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
            genesis, digests, _rows(merkle_commitments(genesis, digests.tobytes()), n), outputs,
            "merkle",
        )
    chain = np.empty((n, DIGEST_SIZE), np.uint8)
    if prefix is not None and start > 0:
        chain[:start] = prefix.chain[:start]
        prev = prefix.chain[start - 1].tobytes()
    else:
        start, prev = 0, genesis
    if _SHA and n - start >= _COMPILED_MIN_STEPS:
        _chain_compiled(np.frombuffer(prev, np.uint8), digests[start:], chain[start:])
    else:
        tail = _extend_chain_python(prev, digests[start:].tobytes())
        chain[start:] = np.frombuffer(tail, np.uint8).reshape(n - start, DIGEST_SIZE)
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
    CommitmentMismatch
        Naming the first check that fails.
    """
    k = graph.node_index(node)
    if opening.node != k:
        raise CommitmentMismatch(f"opening is for node {opening.node!r}, the disputed node is {k}")
    expected = tuple(graph.inputs_of(k).tolist())
    if opening.input_nodes != expected:
        raise CommitmentMismatch(
            f"opening names inputs {opening.input_nodes} of node {k}, the graph says {expected}"
        )
    if len(opening.outputs) != len(expected):
        raise CommitmentMismatch(
            f"opening of node {k} opens {len(opening.outputs)} outputs, the node reads {len(expected)}"
        )
    if _check_commitment(commitment) == "merkle":
        return _verify_merkle_opening(opening, graph, agreed_prev, digest, k, genesis)
    if not expected:
        return agreed_prev
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
    return agreed_prev


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
        if not isinstance(opening.start_commitment, bytes) or len(opening.start_commitment) != DIGEST_SIZE:
            raise CommitmentMismatch(f"opening of node {k} lacks the digest of node {k - 1}")
        leaves[k - 1] = opening.start_commitment
    elif opening.start_commitment:
        raise CommitmentMismatch(f"opening of node {k} sends a digest it must not")
    path = np.asarray(opening.path)
    if path.dtype != np.uint8 or path.ndim != 2 or path.shape[1:] != (DIGEST_SIZE,):
        raise CommitmentMismatch(f"opening of node {k} has a proof of shape {path.shape}")
    proof = [row.tobytes() for row in path]
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
        return commit(self.genesis, digests, tuple(outputs), commitment=self.commitment)


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
        sub = SyntheticComputation(self.graph, seed=self.seed, genesis=self.genesis,
                                   commitment=self.commitment)
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
