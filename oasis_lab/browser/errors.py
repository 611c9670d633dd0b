"""The browser provider's errors: every failure is one of these, raised within a timeout."""

from __future__ import annotations

__all__ = [
    "BrowserCrashedError",
    "BrowserError",
    "BrowserPageError",
    "BrowserStartupError",
    "BrowserTimeoutError",
    "KernelCompileError",
    "NoAdapterError",
]


class BrowserError(RuntimeError):
    """Base of the browser provider's errors."""


class BrowserStartupError(BrowserError):
    """Chromium could not be started, or its page did not report ready in time."""


class NoAdapterError(BrowserStartupError):
    """The page started but WebGPU gave it no adapter."""


class BrowserTimeoutError(BrowserError):
    """A command did not finish within the provider's timeout (the browser is closed)."""


class BrowserCrashedError(BrowserError):
    """The browser, its GPU process, its page's renderer or a zygote died (or the page lost its
    WebGPU device): the provider cannot be used any more."""


class BrowserPageError(BrowserError):
    """The page's JS raised (the provider stays usable)."""


class KernelCompileError(BrowserPageError):
    """A WGSL kernel failed to compile in the browser."""
