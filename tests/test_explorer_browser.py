"""The explorer in a real browser: JupyterLab on loopback, headless Chromium driven by Playwright.

Starts ``jupyter lab`` from this venv on 127.0.0.1 (a free port, a random token) over a copy of
notebook 06 in a ``notebooks/`` folder beside an empty ``reports/`` (tiny sweeps; ``widgets_ui``
and ``summary_dir`` left at their defaults) with the notebook's kernel started for it, opens it
in Debian's Chromium (Playwright with ``executable_path``, no browser download) and runs every
cell from the Run menu. It waits for states (a status seen, a row drawn, a layout settled, an
execution count), never for a length of time. Then, as a user would:

- the panel is live without editing anything (the front end is detected), and while the
  later cells run its status line names the running cell and its controls are disabled;
- at 1,280 and 1,600 px, with and without the side panel, every control shows its whole name
  and readout, every slider has a track, every drop-down shows its longest option in full
  (measured in the page: ``scrollWidth`` against ``clientWidth``, text widths against the box);
- moving the ``α`` slider, the provider-density drop-down and the stake slider changes the
  plot and the numbers, and the Ψ sliders are disabled with the reason shown;
- settings saved by name load back; a click on a point of the design study's Pareto front
  loads its settings into the controls; re-running the explorer's cell keeps the settings and
  the trace;
- nothing was written into ``reports/`` (an interactive run never writes the report's summary).

The server and the browser are stopped in ``finally`` blocks, also when the test fails.
``OASIS_EXPLORER_SHOTS=<folder>`` keeps a screenshot of each window size there.

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
from typing import Any

import pytest

pytestmark = pytest.mark.browser

#: The trace's market column for every setting of this test (scenario and size of PARAMETERS).
MARKET = "balanced · 200 tasks"
NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "06_explorer.ipynb"
CHROMIUM = os.environ.get("OASIS_CHROMIUM", "/usr/bin/chromium")

#: Parameters of the copy the browser runs: tiny sweeps (``widgets_ui`` and ``summary_dir`` keep
#: the notebook's defaults: the panel must be live, and nothing written, without editing them).
PARAMETERS = {
    "scenario": "balanced",
    "n_tasks": 200,
    "challenge_rounds": 20,
    "study_stakes": [0, 1000],
    "study_seeds": 1,
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
    """Notebook 06 in ``folder/notebooks`` (beside an empty ``folder/reports``) with the values of
    :data:`PARAMETERS` replacing those of its parameters cell (the others kept as written)."""
    nb = json.loads(NOTEBOOK.read_text())
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    kept = [line for line in "".join(cell["source"]).splitlines()
            if line.split("=", 1)[0].strip() not in PARAMETERS]
    cell["source"] = "\n".join(kept + [f"{k} = {v!r}" for k, v in PARAMETERS.items()]) + "\n"
    (folder / "notebooks").mkdir()
    (folder / "reports").mkdir()
    target = folder / "notebooks" / NOTEBOOK.name
    target.write_text(json.dumps(nb))
    return target


@pytest.fixture
def jupyter_lab(tmp_path: Path) -> Iterator[tuple[str, Path, Any]]:
    """A JupyterLab server on loopback over a copy of notebook 06, with the notebook's kernel
    started and idle (:func:`_start_kernel`); stopped at teardown. Yields the page's address,
    the folder and a function reading the server's kernels."""
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
        "OASIS_LAB_SETTINGS_DIR": str(tmp_path / "saved-settings"),
        "PYTHONPATH": os.pathsep.join([str(NOTEBOOK.parent.parent), os.environ.get("PYTHONPATH", "")]),
    }
    # detection decides, not an override inherited from the caller's environment
    for name in ("OASIS_LAB_WIDGETS", "OASIS_LAB_PROGRESS_FILE"):
        env.pop(name, None)
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
            _start_kernel(url, token, f"notebooks/{notebook.name}")
            yield (f"{url}/lab/tree/notebooks/{notebook.name}?token={token}", tmp_path,
                   lambda: _api(url, token, "kernels"))
        finally:
            _stop(server)


