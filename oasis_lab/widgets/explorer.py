"""Notebook 06's explorer (whitepaper sections 4 and 5), its pure callbacks: the auction under
the chosen readings against the exact optimum (:func:`explorer_view`, with
:func:`explorer_params` translating the controls), the plots (:func:`explorer_figure`) and the
numbers (:func:`explorer_table`). Ψ sliders are disabled, with the reason, while no Ψ weight
can change a trade (:func:`psi_state`). The challenge panel is
:mod:`~oasis_lab.widgets.challenge`, the trace :mod:`~oasis_lab.widgets.trace`, the live panel
:mod:`~oasis_lab.widgets.dashboard`."""

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
from oasis_lab.market import SCENARIOS, Market, generate_market
from oasis_lab.params import AuctionParams
from oasis_lab.plotting import OKABE_ITO, format_number
from oasis_lab.widgets.challenge import ChallengeView
from oasis_lab.widgets.pricing import capability_tiers
from oasis_lab.widgets.settings import PSI_MAX
from oasis_lab.widgets.trace import place_labels, plot_trace

__all__ = [
    "ExplorerView",
    "explorer_figure",
    "explorer_market",
    "explorer_params",
    "explorer_table",
    "explorer_view",
    "optimum_welfare",
    "psi_state",
]


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



