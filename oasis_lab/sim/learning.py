"""What learning agents did in the market over time: regret, certificates, learning curves, and
the known answer (issue 19; whitepaper sections 4 and 5).

- :func:`regret_report`: every learning agent's external regret, the best fixed action of its
  grid in hindsight against what it earned, with its learner's regret bound.
- :func:`final_profile` and :func:`certify_profile`: the agents' final mixed strategies as one
  continuous action each, and an epsilon-Nash certificate of that profile by re-simulating
  with one agent's action changed (:func:`oasis_lab.agents.certificate.certify`).
- :func:`curve_summary` and :func:`phase_table`: per-round columns of several seeds (the
  experiment ``learning_curves`` of :mod:`oasis_lab.experiments.learning`) summarised with their
  spread, per round or per phase of rounds.

The studies (the known answer inside :func:`~oasis_lab.sim.simulate`, learning curves over
seeds, the verifier's dilemma) are experiments: :mod:`oasis_lab.experiments.learning`.

**Counterfactual payoffs (what the regret needs).** An agent sees only its own payoff, so what
another action of its grid would have earned in a past round is not observed. The report
estimates it honestly by importance weighting (the estimate Exp3 itself uses):
``u_hat_t(k) = x_t 1[a_t = k] / p_t(a_t)``, with ``x_t`` the payoff earned and ``p_t`` the
probability the agent's mixed strategy gave the action it drew. For every fixed action ``k``,
``sum_t u_hat_t(k)`` is an unbiased estimate of what ``k`` would have earned against the same
rounds (the others' actions and the draws fixed), whatever the others did; ``sum_t u_hat_t(k)^2``
bounds its variance from above, and ``regret_se`` is its square root at the best action. The
estimated regret is ``max_k sum_t u_hat_t(k) - sum_t x_t``; it is not a replay of the engine
(a replay would re-run the auction, the court and the books for every action and round).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.agents.certificate import Certificate, certify
from oasis_lab.agents.learners import make_learner
from oasis_lab.agents.policies import Policy, Profile
from oasis_lab.checks import check_int, check_real
from oasis_lab.seeding import check_seed
from oasis_lab.sim.engine import simulate
from oasis_lab.sim.result import SimulationResult

__all__ = [
    "MAIN_FIELD",
    "certify_profile",
    "curve_summary",
    "final_profile",
    "phase_table",
    "regret_bounds",
    "regret_report",
]

#: The continuous action of each role a certificate searches (providers: the cheat rate of
#: those that may cheat, the markup of the others).
MAIN_FIELD: dict[str, str] = {"user": "shade", "provider": "cheat_rate", "challenger": "challenge_rate"}


def _decisions(result: SimulationResult) -> pd.DataFrame:
    if not isinstance(result, SimulationResult):
        raise TypeError(f"result must be a SimulationResult, got {type(result).__name__}")
    if result.agents is None or result.policies is None:
        raise ValueError("result has no learning agents (every role of its config is scripted)")
    return result.agents


def _key(frame: pd.DataFrame) -> np.ndarray:
    """Each decision's agent: the challenger (over its copies) for challengers, else ``agent``."""
    agent = frame["agent"].to_numpy(np.int64)
    if "challenger" in frame:
        ch = frame["challenger"].to_numpy()
        is_ch = (frame["role"] == "challenger").to_numpy()
        agent = np.where(is_ch, np.nan_to_num(ch.astype(float), nan=-1).astype(np.int64), agent)
    return agent


def regret_bounds(result: SimulationResult, role: str, policy: str, rounds: Any) -> np.ndarray:
    """The regret bound in tokens of each learner of population ``(role, policy)`` after
    ``rounds`` rounds (an array): its learner's bound on ``[0, 1]`` payoffs times the payoff
    range's width (:meth:`oasis_lab.agents.policies.Learning.regret_bound`)."""
    pol = result.policies
    if pol is None:
        raise ValueError("result has no learning agents")
    row = pol[(pol["role"] == role) & (pol["policy"] == policy)]
    if row.empty:
        raise ValueError(f"result has no population {policy!r} of role {role!r}")
    r = row.iloc[0]
    spec = getattr(result.config.policies, role)
    learner = make_learner(spec.learner, int(r["actions"]), int(r["horizon"]), **spec.learner_options())
    width = float(r["payoff_hi"]) - float(r["payoff_lo"])
    t = np.asarray(rounds, dtype=np.int64).reshape(-1)
    return np.array([learner.regret_bound(int(x)) for x in t]) * width


def _labels(grid_json: str) -> list[str]:
    grid = json.loads(grid_json)
    k = len(next(iter(grid.values()))) if grid else 0
    varying = [f for f, v in grid.items() if len(set(map(str, v))) > 1]
    return [", ".join(f"{f}={grid[f][i]:g}" if isinstance(grid[f][i], float) else f"{f}={grid[f][i]}"
                      for f in varying) for i in range(k)]


