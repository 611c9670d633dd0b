"""device.kernel_runner (another engine below the ops), device.kernel_variant (another kernel
source) and device.is_persistent."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_lab.gpu import device
from oasis_lab.gpu import reference as R


def test_kernel_runner_receives_every_run_kernel_call(gpu):
    calls = []

    def runner(name, params, inputs, out_nbytes, workgroups, *, entry, constants):
        calls.append((name, entry, [n for n, _ in inputs], out_nbytes, workgroups))
        return np.full(out_nbytes // 4, 7, np.float32).tobytes()

    x = np.ones((3, 5), np.float32)
    with device.kernel_runner(runner):
        y = gpu.softmax(x)
        z = gpu.gelu(x)
    assert calls[0] == ("softmax", "main", ["x"], 60, (1, 1, 1))
    assert calls[1][:3] == ("unary", "gelu", ["x"])
    assert (y == 7).all() and (z == 7).all()
    assert gpu.softmax(x).tobytes() == R.softmax(x).tobytes()  # outside: wgpu again


def test_kernel_variant_changes_the_compiled_source_and_the_cache_key(gpu):
    def no_flush(kernel, source):
        return source.replace("return select(x, 0.0, (bitcast<i32>(x) & 0x7f800000i) < 0x01000000i);",
                              "return x;")

    a = np.full((1, 4), 1e-20, np.float32)
    b = np.full((4, 1), 1e-20, np.float32)  # products 1e-40: subnormal
    assert gpu.matmul(a, b, kernel="naive")[0, 0] == 0.0  # flushed
    with device.kernel_variant("test-no-flush", no_flush):
        assert device.current_variant() == "test-no-flush"
        assert "return x;" in device.variant_source("matmul_naive")
        kept = gpu.matmul(a, b, kernel="naive")[0, 0]
    p = np.float32(1e-20) * np.float32(1e-20)
    assert kept == ((p + p) + p) + p and kept != 0  # lavapipe keeps subnormals
    assert device.current_variant() == ""
    with pytest.raises(ValueError, match="variant name"), device.kernel_variant("", no_flush):
        pass


def test_is_persistent_only_for_marked_arrays():
    w = np.ones(4, np.float32)
    w.setflags(write=False)
    assert not device.is_persistent(w)
    device.mark_persistent(w)
    assert device.is_persistent(w)
    assert not device.is_persistent(w.copy())
