"""Run-to-run determinism and reference equality, per node; the report must be able to fail."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_lab.gpu import determinism as D
from oasis_lab.gpu import model as M


def test_twenty_transformer_runs_give_one_hash_per_node_equal_to_numpy(gpu):
    report = D.check("tiny-transformer", runs=20, seed=4)
    assert report.runs == 20 and len(report.node_names) == 61
    assert (report.distinct == 1).all()
    assert report.equal_reference.all() and report.equal_local.all()
    assert report.deterministic and report.bitwise_reference
    assert "61/61 nodes deterministic" in report.summary()
    frame = report.to_frame()
    assert list(frame.columns[:3]) == ["node", "op", "distinct_hashes"]


def test_quantized_mlp_and_every_op_are_bitwise_reference(gpu):
    assert D.check("quantized-mlp", runs=5).bitwise_reference
    for op in sorted(D.OP_EXAMPLES):
        report = D.check(op, runs=3)
        assert report.deterministic and report.bitwise_reference, op


def test_the_report_sees_a_nondeterministic_kernel(gpu, monkeypatch):
    from oasis_lab.gpu import ops

    rng = np.random.default_rng(0)
    honest = ops.softmax

    def jittery(x):  # one ulp of noise on a random entry, like a float atomic would add
        y = honest(x)
        i = rng.integers(y.size)
        y.reshape(-1)[i] = np.nextafter(y.reshape(-1)[i], np.float32(2))
        return y

    monkeypatch.setattr(ops, "softmax", jittery)
    report = D.check("tiny-transformer", runs=4)
    probs = report.node_names.index("probs")
    assert report.distinct[probs] > 1 and not report.equal_reference[probs]
    assert not report.equal_local[probs] and report.max_ulp[probs] == 1
    assert report.distinct[:probs].tolist() == [1] * probs  # upstream untouched
    assert not report.deterministic


def test_numpy_backend_report_sees_a_nondeterministic_op(monkeypatch):
    # The report's machinery on the backend every machine has: an honest run passes, and one
    # ulp of noise in one op (the numpy backend's softmax) is caught at that node only. (The
    # numpy backend's report compares numpy with numpy, so "passes" alone could not fail.)
    from oasis_lab.gpu import reference

    honest_report = D.check("tiny-transformer", runs=3, backend="numpy")
    assert honest_report.deterministic and honest_report.bitwise_reference
    rng = np.random.default_rng(1)
    honest = reference.softmax

    def jittery(x):
        y = honest(x)
        i = rng.integers(y.size)
        y.reshape(-1)[i] = np.nextafter(y.reshape(-1)[i], np.float32(2))
        return y

    monkeypatch.setattr(reference, "softmax", jittery)
    report = D.check("tiny-transformer", runs=3, backend="numpy")
    probs = report.node_names.index("probs")
    assert report.distinct[probs] > 1 and report.max_ulp[probs] >= 1
    assert report.distinct[:probs].tolist() == [1] * probs  # upstream untouched
    assert not report.deterministic and not report.bitwise_reference


def test_report_errors():
    with pytest.raises(ValueError, match="neither a model"):
        D.check("resnet")
    with pytest.raises(ValueError, match="runs = 0"):
        D.check("relu", runs=0, backend="numpy")


def test_ulp_distance_known_answers():
    one = np.array([1.0], np.float32)
    assert D.ulp_distance(one, np.nextafter(one, np.float32(2)))[0] == 1
    assert D.ulp_distance(np.array([0.0], np.float32), np.array([-0.0], np.float32))[0] == 0
    tiny = np.array([1e-45], np.float32)
    assert D.ulp_distance(tiny, -tiny)[0] == 2
    assert D.ulp_distance(np.array([5], np.int32), np.array([-3], np.int32))[0] == 8


def test_op_models_use_awkward_shapes():
    model, inputs = D.op_model("matmul")
    assert inputs["x"].shape == (67, 130) and model.weights["w"].shape == (130, 92)
    assert M.run(model, inputs).outputs[0].shape == (67, 92)
