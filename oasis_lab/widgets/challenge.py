"""The explorer's challenge panel (whitepaper section 5; issue 19): a short simulation of
**learning** providers and challengers at the chosen stake, slash fraction and platform rate.

The agents are those of ``data/configs/learning.yaml`` (10% of providers may cheat and learn
how often to, three challengers race to recompute delivered jobs and learn how often to, all
by best response with inertia from their own payoffs; a convicted cheater's operator rejoins
under a new identity), played for :data:`CHALLENGE_ROUNDS` rounds on the explorer's scenario,
size and auction readings. What the panel shows is what the agents *learned*: a bigger stake
or slash makes cheating cost more, so the cheaters learn to cheat less
(``tests/test_widgets_explorer.py`` checks it over seeds). The platform's own random checks
``p_platform`` are a setting; the challengers' rate is learned; both are shown separately.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.checks import check_int
from oasis_lab.params import AuctionParams
from oasis_lab.seeding import check_seed
from oasis_lab.sim import SimConfig, load_config, simulate
from oasis_lab.widgets.settings import CONTROLS

__all__ = [
    "CHALLENGE_CONFIG",
    "CHALLENGE_ROUNDS",
    "ChallengeView",
    "challenge_config",
    "challenge_grid",
    "challenge_view",
    "learned_rates",
]

#: The shipped configuration whose agents the panel runs.
CHALLENGE_CONFIG = "learning.yaml"
#: Rounds of the panel's simulation: short enough that the panel answers within about a second
#: at its largest market (1,000 tasks a round), long enough that the cheaters' learned rate
#: separates a stake of 0 from one of 1,000 (``tests/test_widgets_explorer.py``).
CHALLENGE_ROUNDS = 40
#: The least number of providers of the panel's market: ``cheater_share`` (10%) of them may
#: cheat, so a smaller market often has none (20 providers: none at seed 0; 30: at least 3 at
#: seed 0 in every scenario and size of the explorer, measured).
MIN_PROVIDERS = 30


def challenge_config(
    scenario: str,
    n_tasks: int,
    stake: float,
    slash_fraction: float,
    p_platform: float,
    params: AuctionParams | None = None,
    *,
    rounds: int = CHALLENGE_ROUNDS,
) -> SimConfig:
    """:data:`CHALLENGE_CONFIG` on the explorer's market: ``n_tasks`` tasks a round of
    ``scenario``, a tenth as many providers (at least :data:`MIN_PROVIDERS`), the auction
    readings ``params``, provider stake ``stake`` (tokens, rounded to a whole token), slash
    fraction and the platform's per-job check rate, for ``rounds`` rounds."""
    checked = {k: CONTROLS[k].check(v) for k, v in (("scenario", scenario), ("n_tasks", n_tasks), ("stake", stake),
                                                     ("slash_fraction", slash_fraction),
                                                     ("p_platform", p_platform))}
    rounds = check_int("rounds", rounds, 1, 10_000)
    base = load_config(CHALLENGE_CONFIG)
    return base.replace(
        rounds=rounds,
        scenario=checked["scenario"],
        tasks_per_round=checked["n_tasks"],
        n_providers=max(checked["n_tasks"] // 10, MIN_PROVIDERS),
        p_platform=float(checked["p_platform"]),
        auction=params if params is not None else base.auction,
        disputes=base.disputes.replace(provider_stake=round(float(checked["stake"])),
                                       slash_fraction=float(checked["slash_fraction"])),
    )


def learned_rates(rounds: pd.DataFrame) -> dict[str, float]:
    """What the agents learned: the mean over the second half of the rounds (once the
    learners have moved off their starting mix) of the cheaters' chosen cheat rate and the
    challengers' chosen challenge rate (NaN when no provider that may cheat was in an auction)."""
    late = rounds.iloc[len(rounds) // 2:]
    return {
        "learned_cheat_rate": float(late["mean_cheat_rate"].mean()) if "mean_cheat_rate" in late else float("nan"),
        "learned_challenge_rate": float(late["mean_challenge_rate"].mean())
        if "mean_challenge_rate" in late else float("nan"),
    }


@dataclass(frozen=True, eq=False)
class ChallengeView:
    """The challenge panel for one setting.

    Attributes
    ----------
    scenario, n_tasks, stake, slash_fraction, p_platform, rounds, seed
        The setting (``p_platform``: the platform's own checks, as set).
    figures : dict
        ``learned_cheat_rate``, ``learned_challenge_rate`` (:func:`learned_rates`),
        ``cheated_share`` (jobs cheated over jobs), ``challenged_share`` (delivered jobs
        recomputed, the platform's checks included), ``fraud_paid`` (settled payments of
        cheated jobs, tokens), ``welfare`` (the auctions' welfare, tokens),
        ``challenger_costs``, ``stake_locked`` (mean per round), ``security_cost`` (their sum),
        ``convictions``, ``false_convictions``, ``cheaters`` (accounts of providers that may
        cheat over the run: a convicted cheater rejoins under a new one).
    curves : DataFrame
        Per round: ``mean_cheat_rate``, ``mean_challenge_rate``, ``cheated_share``,
        ``challenged_share``.
    config : SimConfig
    """

    scenario: str
    n_tasks: int
    stake: float
    slash_fraction: float
    p_platform: float
    rounds: int
    seed: int
    figures: dict[str, Any]
    curves: pd.DataFrame
    config: SimConfig

    def title(self) -> str:
        """The two rates as set and learned, and the stake and slash."""
        f = self.figures
        # three significant digits: a design study's trial loads values such as 0.0488861
        return (f"platform checks p = {self.p_platform:.3g} (set), challengers {_rate(f['learned_challenge_rate'])} "
                f"(learned)\nstake S = {self.stake:,.0f}, slash f = {self.slash_fraction:.3g}: cheaters learned "
                f"{_rate(f['learned_cheat_rate'])}")


def _rate(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.3f}"


def challenge_view(
    scenario: str,
    n_tasks: int,
    stake: float,
    slash_fraction: float,
    p_platform: float,
    params: AuctionParams | None = None,
    *,
    rounds: int = CHALLENGE_ROUNDS,
    seed: int = 0,
) -> ChallengeView:
    """The challenge panel's callback (pure): :func:`challenge_config` simulated with ``seed``."""
    config = challenge_config(scenario, n_tasks, stake, slash_fraction, p_platform, params, rounds=rounds)
    seed = check_seed(seed)
    result = simulate(config, seed)
    r = result.rounds
    jobs = r["jobs"].to_numpy(float)
    delivered = jobs - r["failed_jobs"].to_numpy(float)
    curves = pd.DataFrame({
        "round": r["round"].to_numpy(),
        "mean_cheat_rate": r["mean_cheat_rate"].to_numpy(float),
        "mean_challenge_rate": r["mean_challenge_rate"].to_numpy(float),
        "cheated_share": np.divide(r["cheated_jobs"].to_numpy(float), jobs, out=np.full(len(r), np.nan),
                                   where=jobs > 0),
        "challenged_share": np.divide(r["challenges"].to_numpy(float), delivered, out=np.full(len(r), np.nan),
                                      where=delivered > 0),
    })
    kind = result.providers["kind"] if "kind" in result.providers else None
    figures: dict[str, Any] = {
        **learned_rates(r),
        "cheated_share": float(r["cheated_jobs"].sum() / max(float(jobs.sum()), 1.0)),
        "challenged_share": float(r["challenges"].sum() / max(float(delivered.sum()), 1.0)),
        "fraud_paid": float(r["cheated_settled"].sum()),
        "welfare": float(r["welfare"].sum()),
        "challenger_costs": float(r["challenger_costs"].sum()),
        "stake_locked": float(r["stake_locked"].mean()),
        "convictions": int(r["convictions"].sum()),
        "false_convictions": int(r["false_convictions"].sum()),
        "cheaters": int((kind == "cheater").sum()) if kind is not None else -1,
    }
    figures["security_cost"] = figures["challenger_costs"] + figures["stake_locked"]
    return ChallengeView(str(scenario), int(n_tasks), float(stake), float(slash_fraction), float(p_platform),
                         int(rounds), seed, figures, curves, config)


def challenge_grid(
    grid: Mapping[str, Sequence[Any]],
    seeds: Sequence[int],
    base: Mapping[str, Any] | None = None,
    *,
    rounds: int = CHALLENGE_ROUNDS,
    progress: bool = True,
) -> pd.DataFrame:
    """:func:`challenge_view` at every point of ``grid`` (the product of its keys' values) and
    every seed: what learning agents learn as the challenge game's settings move.

    Parameters
    ----------
    grid : mapping
        Keys of :data:`~oasis_lab.widgets.settings.CONTROLS` (``stake``, ``slash_fraction``,
        ``p_platform``, ``scenario``, ``n_tasks``, or a reading of the auction) to lists of values.
    seeds : sequence of int
    base : mapping, optional
        The other settings (default :func:`~oasis_lab.widgets.settings.default_settings`).

    Returns
    -------
    DataFrame
        One row per point and seed: the grid's keys, ``seed`` and the view's figures.
    """
    from oasis_lab.progress import progress_bar
    from oasis_lab.widgets.settings import AUCTION_KEYS, check_settings, default_settings

    if not isinstance(grid, Mapping) or not grid:
        raise ValueError(f"grid must be a non-empty mapping of setting -> values, got {grid!r}")
    settings = {**default_settings(), **check_settings(base or {})}
    keys = list(grid)
    values = [list(grid[k]) for k in keys]
    for k, v in zip(keys, values, strict=True):
        if not v:
            raise ValueError(f"grid[{k!r}] is empty")
        for x in v:
            check_settings({k: x})
    seeds = [check_seed(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds is empty: give at least one")
    points = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]
    rows = []
    for point, seed in progress_bar([(p, s) for p in points for s in seeds], desc="learning simulations",
                                    disable=not progress):
        s = {**settings, **check_settings(point)}
        params = AuctionParams().replace(**{k: s[k] for k in AUCTION_KEYS})
        view = challenge_view(s["scenario"], s["n_tasks"], s["stake"], s["slash_fraction"], s["p_platform"], params,
                              rounds=rounds, seed=seed)
        rows.append({**point, "seed": seed, **view.figures})
    return pd.DataFrame(rows)
