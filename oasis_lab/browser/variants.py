"""Kernel variants: the same kernels with one deliberate change, as another runtime, vendor
library or hardware generation might ship them (issue 13: heterogeneous providers).

A variant is a source transform for :func:`oasis_lab.gpu.device.kernel_variant`; it applies
alike to wgpu-py and to the browser (both compile :func:`~oasis_lab.gpu.device.variant_source`).

``"no-flush"``
    The kernels without the subnormal policy (``oasis_ftz`` returns its argument): each engine
    then keeps or flushes subnormals as it likes, as the kernels did before the policy.
``"builtin-exp"``
    ``oasis_exp`` calls WGSL's built-in ``exp2`` (``exp(x) = exp2(x log2 e)``, accuracy left to
    the engine) instead of the project's exact-operation ``exp``. (Built-in ``exp`` itself
    cannot be called from ``unary.wgsl``, whose entry point ``exp`` shadows it.)
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator

from oasis_lab.gpu import device as gpu_device

__all__ = ["VARIANTS", "use_variant"]

_FTZ = re.compile(r"fn oasis_ftz\(x: f32\) -> f32 \{.*?\n\}", re.DOTALL)
_FTZ4 = re.compile(r"fn oasis_ftz4\(x: vec4<f32>\) -> vec4<f32> \{.*?\n\}", re.DOTALL)
_EXP = re.compile(r"fn oasis_exp\(x: f32\) -> f32 \{.*?\n\}", re.DOTALL)


def _sub(pattern: re.Pattern[str], repl: str, what: str) -> Callable[[str, str], str]:
    def transform(kernel: str, source: str) -> str:
        new, n = pattern.subn(repl, source)
        if n > 1:
            raise ValueError(f"kernel {kernel!r} defines {what} {n} times")
        return new

    return transform


def _no_flush(kernel: str, source: str) -> str:
    source = _sub(_FTZ, "fn oasis_ftz(x: f32) -> f32 {\n    return x;\n}", "oasis_ftz")(kernel, source)
    return _sub(_FTZ4, "fn oasis_ftz4(x: vec4<f32>) -> vec4<f32> {\n    return x;\n}",
                "oasis_ftz4")(kernel, source)


#: Variant name -> source transform ``(kernel name, WGSL) -> WGSL``.
VARIANTS: dict[str, Callable[[str, str], str]] = {
    "no-flush": _no_flush,
    "builtin-exp": _sub(
        _EXP,
        "fn oasis_exp(x: f32) -> f32 {\n    return oasis_ftz(exp2(oasis_ftz(x * 1.4426950408889634)));\n}",
        "oasis_exp",
    ),
}


@contextlib.contextmanager
def use_variant(name: str) -> Iterator[None]:
    """Run the kernels of variant ``name`` (a key of :data:`VARIANTS`, or ``""`` for the shipped
    kernels) in this context, on wgpu-py and in browser providers alike."""
    if name == "":
        yield
        return
    if name not in VARIANTS:
        raise ValueError(f"variant = {name!r} is unknown; choose one of {sorted(VARIANTS)} or ''")
    with gpu_device.kernel_variant(name, VARIANTS[name]):
        yield
