"""The sweep's Parquet dataset (issue 21): relabelled on resume, self-describing, checksummed,
claimed atomically; and everything a sweep is given is checked before any work starts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from oasis_lab.__main__ import main
from oasis_lab.experiments import Deterrence, MarketOverTime, register
from oasis_lab.experiments.base import ExperimentConfig
from oasis_lab.experiments.disputes import MAX_TASKS
from oasis_lab.experiments.sweep import MAX_RUNS, sweep

BASE = Deterrence(n_tasks=20, n_nodes=8)
CALLS: list[tuple[float, float, int]] = []


@register
@dataclass(frozen=True)
class Tiny(ExperimentConfig):
    """Counts its calls; one row ``z = 10 x + y + seed`` (a small part file)."""

    name = "test_tiny"
    x: float = 0.0
    y: float = 0.0

    def _run(self, seed: int) -> pd.DataFrame:
        CALLS.append((self.x, self.y, seed))
        return pd.DataFrame({"z": [10 * self.x + self.y + seed]})


def _quiet(experiment, grid, seeds, **kw):
    return sweep(experiment, grid, seeds, client="serial", progress=False, **kw)


def _on_disk(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out).sort_values(["point", "seed"]).reset_index(drop=True)


# ---------------------------------------------------------------- item 1: relabel on resume
def test_resume_after_adding_a_grid_key_relabels_the_rows(tmp_path: Path) -> None:
    """The issue's case: p_platform = NaN and points 0,1,1,3 before the fix."""
    out = tmp_path / "ds"
    _quiet(BASE, {"stake": [0, 1000]}, 1, out=out)
    grid = {"stake": [0, 1000], "p_platform": [0.05, 0.5]}  # 0.05 is the default: two points reused
    resumed = _quiet(BASE, grid, 1, out=out)
    fresh = _quiet(BASE, grid, 1)
    assert resumed["point"].tolist() == [0, 1, 2, 3]
    assert resumed["p_platform"].tolist() == [0.05, 0.5, 0.05, 0.5]
    pd.testing.assert_frame_equal(resumed, fresh)
    # the parts reused were rewritten with the current labels: the folder reads as this grid
    pd.testing.assert_frame_equal(_on_disk(out), fresh)


