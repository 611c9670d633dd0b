"""Every kernel in headless Chromium against wgpu-py and the numpy references, bit for bit;
whole models node by node; weights kept on the browser's device; binary transfer."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_lab.browser import compare
from oasis_lab.browser.provider import decode, encode
from oasis_lab.gpu import device
from oasis_lab.gpu import model as M
from oasis_lab.gpu import reference as R
from oasis_lab.gpu.determinism import kernel_cases

pytestmark = pytest.mark.browser

CASES = kernel_cases(5)


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("name,kernel,call", CASES, ids=[c[0] for c in CASES])
def test_kernel_case_browser_equals_wgpu_and_numpy(chromium, gpu, name, kernel, call):
    out = call(chromium.ops)
    assert same_bits(out, call(gpu)), "browser differs from wgpu-py"
    assert same_bits(out, call(R)), "browser differs from the numpy reference"


MATMUL_SHAPES = [(1, 1, 1), (0, 5, 3), (4, 0, 3), (3, 5, 0), (7, 13, 5), (65, 33, 68), (130, 257, 72)]


@pytest.mark.parametrize("m,k,n", MATMUL_SHAPES)
def test_matmul_shapes_of_the_webgpu_tests(chromium, gpu, m, k, n):
    rng = np.random.default_rng(m * 1000 + k + n)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    want = R.matmul(a, b)
    for kernel in ("naive", "blocked") if n % 4 == 0 else ("naive", "auto"):
        assert same_bits(chromium.ops.matmul(a, b, kernel=kernel), want)
        assert same_bits(gpu.matmul(a, b, kernel=kernel), want)


def test_matmul_at_the_loop_limit_and_refused_past_it(chromium):
    k = chromium.ops.LOOP_PASS_BUDGET - 1
    rng = np.random.default_rng(1)
    a = rng.standard_normal((1, k)).astype(np.float32)
    b = rng.standard_normal((k, 4)).astype(np.float32)
    assert same_bits(chromium.ops.matmul(a, b, kernel="blocked"), R.matmul(a, b))
    a1 = np.ones((1, k + 1), np.float32)
    with pytest.raises(ValueError, match="loop passes"):
        chromium.ops.matmul(a1, np.ones((k + 1, 4), np.float32))


def test_bad_input_is_refused_before_the_browser_runs(chromium):
    with pytest.raises(TypeError, match="float32"):
        chromium.ops.relu(np.ones(3, np.float64))
    with pytest.raises(ValueError, match="columns"):
        chromium.ops.matmul(np.ones((2, 3), np.float32), np.ones((4, 2), np.float32))


@pytest.mark.parametrize("name", M.MODEL_NAMES)
def test_model_trace_per_node_hashes_equal_on_three_backends(chromium, gpu, name):
    table = compare.three_way(chromium, name, seed=0)
    assert len(table) == len(M.load_model(name).nodes)
    bad = table[~(table["browser=webgpu"] & table["browser=numpy"] & table["webgpu=numpy"])]
    assert bad.empty, bad.to_string()


def test_digests_are_computed_in_the_page(chromium):
    model = M.load_model("tiny-transformer")
    trace = chromium.run(model, M.example_inputs(model, 3), seed=3)
    assert trace.backend == "browser"
    assert chromium.last_page_digests == trace.digests()
    mlp = M.load_model("quantized-mlp")  # int8 outputs travel as int32: hashed as int8 in the page
    trace = chromium.run(mlp, M.example_inputs(mlp, 1))
    assert chromium.last_page_digests == trace.digests()


def test_weights_are_uploaded_once(chromium):
    model = M.load_model("tiny-transformer")
    feed = M.example_inputs(model, 0)
    weight_bytes = sum(w.nbytes for w in model.weights.values())
    sent0 = chromium.bytes_sent
    chromium.run(model, feed)
    first = chromium.bytes_sent - sent0
    kept = chromium.stats()["kept"]
    chromium.run(model, feed)
    second = chromium.bytes_sent - sent0 - first
    assert chromium.stats()["kept"] == kept >= 20
    assert first - second >= 0.9 * weight_bytes  # the second run sent no weights


def test_messages_are_binary_not_text():
    arr = np.arange(1000, dtype=np.float32)
    msg = encode({"op": "run"}, [arr, b"xyz"])
    assert len(msg) < arr.nbytes + 200  # base64 would be 4/3 of the bytes
    header, blobs = decode(msg)
    assert header["op"] == "run"
    assert bytes(blobs[0]) == arr.tobytes() and bytes(blobs[1]) == b"xyz"


def test_size_checks_use_the_smaller_of_browser_and_referee_limits(chromium, gpu):
    assert chromium.kernels.storage_cap == min(chromium.limits["maxStorageBufferBindingSize"],
                                        device.storage_limit())
    assert chromium.limits["maxComputeInvocationsPerWorkgroup"] >= 256  # every kernel's workgroup


def test_browser_backend_of_model_run_and_determinism_check(gpu):
    from oasis_lab.browser.backend import close_default_provider
    from oasis_lab.gpu.determinism import check

    try:
        model = M.load_model("quantized-mlp")
        trace = M.run(model, M.example_inputs(model, 0), backend="browser")
        assert trace.backend == "browser"
        assert trace.digests() == M.run(model, M.example_inputs(model, 0)).digests()
        report = check("softmax", runs=2, backend="browser")
        assert report.deterministic and report.bitwise_reference
        assert "Chromium" in report.engine
    finally:
        close_default_provider()


def test_digests_only_runs_keep_outputs_on_the_device_and_move_few_bytes(chromium):
    """keep="digests": the same digests as the numpy trace, a fraction of the bytes, nothing
    left on the device afterwards (measured: 3.6 MB against 33 kB for the tiny transformer)."""
    model = M.load_model("tiny-transformer")
    feed = M.example_inputs(model, 2)
    chromium.run(model, feed, seed=2)  # weights on the device
    r0, s0 = chromium.bytes_received, chromium.bytes_sent
    full = chromium.run(model, feed, seed=2)
    r1, s1 = chromium.bytes_received, chromium.bytes_sent
    digests = chromium.run(model, feed, seed=2, keep="digests")
    r2, s2 = chromium.bytes_received, chromium.bytes_sent
    assert isinstance(digests, M.DigestTrace) and digests.backend == "browser"
    assert digests.digests() == full.digests() == M.run(model, feed, seed=2).digests()
    moved_full, moved_digests = (r1 - r0) + (s1 - s0), (r2 - r1) + (s2 - s1)
    assert moved_full > sum(o.nbytes for o in full.outputs)  # every output came back
    assert moved_digests < 0.02 * moved_full
    assert chromium.stats()["resident"] == 0


def test_a_cheat_applies_to_a_resident_output_and_to_what_follows(chromium):
    model = M.load_model("tiny-transformer")
    feed = M.example_inputs(model, 0)
    node = model.node_index("block1.fc1")
    cheat = chromium.run(model, feed, cheat=(node, 3))
    kept = chromium.run(model, feed, cheat=(node, 3), keep="digests")
    honest = M.run(model, feed).digests()
    assert kept.digests() == cheat.digests()
    assert kept.digests()[:node] == honest[:node]
    assert kept.digests()[node] != honest[node]
    assert kept.digests()[node + 1] != honest[node + 1]  # the next node read the cheated output


def test_checks_fail_alike_on_a_resident_output(chromium):
    """A node whose output overflows: the next op refuses it with the same message whether the
    output came back or stayed on the device (the placeholder holds the first inf)."""
    w = np.full((4, 4), 3e38, np.float32)
    model = M.Model("overflow", ("x",), (M.Node("big", "matmul", ("x",), {"weight": "w"}),
                                        M.Node("act", "relu", ("big",))), {"w": w})
    feed = {"x": np.array([[1, 1, 0, 0], [0, 0, 0, 1]], np.float32)}
    with pytest.raises(ValueError) as host:
        chromium.run(model, feed)
    with pytest.raises(ValueError) as kept:
        chromium.run(model, feed, keep="digests")
    assert str(host.value) == str(kept.value) == "node 'act' (relu): x[0, 0] = inf must be finite"
    assert chromium.stats()["resident"] == 0
    probs = M.Model("neg", ("x",), (M.Node("logits", "matmul", ("x",), {"weight": "w"}),
                                    M.Node("pick", "sample", ("logits",))), {"w": -np.eye(4, dtype=np.float32)})
    for keep in ("outputs", "digests"):
        with pytest.raises(ValueError, match="node 'pick' \\(sample\\): probs has negative entries"):
            chromium.run(probs, {"x": np.eye(4, dtype=np.float32)}, keep=keep)


def test_the_provider_runs_models_through_model_run(chromium, monkeypatch):
    """provider.run is gpu.model.run with the provider's backend: one set of argument checks."""
    model = M.load_model("quantized-mlp")
    feed = M.example_inputs(model, 0)
    with pytest.raises(ValueError, match=r"seed = 4294967296 must be"):
        chromium.run(model, feed, seed=2**32)
    with pytest.raises(ValueError, match="missing \\['x'\\], unexpected \\['y'\\]"):
        chromium.run(model, {"y": feed["x"]})
    with pytest.raises(ValueError, match="cheat = "):
        chromium.run(model, feed, cheat=(99, 1))
    seen = []
    real = M.run
    monkeypatch.setattr(M, "run", lambda *a, **k: seen.append(k["backend"]) or real(*a, **k))
    trace = chromium.run(model, feed)
    assert seen == [chromium.backend] and trace.backend == "browser"
    assert chromium.run_node(model, 0, [feed["x"]]).tobytes() == trace.outputs[0].tobytes()
