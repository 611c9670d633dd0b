"""Learning the challenge game: do no-regret agents recover its closed form? (issue 19)

One provider and one challenger repeat the challenge game of
:mod:`oasis_lab.incentives.challenge` (whitepaper section 5) for ``T`` rounds through the
agents' interfaces (:mod:`oasis_lab.agents`): each round the provider's policy picks a cheat
rate and the challenger's a challenge rate, the cheat, the challenge and the platform's random
check are drawn, and each learns from its own payoff. ``repetitions`` independent pairs play
side by side as one population (agent ``i`` meets agent ``i``), so many seeds cost one loop.

**What the regret bounds promise.** In the mixed case (``r < pi*``, ``q* < 1``) write ``p*``
for the challenger's equilibrium rate, ``Delta = (1 - r)(P + f S)`` and ``R`` the challenger's
reward. Given the others, the provider's expected payoff is bilinear,
``x (G - r L - c Delta)``, and the challenger's ``c (x R - K)``. Summing the two players'
regrets against their best fixed action, each divided by its payoff slope, the cross term
``x c`` cancels and what is left depends only on the time-averaged rates ``x_bar`` (cheating)
and ``c_bar`` (challenging):

``reg_P / (T Delta) + reg_C / (T R) = phi = max(0, p* - c_bar) + max(0, x_bar - q*)
- p* (x_bar - q*) + q* (c_bar - p*)``,

and ``phi >= min(p*, 1 - p*) |x_bar - q*|``, ``phi >= min(q*, 1 - q*) |c_bar - p*|``. So regret
bounds ``B_P``, ``B_C`` (tokens) put the time-averaged rates within

``|x_bar - q*| <= A / min(p*, 1 - p*)``, ``|c_bar - p*| <= A / min(q*, 1 - q*)``,
``A = B_P / (T Delta) + B_C / (T R)``

(:func:`tolerances`): for every run under full-information bounds (Hedge, regret matching
against expected payoffs), in expectation over the learners' draws under bandit bounds (Exp3;
for each fixed action against an adaptive opponent, which is all the argument uses). With the
realised actions and ``r = 0`` the identity holds exactly, run by run
(:func:`equilibrium_gap`). In the deterred case (``r L > G``) cheating loses
``r L - G`` per cheat against honesty whatever the challenger does, so the provider's regret
bound gives ``x_bar <= B_P / (T (r L - G))``, and the challenger's gives ``c_bar <= (B_C / T +
R x_bar) / K``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from oasis_lab.agents.learners import LEARNERS, make_learner
from oasis_lab.agents.policies import Learning, action_grid
from oasis_lab.agents.regret import Regret, external_regret
from oasis_lab.agents.roles import (
    PROVIDER_KINDS,
    ChallengerAction,
    ChallengerObservation,
    ChallengerOutcome,
    ProviderAction,
    ProviderObservation,
    ProviderOutcome,
)
from oasis_lab.checks import check_choice, check_int
from oasis_lab.incentives.challenge import ChallengeEquilibrium, ChallengeGame, challenge_equilibrium
from oasis_lab.progress import progress_bar
from oasis_lab.seeding import check_seed, stream

__all__ = [
    "FEEDBACK_MODES",
    "KNOWN_ANSWER_GAME",
    "KNOWN_ANSWER_RUNS",
    "ChallengeLearning",
    "equilibrium_gap",
    "known_answer_game",
    "known_answer_runs",
    "known_answer_table",
    "known_answers",
    "learn_challenge_game",
    "learn_challenge_games",
    "render_table",
    "tolerances",
]

#: ``"bandit"``: each sees its own realised payoff; ``"full"``: also what its other actions
#: would have earned against the realised round; ``"expected"``: every action's expected payoff
#: against the other's mixed strategy (deterministic dynamics, full-information learners).
FEEDBACK_MODES: tuple[str, ...] = ("bandit", "full", "expected")
_CHEATER = PROVIDER_KINDS.index("cheater")


def _payoff_range(low: float, high: float) -> tuple[float, float]:
    lo, hi = min(0.0, low), max(0.0, high)
    if not hi > lo:
        raise ValueError(f"the game gives a player a payoff range of width 0 ({lo}, {hi}): nothing to learn")
    return lo, hi


@dataclass(frozen=True, eq=False)
class ChallengeLearning:
    """The run of :func:`learn_challenge_game`.

    Attributes
    ----------
    game : ChallengeGame
    equilibrium : ChallengeEquilibrium
        The closed form.
    feedback : str
    provider, challenger : str
        The policies (learner and parameters).
    cheat_probability, challenge_probability : numpy.ndarray, shape (T, repetitions)
        Each round's mixed strategy: the chance the provider cheats, the challenger checks.
    cheated, challenged : numpy.ndarray of bool, shape (T, repetitions)
        What was drawn.
    provider_regret, challenger_regret : Regret
        External regret of each repetition's player (against the realised rounds; against the
        expected payoffs with ``feedback="expected"``).
    provider_bound, challenger_bound : float
        Their learners' regret bounds after ``T`` rounds, in tokens.
    guarantee : str
        What the bounds hold for: ``"always"``, ``"expected"`` or ``"stationary"`` (best
        response: no bound in a game, so no tolerance).
    """

    game: ChallengeGame
    equilibrium: ChallengeEquilibrium
    feedback: str
    provider: str
    challenger: str
    cheat_probability: np.ndarray
    challenge_probability: np.ndarray
    cheated: np.ndarray
    challenged: np.ndarray
    provider_regret: Regret
    challenger_regret: Regret
    provider_bound: float
    challenger_bound: float
    guarantee: str

    @property
    def rounds(self) -> int:
        return int(self.cheat_probability.shape[0])

    @property
    def repetitions(self) -> int:
        return int(self.cheat_probability.shape[1])

    @property
    def cheat_rate(self) -> np.ndarray:
        """Time-averaged cheat rate of each repetition (of the mixed strategies played)."""
        return np.asarray(self.cheat_probability.mean(axis=0))

    @property
    def challenge_rate(self) -> np.ndarray:
        """Time-averaged challenge rate of each repetition (of the mixed strategies played)."""
        return np.asarray(self.challenge_probability.mean(axis=0))

    def tolerances(self) -> tuple[float, float]:
        """The bounds' tolerances on the two time-averaged rates (:func:`tolerances`); ``inf``
        when a learner's bound does not hold in a game (best response)."""
        if self.guarantee == "stationary":
            return math.inf, math.inf
        return tolerances(self.game, self.provider_bound, self.challenger_bound, self.rounds)

    def summary(self) -> pd.DataFrame:
        """Closed form against learned (mean over repetitions), with the error and tolerance."""
        eq = self.equilibrium
        tol_x, tol_c = self.tolerances()
        rows = []
        for quantity, closed, learned, tol in (("cheat rate", eq.fraud_rate, self.cheat_rate, tol_x),
                                               ("challenge rate", eq.challenge_rate, self.challenge_rate, tol_c)):
            mean = float(learned.mean())
            rows.append({"case": eq.kind, "provider": self.provider, "challenger": self.challenger,
                         "feedback": self.feedback, "guarantee": self.guarantee, "rounds": self.rounds,
                         "repetitions": self.repetitions,
                         "quantity": quantity, "closed_form": float(closed), "learned": mean,
                         "error": abs(mean - float(closed)), "worst_error": float(np.abs(learned - closed).max()),
                         "tolerance": tol, "within": abs(mean - float(closed)) <= tol})
        return pd.DataFrame(rows)


