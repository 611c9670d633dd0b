"""Running the notebooks: the output folder checked, each notebook executed into a temporary
file and kept as ``<name>.ipynb`` or ``<name>.failed.ipynb``, rendered, and the index written
however the run ends (a failure, Ctrl-C or SIGTERM)."""

from __future__ import annotations

import html
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from oasis_lab import paths
from oasis_lab.files import atomic_path, atomic_write, check_output_dir
from oasis_lab.progress import PROGRESS_ENV, format_seconds
from oasis_lab.report.console import ReportConsole, no_estimate
from oasis_lab.report.index import NotebookRun, expected_cell_seconds, expected_seconds, write_index
from oasis_lab.report.kernel import kernel_manager_class, progress_engine
from oasis_lab.report.profile import load_profile, profile_path
from oasis_lab.report.render import notebook_title, render_file
from oasis_lab.report.summary import read_headline

__all__ = ["NOTEBOOK_DIR", "ReportInterrupted", "run_report"]

ROOT = paths.ROOT
NOTEBOOK_DIR = paths.NOTEBOOK_DIR


class ReportInterrupted(KeyboardInterrupt):
    """The run was interrupted (Ctrl-C or SIGTERM); every file written so far is complete.

    ``exit_status`` is the shell's status for the signal: 130 for Ctrl-C (SIGINT), 143 for
    SIGTERM.
    """

    def __init__(self, message: str, signum: int = signal.SIGINT) -> None:
        super().__init__(message)
        self.exit_status = 128 + int(signum)


@contextmanager
def _sigterm_as_ctrl_c() -> Iterator[list[int]]:
    """While the notebooks run, SIGTERM (``kill``, ``timeout``, a CI job cancelled) ends the run
    as Ctrl-C does: the notebook being run is dropped with its temporary file, the finished
    notebooks' records and the index are written. Yields the signals received.

    Only the main thread can take signals; elsewhere (a report run from a thread) nothing
    changes.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)


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


def _interrupted(exc: BaseException) -> bool:
    """Whether a notebook failed because the run was interrupted (Ctrl-C reaches the kernel)."""
    return getattr(exc, "ename", "") == "KeyboardInterrupt"


def run_report(
    output_dir: str | Path = "reports",
    *,
    quick: bool = False,
    notebook_dir: str | Path = NOTEBOOK_DIR,
    only: list[str] | None = None,
    profile: str | Path | None = None,
    kernel_name: str = "python3",
    progress: bool = True,
    show_code: bool = False,
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
        Notebook stems to run (default, ``None``: all; an empty list is refused).
    profile : path or str, optional
        Parameter profile: a YAML file, or a name in ``<notebook_dir>/params`` (``"large"``);
        default ``<notebook_dir>/params/full.yaml`` when it exists.
    kernel_name : str
        Jupyter kernel to execute with.
    progress : bool
        Show the run's progress on stderr (:class:`~oasis_lab.report.console.ReportConsole`):
        the notebook, its running cell, the cell's own loops (:mod:`oasis_lab.progress`), the
        time elapsed and, from the last run with the same parameters, the time left.
    show_code : bool
        Render the pages with every cell's code (default: findings first, no code; the
        index records which).

    Returns
    -------
    list of NotebookRun
        One per notebook, in execution order.

    Raises
    ------
    ValueError, FileNotFoundError
        A bad argument, profile or output folder (before any notebook runs).
    ReportInterrupted
        Ctrl-C or SIGTERM: the notebook being run is dropped, earlier files are kept, the
        finished notebooks are recorded in the index.
    """
    # Every path is made absolute before anything runs: papermill executes each notebook with
    # the notebook folder as the process's working directory, so a relative output folder
    # (the default ``reports``) would be resolved against another folder once execution began.
    notebook_dir = Path(notebook_dir).resolve()
    output_dir = Path(output_dir).resolve()
    if profile is not None and Path(profile).exists():
        profile = Path(profile).resolve()
    all_notebooks = sorted(notebook_dir.glob("*.ipynb"))
    notebooks = all_notebooks
    if only is not None and (isinstance(only, str) or not only):
        # a plain string would be read letter by letter, an empty list as "every notebook"
        raise ValueError(f"only = {only!r} must be a non-empty list of notebook names "
                         "(None runs every notebook)")
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
        profile_file = profile_path(profile, notebook_dir)
        if profile or profile_file.exists():
            parameters = load_profile(profile_file, all_notebooks)
            profile_label = f"profile {profile_file}"
        else:
            profile_label = f"each notebook's own defaults (no profile at {profile_file})"
    _check_output_dir(output_dir, notebook_dir, notebooks)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"output = {str(output_dir)!r} cannot be created: {exc}") from None

    runs: list[NotebookRun] = []
    # Estimates come from measured work only: each notebook's time at its last good run with
    # the same parameters (index.json), never the rate of the first notebooks.
    console = None
    if progress:
        console = ReportConsole(
            [p.stem for p in notebooks],
            {p.stem: expected_seconds(output_dir, [p.stem], profile_label) for p in notebooks},
        )
        total = expected_seconds(output_dir, [p.stem for p in notebooks], profile_label)
        console.start(
            f"report: {len(notebooks)} notebook(s) into {output_dir}, parameters: {profile_label}; "
            + (f"the last good runs with these parameters took {format_seconds(total)}"
               if total is not None
               else no_estimate([s for s, t in console.expected.items() if t is None]))
        )
    path = notebooks[0]
    with _sigterm_as_ctrl_c() as signals:
        try:
            for path in notebooks:
                if console is not None:
                    console.notebook_start(path.stem)
                import papermill  # slow to import the first time: after the first lines are out

                run = _run_one(papermill, path, output_dir, notebook_dir, parameters, profile_label,
                               kernel_name, console, show_code)
                runs.append(run)
                if console is not None:
                    console.notebook_done(run.notebook, run.ok, run.seconds)
        except KeyboardInterrupt:
            how = "SIGTERM" if signals else "interrupted"
            raise ReportInterrupted(
                f"{how} during {path.stem}; {len(runs)} notebook(s) finished, earlier reports "
                "are kept complete",
                signals[0] if signals else signal.SIGINT,
            ) from None
        finally:
            if console is not None:
                console.close()
            if runs:
                write_index(output_dir, runs, profile_label)
    return runs