@pytest.mark.parametrize(
    "reordered",
    [
        {"p_platform": [0.05, 0.5], "stake": [0, 1000]},  # keys reversed
        {"stake": [1000, 0], "p_platform": [0.5, 0.05]},  # values reversed
    ],
)
def test_resume_with_the_grid_reordered_numbers_the_points_anew(reordered, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    _quiet(BASE, {"stake": [0, 1000], "p_platform": [0.05, 0.5]}, 1, out=out)
    resumed = _quiet(BASE, reordered, 1, out=out)
    fresh = _quiet(BASE, reordered, 1)
    pd.testing.assert_frame_equal(resumed, fresh)
    pd.testing.assert_frame_equal(_on_disk(out), fresh)
    manifest = json.loads((out / "_sweep.json").read_text())
    assert list(manifest["grid"].items()) == [(k, list(v)) for k, v in reordered.items()]  # key order kept


def test_a_resumed_grid_recomputes_only_new_points(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    CALLS.clear()
    _quiet(Tiny(), {"x": [1.0, 2.0]}, 2, out=out)
    CALLS.clear()
    frame = _quiet(Tiny(), {"y": [0.0, 5.0], "x": [2.0, 1.0]}, 2, out=out)
    assert sorted(CALLS) == [(1.0, 5.0, 0), (1.0, 5.0, 1), (2.0, 5.0, 0), (2.0, 5.0, 1)]
    assert frame[["point", "y", "x", "seed", "z"]].values.tolist() == [
        [0, 0.0, 2.0, 0, 20.0], [0, 0.0, 2.0, 1, 21.0], [1, 0.0, 1.0, 0, 10.0], [1, 0.0, 1.0, 1, 11.0],
        [2, 5.0, 2.0, 0, 25.0], [2, 5.0, 2.0, 1, 26.0], [3, 5.0, 1.0, 0, 15.0], [3, 5.0, 1.0, 1, 16.0],
    ]


# ---------------------------------------------------------------- item 2: one sweep per folder
def test_another_base_config_into_the_same_folder_is_refused(tmp_path: Path, capsys) -> None:
    out = tmp_path / "ds"
    _quiet(BASE, {"stake": [0, 1000]}, 1, out=out)
    parts = sorted(p.name for p in out.iterdir())
    with pytest.raises(ValueError, match=re.escape(
        f"out = {str(out)!r} holds a sweep of 'deterrence' from another base config "
        "(n_tasks: 20 there, 30 now); choose another folder"
    )):
        _quiet(BASE.replace(n_tasks=30), {"stake": [0, 1000]}, 1, out=out)
    spec = tmp_path / "s.yaml"
    spec.write_text("experiment: deterrence\nconfig: {n_tasks: 20, n_nodes: 8, gain: 60}\n"
                    "grid: {stake: [0, 1000]}\nseeds: 1\n")
    assert main(["sweep", "--config", str(spec), "--out", str(out), "--serial", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "gain: 50.0 there, 60.0 now" in err and str(out) in err
    assert sorted(p.name for p in out.iterdir()) == parts  # nothing written
    # the same sweep again is welcome (nothing recomputed, nothing refused)
    assert len(_quiet(BASE, {"stake": [0, 1000]}, 1, out=out)) == 2


def test_the_dataset_describes_itself(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    grid = {"stake": [0, 1000]}
    _quiet(BASE, grid, [3], out=out)
    manifest = json.loads((out / "_sweep.json").read_text())
    assert manifest["experiment"] == "deterrence" and manifest["grid"] == grid
    assert manifest["config"] == json.loads(json.dumps(BASE.to_dict()))
    records = []
    for part in out.glob("part-*.parquet"):
        meta = pq.read_schema(part).metadata
        records.append(json.loads(meta[b"oasis_lab.sweep"]))
    records.sort(key=lambda r: r["point"])
    assert [(r["experiment"], r["point"], r["values"], r["seed"]) for r in records] == [
        ("deterrence", 0, {"stake": 0}, 3), ("deterrence", 1, {"stake": 1000}, 3)
    ]
    assert all(r["base"] == manifest["config"] and r["grid"] == grid for r in records)
    assert records[1]["config"]["stake"] == 1000.0 and records[1]["labels"] == ["point", "stake", "seed"]


def test_a_folder_of_parts_without_a_manifest_or_of_an_older_format_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    _quiet(Tiny(), {"x": [1.0]}, 1, out=out)
    (out / "_sweep.json").unlink()
    with pytest.raises(ValueError, match="holds sweep parts but no _sweep.json"):
        _quiet(Tiny(), {"x": [1.0]}, 1, out=out)
    (out / "_sweep.json").write_text(json.dumps({"experiment": "test_tiny"}))  # format 1
    with pytest.raises(ValueError, match="format 'oasis_lab.sweep/1'"):
        _quiet(Tiny(), {"x": [1.0]}, 1, out=out)


_RACER = textwrap.dedent(
    """
    import sys, time
    from dataclasses import dataclass
    from pathlib import Path
    import pandas as pd
    from oasis_lab.experiments import register
    from oasis_lab.experiments.base import ExperimentConfig
    from oasis_lab.experiments.sweep import sweep

    @register
    @dataclass(frozen=True)
    class A(ExperimentConfig):
        name = "race_a"
        x: float = 0.0
        def _run(self, seed):
            return pd.DataFrame({"a": [self.x]})

    @register
    @dataclass(frozen=True)
    class B(ExperimentConfig):
        name = "race_b"
        x: float = 0.0
        def _run(self, seed):
            return pd.DataFrame({"b": [self.x]})

    root, me, n, rounds, experiment = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    for k in range(rounds):
        # a barrier through the file system: every racer starts round k together
        (root / f"ready-{k}-{me}").touch()
        while len(list(root.glob(f"ready-{k}-*"))) < n:
            time.sleep(0.0005)
        try:
            sweep(experiment, {"x": [1.0, 2.0]}, 1, client="serial", out=root / f"out-{k}", progress=False)
            print(k, experiment, "ok")
        except ValueError as exc:
            print(k, experiment, "refused" if "holds a sweep of experiment" in str(exc) else repr(exc))
    """
)


def test_two_experiments_racing_into_one_new_folder_one_wins(tmp_path: Path) -> None:
    """Before the fix (check, then write the manifest) both succeeded in 19 of 20 races."""
    racers = [("0", "race_a"), ("1", "race_b"), ("2", "race_a"), ("3", "race_b")]
    rounds = 8
    procs = [
        subprocess.Popen([sys.executable, "-c", _RACER, str(tmp_path), me, str(len(racers)), str(rounds), name],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for me, name in racers
    ]
    outcomes: dict[int, list[tuple[str, str]]] = {k: [] for k in range(rounds)}
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode == 0, stderr
        for line in stdout.splitlines():
            k, name, outcome = line.split(" ", 2)
            outcomes[int(k)].append((name, outcome))
    for k, results in outcomes.items():
        winner = json.loads((tmp_path / f"out-{k}" / "_sweep.json").read_text())["experiment"]
        assert sorted(results) == sorted((name, "ok" if name == winner else "refused") for _, name in racers), (
            k, results)
        parts = pd.read_parquet(tmp_path / f"out-{k}")
        assert len(parts) == 2 and ("a" if winner == "race_a" else "b") in parts  # one experiment's rows


# ---------------------------------------------------------------- item 3: checksummed parts
def test_every_bit_flip_of_a_part_is_refused_before_any_work(tmp_path: Path) -> None:
    """Before the fix, 15 of 300 flips read back other numbers and resume reused them."""
    out = tmp_path / "ds"
    expected = _quiet(Tiny(), {"x": [1.25, 2.5]}, 1, out=out)
    part = sorted(out.glob("part-*.parquet"))[0]
    raw = part.read_bytes()
    assert len(raw) < 8000
    CALLS.clear()
    for k in range(len(raw)):
        flipped = bytearray(raw)
        flipped[k] ^= 1 << (k % 8)
        part.write_bytes(bytes(flipped))
        with pytest.raises(ValueError, match=re.escape(f"sweep part {str(part)!r} is corrupt")):
            _quiet(Tiny(), {"x": [1.25, 2.5]}, 1, out=out)
    assert CALLS == []  # refused before any point ran
    part.write_bytes(raw)
    pd.testing.assert_frame_equal(_quiet(Tiny(), {"x": [1.25, 2.5]}, 1, out=out), expected)


def test_a_part_that_is_not_the_point_it_is_named_for_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    _quiet(Tiny(), {"x": [1.0, 2.0]}, 1, out=out)
    one, two = sorted(out.glob("part-*.parquet"))
    one.write_bytes(two.read_bytes())  # a part copied over another: sealed, but not that point
    with pytest.raises(ValueError, match="not the point it is named for"):
        _quiet(Tiny(), {"x": [1.0, 2.0]}, 1, out=out)


# ---------------------------------------------------------------- item 9: sizes
def test_sizes_are_bounded_before_any_work(tmp_path: Path, capsys) -> None:
    with pytest.raises(ValueError, match=f"seeds = 100000000000000 must be <= {MAX_RUNS:,}"):
        _quiet(BASE, {}, 100000000000000, out=tmp_path / "ds")
    with pytest.raises(ValueError, match="grid has 1,002,001 points"):
        _quiet(BASE, {"stake": list(range(1001)), "gain": list(range(1001))}, 1)
    with pytest.raises(ValueError, match=r"grid points x seeds = 1,001 x 1,000 = 1,001,000 runs"):
        _quiet(BASE, {"stake": list(range(1001))}, 1000)
    with pytest.raises(ValueError, match=f"n_tasks = 1000000000000 must be <= {MAX_TASKS}"):
        Deterrence(n_tasks=10**12)
    assert not (tmp_path / "ds").exists()
    spec = tmp_path / "s.yaml"
    for body in ("config: {n_tasks: 1000000000000}\ngrid: {}\nseeds: 1\n", "grid: {}\nseeds: 100000000000000\n"):
        spec.write_text("experiment: deterrence\n" + body)
        assert main(["sweep", "--config", str(spec), "--out", str(tmp_path / "ds"), "--serial"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and ("n_tasks = " in err or "seeds = " in err), err
    assert main(["compare", "--sizes", "5", "--seeds", "100000000000000", "--out", str(tmp_path / "c.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--seeds = 100000000000000 must be <= {MAX_RUNS:,}" in err
    assert not (tmp_path / "ds").exists() and not (tmp_path / "c.csv").exists()


# ---------------------------------------------------------------- item 10: sweep files
def test_an_unreachable_scheduler_fails_before_anything_is_created(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr("oasis_lab.experiments.sweep.CONNECT_TIMEOUT_S", 1)
    with pytest.raises(ValueError, match=r"client = 'tcp://127.0.0.1:1': no Dask scheduler answered there within 1 s"):
        sweep(BASE, {"stake": [0]}, 1, client="tcp://127.0.0.1:1", out=tmp_path / "ds", progress=False)
    spec = tmp_path / "s.yaml"
    spec.write_text("experiment: deterrence\ngrid: {stake: [0]}\nseeds: 1\n")
    code = main(["sweep", "--config", str(spec), "--out", str(tmp_path / "ds"), "--scheduler", "tcp://127.0.0.1:1"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no Dask scheduler answered" in err
    assert not (tmp_path / "ds").exists()


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("experiment: market_over_time\ngrid: {config_file: [cheaters.yaml, missing.yaml]}\n",
         "config_file = 'missing.yaml': config file 'missing.yaml' does not exist"),
        ("experiment: adversary_matrix\ngrid: {model: [tiny-transformer, gpt-5]}\n",
         "model = 'gpt-5' must be one of"),
        ("experiment: market_over_time\ngrid: {stake: [1000, 20000000000]}\n",
         r"stake = 20000000000: .*disputes.provider_stake = 20000000000 times token_unit"),
        ("experiment: market_over_time\ngrid: {stake: [1000, 2e10]}\n", "stake must be an integer, got float"),
        ("experiment: deterrence\ngrid: {stake: [0]}\nout: 5\n",
         "sweep config key 'out' must be a folder path, got int 5"),
    ],
)
def test_every_grid_point_is_checked_before_any_runs(body: str, match: str, tmp_path: Path, capsys,
                                                      monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "s.yaml"
    spec.write_text(body + "seeds: 1\n")
    assert main(["sweep", "--config", str(spec), "--out", str(tmp_path / "ds"), "--serial"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(match, err), err
    assert not (tmp_path / "ds").exists()  # nothing ran, nothing was created


def test_a_relative_config_file_is_resolved_where_the_config_is_built(tmp_path: Path, monkeypatch) -> None:
    """A Dask worker runs in another folder (or on another machine): the path it gets is absolute."""
    shipped = Path(__file__).resolve().parents[2] / "data" / "configs" / "cheaters.yaml"
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "c.yaml").write_text(shipped.read_text())
    monkeypatch.chdir(tmp_path)
    config = MarketOverTime(config_file="mine/c.yaml", rounds=2)
    assert config.config_file == str(tmp_path / "mine" / "c.yaml")
    elsewhere = tmp_path / "worker"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert config.sim_config().rounds == 2  # still found from another working folder
    assert MarketOverTime(config_file="cheaters.yaml").config_file == "cheaters.yaml"  # a shipped name stays
