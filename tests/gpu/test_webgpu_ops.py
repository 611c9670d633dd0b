"""Every WGSL kernel against its numpy twin: bitwise equal on this engine, clear errors."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oasis_lab.gpu import device
from oasis_lab.gpu import reference as R


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def f32(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


MATMUL_SHAPES = [(1, 1, 1), (0, 5, 3), (4, 0, 3), (3, 5, 0), (7, 13, 5), (65, 33, 68), (130, 257, 72)]


@pytest.mark.parametrize("m,k,n", MATMUL_SHAPES)
def test_matmul_kernels_equal_reference(gpu, m, k, n):
    rng = np.random.default_rng(m * 1000 + k + n)
    a, b = f32(rng, m, k), f32(rng, k, n)
    want = R.matmul(a, b)
    assert same_bits(gpu.matmul(a, b, kernel="naive"), want)
    assert same_bits(gpu.matmul(a, b), want)
    if n % 4 == 0:
        assert same_bits(gpu.matmul(a, b, kernel="blocked"), want)
        assert same_bits(gpu.matmul(a, b, kernel="wide"), want)


@settings(max_examples=12, deadline=None)
@given(m=st.integers(1, 70), k=st.integers(1, 70), n4=st.integers(1, 20), seed=st.integers(0, 99))
def test_blocked_matmul_equals_naive_on_random_shapes(gpu, m, k, n4, seed):
    rng = np.random.default_rng(seed)
    a, b = f32(rng, m, k, scale=3.0), f32(rng, k, 4 * n4)
    assert same_bits(gpu.matmul(a, b, kernel="blocked"), gpu.matmul(a, b, kernel="naive"))
    assert same_bits(gpu.matmul(a, b, kernel="blocked"), R.matmul(a, b))
    assert same_bits(gpu.matmul(a, b, kernel="wide"), gpu.matmul(a, b, kernel="naive"))


@pytest.mark.parametrize("m,k,n", [(1, 1, 4), (8, 4, 16), (9, 5, 20), (17, 3, 1028), (64, 67, 1024),
                                   (3, 130, 4100), (70, 9, 60), (33, 1, 8)])
def test_wide_matmul_edges_equal_naive(gpu, m, k, n):
    # rows past a multiple of 16 (clamped reads, guarded stores), vec4 columns past a multiple
    # of 4 (and of 1024: a second workgroup column), K of 1 and odd K
    rng = np.random.default_rng(m + 7 * k + n)
    a, b = f32(rng, m, k, scale=2.0), f32(rng, k, n)
    assert same_bits(gpu.matmul(a, b, kernel="wide"), gpu.matmul(a, b, kernel="naive"))
    assert same_bits(gpu.matmul(a, b), R.matmul(a, b))


@pytest.mark.parametrize("shape", [(1, 1), (0, 4), (3, 0), (17, 33), (300, 257)])
def test_elementwise_ops_equal_reference(gpu, shape):
    rng = np.random.default_rng(sum(shape))
    x, y = f32(rng, *shape, scale=6.0), f32(rng, *shape)
    bias = f32(rng, shape[1])
    assert same_bits(gpu.add(x, y), R.add(x, y))
    assert same_bits(gpu.bias_add(x, bias), R.bias_add(x, bias))
    assert same_bits(gpu.relu(x), R.relu(x))
    assert same_bits(gpu.gelu(x), R.gelu(x))
    assert same_bits(gpu.exp(x), R.exp(x))


@pytest.mark.parametrize("shape", [(4,), (3, 4), (17, 32), (256, 1028)])
def test_vec4_elementwise_paths_equal_the_scalar_kernels(gpu, shape):
    # sizes that are a multiple of 4 take elementwise4 / relu4 (four elements per invocation)
    from oasis_lab.gpu import ops

    rng = np.random.default_rng(sum(shape))
    x, y = f32(rng, *shape, scale=6.0), f32(rng, *shape)
    bias = f32(rng, shape[-1])
    n = x.size
    scalar_add = ops._elementwise("binary", "add", [("x", x), ("y", y)], n, 1, x.shape)
    scalar_bias = ops._elementwise("binary", "bias_add", [("x", x), ("bias", bias)], n,
                                   bias.size, x.shape)
    scalar_relu = ops._elementwise("unary", "relu", [("x", x)], n, 1, x.shape)
    assert same_bits(gpu.add(x, y), scalar_add) and same_bits(scalar_add, R.add(x, y))
    assert same_bits(gpu.bias_add(x, bias), scalar_bias)
    assert same_bits(scalar_bias, R.bias_add(x, bias))
    assert same_bits(gpu.relu(x), scalar_relu) and same_bits(scalar_relu, R.relu(x))


def test_outputs_are_fresh_writable_arrays(gpu):
    # one host copy on the way back: the result owns its memory and is not shared between calls
    x = np.arange(8, dtype=np.float32)
    a, b = gpu.relu(x), gpu.relu(x)
    assert a.flags.writeable and a.flags.c_contiguous and not np.shares_memory(a, b)
    a[0] = 5.0
    assert b[0] == 0.0 and gpu.relu(x)[0] == 0.0


def test_mathlib_exp_and_gelu_equal_reference_over_the_whole_range(gpu):
    x = np.concatenate([
        np.linspace(-100.0, 100.0, 400_001), np.linspace(-1.0, 1.0, 100_001),
        np.linspace(86.0, 89.5, 100_001), np.linspace(-88.0, -86.0, 100_001),
        [0.0, -0.0, 1e-30, -1e-30, 3e38, -3e38],
    ]).astype(np.float32)
    assert same_bits(gpu.exp(x), R.exp(x))
    assert same_bits(gpu.gelu(x), R.gelu(x))


@pytest.mark.parametrize("rows,cols", [(1, 1), (0, 5), (5, 0), (3, 7), (65, 130), (40, 1000)])
def test_softmax_equals_reference(gpu, rows, cols):
    rng = np.random.default_rng(rows + cols)
    x = f32(rng, rows, cols, scale=10.0)
    assert same_bits(gpu.softmax(x), R.softmax(x))


@pytest.mark.parametrize("rows,cols", [(1, 1), (0, 4), (3, 7), (65, 130)])
def test_layernorm_equals_reference(gpu, rows, cols):
    rng = np.random.default_rng(rows * cols)
    x, g, b = f32(rng, rows, cols, scale=3.0) + 2.0, f32(rng, cols), f32(rng, cols)
    assert same_bits(gpu.layernorm(x, g, b, 1e-5), R.layernorm(x, g, b, 1e-5))


@pytest.mark.parametrize("t,d,h", [(1, 1, 1), (0, 8, 2), (2, 8, 8), (37, 64, 4), (70, 96, 3)])
def test_attention_equals_reference(gpu, t, d, h):
    rng = np.random.default_rng(t + d + h)
    q, k, v = (f32(rng, t, d, scale=2.0) for _ in range(3))
    assert same_bits(gpu.attention(q, k, v, h), R.attention(q, k, v, h))


@pytest.mark.parametrize("t", [0, 1, 19, 300])
def test_embedding_equals_reference(gpu, t):
    rng = np.random.default_rng(t)
    ids = rng.integers(0, 50, t).astype(np.int32)
    table, pos = f32(rng, 50, 24), f32(rng, 300, 24)
    assert same_bits(gpu.embedding(ids, table, pos), R.embedding(ids, table, pos))
    assert same_bits(gpu.embedding(ids, table), R.embedding(ids, table))
    assert same_bits(R.embedding(ids, table), table[ids])


@pytest.mark.parametrize("rows,cols", [(1, 1), (0, 3), (65, 7), (9, 500)])
def test_sample_equals_reference(gpu, rows, cols):
    rng = np.random.default_rng(rows)
    p = R.softmax(f32(rng, rows, cols, scale=2.0))
    for seed in (0, 1, 2**32 - 1):
        assert same_bits(gpu.sample(p, seed), R.sample(p, seed))


@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (0, 3, 2), (3, 0, 2), (13, 37, 22), (65, 130, 9)])
def test_int8_ops_equal_exact_integer_products(gpu, m, k, n):
    rng = np.random.default_rng(m + k + n)
    a = rng.integers(-128, 128, (m, k)).astype(np.int8)
    b = rng.integers(-128, 128, (k, n)).astype(np.int8)
    bias = rng.integers(-50_000, 50_000, n).astype(np.int32)
    exact = a.astype(np.int64) @ b.astype(np.int64)
    assert same_bits(gpu.int8_matmul(a, b), exact.astype(np.int32))
    for relu in (False, True):
        got = gpu.int8_matmul_requant(a, b, bias, 20_000, 24, relu)
        assert same_bits(got, R.int8_matmul_requant(a, b, bias, 20_000, 24, relu))


@settings(max_examples=25, deadline=None)
@given(mult=st.integers(1, 2**15 - 1), shift=st.integers(17, 46), seed=st.integers(0, 999))
def test_requantization_limbs_equal_64_bit_arithmetic(gpu, mult, shift, seed):
    """The kernel's 16-bit-limb fixed point equals floor((acc*m + 2^(s-1)) / 2^s) at extremes."""
    rng = np.random.default_rng(seed)
    a = np.full((4, 4096), -128, np.int8)  # |acc| up to 4096 * 2^14 = 2^26, plus the bias
    a[1] = 127
    a[2] = rng.integers(-128, 128, 4096)
    a[3] = 0
    b = rng.choice(np.array([-128, 127], np.int8), size=(4096, 6))
    bias = rng.integers(-(2**30) + 1, 2**30, 6).astype(np.int32)
    acc = a.astype(np.int64) @ b.astype(np.int64) + bias
    want = np.clip(np.floor_divide(acc * mult + 2 ** (shift - 1), 2**shift), -128, 127)
    got = gpu.int8_matmul_requant(a, b, bias, mult, shift, False)
    assert np.array_equal(got, want) and got.dtype == np.int8


