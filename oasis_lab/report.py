"""The main job: execute every notebook with papermill and render it to HTML.

``python -m oasis_lab report`` runs ``notebooks/*.ipynb`` in order with the study-sized
parameters of ``notebooks/params/full.yaml`` (``--quick``: the small CI defaults of each
notebook's ``parameters`` cell), renders each executed notebook to ``reports/<name>.html`` with
nbconvert, and writes ``reports/index.html`` linking them with their status and run time.

A notebook that fails is rendered to ``<name>.failed.html`` (showing the error) and the run goes
on with the others; an earlier good ``<name>.html`` is left in place, so a failed run never
destroys earlier results.
"""

from __future__ import annotations

import argparse
import html
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["NOTEBOOK_DIR", "NotebookRun", "load_profile", "run_report", "register_cli", "write_summary"]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"


@dataclass(frozen=True)
class NotebookRun:
    """Outcome of one notebook in a report run."""

    notebook: str
    ok: bool
    seconds: float
    html: Path
    error: str = ""


def load_profile(path: Path) -> dict[str, dict[str, Any]]:
    """Read a parameter profile: ``{notebook stem: {parameter: value}}`` from YAML.

    Raises
    ------
    ValueError
        The file is not a mapping of notebook names to parameter mappings.
    """
    import yaml  # papermill's own dependency, declared in pyproject.toml

    if not path.exists():
        raise FileNotFoundError(f"parameter profile {str(path)!r} does not exist")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, dict) for k, v in data.items()
    ):
        raise ValueError(
            f"parameter profile {str(path)!r} must map notebook names to parameter mappings"
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
    if isinstance(value, float) and value != value:
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
    import json

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{notebook}.summary.json"
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(_plain(figures), indent=1, sort_keys=True, allow_nan=False) + "\n")
    tmp.replace(target)
    return target


def _render_html(executed: Path, target: Path) -> None:
    import nbformat
    from nbconvert import HTMLExporter

    notebook = nbformat.read(executed, as_version=4)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(notebook)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(target)


def _write_index(output_dir: Path, runs: list[NotebookRun], quick: bool) -> Path:
    rows = "\n".join(
        f"<tr><td><a href='{html.escape(r.html.name)}'>{html.escape(r.notebook)}</a></td>"
        f"<td>{'ok' if r.ok else 'FAILED'}</td><td>{r.seconds:.1f} s</td>"
        f"<td>{html.escape(r.error)}</td></tr>"
        for r in runs
    )
    profile = "quick (CI parameters)" if quick else "full (notebooks/params/full.yaml)"
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>oasis-lab report</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 12px;text-align:left}"
        "</style></head><body><h1>oasis-lab report</h1>"
        f"<p>Profile: {profile}; generated {time.strftime('%Y-%m-%d %H:%M:%S')}.</p>"
        "<table><tr><th>notebook</th><th>status</th><th>time</th><th>error</th></tr>"
        f"{rows}</table></body></html>"
    )
    index = output_dir / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


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

    Parameters
    ----------
    output_dir : path
        Where ``<name>.html``, ``<name>.ipynb`` (executed) and ``index.html`` go.
    quick : bool
        Use each notebook's own (CI-sized) defaults instead of the full profile.
    notebook_dir : path
        Folder of ``*.ipynb`` (executed with it as working directory).
    only : list of str, optional
        Notebook stems to run (default: all).
    profile : path, optional
        Parameter profile; default ``<notebook_dir>/params/full.yaml`` when it exists.
    kernel_name : str
        Jupyter kernel to execute with.
    progress : bool
        Show a tqdm progress bar over notebooks.

    Returns
    -------
    list of NotebookRun
        One per notebook, in execution order.
    """
    import papermill
    from tqdm.auto import tqdm

    notebook_dir = Path(notebook_dir)
    output_dir = Path(output_dir)
    notebooks = sorted(notebook_dir.glob("*.ipynb"))
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
    if not quick:
        profile_path = Path(profile) if profile else notebook_dir / "params" / "full.yaml"
        if profile or profile_path.exists():
            parameters = load_profile(profile_path)
    output_dir.mkdir(parents=True, exist_ok=True)

    runs: list[NotebookRun] = []
    bar = tqdm(notebooks, desc="notebooks", unit="nb", disable=not progress)
    for path in bar:
        bar.set_postfix_str(path.stem)
        executed = output_dir / f"{path.stem}.ipynb"
        start = time.perf_counter()
        error = ""
        try:
            papermill.execute_notebook(
                str(path),
                str(executed),
                # each notebook writes its key figures next to its HTML page
                parameters={**parameters.get(path.stem, {}), "summary_dir": str(output_dir.resolve())},
                cwd=str(notebook_dir),
                kernel_name=kernel_name,
                progress_bar=False,
            )
        except Exception as exc:  # a failing notebook is reported, the others still run
            # the last line of papermill's message names the failing cell's exception
            last_line = (str(exc).strip().splitlines() or [""])[-1]
            error = f"{type(exc).__name__}: {last_line}"
        seconds = time.perf_counter() - start
        target = output_dir / (f"{path.stem}.html" if not error else f"{path.stem}.failed.html")
        if executed.exists():
            _render_html(executed, target)
        if not error:
            # a stale failure page from an earlier run would contradict this success
            (output_dir / f"{path.stem}.failed.html").unlink(missing_ok=True)
        runs.append(NotebookRun(path.stem, not error, seconds, target, error))
    _write_index(output_dir, runs, quick)
    return runs


def _cli(args: argparse.Namespace) -> int:
    runs = run_report(
        args.output,
        quick=args.quick,
        only=args.only.split(",") if args.only else None,
        profile=args.profile,
        progress=not args.no_progress,
    )
    table = pd.DataFrame(
        {
            "notebook": [r.notebook for r in runs],
            "status": ["ok" if r.ok else "FAILED" for r in runs],
            "seconds": [round(r.seconds, 1) for r in runs],
            "html": [str(r.html) for r in runs],
        }
    )
    print(table.to_string(index=False))
    print(f"\nReport: {Path(args.output).resolve() / 'index.html'}")
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
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="small CI parameters (fast)")
    parser.add_argument("--output", default="reports", help="output folder (default: reports)")
    parser.add_argument("--only", help="comma-separated notebook names to run")
    parser.add_argument("--profile", help="parameter profile YAML (default: notebooks/params/full.yaml)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=_cli)
