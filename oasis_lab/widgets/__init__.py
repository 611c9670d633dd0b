"""ipywidgets dashboards for the notebooks, each a thin shell over a pure function.

A dashboard is a class with named widget attributes; a pure "widget values -> parameters"
translation and a pure callback compute what it shows, so tests set ``.value`` on the
widgets and compare the dashboard's view with the callback's output on the same parameters.

- :class:`PricingDashboard` (notebook 02): sliders for the Psi weights, ``alpha`` and
  ``beta`` of the user cost ``e_i = t_i log_alpha t_i + beta``, drop-downs for the price rule
  and the two bid-density readings (whitepaper sections 4, 4.1, 4.2). Its callback is
  :func:`pricing_view`; its translation :func:`pricing_params`.
- :class:`ExplorerDashboard` (notebook 06): the same readings plus the fee, scenario and size
  (:func:`explorer_view`: the auction against the exact optimum), and stake, slash fraction
  and the platform's check rate (section 5) driving a short simulation of learning providers
  and challengers (:func:`challenge_view`: what they learned). Plots first
  (:func:`explorer_figure`): the trace of settings tried, each point labelled by what changed
  (:func:`add_to_trace`), one series per market; then the numbers (:func:`explorer_table`).
  Live when a Jupyter front end runs it (:func:`live_frontend`), busy-aware (the panel says
  what runs, in its own callbacks or in another cell, and its controls wait), its settings and
  trace kept across re-runs of the cell, settings saved and loaded by name
  (:class:`SettingsStore`), and a Pareto front of a design study whose points load their
  settings (:func:`pareto_points`). Every setting is a key of :data:`CONTROLS`.
- :func:`plot_heatmap`: a sweep's mean over seeds on a two-parameter grid.

One module each: :mod:`~oasis_lab.widgets.pricing`, :mod:`~oasis_lab.widgets.explorer`,
:mod:`~oasis_lab.widgets.challenge`, :mod:`~oasis_lab.widgets.trace`,
:mod:`~oasis_lab.widgets.settings`, :mod:`~oasis_lab.widgets.session`,
:mod:`~oasis_lab.widgets.dashboard`, :mod:`~oasis_lab.widgets.pareto`,
:mod:`~oasis_lab.widgets.heatmap`; every public name is
importable from here.
"""

from oasis_lab.widgets.challenge import (
    ChallengeView,
    challenge_config,
    challenge_grid,
    challenge_view,
    learned_rates,
)
from oasis_lab.widgets.dashboard import ExplorerDashboard, describe_cell
from oasis_lab.widgets.explorer import (
    ExplorerView,
    explorer_figure,
    explorer_market,
    explorer_params,
    explorer_table,
    explorer_view,
    optimum_welfare,
    psi_state,
)
from oasis_lab.widgets.heatmap import plot_heatmap
from oasis_lab.widgets.pareto import (
    DESIGN_CONTROLS,
    EXPLORER_SPACE,
    explorer_study,
    pareto_points,
    pareto_widget,
    plot_pareto,
)
from oasis_lab.widgets.pricing import (
    PricingDashboard,
    PricingView,
    capability_tiers,
    pricing_params,
    pricing_view,
)
from oasis_lab.widgets.session import (
    SettingsStore,
    kept_state,
    live_frontend,
    resolve_widgets_ui,
    settings_dir,
)
from oasis_lab.widgets.settings import CONTROLS, PSI_MAX, check_settings, default_settings, describe_change
from oasis_lab.widgets.trace import add_to_trace, place_labels, plot_trace, trace_table

__all__ = [
    "CONTROLS",
    "DESIGN_CONTROLS",
    "EXPLORER_SPACE",
    "PSI_MAX",
    "ChallengeView",
    "ExplorerDashboard",
    "ExplorerView",
    "PricingDashboard",
    "PricingView",
    "SettingsStore",
    "add_to_trace",
    "capability_tiers",
    "challenge_config",
    "challenge_grid",
    "challenge_view",
    "check_settings",
    "default_settings",
    "describe_cell",
    "describe_change",
    "explorer_figure",
    "explorer_market",
    "explorer_params",
    "explorer_study",
    "explorer_table",
    "explorer_view",
    "kept_state",
    "learned_rates",
    "live_frontend",
    "optimum_welfare",
    "pareto_points",
    "pareto_widget",
    "place_labels",
    "plot_heatmap",
    "plot_pareto",
    "plot_trace",
    "pricing_params",
    "pricing_view",
    "psi_state",
    "resolve_widgets_ui",
    "settings_dir",
    "trace_table",
]
