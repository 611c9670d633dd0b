"""Dispute strategies: the honest party and the adversaries a researcher extends (section 5).

A strategy decides what a party computes and commits to (:meth:`Strategy.prepare`) and how it
plays the dispute game of :mod:`oasis_lab.disputes.bisection`: reveal commitments at split
points (the defending provider), choose the first disagreeing part (the challenger), open node
inputs and outputs for the referee. :class:`Strategy` itself is the honest party; an adversary
overrides one or more hooks. ``honest`` is the ground truth the studies score against (an
honest provider must never be convicted, a cheater always).

Provider adversaries: :class:`PerturbNode` (one chosen node wrong), :class:`SkipNode` (a lazy
provider skips a node), :class:`ModelSwap` (runs a cheaper substitute model),
:class:`WrongAfter` (correct up to a node, made up afterwards), :class:`BelowTolerance` (a few
ULPs at one node), :class:`Launder` (a few ULPs, then a real cheat later),
:class:`Equivocator` (inconsistent reveals or openings). Challenger adversaries:
:class:`LyingChallenger` (commits a wrong trace against an honest provider),
:class:`RandomChallenger` (random parts, fabricated claims), :class:`FakeFinalChallenger`.
Either side: :class:`Timeout` (no answer within the round's clock). :class:`OtherDevice` is an
*honest* provider whose device rounds one node differently from the referee's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from numbers import Real
from typing import Any, ClassVar

import numpy as np

from oasis_lab.checks import check_int
from oasis_lab.disputes.computations import Computation, Perturbation
from oasis_lab.disputes.hashing import DIGEST_SIZE
from oasis_lab.disputes.referee import first_local_fault
from oasis_lab.disputes.traces import CommittedTrace, InputOpening, make_input_opening
from oasis_lab.seeding import generator

__all__ = [
    "CHEATER_ADVERSARIES",
    "PAIRS",
    "BelowTolerance",
    "DRIFT_DIRECTIONS",
    "Choice",
    "Drift",
    "Equivocator",
    "FakeFinalChallenger",
    "Honest",
    "Launder",
    "LyingChallenger",
    "ModelSwap",
    "OtherDevice",
    "PartyState",
    "PerturbNode",
    "RandomChallenger",
    "Reply",
    "SkipNode",
    "Strategy",
    "Timeout",
    "WrongAfter",
    "perturb_element",
    "shift_all_ulps",
    "shift_ulps",
]


@dataclass(frozen=True)
class PartyState:
    """What a party holds during a dispute.

    Attributes
    ----------
    trace : CommittedTrace
        The trace whose head the party published.
    computation : Computation
        The disputed computation (graph, digests).
    rng : numpy.random.Generator
        The party's randomness (seeded by the dispute).
    alt : CommittedTrace or None
        A second trace an equivocating party keeps.
    """

    trace: CommittedTrace
    computation: Computation
    rng: np.random.Generator
    alt: CommittedTrace | None = None


@dataclass(frozen=True)
class Reply:
    """Commitments revealed at the requested nodes, shape ``(m, 32)``, and the answer time."""

    values: np.ndarray
    latency_s: float = 0.0


@dataclass(frozen=True)
class Choice:
    """The challenger's pick: the first part it disagrees with.

    ``claim`` is its own commitment at the part's end (``None`` for the last part, whose end is
    already disputed); choosing part ``j`` accepts the provider's commitment at the end of part
    ``j - 1``.
    """

    part: int
    claim: bytes | None
    latency_s: float = 0.0


# --- perturbation helpers -------------------------------------------------------------------


def perturb_element(output: np.ndarray, *, scale: float = 0.01, element: int = 0) -> np.ndarray:
    """Copy of ``output`` with one element visibly wrong.

    Floats move by ``scale * max(1, |x|)``, integers by 1 (wrapping), booleans flip.
    """
    out = np.array(output, copy=True)
    flat = out.reshape(-1)
    if flat.size == 0:
        raise ValueError("cannot perturb an empty output")
    i = element % flat.size
    kind = out.dtype.kind
    if kind == "f":
        x = flat[i]
        step = scale * max(1.0, abs(float(x))) if math.isfinite(float(x)) else 1.0
        new = out.dtype.type(float(x) + step) if math.isfinite(float(x)) else out.dtype.type(0)
        if new == x:  # scale below the spacing at x: fall back to one ULP
            new = np.nextafter(x, out.dtype.type(np.inf))
        flat[i] = new
    elif kind in "iu":
        info = np.iinfo(out.dtype)
        flat[i] = flat[i] + 1 if flat[i] < info.max else info.min
    elif kind == "b":
        flat[i] = not flat[i]
    else:
        raise TypeError(f"cannot perturb an output of dtype {out.dtype}")
    return out


_FLOAT_BITS = {2: np.uint16, 4: np.uint32, 8: np.uint64}


def shift_ulps(output: np.ndarray, ulps: int = 1, *, element: int = 0) -> np.ndarray:
    """Copy of ``output`` with one float element moved ``ulps`` units in the last place up.

    The same as ``ulps`` calls of ``np.nextafter(x, inf)`` (stopping at ``+inf``; a NaN stays),
    computed in O(1) on the element's bits, so a large ``ulps`` cannot stall a dispute study.
    Non-float outputs get :func:`perturb_element`.
    """
    if isinstance(ulps, (bool, np.bool_)) or not isinstance(ulps, (int, np.integer)) or ulps < 1:
        raise ValueError(f"ulps = {ulps!r} must be an integer >= 1")
    out = np.array(output, copy=True)
    if out.dtype.kind != "f":
        return perturb_element(out, element=element)
    flat = out.reshape(-1)
    if flat.size == 0:
        raise ValueError("cannot perturb an empty output")
    i = element % flat.size
    if np.isnan(flat[i]):
        return out
    # floats ordered as integers: sign-magnitude bits -> -magnitude for negatives (-0 -> 0)
    view = flat[i : i + 1].view(_FLOAT_BITS[out.dtype.itemsize])
    bits = int(view[0])
    sign = 1 << (8 * out.dtype.itemsize - 1)
    start = -(bits & (sign - 1)) if bits & sign else bits
    inf = int(np.array(np.inf, dtype=out.dtype).view(view.dtype))
    new = min(start + int(ulps), inf)
    # a move that ends at 0 from below ends at -0, like nextafter
    view[0] = new if new > 0 else sign | -new
    return out


def shift_all_ulps(output: np.ndarray, ulps: int | np.ndarray) -> np.ndarray:
    """Copy of a float ``output`` with every element moved ``ulps`` units in the last place
    (an int, or signed ints broadcasting to the output: negative moves down), as many
    ``np.nextafter`` steps would, stopping at +-inf; NaNs stay. Non-float outputs are
    returned unchanged (a discrete value has no last place to move)."""
    out = np.array(output, copy=True)
    if out.dtype.kind != "f" or out.size == 0:
        return out
    if out.dtype.itemsize not in (2, 4):
        # float64: Python integers, element by element (no int64 overflow near the extremes)
        flat = out.reshape(-1)
        steps = np.broadcast_to(np.asarray(ulps), out.shape).reshape(-1)
        for i in range(flat.size):  # rare: the executed models compute in float16/32
            moved = shift_ulps(flat[i : i + 1], abs(int(steps[i]))) if steps[i] > 0 else flat[i : i + 1]
            if steps[i] < 0:
                moved = -shift_ulps(-flat[i : i + 1], abs(int(steps[i])))
            flat[i] = moved[0]
        return out
    bits_type = _FLOAT_BITS[out.dtype.itemsize]
    bits = out.view(bits_type).astype(np.int64)
    sign = 1 << (8 * out.dtype.itemsize - 1)
    ordered = np.where(bits & sign, -(bits & (sign - 1)), bits)  # floats ordered as integers
    inf = int(np.array(np.inf, dtype=out.dtype).view(bits_type))
    moved = np.clip(ordered + np.asarray(ulps, dtype=np.int64), -inf, inf)
    # a move that ends at 0 from below ends at -0, like nextafter
    negative = (moved < 0) | ((moved == 0) & (ordered < 0))
    new = np.where(negative, sign | -moved, moved).astype(bits_type).view(out.dtype)
    return np.where(np.isnan(out), out, new)


def _resolve(computation: Computation, node: int | str) -> int:
    return computation.graph.node_index(node)


# --- the honest party -----------------------------------------------------------------------


@dataclass(frozen=True)
class Strategy:
    """The honest party; adversaries override hooks.

    Hooks
    -----
    prepare(computation, rng) -> PartyState
        Run the computation and commit. Honest: the honest trace.
    reveal(state, nodes, round_no) -> Reply
        Commitments at ``nodes`` (round 0: the final commitment). Honest: its own chain.
    choose(state, nodes, revealed, round_no) -> Choice
        The first part whose end commitment differs from its own (or the last part).
    open_inputs(state, k) -> InputOpening
        Node ``k``'s inputs with their chain path, from its own trace.
    open_output(state, k) -> ndarray
        Its output of node ``k``.
    share_trace(state) -> sequence of ndarray
        Tolerance mode, the provider: every node output of the trace whose head it published
        (the game checks them against that head). Honest: its own trace's outputs.
    localise(state, provider_trace, atol=, max_ulp=) -> PartyState
        Tolerance mode, the challenger, given the provider's checked trace: the trace it
        challenges with. Honest: the provider's trace up to the first node that disagrees
        beyond tolerance with that node recomputed from the provider's own inputs
        (:func:`~oasis_lab.disputes.referee.first_local_fault`), that node recomputed, so the
        bisection isolates exactly that node; the provider's trace itself when no node does
        (the challenge then ends with no disagreement).
    """

    #: Ground truth: does this party follow the protocol and compute correctly?
    honest: ClassVar[bool] = True

    @property
    def label(self) -> str:
        """Short description for transcripts and tables."""
        fields_ = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"{type(self).__name__}({fields_})"

    def prepare(self, computation: Computation, rng: np.random.Generator) -> PartyState:
        return PartyState(computation.honest_trace, computation, rng)

    def reveal(self, state: PartyState, nodes: np.ndarray, round_no: int) -> Reply:
        return Reply(state.trace.chain[nodes])

    def choose(
        self, state: PartyState, nodes: np.ndarray, revealed: np.ndarray, round_no: int
    ) -> Choice:
        chain = state.trace.chain
        for j, k in enumerate(nodes):  # at most arity - 1 rows: bytes compare beats numpy here
            mine = chain[k].tobytes()
            if mine != revealed[j].tobytes():
                return Choice(j, mine)
        return Choice(len(nodes), None)

    def open_inputs(self, state: PartyState, k: int) -> InputOpening:
        return make_input_opening(state.trace, state.computation.graph, k)

    def open_output(self, state: PartyState, k: int) -> np.ndarray:
        return state.trace.output(k)

    def share_trace(self, state: PartyState) -> Sequence[np.ndarray] | np.ndarray:
        return state.trace.outputs

    def localise(
        self, state: PartyState, provider_trace: CommittedTrace, *, atol: float, max_ulp: int
    ) -> PartyState:
        comp = state.computation
        k, fixed = first_local_fault(comp, provider_trace.outputs, atol=atol, max_ulp=max_ulp)
        if fixed is None:
            return replace(state, trace=provider_trace)
        return replace(state, trace=comp.with_output(provider_trace, k, fixed))


@dataclass(frozen=True)
class Honest(Strategy):
    """The honest party: computes correctly, reveals and opens its own trace."""


# --- provider adversaries --------------------------------------------------------------------


@dataclass(frozen=True)
class PerturbNode(Strategy):
    """Computes honestly except that one element of node ``node``'s output is wrong by
    ``scale`` (relative); later nodes compute on the wrong value. The dispute must name
    exactly ``node``."""

    node: int | str = 0
    scale: float = 0.01
    element: int = 0

    honest: ClassVar[bool] = False

    def _perturbation(self) -> Perturbation:
        scale, element = self.scale, self.element
        return lambda k, out, ins: perturb_element(out, scale=scale, element=element)

    def prepare(self, computation: Computation, rng: np.random.Generator) -> PartyState:
        k = _resolve(computation, self.node)
        return PartyState(computation.trace({k: self._perturbation()}), computation, rng)


@dataclass(frozen=True)
class SkipNode(Strategy):
    """A lazy provider: skips node ``node``, passing its first input through when the shapes
    match (a skipped layer) and zeros otherwise."""

    node: int | str = 0

    honest: ClassVar[bool] = False

    def prepare(self, computation: Computation, rng: np.random.Generator) -> PartyState:
        k = _resolve(computation, self.node)

        def skip(k: int, out: np.ndarray, ins: Sequence[np.ndarray]) -> np.ndarray:
            for x in ins:
                x = np.asarray(x)
                if x.shape == out.shape and x.dtype == out.dtype:
                    return x.copy()
            return np.zeros_like(out)

        return PartyState(computation.trace({k: skip}), computation, rng)


@dataclass(frozen=True)
class ModelSwap(Strategy):
    """Runs a cheaper substitute of the agreed model (int8-quantized weights for an executed
    model, other weights for a synthetic one) and claims the agreed model's genesis.
    The dispute names the first node whose output the swap changes."""

    honest: ClassVar[bool] = False

    def prepare(self, computation: Computation, rng: np.random.Generator) -> PartyState:
        return PartyState(computation.substitute().honest_trace, computation, rng)


@dataclass(frozen=True)
class WrongAfter(Strategy):
    """Correct up to and including node ``node``, then makes up every later output (random
    values of the right shape) instead of computing. The dispute names ``node + 1``."""

    node: int | str = 0

    honest: ClassVar[bool] = False

    def prepare(self, computation: Computation, rng: np.random.Generator) -> PartyState:
        k = _resolve(computation, self.node)
        if k >= computation.n_nodes - 1:
            raise ValueError(f"WrongAfter node = {self.node!r} is the last node: nothing is wrong")
        gen = generator(int(rng.integers(2**63)))

        def made_up(j: int, out: np.ndarray, ins: Sequence[np.ndarray]) -> np.ndarray:
            if out.dtype.kind == "f":
                fake = gen.uniform(1.0, 2.0, size=out.shape).astype(out.dtype)
            else:
                fake = perturb_element(out)
            return fake if not np.array_equal(fake, out) else perturb_element(out)

        perturb = {j: made_up for j in range(k + 1, computation.n_nodes)}
        return PartyState(computation.trace(perturb), computation, rng)


@dataclass(frozen=True)
class BelowTolerance(Strategy):
    """Moves one element of node ``node`` by ``ulps`` ULPs: upheld by a tolerance referee whose
    ``max_ulp >= ulps``, ``ambiguous`` in exact mode's rounding reading when ``ulps`` is within
    ``rounding_ulp`` at a float node, convicted beyond it and by the strict reading."""

    node: int | str = 0
    ulps: int = 1
    element: int = 0

    honest: ClassVar[bool] = False

    def prepare(self, computation: Computation, rng: np.random.Generator) -> PartyState:
        k = _resolve(computation, self.node)
        ulps, element = self.ulps, self.element
        return PartyState(
            computation.trace({k: lambda j, out, ins: shift_ulps(out, ulps, element=element)}),
            computation,
            rng,
        )


@dataclass(frozen=True)
class OtherDevice(BelowTolerance):
    """An *honest* provider whose device rounds node ``node`` ``ulps`` ULPs away from the
    referee's (e.g. a different ``exp``). The strict exact reading convicts it (a wrongful
    slash); the rounding reading (the default) finds it ``ambiguous`` within its bound. A
    discrete output (integers, booleans) does not round: there its trace is the honest one
    (integer arithmetic is the same on every device)."""

    honest: ClassVar[bool] = True

    def prepare(self, computation: Computation, rng: np.random.Generator) -> PartyState:
        k = _resolve(computation, self.node)
        if np.asarray(computation.honest_trace.output(k)).dtype.kind != "f":
            return PartyState(computation.honest_trace, computation, rng)
        return super().prepare(computation, rng)


@dataclass(frozen=True)
class Launder(Strategy):
    """A few ULPs at ``small_node``, then a real cheat (``scale``) at ``big_node``.

    The hash chain diverges from an honest run first at ``small_node``, where the change is
    within tolerance. The strict exact reading convicts at ``small_node``; tolerance mode and
    the rounding exact reading (once ``small_node`` is within its bound) check every node
    against its own committed inputs and convict at ``big_node`` (comparing traces, tolerance
    mode stopped at ``small_node`` and upheld the cheat).
    """

    small_node: int | str = 0
    big_node: int | str = 1
    ulps: int = 1
    scale: float = 0.5

    honest: ClassVar[bool] = False

    def prepare(self, computation: Computation, rng: np.random.Generator) -> PartyState:
        a, b = _resolve(computation, self.small_node), _resolve(computation, self.big_node)
        if not a < b:
            raise ValueError(f"small_node = {self.small_node!r} must come before big_node = {self.big_node!r}")
        ulps, scale = self.ulps, self.scale
        perturb: dict[int, Perturbation] = {
            a: lambda j, out, ins: shift_ulps(out, ulps),
            b: lambda j, out, ins: perturb_element(out, scale=scale),
        }
        return PartyState(computation.trace(perturb), computation, rng)


#: How :class:`Drift` moves each element.
DRIFT_DIRECTIONS: tuple[str, ...] = ("up", "down", "random")


@dataclass(frozen=True)
class Drift(Strategy):
    """Moves every element of every float node ``ulps`` ULPs (``direction``: all up, all down,
    or a random sign per element), each node computed from the drifted values before it.

    Every node is then within ``ulps`` ULPs of itself recomputed from its own inputs: a
    tolerance referee with ``max_ulp >= ulps`` accepts the trace by design, however far the
    drift has carried the final output (the residual of tolerance mode, measured by the
    ``residual_drift`` experiment). The strict exact reading convicts it at the first float
    node; the rounding reading finds a drift within its bound ``ambiguous``.
    """

    ulps: int = 1
    direction: str = "up"

    honest: ClassVar[bool] = False

    def __post_init__(self) -> None:
        check_int("ulps", self.ulps, 1)
        if self.direction not in DRIFT_DIRECTIONS:
            raise ValueError(f"direction = {self.direction!r} is not one of {list(DRIFT_DIRECTIONS)}")

    def prepare(self, computation: Computation, rng: np.random.Generator) -> PartyState:
        honest = computation.honest_trace
        gen = generator(int(rng.integers(2**63)))
        ulps, direction = self.ulps, self.direction

        def drift(k: int, out: np.ndarray, ins: Sequence[np.ndarray]) -> np.ndarray:
            if direction == "random":
                steps = np.where(gen.random(np.shape(out)) < 0.5, -ulps, ulps)
                return shift_all_ulps(out, steps)
            return shift_all_ulps(out, ulps if direction == "up" else -ulps)

        floats = [k for k in range(computation.n_nodes) if np.asarray(honest.output(k)).dtype.kind == "f"]
        if not floats:  # every node discrete: nothing can drift
            return PartyState(honest, computation, rng)
        return PartyState(computation.trace(dict.fromkeys(floats, drift)), computation, rng)


@dataclass(frozen=True)
class Equivocator(Strategy):
    """A cheater at ``node`` that answers inconsistently with its own commitments.

    ``mode="reveal"``: publishes the cheated final commitment but reveals the honest chain at
    split points, steering the dispute to the last node, where its claim cannot be opened
    from the agreed prefix. ``mode="inputs"``: reveals its cheated chain consistently but
    opens altered inputs to the referee, trying to make the recomputation match its output.
    """

    node: int | str = 0
    mode: str = "reveal"

    def __post_init__(self) -> None:
        if self.mode not in ("reveal", "inputs"):
            raise ValueError(f"mode = {self.mode!r} is not one of ['reveal', 'inputs']")

    honest: ClassVar[bool] = False

    def prepare(self, computation: Computation, rng: np.random.Generator) -> PartyState:
        k = _resolve(computation, self.node)
        cheated = computation.trace({k: lambda j, out, ins: perturb_element(out)})
        return PartyState(cheated, computation, rng, alt=computation.honest_trace)

    def reveal(self, state: PartyState, nodes: np.ndarray, round_no: int) -> Reply:
        if self.mode == "reveal" and round_no > 0 and state.alt is not None:
            return Reply(state.alt.chain[nodes])
        return Reply(state.trace.chain[nodes])

    def open_inputs(self, state: PartyState, k: int) -> InputOpening:
        source = state.alt if self.mode == "reveal" and state.alt is not None else state.trace
        opening = make_input_opening(source, state.computation.graph, k)
        if self.mode == "inputs" and opening.outputs:
            outs = list(opening.outputs)
            outs[-1] = perturb_element(outs[-1])
            opening = InputOpening(
                opening.node, opening.input_nodes, tuple(outs), opening.start_commitment, opening.path
            )
        return opening


# --- challenger adversaries ------------------------------------------------------------------


@dataclass(frozen=True)
class LyingChallenger(PerturbNode):
    """A challenger that commits to a trace wrong at ``node`` and challenges an honest
    provider with it (in tolerance mode too, whatever the provider's trace). The dispute
    names ``node`` and the referee upholds the provider."""

    def localise(
        self, state: PartyState, provider_trace: CommittedTrace, *, atol: float, max_ulp: int
    ) -> PartyState:
        return state


@dataclass(frozen=True)
class RandomChallenger(Strategy):
    """A challenger that publishes a fabricated final commitment and, each round, picks a
    random part and claims a random commitment for its end."""

    honest: ClassVar[bool] = False

    def localise(
        self, state: PartyState, provider_trace: CommittedTrace, *, atol: float, max_ulp: int
    ) -> PartyState:
        return state

    def reveal(self, state: PartyState, nodes: np.ndarray, round_no: int) -> Reply:
        return Reply(state.rng.integers(0, 256, size=(len(nodes), DIGEST_SIZE), dtype=np.uint8))

    def choose(
        self, state: PartyState, nodes: np.ndarray, revealed: np.ndarray, round_no: int
    ) -> Choice:
        j = int(state.rng.integers(0, len(nodes) + 1))
        claim = (
            state.rng.integers(0, 256, size=DIGEST_SIZE, dtype=np.uint8).tobytes()
            if j < len(nodes)
            else None
        )
        return Choice(j, claim)


@dataclass(frozen=True)
class FakeFinalChallenger(Strategy):
    """Computes honestly but publishes a fabricated final commitment: every split point then
    agrees and the dispute walks to the last node, where the referee upholds the provider."""

    honest: ClassVar[bool] = False

    def reveal(self, state: PartyState, nodes: np.ndarray, round_no: int) -> Reply:
        values = np.array(state.trace.chain[nodes], copy=True)
        if round_no == 0:
            values[:, 0] ^= 0xFF
        return Reply(values)

    def choose(
        self, state: PartyState, nodes: np.ndarray, revealed: np.ndarray, round_no: int
    ) -> Choice:
        return Choice(len(nodes), None)


# --- either side ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timeout(Strategy):
    """Plays like ``base`` but answers round ``at_round`` after ``latency_s`` seconds (past
    the round's clock by default): the party loses by default."""

    base: Strategy = field(default_factory=Honest)
    at_round: int = 1
    latency_s: float = math.inf

    honest: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not isinstance(self.base, Strategy):
            raise TypeError(f"base must be a Strategy, got {type(self.base).__name__}")
        check_int("at_round", self.at_round, 0)
        # inf (never answers) is allowed; NaN is not: every comparison with the clock is False,
        # so a NaN latency would never time out
        if isinstance(self.latency_s, bool) or not isinstance(self.latency_s, Real):
            raise TypeError(f"latency_s must be a real number, got {self.latency_s!r}")
        if math.isnan(self.latency_s) or self.latency_s < 0:
            raise ValueError(f"latency_s = {self.latency_s!r} must be >= 0 (inf allowed, NaN not)")

    @property
    def label(self) -> str:
        return f"Timeout(base={self.base.label}, at_round={self.at_round}, latency_s={self.latency_s})"

    def _late(self, round_no: int) -> float:
        return self.latency_s if round_no == self.at_round else 0.0

    def prepare(self, computation: Computation, rng: np.random.Generator) -> PartyState:
        return self.base.prepare(computation, rng)

    def reveal(self, state: PartyState, nodes: np.ndarray, round_no: int) -> Reply:
        r = self.base.reveal(state, nodes, round_no)
        return Reply(r.values, r.latency_s + self._late(round_no))

    def choose(
        self, state: PartyState, nodes: np.ndarray, revealed: np.ndarray, round_no: int
    ) -> Choice:
        c = self.base.choose(state, nodes, revealed, round_no)
        return Choice(c.part, c.claim, c.latency_s + self._late(round_no))

    def open_inputs(self, state: PartyState, k: int) -> InputOpening:
        return self.base.open_inputs(state, k)

    def open_output(self, state: PartyState, k: int) -> np.ndarray:
        return self.base.open_output(state, k)

    def share_trace(self, state: PartyState) -> Sequence[np.ndarray] | np.ndarray:
        return self.base.share_trace(state)

    def localise(
        self, state: PartyState, provider_trace: CommittedTrace, *, atol: float, max_ulp: int
    ) -> PartyState:
        return self.base.localise(state, provider_trace, atol=atol, max_ulp=max_ulp)


def describe(strategy: Any) -> str:
    """Label of a strategy (its class and fields)."""
    return strategy.label if isinstance(strategy, Strategy) else repr(strategy)


#: Named (provider, challenger) pairs, each made for a node (ignored by ``swap``,
#: ``random-challenger``, ``fake-final`` and ``honest``): the dispute CLI's ``--adversary``
#: values, the simulation's cheater strategies and the provider agents' adversary actions.
PAIRS: dict[str, Callable[[int | str], tuple[Strategy, Strategy]]] = {
    "perturb": lambda k: (PerturbNode(node=k), Honest()),
    "skip": lambda k: (SkipNode(node=k), Honest()),
    "swap": lambda k: (ModelSwap(), Honest()),
    "wrong-after": lambda k: (WrongAfter(node=k), Honest()),
    "below-tolerance": lambda k: (BelowTolerance(node=k), Honest()),
    "equivocate": lambda k: (Equivocator(node=k), Honest()),
    "equivocate-inputs": lambda k: (Equivocator(node=k, mode="inputs"), Honest()),
    "timeout": lambda k: (Timeout(base=PerturbNode(node=k), at_round=2), Honest()),
    "other-device": lambda k: (OtherDevice(node=k), Honest()),
    "lying-challenger": lambda k: (Honest(), LyingChallenger(node=k)),
    "random-challenger": lambda k: (Honest(), RandomChallenger()),
    "fake-final": lambda k: (Honest(), FakeFinalChallenger()),
    "honest": lambda k: (Honest(), Honest()),
}

#: The dishonest provider strategies of :data:`PAIRS` (what a cheater may run), sorted.
CHEATER_ADVERSARIES: tuple[str, ...] = tuple(sorted(name for name, make in PAIRS.items() if not make(1)[0].honest))