def tolerances(game: ChallengeGame, provider_bound: float, challenger_bound: float, rounds: int) -> tuple[float, float]:
    """How far regret bounds let the time-averaged cheat and challenge rates be from the closed form.

    Parameters
    ----------
    game : ChallengeGame
    provider_bound, challenger_bound : float
        The players' regret bounds after ``rounds`` rounds, in tokens.
    rounds : int

    Returns
    -------
    (float, float)
        Tolerances on the cheat rate and on the challenge rate (module docstring), ``inf``
        where the bounds say nothing (the ``"unchecked"`` case).
    """
    t = check_int("rounds", rounds, 1)
    eq = challenge_equilibrium(game)
    r, loss, gain, reward, cost = game.platform_rate, game.provider_loss, game.gain, game.reward, game.check_cost
    if eq.kind == "mixed":
        p, q = eq.challenge_rate, eq.fraud_rate
        a = provider_bound / (t * (1.0 - r) * loss) + challenger_bound / (t * reward)
        return (a / min(p, 1.0 - p) if 0 < p < 1 else math.inf, a / min(q, 1.0 - q) if 0 < q < 1 else math.inf)
    if eq.kind == "deterred" and r * loss > gain:
        tol_x = provider_bound / (t * (r * loss - gain))
        tol_c = (challenger_bound / t + reward * tol_x) / cost if cost > 0 else math.inf
        return tol_x, tol_c
    return math.inf, math.inf


