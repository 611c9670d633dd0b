"""Agents that respond (issue 19): behaviour as a component, learners with regret bounds,
and equilibrium certificates (a layer above ``disputes``, below ``sim`` and ``incentives``).

- :mod:`.roles`: what users, providers, challengers and market referees observe, do and earn.
- :mod:`.learners`: Hedge, Exp3, regret matching, best response with inertia, vectorised over
  a population, each with its regret bound.
- :mod:`.policies`: ``Scripted`` (today's behaviour), ``Truthful``, ``Learning``, ``Profile``.
- :mod:`.regret`: external regret of an action history.
- :mod:`.certificate`: epsilon-Nash certificates from an off-grid search of each agent's best
  unilateral deviation.
"""

from oasis_lab.agents.certificate import Certificate, Deviation, best_deviation, certify
from oasis_lab.agents.learners import LEARNERS, BestResponse, Exp3, Hedge, Learner, RegretMatching, make_learner
from oasis_lab.agents.policies import Learning, Policy, Profile, Scripted, Truthful, action_grid
from oasis_lab.agents.regret import Regret, external_regret
from oasis_lab.agents.roles import (
    ACTIONS,
    OBSERVATIONS,
    OUTCOMES,
    ROLES,
    ChallengerAction,
    ChallengerObservation,
    ChallengerOutcome,
    ProviderAction,
    ProviderObservation,
    ProviderOutcome,
    RefereeAction,
    RefereeObservation,
    RefereeOutcome,
    UserAction,
    UserObservation,
    UserOutcome,
)

__all__ = [
    "ACTIONS",
    "LEARNERS",
    "OBSERVATIONS",
    "OUTCOMES",
    "ROLES",
    "BestResponse",
    "Certificate",
    "ChallengerAction",
    "ChallengerObservation",
    "ChallengerOutcome",
    "Deviation",
    "Exp3",
    "Hedge",
    "Learner",
    "Learning",
    "Policy",
    "Profile",
    "ProviderAction",
    "ProviderObservation",
    "ProviderOutcome",
    "RefereeAction",
    "RefereeObservation",
    "RefereeOutcome",
    "Regret",
    "RegretMatching",
    "Scripted",
    "Truthful",
    "UserAction",
    "UserObservation",
    "UserOutcome",
    "action_grid",
    "best_deviation",
    "certify",
    "external_regret",
    "make_learner",
]
