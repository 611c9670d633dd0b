"""The k-way bisection game over the model DAG (whitepaper section 5).

Section 5 uses "the interactive bisection scheme" of Arbitrum [8] over "the topological order
of the model DAG", after which "a single service provider is assigned to recompute". The game
implemented here, between a provider ``P`` (defender) and a challenger ``C``, each holding a
committed trace (:mod:`oasis_lab.disputes.traces`) of ``n`` nodes:

* Round 0: both publish their final commitments ``c_{n-1}``; equal ones end the challenge
  (``challenger_wrong``, reason ``no_disagreement``).
* Invariant: the parties agree on ``c_{lo-1}`` (``c_{-1}`` is the public genesis) and
  disagree on ``c_hi``. While ``lo < hi``: ``P`` reveals its commitments at the ends of the
  first ``a - 1`` of ``a = min(arity, hi - lo + 1)`` near-equal parts of ``[lo, hi]``; ``C``
  picks the first part whose end it disagrees with (accepting the end of the part before) and
  states its own commitment there. After ``r`` rounds at most ``ceil(n / arity^r)`` nodes
  remain, so the game takes at most ``ceil(log_arity n)`` rounds.
* With ``lo = hi = k``: ``P`` opens node ``k``'s inputs against the agreed ``c_{k-1}``; the
  referee (:mod:`oasis_lab.disputes.referee`) recomputes node ``k`` and rules.

A party that answers after the round's clock loses (``timeout``); one whose answer is not
well formed (a reply, choice or opening of the wrong type or size) loses (``malformed``); a
challenger whose claimed commitment equals the provider's contradicts its own challenge
(``no_disagreement``); a party whose opening does not match its commitments loses
(``failed_opening``).

Because the hash chain makes disagreement monotone, an honest challenger against a provider
whose trace first diverges at node ``k`` always isolates exactly ``k``.

Tolerance mode (``comparison="tolerance"``) holds each node to the provider's *own* inputs:
after round 0 the provider shares every node output (``Strategy.share_trace``), committed
again here and checked against its published head; the challenger localises against that
trace (``Strategy.localise``: honest, the first node that disagrees beyond tolerance with its
recomputation from the provider's inputs, replaced by that recomputation), and every later
reveal of the provider must be the shared trace's commitments. The bisection then isolates
the first node-local fault, so a change within tolerance cannot shield a later cheat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, cast

import numpy as np
import pandas as pd

from oasis_lab.checks import check_int
from oasis_lab.disputes.adversaries import Choice, Honest, PartyState, Reply, Strategy, describe
from oasis_lab.disputes.commitments import CommitmentMismatch, MalformedOpening
from oasis_lab.disputes.computations import Computation, ModelComputation, SyntheticComputation
from oasis_lab.disputes.graph import DisputeGraph
from oasis_lab.disputes.hashing import DIGEST_SIZE, chain_step
from oasis_lab.disputes.params import DisputeParams
from oasis_lab.disputes.referee import VERDICTS, Referee, Ruling
from oasis_lab.disputes.traces import (
    CommittedTrace,
    check_output,
    verify_input_opening,
    verify_output_opening,
)
from oasis_lab.seeding import check_seed, generator

__all__ = [
    "DisputeBatch",
    "DisputeOutcome",
    "RoundRecord",
    "as_computation",
    "max_rounds",
    "play",
    "run_dispute",
    "run_disputes",
    "split_points",
]


def max_rounds(n_nodes: int, arity: int) -> int:
    """``ceil(log_arity(n_nodes))`` in exact integer arithmetic: the game's round bound."""
    arity = check_int("arity", arity, 2)
    n_nodes = check_int("n_nodes", n_nodes, 1)
    rounds, reach = 0, 1
    while reach < n_nodes:
        reach *= arity
        rounds += 1
    return rounds


def split_points(lo: int, hi: int, arity: int) -> np.ndarray:
    """Ends of the first ``a - 1`` of ``a = min(arity, hi - lo + 1)`` near-equal parts of
    ``[lo, hi]`` (the first ``(hi - lo + 1) mod a`` parts are one node longer)."""
    size = hi - lo + 1
    if size < 2:
        raise ValueError(f"cannot split [{lo}, {hi}]: fewer than two nodes")
    a = min(check_int("arity", arity, 2), size)
    base, rem = divmod(size, a)
    # plain integers: this runs once per round of every dispute, numpy calls cost more here
    ends = [lo + j * base + min(j, rem) - 1 for j in range(1, a)]
    return np.array(ends, dtype=np.int64)


@dataclass(frozen=True)
class RoundRecord:
    """One round of the transcript (round 0: the final commitments).

    ``revealed`` and ``claim`` are hex prefixes of the commitments exchanged.
    """

    round: int
    lo: int
    hi: int
    split_points: tuple[int, ...]
    revealed: tuple[str, ...]
    part: int
    claim: str
    new_lo: int
    new_hi: int


