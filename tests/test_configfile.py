"""One loader for every YAML file: YAML 1.2 numbers, duplicate keys refused, clear file errors.

Each reader of the package (simulation config, sweep file, report profile) is driven through
its public entry point, so a reader that bypasses :mod:`oasis_lab.configfile` fails here.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from oasis_lab.__main__ import main
from oasis_lab.configfile import load_config_file, parse_yaml, read_text_file
from oasis_lab.experiments.cli import load_sweep_file
from oasis_lab.report import load_profile
from oasis_lab.sim import load_config

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1e3", 1000.0),
        ("2.5E-4", 2.5e-4),
        ("-1E+5", -1e5),
        ("+3", 3),
        ("010", 10),  # YAML 1.1 read 8 (octal)
        ("0o17", 15),
        ("0x1F", 31),
        (".inf", math.inf),
        ("-.Inf", -math.inf),
        ("1.", 1.0),
        ("true", True),
        ("False", False),
        ("yes", "yes"),  # YAML 1.1 read True
        ("off", "off"),
        ("12:30", "12:30"),  # YAML 1.1 read 750 (sexagesimal)
        ("2001-12-14", "2001-12-14"),  # YAML 1.1 read a date
        ("1_000", "1_000"),
        ("~", None),
        ("", None),
        ("'1e3'", "1e3"),
    ],
)
def test_yaml_1_2_core_scalars(text: str, value: object) -> None:
    got = parse_yaml(f"x: {text}\n")["x"]
    assert got == value and type(got) is type(value)


def test_nan_and_merge_keys() -> None:
    assert math.isnan(parse_yaml("x: .nan")["x"])
    merged = parse_yaml("base: &b {a: 1, b: 2}\nd:\n  <<: *b\n  a: 3\n")
    assert merged["d"] == {"a": 3, "b": 2}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("rounds: 1\nrounds: 2\n", "duplicate key 'rounds' at line 2 (first at line 1)"),
        ("a:\n  b: 1\n  c: 2\n  b: 3\n", "duplicate key 'b' at line 4 (first at line 2)"),
        ("x: {k: 1, k: 2}\n", "duplicate key 'k' at line 1 (first at line 1)"),
        ("1: a\n1: b\n", "duplicate key 1 at line 2"),
    ],
)
def test_duplicate_keys_are_refused(text: str, match: str) -> None:
    with pytest.raises(ValueError, match=match.replace("(", r"\(").replace(")", r"\)")):
        parse_yaml(text, "f.yaml")


def test_sim_config_reads_1e3_and_refuses_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("challenge_cost: 1e3\nidle_cost: 2E1\n")
    config = load_config(path)
    assert config.challenge_cost == 1000.0 and config.idle_cost == 20.0
    path.write_text("rounds: 1\nrounds: 2\n")  # ran 2 rounds before
    with pytest.raises(ValueError, match=r"config file '.*c.yaml': duplicate key 'rounds' at line 2"):
        load_config(path)
    path.write_text("disputes:\n  arity: 2\n  arity: 4\n")
    with pytest.raises(ValueError, match="duplicate key 'arity' at line 3"):
        load_config(path)


def test_sweep_file_refuses_duplicates_and_reads_numbers(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("experiment: deterrence\nconfig: {gain: 5e1}\ngrid: {stake: [1e3]}\nseeds: 1\n")
    spec = load_sweep_file(path)
    assert spec["experiment"].gain == 50.0 and spec["grid"] == {"stake": [1000.0]}
    path.write_text("experiment: deterrence\nexperiment: adversary_matrix\ngrid: {}\nseeds: 1\n")
    with pytest.raises(ValueError, match="duplicate key 'experiment' at line 2"):
        load_sweep_file(path)


def test_report_profile_refuses_a_duplicated_notebook(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("05_market_over_time:\n  rounds: 30\n05_market_over_time:\n  rounds: 40\n")
    with pytest.raises(ValueError, match="duplicate key '05_market_over_time' at line 3"):
        load_profile(path, sorted(NOTEBOOKS.glob("*.ipynb")))


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"rounds: 3\n\xff\xfe\x00binary")
    with pytest.raises(ValueError, match=r"'.*bin.yaml' is not UTF-8 text"):
        load_config(binary)
    with pytest.raises(ValueError, match="is a directory, not a file"):
        load_config(tmp_path)
    with pytest.raises(ValueError, match="'/dev/null' is not a regular file"):
        load_config("/dev/null")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_text_file(tmp_path / "missing.yaml", "config file")
    bad = tmp_path / "bad.toml"
    bad.write_text("rounds = = 3\n")
    with pytest.raises(ValueError, match=r"config file '.*bad.toml' is not valid TOML"):
        load_config_file(bad)


@pytest.mark.parametrize(
    ("setup", "match"),
    [
        ("directory", "is a directory, not a file"),
        ("malformed", r"is not valid YAML: .* at line 2"),
        ("binary", "is not UTF-8 text"),
        ("duplicate", "duplicate key 'seeds' at line 4"),
    ],
)
def test_sweep_cli_bad_files_are_one_line(setup: str, match: str, tmp_path: Path, capsys) -> None:
    spec = tmp_path / "s.yaml"
    if setup == "directory":
        spec.mkdir()
    elif setup == "malformed":
        spec.write_text("experiment: deterrence\ngrid: {stake: [1, 2}\nseeds: 1\n")
    elif setup == "binary":
        spec.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    else:
        spec.write_text("experiment: deterrence\ngrid: {}\nseeds: 1\nseeds: 2\n")
    assert main(["sweep", "--config", str(spec), "--out", str(tmp_path / "ds"), "--serial"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"sweep config {str(spec)!r}" in err, err
    assert re.search(match, err), err
    assert not (tmp_path / "ds").exists()
