"""Benchmark of the agents' share of a learning simulation (issue 19).

Issue 19's target is a learning simulation of 200 rounds x 1,000 tasks x 100 providers under
2 s of CPU. This measures what the agents add to it, before they are wired into the engine:
200 rounds in which every role's population acts and learns through the policy interface
(typed observation in, typed action out, typed outcome in), with payoffs drawn at random in
each policy's range:

- 1,000 users (one task each) learning a shading factor over 9 values (Exp3),
- 100 providers learning a markup x cheat rate grid of 6 x 3 = 18 actions (Exp3),
- 1,000 challengers (the users again) learning a challenge rate over 6 values (regret
  matching, bandit),
- 20 market referees a round learning whether to take a bribe (best response with inertia),

side by side with the same rounds played by the ``Scripted`` policies (today's behaviour, no
learning), in CPU seconds (``time.process_time``, so other jobs on a shared machine do not
count).

    .venv/bin/python benchmarks/bench_agents.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from oasis_lab.agents.learners import BestResponse, Exp3, RegretMatching  # noqa: E402
from oasis_lab.agents.policies import Learning, Scripted, action_grid  # noqa: E402
from oasis_lab.agents.roles import (  # noqa: E402
    OUTCOMES,
    ChallengerObservation,
    ProviderObservation,
    RefereeObservation,
    UserObservation,
)
from oasis_lab.seeding import stream  # noqa: E402
from oasis_lab.timing import best_of, machine  # noqa: E402

ROUNDS, USERS, PROVIDERS, REFEREES = 200, 1000, 100, 20
TARGET_S = 2.0  # the whole learning simulation's budget


def learning_policies() -> dict[str, Learning]:
    grids = {
        "user": action_grid("user", shade=list(np.linspace(0.0, 0.8, 9))),
        "provider": action_grid("provider", markup=[0.0, 0.1, 0.2, 0.4, 0.8, 1.6], cheat_rate=[0.0, 0.5, 1.0]),
        "challenger": action_grid("challenger", challenge_rate=[0.0, 0.01, 0.02, 0.05, 0.1, 0.2]),
        "referee": action_grid("referee", take_bribe=[False, True]),
    }
    learners = {"user": Exp3(9, ROUNDS), "provider": Exp3(18, ROUNDS), "challenger": RegretMatching(6, ROUNDS),
                "referee": BestResponse(2, ROUNDS)}
    return {role: Learning(role, learners[role], grids[role], payoff_range=(-100.0, 100.0), seed=0)
            for role in grids}


def scripted_policies() -> dict[str, Scripted]:
    return {role: Scripted(role) for role in ("user", "provider", "challenger", "referee")}


def play(policies: dict) -> None:
    """ROUNDS rounds of act and learn for every role (the engine's side is a random payoff)."""
    draws = stream(0, "test", "bench_agents")
    users, providers = np.arange(USERS), np.arange(PROVIDERS)
    for r in range(ROUNDS):  # rounds are sequential; each call is vectorised over a population
        referees = draws.choice(PROVIDERS, REFEREES, replace=False)
        observations = {
            "user": UserObservation(r, users, value=draws.random(USERS) * 10, user_cost=np.ones(USERS)),
            "provider": ProviderObservation(r, providers, cost=draws.random(PROVIDERS) * 5,
                                            kind=np.ones(PROVIDERS, dtype=np.int64), stake=np.full(PROVIDERS, 1e4)),
            "challenger": ChallengerObservation(r, users, payment=np.full(USERS, 5.0), check_cost=np.ones(USERS)),
            "referee": RefereeObservation(r, referees, strategy=np.full(REFEREES, 3), offer=np.full(REFEREES, 10.0),
                                          stake=np.full(REFEREES, 1e4), overturn_probability=np.full(REFEREES, 0.5)),
        }
        for role, policy in policies.items():
            obs = observations[role]
            policy.act(obs)
            payoff = draws.uniform(-100.0, 100.0, len(obs))
            policy.learn(OUTCOMES[role](r, obs.agent, payoff=payoff))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each; the fastest is kept")
    args = parser.parse_args()
    learn_s, _ = best_of(lambda: play(learning_policies()), args.repeats, clock=time.process_time)
    script_s, _ = best_of(lambda: play(scripted_policies()), args.repeats, clock=time.process_time)
    print(f"agents of {ROUNDS} rounds: {USERS:,} users, {PROVIDERS} providers, {USERS:,} challengers, "
          f"{REFEREES} referees a round")
    print(f"  machine: {machine()}")
    print(f"  learning policies      {learn_s:7.3f} s CPU   ({learn_s / ROUNDS * 1e3:.2f} ms per round)")
    print(f"  scripted policies      {script_s:7.3f} s CPU   ({script_s / ROUNDS * 1e3:.2f} ms per round)")
    print(f"  learning / scripted    {learn_s / script_s:7.2f} x")
    print(f"  share of the {TARGET_S:g} s budget of the whole learning simulation: {learn_s / TARGET_S:.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
