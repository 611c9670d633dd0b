"""``python -m oasis_lab dispute``: challenge one inference and show the transcript and ledger.

Example: ``python -m oasis_lab dispute --model tiny-transformer --cheat-node 7 --arity 4``
plays a dispute against a provider that perturbed node 7 of the executed tiny transformer,
prints the round-by-round transcript and the referee's ruling, then applies the verdict to a
fresh ledger (user payment in escrow, provider stake, challenger bond) and prints the
transfers and the balances before and after. ``--costs`` prints the dispute-cost table of the
tiny transformer, Llama-2-7B and SDXL instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import pandas as pd

from oasis_lab.checks import check_int, check_real
from oasis_lab.disputes import adversaries as adv
from oasis_lab.disputes.bisection import as_computation, play
from oasis_lab.disputes.economics import cost_table
from oasis_lab.disputes.graph import synthetic_graph
from oasis_lab.disputes.ledger import single_task_ledger
from oasis_lab.disputes.params import COMPARISONS, MAX_ULP_LIMIT, DisputeParams
from oasis_lab.disputes.profiles import PROFILES, profile_graph
from oasis_lab.disputes.trace import Computation, SyntheticComputation

__all__ = [
    "ADVERSARIES",
    "BACKENDS",
    "EXECUTED_MODELS",
    "MAX_SEED",
    "MAX_SYNTHETIC_NODES",
    "build_parties",
    "computation_for",
    "register_cli",
]

#: Largest ``synthetic:N`` of ``--model`` (building the graph is linear in N, in Python).
MAX_SYNTHETIC_NODES = 1_000_000
#: Largest ``--seed`` (seeds reach numba and numpy as 64-bit signed integers).
MAX_SEED = 2**63 - 1
#: Backends a node can be computed on (``oasis_lab.gpu.model.BACKENDS``; listed here so that
#: ``--help`` does not import the GPU stack).
BACKENDS: tuple[str, ...] = ("numpy", "webgpu")
#: Executed models (``oasis_lab.gpu.model.MODEL_NAMES``).
EXECUTED_MODELS: tuple[str, ...] = ("tiny-transformer", "quantized-mlp")

#: ``--adversary`` names: the (provider, challenger) pair for the ``--cheat-node`` value
#: (ignored by ``swap``, ``random-challenger``, ``fake-final`` and ``honest``).
ADVERSARIES: dict[str, Callable[[int | str], tuple[adv.Strategy, adv.Strategy]]] = {
    "perturb": lambda k: (adv.PerturbNode(node=k), adv.Honest()),
    "skip": lambda k: (adv.SkipNode(node=k), adv.Honest()),
    "swap": lambda k: (adv.ModelSwap(), adv.Honest()),
    "wrong-after": lambda k: (adv.WrongAfter(node=k), adv.Honest()),
    "below-tolerance": lambda k: (adv.BelowTolerance(node=k), adv.Honest()),
    "equivocate": lambda k: (adv.Equivocator(node=k), adv.Honest()),
    "equivocate-inputs": lambda k: (adv.Equivocator(node=k, mode="inputs"), adv.Honest()),
    "timeout": lambda k: (adv.Timeout(base=adv.PerturbNode(node=k), at_round=2), adv.Honest()),
    "other-device": lambda k: (adv.OtherDevice(node=k), adv.Honest()),
    "lying-challenger": lambda k: (adv.Honest(), adv.LyingChallenger(node=k)),
    "random-challenger": lambda k: (adv.Honest(), adv.RandomChallenger()),
    "fake-final": lambda k: (adv.Honest(), adv.FakeFinalChallenger()),
    "honest": lambda k: (adv.Honest(), adv.Honest()),
}


def computation_for(model: str, *, backend: str = "numpy", seed: int = 0) -> Computation:
    """The disputed computation for a ``--model`` value.

    ``tiny-transformer`` / ``quantized-mlp``: the executed model on its example inputs;
    ``llama-2-7b`` / ``sdxl-base-1.0``: synthetic values on the published graph;
    ``synthetic:N``: a synthetic DAG of ``N`` nodes.
    """
    model = _model_arg(model)
    if model in PROFILES:
        return SyntheticComputation(profile_graph(model), seed=seed)
    if model.startswith("synthetic:"):
        n = int(model.split(":", 1)[1])
        return SyntheticComputation(synthetic_graph(n, seed=seed), seed=seed)
    return as_computation(model, backend=backend, seed=seed)


# --- argument checks: each runs while parsing, before any work, and names its argument ---


def _model_arg(value: str) -> str:
    """A ``--model`` value: an executed model, a published profile or ``synthetic:N``."""
    if value in EXECUTED_MODELS or value in PROFILES:
        return value
    if value.startswith("synthetic:"):
        text = value.split(":", 1)[1]
        try:
            n = int(text)
        except ValueError:
            raise ValueError(f"model = {value!r}: expected synthetic:<number of nodes>") from None
        check_int("synthetic:N (nodes)", n, 1, MAX_SYNTHETIC_NODES)
        return value
    raise ValueError(
        f"model = {value!r} is not one of {[*EXECUTED_MODELS, *PROFILES]} or synthetic:N"
    )


def _int_arg(name: str, minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: a decimal integer in ``[minimum, maximum]``, else one line
    naming ``name`` and the bounds."""
    bounds = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:  # not an integer, or more digits than Python converts
            raise argparse.ArgumentTypeError(
                f"{name} = {text[:40]!r} is not an integer {bounds}"
            ) from None
        try:
            return check_int(name, value, minimum, maximum)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _nonnegative_real_arg(name: str) -> Callable[[str], float]:
    """An argparse ``type``: a finite real number >= 0."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} = {text[:40]!r} is not a number") from None
        try:
            return check_real(name, value, minimum=0.0)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _str_arg(check: Callable[[str], str]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        try:
            return check(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _one_line_error(parser: argparse.ArgumentParser) -> Callable[[str], NoReturn]:
    """Replace argparse's usage-plus-message by one line and exit status 2."""

    def error(message: str) -> NoReturn:
        print(f"error: {parser.prog}: {message}", file=sys.stderr)
        raise SystemExit(2)

    return error