@dataclass(frozen=True)
class DisputeOutcome:
    """Result of one dispute.

    Attributes
    ----------
    model : str
    n_nodes, arity : int
    disputed_node : int
        The isolated node ``k`` (``-1`` when the dispute ended before isolating one).
    disputed_name : str
    rounds : int
        Bisection rounds played (round 0, the final commitments, not counted).
    max_rounds : int
        ``ceil(log_arity(n_nodes))``.
    hashes_exchanged : int
        Commitments and digests sent: 2 final commitments, ``a - 1`` per round from the
        provider, 1 per round from the challenger (unless it picks the last part), and the
        opening path of the disputed node's inputs.
    bytes_opened : int
        Output bytes opened to the referee (inputs; plus both outputs in tolerance mode).
    bytes_shared : int
        Output bytes the provider shared with the challenger (tolerance mode: its whole
        trace, which the node-local check reads; 0 in exact mode).
    referee_flops : float
        FLOPs the referee spent (the disputed node's).
    referee_flops_share : float
        ``referee_flops`` over the whole inference's FLOPs.
    verdict : str
        ``provider_guilty``, ``challenger_wrong`` or ``ambiguous``.
    reason : str
        See :class:`~oasis_lab.disputes.referee.Ruling`.
    provider, challenger : str
        Strategy labels.
    provider_honest, challenger_honest : bool
        Ground truth of the strategies.
    transcript : tuple of RoundRecord
    ruling : Ruling or None
        The referee's ruling when it ruled.
    drew : bool
        Whether either party drew from its random generator. When neither did, the outcome is
        fixed by the strategies, the computation, the parameters and the referee, whatever the
        seed (the simulation's court looks such games up instead of playing them again).
    """

    model: str
    n_nodes: int
    arity: int
    disputed_node: int
    disputed_name: str
    rounds: int
    max_rounds: int
    hashes_exchanged: int
    bytes_opened: int
    referee_flops: float
    referee_flops_share: float
    verdict: str
    reason: str
    provider: str
    challenger: str
    provider_honest: bool
    challenger_honest: bool
    transcript: tuple[RoundRecord, ...] = field(default=(), repr=False)
    ruling: Ruling | None = field(default=None, repr=False)
    bytes_shared: int = 0
    drew: bool = field(default=False, repr=False)

    @property
    def provider_convicted(self) -> bool:
        """Whether the provider was found guilty."""
        return self.verdict == "provider_guilty"

    def to_frame(self) -> pd.DataFrame:
        """The transcript, one row per round."""
        frame = pd.DataFrame(
            [
                {
                    "round": r.round,
                    "interval": f"[{r.lo}, {r.hi}]",
                    "split_points": list(r.split_points),
                    "provider_reveals": list(r.revealed),
                    "challenger_picks": r.part if r.round > 0 else None,
                    "challenger_claims": r.claim,
                    "next_interval": f"[{r.new_lo}, {r.new_hi}]",
                }
                for r in self.transcript
            ],
            columns=["round", "interval", "split_points", "provider_reveals", "challenger_picks",
                     "challenger_claims", "next_interval"],
        )
        frame["challenger_picks"] = frame["challenger_picks"].astype("Int64")
        return frame

    def summary(self) -> dict[str, Any]:
        """Headline numbers as a dict (for tables and JSON)."""
        return {
            "model": self.model,
            "n_nodes": self.n_nodes,
            "arity": self.arity,
            "provider": self.provider,
            "challenger": self.challenger,
            "disputed_node": self.disputed_node,
            "disputed_name": self.disputed_name,
            "rounds": self.rounds,
            "max_rounds": self.max_rounds,
            "hashes_exchanged": self.hashes_exchanged,
            "bytes_opened": self.bytes_opened,
            "bytes_shared": self.bytes_shared,
            "referee_flops": self.referee_flops,
            "referee_flops_share": self.referee_flops_share,
            "verdict": self.verdict,
            "reason": self.reason,
        }


def _hex(b: bytes | np.ndarray) -> str:
    return (b.tobytes() if isinstance(b, np.ndarray) else b).hex()[:12]


def _well_formed(values: Any, m: int) -> bool:
    return (
        isinstance(values, np.ndarray)
        and values.dtype == np.uint8
        and values.shape == (m, DIGEST_SIZE)
    )


class _LazyGenerator:
    """A party's ``numpy.random.Generator``, built on first use.

    Seeding a generator costs about 10 us, as much as the rest of a lean dispute; most
    strategies never draw. The draws are those of :func:`oasis_lab.seeding.generator` (numpy's
    default generator of ``seed``).
    """

    __slots__ = ("_gen", "_seed")

    def __init__(self, seed: list[int]) -> None:
        self._seed = seed
        self._gen: np.random.Generator | None = None

    @property
    def drew(self) -> bool:
        """Whether the generator was used (built)."""
        return self._gen is not None

    def __getattr__(self, name: str) -> Any:
        gen = self._gen
        if gen is None:
            gen = self._gen = generator(*self._seed)
        return getattr(gen, name)


