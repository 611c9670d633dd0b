"""Parameter profiles of the report: ``notebooks/params/<name>.yaml``, notebook stem ->
parameters, checked against each notebook's ``parameters`` cell before anything runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["load_profile", "profile_path"]


def _profile_parameters(notebooks: list[Path]) -> dict[str, set[str]]:
    import papermill

    return {
        nb.stem: set(papermill.inspect_notebook(str(nb)).keys())
        for nb in notebooks
    }


def load_profile(
    path: str | Path, notebooks: list[Path] | None = None
) -> dict[str, dict[str, Any]]:
    """Read a parameter profile: ``{notebook stem: {parameter: value}}`` from YAML.

    Parameters
    ----------
    path : path
        The YAML file.
    notebooks : list of path, optional
        The notebooks the profile is for: every key must be one of their stems and every
        parameter one of the notebook's ``parameters`` cell (a misspelling would otherwise
        run silently with the small CI defaults).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        ``path`` is a directory or unreadable, is not valid YAML, is not a mapping of notebook
        names to parameter mappings, or names unknown notebooks or parameters.
    """
    from oasis_lab.configfile import parse_yaml

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"parameter profile {str(path)!r} does not exist")
    if path.is_dir():
        raise ValueError(f"parameter profile {str(path)!r} is a directory, not a YAML file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"parameter profile {str(path)!r} cannot be read: {exc}") from None
    # YAML 1.2 numbers, a duplicated notebook or parameter refused (naming it and its line)
    data = parse_yaml(text, f"parameter profile {str(path)!r}") or {}
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, dict) for k, v in data.items()
    ):
        raise ValueError(
            f"parameter profile {str(path)!r} must map notebook names to parameter mappings"
        )
    if notebooks is not None:
        stems = sorted(nb.stem for nb in notebooks)
        unknown = sorted(set(data) - set(stems))
        if unknown:
            raise ValueError(
                f"parameter profile {str(path)!r} names unknown notebook(s) {unknown}; "
                f"available: {stems}"
            )
        known = _profile_parameters([nb for nb in notebooks if nb.stem in data])
        for stem, values in data.items():
            bad = sorted(set(values) - known[stem])
            if bad:
                raise ValueError(
                    f"parameter profile {str(path)!r}: notebook {stem!r} has no parameter(s) "
                    f"{bad}; its parameters cell defines {sorted(known[stem])}"
                )
    return data


def profile_path(profile: str | Path | None, notebook_dir: Path) -> Path:
    """The YAML file of ``profile``: a path, or the name of one in ``<notebook_dir>/params``.

    ``None`` is the study profile ``full``; ``"large"`` is ``params/large.yaml`` (the studies too
    big for ``make run``'s five minutes on a 2-core machine).
    """
    if profile is None:
        return notebook_dir / "params" / "full.yaml"
    path = Path(profile)
    named = notebook_dir / "params" / f"{profile}.yaml"
    if not path.exists() and path.suffix == "" and path.parent == Path(".") and named.exists():
        return named
    return path
