"""One WebGPU adapter and device per process, a pipeline cache and reusable buffers.

Whitepaper section 2: providers run inference through WebGPU. Here WebGPU is reached through
wgpu-py (wgpu-native); on a machine without a GPU the Mesa lavapipe Vulkan driver provides a CPU
adapter. Creating a device costs about a second, so it is created once, lazily, and shared;
compiled pipelines are cached by (kernel, entry point, specialization constants), so a warm call
costs a submit and a read-back (well under a millisecond), never a recompilation.

Nothing here leaks past :mod:`oasis_lab.gpu`: callers of :mod:`oasis_lab.gpu.ops` pass and get
numpy arrays.

Readings taken
--------------
- The adapter is taken as wgpu returns it ("high-performance" preference). wgpu silently falls
  back to an OpenGL adapter when no Vulkan driver exists: :func:`get_device` then warns
  (:data:`OPENGL_FALLBACK_WARNING`: the bits were measured on Vulkan lavapipe, and the usual cause
  is a missing driver package), and :func:`adapter_info` reports the backend so the determinism
  report can say which engine produced the bits. The WebGPU tests fail on such an adapter in CI.
- When no adapter exists at all, :func:`get_device` raises :class:`GPUUnavailableError` saying
  how to install one; the ``"numpy"`` backend keeps working.
- Other engines plug in below the ops: inside ``with kernel_runner(runner):`` every
  :func:`run_kernel` call (same kernel, parameters, bindings and dispatch) goes to ``runner``
  instead of wgpu. :mod:`oasis_lab.browser` runs the kernels in headless Chromium this way.
- ``with kernel_variant(name, transform):`` compiles ``transform(kernel_source(kernel))``
  instead of the shipped source (a different kernel variant, as heterogeneous hardware or a
  vendor library would run); pipelines are cached per variant.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import tempfile
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from oasis_lab import paths

__all__ = [
    "KERNELS_DIR",
    "OPENGL_FALLBACK_WARNING",
    "GPUUnavailableError",
    "KernelRunner",
    "adapter_info",
    "current_variant",
    "ensure_runtime_dir",
    "get_device",
    "is_available",
    "is_persistent",
    "kernel_runner",
    "kernel_source",
    "kernel_variant",
    "mark_persistent",
    "pipeline_cache_size",
    "run_kernel",
    "storage_limit",
    "unavailable_reason",
    "variant_source",
]

KERNELS_DIR = paths.KERNELS_DIR

_INSTALL_HINT = (
    "no WebGPU adapter found. On Debian/Ubuntu install the Mesa Vulkan CPU driver: "
    "`apt-get install -y mesa-vulkan-drivers libvulkan1` (lavapipe), or use a machine with a "
    "Vulkan/Metal/D3D12 GPU driver. The numpy backend (backend='numpy') works without one."
)


OPENGL_FALLBACK_WARNING = (
    "wgpu fell back to an OpenGL adapter ({device}): no Vulkan driver was found. The kernels' "
    "bits were measured on Vulkan (lavapipe); install `mesa-vulkan-drivers libvulkan1` (or a GPU "
    "driver) to run on it."
)


class GPUUnavailableError(RuntimeError):
    """No WebGPU adapter/device could be created (the message says how to install one)."""


@dataclass
class _State:
    device: Any = None
    adapter: Any = None
    error: str | None = None


_STATE = _State()
_LOCK = threading.Lock()
_PIPELINES: dict[tuple, Any] = {}
_SHADERS: dict[str, Any] = {}
_POOL: dict[tuple[int, int], list[Any]] = {}
_POOL_BYTES = 0
_POOL_CAP = 256 * 2**20
_UPLOADED: dict[int, tuple[Any, Any]] = {}
_PERSISTENT: dict[int, Any] = {}
# Bind groups by (pipeline, buffers and sizes bound): repeated calls of one op on one shape get
# the same pooled buffers back, so their bind group is made once. Keys hold the objects, so an
# id is never reused while its entry lives; destroyed buffers never come back from the pool, so
# their entries are never hit again (the cache is emptied when it grows past the cap).
_BIND_GROUPS: dict[tuple, tuple[Any, tuple[Any, ...]]] = {}
_BIND_GROUPS_CAP = 512

#: ``runner(name, params, inputs, out_nbytes, workgroups, *, entry, constants) -> bytes`` (or a
#: writable ``uint8`` array of the output bytes)
KernelRunner = Callable[..., np.ndarray | bytes]
_RUNNER: contextvars.ContextVar[KernelRunner | None] = contextvars.ContextVar(
    "oasis_kernel_runner", default=None
)
_VARIANT: contextvars.ContextVar[tuple[str, Callable[[str, str], str]] | None] = (
    contextvars.ContextVar("oasis_kernel_variant", default=None)
)


@contextlib.contextmanager
def kernel_runner(runner: KernelRunner) -> Iterator[None]:
    """Send every :func:`run_kernel` call in this context to ``runner`` (another engine)."""
    token = _RUNNER.set(runner)
    try:
        yield
    finally:
        _RUNNER.reset(token)


@contextlib.contextmanager
def kernel_variant(name: str, transform: Callable[[str, str], str]) -> Iterator[None]:
    """Compile ``transform(kernel, source)`` instead of each kernel's shipped source here.

    ``name`` labels the variant (pipelines are cached per variant name).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"variant name = {name!r} must be a non-empty string")
    token = _VARIANT.set((name, transform))
    try:
        yield
    finally:
        _VARIANT.reset(token)


