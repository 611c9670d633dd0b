"""One mechanism registry (issue 23, Measured item 3): compare, incentives and the simulation's
config read the same entries and run them through the same dispatch."""

from __future__ import annotations

import numpy as np
import pytest

import oasis_lab.incentives  # noqa: F401  (registers "truthful" and "first_price")
from oasis_lab.auction.baselines import unit_demand_market
from oasis_lab.auction.compare import BASELINES, DP_GRID, compare_markets
from oasis_lab.auction.mechanisms import (
    MECHANISMS,
    Mechanism,
    mechanism_names,
    mechanism_result,
    register_mechanism,
    run_mechanism,
)
from oasis_lab.market import generate_market
from oasis_lab.params import AuctionParams
from oasis_lab.sim import SimConfig


def test_each_consumer_reads_its_names_from_the_registry() -> None:
    assert BASELINES == tuple(n for n, m in MECHANISMS.items() if m.compare)
    assert BASELINES == ("ilp", "lp", "vcg", "mcafee", "sbba", "dp")
    assert set(mechanism_names("outcome")) == {"greedy", "vcg", "mcafee", "sbba", "dp", "truthful", "first_price"}
    assert mechanism_names("simulate") == ("greedy",)
    SimConfig(mechanism="greedy")
    # registered, but not one the simulation runs: refused by name, listing what it runs
    with pytest.raises(ValueError, match=r"mechanism = 'vcg' must be one of \['greedy'\]"):
        SimConfig(mechanism="vcg")
    with pytest.raises(ValueError, match="capability"):
        mechanism_names("fly")


def test_the_dispatch_refuses_bad_names_and_options_before_running() -> None:
    m = generate_market(6, 3, seed=0)
    with pytest.raises(ValueError, match="mechanism = 'nope' is not one of"):
        mechanism_result(m, "nope")
    with pytest.raises(ValueError, match=r"mechanism 'greedy' takes no option\(s\) \['epsilon'\]"):
        mechanism_result(m, "greedy", epsilon=1.0)
    with pytest.raises(ValueError, match="mechanism 'truthful' needs reference_price"):
        run_mechanism(m, "truthful")
    with pytest.raises(ValueError, match="mechanism = 'ilp' is not one of"):
        run_mechanism(m, "ilp")  # a reference without transfers has no outcome
    with pytest.raises(TypeError, match="market must be"):
        mechanism_result("market", "greedy")
    with pytest.raises(TypeError, match="params must be"):
        mechanism_result(m, "greedy", {"alpha": 2})


def test_a_name_is_registered_once() -> None:
    clash = Mechanism("greedy", "another greedy", lambda m, p, seed, o: None)
    with pytest.raises(ValueError, match="already registered"):
        register_mechanism(clash)
    assert MECHANISMS["greedy"] is not clash
    with pytest.raises(ValueError, match="has no report"):
        Mechanism("x", "a baseline without a row", lambda m, p, seed, o: None, compare=True)
    with pytest.raises(ValueError, match="required options"):
        Mechanism("x", "y", lambda m, p, seed, o: None, required=frozenset({"price"}))


@pytest.mark.parametrize("seed", [0, 1])
def test_compare_and_incentives_measure_the_same_run(seed: int) -> None:
    # the comparison row and the expected outcome come from one dispatch: their welfare agrees
    params = AuctionParams()
    general = generate_market(12, 4, seed=seed)
    unit = unit_demand_market(generate_market(20, 6, n_types=1, seed=seed))
    frame = compare_markets([({"market": "g"}, general), ({"market": "u"}, unit)], params,
                            readings={"no_trade": {}}, mechanisms=("ilp", "vcg", "mcafee", "sbba", "dp"),
                            backend="highspy", greedy_repeats=1, seed=seed)
    opts = {"dp": {"epsilon": 1.0, "grid": DP_GRID}}
    checked = 0
    for _, r in frame.iterrows():
        if r["mechanism"] == "ilp":
            continue
        market = general if r["market"] == "g" else unit
        outcome = run_mechanism(market, r["mechanism"], params, seed=seed, **opts.get(r["mechanism"], {}))
        np.testing.assert_allclose(outcome.welfare(market, params), r["welfare"], rtol=1e-9, atol=1e-9)
        checked += 1
    assert set(frame["mechanism"]) == {"ilp", "greedy", "vcg", "mcafee", "sbba", "dp"} and checked == len(frame) - 2
