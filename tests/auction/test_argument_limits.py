"""Errors that name the argument and the limit (issue 9 item 9), checked before work starts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oasis_lab.__main__ import main
from oasis_lab.auction.baselines.double_auction import (
    dp_clearing_price,
    run_double_auction,
    unit_demand_market,
)
from oasis_lab.checks import physical_memory
from oasis_lab.market import check_market_size, generate_market


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--tasks", "1000000000000"], "--tasks = 1000000000000 with --providers = 100 needs about"),
        (["--tasks", str(10**30)], f"--tasks = {10**30} with --providers = 100 needs about"),
        (["--providers", str(2**70)], f"--providers = {2**70} needs about"),
        (["--seed", "-1"], "argument --seed: seed = -1 must be in [0, 2**128 - 1]"),
    ],
)
def test_auction_cli_names_the_argument_and_the_limit(args, expected, capsys) -> None:
    try:
        status = main(["auction", *args])
    except SystemExit as exit_:  # an argument type refuses it while parsing
        status = exit_.code
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err
    if "needs about" in expected:
        assert "GiB (the limit)" in err[0]


def test_compare_cli_checks_sizes_before_the_study(capsys, tmp_path) -> None:
    assert main(["compare", "--sizes", str(10**12), "--out", str(tmp_path / "c.csv"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"--sizes = {10**12}" in err[0]


def test_generate_market_refuses_sizes_and_seeds_by_name() -> None:
    with pytest.raises(ValueError, match=r"n_tasks = 1000000000000 with n_providers = 5 needs about .* GiB"):
        generate_market(10**12, 5)
    with pytest.raises(ValueError, match=r"seed = -1 must be in \[0, 2\*\*128 - 1\]"):
        generate_market(5, 5, seed=-1)
    # the limit is this machine's memory: sizes just under it pass the check
    check_market_size(1000, 100)
    with pytest.raises(ValueError, match="the limit"):
        check_market_size(physical_memory() // 300, 1)


@pytest.mark.parametrize("capacity", [1e12, 1e20])
def test_double_auction_refuses_capacities_it_cannot_list(capacity) -> None:
    market = unit_demand_market(generate_market(40, 8, seed=1))
    huge = market.replace(capacity=np.full(market.n_providers, capacity))
    for mechanism in ("mcafee", "sbba", "dp"):
        # the DP price needs its public grid (issue 12); the capacity is then what is refused
        kw = {"price_bounds": (0.0, 60.0)} if mechanism == "dp" else {}
        with pytest.raises(ValueError, match=r"market.capacity \(sum .* unit sellers.*GiB \(the limit\)"):
            run_double_auction(huge, mechanism, **kw)


@pytest.mark.parametrize("epsilon", [1e10, 1e100, 1e308])
def test_dp_price_with_a_huge_epsilon_is_the_best_price_not_nan(epsilon) -> None:
    rng = np.random.default_rng(0)
    bids, asks = rng.uniform(0, 10, 30), rng.uniform(0, 10, 30)
    grid = np.linspace(0, 10, 101)
    res = dp_clearing_price(bids, asks, epsilon, grid, seed=3)
    best = dp_clearing_price(bids, asks, math.inf, grid)
    assert np.isfinite(res.probabilities).all() and res.probabilities.sum() == pytest.approx(1.0)
    # all the probability sits on the prices of highest gains (ties share it)
    top = res.scores == res.scores.max()
    assert res.probabilities[~top].sum() == 0.0
    assert res.welfare == best.welfare
