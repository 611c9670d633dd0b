"""Each learner's regret stays within its stated bound on adversarial payoff sequences.

The bounds are the learners' own (``Learner.regret_bound``, the constants of the cited
theorems, no slack added). Full-information bounds hold for every sequence, so they are
checked run by run on the mixed strategies played; bandit bounds hold in expectation, so the
mean realised regret over independent runs (agents of one population, each its own draws) is
checked. A learner that does not learn exceeds the same bounds on the same sequences, so the
sequences and the bounds discriminate.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from oasis_lab.agents.learners import LEARNERS, BestResponse, Exp3, Hedge, Learner, RegretMatching, make_learner
from oasis_lab.seeding import stream

T = 5_000
K = 4
RUNS = 10


def _sequences() -> dict[str, np.ndarray]:
    """Payoff sequences in [0, 1], shape (T, K), fixed in advance (oblivious adversaries)."""
    t = np.arange(T)
    seqs = {}
    # the best action switches after 40% of the rounds; a decoy pays a steady 0.45
    u = np.zeros((T, K))
    u[: 2 * T // 5, 0] = 1.0
    u[2 * T // 5:, 1] = 1.0
    u[:, 2] = 0.45
    seqs["switch"] = u
    # follow-the-leader's trap: the leader alternates, so chasing it earns nothing
    u = np.zeros((T, K))
    u[0, 0] = 0.5
    u[1::2, 1] = 1.0
    u[2::2, 0] = 1.0
    seqs["ftl_trap"] = u
    # the lower-bound construction: one action is better by sqrt(K / T) in mean, hidden in noise
    rng = stream(11, "test", "hidden")
    means = np.full(K, 0.5)
    means[2] += math.sqrt(K / T)
    seqs["hidden"] = (rng.random((T, K)) < means).astype(float)
    # slow drift: the best action rotates through all of them
    seqs["drift"] = 0.5 + 0.5 * np.sin(2 * np.pi * t[:, None] / T + 2 * np.pi * np.arange(K)[None, :] / K)
    return seqs


SEQUENCES = _sequences()


def _play(learner: Learner, u: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Realised and mixed-strategy regret of each of the learner's agents against ``u``, shape
    ``(T, K)`` (every agent the same sequence) or ``(T, n_agents, K)``."""
    n = learner.n_agents
    agents = np.arange(n)
    u = np.broadcast_to(u[:, None, :], (u.shape[0], n, u.shape[1])) if u.ndim == 2 else u
    rng = stream(seed, "test", "learner", learner.name)
    got = np.zeros(n)
    mixed = np.zeros(n)
    for t in range(u.shape[0]):  # rounds are sequential; the runs are one array
        p = learner.probabilities(agents)
        a = learner.draw(agents, rng)
        mixed += (p * u[t]).sum(axis=1)
        got += u[t, agents, a]
        learner.update(agents, a, u[t, agents, a], u[t])
    best = u.sum(axis=0).max(axis=1)
    return best - got, best - mixed


def _all_sequences() -> tuple[list[str], np.ndarray]:
    """Every sequence, RUNS agents each, as one (T, n, K) array."""
    names = sorted(SEQUENCES)
    return names, np.repeat(np.stack([SEQUENCES[s] for s in names], axis=1), RUNS, axis=1)


FULL = [
    ("hedge", {}),
    ("regret_matching", {"feedback": "full"}),
]
BANDIT = [
    ("exp3", {}),
    ("regret_matching", {"feedback": "bandit"}),
]


@pytest.mark.parametrize(("name", "options"), FULL, ids=[n for n, _ in FULL])
def test_full_information_regret_within_bound_on_every_run(name, options) -> None:
    names, u = _all_sequences()
    learner = make_learner(name, K, T, n_agents=u.shape[1], **options)
    bound = learner.regret_bound(T)
    realised, mixed = _play(learner, u)
    # the bound holds for every sequence, for the mixed strategies played: run by run
    worst = {s: float(mixed[i * RUNS:(i + 1) * RUNS].max()) for i, s in enumerate(names)}
    assert mixed.max() <= bound, (name, worst, bound)
    # the sampled actions earn the mixed strategies' payoff plus a martingale with increments in
    # [-1, 1]: by Azuma-Hoeffding, beyond sqrt(2 T ln(2 / delta)) with probability < delta
    delta = 1e-9
    assert realised.max() <= bound + math.sqrt(2 * T * math.log(2 / delta))


