"""pyproject.toml (pip) and environment.yml (conda) must declare the same dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# conda-forge names that differ from PyPI names
CONDA_TO_PYPI = {"wgpu-py": "wgpu"}
CONDA_ONLY = {"python", "pip"}

_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _split(requirement: str) -> tuple[str, str]:
    match = _REQ.match(requirement)
    assert match, f"cannot parse requirement {requirement!r}"
    return _normalize(match.group(1)), match.group(3).replace(" ", "")


def pyproject_requirements(root: Path = ROOT) -> dict[str, str]:
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    return dict(_split(r) for r in reqs)


def conda_requirements(root: Path = ROOT) -> dict[str, str]:
    lines = (root / "environment.yml").read_text().splitlines()
    start = lines.index("dependencies:")
    out: dict[str, str] = {}
    for line in lines[start + 1 :]:
        if not line.startswith("  - "):
            break
        name, spec = _split(line[4:])
        if name in CONDA_ONLY:
            continue
        out[CONDA_TO_PYPI.get(name, name)] = spec
    return out


def test_environment_yml_matches_pyproject() -> None:
    pip, conda = pyproject_requirements(), conda_requirements()
    assert set(pip) == set(conda), (
        f"only in pyproject.toml: {sorted(set(pip) - set(conda))}; "
        f"only in environment.yml: {sorted(set(conda) - set(pip))}"
    )
    differing = {k: (pip[k], conda[k]) for k in pip if pip[k] != conda[k]}
    assert not differing, f"version specifiers differ (pyproject, conda): {differing}"


def test_environment_yml_names_the_project() -> None:
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^name: oasis-lab$", text, re.M)
    assert re.search(r"^\s+- conda-forge$", text, re.M)


def test_issue_named_dependencies_are_declared() -> None:
    required = {
        "jupyterlab", "numpy", "scipy", "cvxpy", "highspy", "matplotlib", "pandas", "pyarrow",
        "ipywidgets", "wgpu", "papermill", "pytest", "hypothesis", "tqdm",
    }
    missing = required - set(pyproject_requirements())
    assert not missing, f"pyproject.toml lacks {sorted(missing)}"


def test_parsers_catch_a_mismatch(tmp_path: Path) -> None:
    """The comparison itself can fail: a dependency missing from one file is reported."""
    (tmp_path / "environment.yml").write_text(
        "name: oasis-lab\nchannels:\n  - conda-forge\ndependencies:\n  - numpy >=1.26\n"
    )
    (tmp_path / "pyproject.toml").write_text(
        '[project]\ndependencies = ["numpy>=1.26", "scipy>=1.11"]\n'
    )
    assert set(pyproject_requirements(tmp_path)) - set(conda_requirements(tmp_path)) == {"scipy"}
