"""``python -m oasis_lab browser check``: a browser provider's adapter, limits and the three-way
bitwise table (Chromium WebGPU, wgpu-py, numpy) of every kernel case and both shipped models.

Exit status 0 when every case and node is bitwise equal on the three backends, 1 when not, 2
when Chromium, WebGPU or wgpu-py is unavailable (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

__all__ = ["register_cli"]


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``browser`` subcommand."""
    browser = subparsers.add_parser("browser", help="browser providers (headless Chromium WebGPU)")
    bsub = browser.add_subparsers(dest="browser_command", metavar="<command>")
    check = bsub.add_parser("check", help="adapter, limits and the three-way bitwise table")
    check.add_argument("--seed", type=int, default=5, help="seed of the kernel cases' inputs")
    check.add_argument("--no-models", action="store_true", help="kernel cases only")
    check.add_argument("--timeout", type=float, default=120.0, help="seconds per browser command")
    check.set_defaults(func=_check)
    browser.set_defaults(func=lambda args: (browser.print_help(), 2)[1])


def _check(args: argparse.Namespace) -> int:
    from oasis_lab.browser import BrowserError, BrowserProvider
    from oasis_lab.browser.compare import kernel_table, three_way
    from oasis_lab.gpu.device import GPUUnavailableError, adapter_info
    from oasis_lab.gpu.model import MODEL_NAMES

    if args.seed < 0:
        raise ValueError(f"--seed = {args.seed} must be >= 0")
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
    with pd.option_context("display.max_rows", 200, "display.width", 160):
        print(f"browser adapter: {info['vendor']} / {info['architecture']} "
              f"({info['user_agent'].split(' ')[-2]}), started in {startup:.2f} s")
        print(f"referee adapter (wgpu-py): {referee['device']} ({referee['backend_type']}, "
              f"{referee['adapter_type']})")
        print("browser limits: " + ", ".join(f"{k}={v}" for k, v in limits.items()))
        print(f"\nevery kernel case, three ways (seed {args.seed}):")
        print(kt.to_string(index=False))
        for name, table in models:
            good = table[cols].to_numpy().all(axis=1)
            ok &= bool(good.all())
            print(f"\n{name}: {int(good.sum())}/{len(table)} nodes bitwise equal on all three"
                  + ("" if good.all() else "; differing nodes:"))
            if not good.all():
                print(table[~good].to_string(index=False))
    print("\nall bitwise equal on browser, wgpu-py and numpy" if ok
          else "\nNOT all bitwise equal: see the rows above")
    return 0 if ok else 1