def _by_the_book(strategy: Strategy) -> bool:
    """Whether ``strategy`` reveals and chooses as the honest party does (only what it
    computes differs): its rounds can then be played on its trace directly."""
    cls = type(strategy)
    return cls.reveal is Strategy.reveal and cls.choose is Strategy.choose


def _on_time(latency: Any, clock: float) -> bool:
    """A reported latency within the round's clock (NaN, a bool or a non-number: not)."""
    return isinstance(latency, Real) and not isinstance(latency, bool) and latency <= clock


def _late(latency: Any) -> str:
    """The reason a party that was not on time loses: a latency that is no number is a
    malformed answer, a number (NaN included) past the clock a timeout."""
    return "timeout" if isinstance(latency, Real) and not isinstance(latency, bool) else "malformed"


def _reply(reply: Any, m: int, lose: str, clock: float, malformed: str, late: str) -> Reply:
    """``reply`` if it is a well-formed answer in time, else the dispute ends with ``lose``."""
    if not isinstance(reply, Reply) or not _well_formed(reply.values, m):
        raise _Ended(lose, "malformed", malformed)
    if not _on_time(reply.latency_s, clock):
        raise _Ended(lose, _late(reply.latency_s), late)
    return reply


def _nbytes(outputs: Any) -> int:
    if isinstance(outputs, np.ndarray):
        return int(outputs.nbytes)
    return int(sum(o.nbytes for o in outputs))


def _shared_trace(outputs: Any, computation: Computation, head: bytes) -> CommittedTrace:
    """The provider's shared outputs committed again under the computation's scheme; the
    dispute ends ``provider_guilty`` unless they are numeric arrays, one per node, whose
    commitment is the head the provider published."""
    n = computation.n_nodes
    what = "provider's shared trace"
    try:
        if isinstance(outputs, np.ndarray) and outputs.ndim >= 1 and outputs.shape[0] == n:
            check_output(outputs, what)
        elif not isinstance(outputs, (tuple, list)) or len(outputs) != n:
            raise MalformedOpening(f"{what} is not {n} node outputs")
        else:
            outputs = tuple(check_output(o, f"{what}, node {j}") for j, o in enumerate(outputs))
        shared = computation.commit_outputs(outputs)
    except CommitmentMismatch as exc:
        raise _Ended("provider_guilty", _reason(exc), str(exc)) from None
    if shared.head != head:
        raise _Ended("provider_guilty", "failed_opening",
                     f"{what} does not match its final commitment")
    return shared


def _share(
    computation: Computation, provider: Strategy, ps: PartyState, challenger: Strategy,
    cs: PartyState, referee: Referee, head: bytes,
) -> tuple[CommittedTrace, PartyState]:
    """Tolerance mode, after the provider published ``head``: its shared trace (checked) and
    the state the challenger challenges with, localised against that trace."""
    shared = _shared_trace(provider.share_trace(ps), computation, head)
    return shared, challenger.localise(cs, shared, atol=referee.atol, max_ulp=referee.max_ulp)


def _reason(exc: CommitmentMismatch) -> str:
    return "malformed" if isinstance(exc, MalformedOpening) else "failed_opening"


def _opened_output(
    output: Any, prev: bytes, claimed: bytes, computation: Computation, lose: str, what: str
) -> np.ndarray:
    """An opened node output checked against ``H(prev | d) == claimed`` (C-ordered), else the
    dispute ends with ``lose``."""
    try:
        out = check_output(output, what)
        verify_output_opening(prev, claimed, computation.digest(out))
    except CommitmentMismatch as exc:
        raise _Ended(lose, _reason(exc), f"{what}: {exc}") from None
    return out


class _Ended(Exception):
    """Internal: the dispute ended early with a verdict (``ruling``: the whole ruling)."""

    def __init__(self, verdict: str, reason: str, detail: str = "", ruling: Ruling | None = None) -> None:
        super().__init__(detail)
        self.ruling = ruling if ruling is not None else Ruling(verdict, reason, detail=detail)


