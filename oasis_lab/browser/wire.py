"""The wire format between Python and the provider page: one binary message per command or reply.

A message is a u32 header length (little endian), the JSON header, padding to 4 bytes, then the
blobs, each padded to 4 bytes (``header["blobs"]`` lists ``[offset, length]`` pairs). Arrays
travel as raw bytes, never as JSON or base64 text. ``oasis_lab/browser/static/runtime.js``
implements the same format.

>>> header, blobs = decode(encode({"op": "run"}, [b"xyz"]))
>>> header["op"], bytes(blobs[0])
('run', b'xyz')
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["decode", "encode", "pad4"]


def pad4(n: int) -> int:
    """``n`` rounded up to a multiple of 4 (WebGPU binds and writes whole 4-byte words)."""
    return -(-n // 4) * 4


def encode(header: dict[str, Any], blobs: Sequence[bytes | memoryview | np.ndarray]) -> bytes:
    """One binary message: u32 header length, JSON header, pad, then 4-byte-aligned blobs."""
    views = [memoryview(np.ascontiguousarray(b).view(np.uint8).reshape(-1).data)
             if isinstance(b, np.ndarray) else memoryview(b).cast("B") for b in blobs]
    offsets, pos = [], 0
    for v in views:
        offsets.append([pos, v.nbytes])
        pos += pad4(v.nbytes)
    head = json.dumps({**header, "blobs": offsets}).encode()
    base = 4 + pad4(len(head))
    buf = bytearray(base + pos)
    struct.pack_into("<I", buf, 0, len(head))
    buf[4:4 + len(head)] = head
    for (off, n), v in zip(offsets, views, strict=True):
        buf[base + off:base + off + n] = v
    return bytes(buf)


def decode(msg: bytes) -> tuple[dict[str, Any], list[memoryview]]:
    """Inverse of :func:`encode`: the header and one read-only view per blob."""
    (hl,) = struct.unpack_from("<I", msg, 0)
    header = json.loads(msg[4:4 + hl])
    base = 4 + pad4(hl)
    mv = memoryview(msg)
    return header, [mv[base + o:base + o + n] for o, n in header.get("blobs", [])]
