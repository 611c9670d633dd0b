"""The model-as-DAG contract (numpy backend): traces, run_node, shapes, FLOPs, errors."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_lab.gpu import model as M
from oasis_lab.gpu import reference as R


@pytest.fixture(scope="module")
def transformer():
    return M.load_model("tiny-transformer")


@pytest.fixture(scope="module")
def mlp():
    return M.load_model("quantized-mlp")


def test_shipped_models_have_the_documented_shapes(transformer, mlp):
    assert len(transformer.nodes) == 61
    assert transformer.weights["wte"].shape == (512, 128)
    assert transformer.weights["wte"].dtype == np.float32
    assert transformer.node_index("block2.attn") == 1 + 2 * 14 + 4
    assert [n.op for n in mlp.nodes] == ["int8_matmul_requant"] * 3 + ["int8_matmul"]
    with pytest.raises(ValueError, match="no node 'nope'"):
        transformer.node_index("nope")
    with pytest.raises(ValueError, match="tiny-transformer"):
        M.load_model("gpt-5")


def test_weights_are_read_only(transformer):
    with pytest.raises(ValueError):
        transformer.weights["wte"][0, 0] = 1.0


@pytest.mark.parametrize("name", M.MODEL_NAMES)
def test_run_node_recomputes_every_node_of_the_trace(name):
    model = M.load_model(name)
    inputs = M.example_inputs(model, seed=3)
    trace = M.run(model, inputs, seed=11)
    assert trace.node_names == model.node_names
    values = dict(inputs)
    for i, node in enumerate(model.nodes):
        opened = [values[s] if s in values else trace.output(s) for s in node.inputs]
        again = M.run_node(model, node.name if i % 2 else i, opened, seed=trace.seed)
        assert again.dtype == trace.outputs[i].dtype
        assert again.tobytes() == trace.outputs[i].tobytes(), node.name
        values.setdefault(node.name, trace.outputs[i])


def test_transformer_matches_a_float64_forward_pass(transformer):
    """Known answer: an independent float64 implementation of the same architecture."""
    w = {k: v.astype(np.float64) for k, v in transformer.weights.items()}
    tokens = M.example_inputs(transformer, seed=1)["tokens"]
    trace = M.run(transformer, {"tokens": tokens})
    t = tokens.shape[0]

    def ln(x, p):
        mu = x.mean(1, keepdims=True)
        return (x - mu) / np.sqrt(x.var(1, keepdims=True) + 1e-5) * w[p + ".gamma"] + w[p + ".beta"]

    x = w["wte"][tokens] + w["wpe"][:t]
    mask = np.tril(np.ones((t, t), bool))
    for b in range(4):
        p = f"block{b}."
        h = ln(x, p + "ln1")
        q, k, v = (h @ w[p + f"attn.w{c}"] for c in "qkv")
        heads = []
        for j in range(4):
            sl = slice(32 * j, 32 * j + 32)
            s = np.where(mask, q[:, sl] @ k[:, sl].T / np.sqrt(32), -np.inf)
            e = np.exp(s - s.max(1, keepdims=True))
            heads.append(e / e.sum(1, keepdims=True) @ v[:, sl])
        x = x + np.hstack(heads) @ w[p + "attn.wo"]
        u = ln(x, p + "ln2") @ w[p + "mlp.w1"] + w[p + "mlp.b1"]
        g = 0.5 * u * (1 + np.tanh(np.sqrt(2 / np.pi) * (u + 0.044715 * u**3)))
        x = x + g @ w[p + "mlp.w2"] + w[p + "mlp.b2"]
    logits = ln(x, "ln_f") @ w["lm_head"]
    np.testing.assert_allclose(trace.output("logits"), logits, rtol=0, atol=2e-4)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(trace.output("probs"), probs / probs.sum(1, keepdims=True), rtol=1e-4)


def test_sampling_depends_only_on_the_seed(transformer):
    inputs = M.example_inputs(transformer)
    a = M.run(transformer, inputs, seed=5).output("next_token")
    b = M.run(transformer, inputs, seed=5).output("next_token")
    c = M.run(transformer, inputs, seed=6).output("next_token")
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_sample_is_the_inverse_cdf():
    probs = np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5], [0.0, 0.0, 1.0]], np.float32)
    draws = np.stack([R.sample(probs, s) for s in range(200)])
    assert (draws[:, 0] == 1).all() and (draws[:, 2] == 2).all()
    assert set(np.unique(draws[:, 1])) == {0, 2}
    assert 70 < (draws[:, 1] == 0).sum() < 130


def test_quantized_mlp_is_the_integer_formula(mlp):
    x = M.example_inputs(mlp, seed=2)["x"]
    trace = M.run(mlp, {"x": x})
    h = x.astype(np.int64)
    for i in range(3):
        node = mlp.nodes[i]
        acc = h @ mlp.weights[node.attrs["weight"]].astype(np.int64) + mlp.weights[node.attrs["bias"]]
        m, s = node.attrs["multiplier"], node.attrs["shift"]
        # round(acc * m / 2^s) with halves rounded up, clamped to the ReLU'd int8 range
        h = np.clip(np.floor(acc * m / 2.0**s + 0.5), 0, 127).astype(np.int64)
        assert np.array_equal(trace.outputs[i], h)
    assert np.array_equal(trace.output("logits"), h @ mlp.weights["head.weight"].astype(np.int64))


def test_node_shapes_and_flops(transformer, mlp):
    shapes = M.node_shapes(transformer)
    trace = M.run(transformer, M.example_inputs(transformer))
    assert shapes == [o.shape for o in trace.outputs]
    flops = M.node_flops(transformer)
    assert flops.shape == (61,) and flops.dtype == np.int64
    assert flops[transformer.node_index("block0.q")] == 2 * 32 * 128 * 128
    assert flops[transformer.node_index("logits")] == 2 * 32 * 128 * 512
    assert M.node_flops(mlp)[3] == 2 * 8 * 128 * 16
    assert list(transformer.to_frame()["flops"]) == list(flops)


def test_bad_inputs_name_the_problem(transformer):
    inputs = M.example_inputs(transformer)
    with pytest.raises(ValueError, match="backend"):
        M.run(transformer, inputs, backend="cuda")
    with pytest.raises(ValueError, match="missing \\['tokens'\\]"):
        M.run(transformer, {})
    with pytest.raises(TypeError, match="node 'embed'.*int32"):
        M.run(transformer, {"tokens": inputs["tokens"].astype(np.int64)})
    with pytest.raises(ValueError, match="outside the vocabulary"):
        M.run(transformer, {"tokens": np.array([0, 512], np.int32)})
    with pytest.raises(ValueError, match="takes 3 inputs"):
        M.run_node(transformer, "block0.attn", [np.zeros((2, 128), np.float32)])
    with pytest.raises(ValueError, match="seed"):
        M.run(transformer, inputs, seed=-1)
    with pytest.raises(ValueError, match="topological"):
        M.Model("m", ("x",), (M.Node("a", "relu", ("b",)), M.Node("b", "relu", ("x",))), {})
    with pytest.raises(ValueError, match="unknown op"):
        M.Model("m", ("x",), (M.Node("a", "conv", ("x",)),), {})
    with pytest.raises(ValueError, match="weight 'w'"):
        M.Model("m", ("x",), (M.Node("a", "matmul", ("x",), {"weight": "w"}),), {})


# Digests of the seed-0 traces (numpy backend), recorded when the kernels' operation order was
# fixed. A change here changes every provider's commitments: it must be deliberate.
GOLDEN = {
    ("tiny-transformer", "block0.attn"): "acc1a716ccad8c7d90840b93ddbfdee1490d98c431f550f78ed55ed98fbc344c",
    ("tiny-transformer", "logits"): "ad7e5c3d991748ba9ad4fa88bb76596793b6f87ac7469299d38621ae0c77472b",
    ("tiny-transformer", "probs"): "f970a37436c71fe50d72f015ebf32ca46479ebccd460b6aeee00b286cafb201f",
    ("tiny-transformer", "next_token"): "52060533723d56a196e4051d00459807b9b78234becd732f0f71d21c45738268",
    ("quantized-mlp", "logits"): "ef0113915d29f025b3f64a94b3686334a681167fd60ec4c870de7beaea6eb8b1",
}


@pytest.mark.parametrize("name", M.MODEL_NAMES)
def test_trace_digests_match_the_recorded_golden_values(name):
    model = M.load_model(name)
    trace = M.run(model, M.example_inputs(model, seed=0), seed=0)
    for (model_name, node), digest in GOLDEN.items():
        if model_name == name:
            assert M.array_digest(trace.output(node)) == digest, node
