"""A browser provider: headless Chromium running the project's WGSL kernels through WebGPU.

Whitepaper sections 1-2: "anyone's browser becomes an inference provider through WebGPU".
:class:`BrowserProvider` starts Debian's ``chromium`` headless on loopback only, serves it a
small provider page and JS runtime (package data under ``oasis_lab/browser/static``), and runs
kernels there with numpy arrays in and out. Kernels are the very WGSL that
:mod:`oasis_lab.gpu` runs through wgpu-py: the ops of :mod:`oasis_lab.gpu.ops` compute their
parameters, bindings and dispatch as always, and :func:`oasis_lab.gpu.device.kernel_runner`
hands each :func:`~oasis_lab.gpu.device.run_kernel` call to the page instead of wgpu. Models
run through :func:`oasis_lab.gpu.model.run` with the provider's backend
(:class:`~oasis_lab.browser.backend.ProviderBackend`).

The provider is assembled from one module per concern: :mod:`~oasis_lab.browser.wire` (the
binary message format), :mod:`~oasis_lab.browser.bridge` (the loopback HTTP bridge and the
page's signs of life), :mod:`~oasis_lab.browser.chromium` (the process group: start, watch,
kill, reap), :mod:`~oasis_lab.browser.kernels` (kernel calls in the page) and
:mod:`~oasis_lab.browser.backend` (model execution).

Readings taken
--------------
- Size checks use the smaller of the browser's and the referee's (wgpu-py) limits, so a browser
  provider never accepts work the referee cannot recompute (SwiftShader allows a 1 GiB storage
  binding, lavapipe 128 MiB).
- Failures are errors, never hangs: a missing binary, a page that does not report within
  ``startup_timeout``, no WebGPU adapter, a command that takes longer than ``timeout``, a
  browser that exits, a JS exception and a kernel that fails to compile each raise a
  :class:`BrowserError` subclass naming the cause.
- Deaths are noticed within seconds, between calls too: a watch thread checks every
  :data:`WATCH_INTERVAL` seconds the main process, the GPU process and the zygotes
  (:meth:`ChromiumProcess.failure`) and the page (its connection, its heartbeat, a lost WebGPU
  device: :meth:`Bridge.page_failure`); the first death marks the provider dead
  (:attr:`BrowserProvider.failure`), kills and reaps the whole process group, and fails the
  pending call with :class:`BrowserCrashedError`. The group is also killed on
  :meth:`BrowserProvider.close`, on errors that leave it unusable, and at interpreter exit.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import queue
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from typing import Any, Self

import numpy as np

from oasis_lab.browser.backend import BrowserOps, ProviderBackend
from oasis_lab.browser.bridge import BEAT_INTERVAL, Bridge
from oasis_lab.browser.chromium import (
    CHROMIUM_FLAGS,
    ChromiumProcess,
    chromium_processes,
    find_chromium,
)
from oasis_lab.browser.errors import (
    BrowserCrashedError,
    BrowserError,
    BrowserPageError,
    BrowserStartupError,
    BrowserTimeoutError,
    KernelCompileError,
    NoAdapterError,
)
from oasis_lab.browser.kernels import PageKernels
from oasis_lab.browser.variants import VARIANTS
from oasis_lab.browser.wire import decode, encode
from oasis_lab.checks import check_int, check_real
from oasis_lab.gpu import device as gpu_device
from oasis_lab.gpu import model as M

__all__ = [
    "CHROMIUM_FLAGS",
    "PAGE_ERROR_GRACE",
    "WATCH_INTERVAL",
    "BrowserCrashedError",
    "BrowserError",
    "BrowserPageError",
    "BrowserProvider",
    "BrowserStartupError",
    "BrowserTimeoutError",
    "KernelCompileError",
    "NoAdapterError",
    "chromium_processes",
    "decode",
    "encode",
    "find_chromium",
]

#: Seconds the page may keep answering after an uncaught error before the provider gives up.
PAGE_ERROR_GRACE = 1.0
#: Seconds between two looks of the watch thread at the browser's processes and page.
WATCH_INTERVAL = 0.2


def _cleanup(chromium: ChromiumProcess | None, bridge: Bridge | None, profile: str | None) -> None:
    if bridge is not None:
        bridge.shutdown()
    if chromium is not None:
        chromium.kill()
    if profile is not None:
        shutil.rmtree(profile, ignore_errors=True)


_LIVE: weakref.WeakSet[BrowserProvider] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for p in list(_LIVE):
        p.close()


def _watch(ref: weakref.ref[BrowserProvider], stop: threading.Event) -> None:
    """The watch thread: holds the provider weakly, so an abandoned provider is still collected."""
    while not stop.wait(WATCH_INTERVAL):
        p = ref()
        if p is None or p._broken is not None:
            return
        reason = p._death()
        del p
        if reason is not None:
            p = ref()
            if p is not None:
                p._fail(BrowserCrashedError(f"browser provider {p.name!r} died: {reason}"))
            return


class BrowserProvider:
    """Headless Chromium serving the WGSL kernels through WebGPU (a context manager).

    Parameters
    ----------
    name : str
        Label of this provider (reports, traces).
    executable : str, optional
        Chromium binary (default :func:`find_chromium`).
    timeout : float
        Seconds one command may take before :class:`BrowserTimeoutError` (the browser is then
        closed).
    startup_timeout : float
        Seconds for the page to report its adapter.
    heartbeat_timeout : float
        Seconds the page may stay silent after one of the browser's renderers died before the
        dead renderer counts as the page's (the page beats every 0.25 s; the spare renderer's
        death leaves it beating). A renderer that dies while the page waits is noticed at
        once (its connection closes).
    extra_flags : sequence of str
        Added to ``base_flags`` (e.g. ``--enable-dawn-features=...``).
    base_flags : sequence of str
        Default :data:`CHROMIUM_FLAGS` (without ``--enable-unsafe-webgpu`` Chromium gives the page
        no adapter: :class:`NoAdapterError`).
    referee_limits : bool
        Cap sizes at the smaller of the browser's and the referee's (wgpu-py) limits (default).
    variant : str
        A kernel variant this provider always runs (:data:`oasis_lab.browser.variants.VARIANTS`;
        ``""``: the shipped kernels, or whatever variant is in force): a heterogeneous provider.
    cpus : int, optional
        Throttle: the browser's processes may run on only this many of the CPU cores this
        process may use (CPU affinity, set in the child before Chromium starts, inherited by
        its GPU and renderer processes; SwiftShader's rasterizer threads then share them).
        None: no limit.

    Examples
    --------
    >>> with BrowserProvider() as b:                                  # doctest: +SKIP
    ...     b.ops.matmul(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32))
    """

    def __init__(
        self,
        name: str = "browser",
        *,
        executable: str | None = None,
        timeout: float = 120.0,
        startup_timeout: float = 30.0,
        heartbeat_timeout: float = 5.0,
        extra_flags: Sequence[str] = (),
        base_flags: Sequence[str] = CHROMIUM_FLAGS,
        referee_limits: bool = True,
        variant: str = "",
        cpus: int | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"name = {name!r} must be a non-empty string")
        self.name = name
        self.timeout = check_real("timeout", timeout, positive=True)
        self.startup_timeout = check_real("startup_timeout", startup_timeout, positive=True)
        self.heartbeat_timeout = check_real("heartbeat_timeout", heartbeat_timeout, positive=True)
        for arg, flags in (("extra_flags", extra_flags), ("base_flags", base_flags)):
            if isinstance(flags, str) or not all(isinstance(f, str) for f in flags):
                raise TypeError(f"{arg} must be a sequence of strings, got {flags!r}")
        self.extra_flags = tuple(extra_flags)
        self.base_flags = tuple(base_flags)
        self.executable = executable
        self.referee_limits = bool(referee_limits)
        if variant and variant not in VARIANTS:
            raise ValueError(f"variant = {variant!r} is unknown; choose one of {sorted(VARIANTS)} or ''")
        self.variant = variant
        allowed = sorted(os.sched_getaffinity(0))
        self.cpus = None if cpus is None else check_int("cpus", cpus, 1, len(allowed))
        self._affinity = None if cpus is None else set(allowed[: self.cpus])
        self.info: dict[str, Any] = {}
        self.limits: dict[str, int] = {}
        self.startup_seconds = float("nan")
        self._chromium: ChromiumProcess | None = None
        self._bridge: Bridge | None = None
        self._profile: str | None = None
        self._finalizer: weakref.finalize | None = None
        self._stop_watch = threading.Event()
        self._lock = threading.Lock()
        self._broken: str | None = None
        self._log_path = ""
        #: Kernel calls in the page (set up when the browser starts).
        self.kernels = PageKernels(self.call, self.limits, 0, variant)
        self.last_page_digests: tuple[str | None, ...] = ()
        #: Bytes of all commands sent to the page (arrays travel as raw bytes).
        self.bytes_sent = 0
        #: Bytes of all replies received from the page.
        self.bytes_received = 0
        #: Uncaught page errors seen while the page kept answering.
        self.page_errors: list[str] = []
        self.ops = BrowserOps(self)
        #: This provider as a backend of :func:`oasis_lab.gpu.model.run` (honest).
        self.backend = ProviderBackend(self)

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        """Whether the browser is up and usable."""
        return (self._chromium is not None and self._broken is None
                and self._chromium.exit_code() is None)

    @property
    def failure(self) -> str | None:
        """Why the provider died (``None`` while it runs, before it starts and after
        :meth:`close`)."""
        if self._broken is None and self._chromium is not None:
            code = self._chromium.exit_code()  # exited before the watch thread looked
            return None if code is None else f"Chromium exited with status {code}"
        return None if self._broken in (None, "closed") else self._broken

    @property
    def pid(self) -> int | None:
        """Process id of the Chromium main process (``None`` when not started)."""
        return None if self._chromium is None else self._chromium.pid

    @property
    def pgid(self) -> int | None:
        """Process group id of the browser (saved at start; ``None`` when not started)."""
        return None if self._chromium is None else self._chromium.pgid

    def start(self) -> Self:
        """Start Chromium and wait for the page's adapter report (idempotent).

        Raises
        ------
        BrowserStartupError, NoAdapterError
        BrowserCrashedError
            The provider was started before and has died or been closed.
        """
        if self._chromium is not None:
            if self._broken is not None:
                raise BrowserCrashedError(
                    f"browser provider {self.name!r} is not running ({self._broken})")
            return self
        exe = find_chromium(self.executable)
        t0 = time.perf_counter()
        self._profile = tempfile.mkdtemp(prefix="oasis-browser-")
        self._log_path = os.path.join(self._profile, "chromium.log")
        self._bridge = Bridge()
        args = [exe, *self.base_flags, *self.extra_flags, f"--user-data-dir={self._profile}",
                "--enable-logging=stderr", "--v=0", self._bridge.url]
        try:
            self._chromium = ChromiumProcess(args, self._log_path, self._pin if self._affinity else None)
        except OSError as exc:
            _cleanup(None, self._bridge, self._profile)
            self._bridge = self._profile = None
            raise BrowserStartupError(f"could not start {exe!r}: {exc}") from None
        self._finalizer = weakref.finalize(self, _cleanup, self._chromium, self._bridge, self._profile)
        _LIVE.add(self)
        try:
            header, _ = self._wait_reply(self.startup_timeout, starting=True)
        except BrowserError:
            self.close()
            raise
        if not header.get("ok"):
            err = str(header.get("error", "unknown error"))
            self.close()
            if err.startswith(("NO_ADAPTER", "NO_WEBGPU")):
                raise NoAdapterError(f"browser provider {self.name!r}: {err.split(': ', 1)[-1]}")
            raise BrowserStartupError(f"browser provider {self.name!r} failed to start: {err}")
        self.info = dict(header["info"], user_agent=header.get("userAgent", ""),
                         features=header.get("features", []))
        self.limits.update({k: int(v) for k, v in header["limits"].items()})
        cap = self.limits["maxStorageBufferBindingSize"]
        if self.referee_limits and gpu_device.is_available():
            cap = min(cap, gpu_device.storage_limit())
        self.kernels.storage_cap = cap
        self._chromium.watch()  # the GPU process and the zygotes exist once the page has a device
        threading.Thread(target=_watch, args=(weakref.ref(self), self._stop_watch), daemon=True,
                         name=f"oasis-browser-watch-{self.name}").start()
        self.startup_seconds = time.perf_counter() - t0
        return self

    def _pin(self) -> None:
        # runs in the child between fork and exec: Chromium and every process it spawns
        # inherit the affinity
        assert self._affinity is not None
        os.sched_setaffinity(0, self._affinity)

    def close(self) -> None:
        """Stop the page, kill the browser's process group and reap every process of it; remove
        its profile (idempotent)."""
        if self._bridge is not None and self._broken is None and self.running:
            self._bridge.closing.set()  # the page's pending exchange answers "close"
        self._stop_watch.set()
        if self._finalizer is not None:
            self._finalizer()
        self._broken = self._broken or "closed"
        _LIVE.discard(self)

    def _death(self) -> str | None:
        """Why the browser or its page is gone (the watch thread's look), or ``None``."""
        chromium, bridge = self._chromium, self._bridge
        if chromium is None or bridge is None:
            return None
        reason = chromium.failure() or bridge.page_failure()
        if reason is not None:
            return reason
        now = time.monotonic()
        for pid, died in list(chromium.renderer_deaths.items()):
            if bridge.last_beat > died + 2 * BEAT_INTERVAL:  # the page still beats: the spare
                chromium.forget_renderer(pid)
            elif now - died > self.heartbeat_timeout:
                return (f"a renderer (pid {pid}) died and the page has sent no heartbeat for "
                        f"{now - bridge.last_beat:.1f} s: it was the page's")
        return None

    def _log_tail(self, n: int = 6) -> str:
        try:
            with open(self._log_path, "rb") as f:
                lines = f.read().decode(errors="replace").strip().splitlines()
        except OSError:
            return ""
        # dbus complaints are normal in a container; console lines and real errors are not
        keep = [ln[:200] for ln in lines
                if ("ERROR" in ln or "FATAL" in ln or "CONSOLE" in ln) and "dbus" not in ln][-n:]
        return (" | chromium log: " + " / ".join(keep)) if keep else ""

    def _fail(self, exc: BrowserError) -> BrowserError:
        """Mark the provider unusable (the first reason stays), kill and reap the browser,
        return ``exc`` to raise."""
        if self._broken is None:
            self._broken = str(exc)
        self._stop_watch.set()
        if self._finalizer is not None:
            self._finalizer()
        _LIVE.discard(self)
        return exc

    def _wait_reply(self, timeout: float, starting: bool = False) -> tuple[dict[str, Any], list[memoryview]]:
        """The page's next reply. An uncaught page error (``window.onerror``, a rejected
        promise) is kept in :attr:`page_errors` when the reply still comes within
        :data:`PAGE_ERROR_GRACE` seconds, and raised (the provider then closed) when not."""
        assert self._bridge is not None and self._chromium is not None
        deadline = time.monotonic() + timeout
        error_deadline = float("inf")
        first_error = ""
        while True:
            try:
                msg_bytes = self._bridge.replies.get(timeout=0.05)
                self.bytes_received += len(msg_bytes)
                return decode(msg_bytes)
            except queue.Empty:
                pass
            while True:
                try:
                    err = self._bridge.page_errors.get_nowait()
                except queue.Empty:
                    break
                text = f"{err.get('kind', 'error')}: {err.get('message', '')}"
                self.page_errors.append(text)
                if not first_error:
                    first_error = text
                    error_deadline = time.monotonic() + PAGE_ERROR_GRACE
            if self._broken is not None:  # the watch thread found it dead
                raise BrowserCrashedError(self._broken)
            code = self._chromium.exit_code()
            if code is not None:
                cls = BrowserStartupError if starting else BrowserCrashedError
                raise self._fail(cls(
                    f"browser provider {self.name!r}: Chromium exited with status {code}"
                    f"{self._log_tail()}"))
            if not starting:
                dead = self._death()
                if dead is not None:
                    raise self._fail(BrowserCrashedError(f"browser provider {self.name!r} died: {dead}"))
            now = time.monotonic()
            if now > error_deadline:
                fail: type[BrowserError] = BrowserStartupError if starting else BrowserPageError
                raise self._fail(fail(f"browser provider {self.name!r}: the page failed "
                                     f"({first_error}) and stopped answering (browser closed)"))
            if now > deadline:
                if starting:
                    raise self._fail(BrowserStartupError(
                        f"browser provider {self.name!r}: the page did not report within "
                        f"{timeout:g} s{self._log_tail()}"))
                raise self._fail(BrowserTimeoutError(
                    f"browser provider {self.name!r}: no answer within {timeout:g} s (browser closed)"))

    def call(self, header: dict[str, Any], blobs: Sequence[Any] = (),
             timeout: float | None = None) -> tuple[dict[str, Any], list[memoryview]]:
        """Send one command to the page and wait for its reply (the raw protocol)."""
        with self._lock:
            if self._broken is not None or self._chromium is None:
                raise BrowserCrashedError(
                    f"browser provider {self.name!r} is not running ({self._broken or 'not started'})")
            assert self._bridge is not None
            msg = encode(header, blobs)
            self.bytes_sent += len(msg)
            self._bridge.commands.put(msg)
            reply, out = self._wait_reply(self.timeout if timeout is None else timeout)
        if not reply.get("ok"):
            err = str(reply.get("error", "unknown error"))
            if err.startswith("COMPILE: "):
                raise KernelCompileError(f"browser provider {self.name!r}: {err[9:]}")
            if self._bridge.device_lost is not None:  # the call failed because the device went
                raise self._fail(BrowserCrashedError(
                    f"browser provider {self.name!r} died: {self._bridge.page_failure()}"))
            raise BrowserPageError(f"browser provider {self.name!r}: {err}")
        return reply, out

    # ------------------------------------------------------------------ kernels
    def run_kernel(
        self,
        name: str,
        params: np.ndarray,
        inputs: list[tuple[str, np.ndarray]],
        out_nbytes: int,
        workgroups: tuple[int, int, int],
        *,
        entry: str = "main",
        constants: dict[str, float] | None = None,
        repeat: int | None = None,
        digest: str | None = None,
    ) -> np.ndarray:
        """Run one compute pass in the page: the contract of
        :func:`oasis_lab.gpu.device.run_kernel` (same source, bindings, dispatch)."""
        return self.kernels.run(name, params, inputs, out_nbytes, workgroups, entry=entry,
                                constants=constants, repeat=repeat, digest=digest)

    @property
    def last_ms(self) -> float:
        """Milliseconds of the last kernel call inside the page (submit to read-back)."""
        return self.kernels.last_ms

    @property
    def last_digest(self) -> str | None:
        """The page's digest of the last kernel call's output (when one was asked for)."""
        return self.kernels.last_digest

    @contextlib.contextmanager
    def repeating(self, repeat: int) -> Iterator[None]:
        """Dispatch every kernel ``repeat`` times in one pass in this context (in-page timing)."""
        n = check_int("repeat", repeat, 1)
        self.kernels.repeat = n
        try:
            yield
        finally:
            self.kernels.repeat = 1

    def time_kernel(self, name: str, params: np.ndarray, inputs: list[tuple[str, np.ndarray]],
                    out_nbytes: int, workgroups: tuple[int, int, int], *, repeat: int = 5,
                    entry: str = "main", constants: dict[str, float] | None = None) -> float:
        """Seconds per dispatch measured inside the page (``repeat`` dispatches in one pass,
        ``performance.now`` around submit and read-back; no transfer counted)."""
        self.run_kernel(name, params, inputs, out_nbytes, workgroups, entry=entry,
                        constants=constants, repeat=repeat)
        return self.last_ms / 1e3 / repeat

    # ------------------------------------------------------------------ cheating, JS access
    def inject_perturbation(self, call: int, *, ulps: int = 1, element: int = 0) -> None:
        """Make the page's JS add ``ulps`` to the bits of one element of the output of its
        ``call``-th kernel run from now (0-based): a cheating browser provider."""
        for nm, v in (("call", call), ("ulps", ulps), ("element", element)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"{nm} must be an integer, got {v!r}")
        if call < 0 or element < 0 or ulps == 0:
            raise ValueError(f"need call >= 0, element >= 0, ulps != 0; got {call}, {element}, {ulps}")
        self.call({"op": "perturb", "perturb": {"call": int(call) + 1, "ulps": int(ulps),
                                                "element": int(element)}})

    def clear_perturbation(self) -> None:
        """Back to honest behaviour."""
        self.call({"op": "perturb", "perturb": None})

    def evaluate(self, code: str, timeout: float | None = None) -> Any:
        """Run ``code`` as the body of an async JS function in the page; return its JSON value."""
        if not isinstance(code, str):
            raise TypeError(f"code must be a string, got {type(code).__name__}")
        reply, _ = self.call({"op": "eval", "code": code}, timeout=timeout)
        return reply.get("value")

    def stats(self) -> dict[str, int]:
        """Page-side counts: weights kept on the device, resident outputs, pipelines, shader
        modules, calls."""
        reply, _ = self.call({"op": "stats"})
        return {k: int(reply[k]) for k in ("kept", "resident", "pipelines", "shaders", "calls")}

    # ------------------------------------------------------------------ models
    def run(self, model: M.Model, inputs: Any, seed: int = 0, *,
            cheat: tuple[int | str, int] | None = None, keep: str = "outputs") -> Any:
        """:func:`oasis_lab.gpu.model.run` in this browser (``backend="browser"``).

        Every node's digest is also computed in the page (SHA-256 over dtype, shape and bytes,
        as :func:`~oasis_lab.gpu.model.array_digest`); :attr:`last_page_digests` holds them
        (``None`` for a node that ran no kernel, e.g. an empty shape). With
        ``keep="digests"`` only the digests come back (a
        :class:`~oasis_lab.gpu.model.DigestTrace`): float outputs stay on the browser's device
        between nodes (:attr:`bytes_received` counts what crossed).

        ``cheat = (node, ulps)`` makes the page's JS add ``ulps`` to the bits of element 0 of
        that node's output before anything reads it (a cheating browser provider; later nodes
        compute on the wrong value).
        """
        if not isinstance(model, M.Model):
            raise TypeError(f"model must be a Model, got {type(model).__name__}")
        backend = self.backend
        if cheat is not None:
            node_ref, ulps = cheat
            at = model.node_index(node_ref) if isinstance(node_ref, str) else node_ref
            if (isinstance(at, bool) or not isinstance(at, (int, np.integer)) or not 0 <= at < len(model.nodes)
                    or isinstance(ulps, bool) or not isinstance(ulps, (int, np.integer)) or ulps == 0):
                raise ValueError(f"cheat = {cheat!r} must be (node of {model.name!r}, ulps != 0)")
            backend = ProviderBackend(self, (int(at), int(ulps)))
        return M.run(model, inputs, backend=backend, seed=seed, keep=keep)  # type: ignore[call-overload]

    def run_node(self, model: M.Model, node: Any, node_inputs: Sequence[np.ndarray], seed: int = 0) -> np.ndarray:
        """:func:`oasis_lab.gpu.model.run_node` in this browser."""
        return M.run_node(model, node, node_inputs, backend=self.backend, seed=seed)

    def adapter_summary(self) -> str:
        """``vendor / architecture (device)`` as the page's adapter reports it."""
        i = self.info
        dev = f" ({i['device']})" if i.get("device") else ""
        return f"{i.get('vendor', '?')} / {i.get('architecture', '?')}{dev}"