def _api(url: str, token: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """The server's REST API: GET ``path`` (POST ``body`` when given) as JSON."""
    request = urllib.request.Request(f"{url}/api/{path}?token={token}", method="POST" if body else "GET",
                                     data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _start_kernel(url: str, token: str, path: str) -> None:
    """Start the notebook's session and kernel before the page opens (the page joins it and its
    first request makes the kernel idle: the server reports "starting" until a client asks).
    Left to itself, JupyterLab opening a notebook by its URL started up to three kernels at once
    and shut all but one down, and a Run All sent meanwhile ran its first cells in a kernel that
    was then replaced (a NameError in the next cell)."""
    _api(url, token, "sessions", {"path": path, "name": Path(path).name, "type": "notebook",
                                  "kernel": {"name": "python3"}})


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
    """Run > Run All Cells, retried until a cell has run: a Run All sent while the notebook's
    first kernel connection settles is dropped, or asks which kernel to use, or goes to a
    kernel JupyterLab then shuts down (all seen here); cells queued ("[*]") are waited for."""
    for _ in range(attempts):
        _accept_dialog(page)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator("li[data-command='runmenu:run-all']").click()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            _accept_dialog(page)  # "Select Kernel" when the session has none yet: the default
            prompts = page.locator(".jp-InputPrompt").all_inner_texts()
            if any(any(ch.isdigit() for ch in p) for p in prompts):
                return
            if any("*" in p for p in prompts):
                deadline = max(deadline, time.monotonic() + 5)  # queued: the kernel is starting
            page.wait_for_timeout(500)
    raise AssertionError("Run All Cells never ran a cell")


#: In the page: every control of the explorer's grid, whether its name, track, readout and
#: options show in full (a few px of slack for sub-pixel rounding).
MEASURE_CONTROLS = """
() => {
  const grid = document.querySelector('.oasis-explorer-controls');
  if (!grid) return {error: 'no controls grid'};
  const canvas = document.createElement('canvas').getContext('2d');
  const textWidth = (el, text) => { canvas.font = getComputedStyle(el).font; return canvas.measureText(text).width; };
  const out = [];
  const area = grid.closest('.jp-OutputArea-output') || grid.parentElement;
  const areaRight = area.getBoundingClientRect().right;
  for (const box of grid.querySelectorAll('.widget-slider, .widget-dropdown, .widget-text')) {
    const label = box.querySelector('.widget-label');
    const name = label ? label.textContent.trim() : '?';
    const rect = box.getBoundingClientRect();
    const row = {name, width: rect.width, problems: []};
    const column = box.parentElement.getBoundingClientRect();
    if (rect.right > column.right + 1 || rect.left < column.left - 1) row.problems.push('overflows its column');
    if (rect.right > areaRight + 1) row.problems.push('overflows the notebook');
    if (!label || label.clientWidth === 0 || label.scrollWidth > label.clientWidth + 1
        || textWidth(label, name) > label.clientWidth + 1) row.problems.push('name cut');
    if (box.classList.contains('widget-slider')) {
      const track = box.querySelector('.slider-container');
      row.track = track ? track.getBoundingClientRect().width : 0;
      if (row.track < 60) row.problems.push('track ' + row.track.toFixed(0) + ' px');
      const readout = box.querySelector('.widget-readout');
      const shown = readout && readout.offsetWidth > 0 && getComputedStyle(readout).display !== 'none';
      row.readout = readout ? readout.textContent.trim() : '';
      if (!shown || !row.readout) row.problems.push('no readout');
      else if (readout.scrollWidth > readout.clientWidth + 1
               || textWidth(readout, row.readout) > readout.clientWidth + 1) row.problems.push('readout cut');
    } else if (box.classList.contains('widget-dropdown')) {
      const select = box.querySelector('select');
      const cs = getComputedStyle(select);
      const room = select.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
      const longest = Math.max(...Array.from(select.options).map(o => textWidth(select, o.text)));
      row.room = room; row.longest = longest;
      if (longest > room + 1) row.problems.push('options cut: ' + longest.toFixed(0) + ' > ' + room.toFixed(0));
    }
    out.push(row);
  }
  return {controls: out};
}
"""


def _explorer(page):
    return page.locator(".oasis-explorer").first


def _status(page) -> str:
    return page.locator(".oasis-explorer-status").first.inner_text()


def _panel_state(page) -> tuple[str, str]:
    """The explorer panel's current plot (PNG data) and numbers (table text)."""
    panel = _explorer(page)
    plot = panel.locator(".widget-output img").first.get_attribute("src") or ""
    numbers = panel.locator(".widget-output").nth(1).inner_text()
    return plot, numbers


#: In the page: records each state of the explorer's status line (its text, and whether the
#: stake slider is disabled) in ``window.oasisStatuses`` from before Run All: a record per
#: change of the page, so a brief busy state is seen however fast the cells run.
RECORD_STATUS = """
() => {
  window.oasisStatuses = [];
  const record = () => {
    const status = document.querySelector('.oasis-explorer .oasis-explorer-status');
    if (!status) return;
    const stake = document.querySelector('.oasis-explorer .oasis-control-stake');
    const disabled = !!stake
      && (stake.querySelector('[disabled]') !== null || stake.classList.contains('mod-disabled'));
    const row = {status: status.textContent.trim(), disabled};
    const last = window.oasisStatuses[window.oasisStatuses.length - 1];
    if (!last || last.status !== row.status || last.disabled !== row.disabled) window.oasisStatuses.push(row);
  };
  new MutationObserver(record).observe(document.body, {subtree: true, childList: true, characterData: true,
                                                        attributes: true, attributeFilter: ['disabled', 'class']});
}
"""


def _wait_all_ran(page, timeout_s: float = 600) -> None:
    """Wait until every code cell has run (a number in each prompt, none queued), and check they
    ran in one kernel, in order (a Run All split across a restarted kernel fails here, named)."""
    deadline = time.monotonic() + timeout_s
    while True:
        prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
        counts = ["".join(ch for ch in p if ch.isdigit()) for p in prompts]
        if prompts and all(counts) and not any("*" in p for p in prompts):
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"the notebook did not finish: prompts {prompts}")
        page.wait_for_timeout(500)
    numbers = [int(c) for c in counts]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), f"cells ran out of order: {prompts}"