def _rule_rounding(
    computation: Computation, referee: Referee, provider: Strategy, ps: PartyState,
    challenger: Strategy, cs: PartyState, k: int, inputs: tuple[np.ndarray, ...], agreed: bytes,
    p_hi: bytes, q_hi: bytes, head: bytes,
) -> tuple[Ruling, int, int, int]:
    """The exact referee's rounding reading at node ``k`` (issue 20 item 4): the ruling, the
    node it is about, the output bytes opened and the bytes shared.

    1. ``k`` is recomputed on each engine of :meth:`Referee.engines_for`, in order: a provider
       commitment that one engine's bits give is upheld (``challenger_wrong``).
    2. Otherwise, at a discrete node (or with ``rounding_ulp = 0``) it is a fault: the
       challenger's claim agreeing with an engine convicts (``provider_guilty``; ``ambiguous``
       when no claim agrees, or the recomputation is not finite).
    3. At a float node the provider opens its output (checked against its claim): beyond
       ``rounding_ulp`` ULPs of every engine's, as step 2.
    4. Within the bound, rounding on the provider's device can explain the difference: no
       conviction at ``k``. Such a change must not shield a later cheat, so the provider shares
       its trace (checked against the head it published) and the challenger names the first
       node that is beyond the bound against the provider's *own* inputs
       (``Strategy.localise``); the referee recomputes that node from the shared trace and
       convicts if it is beyond the bound of every engine (a discrete node: unequal). No
       such node: ``ambiguous`` (reason ``within_rounding``).
    """
    graph = computation.graph
    engines = referee.engines_for(computation)
    bound = referee.rounding_ulp
    recomputed: list[np.ndarray] = []
    c_ok = False
    for engine in engines:  # a few engines: the first whose bits are the provider's upholds it
        r = referee.recompute_on(computation, k, inputs, engine)
        recomputed.append(r)
        ref = chain_step(agreed, computation.digest(r))
        c_ok = c_ok or ref == q_hi
        if ref == p_hi:
            return referee.judge(Ruling(
                "challenger_wrong", "referee", provider_agrees=True, challenger_agrees=c_ok,
                detail=f"the provider's commitment is the {engine} engine's recomputation",
            )), k, 0, 0
    first = recomputed[0]
    names = "/".join(engines)
    if first.dtype.kind != "f" or bound == 0:
        why = "a discrete output does not round" if first.dtype.kind != "f" else "no rounding is excused"
        return referee.judge(Ruling(
            referee.verdict(False, c_ok, first), "referee", provider_agrees=False, challenger_agrees=c_ok,
            detail=f"no engine ({names}) gives the provider's commitment ({why}); challenger "
            f"{'agrees' if c_ok else 'differs'}",
        )), k, 0, 0
    po = _opened_output(provider.open_output(ps, k), agreed, p_hi, computation,
                        "provider_guilty", f"node {k}: provider's output")
    within, dist = referee.within_rounding(po, recomputed)
    if not within:
        return referee.judge(Ruling(
            referee.verdict(False, c_ok, first), "referee", provider_agrees=False, challenger_agrees=c_ok,
            max_ulp_provider=dist,
            detail=f"the provider's output is {dist} ULPs from the nearest engine's ({names}), beyond "
            f"the rounding bound of {bound}; challenger {'agrees' if c_ok else 'differs'}",
        )), k, po.nbytes, 0
    shared = _shared_trace(provider.share_trace(ps), computation, head)
    nbytes_shared = _nbytes(shared.outputs)
    local = challenger.localise(cs, shared, atol=0.0, max_ulp=bound)
    j = _first_difference(shared, local)
    within_k = (f"node {k}: the provider's output is {dist} ULPs from the nearest engine's ({names}), "
                f"within the rounding bound of {bound}")
    if j is None:
        return referee.judge(Ruling(
            "ambiguous", "within_rounding", provider_agrees=False, challenger_agrees=c_ok, max_ulp_provider=dist,
            detail=f"{within_k}; no node of its trace is beyond the bound against its own inputs",
        )), k, po.nbytes, nbytes_shared
    ins = tuple(np.asarray(shared.output(i), order="C") for i in graph.inputs_of(j))
    rj = [referee.recompute_on(computation, j, ins, e) for e in engines]
    oj = np.asarray(shared.output(j))
    opened = po.nbytes + sum(x.nbytes for x in ins)
    same = any(computation.digest(r) == computation.digest(oj) for r in rj)
    within_j, dj = referee.within_rounding(oj, rj)
    if same or within_j:
        return referee.judge(Ruling(
            "ambiguous", "within_rounding", provider_agrees=False, challenger_agrees=c_ok, max_ulp_provider=dist,
            detail=f"{within_k}; node {j}, named by the challenger, is within the bound of its own inputs",
        )), k, opened, nbytes_shared
    return referee.judge(Ruling(
        referee.verdict(False, True, rj[0]), "referee", provider_agrees=False, challenger_agrees=True,
        max_ulp_provider=dj,
        detail=f"{within_k}; node {j} is "
        + (f"{dj} ULPs from its own inputs' recomputation, beyond the bound" if dj is not None
           else "unlike its own inputs' recomputation (compared exactly)"),
    )), j, opened, nbytes_shared


def _first_difference(shared: CommittedTrace, local: Any) -> int | None:
    """The first node where the challenger's localised trace leaves the provider's shared one
    (None: they are equal, or the challenger's answer is no trace of the same length)."""
    trace = getattr(local, "trace", None)
    chain = getattr(trace, "chain", None)
    if not isinstance(chain, np.ndarray) or chain.shape != shared.chain.shape:
        return None
    bad = np.flatnonzero((chain != shared.chain).any(axis=1))
    return int(bad[0]) if bad.size else None


