"""``python -m oasis_lab dispute``: challenge one inference and show the transcript and ledger.

Example: ``python -m oasis_lab dispute --model tiny-transformer --cheat-node 7 --arity 4``
plays a dispute against a provider that perturbed node 7 of the executed tiny transformer,
prints the round-by-round transcript and the referee's ruling, then applies the verdict to a
fresh ledger (user payment in escrow, provider stake, challenger bond) and prints the
transfers and the balances before and after. ``--costs`` prints the dispute-cost table of
``--model`` instead (``--model all``: every named model), one vertical block per model.
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

import pandas as pd

from oasis_lab.clihelp import WIDTH, HelpFormatter, add_wide_option, checked, fit_table, integer, real
from oasis_lab.disputes.bisection import play
from oasis_lab.disputes.economics import cost_table
from oasis_lab.disputes.ledger import single_task_ledger
from oasis_lab.disputes.params import COMPARISONS, EXACT_READINGS, MAX_ULP_LIMIT, DisputeParams
from oasis_lab.disputes.profiles import PROFILES
from oasis_lab.disputes.registry import (
    ADVERSARIES,
    ADVERSARY_HELP,
    EXECUTED_MODELS,
    MAX_SYNTHETIC_NODES,
    build_parties,
    check_model,
    computation_for,
)
from oasis_lab.plotting import format_number

__all__ = [
    "ALL_MODELS",
    "BACKENDS",
    "MAX_SEED",
    "cost_text",
    "register_cli",
]

#: Largest ``--seed`` (seeds reach numba and numpy as 64-bit signed integers).
MAX_SEED = 2**63 - 1
#: Backends a node can be computed on (the built-ins of ``oasis_lab.gpu.backends``; listed here so that
#: ``--help`` does not import the GPU stack).
BACKENDS: tuple[str, ...] = ("numpy", "webgpu")

#: ``--model`` value that ``--costs`` reads as every named model (executed and published).
ALL_MODELS = "all"


# --- argument checks: each runs while parsing, before any work, and names its argument ---


def _model_arg(value: str) -> str:
    """A ``--model`` value: a model of :func:`~oasis_lab.disputes.registry.check_model` or
    ``all`` (only with ``--costs``; checked in :func:`_run`)."""
    return check_model(value, also=(ALL_MODELS,))


def _node(value: str | None) -> int | str | None:
    if value is None:
        return None
    return int(value) if value.lstrip("-").isdigit() else value


#: Rows of the vertical cost table: ``cost_table`` column -> label with its unit, and the
#: factor turning the column into that unit.
_COST_ROWS: dict[str, tuple[str, float]] = {
    "round_bound": ("rounds, bound ceil(log_K n)", 1),
    "rounds_max": ("rounds, max over nodes", 1),
    "rounds_mean": ("rounds, mean over nodes", 1),
    "bisection_hashes_max": ("hashes in the bisection, max", 1),
    "opening_hashes_max": ("hashes in the opening, max", 1),
    "hashes_mean": ("hashes exchanged, mean", 1),
    "hashes_max": ("hashes exchanged, max", 1),
    "opened_mb_max": ("data opened, max (MB)", 1),
    "referee_gflop_max": ("referee compute, max (GFLOP)", 1),
    "referee_share_max": ("referee share of the inference, max (%)", 100),
    "referee_share_mean": ("referee share of the inference, mean (%)", 100),
}


def cost_text(table: pd.DataFrame, *, wide: bool = False) -> str:
    """The dispute-cost table (``economics.cost_table``) as text.

    Default: one vertical block per model (a row per cost with its unit, a column per arity),
    headed by the model's size, fitting :data:`~oasis_lab.clihelp.WIDTH` columns. ``wide``:
    the computed table whole, one row per (model, arity).
    """
    if wide:
        return fit_table(table, wide=True)
    blocks = []
    for model, rows in table.groupby("model", sort=False):
        first = rows.iloc[0]
        head = (f"{model}: {int(first['n_nodes']):,} nodes, one inference "
                f"{format_number(float(first['inference_tflop']) * 1e3)} GFLOP")
        body = pd.DataFrame(
            {f"K = {int(k)}": [format_number(float(row[c]) * f) for c, (_, f) in _COST_ROWS.items()]
             for k, (_, row) in zip(rows["arity"], rows.iterrows(), strict=True)},
            index=[label for label, _ in _COST_ROWS.values()],
        )
        blocks.append(head + "\n" + fit_table(body, index=True))
    return "\n\n".join(blocks)


def _run(args: argparse.Namespace) -> int:
    if args.model == ALL_MODELS and not args.costs:
        raise ValueError(f"--model {ALL_MODELS!r} needs --costs (a dispute is over one model)")
    params = DisputeParams(
        arity=args.arity,
        comparison=args.comparison,
        max_ulp=args.max_ulp,
        atol=args.atol,
        referee_backend=args.referee_backend,
        exact_reading=args.exact_reading,
        rounding_ulp=args.rounding_ulp,
    )
    if args.costs:
        models = [*EXECUTED_MODELS, *PROFILES] if args.model == ALL_MODELS else [args.model]
        graphs = [computation_for(m, seed=args.seed).graph for m in models]
        opens = params.exact_reading == "rounding"
        print(cost_text(cost_table(graphs, tuple(args.cost_arities), open_output=opens), wide=args.wide))
        note = "K = arity; n = nodes; every node of the graph costed as the disputed one"
        print("\n" + textwrap.fill(note + ("" if args.wide else "; --wide prints the computed "
                                           "table whole"), WIDTH))
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
    wide = args.wide

    def show(frame: pd.DataFrame) -> str:
        return fit_table(frame, wide=wide)

    print(f"model {out.model}: {out.n_nodes} nodes, arity {out.arity}, comparison {params.comparison}")
    print(textwrap.fill(f"provider   {out.provider}", WIDTH, subsequent_indent=" " * 11))
    print(textwrap.fill(f"challenger {out.challenger}", WIDTH, subsequent_indent=" " * 11) + "\n")
    print(show(out.to_frame()))
    print()
    disputed = f"node {out.disputed_node} ({out.disputed_name})" if out.disputed_node >= 0 else "no node"
    print(f"disputed: {disputed} after {out.rounds} rounds (bound {out.max_rounds})")
    print(textwrap.fill(
        f"hashes exchanged {out.hashes_exchanged}, bytes opened {out.bytes_opened:,}, referee "
        f"compute {format_number(out.referee_flops)} FLOP ({format_number(100 * out.referee_flops_share)}% of the "
        "inference)", WIDTH))
    detail = out.ruling.detail if out.ruling is not None else ""
    print(textwrap.fill(f"verdict: {out.verdict} ({out.reason}) {detail}", WIDTH) + "\n")
    led, before, start = single_task_ledger(out.verdict, params, payment=args.payment)
    print("accounts before the challenge (tokens)")
    print(show(before))
    print("\ntransfers of the challenge (tokens)")
    print(show(led.to_frame().iloc[start:]))
    print("\naccounts after (tokens)")
    print(show(led.accounts()))
    conservation = ", ".join(f"{k} {v:,}" for k, v in led.check_conservation().items())
    print("\n" + textwrap.fill(f"re-auction queue {list(led.reauction_queue)}; conservation "
                               f"(tokens): {conservation}", WIDTH))
    return 0


def register_cli(subparsers: Any) -> None:
    """Add the ``dispute`` subcommand."""
    parser = subparsers.add_parser(
        "dispute",
        help="challenge one inference: bisection transcript, verdict and ledger (section 5)",
        description="Play one optimistic fault-proof dispute (whitepaper section 5) over the "
        "computation graph of --model: the challenger and the provider bisect their hash chains "
        "until one node is left, the referee re-executes it, and the verdict is applied to a "
        "ledger (payment in escrow, provider stake, challenger bond; amounts in integer tokens). "
        "--costs prints the dispute-cost table of --model instead (--model all: every named "
        f"model). Tables fit {WIDTH} columns; --wide prints them whole.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--model",
        default="tiny-transformer",
        type=checked(_model_arg),
        help="the disputed computation: tiny-transformer, quantized-mlp (executed), llama-2-7b, "
        "sdxl-base-1.0 (synthetic values on the published graph) or synthetic:N (a random graph "
        f"of N nodes, N <= {MAX_SYNTHETIC_NODES:,}); with --costs also {ALL_MODELS!r} (every "
        "named model)",
    )
    parser.add_argument(
        "--cheat-node", default=None, metavar="NODE",
        help="node index (0 .. nodes - 1) or node name where the cheating party departs from the "
        "honest run (default: the middle node; ignored by swap, random-challenger, fake-final, "
        "honest)",
    )
    parser.add_argument(
        "--adversary", choices=sorted(ADVERSARIES), default="perturb", metavar="NAME",
        help="who cheats and how: " + "; ".join(f"{k} = {v}" for k, v in ADVERSARY_HELP.items()),
    )
    defaults = DisputeParams()
    parser.add_argument(
        "--arity", type=integer("arity", 2), default=defaults.arity, metavar="K",
        help="parts each bisection round splits the disputed range into (>= 2); the provider "
        "reveals K - 1 hashes per round and a dispute over n nodes ends in ceil(log_K n) rounds",
    )
    parser.add_argument(
        "--comparison", choices=COMPARISONS, default=defaults.comparison,
        help="how the referee compares the re-executed node with the provider's: exact = equal "
        "hashes (bitwise); tolerance = every float element within --max-ulp or --atol",
    )
    parser.add_argument(
        "--exact-reading", choices=EXACT_READINGS, default=defaults.exact_reading,
        help="with --comparison exact: rounding = the referee re-executes the node on every "
        "engine it can (numpy, webgpu where available) and a provider output within "
        "--rounding-ulp of one engine's at a float node is ambiguous, never guilty; strict = "
        "bitwise on --referee-backend only, any difference guilty",
    )
    parser.add_argument(
        "--rounding-ulp", type=integer("rounding_ulp", 0, MAX_ULP_LIMIT), default=defaults.rounding_ulp,
        metavar="ULPS",
        help=f"with --exact-reading rounding: units in the last place device rounding may explain "
        f"at a float node, 0 .. {MAX_ULP_LIMIT}",
    )
    parser.add_argument(
        "--max-ulp", type=integer("max_ulp", 0, MAX_ULP_LIMIT), default=defaults.max_ulp,
        metavar="ULPS",
        help=f"with --comparison tolerance: units in the last place a float output may differ "
        f"by, 0 .. {MAX_ULP_LIMIT} (integer outputs are always compared exactly)",
    )
    parser.add_argument(
        "--atol", type=real("atol", minimum=0), default=defaults.atol,
        help="with --comparison tolerance: absolute difference a float output may have, in the "
        "output's own units (>= 0)",
    )
    parser.add_argument("--backend", choices=BACKENDS, default="numpy",
                        help="backend the provider computes every node on")
    parser.add_argument("--referee-backend", choices=BACKENDS, default=defaults.referee_backend,
                        help="backend the referee re-executes the disputed node on")
    parser.add_argument(
        "--payment", type=integer("payment", 0), default=100,
        help="task payment in escrow, in integer tokens of the smallest unit (>= 0); the "
        f"provider stakes {defaults.provider_stake:,} and the challenger bonds "
        f"{defaults.challenger_bond:,} tokens",
    )
    parser.add_argument(
        "--seed", type=integer("seed", 0, MAX_SEED), default=0,
        help=f"seed of the model inputs, the synthetic values and the random strategies, "
        f"0 .. {MAX_SEED}",
    )
    parser.add_argument("--costs", action="store_true",
                        help="print the dispute-cost table of --model (every node costed) and exit")
    parser.add_argument(
        "--cost-arities", type=integer("cost arity", 2), nargs="+", default=[2, 4, 8, 16],
        metavar="K", help="with --costs: the arities compared, each >= 2",
    )
    add_wide_option(parser)
    parser.set_defaults(func=_run)
