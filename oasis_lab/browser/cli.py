"""``python -m oasis_lab browser check``: a browser provider's adapter, limits and the three-way
bitwise table (Chromium WebGPU, wgpu-py, numpy) of every kernel case and both shipped models.

Exit status 0 when every case and node is bitwise equal on the three backends, 1 when not, 2
when Chromium, WebGPU or wgpu-py is unavailable (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
import textwrap

from oasis_lab.clihelp import WIDTH, HelpFormatter, add_wide_option, fit_table, real, seed

__all__ = ["register_cli"]


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``browser`` subcommand."""
    browser = subparsers.add_parser(
        "browser", help="browser providers (headless Chromium WebGPU)",
        description="Browser providers (whitepaper section 2): the WGSL kernels run in headless "
        "Chromium's WebGPU, as a provider's browser tab would run them. 'browser check' compares "
        "them bitwise with wgpu-py and numpy.",
        formatter_class=HelpFormatter,
    )
    bsub = browser.add_subparsers(dest="browser_command", metavar="<command>")
    check = bsub.add_parser(
        "check", help="adapter, limits and the three-way bitwise table",
        description="Start headless Chromium, print its WebGPU adapter and limits, run every kernel "
        "case (and both shipped models, node by node) in the browser, in wgpu-py and in numpy, "
        "and print which are bitwise equal. Exit status 0 when all are, 1 when not, 2 when "
        f"Chromium, WebGPU or wgpu-py is unavailable. Tables fit {WIDTH} columns; --wide prints "
        "them whole.",
        formatter_class=HelpFormatter,
    )
    check.add_argument("--seed", type=seed, default=5,
                       help="seed of the kernel cases' random inputs, in [0, 2**128 - 1]")
    check.add_argument("--no-models", action="store_true",
                       help="kernel cases only (default: also every node of tiny-transformer and "
                       "quantized-mlp)")
    check.add_argument("--timeout", type=real("timeout", positive=True), default=120.0,
                       help="seconds each browser command may take (> 0)")
    add_wide_option(check)
    check.set_defaults(func=_check)
    browser.set_defaults(func=lambda args: (browser.print_help(), 2)[1])


def _check(args: argparse.Namespace) -> int:
    from oasis_lab.browser import BrowserError, BrowserProvider
    from oasis_lab.browser.compare import kernel_table, three_way
    from oasis_lab.gpu.device import GPUUnavailableError, adapter_info
    from oasis_lab.gpu.model import MODEL_NAMES

    try:
        referee = adapter_info()
        with BrowserProvider("check", timeout=args.timeout) as b:
            kt = kernel_table(b, args.seed)
            models = [] if args.no_models else [(n, three_way(b, n)) for n in MODEL_NAMES]
            info, limits, startup = b.info, b.limits, b.startup_seconds
    except (BrowserError, GPUUnavailableError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cols = ["browser=webgpu", "browser=numpy", "webgpu=numpy"]
    ok = bool(kt[cols].to_numpy().all())
    print(f"browser adapter: {info['vendor']} / {info['architecture']} "
          f"({info['user_agent'].split(' ')[-2]}), started in {startup:.2f} s")
    print(f"referee adapter (wgpu-py): {referee['device']} ({referee['backend_type']}, "
          f"{referee['adapter_type']})")
    print(textwrap.fill("browser limits: " + ", ".join(f"{k}={v}" for k, v in limits.items()),
                        WIDTH))
    print(f"\nevery kernel case, three ways (seed {args.seed}):")
    print(fit_table(kt, wide=args.wide))
    for name, table in models:
        good = table[cols].to_numpy().all(axis=1)
        ok &= bool(good.all())
        print(f"\n{name}: {int(good.sum())}/{len(table)} nodes bitwise equal on all three"
              + ("" if good.all() else "; differing nodes:"))
        if not good.all():
            print(fit_table(table[~good], wide=args.wide))
    print("\nall bitwise equal on browser, wgpu-py and numpy" if ok
          else "\nNOT all bitwise equal: see the rows above")
    return 0 if ok else 1
