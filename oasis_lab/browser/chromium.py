"""Chromium's processes: finding the binary, starting it in its own process group, watching the
processes a provider depends on, and killing and reaping every one of them.

Readings taken
--------------
- Chromium flags (measured on Chromium 156, Debian): ``--headless=new --no-sandbox
  --enable-unsafe-webgpu`` give ``navigator.gpu`` a SwiftShader adapter (without
  ``--enable-unsafe-webgpu`` ``requestAdapter()`` returns null); the quiet-network flags keep
  the browser off the network; the no-throttling flags keep the page's heartbeat timer on time.
- A started browser is a group of about nine processes: the main process, two zygotes, the GPU
  process, two utility processes (network, storage) and renderers (one hosts the provider page,
  another is a spare). Measured: killing the GPU process loses the page's WebGPU device
  ("Instance dropped in popErrorScope" on every later call); killing the page's renderer leaves
  the main process running and the page silent; killing the spare renderer changes nothing.
  :meth:`ChromiumProcess.failure` watches the main process, the GPU process and the zygotes,
  and records renderer deaths; whether a dead renderer was the page's is told by the page's
  heartbeat (:mod:`oasis_lab.browser.bridge`).
- The group is started with ``start_new_session`` and its id saved at once: it is killed by that
  id even after the main process was reaped (``os.getpgid`` of a reaped process fails).
- Killing the main process reparents its children to the nearest subreaper (or PID 1). A parent
  that does not reap (a process with ``PR_SET_CHILD_SUBREAPER`` that never calls ``wait``)
  accumulated 48 zombies in 5 start/stop cycles; :meth:`ChromiumProcess.kill` therefore reaps
  every member of the group that became this process's child. Chromium also starts two crash
  handlers (``chrome_crashpad_handler``) that leave the group (their own sessions) and exit
  with the browser; no flag turns them off (``--disable-crash-reporter`` and
  ``--disable-breakpad`` were tried). They are recorded as the handlers that appeared while
  the browser started (:attr:`ChromiumProcess.helpers`) and killed and reaped with it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "CHROMIUM_FLAGS",
    "ChromiumProcess",
    "GroupMember",
    "chromium_processes",
    "find_chromium",
    "group_members",
    "zombie_children",
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
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
)
#: Process types whose death leaves the provider unusable (besides the main process).
WATCHED_TYPES = ("gpu-process", "zygote")
_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
_INSTALL_HINT = ("install Debian's chromium (`apt-get install -y chromium`; `make setup` does it) "
                 "or pass executable=")
_TYPE = re.compile(rb"--type=([a-z-]+)")


def find_chromium(executable: str | None = None) -> str:
    """Path of the Chromium binary: ``executable``, ``$OASIS_CHROMIUM`` or the usual names.

    Raises
    ------
    BrowserStartupError
        None found (the message says how to install it).
    """
    from oasis_lab.browser.errors import BrowserStartupError

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


@dataclass(frozen=True)
class GroupMember:
    """One process of a process group, read from ``/proc``.

    ``kind`` is Chromium's ``--type=`` (``"main"`` without one); ``start`` the start time in
    clock ticks since boot (tells a process from a later one that reuses its id).
    """

    pid: int
    ppid: int
    state: str
    kind: str
    start: int


def _read_member(pid: int) -> tuple[GroupMember, int] | None:
    """``(member, pgid)`` of process ``pid``, or ``None`` if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read()
    except OSError:
        return None
    kind = _TYPE.search(cmd)
    # fields after the command name: state, ppid, pgrp, session, ..., starttime (22nd field)
    member = GroupMember(pid, int(fields[1]), fields[0].decode(),
                         kind.group(1).decode() if kind else "main", int(fields[19]))
    return member, int(fields[2])


def _crash_handlers() -> dict[int, GroupMember]:
    """Chromium crash handler processes now running (any parent, any group)."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if b"chrome_crashpad_handler" not in f.read().split(b"\0", 1)[0]:
                    continue
        except OSError:
            continue
        found = _read_member(int(entry))
        if found is not None and found[0].state != "Z":
            out[found[0].pid] = found[0]
    return out


def _alive(m: GroupMember) -> bool:
    """Whether ``m`` still runs (not gone, not a zombie, not a later process with its id)."""
    now = _read_member(m.pid)
    return now is not None and now[0].state != "Z" and now[0].start == m.start


def _is_webui(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"--top-chrome-webui" in f.read()
    except OSError:
        return True


def group_members(pgid: int) -> list[GroupMember]:
    """Every process (zombies included) of process group ``pgid``."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            found = _read_member(int(entry))
            if found is not None and found[1] == pgid:
                out.append(found[0])
    return out