def current_variant() -> str:
    """Name of the kernel variant in force (``""`` for the shipped kernels)."""
    v = _VARIANT.get()
    return "" if v is None else v[0]


def variant_source(name: str) -> str:
    """The WGSL that runs for kernel ``name`` here: :func:`kernel_source`, transformed by the
    variant in force."""
    src = kernel_source(name)
    v = _VARIANT.get()
    return src if v is None else v[1](name, src)


def ensure_runtime_dir() -> None:
    """Point ``XDG_RUNTIME_DIR`` at a private 0700 folder when unset (the Vulkan loader wants one)."""
    if not os.environ.get("XDG_RUNTIME_DIR"):
        os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="oasis-xdg-")  # mode 0700


def get_device() -> Any:
    """The process-wide ``wgpu.GPUDevice``, created on first use.

    Raises
    ------
    GPUUnavailableError
        No adapter (the message says how to install lavapipe); the failure is remembered so
        later calls fail fast.
    """
    if _STATE.device is not None:
        return _STATE.device
    with _LOCK:
        if _STATE.device is not None:
            return _STATE.device
        if _STATE.error is not None:
            raise GPUUnavailableError(_STATE.error)
        ensure_runtime_dir()
        try:
            import wgpu

            adapter = wgpu.gpu.request_adapter_sync(power_preference="high-performance")
            if adapter is None:
                raise RuntimeError("request_adapter returned None")
            limits = {
                "max-storage-buffer-binding-size": adapter.limits["max-storage-buffer-binding-size"],
                "max-buffer-size": adapter.limits["max-buffer-size"],
            }
            device = adapter.request_device_sync(required_limits=limits)
        except Exception as exc:  # wgpu raises several types; all mean "no usable adapter"
            _STATE.error = f"{_INSTALL_HINT} (wgpu said: {exc})"
            raise GPUUnavailableError(_STATE.error) from None
        _STATE.adapter, _STATE.device = adapter, device
        info = adapter.info
        if info.get("backend_type") == "OpenGL":  # wgpu's silent fallback when Vulkan is missing
            warnings.warn(OPENGL_FALLBACK_WARNING.format(device=info.get("device", "?")),
                          RuntimeWarning, stacklevel=2)
        return device


def is_available() -> bool:
    """Whether a WebGPU device can be created (creates it on first call)."""
    try:
        get_device()
    except GPUUnavailableError:
        return False
    return True


def unavailable_reason() -> str | None:
    """Why no device could be created, or ``None`` when one exists."""
    return None if is_available() else _STATE.error


def adapter_info() -> dict[str, Any]:
    """Adapter facts: device name, vendor, adapter type (CPU/GPU), backend, driver, key limits."""
    get_device()
    info = dict(_STATE.adapter.info)
    limits = _STATE.device.limits
    return {
        "device": info.get("device", ""),
        "vendor": info.get("vendor", ""),
        "adapter_type": info.get("adapter_type", ""),
        "backend_type": info.get("backend_type", ""),
        "description": info.get("description", ""),
        "max_storage_binding_mb": limits["max-storage-buffer-binding-size"] / 2**20,
        "max_workgroup_invocations": limits["max-compute-invocations-per-workgroup"],
        "max_workgroup_storage_kb": limits["max-compute-workgroup-storage-size"] / 1024,
        "shader_f16": "shader-f16" in _STATE.adapter.features,
    }


def storage_limit() -> int:
    """Largest storage-buffer binding in bytes on this device."""
    return int(get_device().limits["max-storage-buffer-binding-size"])


_REQUIRES = re.compile(r"^//\s*requires:\s*(.+)$", re.MULTILINE)


def kernel_source(name: str) -> str:
    """WGSL source of ``kernels/<name>.wgsl`` with the libraries its ``// requires:`` line names
    prepended (WGSL has no include)."""
    path = KERNELS_DIR / f"{name}.wgsl"
    if not path.exists():
        raise ValueError(f"kernel {name!r} not found in {str(KERNELS_DIR)!r}")
    src = path.read_text()
    libs = []
    for match in _REQUIRES.finditer(src):
        libs += [kernel_source(lib.strip()) for lib in match.group(1).split(",")]
    return "\n".join(libs + [src])