def regret_report(result: SimulationResult, *, z: float = 2.0) -> pd.DataFrame:
    """Every learning agent's external regret over the rounds it decided in.

    Parameters
    ----------
    result : SimulationResult
        A run with learning agents (``config.policies``).
    z : float, default 2
        ``consistent`` holds when ``regret - z * regret_se <= bound``.

    Returns
    -------
    pandas.DataFrame
        One row per agent (a challenger's copies together): ``role``, ``policy``, ``agent``,
        ``rounds``, ``earned`` (tokens), ``best_action`` (grid index) and ``best_label``,
        ``best_estimate`` (what it would have earned, estimated), ``regret`` (estimated),
        ``regret_se``, ``average_regret`` (per round), ``bound`` (its learner's regret bound in
        tokens for those rounds; a challenger's is the sum over its copies), ``average_bound``,
        ``guarantee`` (what the bound holds for: ``"expected"`` for the bandit learners, over
        their own draws; ``"stationary"`` for best response, which has no bound in a game),
        ``consistent`` and ``method`` (how the counterfactuals were obtained: see the module
        notes).

    Examples
    --------
    >>> from oasis_lab.sim import SimConfig, simulate
    >>> cfg = SimConfig.from_dict({"rounds": 5, "tasks_per_round": 40, "n_providers": 8,
    ...                            "policies": {"challenger": {"policy": "learning"}}})
    >>> rep = regret_report(simulate(cfg, 0))
    >>> rep[["role", "rounds"]].values.tolist()
    [['challenger', 4]]
    """
    d = _decisions(result)
    z = check_real("z", z, minimum=0.0)
    d = d[d["action"] >= 0]
    if d.empty:
        raise ValueError("result has no learned decisions (a fixed profile learns nothing)")
    pol = result.policies
    assert pol is not None
    rows = []
    for (role, name), g in d.groupby(["role", "policy"], sort=False):
        prow = pol[(pol["role"] == role) & (pol["policy"] == name)].iloc[0]
        k = int(prow["actions"])
        labels = _labels(str(prow["grid"]))
        key = _key(g)
        agents, gi = np.unique(key, return_inverse=True)
        x = g["payoff"].to_numpy(np.float64)
        a = g["action"].to_numpy(np.int64)
        w = x / g["probability"].to_numpy(np.float64)
        est = np.zeros((agents.size, k))
        var = np.zeros((agents.size, k))
        np.add.at(est, (gi, a), w)
        np.add.at(var, (gi, a), w * w)
        earned = np.bincount(gi, weights=x, minlength=agents.size)
        count = np.bincount(gi, minlength=agents.size)
        best = est.argmax(axis=1)
        rr = np.arange(agents.size)
        # a challenger is several learners (copies), each bounded over the rounds it played
        copies = g["agent"].to_numpy(np.int64)
        bound = np.zeros(agents.size)
        for c in np.unique(copies):
            mine = copies == c
            per = np.bincount(gi[mine], minlength=agents.size)
            played = per > 0
            bound[played] += regret_bounds(result, role, name, per[played])
        regret = est[rr, best] - earned
        se = np.sqrt(var[rr, best])
        spec = getattr(result.config.policies, role)
        guarantee = make_learner(spec.learner, k, 1, **spec.learner_options()).guarantee
        rows.append(pd.DataFrame({
            "role": role, "policy": name, "agent": agents, "rounds": count, "earned": earned,
            "best_action": best, "best_label": [labels[i] for i in best], "best_estimate": est[rr, best],
            "regret": regret, "regret_se": se, "average_regret": regret / count, "bound": bound,
            "average_bound": bound / count, "guarantee": guarantee, "consistent": regret - z * se <= bound,
            "method": "importance-weighted estimate",
        }))
    return pd.concat(rows, ignore_index=True)


# ------------------------------------------------------------------------------ profiles
def final_profile(result: SimulationResult) -> dict[str, pd.DataFrame]:
    """Each learning agent's last mixed strategy as one action (the mean of each action field
    under it; a provider's adversary: the one it last played; a referee: takes the bribe when
    its last mixed strategy did more often than not), by role: one row per agent
    (a challenger's copies averaged)."""
    d = _decisions(result)
    d = d[d["action"] >= 0]
    out: dict[str, pd.DataFrame] = {}
    for role, g in d.groupby("role", sort=False):
        g = g.assign(_key=_key(g))
        last = g.sort_values("round", kind="stable").groupby(["policy", "agent"], sort=True).tail(1)
        fields = [c[len("mixed_"):] for c in g.columns if c.startswith("mixed_") and g[c].notna().any()]
        cols: dict[str, Any] = {}
        for f in fields:
            if f == "adversary":
                cols[f] = ("adversary", "last")
            elif f == "take_bribe":
                cols[f] = ("mixed_take_bribe", lambda s: bool(s.mean() > 0.5))
            else:
                cols[f] = (f"mixed_{f}", "mean")
        prof = last.groupby(["policy", "_key"], sort=True).agg(**cols).reset_index().rename(columns={"_key": "agent"})
        out[str(role)] = prof
    return out


