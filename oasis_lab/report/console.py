"""What a report run says on the console while it works: which notebook, which cell, what the
cell's own loops are doing, and how long it all took and should take.

Two lines (a third for the cell's own loops) redrawn in place on a terminal, each cut to its
width (on a log, whole lines: one each time the notebook or the cell changes, the cell's own
progress at most every :data:`LOG_EVERY` seconds, and the running cell's line again after
:data:`LOG_QUIET` seconds without one):

``[2/10] 01_greedy_vs_optimum · 1 min 02 s elapsed · about 15 min 20 s left (the last run's times)``
``  cell 6/28 [frame = sweep(...)], running 19 s (last run 18 s; this notebook about 42 s left)``
``    sweep greedy_vs_optimum: 3/12 points, 19 s elapsed, about 57 s left > compare: ...``

Estimates come only from measured work: each notebook's time at its last good run with the
same parameters (``index.json``), and within a notebook each cell's time at that run (when the
notebook still has the same cells). Without a record the console shows the time elapsed and
says there is no estimate; it never extrapolates from the first notebooks or cells, whose
costs differ from the rest.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import IO, Any

from oasis_lab.progress import format_seconds

__all__ = ["LOG_EVERY", "LOG_QUIET", "ReportConsole", "no_estimate"]

#: On a log (not a terminal), a cell's own progress line is repeated at most this often...
LOG_EVERY = 15.0
#: ... and a running cell's line at least this often.
LOG_QUIET = 30.0


class ReportConsole:
    """The report's console lines (see the module's docstring); thread-safe.

    Parameters
    ----------
    stems : sequence of str
        The notebooks of the run, in order.
    expected : mapping of stem -> seconds or None
        Each notebook's time at its last good run with the same parameters (None: no record).
    stream : file, optional
        Where the lines go (default ``sys.stderr``); a terminal gets two lines redrawn in place.
    clock : callable, optional
        Seconds (``time.perf_counter``); tests pass their own.
    """

    def __init__(self, stems: Sequence[str], expected: dict[str, float | None],
                 stream: IO[str] | None = None, clock: Callable[[], float] = time.perf_counter) -> None:
        self.stems = list(stems)
        self.expected = dict(expected)
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.clock = clock
        self.lock = threading.RLock()
        self.started = clock()
        self.stem = ""
        self.position = 0
        self.notebook_started = self.started
        self.cells = 0
        self.cell = -1  # index of the running cell (-1: the kernel is starting)
        self.cell_started = self.started
        self.cell_seconds: list[float] | None = None
        self.cell_text = ""
        self.inner = ""
        self.drawn = 0  # status lines on screen (terminal)
        self.logged_inner = ("", -1.0)  # (line, time) of the last inner line written to a log

    # ----------------------------------------------------------------- what the report tells
    def start(self, heading: str) -> None:
        """The run begins: one line at once (before anything slow is imported)."""
        self._print(heading)

    def notebook_start(self, stem: str) -> None:
        with self.lock:
            self.stem = stem
            self.position = self.stems.index(stem) + 1 if stem in self.stems else 0
            self.notebook_started = self.clock()
            self.cells, self.cell, self.inner = 0, -1, ""
            self.cell_seconds = None
            self._show(changed=True)

    def cells_known(self, n_cells: int, cell_seconds: Sequence[float] | None) -> None:
        """The notebook's cells are known (papermill injected its parameters): ``n_cells``,
        and each cell's time at the last good run when it had the same cells."""
        with self.lock:
            self.cells = n_cells
            self.cell_seconds = (list(cell_seconds)
                                 if cell_seconds is not None and len(cell_seconds) == n_cells else None)
            self._show(changed=True)

    def cell_start(self, index: int, source: str = "") -> None:
        """Cell ``index`` (0-based, as papermill counts: markdown cells included) starts;
        ``source`` its code (its first line of code is shown, to say what it does)."""
        with self.lock:
            self.cell, self.cell_started, self.inner = index, self.clock(), ""
            self.cell_text = _first_code_line(source)
            self._show(changed=True)

    def progress(self, line: str) -> None:
        """The running cell's own progress line (its loops' bars, :mod:`oasis_lab.progress`)."""
        with self.lock:
            if line != self.inner:
                self.inner = line
                self._show(changed=False)

    def tick(self) -> None:
        """Redraw the elapsed times on a terminal; on a log, repeat the running cell's line when
        nothing was written for :data:`LOG_QUIET` seconds (a long cell is never silent)."""
        with self.lock:
            if self.tty:
                self._show(changed=False)
            elif self.stem and self.cell >= 0 and self.clock() - self.logged_inner[1] >= LOG_QUIET:
                self._write(self.lines()[1] + "\n")
                self.logged_inner = (self.inner, self.clock())

    def notebook_done(self, stem: str, ok: bool, seconds: float) -> None:
        with self.lock:
            last = self.expected.get(stem)
            was = f" (last run {format_seconds(last)})" if last is not None else ""
            self._clear()
            self._write(f"{'ok' if ok else 'FAILED':6} {stem} in {format_seconds(seconds)}{was}\n")
            self.stem, self.cell, self.inner = "", -1, ""

    def close(self) -> None:
        with self.lock:
            self._clear()

    # ----------------------------------------------------------------------------- the lines
    def lines(self) -> tuple[str, str]:
        """The notebook's and the cell's status lines as they read now (on a log the cell's
        line ends with its loops' progress; a terminal draws that on a third line)."""
        now = self.clock()
        head = (f"[{self.position}/{len(self.stems)}] {self.stem} · "
                f"{format_seconds(now - self.started)} elapsed · {self._run_estimate(now)}")
        if self.cell < 0:
            cell = "  starting the kernel"
            if self.cells:
                cell += f" ({self.cells} cells)"
        else:
            cell = f"  cell {self.cell + 1}/{self.cells}"
            if self.cell_text:
                cell += f" [{self.cell_text}]"
            running = now - self.cell_started
            if self.tty or running >= 0.05:  # a log's line at the cell's start says no "0.0 s"
                cell += f", running {format_seconds(running)}"
            cell += self._cell_estimate(now)
        if self.inner and not self.tty:
            cell += " > " + self.inner  # a terminal shows it on a line of its own
        return head, cell

    def _notebook_left(self, now: float) -> float | None:
        """Seconds the running notebook should still take, from its last run (None: unknown)."""
        if self.cell_seconds is not None and self.cell >= 0:
            times = self.cell_seconds
            in_cell = max(0.0, times[self.cell] - (now - self.cell_started))
            return in_cell + sum(times[self.cell + 1:])
        total = self.expected.get(self.stem)
        if total is None:
            return None
        return max(0.0, total - (now - self.notebook_started))

    def _run_estimate(self, now: float) -> str:
        later = self.stems[self.position:] if self.position else []
        here = self._notebook_left(now)
        rest = [self.expected.get(s) for s in later]
        if here is None or any(r is None for r in rest):
            missing = [s for s in [self.stem, *later] if self.expected.get(s) is None]
            return no_estimate(missing)
        left = here + sum(r for r in rest if r is not None)
        return f"about {format_seconds(left)} left (the last run's times)"

    def _cell_estimate(self, now: float) -> str:
        if self.cell_seconds is None:
            return ""
        last = self.cell_seconds[self.cell]
        if not self.tty and last < 1 and not self.inner:
            return ""  # a log says nothing of the quick cells' estimates
        left = self._notebook_left(now)
        return (f" (last run {format_seconds(last)}; this notebook about "
                f"{format_seconds(left or 0.0)} left)")

    # ---------------------------------------------------------------------------- drawing
    def _show(self, changed: bool) -> None:
        """Redraw (terminal), or write what changed (log): the notebook's line when it starts,
        the cell's line when a cell starts, the cell's progress when it changes (the first
        change at once, later ones at most every :data:`LOG_EVERY` seconds)."""
        if not self.stem:
            return
        head, cell = self.lines()
        if self.tty:
            self._clear()
            width = max(20, shutil.get_terminal_size((100, 20)).columns - 1)
            shown = [head, cell] + ([f"    {self.inner}"] if self.inner else [])
            self._write("\n".join(line[:width] for line in shown))
            self.drawn = len(shown)
            return
        now = self.clock()
        if changed:
            if self.cell < 0 and not self.cells:
                self._write(head + "\n")
            elif self.cell >= 0 and self.cell_text:  # a markdown cell runs in no time: not logged
                self._write(cell + "\n")
            self.logged_inner = ("", now)
        elif self.inner and self.inner != self.logged_inner[0] and (
            not self.logged_inner[0] or now - self.logged_inner[1] >= LOG_EVERY
        ):
            self._write(cell + "\n")
            self.logged_inner = (self.inner, now)

    def _clear(self) -> None:
        if self.tty and self.drawn:
            # back to the first status line, erasing both
            self._write("\r\x1b[2K" + "\x1b[1A\r\x1b[2K" * (self.drawn - 1))
            self.drawn = 0

    def _print(self, text: str) -> None:
        with self.lock:
            self._clear()
            self._write(text + "\n")
            if self.stem:
                self._show(changed=False)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed console must not fail the run
            pass


def no_estimate(missing: Sequence[str]) -> str:
    """What the console says when some notebooks have no good run with these parameters."""
    names = ", ".join(missing[:2]) + (f" and {len(missing) - 2} more" if len(missing) > 2 else "")
    return f"no earlier good run of {names} with these parameters: no estimate"


def _first_code_line(source: str, width: int = 40) -> str:
    """The first line of a cell that is not a comment, cut to ``width`` characters.

    Examples
    --------
    >>> _first_code_line("# sweep\\nframe = sweep(study, grid, seeds)")
    'frame = sweep(study, grid, seeds)'
    """
    for line in str(source).splitlines():
        text = line.strip()
        if text and not text.startswith("#"):
            return text if len(text) <= width else text[: width - 3] + "..."
    return ""


def poll(console: ReportConsole, read: Callable[[], str], stop: threading.Event,
         every: float = 0.5) -> Any:
    """Until ``stop`` is set: copy ``read()`` (the kernel's progress line) to ``console``."""
    while not stop.wait(every):
        console.progress(read())
        console.tick()
