"""Where a dashboard runs and what it keeps: live front end or headless run, state kept across
re-runs of its cell, settings saved by name.

- :func:`live_frontend`: whether the running cell was sent by a live Jupyter front end
  (JupyterLab, Notebook 7 and VS Code send the cell's id with each execution request; papermill
  and nbclient, which the report and the tests use, send none) and not by the report (which
  sets :data:`~oasis_lab.progress.PROGRESS_ENV` for its kernels). Widgets are only worth
  drawing for a live front end, and an ipywidgets output written to under nbclient can block the
  run (jupyter/nbclient#312). :data:`WIDGETS_ENV` forces either answer.
- :func:`kept_state`: a dashboard's state (its settings and its trace) kept in this module,
  keyed by name, so re-running the cell that builds the dashboard starts where the last one
  left off (a kernel serves one notebook: the key separates dashboards within it).
- :class:`SettingsStore`: named settings in one small JSON file per dashboard in a per-user
  folder (:func:`settings_dir`, never the reports folder), as hnn-core's GUI saves and loads
  its parameters.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from oasis_lab.files import atomic_write
from oasis_lab.progress import PROGRESS_ENV

__all__ = [
    "SETTINGS_ENV",
    "WIDGETS_ENV",
    "SettingsStore",
    "kept_state",
    "live_frontend",
    "resolve_widgets_ui",
    "settings_dir",
]

#: ``"1"`` draws live widgets, ``"0"`` never does, whatever :func:`live_frontend` detects.
WIDGETS_ENV = "OASIS_LAB_WIDGETS"
#: The folder of saved settings (default: :func:`settings_dir`'s per-user folder).
SETTINGS_ENV = "OASIS_LAB_SETTINGS_DIR"

_STATES: dict[str, dict[str, Any]] = {}


def live_frontend() -> bool:
    """Whether a live Jupyter front end is running this cell (see the module's notes).

    ``OASIS_LAB_WIDGETS=1`` / ``0`` decides; otherwise False under the report (its kernels
    have ``OASIS_LAB_PROGRESS_FILE`` set), outside an IPython kernel, or when the execution
    request carries no cell id (papermill, nbclient, ``jupyter execute``); True when it does.
    """
    forced = os.environ.get(WIDGETS_ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    if os.environ.get(PROGRESS_ENV):
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with the notebook stack
        return False
    kernel = getattr(get_ipython(), "kernel", None)
    get_parent: Callable[..., Any] | None = getattr(kernel, "get_parent", None)
    if get_parent is None:
        return False
    try:
        parent = get_parent("shell")
    except TypeError:  # older ipykernel: get_parent() without a channel
        parent = get_parent()
    metadata = (parent or {}).get("metadata") or {}
    return bool(metadata.get("cellId"))


def resolve_widgets_ui(value: Any) -> bool:
    """A notebook's ``widgets_ui`` parameter: True or False as given, ``"auto"`` as
    :func:`live_frontend` detects; anything else is refused naming it."""
    if isinstance(value, bool):
        return value
    if value == "auto":
        return live_frontend()
    raise ValueError(f"widgets_ui = {value!r} must be True, False or 'auto'")


def kept_state(key: str) -> dict[str, Any]:
    """The mutable state kept under ``key`` for as long as the kernel lives (created empty)."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"key = {key!r} must be a non-empty string")
    return _STATES.setdefault(key, {})


def settings_dir() -> Path:
    """The per-user folder of saved settings: ``$OASIS_LAB_SETTINGS_DIR``, else
    ``$XDG_STATE_HOME/oasis_lab/explorer`` (``~/.local/state/oasis_lab/explorer`` by default)."""
    named = os.environ.get(SETTINGS_ENV)
    if named:
        return Path(named).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state).expanduser() / "oasis_lab" / "explorer"


_MAX_NAME = 80


class SettingsStore:
    """Named settings of one dashboard: ``<folder>/<key>.settings.json``, name -> values.

    Parameters
    ----------
    key : str
        The dashboard's name (a file name: letters, digits, ``-``, ``_``, ``.``).
    folder : path, optional
        Default :func:`settings_dir`.
    check : callable, optional
        Validates a setting before it is saved and after it is loaded
        (:func:`~oasis_lab.widgets.settings.check_settings`), so a hand-edited file fails
        naming the setting and the key.
    """

    def __init__(self, key: str, folder: str | Path | None = None,
                 check: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None) -> None:
        if not isinstance(key, str) or not key or not all(ch.isalnum() or ch in "-_." for ch in key):
            raise ValueError(f"key = {key!r} must be a non-empty name of letters, digits, '-', '_' or '.'")
        self.path = Path(folder if folder is not None else settings_dir()) / f"{key}.settings.json"
        self._check = check

    def _read(self) -> dict[str, Any]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{self.path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{self.path}: expected an object of name -> settings")
        return data

    def names(self) -> list[str]:
        """The saved names, sorted."""
        return sorted(self._read())

    def save(self, name: str, values: Mapping[str, Any]) -> Path:
        """Save ``values`` under ``name`` (replacing a setting of that name)."""
        name = _check_name(name)
        checked = dict(self._check(values) if self._check is not None else values)
        data = self._read()
        data[name] = {k: list(v) if isinstance(v, tuple) else v for k, v in checked.items()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(self.path, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(data, indent=1, sort_keys=True) + "\n")
        return self.path

    def load(self, name: str) -> dict[str, Any]:
        """The setting saved under ``name`` (checked); an unknown name is refused, listing the saved ones."""
        name = _check_name(name)
        data = self._read()
        if name not in data:
            raise ValueError(f"no settings named {name!r} in {self.path}; saved: {sorted(data)}")
        if not isinstance(data[name], dict):
            raise ValueError(f"{self.path}: settings {name!r} must be an object, got {data[name]!r}")
        try:
            return dict(self._check(data[name]) if self._check is not None else data[name])
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{self.path}, settings {name!r}: {exc}") from None


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME:
        raise ValueError(f"name = {name!r} must be a non-empty string of at most {_MAX_NAME} characters")
    return name.strip()
