"""Executed notebooks as self-contained, offline HTML pages (nbconvert's lab template without
the scripts it would load from CDNs; widget views replaced by a note)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from oasis_lab.files import atomic_write

__all__ = ["WIDGET_NOTE", "offline_notebook", "render_html", "render_file"]


# The lab template without the scripts it loads from CDNs (require.js, MathJax, mermaid, the
# widget renderer): a report must render fully offline. The notebooks write formulas as code,
# not LaTeX, so nothing needs MathJax (tests/test_report_offline.py checks both).
_OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = (
    "Interactive panel: open this notebook in JupyterLab (make lab) to use it; the report "
    "shows the static figures of the same computation."
)


def offline_notebook(notebook: Any) -> Any:
    """A copy of an executed notebook fit for a static page: no widget state, no widget views.

    A widget view needs a live kernel (or a renderer loaded from a CDN): each one is replaced
    by a one-line note, so the page shows no empty output area.
    """
    import copy

    import nbformat

    nb = copy.deepcopy(notebook)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        outputs: list[Any] = []
        for out in cell.get("outputs", []):
            if _WIDGET_MIME in out.get("data", {}):
                out = nbformat.v4.new_output("stream", name="stdout", text=WIDGET_NOTE + "\n")
                if outputs and outputs[-1].get("text") == out["text"]:
                    continue
            outputs.append(out)
        cell["outputs"] = outputs
    return nb


def render_html(notebook: Any) -> str:
    """An executed notebook as one self-contained HTML page (figures inlined, no network)."""
    import jinja2
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[jinja2.DictLoader({"oasis_offline.html.j2": _OFFLINE_TEMPLATE})],
        template_file="oasis_offline.html.j2",
    )
    body, _ = exporter.from_notebook_node(offline_notebook(notebook))
    return str(body)


def render_file(executed: Path, target: Path) -> None:
    import nbformat

    body = render_html(nbformat.read(executed, as_version=4))
    with atomic_write(target, "w", encoding="utf-8") as fh:
        fh.write(body)
