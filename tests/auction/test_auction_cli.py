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
