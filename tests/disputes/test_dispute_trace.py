"""Hash-chain commitments, openings and the computations behind them (section 5)."""

import hashlib

import numpy as np
import pytest

from oasis_lab.disputes.graph import DisputeGraph, graph_from_edges, synthetic_graph
from oasis_lab.disputes.trace import (
    CommitmentMismatch,
    ModelComputation,
    SyntheticComputation,
    chain_step,
    commit,
    extend_chain,
    make_input_opening,
    output_digest,
    verify_input_opening,
    verify_output_opening,
)


def test_chain_is_sha256_of_prev_and_digest():
    prev = b"\x01" * 32
    d = b"\x02" * 32
    assert chain_step(prev, d) == hashlib.sha256(prev + d).digest()
    c = extend_chain(prev, d + d)
    assert c[:32] == chain_step(prev, d)
    assert c[32:] == chain_step(chain_step(prev, d), d)


def test_output_digest_binds_dtype_and_shape():
    a = np.zeros(4, np.float32)
    assert output_digest(a) != output_digest(a.reshape(2, 2))
    assert output_digest(a) != output_digest(a.view(np.int32))
    assert output_digest(a) == output_digest(a.copy())


def test_disagreement_is_monotone_and_prefix_reuse_matches_full_commit():
    rng = np.random.default_rng(0)
    digests = rng.integers(0, 256, size=(50, 32), dtype=np.uint8)
    full = commit(b"g" * 32, digests, list(range(50)))
    for k in (0, 17, 49):
        other = digests.copy()
        other[k, 3] ^= 1
        fresh = commit(b"g" * 32, other, list(range(50)))
        reused = commit(b"g" * 32, other, list(range(50)), prefix=full, start=k)
        np.testing.assert_array_equal(fresh.chain, reused.chain)
        diff = np.any(fresh.chain != full.chain, axis=1)
        assert not diff[:k].any() and diff[k:].all()  # every commitment from k on differs
        assert fresh.first_divergence(full) == k


def test_synthetic_recompute_matches_forward_and_perturbation_starts_divergence():
    g = synthetic_graph(64, seed=2)
    comp = SyntheticComputation(g, seed=5)
    honest = comp.honest_trace
    for k in range(g.n_nodes):
        ins = [honest.output(j) for j in g.inputs_of(k)]
        np.testing.assert_array_equal(comp.recompute(k, ins), honest.output(k))
    tr = comp.trace({20: lambda k, out, ins: out + np.float32(0.5)})
    assert tr.first_divergence(honest) == 20
    # synthetic outputs are their own digests: one hash per node
    np.testing.assert_array_equal(honest.digests, honest.outputs.view(np.uint8).reshape(64, 32))
    with pytest.raises(ValueError, match="numpy"):
        comp.recompute(3, ins[:1], backend="webgpu")


def test_input_opening_verifies_and_rejects_tampering():
    g = synthetic_graph(40, seed=1)
    comp = SyntheticComputation(g)
    tr = comp.honest_trace
    k = 15  # reads node 14 and the residual from node 7
    assert tuple(g.inputs_of(k)) == (7, 14)
    op = make_input_opening(tr, g, k)
    assert op.path.shape == (k - 7, 32) and op.hashes == k - 7 + 1
    verify_input_opening(op, g, tr.commitment(k - 1), comp.digest, node=k)
    with pytest.raises(CommitmentMismatch, match="agreed commitment"):
        verify_input_opening(op, g, tr.commitment(k - 2), comp.digest, node=k)
    fake = type(op)(
        op.node, op.input_nodes, (op.outputs[0] + np.float32(1), op.outputs[1]), op.start_commitment, op.path
    )
    with pytest.raises(CommitmentMismatch, match="node 7"):
        verify_input_opening(fake, g, tr.commitment(k - 1), comp.digest, node=k)
    wrong_nodes = type(op)(op.node, (14,), op.outputs[1:], op.start_commitment, op.path)
    with pytest.raises(CommitmentMismatch, match="graph says"):
        verify_input_opening(wrong_nodes, g, tr.commitment(k - 1), comp.digest, node=k)
    # node 14's inputs opened from a later start commitment also chain to c_14: the verifier's
    # node, not the opening's, decides which inputs are checked
    other = type(op)(14, (13,), (tr.output(14),), tr.commitment(13), tr.digests[14:15].copy())
    with pytest.raises(CommitmentMismatch, match="opening is for node 14, the disputed node is 15"):
        verify_input_opening(other, g, tr.commitment(k - 1), comp.digest, node=k)
    with pytest.raises(ValueError, match="node = 99 is not a node"):
        make_input_opening(tr, g, 99)


def test_output_opening_mismatch_is_a_clear_error():
    prev, d = b"\x00" * 32, b"\x01" * 32
    verify_output_opening(prev, chain_step(prev, d), d)
    with pytest.raises(CommitmentMismatch, match="does not match commitment"):
        verify_output_opening(prev, chain_step(prev, d), b"\x02" * 32)


def test_graph_validation_names_the_problem():
    with pytest.raises(ValueError, match="not an earlier node"):
        graph_from_edges("g", ["a", "b"], ["x", "x"], [[], [1]], [1, 1], [4, 4])
    with pytest.raises(ValueError, match="appears twice"):
        graph_from_edges("g", ["a", "a"], ["x", "x"], [[], [0]], [1, 1], [4, 4])
    with pytest.raises(ValueError, match="ascending"):
        graph_from_edges("g", ["a", "b", "c"], ["x"] * 3, [[], [0], [1, 0]], [1] * 3, [4] * 3)
    g = synthetic_graph(10)
    with pytest.raises(ValueError, match="not a node"):
        g.node_index(10)
    with pytest.raises(ValueError, match="not a node"):
        g.node_index("nope")
    with pytest.raises(ValueError, match="n_nodes"):
        synthetic_graph(0)
    assert isinstance(g, DisputeGraph)


def test_model_computation_commits_the_executor_trace():
    gm = pytest.importorskip("oasis_lab.gpu.model")
    model = gm.load_model("tiny-transformer")
    inputs = gm.example_inputs(model)
    comp = ModelComputation(model, inputs)
    run = gm.run(model, inputs)
    tr = comp.honest_trace
    assert tr.n_nodes == len(model.nodes) == comp.graph.n_nodes
    for k in range(tr.n_nodes):
        assert tr.digests[k].tobytes() == output_digest(run.outputs[k])
    # node-by-node re-execution (used by adversaries) reproduces run() bit for bit
    again = comp._trace_from(0, {}, tr)
    np.testing.assert_array_equal(again.chain, tr.chain)
    # the graph's edges are exactly the node-name inputs
    for k, node in enumerate(model.nodes):
        expected = sorted(model.node_index(x) for x in node.inputs if x in model.node_names)
        assert list(comp.graph.inputs_of(k)) == expected
    # the genesis binds the inputs: other inputs, other genesis
    other = {k: v.copy() for k, v in inputs.items()}
    first = next(iter(other))
    other[first].flat[0] = (other[first].flat[0] + 1) % 2
    assert ModelComputation(model, other).genesis != comp.genesis
