"""``python -m oasis_lab dispute``."""

import pytest

from oasis_lab.__main__ import main

pytest.importorskip("oasis_lab.gpu.model")


def test_dispute_cli_prints_transcript_and_ledger(capsys):
    assert main(["dispute", "--model", "tiny-transformer", "--cheat-node", "7", "--arity", "4"]) == 0
    out = capsys.readouterr().out
    assert "disputed: node 7 (block0.res1) after 3 rounds (bound 3)" in out
    assert "verdict: provider_guilty" in out
    assert "payment reversed, task-1" in out and "'deposited': 21100" in out


def test_dispute_cli_lying_challenger_and_costs(capsys):
    assert main(["dispute", "--model", "synthetic:100", "--adversary", "lying-challenger", "--cheat-node", "10"]) == 0
    out = capsys.readouterr().out
    assert "verdict: challenger_wrong" in out and "bond to barred provider" in out
    assert main(["dispute", "--costs", "--cost-arities", "2"]) == 0
    out = capsys.readouterr().out
    assert "llama-2-7b" in out and "sdxl-base-1.0" in out


def test_dispute_cli_bad_input(capsys):
    assert main(["dispute", "--arity", "1"]) == 2
    assert "arity = 1 must be >= 2" in capsys.readouterr().err
    assert main(["dispute", "--cheat-node", "no-such-node"]) == 2
    assert "no-such-node" in capsys.readouterr().err


def test_dispute_cli_every_adversary(capsys):
    from oasis_lab.disputes.cli import ADVERSARIES

    challengers = {"lying-challenger", "random-challenger", "fake-final", "honest"}
    for name in ADVERSARIES:
        assert main(["dispute", "--model", "synthetic:40", "--adversary", name, "--cheat-node", "10"]) == 0
        out = capsys.readouterr().out
        # exact mode, one device: the cheating side loses (other-device: the wrongful slash)
        expected = "challenger_wrong" if name in challengers else "provider_guilty"
        assert f"verdict: {expected}" in out, name