@pytest.mark.parametrize(("name", "options"), BANDIT, ids=[n for n, _ in BANDIT])
def test_bandit_expected_regret_within_bound(name, options) -> None:
    names, u = _all_sequences()
    learner = make_learner(name, K, T, n_agents=u.shape[1], **options)
    bound = learner.regret_bound(T)
    realised, _ = _play(learner, u, seed=3)
    for i, s in enumerate(names):
        mean = realised[i * RUNS:(i + 1) * RUNS].mean()
        assert mean <= bound, (name, s, mean, bound)


def test_exp3_bound_is_the_corollary_at_the_tuned_gamma() -> None:
    # Auer et al. 2002, Corollary 3.2 with g = T: 2 sqrt(e - 1) sqrt(T K ln K)
    learner = Exp3(K, T)
    assert learner.gamma == pytest.approx(math.sqrt(K * math.log(K) / ((math.e - 1) * T)))
    assert learner.regret_bound(T) == pytest.approx(2 * math.sqrt(math.e - 1) * math.sqrt(T * K * math.log(K)))
    # Hedge at the tuned rate: sqrt(T ln K / 2); regret matching: sqrt(T (K - 1))
    assert Hedge(K, T).regret_bound(T) == pytest.approx(math.sqrt(T * math.log(K) / 2))
    assert RegretMatching(K, T, feedback="full").regret_bound(T) == pytest.approx(math.sqrt(T * (K - 1)))


class _Uniform(Learner):
    """Does not learn: uniformly random forever."""

    name = "uniform"

    def _init_state(self) -> None:
        pass

    def _append(self, n: int) -> None:
        pass

    def _probs(self, agents):
        n = self.n_agents if agents is None else agents.size
        return np.full((n, self.n_actions), 1.0 / self.n_actions)

    def _update(self, agents, actions, payoff, payoffs) -> None:
        pass

    def regret_bound(self, rounds=None) -> float:
        return math.inf


class _FollowTheLeader(Hedge):
    """Plays the best action so far (Hedge with an infinite rate): no regret guarantee."""

    name = "follow_the_leader"

    def _probs(self, agents):
        s = self.total if agents is None else self.total[agents]
        return (s == s.max(axis=1, keepdims=True)).astype(float) / (s == s.max(axis=1, keepdims=True)).sum(
            axis=1, keepdims=True)


@pytest.mark.parametrize(("broken", "sequence"), [(_Uniform, "switch"), (_FollowTheLeader, "ftl_trap")])
def test_a_learner_that_does_not_learn_exceeds_the_bounds(broken, sequence) -> None:
    _, mixed = _play(broken(K, T, n_agents=RUNS, feedback="full"), SEQUENCES[sequence])
    bounds = {n: make_learner(n, K, T, **o).regret_bound(T) for n, o in [*FULL, ("exp3", {})]}
    assert mixed.min() > max(bounds.values()), (mixed.min(), bounds)


def test_best_response_within_its_bound_in_a_stationary_environment() -> None:
    u = np.array([0.2, 0.9, 0.5, 0.7])
    for inertia, explore in ((0.0, 0.0), (0.5, 0.05), (0.9, 0.01)):
        for feedback in ("bandit", "full"):
            learner = BestResponse(K, 2000, n_agents=RUNS, inertia=inertia, explore=explore, feedback=feedback)
            realised, _ = _play(learner, np.tile(u, (2000, 1)))
            assert realised.mean() <= learner.regret_bound(2000) * (u.max() - u.min())
    # with no exploration and no inertia it tries each action once, then keeps the best: the
    # regret is exactly what the tries cost
    learner = BestResponse(K, 100, n_agents=1, inertia=0.0, explore=0.0)
    realised, _ = _play(learner, np.tile(u, (100, 1)))
    assert realised[0] == pytest.approx((0.9 - 0.2) + (0.9 - 0.5) + (0.9 - 0.7))


def test_best_response_has_no_worst_case_guarantee() -> None:
    # no exploration, no inertia, full information: fictitious play chases the trap's leader
    learner = BestResponse(2, T, n_agents=1, inertia=0.0, explore=0.0, feedback="full")
    realised, _ = _play(learner, np.ascontiguousarray(SEQUENCES["ftl_trap"][:, :2]))
    assert realised[0] >= 0.49 * T


