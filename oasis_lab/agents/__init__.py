"""Agents that respond (issue 19): behaviour as a component, learners with regret bounds,
and equilibrium certificates (a layer above ``disputes``, below ``sim`` and ``incentives``).

- :mod:`.roles`: what users, providers, challengers and market referees observe, do and earn.
- :mod:`.learners`: Hedge, Exp3, regret matching, best response with inertia, vectorised over
  a population, each with its regret bound.
- :mod:`.policies`: ``Scripted`` (today's behaviour), ``Truthful``, ``Learning``.
- :mod:`.regret`: external regret of an action history.
- :mod:`.certificate`: epsilon-Nash certificates from an off-grid search of each agent's best
  unilateral deviation.
"""
