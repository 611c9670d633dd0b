"""Shared fixtures. ``gpu``: one WebGPU device for the whole session; skip locally without an
adapter, fail in CI (also when wgpu fell back to an OpenGL adapter: CI must run on Vulkan
lavapipe). Used by the gpu and the disputes tests."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def gpu():
    """The ops module with a live device. In CI (``CI`` set) a missing adapter is a failure."""
    from oasis_lab.gpu import device, ops

    reason = device.unavailable_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the WebGPU tests on lavapipe: {reason}")
        pytest.skip(f"no WebGPU adapter: {reason}")
    info = device.adapter_info()
    if os.environ.get("CI") and info["backend_type"] == "OpenGL":
        pytest.fail(device.OPENGL_FALLBACK_WARNING.format(device=info["device"]))
    return ops


CHROMIUM = shutil.which("chromium")

_OUTPUT_CHECK = """() => Array.from(document.querySelectorAll('.jp-OutputArea-output'))
    .filter(el => !el.innerText.trim() && !el.querySelector('img, svg, canvas, table'))
    .length"""


def open_offline(page_path: Path) -> dict[str, Any]:
    """Open ``page_path`` with the network blocked; what failed and how many outputs are empty."""
    from playwright.sync_api import sync_playwright

    if CHROMIUM is None:
        pytest.fail("Debian's chromium is not installed (make setup installs it)")
    blocked: list[str] = []
    failed: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-quic"],
        )
        try:
            page = browser.new_page()

            def route(r: Any) -> None:
                if r.request.url.startswith("file://"):
                    r.continue_()
                else:
                    blocked.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.on("requestfailed", lambda req: failed.append(req.url))
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(page_path.resolve().as_uri(), wait_until="load", timeout=60_000)
            empty = page.evaluate(_OUTPUT_CHECK)
            n_outputs = page.evaluate(
                "() => document.querySelectorAll('.jp-OutputArea-output').length"
            )
        finally:
            browser.close()
    return {"blocked": blocked, "failed": failed, "errors": errors, "empty": empty,
            "outputs": n_outputs}


@pytest.fixture(scope="session", name="open_offline")
def open_offline_fixture() -> Callable[[Path], dict[str, Any]]:
    """:func:`open_offline`: a report page opened in Chromium with the network blocked."""
    return open_offline
