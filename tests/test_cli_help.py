"""The CLIs explain every option and fit 100 columns (issue 14 item 6)."""

from __future__ import annotations

import argparse
import re

import numpy as np
import pytest

from oasis_lab.__main__ import build_parser, main
from oasis_lab.auction.greedy import run_greedy
from oasis_lab.auction.metrics import check_individual_rationality
from oasis_lab.auction.pricing import user_costs
from oasis_lab.clihelp import WIDTH
from oasis_lab.market import generate_market
from oasis_lab.params import AuctionParams

SUBCOMMANDS = ["auction", "compare", "bench"]


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_option_is_explained_with_its_default(name: str) -> None:
    sub = _subparser(name)
    assert sub.description and len(sub.description) > 80, "the subcommand needs a description"
    formatter = sub._get_formatter()
    for action in sub._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        option = action.option_strings[-1]
        assert action.help and len(action.help) >= 10, f"{name} {option} unexplained"
        shown = formatter._get_help_string(action) or ""
        if action.default not in (None, False) and action.dest != "help":
            assert "(default" in shown, f"{name} {option}: the help does not give the default"
        assert option in sub.format_help()


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_help_fits_100_columns(name: str, capsys) -> None:
    with pytest.raises(SystemExit):
        main([name, "--help"])
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= WIDTH


def test_auction_psi_weights_help_gives_the_order() -> None:
    help_text = re.sub(r"\s+", " ", _subparser("auction").format_help())
    assert "gpu_tflops memory_gb bandwidth_gbs cpu_cores" in help_text


def test_auction_output_fits_100_columns_and_wide_prints_whole(capsys) -> None:
    args = ["auction", "--tasks", "60", "--providers", "8", "--scenario", "price_crossing",
            "--seed", "3", "--price-rule", "as_written", "--check", "--psi-weights", "1", "2", "3", "4"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= WIDTH
    assert "individual_rationality  FAILED" in out and "first: user" in out
    assert main([*args, "--wide"]) == 0
    wide = capsys.readouterr().out
    assert max(len(line) for line in wide.splitlines()) > WIDTH  # the full check table


def test_bench_output_fits_100_columns(capsys) -> None:
    assert main(["bench", "--backend", "numpy", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= WIDTH
    assert "MEASURED" in out and "PROJECTED" in out


def test_ir_messages_add_up() -> None:
    """'user i loses L = pays P - served share s x (value v - user cost e e)': L = P - s (v - e)."""
    market = generate_market(60, 8, scenario="price_crossing", seed=3)
    params = AuctionParams(price_rule="as_written")
    report = check_individual_rationality(market, run_greedy(market, params))
    assert not report.ok and report.messages
    number = r"(-?[0-9.e+-]+)"
    for message in report.messages:
        m = re.fullmatch(rf"user (\d+) loses {number} = pays {number} - served share {number} x "
                         rf"\(value {number} - user cost e {number}\)", message)
        assert m, message
        i, loss, pays, share, value, e = int(m[1]), *map(float, m.groups()[1:])
        assert loss == pytest.approx(pays - share * (value - e), rel=1e-5)
        assert value == pytest.approx(market.value[i], rel=1e-5)
        assert e == pytest.approx(user_costs(market, params)[i], rel=1e-5)
        assert np.isfinite(loss) and loss > 0


@pytest.mark.parametrize("args", [["bench", "--backend", "numpy", "--seed", "-1"],
                                  ["kernels", "check", "--backend", "numpy", "--seed", "-1"]])
def test_gpu_cli_seed_errors_name_the_option(args, capsys) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --seed = -1 must be in [0, 2**128 - 1]"]
