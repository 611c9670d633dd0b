"""The report job: papermill execution, HTML rendering, failures kept apart."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from oasis_lab.__main__ import build_parser, main
from oasis_lab.report import load_profile, run_report


def _write_notebook(path: Path, body: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("size = 1", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(body),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture()
def notebook_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "nbs"
    folder.mkdir()
    _write_notebook(folder / "a_ok.ipynb", "print('size is', size * 7)")
    _write_notebook(folder / "b_fails.ipynb", "raise RuntimeError('boom in notebook')")
    (folder / "params").mkdir()
    (folder / "params" / "full.yaml").write_text("a_ok:\n  size: 6\n")
    return folder


def test_report_renders_html_and_keeps_going_after_a_failure(notebook_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    good_page = out / "b_fails.html"
    out.mkdir()
    good_page.write_text("earlier good result")
    runs = run_report(out, notebook_dir=notebook_dir, progress=False)
    assert [r.notebook for r in runs] == ["a_ok", "b_fails"]
    assert runs[0].ok and not runs[1].ok
    assert "RuntimeError" in runs[1].error or "boom" in runs[1].error
    page = (out / "a_ok.html").read_text()
    assert "size is 42" in page  # the full profile's size = 6 was injected
    assert "boom in notebook" in (out / "b_fails.failed.html").read_text()
    assert good_page.read_text() == "earlier good result"  # nothing lost
    assert "FAILED" in (out / "index.html").read_text()


def test_quick_uses_notebook_defaults(notebook_dir: Path, tmp_path: Path) -> None:
    runs = run_report(tmp_path / "r", notebook_dir=notebook_dir, quick=True, only=["a_ok"], progress=False)
    assert runs[0].ok
    assert "size is 7" in (tmp_path / "r" / "a_ok.html").read_text()


def test_unknown_notebook_is_a_clear_error(notebook_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown notebook\(s\) \['zzz'\]"):
        run_report(tmp_path, notebook_dir=notebook_dir, only=["zzz"], progress=False)


def test_bad_profile_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "p.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ValueError, match="must map notebook names"):
        load_profile(bad)


def test_shipped_full_profile_names_existing_notebooks() -> None:
    root = Path(__file__).resolve().parent.parent / "notebooks"
    profile = load_profile(root / "params" / "full.yaml")
    assert set(profile) <= {p.stem for p in root.glob("*.ipynb")}


def test_cli_lists_subcommands(capsys) -> None:
    help_text = build_parser().format_help()
    assert "report" in help_text
    assert main([]) == 2  # no subcommand: help and a usage status
