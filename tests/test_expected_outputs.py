"""Stored expected outputs (issue 23 item 6): every case run afresh equals its file in
tests/expected/, field by field; and the comparison reports what a change would change."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oasis_lab.__main__ import main
from oasis_lab.experiments import EXPERIMENTS
from oasis_lab.experiments import expected as ex
from oasis_lab.experiments.auction import TIMING_COLUMNS


@pytest.mark.parametrize("name", sorted(ex.CASES))
def test_a_fresh_run_equals_the_stored_output(name: str) -> None:
    (report,) = ex.check([ex.CASES[name]])
    problems = [f"{stem}.parquet: {line}" for stem, diffs in report.differences.items()
                for line in ex.format_differences(diffs)]
    if not report.ok:
        pytest.fail(
            f"{name} differs from tests/expected/ (if the change is intended: "
            f"python -m oasis_lab expected --update --only {name}):\n" + "\n".join(problems),
            pytrace=False,
        )
    assert all(n > 0 for n in report.rows.values())


def test_every_registered_experiment_has_a_case(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ex._unregistered() == []
    # a study registered later without a case is named
    monkeypatch.setitem(EXPERIMENTS, "a_new_study", EXPERIMENTS["deterrence"])
    assert ex._unregistered() == ["a_new_study"]


def test_every_stored_file_belongs_to_a_case_and_is_small() -> None:
    assert ex.stale_files() == []
    for case in ex.CASES.values():
        for stem in case.files:
            path = ex.EXPECTED_DIR / f"{stem}.parquet"
            assert path.is_file(), path
            assert path.stat().st_size < 100_000, path  # KBs: a CI-size table
    assert (ex.EXPECTED_DIR / "README.md").is_file()


def test_the_readme_of_the_folder_names_every_file() -> None:
    text = (ex.EXPECTED_DIR / "README.md").read_text()
    for case in ex.CASES.values():
        for stem in case.files:
            assert f"{stem}.parquet" in text, stem
    assert "python -m oasis_lab expected --update" in text


#: Names of columns that would hold a clock reading.
_CLOCK = re.compile(r"(runtime|seconds|elapsed|timing|wall|duration|_s$|speedup)")


def test_clock_columns_are_excluded_by_the_list_and_only_those() -> None:
    assert set(TIMING_COLUMNS) <= ex.EXCLUDED_COLUMNS
    stored = {c for p in ex.EXPECTED_DIR.glob("*.parquet") for c in pd.read_parquet(p).columns}
    assert {c for c in stored if _CLOCK.search(c)} == set(ex.EXCLUDED_COLUMNS)
    assert _CLOCK.search("stage_seconds") and not _CLOCK.search("welfare")


# ----------------------------------------------------------------------------- the comparator
@pytest.fixture(scope="module")
def rounds() -> pd.DataFrame:
    """A stored table with int, float, NaN and string columns (the simulation's rounds)."""
    return ex.read_stored("sim_cheaters.rounds")


@pytest.fixture(scope="module")
def greedy() -> pd.DataFrame:
    """A stored table with strings, NaNs and the excluded clock columns."""
    return ex.read_stored("greedy_vs_optimum")


def test_identical_tables_have_no_difference(rounds: pd.DataFrame, greedy: pd.DataFrame) -> None:
    assert ex.compare_frames(rounds, rounds.copy()) == []
    assert greedy.isna().any().any()  # NaN equals NaN
    assert ex.compare_frames(greedy, greedy.copy()) == []


def test_a_float_moved_by_1e_6_relative_is_reported_with_column_row_and_values(rounds: pd.DataFrame) -> None:
    fresh = rounds.copy()
    old = float(fresh.loc[7, "welfare"])
    fresh.loc[7, "welfare"] = old * (1 + 1e-6)
    (d,) = ex.compare_frames(rounds, fresh)
    assert (d.what, d.column, d.row, d.stored, d.fresh) == ("value", "welfare", 7, old, old * (1 + 1e-6))
    assert str(d).startswith("column 'welfare' row 7: stored ")


def test_a_few_ulps_are_within_the_tolerance(rounds: pd.DataFrame) -> None:
    fresh = rounds.copy()
    floats = fresh.select_dtypes("float").columns
    fresh[floats] = fresh[floats] * (1 + 4e-16)  # another summation order
    assert ex.compare_frames(rounds, fresh) == []
    assert ex.compare_frames(rounds, fresh, rtol=0, atol=0) != []  # the tolerance did the work


def test_an_integer_a_string_a_boolean_changed_are_reported(rounds: pd.DataFrame) -> None:
    fresh = rounds.copy()
    fresh.loc[3, "convictions"] += 1
    diffs = ex.compare_frames(rounds, fresh)
    assert [(d.column, d.row, d.fresh - d.stored) for d in diffs] == [("convictions", 3, 1)]
    providers = ex.read_stored("sim_cheaters.providers")
    fresh = providers.copy()
    fresh.loc[5, "strategy"] = "other"
    fresh.loc[6, "honest"] = not fresh.loc[6, "honest"]
    diffs = ex.compare_frames(providers, fresh)
    flipped = bool(fresh.loc[6, "honest"])
    assert [(d.column, d.row, d.fresh) for d in diffs] == [("strategy", 5, "other"), ("honest", 6, flipped)]


def test_nan_differs_from_a_number(greedy: pd.DataFrame) -> None:
    column = next(c for c in greedy if greedy[c].isna().any() and c not in ex.EXCLUDED_COLUMNS)
    row = int(np.flatnonzero(greedy[column].isna())[0])
    fresh = greedy.copy()
    fresh.loc[row, column] = 0.0
    (d,) = ex.compare_frames(greedy, fresh)
    assert (d.column, d.row, d.fresh) == (column, row, 0.0) and np.isnan(d.stored)
    assert ex.compare_frames(fresh, greedy)[0].row == row  # and the other way round


def test_a_dropped_or_added_column_is_reported(rounds: pd.DataFrame) -> None:
    (d,) = ex.compare_frames(rounds, rounds.drop(columns="slashed"))
    assert (d.what, d.column) == ("missing column", "slashed")
    assert "missing column 'slashed'" in str(d)
    (d,) = ex.compare_frames(rounds, rounds.assign(extra=1))
    assert (d.what, d.column) == ("extra column", "extra")


def test_a_dropped_row_is_reported_by_its_number(rounds: pd.DataFrame) -> None:
    last = len(rounds) - 1
    (d,) = ex.compare_frames(rounds, rounds.drop(index=last))
    assert (d.what, d.row) == ("missing row", last)
    assert d.stored["welfare"] == rounds.loc[last, "welfare"]
    assert str(d).startswith(f"missing row {last}: ")
    # a row dropped in the middle: the rows after it shift, and the last is missing
    diffs = ex.compare_frames(rounds, rounds.drop(index=4))
    assert {d.row for d in diffs if d.what == "value"} >= {4} and min(d.row for d in diffs) == 4
    assert [d.row for d in diffs if d.what == "missing row"] == [last]
    (d,) = ex.compare_frames(rounds.drop(index=last), rounds)
    assert (d.what, d.row) == ("extra row", last)


def test_a_changed_dtype_and_column_order_are_reported(rounds: pd.DataFrame) -> None:
    (d,) = ex.compare_frames(rounds, rounds.astype({"arrived": "int32"}))
    assert (d.what, d.column, str(d.stored), str(d.fresh)) == ("dtype", "arrived", "int64", "int32")
    cols = list(rounds.columns)
    (d,) = ex.compare_frames(rounds, rounds[[cols[1], cols[0], *cols[2:]]])
    assert d.what == "column order"
    assert ex.compare_frames(rounds, rounds.astype({"welfare": "float32"}))[0].what == "dtype"


def test_categories_are_compared_exactly() -> None:
    a = pd.DataFrame({"kind": pd.Categorical(["x", "y"], categories=["x", "y"])})
    b = pd.DataFrame({"kind": pd.Categorical(["x", "y"], categories=["x", "y", "z"])})
    (d,) = ex.compare_frames(a, b)
    assert (d.what, d.column) == ("dtype", "kind")
    c = pd.DataFrame({"kind": pd.Categorical(["x", "x"], categories=["x", "y"])})
    (d,) = ex.compare_frames(a, c)
    assert (d.column, d.row, d.stored, d.fresh) == ("kind", 1, "y", "x")


def test_clock_columns_are_checked_for_presence_not_values(greedy: pd.DataFrame) -> None:
    assert ex.compare_frames(greedy, greedy.assign(runtime_s=1.5, speedup_vs_ilp=2.0)) == []
    (d,) = ex.compare_frames(greedy, greedy.drop(columns="runtime_s"))
    assert (d.what, d.column) == ("missing column", "runtime_s")
    # without the exclusion the clock readings would be compared
    assert ex.compare_frames(greedy, greedy.assign(runtime_s=1.5), exclude=()) != []


def test_the_report_shows_every_column_and_limits_rows(rounds: pd.DataFrame) -> None:
    fresh = rounds.assign(welfare=rounds["welfare"] + 1.0, served=rounds["served"] + 1)
    diffs = ex.compare_frames(rounds, fresh)
    assert len(diffs) == 2 * len(rounds)
    lines = ex.format_differences(diffs, limit=3)
    assert sum(line.startswith("column 'welfare' row") for line in lines) == 3
    assert f"column 'served': {len(rounds) - 3} more differing row(s) not shown" in lines
    assert len(ex.format_differences(diffs, limit=0)) == len(diffs)


def test_bad_arguments_are_refused_by_name() -> None:
    with pytest.raises(TypeError, match="stored must be a DataFrame"):
        ex.compare_frames([1, 2], pd.DataFrame())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="only has unknown names"):
        ex.select(["no_such_case"])
    with pytest.raises(FileNotFoundError, match="no stored expected output"):
        ex.read_stored("no_such_case")


