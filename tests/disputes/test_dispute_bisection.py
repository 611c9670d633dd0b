"""The k-way bisection game: it names exactly the cheated node within ceil(log_k n) rounds,
convicts every cheater and never an honest provider (section 5)."""

import math
from dataclasses import dataclass

import numpy as np
import pytest

from oasis_lab.disputes import adversaries as adv
from oasis_lab.disputes.bisection import (
    max_rounds,
    play,
    run_dispute,
    run_disputes,
    split_points,
)
from oasis_lab.disputes.economics import dispute_costs
from oasis_lab.disputes.graph import synthetic_graph
from oasis_lab.disputes.params import DisputeParams
from oasis_lab.disputes.referee import Referee
from oasis_lab.disputes.trace import InputOpening, SyntheticComputation

gm = pytest.importorskip("oasis_lab.gpu.model")

_TRACES: dict = {}


@dataclass(frozen=True)
class CachedPerturb(adv.PerturbNode):
    """PerturbNode whose trace is computed once per (computation, node), reused across arities."""

    def prepare(self, computation, rng):
        key = (id(computation), self.node)
        if key not in _TRACES:
            _TRACES[key] = super().prepare(computation, rng).trace
        return adv.PartyState(_TRACES[key], computation, rng)


@pytest.fixture(scope="module")
def tiny():
    model = gm.load_model("tiny-transformer")
    from oasis_lab.disputes.trace import ModelComputation

    return ModelComputation(model, gm.example_inputs(model))


@pytest.fixture(scope="module")
def synth():
    return SyntheticComputation(synthetic_graph(97, seed=4), seed=1)


def test_round_bound_known_answers():
    assert [max_rounds(n, 2) for n in (1, 2, 3, 4, 5, 61, 64, 65, 1000)] == [0, 1, 2, 2, 3, 6, 6, 7, 10]
    assert max_rounds(61, 4) == 3 and max_rounds(64, 4) == 3 and max_rounds(65, 4) == 4
    assert max_rounds(1000, 10) == 3 and max_rounds(1001, 10) == 4
    for n in range(1, 300):
        for a in (2, 3, 7):
            assert max_rounds(n, a) == math.ceil(round(math.log(n, a), 9))


def test_split_points_known_answers():
    np.testing.assert_array_equal(split_points(0, 9, 2), [4])
    np.testing.assert_array_equal(split_points(0, 9, 3), [3, 6])  # parts 4, 3, 3
    np.testing.assert_array_equal(split_points(5, 7, 8), [5, 6])  # arity capped at the size
    with pytest.raises(ValueError, match="fewer than two"):
        split_points(3, 3, 2)


def test_every_cheat_node_every_arity_tiny_transformer(tiny):
    n = tiny.n_nodes
    for k in range(n):
        for arity in range(2, 9):
            out = play(tiny, CachedPerturb(node=k), adv.Honest(), params=DisputeParams(arity=arity), record=False)
            assert out.disputed_node == k, (k, arity)
            assert out.verdict == "provider_guilty" and out.reason == "referee"
            assert out.rounds <= math.ceil(math.log(n, arity) - 1e-12) == out.max_rounds


def test_every_cheat_node_every_arity_synthetic_and_costs_match(synth):
    n = synth.n_nodes
    for arity in range(2, 9):
        batch = run_disputes(synth, [(adv.PerturbNode(node=k), adv.Honest()) for k in range(n)], arity=arity)
        np.testing.assert_array_equal(batch.disputed_node, np.arange(n))
        assert batch.convicted.all() and batch.rounds.max() <= max_rounds(n, arity)
        # the vectorised cost model replays exactly the played game
        costs = dispute_costs(synth.graph, arity)
        np.testing.assert_array_equal(costs.rounds, batch.rounds)
        np.testing.assert_array_equal(costs.hashes_exchanged, batch.hashes_exchanged)
        np.testing.assert_array_equal(costs.bytes_opened, batch.bytes_opened)
        np.testing.assert_allclose(costs.referee_flops, batch.referee_flops)


def test_hand_counted_transcript(synth):
    # n = 97, arity 4: [0,96] -> parts 25,24,24,24 -> node 30 is in part 1 = [25,48]
    out = play(synth, adv.PerturbNode(node=30), adv.Honest(), params=DisputeParams(arity=4))
    first = out.transcript[1]
    assert first.split_points == (24, 48, 72) and first.part == 1 and (first.new_lo, first.new_hi) == (25, 48)
    assert out.disputed_node == 30 and out.rounds == 3
    # 2 finals + 3 rounds x (3 reveals + 1 claim unless the last part was picked) + opening
    picked_last = sum(r.part == len(r.split_points) for r in out.transcript[1:])
    opening = 1 + 1  # node 30 reads node 29: one path digest + the start commitment
    assert out.hashes_exchanged == 2 + 3 * 3 + (3 - picked_last) + opening


