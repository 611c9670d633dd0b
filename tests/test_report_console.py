"""The report's console and the package's progress bars: honest time, nothing silent.

The console is driven with a clock of its own (no sleeping, no timing); the progress bars with
the report's progress file set, as the report's kernel has it.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from oasis_lab.progress import PROGRESS_ENV, format_seconds, progress_bar, read_progress
from oasis_lab.report.console import ReportConsole


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _console(expected: dict[str, float | None], tty: bool = False) -> tuple[ReportConsole, io.StringIO, Clock]:
    clock = Clock()
    stream: io.StringIO = Terminal() if tty else io.StringIO()
    return ReportConsole(list(expected), expected, stream=stream, clock=clock), stream, clock


def test_the_first_lines_come_at_once_and_a_first_run_has_no_estimate() -> None:
    console, out, clock = _console({"a": None, "b": None})
    console.start("report: 2 notebook(s)")
    console.notebook_start("a")
    lines = out.getvalue().splitlines()
    assert lines[0] == "report: 2 notebook(s)"
    # the notebook before its kernel is up, the time elapsed, and no invented estimate
    assert lines[1] == "[1/2] a · 0.0 s elapsed · no earlier good run of a, b with these parameters: no estimate"
    clock.now = 65.0
    console.cells_known(5, None)
    console.cell_start(3, "# a study\nframe = sweep(study, grid, seeds)")
    head, cell = console.lines()
    assert "1 min 05 s elapsed" in head and "left" not in head
    assert cell.startswith("  cell 4/5 [frame = sweep(study, grid, seeds)]") and "left" not in cell


def test_the_estimates_count_the_last_runs_measured_cell_times_not_cells() -> None:
    # cell 2 took 100 s last time, the others 1 s: after two quick cells the notebook is not
    # 2/4 done (as a count of cells would say), it has about 101 s to go
    console, _, clock = _console({"a": 103.0, "b": 50.0})
    console.notebook_start("a")
    console.cells_known(4, [1.0, 1.0, 100.0, 1.0])
    clock.now = 2.0
    console.cell_start(2)
    head, cell = console.lines()
    assert "about 1 min 41 s left" in cell and "last run 1 min 40 s" in cell
    assert "about 2 min 31 s left (the last run's times)" in head  # 101 s here + b's 50 s
    clock.now = 32.0  # 30 s into the long cell
    head, cell = console.lines()
    assert "about 1 min 11 s left" in cell and "about 2 min 01 s left" in head
    clock.now = 500.0  # far beyond the last run's time: no negative time left
    assert "about 1.0 s left" in console.lines()[1]


def test_cell_times_of_another_notebook_shape_are_not_used() -> None:
    console, _, _ = _console({"a": 40.0})
    console.notebook_start("a")
    console.cells_known(5, [1.0, 1.0, 1.0])  # the notebook changed since: 5 cells now
    console.cell_start(1)
    head, cell = console.lines()
    assert "last run" not in cell and "about 40 s left" in head  # the notebook's total only


def test_a_log_gets_a_line_per_cell_and_the_cells_progress_at_once_then_rarely() -> None:
    console, out, clock = _console({"a": None})
    console.notebook_start("a")
    console.cells_known(3, None)
    console.cell_start(1, "study = run(config, seed)")
    console.progress("sweep deterrence: 0/40 points, 0.0 s elapsed")  # at once: the first one
    clock.now = 5.0
    console.progress("sweep deterrence: 3/40 points, 5.0 s elapsed")  # too soon after it
    clock.now = 16.0
    console.progress("sweep deterrence: 9/40 points, 16 s elapsed")
    console.notebook_done("a", True, 20.0)
    lines = out.getvalue().splitlines()
    assert lines[1] == "  cell 2/3 [study = run(config, seed)]"
    assert [re.search(r"\d+/40", line).group(0) for line in lines if "sweep" in line] == ["0/40", "9/40"]
    assert "running 16 s" in lines[-2] and lines[-1] == "ok     a in 20 s"


def test_a_log_repeats_a_long_silent_cells_line() -> None:
    console, out, clock = _console({"a": None})
    console.notebook_start("a")
    console.cells_known(2, None)
    console.cell_start(1, "table = slow_loop()")
    for now in range(1, 75):  # the poll thread's ticks, one a second
        clock.now = float(now)
        console.tick()
    repeats = [line for line in out.getvalue().splitlines() if "running" in line]
    assert repeats == ["  cell 2/2 [table = slow_loop()], running 30 s",
                       "  cell 2/2 [table = slow_loop()], running 1 min 00 s"], repeats


def test_a_terminal_redraws_two_lines_in_place() -> None:
    console, out, clock = _console({"a": 10.0}, tty=True)
    console.notebook_start("a")
    console.cells_known(2, [4.0, 6.0])
    console.cell_start(0, "x = 1")
    clock.now = 3.0
    console.tick()
    text = out.getvalue()
    assert text.count("\x1b[1A") >= 2  # each redraw goes back over the two status lines
    assert text.rstrip().endswith("(last run 4.0 s; this notebook about 7.0 s left)")
    console.progress("sweep deterrence: 3/40 points, 3.0 s elapsed, about 37 s left")
    assert out.getvalue().endswith("left)\n    sweep deterrence: 3/40 points, 3.0 s elapsed, about 37 s left")
    console.close()
    # and leaves nothing behind: back over the three lines, each erased
    assert out.getvalue().endswith("\r\x1b[2K\x1b[1A\r\x1b[2K\x1b[1A\r\x1b[2K")


# ------------------------------------------------------------------------- progress bars
@pytest.fixture()
def report_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "progress.txt"
    monkeypatch.setenv(PROGRESS_ENV, str(target))
    return target


@pytest.fixture()
def seen(report_file: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every line the report's console would show, read after each publication."""
    import oasis_lab.progress as progress

    lines: list[str] = []
    publish = progress._publish

    def spy() -> None:
        publish()
        lines.append(read_progress(report_file))

    monkeypatch.setattr(progress, "_publish", spy)
    return lines