def play(
    computation: Computation,
    provider: Strategy,
    challenger: Strategy,
    *,
    params: DisputeParams | None = None,
    referee: Referee | None = None,
    seed: int | tuple[int, ...] = 0,
    record: bool = True,
) -> DisputeOutcome:
    """Play one dispute over ``computation`` (whitepaper section 5).

    Parameters
    ----------
    computation : Computation
        The disputed inference (executed model or synthetic).
    provider, challenger : Strategy
        The parties (:class:`~oasis_lab.disputes.adversaries.Honest` or an adversary).
    params : DisputeParams, optional
        Arity, comparison, round clock.
    referee : Referee, optional
        Default: the one ``params`` describes.
    seed : int or tuple of int
        Seeds the parties' randomness (non-negative).
    record : bool, default True
        Keep the round-by-round transcript (off in large batches). Without it, parties that
        reveal and choose as the honest party does (whatever they computed) play a lean path:
        the same rounds, verdicts and counts, read straight from their committed traces.

    Returns
    -------
    DisputeOutcome
    """
    params, referee, totals = _setup(computation, params, None, referee)
    return _play(computation, provider, challenger, params, referee, _seed(seed), record, totals)


def _setup(
    computation: Computation, params: DisputeParams | None, arity: int | None, referee: Referee | None
) -> tuple[DisputeParams, Referee, tuple[float, int]]:
    """The checks of :func:`play` and :func:`run_disputes`: their params, referee and
    ``totals`` (the graph's FLOPs, the round bound)."""
    explicit = params is not None
    params = _params(params, arity)
    if not isinstance(computation, Computation):
        raise TypeError(f"computation must be a Computation, got {type(computation).__name__}")
    referee = referee if referee is not None else Referee.from_params(params)
    if not isinstance(referee, Referee):
        raise TypeError(f"referee must be a Referee, got {type(referee).__name__}")
    if explicit and params.commitment != computation.commitment:
        raise ValueError(
            f"params.commitment = {params.commitment!r} but the computation commits with "
            f"{computation.commitment!r}; build it with commitment={params.commitment!r}"
        )
    graph = computation.graph
    return params, referee, (float(graph.flops.sum()), max_rounds(graph.n_nodes, params.arity))


def _seed(seed: int | tuple[int, ...]) -> tuple[int, ...]:
    """A dispute's seed as a tuple of ints, each checked (:func:`oasis_lab.seeding.check_seed`)."""
    parts = tuple(seed) if isinstance(seed, (tuple, list)) else (seed,)
    if not parts:
        raise ValueError("seed = () names no seed")
    return tuple(check_seed(s, "seed") for s in parts)


