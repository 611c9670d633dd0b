"""Parquet save/load (identical tables, atomic) and the ``simulate`` command line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from oasis_lab.__main__ import main
from oasis_lab.disputes.params import DisputeParams
from oasis_lab.sim import SimConfig, SimulationResult, simulate


def _result(record: bool = False) -> SimulationResult:
    config = SimConfig(
        rounds=3, tasks_per_round=60, n_providers=12, cheater_share=0.3, p_user=0.5,
        computation="synthetic:16", disputes=DisputeParams(provider_stake=100, challenger_bond=10),
    )
    return simulate(config, 4, record_jobs=record)


@pytest.mark.parametrize("record", [False, True])
def test_save_load_round_trip(tmp_path: Path, record: bool) -> None:
    res = _result(record)
    path = res.save(tmp_path / "run.parquet")
    back = SimulationResult.load(path)
    assert back.config == res.config and back.seed == res.seed
    pd.testing.assert_frame_equal(back.rounds, res.rounds, check_exact=True)
    pd.testing.assert_frame_equal(back.providers, res.providers, check_exact=True)
    pd.testing.assert_frame_equal(back.ledger, res.ledger, check_exact=True)
    for name in ("jobs", "requeued", "tasks", "disputes"):
        if record:
            pd.testing.assert_frame_equal(getattr(back, name), getattr(res, name), check_exact=True)
        else:
            assert getattr(back, name) is None
    assert back.summary().equals(res.summary())


def test_failed_save_leaves_the_earlier_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    res = _result()
    path = res.save(tmp_path / "run.parquet")
    before = path.read_bytes()

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("pyarrow.parquet.write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        res.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.parquet"]


def test_save_and_load_refuse_bad_paths(tmp_path: Path) -> None:
    res = _result()
    with pytest.raises(ValueError, match=r"\.parquet"):
        res.save(tmp_path / "run.csv")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        res.save(tmp_path / "nowhere" / "run.parquet")
    with pytest.raises(FileNotFoundError):
        SimulationResult.load(tmp_path / "missing.parquet")
    other = tmp_path / "other.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(other)
    with pytest.raises(ValueError, match="no checksum"):
        SimulationResult.load(other)
    with pytest.raises(ValueError, match="is not a regular file"):
        SimulationResult.load(tmp_path)


def test_every_bit_flip_is_refused_with_the_documented_value_error(tmp_path: Path) -> None:
    """Flips spread over the whole file, and every byte of its footer (the metadata holding
    the config and the other tables): each is refused, naming the file; none loads."""
    config = SimConfig(rounds=2, tasks_per_round=10, n_providers=4, cheater_share=0.5, p_user=1.0,
                       computation="synthetic:4")
    path = simulate(config, 1).save(tmp_path / "run.parquet")
    raw = path.read_bytes()
    damaged = tmp_path / "damaged.parquet"
    positions = sorted({*range(0, len(raw), 53), *range(max(0, len(raw) - 1000), len(raw)), *range(64)})
    assert len(positions) > 1500
    for k in positions:
        flipped = bytearray(raw)
        flipped[k] ^= 1 << (k % 8)
        damaged.write_bytes(bytes(flipped))
        with pytest.raises(ValueError, match="damaged.parquet") as info:
            SimulationResult.load(damaged)
        assert "corrupt" in str(info.value), (k, str(info.value))
    for cut in (raw[:-1], raw[: len(raw) // 2], raw + b"\0"):
        damaged.write_bytes(cut)
        with pytest.raises(ValueError, match="corrupt"):
            SimulationResult.load(damaged)


def test_a_result_without_its_config_is_a_value_error(tmp_path: Path) -> None:
    import pyarrow as pa

    from oasis_lab.files import read_sealed_parquet, write_sealed_parquet

    path = _result().save(tmp_path / "run.parquet")
    table, meta = read_sealed_parquet(path, "result")
    for key in ("oasis_lab.config", "oasis_lab.seed"):
        partial = {k: v for k, v in meta.items() if k != key and not k.startswith(("pandas", "ARROW"))}
        bare = pa.Table.from_pandas(table.to_pandas(), preserve_index=False)
        write_sealed_parquet(tmp_path / "partial.parquet", bare, partial)
        with pytest.raises(ValueError, match=f"lacks its {key.split('.')[1]} metadata"):
            SimulationResult.load(tmp_path / "partial.parquet")
    # an unsealed file that says it is a result (the old format, or one rewritten by hand)
    pd.DataFrame({"round": [0]}).to_parquet(tmp_path / "old.parquet")
    with pytest.raises(ValueError, match="no checksum"):
        SimulationResult.load(tmp_path / "old.parquet")


def test_cli_runs_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "small.yaml"
    cfg.write_text("tasks_per_round: 50\nn_providers: 10\ncheater_share: 0.2\np_user: 0.5\n")
    out = tmp_path / "out.parquet"
    rc = main(["simulate", "--config", str(cfg), "--rounds", "3", "--seed", "2", "--out", str(out), "--quiet"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "rounds/s" in text and "wrote" in text
    back = SimulationResult.load(out)
    assert len(back.rounds) == 3 and back.seed == 2
    direct = simulate(back.config, 2)
    pd.testing.assert_frame_equal(back.rounds, direct.rounds, check_exact=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--config", "{cfg}", "--rounds", "2", "--out", "{tmp}/x.csv"], "must end in .parquet"),
        (["--config", "{tmp}/missing.yaml"], "does not exist"),
        (["--config", "{bad}"], "cheater_share"),
    ],
)
def test_cli_errors_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    cfg = tmp_path / "ok.yaml"
    cfg.write_text("tasks_per_round: 20\nn_providers: 5\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("cheater_share: 2\n")
    argv = ["simulate", *(a.format(cfg=cfg, tmp=tmp_path, bad=bad) for a in args), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not any(p.suffix == ".csv" for p in tmp_path.iterdir())


def test_cli_refuses_bad_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["simulate", "--config", "x.yaml", "--rounds", "0"])
    assert info.value.code == 2
    assert "must be >= 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("{tmp}/existing_dir.parquet", "existing_dir.parquet' is a directory"),
        ("{cfg}/x.parquet", "ok.yaml' is a file, not a folder"),
        ("{tmp}/nowhere/x.parquet", "does not exist"),
    ],
)
def test_cli_out_is_checked_before_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch, out: str, message: str) -> None:
    """Issue 21 item 11: a whole run, then exit 2 (a directory) or a traceback (a file as folder)."""
    cfg = tmp_path / "ok.yaml"
    cfg.write_text("tasks_per_round: 20\nn_providers: 5\n")
    (tmp_path / "existing_dir.parquet").mkdir()
    ran: list[object] = []
    monkeypatch.setattr("oasis_lab.sim.cli.simulate", lambda *a, **k: ran.append(a))
    argv = ["simulate", "--config", str(cfg), "--rounds", "2", "--quiet", "--out", out.format(tmp=tmp_path, cfg=cfg)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "--out" in err, err
    assert ran == []


def test_cli_economic_options_reach_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Stake, slash fraction, bond, cheater share and challenge rates are options of
    ``simulate``, merged over the config file (its other dispute keys kept)."""
    cfg = tmp_path / "ok.yaml"
    cfg.write_text("tasks_per_round: 20\nn_providers: 5\nrounds: 2\ndisputes:\n  challenger_bond: 7\n")
    seen: list[SimConfig] = []

    def fake(config: SimConfig, seed: int, **kw: object) -> SimulationResult:
        seen.append(config)
        return simulate(config.replace(rounds=1), seed)

    monkeypatch.setattr("oasis_lab.sim.cli.simulate", fake)
    argv = ["simulate", "--config", str(cfg), "--quiet", "--stake", "2500", "--slash-fraction", "0.5",
            "--cheater-share", "0.2", "--p-user", "0.1", "--p-platform", "0.03"]
    assert main(argv) == 0
    c = seen[0]
    assert (c.disputes.provider_stake, c.disputes.slash_fraction, c.disputes.challenger_bond) == (2500, 0.5, 7)
    assert (c.cheater_share, c.p_user, c.p_platform) == (0.2, 0.1, 0.03)
    assert main(["simulate", "--config", str(cfg), "--quiet", "--challenger-bond", "40"]) == 0
    assert seen[-1].disputes.challenger_bond == 40 and seen[-1].disputes.provider_stake == 10_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--slash-fraction", "1.5"], "slash-fraction = 1.5 must be <= 1"),
        (["--stake", "-1"], "stake = -1 must be >= 0"),
        (["--stake", "1e3"], "stake"),
        (["--cheater-share", "nan"], "cheater-share"),
        (["--p-user", "2"], "p-user = 2.0 must be <= 1"),
    ],
)
def test_cli_economic_options_are_checked(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as info:
        main(["simulate", "--config", "x.yaml", *args])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert message in err, err


def test_cli_stake_overflow_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "ok.yaml"
    cfg.write_text("tasks_per_round: 20\nn_providers: 5\ntoken_unit: 1000000000\n")
    assert main(["simulate", "--config", str(cfg), "--quiet", "--stake", "100000000"]) == 2
    err = capsys.readouterr().err
    assert "disputes.provider_stake" in err and err.count("\n") == 1, err
