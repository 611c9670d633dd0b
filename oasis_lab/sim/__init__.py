"""The market over time (whitepaper sections 4 and 5 together, round after round).

Public API: :class:`SimConfig` (validated, loaded from ``data/configs/`` by
:func:`load_config`), :func:`simulate` and its :class:`SimulationResult`; :data:`STAGES`, the
names of a round's stages (the keys of ``SimulationResult.timings`` after ``"setup"``); and
:class:`Behaviour`, the policy of each role, for plugging agents into the seams.

How a run is built (one module each):

- :mod:`~oasis_lab.sim.state`: the state, typed records (:class:`~oasis_lab.sim.state.SimState`
  with the providers, the books, the waiting tasks, the pending disputes; the round's
  :class:`~oasis_lab.sim.state.Round` with its jobs, challenges, resolution and returned tasks);
- :mod:`~oasis_lab.sim.stages`: the stages, one function ``stage(state, r)`` each, played in the
  order of :data:`~oasis_lab.sim.stages.ROUND` and each timed, the optimum included;
- :mod:`~oasis_lab.sim.behaviour`: the seams where agents decide (cheating, challenging,
  reports to the auction, market referees, bribes, exit), scripted by default;
- :mod:`~oasis_lab.sim.recorder`: named per-round reporters (as Mesa's ``DataCollector``), the
  provider table and the job logs;
- :mod:`~oasis_lab.sim.engine`: :func:`simulate`, the setup and the round loop;
- :mod:`~oasis_lab.sim.population`, :mod:`~oasis_lab.sim.books`, :mod:`~oasis_lab.sim.court`:
  who the providers are, the integer token books, the dispute game.
"""

from oasis_lab.sim.behaviour import Behaviour
from oasis_lab.sim.config import SimConfig, load_config
from oasis_lab.sim.engine import STAGES, simulate
from oasis_lab.sim.result import SimulationResult

__all__ = ["STAGES", "Behaviour", "SimConfig", "SimulationResult", "load_config", "simulate"]