def _pipeline(name: str, entry: str, constants: tuple[tuple[str, float], ...]) -> Any:
    variant = current_variant()
    key = (name, entry, constants, variant)
    pipe = _PIPELINES.get(key)
    if pipe is None:
        device = get_device()
        module = _SHADERS.get(name + "|" + variant)
        if module is None:
            module = device.create_shader_module(code=variant_source(name), label=name)
            _SHADERS[name + "|" + variant] = module
        compute: dict[str, Any] = {"module": module, "entry_point": entry}
        if constants:
            compute["constants"] = dict(constants)
        pipe = device.create_compute_pipeline(layout="auto", compute=compute, label=name)
        _PIPELINES[key] = pipe
    return pipe


def pipeline_cache_size() -> int:
    """Number of compiled pipelines held (grows only with new kernels or constants)."""
    return len(_PIPELINES)


def _take(size: int, usage: int) -> Any:
    """A pooled buffer of at least ``size`` bytes (sizes rounded up to a power of two, but never
    past the device's largest buffer: ``size`` may be allowed while its power of two is not)."""
    global _POOL_BYTES
    cap = max(256, 1 << (max(size, 1) - 1).bit_length())
    cap = max(size, min(cap, int(get_device().limits["max-buffer-size"])))
    stack = _POOL.get((cap, usage))
    if stack:
        _POOL_BYTES -= cap
        return stack.pop()
    return get_device().create_buffer(size=cap, usage=usage)


def _give(buf: Any, usage: int) -> None:
    global _POOL_BYTES
    if _POOL_BYTES + buf.size > _POOL_CAP:
        buf.destroy()
        return
    _POOL.setdefault((buf.size, usage), []).append(buf)
    _POOL_BYTES += buf.size


def _forget_upload(key: int) -> None:
    entry = _UPLOADED.pop(key, None)
    if entry is not None:
        entry[0].destroy()


def mark_persistent(arr: np.ndarray) -> None:
    """Let ``arr`` (a read-only array that owns its data, e.g. a model weight) be uploaded once
    and kept on the device for as long as the array lives."""
    if arr.flags.writeable or arr.base is not None:
        raise ValueError("only read-only arrays that own their data can stay on the device")
    _PERSISTENT[id(arr)] = weakref.ref(arr)
    weakref.finalize(arr, _PERSISTENT.pop, id(arr), None)


def is_persistent(arr: np.ndarray) -> bool:
    """Whether ``arr`` was marked with :func:`mark_persistent` (and is still that array)."""
    ref = _PERSISTENT.get(id(arr))
    return ref is not None and ref() is arr


