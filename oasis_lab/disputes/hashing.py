"""SHA-256 for the commitments of the fault proofs (whitepaper section 5): digests, chain
steps and the compiled loops that hash a whole trace.

Hashing goes through the SHA-256 of the OpenSSL library Python's ``hashlib`` already loaded,
called from compiled loops (numba, linking the library's ``SHA256_*`` symbols by name, so
the loops are cached on disk): the same bits as ``hashlib`` with no new dependency; where
that library cannot be found the pure-Python loops run (:data:`COMPILED_SHA256` says which;
the tests check both give the same digests). Every loop reads the switch :data:`_SHA` when it
is called, so setting it to ``False`` runs the pure-Python path (the benchmark compares them).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
from typing import Any

import numba
import numpy as np

__all__ = [
    "COMPILED_SHA256",
    "DIGEST_SIZE",
    "chain_rows",
    "chain_step",
    "extend_chain",
    "frontier_commitments",
    "output_digest",
]

DIGEST_SIZE = 32
_sha256 = hashlib.sha256


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
    _chain_loop(np.frombuffer(prev, np.uint8), np.frombuffer(digests, np.uint8).reshape(n, DIGEST_SIZE), out)
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


def chain_rows(prev: bytes, digests: np.ndarray) -> np.ndarray:
    """Chain commitments ``c_k = H(c_{k-1} | d_k)`` of ``digests`` (shape ``(m, 32)``, uint8),
    starting after ``prev``, as an ``(m, 32)`` uint8 array."""
    digests = np.ascontiguousarray(digests, dtype=np.uint8)
    m = digests.shape[0]
    out = np.empty((m, DIGEST_SIZE), np.uint8)
    if _SHA and m >= _COMPILED_MIN_STEPS:
        _chain_loop(np.frombuffer(prev, np.uint8), digests, out)
    else:
        tail = _extend_chain_python(prev, digests.tobytes())
        out[:] = np.frombuffer(tail, np.uint8).reshape(m, DIGEST_SIZE)
    return out


def _frontier_python(genesis: bytes, digests: bytes, zeros: list[bytes], depth: int) -> bytes:
    sha = _sha256
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


def frontier_commitments(genesis: bytes, digests: bytes, zeros: list[bytes], depth: int) -> bytes:
    """``H(H(g | R_k) | d_k)`` for every ``k``, ``R_k`` the root of the depth-``depth`` tree
    over ``d_0 .. d_{k-1}`` with empty leaves ``zeros[h]`` at level ``h`` (the incremental
    "frontier" tree, ``depth`` hashes per leaf; the Merkle scheme of
    :mod:`oasis_lab.disputes.commitments`)."""
    n = len(digests) // DIGEST_SIZE
    if not _SHA:
        return _frontier_python(genesis, digests, zeros, depth)
    out = np.empty((n, DIGEST_SIZE), np.uint8)
    zeros_array = np.frombuffer(b"".join(zeros), np.uint8).reshape(-1, DIGEST_SIZE)
    _merkle_loop(
        np.frombuffer(genesis, np.uint8), np.frombuffer(digests, np.uint8).reshape(n, DIGEST_SIZE),
        zeros_array, depth, out,
    )
    return out.tobytes()