def test_bad_inputs_give_one_clear_error(gpu):
    x = np.ones((4, 4), np.float32)
    with pytest.raises(TypeError, match="a must have dtype float32, got float64"):
        gpu.matmul(x.astype(np.float64), x)
    with pytest.raises(TypeError, match="numpy array"):
        gpu.relu([1.0, 2.0])
    with pytest.raises(ValueError, match="a's columns \\(4\\) must equal b's rows \\(3\\)"):
        gpu.matmul(x, np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match="not C-contiguous"):
        gpu.softmax(np.ones((6, 6), np.float32)[:, ::2])
    with pytest.raises(ValueError, match="must be finite"):
        gpu.gelu(np.array([1.0, np.nan], np.float32))
    with pytest.raises(ValueError, match="kernel = 'blocked' needs N % 4 == 0"):
        gpu.matmul(x, np.ones((4, 3), np.float32), kernel="blocked")
    with pytest.raises(TypeError, match="int8"):
        gpu.int8_matmul(x, x)
    with pytest.raises(ValueError, match="shift = 5 must be >= 17"):
        gpu.int8_matmul_requant(np.ones((2, 2), np.int8), np.ones((2, 2), np.int8),
                                np.zeros(2, np.int32), 100, 5)
    with pytest.raises(ValueError, match="n_heads = 3 must divide"):
        gpu.attention(x, x, x, 3)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        gpu.embedding(np.array([4], np.int32), x)