def test_one_update_of_each_learner_by_hand() -> None:
    agents, x = np.array([0]), np.array([0.8])
    u = np.array([[0.2, 0.8, 0.5]])
    # Hedge adds the payoff vector to the cumulative payoffs
    h = Hedge(3, 100, n_agents=1)
    h.update(agents, np.array([1]), x, u)
    np.testing.assert_allclose(h.probabilities(), np.exp(h.eta * u) / np.exp(h.eta * u).sum())
    # Exp3 credits the played action x / p (unbiased), nothing to the others
    e = Exp3(3, 100, n_agents=1, gamma=0.3)
    p = e.probabilities()[0]
    e.update(agents, np.array([1]), x, None)
    np.testing.assert_allclose(e.estimate, [[0.0, 0.8 / p[1], 0.0]])
    w = np.exp(0.1 * e.estimate[0])
    np.testing.assert_allclose(e.probabilities()[0], 0.7 * w / w.sum() + 0.1)
    # regret matching, full: R = u - q . u from the uniform q
    r = RegretMatching(3, 100, n_agents=1, feedback="full")
    r.update(agents, np.array([1]), x, u)
    np.testing.assert_allclose(r.regret, u - u.mean())
    np.testing.assert_allclose(r.probabilities(), [[0.0, 0.3 / 0.3, 0.0]])
    # regret matching, bandit: the estimate x / p at the played action, R = u_hat - q . u_hat
    b = RegretMatching(3, 100, n_agents=1, gamma=0.3)
    b.update(agents, np.array([1]), x, None)
    est = 0.8 / (0.7 / 3 + 0.1)
    np.testing.assert_allclose(b.regret, [[-est / 3, est - est / 3, -est / 3]])


def test_learners_are_seeded_and_vectorised() -> None:
    a, b = Exp3(3, 50, n_agents=5), Exp3(3, 50, n_agents=5)
    ra, rb = stream(1, "test"), stream(1, "test")
    for _ in range(20):
        x, y = a.draw(np.arange(5), ra), b.draw(np.arange(5), rb)
        np.testing.assert_array_equal(x, y)
        a.update(np.arange(5), x, np.full(5, 0.5))
        b.update(np.arange(5), y, np.full(5, 0.5))
    np.testing.assert_array_equal(a.probabilities(), b.probabilities())
    # a new agent starts at the uniform strategy; the others keep theirs
    before = a.probabilities()
    a.grow(7)
    p = a.probabilities()
    np.testing.assert_array_equal(p[:5], before)
    np.testing.assert_allclose(p[5:], 1 / 3)


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_learner_inputs_are_checked(name) -> None:
    with pytest.raises(ValueError, match="n_actions = 1 must be >= 2"):
        make_learner(name, 1, 10)
    with pytest.raises(ValueError, match="horizon = 0"):
        make_learner(name, 2, 0)
    learner = make_learner(name, 3, 10, n_agents=2)
    full = np.full((2, 3), 0.5)
    with pytest.raises(ValueError, match="payoff must be scaled into"):
        learner.update(np.arange(2), np.array([0, 1]), np.array([0.5, 1.5]), full)
    with pytest.raises(ValueError, match="distinct"):
        learner.update(np.array([1, 1]), np.array([0, 1]), np.array([0.5, 0.5]), full)
    with pytest.raises(ValueError, match=r"ids in \[0, 2\)"):
        learner.draw(np.array([2]), stream(0, "test"))
    with pytest.raises(ValueError, match=r"actions must be in \[0, 3\)"):
        learner.update(np.arange(2), np.array([0, 3]), np.array([0.5, 0.5]), full)
    with pytest.raises(ValueError, match="must be one of"):
        make_learner("ucb", 2, 10)


def test_feedback_kinds() -> None:
    with pytest.raises(ValueError, match="Hedge accepts"):
        Hedge(2, 10, feedback="bandit")
    with pytest.raises(ValueError, match="Exp3 accepts"):
        Exp3(2, 10, feedback="full")
    learner = RegretMatching(2, 10, n_agents=1, feedback="full")
    with pytest.raises(ValueError, match="needs payoffs"):
        learner.update(np.arange(1), np.array([0]), np.array([0.5]))
