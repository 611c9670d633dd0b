"""``python -m oasis_lab kernels check``, ``kernels fuzz`` and ``python -m oasis_lab bench``
(sections 2, 4.2, 5).

``kernels check`` prints the determinism report (:func:`oasis_lab.gpu.determinism.check`) of every
op and of the shipped models as tables, and exits 1 if any node is not deterministic or not
bitwise equal to the numpy reference. ``kernels fuzz`` runs the differential fuzzer
(:func:`oasis_lab.gpu.conformance.fuzz`) for a time budget and prints what it covered (kernel x
boundary class x engines, inputs tried, divergences) and the minimal cases it shrank. ``bench``
prints the provider benchmark: op throughput on both backends, the measured provider row,
projected rows for profiled devices, and the market rows they give.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import TYPE_CHECKING, Any

from oasis_lab.clihelp import WIDTH, HelpFormatter, add_wide_option, fit_table, integer, real, seed

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["register_cli"]


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``kernels`` and ``bench`` subcommands."""
    kernels = subparsers.add_parser(
        "kernels", help="WebGPU kernel tools",
        description="WebGPU kernel tools (whitepaper sections 2 and 5): 'kernels check' reports "
        "whether every WGSL kernel and every node of the shipped models is deterministic and "
        "bitwise equal to its numpy reference.",
        formatter_class=HelpFormatter,
    )
    ksub = kernels.add_subparsers(dest="kernels_command", metavar="<command>")
    check = ksub.add_parser(
        "check", help="determinism report: per-node hashes and reference equality",
        description="Run every op example and every node of the shipped models --runs times on "
        "--backend and compare the outputs' hashes with each other (deterministic) and with the "
        "numpy reference (bitwise equal; else the distance in ULPs). Exit status 0 when all are, "
        f"1 when not, 2 without a WebGPU adapter. Tables fit {WIDTH} columns; --wide prints them "
        "whole.",
        formatter_class=HelpFormatter,
    )
    check.add_argument("--target", action="append", default=None, metavar="NAME",
                       help="a model (tiny-transformer, quantized-mlp) or an op name of "
                       "oasis_lab.gpu.determinism.OP_EXAMPLES (matmul, attention, ...); "
                       "repeatable (default: every op and both models)")
    check.add_argument("--runs", type=integer("runs", 1), default=20,
                       help="repetitions of each computation compared (>= 1)")
    check.add_argument("--backend", default="webgpu", metavar="{webgpu,numpy,browser}",
                       help="where the kernels run: webgpu = the WGSL kernels through wgpu-py; "
                       "numpy = the numpy twins; browser = the WGSL kernels in headless Chromium "
                       "(any backend registered in oasis_lab.gpu.backends)")
    check.add_argument("--seed", type=seed, default=0,
                       help="seed of the random inputs, in [0, 2**128 - 1]")
    add_wide_option(check)
    check.set_defaults(func=_needs_device(_check))
    fuzz = ksub.add_parser(
        "fuzz", help="differential fuzzer of the kernels across engines",
        description="Generate inputs aimed at rounding boundaries (results near 2^-126, 2^-125 and "
        "2^128, ties to even, exp's thresholds, cancellation, signed zeros, NaN production, int8 "
        "and requantization edges) for every kernel, run them on each engine, compare the bits "
        "with the numpy twins, shrink every divergence to a minimal case, and print what was "
        "covered: inputs tried per kernel and boundary class, and divergences per engine (N! "
        "where numpy's output is finite, N~ where it holds an inf or a NaN: outside the bitwise "
        "contract). Exit status 0 without divergence, 1 with one, 2 when an engine is missing.",
        formatter_class=HelpFormatter,
    )
    fuzz.add_argument("--budget", type=real("budget", positive=True), default=30.0,
                      help="seconds of fuzzing (every kernel and class gets one batch first; "
                      "shrinking is extra)")
    fuzz.add_argument("--engines", default="numpy,webgpu,browser",
                      help="comma-separated backends (oasis_lab.gpu.backends): numpy (the "
                      "reference, always run), webgpu (wgpu-py), browser (headless Chromium)")
    fuzz.add_argument("--seed", type=seed, default=0,
                      help="root seed of the generated inputs, in [0, 2**128 - 1]")
    fuzz.add_argument("--policy", default="flush-2^-125", choices=("flush-2^-125", "flush-2^-126"),
                      help="subnormal policy of kernels and twins: the shipped one, or the previous "
                      "one (flush below 2^-126) to see what it got wrong")
    fuzz.add_argument("--kernel", action="append", default=None, metavar="NAME",
                      help="fuzz only this kernel target (e.g. unary:gelu, matmul_wide:main); "
                      "repeatable (default: all)")
    fuzz.add_argument("--class", dest="classes", action="append", default=None, metavar="CLASS",
                      help="fuzz only this boundary class (e.g. near-2^-126); repeatable "
                      "(default: all)")
    fuzz.add_argument("--save-corpus", default=None, metavar="DIR",
                      help="write each minimal case to DIR as JSON (a regression corpus; "
                      "default: not written)")
    add_wide_option(fuzz)
    fuzz.set_defaults(func=_needs_device(_fuzz))
    kernels.set_defaults(func=lambda args: (kernels.print_help(), 2)[1])

    bench = subparsers.add_parser(
        "bench",
        help="provider benchmark: kernel throughput -> market speeds",
        description="Time every WebGPU kernel (sections 2, 5) on this machine, side by side with "
        "its bitwise numpy twin, turn the throughput into a provider row of the market (speed = "
        "requests per second of each model type, section 4) and project rows for the devices of "
        "data/device_profiles.csv. Tables fit 100 columns; --wide prints them whole.",
        formatter_class=HelpFormatter,
    )
    bench.add_argument("--size", default="small", choices=("small", "full"),
                       help="problem sizes of the timed calls: small (seconds) or full (the "
                       "sizes of docs/mechanism.md, minutes)")
    bench.add_argument("--repeats", type=integer("repeats", 1), default=5,
                       help="warm calls per op; the fastest is kept (>= 1)")
    bench.add_argument("--backend", default="webgpu", choices=("webgpu", "numpy"),
                       help="what is timed: the WGSL kernels on the WebGPU adapter, or their numpy "
                       "twins only")
    bench.add_argument("--seed", type=seed, default=0,
                       help="seed of the random inputs and of the example market, in "
                       "[0, 2**128 - 1]")
    add_wide_option(bench)
    bench.set_defaults(func=_needs_device(_bench))


