"""Kernel calls in the provider page: the contract of :func:`oasis_lab.gpu.device.run_kernel`
(same WGSL source, bindings and dispatch) carried out by the page's WebGPU.

:class:`PageKernels` turns one ``run_kernel`` call into one ``run`` command: the kernel's source
the first time it runs (per variant), the uniform parameters, and each input either as raw
bytes, as a reference to a weight already on the browser's device (arrays marked
:func:`~oasis_lab.gpu.device.mark_persistent` are uploaded once), or as a reference to an
earlier output kept on the device (:class:`NodeRequest.resident`).

Resident outputs (model runs that want digests only): the output stays in a page buffer and
only its digest comes back; Python gets a placeholder array of the output's size, zero except
the first non-finite entry and the first negative entry, which hold their true values (the page
reports them). The ops' argument checks that read values (``check_array``'s finiteness,
``sample``'s non-negative probabilities) therefore raise exactly as on the real output, and a
later kernel that receives the placeholder binds the page buffer instead. Only ops that pass
their inputs to the kernel unchanged may consume a placeholder
(:data:`RESIDENT_CONSUMERS`); the model executor in :mod:`oasis_lab.browser.backend` decides.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from oasis_lab.browser.variants import VARIANTS
from oasis_lab.browser.wire import pad4
from oasis_lab.gpu import device as gpu_device

__all__ = ["RESIDENT_CONSUMERS", "RESIDENT_PRODUCERS", "NodeRequest", "PageKernels"]

#: Ops whose :mod:`oasis_lab.gpu.ops` function returns a view of the kernel's output buffer
#: (so the output may stay on the browser's device as a placeholder).
RESIDENT_PRODUCERS = frozenset({"matmul", "bias_add", "add", "relu", "gelu", "exp", "softmax",
                                "layernorm", "attention", "embedding", "sample"})
#: Ops whose function reads its float inputs' values only through ``check_array`` (finiteness)
#: or ``sample``'s sign check, and binds them to the kernel unchanged (so a placeholder works).
RESIDENT_CONSUMERS = frozenset({"matmul", "bias_add", "add", "relu", "gelu", "exp", "softmax",
                                "layernorm", "attention", "sample"})


@dataclass
class NodeRequest:
    """What the model executor asks of the next kernel call (one node = one kernel).

    Attributes
    ----------
    digest_prefix : str
        ``dtype.str + str(shape)`` of the node's output, hashed before its bytes (as
        :func:`oasis_lab.gpu.model.array_digest`).
    cast_int8 : bool
        The kernel writes int32 that the op casts to int8: hash it as int8.
    perturb : dict, optional
        ``{"ulps", "element"}``: the cheating page adds ``ulps`` to that element's bits.
    resident : bool
        Keep the output on the device; return its digest and a placeholder only.
    """

    digest_prefix: str
    cast_int8: bool = False
    perturb: dict[str, int] | None = None
    resident: bool = False


def _root(arr: np.ndarray) -> np.ndarray:
    """The array that owns ``arr``'s memory (following views)."""
    while isinstance(arr.base, np.ndarray):
        arr = arr.base
    return arr


