"""Browser providers (whitepaper sections 1-2: "anyone's browser becomes an inference provider
through WebGPU"): the project's WGSL kernels run in headless Chromium, driven from Python and
compared bit for bit with wgpu-py and the numpy references.

Modules: ``provider`` (:class:`BrowserProvider`, the page and its bridge), ``backend`` (the
``"browser"`` backend of ops and ``model.run``), ``compare`` (three-way bitwise tables),
``bench`` (the provider benchmark measured in the page), ``market`` (browser providers join
the simulated market), ``disputes`` (disputes across
runtimes), ``variants`` (kernel variants), ``cli`` (``python -m oasis_lab browser check``).
"""

from oasis_lab.browser.provider import (
    BrowserCrashedError,
    BrowserError,
    BrowserPageError,
    BrowserProvider,
    BrowserStartupError,
    BrowserTimeoutError,
    KernelCompileError,
    NoAdapterError,
)

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
