"""One headless Chromium provider per test module (startup costs about 2 s). Skipped locally
without Chromium or a WebGPU adapter; a failure in CI (``CI`` set), where .ci/run installs it."""

from __future__ import annotations

import os

import pytest


def _require_chromium():
    from oasis_lab.browser.provider import BrowserStartupError, find_chromium

    try:
        return find_chromium()
    except BrowserStartupError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def chromium():
    """A started :class:`BrowserProvider` shared by the module's tests."""
    from oasis_lab.browser import BrowserProvider

    _require_chromium()
    with BrowserProvider("test", timeout=120) as provider:
        yield provider


@pytest.fixture(scope="module")
def chromium_path():
    """Path of the Chromium binary (tests that start their own providers)."""
    return _require_chromium()
