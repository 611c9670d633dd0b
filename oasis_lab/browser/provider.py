"""A browser provider: headless Chromium running the project's WGSL kernels through WebGPU.

Whitepaper sections 1-2: "anyone's browser becomes an inference provider through WebGPU".
:class:`BrowserProvider` starts Debian's ``chromium`` headless on loopback only, serves it a
small provider page and JS runtime (package data under ``oasis_lab/browser/static``), and runs
kernels there with numpy arrays in and out. Kernels are the very WGSL that
:mod:`oasis_lab.gpu` runs through wgpu-py: the ops of :mod:`oasis_lab.gpu.ops` compute their
parameters, bindings and dispatch as always, and :func:`oasis_lab.gpu.device.kernel_runner`
hands each :func:`~oasis_lab.gpu.device.run_kernel` call to the page instead of wgpu.

Transport: the page long-polls a loopback HTTP server of this process (the response to each
reply is the next command). Messages are binary (a JSON header, then raw array bytes): arrays
never travel as JSON or base64 text. Model weights (arrays marked
:func:`~oasis_lab.gpu.device.mark_persistent`) are uploaded once and kept on the browser's
device; every output is hashed in the page (SHA-256 over dtype, shape and bytes, as
:func:`oasis_lab.gpu.model.array_digest` does) and the digest travels with it.

Readings taken
--------------
- Chromium flags (measured on Chromium 156, Debian): ``--headless=new --no-sandbox
  --enable-unsafe-webgpu`` give ``navigator.gpu`` a SwiftShader adapter (without
  ``--enable-unsafe-webgpu`` ``requestAdapter()`` returns null); the quiet-network flags keep
  the browser off the network, and each provider gets a fresh ``--user-data-dir``.
- Size checks use the smaller of the browser's and the referee's (wgpu-py) limits, so a browser
  provider never accepts work the referee cannot recompute (SwiftShader allows a 1 GiB storage
  binding, lavapipe 128 MiB).
- Failures are errors, never hangs: a missing binary, a page that does not report within
  ``startup_timeout``, no WebGPU adapter, a command that takes longer than ``timeout``, a
  browser that exits, a JS exception and a kernel that fails to compile each raise a
  :class:`BrowserError` subclass naming the cause. The browser's whole process group is killed
  on :meth:`BrowserProvider.close`, on errors that leave it unusable, and at interpreter exit.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import secrets
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Self

import numpy as np

from oasis_lab.browser.variants import VARIANTS
from oasis_lab.checks import check_int, check_real
from oasis_lab.gpu import device as gpu_device

__all__ = [
    "CHROMIUM_FLAGS",
    "BrowserCrashedError",
    "BrowserError",
    "BrowserPageError",
    "BrowserProvider",
    "BrowserStartupError",
    "BrowserTimeoutError",
    "KernelCompileError",
    "NoAdapterError",
    "chromium_processes",
    "find_chromium",
]

#: Flags of every provider's Chromium (see the module docstring).
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--enable-unsafe-webgpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--disable-gpu-sandbox",
)
#: Output dtype (numpy ``dtype.str``) of each op's node, for the digests computed in the page.
_NODE_DTYPES = {"sample": "<i4", "int8_matmul": "<i4", "int8_matmul_requant": "|i1"}
#: Seconds the page may keep answering after an uncaught error before the provider gives up.
PAGE_ERROR_GRACE = 1.0
_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
_INSTALL_HINT = ("install Debian's chromium (`apt-get install -y chromium`; `make setup` does it) "
                 "or pass executable=")


class BrowserError(RuntimeError):
    """Base of the browser provider's errors."""


class BrowserStartupError(BrowserError):
    """Chromium could not be started, or its page did not report ready in time."""


class NoAdapterError(BrowserStartupError):
    """The page started but WebGPU gave it no adapter."""


class BrowserTimeoutError(BrowserError):
    """A command did not finish within the provider's timeout (the browser is closed)."""


class BrowserCrashedError(BrowserError):
    """The browser exited or was killed (the provider cannot be used any more)."""


class BrowserPageError(BrowserError):
    """The page's JS raised (the provider stays usable)."""


class KernelCompileError(BrowserPageError):
    """A WGSL kernel failed to compile in the browser."""


