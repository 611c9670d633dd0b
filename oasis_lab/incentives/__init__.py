"""Incentives of the section-4 auction and the section-5 challenges (a layer above
``auction`` and ``disputes``).

- :mod:`.outcomes`: every mechanism behind one interface (reports in, expected outcome out).
- :mod:`.manipulability`: who gains by a unilateral misreport, for any mechanism.
- :mod:`.truthful`: a truthful variant of the greedy (posted price, critical values).
- :mod:`.equilibrium`: best-response dynamics over shading factors under the midpoint rule.
- :mod:`.challenge`: the challenge game (verifier's dilemma) in closed form.
"""

from oasis_lab.incentives.manipulability import DIMENSIONS, manipulability, misreport, summarize
from oasis_lab.incentives.outcomes import MECHANISMS, Outcome, run_mechanism
from oasis_lab.incentives.truthful import TruthfulResult, clearing_price, truthful_greedy

__all__ = [
    "DIMENSIONS",
    "MECHANISMS",
    "Outcome",
    "TruthfulResult",
    "clearing_price",
    "manipulability",
    "misreport",
    "run_mechanism",
    "summarize",
    "truthful_greedy",
]
