"""The ``"browser"`` backend: the ops of :mod:`oasis_lab.gpu.ops` run in headless Chromium.

:class:`BrowserOps` binds the ops to one :class:`~oasis_lab.browser.provider.BrowserProvider`:
each op is :mod:`oasis_lab.gpu.ops`'s own function (same checks, parameters, bindings and
dispatch) run under :func:`oasis_lab.gpu.device.kernel_runner`, so the kernel executes in the
page instead of wgpu-py. The module-level functions (the backend module that
``oasis_lab.gpu.model.backend_module("browser")`` returns) use one shared provider, started on
first use and closed at interpreter exit, as the ``"webgpu"`` backend shares one device.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from oasis_lab.gpu import device as gpu_device
from oasis_lab.gpu import ops as gpu_ops

if TYPE_CHECKING:
    from oasis_lab.browser.provider import BrowserProvider

__all__ = [
    "OP_NAMES",
    "BrowserOps",
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
    "sample",
    "softmax",
]

#: The ops the backend offers (every function of :mod:`oasis_lab.gpu.ops`).
OP_NAMES = ("matmul", "bias_add", "add", "relu", "gelu", "exp", "softmax", "layernorm",
            "attention", "embedding", "sample", "int8_matmul", "int8_matmul_requant")


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


_DEFAULT: list[BrowserProvider] = []
_LOCK = threading.Lock()


def default_provider() -> BrowserProvider:
    """The shared provider of the ``"browser"`` backend (started on first use).

    Raises
    ------
    oasis_lab.gpu.device.GPUUnavailableError
        Chromium or its WebGPU adapter is missing (as for the ``"webgpu"`` backend without an
        adapter; the message says why).
    """
    from oasis_lab.browser.provider import BrowserProvider, BrowserStartupError

    with _LOCK:
        if not _DEFAULT or not _DEFAULT[0].running:
            if _DEFAULT:
                _DEFAULT[0].close()
                _DEFAULT.clear()
            try:
                _DEFAULT.append(BrowserProvider("browser").start())
            except BrowserStartupError as exc:
                raise gpu_device.GPUUnavailableError(f"browser backend: {exc}") from None
        return _DEFAULT[0]


def close_default_provider() -> None:
    """Close the shared provider (a later call starts a fresh one)."""
    with _LOCK:
        for p in _DEFAULT:
            p.close()
        _DEFAULT.clear()


def _module_op(name: str) -> Callable[..., Any]:
    fn = getattr(gpu_ops, name)

    def op(*args: Any, **kwargs: Any) -> Any:
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