# ----------------------------------------------------------------------------- the command
def _copy(tmp_path: Path, names: list[str]) -> Path:
    folder = tmp_path / "expected"
    folder.mkdir()
    for name in names:
        for stem in ex.CASES[name].files:
            shutil.copy(ex.EXPECTED_DIR / f"{stem}.parquet", folder)
    return folder


def test_the_command_passes_then_reports_a_change_then_updates(tmp_path: Path, capsys) -> None:
    folder = _copy(tmp_path, ["deterrence"])
    args = ["expected", "--only", "deterrence", "--folder", str(folder)]
    assert main(args) == 0
    assert "ok       deterrence" in capsys.readouterr().out
    path = folder / "deterrence.parquet"
    stored = pd.read_parquet(path)
    changed = stored.assign(cheated=stored["cheated"] + 2)
    changed.to_parquet(path, index=False)
    assert main(args) == 1
    out = capsys.readouterr().out
    want = f"column 'cheated' row 0: stored {changed.loc[0, 'cheated']}, fresh {stored.loc[0, 'cheated']}"
    assert "DIFFERS  deterrence" in out and want in out
    assert main([*args, "--update"]) == 0
    assert ex.compare_frames(pd.read_parquet(path), stored) == []
    assert main(args) == 0


def test_the_command_writes_a_missing_file_and_leaves_a_matching_one(tmp_path: Path, capsys) -> None:
    folder = _copy(tmp_path, ["outlier"])
    before = (folder / "outlier.parquet").stat().st_mtime_ns
    assert main(["expected", "--only", "outlier", "deterrence", "--folder", str(folder)]) == 1
    assert "missing file" in capsys.readouterr().out
    assert main(["expected", "--update", "--only", "outlier", "deterrence", "--folder", str(folder)]) == 0
    assert (folder / "deterrence.parquet").is_file()
    assert (folder / "outlier.parquet").stat().st_mtime_ns == before  # within tolerance: untouched


def test_the_command_refuses_an_unknown_case_in_one_line(capsys) -> None:
    assert main(["expected", "--only", "no_such_case"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "no_such_case" in line and "greedy_vs_optimum" in line


def test_the_command_lists_the_cases(capsys) -> None:
    assert main(["expected", "--list"]) == 0
    out = capsys.readouterr().out
    for name, case in ex.CASES.items():
        assert f"{name}: {case.describe()}" in out


def test_a_file_no_case_writes_is_stale(tmp_path: Path) -> None:
    folder = _copy(tmp_path, ["outlier"])
    assert ex.stale_files(folder) == []
    shutil.copy(folder / "outlier.parquet", folder / "renamed_study.parquet")
    assert ex.stale_files(folder) == [folder / "renamed_study.parquet"]