def find_chromium(executable: str | None = None) -> str:
    """Path of the Chromium binary: ``executable``, ``$OASIS_CHROMIUM`` or the usual names.

    Raises
    ------
    BrowserStartupError
        None found (the message says how to install it).
    """
    if executable is not None:
        if not isinstance(executable, str):
            raise TypeError(f"executable must be a path string, got {type(executable).__name__}")
        path = shutil.which(executable)
        if path is None:
            raise BrowserStartupError(f"executable = {executable!r} is not an executable file")
        return path
    env = os.environ.get("OASIS_CHROMIUM")
    if env:
        path = shutil.which(env)
        if path is None:
            raise BrowserStartupError(f"OASIS_CHROMIUM = {env!r} is not an executable file")
        return path
    for name in _CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    raise BrowserStartupError(f"no Chromium found: {_INSTALL_HINT}")


def chromium_processes(marker: str = "oasis-browser-") -> list[int]:
    """Process ids of live (non-zombie) processes whose command line contains ``marker``
    (every provider's ``--user-data-dir`` does)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{entry}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmd and state != b"Z":
            pids.append(int(entry))
    return pids


# ----------------------------------------------------------------------------- wire format
def _pad4(n: int) -> int:
    return -(-n // 4) * 4


def encode(header: dict[str, Any], blobs: Sequence[bytes | memoryview | np.ndarray]) -> bytes:
    """One binary message: u32 header length, JSON header, pad, then 4-byte-aligned blobs."""
    views = [memoryview(np.ascontiguousarray(b).view(np.uint8).reshape(-1).data)
             if isinstance(b, np.ndarray) else memoryview(b).cast("B") for b in blobs]
    offsets, pos = [], 0
    for v in views:
        offsets.append([pos, v.nbytes])
        pos += _pad4(v.nbytes)
    head = json.dumps({**header, "blobs": offsets}).encode()
    base = 4 + _pad4(len(head))
    buf = bytearray(base + pos)
    struct.pack_into("<I", buf, 0, len(head))
    buf[4:4 + len(head)] = head
    for (off, n), v in zip(offsets, views, strict=True):
        buf[base + off:base + off + n] = v
    return bytes(buf)


def decode(msg: bytes) -> tuple[dict[str, Any], list[memoryview]]:
    """Inverse of :func:`encode`."""
    (hl,) = struct.unpack_from("<I", msg, 0)
    header = json.loads(msg[4:4 + hl])
    base = 4 + _pad4(hl)
    mv = memoryview(msg)
    return header, [mv[base + o:base + o + n] for o, n in header.get("blobs", [])]


# ----------------------------------------------------------------------------- the bridge
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms ACK wait
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: errors are raised, not logged
        return

    def _send(self, code: int, body: bytes, ctype: str = "application/octet-stream") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        bridge = self.server.bridge
        prefix = f"/{bridge.token}/"
        if not self.path.startswith(prefix):
            self._send(404, b"")
            return
        name = self.path[len(prefix):] or "provider.html"
        if name not in ("provider.html", "runtime.js"):
            self._send(404, b"")
            return
        body = resources.files("oasis_lab.browser").joinpath("static", name).read_bytes()
        self._send(200, body, "text/html" if name.endswith("html") else "text/javascript")

    def do_POST(self) -> None:
        bridge = self.server.bridge
        n = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(n)
        if self.path == f"/{bridge.token}/error":
            bridge.page_errors.put(json.loads(body or b"{}"))
            self._send(200, b"")
            return
        if self.path != f"/{bridge.token}/exchange":
            self._send(404, b"")
            return
        bridge.replies.put(body)
        self._send(200, bridge.next_command())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    bridge: _Bridge

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a page that goes away mid-request (close, crash) resets its connection: not an error
        return


class _Bridge:
    """The loopback HTTP server and the two queues between it and the provider."""

    def __init__(self) -> None:
        self.token = secrets.token_hex(16)
        self.replies: queue.Queue[bytes] = queue.Queue()
        self.commands: queue.Queue[bytes] = queue.Queue()
        self.page_errors: queue.Queue[dict[str, Any]] = queue.Queue()
        self.closing = threading.Event()
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.bridge = self
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True, name="oasis-browser-bridge")
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/{self.token}/provider.html"

    def next_command(self) -> bytes:
        while not self.closing.is_set():
            try:
                return self.commands.get(timeout=0.1)
            except queue.Empty:
                continue
        return encode({"op": "close"}, [])

    def shutdown(self) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()


def _kill_group(proc: subprocess.Popen[bytes], wait: float = 10.0) -> None:
    """SIGKILL Chromium's whole process group (browser, renderer, GPU process and helpers) and
    reap the main process. No graceful shutdown is needed: the profile is thrown away."""
    try:
        os.killpg(os.getpgid(proc.pid), signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
        pass


def _cleanup(proc: subprocess.Popen[bytes] | None, bridge: _Bridge | None, profile: str | None) -> None:
    if bridge is not None:
        bridge.shutdown()
    if proc is not None:
        _kill_group(proc)
    if profile is not None:
        shutil.rmtree(profile, ignore_errors=True)


_LIVE: weakref.WeakSet[BrowserProvider] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for p in list(_LIVE):
        p.close()


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
        self._proc: subprocess.Popen[bytes] | None = None
        self._bridge: _Bridge | None = None
        self._profile: str | None = None
        self._finalizer: weakref.finalize | None = None
        self._lock = threading.Lock()
        self._broken: str | None = None
        self._compiled: set[str] = set()
        self._kept: dict[int, weakref.ref] = {}
        self._to_free: list[int] = []
        self._storage_cap = 0
        self._log_path = ""
        self._next_digest: tuple[str, bool] | None = None
        self._perturb_next: dict[str, int] | None = None
        self._repeat = 1  # dispatches per run (in-page timing, oasis_lab.browser.bench)
        self.last_digest: str | None = None
        self.last_ms = float("nan")
        self.last_page_digests: tuple[str | None, ...] = ()
        #: Bytes of all commands sent to the page (arrays travel as raw bytes).
        self.bytes_sent = 0
        #: Uncaught page errors seen while the page kept answering.
        self.page_errors: list[str] = []
        from oasis_lab.browser.backend import BrowserOps

        self.ops = BrowserOps(self)

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        """Whether the browser is up and usable."""
        return self._proc is not None and self._broken is None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """Process id of the Chromium main process (``None`` when not started)."""
        return None if self._proc is None else self._proc.pid

    def start(self) -> Self:
        """Start Chromium and wait for the page's adapter report (idempotent).

        Raises
        ------
        BrowserStartupError, NoAdapterError
        """
        if self._proc is not None:
            if self._broken is not None:
                raise BrowserCrashedError(
                    f"browser provider {self.name!r} is not running ({self._broken})")
            return self
        exe = find_chromium(self.executable)
        t0 = time.perf_counter()
        self._profile = tempfile.mkdtemp(prefix="oasis-browser-")
        self._log_path = os.path.join(self._profile, "chromium.log")
        self._bridge = _Bridge()
        args = [exe, *self.base_flags, *self.extra_flags, f"--user-data-dir={self._profile}",
                "--enable-logging=stderr", "--v=0", self._bridge.url]
        try:
            with open(self._log_path, "wb") as log:  # the child keeps its own descriptor
                self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                              stderr=log, start_new_session=True,
                                              preexec_fn=self._pin if self._affinity else None)
        except OSError as exc:
            _cleanup(None, self._bridge, self._profile)
            self._bridge = self._profile = None
            raise BrowserStartupError(f"could not start {exe!r}: {exc}") from None
        self._finalizer = weakref.finalize(self, _cleanup, self._proc, self._bridge, self._profile)
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
        self.limits = {k: int(v) for k, v in header["limits"].items()}
        cap = self.limits["maxStorageBufferBindingSize"]
        if self.referee_limits and gpu_device.is_available():
            cap = min(cap, gpu_device.storage_limit())
        self._storage_cap = cap
        self.startup_seconds = time.perf_counter() - t0
        return self

    def _pin(self) -> None:
        # runs in the child between fork and exec: Chromium and every process it spawns
        # inherit the affinity
        assert self._affinity is not None
        os.sched_setaffinity(0, self._affinity)

    def close(self) -> None:
        """Stop the page and kill the browser's process group; remove its profile (idempotent)."""
        if self._bridge is not None and self._broken is None and self._proc is not None \
                and self._proc.poll() is None:
            self._bridge.closing.set()  # the page's pending exchange answers "close"
        if self._finalizer is not None:
            self._finalizer()
        self._broken = self._broken or "closed"
        _LIVE.discard(self)

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
        """Mark the provider unusable, kill the browser, return ``exc`` to raise."""
        self._broken = str(exc)
        if self._finalizer is not None:
            self._finalizer()
        _LIVE.discard(self)
        return exc

    def _wait_reply(self, timeout: float, starting: bool = False) -> tuple[dict[str, Any], list[memoryview]]:
        """The page's next reply. An uncaught page error (``window.onerror``, a rejected
        promise, a lost device) is kept in :attr:`page_errors` when the reply still comes within
        :data:`PAGE_ERROR_GRACE` seconds, and raised (the provider then closed) when not."""
        assert self._bridge is not None and self._proc is not None
        deadline = time.monotonic() + timeout
        error_deadline = float("inf")
        first_error = ""
        while True:
            try:
                msg_bytes = self._bridge.replies.get(timeout=0.05)
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
            code = self._proc.poll()
            if code is not None:
                cls = BrowserStartupError if starting else BrowserCrashedError
                raise self._fail(cls(
                    f"browser provider {self.name!r}: Chromium exited with status {code}"
                    f"{self._log_tail()}"))
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
            if self._broken is not None or self._proc is None:
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
            raise BrowserPageError(f"browser provider {self.name!r}: {err}")
        return reply, out

    # ------------------------------------------------------------------ kernels
    def _drop(self, key: int) -> None:
        if self._kept.pop(key, None) is not None:
            self._to_free.append(key)

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
    ) -> bytes:
        """Run one compute pass in the page: the contract of
        :func:`oasis_lab.gpu.device.run_kernel` (same source, bindings, dispatch)."""
        max_groups = self.limits.get("maxComputeWorkgroupsPerDimension", 65535)
        if any(g > max_groups for g in workgroups):
            raise ValueError(f"{name} would dispatch {workgroups} workgroups, over the limit of "
                             f"{max_groups} per dimension: split the input")
        cap = self._storage_cap
        if -(-out_nbytes // 4) * 4 > cap:
            raise ValueError(f"the output needs {out_nbytes / 2**20:.1f} MiB, over the storage-"
                             f"binding limit of {cap / 2**20:.0f} MiB (browser and referee)")
        variant = self.variant or gpu_device.current_variant()
        skey = f"{name}|{variant}"
        header: dict[str, Any] = {
            "op": "run", "kernel": name, "variant": variant, "entry": entry,
            "constants": dict(constants or {}), "out_nbytes": int(out_nbytes),
            "groups": [int(g) for g in workgroups], "params": 0,
            "repeat": int(self._repeat if repeat is None else repeat),
        }
        if skey not in self._compiled:
            if self.variant:
                header["source"] = VARIANTS[self.variant](name, gpu_device.kernel_source(name))
            else:
                header["source"] = gpu_device.variant_source(name)
        ubytes = np.zeros(-(-max(params.nbytes, 16) // 16) * 4, dtype=np.uint32)
        ubytes.view(np.uint8)[:params.nbytes] = params.view(np.uint8).reshape(-1)
        blobs: list[Any] = [ubytes]
        specs = []
        for arg, arr in inputs:
            arr = np.ascontiguousarray(arr)
            bind = max(4, _pad4(arr.nbytes))
            if bind > cap:
                raise ValueError(f"{arg} needs {arr.nbytes / 2**20:.1f} MiB, over the storage-"
                                 f"binding limit of {cap / 2**20:.0f} MiB (browser and referee)")
            spec: dict[str, Any] = {"bind": bind}
            if gpu_device.is_persistent(arr):
                key = id(arr)
                ref = self._kept.get(key)
                if ref is not None and ref() is arr:
                    spec["ref"] = key
                else:
                    spec.update(blob=len(blobs), keep=key)
                    blobs.append(arr)
                    self._kept[key] = weakref.ref(arr)
                    weakref.finalize(arr, self._drop, key)
            else:
                spec["blob"] = len(blobs)
                blobs.append(arr)
            specs.append(spec)
        header["inputs"] = specs
        if self._to_free:
            header["free"], self._to_free = self._to_free, []
        if digest is None and self._next_digest is not None:
            digest, cast = self._next_digest
            if cast:
                header["cast"] = "i1"  # requantized int8 travels as int32; hash it as int8
        if digest is not None:
            header["digest"] = digest
        if self._perturb_next is not None:
            header["perturb_now"] = self._perturb_next
        reply, out = self.call(header, blobs)
        self._compiled.add(skey)
        self.last_ms = float(reply.get("ms", float("nan")))
        self.last_digest = reply.get("digest")
        return bytes(out[0]) if out else b""

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
        """Page-side counts: weights kept on the device, pipelines, shader modules, calls."""
        reply, _ = self.call({"op": "stats"})
        return {k: int(reply[k]) for k in ("kept", "pipelines", "shaders", "calls")}

    # ------------------------------------------------------------------ models
    def run(self, model: Any, inputs: Any, seed: int = 0, *,
            cheat: tuple[int | str, int] | None = None) -> Any:
        """:func:`oasis_lab.gpu.model.run` in this browser: a ``Trace`` with ``backend="browser"``.

        Every node's digest is also computed in the page (SHA-256 over dtype, shape and bytes,
        as :func:`~oasis_lab.gpu.model.array_digest`); :attr:`last_page_digests` holds them
        (``None`` for a node that ran no kernel, e.g. an empty shape).

        ``cheat = (node, ulps)`` makes the page's JS add ``ulps`` to the bits of element 0 of
        that node's output before it leaves the page (a cheating browser provider; later nodes
        compute on the wrong value).
        """
        from oasis_lab.gpu import model as M

        if not isinstance(model, M.Model):
            raise TypeError(f"model must be a Model, got {type(model).__name__}")
        if not hasattr(inputs, "keys"):
            raise TypeError(f"inputs must be a mapping of input name to array, got {type(inputs).__name__}")
        missing = [n for n in model.input_names if n not in inputs]
        extra = [n for n in inputs if n not in model.input_names]
        if missing or extra:
            raise ValueError(f"inputs of {model.name!r} must be exactly {list(model.input_names)}; "
                             f"missing {missing}, unexpected {extra}")
        cheat_at, cheat_ulps = -1, 0
        if cheat is not None:
            node_ref, cheat_ulps = cheat
            cheat_at = model.node_index(node_ref) if isinstance(node_ref, str) else int(node_ref)
            if not 0 <= cheat_at < len(model.nodes) or not isinstance(cheat_ulps, (int, np.integer)) \
                    or cheat_ulps == 0:
                raise ValueError(f"cheat = {cheat!r} must be (node of {model.name!r}, ulps != 0)")
        self.start()
        shapes = M.node_shapes(model, inputs)
        values: dict[str, np.ndarray] = {n: inputs[n] for n in model.input_names}
        outputs: list[np.ndarray] = []
        digests: list[str | None] = []
        with gpu_device.kernel_runner(self.run_kernel):
            for i, node in enumerate(model.nodes):
                dtype = _NODE_DTYPES.get(node.op, "<f4")
                self._next_digest = (f"{dtype}{tuple(shapes[i])}", dtype == "|i1")
                self._perturb_next = ({"ulps": int(cheat_ulps), "element": 0}
                                      if i == cheat_at else None)
                self.last_digest = None
                try:
                    out = M.run_node(model, i, [values[x] for x in node.inputs], backend="webgpu",
                                     seed=seed)
                finally:
                    self._next_digest = self._perturb_next = None
                out.setflags(write=False)
                values[node.name] = out
                outputs.append(out)
                digests.append(self.last_digest)
        self.last_page_digests = tuple(digests)
        return M.Trace(model.name, "browser", model.node_names, tuple(outputs), int(seed))

    def run_node(self, model: Any, node: Any, node_inputs: Sequence[np.ndarray], seed: int = 0) -> np.ndarray:
        """:func:`oasis_lab.gpu.model.run_node` in this browser."""
        from oasis_lab.gpu import model as M

        with gpu_device.kernel_runner(self.run_kernel):
            return M.run_node(model, node, node_inputs, backend="webgpu", seed=seed)

    def adapter_summary(self) -> str:
        """``vendor / architecture (device)`` as the page's adapter reports it."""
        i = self.info
        dev = f" ({i['device']})" if i.get("device") else ""
        return f"{i.get('vendor', '?')} / {i.get('architecture', '?')}{dev}"
