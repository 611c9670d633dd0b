"""Challenge economics: deterrence, dispute cost, and a Monte Carlo of challenged tasks.

Whitepaper section 5 rests security on "crypto-economic security": users challenge, the
platform "will also randomly initiate challenges", and a convicted provider is slashed,
removed and its payment reversed. For a provider that can save ``G`` tokens by cheating on a
task (the compute it skips), with stake at risk ``S`` (slashed share of its stake), payment
``P`` reversed on conviction and challenge probability ``p``:

* ``p = 1 - (1 - p_user) (1 - p_platform)`` (independent user and platform challenges);
* expected gain of cheating over honesty per task: ``G - p (S + P)`` (conviction is certain
  once challenged in exact mode, the tests prove it), so cheating is deterred iff
  ``p (S + P) >= G`` (``payment = 0`` gives the paper-style ``p S >= G``);
* minimum challenge probability ``p* = G / (S + P)``; minimum stake ``(G / p - P) / f`` for
  slash fraction ``f``.

The cost of one dispute is a pure function of the graph, the arity and the first divergent
node ``k`` (:func:`dispute_costs`, vectorised over every ``k``, and checked against the played
game in the tests). :func:`simulate_challenges` plays real disputes on synthetic traces for
the challenged tasks of a seeded population with cheaters, honest providers on other devices
and lying challengers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.checks import check_int
from oasis_lab.disputes.adversaries import (
    Honest,
    LyingChallenger,
    OtherDevice,
    PerturbNode,
    Strategy,
)
from oasis_lab.disputes.bisection import max_rounds, run_disputes
from oasis_lab.disputes.graph import DisputeGraph, synthetic_graph
from oasis_lab.disputes.params import DisputeParams
from oasis_lab.disputes.trace import SyntheticComputation
from oasis_lab.seeding import check_seed, child_seed, stream

__all__ = [
    "DeterrenceSurface",
    "DisputeCosts",
    "MonteCarloResult",
    "challenge_probability",
    "cheating_gain",
    "cheating_pays",
    "cost_table",
    "deterrence_surface",
    "dispute_costs",
    "min_challenge_probability",
    "min_stake",
    "simulate_challenges",
]


def _prob(name: str, x: Any) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if np.any(~np.isfinite(a)) or np.any((a < 0) | (a > 1)):
        raise ValueError(f"{name} = {x!r} must be probabilities in [0, 1]")
    return a


def _nonneg(name: str, x: Any) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if np.any(~np.isfinite(a)) or np.any(a < 0):
        raise ValueError(f"{name} = {x!r} must be finite and >= 0")
    return a


def challenge_probability(p_user: Any, p_platform: Any) -> np.ndarray:
    """``1 - (1 - p_user)(1 - p_platform)``: a task is challenged by its user or at random."""
    return 1.0 - (1.0 - _prob("p_user", p_user)) * (1.0 - _prob("p_platform", p_platform))


def cheating_gain(p: Any, slash: Any, gain: Any, payment: Any = 0.0) -> np.ndarray:
    """Expected gain of cheating over honesty per task, ``G - p (S + P)`` (broadcasts)."""
    return _nonneg("gain", gain) - _prob("p", p) * (_nonneg("slash", slash) + _nonneg("payment", payment))


def cheating_pays(p: Any, slash: Any, gain: Any, payment: Any = 0.0) -> np.ndarray:
    """Whether cheating pays: ``p (S + P) < G`` (section 5 deterrence; broadcasts)."""
    return cheating_gain(p, slash, gain, payment) > 0


def min_challenge_probability(slash: Any, gain: Any, payment: Any = 0.0) -> np.ndarray:
    """Smallest ``p`` that deters: ``G / (S + P)``; above 1 means no challenge rate deters."""
    s = _nonneg("slash", slash) + _nonneg("payment", payment)
    g = _nonneg("gain", gain)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s > 0, g / np.where(s > 0, s, 1.0), np.where(g > 0, np.inf, 0.0))


def min_stake(p: Any, gain: Any, payment: Any = 0.0, slash_fraction: float = 1.0) -> np.ndarray:
    """Smallest stake that deters at challenge probability ``p``: ``max(0, G / p - P) / f``."""
    p = _prob("p", p)
    f = float(slash_fraction)
    if not 0 < f <= 1:
        raise ValueError(f"slash_fraction = {slash_fraction!r} must be in (0, 1]")
    g, pay = _nonneg("gain", gain), _nonneg("payment", payment)
    with np.errstate(divide="ignore"):
        need = np.where(p > 0, g / np.where(p > 0, p, 1.0) - pay, np.where(g > 0, np.inf, 0.0))
    return np.maximum(need, 0.0) / f


@dataclass(frozen=True)
class DeterrenceSurface:
    """Expected gain of cheating over a grid of challenge probability and stake.

    Attributes
    ----------
    p : ndarray, shape (n_p,)
    stake : ndarray, shape (n_s,)
    gain, payment, slash_fraction : float
    margin : ndarray, shape (n_p, n_s)
        ``G - p (f stake + P)``: positive where cheating pays.
    """

    p: np.ndarray
    stake: np.ndarray
    gain: float
    payment: float
    slash_fraction: float
    margin: np.ndarray

    @property
    def deterred(self) -> np.ndarray:
        """Where cheating does not pay."""
        return self.margin <= 0

    def to_frame(self) -> pd.DataFrame:
        """Long format: one row per (p, stake)."""
        P, S = np.meshgrid(self.p, self.stake, indexing="ij")
        return pd.DataFrame(
            {
                "p": P.ravel(),
                "stake": S.ravel(),
                "cheating_gain": self.margin.ravel(),
                "deterred": self.deterred.ravel(),
            }
        )

    def plot(self, ax: Any = None, other_slash_fractions: Sequence[float] = ()) -> Any:
        """Heat map of the expected gain of cheating with the ``p (f S + P) = G`` frontier.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        other_slash_fractions : sequence of float
            Slash fractions whose frontiers are drawn dashed beside this surface's own, so one
            map shows how the deterred region moves with ``f`` (whitepaper section 5).
        """
        import matplotlib.pyplot as plt
        from matplotlib.colors import TwoSlopeNorm

        others = [float(f) for f in other_slash_fractions]
        for f in others:
            if not 0 < f <= 1:
                raise ValueError(f"other_slash_fractions holds {f!r}; each must be in (0, 1]")
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4.6))
        # separate scales on each side of 0, so the (small) region where cheating pays is visible
        hi = max(float(self.margin.max()), 1e-9)
        lo = min(float(self.margin.min()), -1e-9)
        norm = TwoSlopeNorm(vmin=lo, vcenter=0.0, vmax=hi)
        # red-blue diverging: distinguishable under the common colour-vision deficiencies
        mesh = ax.pcolormesh(self.stake, self.p, self.margin, cmap="RdBu_r", norm=norm, shading="auto")
        ax.figure.colorbar(mesh, ax=ax, label="expected gain of cheating per task (tokens)")
        for f, style in [(self.slash_fraction, "-"), *((f, ["--", ":", "-."][i % 3]) for i, f in enumerate(others))]:
            frontier = min_challenge_probability(f * self.stake, self.gain, self.payment)
            ok = frontier <= self.p.max()
            ax.plot(self.stake[ok], frontier[ok], color="k", ls=style, lw=2,
                    label=f"frontier p (f S + P) = G, f = {f:g}")
        ax.grid(False)  # grid lines would read as cell boundaries of the map
        ax.set_xlabel("provider stake S (tokens)")
        ax.set_ylabel("challenge probability p")
        ax.set_title(
            f"Red: cheating pays, blue: deterred (G = {self.gain:g}, P = {self.payment:g}, f = {self.slash_fraction:g})"
        )
        # below the axes: inside, the legend would cover the frontier it explains
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=1 + len(others), frameon=False)
        return ax


def deterrence_surface(
    p: Sequence[float] | np.ndarray,
    stake: Sequence[float] | np.ndarray,
    gain: float,
    *,
    payment: float = 0.0,
    slash_fraction: float = 1.0,
) -> DeterrenceSurface:
    """Expected gain of cheating ``G - p (f S + P)`` on the grid ``p x stake``."""
    p = _prob("p", p).ravel()
    stake = _nonneg("stake", stake).ravel()
    f = float(slash_fraction)
    if not 0 <= f <= 1:
        raise ValueError(f"slash_fraction = {slash_fraction!r} must be in [0, 1]")
    margin = cheating_gain(p[:, None], f * stake[None, :], gain, payment)
    return DeterrenceSurface(p, stake, float(gain), float(payment), f, margin)


# ------------------------------------------------------------------------------- dispute cost


@dataclass(frozen=True)
class DisputeCosts:
    """Cost of a dispute over one graph at one arity, for each first divergent node ``k``.

    Attributes
    ----------
    model : str
    n_nodes, arity, round_bound : int
    node : ndarray of int64
        The first divergent (cheated) nodes costed.
    rounds, hashes_exchanged, bytes_opened : ndarray of int64
    opening_hashes : ndarray of int64
        The part of ``hashes_exchanged`` that opens the disputed node's inputs (the chain path
        back to its earliest input); the rest is the bisection itself.
    referee_flops, referee_flops_share : ndarray of float64
    total_flops : float
    """

    model: str
    n_nodes: int
    arity: int
    round_bound: int
    node: np.ndarray
    rounds: np.ndarray
    hashes_exchanged: np.ndarray
    opening_hashes: np.ndarray
    bytes_opened: np.ndarray
    referee_flops: np.ndarray
    referee_flops_share: np.ndarray
    total_flops: float

    def summary(self) -> dict[str, Any]:
        """Worst case and mean over the costed nodes."""
        return {
            "model": self.model,
            "n_nodes": self.n_nodes,
            "arity": self.arity,
            "round_bound": self.round_bound,
            "rounds_max": int(self.rounds.max()),
            "rounds_mean": float(self.rounds.mean()),
            "bisection_hashes_max": int((self.hashes_exchanged - self.opening_hashes).max()),
            "opening_hashes_max": int(self.opening_hashes.max()),
            "hashes_mean": float(self.hashes_exchanged.mean()),
            "hashes_max": int(self.hashes_exchanged.max()),
            "opened_mb_max": float(self.bytes_opened.max() / 1e6),
            "referee_gflop_max": float(self.referee_flops.max() / 1e9),
            "referee_share_max": float(self.referee_flops_share.max()),
            "referee_share_mean": float(self.referee_flops_share.mean()),
            "inference_tflop": self.total_flops / 1e12,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per costed node."""
        return pd.DataFrame(
            {
                "node": self.node,
                "rounds": self.rounds,
                "hashes_exchanged": self.hashes_exchanged,
                "opening_hashes": self.opening_hashes,
                "bytes_opened": self.bytes_opened,
                "referee_flops": self.referee_flops,
                "referee_flops_share": self.referee_flops_share,
            }
        )


