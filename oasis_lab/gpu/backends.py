"""The engines a model can run on: a registry of backends by name (whitepaper sections 2, 5).

A :class:`Backend` is an engine that runs the ops of :mod:`oasis_lab.gpu.ops` (same names,
signatures and bits): the numpy twins (``"numpy"``, :mod:`oasis_lab.gpu.reference`), the WGSL
kernels through wgpu-py (``"webgpu"``, :mod:`oasis_lab.gpu.ops`), or any engine a later layer
registers with :func:`register` (headless Chromium registers ``"browser"`` when its package is
imported). :func:`oasis_lab.gpu.model.run` takes a registered name or a :class:`Backend` object
(a browser provider passes its own), so this layer never imports the engines below it.

Hooks a backend may override, around :func:`oasis_lab.gpu.model.run`:

- :meth:`Backend.prepare` before the first node (start a browser, check the inputs),
- :meth:`Backend.node` around each node's op; the :class:`NodeRecord` it yields may carry the
  node's digest computed by the engine (a browser hashes its outputs in the page),
- :meth:`Backend.finish` after the last node, also when a node fails (free engine buffers).

Examples
--------
>>> names()[:2]
('numpy', 'webgpu')
>>> get("numpy").ops().__name__
'oasis_lab.gpu.reference'
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from oasis_lab.gpu.model import Model

__all__ = ["Backend", "ModuleBackend", "NodeRecord", "get", "names", "register", "unregister"]


@dataclass
class NodeRecord:
    """What a backend reports about one node it ran: the node's digest when the engine computed
    it (``None``: :func:`oasis_lab.gpu.model.array_digest` of the output is used)."""

    digest: str | None = None


class Backend:
    """An engine for the ops of a model DAG (section 5: providers and referee run the same ops).

    Subclasses set :attr:`name` and implement :meth:`ops`; the hooks default to doing nothing.
    """

    #: Name written into traces (``Trace.backend``) and used by :func:`register`.
    name: str = ""

    def ops(self) -> Any:
        """An object whose attributes are the ops (``matmul``, ``softmax``, ...), with the
        signatures of :mod:`oasis_lab.gpu.reference`."""
        raise NotImplementedError

    def engine(self) -> str:
        """A one-line description of the engine (for reports: device, driver, version)."""
        return self.name

    def prepare(self, model: Model, inputs: Mapping[str, np.ndarray], digests_only: bool) -> None:
        """Called once before the first node of a run (after the run's arguments are checked)."""

    @contextlib.contextmanager
    def node(self, model: Model, index: int, digests_only: bool) -> Iterator[NodeRecord]:
        """Context around the op of node ``index``; yields the node's :class:`NodeRecord`."""
        yield NodeRecord()

    def finish(self, model: Model) -> None:
        """Called once after the last node of a run, or when a node raised."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class ModuleBackend(Backend):
    """A backend whose ops are a module's functions, imported on first use.

    Parameters
    ----------
    name : str
    module : str
        Dotted module path (imported lazily: the numpy backend needs no wgpu).
    describe : callable, optional
        Returns :meth:`engine`'s text.
    """

    def __init__(self, name: str, module: str, describe: Callable[[], str] | None = None) -> None:
        self.name = name
        self._module = module
        self._describe = describe

    def ops(self) -> Any:
        return importlib.import_module(self._module)

    def engine(self) -> str:
        return self._describe() if self._describe is not None else self.name


def _numpy_engine() -> str:
    return f"numpy {np.__version__}"


def _webgpu_engine() -> str:
    from oasis_lab.gpu.device import adapter_info

    info = adapter_info()
    return f"{info['device']} ({info['backend_type']}, {info['adapter_type']})"


_LOCK = threading.Lock()
_REGISTRY: dict[str, Backend] = {
    "numpy": ModuleBackend("numpy", "oasis_lab.gpu.reference", _numpy_engine),
    "webgpu": ModuleBackend("webgpu", "oasis_lab.gpu.ops", _webgpu_engine),
}
_BUILTIN = frozenset(_REGISTRY)


def register(backend: Backend) -> Backend:
    """Make ``backend`` reachable by its name (``run(..., backend=backend.name)``); returns it.

    Registering a name again replaces the earlier backend (a reloaded package re-registers);
    the built-in ``"numpy"`` and ``"webgpu"`` cannot be replaced.

    Raises
    ------
    TypeError
        ``backend`` is not a :class:`Backend`.
    ValueError
        An empty name, or one of the built-in names.
    """
    if not isinstance(backend, Backend):
        raise TypeError(f"backend must be a Backend, got {type(backend).__name__}")
    if not isinstance(backend.name, str) or not backend.name:
        raise ValueError(f"backend name = {backend.name!r} must be a non-empty string")
    if backend.name in _BUILTIN:
        raise ValueError(f"backend name = {backend.name!r} is built in and cannot be replaced")
    with _LOCK:
        _REGISTRY[backend.name] = backend
    return backend


def unregister(name: str) -> None:
    """Remove a registered backend (built-ins stay); unknown names are ignored."""
    if name in _BUILTIN:
        raise ValueError(f"backend name = {name!r} is built in and cannot be removed")
    with _LOCK:
        _REGISTRY.pop(name, None)


def names() -> tuple[str, ...]:
    """Names of the registered backends, built-ins first."""
    return tuple(_REGISTRY)


def get(backend: str | Backend) -> Backend:
    """The backend ``backend`` names (or ``backend`` itself when it is a :class:`Backend`).

    Raises
    ------
    ValueError
        A name nothing registered (the message lists the registered ones).
    TypeError
        Neither a string nor a :class:`Backend`.
    """
    if isinstance(backend, Backend):
        return backend
    if not isinstance(backend, str):
        raise TypeError(f"backend must be a backend name or a Backend, got {type(backend).__name__}")
    found = _REGISTRY.get(backend)
    if found is None:
        raise ValueError(
            f"backend = {backend!r} is unknown; registered: {list(_REGISTRY)} (a package adds its "
            "engines to this registry when it is loaded: load oasis_lab.browser for 'browser')"
        )
    return found
