"""Each notebook's key figures, written next to its report page (``<name>.summary.json``).

One key of a summary is read by the report itself: ``"headline"``, a mapping of a short label
(with its unit) to a number or a short sentence. The report page shows these at its top, under
the title, and ``index.html`` beside the notebook's title (:func:`read_headline`), so a
notebook states its headline numbers once, in its summary, from the values it computed.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from oasis_lab.files import atomic_write, check_output_dir

__all__ = ["HEADLINE", "MAX_HEADLINE", "check_headline", "format_headline", "read_headline",
           "write_summary"]

#: The summary key the report shows at the top of the page and in the index.
HEADLINE = "headline"
#: Most entries a headline may have (the index shows them all on one row).
MAX_HEADLINE = 8
_MAX_LABEL = 80
_MAX_TEXT = 160


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


def _sorted(value: Any, keep_order: bool = False) -> Any:
    if isinstance(value, dict):
        keys = list(value) if keep_order else sorted(value)
        return {k: _sorted(value[k], keep_order=(k == HEADLINE and not keep_order)) for k in keys}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def check_headline(headline: Any) -> dict[str, Any]:
    """Check a summary's ``headline``: 1 to :data:`MAX_HEADLINE` entries, each a non-empty label
    (at most 80 characters) and a number, a bool or a short text (at most 160 characters).

    Raises
    ------
    TypeError, ValueError
        Naming the entry and what is wrong with it.

    Examples
    --------
    >>> check_headline({"greedy / optimum, worst scenario": 0.879})
    {'greedy / optimum, worst scenario': 0.879}
    >>> check_headline({"welfare": [1, 2]})
    Traceback (most recent call last):
    ...
    TypeError: headline['welfare'] must be a number, a bool or a text, got list
    """
    if not isinstance(headline, dict):
        raise TypeError(f"headline must be a dict of label -> value, got {type(headline).__name__}")
    if not 1 <= len(headline) <= MAX_HEADLINE:
        raise ValueError(f"headline has {len(headline)} entries; give 1 to {MAX_HEADLINE}")
    out: dict[str, Any] = {}
    for label, value in headline.items():
        if not isinstance(label, str) or not label.strip() or len(label) > _MAX_LABEL:
            raise ValueError(f"headline label {label!r} must be a text of 1 to {_MAX_LABEL} characters")
        value = _plain(value)
        if isinstance(value, str):
            if len(value) > _MAX_TEXT:
                raise ValueError(f"headline[{label!r}] is {len(value)} characters long; at most {_MAX_TEXT}")
        elif value is not None and not isinstance(value, (bool, int, float)):
            raise TypeError(f"headline[{label!r}] must be a number, a bool or a text, "
                            f"got {type(value).__name__}")
        out[label] = value
    return out


def format_headline(value: Any) -> str:
    """One headline value as the report shows it (numbers in the package's one notation).

    Examples
    --------
    >>> format_headline(0.87912), format_headline(10989), format_headline(None), format_headline(True)
    ('0.8791', '10,989', 'n/a', 'yes')
    """
    from oasis_lab.plotting import format_number

    if value is None:
        return "n/a"  # NaN in the run (JSON has no NaN)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return format_number(value) if isinstance(value, (int, float)) else str(value)


def read_headline(folder: str | Path, notebook: str) -> dict[str, Any]:
    """The ``headline`` of ``<folder>/<notebook>.summary.json`` ({} when there is none or the file
    is unreadable: a page is still rendered, without findings)."""
    try:
        data = json.loads((Path(folder) / f"{notebook}.summary.json").read_text(encoding="utf-8"))
        return check_headline(data[HEADLINE]) if isinstance(data, dict) and HEADLINE in data else {}
    except (OSError, ValueError, TypeError):
        return {}


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
        becomes null). Its ``"headline"`` (:func:`check_headline`) is what the report shows
        at the top of the page and in the index.
    folder : path
        The notebook's ``summary_dir`` parameter (``reports/`` by default; the report and the
        tests pass their own).
    """
    if not isinstance(figures, dict):
        raise TypeError(f"figures must be a dict, got {type(figures).__name__}")
    if HEADLINE in figures:
        figures = {**figures, HEADLINE: check_headline(figures[HEADLINE])}

    folder = check_output_dir("summary_dir", folder)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{notebook}.summary.json"
    # keys sorted (stable files to compare), except the headline's: its order is the page's
    text = json.dumps(_sorted(_plain(figures)), indent=1, allow_nan=False) + "\n"
    with atomic_write(target, "w", encoding="utf-8") as fh:
        fh.write(text)
    return target
