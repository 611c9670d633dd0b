"""Market-over-time studies as experiments (whitepaper sections 4 and 5 round after round).

- ``market_over_time`` (:class:`MarketOverTime`): a short :func:`oasis_lab.sim.simulate` run of
  a shipped configuration (``data/configs/``) at one stake, slash fraction and challenge
  probability: welfare, what cheaters earned before removal, convictions (false ones
  included) and the cost of security. The explorer of notebook 06 drives it from its sliders;
  a sweep over stake x challenge probability is the simulation study.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from oasis_lab.checks import check_fraction, check_int, check_real
from oasis_lab.experiments.base import ExperimentConfig, register
from oasis_lab.sim import SimConfig, load_config, simulate

__all__ = ["MarketOverTime"]


def _check_config_file(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a configuration name or path, got {value!r}")
    if Path(value).exists():
        # a path is resolved here, where the config is built, not where it runs (a Dask
        # worker on another machine or in another folder); a bare name of data/configs/
        # that is not a file here stays a name
        return str(Path(value).resolve())
    return value


@register
@dataclass(frozen=True)
class MarketOverTime(ExperimentConfig):
    """A short multi-round market with cheaters, at one stake and challenge probability.

    Parameters
    ----------
    config_file : str
        A configuration of ``data/configs/`` (or a path) that the fields below override.
    rounds, tasks_per_round, n_providers : int
    cheater_share : float
        Share of providers that cheat (perturb one node of every inference).
    stake : int
        Provider stake (tokens, ``disputes.provider_stake``).
    slash_fraction : float
        Share of the stake slashed on conviction.
    challenger_bond : int
        Tokens a challenger locks per challenge (``disputes.challenger_bond``).
    p_user, p_platform : float
        Per-job challenge probabilities of the user and the platform.
    dispute_delay : int
        Rounds a dispute takes.
    cheat_saving : float
        Share of a job's compute a cheater skips (its gain per cheated job).
    challenge_cost : float
        A challenger's recomputation, in multiples of the task's compute.

    Returns (``run``)
    -----------------
    One row: :meth:`SimulationResult.summary`'s numeric columns plus ``p`` (the per-job
    challenge probability), ``cheater_income_per_cheater`` (payments a cheater kept for
    wrong results before its removal), ``stake_lost_per_cheater``, ``rounds_to_removal`` (mean
    over the cheaters removed, from entry to removal), ``reversed`` (payments reversed to
    users) and ``bonds_locked_mean`` (challenge bonds locked per round): swept over the
    challenge probability and the dispute delay, the cost of security against what a cheater
    keeps (notebook 05).
    """

    name = "market_over_time"

    config_file: str = "cheaters.yaml"
    rounds: int = 10
    tasks_per_round: int = 100
    n_providers: int = 40
    cheater_share: float = 0.1
    stake: int = 1000
    slash_fraction: float = 1.0
    p_user: float = 0.05
    p_platform: float = 0.02
    dispute_delay: int = 1
    challenger_bond: int = 100
    cheat_saving: float = 0.5
    challenge_cost: float = 1.0

    checks = {
        "config_file": _check_config_file,
        **dict.fromkeys(("rounds", "tasks_per_round", "n_providers"), partial(check_int, minimum=1)),
        "stake": partial(check_int, minimum=0),
        "challenger_bond": partial(check_int, minimum=0),
        "dispute_delay": partial(check_int, minimum=0),
        "challenge_cost": partial(check_real, minimum=0.0),
        **dict.fromkeys(("cheater_share", "slash_fraction", "p_user", "p_platform", "cheat_saving"), check_fraction),
    }

    def validate(self) -> None:
        # the whole simulation config is built and checked now (the file read, every bound of
        # the simulation), so a sweep refuses a bad grid point before any point runs
        try:
            self.sim_config()
        except FileNotFoundError as exc:
            raise ValueError(f"config_file = {self.config_file!r}: {exc}") from None
        except (TypeError, ValueError) as exc:
            msg = str(exc)
            key = next((mine for theirs, mine in (("provider_stake", "stake"), ("slash_fraction", "slash_fraction"),
                                                   ("challenger_bond", "challenger_bond"),
                                                   ("challenge_cost", "challenge_cost")) if theirs in msg), None)
            prefix = f"{key} = {getattr(self, key)!r}: " if key else ""
            raise type(exc)(f"{prefix}the simulation of config_file = {self.config_file!r} refuses it: {msg}") from None

    def sim_config(self) -> SimConfig:
        """The :class:`~oasis_lab.sim.SimConfig` this experiment runs (checked by the sim)."""
        base = load_config(
            self.config_file,
            rounds=self.rounds,
            tasks_per_round=self.tasks_per_round,
            n_providers=self.n_providers,
            cheater_share=self.cheater_share,
            p_user=self.p_user,
            p_platform=self.p_platform,
            dispute_delay=self.dispute_delay,
            cheat_saving=self.cheat_saving,
            challenge_cost=self.challenge_cost,
            disputes={"provider_stake": self.stake, "slash_fraction": self.slash_fraction,
                      "challenger_bond": self.challenger_bond},
        )
        return base

    def _run(self, seed: int) -> pd.DataFrame:
        config = self.sim_config()
        # the simulation draws every purpose from its own oasis_lab.seeding stream of ``seed``
        result = simulate(config, seed)
        row = result.summary().drop(columns=["readings", "seed"], errors="ignore")
        row.insert(0, "p", config.challenge_probability)
        cheaters = int(row["cheaters"].iloc[0])
        row["cheater_income_per_cheater"] = float(row["cheater_income"].iloc[0]) / cheaters if cheaters else 0.0
        r, providers = result.rounds, result.providers
        cheat = providers[providers["kind"] == "cheater"]
        removed = cheat[cheat["removed"] >= 0]
        row["stake_lost_per_cheater"] = float(cheat["slashed"].mean()) if cheaters else 0.0
        # nan when no cheater was removed: no removal took any number of rounds
        row["rounds_to_removal"] = float((removed["removed"] - removed["entered"] + 1).mean())
        row["reversed"] = float(r["reversed"].sum())
        row["bonds_locked_mean"] = float(r["bonds_locked"].mean())
        return row.reset_index(drop=True)
