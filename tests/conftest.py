"""Shared fixtures. ``gpu``: one WebGPU device for the whole session; skip locally without an
adapter, fail in CI (also when wgpu fell back to an OpenGL adapter: CI must run on Vulkan
lavapipe). Used by the gpu and the disputes tests. ``docs_table``: checks that a table quoted in
``docs/mechanism.md`` between ``<!-- name -->`` markers is the one the code renders."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def gpu():
    """The ops module with a live device. In CI (``CI`` set) a missing adapter is a failure."""
    from oasis_lab.gpu import device, ops

    reason = device.unavailable_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the WebGPU tests on lavapipe: {reason}")
        pytest.skip(f"no WebGPU adapter: {reason}")
    info = device.adapter_info()
    if os.environ.get("CI") and info["backend_type"] == "OpenGL":
        pytest.fail(device.OPENGL_FALLBACK_WARNING.format(device=info["device"]))
    return ops


MECHANISM_DOCS = Path(__file__).resolve().parents[1] / "docs" / "mechanism.md"


def docs_block(name: str) -> str:
    """The text of ``docs/mechanism.md`` between ``<!-- name -->`` and ``<!-- /name -->``."""
    text = MECHANISM_DOCS.read_text()
    m = re.search(rf"<!-- {name} -->\n(.*?)\n<!-- /{name} -->", text, re.S)
    assert m, f"docs/mechanism.md has no {name} block"
    return m.group(1)


def same_table(quoted: str, rendered: str, digits: int) -> None:
    """The quoted table is the rendered one: same cells, numbers equal to the digits shown (a
    last-digit tie may round either way on another machine's floating point)."""
    rows_q = [r.split(" | ") for r in quoted.splitlines()]
    rows_r = [r.split(" | ") for r in rendered.splitlines()]
    assert [len(r) for r in rows_q] == [len(r) for r in rows_r], (quoted, rendered)
    for q_row, r_row in zip(rows_q, rows_r, strict=True):
        for q, r in zip(q_row, r_row, strict=True):
            try:
                qf, rf = float(q.strip("| ")), float(r.strip("| "))
            except ValueError:
                assert q == r, (q, r)
            else:
                assert qf == pytest.approx(rf, rel=10.0 ** (1 - digits), abs=1e-300), (q, r)


@pytest.fixture(scope="session")
def docs_table() -> Callable[[str, str, int], None]:
    """``docs_table(name, rendered, digits)``: the docs' ``name`` block is ``rendered``."""

    def check(name: str, rendered: str, digits: int) -> None:
        same_table(docs_block(name), rendered, digits)

    return check


CHROMIUM = shutil.which("chromium")

_OUTPUT_CHECK = """() => Array.from(document.querySelectorAll('.jp-OutputArea-output'))
    .filter(el => !el.innerText.trim() && !el.querySelector('img, svg, canvas, table'))
    .length"""


# Where a report page's parts sit once laid out (page coordinates, None when absent): its
# first visible blocks' text, its title, findings, first figure and first visible code input.
_LAYOUT = """() => {
    const shown = el => { const r = el.getBoundingClientRect();
        return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden'; };
    const top = el => el ? el.getBoundingClientRect().top + window.scrollY : null;
    const h1 = document.querySelector('h1');
    const findings = document.querySelector('#findings');
    const figure = document.querySelector('.jp-OutputArea-output img, .jp-OutputArea-output svg');
    const code = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea')].filter(shown);
    const blocks = [...document.querySelectorAll('main > *')].filter(shown);
    return {first_blocks: blocks.slice(0, 3).map(b => b.innerText.trim().slice(0, 300)),
            title: h1 ? h1.innerText.replace(/\u00b6$/, '').trim() : null, title_top: top(h1),
            findings: findings ? findings.innerText : null, findings_top: top(findings),
            figure_top: top(figure), code_top: code.length ? top(code[0]) : null,
            code_cells: code.length};
}"""


def open_offline(page_path: Path) -> dict[str, Any]:
    """Open ``page_path`` with the network blocked; what failed, how many outputs are empty and
    where its parts sit (``layout``: its first blocks, title, findings, first figure, first
    visible code)."""
    from playwright.sync_api import sync_playwright

    if CHROMIUM is None:
        pytest.fail("Debian's chromium is not installed (make setup installs it)")
    blocked: list[str] = []
    failed: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-quic"],
        )
        try:
            page = browser.new_page()

            def route(r: Any) -> None:
                if r.request.url.startswith("file://"):
                    r.continue_()
                else:
                    blocked.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.on("requestfailed", lambda req: failed.append(req.url))
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(page_path.resolve().as_uri(), wait_until="load", timeout=60_000)
            empty = page.evaluate(_OUTPUT_CHECK)
            n_outputs = page.evaluate(
                "() => document.querySelectorAll('.jp-OutputArea-output').length"
            )
            layout = page.evaluate(_LAYOUT)
        finally:
            browser.close()
    return {"blocked": blocked, "failed": failed, "errors": errors, "empty": empty,
            "outputs": n_outputs, "layout": layout}


@pytest.fixture(scope="session", name="open_offline")
def open_offline_fixture() -> Callable[[Path], dict[str, Any]]:
    """:func:`open_offline`: a report page opened in Chromium with the network blocked."""
    return open_offline


REPO = Path(__file__).resolve().parent.parent


def make_fresh_clone(target: Path) -> Path:
    """Copy what a fresh clone of this working tree holds into ``target``; return it.

    The files git tracks plus the untracked ones it does not ignore (so uncommitted work is
    tested too, as CI will see it once committed), with their modification times, and nothing
    else: no ``reports/``, no caches. The clone's ``.venv`` is a link to this checkout's, so
    nothing is installed again (its stamp stays newer than the copied ``pyproject.toml``).
    """
    import subprocess

    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, check=True, capture_output=True,
    ).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if not source.is_file():  # deleted in the working tree but not yet in the index
            continue
        dest = target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest)
    (target / ".venv").symlink_to(REPO / ".venv", target_is_directory=True)
    return target


def clone_environment(clone: Path) -> dict[str, str]:
    """Environment under which the clone's ``python`` and its notebook kernels import the
    clone's own ``oasis_lab`` (the venv's editable install points at this checkout)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(clone) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


@pytest.fixture(scope="session")
def fresh_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh clone of the working tree (see :func:`make_fresh_clone`), shared by the session."""
    return make_fresh_clone(tmp_path_factory.mktemp("fresh") / "oasis-lab")


@pytest.fixture(scope="session")
def fresh_clone_env(fresh_clone: Path) -> dict[str, str]:
    """:func:`clone_environment` of the session's fresh clone."""
    return clone_environment(fresh_clone)
