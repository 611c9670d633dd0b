"""Experiments: frozen configs and pure ``run(config, seed) -> DataFrame``; sweeps on Dask.

Layer: above ``auction``, ``disputes`` (and ``sim``); below ``widgets``, ``report`` and the CLI.

- :mod:`~oasis_lab.experiments.base`: :class:`ExperimentConfig`, :data:`EXPERIMENTS`, :func:`run`.
- :mod:`~oasis_lab.experiments.auction`: ``greedy_vs_optimum``, ``outlier``, ``worst_market``.
- :mod:`~oasis_lab.experiments.disputes`: ``adversary_matrix``, ``residual_drift``,
  ``deterrence``.
- :mod:`~oasis_lab.experiments.referees`: ``referee_market``, ``split_verification``.
- :mod:`~oasis_lab.experiments.incentives`: ``incentive_table``, ``equilibrium``,
  ``welfare_price``, ``repeated_welfare``, ``vcg_budget``, ``dp_privacy``, ``ir_causes``
  (notebook 08).
- :mod:`~oasis_lab.experiments.sim`: ``market_over_time`` (:func:`oasis_lab.sim.simulate`).
- :mod:`~oasis_lab.experiments.learning`: ``learning_curves``, ``market_challenge_game``,
  ``scripted_vs_learning``
  (learning agents in the market; the verifier's dilemma and the known answer of the docs).
- :mod:`~oasis_lab.experiments.sweep`: :func:`sweep` over a grid and seeds, on a
  ``dask.distributed`` cluster, resumable from its Parquet dataset.
- :mod:`~oasis_lab.experiments.expected`: the stored expected outputs of every experiment
  (``tests/expected/``), compared field by field; ``python -m oasis_lab expected [--update]``.
- :mod:`~oasis_lab.experiments.design`: :func:`~oasis_lab.experiments.design.design_search`
  over the simulation's settings (Optuna on Dask, resumable), its Pareto front, a recommended
  point and its held-out check; ``python -m oasis_lab design --config FILE``.
"""

from oasis_lab.experiments.auction import (
    GreedyVsOptimum,
    OutlierStudy,
    UnsplitGap,
    WorstMarket,
    dissect,
)
from oasis_lab.experiments.base import (
    EXPERIMENTS,
    ExperimentConfig,
    experiment_class,
    register,
    run,
)
from oasis_lab.experiments.disputes import AdversaryMatrix, Deterrence, ResidualDrift
from oasis_lab.experiments.incentives import (
    DpPrivacy,
    Equilibrium,
    IncentiveTable,
    IrCauses,
    RepeatedWelfare,
    VcgBudget,
    WelfarePrice,
)
from oasis_lab.experiments.learning import LearningCurves, MarketChallengeGame, ScriptedVsLearning
from oasis_lab.experiments.referees import RefereeMarket, SplitVerification
from oasis_lab.experiments.sim import MarketOverTime

__all__ = [
    "EXPERIMENTS",
    "AdversaryMatrix",
    "Deterrence",
    "DpPrivacy",
    "Equilibrium",
    "ExperimentConfig",
    "GreedyVsOptimum",
    "IncentiveTable",
    "IrCauses",
    "LearningCurves",
    "MarketChallengeGame",
    "MarketOverTime",
    "OutlierStudy",
    "RefereeMarket",
    "RepeatedWelfare",
    "ResidualDrift",
    "ScriptedVsLearning",
    "SplitVerification",
    "UnsplitGap",
    "VcgBudget",
    "WelfarePrice",
    "WorstMarket",
    "dissect",
    "experiment_class",
    "register",
    "run",
]
