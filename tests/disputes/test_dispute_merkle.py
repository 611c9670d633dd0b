"""Fast hashing and the Merkle commitment (issue 15): the compiled SHA-256 gives hashlib's bits,
Merkle commitments bind prefixes, openings are O(log n) and checked by the referee, and every
dispute reaches the verdict it reaches over the hash chain."""

import hashlib

import numpy as np
import pytest

from oasis_lab.disputes import adversaries as adv
from oasis_lab.disputes import hashing
from oasis_lab.disputes import trace as tr
from oasis_lab.disputes.bisection import play, run_dispute
from oasis_lab.disputes.graph import graph_from_edges, synthetic_graph
from oasis_lab.disputes.params import DisputeParams
from oasis_lab.disputes.profiles import profile_graph
from oasis_lab.disputes.trace import (
    CommitmentMismatch,
    InputOpening,
    SyntheticComputation,
    chain_step,
    commit,
    extend_chain,
    make_input_opening,
    merkle_commitments,
    merkle_depth,
    merkle_opening_hashes,
    verify_input_opening,
)

gm = pytest.importorskip("oasis_lab.gpu.model")


def sha(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def reference_merkle(genesis: bytes, digests: list[bytes], depth: int) -> list[bytes]:
    """c_k from the definition, one whole tree per prefix (no frontier)."""
    zero = [sha(b"oasis-lab merkle empty leaf v1")]
    for _ in range(depth):
        zero.append(sha(zero[-1] + zero[-1]))

    def root(leaves: list[bytes]) -> bytes:
        level = list(leaves)
        for h in range(depth):
            if len(level) % 2:
                level.append(zero[h])
            level = [sha(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
        return level[0] if level else zero[depth]

    return [sha(sha(genesis + root(digests[:k])) + digests[k]) for k in range(len(digests))]


@pytest.fixture
def python_sha(monkeypatch):
    monkeypatch.setattr(hashing, "_SHA", False)


def test_compiled_sha256_is_hashlib(monkeypatch):
    rng = np.random.default_rng(0)
    digests = rng.integers(0, 256, size=(300, 32), dtype=np.uint8).tobytes()
    g = sha(b"genesis")
    compiled_chain = extend_chain(g, digests)
    compiled_merkle = merkle_commitments(g, digests)
    monkeypatch.setattr(hashing, "_SHA", False)
    assert extend_chain(g, digests) == compiled_chain
    assert merkle_commitments(g, digests) == compiled_merkle
    prev, expected = g, []
    for i in range(0, len(digests), 32):
        prev = sha(prev + digests[i : i + 32])
        expected.append(prev)
    assert compiled_chain == b"".join(expected)


def test_compiled_path_is_found_here():
    # this machine's Python links OpenSSL: the fast path must be the one running
    assert hashing.COMPILED_SHA256


@pytest.mark.parametrize("n", [1, 2, 3, 8, 13, 64])
def test_merkle_commitments_follow_the_definition(n):
    rng = np.random.default_rng(n)
    digests = [rng.integers(0, 256, 32, dtype=np.uint8).tobytes() for _ in range(n)]
    g = sha(b"g")
    want = reference_merkle(g, digests, merkle_depth(n))
    assert merkle_commitments(g, b"".join(digests)) == b"".join(want)


def test_merkle_disagreement_is_monotone_and_prefix_reuse_matches():
    rng = np.random.default_rng(1)
    digests = rng.integers(0, 256, size=(50, 32), dtype=np.uint8)
    full = commit(b"g" * 32, digests, list(range(50)), commitment="merkle")
    for k in (0, 17, 49):
        other = digests.copy()
        other[k, 3] ^= 1
        fresh = commit(b"g" * 32, other, list(range(50)), commitment="merkle")
        reused = commit(b"g" * 32, other, list(range(50)), prefix=full, start=k, commitment="merkle")
        np.testing.assert_array_equal(fresh.chain, reused.chain)
        diff = np.any(fresh.chain != full.chain, axis=1)
        assert not diff[:k].any() and diff[k:].all()
    with pytest.raises(ValueError, match="commitment"):
        commit(b"g" * 32, digests, list(range(50)), commitment="tree")
    chain = commit(b"g" * 32, digests, list(range(50)))
    with pytest.raises(ValueError, match="commitment"):
        commit(b"g" * 32, digests, list(range(50)), prefix=chain, start=3, commitment="merkle")


@pytest.mark.parametrize("use_python", [False, True])
def test_every_merkle_opening_verifies_and_extends_to_its_commitment(monkeypatch, use_python):
    if use_python:
        monkeypatch.setattr(hashing, "_SHA", False)
    for comp in (SyntheticComputation(synthetic_graph(77, seed=3), seed=2, commitment="merkle"),
                 SyntheticComputation(skip_graph(), seed=2, commitment="merkle")):
        check_all_openings(comp)


def check_all_openings(comp):
    trace = comp.honest_trace
    g = comp.graph
    for k in range(g.n_nodes):
        op = make_input_opening(trace, g, k)
        acc = verify_input_opening(op, g, trace.commitment(k - 1), comp.digest, node=k,
                                   commitment="merkle", genesis=comp.genesis)
        # the referee's exact rule is chain_step from the returned accumulator
        assert chain_step(acc, trace.digests[k].tobytes()) == trace.commitment(k)
        assert op.hashes == merkle_opening_hashes(g, k)
        assert op.hashes <= 3 * (merkle_depth(g.n_nodes) - 1) + 1


def skip_graph(n: int = 60):
    """Each node reads node k - 2 and node k // 3 (never k - 1): openings send d_{k-1}."""
    inputs = [[] if k < 2 else sorted({k - 2, k // 3}) for k in range(n)]
    return graph_from_edges("skips", [f"n{k}" for k in range(n)], ["op"] * n, inputs,
                            np.ones(n), np.full(n, 32))


def test_tampered_merkle_openings_are_refused():
    comp = SyntheticComputation(skip_graph(), seed=1, commitment="merkle")
    trace, g = comp.honest_trace, comp.graph
    k = 47
    op = make_input_opening(trace, g, k)
    agreed = trace.commitment(k - 1)

    def check(opening, agreed=agreed, node=k):
        verify_input_opening(opening, g, agreed, comp.digest, node=node,
                             commitment="merkle", genesis=comp.genesis)

    check(op)
    path = op.path.copy()
    path[0, 0] ^= 1
    bad_outputs = tuple(np.asarray(o) + np.float32(1) for o in op.outputs)
    cases = [
        InputOpening(k, op.input_nodes, op.outputs, op.start_commitment, path),
        InputOpening(k, op.input_nodes, op.outputs, op.start_commitment, op.path[:-1]),
        InputOpening(k, op.input_nodes, op.outputs, op.start_commitment,
                     np.vstack([op.path, op.path[:1]])),
        InputOpening(k, op.input_nodes, bad_outputs, op.start_commitment, op.path),
        InputOpening(k, op.input_nodes, op.outputs, b"\x00" * 32, op.path),
        InputOpening(k, op.input_nodes, op.outputs, b"", op.path),
    ]
    for bad in cases:
        with pytest.raises(CommitmentMismatch):
            check(bad)
    with pytest.raises(CommitmentMismatch):
        check(op, agreed=trace.commitment(k - 2))
    with pytest.raises(CommitmentMismatch):
        check(make_input_opening(trace, g, k - 1))  # another node's opening


def test_sdxl_worst_opening_is_logarithmic():
    graph = profile_graph("sdxl-base-1.0")
    depth = merkle_depth(graph.n_nodes)
    worst = max(merkle_opening_hashes(graph, k) for k in range(graph.n_nodes))
    assert depth == 16 and worst < 32, worst
    # against the chain: a late node reading an early input opens almost the whole trace
    j = [k - int(graph.inputs_of(k)[0]) + 1 for k in range(graph.n_nodes) if len(graph.inputs_of(k))]
    assert max(j) > 1000 * worst


CHEATS = [
    lambda n: adv.PerturbNode(node=0),
    lambda n: adv.PerturbNode(node=1),
    lambda n: adv.PerturbNode(node=n // 2),
    lambda n: adv.PerturbNode(node=n - 1),
    lambda n: adv.SkipNode(node=n // 3),
    lambda n: adv.ModelSwap(),
    lambda n: adv.WrongAfter(node=n // 4),
    lambda n: adv.Equivocator(node=n // 2),
    lambda n: adv.Equivocator(node=n // 2, mode="inputs"),
    lambda n: adv.Timeout(base=adv.PerturbNode(node=5), at_round=2),
]
LIARS = [
    lambda n: adv.LyingChallenger(node=n // 3),
    lambda n: adv.RandomChallenger(),
    lambda n: adv.FakeFinalChallenger(),
]


@pytest.mark.parametrize("comparison", ["exact", "tolerance"])
def test_merkle_disputes_reach_the_chain_verdicts(comparison):
    model = gm.load_model("tiny-transformer")
    for make_comp in (
        lambda c: SyntheticComputation(synthetic_graph(97, seed=4), seed=1, commitment=c),
        lambda c: tr.ModelComputation(model, gm.example_inputs(model), commitment=c),
    ):
        chain, merkle = make_comp("chain"), make_comp("merkle")
        n = chain.n_nodes
        for arity in (2, 5):
            pc = DisputeParams(arity=arity, comparison=comparison)
            pm = pc.replace(commitment="merkle")
            pairs = [(make(n), adv.Honest()) for make in CHEATS]
            pairs += [(adv.Honest(), make(n)) for make in LIARS]
            for provider, challenger in pairs:
                a = play(chain, provider, challenger, params=pc, seed=3)
                b = play(merkle, provider, challenger, params=pm, seed=3)
                assert (a.verdict, a.reason, a.disputed_node, a.rounds) == (
                    b.verdict, b.reason, b.disputed_node, b.rounds
                ), (provider.label, challenger.label)


def test_commitment_parameter_reaches_the_computation():
    out = run_dispute(synthetic_graph(50), provider=adv.PerturbNode(node=20),
                      params=DisputeParams(commitment="merkle"))
    assert out.disputed_node == 20 and out.verdict == "provider_guilty"
    comp = SyntheticComputation(synthetic_graph(50), commitment="merkle")
    with pytest.raises(ValueError, match="commitment"):
        play(comp, adv.PerturbNode(node=3), adv.Honest(), params=DisputeParams())
    with pytest.raises(ValueError, match="commitment"):
        DisputeParams(commitment="tree")
    with pytest.raises(ValueError, match="commitment"):
        SyntheticComputation(synthetic_graph(50), commitment="tree")
