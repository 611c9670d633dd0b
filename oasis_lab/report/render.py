"""Executed notebooks as self-contained, offline HTML pages (nbconvert's lab template without
the scripts it would load from CDNs; widget views replaced by a note) that open with their
findings.

A page reads, top to bottom: the notebook's title, its findings (the headline numbers of its
summary, :func:`oasis_lab.report.summary.read_headline`), how and when it ran (with the
parameters in a closed box), then the narrative and the outputs, without the code: the
parameters cells (the notebook's and papermill's injected one) and cells with no output are
left out, and no input is shown. ``show_code=True`` (``report --show-code``) renders every cell
with its code, as the notebook reads in JupyterLab; a failed notebook is always rendered with
its code, so that the failing cell can be read.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from oasis_lab.files import atomic_write

__all__ = [
    "HIDDEN_TAGS",
    "WIDGET_NOTE",
    "findings_html",
    "notebook_title",
    "offline_notebook",
    "page_notebook",
    "render_file",
    "render_html",
]


# The lab template without the scripts it loads from CDNs (require.js, MathJax, mermaid, the
# widget renderer): a report must render fully offline. The notebooks write formulas as code,
# not LaTeX, so nothing needs MathJax (tests/test_report_offline.py checks both). The report's
# own block (the findings, a raw cell it marks ``oasis_report``) goes in as written; a raw cell
# of a notebook is cleaned as nbconvert cleans it.
_OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{% block rawcell scoped %}
{%- if cell.metadata.get('oasis_report') -%}{{ cell.source }}{%- else -%}{{ super() }}{%- endif -%}
{%- endblock rawcell %}
"""
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = (
    "Interactive panel: open this notebook in JupyterLab (make lab) to use it; the report "
    "shows the static figures of the same computation."
)
#: Cells left out of a page without code: the parameters cell and papermill's injected one
#: (their values are in the page's "Parameters of this run" box).
HIDDEN_TAGS = ("parameters", "injected-parameters")