def equilibrium_gap(game: ChallengeGame, cheat_rate: Any, challenge_rate: Any) -> np.ndarray:
    """``phi(x_bar, c_bar)`` of the module docstring (mixed case): 0 exactly at the closed form.

    With realised actions and ``r = 0`` it equals ``reg_P / (T Delta) + reg_C / (T R)`` run by run.
    """
    eq = challenge_equilibrium(game)
    if eq.kind != "mixed":
        raise ValueError(f"the gap is defined in the mixed case; this game is {eq.kind!r}")
    p, q = eq.challenge_rate, eq.fraud_rate
    dx = np.asarray(cheat_rate, dtype=np.float64) - q
    dc = np.asarray(challenge_rate, dtype=np.float64) - p
    return np.asarray(np.maximum(0.0, -dc) + np.maximum(0.0, dx) - p * dx + q * dc)


def learn_challenge_game(game: ChallengeGame, **options: Any) -> ChallengeLearning:
    """Play the challenge game ``rounds`` times between a learning provider and challenger:
    :func:`learn_challenge_games` with one game (``options`` are its keywords).

    Examples
    --------
    >>> run = learn_challenge_game(known_answer_game(0.0), provider="hedge", challenger="hedge",
    ...                            feedback="expected", rounds=2000)
    >>> bool(abs(run.cheat_rate[0] - 0.6) <= run.tolerances()[0])
    True
    """
    if not isinstance(game, ChallengeGame):
        raise TypeError(f"game must be a ChallengeGame, got {type(game).__name__}")
    return learn_challenge_games([game], **options)[0]


