"""The notebook-02 pricing panel: widget values -> params -> the same view as the API."""

from __future__ import annotations

import pandas as pd
import pytest

from oasis_lab.auction.greedy import run_greedy
from oasis_lab.market import generate_market
from oasis_lab.params import AuctionParams
from oasis_lab.widgets import PricingDashboard, capability_tiers, pricing_params, pricing_view


@pytest.fixture(scope="module")
def market():
    return generate_market(150, 16, scenario="price_crossing", seed=2)


def test_dashboard_view_equals_the_api(market):
    dash = PricingDashboard(market)
    dash.psi_weights[1].value = 3.0
    dash.alpha.value = 3.0
    dash.beta.value = 4.0
    dash.price_rule.value = "as_written"
    dash.provider_density.value = "capability"
    expected = AuctionParams(psi_weights=(1.0, 3.0, 1.0, 1.0), alpha=3.0, beta=4.0,
                             price_rule="as_written", provider_density="capability")
    assert dash.params() == expected
    direct = run_greedy(market, expected)
    assert dash.view.result.trades.equals(direct.trades)
    pd.testing.assert_frame_equal(
        dash.view.summary.drop(columns="runtime_s"), direct.summary().drop(columns="runtime_s")
    )
    assert dash.view.summary.loc[0, "ir_violations_users"] > 0  # the as-written fallback


def test_pricing_view_follows_the_widget_values(market):
    params = pricing_params([0, 0, 1, 0], 2, 1, "no_trade", "capability", "surplus")
    assert params == AuctionParams(psi_weights=(0.0, 0.0, 1.0, 0.0), alpha=2.0, beta=1.0, price_rule="no_trade",
                                   provider_density="capability", task_density="surplus")
    view = pricing_view(market, params)
    direct = run_greedy(market, params)
    assert view.params == params and view.result.trades.equals(direct.trades)
    pd.testing.assert_frame_equal(view.winners, capability_tiers(market, direct))
    # The Psi weights reach the provider density: weighting another component changes who trades.
    other = pricing_view(market, pricing_params([0, 0, 0, 1], 2, 1, "no_trade", "capability", "surplus"))
    assert not other.result.trades.equals(view.result.trades)
    with pytest.raises(ValueError, match="price_rule"):
        pricing_params([1, 1, 1, 1], 2, 1, "vickrey", "capability", "surplus")


def test_capability_tiers_add_up(market):
    result = run_greedy(market)
    tiers = capability_tiers(market, result)
    assert tiers["providers"].sum() == market.n_providers
    assert tiers["units"].sum() == pytest.approx(result.trades["units"].sum())
    assert tiers["units_share"].sum() == pytest.approx(1.0)
    assert tiers["revenue"].sum() == pytest.approx(result.provider_revenue.sum())
    with pytest.raises(ValueError, match="component"):
        capability_tiers(market, result, component=9)


def test_dashboard_rejects_wrong_weights(market):
    with pytest.raises(ValueError, match="psi_weights has 2 weights"):
        PricingDashboard(market, AuctionParams(psi_weights=(1.0, 1.0)))
