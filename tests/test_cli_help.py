"""The CLIs explain every option and fit 100 columns (issue 14 item 6).

The structural checks walk every registered subcommand (nested ones too), so a subcommand
added later is checked without editing this file.
"""

from __future__ import annotations

import argparse
import re

import numpy as np
import pytest

from oasis_lab.__main__ import SUBCOMMANDS, build_parser, main
from oasis_lab.auction.greedy import run_greedy
from oasis_lab.auction.metrics import check_individual_rationality
from oasis_lab.auction.pricing import user_costs
from oasis_lab.clihelp import WIDTH, HelpFormatter
from oasis_lab.market import generate_market
from oasis_lab.params import AuctionParams


def _registered(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every (sub)command parser under ``parser``, nested ones (``kernels check``) included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from _registered(sub, (*path, name))


#: Every registered subcommand, found from the parser: one added later is covered too.
REGISTERED = {" ".join(path): sub for path, sub in _registered(build_parser())}


def _subparser(name: str) -> argparse.ArgumentParser:
    return REGISTERED[name]


def test_every_known_subcommand_is_registered() -> None:
    # the walk itself works: it finds the nested commands, not only the top level
    assert {"auction", "compare", "bench", "dispute", "kernels", "kernels check", "browser",
            "browser check", "simulate", "report"} <= set(REGISTERED)


@pytest.mark.parametrize("name", sorted(REGISTERED))
def test_every_subcommand_uses_the_shared_formatter(name: str) -> None:
    sub = _subparser(name)
    assert issubclass(sub.formatter_class, HelpFormatter), f"{name}: use oasis_lab.clihelp"
    assert sub.description and len(sub.description) > 80, f"{name} needs a description"


@pytest.mark.parametrize("name", sorted(REGISTERED))
def test_every_option_is_explained_with_its_default(name: str) -> None:
    sub = _subparser(name)
    formatter = sub._get_formatter()
    help_text = sub.format_help()
    for action in sub._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS or action.dest == "help":
            continue
        option = action.option_strings[-1]
        assert action.help and len(action.help) >= 10, f"{name} {option} unexplained"
        shown = formatter._get_help_string(action) or ""
        if action.default is not None and action.default is not False:  # 0 is a default too
            assert "(default" in shown, f"{name} {option}: the help does not give the default"
        elif action.required:
            assert "required" in shown, f"{name} {option}: the help does not say it is required"
        assert option in help_text


@pytest.mark.parametrize("name", sorted(REGISTERED))
def test_help_fits_100_columns(name: str, capsys) -> None:
    with pytest.raises(SystemExit):
        main([*name.split(), "--help"])
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= WIDTH
    # names (quantized-mlp, --cost-arities) are not broken at their hyphens
    assert not [line for line in lines if re.search(r"[A-Za-z]-$", line)]


@pytest.mark.parametrize("name", sorted(REGISTERED))
def test_a_bad_argument_is_one_line_and_status_2(name: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*name.split(), "--no-such-option"])
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()  # one line, no usage block
    assert line.startswith("error: python -m oasis_lab")
    # argparse names the unknown option, or first a required option that is missing
    assert line.endswith("unrecognized arguments: --no-such-option") or "are required: --" in line


def test_a_zero_default_is_shown() -> None:
    parser = argparse.ArgumentParser(formatter_class=HelpFormatter)
    parser.add_argument("--seed", type=int, default=0, help="seed of the inputs")
    parser.add_argument("--flag", action="store_true", help="a flag, off")
    text = re.sub(r"\s+", " ", parser.format_help())
    assert "seed of the inputs (default: 0)" in text
    assert "a flag, off (default" not in text


def _fits(out: str) -> bool:
    return max(len(line) for line in out.splitlines()) <= WIDTH


