"""Progress bars that tell the truth, also from inside a notebook run by the report.

Every long computation in the package (studies, sweeps, simulations) iterates through
:func:`progress_bar`, a :class:`tqdm.auto.tqdm` with two differences:

- its ETA is the remaining work at the *average* rate over everything done so far
  (``smoothing=0``), not the rate of the first or last step, which misleads when steps differ;
- when the report runs the notebook (``python -m oasis_lab report``), the kernel process has
  :data:`PROGRESS_ENV` set to a file; the bar then also writes its current line to that file,
  and the report shows it on the console beside the notebook's cell progress. A kernel's own
  output never reaches the console otherwise, so without this a 5-minute cell looks frozen.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from oasis_lab.files import atomic_write

__all__ = ["PROGRESS_ENV", "progress_bar", "read_progress"]

#: Environment variable naming the file a bar mirrors its line into (set by the report).
PROGRESS_ENV = "OASIS_LAB_PROGRESS_FILE"


def _mirror(line: str) -> None:
    target = os.environ.get(PROGRESS_ENV)
    if not target:
        return
    # Written atomically, so the report never reads a half-written line.
    try:
        with atomic_write(target, "w", encoding="utf-8") as fh:
            fh.write(line)
    except OSError:  # progress is best effort; the computation must not fail over it
        pass


class _MirroredBar(tqdm):
    """A tqdm bar that also mirrors its plain-text line to :data:`PROGRESS_ENV`'s file."""

    # tqdm.auto is the console bar or, in a kernel, the notebook bar: their display()
    # signatures differ, so pass everything through.
    def display(self, *args: Any, **kwargs: Any) -> Any:
        _mirror(self.format_meter(**{**self.format_dict, "ncols": 100}))
        return super().display(*args, **kwargs)


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
        No bar at all (and nothing mirrored).
    **kwargs
        Passed to :class:`tqdm.auto.tqdm`.

    Examples
    --------
    >>> sum(progress_bar(range(3), desc="demo", disable=True))
    3
    """
    kwargs.setdefault("smoothing", 0.0)
    kwargs.setdefault("mininterval", 0.5)
    return _MirroredBar(iterable, total=total, desc=desc, unit=unit, disable=disable, **kwargs)


def read_progress(path: str | Path) -> str:
    """The last line a bar mirrored into ``path`` ("" when there is none yet)."""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError:
        return ""
