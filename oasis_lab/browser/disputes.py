"""Disputes across runtimes: a browser provider challenged by a wgpu-py challenger, settled by a
referee on the numpy references (whitepaper section 5).

The provider commits to the trace its browser computed (honest, or cheating through a
perturbation its JS injects into one node's output); the challenger commits to the trace
wgpu-py computed; the k-way bisection of :func:`oasis_lab.disputes.play` runs over the two
committed traces and the referee recomputes the isolated node from the opened inputs with
:mod:`oasis_lab.gpu.reference`.

Outcomes (:attr:`CrossRuntimeDispute.outcome`), with the ambiguous verdict first-class:

``"no dispute"``
    The honest runtimes' traces are equal: the challenger has nothing to dispute (the game
    ends with ``no_disagreement``).
``"cheater caught"`` / ``"cheater escaped"``
    The browser cheated, and was / was not convicted.
``"ambiguous: honest runtimes disagree"``
    Both parties are honest, their runtimes computed different bits, and the referee's bits
    match neither: the protocol cannot tell who is right (e.g. kernels calling engine built-ins,
    variant ``"builtin-exp"``).
``"honest provider convicted"`` / ``"honest challenger lost"``
    Both honest, the runtimes disagree and the referee sides with one of them: an honest party
    loses its stake on the other engine's rounding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd

from oasis_lab.browser.provider import BrowserProvider
from oasis_lab.browser.variants import use_variant
from oasis_lab.disputes import DisputeOutcome, DisputeParams, Referee, play
from oasis_lab.disputes.adversaries import PartyState, Strategy
from oasis_lab.disputes.trace import Computation, ModelComputation
from oasis_lab.gpu import model as M

__all__ = [
    "OUTCOMES",
    "CheatingRuntimeTrace",
    "CrossRuntimeDispute",
    "RuntimeTrace",
    "browser_dispute",
    "dispute_table",
]

#: The cheating browser's change of a float node by default: ``2**16`` ULPs at one element (about
#: 0.8% of a value near 1), far beyond the exact referee's rounding bound; a change within the
#: bound is ``ambiguous`` by design (``DisputeParams.rounding_ulp``, docs/mechanism.md). A
#: discrete node (compared exactly) is changed by one unit.
CHEAT_ULPS = 1 << 16

OUTCOMES = ("no dispute", "cheater caught", "cheater escaped", "ambiguous: honest runtimes disagree",
            "honest provider convicted", "honest challenger lost")


@dataclass(frozen=True, eq=False)
class RuntimeTrace(Strategy):
    """An honest party whose runtime computed ``outputs`` (one array per node): it commits to
    them and plays the game honestly on its own trace."""

    runtime: str = ""
    outputs: tuple[np.ndarray, ...] = ()

    @property
    def label(self) -> str:
        return f"{type(self).__name__}({self.runtime})"

    def prepare(self, computation: Computation, rng: np.random.Generator) -> PartyState:
        if len(self.outputs) != computation.graph.n_nodes:
            raise ValueError(f"{self.runtime} trace has {len(self.outputs)} outputs, the "
                             f"computation {computation.graph.n_nodes} nodes")
        return PartyState(computation.commit_outputs(self.outputs), computation, rng)


@dataclass(frozen=True, eq=False)
class CheatingRuntimeTrace(RuntimeTrace):
    """A party whose runtime was made to cheat (ground truth for the studies)."""

    honest: ClassVar[bool] = False


@dataclass(frozen=True)
class CrossRuntimeDispute:
    """One dispute between a browser provider and a wgpu-py challenger.

    Attributes
    ----------
    outcome : str
        One of :data:`OUTCOMES`.
    dispute : DisputeOutcome
        The game's record (verdict, rounds, disputed node, transcript).
    provider_runtime, challenger_runtime, referee_runtime : str
    variant : str
        Kernel variant both runtimes ran (``""``: the shipped kernels).
    cheat_node : int
        Node whose output the browser's JS perturbed (``-1``: honest).
    first_divergence : int
        First node where the two committed traces differ (``-1``: none).
    """

    outcome: str
    dispute: DisputeOutcome
    provider_runtime: str
    challenger_runtime: str
    referee_runtime: str
    variant: str
    cheat_node: int
    first_divergence: int

    def to_frame(self) -> pd.DataFrame:
        """One row: who disputed what, where the traces diverge, the verdict and the outcome."""
        d = self.dispute
        return pd.DataFrame([{
            "provider": self.provider_runtime, "challenger": self.challenger_runtime,
            "referee": self.referee_runtime, "variant": self.variant or "shipped",
            "cheat_node": self.cheat_node, "first_divergence": self.first_divergence,
            "disputed_node": d.disputed_name or d.disputed_node, "rounds": d.rounds,
            "verdict": d.verdict, "reason": d.reason, "outcome": self.outcome,
        }])


def _classify(cheated: bool, diverge: int, verdict: str) -> str:
    if cheated:
        return "cheater caught" if verdict == "provider_guilty" else "cheater escaped"
    if diverge < 0:
        return "no dispute"
    return {"ambiguous": "ambiguous: honest runtimes disagree",
            "provider_guilty": "honest provider convicted"}.get(verdict, "honest challenger lost")


def browser_dispute(
    provider: BrowserProvider,
    model: M.Model | str = "tiny-transformer",
    inputs: Mapping[str, np.ndarray] | None = None,
    *,
    cheat_node: int | str | None = None,
    ulps: int | None = None,
    variant: str = "",
    arity: int = 2,
    seed: int = 0,
) -> CrossRuntimeDispute:
    """Run ``model`` in the browser and on wgpu-py, then play the dispute (section 5).

    Parameters
    ----------
    provider : BrowserProvider
        The browser provider (the defending party).
    model : Model or str
        A model or shipped model name; ``inputs`` default to its seeded example inputs.
    cheat_node : int or str, optional
        Make the browser's JS add ``ulps`` to the bits of one element of this node's output
        (default: :data:`CHEAT_ULPS` at a float node, 1 at a discrete one).
    variant : str
        Kernel variant both runtimes run (:data:`oasis_lab.browser.variants.VARIANTS`); the
        referee always recomputes with the numpy references of the shipped kernels.
    arity : int
        Bisection arity (``>= 2``).
    seed : int
        Seed of the example inputs and of the ``sample`` nodes.

    Returns
    -------
    CrossRuntimeDispute
    """
    if not isinstance(provider, BrowserProvider):
        raise TypeError(f"provider must be a BrowserProvider, got {type(provider).__name__}")
    mdl = M.load_model(model) if isinstance(model, str) else model
    if not isinstance(mdl, M.Model):
        raise TypeError(f"model must be a Model or a model name, got {type(model).__name__}")
    feed = dict(M.example_inputs(mdl, seed) if inputs is None else inputs)
    params = DisputeParams(arity=arity)
    cheat_at = -1 if cheat_node is None else (
        mdl.node_index(cheat_node) if isinstance(cheat_node, str) else int(cheat_node))
    with use_variant(variant):
        w = M.run(mdl, feed, backend="webgpu", seed=seed)
        cheat = None
        if cheat_at >= 0:
            floats = np.asarray(w.outputs[cheat_at]).dtype.kind == "f"
            cheat = (cheat_at, ulps if ulps is not None else CHEAT_ULPS if floats else 1)
        b = provider.run(mdl, feed, seed=seed, cheat=cheat)
    diverge = next((i for i, (x, y) in enumerate(zip(b.outputs, w.outputs, strict=True))
                    if x.tobytes() != y.tobytes()), -1)
    computation = ModelComputation(mdl, feed, backend="numpy", seed=seed)
    party = CheatingRuntimeTrace if cheat_at >= 0 else RuntimeTrace
    runtime_b = f"Chromium WebGPU ({provider.adapter_summary()})"
    runtime_w = _wgpu_runtime()
    out = play(computation, party(runtime=runtime_b, outputs=b.outputs),
               RuntimeTrace(runtime=runtime_w, outputs=w.outputs), params=params,
               referee=Referee(backend="numpy"), seed=seed)
    return CrossRuntimeDispute(
        outcome=_classify(cheat_at >= 0, diverge, out.verdict), dispute=out,
        provider_runtime=runtime_b, challenger_runtime=runtime_w,
        referee_runtime=f"numpy {np.__version__} (references)", variant=variant,
        cheat_node=cheat_at, first_divergence=diverge,
    )


def _wgpu_runtime() -> str:
    from oasis_lab.gpu.device import adapter_info

    info = adapter_info()
    return f"wgpu-py {info['device']} ({info['backend_type']})"


def dispute_table(disputes: list[CrossRuntimeDispute]) -> pd.DataFrame:
    """One row per dispute (:meth:`CrossRuntimeDispute.to_frame`)."""
    return pd.concat([d.to_frame() for d in disputes], ignore_index=True)
