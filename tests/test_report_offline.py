"""Reports render fully offline: no CDN script, no failed request, no empty output area.

Each page is opened in headless Chromium (Debian's ``chromium``, driven by Playwright) with
every request outside the page's own file refused.
"""

from __future__ import annotations

from typing import Any

import nbformat
import pytest

from oasis_lab.report import WIDGET_NOTE, offline_notebook, render_html

pytestmark = pytest.mark.browser


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


def test_a_rendered_page_loads_nothing_from_the_network(tmp_path, open_offline):
    page = tmp_path / "report.html"
    page.write_text(render_html(_widget_notebook()), encoding="utf-8")
    seen = open_offline(page)
    assert seen["blocked"] == [] and seen["failed"] == [] and seen["errors"] == []
    assert seen["outputs"] == 2 and seen["empty"] == 0


def test_the_check_sees_a_cdn_script(tmp_path, open_offline):
    # The lab template as nbconvert ships it loads require.js and MathJax from CDNs: the
    # check must notice (or it could not fail).
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(_widget_notebook())
    page = tmp_path / "cdn.html"
    page.write_text(body, encoding="utf-8")
    assert open_offline(page)["blocked"] != []