def _input_buffer(arr: np.ndarray, name: str, pooled: list[Any]) -> tuple[Any, int]:
    """Upload ``arr``; arrays marked persistent (model weights) are uploaded once."""
    import wgpu

    nbytes = arr.nbytes
    bind = max(4, -(-nbytes // 4) * 4)  # bindings are whole 4-byte words
    limit = storage_limit()
    if bind > limit:
        raise ValueError(
            f"{name} needs {nbytes / 2**20:.1f} MiB, over this device's storage-binding limit "
            f"of {limit / 2**20:.0f} MiB"
        )
    device = get_device()
    ref = _PERSISTENT.get(id(arr))
    cacheable = ref is not None and ref() is arr
    if cacheable:
        hit = _UPLOADED.get(id(arr))
        if hit is not None and hit[1]() is arr:
            return hit[0], bind
        buf = device.create_buffer(size=bind, usage=wgpu.BufferUsage.STORAGE | wgpu.BufferUsage.COPY_DST)
        if nbytes:
            device.queue.write_buffer(buf, 0, arr)
        _UPLOADED[id(arr)] = (buf, weakref.ref(arr))
        weakref.finalize(arr, _forget_upload, id(arr))
        return buf, bind
    usage = wgpu.BufferUsage.STORAGE | wgpu.BufferUsage.COPY_DST
    buf = _take(bind, usage)
    pooled.append((buf, usage))
    if nbytes:
        data = arr if nbytes % 4 == 0 else np.concatenate(
            [arr.reshape(-1).view(np.uint8), np.zeros(bind - nbytes, np.uint8)]
        )
        device.queue.write_buffer(buf, 0, data)
    return buf, bind


def _bind_group(device: Any, pipe: Any, entries: list[dict[str, Any]]) -> Any:
    """The bind group of ``entries`` for ``pipe``, made once per set of buffers."""
    bound = tuple(e["resource"]["buffer"] for e in entries)
    key = (id(pipe), *((id(b), e["resource"]["size"]) for b, e in zip(bound, entries, strict=True)))
    hit = _BIND_GROUPS.get(key)
    if hit is not None:
        return hit[0]
    if len(_BIND_GROUPS) >= _BIND_GROUPS_CAP:
        _BIND_GROUPS.clear()
    group = device.create_bind_group(layout=pipe.get_bind_group_layout(0), entries=entries)
    _BIND_GROUPS[key] = (group, (pipe, *bound))
    return group


def run_kernel(
    name: str,
    params: np.ndarray,
    inputs: list[tuple[str, np.ndarray]],
    out_nbytes: int,
    workgroups: tuple[int, int, int],
    *,
    entry: str = "main",
    constants: dict[str, float] | None = None,
) -> np.ndarray | bytes:
    """Run one compute pass of ``kernels/<name>.wgsl`` and return the output buffer's bytes.

    On wgpu-py the bytes come back as a fresh writable ``uint8`` array (one host copy, from
    the mapped read-back buffer); a :func:`kernel_runner` may return ``bytes``.

    Binding convention of every kernel: ``@binding(0)`` a uniform ``Params`` struct
    (``params``, 4-byte fields), ``@binding(1..n)`` the read-only ``inputs`` in order,
    ``@binding(n+1)`` the read-write output of ``out_nbytes`` bytes.

    Raises
    ------
    ValueError
        A buffer over the device's storage-binding limit, or a dispatch over the per-dimension
        workgroup limit (the message names the argument).
    GPUUnavailableError
        No adapter.
    """
    runner = _RUNNER.get()
    if runner is not None:
        return runner(name, params, inputs, out_nbytes, workgroups, entry=entry,
                      constants=constants)
    import wgpu

    device = get_device()
    limit = storage_limit()
    if -(-out_nbytes // 4) * 4 > limit:
        raise ValueError(
            f"the output needs {out_nbytes / 2**20:.1f} MiB, over this device's storage-binding "
            f"limit of {limit / 2**20:.0f} MiB"
        )
    max_groups = device.limits["max-compute-workgroups-per-dimension"]
    if any(g > max_groups for g in workgroups):
        raise ValueError(
            f"{name} would dispatch {workgroups} workgroups, over the limit of {max_groups} per "
            "dimension: split the input"
        )
    pipe = _pipeline(name, entry, tuple(sorted((constants or {}).items())))
    pooled: list[tuple[Any, int]] = []
    try:
        ubytes = np.zeros(-(-max(params.nbytes, 16) // 16) * 4, dtype=np.uint32)
        ubytes.view(np.uint8)[: params.nbytes] = params.view(np.uint8).reshape(-1)
        u_usage = wgpu.BufferUsage.UNIFORM | wgpu.BufferUsage.COPY_DST
        ubuf = _take(ubytes.nbytes, u_usage)
        pooled.append((ubuf, u_usage))
        device.queue.write_buffer(ubuf, 0, ubytes)
        entries = [{"binding": 0, "resource": {"buffer": ubuf, "offset": 0, "size": ubytes.nbytes}}]
        for i, (arg, arr) in enumerate(inputs, start=1):
            buf, bind = _input_buffer(np.ascontiguousarray(arr), arg, pooled)
            entries.append({"binding": i, "resource": {"buffer": buf, "offset": 0, "size": bind}})
        o_usage = wgpu.BufferUsage.STORAGE | wgpu.BufferUsage.COPY_SRC
        obind = max(4, -(-out_nbytes // 4) * 4)
        obuf = _take(obind, o_usage)
        pooled.append((obuf, o_usage))
        entries.append(
            {"binding": len(inputs) + 1, "resource": {"buffer": obuf, "offset": 0, "size": obind}}
        )
        group = _bind_group(device, pipe, entries)
        encoder = device.create_command_encoder()
        cpass = encoder.begin_compute_pass()
        cpass.set_pipeline(pipe)
        cpass.set_bind_group(0, group)
        cpass.dispatch_workgroups(*workgroups)
        cpass.end()
        # The read-back copy rides in the same submission into a pooled mappable buffer, and the
        # mapped bytes are copied once, straight into the returned array (queue.read_buffer
        # would submit again, allocate a staging buffer, and copy twice more on the host).
        r_usage = wgpu.BufferUsage.MAP_READ | wgpu.BufferUsage.COPY_DST
        rbuf = _take(obind, r_usage)
        pooled.append((rbuf, r_usage))
        encoder.copy_buffer_to_buffer(obuf, 0, rbuf, 0, obind)
        device.queue.submit([encoder.finish()])
        rbuf.map_sync(wgpu.MapMode.READ, 0, obind)
        try:
            mapped = rbuf.read_mapped(0, obind, copy=False)
            out = np.frombuffer(mapped, dtype=np.uint8, count=out_nbytes).copy()
        finally:
            rbuf.unmap()
        return out
    finally:
        for buf, usage in pooled:
            _give(buf, usage)
