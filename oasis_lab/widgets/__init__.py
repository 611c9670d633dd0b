"""ipywidgets dashboards for the notebooks, each a thin shell over a pure function.

A dashboard is a class with named widget attributes; a pure "widget values -> parameters"
translation and a pure callback compute what it shows, so tests set ``.value`` on the
widgets and compare the dashboard's view with the callback's output on the same parameters.

- :class:`PricingDashboard` (notebook 02): sliders for the Psi weights, ``alpha`` and
  ``beta`` of the user cost ``e_i = t_i log_alpha t_i + beta``, drop-downs for the price rule
  and the two bid-density readings (whitepaper sections 4, 4.1, 4.2). Its callback is
  :func:`pricing_view`; its translation :func:`pricing_params`.
- :class:`ExplorerDashboard` (notebook 06): the same readings plus the fee, scenario and size,
  and stake, slash fraction and challenge probability (section 5) driving a short
  market-over-time run (:func:`oasis_lab.sim.simulate`). Plots first: welfare as a share of
  the exact optimum against the served share with a trace of every setting tried, prices per
  model type, who wins by device tier, and what cheaters earned before removal; then a short
  table. Ψ sliders are disabled, with the reason, while the
  provider density ignores them (:func:`psi_state`). Callbacks: :func:`explorer_params`,
  :func:`explorer_view`, :func:`dispute_view`, :func:`add_to_trace`, :func:`explorer_figure`.
- :func:`plot_heatmap`: a sweep's mean over seeds on a two-parameter grid.

One module each: :mod:`~oasis_lab.widgets.pricing`, :mod:`~oasis_lab.widgets.explorer`,
:mod:`~oasis_lab.widgets.heatmap`; every public name is importable from here.
"""

from oasis_lab.widgets.explorer import (
    PSI_MAX,
    DisputeView,
    ExplorerDashboard,
    ExplorerView,
    add_to_trace,
    dispute_view,
    explorer_figure,
    explorer_market,
    explorer_params,
    explorer_view,
    optimum_welfare,
    psi_state,
)
from oasis_lab.widgets.heatmap import plot_heatmap
from oasis_lab.widgets.pricing import (
    PricingDashboard,
    PricingView,
    capability_tiers,
    pricing_params,
    pricing_view,
)

__all__ = [
    "PSI_MAX",
    "DisputeView",
    "ExplorerDashboard",
    "ExplorerView",
    "PricingDashboard",
    "PricingView",
    "add_to_trace",
    "capability_tiers",
    "dispute_view",
    "explorer_figure",
    "explorer_market",
    "explorer_params",
    "explorer_view",
    "optimum_welfare",
    "plot_heatmap",
    "pricing_params",
    "pricing_view",
    "psi_state",
]
