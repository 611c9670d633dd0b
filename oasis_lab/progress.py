"""Progress bars that tell the truth, also from inside a notebook run by the report.

Every loop of the package that can run long (sweeps, studies, simulations, comparisons)
iterates through :func:`progress_bar`, a :class:`tqdm.auto.tqdm` with two differences:

- its ETA is the remaining work at the *average* rate over everything done so far
  (``smoothing=0``), not the rate of the first or last step, which misleads when steps differ;
- when the report runs the notebook (``python -m oasis_lab report``), the kernel process has
  :data:`PROGRESS_ENV` set to a file: every bar then writes its line to that file (nested bars
  as one line, outermost first) and shows nothing in the notebook's output, and the report
  prints the line on the console beside the notebook's cell. A kernel's own output never
  reaches the console otherwise, so without this a 5-minute cell looks frozen. This happens
  whatever the caller's ``disable`` says: the console is the report's, and a notebook need not
  pass anything (outside a report, ``disable=True`` is silent).
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["PROGRESS_ENV", "format_seconds", "progress_bar", "progress_stage", "read_progress", "reporting"]

#: Environment variable naming the file a bar mirrors its line into (set by the report).
PROGRESS_ENV = "OASIS_LAB_PROGRESS_FILE"
#: Separates nested bars in the mirrored line (outermost first).
NESTED = " > "

# The lines of the bars open in this process, in the order they were opened (nested bars).
_open: dict[int, str] = {}
_lock = threading.Lock()


def reporting() -> bool:
    """Whether this process runs under the report (its bars go to the report's console)."""
    return bool(os.environ.get(PROGRESS_ENV))


def format_seconds(seconds: float) -> str:
    """A duration as ``"42 s"``, ``"3 min 05 s"`` or ``"1 h 02 min"``.

    Examples
    --------
    >>> format_seconds(4.26), format_seconds(185), format_seconds(3725)
    ('4.3 s', '3 min 05 s', '1 h 02 min')
    """
    seconds = max(0.0, float(seconds))
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, sec = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _publish() -> None:
    target = os.environ.get(PROGRESS_ENV)
    if not target:
        return
    from oasis_lab.files import atomic_write

    with _lock:
        line = NESTED.join(_open.values())
    # Written atomically, so the report never reads a half-written line.
    try:
        with atomic_write(target, "w", encoding="utf-8") as fh:
            fh.write(line)
    except OSError:  # progress is best effort; the computation must not fail over it
        pass


def _line(bar: Any) -> str:
    """``"sweep deterrence: 12/40 points, 1 min 02 s elapsed, about 2 min 30 s left"``."""
    d = bar.format_dict
    n, total, elapsed = d["n"], d["total"], d["elapsed"]
    unit = d.get("unit") or "it"
    label = d.get("prefix") or "working"
    if not total and not n:
        return f"{label}: running"  # a stage without steps (see :func:`progress_stage`)
    units = unit + ("es" if unit.endswith(("s", "x", "ch", "sh")) else "s")  # batches, points
    done = f"{n:,}/{total:,} {units}" if total else f"{n:,} {units}"
    text = f"{label}: {done}, {format_seconds(elapsed)} elapsed"
    computed = n - (d.get("initial") or 0)  # steps read back (a resumed sweep) are not in the rate
    if total and n < total and computed > 0 and elapsed > 0:
        left = (total - n) * elapsed / computed  # the mean rate of this run so far
        text += f", about {format_seconds(left)} left"
    return text


def _report_bar_class() -> type:
    from tqdm.std import tqdm

    class ReportBar(tqdm):
        """Under the report: the line goes to the report's console, nothing to the output."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["file"] = io.StringIO()  # tqdm's own drawing goes nowhere
            kwargs["disable"] = False
            super().__init__(*args, **kwargs)

        def display(self, msg: str | None = None, pos: int | None = None) -> bool:
            if not self.disable:
                with _lock:
                    _open[id(self)] = _line(self)
                _publish()
            return True

        def close(self) -> None:
            super().close()
            with _lock:
                _open.pop(id(self), None)
            _publish()

    return ReportBar


def progress_bar(
    iterable: Iterable[Any] | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    disable: bool = False,
    **kwargs: Any,
) -> Any:
    """A progress bar over ``iterable`` (or a manual one with ``total``), ETA from the mean rate.

    Parameters
    ----------
    iterable : iterable, optional
        What to iterate over; omit it and call ``.update(n)`` for a manual bar.
    total : int, optional
        Number of steps (defaults to ``len(iterable)`` when it has one).
    desc, unit : str
        Label and unit shown on the bar.
    disable : bool
        Outside a report: no bar at all. Under the report (:func:`reporting`) the bar's line
        goes to the report's console whatever this says, and never into the notebook.
    **kwargs
        Passed to :class:`tqdm.auto.tqdm`.

    Examples
    --------
    >>> sum(progress_bar(range(3), desc="demo", disable=True))
    3
    """
    kwargs.setdefault("smoothing", 0.0)
    kwargs.setdefault("mininterval", 0.5)
    if reporting():
        return _report_bar_class()(iterable, total=total, desc=desc, unit=unit, **kwargs)
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable, **kwargs)


def progress_stage(desc: str) -> Any:
    """A bar without steps, for one long call that cannot count its work (a timed kernel): under
    the report the console shows ``desc`` while the ``with`` block runs; elsewhere nothing.

    Examples
    --------
    >>> with progress_stage("matmul naive n=1,024"):
    ...     pass
    """
    return progress_bar(total=None, desc=desc, disable=True)


def read_progress(path: str | Path) -> str:
    """The last line the bars mirrored into ``path`` ("" when there is none yet)."""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError:
        return ""
