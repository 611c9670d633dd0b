"""The explorer in a real browser: JupyterLab on loopback, headless Chromium driven by Playwright.

Starts ``jupyter lab`` from this venv on 127.0.0.1 (a free port, a random token) over a copy of
notebook 06 with ``widgets_ui = True`` (and tiny sweeps), opens it in Debian's Chromium
(Playwright with ``executable_path``, no browser download), runs every cell from the Run
menu, moves the ``α`` slider and the provider-density drop-down, and checks that the plot and
the numbers changed and that the Ψ sliders were disabled with the reason shown. The server and
the browser are stopped in ``finally`` blocks, also when the test fails.

Skipped without Chromium or Playwright, except in CI (``CI`` set), where .ci/run installs them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "06_explorer.ipynb"
CHROMIUM = os.environ.get("OASIS_CHROMIUM", "/usr/bin/chromium")

#: Parameters of the copy the browser runs: live widgets, tiny sweeps.
PARAMETERS = {
    "scenario": "balanced",
    "widgets_ui": True,
    "n_tasks": 200,
    "heat_tasks": 60,
    "stakes": [0, 4000],
    "challenge_ps": [0.0, 0.4],
    "ab_tasks": 15,
    "alphas": [2.0],
    "betas": [1.0],
    "heat_seeds": 1,
    "sweep_workers": 1,
}


def _require(ok: bool, why: str) -> None:
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test: {why}")
        pytest.skip(why)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _notebook_copy(folder: Path) -> Path:
    """Notebook 06 with the parameters cell replaced by :data:`PARAMETERS`."""
    nb = json.loads(NOTEBOOK.read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    lines = [f"{k} = {v!r}" for k, v in PARAMETERS.items()] + [f"summary_dir = {str(folder)!r}"]
    cell["source"] = "\n".join(lines) + "\n"
    target = folder / NOTEBOOK.name
    target.write_text(json.dumps(nb))
    return target


@pytest.fixture
def jupyter_lab(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A JupyterLab server on loopback over a copy of notebook 06; stopped at teardown."""
    notebook = _notebook_copy(tmp_path)
    # JupyterLab 4 renders only the cells in view ("windowing"): the explorer's panel would
    # vanish once Run All scrolls past it, so every cell stays rendered; no news prompt either
    settings = tmp_path / "lab-settings"
    (settings / "@jupyterlab" / "notebook-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none"})
    )
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false"})
    )
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "PYTHONPATH": os.pathsep.join([str(NOTEBOOK.parent.parent), os.environ.get("PYTHONPATH", "")]),
    }
    with open(tmp_path / "server.log", "w") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter",
                "lab",
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={port}",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={tmp_path}",
                "--ServerApp.port_retries=0",
                f"--LabApp.user_settings_dir={settings}",
                *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,  # its own process group: the kernel and Dask workers stop with it
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120
            while True:
                try:
                    urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                    break
                except OSError as exc:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"JupyterLab did not start:\n{(tmp_path / 'server.log').read_text()[-2000:]}"
                        ) from exc
                    time.sleep(0.5)
            yield f"{url}/lab/tree/{notebook.name}?token={token}", tmp_path
        finally:
            _stop(server)


def _stop(server: subprocess.Popen) -> None:
    """Stop the server's whole process group (server, kernel, Dask workers), hard if need be."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            break
        try:
            server.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


def _accept_dialog(page) -> None:
    dialog = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
    if dialog.count() and dialog.first.is_visible():
        dialog.first.click()


def _run_all(page, attempts: int = 4) -> None:
    """Run > Run All Cells, retried until a cell starts: a Run All sent while the notebook's
    first kernel connection settles is dropped, or asks which kernel to use (both seen here)."""
    for _ in range(attempts):
        _accept_dialog(page)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator("li[data-command='runmenu:run-all']").click()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            _accept_dialog(page)  # "Select Kernel" when the session has none yet: the default
            prompts = page.locator(".jp-InputPrompt").all_inner_texts()
            if any(any(ch.isdigit() or ch == "*" for ch in p) for p in prompts):
                return
            page.wait_for_timeout(500)
    raise AssertionError("Run All Cells never started a cell")


def _panel_state(page) -> tuple[str, str]:
    """The explorer panel's current plot (PNG data) and table text."""
    panel = page.locator(".widget-output").first
    return panel.locator("img").first.get_attribute("src") or "", panel.inner_text()


def _wait_for_change(page, before: tuple[str, str], timeout_s: float = 120) -> tuple[str, str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = _panel_state(page)
        if now[0] and now[0] != before[0] and now[1] != before[1]:
            return now
        page.wait_for_timeout(500)
    raise AssertionError("the explorer's plot and numbers did not change")


def test_explorer_in_jupyterlab_reacts_to_slider_and_dropdown(jupyter_lab: tuple[str, Path]) -> None:
    _require(
        shutil.which(CHROMIUM) is not None or Path(CHROMIUM).exists(),
        f"no Chromium at {CHROMIUM} (apt-get install chromium)",
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _require(False, "playwright is not installed (pip install playwright)")
    url, folder = jupyter_lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(url)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
            _run_all(page)
            page.wait_for_selector(".widget-output img", timeout=240_000)
            first = _panel_state(page)
            assert "welfare_share" in first[1]

            alpha = page.locator(".widget-slider", has=page.locator("label", has_text="α")).first
            handle = alpha.locator(".noUi-handle").first
            handle.focus()
            for _ in range(10):
                handle.press("ArrowRight")
            after_slider = _wait_for_change(page, first)

            density = page.locator(".widget-dropdown", has=page.locator("label", has_text="provider density")).first
            density.locator("select").select_option("unit_cost")
            after_dropdown = _wait_for_change(page, after_slider)
            assert "Ψ weights disabled" in page.inner_text(".jp-Notebook")
            psi = page.locator(".widget-slider", has=page.locator("label", has_text="Ψ gpu_tflops")).first
            assert psi.locator(
                ".noUi-target[disabled], .noUi-handle[disabled], [disabled]"
            ).count() > 0 or "mod-disabled" in (psi.get_attribute("class") or "")
            # one panel, replaced in place: a single explorer plot on the page
            assert page.locator(".widget-output img").count() == 1
            assert len({first[0], after_slider[0], after_dropdown[0]}) == 3
            # the notebook's own summary was written (the whole notebook ran)
            deadline = time.monotonic() + 120
            while not (folder / "06_explorer.summary.json").exists() and time.monotonic() < deadline:
                page.wait_for_timeout(500)
            assert (folder / "06_explorer.summary.json").exists()
        except BaseException:
            # keep what the browser saw, for the failure report
            shots = Path(os.environ.get("OASIS_BROWSER_ARTIFACTS", folder))
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / "failure.png"), full_page=False)
            shutil.copy(folder / "server.log", shots / "server.log")
            print(f"screenshot of the failure and the server log: {shots}")
            raise
        finally:
            browser.close()
