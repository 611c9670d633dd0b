"""The browser process is always cleaned up, and every failure is a clear error within a timeout:
start/stop cycles, a page that throws, a kernel that fails to compile, a killed browser, a
command that hangs, no adapter, no binary."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time

import numpy as np
import pytest

from oasis_lab.browser import (
    BrowserCrashedError,
    BrowserPageError,
    BrowserProvider,
    BrowserStartupError,
    BrowserTimeoutError,
    KernelCompileError,
    NoAdapterError,
)
from oasis_lab.browser.provider import CHROMIUM_FLAGS, chromium_processes
from oasis_lab.gpu import device
from oasis_lab.gpu import reference as R

pytestmark = pytest.mark.browser


def test_twenty_start_stop_cycles_leave_no_chromium_process(chromium_path):
    profiles = []
    for i in range(20):
        with BrowserProvider(f"cycle{i}") as p:
            profiles.append(p._profile)
            assert p.running and chromium_processes(p._profile)
        assert not p.running
    time.sleep(0.2)
    left = [pid for prof in profiles for pid in chromium_processes(prof)]
    assert left == []
    assert not any(os.path.exists(prof) for prof in profiles)  # profiles removed too


def test_a_page_that_throws_gives_a_clear_error_and_the_provider_stays_usable(chromium):
    with pytest.raises(BrowserPageError, match="boom"):
        chromium.evaluate("throw new Error('boom')")
    assert chromium.evaluate("return 40 + 2") == 42
    x = np.ones(8, np.float32)
    assert chromium.ops.relu(x).tobytes() == R.relu(x).tobytes()


def test_a_kernel_that_fails_to_compile_gives_a_clear_error(chromium):
    def broken(kernel, source):
        return source.replace("fn main(", "fn main(this is not wgsl ", 1)

    x = np.ones((2, 3), np.float32)
    t0 = time.monotonic()
    with (device.kernel_variant("broken", broken),
          pytest.raises(KernelCompileError, match="softmax failed to compile: line")):
        chromium.ops.softmax(x)
    assert time.monotonic() - t0 < 30
    assert chromium.ops.softmax(x).tobytes() == R.softmax(x).tobytes()  # still usable


def test_uncaught_error_of_a_page_that_stops_answering(chromium_path):
    with BrowserProvider("throws") as p:
        t0 = time.monotonic()
        with pytest.raises(BrowserPageError, match="page boom"):
            p.evaluate("setTimeout(() => { throw new Error('page boom'); }, 0);"
                       "await new Promise(() => {});")
        assert time.monotonic() - t0 < 30  # not the 120 s timeout (slack for a loaded machine)
        assert not p.running and chromium_processes(p._profile) == []


def test_a_browser_killed_mid_run_gives_a_clear_error_quickly(chromium_path):
    with BrowserProvider("killed") as p:
        pgid = os.getpgid(p.pid)
        threading.Timer(0.5, os.killpg, (pgid, signal.SIGKILL)).start()
        t0 = time.monotonic()
        with pytest.raises(BrowserCrashedError, match="exited"):
            p.evaluate("await new Promise(() => {});")
        assert time.monotonic() - t0 < 30  # not the 120 s timeout (slack for a loaded machine)
        with pytest.raises(BrowserCrashedError, match="not running"):
            p.ops.relu(np.ones(4, np.float32))
    assert chromium_processes(p._profile) == []


def test_a_command_that_hangs_times_out_and_closes_the_browser(chromium_path):
    with BrowserProvider("hangs", timeout=1.5) as p:
        t0 = time.monotonic()
        with pytest.raises(BrowserTimeoutError, match="no answer within 1.5 s"):
            p.evaluate("await new Promise(() => {});")
        assert time.monotonic() - t0 < 30  # the 1.5 s timeout, with a loaded machine's slack
        assert chromium_processes(p._profile) == []


def test_startup_failures_are_clear(chromium_path, tmp_path):
    no_webgpu = tuple(f for f in CHROMIUM_FLAGS if f != "--enable-unsafe-webgpu")
    with pytest.raises(NoAdapterError, match="requestAdapter"):
        BrowserProvider("plain", base_flags=no_webgpu).start()
    with pytest.raises(BrowserStartupError, match="did not report within"):
        BrowserProvider("slow", startup_timeout=0.01).start()
    with pytest.raises(BrowserStartupError, match="not an executable"):
        BrowserProvider("missing", executable=str(tmp_path / "no-chromium")).start()
    with pytest.raises(ValueError, match="timeout"):
        BrowserProvider("bad", timeout=-1)


def test_the_browser_exits_when_its_python_process_dies(chromium_path):
    """A hard kill (CI timeout, SIGKILL) gives no cleanup chance: the page notices that the
    bridge is gone and closes itself, so no orphan Chromium is left."""
    import shutil
    import subprocess
    import sys

    code = ("import os, signal; from oasis_lab.browser import BrowserProvider;"
            "b = BrowserProvider('orphan').start(); print(b._profile, flush=True);"
            "os.kill(os.getpid(), signal.SIGKILL)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         check=False,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    profile = out.stdout.strip()
    assert out.returncode == -signal.SIGKILL and profile.startswith(tempfile.gettempdir())
    deadline = time.monotonic() + 10
    while chromium_processes(profile) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert chromium_processes(profile) == []
    shutil.rmtree(profile, ignore_errors=True)
