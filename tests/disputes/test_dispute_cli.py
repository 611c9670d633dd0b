"""``python -m oasis_lab dispute``."""

import pytest

from oasis_lab.__main__ import main

pytest.importorskip("oasis_lab.gpu.model")


def test_dispute_cli_prints_transcript_and_ledger(capsys):
    assert main(["dispute", "--model", "tiny-transformer", "--cheat-node", "7", "--arity", "4"]) == 0
    out = capsys.readouterr().out
    assert "disputed: node 7 (block0.res1) after 3 rounds (bound 3)" in out
    assert "verdict: provider_guilty" in out
    assert "payment reversed, task-1" in out and "deposited 21,100," in " ".join(out.split())


def test_dispute_cli_lying_challenger_and_costs(capsys):
    assert main(["dispute", "--model", "synthetic:100", "--adversary", "lying-challenger", "--cheat-node", "10"]) == 0
    out = capsys.readouterr().out
    assert "verdict: challenger_wrong" in out and "bond to barred provider" in out
    assert main(["dispute", "--costs", "--model", "all", "--cost-arities", "2"]) == 0
    out = capsys.readouterr().out
    assert "llama-2-7b" in out and "sdxl-base-1.0" in out


def test_dispute_cli_bad_input(capsys):
    assert _exit_code(["dispute", "--arity", "1"]) == 2
    assert "arity = 1 must be >= 2" in capsys.readouterr().err
    assert main(["dispute", "--cheat-node", "no-such-node"]) == 2
    assert "no-such-node" in capsys.readouterr().err


def test_dispute_cli_every_adversary(capsys):
    from oasis_lab.disputes.registry import ADVERSARIES

    challengers = {"lying-challenger", "random-challenger", "fake-final", "honest"}
    within_rounding = {"below-tolerance", "other-device"}  # one ULP at a float node
    for reading in ("rounding", "strict"):
        for name in ADVERSARIES:
            assert main(["dispute", "--model", "synthetic:40", "--adversary", name, "--cheat-node", "10",
                         "--exact-reading", reading]) == 0
            out = capsys.readouterr().out
            # exact mode: the cheating side loses; within the rounding bound nobody does (strict:
            # a one-ULP cheat is convicted, and so is an honest provider on other hardware)
            expected = "challenger_wrong" if name in challengers else "provider_guilty"
            if reading == "rounding" and name in within_rounding:
                expected = "ambiguous"
            assert f"verdict: {expected}" in out, (reading, name)


BAD_ARGUMENTS = [
    (["--max-ulp", "2**64"], "max_ulp = '2**64' is not an integer in [0, 9223372036854775807]"),
    (["--max-ulp", str(2**64)], "max_ulp = 18446744073709551616 must be <= 9223372036854775807"),
    (["--max-ulp", "-1"], "max_ulp = -1 must be >= 0"),
    (["--rounding-ulp", "-1"], "rounding_ulp = -1 must be >= 0"),
    (["--payment", "-100"], "payment = -100 must be >= 0"),
    (["--payment", "1e3"], "payment = '1e3' is not an integer >= 0"),
    (["--seed", "-1"], "seed = -1 must be >= 0"),
    (["--seed", str(2**64)], "seed = 18446744073709551616 must be <= 9223372036854775807"),
    (["--arity", "1"], "arity = 1 must be >= 2"),
    (["--arity", "two"], "arity = 'two' is not an integer >= 2"),
    (["--atol", "nan"], "atol = nan must be finite"),
    (["--atol", "-0.5"], "atol = -0.5 must be >= 0"),
    (["--model", "no-such-model"], "model = 'no-such-model' is not one of"),
    (["--model", "synthetic:0"], "synthetic:N (nodes) = 0 must be >= 1"),
    (["--model", "synthetic:x"], "expected synthetic:<number of nodes>"),
    (["--model", "synthetic:10000000000"], "synthetic:N (nodes) = 10000000000 must be <= 1000000"),
    (["--backend", "cuda"], "argument --backend: invalid choice: 'cuda'"),
    (["--referee-backend", "cuda"], "argument --referee-backend: invalid choice: 'cuda'"),
    (["--comparison", "fuzzy"], "argument --comparison: invalid choice: 'fuzzy'"),
    (["--adversary", "nobody"], "argument --adversary: invalid choice: 'nobody'"),
    (["--cost-arities", "2", "1"], "cost arity = 1 must be >= 2"),
    (["--model", "synthetic:30", "--cheat-node", "30"], "--cheat-node '30': node = 30 is not a node"),
]


@pytest.mark.parametrize("argv, message", BAD_ARGUMENTS, ids=[" ".join(a) for a, _ in BAD_ARGUMENTS])
def test_dispute_cli_bad_argument_one_line_before_work(argv, message, capsys, monkeypatch):
    """Each bad argument: exit status 2, one line on stderr naming it and its limit, and no
    dispute played (``play`` is replaced by a function that fails the test)."""
    from oasis_lab.disputes import cli

    def no_work(*args, **kwargs):
        raise AssertionError("the dispute ran before the argument was checked")

    monkeypatch.setattr(cli, "play", no_work)
    monkeypatch.setattr(cli, "cost_table", no_work)
    assert _exit_code(["dispute", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], captured.err


def _exit_code(argv):
    try:
        return main(argv)
    except SystemExit as exc:  # argparse errors exit while parsing
        return exc.code


def test_dispute_cli_large_payment_exact(capsys):
    payment = 10**30 + 1
    assert main(["dispute", "--model", "synthetic:40", "--cheat-node", "10", "--payment", str(payment)]) == 0
    out = capsys.readouterr().out
    text = " ".join(out.split())  # the conservation line wraps at 100 columns
    assert "verdict: provider_guilty" in out and f"deposited {21100 - 100 + payment:,}," in text
