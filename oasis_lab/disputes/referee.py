"""The referee: recompute the one disputed node and rule (whitepaper section 5).

Section 5: "a single service provider is assigned to recompute each layer [...] If at any point
there is a discrepancy between the challenged inference and the recomputed inference, the
challenger [...] rewarded and the challenged service provider is punished." After the
bisection, provider and challenger agree on ``c_{k-1}`` and disagree on ``c_k``; the referee

1. checks the provider's opening of node ``k``'s inputs against ``c_{k-1}``,
2. recomputes ``r = f_k(inputs)`` on its backend (``numpy`` reference or ``webgpu``), and
3. compares ``r`` with each party's claim for node ``k``:

* ``comparison="exact"``: through the chain, ``H(c_{k-1} | d(r))`` against ``c_k`` of each
  party (bitwise: only the hashes are needed). With ``exact_reading="rounding"`` (the
  default) ``r`` is recomputed on every engine of ``engines`` the computation can run here, and
  a provider whose claim is none of them opens its output: within ``rounding_ulp`` ULPs of an
  engine's at a float node it is not convicted at ``k`` (device rounding can explain it), and
  the dispute then checks its whole trace node by node against the bound
  (:func:`oasis_lab.disputes.bisection.play`); ``"strict"`` compares on ``backend`` only;
* ``comparison="tolerance"``: each party opens ``o_k`` (checked against its ``c_k``) and
  ``o_k`` agrees with ``r`` when every element is within ``atol`` or ``max_ulp`` ULPs. The
  tolerance is for floating-point outputs only: a discrete output (integer token ids,
  quantized activations, booleans) agrees only when it is equal (:func:`outputs_agree`).

Verdict: the provider's claim agrees -> ``challenger_wrong`` (the provider is upheld, the
benefit of the doubt goes to the defender); else the challenger's agrees -> ``provider_guilty``;
else ``ambiguous`` (the referee agrees with neither: nobody is slashed). A recomputed float output
holding an inf or a NaN is outside the bitwise contract of the kernels (WGSL lets engines assume
no overflow and gives ``max`` of a NaN no defined result; ``oasis_lab.gpu.conformance`` measured
engines that differ there), so it never convicts: ``provider_guilty`` becomes ``ambiguous``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from oasis_lab.checks import check_choice, check_int, check_real
from oasis_lab.disputes.computations import Computation
from oasis_lab.disputes.hashing import chain_step
from oasis_lab.disputes.params import COMPARISONS, EXACT_READINGS, MAX_ULP_LIMIT, DisputeParams, check_engines

__all__ = [
    "REASONS",
    "VERDICTS",
    "Referee",
    "Ruling",
    "first_local_fault",
    "outputs_agree",
    "ulp_distance",
]

#: The three verdicts, in the order of their integer codes in batch results.
VERDICTS: tuple[str, ...] = ("provider_guilty", "challenger_wrong", "ambiguous")
#: Why a dispute ended (:attr:`Ruling.reason`).
REASONS: tuple[str, ...] = (
    "referee", "within_rounding", "failed_opening", "no_disagreement", "timeout", "malformed",
)

_ORDERED_INT: dict[int, type[np.signedinteger[Any]]] = {2: np.int16, 4: np.int32, 8: np.int64}


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise distance in units in the last place between two float arrays.

    Floats are mapped to integers that are ordered like the floats (sign-magnitude to two's
    complement), so the distance counts representable values between ``a`` and ``b``;
    ``+0`` and ``-0`` are 0 apart. A NaN on either side gives the maximum distance. Integer
    arrays give their absolute difference.

    Raises
    ------
    TypeError
        When the dtypes differ or are not numeric.
    ValueError
        When the shapes differ.
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if a.dtype != b.dtype:
        raise TypeError(f"cannot compare dtypes {a.dtype} and {b.dtype}")
    if a.shape != b.shape:
        raise ValueError(f"cannot compare shapes {a.shape} and {b.shape}")
    if a.dtype.kind in "iub":
        # exact for every width: unsigned values as they are, signed ones shifted by 2**63 into
        # the same order (int64 differences would overflow at the extremes of int64 and uint64)
        if a.dtype.kind == "i":
            flip = np.uint64(1 << 63)
            ua, ub = a.astype(np.int64).view(np.uint64) ^ flip, b.astype(np.int64).view(np.uint64) ^ flip
        else:
            ua, ub = a.astype(np.uint64), b.astype(np.uint64)
        return np.where(ua >= ub, ua - ub, ub - ua)
    if a.dtype.kind != "f" or a.dtype.itemsize not in _ORDERED_INT:
        raise TypeError(f"ulp_distance needs float16/32/64 or integer arrays, got {a.dtype}")
    it = _ORDERED_INT[a.dtype.itemsize]
    big = np.iinfo(it).min

    def ordered(x: np.ndarray) -> np.ndarray:
        i = x.view(it).astype(np.int64)
        return np.where(i < 0, np.int64(big) - i, i)

    oa, ob = ordered(a), ordered(b)
    # unsigned wrap-around subtraction: exact even when the signed difference overflows
    ua, ub = oa.astype(np.uint64), ob.astype(np.uint64)
    d = np.where(oa >= ob, ua - ub, ub - ua)
    nan = np.isnan(a) | np.isnan(b)
    return np.where(nan, np.iinfo(np.uint64).max, d)


def outputs_agree(a: np.ndarray, b: np.ndarray, *, atol: float = 0.0, max_ulp: int = 0) -> bool:
    """Whether every element of ``a`` and ``b`` is within ``atol`` or ``max_ulp`` ULPs.

    The tolerance applies to floating-point outputs only. Discrete outputs (integers such as
    token ids or quantized activations, booleans, anything not floating point) must be equal
    element for element whatever the tolerance: an integer one away is another token, not a
    rounding difference, and integer arithmetic is reproducible across devices.
    ``atol = 0, max_ulp = 0`` is bitwise equality of the values (with ``+0 == -0``). Arrays of
    different dtype or shape never agree.

    Examples
    --------
    >>> outputs_agree(np.int32([7]), np.int32([8]), max_ulp=4, atol=2.0)
    False
    >>> outputs_agree(np.float32([1.0]), np.nextafter(np.float32([1.0]), np.float32(2)), max_ulp=4)
    True
    """
    a = np.asarray(a)
    b = np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind != "f":
        # discrete outputs: exact in every mode (see the docstring)
        return bool(np.array_equal(a, b))
    close = ulp_distance(a, b) <= np.uint64(max_ulp)
    if atol > 0 and a.dtype.kind == "f":
        with np.errstate(invalid="ignore", over="ignore"):
            close |= np.abs(a.astype(np.float64) - b.astype(np.float64)) <= atol
    return bool(np.all(close))


def first_local_fault(
    computation: Computation,
    outputs: Sequence[np.ndarray] | np.ndarray,
    *,
    atol: float = 0.0,
    max_ulp: int = 0,
    backend: str = "numpy",
) -> tuple[int, np.ndarray | None]:
    """The first node whose output in ``outputs`` disagrees (:func:`outputs_agree` with
    ``atol`` / ``max_ulp``) with that node recomputed from ``outputs``' own inputs, and that
    recomputation; ``(n_nodes, None)`` when every node agrees.

    The node-local check of tolerance mode (whitepaper section 5, issue 20): each node is held
    to its *own* committed inputs, so a change within tolerance at one node cannot shield a
    cheat at a later one (comparing a trace with an honest run would stop at the first,
    tolerated, divergence). What it accepts by design is a drift of at most the tolerance per
    node, compounded along the graph (``docs/mechanism.md``, the residual drift table).
    """
    recomputed = computation.recompute_all(outputs, backend)
    n = computation.n_nodes
    rows = outputs if isinstance(outputs, np.ndarray) and outputs.ndim == 2 else None
    if rows is not None and rows.dtype.kind == "f" and all(
        r.shape == rows.shape[1:] and r.dtype == rows.dtype for r in recomputed
    ):
        # one row per node (synthetic traces): every node compared at once
        ref = np.stack(recomputed)
        close = ulp_distance(rows, ref) <= np.uint64(max_ulp)
        if atol > 0:
            with np.errstate(invalid="ignore", over="ignore"):
                close |= np.abs(rows.astype(np.float64) - ref.astype(np.float64)) <= atol
        bad = np.flatnonzero(~close.all(axis=1))
        return (int(bad[0]), ref[bad[0]]) if bad.size else (n, None)
    for k in range(n):  # nodes of different shapes and dtypes: one comparison each
        if not outputs_agree(outputs[k], recomputed[k], atol=atol, max_ulp=max_ulp):
            return k, recomputed[k]
    return n, None


@dataclass(frozen=True)
class Ruling:
    """What the referee decided about the disputed node.

    Attributes
    ----------
    verdict : str
        One of :data:`VERDICTS`.
    reason : str
        One of :data:`REASONS`: ``"referee"`` (a comparison decided), ``"within_rounding"``
        (the exact referee's rounding reading: the provider's output is no engine's but within
        the rounding bound, and no later node of its trace is beyond it), ``"failed_opening"``
        (a party's opening did not match its commitment), ``"no_disagreement"``,
        ``"timeout"``, ``"malformed"``.
    provider_agrees, challenger_agrees : bool or None
        Whether each party's claim agrees with the recomputed output (None: not compared).
    max_ulp_provider, max_ulp_challenger : int or None
        Largest element ULP distance of each opened output (tolerance mode only).
    detail : str
        One line for the transcript.
    """

    verdict: str
    reason: str
    provider_agrees: bool | None = None
    challenger_agrees: bool | None = None
    max_ulp_provider: int | None = None
    max_ulp_challenger: int | None = None
    detail: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict = {self.verdict!r} is not one of {list(VERDICTS)}")
        if self.reason not in REASONS:
            raise ValueError(f"reason = {self.reason!r} is not one of {list(REASONS)}")


def _verdict(provider_ok: bool, challenger_ok: bool, recomputed: np.ndarray | None = None) -> str:
    if provider_ok:
        return "challenger_wrong"
    if challenger_ok and not _outside_contract(recomputed):
        return "provider_guilty"
    return "ambiguous"


def _outside_contract(recomputed: np.ndarray | None) -> bool:
    """A float output with an inf or a NaN: engines may differ there (see the module docstring)."""
    r = None if recomputed is None else np.asarray(recomputed)
    return r is not None and r.dtype.kind == "f" and r.size > 0 and not bool(np.isfinite(r).all())


@dataclass(frozen=True)
class Referee:
    """A referee: which backend it recomputes on and how it compares.

    The defaults are those of :class:`~oasis_lab.disputes.params.DisputeParams` (one source:
    ``Referee() == Referee.from_params(DisputeParams())``).

    Parameters
    ----------
    backend : str, default "numpy"
        Passed to :meth:`Computation.recompute` (``oasis_lab.gpu.model.run_node``).
    comparison : {"exact", "tolerance"}, default "exact"
    atol : float, default 0.0
    max_ulp : int, default 4
        Tolerances of ``comparison="tolerance"`` (floating-point outputs only; discrete
        outputs are compared exactly, see :func:`outputs_agree`).
    exact_reading : {"rounding", "strict"}, default "rounding"
    rounding_ulp : int, default 4
    engines : tuple of str, default ("numpy", "webgpu")
        The exact comparison's reading, its rounding bound and the engines it recomputes on
        (``DisputeParams.exact_reading``, ``rounding_ulp``, ``referee_engines``).
    """

    backend: str = DisputeParams.referee_backend
    comparison: str = DisputeParams.comparison
    atol: float = DisputeParams.atol
    max_ulp: int = DisputeParams.max_ulp
    exact_reading: str = DisputeParams.exact_reading
    rounding_ulp: int = DisputeParams.rounding_ulp
    engines: tuple[str, ...] = DisputeParams.referee_engines

    def __post_init__(self) -> None:
        if self.comparison not in COMPARISONS:
            raise ValueError(f"comparison = {self.comparison!r} is not one of {list(COMPARISONS)}")
        if not isinstance(self.backend, str):
            raise TypeError(f"backend must be a string, got {self.backend!r}")
        if check_real("atol", self.atol) < 0:
            raise ValueError(f"atol = {self.atol!r} must be >= 0")
        object.__setattr__(self, "max_ulp", check_int("max_ulp", self.max_ulp, 0, MAX_ULP_LIMIT))
        check_choice("exact_reading", self.exact_reading, EXACT_READINGS)
        object.__setattr__(self, "rounding_ulp", check_int("rounding_ulp", self.rounding_ulp, 0, MAX_ULP_LIMIT))
        object.__setattr__(self, "engines", check_engines("engines", self.engines))

    @property
    def rounding(self) -> bool:
        """Whether this referee rules with the exact comparison's rounding reading."""
        return self.comparison == "exact" and self.exact_reading == "rounding"

    @classmethod
    def from_params(cls, params: object) -> Referee:
        """The referee a :class:`~oasis_lab.disputes.params.DisputeParams` describes."""
        return cls(
            backend=params.referee_backend,  # type: ignore[attr-defined]
            comparison=params.comparison,  # type: ignore[attr-defined]
            atol=params.atol,  # type: ignore[attr-defined]
            max_ulp=params.max_ulp,  # type: ignore[attr-defined]
            exact_reading=params.exact_reading,  # type: ignore[attr-defined]
            rounding_ulp=params.rounding_ulp,  # type: ignore[attr-defined]
            engines=params.referee_engines,  # type: ignore[attr-defined]
        )

    def recompute(
        self, computation: Computation, k: int, inputs: Sequence[np.ndarray]
    ) -> np.ndarray:
        """Recompute node ``k`` from its opened inputs on this referee's backend."""
        return computation.recompute(k, inputs, backend=self.backend)

    def engines_for(self, computation: Computation) -> tuple[str, ...]:
        """The engines the rounding reading recomputes on: ``backend`` first, then each of
        ``engines`` the computation can run on this machine (:meth:`Computation.can_run`)."""
        return tuple(
            e for e in dict.fromkeys((self.backend, *self.engines)) if e == self.backend or computation.can_run(e)
        )

    def recompute_on(
        self, computation: Computation, k: int, inputs: Sequence[np.ndarray], engine: str
    ) -> np.ndarray:
        """Node ``k`` recomputed on ``engine`` (the rounding reading: the protocol's engines,
        which every honest referee runs alike, whatever its own device)."""
        return np.asarray(computation.recompute(k, inputs, backend=engine))

    def within_rounding(self, output: np.ndarray, recomputed: Sequence[np.ndarray]) -> tuple[bool, int | None]:
        """Whether ``output`` is within ``rounding_ulp`` ULPs of one of ``recomputed`` (float
        outputs of its dtype and shape only: a discrete output does not round), and the
        smallest largest-element ULP distance (None: no float recomputation to compare)."""
        out = np.asarray(output)
        best: int | None = None
        for r in recomputed:
            r = np.asarray(r)
            if r.dtype.kind != "f" or out.dtype != r.dtype or out.shape != r.shape:
                continue
            d = int(ulp_distance(out, r).max()) if r.size else 0
            best = d if best is None else min(best, d)
        return best is not None and best <= self.rounding_ulp, best

    def verdict(self, provider_ok: bool, challenger_ok: bool, recomputed: np.ndarray | None = None) -> str:
        """The verdict of a comparison: the provider's claim agrees, else the challenger's
        (unless the recomputation is outside the bitwise contract), else ``ambiguous``."""
        return _verdict(provider_ok, challenger_ok, recomputed)

    def judge(self, ruling: Ruling) -> Ruling:
        """The ruling this referee gives once the comparison has decided (a market referee
        may bend it; the trusted stack gives it as it is)."""
        return ruling

    def rule_exact(
        self,
        computation: Computation,
        recomputed: np.ndarray,
        agreed_prev: bytes,
        provider_claim: bytes,
        challenger_claim: bytes,
    ) -> Ruling:
        """Exact comparison: ``H(c_{k-1} | d(r))`` against both parties' ``c_k``."""
        ref = chain_step(agreed_prev, computation.digest(recomputed))
        p_ok = ref == provider_claim
        c_ok = ref == challenger_claim
        verdict = _verdict(p_ok, c_ok, recomputed)
        return Ruling(
            verdict,
            "referee",
            provider_agrees=p_ok,
            challenger_agrees=c_ok,
            detail=f"recomputed commitment {ref.hex()[:12]}: provider "
            f"{'agrees' if p_ok else 'differs'}, challenger {'agrees' if c_ok else 'differs'}"
            + (" (recomputed output not finite: outside the bitwise contract)"
               if _outside_contract(recomputed) else ""),
        )

    def rule_tolerance(
        self,
        recomputed: np.ndarray,
        provider_output: np.ndarray,
        challenger_output: np.ndarray,
    ) -> Ruling:
        """Tolerance comparison of the recomputed output with both opened outputs."""

        def dist(x: np.ndarray) -> int | None:
            x = np.asarray(x)
            r = np.asarray(recomputed)
            if x.dtype != r.dtype or x.shape != r.shape or r.dtype.kind not in "fiub":
                return None
            d = ulp_distance(x, r)
            return int(d.max()) if d.size else 0

        p_ok = outputs_agree(provider_output, recomputed, atol=self.atol, max_ulp=self.max_ulp)
        c_ok = outputs_agree(challenger_output, recomputed, atol=self.atol, max_ulp=self.max_ulp)
        dp, dc = dist(provider_output), dist(challenger_output)
        return Ruling(
            _verdict(p_ok, c_ok, recomputed),
            "referee",
            provider_agrees=p_ok,
            challenger_agrees=c_ok,
            max_ulp_provider=dp,
            max_ulp_challenger=dc,
            detail=f"max ULP distance: provider {dp}, challenger {dc} "
            + (
                f"(tolerance {self.max_ulp} ULP or atol {self.atol:g})"
                if np.asarray(recomputed).dtype.kind == "f"
                else "(discrete output: compared exactly)"
            ),
        )
