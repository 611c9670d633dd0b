"""One WebGPU device for the whole session; skip locally without an adapter, fail in CI."""

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
    return ops
