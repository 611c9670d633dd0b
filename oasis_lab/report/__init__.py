"""The main job: execute every notebook with papermill and render it to HTML.

``python -m oasis_lab report`` runs ``notebooks/*.ipynb`` in order with the study-sized
parameters of ``notebooks/params/full.yaml`` (``--quick``: the small CI defaults of each
notebook's ``parameters`` cell), renders each executed notebook to ``reports/<name>.html`` with
nbconvert, and writes ``reports/index.html`` linking them: each notebook's title, its headline
numbers, its own run time and when it finished.

Each page opens with the notebook's title and its findings (the ``headline`` numbers of its
summary, ``<name>.summary.json``, written by the run), then the narrative and the outputs
without code; ``--show-code`` renders every cell with its code. The console shows the running
notebook and cell, the cell's own loops, the time elapsed and, from the measured times of the
last run with the same parameters, the time left (none on a first run).

A notebook that fails is kept as ``<name>.failed.ipynb`` and rendered to ``<name>.failed.html``
(showing the error) and the run goes on with the others; an earlier good ``<name>.ipynb`` and
``<name>.html`` are left in place, so a failed run never destroys earlier results. Every file is
written atomically (a temporary file renamed into place), so Ctrl-C or a killed run leaves
complete files only; Ctrl-C ends with one line. ``index.html`` lists every report in the
folder, earlier runs (``--only``) included, with the parameters each was run with (records in
``index.json``). The kernel's own housekeeping output goes to ``<name>.kernel.log``.

Before the first notebook runs, the report refuses an output folder that is the notebook
folder or holds a source notebook (it would be overwritten), an output path that is a file or
not writable, and a profile that is not valid YAML or names unknown notebooks or parameters.
"""

from oasis_lab.report.index import NotebookRun
from oasis_lab.report.profile import load_profile
from oasis_lab.report.render import WIDGET_NOTE, notebook_title, offline_notebook, render_html
from oasis_lab.report.run import NOTEBOOK_DIR, ReportInterrupted, run_report
from oasis_lab.report.summary import write_summary

__all__ = [
    "NOTEBOOK_DIR",
    "WIDGET_NOTE",
    "NotebookRun",
    "ReportInterrupted",
    "load_profile",
    "notebook_title",
    "offline_notebook",
    "render_html",
    "run_report",
    "write_summary",
]
