"""Notebook 02's pricing panel (whitepaper sections 4, 4.1, 4.2): Psi weights, ``alpha`` and
``beta`` of the user cost, the price rule and the two bid-density readings, over the pure
callback :func:`pricing_view` and the translation :func:`pricing_params`; and
:func:`capability_tiers` (who wins, by capability tier), which the explorer shows too."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.auction.greedy import AuctionResult, run_greedy
from oasis_lab.auction.metrics import provider_outcomes
from oasis_lab.market import Market
from oasis_lab.params import CHOICES, AuctionParams

__all__ = [
    "PricingDashboard",
    "PricingView",
    "capability_tiers",
    "pricing_params",
    "pricing_view",
    "reading_dropdowns",
]

#: The string readings both dashboards offer as drop-downs, in their order.
READING_DROPDOWNS = ("price_rule", "task_density", "provider_density")


def reading_dropdowns(params: AuctionParams, style: dict[str, str]) -> tuple[Any, ...]:
    """One ``ipywidgets.Dropdown`` per reading of :data:`READING_DROPDOWNS`, set to ``params``."""
    import ipywidgets as w

    return tuple(
        w.Dropdown(options=CHOICES[name], value=getattr(params, name), description=name.replace("_", " "),
                   style=style)
        for name in READING_DROPDOWNS
    )


@dataclass(frozen=True, eq=False)
class PricingView:
    """What the pricing panel shows for one setting.

    Attributes
    ----------
    params : AuctionParams
    summary : pandas.DataFrame
        :meth:`AuctionResult.summary` (one row).
    winners : pandas.DataFrame
        :func:`capability_tiers` of the outcome: who wins, by capability tier.
    result : AuctionResult
    """

    params: AuctionParams
    summary: pd.DataFrame
    winners: pd.DataFrame
    result: AuctionResult


def capability_tiers(market: Market, result: AuctionResult, component: int = 0, n_tiers: int = 4) -> pd.DataFrame:
    """Providers grouped into quantile tiers of one Psi component, with what each tier wins.

    Parameters
    ----------
    market, result
        A market and a PRICES outcome on it.
    component : int, default 0
        Index of the Psi component (GPU TFLOPS in generated markets).
    n_tiers : int, default 4
        Number of quantile tiers (fewer when values repeat).

    Returns
    -------
    pandas.DataFrame
        One row per tier (lowest first, labelled ``Q1 <component> <min> to <max>``; equal values
        share a tier, so there are fewer tiers when values repeat and their ranges never overlap):
        ``providers``, ``trading`` (share of them that trade), ``units``, ``units_share``,
        ``revenue``, ``utility``, ``mean_unit_cost``.
    """
    if not 0 <= component < market.psi.shape[1]:
        raise ValueError(f"component = {component} is not a Psi index in [0, {market.psi.shape[1]})")
    if n_tiers < 1:
        raise ValueError(f"n_tiers = {n_tiers} must be >= 1")
    outcomes = provider_outcomes(market, result)
    name = f"psi[{market.psi_names[component]}]"
    values = outcomes[name]
    n = market.n_providers
    # Equal values share a tier, the quantile tier of their average rank, so tiers never overlap
    # ("Q2 2.2-2.2", "Q3 2.2-2.2" for one device model split across two tiers).
    quantile = ((values.rank(method="average") - 0.5) * min(n_tiers, n) // n).astype(int)
    tier = quantile.rank(method="dense").astype(int) - 1
    ranges = outcomes.groupby(tier)[name].agg(["min", "max"])
    grouped = outcomes.groupby(tier).agg(
        providers=("units", "size"),
        trading=("trading", "mean"),
        units=("units", "sum"),
        revenue=("revenue", "sum"),
        utility=("utility", "sum"),
        mean_unit_cost=("unit_cost", lambda c: float(np.mean(c[np.isfinite(c)])) if np.isfinite(c).any() else np.nan),
    )
    total = grouped["units"].sum()
    grouped.insert(3, "units_share", grouped["units"] / total if total > 0 else 0.0)
    short = market.psi_names[component]
    grouped.index = [
        f"Q{k + 1} {short} " + (f"{lo:.3g}" if f"{lo:.3g}" == f"{hi:.3g}" else f"{lo:.3g} to {hi:.3g}")
        for k, (lo, hi) in enumerate(zip(ranges["min"], ranges["max"], strict=True))
    ]
    grouped.index.name = "tier"
    return grouped


def pricing_params(
    psi_weights: Sequence[float],
    alpha: float,
    beta: float,
    price_rule: str,
    provider_density: str,
    task_density: str,
    base: AuctionParams = AuctionParams(),
) -> AuctionParams:
    """Translate the pricing panel's widget values into :class:`AuctionParams` (validated).

    The other readings are taken from ``base``.
    """
    return base.replace(
        psi_weights=tuple(float(w) for w in psi_weights),
        alpha=float(alpha),
        beta=float(beta),
        price_rule=price_rule,
        provider_density=provider_density,
        task_density=task_density,
    )


def pricing_view(market: Market, params: AuctionParams) -> PricingView:
    """The pricing panel's callback: run PRICES under ``params`` and tabulate (pure)."""
    result = run_greedy(market, params)
    return PricingView(params, result.summary(), capability_tiers(market, result), result)