def learn_challenge_games(
    games: Sequence[ChallengeGame],
    *,
    provider: str = "exp3",
    challenger: str = "exp3",
    rounds: int = 10_000,
    repetitions: int = 1,
    feedback: str = "bandit",
    cheat_rates: tuple[float, ...] = (0.0, 1.0),
    challenge_rates: tuple[float, ...] = (0.0, 1.0),
    provider_options: dict[str, Any] | None = None,
    challenger_options: dict[str, Any] | None = None,
    seed: int = 0,
) -> list[ChallengeLearning]:
    """Play each challenge game ``rounds`` times between learning providers and challengers.

    ``repetitions`` independent pairs per game, all in one population (one loop over the
    rounds). Each player's payoff range, hence its regret bound, covers every game's payoffs.

    Parameters
    ----------
    games : sequence of ChallengeGame
    provider, challenger : str
        Learners of :data:`~oasis_lab.agents.learners.LEARNERS`.
    rounds : int
        ``T``.
    repetitions : int
        Independent pairs per game.
    feedback : {"bandit", "full", "expected"}
        :data:`FEEDBACK_MODES`; bandit learners get their own realised payoff in every mode.
    cheat_rates, challenge_rates : tuple of float
        The players' action grids (rates in ``[0, 1]``); the tolerances need 0 and 1 in each.
    provider_options, challenger_options : dict, optional
        Learner parameters (e.g. ``{"gamma": 0.05}``).
    seed : int
        Root seed: the policies' streams and the game's draws
        (``stream(seed, "challenges", "learning")``).

    Returns
    -------
    list of ChallengeLearning
        One per game.
    """
    if isinstance(games, ChallengeGame) or not isinstance(games, Sequence) or not games:
        raise TypeError(f"games must be a non-empty sequence of ChallengeGame, got {games!r}")
    for i, game in enumerate(games):
        if not isinstance(game, ChallengeGame):
            raise TypeError(f"games[{i}] must be a ChallengeGame, got {type(game).__name__}")
    t_max = check_int("rounds", rounds, 1, 10**7)
    reps = check_int("repetitions", repetitions, 1, 10**5)
    feedback = check_choice("feedback", feedback, FEEDBACK_MODES)
    seed = check_seed(seed)
    learner_feedback = "bandit" if feedback == "bandit" else "full"
    n = len(games) * reps

    def per_agent(value: Any) -> np.ndarray:
        return np.repeat(np.array([float(value(gm)) for gm in games]), reps)

    g, loss, r = per_agent(lambda gm: gm.gain), per_agent(lambda gm: gm.provider_loss), \
        per_agent(lambda gm: gm.platform_rate)
    cost, reward = per_agent(lambda gm: gm.check_cost), per_agent(lambda gm: gm.reward)

    def policy(role: str, name: str, grid: dict[str, Any], rng: tuple[float, float], opts: Any) -> Learning:
        k = len(next(iter(grid.values())))
        options = dict(opts or {})
        if name not in LEARNERS:
            raise ValueError(f"{role} learner = {name!r} must be one of {sorted(LEARNERS)}")
        accepts = LEARNERS[name].accepts
        if learner_feedback not in accepts and "bandit" not in accepts:
            raise ValueError(f"{role} = {name!r} needs full-information feedback: use feedback='full' or 'expected'")
        # a bandit learner takes its own payoff in every mode
        options.setdefault("feedback", learner_feedback if learner_feedback in accepts else "bandit")
        learner = make_learner(name, k, t_max, n_agents=n, **options)
        return Learning(role, learner, grid, payoff_range=rng, seed=seed)

    prov = policy("provider", provider, action_grid("provider", cheat_rate=list(cheat_rates)),
                  _payoff_range(float((g - loss).min()), float(g.max())), provider_options)
    chal = policy("challenger", challenger, action_grid("challenger", challenge_rate=list(challenge_rates)),
                  _payoff_range(float(-cost.max()), float((reward - cost).max())), challenger_options)
    rho = prov.grid["cheat_rate"]
    sigma = chal.grid["challenge_rate"]
    agents = np.arange(n)
    p_obs = dict(cost=g, kind=np.full(n, _CHEATER), stake=per_agent(lambda gm: gm.slashed))
    c_obs = dict(payment=per_agent(lambda gm: gm.payment), check_cost=cost)
    rng = stream(seed, "challenges", "learning")
    shape = (t_max, n)
    x_mix, c_mix = np.empty(shape), np.empty(shape)
    cheated, challenged = np.empty(shape, dtype=bool), np.empty(shape, dtype=bool)
    u_prov, u_chal = np.empty((t_max, n, rho.size)), np.empty((t_max, n, sigma.size))
    got_prov, got_chal = np.empty(shape), np.empty(shape)
    full = feedback != "bandit"
    # the rounds are sequential (each learns from the last); the games and repetitions are one array
    for t in range(t_max):
        a_p = cast(ProviderAction, prov.act(ProviderObservation(t, agents, **p_obs)))
        a_c = cast(ChallengerAction, chal.act(ChallengerObservation(t, agents, **c_obs)))
        pp, pc = prov.probabilities(), chal.probabilities()
        x_mix[t], c_mix[t] = pp @ rho, pc @ sigma
        u = rng.random((n, 3))
        x = u[:, 0] < a_p.cheat_rate
        c = u[:, 1] < a_c.challenge_rate
        cheated[t], challenged[t] = x, c
        if feedback == "expected":
            # every action's expected payoff against the other's mixed strategy
            vp = rho[None, :] * (g - loss * (r + (1.0 - r) * c_mix[t]))[:, None]
            vc = sigma[None, :] * (x_mix[t] * reward - cost)[:, None]
            payoff_p, payoff_c = vp[agents, prov.chosen()], vc[agents, chal.chosen()]
            got_prov[t], got_chal[t] = (pp * vp).sum(axis=1), (pc * vc).sum(axis=1)
        else:
            caught = (c | (u[:, 2] < r)).astype(np.float64)
            vp = rho[None, :] * (g - loss * caught)[:, None]
            vc = sigma[None, :] * (x * reward - cost)[:, None]
            payoff_p = np.where(x, g - loss * caught, 0.0)
            payoff_c = np.where(c, x * reward - cost, 0.0)
            got_prov[t], got_chal[t] = payoff_p, payoff_c
        u_prov[t], u_chal[t] = vp, vc
        prov.learn(ProviderOutcome(t, agents, payoff_p, payoffs=vp if full else None))
        chal.learn(ChallengerOutcome(t, agents, payoff_c, payoffs=vc if full else None))
    regret_p = external_regret(u_prov, earned=got_prov)
    regret_c = external_regret(u_chal, earned=got_chal)
    runs = []
    for i, game in enumerate(games):
        cols = slice(i * reps, (i + 1) * reps)
        runs.append(ChallengeLearning(
            game=game, equilibrium=challenge_equilibrium(game), feedback=feedback,
            provider=prov.learner.describe(), challenger=chal.learner.describe(),
            cheat_probability=x_mix[:, cols], challenge_probability=c_mix[:, cols],
            cheated=cheated[:, cols], challenged=challenged[:, cols],
            provider_regret=_slice(regret_p, cols), challenger_regret=_slice(regret_c, cols),
            provider_bound=prov.regret_bound(t_max), challenger_bound=chal.regret_bound(t_max),
            guarantee=_weakest(prov.learner.guarantee, chal.learner.guarantee),
        ))
    return runs