def _play(
    computation: Computation,
    provider: Strategy,
    challenger: Strategy,
    params: DisputeParams,
    referee: Referee,
    seed: int | tuple[int, ...],
    record: bool,
    totals: tuple[float, int],
) -> DisputeOutcome:
    """:func:`play` after its checks; ``totals`` = (the graph's FLOPs, the round bound),
    computed once per batch."""
    graph = computation.graph
    n = graph.n_nodes
    arity = params.arity
    clock = params.round_timeout_s
    base = list(seed) if isinstance(seed, tuple) else [seed]
    p_rng = cast(np.random.Generator, _LazyGenerator([*base, 0]))
    c_rng = cast(np.random.Generator, _LazyGenerator([*base, 1]))
    ps: PartyState = provider.prepare(computation, p_rng)
    cs: PartyState = challenger.prepare(computation, c_rng)
    lean = not record and _by_the_book(provider) and _by_the_book(challenger)
    # tolerance mode: the provider shares its trace and the challenger localises the first
    # node that fails a check against the provider's own inputs (Strategy.localise)
    tolerance = referee.comparison != "exact"
    transcript: list[RoundRecord] = []
    hashes = 0
    bytes_opened = 0
    bytes_shared = 0
    rounds = 0
    k = -1
    extra_flops = 0.0
    ruling: Ruling

    try:
        if lean:
            # The rounds of play's loop below with the honest reveal and choice inlined: the
            # provider reveals its chain at the split ends, the challenger picks the first end
            # whose commitment differs from its own (32-byte slices of the two chains).
            if tolerance:
                shared, cs = _share(computation, provider, ps, challenger, cs, referee, ps.trace.head)
                bytes_shared = _nbytes(shared.outputs)
                pb = shared.chain.tobytes()  # the provider reveals its (checked) trace
            else:
                pb = ps.trace.chain.tobytes()
            cb = cs.trace.chain.tobytes()
            hashes += 2
            tail = 32 * (n - 1)
            p_hi, q_hi = pb[tail:], cb[tail:]
            head = p_hi
            if p_hi == q_hi:
                raise _Ended("challenger_wrong", "no_disagreement", "final commitments are equal")
            lo, hi = 0, n - 1
            agreed = computation.genesis
            while lo < hi:
                rounds += 1
                size = hi - lo + 1
                a = min(arity, size)
                part, rem = divmod(size, a)
                hashes += a - 1
                new_lo, new_hi = lo, hi
                for t in range(1, a):
                    end = lo + t * part + min(t, rem) - 1
                    at = 32 * end
                    p_end = pb[at : at + 32]
                    c_end = cb[at : at + 32]
                    if p_end != c_end:
                        hashes += 1
                        p_hi, q_hi = p_end, c_end
                        new_hi = end
                        break
                    agreed = p_end
                    new_lo = end + 1
                lo, hi = new_lo, new_hi
        else:
            # round 0: final commitments
            last = np.array([n - 1])
            rp = _reply(provider.reveal(ps, last, 0), 1, "provider_guilty", clock,
                        "provider's final commitment is malformed",
                        "provider did not publish its commitment")
            if tolerance:
                shared, cs = _share(computation, provider, ps, challenger, cs, referee, rp.values[0].tobytes())
                bytes_shared = _nbytes(shared.outputs)
            rc = _reply(challenger.reveal(cs, last, 0), 1, "challenger_wrong", clock,
                        "challenger's final commitment is malformed",
                        "challenger did not publish its commitment")
            hashes += 2
            p_hi = head = rp.values[0].tobytes()
            q_hi = rc.values[0].tobytes()
            if record:
                transcript.append(
                    RoundRecord(0, 0, n - 1, (n - 1,), (_hex(p_hi),), 0, _hex(q_hi), 0, n - 1)
                )
            if p_hi == q_hi:
                raise _Ended("challenger_wrong", "no_disagreement", "final commitments are equal")

            lo, hi = 0, n - 1
            agreed = computation.genesis
            while lo < hi:
                rounds += 1
                pts = split_points(lo, hi, arity)
                m = len(pts)
                rp = _reply(provider.reveal(ps, pts, rounds), m, "provider_guilty", clock,
                            f"round {rounds}: malformed reveal", f"round {rounds}: provider timed out")
                if tolerance and not np.array_equal(rp.values, shared.chain[pts]):
                    raise _Ended("provider_guilty", "failed_opening",
                                 f"round {rounds}: revealed commitments differ from its shared trace")
                hashes += m
                ch = challenger.choose(cs, pts, rp.values, rounds)
                if not isinstance(ch, Choice):
                    raise _Ended("challenger_wrong", "malformed", f"round {rounds}: the choice is no Choice")
                if not _on_time(ch.latency_s, clock):
                    raise _Ended("challenger_wrong", _late(ch.latency_s), f"round {rounds}: challenger timed out")
                j = ch.part
                if isinstance(j, bool) or not isinstance(j, (int, np.integer)) or not 0 <= j <= m:
                    raise _Ended("challenger_wrong", "malformed", f"round {rounds}: part {j!r} invalid")
                new_lo = lo if j == 0 else int(pts[j - 1]) + 1
                new_hi = int(pts[j]) if j < m else hi
                claim_hex = ""
                if j > 0:
                    agreed = rp.values[j - 1].tobytes()
                if j < m:
                    if type(ch.claim) is not bytes or len(ch.claim) != DIGEST_SIZE:
                        raise _Ended("challenger_wrong", "malformed", f"round {rounds}: no claim")
                    hashes += 1
                    p_hi = rp.values[j].tobytes()
                    q_hi = ch.claim
                    claim_hex = _hex(q_hi)
                if record:
                    transcript.append(
                        RoundRecord(
                            rounds,
                            lo,
                            hi,
                            tuple(int(x) for x in pts),
                            tuple(_hex(v) for v in rp.values),
                            j,
                            claim_hex,
                            new_lo,
                            new_hi,
                        )
                    )
                if j < m and p_hi == q_hi:
                    raise _Ended(
                        "challenger_wrong",
                        "no_disagreement",
                        f"round {rounds}: challenger claims the provider's own commitment",
                    )
                lo, hi = new_lo, new_hi

        # one node left: open its inputs and let the referee rule
        k = lo
        opening = provider.open_inputs(ps, k)
        try:
            # the value node k's own commitment extends: c_{k-1} (chain) or A_k (merkle)
            agreed = verify_input_opening(
                opening, graph, agreed, computation.digest, node=k,
                commitment=computation.commitment, genesis=computation.genesis,
            )
        except CommitmentMismatch as exc:
            raise _Ended("provider_guilty", _reason(exc), f"node {k}: {exc}") from None
        hashes += opening.hashes
        bytes_opened += opening.nbytes
        # checked: numeric arrays matching their digests; the referee reads them C-ordered
        inputs = tuple(np.asarray(o, order="C") for o in opening.outputs)
        if referee.rounding:
            # k is the node first ruled on; a node-local fault found later is the one ruled
            first = k
            ruling, k, opened, shared_bytes = _rule_rounding(
                computation, referee, provider, ps, challenger, cs, first, inputs, agreed, p_hi, q_hi, head
            )
            bytes_opened += opened
            bytes_shared += shared_bytes
            extra_flops = float(graph.flops[first]) if k != first else 0.0
            raise _Ended(ruling.verdict, ruling.reason, ruling.detail, ruling)
        recomputed = referee.recompute(computation, k, inputs)
        if referee.comparison == "exact":
            ruling = referee.rule_exact(computation, recomputed, agreed, p_hi, q_hi)
        else:
            po = _opened_output(provider.open_output(ps, k), agreed, p_hi, computation,
                                "provider_guilty", f"node {k}: provider's output")
            co = _opened_output(challenger.open_output(cs, k), agreed, q_hi, computation,
                                "challenger_wrong", f"node {k}: challenger's output")
            bytes_opened += po.nbytes + co.nbytes
            ruling = referee.rule_tolerance(recomputed, po, co)
    except _Ended as end:
        ruling = end.ruling

    total, bound = totals
    flops = (float(graph.flops[k]) if k >= 0 else 0.0) + extra_flops
    return DisputeOutcome(
        model=graph.name,
        n_nodes=n,
        arity=arity,
        disputed_node=k,
        disputed_name=graph.node_names[k] if k >= 0 else "",
        rounds=rounds,
        max_rounds=bound,
        hashes_exchanged=hashes,
        bytes_opened=bytes_opened,
        bytes_shared=bytes_shared,
        referee_flops=flops,
        referee_flops_share=flops / total if total > 0 else 0.0,
        verdict=ruling.verdict,
        reason=ruling.reason,
        provider=describe(provider),
        challenger=describe(challenger),
        provider_honest=provider.honest,
        challenger_honest=challenger.honest,
        transcript=tuple(transcript),
        ruling=ruling,
        drew=cast(_LazyGenerator, p_rng).drew or cast(_LazyGenerator, c_rng).drew,
    )