_FINDINGS_STYLE = (
    "<style>"
    ".oasis-findings{border-left:4px solid #0072B2;background:#f3f8fc;padding:0.6em 1.2em;"
    "margin:0.5em 5px 1.5em 5px;font-family:var(--jp-content-font-family);"
    "font-size:var(--jp-content-font-size1);line-height:var(--jp-content-line-height)}"
    ".oasis-findings h2{margin:0.2em 0 0.4em 0;font-size:1.25em}"
    ".oasis-findings ul{margin:0.2em 0 0.6em 0}.oasis-findings li{margin:0.15em 0}"
    ".oasis-findings .oasis-run{color:#444;font-size:0.9em;margin:0.3em 0}"
    ".oasis-findings .oasis-failed{color:#b00020;font-weight:bold}"
    ".oasis-findings pre{font-size:0.85em;white-space:pre-wrap}"
    "</style>"
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


def _tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


_ERROR_TAG = "papermill-error-cell-tag"  # papermill's banner and anchor around a failing cell


def _title_cell(nb: Any) -> tuple[int, int] | None:
    """(cell index, line index) of the notebook's title: the first ``# `` line of the first
    markdown cell (None when the first markdown cell has none); papermill's error banner is
    not the notebook's."""
    for k, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "markdown" or _ERROR_TAG in _tags(cell):
            continue
        for i, line in enumerate(str(cell.source).splitlines()):
            if line.startswith("# "):
                return k, i
        return None
    return None


def notebook_title(notebook: Any) -> str:
    """The notebook's title: its first markdown cell's ``# `` heading ("" when it has none).

    Examples
    --------
    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 01 · Greedy\\n\\nText")])
    >>> notebook_title(nb)
    '01 · Greedy'
    """
    where = _title_cell(notebook)
    if where is None:
        return ""
    k, i = where
    return str(notebook.cells[k].source).splitlines()[i][2:].strip()


def _parameters_text(nb: Any) -> str:
    parts = []
    for cell in nb.cells:
        tags = _tags(cell)
        if "parameters" in tags:
            parts.append(str(cell.source).strip())
        elif "injected-parameters" in tags:
            parts.append("# set by the report for this run\n" + "\n".join(
                line for line in str(cell.source).splitlines() if not line.startswith("# Parameters")
            ).strip())
    return "\n\n".join(p for p in parts if p)


def findings_html(
    headline: dict[str, Any] | None,
    *,
    run_note: str = "",
    parameters: str = "",
    error: str = "",
) -> str:
    """The block under a page's title: its findings (the headline numbers of its summary), a
    failure when there was one, how it ran and, in a closed box, its parameters."""
    from oasis_lab.report.summary import format_headline

    parts = [_FINDINGS_STYLE, "<section class='oasis-findings' id='findings'>", "<h2>Findings</h2>"]
    if error:
        parts.append(f"<p class='oasis-failed'>This run failed: {html.escape(error)}. The page shows "
                     "the code, and <a href='#papermill-error-cell'>the failing cell</a> with its "
                     "error below.</p>")
    if headline:
        items = "".join(f"<li>{html.escape(str(k))}: <b>{html.escape(format_headline(v))}</b></li>"
                        for k, v in headline.items())
        parts.append(f"<ul class='oasis-headline'>{items}</ul>")
    elif not error:
        parts.append("<p class='oasis-run'>This notebook states no headline numbers (the "
                     "<code>headline</code> of its summary); its results follow.</p>")
    if run_note:
        parts.append(f"<p class='oasis-run'>{html.escape(run_note)}</p>")
    if parameters:
        parts.append("<details class='oasis-parameters'><summary>Parameters of this run</summary>"
                     f"<pre>{html.escape(parameters)}</pre></details>")
    parts.append("</section>")
    return "".join(parts)


def page_notebook(
    notebook: Any,
    *,
    show_code: bool = False,
    headline: dict[str, Any] | None = None,
    run_note: str = "",
    error: str = "",
) -> Any:
    """The notebook as its page shows it (see the module's docstring): offline, the findings
    block (:func:`findings_html`) right under the title, and without code unless
    ``show_code``: the parameters cells and the cells with no output left out."""
    import nbformat

    nb = offline_notebook(notebook)
    parameters = _parameters_text(nb)
    # papermill's banner at the top of a failed notebook: the findings block says it instead
    nb.cells = [c for c in nb.cells
                if not (_ERROR_TAG in _tags(c) and "href=\"#papermill-error-cell\"" in str(c.source))]
    if not show_code:
        nb.cells = [
            c for c in nb.cells
            if c.get("cell_type") != "code"
            or (c.get("outputs") and not any(t in _tags(c) for t in HIDDEN_TAGS))
        ]
    block = nbformat.v4.new_raw_cell(
        findings_html(headline, run_note=run_note, parameters=parameters, error=error),
        metadata={"raw_mimetype": "text/html", "oasis_report": True},
    )
    where = _title_cell(nb)
    if where is None:
        nb.cells.insert(0, block)
        return nb
    k, i = where
    lines = str(nb.cells[k].source).splitlines()
    title = nbformat.v4.new_markdown_cell("\n".join(lines[: i + 1]))
    rest = "\n".join(lines[i + 1:]).strip()
    cells = [title, block] + ([nbformat.v4.new_markdown_cell(rest)] if rest else [])
    nb.cells[k:k + 1] = cells
    return nb


def render_html(
    notebook: Any,
    *,
    show_code: bool = False,
    headline: dict[str, Any] | None = None,
    run_note: str = "",
    error: str = "",
) -> str:
    """An executed notebook as one self-contained HTML page (figures inlined, no network).

    The report's page (:func:`page_notebook`): findings under the title and, unless
    ``show_code``, no code.
    """
    import jinja2
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[jinja2.DictLoader({"oasis_offline.html.j2": _OFFLINE_TEMPLATE})],
        template_file="oasis_offline.html.j2",
        exclude_input=not show_code,
        exclude_input_prompt=not show_code,
        exclude_output_prompt=not show_code,
    )
    notebook = page_notebook(notebook, show_code=show_code, headline=headline, run_note=run_note,
                             error=error)
    body, _ = exporter.from_notebook_node(notebook)
    return str(body)


def render_file(executed: Path, target: Path, *, show_code: bool = False,
                headline: dict[str, Any] | None = None, run_note: str = "", error: str = "") -> None:
    """Render the executed notebook ``executed`` to ``target`` (atomically) as a report page."""
    import nbformat

    body = render_html(nbformat.read(executed, as_version=4), show_code=show_code or bool(error),
                       headline=headline, run_note=run_note, error=error)
    with atomic_write(target, "w", encoding="utf-8") as fh:
        fh.write(body)
