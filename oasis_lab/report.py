"""The main job: execute every notebook with papermill and render it to HTML.

``python -m oasis_lab report`` runs ``notebooks/*.ipynb`` in order with the study-sized
parameters of ``notebooks/params/full.yaml`` (``--quick``: the small CI defaults of each
notebook's ``parameters`` cell), renders each executed notebook to ``reports/<name>.html`` with
nbconvert, and writes ``reports/index.html`` linking them with their status and run time.

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

from __future__ import annotations

import argparse
import html
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from oasis_lab import paths
from oasis_lab.clihelp import RawDescriptionHelpFormatter, fit_table
from oasis_lab.files import atomic_path, atomic_write, check_output_dir
from oasis_lab.progress import PROGRESS_ENV, read_progress

__all__ = [
    "NOTEBOOK_DIR",
    "NotebookRun",
    "ReportInterrupted",
    "load_profile",
    "offline_notebook",
    "register_cli",
    "render_html",
    "run_report",
    "write_summary",
]

ROOT = paths.ROOT
NOTEBOOK_DIR = paths.NOTEBOOK_DIR

# Run records of every report in the output folder, so that the index lists them all, not
# only the notebooks of the latest run (``--only``).
_RECORDS = "index.json"


class ReportInterrupted(KeyboardInterrupt):
    """The run was interrupted (Ctrl-C); every file written so far is complete."""


@dataclass(frozen=True)
class NotebookRun:
    """Outcome of one notebook in a report run."""

    notebook: str
    ok: bool
    seconds: float
    html: Path
    error: str = ""
    profile: str = ""


def _profile_parameters(notebooks: list[Path]) -> dict[str, set[str]]:
    import papermill

    return {
        nb.stem: set(papermill.inspect_notebook(str(nb)).keys())
        for nb in notebooks
    }


def load_profile(
    path: str | Path, notebooks: list[Path] | None = None
) -> dict[str, dict[str, Any]]:
    """Read a parameter profile: ``{notebook stem: {parameter: value}}`` from YAML.

    Parameters
    ----------
    path : path
        The YAML file.
    notebooks : list of path, optional
        The notebooks the profile is for: every key must be one of their stems and every
        parameter one of the notebook's ``parameters`` cell (a misspelling would otherwise
        run silently with the small CI defaults).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        ``path`` is a directory or unreadable, is not valid YAML, is not a mapping of notebook
        names to parameter mappings, or names unknown notebooks or parameters.
    """
    from oasis_lab.configfile import parse_yaml

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"parameter profile {str(path)!r} does not exist")
    if path.is_dir():
        raise ValueError(f"parameter profile {str(path)!r} is a directory, not a YAML file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"parameter profile {str(path)!r} cannot be read: {exc}") from None
    # YAML 1.2 numbers, a duplicated notebook or parameter refused (naming it and its line)
    data = parse_yaml(text, f"parameter profile {str(path)!r}") or {}
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, dict) for k, v in data.items()
    ):
        raise ValueError(
            f"parameter profile {str(path)!r} must map notebook names to parameter mappings"
        )
    if notebooks is not None:
        stems = sorted(nb.stem for nb in notebooks)
        unknown = sorted(set(data) - set(stems))
        if unknown:
            raise ValueError(
                f"parameter profile {str(path)!r} names unknown notebook(s) {unknown}; "
                f"available: {stems}"
            )
        known = _profile_parameters([nb for nb in notebooks if nb.stem in data])
        for stem, values in data.items():
            bad = sorted(set(values) - known[stem])
            if bad:
                raise ValueError(
                    f"parameter profile {str(path)!r}: notebook {stem!r} has no parameter(s) "
                    f"{bad}; its parameters cell defines {sorted(known[stem])}"
                )
    return data


def _plain(value: Any) -> Any:
    # numpy scalars and arrays, pandas objects and tuples as plain JSON values
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, float) and math.isnan(value):
        return None  # NaN: JSON has no NaN
    return value


def write_summary(notebook: str, figures: dict[str, Any], folder: str | Path = "reports") -> Path:
    """Write a notebook's key figures to ``<folder>/<notebook>.summary.json`` (atomically).

    Every notebook ends with one call; ``tests/test_notebooks.py`` asserts on these figures at
    CI sizes, and the narrative sentences quoting them are rendered from the same values.

    Parameters
    ----------
    notebook : str
        The notebook's stem, e.g. ``"01_greedy_vs_optimum"``.
    figures : dict
        Key figures (numbers, strings, lists, nested dicts; numpy values are converted, NaN
        becomes null).
    folder : path
        The notebook's ``summary_dir`` parameter (``reports/`` by default; the report and the
        tests pass their own).
    """
    if not isinstance(figures, dict):
        raise TypeError(f"figures must be a dict, got {type(figures).__name__}")

    folder = check_output_dir("summary_dir", folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{notebook}.summary.json"
    text = json.dumps(_plain(figures), indent=1, sort_keys=True, allow_nan=False) + "\n"
    with atomic_write(target, "w", encoding="utf-8") as fh:
        fh.write(text)
    return target


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


def _render_html(executed: Path, target: Path) -> None:
    import nbformat

    body = render_html(nbformat.read(executed, as_version=4))
    with atomic_write(target, "w", encoding="utf-8") as fh:
        fh.write(body)


def _is_executed_copy(path: Path) -> bool:
    """Whether ``path`` is a notebook papermill executed (not a source notebook)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "papermill" in (data.get("metadata") or {})


