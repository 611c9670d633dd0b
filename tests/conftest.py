"""Shared fixtures. ``gpu``: one WebGPU device for the whole session; skip locally without an
adapter, fail in CI (also when wgpu fell back to an OpenGL adapter: CI must run on Vulkan
lavapipe). Used by the gpu and the disputes tests."""

from __future__ import annotations

import os

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