def as_computation(
    model: Any,
    inputs: dict[str, np.ndarray] | None = None,
    *,
    backend: str = "numpy",
    seed: int = 0,
    commitment: str = "chain",
) -> Computation:
    """A :class:`Computation` from a computation, a :class:`DisputeGraph` (synthetic values),
    a model name of ``oasis_lab.gpu.model`` or a loaded ``Model``; traces committed with
    ``commitment`` (:data:`~oasis_lab.disputes.commitments.COMMITMENTS`; a given computation keeps
    its own)."""
    if isinstance(model, Computation):
        if inputs is not None:
            raise ValueError("inputs must be None when model is already a Computation")
        return model
    if isinstance(model, DisputeGraph):
        if inputs is not None:
            raise ValueError("inputs must be None for a synthetic DisputeGraph")
        return SyntheticComputation(model, seed=seed, commitment=commitment)
    from oasis_lab.gpu import model as gpu_model

    if isinstance(model, str):
        model = gpu_model.load_model(model)
    if not hasattr(model, "nodes") or not hasattr(model, "input_names"):
        raise TypeError(
            f"model must be a Computation, DisputeGraph, model name or Model, got {type(model).__name__}"
        )
    if inputs is None:
        inputs = gpu_model.example_inputs(model, seed=seed)
    return ModelComputation(model, inputs, backend=backend, seed=seed, commitment=commitment)


def _params(params: DisputeParams | None, arity: int | None) -> DisputeParams:
    params = params if params is not None else DisputeParams()
    if not isinstance(params, DisputeParams):
        raise TypeError(f"params must be DisputeParams, got {type(params).__name__}")
    return params if arity is None else params.replace(arity=arity)


def run_dispute(
    model: Any,
    inputs: dict[str, np.ndarray] | None = None,
    provider: Strategy | None = None,
    challenger: Strategy | None = None,
    *,
    arity: int | None = None,
    referee: Referee | None = None,
    params: DisputeParams | None = None,
    seed: int = 0,
    backend: str = "numpy",
    record: bool = True,
) -> DisputeOutcome:
    """Challenge one inference and play the dispute to a verdict (whitepaper section 5).

    Parameters
    ----------
    model : Computation, DisputeGraph, str or oasis_lab.gpu.model.Model
        What was computed. A name or ``Model`` is executed on ``backend`` with ``inputs``
        (default: ``example_inputs(model, seed)``); a ``DisputeGraph`` gets synthetic values.
    inputs : dict of str to ndarray, optional
    provider, challenger : Strategy, optional
        Default :class:`~oasis_lab.disputes.adversaries.Honest`.
    arity : int, optional
        Overrides ``params.arity`` (``>= 2``).
    referee : Referee, optional
        Default: ``Referee.from_params(params)``.
    params : DisputeParams, optional
    seed : int
    backend : str
        Backend of the honest run of an executed model.
    record : bool
        Keep the transcript.

    Returns
    -------
    DisputeOutcome

    Examples
    --------
    >>> from oasis_lab.disputes.graph import synthetic_graph
    >>> from oasis_lab.disputes.adversaries import PerturbNode
    >>> out = run_dispute(synthetic_graph(100), provider=PerturbNode(node=37), arity=4)
    >>> out.disputed_node, out.verdict, out.rounds <= out.max_rounds
    (37, 'provider_guilty', True)
    """
    params = _params(params, arity)
    computation = as_computation(model, inputs, backend=backend, seed=seed,
                                 commitment=params.commitment)
    return play(
        computation,
        provider if provider is not None else Honest(),
        challenger if challenger is not None else Honest(),
        params=params,
        referee=referee,
        seed=seed,
        record=record,
    )


