"""Fault-proof studies as experiments (whitepaper section 5).

- ``adversary_matrix`` (:class:`AdversaryMatrix`): every adversary of
  :mod:`oasis_lab.disputes.adversaries` against the exact and the tolerance referee (notebook
  04, section 2); ``correct`` scores each verdict against the strategies' ground truth.
- ``residual_drift`` (:class:`ResidualDrift`): how far changes within tolerance at every node
  carry an executed model's output (what tolerance mode accepts by design).
- :func:`cheat_margins`: how far the cheats that save compute move the node they are convicted
  at, in ULPs, against the exact referee's rounding bound (what the rounding reading costs).
- ``deterrence`` (:class:`Deterrence`): a Monte Carlo of challenged tasks at one stake, slash
  fraction and challenge probability, with the welfare of the tasks and the cheaters' realised
  profit; swept over stake x challenge probability it is the deterrence surface measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from oasis_lab.checks import (
    check_bool,
    check_choice,
    check_fraction,
    check_int,
    check_ints,
    check_names,
    check_real,
)
from oasis_lab.disputes import adversaries as adv
from oasis_lab.disputes.bisection import as_computation, play
from oasis_lab.disputes.economics import (
    challenge_probability,
    cheating_gain,
    simulate_challenges,
)
from oasis_lab.disputes.params import COMPARISONS, MAX_ULP_LIMIT, DisputeParams
from oasis_lab.disputes.referee import ulp_distance
from oasis_lab.experiments.base import ExperimentConfig, register
from oasis_lab.gpu.model import MODEL_NAMES
from oasis_lab.seeding import child_seed, generator, stream

__all__ = [
    "DOCUMENTED_ESCAPES",
    "MAX_TASKS",
    "AdversaryMatrix",
    "Deterrence",
    "ResidualDrift",
    "cheat_margins",
    "matchups",
]

#: Most tasks of one ``deterrence`` run: its Monte Carlo holds about ten arrays of ``n_tasks``
#: entries (under 1 GiB at this bound), so a larger one is refused before it starts.
MAX_TASKS = 10**7

#: (comparison, matchup) pairs where the verdict is documented to differ from the ground truth
#: (docs/mechanism.md, "Fault proofs"): a deviation within the ULP bound at one float node is
#: not convicted, by design: the tolerance referee accepts it (the residual drift), the exact
#: referee's rounding reading finds it ``ambiguous`` (device rounding can explain it; nobody
#: is slashed or paid). No honest provider is convicted (the one whose device rounds one float
#: node a ULP differently is ``ambiguous`` in exact mode, upheld in tolerance mode), and the
#: laundered cheat, a 1-ULP change before a real cheat, is convicted in both: each node is
#: checked against the provider's own inputs. A model whose nodes are all discrete
#: (quantized-mlp) has none.
DOCUMENTED_ESCAPES: frozenset[tuple[str, str]] = frozenset(
    {
        ("exact", "2 ULPs at one node"),
        ("tolerance", "2 ULPs at one node"),
    }
)


def matchups(n: int) -> dict[str, tuple[adv.Strategy, adv.Strategy]]:
    """The adversary matrix's (provider, challenger) pairs for a graph of ``n >= 2`` nodes
    (every node taken from ``n``: the tiny transformer's 61 give the nodes of the notebook)."""
    n = check_int("n (nodes)", n, 2)
    small = min(5, n // 4)  # the laundering provider's 1-ULP node, then its real cheat
    big = max(small + 1, n - 5)
    return {
        "perturb one node": (adv.PerturbNode(node=n // 3), adv.Honest()),
        "lazy: skip a node": (adv.SkipNode(node=n // 2), adv.Honest()),
        "model swap (int8 weights)": (adv.ModelSwap(), adv.Honest()),
        "made up after a node": (adv.WrongAfter(node=n // 4), adv.Honest()),
        "2 ULPs at one node": (adv.BelowTolerance(node=n // 2, ulps=2), adv.Honest()),
        "launder: 1 ULP then cheat": (adv.Launder(small_node=small, big_node=big), adv.Honest()),
        "equivocate at reveals": (adv.Equivocator(node=n // 2), adv.Honest()),
        "equivocate at openings": (adv.Equivocator(node=n // 2, mode="inputs"), adv.Honest()),
        "provider times out": (adv.Timeout(base=adv.PerturbNode(node=min(9, n - 1)), at_round=2),
                               adv.Honest()),
        "honest, other device": (adv.OtherDevice(node=n // 2), adv.Honest()),
        "lying challenger": (adv.Honest(), adv.LyingChallenger(node=n // 3)),
        "random challenger": (adv.Honest(), adv.RandomChallenger()),
        "fake final commitment": (adv.Honest(), adv.FakeFinalChallenger()),
    }


@register
@dataclass(frozen=True)
class AdversaryMatrix(ExperimentConfig):
    """Every adversary against each referee comparison (section 5).

    Parameters
    ----------
    model : str
        Executed model of :mod:`oasis_lab.gpu.model` (its inputs drawn from the
        ``"execution"`` stream).
    arity, max_ulp : int
        Of :class:`~oasis_lab.disputes.params.DisputeParams`.
    comparisons : tuple of str
        Referee comparisons to play.

    Returns (``run``)
    -----------------
    One row per (matchup, comparison): ``matchup, provider_honest, comparison, verdict,
    disputed_node, reason, rounds, correct`` (a cheater convicted, an honest provider not),
    ``documented`` (the pair is in :data:`DOCUMENTED_ESCAPES`).
    """

    name = "adversary_matrix"

    model: str = "tiny-transformer"
    arity: int = 4
    max_ulp: int = 4
    comparisons: tuple[str, ...] = ("exact", "tolerance")

    checks = {
        # the model is checked here, not when a point runs
        "model": partial(check_choice, choices=MODEL_NAMES),
        "arity": partial(check_int, minimum=2),
        "max_ulp": partial(check_int, minimum=0),
        "comparisons": partial(check_names, choices=COMPARISONS, empty=True),
    }

    def _run(self, seed: int) -> pd.DataFrame:
        # the gpu layer takes 32-bit seeds: one draw of the "execution" stream
        comp = as_computation(self.model, seed=int(stream(seed, "execution").integers(2**32)))
        rows = []
        for k, (label, (prov, chal)) in enumerate(matchups(comp.n_nodes).items()):
            for cmp in self.comparisons:
                params = DisputeParams(arity=self.arity, comparison=cmp, max_ulp=self.max_ulp)
                o = play(comp, prov, chal, params=params, seed=child_seed(seed, "disputes", k), record=False)
                guilty = o.verdict == "provider_guilty"
                rows.append(
                    {
                        "matchup": label,
                        "provider_honest": prov.honest,
                        "comparison": cmp,
                        "verdict": o.verdict,
                        "disputed_node": o.disputed_node,
                        "reason": o.reason,
                        "rounds": o.rounds,
                        "correct": guilty != prov.honest,
                        "documented": (cmp, label) in DOCUMENTED_ESCAPES,
                    }
                )
        return pd.DataFrame(rows)


@register
@dataclass(frozen=True)
class Deterrence(ExperimentConfig):
    """Challenged tasks at one stake and challenge probability: welfare and cheater profit.

    A share ``cheat_share`` of providers are opportunists that cheat (save ``gain`` of compute
    by corrupting a random node) whenever cheating pays in expectation, ``gain > p (f S + P)``
    (with ``rational=False`` they always cheat). Every challenged cheat is disputed and played
    (:func:`~oasis_lab.disputes.economics.simulate_challenges`).

    Welfare per task (the reading taken; tokens moved between parties cancel): a task's user
    gets ``value`` from a correct result (honest, or cheated, convicted and re-executed) and 0
    from an undetected cheat; every execution costs ``gain`` of compute (the provider's, the
    challenger's re-execution, the re-execution after a conviction; a cheater spends none).

    Returns (``run``)
    -----------------
    One row: ``p`` (challenge probability), ``expected_cheat_gain`` (``G - p (f S + P)``),
    ``cheats`` (whether the opportunists cheat), ``welfare`` (per task), ``cheater_profit``
    (realised per cheated task, 0 when nobody cheats), ``welfare_if_cheating``,
    ``welfare_if_honest`` and the Monte Carlo's counts (``cheated, fraud_detected,
    fraud_undetected, honest_wrongly_slashed, disputes``).
    """

    name = "deterrence"

    n_tasks: int = 2000
    stake: float = 1000.0
    slash_fraction: float = 1.0
    p_user: float = 0.05
    p_platform: float = 0.05
    gain: float = 50.0
    payment: float = 100.0
    value: float = 150.0
    cheat_share: float = 0.1
    rational: bool = True
    other_device_share: float = 0.0
    n_nodes: int = 128
    arity: int = 4
    comparison: str = "exact"

    checks = {
        "n_tasks": partial(check_int, minimum=1, maximum=MAX_TASKS),
        **dict.fromkeys(("stake", "gain", "payment", "value"), partial(check_real, minimum=0.0)),
        **dict.fromkeys(("slash_fraction", "p_user", "p_platform", "cheat_share", "other_device_share"),
                        check_fraction),
        "rational": check_bool,
        "n_nodes": partial(check_int, minimum=2),
        "arity": partial(check_int, minimum=2),
        "comparison": partial(check_choice, choices=COMPARISONS),
    }

    def validate(self) -> None:
        if self.cheat_share + self.other_device_share > 1:
            raise ValueError(
                f"cheat_share + other_device_share = {self.cheat_share + self.other_device_share} must be <= 1"
            )

    @property
    def p(self) -> float:
        """Challenge probability ``1 - (1 - p_user)(1 - p_platform)``."""
        return float(challenge_probability(self.p_user, self.p_platform))

    @property
    def expected_cheat_gain(self) -> float:
        """``G - p (f S + P)``: positive where cheating pays in expectation."""
        return float(cheating_gain(self.p, self.slash_fraction * self.stake, self.gain, self.payment))

    def _run(self, seed: int) -> pd.DataFrame:
        cheats = self.expected_cheat_gain > 0 or not self.rational
        params = DisputeParams(arity=self.arity, comparison=self.comparison, slash_fraction=self.slash_fraction)
        mc = simulate_challenges(
            self.n_tasks,
            cheat_share=self.cheat_share,
            p_user=self.p_user,
            p_platform=self.p_platform,
            stake=self.stake,
            gain=self.gain,
            payment=self.payment,
            other_device_share=self.other_device_share,
            n_nodes=self.n_nodes,
            params=params,
            seed=child_seed(seed, "disputes", "monte_carlo"),
        )
        cheat = mc.kind == 1
        caught = cheat & mc.convicted
        g, v = self.gain, self.value
        # world where the opportunists cheat (the Monte Carlo as played)
        compute = np.where(cheat, 0.0, g) + g * mc.challenged + g * mc.convicted
        delivered = np.where(cheat & ~mc.convicted, 0.0, v)
        welfare_cheating = float(np.mean(delivered - compute))
        # same draws, opportunists honest: a challenge re-executes and finds nothing, except
        # where an honest provider on another device is (wrongly) convicted
        wrongly = mc.convicted & ~cheat
        welfare_honest = float(np.mean(v - g - g * mc.challenged - g * wrongly))
        summary = mc.summary()
        return pd.DataFrame(
            [
                {
                    "p": self.p,
                    "expected_cheat_gain": self.expected_cheat_gain,
                    "cheats": bool(cheats),
                    "welfare": welfare_cheating if cheats else welfare_honest,
                    "cheater_profit": float(mc.cheater_gain) if cheats else 0.0,
                    "welfare_if_cheating": welfare_cheating,
                    "welfare_if_honest": welfare_honest,
                    "cheated": int(cheat.sum()),
                    "fraud_detected": int(caught.sum()),
                    "fraud_undetected": summary["fraud_undetected"],
                    "honest_wrongly_slashed": summary["honest_wrongly_slashed"],
                    "disputes": summary["disputes"],
                }
            ]
        )



@register
@dataclass(frozen=True)
class ResidualDrift(ExperimentConfig):
    """How far changes within tolerance at every node carry an executed model's output: the
    residual that tolerance mode accepts by design (section 5, issue 20).

    A :class:`~oasis_lab.disputes.adversaries.Drift` provider moves every element of every
    float node ``max_ulp`` ULPs (all up, all down, or a random sign per element), computing
    each node from the drifted values before it; every node then passes the node-local check
    of a tolerance referee with that ``max_ulp`` (``atol = 0``). Discrete nodes (token ids,
    quantized activations) are compared exactly and cannot drift.

    Parameters
    ----------
    models : tuple of str
        Executed models of :mod:`oasis_lab.gpu.model` (inputs from the ``"execution"`` stream).
    max_ulps : tuple of int
        Tolerances measured (each >= 1).
    directions : tuple of str
        :data:`~oasis_lab.disputes.adversaries.DRIFT_DIRECTIONS`.
    arity : int
        Of the disputes played against each drifted trace.

    Returns (``run``)
    -----------------
    One row per (model, max_ulp, direction): ``float_node`` (the last float node, "" when
    none), ``float_max_abs``, ``float_max_rel`` (over the node's largest magnitude) and
    ``float_max_ulp`` (its largest change, NaN when no float node), ``worst_node`` and
    ``worst_max_rel`` (the float node whose relative change is largest), ``top2_gap`` (the
    honest last float node's smallest gap between the largest and second largest value of a
    row, over the largest: what a drift must close to change an argmax), ``final_node``,
    ``final_changed`` (share of the final output's elements that differ from the honest run:
    for the tiny transformer, next tokens), ``tolerance_verdict`` (the dispute an honest
    challenger brings: accepted by design) and ``exact_verdict``.
    """

    name = "residual_drift"

    models: tuple[str, ...] = ("tiny-transformer", "quantized-mlp")
    max_ulps: tuple[int, ...] = (1, 4, 16)
    directions: tuple[str, ...] = adv.DRIFT_DIRECTIONS
    arity: int = 4

    checks = {
        "models": partial(check_names, choices=MODEL_NAMES),
        "max_ulps": partial(check_ints, minimum=1, maximum=MAX_ULP_LIMIT),
        "directions": partial(check_names, choices=adv.DRIFT_DIRECTIONS),
        "arity": partial(check_int, minimum=2),
    }

    def _run(self, seed: int) -> pd.DataFrame:
        rows = []
        for model in self.models:
            comp = as_computation(model, seed=int(stream(seed, "execution").integers(2**32)))
            honest = comp.honest_trace
            floats = [k for k in range(comp.n_nodes) if np.asarray(honest.output(k)).dtype.kind == "f"]
            last = comp.n_nodes - 1
            for ulps in self.max_ulps:
                for i, direction in enumerate(self.directions):
                    drift = adv.Drift(ulps=ulps, direction=direction)
                    game = child_seed(seed, "disputes", "drift", model, ulps, i)
                    verdicts = {
                        cmp: play(comp, drift, adv.Honest(), seed=game, record=False,
                                  params=DisputeParams(arity=self.arity, comparison=cmp, max_ulp=ulps))
                        for cmp in ("exact", "tolerance")
                    }
                    # the trace the tolerance dispute was played on (the game's draw: seed, 0)
                    trace = drift.prepare(comp, generator(game, 0)).trace
                    row: dict[str, object] = {"model": model, "max_ulp": ulps, "direction": direction}
                    # relative drift of each float node: its largest change over its largest value
                    rel = [_relative_change(honest.output(k), trace.output(k)) for k in floats]
                    if floats:
                        k = floats[-1]
                        a = np.asarray(honest.output(k))
                        b = np.asarray(trace.output(k))
                        row.update(
                            float_node=comp.graph.node_names[k],
                            float_max_abs=float(np.abs(b.astype(np.float64) - a.astype(np.float64)).max()),
                            float_max_rel=rel[-1],
                            float_max_ulp=float(ulp_distance(a, b).max()),
                            worst_node=comp.graph.node_names[floats[int(np.argmax(rel))]],
                            worst_max_rel=float(max(rel)),
                            top2_gap=_top2_gap(a),
                        )
                    else:
                        row.update(float_node="", float_max_abs=np.nan, float_max_rel=np.nan,
                                   float_max_ulp=np.nan, worst_node="", worst_max_rel=np.nan,
                                   top2_gap=np.nan)
                    a, b = np.asarray(honest.output(last)), np.asarray(trace.output(last))
                    row.update(
                        final_node=comp.graph.node_names[last],
                        final_changed=float(np.mean(a != b)),
                        tolerance_verdict=verdicts["tolerance"].verdict,
                        exact_verdict=verdicts["exact"].verdict,
                    )
                    rows.append(row)
        return pd.DataFrame(rows)


def _relative_change(honest: np.ndarray, drifted: np.ndarray) -> float:
    """Largest element change of a node over its largest honest magnitude."""
    a = np.asarray(honest, dtype=np.float64)
    b = np.asarray(drifted, dtype=np.float64)
    return float(np.abs(b - a).max() / max(float(np.abs(a).max()), 1e-300))


def _top2_gap(values: np.ndarray) -> float:
    """Smallest ``(top1 - top2) / top1`` over the rows of ``values`` (NaN for fewer than two
    columns or a non-positive top value)."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 0 or v.shape[-1] < 2:
        return float("nan")
    top = np.sort(v.reshape(-1, v.shape[-1]), axis=1)[:, -2:]
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = (top[:, 1] - top[:, 0]) / top[:, 1]
    return float(np.min(np.where(top[:, 1] > 0, gap, np.nan)))


#: The cheats that save compute, measured by :func:`cheat_margins` (each at the nodes it can
#: take): a node skipped, the model swapped for its int8-quantized copy, outputs made up after
#: a node, every float node computed in half precision.
MARGIN_CHEATS: tuple[str, ...] = ("lazy: skip a node", "model swap (int8 weights)", "made up after a node",
                                  "half precision")


def cheat_margins(model: str = "tiny-transformer", *, seed: int = 0, every: int = 1) -> pd.DataFrame:
    """How far each cheat that saves compute moves the node it is convicted at (issue 20 item 4).

    For every cheat of :data:`MARGIN_CHEATS` (at every ``every``-th node it can take) the
    provider's trace is checked node by node against its own inputs
    (:func:`~oasis_lab.disputes.referee.first_local_fault`, bitwise): at the first node that
    differs, the largest element distance in ULPs (float nodes) or ``discrete`` (a discrete node,
    compared exactly in every mode). A cheat within the exact referee's rounding bound would be
    ``ambiguous``; this is how far from the bound the cheats that save work land.

    Returns
    -------
    DataFrame
        One row per cheat: ``cheat``, ``cheats`` (placements measured), ``at_float`` (convicted at
        a float node), ``at_discrete``, ``min_ulp`` (smallest largest-element distance at a float
        node; NaN if none), ``median_ulp``.
    """
    from oasis_lab.disputes.referee import first_local_fault

    check_choice("model", model, MODEL_NAMES)
    check_int("every", every, 1)
    comp = as_computation(model, seed=int(stream(seed, "execution").integers(2**32)))
    honest = comp.honest_trace
    n = comp.n_nodes
    floats = [k for k in range(n) if np.asarray(honest.output(k)).dtype.kind == "f"]
    half = {k: (lambda j, out, ins: out.astype(np.float16).astype(out.dtype)) for k in floats}
    placements: dict[str, list[adv.Strategy | dict]] = {
        "lazy: skip a node": [adv.SkipNode(node=k) for k in range(0, n, every)],
        "model swap (int8 weights)": [adv.ModelSwap()],
        "made up after a node": [adv.WrongAfter(node=k) for k in range(0, n - 1, every)],
        "half precision": [half],
    }
    rng = stream(seed, "disputes", "margins")
    rows = []
    for label in MARGIN_CHEATS:
        dists: list[float] = []
        discrete = measured = 0
        for cheat in placements[label]:  # a few dozen placements, each a model run
            try:
                trace = comp.trace(cheat) if isinstance(cheat, dict) else cheat.prepare(comp, rng).trace
            except ValueError:  # a skipped sampling node reads no distribution: nothing to serve
                continue
            k, fixed = first_local_fault(comp, trace.outputs)
            if fixed is None:
                continue  # the cheat changed nothing (a node whose skip is its identity)
            measured += 1
            out = np.asarray(trace.output(k))
            if out.dtype.kind != "f":
                discrete += 1
            else:
                dists.append(float(ulp_distance(out, np.asarray(fixed)).max()))
        rows.append({
            "cheat": label,
            "cheats": measured,
            "at_float": len(dists),
            "at_discrete": discrete,
            "min_ulp": min(dists) if dists else float("nan"),
            "median_ulp": float(np.median(dists)) if dists else float("nan"),
        })
    return pd.DataFrame(rows)
