"""Browser providers (whitepaper sections 1-2: "anyone's browser becomes an inference provider
through WebGPU"): the project's WGSL kernels run in headless Chromium, driven from Python and
compared bit for bit with wgpu-py and the numpy references.

Modules: ``provider`` (:class:`BrowserProvider`), built from ``wire`` (the binary message
format), ``bridge`` (the loopback HTTP bridge and the page's signs of life), ``chromium`` (the
process group: start, watch, kill, reap), ``kernels`` (kernel calls in the page) and ``backend``
(model execution through :func:`oasis_lab.gpu.model.run`, and the ``"browser"`` backend that
importing this package registers in :mod:`oasis_lab.gpu.backends`); ``errors`` (the
exceptions), ``compare`` (three-way bitwise tables),
``bench`` (the provider benchmark measured in the page), ``market`` (browser providers join
the simulated market), ``disputes`` (disputes across
runtimes), ``variants`` (kernel variants), ``cli`` (``python -m oasis_lab browser check``).
"""

from oasis_lab.browser import backend as _backend  # noqa: F401  (registers "browser")
from oasis_lab.browser.errors import (
    BrowserCrashedError,
    BrowserError,
    BrowserPageError,
    BrowserStartupError,
    BrowserTimeoutError,
    KernelCompileError,
    NoAdapterError,
)
from oasis_lab.browser.provider import BrowserProvider

__all__ = [
    "BrowserCrashedError",
    "BrowserError",
    "BrowserPageError",
    "BrowserProvider",
    "BrowserStartupError",
    "BrowserTimeoutError",
    "KernelCompileError",
    "NoAdapterError",
]