def test_under_the_report_bars_go_to_its_console_only(report_file: Path, capsys) -> None:
    outer = progress_bar(total=4, desc="sweep study", unit="point", disable=True, mininterval=0)
    outer.update(1)
    inner = progress_bar(range(30), desc="simulate", unit="round", mininterval=0)
    for k, _ in enumerate(inner):
        if k == 9:
            line = read_progress(report_file)
    # nested bars on one line, outermost first; the notebook's output gets nothing
    assert re.fullmatch(r"sweep study: 1/4 points, .* elapsed, about .* left > simulate: 9/30 rounds, .*", line), line
    assert read_progress(report_file).startswith("sweep study: 1/4 points")  # the inner bar closed
    outer.close()
    assert read_progress(report_file) == ""
    assert capsys.readouterr() == ("", "")


def test_outside_a_report_a_disabled_bar_is_silent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    assert sum(progress_bar(range(5), desc="quiet", disable=True)) == 10
    assert capsys.readouterr() == ("", "")


def test_a_sweep_reports_to_the_report_without_being_asked(seen: list[str]) -> None:
    # notebooks pass nothing: the sweep's bar reaches the report's console by default
    from oasis_lab.experiments import Deterrence
    from oasis_lab.experiments.sweep import sweep

    sweep(Deterrence(n_tasks=20, n_nodes=8), {"stake": [0.0, 100.0]}, 1, client="serial")
    assert seen[0] == "sweep deterrence: 0/2 points, 0.0 s elapsed", seen
    assert seen[-1] == ""  # closed with the sweep


def test_a_simulation_reports_its_rounds_to_the_report(seen: list[str]) -> None:
    from oasis_lab.sim import SimConfig, simulate

    simulate(SimConfig(rounds=3, tasks_per_round=20, n_providers=5), seed=1)
    assert any(line.startswith("simulate: ") and "/3 rounds" in line for line in seen), seen


def test_the_challenge_games_learners_report_to_the_report(seen: list[str]) -> None:
    # notebook 10's 2x2 game (half a minute at the study size): one step per learner pair
    from oasis_lab.incentives.learning import KNOWN_ANSWER_RUNS, known_answer_runs

    known_answer_runs(rounds=20, repetitions=2, platform_rates=(0.0,))
    n = len(KNOWN_ANSWER_RUNS)
    assert seen[0] == f"challenge game learners: 0/{n} pairs, 0.0 s elapsed", seen
    assert seen[-1] == ""  # closed with the runs


def test_a_bar_without_a_total_counts_its_steps(report_file: Path) -> None:
    bar = progress_bar(total=None, desc="fuzz numpy, webgpu", unit="batch", mininterval=0)
    assert read_progress(report_file) == "fuzz numpy, webgpu: running"
    bar.update(2)
    assert read_progress(report_file).startswith("fuzz numpy, webgpu: 2 batches, ")
    bar.close()


@pytest.mark.parametrize(("seconds", "text"), [(0.04, "0.0 s"), (9.96, "10.0 s"), (59.4, "59 s"),
                                               (60, "1 min 00 s"), (7260, "2 h 01 min")])
def test_durations_read_as_people_say_them(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text