def _slice(regret: Regret, cols: slice) -> Regret:
    return Regret(regret=regret.regret[cols], best_action=regret.best_action[cols],
                  best_total=regret.best_total[cols], earned=regret.earned[cols], rounds=regret.rounds[cols])


def _weakest(*guarantees: str) -> str:
    order = ("always", "expected", "stationary")
    return max(guarantees, key=order.index)


#: The game of the known-answer table: P = 50, G = 40, K = 15, S = 50, f = 1, rho = 0.5, so
#: ``pi* = G / (P + f S) = 0.4`` and ``q* = K / R = 15 / 25 = 0.6`` (both away from 0 and 1,
#: so that the bounds' tolerances are informative).
KNOWN_ANSWER_GAME = dict(payment=50.0, gain=40.0, recompute_cost=15.0,
                         dispute=dict(provider_stake=50, slash_fraction=1.0, challenger_reward_fraction=0.5))


def known_answer_game(platform_rate: float = 0.0, game: Mapping[str, Any] | None = None) -> ChallengeGame:
    """:data:`KNOWN_ANSWER_GAME` (or ``game``, a table of the same keys: ``payment``, ``gain``,
    ``recompute_cost`` and ``dispute``, a table of :class:`~oasis_lab.disputes.params.DisputeParams`
    fields) with the platform's rate ``r``."""
    from oasis_lab.disputes.params import DisputeParams

    spec = dict(KNOWN_ANSWER_GAME if game is None else game)
    unknown = sorted(set(spec) - set(KNOWN_ANSWER_GAME))
    if unknown:
        raise ValueError(f"game: key {unknown[0]!r} is unknown; the keys are {sorted(KNOWN_ANSWER_GAME)}")
    dispute = spec.pop("dispute", {})
    if not isinstance(dispute, Mapping):
        raise TypeError(f"game['dispute'] must be a table of DisputeParams fields, got {dispute!r}")
    return ChallengeGame(dispute=DisputeParams(**dispute), platform_rate=platform_rate, **spec)