def explorer_figure(
    view: ExplorerView, trace: Sequence[Mapping[str, Any]], challenge: ChallengeView | None = None
) -> Any:
    """The explorer's plots, in two rows.

    Top: the auction's settings tried (welfare as a share of the exact optimum against the
    served share), the challenge game's settings tried (fraud paid against the cost of
    security, the design search's two objectives in tokens), and what the agents learned
    round by round with the platform's rate as set. Bottom: prices per model type, who wins by
    GPU-throughput tier, and what the challenge game cost. Every trace point is labelled by
    what changed (:func:`~oasis_lab.widgets.trace.plot_trace`), one series per market.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(15, 7.6), gridspec_kw={"height_ratios": [1.15, 1]})
    (a_trace, c_trace, learned), (prices, winners, costs) = axes
    # the figure's layout first: labels are placed against the final axes
    entries = list(trace)
    share = [t["welfare_share"] for t in entries if math.isfinite(t["welfare_share"])] + [view.figures["welfare_share"]]
    # room below the lowest point, for labels; no lower than needed (the points crowded at the top)
    low = min([1.0, *[s for s in share if math.isfinite(s)]]) - 0.2
    a_trace.set(xlim=(0.0, 1.05), ylim=(low, 1.08), xlabel="served share of tasks",
                ylabel="welfare / exact optimum")
    a_trace.axhline(1.0, color="black", lw=0.8)
    a_trace.set_title(f"auction: settings tried (now {format_number(view.figures['welfare_share'])} of the optimum)",
                      fontsize=10)
    if challenge is not None:
        xs = [t["security_cost"] for t in entries if "security_cost" in t]
        ys = [t["fraud_paid"] for t in entries if "fraud_paid" in t]
        c_trace.set(xlim=(0.0, 1.15 * max([1.0, *xs])), ylim=(-0.05 * max([1.0, *ys]), 1.2 * max([1.0, *ys])),
                    xlabel="security cost: challenger costs + stake locked (tokens)",
                    ylabel=f"fraud paid over {challenge.rounds} rounds (tokens)")
        c_trace.set_title("challenge game: settings tried", fontsize=10)
        c = challenge.curves
        learned.plot(c["round"], c["mean_cheat_rate"], color=OKABE_ITO["vermillion"], label="cheat rate (learned)")
        learned.plot(c["round"], c["mean_challenge_rate"], color=OKABE_ITO["blue"],
                     label="challengers' rate (learned)")
        learned.axhline(challenge.p_platform, color="black", ls="--", lw=1,
                        label=f"platform checks p = {challenge.p_platform:.3g} (set)")
        # room above 1 for the legend: the learned rates reach 1 and ran under it
        learned.set(xlabel="round", ylabel="rate per job", ylim=(0, 1.4), yticks=np.linspace(0, 1, 6))
        learned.set_title(challenge.title(), fontsize=8.5)
        learned.legend(fontsize=7, loc="upper right")
        f = challenge.figures
        pd.Series({
            "fraud paid": f["fraud_paid"],
            "challenger costs": f["challenger_costs"],
            "stake locked (mean)": f["stake_locked"],
        }).plot.barh(ax=costs, color=[OKABE_ITO["vermillion"], OKABE_ITO["orange"], OKABE_ITO["sky blue"]])
        costs.set_xlabel("tokens")
        costs.set_title(f"{challenge.rounds} rounds of {challenge.scenario}, {challenge.n_tasks:,} tasks: "
                        f"{f['convictions']} convictions, {f['false_convictions']} false", fontsize=9)
        costs.tick_params(axis="y", labelsize=8)
    else:
        for ax in (c_trace, learned, costs):
            ax.set_axis_off()
    view.prices["unit_price"].plot.bar(ax=prices, rot=20, color=OKABE_ITO["blue"])
    prices.set_ylabel("mean price per unit (tokens)")
    prices.set_title("prices per model type", fontsize=10)
    prices.tick_params(axis="x", labelsize=7)
    view.winners["units_share"].plot.bar(ax=winners, rot=20, color=OKABE_ITO["bluish green"])
    winners.set_ylabel("share of units served")
    winners.set_title("who wins, by GPU-throughput tier", fontsize=10)
    winners.tick_params(axis="x", labelsize=7)
    pending = [(a_trace, plot_trace(a_trace, entries, "served_share", "welfare_share", only_auction_changes=True,
                                    labels=False))]
    if challenge is not None:
        pending.append((c_trace, plot_trace(c_trace, [t for t in entries if "fraud_paid" in t], "security_cost",
                                            "fraud_paid", labels=False)))
    # labels last, against the final layout (the legends below the traces take room)
    fig.tight_layout(h_pad=1.0)
    for ax, (xs, ys, texts, short) in pending:
        place_labels(ax, xs, ys, texts, short=short)
    return fig


def explorer_table(view: ExplorerView, challenge: ChallengeView | None = None) -> pd.DataFrame:
    """The numbers beside the plots: the auction's against the optimum, and the challenge game's
    as learned (rates over the second half of the rounds) and as set."""
    v = view.figures
    rows: dict[str, Any] = {
        "auction: welfare / exact optimum": v["welfare_share"],
        "auction: served share": v["served_share"],
        "auction: user utility (tokens)": v["user_utility"],
        "auction: provider utility (tokens)": v["provider_utility"],
        "auction: IR violations, users / providers": f"{v['ir_violations_users']:,} / {v['ir_violations_providers']:,}",
    }
    if challenge is not None:
        f = challenge.figures
        half = f"rounds {challenge.rounds // 2}-{challenge.rounds - 1}"
        rows.update({
            f"cheat rate of cheaters, learned ({half})": f["learned_cheat_rate"],
            f"challengers' rate, learned ({half})": f["learned_challenge_rate"],
            "platform checks p, set": challenge.p_platform,
            "share of jobs cheated": f["cheated_share"],
            f"fraud paid over {challenge.rounds} rounds (tokens)": f["fraud_paid"],
            f"welfare over {challenge.rounds} rounds (tokens)": f["welfare"],
            "security cost (tokens)": f["security_cost"],
            "convictions / false convictions": f"{f['convictions']:,} / {f['false_convictions']:,}",
            "cheater accounts (a convicted cheater rejoins under a new one)": f["cheaters"],
        })
    return pd.DataFrame({"value": pd.Series({k: format_number(x) for k, x in rows.items()}, dtype=object)})