def _profile_policies(result: SimulationResult, profile: Mapping[str, pd.DataFrame],
                      change: tuple[str, int, str, float] | None = None) -> dict[str, Policy]:
    """Profile policies of every learning role, agent ``change = (role, agent, field, x)`` moved."""
    c = result.config
    pols: dict[str, Policy] = {}
    for role, prof in profile.items():
        agent = prof["agent"].to_numpy(np.int64)
        if role == "challenger":
            copies = c.dispute_delay + 1
            n = c.policies.challenger.n_challengers * copies
            rate = np.zeros(n)
            for i, v in zip(agent, prof["challenge_rate"].to_numpy(), strict=True):
                rate[i * copies:(i + 1) * copies] = v
            if change is not None and change[0] == role:
                rate[change[1] * copies:(change[1] + 1) * copies] = change[3]
            pols[role] = Profile(role, {"challenge_rate": rate})
            continue
        n = int(agent.max()) + 1 if agent.size else 1
        if role == "provider":
            n = max(n, c.n_providers + len(c.extra_providers))
        elif role == "user":
            n = max(n, c.policies.user.n_users)
        actions: dict[str, np.ndarray] = {}
        for f in prof.columns:
            if f in ("policy", "agent"):
                continue
            col = prof[f].to_numpy()
            dtype = bool if f == "take_bribe" else (np.int64 if f == "adversary" else np.float64)
            arr = np.zeros(n, dtype=dtype)
            if f == "adversary":
                from oasis_lab.agents.policies import ACTION_FIELDS
                arr[:] = ACTION_FIELDS["provider"]["adversary"]
            arr[agent] = col.astype(dtype)
            actions[f] = arr
        if change is not None and change[0] == role:
            actions[change[2]][change[1]] = change[3]
        pols[role] = Profile(role, actions, truthful_beyond=True)
    return pols


def _field_of(role: str, policy: str) -> str:
    if role == "provider" and policy == "honest":
        return "markup"
    if role not in MAIN_FIELD:
        raise ValueError(f"a {role}'s decision is binary: it has no continuous action to certify")
    return MAIN_FIELD[role]


def certify_profile(
    result: SimulationResult,
    *,
    epsilon: float,
    rounds: int | None = None,
    agents: Sequence[tuple[str, int]] | None = None,
    per_role: int = 2,
    seeds: Sequence[int] | None = None,
    scan: int = 11,
    refine: int = 1,
    xtol: float = 1e-3,
) -> Certificate:
    """An epsilon-Nash certificate of the run's final profile (:func:`final_profile`).

    Every learning agent plays its final action, fixed (a
    :class:`~oasis_lab.agents.policies.Profile`); each certified agent's payoff over the first
    ``rounds`` rounds, re-simulated from ``seeds`` (common random numbers: the same draws for
    every deviation), is searched over its whole action interval with the others fixed
    (:func:`oasis_lab.agents.certificate.certify`: ``scan`` points, then bounded Brent on the
    ``refine`` best, to ``xtol``). Each evaluation is one simulation per seed, so this keeps to a
    short horizon and a few agents.

    Parameters
    ----------
    result : SimulationResult
        A learning run.
    epsilon : float
        The stated tolerance, tokens over the ``rounds`` rounds (the mean over seeds).
    rounds : int, optional
        Rounds of each re-simulation (default 20, or the run's length if shorter).
    agents : sequence of (role, agent), optional
        Agents to certify (default: the ``per_role`` agents of each role with the most
        decisions; referees, whose decision is binary, are not searched).
    seeds : sequence of int, optional
        Default: the run's own seed.
    scan, refine, xtol
        As :func:`~oasis_lab.agents.certificate.best_deviation`.

    Returns
    -------
    Certificate
        Its table names each agent ``"<role>:<agent>"``; a role's action interval is ``[0, 1]``
        (cheat and challenge rates), ``[0, 0.95]`` (shade) or ``[0, max(1, 2 max markup)]``.
    """
    d = _decisions(result)
    eps = check_real("epsilon", epsilon, minimum=0.0)
    rounds = min(20, result.config.rounds) if rounds is None else check_int("rounds", rounds, 1, result.config.rounds)
    per_role = check_int("per_role", per_role, 1)
    run_seeds = [result.seed] if seeds is None else [check_seed(s) for s in seeds]
    if not run_seeds:
        raise ValueError("seeds is empty")
    profile = final_profile(result)
    learned = d[d["action"] >= 0].assign(_key=_key(d[d["action"] >= 0]))
    if agents is None:
        chosen: list[tuple[str, int, str]] = []
        for role in profile:
            if role not in MAIN_FIELD:
                continue
            counts = learned[learned["role"] == role].groupby(["policy", "_key"]).size()
            counts = counts.sort_values(ascending=False, kind="stable")
            chosen += [(role, int(k), str(pname)) for (pname, k) in counts.index[:per_role]]
    else:
        chosen = []
        for role, k in agents:
            prof = profile.get(role)
            if prof is None or not (prof["agent"] == k).any():
                raise ValueError(f"agent ({role!r}, {k}) has no learned decision in the run")
            chosen.append((role, int(k), str(prof.loc[prof["agent"] == k, "policy"].iloc[0])))
    if not chosen:
        raise ValueError("no agent to certify")
    config = result.config.replace(rounds=rounds)
    current, bounds, labels = [], [], []
    for role, k, pname in chosen:
        field = _field_of(role, pname)
        prof = profile[role]
        current.append(float(prof.loc[prof["agent"] == k, field].iloc[0]))
        if field == "shade":
            bounds.append((0.0, 0.95))
        elif field == "markup":
            bounds.append((0.0, max(1.0, 2.0 * max(config.policies.provider.markups))))
        else:
            bounds.append((0.0, 1.0))
        labels.append(f"{role}:{k}")

    def utility(i: int, x: float) -> float:
        role, k, pname = chosen[i]
        total = 0.0
        for s in run_seeds:
            pols = _profile_policies(result, profile, (role, k, _field_of(role, pname), float(x)))
            res = simulate(config, s, policies=pols)
            a = res.agents
            assert a is not None
            mine = (a["role"] == role).to_numpy() & (_key(a) == k)
            total += float(a.loc[mine, "payoff"].sum())
        return total / len(run_seeds)

    for i, (lo, hi) in enumerate(bounds):
        current[i] = min(max(current[i], lo), hi)
    return certify(utility, current, bounds, epsilon=eps, agents=labels, scan=scan, refine=refine, xtol=xtol)