#: The learner pairs of the known-answer table: (provider, challenger, feedback).
KNOWN_ANSWER_RUNS: tuple[tuple[str, str, str], ...] = (
    ("hedge", "hedge", "expected"),
    ("regret_matching", "regret_matching", "expected"),
    ("exp3", "exp3", "bandit"),
    ("regret_matching", "regret_matching", "bandit"),
)


def known_answer_runs(rounds: int = 20_000, repetitions: int = 20, seed: int = 0,
                      platform_rates: tuple[float, ...] = (0.0, 0.2, 0.6),
                      game: Mapping[str, Any] | None = None) -> list[ChallengeLearning]:
    """The runs of :func:`known_answers`: every learner pair of :data:`KNOWN_ANSWER_RUNS` (the
    ``i``-th with seed ``seed + i``) on :func:`known_answer_game` at each platform rate, in that
    order (pair by pair, rate by rate)."""
    out: list[ChallengeLearning] = []
    games = [known_answer_game(r, game) for r in platform_rates]
    # a bar seen only on the report's console (oasis_lab.progress); silent elsewhere
    pairs = progress_bar(KNOWN_ANSWER_RUNS, desc="challenge game learners", unit="pair", disable=True)
    for i, (p, c, fb) in enumerate(pairs):
        # every platform rate in one population (same payoff ranges, hence the same bounds)
        out += learn_challenge_games(games, provider=p, challenger=c, rounds=rounds, repetitions=repetitions,
                                     feedback=fb, seed=seed + i)
    return out


def known_answer_table(runs: Sequence[ChallengeLearning]) -> pd.DataFrame:
    """Closed form against learned rates of each run (:meth:`ChallengeLearning.summary`), by
    platform rate: the table of :func:`known_answers`."""
    cols = ["platform_rate", "case", "provider", "feedback", "quantity", "closed_form", "learned", "error",
            "worst_error", "tolerance", "within"]
    table = pd.concat([run.summary().assign(platform_rate=run.game.platform_rate) for run in runs],
                      ignore_index=True)[cols]
    return table.sort_values("platform_rate", kind="stable").reset_index(drop=True)


def known_answers(rounds: int = 20_000, repetitions: int = 20, seed: int = 0,
                  platform_rates: tuple[float, ...] = (0.0, 0.2, 0.6),
                  game: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Learned against closed-form rates of the challenge game, for every run of
    :data:`KNOWN_ANSWER_RUNS` and platform rate (0 and 0.2: mixed; 0.6 > pi* = 0.4: deterred)
    of :data:`KNOWN_ANSWER_GAME` (or ``game``): :func:`known_answer_table` of
    :func:`known_answer_runs`.

    The table of ``docs/mechanism.md`` ("Agents that respond") is ``render_table`` of this.
    """
    return known_answer_table(known_answer_runs(rounds, repetitions, seed, platform_rates, game))


def render_table(frame: pd.DataFrame, digits: int = 4, floor: dict[str, float] | None = None) -> str:
    """A markdown table of ``frame``: floats to ``digits`` significant digits; in a column of
    ``floor``, magnitudes below its floor (errors at rounding level, whose digits vary with the
    machine's floating point) as ``< floor``."""
    floors: dict[str, float] = dict(floor or {})

    def cell(column: str, v: Any) -> str:
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "no"
        if isinstance(v, (float, np.floating)):
            if column in floors and abs(float(v)) < floors[column]:
                return f"< {floors[column]:g}"
            return f"{v:.{digits}g}"
        return str(v)

    columns = [str(c) for c in frame.columns]
    head = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(cell(c, v) for c, v in zip(columns, row, strict=True)) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body])
