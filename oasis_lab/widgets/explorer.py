"""Notebook 06's explorer (whitepaper sections 4 and 5): the auction's readings plus the fee,
scenario and size, and stake, slash fraction and challenge probability driving a short
market-over-time run. Callbacks: :func:`explorer_params`, :func:`explorer_view`,
:func:`dispute_view`, :func:`add_to_trace`, :func:`explorer_figure`; Psi sliders are disabled,
with the reason, while the provider density ignores them (:func:`psi_state`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.auction.baselines import solve_optimum
from oasis_lab.auction.compare import WELFARE_FIELDS
from oasis_lab.auction.greedy import AuctionResult, run_greedy
from oasis_lab.experiments import MarketOverTime, run
from oasis_lab.market import SCENARIOS, Market, generate_market
from oasis_lab.params import AuctionParams
from oasis_lab.plotting import OKABE_ITO
from oasis_lab.widgets.pricing import capability_tiers, reading_dropdowns

__all__ = [
    "PSI_MAX",
    "DisputeView",
    "ExplorerDashboard",
    "ExplorerView",
    "add_to_trace",
    "dispute_view",
    "explorer_figure",
    "explorer_market",
    "explorer_params",
    "explorer_view",
    "optimum_welfare",
    "psi_state",
]

#: Largest value of a Ψ weight slider (also the weight :func:`psi_state` probes with).
PSI_MAX = 5.0


@lru_cache(maxsize=16)
def explorer_market(scenario: str, n_tasks: int, seed: int = 0) -> Market:
    """The explorer's market: ``n_tasks`` tasks, a tenth as many providers (cached)."""
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario = {scenario!r} must be one of {sorted(SCENARIOS)}")
    return generate_market(int(n_tasks), max(int(n_tasks) // 10, 2), scenario=scenario, seed=seed)


def psi_state(market: Market, params: AuctionParams) -> tuple[bool, str]:
    """Whether the Ψ weights can change the outcome under ``params``, and why not if not.

    Measured on ``market``: PRICES' trades with every weight 0 are compared with the trades
    with each weight, and all of them, at :data:`PSI_MAX`; the sliders are disabled when none
    of these changes a trade.

    Returns
    -------
    (disabled, reason) : (bool, str)
        ``reason`` is empty when the weights matter.
    """
    n = market.psi.shape[1]

    def trades(weights: tuple[float, ...]) -> pd.DataFrame:
        return run_greedy(market, params.replace(psi_weights=weights)).trades

    base = trades((0.0,) * n)
    probes = [tuple(PSI_MAX if k == j else 0.0 for k in range(n)) for j in range(n)] + [(PSI_MAX,) * n]
    if any(not trades(w).equals(base) for w in probes):
        return False, ""
    if params.provider_density == "unit_cost":
        why = "the 'unit_cost' provider density orders providers by unit cost and does not use Ψ"
    else:
        why = (
            f"under the '{params.provider_density}' provider density no Ψ weight in [0, {PSI_MAX:g}] "
            "changes a trade on this market: the speed term of the density dwarfs the Ψ term "
            "(docs/mechanism.md); choose 'capability' to weigh Ψ"
        )
    return True, f"Ψ weights disabled: {why}."


def explorer_params(values: Mapping[str, Any], base: AuctionParams | None = None) -> AuctionParams:
    """Translate the explorer's widget values into :class:`AuctionParams` (validated).

    ``values`` holds ``psi_weights`` (sequence), ``alpha, beta, fee, price_rule,
    task_density, provider_density``; other readings come from ``base``.
    """
    known = {"psi_weights", "alpha", "beta", "fee", "price_rule", "task_density", "provider_density"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown explorer value(s) {unknown}; known: {sorted(known)}")
    changes = dict(values)
    if "psi_weights" in changes:
        changes["psi_weights"] = tuple(float(w) for w in changes["psi_weights"])
    return (base if base is not None else AuctionParams()).replace(**changes)


def optimum_welfare(market: Market, params: AuctionParams) -> float:
    """The exact optimum's welfare under ``params``' welfare model (nan if not proved)."""
    return float(_optimum(market, tuple(getattr(params, f) for f in WELFARE_FIELDS)))


@lru_cache(maxsize=64)
def _optimum(market: Market, welfare_model: tuple[Any, ...]) -> float:
    # the optimum depends on the welfare model only, not on the greedy's readings or the fee:
    # cached so that moving a density or price slider does not re-solve the ILP
    params = AuctionParams(**dict(zip(WELFARE_FIELDS, welfare_model, strict=False)))
    return solve_optimum(market, params, backend="highspy").welfare


@dataclass(frozen=True, eq=False)
class ExplorerView:
    """What the explorer shows for one auction setting.

    Attributes
    ----------
    params : AuctionParams
    figures : dict
        ``welfare, optimum, welfare_share`` (of the exact optimum), ``served_share``,
        ``user_utility, provider_utility, ir_violations_users, ir_violations_providers``.
    prices : DataFrame
        Per model type: ``units`` traded and the units-weighted mean ``unit_price``.
    winners : DataFrame
        :func:`capability_tiers`: who wins by device tier.
    psi_disabled : bool
    psi_reason : str
    result : AuctionResult
    """

    params: AuctionParams
    figures: dict[str, float]
    prices: pd.DataFrame
    winners: pd.DataFrame
    psi_disabled: bool
    psi_reason: str
    result: AuctionResult


def explorer_view(market: Market, params: AuctionParams) -> ExplorerView:
    """The explorer's auction callback (pure): PRICES under ``params`` against the optimum."""
    result = run_greedy(market, params)
    optimum = optimum_welfare(market, params)
    figures = {
        "welfare": float(result.welfare),
        "optimum": optimum,
        "welfare_share": float(result.welfare / optimum) if optimum > 0 else math.nan,
        "served_share": float(result.served_share.mean()),
        "user_utility": float(result.user_utility.sum()),
        "provider_utility": float(result.provider_utility.sum()),
        "ir_violations_users": int(result.ir_violations_users),
        "ir_violations_providers": int(result.ir_violations_providers),
    }
    tr = result.trades
    units = np.bincount(tr["type"], weights=tr["units"], minlength=market.n_types)
    spend = np.bincount(tr["type"], weights=tr["units"] * tr["unit_price"], minlength=market.n_types)
    with np.errstate(invalid="ignore", divide="ignore"):
        price = np.where(units > 0, spend / np.where(units > 0, units, 1.0), np.nan)
    prices = pd.DataFrame({"units": units, "unit_price": price}, index=pd.Index(market.model_types, name="model type"))
    disabled, reason = psi_state(market, params)
    return ExplorerView(params, figures, prices, capability_tiers(market, result), disabled, reason, result)


@dataclass(frozen=True)
class DisputeView:
    """A short market-over-time run at one stake, slash fraction and challenge probability.

    ``figures``: the ``market_over_time`` experiment's row (``p, welfare, cheaters,
    cheaters_removed, cheater_income_per_cheater, false_convictions, challenger_costs, ...``).
    """

    stake: float
    slash_fraction: float
    p_challenge: float
    figures: dict[str, Any]


def dispute_view(
    stake: float, slash_fraction: float, p_challenge: float, *, rounds: int = 10, seed: int = 0
) -> DisputeView:
    """The explorer's challenge callback (pure): a short :func:`oasis_lab.sim.simulate` run.

    ``data/configs/cheaters.yaml`` for ``rounds`` rounds of 100 tasks and 40 providers (10%
    cheaters); ``p_challenge`` is the platform's random challenge probability per job (users
    challenge 5% of jobs on top), ``stake`` the provider stake in tokens.
    """
    config = MarketOverTime(
        rounds=rounds, stake=round(float(stake)), slash_fraction=float(slash_fraction), p_platform=float(p_challenge)
    )
    row = run(config, seed).iloc[0].to_dict()
    return DisputeView(float(stake), float(slash_fraction), float(p_challenge), row)


def add_to_trace(trace: Sequence[dict[str, Any]], view: ExplorerView) -> list[dict[str, Any]]:
    """The trace of settings tried, with ``view`` appended (a new list; pure)."""
    return [
        *trace,
        {
            "setting": len(trace) + 1,
            "label": view.params.label(),
            "welfare_share": view.figures["welfare_share"],
            "served_share": view.figures["served_share"],
        },
    ]


def explorer_figure(view: ExplorerView, trace: Sequence[dict[str, Any]], dispute: DisputeView | None = None) -> Any:
    """The explorer's plots: the trace of settings, prices per type, winners, challenges."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4 if dispute is not None else 3, figsize=(16 if dispute is not None else 12.5, 3.6))
    ax = axes[0]
    if trace:
        t = pd.DataFrame(trace)
        ax.plot(t["served_share"], t["welfare_share"], "-", color="lightgrey", lw=1, zorder=1)
        ax.scatter(t["served_share"], t["welfare_share"], c="grey", s=25, zorder=2)
        for _, r in t.iterrows():
            ax.annotate(
                str(int(r["setting"])),
                (r["served_share"], r["welfare_share"]),
                fontsize=8,
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.scatter(
        [view.figures["served_share"]],
        [view.figures["welfare_share"]],
        c=OKABE_ITO["vermillion"],
        s=80,
        zorder=3,
        label="current",
    )
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_xlim(0, 1.02)
    low = min(
        [0.0]
        + [float(r["welfare_share"]) for r in trace if math.isfinite(r["welfare_share"])]
        + [view.figures["welfare_share"] if math.isfinite(view.figures["welfare_share"]) else 0.0]
    )
    ax.set_ylim(low - 0.05, 1.05)
    ax.set_xlabel("served share of tasks")
    ax.set_ylabel("welfare / exact optimum")
    ax.set_title(f"settings tried (current: {view.figures['welfare_share']:.3f})", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    view.prices["unit_price"].plot.bar(ax=axes[1], rot=20, color=OKABE_ITO["blue"])
    axes[1].set_ylabel("mean price per unit (tokens)")
    axes[1].set_title("prices per model type", fontsize=10)
    axes[1].tick_params(axis="x", labelsize=7)
    view.winners["units_share"].plot.bar(ax=axes[2], rot=20, color=OKABE_ITO["bluish green"])
    axes[2].set_ylabel("share of units served")
    axes[2].set_title("who wins, by GPU-throughput tier", fontsize=10)
    axes[2].tick_params(axis="x", labelsize=7)
    if dispute is not None:
        f = dispute.figures
        # tokens only on the axis; the counts go in the title (a count among tokens drew no bar)
        values = pd.Series(
            {
                "income per cheater": f["cheater_income_per_cheater"],
                "challenger costs": f["challenger_costs"],
            }
        )
        values.plot.barh(ax=axes[3], color=[OKABE_ITO["vermillion"], OKABE_ITO["orange"]])
        axes[3].set_xlabel("tokens")
        axes[3].set_title(
            f"{int(f['rounds'])} rounds: S={dispute.stake:g}, f={dispute.slash_fraction:g}, p={f['p']:.3f}\n"
            f"cheaters removed {int(f['cheaters_removed'])}/{int(f['cheaters'])}, "
            f"false convictions {int(f['false_convictions'])}",
            fontsize=9,
        )
        axes[3].tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return fig


def _table(view: ExplorerView, dispute: DisputeView | None) -> pd.DataFrame:
    rows: dict[str, Any] = {
        k: view.figures[k]
        for k in (
            "welfare_share",
            "served_share",
            "user_utility",
            "provider_utility",
            "ir_violations_users",
            "ir_violations_providers",
        )
    }
    if dispute is not None:
        f = dispute.figures
        rows.update(
            {
                "market over time: welfare": f["welfare"],
                "income per cheater": f["cheater_income_per_cheater"],
                "cheaters removed": f"{int(f['cheaters_removed'])} of {int(f['cheaters'])}",
                "false convictions": int(f["false_convictions"]),
            }
        )
    return pd.DataFrame({"value": pd.Series(rows, dtype=object)})


class ExplorerDashboard:
    """The explorer of notebook 06: readings, market and challenge controls; plots first.

    Parameters
    ----------
    scenario : str
    n_tasks : int
        Tasks of the market (a tenth as many providers).
    params : AuctionParams
        Initial readings.
    seed : int
        The market's seed.

    Attributes
    ----------
    psi_weights : tuple of FloatSlider
    alpha, beta, fee, stake, slash_fraction, p_challenge : FloatSlider
    price_rule, task_density, provider_density, scenario : Dropdown
    n_tasks : IntSlider
    psi_reason : HTML
        Why the Ψ sliders are disabled (empty when they are enabled).
    output : Output
        The one panel: replaced in place on every change (plots, then the table).
    trace : list of dict
        The settings tried so far (:func:`add_to_trace`).
    view : ExplorerView
    dispute : DisputeView
    widget : VBox
    """

    def __init__(
        self, scenario: str = "balanced", n_tasks: int = 400, params: AuctionParams | None = None, *, seed: int = 0
    ) -> None:
        import ipywidgets as w

        params = params if params is not None else AuctionParams()
        self.seed = seed
        self.base = params
        market = explorer_market(scenario, n_tasks, seed)
        weights = params.psi_weights or (1.0,) * market.psi.shape[1]
        style = {"description_width": "initial"}
        self.psi_weights = tuple(
            w.FloatSlider(value=float(v), min=0.0, max=PSI_MAX, step=0.1, description=f"Ψ {name}", style=style)
            for v, name in zip(weights, market.psi_names, strict=False)
        )
        self.alpha = w.FloatSlider(value=float(params.alpha), min=1.1, max=10.0, step=0.1, description="α", style=style)
        self.beta = w.FloatSlider(value=float(params.beta), min=0.0, max=20.0, step=0.5, description="β", style=style)
        self.fee = w.FloatSlider(value=float(params.fee), min=0.0, max=0.5, step=0.01, description="fee", style=style)
        self.price_rule, self.task_density, self.provider_density = reading_dropdowns(params, style)
        self.scenario = w.Dropdown(options=sorted(SCENARIOS), value=scenario, description="scenario", style=style)
        self.n_tasks = w.IntSlider(value=int(n_tasks), min=50, max=1000, step=50, description="tasks", style=style)
        self.stake = w.FloatSlider(value=1000.0, min=0.0, max=5000.0, step=100.0, description="stake S", style=style)
        self.slash_fraction = w.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.05, description="slash f", style=style)
        self.p_challenge = w.FloatSlider(
            value=0.05, min=0.0, max=0.5, step=0.01, description="platform challenge p", style=style
        )
        self.psi_reason = w.HTML()
        self.output = w.Output()
        self.trace: list[dict[str, Any]] = []
        auction = [
            *self.psi_weights,
            self.alpha,
            self.beta,
            self.fee,
            self.price_rule,
            self.task_density,
            self.provider_density,
            self.scenario,
            self.n_tasks,
        ]
        challenge = [self.stake, self.slash_fraction, self.p_challenge]
        self.widget = w.VBox(
            [
                self.output,
                w.HBox(
                    [
                        w.VBox([*self.psi_weights, self.psi_reason]),
                        w.VBox([self.alpha, self.beta, self.fee, self.price_rule]),
                        w.VBox([self.task_density, self.provider_density, self.scenario, self.n_tasks]),
                        w.VBox(challenge),
                    ]
                ),
            ]
        )
        for control in auction:
            control.observe(self._on_auction, names="value")
        for control in challenge:
            control.observe(self._on_challenge, names="value")
        self.dispute = dispute_view(self.stake.value, self.slash_fraction.value, self.p_challenge.value, seed=seed)
        self.view = self._compute()
        self.refresh()

    @property
    def market(self) -> Market:
        return explorer_market(self.scenario.value, self.n_tasks.value, self.seed)

    def params(self) -> AuctionParams:
        """The :class:`AuctionParams` the widgets currently describe."""
        return explorer_params(
            {
                "psi_weights": [s.value for s in self.psi_weights],
                "alpha": self.alpha.value,
                "beta": self.beta.value,
                "fee": self.fee.value,
                "price_rule": self.price_rule.value,
                "task_density": self.task_density.value,
                "provider_density": self.provider_density.value,
            },
            self.base,
        )

    def _compute(self) -> ExplorerView:
        view = explorer_view(self.market, self.params())
        self.trace = add_to_trace(self.trace, view)
        for slider in self.psi_weights:
            slider.disabled = view.psi_disabled
        self.psi_reason.value = f"<small>{view.psi_reason}</small>" if view.psi_disabled else ""
        return view

    def refresh(self) -> None:
        """Draw the current view into the one output panel, replacing what was there."""
        import matplotlib.pyplot as plt
        from IPython.display import display

        fig = explorer_figure(self.view, self.trace, self.dispute)
        self.output.clear_output(wait=True)
        with self.output:
            display(fig)
            display(_table(self.view, self.dispute))
        plt.close(fig)

    def _on_auction(self, _change: dict) -> None:
        self.view = self._compute()
        self.refresh()

    def _on_challenge(self, _change: dict) -> None:
        self.dispute = dispute_view(self.stake.value, self.slash_fraction.value, self.p_challenge.value, seed=self.seed)
        self.refresh()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
