"""Incentives of the section-4 auction and the section-5 challenges (a layer above
``auction`` and ``disputes``).

- :mod:`.outcomes`: registers ``truthful`` and ``first_price`` into the one mechanism registry
  (:mod:`oasis_lab.auction.mechanisms`: reports in, expected outcome out).
- :mod:`.manipulability`: who gains by a unilateral misreport, for any mechanism.
- :mod:`.truthful`: a truthful variant of the greedy (posted price, exact critical values).
- :mod:`.repeated`: the truthful variant round after round, with a price no agent can move
  (each group priced by the other group's previous round), and the cross-round misreport
  search.
- :mod:`.equilibrium`: best-response dynamics over shading and markups, and the
  epsilon-Nash certificate of the profile where they stop (no grid, no cap).
- :mod:`.challenge`: the challenge game (verifier's dilemma) in closed form.
- :mod:`.learning`: learning agents (:mod:`oasis_lab.agents`) recover the challenge game's
  closed form within their regret bounds' tolerance.
- :mod:`.bilateral`: the k-double auction's linear equilibrium recovered by the certificate's
  search (Chatterjee and Samuelson 1983).
- :mod:`.privacy`: the measured privacy loss of the DP clearing price.
"""

from oasis_lab.incentives.challenge import (
    ChallengeGame,
    challenge_equilibrium,
    honest_participation,
    platform_challenge_rate,
)
from oasis_lab.incentives.equilibrium import best_response_dynamics, certify_profile
from oasis_lab.incentives.manipulability import (
    DIMENSIONS,
    best_misreports,
    manipulability,
    misreport,
    summarize,
)
from oasis_lab.incentives.outcomes import Outcome, run_mechanism
from oasis_lab.incentives.repeated import cross_round_misreports, run_repeated
from oasis_lab.incentives.truthful import (
    PostedPrices,
    TruthfulResult,
    clearing_price,
    truthful_greedy,
    tuned_price,
)

__all__ = [
    "DIMENSIONS",
    "ChallengeGame",
    "Outcome",
    "PostedPrices",
    "TruthfulResult",
    "best_misreports",
    "best_response_dynamics",
    "certify_profile",
    "challenge_equilibrium",
    "clearing_price",
    "cross_round_misreports",
    "honest_participation",
    "manipulability",
    "misreport",
    "platform_challenge_rate",
    "run_mechanism",
    "run_repeated",
    "summarize",
    "truthful_greedy",
    "tuned_price",
]
