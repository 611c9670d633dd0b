"""``python -m oasis_lab auction`` prints the summary table."""

from __future__ import annotations

import pytest

from oasis_lab.__main__ import main


def test_auction_subcommand_prints_summary(capsys):
    code = main(["auction", "--tasks", "60", "--providers", "8", "--scenario", "price_crossing",
                 "--seed", "3", "--price-rule", "as_written", "--check"])
    out = capsys.readouterr().out
    assert code == 0
    for word in ("welfare", "ir_violations_users", "price_rule=as_written", "individual_rationality"):
        assert word in out


def test_auction_subcommand_reports_bad_values(capsys):
    assert main(["auction", "--tasks", "10", "--fee", "1.5"]) == 2
    assert "fee = 1.5" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["auction", "--tasks", "0"])
    with pytest.raises(SystemExit):
        main(["auction", "--price-rule", "vickrey"])


@pytest.mark.parametrize("kind", ["directory", "inside_a_file"])
def test_compare_checks_out_before_the_study(kind, tmp_path, capsys, monkeypatch):
    """``compare --out DIR`` fails at once, naming --out, without running the study."""
    import oasis_lab.experiments.cli as compare_cli

    def study_must_not_run(*args, **kwargs):
        raise AssertionError("the study ran before --out was checked")

    monkeypatch.setattr(compare_cli, "sweep", study_must_not_run)
    if kind == "directory":
        out = tmp_path
    else:
        (tmp_path / "plain").write_text("")
        out = tmp_path / "plain" / "cmp.csv"
    assert main(["compare", "--sizes", "10", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --out = ")
