"""Browser providers join the simulated market (issue 13 item 3; whitepaper section 4.2: each
provider's speeds ``M_i`` "will be determined by benchmarking", and ``Psi_i`` with them).

:func:`market_provider` benchmarks a started :class:`~oasis_lab.browser.provider.BrowserProvider`
in its page (:func:`oasis_lab.browser.bench.benchmark_browser`) and returns it as a
:class:`~oasis_lab.sim.config.ExtraProvider` of the simulation; :func:`browser_providers`
launches ``k`` of them (separate browser processes, each optionally throttled to fewer CPU
cores or running a different kernel variant, to model heterogeneous hardware), one after the
other so that no benchmark measures another's load; :func:`join_market` adds them to a
:class:`~oasis_lab.sim.config.SimConfig`.

A provider running a kernel variant computes some nodes differently from the referee's
kernels, so it joins as ``"other_device"`` (its challenged results are disputed, as an honest
provider on other hardware); one on the shipped kernels joins as ``"honest"``.
"""

from __future__ import annotations

from collections.abc import Sequence

from oasis_lab.browser.bench import benchmark_browser
from oasis_lab.browser.provider import BrowserProvider
from oasis_lab.browser.variants import VARIANTS
from oasis_lab.checks import check_int
from oasis_lab.gpu.bench import ProviderBenchmark
from oasis_lab.sim.config import EXTRA_KINDS, ExtraProvider, SimConfig

__all__ = ["browser_providers", "join_market", "market_provider"]


def market_provider(
    provider: BrowserProvider,
    *,
    kind: str | None = None,
    bench: ProviderBenchmark | None = None,
    size: str = "small",
    repeats: int = 3,
    seed: int = 0,
) -> ExtraProvider:
    """Benchmark ``provider`` in its page and return it as a simulation provider.

    Parameters
    ----------
    provider : BrowserProvider
        Started or not (it is started).
    kind : {"honest", "cheater", "other_device"}, optional
        Default: ``"other_device"`` when it runs a kernel variant, else ``"honest"``.
    bench : ProviderBenchmark, optional
        Its in-page benchmark when already measured (``benchmark_browser(provider, ...)``);
        otherwise it is measured here.
    size, repeats, seed
        As :func:`oasis_lab.browser.bench.benchmark_browser`.

    Returns
    -------
    ExtraProvider
        Its measured speeds (requests per second per model type) and ``Psi``; the
        ``cpu_cores`` entry of ``Psi`` is its throttle when it has one.
    """
    if not isinstance(provider, BrowserProvider):
        raise TypeError(f"provider must be a BrowserProvider, got {type(provider).__name__}")
    if kind is not None and kind not in EXTRA_KINDS:
        raise ValueError(f"kind = {kind!r} is not one of {list(EXTRA_KINDS)}")
    if bench is None:
        bench = benchmark_browser(provider, size, repeats, seed)
    elif not isinstance(bench, ProviderBenchmark) or bench.backend != "browser":
        raise TypeError(f"bench must be a browser ProviderBenchmark, got {bench!r:.80}")
    psi = [float(v) for v in bench.psi]
    if provider.cpus is not None:
        psi[3] = float(provider.cpus)
    tags = [t for t in (provider.variant and f"variant {provider.variant}",
                        provider.cpus and f"{provider.cpus} cpu") if t]
    name = f"browser:{provider.name}" + (f" ({', '.join(tags)})" if tags else "")
    return ExtraProvider(
        name=name,
        speed=tuple(float(v) for v in bench.speed),
        psi=tuple(psi),
        kind=kind if kind is not None else ("other_device" if provider.variant else "honest"),
    )


def browser_providers(
    k: int,
    *,
    cpus: Sequence[int | None] | None = None,
    variants: Sequence[str] | None = None,
    kinds: Sequence[str | None] | None = None,
    size: str = "small",
    repeats: int = 3,
    seed: int = 0,
    executable: str | None = None,
    timeout: float = 120.0,
) -> tuple[ExtraProvider, ...]:
    """Launch ``k`` browser providers one after the other, benchmark each in its page, close it.

    Parameters
    ----------
    k : int
        How many (>= 1).
    cpus : sequence of (int or None), optional
        Per provider, the CPU cores its browser may use (None: no throttle).
    variants : sequence of str, optional
        Per provider, a kernel variant (:data:`oasis_lab.browser.variants.VARIANTS`, ``""``:
        the shipped kernels).
    kinds : sequence of (str or None), optional
        Per provider, its kind in the simulation (None: from its variant).
    size, repeats, seed
        The benchmark's.
    executable, timeout
        As :class:`BrowserProvider`.

    Returns
    -------
    tuple of ExtraProvider

    Raises
    ------
    ValueError, TypeError
        A bad ``k``, a per-provider list of another length, an unknown variant or kind; before
        any browser starts.
    """
    k = check_int("k", k, 1, 64)
    per: dict[str, Sequence[object]] = {}
    for arg, values, default in (("cpus", cpus, None), ("variants", variants, ""), ("kinds", kinds, None)):
        if values is None:
            values = [default] * k
        if isinstance(values, str) or len(values) != k:
            raise ValueError(f"{arg} must be a sequence of {k} values, got {values!r}")
        per[arg] = list(values)
    for v in per["variants"]:
        if v and v not in VARIANTS:
            raise ValueError(f"variant = {v!r} is unknown; choose one of {sorted(VARIANTS)} or ''")
    for kd in per["kinds"]:
        if kd is not None and kd not in EXTRA_KINDS:
            raise ValueError(f"kind = {kd!r} is not one of {list(EXTRA_KINDS)}")
    # construct all first: a bad throttle is refused before any browser starts
    providers = [
        BrowserProvider(f"browser-{i}", executable=executable, timeout=timeout,
                        variant=str(per["variants"][i]), cpus=per["cpus"][i])  # type: ignore[arg-type]
        for i in range(k)
    ]
    out = []
    for i, provider in enumerate(providers):
        with provider:
            out.append(market_provider(provider, kind=per["kinds"][i], size=size,  # type: ignore[arg-type]
                                       repeats=repeats, seed=seed))
    return tuple(out)


def join_market(config: SimConfig, providers: Sequence[ExtraProvider]) -> SimConfig:
    """``config`` with ``providers`` added to its measured providers (``extra_providers``)."""
    if not isinstance(config, SimConfig):
        raise TypeError(f"config must be a SimConfig, got {type(config).__name__}")
    extra = tuple(providers)
    if not all(isinstance(p, ExtraProvider) for p in extra):
        raise TypeError("providers must be ExtraProvider (see market_provider / browser_providers)")
    return config.replace(extra_providers=config.extra_providers + extra)