def _node(value: str | None) -> int | str | None:
    if value is None:
        return None
    return int(value) if value.lstrip("-").isdigit() else value


def build_parties(adversary: str, node: int | str | None, n_nodes: int) -> tuple[adv.Strategy, adv.Strategy]:
    """(provider, challenger) strategies for ``--adversary`` and ``--cheat-node``."""
    if adversary not in ADVERSARIES:
        raise ValueError(f"adversary = {adversary!r} is not one of {sorted(ADVERSARIES)}")
    return ADVERSARIES[adversary](n_nodes // 2 if node is None else node)


def _run(args: argparse.Namespace) -> int:
    params = DisputeParams(
        arity=args.arity,
        comparison=args.comparison,
        max_ulp=args.max_ulp,
        atol=args.atol,
        referee_backend=args.referee_backend,
    )
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 60):
        if args.costs:
            graphs = [computation_for(m).graph for m in ("tiny-transformer", "llama-2-7b", "sdxl-base-1.0")]
            print(cost_table(graphs, tuple(args.cost_arities)).to_string(index=False))
            return 0
        comp = computation_for(args.model, backend=args.backend, seed=args.seed)
        node = _node(args.cheat_node)
        if node is not None:
            try:
                comp.graph.node_index(node)  # before the dispute: name the argument
            except (ValueError, IndexError, KeyError, TypeError) as exc:
                raise ValueError(f"--cheat-node {args.cheat_node!r}: {exc}") from None
        provider, challenger = build_parties(args.adversary, node, comp.n_nodes)
        out = play(comp, provider, challenger, params=params, seed=args.seed)
        print(f"model {out.model}: {out.n_nodes} nodes, arity {out.arity}, comparison {params.comparison}")
        print(f"provider   {out.provider}")
        print(f"challenger {out.challenger}\n")
        print(out.to_frame().to_string(index=False))
        print()
        node = f"node {out.disputed_node} ({out.disputed_name})" if out.disputed_node >= 0 else "no node"
        print(f"disputed: {node} after {out.rounds} rounds (bound {out.max_rounds})")
        print(
            f"hashes exchanged {out.hashes_exchanged}, bytes opened {out.bytes_opened}, referee FLOPs "
            f"{out.referee_flops:.3g} ({100 * out.referee_flops_share:.3g}% of the inference)"
        )
        detail = out.ruling.detail if out.ruling is not None else ""
        print(f"verdict: {out.verdict} ({out.reason}) {detail}\n")
        led, before, start = single_task_ledger(out.verdict, params, payment=args.payment)
        print("accounts before the challenge")
        print(before.to_string(index=False))
        print("\ntransfers of the challenge")
        print(led.to_frame().iloc[start:].to_string(index=False))
        print("\naccounts after")
        print(led.accounts().to_string(index=False))
        print(f"\nre-auction queue {list(led.reauction_queue)}; conservation {led.check_conservation()}")
    return 0


def register_cli(subparsers: Any) -> None:
    """Add the ``dispute`` subcommand."""
    parser = subparsers.add_parser(
        "dispute",
        help="challenge one inference: bisection transcript, verdict and ledger (section 5)",
        description="Play one optimistic fault-proof dispute (whitepaper section 5) and apply "
        "its verdict to a ledger; --costs prints the dispute-cost table instead.",
    )
    parser.error = _one_line_error(parser)
    parser.add_argument(
        "--model",
        default="tiny-transformer",
        type=_str_arg(_model_arg),
        help="tiny-transformer, quantized-mlp (executed), llama-2-7b, sdxl-base-1.0 "
        f"(synthetic values on the published graph) or synthetic:N (N <= {MAX_SYNTHETIC_NODES:,})",
    )
    parser.add_argument("--cheat-node", default=None, help="node index or name (default: the middle node)")
    parser.add_argument("--adversary", choices=sorted(ADVERSARIES), default="perturb")
    defaults = DisputeParams()
    parser.add_argument("--arity", type=_int_arg("arity", 2), default=defaults.arity)
    parser.add_argument("--comparison", choices=COMPARISONS, default=defaults.comparison)
    parser.add_argument(
        "--max-ulp", type=_int_arg("max_ulp", 0, MAX_ULP_LIMIT), default=defaults.max_ulp,
        help=f"ULP tolerance for float outputs, 0 .. {MAX_ULP_LIMIT} (integers are always exact)",
    )
    parser.add_argument("--atol", type=_nonnegative_real_arg("atol"), default=defaults.atol)
    parser.add_argument("--backend", choices=BACKENDS, default="numpy", help="backend of the provider's run")
    parser.add_argument("--referee-backend", choices=BACKENDS, default=defaults.referee_backend)
    parser.add_argument(
        "--payment", type=_int_arg("payment", 0), default=100,
        help="task payment in escrow (integer tokens of the smallest unit, >= 0)",
    )
    parser.add_argument("--seed", type=_int_arg("seed", 0, MAX_SEED), default=0)
    parser.add_argument("--costs", action="store_true", help="print the dispute-cost table and exit")
    parser.add_argument(
        "--cost-arities", type=_int_arg("cost arity", 2), nargs="+", default=[2, 4, 8, 16], metavar="K"
    )
    parser.set_defaults(func=_run)
