"""The repository stands alone: no tracked file refers to a path outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# A relative path that climbs out of its folder (``../x``), or the design and seed folders that
# live beside the repository on the developers' machines (never part of a clone).
RELATIVE = re.compile(r"(?<![\w.])((?:\.\./)+[\w.\-/]*)")
OUTSIDE_NAMES = re.compile(r"shared/(?:design|seed)|/work/(?:main|shared|wt)\b")


def _tracked_text_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    files = []
    for name in filter(None, out.split("\0")):
        path = ROOT / name
        if path.suffix in {".npz", ".png", ".parquet"} or not path.is_file():
            continue
        try:
            path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        files.append(path)
    return files


def outside_references(path: Path, text: str) -> list[str]:
    """Every reference in ``text`` (of the file at ``path``) to a path outside the repository."""
    bad = [m.group(0) for m in OUTSIDE_NAMES.finditer(text)]
    for m in RELATIVE.finditer(text):
        target = (path.parent / m.group(1)).resolve()
        if ROOT not in target.parents and target != ROOT:
            bad.append(m.group(1))
    return bad


def test_the_check_catches_outside_references(tmp_path):
    doc = ROOT / "docs" / "example.md"
    shared = "sha" + "red"  # spelled in two parts so that this file passes its own check
    assert outside_references(doc, "see " + "../" * 2 + f"{shared}/x.txt") != []
    assert outside_references(doc, f"see `../{shared}/design/architecture.md`") != []
    assert outside_references(doc, f"see {shared}/seed/oasis-whitepaper.txt") != []
    assert outside_references(doc, "see ../README.md and docs/mechanism.md") == []


@pytest.mark.parametrize("path", _tracked_text_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_file_refers_outside_the_repository(path):
    assert outside_references(path, path.read_text(encoding="utf-8")) == []