def zombie_children(parent: int | None = None) -> list[int]:
    """Process ids of the zombies whose parent is ``parent`` (default: this process)."""
    me = os.getpid() if parent is None else parent
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            found = _read_member(int(entry))
            if found is not None and found[0].ppid == me and found[0].state == "Z":
                out.append(found[0].pid)
    return out


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


class ChromiumProcess:
    """A Chromium started in its own process group (session), watched and killed as a whole.

    Parameters
    ----------
    args : sequence of str
        The command line (binary first).
    log_path : str
        File that receives Chromium's stdout and stderr.
    preexec : callable, optional
        Run in the child before ``exec`` (e.g. to set its CPU affinity).

    Raises
    ------
    OSError
        The binary could not be started.
    """

    def __init__(self, args: Sequence[str], log_path: str,
                 preexec: Callable[[], None] | None = None) -> None:
        before = _crash_handlers()
        with open(log_path, "wb") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(list(args), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, start_new_session=True, preexec_fn=preexec)
        #: The process group (and session) id, saved before anything can reap the main process.
        self.pgid = self.proc.pid
        self.watched: tuple[GroupMember, ...] = ()
        self.renderers: dict[int, GroupMember] = {}
        self.renderer_deaths: dict[int, float] = {}
        self._handlers_before = set(before)
        #: Crash handlers this browser started (outside its group; see the module docstring).
        self.helpers: tuple[GroupMember, ...] = ()

    @property
    def pid(self) -> int:
        """Process id of the main process."""
        return self.proc.pid

    def exit_code(self) -> int | None:
        """The main process's exit status, ``None`` while it runs."""
        return self.proc.poll()

    def watch(self) -> tuple[GroupMember, ...]:
        """Start watching the group's GPU process, zygotes and renderers as they are now (call
        once the page is up, when they all exist); returns them."""
        members = [m for m in group_members(self.pgid) if m.state != "Z"]
        self.helpers = tuple(m for pid, m in _crash_handlers().items() if pid not in self._handlers_before)
        self.watched = tuple(m for m in members if m.kind in WATCHED_TYPES)
        self.renderers = {m.pid: m for m in members if m.kind == "renderer" and not _is_webui(m.pid)}
        self.renderer_deaths = {}
        return self.watched + tuple(self.renderers.values())

    def failure(self) -> str | None:
        """Why the browser is unusable (the main process exited, or its GPU process or a zygote
        died or was replaced), or ``None``. Renderer deaths are recorded in
        :attr:`renderer_deaths` (pid -> monotonic time first seen dead): only the caller can
        tell the page's renderer from the spare one."""
        code = self.proc.poll()
        if code is not None:
            return f"Chromium exited with status {code}"
        for m in self.watched:
            if not _alive(m):
                try:  # a killed group loses its members in any order: name the main one's exit
                    return f"Chromium exited with status {self.proc.wait(timeout=0.2)}"
                except subprocess.TimeoutExpired:
                    return f"Chromium's {m.kind} (pid {m.pid}) died"
        for pid, m in list(self.renderers.items()):
            if not _alive(m):
                self.renderer_deaths.setdefault(pid, time.monotonic())
        return None

    def forget_renderer(self, pid: int) -> None:
        """Stop watching renderer ``pid`` (it died, and it was not the page's)."""
        self.renderers.pop(pid, None)
        self.renderer_deaths.pop(pid, None)

    def kill(self, wait: float = 10.0) -> None:
        """SIGKILL the whole group by its saved id, reap the main process, then reap every other
        member that became this process's child (when this process is a subreaper), so no
        zombie is left. No graceful shutdown is needed: the profile is thrown away."""
        try:
            os.killpg(self.pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for h in self.helpers:
            if _alive(h):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(h.pid, signal.SIGKILL)
        try:
            self.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
            pass
        me = os.getpid()
        deadline = time.monotonic() + wait
        helpers = {h.pid: h for h in self.helpers}
        while True:
            members = group_members(self.pgid)
            for pid, h in list(helpers.items()):
                now = _read_member(pid)
                if now is None or now[0].start != h.start:
                    helpers.pop(pid)
                else:
                    members.append(now[0])
            mine = [m for m in members if m.ppid == me]
            for m in mine:
                try:
                    os.waitpid(m.pid, os.WNOHANG)
                except ChildProcessError:
                    pass
            # done when nothing of the group runs and no zombie of it waits for us; zombies of
            # other parents (PID 1) are theirs to reap
            if all(m.state == "Z" and m.ppid != me for m in members) or time.monotonic() > deadline:
                return
            time.sleep(0.01)