#: Default runs of the subcommands that print tables (the cheap settings of each), and whether
#: their whole tables are wider than 100 columns (then ``--wide`` must print them so).
DEFAULT_RUNS = {
    "auction": (["auction", "--tasks", "200", "--providers", "20"], False),
    "dispute": (["dispute"], False),
    "dispute --costs": (["dispute", "--costs"], True),
    "dispute --costs --model all": (["dispute", "--costs", "--model", "all"], True),
    "kernels check": (["kernels", "check", "--backend", "numpy", "--runs", "2"], False),
    "simulate": (["simulate", "--config", "data/configs/market_referees.yaml", "--rounds", "2",
                  "--quiet"], True),
}


@pytest.mark.parametrize("name", sorted(DEFAULT_RUNS))
def test_default_tables_fit_100_columns_and_wide_prints_whole(name: str, capsys) -> None:
    args, wider = DEFAULT_RUNS[name]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert _fits(out), "\n".join(line for line in out.splitlines() if len(line) > WIDTH)
    assert "e+" not in out and "e-0" not in out  # one positional notation, no exponents
    # fitted in blocks of columns that keep the row names, never pandas' "\" halves
    assert not [line for line in out.splitlines() if line.rstrip().endswith("\\")], out
    assert main([*args, "--wide"]) == 0
    wide = capsys.readouterr().out
    assert _fits(wide) is not wider
    if not wider:  # nothing to unwrap: the same text (but the measured run time)
        assert _untimed(wide) == _untimed(out)


def _untimed(out: str) -> list[str]:
    return [line for line in out.splitlines() if not line.startswith("runtime")]


@pytest.mark.parametrize("model", ["tiny-transformer", "quantized-mlp", "llama-2-7b", "synthetic:40"])
def test_dispute_costs_shows_only_the_chosen_model(model: str, capsys) -> None:
    from oasis_lab.disputes.profiles import PROFILES
    from oasis_lab.disputes.registry import EXECUTED_MODELS

    named = [*EXECUTED_MODELS, *PROFILES]
    assert main(["dispute", "--costs", "--model", model, "--cost-arities", "2", "4"]) == 0
    out = capsys.readouterr().out
    heads = [line.split(":")[0] for line in out.splitlines() if " nodes, one inference " in line]
    assert heads == [model.replace(":", "-")]  # a synthetic graph is named synthetic-N
    assert [m for m in named if m in out] == ([model] if model in named else [])
    assert "K = 2" in out and "K = 4" in out and "K = 8" not in out
    assert main(["dispute", "--costs", "--model", model, "--cost-arities", "2", "--wide"]) == 0
    wide = capsys.readouterr().out
    assert [m for m in named if m in wide] == ([model] if model in named else [])


def test_dispute_costs_of_all_models_on_request(capsys) -> None:
    from oasis_lab.disputes.profiles import PROFILES
    from oasis_lab.disputes.registry import EXECUTED_MODELS

    assert main(["dispute", "--costs", "--model", "all", "--cost-arities", "2"]) == 0
    heads = [line.split(":")[0] for line in capsys.readouterr().out.splitlines()
             if " nodes, one inference " in line]
    assert heads == [*EXECUTED_MODELS, *PROFILES]


