"""Every notebook runs headlessly under papermill with its CI-sized defaults.

One test per ``notebooks/*.ipynb`` (found at collection time, so a new notebook is tested
without editing this file), executed into a temporary folder with ``notebooks/`` as working
directory. Notebooks are committed without outputs and with a ``parameters`` cell.
"""

from __future__ import annotations

import json
from pathlib import Path

import papermill
import pytest
import yaml

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def test_study_profile_names_real_notebooks_and_parameters() -> None:
    # A misspelled notebook or parameter in the study profile would be ignored by papermill
    # and the "study" would silently run at CI sizes.
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"
    profile = yaml.safe_load((NOTEBOOK_DIR / "params" / "full.yaml").read_text())
    stems = {p.stem: p for p in NOTEBOOKS}
    assert set(profile) <= set(stems), f"full.yaml names no notebook {sorted(set(profile) - set(stems))}"
    for stem, values in profile.items():
        known = set(papermill.inspect_notebook(str(stems[stem])))
        assert set(values) <= known, f"full.yaml: {stem} has no parameters {sorted(set(values) - known)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_clean(path: Path) -> None:
    notebook = json.loads(path.read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    dirty = [k for k, c in enumerate(code) if c.get("outputs") or c.get("execution_count")]
    assert not dirty, f"{path.name}: code cells {dirty} have outputs or execution counts"
    tagged = [c for c in notebook["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: needs exactly one cell tagged 'parameters'"
    # papermill must understand every assignment, or overrides are passed as "unknown"
    source = "".join(tagged[0]["source"])
    assigned = {
        line.split("=", 1)[0].strip()
        for line in source.splitlines()
        if "=" in line.split("#", 1)[0] and not line.startswith((" ", "\t", "#"))
    }
    parsed = set(papermill.inspect_notebook(str(path)))
    assert assigned == parsed, f"{path.name}: papermill cannot parse {sorted(assigned - parsed)}"


# Notebooks that start headless Chromium also carry the ``browser`` marker.
EXECUTED = [pytest.param(p, marks=pytest.mark.browser) if "browser" in p.stem else p for p in NOTEBOOKS]


@pytest.mark.notebook
@pytest.mark.parametrize("path", EXECUTED, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path: Path, tmp_path: Path) -> None:
    papermill.execute_notebook(
        str(path),
        str(tmp_path / path.name),
        cwd=str(NOTEBOOK_DIR),
        kernel_name="python3",
        progress_bar=False,
        # a stalled kernel fails the test instead of blocking CI
        start_timeout=120,
        execution_timeout=300,
    )