def dispute_costs(
    graph: DisputeGraph,
    arity: int,
    nodes: Sequence[int] | np.ndarray | None = None,
    *,
    open_output: bool = True,
) -> DisputeCosts:
    """Cost of the dispute that isolates each node in ``nodes`` (default: every node).

    Replays the game of :mod:`oasis_lab.disputes.bisection` on indices only, vectorised over
    the nodes: an honest challenger against a provider whose trace first diverges at ``k``
    beyond the rounding bound (exact mode). Hashes: 2 final commitments, ``a - 1`` reveals per
    round plus the challenger's claim unless it picks the last part, then the opening path of
    ``k``'s inputs. Bytes opened: ``k``'s inputs and, with ``open_output`` (the default
    rounding reading of exact mode, ``DisputeParams.exact_reading``), the provider's output of
    ``k``, which the referee measures in ULPs when no engine gives its bits (at a float node;
    a discrete node opens none, and the graph has no dtypes: there it is an upper bound).

    Parameters
    ----------
    graph : DisputeGraph
    arity : int
        ``>= 2``.
    nodes : array of int, optional
    open_output : bool, default True
        ``False``: the strict exact reading (only the inputs are opened).

    Returns
    -------
    DisputeCosts
    """
    if not isinstance(graph, DisputeGraph):
        raise TypeError(f"graph must be a DisputeGraph, got {type(graph).__name__}")
    bound = max_rounds(graph.n_nodes, arity)
    n = graph.n_nodes
    # an arity beyond the node count splits every range into single nodes, exactly as arity n
    # does: play with that (numpy holds it), report the arity given (exact at any size)
    split = min(int(arity), n)
    k = np.arange(n, dtype=np.int64) if nodes is None else np.asarray(nodes).ravel()
    if k.dtype.kind not in "iu":
        raise TypeError(f"nodes must be integer node indices, got dtype {k.dtype}")
    k = k.astype(np.int64)
    if k.size == 0 or k.min() < 0 or k.max() >= n:
        raise ValueError(f"nodes must be non-empty and in [0, {n - 1}], got {nodes!r}")
    lo = np.zeros_like(k)
    hi = np.full_like(k, n - 1)
    rounds = np.zeros_like(k)
    hashes = np.full_like(k, 2)
    while True:
        act = lo < hi
        if not act.any():
            break
        size = hi - lo + 1
        a = np.minimum(split, size)
        base, rem = size // np.maximum(a, 1), size % np.maximum(a, 1)
        off = k - lo
        big = rem * (base + 1)
        part = np.where(off < big, off // (base + 1), rem + (off - big) // np.maximum(base, 1))
        start = np.where(part < rem, part * (base + 1), big + (part - rem) * base)
        length = np.where(part < rem, base + 1, base)
        rounds += act
        hashes += np.where(act, (a - 1) + (part < a - 1), 0)
        lo = np.where(act, lo + start, lo)
        hi = np.where(act, lo + length - 1, hi)
    opening = graph.opening_span[k] + (np.diff(graph.indptr)[k] > 0)
    hashes += opening
    total = float(graph.flops.sum())
    flops = graph.flops[k]
    return DisputeCosts(
        model=graph.name,
        n_nodes=n,
        arity=int(arity),
        round_bound=bound,
        node=k,
        rounds=rounds,
        hashes_exchanged=hashes,
        opening_hashes=opening,
        bytes_opened=graph.opened_input_bytes[k] + (graph.output_bytes[k] if open_output else 0),
        referee_flops=flops,
        referee_flops_share=flops / total if total > 0 else np.zeros_like(flops),
        total_flops=total,
    )


def cost_table(
    graphs: Mapping[str, DisputeGraph] | Sequence[DisputeGraph],
    arities: Sequence[int] = (2, 4, 8, 16),
    *,
    open_output: bool = True,
) -> pd.DataFrame:
    """Rounds, hashes, opened bytes and referee compute vs model and arity (every node costed;
    ``open_output`` as :func:`dispute_costs`)."""
    items = graphs.values() if isinstance(graphs, Mapping) else graphs
    rows = [dispute_costs(g, a, open_output=open_output).summary() for g in items for a in arities]
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------- Monte Carlo


@dataclass(frozen=True)
class MonteCarloResult:
    """Outcome of a population of tasks, some cheated, some challenged.

    Per-task arrays (length ``n_tasks``): ``kind`` (0 honest, 1 cheater, 2 honest on another
    device), ``challenged`` (by the user or the platform), ``disputed`` (a dispute was played:
    the challenger's re-execution disagreed, or a lying challenger attacked), ``convicted``,
    ``lying`` (a lying challenger attacked an honest provider).

    Token flows (totals): ``slashed`` (stake taken from convicted providers), ``user_losses``
    (payments for undetected cheated results), ``bonds_lost`` (lying challengers), and the
    realised ``cheater_gain`` per cheated task vs the prediction ``G - p (S + P)``.
    """

    params: dict[str, Any]
    kind: np.ndarray
    challenged: np.ndarray
    disputed: np.ndarray
    convicted: np.ndarray
    lying: np.ndarray
    rounds: np.ndarray
    slashed: float
    user_losses: float
    bonds_lost: float
    cheater_gain: float
    predicted_cheater_gain: float

    def summary(self) -> dict[str, Any]:
        """Counts and flows."""
        cheat = self.kind == 1
        honest = ~cheat
        return {
            "tasks": int(self.kind.size),
            "cheated": int(cheat.sum()),
            "challenged": int(self.challenged.sum()),
            "disputes": int(self.disputed.sum()),
            "fraud_detected": int((cheat & self.convicted).sum()),
            "fraud_undetected": int((cheat & ~self.convicted).sum()),
            "honest_wrongly_slashed": int((honest & self.convicted).sum()),
            "honest_other_device": int((self.kind == 2).sum()),
            "lying_challenges": int(self.lying.sum()),
            "lying_challenges_won": int((self.lying & self.convicted).sum()),
            "slashed": self.slashed,
            "user_losses": self.user_losses,
            "bonds_lost": self.bonds_lost,
            "cheater_gain_per_cheat": self.cheater_gain,
            "predicted_gain_per_cheat": self.predicted_cheater_gain,
            "max_rounds": int(self.rounds.max()) if self.rounds.size else 0,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per task."""
        return pd.DataFrame(
            {
                "kind": np.asarray(["honest", "cheater", "other_device"], dtype=object)[self.kind],
                "challenged": self.challenged,
                "disputed": self.disputed,
                "convicted": self.convicted,
                "lying": self.lying,
                "rounds": self.rounds,
            }
        )


def simulate_challenges(
    n_tasks: int,
    *,
    cheat_share: float = 0.1,
    p_user: float = 0.05,
    p_platform: float = 0.05,
    stake: float | None = None,
    gain: float = 50.0,
    payment: float = 100.0,
    lying_share: float = 0.0,
    other_device_share: float = 0.0,
    n_nodes: int = 200,
    graph: DisputeGraph | None = None,
    params: DisputeParams | None = None,
    seed: int = 0,
) -> MonteCarloResult:
    """Monte Carlo of challenged tasks with real disputes on synthetic traces (section 5).

    Each task's provider is a cheater (share ``cheat_share``: wrong at a random node, saving
    ``gain``), an honest provider whose device rounds a random node one ULP differently from
    the referee's (share ``other_device_share``), or honest. A task is challenged by its
    user (``p_user``) or at random by the platform (``p_platform``); the challenger re-executes
    on the referee's device and opens a dispute only when its final commitment differs. On
    top, a share ``lying_share`` of honest tasks meets a lying challenger. Every dispute is
    played (``run_disputes``) and scored against the strategies' ground truth.

    Parameters
    ----------
    n_tasks : int
    cheat_share, p_user, p_platform, lying_share, other_device_share : float
        Probabilities in [0, 1].
    stake : float, optional
        Provider stake (default ``params.provider_stake``); ``slash_fraction`` of it is lost on
        conviction.
    gain, payment : float
        What cheating saves, and the task payment (reversed on conviction).
    n_nodes : int
        Nodes of the synthetic graph when ``graph`` is None.
    graph : DisputeGraph, optional
    params : DisputeParams, optional
        Arity, comparison (exact / tolerance) and tolerances, slash fraction, bond.
    seed : int
        Root seed: the graph and trace values, the providers' strategies, the challenges and
        the disputes each draw from their own :mod:`oasis_lab.seeding` stream of it.

    Returns
    -------
    MonteCarloResult
    """
    n_tasks = check_int("n_tasks", n_tasks, 1)
    seed = check_seed(seed)
    for name, v in (
        ("cheat_share", cheat_share),
        ("lying_share", lying_share),
        ("other_device_share", other_device_share),
    ):
        _prob(name, v)
    if cheat_share + other_device_share > 1:
        raise ValueError(f"cheat_share + other_device_share = {cheat_share + other_device_share} must be <= 1")
    params = params if params is not None else DisputeParams()
    stake_v = float(params.provider_stake if stake is None else _nonneg("stake", stake))
    slash = params.slash_fraction * stake_v
    p = float(challenge_probability(p_user, p_platform))
    # One independent stream per purpose (oasis_lab.seeding): changing how many disputes are
    # played, or the graph, never shifts the draws of who cheats or who is challenged.
    graph = graph if graph is not None else synthetic_graph(n_nodes, seed=child_seed(seed, "execution", "graph"))
    comp = SyntheticComputation(graph, seed=child_seed(seed, "execution", "trace"))
    n = graph.n_nodes

    strategies = stream(seed, "strategies")
    u = strategies.random(n_tasks)
    kind = np.where(u < cheat_share, 1, np.where(u < cheat_share + other_device_share, 2, 0)).astype(np.int8)
    node = strategies.integers(0, n, size=n_tasks)
    challenged = stream(seed, "challenges").random(n_tasks) < p
    liars = stream(seed, "strategies", "lying")
    lying = (kind != 1) & (liars.random(n_tasks) < lying_share)
    lie_node = liars.integers(0, n, size=n_tasks)
    # an honest challenger disputes only when its re-execution disagrees (cheater or other device)
    disputed = (challenged & (kind != 0)) | lying

    idx = np.flatnonzero(disputed)
    pairs: list[tuple[Strategy, Strategy]] = []
    for i in idx:
        if kind[i] == 1:
            prov: Strategy = PerturbNode(node=int(node[i]))
        elif kind[i] == 2:
            prov = OtherDevice(node=int(node[i]))
        else:
            prov = Honest()
        chal: Strategy = (
            LyingChallenger(node=int(lie_node[i])) if lying[i] and not (challenged[i] and kind[i] != 0) else Honest()
        )
        pairs.append((prov, chal))
    batch = run_disputes(comp, pairs, params=params, seed=child_seed(seed, "disputes")) if pairs else None
    convicted = np.zeros(n_tasks, dtype=bool)
    rounds = np.zeros(n_tasks, dtype=np.int64)
    if batch is not None:
        convicted[idx] = batch.convicted
        rounds[idx] = batch.rounds

    cheat = kind == 1
    n_cheat = int(cheat.sum())
    caught = cheat & convicted
    slashed_total = slash * int(convicted.sum())
    user_losses = payment * int((cheat & ~convicted).sum())
    lying_lost = lying & ~convicted
    bonds_lost = float(params.challenger_bond) * int(lying_lost.sum())
    realised = (gain * n_cheat - (slash + payment) * int(caught.sum())) / n_cheat if n_cheat else 0.0
    return MonteCarloResult(
        params={
            "n_tasks": n_tasks,
            "cheat_share": cheat_share,
            "p_user": p_user,
            "p_platform": p_platform,
            "p": p,
            "stake": stake_v,
            "gain": gain,
            "payment": payment,
            "lying_share": lying_share,
            "other_device_share": other_device_share,
            "n_nodes": n,
            "dispute_params": params.label(),
            "seed": seed,
        },
        kind=kind,
        challenged=challenged,
        disputed=disputed,
        convicted=convicted,
        lying=lying,
        rounds=rounds,
        slashed=float(slashed_total),
        user_losses=float(user_losses),
        bonds_lost=bonds_lost,
        cheater_gain=float(realised),
        predicted_cheater_gain=float(cheating_gain(p, slash, gain, payment)),
    )