def _trace_rows(numbers: str) -> int:
    """Rows of the trace's key in the panel's numbers (every setting of this test is on one market)."""
    return numbers.count(MARKET)


def _wait_ready(page, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if "ready" in _status(page):
            return
        page.wait_for_timeout(300)
    raise AssertionError(f"the explorer never became ready: {_status(page)!r}")


def _wait_for_change(page, before: tuple[str, str], timeout_s: float = 180) -> tuple[str, str]:
    """Wait until the panel shows the next setting in full: a new plot, the numbers and the
    trace's key with one more row, and the status back to ready (the tables are rendered one
    after the other, and the status line can read "ready" before they are all in the page: the
    row count, not the status, says the update is drawn)."""
    rows = _trace_rows(before[1]) + 1
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = _panel_state(page)
        if (now[0] and now[0] != before[0] and now[1] != before[1] and _trace_rows(now[1]) == rows
                and "ready" in _status(page)):
            return now
        page.wait_for_timeout(300)
    raise AssertionError(f"the explorer's plot and numbers did not change to a trace of {rows} rows: "
                         f"{_panel_state(page)[1][-400:]!r}")


def _control(page, name: str):
    return _explorer(page).locator(f".oasis-control-{name}").first


def _readout(page, name: str) -> str:
    return _control(page, name).locator(".widget-readout").first.inner_text().strip()


def _side_panel(page, open_: bool) -> None:
    """Open or close JupyterLab's left side panel (the file browser)."""
    current = ".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current"
    if (page.locator(current).count() > 0) != open_:
        page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab").first.click()
        page.wait_for_function(f"() => (document.querySelector({current!r}) !== null) === {str(open_).lower()}")


#: In the page: resolves once JupyterLab's layout has caught up with the window and the side
#: panel (Lumino lays out on animation frames): the left panel shows as asked, the notebook
#: ends inside the window, and nothing moved between two frames.
LAYOUT_SETTLED = """
async (open_) => {
  const frame = () => new Promise(r => requestAnimationFrame(() => r()));
  const state = () => {
    const nb = document.querySelector('.jp-NotebookPanel').getBoundingClientRect();
    const left = document.querySelector('#jp-left-stack');
    const shown = !!left && !left.classList.contains('lm-mod-hidden') && left.getBoundingClientRect().width > 0;
    const grid = document.querySelector('.oasis-explorer-controls').getBoundingClientRect();
    return {nb: [nb.left, nb.right], shown, grid: grid.width, inner: window.innerWidth};
  };
  for (let i = 0; i < 600; i++) {
    await frame();
    const a = JSON.stringify(state());
    await frame();
    const b = state();
    if (a === JSON.stringify(b) && b.shown === open_ && b.nb[1] <= b.inner) return b;
  }
  return {error: 'the layout never settled', state: state()};
}
"""


def _move(page, name: str, key: str = "ArrowRight") -> None:
    """One step of a slider from the keyboard (the panel disables its controls while it
    updates, so a second press before it is ready does nothing)."""
    handle = _control(page, name).locator(".noUi-handle").first
    handle.focus()
    handle.press(key)


def _type(page, name: str, value: str) -> None:
    """Type a slider's value into its readout, as a user can."""
    readout = _control(page, name).locator(".widget-readout").first
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(value)
    page.keyboard.press("Enter")


def test_explorer_in_jupyterlab(jupyter_lab: tuple[str, Path, Any]) -> None:
    _require(
        shutil.which(CHROMIUM) is not None or Path(CHROMIUM).exists(),
        f"no Chromium at {CHROMIUM} (apt-get install chromium)",
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _require(False, "playwright is not installed (pip install playwright)")
    url, folder, kernels = jupyter_lab
    shots = os.environ.get("OASIS_EXPLORER_SHOTS")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(120_000)
            started = [k["id"] for k in kernels()]  # the fixture's kernel
            page.goto(url)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
            # the page joined the kernel started for it, and started no other
            page.locator("#jp-main-statusbar").get_by_text("| Idle").first.wait_for()
            assert [k["id"] for k in kernels()] == started and len(started) == 1, (started, kernels())
            page.evaluate(RECORD_STATUS)  # every state of the status line, however brief
            _run_all(page)
            # live without editing widgets_ui: the front end was detected
            page.wait_for_selector(".oasis-explorer .widget-output img", timeout=240_000)
            _wait_all_ran(page)
            _wait_ready(page)
            # busy-aware: while the later cells ran, the panel named the running cell, its
            # controls disabled
            seen = page.evaluate("() => window.oasisStatuses")
            busy = [r for r in seen if "another cell of the notebook" in r["status"] and "running" in r["status"]]
            assert busy, seen
            assert any(r["disabled"] for r in busy), busy
            # the whole notebook ran, and wrote nothing into reports/ (an interactive run)
            assert "summary not written" in page.inner_text(".jp-Notebook")
            assert list((folder / "reports").iterdir()) == []

            # every control whole at common widths, with and without the side panel
            for width in (1280, 1600):
                for side in (True, False):
                    page.set_viewport_size({"width": width, "height": 1000})
                    _side_panel(page, side)
                    settled = page.evaluate(LAYOUT_SETTLED, side)
                    assert "error" not in settled, settled
                    measured = page.evaluate(MEASURE_CONTROLS)
                    assert "error" not in measured, measured
                    controls = measured["controls"]
                    assert len(controls) >= 15, controls  # 4 Ψ, 3 sliders, 3 drop-downs, 2 + 3 market/challenge, saved
                    bad = [(c["name"], c["problems"]) for c in controls if c["problems"]]
                    assert not bad, f"{width} px, side panel {'open' if side else 'closed'}: {bad}"
                    if shots:  # the plots (status line at the top), then the controls and the Pareto panel
                        Path(shots).mkdir(parents=True, exist_ok=True)
                        stem = f"after_{width}px_{'sidepanel' if side else 'nosidepanel'}"
                        for part, selector in (("plots", ".oasis-explorer-status"),
                                               ("controls", ".oasis-explorer-controls")):
                            page.locator(selector).first.evaluate("e => e.scrollIntoView({block: 'start'})")
                            page.evaluate(LAYOUT_SETTLED, side)
                            page.screenshot(path=str(Path(shots) / f"{stem}_{part}.png"))
            page.set_viewport_size({"width": 1600, "height": 1000})

            first = _panel_state(page)
            assert "welfare / exact optimum" in first[1] and "cheat rate of cheaters, learned" in first[1]
            alpha = _readout(page, "alpha")
            _move(page, "alpha")
            after_slider = _wait_for_change(page, first)
            assert _readout(page, "alpha") != alpha

            _control(page, "provider_density").locator("select").select_option("unit_cost")
            after_dropdown = _wait_for_change(page, after_slider)
            assert "Ψ weights disabled" in _explorer(page).inner_text()
            psi = page.locator(".oasis-control-psi_weights").first
            assert psi.locator(".noUi-target[disabled], .noUi-handle[disabled], [disabled]").count() > 0 or (
                "mod-disabled" in (psi.get_attribute("class") or ""))

            # the challenge panel responds to the stake: what the cheaters learned changes
            _type(page, "stake", "0")
            after_stake = _wait_for_change(page, after_dropdown)
            assert _readout(page, "stake") == "0"
            assert "stake S 1,000→0" in after_stake[1]  # the trace's key: what changed
            # one panel, replaced in place: a single explorer plot on the page
            assert page.locator(".oasis-explorer .widget-output img").count() == 1
            assert len({first[0], after_slider[0], after_dropdown[0], after_stake[0]}) == 4

            # named settings: save, move away, load back
            panel = _explorer(page)
            panel.locator(".widget-text input").first.fill("no stake")
            panel.locator("button", has_text="save").first.click()
            panel.locator(".widget-html", has_text="saved 'no stake'").first.wait_for()
            _type(page, "stake", "500")
            moved = _wait_for_change(page, after_stake)
            assert _readout(page, "stake") == "500"
            saved = panel.locator(".widget-dropdown", has=page.locator("label", has_text="saved")).locator("select")
            saved.select_option("no stake")
            panel.locator("button", has_text="load").first.click()
            loaded = _wait_for_change(page, moved)
            assert _readout(page, "stake") == "0"

            # the design study's Pareto panel: a click on a front point loads its settings
            front = _explorer(page).locator("circle.oasis-pareto-front")
            assert front.count() > 0
            target = None
            for k in range(front.count()):
                tip = front.nth(k).locator("title").text_content() or ""
                stake = int(float(tip.split("disputes.provider_stake ")[1].split(",")[0].replace(",", "")))
                if stake != 0:
                    target, trial = front.nth(k), int(front.nth(k).get_attribute("data-trial") or -1)
                    break
            assert target is not None
            target.click()
            clicked = _wait_for_change(page, loaded)
            assert _readout(page, "stake") == f"{stake:,}"
            assert f"loaded trial {trial}" in _explorer(page).inner_text()
            if shots:  # the trace of every setting tried, labelled by what changed
                page.locator(".oasis-explorer-status").first.evaluate("e => e.scrollIntoView({block: 'start'})")
                page.evaluate(LAYOUT_SETTLED, False)
                page.screenshot(path=str(Path(shots) / "after_1600px_trace.png"))

            # re-running the explorer's cell keeps the settings and the trace
            before_rerun = {name: _readout(page, name) for name in ("stake", "slash_fraction", "p_platform", "alpha")}
            trace_rows = _trace_rows(clicked[1])
            cell = page.locator(".jp-Cell", has=page.locator(".oasis-explorer")).first
            prompt = cell.locator(".jp-InputPrompt").first
            count = prompt.inner_text()
            cell.locator(".jp-InputArea-editor").first.click()
            page.keyboard.press("Control+Enter")
            # the cell ran again: its execution count moved on (not "[*]", not the old one)
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                now = prompt.inner_text()
                if now != count and any(ch.isdigit() for ch in now) and "*" not in now:
                    break
                page.wait_for_timeout(300)
            else:
                raise AssertionError(f"the explorer's cell did not run again: {prompt.inner_text()!r}")
            page.wait_for_selector(".oasis-explorer .widget-output img", timeout=120_000)
            _wait_ready(page)
            deadline = time.monotonic() + 120  # the restored trace drawn (the tables render one by one)
            while _trace_rows(_panel_state(page)[1]) != trace_rows and time.monotonic() < deadline:
                page.wait_for_timeout(300)
            assert {name: _readout(page, name) for name in before_rerun} == before_rerun
            assert _readout(page, "alpha") != alpha
            assert _control(page, "provider_density").locator("select").input_value() == "unit_cost"
            assert _trace_rows(_panel_state(page)[1]) == trace_rows
            assert list((folder / "reports").iterdir()) == []
        except BaseException:
            # keep what the browser saw, for the failure report
            artefacts = Path(os.environ.get("OASIS_BROWSER_ARTIFACTS", folder))
            artefacts.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(artefacts / "failure.png"), full_page=False)
            (artefacts / "notebook.txt").write_text(page.inner_text(".jp-Notebook"), encoding="utf-8")
            if artefacts.resolve() != folder.resolve():
                shutil.copy(folder / "server.log", artefacts / "server.log")
            print(f"screenshot of the failure and the server log: {artefacts}")
            raise
        finally:
            browser.close()