@dataclass(frozen=True)
class DisputeBatch:
    """Many disputes over one computation, as parallel arrays.

    Attributes
    ----------
    model : str
    n_nodes, arity : int
    provider, challenger : tuple of str
        Strategy labels.
    provider_honest, challenger_honest : ndarray of bool
    disputed_node, rounds, hashes_exchanged, bytes_opened : ndarray of int64
    referee_flops, referee_flops_share : ndarray of float64
    verdict : ndarray of int8
        Index into :data:`~oasis_lab.disputes.referee.VERDICTS`.
    reason : tuple of str
    """

    model: str
    n_nodes: int
    arity: int
    provider: tuple[str, ...]
    challenger: tuple[str, ...]
    provider_honest: np.ndarray
    challenger_honest: np.ndarray
    disputed_node: np.ndarray
    rounds: np.ndarray
    hashes_exchanged: np.ndarray
    bytes_opened: np.ndarray
    referee_flops: np.ndarray
    referee_flops_share: np.ndarray
    verdict: np.ndarray
    reason: tuple[str, ...]

    @property
    def convicted(self) -> np.ndarray:
        """Whether each provider was found guilty."""
        return self.verdict == VERDICTS.index("provider_guilty")

    @property
    def wrongly_convicted(self) -> np.ndarray:
        """Honest providers found guilty (must stay empty in exact mode on one device)."""
        return self.convicted & self.provider_honest

    @property
    def cheaters_upheld(self) -> np.ndarray:
        """Cheating providers challenged by an honest challenger and not convicted."""
        return ~self.provider_honest & self.challenger_honest & ~self.convicted

    def to_frame(self) -> pd.DataFrame:
        """One row per dispute."""
        return pd.DataFrame(
            {
                "provider": list(self.provider),
                "challenger": list(self.challenger),
                "provider_honest": self.provider_honest,
                "challenger_honest": self.challenger_honest,
                "disputed_node": self.disputed_node,
                "rounds": self.rounds,
                "hashes_exchanged": self.hashes_exchanged,
                "bytes_opened": self.bytes_opened,
                "referee_flops": self.referee_flops,
                "referee_flops_share": self.referee_flops_share,
                "verdict": np.asarray(VERDICTS, dtype=object)[self.verdict],
                "reason": list(self.reason),
            }
        )

    def summary(self) -> dict[str, Any]:
        """Counts of verdicts, wrongful convictions and cost maxima."""
        return {
            "disputes": int(self.verdict.size),
            **{v: int(np.sum(self.verdict == i)) for i, v in enumerate(VERDICTS)},
            "wrongly_convicted": int(self.wrongly_convicted.sum()),
            "cheaters_upheld": int(self.cheaters_upheld.sum()),
            "max_rounds": int(self.rounds.max()) if self.rounds.size else 0,
            "round_bound": max_rounds(self.n_nodes, self.arity),
            "mean_hashes": float(self.hashes_exchanged.mean()) if self.rounds.size else 0.0,
        }


def run_disputes(
    computation: Computation,
    pairs: Sequence[tuple[Strategy, Strategy]],
    *,
    params: DisputeParams | None = None,
    arity: int | None = None,
    referee: Referee | None = None,
    seed: int = 0,
) -> DisputeBatch:
    """Play one dispute per ``(provider, challenger)`` pair over ``computation``.

    Dispute ``i`` is seeded with ``(seed, i)``; transcripts are not kept.
    """
    params, referee, totals = _setup(computation, params, arity, referee)
    root = check_seed(seed)
    outs = [
        _play(computation, p, c, params, referee, (root, i), False, totals)
        for i, (p, c) in enumerate(pairs)
    ]
    vcode = {v: i for i, v in enumerate(VERDICTS)}
    return DisputeBatch(
        model=computation.name,
        n_nodes=computation.n_nodes,
        arity=params.arity,
        provider=tuple(o.provider for o in outs),
        challenger=tuple(o.challenger for o in outs),
        provider_honest=np.array([o.provider_honest for o in outs], dtype=bool),
        challenger_honest=np.array([o.challenger_honest for o in outs], dtype=bool),
        disputed_node=np.array([o.disputed_node for o in outs], dtype=np.int64),
        rounds=np.array([o.rounds for o in outs], dtype=np.int64),
        hashes_exchanged=np.array([o.hashes_exchanged for o in outs], dtype=np.int64),
        bytes_opened=np.array([o.bytes_opened for o in outs], dtype=np.int64),
        referee_flops=np.array([o.referee_flops for o in outs], dtype=np.float64),
        referee_flops_share=np.array([o.referee_flops_share for o in outs], dtype=np.float64),
        verdict=np.array([vcode[o.verdict] for o in outs], dtype=np.int8),
        reason=tuple(o.reason for o in outs),
    )