# ------------------------------------------------------------------------ learning curves
def curve_summary(curves: pd.DataFrame, column: str, *, window: int = 1) -> pd.DataFrame:
    """Per round: ``mean``, ``sd``, ``min``, ``max`` over the seeds of ``column`` of learning
    curves (a frame with ``seed``, ``round`` and the column), each seed's series first averaged
    over a trailing ``window`` of rounds (NaN rounds skipped)."""
    if column not in curves:
        raise ValueError(f"column {column!r} is not in the curves (they have {list(curves.columns)})")
    window = check_int("window", window, 1)
    wide = curves.pivot(index="round", columns="seed", values=column).astype(float)
    smooth = wide.rolling(window, min_periods=1).mean()
    return pd.DataFrame({"mean": smooth.mean(axis=1), "sd": smooth.std(axis=1, ddof=1), "min": smooth.min(axis=1),
                         "max": smooth.max(axis=1), "seeds": smooth.notna().sum(axis=1)})


def phase_table(curves: pd.DataFrame, columns: Sequence[str], phases: Sequence[int]) -> pd.DataFrame:
    """Each column of learning curves (``seed``, ``round`` and the columns) averaged over each
    phase of rounds (``phases``: the first round of each phase, then the end), then over the
    seeds: ``mean`` and ``sd`` (over seeds) per phase.

    Examples
    --------
    >>> curves = pd.DataFrame({"seed": [0, 0, 1, 1], "round": [0, 1, 0, 1], "x": [1.0, 3.0, 2.0, 4.0]})
    >>> phase_table(curves, ["x"], [0, 1, 2])[["rounds", "x_mean", "x_sd"]].values.tolist()
    [['0-0', 1.5, 0.7071067811865476], ['1-1', 3.5, 0.7071067811865476]]
    """
    edges = [check_int(f"phases[{i}]", p, 0) for i, p in enumerate(phases)]
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise ValueError(f"phases = {list(phases)!r} must be at least two increasing round numbers")
    missing = [c for c in columns if c not in curves]
    if missing:
        raise ValueError(f"columns {missing} are not in the curves")
    rows = []
    for a, b in zip(edges, edges[1:], strict=False):
        part = curves[(curves["round"] >= a) & (curves["round"] < b)]
        per_seed = part.groupby("seed")[list(columns)].mean()
        row: dict[str, Any] = {"rounds": f"{a}-{b - 1}"}
        for c in columns:
            row[f"{c}_mean"] = float(per_seed[c].mean())
            row[f"{c}_sd"] = float(per_seed[c].std(ddof=1)) if len(per_seed) > 1 else np.nan
        rows.append(row)
    return pd.DataFrame(rows)