def test_dispute_costs_table_agrees_with_the_computed_one(capsys) -> None:
    from oasis_lab.disputes.economics import cost_table
    from oasis_lab.disputes.registry import computation_for

    assert main(["dispute", "--costs", "--model", "llama-2-7b", "--cost-arities", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = cost_table([computation_for("llama-2-7b").graph], (4,)).iloc[0]
    shown = {line.rsplit(None, 1)[0].strip(): line.rsplit(None, 1)[1] for line in lines
             if line.startswith(("rounds, max", "hashes exchanged, max", "referee share"))}
    assert shown["rounds, max over nodes"] == f"{int(row['rounds_max']):,}"
    assert shown["hashes exchanged, max"] == f"{int(row['hashes_max']):,}"
    share = float(shown["referee share of the inference, max (%)"])
    assert share == pytest.approx(100 * row["referee_share_max"], rel=1e-3)


def test_dispute_model_all_needs_costs(capsys) -> None:
    assert main(["dispute", "--model", "all"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: --model 'all' needs --costs (a dispute is over one model)"]


def test_unknown_model_lists_every_valid_one(capsys) -> None:
    from oasis_lab.disputes.profiles import PROFILES
    from oasis_lab.disputes.registry import EXECUTED_MODELS

    with pytest.raises(SystemExit) as exit_:
        main(["dispute", "--model", "gpt-5"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    for name in [*EXECUTED_MODELS, *PROFILES, "synthetic:N", "'all'"]:
        assert name in err[0]
    help_text = re.sub(r"\s+", " ", _subparser("dispute").format_help())
    for name in [*EXECUTED_MODELS, *PROFILES]:  # the help offers the same names
        assert name in help_text


def test_unknown_kernel_target_lists_every_valid_one_before_running(capsys) -> None:
    from oasis_lab.gpu.determinism import OP_EXAMPLES
    from oasis_lab.gpu.model import MODEL_NAMES

    assert main(["kernels", "check", "--backend", "numpy", "--target", "matmul",
                 "--target", "nope"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # refused before the matmul target ran
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "--target 'nope'" in err[0]
    for name in [*OP_EXAMPLES, *MODEL_NAMES]:
        assert repr(name) in err[0]


@pytest.mark.parametrize("args", [["kernels", "check", "--runs", "0"],
                                  ["browser", "check", "--timeout", "0"],
                                  ["browser", "check", "--timeout", "nan"],
                                  ["simulate", "--config", "x.yaml", "--tail", "0"],
                                  ["simulate", "--config", "x.yaml", "--seed", str(2**128)],
                                  ["compare", "--sizes", "100,0"],
                                  ["compare", "--scenarios", "balanced,nope"],
                                  ["auction", "--tasks", "ten"],
                                  ["report", "--only", ""],
                                  ["report", "--only", "00_market_tour,,01_greedy_vs_optimum"]])
def test_bad_counts_are_refused_while_parsing(args, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"argument {args[-2]}: " in err[0], err  # one line naming the option


_PLAIN_TYPES = (int, float, str, __import__("pathlib").Path)


@pytest.mark.parametrize("name", sorted(REGISTERED))
def test_every_argument_type_is_a_shared_one(name: str) -> None:
    # One set of argument types (oasis_lab.clihelp) for every CLI: a subcommand that wrote its
    # own (two copies of positive_int did) is caught here. Plain int/float/str/Path types leave
    # the check to the library function the option feeds.
    for action in _subparser(name)._actions:
        kind = action.type
        if kind is None or kind in _PLAIN_TYPES:
            continue
        assert getattr(kind, "__module__", None) == "oasis_lab.clihelp", (
            f"{name} {action.option_strings}: type {kind!r} is not from oasis_lab.clihelp")


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
    with pytest.raises(SystemExit) as exit_:  # refused while parsing
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].endswith("argument --seed: seed = -1 must be in [0, 2**128 - 1]"), err


def test_every_adversary_is_explained_in_the_help() -> None:
    from oasis_lab.disputes.registry import ADVERSARIES, ADVERSARY_HELP

    assert list(ADVERSARY_HELP) == list(ADVERSARIES)
    help_text = re.sub(r"\s+", " ", _subparser("dispute").format_help())
    for name, text in ADVERSARY_HELP.items():
        assert f"{name} = {text}" in help_text


def test_a_wide_table_is_cut_into_blocks_that_keep_the_row_names() -> None:
    # issue 22: `browser check` and `dispute` tables wrapped with "\" and their second half had
    # no case names; a table shaped like browser check's kernel table
    import pandas as pd

    from oasis_lab.clihelp import fit_table

    cases = [f"{k}/{c}" for k in ("matmul", "softmax", "layernorm") for c in ("normal", "subnormal")]
    frame = pd.DataFrame({"case": cases, "kernel": ["blocked"] * 6,
                          **{f"{a}={b}": [True] * 6 for a, b in (("browser", "webgpu"), ("browser", "numpy"),
                                                                ("webgpu", "numpy"))},
                          "max_ulp browser-numpy": [0.0] * 6, "max_ulp webgpu-numpy": [0.0] * 6,
                          "differing elements of 1,048,576": [10989, 0, 0, 0, 0, 3]})
    text = fit_table(frame)
    blocks = text.split("\n\n")
    assert len(blocks) >= 2 and _fits(text) and "\\" not in text
    for block in blocks:
        lines = block.splitlines()
        assert lines[0].split()[:2] == ["case", "kernel"], block  # every block names its rows
        assert [line.split()[0] for line in lines[1:]] == cases, block
    assert "10,989" in text  # counts with separators
    columns = [c for block in blocks for c in frame.columns if f" {c}" in f" {block.splitlines()[0]}"]
    assert set(columns) == set(frame.columns)  # every column is somewhere
    assert fit_table(frame, wide=True).count("\n") == len(frame)  # --wide: one block, whole


def test_the_sweep_table_fits_100_columns(tmp_path, capsys) -> None:
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text("experiment: deterrence\nconfig: {n_tasks: 40, n_nodes: 8}\n"
                          "grid:\n  stake: [0, 5000]\n  p_platform: [0.0, 0.05]\nseeds: 1\n")
    args = ["sweep", "--config", str(sweep_file), "--out", str(tmp_path / "out"), "--serial", "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert _fits(out) and "\\" not in out, out
    assert out.count("stake p_platform") >= 2  # each block carries the grid point's values
    assert main([*args, "--wide"]) == 0
    assert not _fits(capsys.readouterr().out)  # the whole table is wider than 100 columns


# ------------------------------------------------------------------ --help without heavy imports
_HEAVY = ("numpy", "pandas", "scipy", "pyarrow", "numba", "cvxpy", "matplotlib", "IPython", "papermill",
          "nbconvert", "wgpu", "yaml", "tqdm", "distributed")

_IMPORTS_OF_HELP = """
import contextlib, io, json, sys
from oasis_lab.__main__ import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        main(sys.argv[1:] + ["--help"])
    except SystemExit:
        pass
print(json.dumps({"help": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def _imports_of_help(*command: str) -> tuple[str, set[str]]:
    """The help text of ``python -m oasis_lab COMMAND --help`` and the modules it imported (in a
    fresh interpreter)."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _IMPORTS_OF_HELP, *command], capture_output=True, text=True,
                          check=True, timeout=120)
    data = json.loads(done.stdout)
    return data["help"], set(data["modules"])


@pytest.mark.parametrize("command", [(), ("report",), ("kernels",), ("kernels", "check"), ("bench",)])
def test_help_imports_no_numerical_library(command: tuple[str, ...]) -> None:
    # issue 22: `python -m oasis_lab --help` took 3.8 to 6.5 s importing every subcommand's
    # module (numpy, pandas, scipy, cvxpy, numba ...); the list and these subcommands' help
    # now import argparse-level code only
    text, modules = _imports_of_help(*command)
    assert "usage: python -m oasis_lab" in text
    heavy = sorted(m for m in modules if m.split(".")[0] in _HEAVY)
    assert not heavy, heavy
    if not command:
        assert all(name in text for name in SUBCOMMANDS)
        assert {m for m in modules if m.startswith("oasis_lab")} == {"oasis_lab", "oasis_lab.__main__",
                                                                    "oasis_lab.clihelp"}


@pytest.mark.parametrize("name", sorted(set(SUBCOMMANDS) - {"report", "kernels", "bench"}))
def test_a_subcommands_help_imports_no_other_subcommand(name: str) -> None:
    text, modules = _imports_of_help(name)
    assert f"python -m oasis_lab {name}" in text
    shared = {"compare": {"oasis_lab.auction.cli"}}.get(name, set())  # compare shares auction's reading help
    others = {module for module, _ in SUBCOMMANDS.values() if module != SUBCOMMANDS[name][0]} - shared
    assert not others & modules, sorted(others & modules)


def test_the_listed_help_is_each_modules_own() -> None:
    # the top-level list is written in __main__ (so it imports nothing); it must say what each
    # module registers
    actions = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    registered = {choice.dest: choice.help for choice in actions[0]._choices_actions}
    assert registered == {name: text for name, (_, text) in SUBCOMMANDS.items()}
