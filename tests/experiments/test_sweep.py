"""sweep(): LocalCluster equals serial, resume recomputes nothing, bad grids fail up front."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from oasis_lab.__main__ import main
from oasis_lab.experiments import Deterrence, GreedyVsOptimum, register
from oasis_lab.experiments.base import ExperimentConfig
from oasis_lab.experiments.sweep import expand_grid, local_client, sweep

BASE = Deterrence(n_tasks=150, n_nodes=16)
GRID = {"stake": [0.0, 3000.0], "p_platform": [0.0, 0.2]}

CALLS: list[tuple[float, int]] = []


class Interrupted(Exception):
    """Stands for the kill: raised by the counting experiment after a given number of calls."""


@register
@dataclass(frozen=True)
class Counting(ExperimentConfig):
    """Counts its calls (in this process) and can die after ``die_after`` of them."""

    name = "test_counting"
    x: float = 0.0
    die_after: int = -1

    def _run(self, seed: int) -> pd.DataFrame:
        if len(CALLS) == self.die_after:
            raise Interrupted(f"killed after {self.die_after} points")
        CALLS.append((self.x, seed))
        return pd.DataFrame({"y": [self.x * 10 + seed]})


def test_grid_expands_in_order_and_explicit_points() -> None:
    points = expand_grid(BASE, GRID)
    assert [(p.config.stake, p.config.p_platform) for p in points] == [
        (0.0, 0.0),
        (0.0, 0.2),
        (3000.0, 0.0),
        (3000.0, 0.2),
    ]
    explicit = expand_grid("deterrence", [{"stake": 1.0}, {"stake": 2.0, "gain": 10.0}])
    assert [p.config.gain for p in explicit] == [50.0, 10.0]
    assert expand_grid(BASE, {})[0].config == BASE


def test_killed_sweep_resumes_without_recomputing(tmp_path: Path) -> None:
    CALLS.clear()
    config, grid, out = Counting(die_after=3), {"x": [1.0, 2.0, 3.0]}, tmp_path / "ds"
    with pytest.raises(Interrupted):
        sweep(config, grid, 2, client="serial", out=out, progress=False)
    finished = set(CALLS)
    assert finished == {(1.0, 0), (1.0, 1), (2.0, 0)}
    assert len(list(out.glob("part-*.parquet"))) == 3
    assert not list(out.glob(".*tmp"))  # atomic writes: no half-written point
    CALLS.clear()
    resumed = sweep(config, grid, 2, client="serial", out=out, progress=False)
    assert len(CALLS) == 3 and not set(CALLS) & finished, "recomputed finished points"
    assert resumed["y"].tolist() == [10, 11, 20, 21, 30, 31]
    # a third run computes nothing at all
    CALLS.clear()
    again = sweep(config, grid, 2, client="serial", out=out, progress=False)
    assert CALLS == [] and again.equals(resumed)


def test_local_cluster_sweep_equals_serial(tmp_path: Path) -> None:
    serial = sweep(BASE, GRID, 2, client="serial", progress=False)
    client = local_client(2)
    try:
        parallel = sweep(BASE, GRID, 2, client=client, out=tmp_path / "ds", progress=False)
        # and a second sweep on the same cluster, by its scheduler address, reads it all back
        again = sweep(BASE, GRID, 2, client=client.scheduler.address, out=tmp_path / "ds", progress=False)
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
    pd.testing.assert_frame_equal(parallel, serial)
    pd.testing.assert_frame_equal(again, serial)
    assert list(serial.columns[:4]) == ["point", "stake", "p_platform", "seed"]


def test_grid_key_reported_by_the_experiment_is_kept_once() -> None:
    frame = sweep(
        GreedyVsOptimum(readings=("no_trade",), mechanisms=()), {"n_tasks": [5, 8]}, 1, client="serial", progress=False
    )
    assert list(frame.columns).count("n_tasks") == 1 and frame["n_tasks"].tolist() == [5, 8]


@pytest.mark.parametrize(
    "grid, seeds, match",
    [
        ({"stakes": [1.0]}, 1, "grid key 'stakes' is not a parameter of experiment 'deterrence'"),
        ({"stake": []}, 1, r"grid\['stake'\] is empty"),
        ({"stake": 5.0}, 1, r"grid\['stake'\] must be a list"),
        ({"stake": [1.0, -5.0]}, 1, r"grid point \{'stake': -5.0\}: stake = -5.0 must be >= 0"),
        ({"p_user": [0.1, 2.0]}, 1, "p_user = 2.0 must be in"),
        ([{"stake": 1.0}, {"gainz": 2.0}], 1, r"grid\[1\] key 'gainz'"),
        ({"stake": [1.0]}, 0, "seeds = 0"),
        ({"stake": [1.0]}, [1, 1], "repeat"),
        ({"stake": [1.0]}, [-1], "seeds"),
    ],
)
def test_bad_grids_fail_before_any_work(grid, seeds, match: str, tmp_path: Path) -> None:
    CALLS.clear()
    with pytest.raises((TypeError, ValueError), match=match):
        sweep(BASE, grid, seeds, client="serial", out=tmp_path / "ds", progress=False)
    assert not (tmp_path / "ds").exists()


def test_out_of_another_experiment_is_refused(tmp_path: Path) -> None:
    sweep(Counting(), {"x": [1.0]}, 1, client="serial", out=tmp_path, progress=False)
    with pytest.raises(ValueError, match="holds a sweep of experiment 'test_counting'"):
        sweep(BASE, {}, 1, client="serial", out=tmp_path, progress=False)


def test_unknown_experiment_and_client() -> None:
    with pytest.raises(ValueError, match="experiment = 'nope' is unknown"):
        sweep("nope", {}, 1)
    with pytest.raises(TypeError, match="client must be"):
        sweep(BASE, {}, 1, client=3)


def test_sweep_cli_writes_the_dataset_and_resumes(tmp_path: Path, capsys) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text("experiment: deterrence\nconfig: {n_tasks: 100, n_nodes: 16}\ngrid: {stake: [0, 4000]}\nseeds: 2\n")
    out = tmp_path / "ds"
    assert main(["sweep", "--config", str(spec), "--out", str(out), "--serial", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "mean over 2 seed(s)" in printed and f"4 rows in {out}" in printed
    assert len(list(out.glob("part-*.parquet"))) == 4
    stamp = {p: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
    assert main(["sweep", "--config", str(spec), "--out", str(out), "--serial", "--no-progress"]) == 0
    assert {p: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")} == stamp


@pytest.mark.parametrize(
    "text, match",
    [
        ("experiment: deterrence\ngrid: {stake: [1]}\nseeds: 1\nspeed: 3\n", "key 'speed' is unknown"),
        ("experiment: deterrence\ngrid: {stak: [1]}\nseeds: 1\n", "grid key 'stak'"),
        ("experiment: deterrence\nconfig: {n_task: 1}\ngrid: {}\nseeds: 1\n", "config key 'n_task'"),
        ("experiment: nope\ngrid: {}\nseeds: 1\n", "experiment = 'nope'"),
        ("grid: {}\nseeds: 1\n", "lacks the key 'experiment'"),
    ],
)
def test_sweep_cli_bad_files_one_line_exit_2(text: str, match: str, tmp_path: Path, capsys) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(text)
    assert main(["sweep", "--config", str(spec), "--out", str(tmp_path / "ds"), "--serial"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and match in err


def test_compare_cli_prints_table_and_writes_csv(tmp_path: Path, capsys) -> None:
    out = tmp_path / "cmp.csv"
    code = main(
        [
            "compare",
            "--sizes",
            "10,20",
            "--scenarios",
            "balanced",
            "--seeds",
            "1",
            "--readings",
            "no_trade,unit_cost",
            "--out",
            str(out),
            "--no-progress",
            "--repeats",
            "1",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "welfare_ratio" in printed and f"wrote 10 rows to {out}" in printed
    frame = pd.read_csv(out)
    assert len(frame) == 10 and set(frame["reading"].dropna()) == {"no_trade", "unit_cost"}
    assert (frame.loc[frame["mechanism"] == "greedy", "speedup_vs_ilp"] > 0).all()


def test_compare_cli_rejects_bad_lists() -> None:
    with pytest.raises(SystemExit):
        main(["compare", "--sizes", "ten"])
    with pytest.raises(SystemExit):
        main(["compare", "--readings", "greedy"])
