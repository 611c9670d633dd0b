"""The named adversaries and computations of the fault proofs (whitepaper section 5).

Library code, so that the simulation, the experiments and the ``dispute`` command read one
registry (no library module imports a CLI module):

* :data:`ADVERSARIES`: ``name -> f(node) -> (provider, challenger)`` strategies of
  :mod:`oasis_lab.disputes.adversaries` for a cheated node (ignored by ``swap``,
  ``random-challenger``, ``fake-final`` and ``honest``), with one line each in
  :data:`ADVERSARY_HELP`; :func:`build_parties` looks one up by name.
* :func:`computation_for`: the disputed computation a model name names: an executed model
  (:data:`EXECUTED_MODELS`), a published profile (synthetic values on its graph) or
  ``synthetic:N``; :func:`check_model` checks such a name.
"""

from __future__ import annotations

from collections.abc import Callable

from oasis_lab.checks import check_int
from oasis_lab.disputes import adversaries as adv
from oasis_lab.disputes.bisection import as_computation
from oasis_lab.disputes.computations import Computation, SyntheticComputation
from oasis_lab.disputes.graph import synthetic_graph
from oasis_lab.disputes.profiles import PROFILES, profile_graph

__all__ = [
    "ADVERSARIES",
    "ADVERSARY_HELP",
    "CHEATER_ADVERSARIES",
    "EXECUTED_MODELS",
    "MAX_SYNTHETIC_NODES",
    "build_parties",
    "check_model",
    "computation_for",
]

#: Largest ``synthetic:N`` (building the graph is linear in N, in Python).
MAX_SYNTHETIC_NODES = 1_000_000
#: Executed models (``oasis_lab.gpu.model.MODEL_NAMES``; listed here so that naming one does
#: not import the GPU stack).
EXECUTED_MODELS: tuple[str, ...] = ("tiny-transformer", "quantized-mlp")

#: Adversary names: the (provider, challenger) pair for a cheated node (ignored by ``swap``,
#: ``random-challenger``, ``fake-final`` and ``honest``): the table
#: :data:`oasis_lab.disputes.adversaries.PAIRS` itself (one home; the agents read it there).
ADVERSARIES: dict[str, Callable[[int | str], tuple[adv.Strategy, adv.Strategy]]] = adv.PAIRS
#: The dishonest provider strategies of :data:`ADVERSARIES`, sorted (what a simulated cheater
#: may run; :data:`oasis_lab.disputes.adversaries.CHEATER_ADVERSARIES`).
CHEATER_ADVERSARIES: tuple[str, ...] = adv.CHEATER_ADVERSARIES

#: One line per adversary (the ``dispute`` command's ``--help``).
ADVERSARY_HELP: dict[str, str] = {
    "perturb": "the provider makes one element of the node's output wrong",
    "skip": "the provider skips the node (passes its input through)",
    "swap": "the provider runs a cheaper substitute model",
    "wrong-after": "the provider is correct up to the node, then makes up every later output",
    "below-tolerance": "the provider moves one element of the node by a few ULPs",
    "equivocate": "the provider answers inconsistently with its own commitments",
    "equivocate-inputs": "as equivocate, on the node's inputs",
    "timeout": "the provider perturbs the node and answers round 2 too late",
    "other-device": "an honest provider whose device rounds the node a few ULPs away",
    "lying-challenger": "the challenger attacks an honest provider with a trace wrong at the node",
    "random-challenger": "the challenger fakes its final commitment and picks parts at random",
    "fake-final": "the challenger computes honestly but fakes its final commitment",
    "honest": "both parties honest",
}


def check_model(model: str, *, also: tuple[str, ...] = ()) -> str:
    """``model`` if it names a computation (an executed model, a published profile or
    ``synthetic:N`` with ``N`` in ``[1, MAX_SYNTHETIC_NODES]``) or is one of ``also`` (names a
    caller gives a meaning of its own, e.g. the ``dispute`` command's ``all``), else one
    ValueError naming it."""
    if not isinstance(model, str):
        raise TypeError(f"model must be a model name, got {model!r}")
    if model in EXECUTED_MODELS or model in PROFILES or model in also:
        return model
    if model.startswith("synthetic:"):
        text = model.split(":", 1)[1]
        try:
            n = int(text)
        except ValueError:
            raise ValueError(f"model = {model!r}: expected synthetic:<number of nodes>") from None
        check_int("synthetic:N (nodes)", n, 1, MAX_SYNTHETIC_NODES)
        return model
    raise ValueError(
        f"model = {model!r} is not one of {[*EXECUTED_MODELS, *PROFILES]}, synthetic:N "
        f"(N in [1, {MAX_SYNTHETIC_NODES}])" + "".join(f" or {a!r}" for a in also)
    )


def computation_for(model: str, *, backend: str = "numpy", seed: int = 0) -> Computation:
    """The disputed computation a model name names.

    ``tiny-transformer`` / ``quantized-mlp``: the executed model on its example inputs;
    ``llama-2-7b`` / ``sdxl-base-1.0``: synthetic values on the published graph;
    ``synthetic:N``: a synthetic DAG of ``N`` nodes.
    """
    model = check_model(model)
    if model in PROFILES:
        return SyntheticComputation(profile_graph(model), seed=seed)
    if model.startswith("synthetic:"):
        n = int(model.split(":", 1)[1])
        return SyntheticComputation(synthetic_graph(n, seed=seed), seed=seed)
    return as_computation(model, backend=backend, seed=seed)


def build_parties(
    adversary: str, node: int | str | None, n_nodes: int
) -> tuple[adv.Strategy, adv.Strategy]:
    """(provider, challenger) strategies of the adversary named ``adversary`` cheating at
    ``node`` (default: the middle node of ``n_nodes``)."""
    if adversary not in ADVERSARIES:
        raise ValueError(f"adversary = {adversary!r} is not one of {sorted(ADVERSARIES)}")
    return ADVERSARIES[adversary](n_nodes // 2 if node is None else node)
