"""Exact mode that convicts no honest provider across engines (issue 20, item 4).

The exact referee's rounding reading (``DisputeParams.exact_reading = "rounding"``, the
default) recomputes the disputed node on every engine it can: a provider whose bits are one
engine's is upheld, one within ``rounding_ulp`` of an engine's at a float node is
``ambiguous`` (and the rest of its trace is checked against the bound, so the change launders
nothing), beyond that it is guilty; ``"strict"`` is the old bitwise reading on one backend.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import numpy as np
import pytest

from oasis_lab.disputes import adversaries as adv
from oasis_lab.disputes.bisection import play
from oasis_lab.disputes.market_referee import MarketReferee
from oasis_lab.disputes.params import DisputeParams
from oasis_lab.disputes.referee import Referee
from oasis_lab.disputes.registry import computation_for

gm = pytest.importorskip("oasis_lab.gpu.model")
from oasis_lab.gpu import backends  # noqa: E402
from oasis_lab.gpu import reference as R  # noqa: E402

DOCS = Path(__file__).resolve().parents[2] / "docs" / "mechanism.md"
NUMPY_ONLY = DisputeParams(referee_engines=("numpy",))


@pytest.fixture(scope="module")
def tiny():
    return computation_for("tiny-transformer")


class _Rounding(backends.Backend):
    """The numpy twins on a device that rounds every float result one ULP up (an engine the
    protocol may list, or not)."""

    name = "rounds-up"

    def ops(self):
        class Ops:
            def __getattr__(self, op):
                fn = getattr(R, op)

                def call(*args, **kwargs):
                    out = np.asarray(fn(*args, **kwargs))
                    return adv.shift_all_ulps(out, 1) if out.dtype.kind == "f" else out

                return call

        return Ops()


@contextlib.contextmanager
def _registered(backend):
    backends.register(backend)
    try:
        yield backend
    finally:
        backends.unregister(backend.name)


@pytest.mark.parametrize("name", ["tiny-transformer", "quantized-mlp", "synthetic:48"])
def test_an_honest_provider_on_other_hardware_is_never_convicted(name):
    comp = computation_for(name)
    trace = comp.honest_trace
    floats = [k for k in range(comp.n_nodes) if np.asarray(trace.output(k)).dtype.kind == "f"]
    nodes = sorted(set(range(0, comp.n_nodes, 7)) | set(floats[:1]) | {comp.n_nodes - 1})
    strict = DisputeParams(arity=3, exact_reading="strict")
    counts = {"rounding": [], "strict": []}
    for k in nodes:
        for ulps in (1, DisputeParams().rounding_ulp):
            provider = adv.OtherDevice(node=k, ulps=ulps)
            for challenger in (adv.Honest(), adv.LyingChallenger(node=k)):
                out = play(comp, provider, challenger, params=DisputeParams(arity=3), record=False)
                counts["rounding"].append(out.verdict)
                if k in floats and isinstance(challenger, adv.Honest):
                    # what device rounding can explain: neither upheld nor convicted
                    assert (out.verdict, out.reason) == ("ambiguous", "within_rounding"), (k, ulps)
            counts["strict"].append(play(comp, provider, adv.Honest(), params=strict, record=False).verdict)
    assert "provider_guilty" not in counts["rounding"]
    # the strict reading convicts the same honest providers wherever a float node rounds
    assert ("provider_guilty" in counts["strict"]) == bool(floats)


def test_a_provider_whose_bits_are_one_engine_s_is_upheld(tiny):
    # a provider on a device that rounds every float node one ULP up: its whole trace is that
    # engine's; the referee that runs the engine upholds it, one that does not finds it within
    # the rounding bound at the first float node (ambiguous), the strict reading convicts it
    from oasis_lab.disputes.computations import ModelComputation

    class OnEngine(adv.Strategy):
        def prepare(self, computation, rng):
            other = ModelComputation(computation.model, computation.inputs, backend="rounds-up",
                                     seed=computation.seed)
            return adv.PartyState(other.honest_trace, computation, rng)

    with _registered(_Rounding()):
        listed = play(tiny, OnEngine(), adv.Honest(), params=DisputeParams(referee_engines=("numpy", "rounds-up")))
        assert (listed.verdict, listed.reason) == ("challenger_wrong", "referee")
        assert "rounds-up engine" in listed.ruling.detail
        unlisted = play(tiny, OnEngine(), adv.Honest(), params=NUMPY_ONLY)
        assert (unlisted.verdict, unlisted.reason) == ("ambiguous", "within_rounding")
        strict = play(tiny, OnEngine(), adv.Honest(), params=DisputeParams(exact_reading="strict"))
        assert strict.verdict == "provider_guilty"
        # an engine the computation cannot run is skipped, not an error (a synthetic computation
        # runs on numpy only)
        assert Referee(engines=("numpy", "rounds-up")).engines_for(computation_for("synthetic:8")) == ("numpy",)
        assert Referee(engines=("numpy", "rounds-up")).engines_for(tiny) == ("numpy", "rounds-up")
    assert Referee(engines=("numpy", "no-such-engine")).engines_for(tiny) == ("numpy",)


def test_the_rounding_bound_and_the_discrete_nodes(tiny):
    bound = DisputeParams().rounding_ulp
    k = 30
    for ulps, want in ((1, "ambiguous"), (bound, "ambiguous"), (bound + 1, "provider_guilty")):
        out = play(tiny, adv.BelowTolerance(node=k, ulps=ulps), adv.Honest())
        assert out.verdict == want and out.ruling.max_ulp_provider == ulps, (ulps, out.reason)
    # rounding_ulp = 0 excuses nothing; a discrete node never rounds (one unit away: guilty)
    out = play(tiny, adv.BelowTolerance(node=k, ulps=1), adv.Honest(), params=DisputeParams(rounding_ulp=0))
    assert out.verdict == "provider_guilty"
    token = tiny.graph.node_index("next_token")
    out = play(tiny, adv.BelowTolerance(node=token), adv.Honest())
    assert (out.verdict, out.disputed_node) == ("provider_guilty", token)
    assert "discrete output does not round" in out.ruling.detail
    # the provider opens the disputed output: a mismatched opening loses
    class WrongOpening(adv.BelowTolerance):
        def open_output(self, state, k):
            return adv.perturb_element(state.trace.output(k))

    out = play(tiny, WrongOpening(node=k), adv.Honest())
    assert (out.verdict, out.reason) == ("provider_guilty", "failed_opening")


def test_an_honest_market_referee_on_another_device_rules_as_the_trusted_stack():
    # the rounding reading rests on the protocol's engines, which every honest referee runs
    # alike: its own device's rounding does not enter (it does in the strict reading)
    comp = computation_for("synthetic:40")
    rounding_ref = MarketReferee(name="m", rounding_ulps=2)
    for name, params in (("perturb", DisputeParams()), ("other-device", DisputeParams()),
                         ("below-tolerance", DisputeParams()), ("wrong-after", DisputeParams())):
        from oasis_lab.disputes.registry import ADVERSARIES

        provider, challenger = ADVERSARIES[name](13)
        trusted = play(comp, provider, challenger, params=params, record=False)
        market = play(comp, provider, challenger, params=params, record=False, referee=rounding_ref)
        assert (market.verdict, market.reason) == (trusted.verdict, trusted.reason), name
    strict = DisputeParams(exact_reading="strict")
    provider, challenger = ADVERSARIES["perturb"](13)
    from dataclasses import replace

    ruled = play(comp, provider, challenger, params=strict, record=False,
                 referee=replace(rounding_ref, exact_reading="strict"))
    assert ruled.verdict == "ambiguous"  # strict: its device agrees with neither party


def test_bad_readings_are_named():
    with pytest.raises(ValueError, match="exact_reading = 'lenient' must be one of"):
        DisputeParams(exact_reading="lenient")
    with pytest.raises(ValueError, match="rounding_ulp = -1 must be >= 0"):
        DisputeParams(rounding_ulp=-1)
    with pytest.raises(TypeError, match="referee_engines must be a tuple of backend names, got 'numpy'"):
        DisputeParams(referee_engines="numpy")
    with pytest.raises(TypeError, match="referee_engines must hold backend names"):
        DisputeParams(referee_engines=("numpy", ""))
    assert DisputeParams(referee_engines=["numpy"]).referee_engines == ("numpy",)  # a config file's list
    assert Referee.from_params(DisputeParams(rounding_ulp=7)).rounding_ulp == 7


def test_the_fault_proof_checks_count_no_honest_conviction_and_no_laundered_cheat():
    """The done-when of issue 20: over the adversary matrix of both shipped models (exact and
    tolerance) and the simulation's other-hardware configuration, 0 honest providers convicted
    and 0 laundered cheats escaped; the strict reading, for contrast, convicts."""
    from oasis_lab.experiments import run
    from oasis_lab.experiments.disputes import AdversaryMatrix
    from oasis_lab.sim import load_config, simulate

    honest_convicted = laundered_escaped = 0
    for model in gm.MODEL_NAMES:
        frame = run(AdversaryMatrix(model=model), 0)
        honest_convicted += int((frame["provider_honest"] & (frame["verdict"] == "provider_guilty")).sum())
        launder = frame[frame["matchup"].str.startswith("launder")]
        laundered_escaped += int((launder["verdict"] != "provider_guilty").sum())
        assert len(launder) == 2
    size = {"rounds": 8, "tasks_per_round": 200, "n_providers": 30}
    config = load_config("other_hardware.toml", **size)
    hardware = {reading: simulate(config.replace(disputes=config.disputes.replace(exact_reading=reading)), 0)
                for reading in ("rounding", "strict")}
    tolerance = simulate(config.replace(disputes=config.disputes.replace(comparison="tolerance")), 0)
    for res in (hardware["rounding"], tolerance):
        honest_convicted += int(res.rounds["false_convictions"].sum())
    assert (honest_convicted, laundered_escaped) == (0, 0)
    assert hardware["rounding"].rounds["ambiguous"].sum() > 0  # the disputes happened
    assert hardware["strict"].rounds["false_convictions"].sum() > 0


def test_cheats_that_save_compute_land_far_beyond_the_rounding_bound():
    from oasis_lab.experiments.disputes import cheat_margins

    bound = DisputeParams().rounding_ulp
    frame = cheat_margins(every=3).set_index("cheat")
    assert (frame["cheats"] > 0).all() and (frame["at_float"] > 0).all()
    assert (frame["min_ulp"] > 1000 * bound).all(), frame
    docs = " ".join(DOCS.read_text().split())
    row = frame.loc["half precision"]
    said = f"half precision (the cheapest precision cut) moves the first node it changes by {row['min_ulp']:,.0f} ULPs"
    assert said in docs
    others = frame.drop(index="half precision")["min_ulp"].min()
    assert re.search(rf"at least {others / 1e6:,.0f} million ULPs", docs), others


def test_the_rounding_reading_opens_the_provider_s_output_and_the_docs_say_how_much():
    from oasis_lab.disputes.bisection import run_dispute
    from oasis_lab.disputes.economics import dispute_costs
    from oasis_lab.disputes.graph import synthetic_graph

    # the played game opens the cheater's output of the disputed node on top of its inputs
    graph = synthetic_graph(30)
    for reading, extra in (("rounding", 32), ("strict", 0)):
        out = run_dispute(graph, provider=adv.PerturbNode(node=12), params=DisputeParams(exact_reading=reading))
        costs = dispute_costs(graph, 2, [12], open_output=reading == "rounding")
        assert out.bytes_opened == costs.bytes_opened[0] == graph.opened_input_bytes[12] + extra
    docs = " ".join(DOCS.read_text().split())
    worst = {m: dispute_costs(computation_for(m).graph, 2).bytes_opened.max() for m in ("llama-2-7b", "sdxl-base-1.0")}
    assert f"up to {worst['llama-2-7b'] / 1e6:.0f} MB (Llama's `lm_head`" in docs
    assert f"and {worst['sdxl-base-1.0'] / 1e9:.1f} GB (SDXL's VAE mid-block softmax" in docs
