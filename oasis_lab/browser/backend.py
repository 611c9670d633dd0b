"""Model execution in headless Chromium: the ops of :mod:`oasis_lab.gpu.ops` run in a provider's
page, and the ``"browser"`` backend of :mod:`oasis_lab.gpu.backends`.

:class:`BrowserOps` binds the ops to one :class:`~oasis_lab.browser.provider.BrowserProvider`:
each op is :mod:`oasis_lab.gpu.ops`'s own function (same checks, parameters, bindings and
dispatch) run under :func:`oasis_lab.gpu.device.kernel_runner`, so the kernel executes in the
page instead of wgpu-py.

:class:`ProviderBackend` is a provider's :class:`~oasis_lab.gpu.backends.Backend`: the provider
runs models through :func:`oasis_lab.gpu.model.run` with it (``provider.run``), which hashes
every node's output in the page, applies a cheating provider's perturbation to one node, and
with ``keep="digests"`` keeps float outputs on the browser's device instead of sending them
back (:mod:`oasis_lab.browser.kernels`).

Importing this package registers ``"browser"``: one shared provider, started on first use and
closed at interpreter exit (:func:`default_provider`), as the ``"webgpu"`` backend shares one
device. When the shared provider dies (its GPU process, renderer or a zygote killed), the next
call starts a new one once, with a :class:`RuntimeWarning` saying why; a second death is an
error.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from oasis_lab.browser.errors import BrowserCrashedError, BrowserStartupError
from oasis_lab.browser.kernels import RESIDENT_CONSUMERS, RESIDENT_PRODUCERS, NodeRequest
from oasis_lab.gpu import backends
from oasis_lab.gpu import device as gpu_device
from oasis_lab.gpu import ops as gpu_ops
from oasis_lab.gpu.model import Model, node_shapes

if TYPE_CHECKING:
    from oasis_lab.browser.provider import BrowserProvider

__all__ = [
    "MAX_RESTARTS",
    "OP_NAMES",
    "BrowserOps",
    "ProviderBackend",
    "SharedBrowserBackend",
    "add",
    "attention",
    "bias_add",
    "close_default_provider",
    "default_provider",
    "embedding",
    "exp",
    "gelu",
    "int8_matmul",
    "int8_matmul_requant",
    "layernorm",
    "matmul",
    "relu",
    "residency",
    "sample",
    "softmax",
]

#: The ops the backend offers (every function of :mod:`oasis_lab.gpu.ops`).
OP_NAMES = ("matmul", "bias_add", "add", "relu", "gelu", "exp", "softmax", "layernorm",
            "attention", "embedding", "sample", "int8_matmul", "int8_matmul_requant")
#: Output dtype (numpy ``dtype.str``) of each op's node, for the digests computed in the page.
NODE_DTYPES = {"sample": "<i4", "int8_matmul": "<i4", "int8_matmul_requant": "|i1"}
#: Restarts of the shared provider after it died (then its death is an error).
MAX_RESTARTS = 1


def _bind(provider: BrowserProvider, name: str) -> Callable[..., Any]:
    fn = getattr(gpu_ops, name)

    def op(*args: Any, **kwargs: Any) -> Any:
        provider.start()
        with gpu_device.kernel_runner(provider.run_kernel):
            return fn(*args, **kwargs)

    op.__name__ = name
    op.__doc__ = f"{fn.__doc__}\n\n(Run in the browser provider's page.)"
    return op


class BrowserOps:
    """The ops of :mod:`oasis_lab.gpu.ops`, run in ``provider``'s page (same names, signatures,
    checks and bits)."""

    def __init__(self, provider: BrowserProvider) -> None:
        for name in OP_NAMES:
            setattr(self, name, _bind(provider, name))
        self.MATMUL_KERNELS = gpu_ops.MATMUL_KERNELS
        self.LOOP_PASS_BUDGET = gpu_ops.LOOP_PASS_BUDGET

    def __getattr__(self, name: str) -> Any:  # typed access for mypy; real ops are set above
        raise AttributeError(f"the browser backend has no op {name!r}; ops: {OP_NAMES}")


def residency(model: Model) -> tuple[bool, ...]:
    """Which nodes' outputs may stay on the browser's device in a digests-only run: the op
    returns a view of its kernel's output, and every node that reads it passes it to its
    kernel unchanged (:data:`~oasis_lab.browser.kernels.RESIDENT_CONSUMERS`)."""
    consumers: dict[str, list[str]] = {n.name: [] for n in model.nodes}
    for n in model.nodes:
        for src in n.inputs:
            if src in consumers:
                consumers[src].append(n.op)
    return tuple(n.op in RESIDENT_PRODUCERS and all(op in RESIDENT_CONSUMERS for op in consumers[n.name])
                 for n in model.nodes)


class ProviderBackend(backends.Backend):
    """A :class:`~oasis_lab.browser.provider.BrowserProvider` as a backend of
    :func:`oasis_lab.gpu.model.run` (traces say ``backend="browser"``).

    Parameters
    ----------
    provider : BrowserProvider
    cheat : (int, int), optional
        ``(node index, ulps)``: the page adds ``ulps`` to the bits of element 0 of that node's
        output before anything reads it (a cheating provider; later nodes compute on it).
    """

    name = "browser"

    def __init__(self, provider: BrowserProvider, cheat: tuple[int, int] | None = None) -> None:
        self.provider = provider
        self.cheat = cheat
        self._shapes: list[tuple[int, ...]] = []
        self._resident: tuple[bool, ...] = ()
        self._digests: list[str | None] = []

    def ops(self) -> BrowserOps:
        return self.provider.ops

    def engine(self) -> str:
        self.provider.start()
        return f"Chromium WebGPU {self.provider.adapter_summary()}"

    def prepare(self, model: Model, inputs: Mapping[str, np.ndarray], digests_only: bool) -> None:
        self.provider.start()
        self._shapes = node_shapes(model, inputs)
        self._resident = residency(model) if digests_only else (False,) * len(model.nodes)
        self._digests = []

    @contextlib.contextmanager
    def node(self, model: Model, index: int, digests_only: bool) -> Iterator[backends.NodeRecord]:
        op = model.nodes[index].op
        dtype = NODE_DTYPES.get(op, "<f4")
        perturb = None
        if self.cheat is not None and self.cheat[0] == index:
            perturb = {"ulps": int(self.cheat[1]), "element": 0}
        kernels = self.provider.kernels
        kernels.node = NodeRequest(f"{dtype}{tuple(self._shapes[index])}", dtype == "|i1", perturb,
                                   self._resident[index])
        kernels.last_digest = None
        record = backends.NodeRecord()
        try:
            yield record
        finally:
            kernels.node = None
        record.digest = kernels.last_digest
        self._digests.append(kernels.last_digest)

    def finish(self, model: Model) -> None:
        self.provider.last_page_digests = tuple(self._digests)
        if self.provider.running:
            self.provider.kernels.release_resident()


# ============================================================================ the shared backend
_DEFAULT: list[BrowserProvider] = []
_RESTARTS = [0]
_LOCK = threading.Lock()


def default_provider() -> BrowserProvider:
    """The shared provider of the ``"browser"`` backend (started on first use; restarted once,
    with a warning, after it died).

    Raises
    ------
    oasis_lab.gpu.device.GPUUnavailableError
        Chromium or its WebGPU adapter is missing (as for the ``"webgpu"`` backend without an
        adapter; the message says why).
    BrowserCrashedError
        The shared provider died again after its restart.
    """
    from oasis_lab.browser.provider import BrowserProvider

    with _LOCK:
        if _DEFAULT and _DEFAULT[0].running:
            return _DEFAULT[0]
        if _DEFAULT:
            old = _DEFAULT.pop()
            reason = old.failure
            old.close()
            if reason is not None:  # it died (not closed on purpose)
                if _RESTARTS[0] >= MAX_RESTARTS:
                    raise BrowserCrashedError(
                        f"browser backend: the shared provider died again ({reason}) after "
                        f"{MAX_RESTARTS} restart; close_default_provider() lets it start afresh")
                _RESTARTS[0] += 1
                warnings.warn(f"browser backend: the shared provider died ({reason}); starting a "
                              f"new one (restart {_RESTARTS[0]} of {MAX_RESTARTS})",
                              RuntimeWarning, stacklevel=3)
        try:
            _DEFAULT.append(BrowserProvider("browser").start())
        except BrowserStartupError as exc:
            raise gpu_device.GPUUnavailableError(f"browser backend: {exc}") from None
        return _DEFAULT[0]


def close_default_provider() -> None:
    """Close the shared provider (a later call starts a fresh one, with its restart back)."""
    with _LOCK:
        for p in _DEFAULT:
            p.close()
        _DEFAULT.clear()
        _RESTARTS[0] = 0


def _module_op(name: str) -> Callable[..., Any]:
    fn = getattr(gpu_ops, name)

    def op(*args: Any, **kwargs: Any) -> Any:
        provider = default_provider()
        try:
            return getattr(provider.ops, name)(*args, **kwargs)
        except BrowserCrashedError:
            if provider.failure is None:
                raise
            # the provider died under this call: default_provider restarts it once (or raises)
            return getattr(default_provider().ops, name)(*args, **kwargs)

    op.__name__ = name
    op.__doc__ = f"{fn.__doc__}\n\n(Run in the shared browser provider, :func:`default_provider`.)"
    return op


matmul = _module_op("matmul")
bias_add = _module_op("bias_add")
add = _module_op("add")
relu = _module_op("relu")
gelu = _module_op("gelu")
exp = _module_op("exp")
softmax = _module_op("softmax")
layernorm = _module_op("layernorm")
attention = _module_op("attention")
embedding = _module_op("embedding")
sample = _module_op("sample")
int8_matmul = _module_op("int8_matmul")
int8_matmul_requant = _module_op("int8_matmul_requant")


class SharedBrowserBackend(backends.Backend):
    """The registered ``"browser"`` backend: this module's ops on :func:`default_provider`."""

    name = "browser"

    def ops(self) -> Any:
        return sys.modules[__name__]

    def engine(self) -> str:
        return f"Chromium WebGPU {default_provider().adapter_summary()}"


backends.register(SharedBrowserBackend())