def _with_summary_dir(papermill: Any, path: Path, params: dict[str, Any], output_dir: Path) -> dict[str, Any]:
    # a notebook that declares ``summary_dir`` writes its key figures next to its HTML page
    if "summary_dir" in papermill.inspect_notebook(str(path)):
        return {**params, "summary_dir": str(output_dir.resolve())}
    return params


def _cell_seconds(executed: Path) -> list[float]:
    """Each executed cell's time (papermill's cell metadata), for the next run's estimates."""
    try:
        cells = json.loads(executed.read_text(encoding="utf-8")).get("cells", [])
        return [float((c.get("metadata", {}).get("papermill") or {}).get("duration") or 0.0) for c in cells]
    except (OSError, ValueError, AttributeError, TypeError):
        return []


def _title(executed: Path) -> str:
    import nbformat

    try:
        return notebook_title(nbformat.read(executed, as_version=4))
    except (OSError, ValueError, AttributeError):
        return ""


def _run_one(
    papermill: Any,
    path: Path,
    output_dir: Path,
    notebook_dir: Path,
    parameters: dict[str, dict[str, Any]],
    profile_label: str,
    kernel_name: str,
    console: ReportConsole | None = None,
    show_code: bool = False,
) -> NotebookRun:
    """Execute one notebook into a temporary file; keep it as ``.ipynb`` or ``.failed.ipynb``;
    render its page (findings first: its summary's headline, written by this run)."""
    import tempfile

    start = time.perf_counter()
    started_at = time.time()
    error = ""
    executed = output_dir / f"{path.stem}.ipynb"
    failed = output_dir / f"{path.stem}.failed.ipynb"
    kernel_log = output_dir / f"{path.stem}.kernel.log"
    kernel_log.unlink(missing_ok=True)
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
                progress_bar=False,  # the report's console shows the cells (and their loops)
                engine_name=progress_engine(
                    progress_file, console, expected_cell_seconds(output_dir, path.stem, profile_label)
                ),
                kernel_manager_class=kernel_manager_class(kernel_log, Path(tmpdir)),
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
    finished = time.strftime("%Y-%m-%d %H:%M:%S")
    note = (f"Ran {finished} in {format_seconds(seconds)}; parameters: {profile_label}. "
            + ("The page shows the code." if show_code or error else
               "Code hidden: python -m oasis_lab report --show-code renders it."))
    headline: dict[str, Any] = {}
    cells: list[float] = []
    title = ""
    if error:
        target = output_dir / f"{path.stem}.failed.html"
        if failed.exists():
            title = _title(failed)
            render_file(failed, target, run_note=note, error=error)
        else:  # it failed before papermill wrote anything (no kernel, unreadable notebook)
            with atomic_write(target, "w", encoding="utf-8") as fh:
                fh.write(f"<!doctype html><html><body><h1>{html.escape(path.stem)} failed</h1>"
                         f"<pre>{html.escape(error)}</pre></body></html>")
    else:
        target = output_dir / f"{path.stem}.html"
        summary = output_dir / f"{path.stem}.summary.json"
        # only a summary this run wrote: an earlier run's numbers must not head this page
        if summary.exists() and summary.stat().st_mtime >= started_at - 1:
            headline = read_headline(output_dir, path.stem)
        title, cells = _title(executed), _cell_seconds(executed)
        render_file(executed, target, show_code=show_code, headline=headline, run_note=note)
        # a stale failure from an earlier run would contradict this success
        (output_dir / f"{path.stem}.failed.html").unlink(missing_ok=True)
        failed.unlink(missing_ok=True)
    return NotebookRun(path.stem, not error, seconds, target, error, profile_label, finished=finished,
                       title=title or path.stem, headline=headline, cell_seconds=cells,
                       show_code=show_code or bool(error))