def test_buffers_over_the_device_limit_are_refused(gpu):
    limit = device.storage_limit()
    big = np.zeros(limit // 4 + 1, np.float32)
    with pytest.raises(ValueError, match="storage-binding limit"):
        gpu.relu(big)
    with pytest.raises(ValueError, match="workgroups, over the limit"):
        gpu.matmul(np.ones((600_000, 1), np.float32), np.ones((1, 3), np.float32), kernel="naive")


def test_warm_calls_reuse_pipelines(gpu):
    x = np.ones((8, 8), np.float32)
    gpu.softmax(x)
    before = device.pipeline_cache_size()
    for _ in range(5):
        gpu.softmax(x)
        gpu.matmul(x, x)
    assert device.pipeline_cache_size() <= before + 1  # matmul's pipeline at most once


def test_adapter_info_names_the_engine(gpu):
    info = device.adapter_info()
    assert info["backend_type"] and info["device"]
    assert info["max_storage_binding_mb"] > 0


def test_missing_adapter_raises_an_install_hint(monkeypatch):
    import wgpu

    monkeypatch.setattr(device, "_STATE", device._State())
    monkeypatch.setattr(wgpu.gpu, "request_adapter_sync", lambda **kw: None)
    with pytest.raises(device.GPUUnavailableError, match="mesa-vulkan-drivers"):
        device.get_device()
    with pytest.raises(device.GPUUnavailableError):  # remembered, fails fast
        device.get_device()


def test_non_native_byte_order_is_refused_not_misread(gpu):
    """The kernels read raw bytes: a big-endian float32 array used to come back as garbage."""
    x = np.arange(6, dtype=">f4").reshape(2, 3)
    for fn in (gpu.relu, R.relu):
        with pytest.raises(TypeError, match="x must have dtype float32, got >f4 in non-native byte order"):
            fn(x)
    with pytest.raises(TypeError, match="b must have dtype float32"):
        gpu.matmul(np.ones((2, 2), np.float32), np.ones((2, 2), ">f4"))
    assert same_bits(gpu.relu(x.astype(np.float32)), R.relu(x.astype(np.float32)))


class _FakeAdapter:
    """What wgpu returns: with ``backend="OpenGL"``, its fallback when no Vulkan driver exists."""

    limits = {"max-storage-buffer-binding-size": 2**27, "max-buffer-size": 2**28}

    def __init__(self, backend: str):
        self.info = {"backend_type": backend, "device": "llvmpipe (fake)", "adapter_type": "CPU"}

    def request_device_sync(self, required_limits):
        assert required_limits["max-storage-buffer-binding-size"] == 2**27
        return "device"


def test_opengl_fallback_adapter_warns(monkeypatch):
    import wgpu

    monkeypatch.setattr(device, "_STATE", device._State())
    monkeypatch.setattr(wgpu.gpu, "request_adapter_sync", lambda **kw: _FakeAdapter("OpenGL"))
    with pytest.warns(RuntimeWarning, match=r"fell back to an OpenGL adapter \(llvmpipe \(fake\)\)"):
        assert device.get_device() == "device"
    monkeypatch.setattr(device, "_STATE", device._State())
    monkeypatch.setattr(wgpu.gpu, "request_adapter_sync", lambda **kw: _FakeAdapter("Vulkan"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert device.get_device() == "device"  # Vulkan: no warning


def test_buffer_sizes_respect_the_device_limits(monkeypatch):
    """Pooled sizes round up to a power of two but not past max-buffer-size, and a binding is
    whole 4-byte words: 9 bytes bind 12, over a 10-byte limit."""

    class FakeDevice:
        limits = {"max-buffer-size": 3 * 2**20}

        def create_buffer(self, size, usage):
            return ("buffer", size)

    monkeypatch.setattr(device, "get_device", lambda: FakeDevice())
    monkeypatch.setattr(device, "_POOL", {})
    assert device._take(2**21 + 4, 1) == ("buffer", 3 * 2**20)
    assert device._take(1000, 1) == ("buffer", 1024)
    monkeypatch.setattr(device, "storage_limit", lambda: 10)
    with pytest.raises(ValueError, match="ids needs .* storage-binding limit"):
        device._input_buffer(np.zeros(9, np.int8), "ids", [])


# Built-ins whose results WGSL leaves to the engine (accuracy in ulp, fusion, or summation order).
_INEXACT_BUILTINS = (
    "fma", "exp", "exp2", "log", "log2", "pow", "sin", "cos", "tan", "sinh", "cosh", "tanh",
    "asin", "acos", "atan", "atan2", "asinh", "acosh", "atanh", "inverseSqrt", "mix",
    "smoothstep", "dot", "length", "distance", "normalize", "cross", "step", "ldexp", "frexp",
)


def _strip_comments(src: str) -> str:
    return re.sub(r"//[^\n]*", "", src)


# A call of one of them; not a declaration (unary.wgsl's entry point is named exp), not oasis_exp.
_INEXACT_CALL = re.compile(r"(?<![\w.])(?<!fn )(" + "|".join(_INEXACT_BUILTINS) + r")\s*\(")


def test_the_builtin_scan_sees_calls():
    code = "let y = exp(x) + fma(a, b, c); fn exp(x: f32) { oasis_exp(x); } // tanh(x)"
    assert _INEXACT_CALL.findall(_strip_comments(code)) == ["exp", "fma"]


@pytest.mark.parametrize("path", sorted(device.KERNELS_DIR.glob("*.wgsl")), ids=lambda p: p.name)
def test_kernels_use_no_fma_inexact_builtins_or_atomics(path):
    code = _strip_comments(path.read_text())
    assert not _INEXACT_CALL.findall(code), f"{path.name} calls {_INEXACT_CALL.findall(code)}"
    assert "atomic" not in code, f"{path.name} uses atomics"


def test_loops_up_to_the_lavapipe_budget_are_exact_and_longer_ones_refused(gpu):
    """llvmpipe gives an invocation 65536 loop passes (iterations + 1 per loop, all loops
    together) and then stops looping without an error: a 70000-long matmul of ones used to return
    65535, softmax rows of 21845 columns and attention rows past token 481 (dh = 32) came out
    wrong. At each op's largest allowed size the bits are the reference's; one more is refused."""
    assert gpu.LOOP_PASS_BUDGET == 65536
    rng = np.random.default_rng(0)
    k = 65535
    a, b = np.ones((1, k), np.float32), np.ones((k, 4), np.float32)
    assert same_bits(gpu.matmul(a, b, kernel="blocked"), np.full((1, 4), k, np.float32))
    assert same_bits(gpu.matmul(a, b, kernel="wide"), np.full((1, 4), k, np.float32))
    with pytest.raises(ValueError, match="K = 65536 .* must be <= 65535.*lavapipe silently stops"):
        gpu.matmul(np.ones((1, k + 1), np.float32), np.ones((k + 1, 4), np.float32))
    x = f32(rng, 9, 21844, scale=3.0)
    g, beta = f32(rng, 21844), f32(rng, 21844)
    assert same_bits(gpu.softmax(x), R.softmax(x))
    assert same_bits(gpu.layernorm(x, g, beta), R.layernorm(x, g, beta))
    wide = np.ones((1, 21845), np.float32)
    with pytest.raises(ValueError, match="x has 21845 columns, softmax allows <= 21844"):
        gpu.softmax(wide)
    with pytest.raises(ValueError, match="x has 21845 columns, layernorm allows <= 21844"):
        gpu.layernorm(wide, wide[0], wide[0])
    p = np.zeros((9, 65535), np.float32)
    p[:, -1] = 1  # the pick is the last column: the loop runs to the end
    assert (gpu.sample(p, 3) == 65534).all()
    with pytest.raises(ValueError, match="probs has 65536 columns"):
        gpu.sample(np.ones((1, 65536), np.float32), 0)
    for t, dh in ((485, 32), (248, 64)):  # the largest T at each head width
        q, kk, v = (f32(rng, t, 2 * dh) for _ in range(3))
        assert same_bits(gpu.attention(q, kk, v, 2), R.attention(q, kk, v, 2)), (t, dh)
        q = np.ones((t + 1, 2 * dh), np.float32)
        with pytest.raises(ValueError, match=f"T = {t + 1} tokens at head width dh = {dh}"):
            gpu.attention(q, q, q, 2)
