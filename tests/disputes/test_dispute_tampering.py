"""Malformed messages lose the dispute (issue 21, item 7): whatever a party sends (a tampered
opening, a reply or a choice of the wrong type, an output that is no array), the game ends
with that party losing, never with an exception out of ``play`` or a stalled dispute. Every
kind of tampering x both commitment schemes x both comparisons x the shipped models."""

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pytest

from oasis_lab.disputes import adversaries as adv
from oasis_lab.disputes.adversaries import Choice, PartyState, Reply, Strategy
from oasis_lab.disputes.bisection import play
from oasis_lab.disputes.computations import SyntheticComputation
from oasis_lab.disputes.graph import synthetic_graph
from oasis_lab.disputes.params import DisputeParams

gm = pytest.importorskip("oasis_lab.gpu.model")

#: How a provider's opening is tampered with (the rest of its play is a cheat's, so an
#: honest challenger takes it to the referee).
OPENING_TAMPERING = {
    "start commitment None": lambda o: replace(o, start_commitment=None),
    "start commitment str": lambda o: replace(o, start_commitment="c" * 32),
    # empty where the opening needs one, 32 bytes where it must send none
    "start commitment empty or extra": lambda o: replace(
        o, start_commitment=b"" if o.start_commitment else bytes(32)),
    "start commitment 33 bytes": lambda o: replace(o, start_commitment=bytes(33)),
    "start commitment bytearray": lambda o: replace(o, start_commitment=bytearray(32)),
    "outputs None": lambda o: replace(o, outputs=None),
    "outputs str": lambda o: replace(o, outputs="outputs"),
    "outputs of None": lambda o: replace(o, outputs=tuple(None for _ in o.outputs)),
    "outputs one too many": lambda o: replace(o, outputs=(*o.outputs, *o.outputs[:1])),
    "outputs as bytes": lambda o: replace(o, outputs=tuple(x.tobytes() for x in o.outputs)),
    "outputs as lists": lambda o: replace(o, outputs=tuple(x.tolist() for x in o.outputs)),
    "outputs of objects": lambda o: replace(o, outputs=tuple(x.astype(object) for x in o.outputs)),
    "outputs a generator": lambda o: replace(o, outputs=(x for x in o.outputs)),
    "path None": lambda o: replace(o, path=None),
    "path bytes": lambda o: replace(o, path=np.asarray(o.path).tobytes()),
    "path list": lambda o: replace(o, path=np.asarray(o.path).tolist()),
    "path float": lambda o: replace(o, path=np.asarray(o.path, dtype=np.float64)),
    "path flat": lambda o: replace(o, path=np.asarray(o.path).reshape(-1)),
    "path 3-D": lambda o: replace(o, path=np.asarray(o.path)[None]),
    "node str": lambda o: replace(o, node=str(o.node)),
    "node None": lambda o: replace(o, node=None),
    "node float": lambda o: replace(o, node=float(o.node)),
    "input nodes None": lambda o: replace(o, input_nodes=None),
    "input nodes list": lambda o: replace(o, input_nodes=list(o.input_nodes)),
    "opening None": lambda o: None,
    "opening dict": lambda o: dict(o.__dict__),
}

#: Tampering that keeps the content: the opening is valid and the referee rules on it.
CONTENT_KEPT = {
    "outputs Fortran-ordered": lambda o: replace(o, outputs=tuple(np.asfortranarray(x) for x in o.outputs)),
    "outputs a list": lambda o: replace(o, outputs=list(o.outputs)),
    "outputs read-only views": lambda o: replace(o, outputs=tuple(_readonly(x) for x in o.outputs)),
}

#: What a party's reveal, choice or opened output may be instead of the right thing.
REPLY_TAMPERING = {
    "reveal None": lambda r: None,
    "reveal list": lambda r: r.values.tolist(),
    "reveal values list": lambda r: Reply(r.values.tolist()),
    "reveal values int64": lambda r: Reply(r.values.astype(np.int64)),
    "reveal latency str": lambda r: Reply(r.values, "fast"),
    "reveal latency None": lambda r: Reply(r.values, None),
    "reveal latency nan": lambda r: Reply(r.values, float("nan")),
}
CHOICE_TAMPERING = {
    "choice None": lambda c: None,
    "choice tuple": lambda c: (c.part, c.claim),
    "choice part float": lambda c: Choice(float(c.part), c.claim),
    "choice part str": lambda c: Choice(str(c.part), c.claim),
    "choice claim str": lambda c: Choice(c.part, "x" * 32),
    "choice claim bytearray": lambda c: Choice(c.part, bytearray(32)),
    "choice latency str": lambda c: Choice(c.part, c.claim, "slow"),
}
OUTPUT_TAMPERING = {
    "output None": lambda o: None,
    "output str": lambda o: "output",
    "output list": lambda o: np.asarray(o).tolist(),
    "output object array": lambda o: np.asarray(o).astype(object),
    "output bytes": lambda o: np.asarray(o).tobytes(),
}


def _readonly(x):
    x = np.array(x)
    x.flags.writeable = False
    return x


_TRACES: dict = {}


