"""The market over time (whitepaper sections 4 and 5 together, round after round).

:class:`SimConfig` (validated, loaded from ``data/configs/``), :func:`simulate` and its
:class:`SimulationResult`. See :mod:`oasis_lab.sim.engine` for what a round does.
"""

from oasis_lab.sim.config import SimConfig, load_config
from oasis_lab.sim.engine import STAGES, simulate
from oasis_lab.sim.result import SimulationResult

__all__ = ["STAGES", "SimConfig", "SimulationResult", "load_config", "simulate"]