def _check_output_dir(output_dir: Path, notebook_dir: Path, notebooks: list[Path]) -> None:
    """Refuse an output folder where executed copies would overwrite the sources."""
    check_output_dir("output", output_dir)
    if not output_dir.exists():
        return
    if output_dir.resolve() == notebook_dir.resolve():
        raise ValueError(
            f"output = {str(output_dir)!r} is the notebook folder: the executed copies would "
            "overwrite the source notebooks; choose another folder (default: reports)"
        )
    for nb in notebooks:
        for name in (f"{nb.stem}.ipynb", f"{nb.stem}.failed.ipynb"):
            target = output_dir / name
            if not target.exists():
                continue
            if target.samefile(nb) or not _is_executed_copy(target):
                raise ValueError(
                    f"output = {str(output_dir)!r} holds {name}, a notebook that is not an "
                    "executed report (a source?): it would be overwritten; choose another folder"
                )


def _read_records(output_dir: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads((output_dir / _RECORDS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_index(output_dir: Path, runs: list[NotebookRun], profile: str) -> Path:
    """Merge ``runs`` into the folder's records and write ``index.html`` listing every report.

    Two report runs into one folder each read, merge and rewrite the records: an exclusive lock
    (a file in the system's temporary folder named after the output folder, so the reports
    folder holds only reports) makes that one step, so neither run's entries are lost.
    """
    import fcntl
    import hashlib
    import tempfile

    key = hashlib.sha256(str(output_dir.resolve()).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"oasis-lab-index-{key}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        return _merge_index(output_dir, runs, profile)


def _merge_index(output_dir: Path, runs: list[NotebookRun], profile: str) -> Path:
    records = _read_records(output_dir)
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    for r in runs:
        entry = {**asdict(r), "html": r.html.name, "finished": now}
        record = records.get(r.notebook) if isinstance(records.get(r.notebook), dict) else {}
        records[r.notebook] = {
            "latest": entry,
            "last_ok": entry if r.ok else (record or {}).get("last_ok"),
        }
    # every report page present, recorded or not (a run before records were kept)
    for html_file in sorted(output_dir.glob("*.html")):
        if html_file.name == "index.html":
            continue
        stem = html_file.name[: -len(".failed.html")] if html_file.name.endswith(".failed.html") else html_file.stem
        if stem not in records:
            records[stem] = {
                "latest": {"notebook": stem, "ok": not html_file.name.endswith(".failed.html"),
                           "seconds": None, "html": html_file.name, "error": "", "profile": "unknown",
                           "finished": time.strftime("%Y-%m-%d %H:%M:%S",
                                                     time.localtime(html_file.stat().st_mtime))},
                "last_ok": None,
            }
    # a report whose page was deleted is no longer listed
    records = {
        stem: rec for stem, rec in records.items()
        if isinstance(rec, dict) and isinstance(rec.get("latest"), dict)
        and (output_dir / str(rec["latest"].get("html", ""))).exists()
    }
    with atomic_write(output_dir / _RECORDS, "w", encoding="utf-8") as fh:
        json.dump(records, fh, indent=1, sort_keys=True)

    def row(stem: str, rec: dict[str, Any]) -> str:
        latest = rec["latest"]
        seconds = latest.get("seconds")
        earlier = rec.get("last_ok") or {}
        good = ""
        if not latest.get("ok") and earlier and (output_dir / str(earlier.get("html", ""))).exists():
            good = (f"<a href='{html.escape(str(earlier['html']))}'>last good report</a> "
                    f"({html.escape(str(earlier.get('finished', '')))})")
        return (
            f"<tr><td><a href='{html.escape(str(latest['html']))}'>{html.escape(stem)}</a></td>"
            f"<td>{'ok' if latest.get('ok') else 'FAILED'}</td>"
            f"<td>{'' if seconds is None else f'{float(seconds):.1f} s'}</td>"
            f"<td>{html.escape(str(latest.get('finished', '')))}</td>"
            f"<td>{html.escape(str(latest.get('profile', '')))}</td>"
            f"<td>{html.escape(str(latest.get('error', '')))}</td><td>{good}</td></tr>"
        )

    rows = "\n".join(row(stem, records[stem]) for stem in sorted(records))
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>oasis-lab report</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 12px;text-align:left}"
        "</style></head><body><h1>oasis-lab report</h1>"
        f"<p>Latest run: {now}, parameters: {html.escape(profile)}.</p>"
        "<table><tr><th>notebook</th><th>status</th><th>time</th><th>finished</th>"
        "<th>parameters</th><th>error</th><th></th></tr>"
        f"{rows}</table></body></html>"
    )
    index = output_dir / "index.html"
    with atomic_write(index, "w", encoding="utf-8") as fh:
        fh.write(page)
    return index


def _kernel_manager_class(log_path: Path, socket_dir: Path) -> type:
    """A kernel manager whose kernel writes its own stdout/stderr to ``log_path``.

    The kernel process's streams carry only the kernel's housekeeping (start-up notices,
    noise when it is shut down by Ctrl-C), never cell output (papermill records that in the
    notebook): in the log file it cannot bury the report's progress lines or the one-line
    message of an interrupted run, and it is there when a kernel dies.
    """
    from jupyter_client.manager import AsyncKernelManager

    class LoggedKernelManager(AsyncKernelManager):
        # The kernel talks to the report over Unix sockets in a private folder, not TCP:
        # nothing listens on the network, and the kernel has no reason to warn about plain
        # text traffic (it did, once per notebook, in every report log).
        def __init__(self, **kw: Any) -> None:
            kw.setdefault("transport", "ipc")
            kw.setdefault("ip", str(socket_dir / "kernel"))
            super().__init__(**kw)

        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            with open(log_path, "ab") as log:  # noqa: ASYNC230 - Popen duplicates it
                kw.setdefault("stdout", log)
                kw.setdefault("stderr", log)
                await super().start_kernel(**kw)

    return LoggedKernelManager


def _progress_engine(progress_file: Path) -> str:
    """Register (under ``"oasis-lab"``) a papermill engine that shows the notebook's own progress.

    papermill's cell bar says which cell runs; a long cell (a study, a sweep) says nothing more.
    Code inside the kernel reports through :func:`oasis_lab.progress.progress_bar`, which
    mirrors its line into ``progress_file`` (the kernel inherits :data:`PROGRESS_ENV`); a
    thread here copies that line onto the cell bar, so the console shows both.
    """
    import threading

    from papermill.engines import NBClientEngine, papermill_engines

    class ProgressEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
            stop = threading.Event()

            def poll() -> None:
                shown = ""
                while not stop.wait(0.5):
                    line = read_progress(progress_file)
                    if line != shown and getattr(nb_man, "pbar", None) is not None:
                        shown = line
                        nb_man.pbar.set_postfix_str(line[:80], refresh=True)

            thread = threading.Thread(target=poll, daemon=True)
            thread.start()
            try:
                return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
            finally:
                stop.set()
                thread.join()

    papermill_engines.register("oasis-lab", ProgressEngine)
    return "oasis-lab"


def _expected_seconds(output_dir: Path, stems: list[str], profile_label: str) -> float | None:
    """Seconds the notebooks ``stems`` took at their last good run with the same parameters."""
    records = _read_records(output_dir)
    total = 0.0
    for stem in stems:
        last = (records.get(stem) or {}).get("last_ok") if isinstance(records.get(stem), dict) else None
        if not isinstance(last, dict) or last.get("profile") != profile_label or last.get("seconds") is None:
            return None
        total += float(last["seconds"])
    return total


def _interrupted(exc: BaseException) -> bool:
    """Whether a notebook failed because the run was interrupted (Ctrl-C reaches the kernel)."""
    return getattr(exc, "ename", "") == "KeyboardInterrupt"


def _profile_path(profile: str | Path | None, notebook_dir: Path) -> Path:
    """The YAML file of ``profile``: a path, or the name of one in ``<notebook_dir>/params``.

    ``None`` is the study profile ``full``; ``"large"`` is ``params/large.yaml`` (the studies too
    big for ``make run``'s five minutes on a 2-core machine).
    """
    if profile is None:
        return notebook_dir / "params" / "full.yaml"
    path = Path(profile)
    named = notebook_dir / "params" / f"{profile}.yaml"
    if not path.exists() and path.suffix == "" and path.parent == Path(".") and named.exists():
        return named
    return path


def run_report(
    output_dir: str | Path = "reports",
    *,
    quick: bool = False,
    notebook_dir: str | Path = NOTEBOOK_DIR,
    only: list[str] | None = None,
    profile: str | Path | None = None,
    kernel_name: str = "python3",
    progress: bool = True,
) -> list[NotebookRun]:
    """Execute the notebooks and render them to HTML under ``output_dir``.

    Everything is checked before the first notebook starts: the notebooks asked for, the
    profile (valid YAML, known notebooks and parameters) and the output folder (writable,
    not the notebook folder, holding no source notebook). Every file is written atomically
    (:func:`oasis_lab.files.atomic_write`), so an interrupted or failed run leaves earlier
    reports complete: a failing notebook goes to ``<name>.failed.ipynb`` and
    ``<name>.failed.html``, never over a good ``<name>.ipynb`` / ``<name>.html``.

    Parameters
    ----------
    output_dir : path
        Where ``<name>.html``, ``<name>.ipynb`` (executed) and ``index.html`` go. The index
        lists every report in the folder (earlier runs included) with the parameters each
        was run with.
    quick : bool
        Use each notebook's own (CI-sized) defaults instead of the full profile.
    notebook_dir : path
        Folder of ``*.ipynb`` (executed with it as working directory).
    only : list of str, optional
        Notebook stems to run (default: all).
    profile : path or str, optional
        Parameter profile: a YAML file, or a name in ``<notebook_dir>/params`` (``"large"``);
        default ``<notebook_dir>/params/full.yaml`` when it exists.
    kernel_name : str
        Jupyter kernel to execute with.
    progress : bool
        Show a tqdm progress bar over notebooks.

    Returns
    -------
    list of NotebookRun
        One per notebook, in execution order.

    Raises
    ------
    ValueError, FileNotFoundError
        A bad argument, profile or output folder (before any notebook runs).
    ReportInterrupted
        Ctrl-C: the notebook being run is dropped, earlier files are kept.
    """
    import papermill
    from tqdm.auto import tqdm

    # Every path is made absolute before anything runs: papermill executes each notebook with
    # the notebook folder as the process's working directory, so a relative output folder
    # (the default ``reports``) would be resolved against another folder once execution began.
    notebook_dir = Path(notebook_dir).resolve()
    output_dir = Path(output_dir).resolve()
    if profile is not None and Path(profile).exists():
        profile = Path(profile).resolve()
    all_notebooks = sorted(notebook_dir.glob("*.ipynb"))
    notebooks = all_notebooks
    if only:
        unknown = set(only) - {p.stem for p in notebooks}
        if unknown:
            raise ValueError(
                f"unknown notebook(s) {sorted(unknown)}; available: {[p.stem for p in notebooks]}"
            )
        notebooks = [p for p in notebooks if p.stem in only]
    if not notebooks:
        raise FileNotFoundError(f"no notebooks found in {str(notebook_dir)!r}")
    parameters: dict[str, dict[str, Any]] = {}
    if quick:
        profile_label = "quick: each notebook's own defaults"
    else:
        profile_path = _profile_path(profile, notebook_dir)
        if profile or profile_path.exists():
            parameters = load_profile(profile_path, all_notebooks)
            profile_label = f"profile {profile_path}"
        else:
            profile_label = f"each notebook's own defaults (no profile at {profile_path})"
    _check_output_dir(output_dir, notebook_dir, notebooks)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"output = {str(output_dir)!r} cannot be created: {exc}") from None

    runs: list[NotebookRun] = []
    # The ETA comes from measured work: the same notebooks' times at their last good run with
    # the same parameters (index.json), not from the rate of the first notebook.
    expected = _expected_seconds(output_dir, [p.stem for p in notebooks], profile_label)
    bar = tqdm(notebooks, desc="notebooks", unit="nb", disable=not progress, position=0)
    started = time.perf_counter()
    path = notebooks[0]
    try:
        for path in bar:
            elapsed = time.perf_counter() - started
            eta = "" if expected is None else f", last run took {expected:.0f} s in all"
            bar.set_postfix_str(f"{path.stem} (elapsed {elapsed:.0f} s{eta})")
            runs.append(_run_one(papermill, path, output_dir, notebook_dir, parameters,
                                 profile_label, kernel_name, progress))
    except KeyboardInterrupt:
        raise ReportInterrupted(
            f"interrupted during {path.stem}; {len(runs)} notebook(s) finished, earlier reports "
            "are kept complete"
        ) from None
    finally:
        if runs:
            _write_index(output_dir, runs, profile_label)
    return runs


def _with_summary_dir(papermill: Any, path: Path, params: dict[str, Any], output_dir: Path) -> dict[str, Any]:
    # a notebook that declares ``summary_dir`` writes its key figures next to its HTML page
    if "summary_dir" in papermill.inspect_notebook(str(path)):
        return {**params, "summary_dir": str(output_dir.resolve())}
    return params


def _run_one(
    papermill: Any,
    path: Path,
    output_dir: Path,
    notebook_dir: Path,
    parameters: dict[str, dict[str, Any]],
    profile_label: str,
    kernel_name: str,
    progress: bool = True,
) -> NotebookRun:
    """Execute one notebook into a temporary file; keep it as ``.ipynb`` or ``.failed.ipynb``."""
    import tempfile

    start = time.perf_counter()
    error = ""
    executed = output_dir / f"{path.stem}.ipynb"
    failed = output_dir / f"{path.stem}.failed.ipynb"
    kernel_log = output_dir / f"{path.stem}.kernel.log"
    kernel_log.unlink(missing_ok=True)
    cell_bar: bool | dict[str, Any] = progress and {
        "desc": f"  {path.stem}", "unit": "cell", "leave": False, "position": 1, "smoothing": 0
    }
    with atomic_path(executed, keep_suffix=True) as tmp, tempfile.TemporaryDirectory() as tmpdir:
        progress_file = Path(tmpdir) / "progress.txt"
        previous = os.environ.get(PROGRESS_ENV)
        os.environ[PROGRESS_ENV] = str(progress_file)  # inherited by the kernel it starts
        try:
            papermill.execute_notebook(
                str(path),
                str(tmp),
                parameters=_with_summary_dir(papermill, path, parameters.get(path.stem, {}), output_dir),
                cwd=str(notebook_dir),
                kernel_name=kernel_name,
                progress_bar=cell_bar,
                engine_name=_progress_engine(progress_file),
                kernel_manager_class=_kernel_manager_class(kernel_log, Path(tmpdir)),
            )
        except Exception as exc:  # a failing notebook is reported, the others still run
            if _interrupted(exc):
                raise KeyboardInterrupt from None
            # the last line of papermill's message names the failing cell's exception
            last_line = (str(exc).strip().splitlines() or [""])[-1]
            error = f"{type(exc).__name__}: {last_line}"
            if tmp.exists():
                os.replace(tmp, failed)  # never over the good executed copy
        finally:
            if previous is None:
                os.environ.pop(PROGRESS_ENV, None)
            else:
                os.environ[PROGRESS_ENV] = previous
    seconds = time.perf_counter() - start
    if error:
        target = output_dir / f"{path.stem}.failed.html"
        if failed.exists():
            _render_html(failed, target)
        else:  # it failed before papermill wrote anything (no kernel, unreadable notebook)
            with atomic_write(target, "w", encoding="utf-8") as fh:
                fh.write(f"<!doctype html><html><body><h1>{html.escape(path.stem)} failed</h1>"
                         f"<pre>{html.escape(error)}</pre></body></html>")
    else:
        target = output_dir / f"{path.stem}.html"
        _render_html(executed, target)
        # a stale failure from an earlier run would contradict this success
        (output_dir / f"{path.stem}.failed.html").unlink(missing_ok=True)
        failed.unlink(missing_ok=True)
    return NotebookRun(path.stem, not error, seconds, target, error, profile_label)


def _cli(args: argparse.Namespace) -> int:
    runs = run_report(
        args.output,
        quick=args.quick,
        only=args.only.split(",") if args.only else None,
        profile=args.profile,
        progress=not args.no_progress,
        notebook_dir=NOTEBOOK_DIR,
    )
    table = pd.DataFrame(
        {
            "notebook": [r.notebook for r in runs],
            "status": ["ok" if r.ok else "FAILED" for r in runs],
            "seconds": [round(r.seconds, 1) for r in runs],
            "html (in the output folder)": [r.html.name for r in runs],
        }
    )
    print(fit_table(table, float_format="{:.1f}".format))
    print(f"\nParameters: {runs[0].profile}")
    print(f"Report: {Path(args.output).resolve() / 'index.html'}")
    failed = [r for r in runs if not r.ok]
    for r in failed:
        print(f"FAILED {r.notebook}: {r.error}")
    return 1 if failed else 0


def register_cli(subparsers: Any) -> None:
    """Add ``report``: execute all notebooks and render HTML under ``reports/``."""
    parser = subparsers.add_parser(
        "report",
        help="execute every notebook with papermill and render HTML reports",
        description=__doc__,
        formatter_class=RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true",
                        help="run with each notebook's small CI parameters (under a minute each) "
                        "(default: the study sizes of --profile)")
    parser.add_argument("--output", default="reports", metavar="FOLDER",
                        help="folder the executed notebooks, HTML reports and index.html go to")
    parser.add_argument("--only", metavar="NAMES",
                        help="comma-separated notebook names (file stems, e.g. "
                        "00_market_tour,04_fault_proofs) to run (default: every notebook)")
    parser.add_argument(
        "--profile", metavar="PROFILE",
        help="parameter profile: a YAML file (notebook name -> parameters), or the name of one in "
        "notebooks/params: full (the default, study sizes that run in minutes) or large (the "
        "biggest studies)",
    )
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress lines (default: per-notebook and per-cell progress on "
                        "stderr)")
    parser.set_defaults(func=_cli)
