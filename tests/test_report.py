"""The report job: papermill execution, HTML rendering, failures kept apart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from oasis_lab.__main__ import build_parser, main
from oasis_lab.report import load_profile, run_report


def _write_cells(path: Path, cells: list[tuple[str, str]]) -> None:
    nb = nbformat.v4.new_notebook()
    for kind, source in cells:
        if kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(source))
        else:
            tags = ["parameters"] if kind == "parameters" else []
            nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"tags": tags}))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def _write_notebook(path: Path, body: str) -> None:
    _write_cells(path, [("parameters", "size = 1"), ("code", body)])


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


@pytest.mark.parametrize("only", [[], "a_ok", ""])
def test_only_must_name_notebooks(only, notebook_dir: Path, tmp_path: Path) -> None:
    # issue 21 item 16: `report --only ""` ran every notebook; an empty list (or a string, read
    # letter by letter) is refused before anything runs
    with pytest.raises(ValueError, match="only = .* must be a non-empty list of notebook names"):
        run_report(tmp_path / "r", notebook_dir=notebook_dir, only=only, progress=False)
    assert not (tmp_path / "r").exists()


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


# ---------------------------------------------------------------- reports never destroy files
def test_output_in_the_notebook_folder_is_refused(notebook_dir: Path) -> None:
    before = {p.name: p.read_bytes() for p in notebook_dir.glob("*.ipynb")}
    with pytest.raises(ValueError, match="is the notebook folder"):
        run_report(notebook_dir, notebook_dir=notebook_dir, progress=False)
    assert {p.name: p.read_bytes() for p in notebook_dir.glob("*.ipynb")} == before


def test_cli_refuses_the_shipped_notebook_folder(capsys) -> None:
    root = Path(__file__).resolve().parent.parent / "notebooks"
    before = {p.name: p.read_bytes() for p in root.glob("*.ipynb")}
    assert main(["report", "--quick", "--output", str(root), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is the notebook folder" in err[0]
    assert {p.name: p.read_bytes() for p in root.glob("*.ipynb")} == before


def test_output_folder_holding_copies_of_sources_is_refused(notebook_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    out.mkdir()
    source_copy = (notebook_dir / "a_ok.ipynb").read_bytes()
    (out / "a_ok.ipynb").write_bytes(source_copy)
    with pytest.raises(ValueError, match="holds a_ok.ipynb, a notebook that is not an executed report"):
        run_report(out, notebook_dir=notebook_dir, quick=True, progress=False)
    assert (out / "a_ok.ipynb").read_bytes() == source_copy


def test_index_lists_every_report_present(notebook_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    run_report(out, notebook_dir=notebook_dir, progress=False)
    run_report(out, notebook_dir=notebook_dir, quick=True, only=["a_ok"], progress=False)
    index = (out / "index.html").read_text()
    assert "a_ok.html" in index and "b_fails.failed.html" in index
    # each row says which parameters it was run with; the header the latest run's
    assert "quick: each notebook&#x27;s own defaults" in index
    assert f"profile {notebook_dir / 'params' / 'full.yaml'}" in index
    # a report written before records were kept is listed too
    (out / "old_study.html").write_text("earlier")
    run_report(out, notebook_dir=notebook_dir, quick=True, only=["a_ok"], progress=False)
    assert "old_study.html" in (out / "index.html").read_text()


def test_failed_rerun_keeps_the_good_executed_notebook(notebook_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert run_report(out, notebook_dir=notebook_dir, quick=True, only=["a_ok"], progress=False)[0].ok
    good_ipynb, good_html = (out / "a_ok.ipynb").read_bytes(), (out / "a_ok.html").read_bytes()
    _write_notebook(notebook_dir / "a_ok.ipynb", "raise ValueError('broken now')")
    run = run_report(out, notebook_dir=notebook_dir, quick=True, only=["a_ok"], progress=False)[0]
    assert not run.ok and run.html.name == "a_ok.failed.html"
    assert (out / "a_ok.ipynb").read_bytes() == good_ipynb
    assert (out / "a_ok.html").read_bytes() == good_html
    assert "broken now" in (out / "a_ok.failed.ipynb").read_text()
    index = (out / "index.html").read_text()
    assert "FAILED" in index and "last good report" in index
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_unknown_profile_keys_are_named(notebook_dir: Path, tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text("a_okk:\n  size: 6\n")
    with pytest.raises(ValueError, match=r"unknown notebook\(s\) \['a_okk'\]; available: \['a_ok', 'b_fails'\]"):
        run_report(tmp_path / "r", notebook_dir=notebook_dir, profile=profile, progress=False)
    profile.write_text("a_ok:\n  sise: 6\n")
    with pytest.raises(ValueError, match=r"notebook 'a_ok' has no parameter\(s\) \['sise'\]"):
        run_report(tmp_path / "r", notebook_dir=notebook_dir, profile=profile, progress=False)
    assert not (tmp_path / "r").exists()  # checked before anything ran


def test_shipped_full_profile_names_existing_parameters() -> None:
    root = Path(__file__).resolve().parent.parent / "notebooks"
    load_profile(root / "params" / "full.yaml", sorted(root.glob("*.ipynb")))


@pytest.mark.parametrize("case", ["existing_file", "unwritable", "malformed_yaml", "profile_dir"])
def test_bad_report_arguments_give_one_line(case, notebook_dir: Path, tmp_path: Path, capsys,
                                            monkeypatch) -> None:
    out = tmp_path / "r"
    args = ["report", "--no-progress"]
    expected = {
        "existing_file": "is a file, not a folder",
        "unwritable": "is not writable",
        "malformed_yaml": "is not valid YAML",
        "profile_dir": "is a directory, not a YAML file",
    }[case]
    if case == "existing_file":
        out.write_text("not a folder")
    elif case == "unwritable":
        import oasis_lab.files

        real_access = oasis_lab.files.os.access
        monkeypatch.setattr(oasis_lab.files.os, "access",
                            lambda p, mode: False if Path(p) == tmp_path else real_access(p, mode))
    elif case == "malformed_yaml":
        bad = tmp_path / "bad.yaml"
        bad.write_text("a_ok:\n  size: [1, 2\n")
        args += ["--profile", str(bad)]
    else:
        args += ["--profile", str(tmp_path)]
    monkeypatch.setattr("oasis_lab.report.NOTEBOOK_DIR", notebook_dir)
    assert main([*args, "--output", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err


_SLOW = "import time\nfor _ in range(600):\n    time.sleep(0.1)"


def _report_reaching(notebook_dir: Path, out: Path, stem: str, only: str | None) -> subprocess.Popen:
    """``python -m oasis_lab report --quick`` (of ``only``, or every notebook) in its own process
    group, returned once the slow cell of notebook ``stem`` is running."""
    code = (
        "import sys; from oasis_lab.__main__ import main\n"
        "import oasis_lab.report as r; r.NOTEBOOK_DIR = sys.argv[1]\n"
        "only = ['--only', sys.argv[3]] if sys.argv[3] else []\n"
        "sys.exit(main(['report', '--quick', *only, '--no-progress', '--output', sys.argv[2]]))"
    )
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen([sys.executable, "-c", code, str(notebook_dir), str(out), only or ""], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (
        out.exists() and any(p.name.startswith(f".{stem}") and p.name.endswith(".tmp.ipynb") for p in out.iterdir())
    ):
        time.sleep(0.2)
    time.sleep(2.0)  # the slow cell is running
    return proc


def test_sigint_ends_with_one_line_and_keeps_earlier_reports(notebook_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    run_report(out, notebook_dir=notebook_dir, quick=True, only=["a_ok"], progress=False)
    good = (out / "a_ok.ipynb").read_bytes()
    _write_notebook(notebook_dir / "a_ok.ipynb", _SLOW)
    proc = _report_reaching(notebook_dir, out, "a_ok", only="a_ok")
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("interrupted"), err
    assert (out / "a_ok.ipynb").read_bytes() == good
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_sigterm_ends_as_ctrl_c_does_and_records_the_finished_notebooks(notebook_dir: Path, tmp_path: Path) -> None:
    # Issue 21 item 15: SIGTERM (kill, timeout, a cancelled CI job) killed the report outright:
    # no index, the finished notebook's record lost, a stray temporary notebook left behind.
    import json

    out = tmp_path / "r"
    _write_notebook(notebook_dir / "b_fails.ipynb", _SLOW)  # a_ok finishes, then b runs long
    proc = _report_reaching(notebook_dir, out, "b_fails", only=None)
    proc.send_signal(signal.SIGTERM)  # to the report process only, as kill does
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith("interrupted: SIGTERM during b_fails; 1 notebook(s) finished"), err
    records = json.loads((out / "index.json").read_text())
    assert set(records) == {"a_ok"} and records["a_ok"]["latest"]["ok"]
    assert "a_ok.html" in (out / "index.html").read_text()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary notebook left
    assert not (out / "b_fails.ipynb").exists() and not (out / "b_fails.failed.ipynb").exists()


def test_sigkill_mid_run_keeps_the_good_report_and_the_next_run_cleans_up(
    notebook_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r"
    run_report(out, notebook_dir=notebook_dir, quick=True, only=["a_ok"], progress=False)
    good = (out / "a_ok.ipynb").read_bytes(), (out / "a_ok.html").read_bytes()
    source = (notebook_dir / "a_ok.ipynb").read_bytes()
    _write_notebook(notebook_dir / "a_ok.ipynb", _SLOW)
    proc = _report_reaching(notebook_dir, out, "a_ok", only="a_ok")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert ((out / "a_ok.ipynb").read_bytes(), (out / "a_ok.html").read_bytes()) == good
    leftovers = [p for p in out.iterdir() if p.name.startswith(".")]
    assert leftovers and all(p.name.endswith(".tmp.ipynb") for p in leftovers)  # hidden, partial
    (notebook_dir / "a_ok.ipynb").write_bytes(source)
    assert run_report(out, notebook_dir=notebook_dir, quick=True, only=["a_ok"], progress=False)[0].ok
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # the killed run's file is gone


_CLI = (
    "import sys; import oasis_lab.report as r; from oasis_lab.__main__ import main\n"
    "r.NOTEBOOK_DIR = sys.argv[1]\n"
    "sys.exit(main(['report', '--quick', '--only', sys.argv[3], '--output', sys.argv[2]]))"
)


def _report_cli(notebook_dir: Path, out: Path, stem: str) -> tuple[int, str]:
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-c", _CLI, str(notebook_dir), str(out), stem],
                          cwd=root, capture_output=True, text=True, timeout=240)
    return proc.returncode, proc.stdout + proc.stderr


def test_the_report_log_holds_no_warnings(notebook_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    code, log = _report_cli(notebook_dir, out, "a_ok")
    assert code == 0, log
    kernel_log = (out / "a_ok.kernel.log").read_text() if (out / "a_ok.kernel.log").exists() else ""
    for text in (log, kernel_log):
        assert "warn" not in text.lower(), text  # e.g. the kernel's TCP transport warning


def test_long_cells_show_their_own_progress_on_the_console(notebook_dir: Path, tmp_path: Path) -> None:
    _write_notebook(
        notebook_dir / "c_slow.ipynb",
        "import time\nfrom oasis_lab.progress import progress_bar\n"
        "for _ in progress_bar(range(8), desc='inner-study', unit='market'):\n    time.sleep(0.4)",
    )
    code, log = _report_cli(notebook_dir, tmp_path / "r", "c_slow")
    assert code == 0, log
    import re

    lines = log.splitlines()  # the CLI's table (stdout), then the console (stderr)
    first = next(k for k, line in enumerate(lines) if line.startswith("report: "))
    # at once: the run, then the notebook (before its kernel is up), and no invented estimate
    assert lines[first].startswith("report: 1 notebook(s) into "), log
    assert lines[first + 1].startswith("[1/1] c_slow · ") and lines[first + 1].endswith("no estimate"), log
    assert re.search(r"  cell 2/2 \[import time\].* > inner-study: \d/8 markets", log), log  # the kernel's bar
    assert re.search(r"^ok +c_slow in ", log, re.M), log
    # a second run estimates from the first one's measured times
    code, log = _report_cli(notebook_dir, tmp_path / "r", "c_slow")
    assert code == 0 and "left (the last run's times)" in log and "(last run " in log, log


def test_a_profile_can_be_named(notebook_dir: Path, tmp_path: Path) -> None:
    (notebook_dir / "params" / "large.yaml").write_text("a_ok:\n  size: 100\n")
    runs = run_report(tmp_path / "r", notebook_dir=notebook_dir, only=["a_ok"], profile="large",
                      progress=False)
    assert runs[0].ok and "large.yaml" in runs[0].profile
    assert "size is 700" in (tmp_path / "r" / "a_ok.html").read_text()
    with pytest.raises(FileNotFoundError, match="huge"):
        run_report(tmp_path / "r", notebook_dir=notebook_dir, only=["a_ok"], profile="huge",
                   progress=False)


def test_concurrent_index_updates_keep_every_entry(tmp_path: Path) -> None:
    # Two report runs into one folder merge their records under a lock: none is lost.
    import threading

    from oasis_lab.report.index import NotebookRun, write_index

    out = tmp_path / "r"
    out.mkdir()
    names = [f"nb{k:02d}" for k in range(16)]
    for name in names:
        (out / f"{name}.html").write_text("page")

    def write(name: str) -> None:
        write_index(out, [NotebookRun(name, True, 1.0, out / f"{name}.html", "", "profile p")], "p")

    threads = [threading.Thread(target=write, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    import json

    records = json.loads((out / "index.json").read_text())
    assert all(records[n]["latest"]["profile"] == "profile p" for n in names)


# ------------------------------------------------------------ pages open with their findings
_FIGURE_NB = [
    ("markdown", "# C · a study with a figure\n\nWhat this study asks."),
    ("parameters", "size = 3\nsummary_dir = 'reports'"),
    ("code", "import matplotlib.pyplot as plt\n"
             "from oasis_lab.report import write_summary"),
    ("markdown", "## The figure"),
    ("code", "fig, ax = plt.subplots(figsize=(4, 3))\nax.plot(range(size))\nplt.show()"),
    ("code", "print('served', 10989 * size)"),
    ("code", "write_summary('c_figure', {'served': 10989 * size, 'headline': {\n"
             "    'tasks served': 10989 * size, 'welfare / optimum': 0.87912, 'verdict': 'cheater caught'}},\n"
             "    summary_dir)"),
]


@pytest.fixture()
def figure_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "nbs_figure"
    folder.mkdir()
    _write_cells(folder / "c_figure.ipynb", _FIGURE_NB)
    return folder


@pytest.mark.browser
def test_a_page_opens_with_its_title_and_findings_and_no_code(figure_dir: Path, tmp_path: Path,
                                                              open_offline) -> None:
    out = tmp_path / "r"
    run = run_report(out, notebook_dir=figure_dir, profile=None, progress=False)[0]
    assert run.ok, run.error
    seen = open_offline(out / "c_figure.html")
    assert seen["blocked"] == [] and seen["errors"] == [] and seen["empty"] == 0, seen
    layout = seen["layout"]
    # first the title, then the findings: the headline numbers of this run, in the notebook's order
    assert layout["first_blocks"][0] == "C · a study with a figure¶" or \
        layout["first_blocks"][0].startswith("C · a study with a figure"), layout
    assert layout["first_blocks"][1].startswith("Findings"), layout
    findings = layout["findings"]
    assert "tasks served: 32,967" in findings and "welfare / optimum: 0.8791" in findings, findings
    assert findings.index("tasks served") < findings.index("welfare / optimum") < findings.index("verdict")
    assert "cheater caught" in findings and "in" in findings and "parameters:" in findings
    # no code anywhere, so none above the first figure; the outputs are all there
    assert layout["code_cells"] == 0 and layout["code_top"] is None, layout
    assert layout["title_top"] < layout["findings_top"] < layout["figure_top"], layout
    page = (out / "c_figure.html").read_text()
    assert "served 32967" in page and "matplotlib.pyplot" not in page
    # the parameters cell is out of the page's flow, its values in the closed box of the findings
    assert "Parameters of this run" in page and "size = 3" in page


@pytest.mark.browser
def test_show_code_renders_every_cell_with_its_code(figure_dir: Path, tmp_path: Path, open_offline) -> None:
    out = tmp_path / "r"
    assert run_report(out, notebook_dir=figure_dir, progress=False, show_code=True)[0].ok
    layout = open_offline(out / "c_figure.html")["layout"]
    assert layout["first_blocks"][1].startswith("Findings"), layout  # findings first still
    assert layout["code_cells"] >= 4 and layout["code_top"] < layout["figure_top"], layout
    assert "matplotlib.pyplot" in (out / "c_figure.html").read_text()
    index = (out / "index.html").read_text()
    assert "page shows the code" in index  # the index records the switch


def test_pages_take_the_headline_of_this_run_only(figure_dir: Path, tmp_path: Path) -> None:
    # a summary left by an earlier run must not head a page of a run that wrote none
    out = tmp_path / "r"
    out.mkdir()
    nb = figure_dir / "c_figure.ipynb"
    _write_cells(nb, [c for c in _FIGURE_NB if "write_summary(" not in c[1]])
    import json

    (out / "c_figure.summary.json").write_text(json.dumps({"headline": {"stale number": 1}}))
    import os

    os.utime(out / "c_figure.summary.json", (1, 1))  # written long before this run
    run = run_report(out, notebook_dir=figure_dir, progress=False)[0]
    assert run.ok and run.headline == {}
    page = (out / "c_figure.html").read_text()
    assert "stale number" not in page and "states no headline numbers" in page


def test_the_index_lists_titles_headlines_and_each_notebooks_own_time(figure_dir: Path, tmp_path: Path) -> None:
    import json

    _write_notebook(figure_dir / "d_slow.ipynb", "import time\ntime.sleep(1.5)\nprint('slow done')")
    out = tmp_path / "r"
    runs = run_report(out, notebook_dir=figure_dir, progress=False)
    assert [r.notebook for r in runs] == ["c_figure", "d_slow"] and all(r.ok for r in runs)
    records = json.loads((out / "index.json").read_text())
    c, d = records["c_figure"]["latest"], records["d_slow"]["latest"]
    # each notebook's own finishing time: d ran 1.5 s after c finished (not the index's time)
    assert c["finished"] < d["finished"], (c["finished"], d["finished"])
    assert d["seconds"] >= 1.5 and c["title"] == "C · a study with a figure" and d["title"] == "d_slow"
    assert list(c["headline"]) == ["tasks served", "welfare / optimum", "verdict"]
    index = (out / "index.html").read_text()
    for text in ("C · a study with a figure", "tasks served: <b>32,967</b>", "welfare / optimum: <b>0.8791</b>",
                 f"finished {c['finished']}", f"finished {d['finished']}"):
        assert text in index, text
    from oasis_lab.progress import format_seconds

    assert format_seconds(c["seconds"]) in index and format_seconds(d["seconds"]) in index
    # the cells' times of this run are kept for the next run's estimates
    assert len(c["cell_seconds"]) == len(nbformat.read(out / "c_figure.ipynb", as_version=4).cells)


def test_a_failed_page_says_so_first_and_shows_its_code(notebook_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    run_report(out, notebook_dir=notebook_dir, only=["b_fails"], progress=False)
    page = (out / "b_fails.failed.html").read_text()
    # the failure first, then the cells with their code
    assert page.index("This run failed: PapermillExecutionError: RuntimeError: boom in notebook") < \
        page.index('<div class="jp-Cell jp-CodeCell') < page.index('<span class="ne">RuntimeError</span>')
    assert "An Exception was encountered" not in page  # papermill's banner: the findings say it


@pytest.mark.parametrize(("headline", "error", "match"), [
    ([("a", 1)], TypeError, "headline must be a dict"),
    ({}, ValueError, "headline has 0 entries"),
    ({f"k{i}": i for i in range(9)}, ValueError, "headline has 9 entries; give 1 to 8"),
    ({"": 1}, ValueError, "headline label '' must be a text"),
    ({"welfare": [1, 2]}, TypeError, r"headline\['welfare'\] must be a number, a bool or a text, got list"),
    ({"note": "x" * 161}, ValueError, r"headline\['note'\] is 161 characters long"),
])
def test_a_bad_headline_is_refused_naming_it(headline, error, match, tmp_path: Path) -> None:
    from oasis_lab.report import write_summary

    with pytest.raises(error, match=match):
        write_summary("x", {"headline": headline}, tmp_path)
    assert not (tmp_path / "x.summary.json").exists()


def test_a_headline_keeps_its_order_and_numpy_values(tmp_path: Path) -> None:
    import json

    import numpy as np

    from oasis_lab.report import write_summary
    from oasis_lab.report.summary import read_headline

    write_summary("x", {"z": 1, "headline": {"zeta": np.float64(0.5), "alpha": np.int64(3),
                                             "nan": np.nan}, "a": {"y": 1, "b": 2}}, tmp_path)
    data = json.loads((tmp_path / "x.summary.json").read_text())
    assert list(data) == ["a", "headline", "z"] and list(data["a"]) == ["b", "y"]  # sorted...
    assert read_headline(tmp_path, "x") == {"zeta": 0.5, "alpha": 3, "nan": None}  # ...but this
    assert read_headline(tmp_path, "missing") == {}