PROVIDER_CHEATS = [
    lambda n: adv.PerturbNode(node=n // 3),
    lambda n: adv.SkipNode(node=n // 2),
    lambda n: adv.ModelSwap(),
    lambda n: adv.WrongAfter(node=n // 4),
    lambda n: adv.BelowTolerance(node=n - 1),
    lambda n: adv.Launder(small_node=3, big_node=n - 2),
    lambda n: adv.Equivocator(node=n // 2),
    lambda n: adv.Equivocator(node=n // 2, mode="inputs"),
    lambda n: adv.Timeout(base=adv.PerturbNode(node=5), at_round=2),
]


@pytest.mark.parametrize("reading", ["rounding", "strict"])
@pytest.mark.parametrize("arity", [2, 5])
def test_every_cheater_is_convicted_exact_mode(tiny, synth, arity, reading):
    params = DisputeParams(arity=arity, exact_reading=reading)
    for comp in (tiny, synth):
        for make in PROVIDER_CHEATS:
            cheat = make(comp.n_nodes)
            out = play(comp, cheat, adv.Honest(), params=params)
            assert out.rounds <= out.max_rounds
            at_float = isinstance(cheat, adv.BelowTolerance) and (
                comp.honest_trace.output(comp.graph.node_index(cheat.node)).dtype.kind == "f")
            if reading == "rounding" and at_float:
                # one ULP at a float node: what device rounding can explain, never upheld (the
                # tiny transformer's last node is the sampled token: discrete, compared exactly)
                assert (out.verdict, out.reason) == ("ambiguous", "within_rounding"), (comp.name, out.reason)
                continue
            assert out.verdict == "provider_guilty", (comp.name, cheat.label, out.reason)
            if isinstance(cheat, adv.Launder):
                # the rounding reading looks past the 1-ULP change to the real cheat
                assert out.disputed_node == (comp.n_nodes - 2 if reading == "rounding" else 3)


def test_gross_cheaters_are_convicted_in_tolerance_mode_too(tiny, synth):
    # every cheat but BelowTolerance (a few ULPs, accepted by design) is far outside 4 ULP
    # at some node, checked against its own inputs: the laundered cheat included
    tol = DisputeParams(arity=3, comparison="tolerance", max_ulp=4)
    for comp in (tiny, synth):
        for make in PROVIDER_CHEATS:
            cheat = make(comp.n_nodes)
            if isinstance(cheat, adv.BelowTolerance):
                continue
            out = play(comp, cheat, adv.Honest(), params=tol)
            assert out.verdict == "provider_guilty", (comp.name, cheat.label, out.reason)


def test_disputed_node_of_structured_cheats(tiny):
    n = tiny.n_nodes
    honest = tiny.honest_trace
    assert play(tiny, adv.WrongAfter(node=20), adv.Honest()).disputed_node == 21
    swapped = tiny.substitute().honest_trace
    first = int(np.argmax(np.any(swapped.digests != honest.digests, axis=1)))
    assert play(tiny, adv.ModelSwap(), adv.Honest()).disputed_node == first
    # a reveal-equivocator steers the dispute to the last node and is caught there
    out = play(tiny, adv.Equivocator(node=10), adv.Honest())
    assert out.disputed_node == n - 1 and out.verdict == "provider_guilty"
    out = play(tiny, adv.Equivocator(node=10, mode="inputs"), adv.Honest())
    assert out.disputed_node == 10 and out.reason == "failed_opening"
    out = play(tiny, adv.Timeout(base=adv.PerturbNode(node=5), at_round=2), adv.Honest())
    assert out.reason == "timeout" and out.rounds == 2


LYING_CHALLENGERS = [
    lambda n: adv.LyingChallenger(node=n // 3),
    lambda n: adv.LyingChallenger(node=0),
    lambda n: adv.RandomChallenger(),
    lambda n: adv.FakeFinalChallenger(),
    lambda n: adv.Timeout(base=adv.LyingChallenger(node=n // 2), at_round=1),
]


@pytest.mark.parametrize("comparison", ["exact", "tolerance"])
def test_honest_provider_is_never_convicted(tiny, synth, comparison):
    params = DisputeParams(arity=3, comparison=comparison)
    for comp in (tiny, synth):
        for make in LYING_CHALLENGERS:
            for seed in range(3):
                liar = make(comp.n_nodes)
                out = play(comp, adv.Honest(), liar, params=params, seed=seed)
                assert out.verdict == "challenger_wrong", (comp.name, liar.label, out.reason)
        # an honest challenger of an honest provider has nothing to dispute
        out = play(comp, adv.Honest(), adv.Honest(), params=params)
        assert out.reason == "no_disagreement" and out.disputed_node == -1


def test_tolerance_mode_readings(tiny):
    tol = DisputeParams(comparison="tolerance", max_ulp=4)
    k = 30
    # a few ULPs: strict exact convicts, exact within the rounding bound gives ambiguous,
    # tolerance upholds (the reading's purpose: other devices)
    strict = DisputeParams(exact_reading="strict")
    assert play(tiny, adv.BelowTolerance(node=k, ulps=2), adv.Honest(), params=strict).verdict == "provider_guilty"
    assert play(tiny, adv.BelowTolerance(node=k, ulps=2), adv.Honest()).verdict == "ambiguous"
    assert play(tiny, adv.BelowTolerance(node=k, ulps=5), adv.Honest()).verdict == "provider_guilty"
    assert play(tiny, adv.BelowTolerance(node=k, ulps=2), adv.Honest(), params=tol).verdict == "challenger_wrong"
    out = play(tiny, adv.OtherDevice(node=k), adv.Honest(), params=tol)
    # every node agrees with its own inputs: the challenger has no node to dispute
    assert out.verdict == "challenger_wrong" and out.reason == "no_disagreement"
    assert play(tiny, adv.PerturbNode(node=k), adv.Honest(), params=tol).verdict == "provider_guilty"
    # laundering: the first divergence from an honest run is within tolerance; node 40,
    # checked against the provider's own (1-ULP-shifted) inputs, is not
    out = play(tiny, adv.Launder(small_node=5, big_node=40), adv.Honest(), params=tol)
    assert out.disputed_node == 40 and out.verdict == "provider_guilty" and out.reason == "referee"
    assert play(tiny, adv.Launder(small_node=5, big_node=40), adv.Honest(), params=strict).disputed_node == 5
    out = play(tiny, adv.Launder(small_node=5, big_node=40), adv.Honest())
    assert (out.verdict, out.disputed_node) == ("provider_guilty", 40)


def test_referee_agreeing_with_neither_is_ambiguous(synth):
    # provider and challenger both wrong at the same node, differently
    out = play(synth, adv.PerturbNode(node=40, scale=0.01), adv.LyingChallenger(node=40, scale=0.02))
    assert out.disputed_node == 40 and out.verdict == "ambiguous"
    assert out.ruling.provider_agrees is False and out.ruling.challenger_agrees is False


def test_bad_inputs_are_clear_errors(synth):
    with pytest.raises(ValueError, match="arity = 1 must be >= 2"):
        run_dispute(synth, provider=adv.PerturbNode(node=3), arity=1)
    with pytest.raises(ValueError, match="node = 500 is not a node"):
        play(synth, adv.PerturbNode(node=500), adv.Honest())
    with pytest.raises(ValueError, match="is not a node"):
        play(synth, adv.PerturbNode(node="no-such-layer"), adv.Honest())
    with pytest.raises(ValueError, match="comparison"):
        Referee(comparison="close-enough")
    with pytest.raises(TypeError, match="model must be"):
        run_dispute(3.5)
    with pytest.raises(ValueError, match="last node"):
        play(synth, adv.WrongAfter(node=synth.n_nodes - 1), adv.Honest())
    with pytest.raises(ValueError, match="arity = 1 must be >= 2"):
        split_points(0, 9, 1)
    with pytest.raises(TypeError, match="arity must be an integer"):
        max_rounds(10, 2.5)
    with pytest.raises(TypeError, match="params must be DisputeParams"):
        play(synth, adv.Honest(), adv.Honest(), params={"arity": 1})
    with pytest.raises(TypeError, match="referee must be a Referee"):
        play(synth, adv.Honest(), adv.Honest(), referee="numpy")
    with pytest.raises(TypeError, match="max_ulp must be an integer"):
        Referee(comparison="tolerance", max_ulp=1.5)
    with pytest.raises(TypeError, match="atol"):
        Referee(atol="small")
    with pytest.raises(TypeError, match="nodes must be integer"):
        dispute_costs(synth.graph, 2, [1.5])
    with pytest.raises(ValueError, match=r"nodes must be non-empty and in \[0, 96\]"):
        dispute_costs(synth.graph, 2, [97])


def test_malformed_answers_lose(synth):
    @dataclass(frozen=True)
    class Garbled(adv.PerturbNode):
        def reveal(self, state, nodes, round_no):
            if round_no == 1:
                return adv.Reply(np.zeros((len(nodes), 31), np.uint8))
            return super().reveal(state, nodes, round_no)

    @dataclass(frozen=True)
    class BadPick(adv.LyingChallenger):
        def choose(self, state, nodes, revealed, round_no):
            return adv.Choice(99, None)

    @dataclass(frozen=True)
    class OpensOtherNode(adv.PerturbNode):
        # opens node k - 1's inputs, whose path from c_{k-2} also ends at the agreed c_{k-1}
        def open_inputs(self, state, k):
            tr = state.trace
            return InputOpening(
                k - 1, (k - 2,), (tr.output(k - 1),), tr.commitment(k - 2), tr.digests[k - 1 : k].copy()
            )

    @dataclass(frozen=True)
    class NoOpening(adv.PerturbNode):
        def open_inputs(self, state, k):
            return None

    out = play(synth, Garbled(node=4), adv.Honest())
    assert (out.verdict, out.reason) == ("provider_guilty", "malformed")
    assert tuple(synth.graph.inputs_of(15)) == (7, 14)  # two inputs; the fake opens one
    out = play(synth, OpensOtherNode(node=15), adv.Honest())
    assert (out.disputed_node, out.verdict, out.reason) == (15, "provider_guilty", "failed_opening")
    out = play(synth, NoOpening(node=15), adv.Honest())
    assert (out.verdict, out.reason) == ("provider_guilty", "malformed")
    out = play(synth, adv.Honest(), BadPick(node=4))
    assert (out.verdict, out.reason) == ("challenger_wrong", "malformed")


def test_run_dispute_on_model_name_and_batch_summary():
    out = run_dispute("quantized-mlp", provider=adv.PerturbNode(node="fc2"), arity=2)
    assert out.disputed_name == "fc2" and out.verdict == "provider_guilty"
    assert set(out.summary()) >= {"rounds", "hashes_exchanged", "referee_flops_share", "verdict"}
    assert len(out.to_frame()) == out.rounds + 1


def test_webgpu_referee_and_provider_agree_with_numpy(gpu):
    from oasis_lab.disputes.bisection import as_computation

    numpy_comp = as_computation("tiny-transformer")
    webgpu_comp = as_computation("tiny-transformer", backend="webgpu")
    # same bits on both backends, so the traces' commitments are equal
    np.testing.assert_array_equal(webgpu_comp.honest_trace.chain, numpy_comp.honest_trace.chain)
    params = DisputeParams(arity=4, referee_backend="webgpu")
    for k in (0, 7, 33, numpy_comp.n_nodes - 1):
        out = play(webgpu_comp, adv.PerturbNode(node=k), adv.Honest(), params=params)
        assert (out.disputed_node, out.verdict) == (k, "provider_guilty")
    assert play(numpy_comp, adv.Honest(), adv.LyingChallenger(node=20), params=params).verdict == "challenger_wrong"


def test_shift_ulps_equals_repeated_nextafter():
    def brute(x, n):
        for _ in range(n):
            x = np.nextafter(x, x.dtype.type(np.inf))
        return x

    with np.errstate(over="ignore"):
        for dt in (np.float16, np.float32, np.float64):
            tiny = np.nextafter(dt(0), dt(1))
            big = np.finfo(dt).max
            for v in (dt(1), dt(-1), -tiny, -3 * tiny, dt(-0.0), dt(0), dt(np.inf), -dt(np.inf), big, -big, dt(np.nan)):
                for n in (1, 2, 3, 7):
                    got = adv.shift_ulps(np.array([dt(5), v], dtype=dt), n, element=1)
                    assert got.tobytes() == np.array([dt(5), brute(v, n)], dtype=dt).tobytes(), (dt, v, n)
    # O(1): a huge shift saturates at +inf at once
    assert adv.shift_ulps(np.float32([1.0]), 10**12)[0] == np.inf
    with pytest.raises(ValueError, match="ulps = 0 must be an integer >= 1"):
        adv.shift_ulps(np.float32([1.0]), 0)