def _needs_device(command):
    """Turn a missing WebGPU adapter into one line on stderr and exit status 2."""

    def wrapped(args: argparse.Namespace) -> int:
        from oasis_lab.gpu.device import GPUUnavailableError

        try:
            return command(args)
        except GPUUnavailableError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    return wrapped


def _check(args: argparse.Namespace) -> int:
    import pandas as pd

    from oasis_lab.gpu import backends
    from oasis_lab.gpu.determinism import OP_EXAMPLES, check
    from oasis_lab.gpu.model import MODEL_NAMES

    try:
        backends.get(args.backend)  # before any run; the message lists the registered ones
    except ValueError as exc:
        raise ValueError(f"--backend {args.backend!r}: {exc}") from None
    targets = args.target or sorted(OP_EXAMPLES) + list(MODEL_NAMES)
    unknown = [t for t in targets if t not in OP_EXAMPLES and t not in MODEL_NAMES]
    if unknown:  # before any run, with every valid name
        raise ValueError(f"--target {unknown[0]!r} is neither a model {list(MODEL_NAMES)} nor an "
                         f"op {sorted(OP_EXAMPLES)}")
    ok = True
    op_rows = []
    for target in targets:
        report = check(target, runs=args.runs, backend=args.backend, seed=args.seed)
        ok &= report.deterministic and report.bitwise_reference
        if target in OP_EXAMPLES:
            op_rows.append(report.to_frame().drop(columns="node"))
            continue
        print("\n" + textwrap.fill(report.summary(), WIDTH))
        print(fit_table(report.to_frame(), wide=args.wide))
    if op_rows:
        print(f"\nops on {args.backend} ({report.engine}), {args.runs} runs each")
        print(fit_table(pd.concat(op_rows, ignore_index=True), wide=args.wide))
    print("\nall deterministic and bitwise equal to the numpy reference" if ok
          else "\nNOT all deterministic / bitwise equal: see the rows above")
    return 0 if ok else 1