class PricingDashboard:
    """Sliders for Psi weights, ``alpha``, ``beta``; price rule and density readings.

    Parameters
    ----------
    market : Market
        The market the panel auctions.
    params : AuctionParams
        Initial values (and the readings the panel does not control).

    Attributes
    ----------
    psi_weights : tuple of ipywidgets.FloatSlider
        One per Psi component, named after it.
    alpha, beta : ipywidgets.FloatSlider
    price_rule, provider_density, task_density : ipywidgets.Dropdown
    output : ipywidgets.Output
        Where the tables of the current view are displayed.
    widget : ipywidgets.VBox
        The whole panel, for ``display``.
    view : PricingView
        The current view (:func:`pricing_view` of :meth:`params`).
    """

    def __init__(self, market: Market, params: AuctionParams = AuctionParams()) -> None:
        import ipywidgets as w

        if not isinstance(market, Market):
            raise TypeError(f"market must be an oasis_lab.market.Market, got {type(market).__name__}")
        self.market = market
        self.base = params
        weights = params.psi_weights or (1.0,) * market.psi.shape[1]
        if len(weights) != market.psi.shape[1]:
            raise ValueError(
                f"params.psi_weights has {len(weights)} weights, the market {market.psi.shape[1]} components"
            )
        style = {"description_width": "initial"}
        self.psi_weights = tuple(
            w.FloatSlider(value=float(v), min=0.0, max=5.0, step=0.1, description=f"Psi {name}", style=style)
            for v, name in zip(weights, market.psi_names, strict=True)
        )
        self.alpha = w.FloatSlider(
            value=float(params.alpha), min=1.1, max=10.0, step=0.1, description="alpha", style=style
        )
        self.beta = w.FloatSlider(
            value=float(params.beta), min=0.0, max=20.0, step=0.5, description="beta", style=style
        )
        self.price_rule, self.task_density, self.provider_density = reading_dropdowns(params, style)
        self.output = w.Output()
        controls = [*self.psi_weights, self.alpha, self.beta, self.price_rule, self.provider_density, self.task_density]
        self.widget = w.VBox(
            [w.HBox([w.VBox(list(self.psi_weights)), w.VBox(controls[len(self.psi_weights) :])]), self.output]
        )
        for control in controls:
            control.observe(self._on_change, names="value")
        self.view = self.refresh()

    def params(self) -> AuctionParams:
        """The :class:`AuctionParams` the widgets currently describe."""
        return pricing_params(
            [s.value for s in self.psi_weights],
            self.alpha.value,
            self.beta.value,
            self.price_rule.value,
            self.provider_density.value,
            self.task_density.value,
            self.base,
        )

    def refresh(self) -> PricingView:
        """Recompute the view from the widgets and show its tables in :attr:`output`."""
        from IPython.display import display

        view = pricing_view(self.market, self.params())
        self.view = view
        self.output.clear_output(wait=True)
        with self.output:
            display(view.summary)
            display(view.winners)
        return view

    def _on_change(self, _change: dict) -> None:
        self.refresh()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