class PageKernels:
    """The kernel side of one provider: compiled kernels, weights kept on the device, resident
    outputs, and the per-call bookkeeping (:attr:`last_ms`, :attr:`last_digest`).

    Parameters
    ----------
    call : callable
        ``call(header, blobs) -> (reply header, reply blobs)``: the provider's transport.
    limits : dict
        The page's WebGPU limits.
    storage_cap : int
        Largest storage binding allowed (the smaller of the browser's and the referee's).
    variant : str
        The provider's fixed kernel variant (``""``: whatever is in force).
    """

    def __init__(self, call: Callable[..., tuple[dict[str, Any], list[memoryview]]],
                 limits: dict[str, int], storage_cap: int, variant: str) -> None:
        self._call = call
        self.limits = limits
        self.storage_cap = storage_cap
        self.variant = variant
        self._compiled: set[str] = set()
        self._kept: dict[int, weakref.ref] = {}
        self._to_free: list[int] = []
        self._resident: dict[int, tuple[int, weakref.ref]] = {}
        self._next_key = 1
        #: Dispatches per run (in-page timing, :mod:`oasis_lab.browser.bench`).
        self.repeat = 1
        #: Set by the model executor before each node's kernel call (``None``: a bare op call).
        self.node: NodeRequest | None = None
        self.last_digest: str | None = None
        self.last_ms = float("nan")

    # ------------------------------------------------------------------ weights
    def _drop(self, key: int) -> None:
        if self._kept.pop(key, None) is not None:
            self._to_free.append(key)

    def _resident_key(self, arr: np.ndarray) -> int | None:
        root = _root(arr)
        hit = self._resident.get(id(root))
        if hit is None or hit[1]() is not root:
            return None
        start = arr.__array_interface__["data"][0]
        if start != root.__array_interface__["data"][0] or arr.nbytes != root.nbytes:
            raise RuntimeError("a device-resident output was sliced on the host: only whole "
                               "outputs can be bound (a bug in the model executor)")
        return hit[0]

    def release_resident(self) -> int:
        """Free every resident output in the page; returns how many there were."""
        n = len(self._resident)
        self._resident.clear()
        if n:
            self._call({"op": "release"})
        return n

    # ------------------------------------------------------------------ one kernel call
    def run(
        self,
        name: str,
        params: np.ndarray,
        inputs: Sequence[tuple[str, np.ndarray]],
        out_nbytes: int,
        workgroups: tuple[int, int, int],
        *,
        entry: str = "main",
        constants: dict[str, float] | None = None,
        repeat: int | None = None,
        digest: str | None = None,
    ) -> np.ndarray:
        """One compute pass in the page; returns the output bytes as a writable ``uint8`` array
        (a placeholder when the current :attr:`node` asks for a resident output)."""
        max_groups = self.limits.get("maxComputeWorkgroupsPerDimension", 65535)
        if any(g > max_groups for g in workgroups):
            raise ValueError(f"{name} would dispatch {workgroups} workgroups, over the limit of "
                             f"{max_groups} per dimension: split the input")
        cap = self.storage_cap
        if pad4(out_nbytes) > cap:
            raise ValueError(f"the output needs {out_nbytes / 2**20:.1f} MiB, over the storage-"
                             f"binding limit of {cap / 2**20:.0f} MiB (browser and referee)")
        variant = self.variant or gpu_device.current_variant()
        skey = f"{name}|{variant}"
        header: dict[str, Any] = {
            "op": "run", "kernel": name, "variant": variant, "entry": entry,
            "constants": dict(constants or {}), "out_nbytes": int(out_nbytes),
            "groups": [int(g) for g in workgroups], "params": 0,
            "repeat": int(self.repeat if repeat is None else repeat),
        }
        if skey not in self._compiled:
            if self.variant:
                header["source"] = VARIANTS[self.variant](name, gpu_device.kernel_source(name))
            else:
                header["source"] = gpu_device.variant_source(name)
        ubytes = np.zeros(-(-max(params.nbytes, 16) // 16) * 4, dtype=np.uint32)
        ubytes.view(np.uint8)[:params.nbytes] = params.view(np.uint8).reshape(-1)
        blobs: list[Any] = [ubytes]
        specs = []
        for arg, arr in inputs:
            arr = np.ascontiguousarray(arr)
            bind = max(4, pad4(arr.nbytes))
            if bind > cap:
                raise ValueError(f"{arg} needs {arr.nbytes / 2**20:.1f} MiB, over the storage-"
                                 f"binding limit of {cap / 2**20:.0f} MiB (browser and referee)")
            spec: dict[str, Any] = {"bind": bind}
            res = self._resident_key(arr) if self._resident else None
            if res is not None:
                spec["res"] = res
            elif gpu_device.is_persistent(arr):
                key = id(arr)
                ref = self._kept.get(key)
                if ref is not None and ref() is arr:
                    spec["ref"] = key
                else:
                    spec.update(blob=len(blobs), keep=key)
                    blobs.append(arr)
                    self._kept[key] = weakref.ref(arr)
                    weakref.finalize(arr, self._drop, key)
            else:
                spec["blob"] = len(blobs)
                blobs.append(arr)
            specs.append(spec)
        header["inputs"] = specs
        if self._to_free:
            header["free"], self._to_free = self._to_free, []
        node = self.node
        resident_key = None
        if digest is None and node is not None:
            digest = node.digest_prefix
            if node.cast_int8:
                header["cast"] = "i1"  # requantized int8 travels as int32; hash it as int8
        if digest is not None:
            header["digest"] = digest
        if node is not None and node.perturb is not None:
            header["perturb_now"] = node.perturb
        if node is not None and node.resident:
            resident_key = self._next_key
            self._next_key += 1
            header.update(keep_out=resident_key, want="digest")
            if node.digest_prefix.startswith("<f4"):  # report the entries the checks read
                header["scan"] = True
        reply, out = self._call(header, blobs)
        self._compiled.add(skey)
        self.last_ms = float(reply.get("ms", float("nan")))
        self.last_digest = reply.get("digest")
        if resident_key is None:
            return np.frombuffer(bytearray(out[0]) if out else bytearray(), dtype=np.uint8)
        placeholder = np.zeros(out_nbytes, dtype=np.uint8)
        words = placeholder[: out_nbytes // 4 * 4].view(np.uint32)
        for field in ("first_nonfinite", "first_negative"):  # [index, bits] of float32 entries
            if reply.get(field) is not None:
                i, bits = reply[field]
                words[int(i)] = np.uint32(int(bits))
        self._resident[id(placeholder)] = (resident_key, weakref.ref(placeholder))
        return placeholder
