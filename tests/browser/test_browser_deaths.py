"""A browser provider notices within seconds that its GPU process, its page's renderer or a zygote
died (idle or in the middle of a call), marks itself dead and cleans up; the shared backend
restarts once with a clear message; close() leaves no zombie even under a parent that does not
reap (PR_SET_CHILD_SUBREAPER); the group is killed by its saved id."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from oasis_lab.browser import BrowserCrashedError, BrowserProvider
from oasis_lab.browser.chromium import chromium_processes, group_members
from oasis_lab.gpu import reference as R

pytestmark = pytest.mark.browser

#: "Within seconds", with the slack of a loaded machine: a quarter of the 120 s command timeout
#: the old code waited for (measured unloaded: 0.2 to 3 s). The tests wait on states, not clocks,
#: and use this only as the bound that tells "noticed" from "timed out".
NOTICE = 30.0


def kill_kind(provider: BrowserProvider, kind: str, *, webui: bool = True) -> list[int]:
    """SIGKILL every live process of ``kind`` (Chromium's --type) in the provider's group."""
    pids = []
    for m in group_members(provider.pgid):
        if m.kind == kind and m.state != "Z":
            with open(f"/proc/{m.pid}/cmdline", "rb") as f:
                if not webui and b"--top-chrome-webui" in f.read():
                    continue
            os.kill(m.pid, signal.SIGKILL)
            pids.append(m.pid)
    assert pids, f"no {kind} process to kill"
    return pids


def gone(profile: str) -> bool:
    """Whether every process of the browser with this profile has gone (within 5 s)."""
    deadline = time.monotonic() + 5
    while chromium_processes(profile) and time.monotonic() < deadline:
        time.sleep(0.05)
    return chromium_processes(profile) == []


def wait_dead(provider: BrowserProvider) -> float:
    t0 = time.monotonic()
    while provider.running and time.monotonic() - t0 < NOTICE:
        time.sleep(0.05)
    return time.monotonic() - t0


@pytest.mark.parametrize("kind,says", [("gpu-process", "gpu-process"), ("zygote", "zygote"),
                                       ("renderer", "renderer")])
def test_a_dead_process_is_noticed_between_calls(chromium_path, kind, says):
    with BrowserProvider(f"idle-{kind}") as p:
        x = np.ones(8, np.float32)
        assert p.ops.relu(x).tobytes() == R.relu(x).tobytes()
        profile = p._profile
        kill_kind(p, kind)
        assert wait_dead(p) < NOTICE and not p.running
        assert says in p.failure and "died" in p.failure
        with pytest.raises(BrowserCrashedError, match=says):
            p.ops.relu(x)
        assert gone(profile)  # the watch thread killed the dead browser's group, no close needed


@pytest.mark.parametrize("kind", ["gpu-process", "zygote", "renderer"])
def test_a_dead_process_fails_the_pending_call_within_seconds(chromium_path, kind):
    with BrowserProvider(f"busy-{kind}", timeout=120) as p:
        threading.Timer(0.5, kill_kind, (p, kind)).start()
        t0 = time.monotonic()
        with pytest.raises(BrowserCrashedError, match="died"):
            p.evaluate("await new Promise(r => setTimeout(r, 60000)); return 1")
        assert time.monotonic() - t0 < NOTICE  # not the 120 s command timeout
        assert p.failure is not None and not p.running


def test_the_spare_renderer_dying_leaves_the_provider_usable_and_the_page_s_does_not(chromium_path):
    """Chromium keeps a spare renderer beside the page's: only the page's death counts."""
    with BrowserProvider("spare") as p:
        x = np.linspace(-2, 2, 16, dtype=np.float32)
        renderers = [m for m in group_members(p.pgid) if m.kind == "renderer"
                     and b"--top-chrome-webui" not in open(f"/proc/{m.pid}/cmdline", "rb").read()]
        assert len(renderers) >= 2
        survived = 0
        for m in renderers:
            os.kill(m.pid, signal.SIGKILL)
            deadline = time.monotonic() + NOTICE  # until the provider decides: dead, or a spare
            while p.running and m.pid in p._chromium.renderers and time.monotonic() < deadline:
                time.sleep(0.05)
            if not p.running:
                break
            assert m.pid not in p._chromium.renderers  # forgotten: the page kept beating
            survived += 1
            assert p.ops.gelu(x).tobytes() == R.gelu(x).tobytes()
        assert survived >= 1 and not p.running and "renderer" in p.failure


def test_the_shared_backend_restarts_once_with_a_message_then_fails(chromium_path):
    from oasis_lab.browser import backend

    backend.close_default_provider()
    try:
        x = np.linspace(-3, 3, 24, dtype=np.float32).reshape(4, 6)
        first = backend.default_provider()
        assert backend.softmax(x).tobytes() == R.softmax(x).tobytes()
        kill_kind(first, "gpu-process")
        wait_dead(first)
        with pytest.warns(RuntimeWarning, match=r"shared provider died \(.*gpu-process.*\); starting a "
                                                r"new one \(restart 1 of 1\)"):
            assert backend.softmax(x).tobytes() == R.softmax(x).tobytes()
        second = backend.default_provider()
        assert second is not first and second.running
        kill_kind(second, "gpu-process")
        wait_dead(second)
        with pytest.raises(BrowserCrashedError, match="died again .* after 1 restart"):
            backend.softmax(x)
    finally:
        backend.close_default_provider()
    assert backend.default_provider().running  # closing gives the restart back
    backend.close_default_provider()


def test_the_group_is_killed_by_its_saved_id_after_the_main_process_was_reaped(chromium_path):
    with BrowserProvider("reaped") as p:
        profile, pgid = p._profile, p.pgid
        assert pgid == p.pid
        os.kill(p.pid, signal.SIGKILL)
        p._chromium.proc.wait(timeout=10)  # reaped: os.getpgid(p.pid) would fail now
        with pytest.raises(ProcessLookupError):
            os.getpgid(p.pid)
        wait_dead(p)
        assert "exited" in p.failure
    assert gone(profile)


def test_close_reaps_every_child_under_a_non_reaping_subreaper(chromium_path):
    """A parent that is a subreaper (PR_SET_CHILD_SUBREAPER) and never waits would collect
    Chromium's orphans as zombies: close() reaps them."""
    code = textwrap.dedent("""
        import ctypes, time
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
        from oasis_lab.browser import BrowserProvider
        from oasis_lab.browser.chromium import zombie_children
        for i in range(5):
            with BrowserProvider(f"cycle{i}") as p:
                p.evaluate("return 1")
        time.sleep(1.0)  # any child that was going to die has died
        print(len(zombie_children()))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180,
                         check=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stdout.strip() == "0", out.stdout + out.stderr
