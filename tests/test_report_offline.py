"""Reports render fully offline: no CDN script, no failed request, no empty output area.

Each page is opened in headless Chromium (Debian's ``chromium``, driven by Playwright) with
every request outside the page's own file refused.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest

from oasis_lab.report import WIDGET_NOTE, offline_notebook, render_html

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.browser

_OUTPUT_CHECK = """() => Array.from(document.querySelectorAll('.jp-OutputArea-output'))
    .filter(el => !el.innerText.trim() && !el.querySelector('img, svg, canvas, table'))
    .length"""


def open_offline(page_path: Path) -> dict[str, Any]:
    """Open ``page_path`` with the network blocked; what failed and how many outputs are empty."""
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
        finally:
            browser.close()
    return {"blocked": blocked, "failed": failed, "errors": errors, "empty": empty,
            "outputs": n_outputs}


def _widget_notebook() -> Any:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("panel")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={"application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2,
                                                               "version_minor": 0},
                  "text/plain": "VBox(children=(...))"},
        ),
        nbformat.v4.new_output("stream", name="stdout", text="welfare 0.97\n"),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# A report"), cell]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return nb


def test_widget_views_and_state_are_replaced_by_a_note():
    nb = offline_notebook(_widget_notebook())
    assert "widgets" not in nb.metadata
    texts = [o.get("text", "") for o in nb.cells[1].outputs]
    assert texts == [WIDGET_NOTE + "\n", "welfare 0.97\n"]


def test_a_rendered_page_loads_nothing_from_the_network(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_html(_widget_notebook()), encoding="utf-8")
    seen = open_offline(page)
    assert seen["blocked"] == [] and seen["failed"] == [] and seen["errors"] == []
    assert seen["outputs"] == 2 and seen["empty"] == 0


def test_the_check_sees_a_cdn_script(tmp_path):
    # The lab template as nbconvert ships it loads require.js and MathJax from CDNs: the
    # check must notice (or it could not fail).
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(_widget_notebook())
    page = tmp_path / "cdn.html"
    page.write_text(body, encoding="utf-8")
    assert open_offline(page)["blocked"] != []