def _fuzz(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from oasis_lab.gpu import backends, conformance

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    for e in engines:  # before any run, naming the option
        try:
            backends.get(e)
        except ValueError as exc:
            raise ValueError(f"--engines {e!r}: {exc}") from None
    report = conformance.fuzz(args.budget, engines, seed=args.seed, kernels=args.kernel,
                              classes=args.classes, policy_name=args.policy)
    print(textwrap.fill(report.summary(), WIDTH))
    print("\n" + textwrap.fill(
        "inputs tried per kernel and boundary class (per engine); after them, per engine (its "
        "initial): N! divergent outputs, N~ divergent outside the contract (numpy's output holds "
        "an inf or a NaN)", WIDTH))
    print(fit_table(report.matrix().reset_index(), wide=args.wide))
    if report.divergences:
        print("\nminimal cases (shrunk):")
        rows = []
        for d in report.divergences:
            args_text = "; ".join(
                f"{k}={[hex(int(w)) for w in v.reshape(-1)[:4].view(np.uint32)]}" if v.dtype == np.float32
                else f"{k}={v.reshape(-1)[:4].tolist()}" for k, v in d.minimal.args.items())
            rows.append({"kernel": d.kernel, "class": d.cls, "engines": ",".join(d.engines),
                         "contract": "outside" if d.outside_contract else "VIOLATED",
                         "inputs (first 4 of each)": args_text})
            if args.save_corpus:
                conformance.save_case(d.minimal, args.save_corpus, d.engines)
        print(fit_table(pd.DataFrame(rows), wide=args.wide))
    return 1 if report.divergent else 0


def _bench(args: argparse.Namespace) -> int:
    import pandas as pd

    from oasis_lab.gpu import bench
    from oasis_lab.plotting import format_number

    pb = bench.benchmark_provider(args.backend, args.size, args.repeats, args.seed)
    side = pb.ops[["op", "shape", "seconds", "gflops"]]
    if args.backend != "numpy":  # side by side with the bitwise numpy twins
        numpy_ops = bench.time_ops("numpy", args.size, args.repeats, args.seed)
        side = side.merge(numpy_ops[["op", "seconds", "gflops"]], on="op",
                          suffixes=(f"_{args.backend}", "_numpy"))
        side["numpy/webgpu"] = side["seconds_numpy"] / side[f"seconds_{args.backend}"]
    table = bench.provider_table(pb)

    def show(frame: pd.DataFrame, **kwargs: Any) -> str:
        # one notation for every number (format_number), wrapped into column blocks
        return fit_table(frame, wide=args.wide, **kwargs)

    with pd.option_context("display.max_rows", 100):
        print(f"device: {pb.device} ({pb.adapter_type}, {pb.backend_type}), sizes {args.size!r}, "
              f"min of {args.repeats} warm calls")
        print(show(side, index=False))
        mix = ", ".join(f"{k} {format_number(v)}" for k, v in pb.family_gflops.items())
        print("\n" + textwrap.fill(f"effective GFLOP/s of each family's kernel mix: {mix}", WIDTH))
        print("\n" + textwrap.fill(
            "provider rows (speed = requests/s; the first row is MEASURED here, the others are "
            "PROJECTED from data/device_profiles.csv, not measured):", WIDTH))
        print(show(table, index=False))
        market = bench.market_from_benchmark(table, n_tasks=20, seed=args.seed)
        label = f"{market!r}: providers as the auction sees them"
        print("\n" + (label if args.wide else textwrap.fill(label, WIDTH)))
        print(show(market.providers.head(5), index=True))
    return 0
