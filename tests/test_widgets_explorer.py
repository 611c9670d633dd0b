"""The notebook-06 explorer: pure callbacks, and the dashboard driven through ``.value``."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

from oasis_lab.auction.baselines import solve_optimum
from oasis_lab.auction.greedy import run_greedy
from oasis_lab.params import AuctionParams
from oasis_lab.widgets import (
    ExplorerDashboard,
    add_to_trace,
    dispute_view,
    explorer_figure,
    explorer_market,
    explorer_params,
    explorer_view,
    plot_heatmap,
    psi_state,
)

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def dash() -> ExplorerDashboard:
    return ExplorerDashboard("balanced", 400)


def test_dashboard_driven_through_values_equals_the_callbacks(dash: ExplorerDashboard) -> None:
    before = len(dash.trace)
    dash.provider_density.value = "capability"
    dash.alpha.value = 3.0
    dash.fee.value = 0.1
    dash.price_rule.value = "as_written"
    dash.psi_weights[1].value = 4.0
    expected = AuctionParams(
        psi_weights=(1.0, 4.0, 1.0, 1.0), alpha=3.0, fee=0.1, price_rule="as_written", provider_density="capability"
    )
    assert dash.params() == expected
    direct = explorer_view(explorer_market("balanced", 400), expected)
    assert dash.view.figures == direct.figures
    pd.testing.assert_frame_equal(dash.view.prices, direct.prices)
    pd.testing.assert_frame_equal(dash.view.winners, direct.winners)
    assert len(dash.trace) == before + 5  # one point per setting tried
    assert dash.trace[-1]["welfare_share"] == direct.figures["welfare_share"]
    assert not any(s.disabled for s in dash.psi_weights) and dash.psi_reason.value == ""


def test_psi_sliders_disabled_with_the_reason(dash: ExplorerDashboard) -> None:
    dash.provider_density.value = "unit_cost"
    assert all(s.disabled for s in dash.psi_weights)
    assert "unit_cost" in dash.psi_reason.value and "disabled" in dash.psi_reason.value
    dash.provider_density.value = "capability"
    assert not any(s.disabled for s in dash.psi_weights)


def test_scenario_size_and_challenge_controls(dash: ExplorerDashboard) -> None:
    dash.scenario.value = "scarce_supply"
    dash.n_tasks.value = 200
    assert dash.market.n_tasks == 200 and dash.view.result.served_share.size == 200
    n = len(dash.trace)
    dash.stake.value = 0.0
    dash.slash_fraction.value = 0.5
    dash.p_challenge.value = 0.0
    assert len(dash.trace) == n  # the challenge controls do not add auction settings
    assert dash.dispute == dispute_view(0.0, 0.5, 0.0)
    low = dash.dispute.figures
    dash.stake.value = 5000.0
    dash.p_challenge.value = 0.3
    high = dash.dispute.figures
    # more challenges: cheaters removed sooner, and they keep less
    assert high["cheaters_removed"] >= low["cheaters_removed"]
    assert high["cheater_income_per_cheater"] < low["cheater_income_per_cheater"]
    assert high["challenger_costs"] > low["challenger_costs"]


def test_explorer_view_is_pure_and_against_the_optimum() -> None:
    market = explorer_market("price_crossing", 200)
    params = AuctionParams(price_rule="as_written")
    a, b = explorer_view(market, params), explorer_view(market, params)
    assert a.figures == b.figures
    optimum = solve_optimum(market, params, backend="highspy").welfare
    greedy = run_greedy(market, params)
    assert a.figures["welfare_share"] == pytest.approx(greedy.welfare / optimum)
    assert a.figures["welfare_share"] <= 1 + 1e-7
    assert a.figures["ir_violations_users"] == greedy.ir_violations_users > 0
    units = greedy.trades.groupby("type")["units"].sum()
    np.testing.assert_allclose(a.prices["units"].to_numpy()[units.index], units.to_numpy())
    assert math.isclose(a.winners["units_share"].sum(), 1.0)


def test_psi_state_reads_the_outcome() -> None:
    market = explorer_market("balanced", 400)
    assert psi_state(market, AuctionParams(provider_density="unit_cost"))[0]
    assert psi_state(market, AuctionParams(provider_density="capability")) == (False, "")
    disabled, reason = psi_state(market, AuctionParams())
    # measured: on this market no weight changes a trade under the as-written density
    assert disabled and "as_written" in reason


def test_trace_and_figure() -> None:
    market = explorer_market("balanced", 200)
    views = [explorer_view(market, AuctionParams(provider_density=d)) for d in ("as_written", "unit_cost")]
    trace: list = []
    for v in views:
        trace = add_to_trace(trace, v)
    assert [t["setting"] for t in trace] == [1, 2]
    fig = explorer_figure(views[-1], trace, dispute_view(1000.0, 1.0, 0.05, rounds=3))
    assert len(fig.axes) >= 4
    offsets = fig.axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(np.asarray(offsets)[:, 1], [t["welfare_share"] for t in trace])


def test_bad_explorer_inputs() -> None:
    with pytest.raises(ValueError, match="unknown explorer value"):
        explorer_params({"gamma": 1.0})
    with pytest.raises(ValueError, match="price_rule"):
        explorer_params({"price_rule": "vickrey"})
    with pytest.raises(ValueError, match="scenario = 'moon'"):
        explorer_market("moon", 100)
    with pytest.raises(ValueError, match="column 'welfare'"):
        plot_heatmap(pd.DataFrame({"a": [1], "b": [2]}), "a", "b", "welfare")


def test_heatmap_numbers_stay_readable_on_light_and_dark_cells():
    import matplotlib.pyplot as plt

    frame = pd.DataFrame({"x": [0, 0, 1, 1], "y": [0, 1, 0, 1], "v": [0.0, 1.0, 2.0, 3.0]})
    ax = plot_heatmap(frame, "x", "y", "v", cmap="viridis", fmt="{:.0f}")
    ink = {t.get_text(): t.get_color() for t in ax.texts}
    # viridis runs from dark purple (0) to light yellow (3)
    assert ink["0"] == "white" and ink["3"] == "black"
    assert not any(line.get_visible() for line in ax.get_xgridlines() + ax.get_ygridlines())
    plt.close("all")
