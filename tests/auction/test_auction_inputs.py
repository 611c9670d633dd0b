"""Bad inputs of the auction: clear errors, or documented handling."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_lab.auction.greedy import run_greedy
from oasis_lab.auction.metrics import check_feasible
from oasis_lab.market import Market, generate_market
from oasis_lab.params import AuctionParams


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("task_density", "lehmann", "task_density = 'lehmann'"),
        ("provider_density", "speed", "provider_density"),
        ("price_rule", "vickrey", "price_rule"),
        ("normalize", "zscore", "normalize"),
        ("capacity", "memory", "capacity"),
        ("task_size", "flops", "task_size"),
        ("rebid_mode", "double", "rebid_mode"),
        ("alpha", 1, "alpha = 1 must be > 1"),
        ("alpha", float("nan"), "alpha"),
        ("beta", -1, "beta = -1 must be >= 0"),
        ("fee", 1.0, r"fee = 1.0 must be in \[0, 1\)"),
        ("fee", -0.1, "fee"),
        ("rebid_bump", -0.5, "rebid_bump"),
        ("psi_weights", (1.0, -2.0), r"psi_weights\[1\] = -2.0"),
    ],
)
def test_invalid_params_name_the_field(field, value, match):
    with pytest.raises(ValueError, match=match):
        AuctionParams(**{field: value})


@pytest.mark.parametrize(
    "field, value", [("partial", 1), ("split", "yes"), ("alpha", "2"), ("psi_weights", "abc")]
)
def test_wrong_types_raise_type_error(field, value):
    with pytest.raises(TypeError, match=field):
        AuctionParams(**{field: value})


def test_replace_rejects_unknown_fields():
    with pytest.raises(ValueError, match="unknown AuctionParams field"):
        AuctionParams().replace(densty="surplus")


def test_run_greedy_rejects_wrong_argument_types():
    market = generate_market(10, 3, seed=0)
    with pytest.raises(TypeError, match="market must be"):
        run_greedy("market")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="params must be"):
        run_greedy(market, {"price_rule": "no_trade"})  # type: ignore[arg-type]


def test_psi_weights_of_the_wrong_length():
    market = generate_market(10, 3, seed=0)  # 4 Psi components
    with pytest.raises(ValueError, match="psi_weights has 2 weights but the market has 4"):
        run_greedy(market, AuctionParams(psi_weights=(1.0, 1.0)))


def test_task_size_needs_a_size_column():
    market = Market(demand=[[1.0]], value=[5.0], speed=[[1.0]], capacity=[1.0], cost=[1.0],
                    psi=[[1.0]], model_types=("m",))
    with pytest.raises(ValueError, match="size column"):
        run_greedy(market, AuctionParams(task_size="size"))


def test_nan_values_are_refused_by_the_market():
    with pytest.raises(ValueError, match=r"value\[1\] = nan must be finite"):
        Market(demand=[[1.0], [1.0]], value=[5.0, np.nan], speed=[[1.0]], capacity=[1.0],
               cost=[1.0], psi=[[1.0]], model_types=("m",))


def test_zero_demand_rows_and_providers_that_run_nothing():
    # Task 1 has no demand (the pseudo-code's C = 0 skip): never served. Provider 0 has all-zero
    # speeds: it never trades, whatever its density or capacity.
    market = Market(
        demand=[[1.0, 0.0], [0.0, 0.0], [0.0, 2.0]],
        value=[10.0, 10.0, 20.0],
        speed=[[0.0, 0.0], [1.0, 1.0]],
        capacity=[100.0, 3.0],
        cost=[0.0, 1.0],
        psi=[[9.0], [1.0]],
        model_types=("a", "b"),
    )
    for params in (AuctionParams(), AuctionParams(price_rule="as_written", provider_density="capability")):
        result = run_greedy(market, params)
        assert result.served.tolist() == [True, False, True]
        assert (result.trades["provider"] == 1).all()
        assert check_feasible(market, result)


def test_zero_capacity_market_serves_nobody():
    market = generate_market(20, 4, seed=1).replace(capacity=np.zeros(4))
    result = run_greedy(market)
    assert not result.served.any() and result.trades.empty and result.welfare == 0.0
    assert result.summary().loc[0, "trades"] == 0
