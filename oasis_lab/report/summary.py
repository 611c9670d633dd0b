"""Each notebook's key figures, written next to its report page (``<name>.summary.json``)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from oasis_lab.files import atomic_write, check_output_dir

__all__ = ["write_summary"]


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