@dataclass(frozen=True)
class TamperedOpening(Strategy):
    """Plays as ``base`` (whose trace is computed once per computation) and passes its opened
    inputs or output through ``tamper``. It reveals and chooses by the book, so a dispute
    without a transcript plays it on the lean path."""

    base: Strategy = field(default_factory=adv.Honest)
    hook: str = "open_inputs"
    tamper: Any = None

    @property
    def honest(self):  # ground truth of the base
        return self.base.honest

    def prepare(self, computation, rng):
        key = (id(computation), self.base)
        if key not in _TRACES:
            _TRACES[key] = (computation, self.base.prepare(computation, rng).trace)
        return PartyState(_TRACES[key][1], computation, rng)

    def open_inputs(self, state, k):
        o = self.base.open_inputs(state, k)
        return self.tamper(o) if self.hook == "open_inputs" else o

    def open_output(self, state, k):
        o = self.base.open_output(state, k)
        return self.tamper(o) if self.hook == "open_output" else o


@dataclass(frozen=True)
class Tampered(TamperedOpening):
    """As :class:`TamperedOpening`, also passing its reveals and choices through ``tamper``."""

    def reveal(self, state, nodes, round_no):
        r = self.base.reveal(state, nodes, round_no)
        return self.tamper(r) if self.hook == "reveal" else r

    def choose(self, state, nodes, revealed, round_no):
        c = self.base.choose(state, nodes, revealed, round_no)
        return self.tamper(c) if self.hook == "choose" and c.part < len(nodes) else c


def _computations():
    synthetic = synthetic_graph(40, seed=3)
    out = {}
    for commitment in ("chain", "merkle"):
        out["synthetic", commitment] = (SyntheticComputation(synthetic, seed=1, commitment=commitment), 15)
        for name, node in (("tiny-transformer", 5), ("quantized-mlp", 2)):
            model = gm.load_model(name)
            out[name, commitment] = (
                gm_computation(model, commitment), node,
            )
    return out


def gm_computation(model, commitment):
    from oasis_lab.disputes.computations import ModelComputation

    return ModelComputation(model, gm.example_inputs(model), commitment=commitment)


@pytest.fixture(scope="module")
def computations():
    return _computations()


def _cases():
    for name, f in OPENING_TAMPERING.items():
        yield name, "provider", "open_inputs", f
    for name, f in CONTENT_KEPT.items():
        yield name, "content", "open_inputs", f
    for name, f in REPLY_TAMPERING.items():
        yield f"provider {name}", "provider", "reveal", f
        yield f"challenger {name}", "challenger", "reveal", f
    for name, f in CHOICE_TAMPERING.items():
        yield name, "challenger", "choose", f
    for name, f in OUTPUT_TAMPERING.items():
        yield f"provider {name}", "provider", "open_output", f
        yield f"challenger {name}", "challenger", "open_output", f


CASES = list(_cases())
MODELS = [(m, c) for m in ("synthetic", "tiny-transformer", "quantized-mlp") for c in ("chain", "merkle")]


@pytest.mark.parametrize("model, commitment", MODELS, ids=[f"{m}-{c}" for m, c in MODELS])
@pytest.mark.parametrize("comparison", ["exact", "tolerance"])
def test_a_malformed_message_loses_the_dispute(computations, model, commitment, comparison):
    comp, k = computations[model, commitment]
    params = DisputeParams(arity=3, comparison=comparison, commitment=commitment)
    played = 0
    for name, who, hook, f in CASES:
        if hook == "open_output" and comparison == "exact":
            continue  # exact mode opens no output
        cls = Tampered if hook in ("reveal", "choose") else TamperedOpening
        if who == "challenger":
            # a lying challenger that tampers: the honest provider must be upheld
            provider, challenger = adv.Honest(), cls(adv.LyingChallenger(node=k), hook, f)
            want = {"challenger_wrong"}
        else:
            # a cheat at k that tampers; an honest challenger takes it to the referee
            provider, challenger = cls(adv.PerturbNode(node=k), hook, f), adv.Honest()
            want = {"provider_guilty"}
        # without a transcript, openings are tampered on the lean path
        for record in (True, False) if cls is TamperedOpening else (True,):
            out = play(comp, provider, challenger, params=params, seed=7, record=record)
            assert out.verdict in want, (name, record, out.verdict, out.reason, out.ruling.detail)
            if who == "content":
                # a valid opening in another layout: the referee rules on its content
                assert out.reason == "referee", (name, out.reason, out.ruling.detail)
            elif hook == "open_inputs":
                assert out.disputed_node == k and out.reason in ("malformed", "failed_opening"), name
            played += 1
    assert played >= 2 * (len(OPENING_TAMPERING) + len(REPLY_TAMPERING))


def test_an_honest_provider_sending_its_opening_in_another_layout_is_upheld(computations):
    comp, k = computations["tiny-transformer", "chain"]
    for f in CONTENT_KEPT.values():
        out = play(comp, TamperedOpening(adv.Honest(), "open_inputs", f), adv.LyingChallenger(node=k),
                   params=DisputeParams(arity=3))
        assert out.verdict == "challenger_wrong" and out.reason == "referee"


def test_an_opening_is_checked_before_the_referee_reads_it(computations):
    # the checked opening is what the referee recomputes from: C-ordered plain arrays
    comp, k = computations["tiny-transformer", "merkle"]
    seen = []
    original = comp.recompute

    def recompute(k, inputs, backend="numpy"):
        seen.extend(inputs)
        return original(k, inputs, backend=backend)

    comp.recompute = recompute  # an instance attribute, removed below
    try:
        f = CONTENT_KEPT["outputs Fortran-ordered"]
        play(comp, TamperedOpening(adv.PerturbNode(node=k), "open_inputs", f), adv.Honest(),
             params=DisputeParams(arity=3, commitment="merkle"))
    finally:
        del comp.recompute
    assert seen and all(type(x) is np.ndarray and x.flags.c_contiguous for x in seen)
