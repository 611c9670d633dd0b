"""The disputes of a simulation: the fault-proof game of section 5, played or looked up.

A challenged result is disputed when the challenger's recomputation (on the referee's backend)
disagrees with the provider's committed trace: always for a cheater, and for an honest
provider whose device rounds a node differently (:class:`~oasis_lab.disputes.adversaries.OtherDevice`),
never for an honest provider on the referee's backend (identical traces).

A dispute's random draw (what a :class:`~oasis_lab.disputes.adversaries.WrongAfter` cheater
makes up, a random challenger's picks) comes from its *job*: the seed of the dispute over job
``j`` of round ``r`` is :meth:`Court.job_seed` ``(r, j)``, whoever plays it and however often
(the trusted stack when the dispute opens, a market referee and an appellate referee when it
is due). A game whose parties drew nothing has an outcome fixed by the provider's strategy, its
node, the computation, :class:`~oasis_lab.disputes.params.DisputeParams` and the referee, not by
any seed (:attr:`~oasis_lab.disputes.bisection.DisputeOutcome.drew` says which).

:class:`Court` therefore has two modes with the same outcomes, dispute by dispute (``tests/sim``
plays both and compares them over random configurations):

- ``"played"``: every game of every dispute is played in full with
  :func:`oasis_lab.disputes.bisection.play`, from its job's seed;
- ``"vectorised"``: a game is played the first time its key (strategy, node, referee) is
  needed; when its parties drew nothing its outcome is looked up for every later dispute of
  that key, otherwise every dispute of that key is played from its own job's seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from oasis_lab.disputes.adversaries import OtherDevice, Strategy
from oasis_lab.disputes.bisection import DisputeOutcome, play
from oasis_lab.disputes.market_referee import Adjudication, MarketReferee, adjudicate
from oasis_lab.disputes.params import DisputeParams
from oasis_lab.disputes.referee import VERDICTS, Referee
from oasis_lab.disputes.registry import ADVERSARIES, computation_for
from oasis_lab.disputes.trace import Computation
from oasis_lab.seeding import child_seed

__all__ = ["CHEATER", "HONEST", "OTHER_DEVICE", "PROVIDER_KINDS", "Court", "DisputeResults"]

#: Provider kinds (codes in the simulation's per-provider arrays).
HONEST, CHEATER, OTHER_DEVICE = 0, 1, 2
PROVIDER_KINDS: tuple[str, ...] = ("honest", "cheater", "other_device")

_GUILTY = VERDICTS.index("provider_guilty")


@dataclass(frozen=True)
class DisputeResults:
    """Outcomes of a batch of disputes, as parallel arrays.

    ``verdict`` indexes :data:`~oasis_lab.disputes.referee.VERDICTS`; ``disputed_node`` is the
    node the game isolated (-1 when it ended before, e.g. on a timeout).
    """

    verdict: np.ndarray
    disputed_node: np.ndarray
    rounds: np.ndarray
    hashes: np.ndarray
    referee_flops_share: np.ndarray

    @property
    def guilty(self) -> np.ndarray:
        """Whether each provider was convicted."""
        return self.verdict == _GUILTY


class Court:
    """Plays (or looks up) the disputes of one simulation.

    Parameters
    ----------
    computation : str
        A task's inference: ``synthetic:N``, ``tiny-transformer``, ``llama-2-7b``, ... (see
        :func:`oasis_lab.disputes.registry.computation_for`).
    params : DisputeParams
    adversary : str
        The cheaters' strategy, a key of :data:`oasis_lab.disputes.registry.ADVERSARIES`.
    other_device_ulps : int
        ULPs an honest provider on other hardware is off at its node.
    seed : int
        The simulation's root seed (the computation's weights and each job's dispute seed
        derive from it).
    mode : {"vectorised", "played"}
    """

    def __init__(
        self,
        computation: str,
        params: DisputeParams,
        adversary: str,
        other_device_ulps: int,
        seed: int,
        mode: str = "vectorised",
    ) -> None:
        self.computation: Computation = computation_for(
            computation, seed=child_seed(seed, "disputes", "computation") % 2**31
        )
        self.params = params
        self.referee = Referee.from_params(params)
        self.adversary = adversary
        self.other_device_ulps = other_device_ulps
        self.seed = seed
        self.mode = mode
        # vectorised mode: a key's outcome when its game drew nothing, else _DRAWS (play each)
        self._games: dict[tuple[int | str | None, ...], DisputeOutcome | None] = {}
        self.games_played = 0

    @property
    def n_nodes(self) -> int:
        """Nodes of the disputed computation."""
        return int(self.computation.n_nodes)

    def job_seed(self, round_no: int, job: int) -> int:
        """The seed of every game of the dispute over job ``job`` of round ``round_no`` (the
        parties' draws come from the job, not from who plays the game or when)."""
        return child_seed(self.seed, "disputes", "job", int(round_no), int(job))

    def strategy(self, kind: int, node: int, adversary: str | None = None) -> Strategy:
        """The provider's strategy: the adversary (cheater; ``adversary``, by default the
        court's) or other-device rounding at ``node``."""
        if kind == CHEATER:
            return ADVERSARIES[adversary or self.adversary](int(node))[0]
        if kind == OTHER_DEVICE:
            return OtherDevice(node=int(node), ulps=self.other_device_ulps)
        raise ValueError(f"kind = {kind} is not a disputed provider kind (cheater or other_device)")

    def _game(self, kind: int, node: int, adversary: str | None, referee: Referee, seed: int) -> DisputeOutcome:
        """One game of a dispute, ruled by ``referee`` and seeded by its job: played, or looked
        up in ``"vectorised"`` mode when a game of the same key drew nothing."""
        adv = (adversary or self.adversary) if kind == CHEATER else None
        if isinstance(referee, MarketReferee):
            # what decides a market referee's ruling: its rounding and the side it takes
            key: tuple[int | str | None, ...] = (kind, node, adv, referee.rounding_ulps, referee.sides_with)
        else:
            key = (kind, node, adv, -1, None)
        memo = self.mode == "vectorised"
        if memo and self._games.get(key) is not None:
            return self._games[key]  # type: ignore[return-value]
        out = play(
            self.computation,
            self.strategy(kind, node, adversary),
            ADVERSARIES["honest"](0)[1],
            params=self.params,
            referee=referee,
            seed=seed,
            record=False,
        )
        self.games_played += 1
        if memo and key not in self._games:
            # a game that drew nothing is the game of every dispute of its key; one that drew
            # is played again for each (None: its outcome depends on the job's draw)
            self._games[key] = None if out.drew else out
        return out

    def decide(self, kind: np.ndarray, node: np.ndarray, round_no: int,
               adversary: Sequence[str] | None = None, job: np.ndarray | None = None) -> DisputeResults:
        """Outcomes under the platform's trusted stack of the disputes of round ``round_no``
        against providers of ``kind`` at ``node``.

        Parameters
        ----------
        kind : ndarray of int
            :data:`CHEATER` or :data:`OTHER_DEVICE` per dispute.
        node : ndarray of int
            The node the provider's strategy targets, per dispute.
        round_no : int
            The round the disputed jobs were delivered in.
        adversary : sequence of str, optional
            Each cheater's strategy (a key of ``ADVERSARIES``; read where ``kind`` is
            :data:`CHEATER`), by default the court's ``adversary`` for every dispute.
        job : ndarray of int, optional
            Each disputed job's index among the round's jobs (its game's seed is
            :meth:`job_seed` ``(round_no, job)``), by default ``0 .. n - 1``.
        """
        n = int(kind.size)
        advs = [self.adversary] * n if adversary is None else list(adversary)
        if len(advs) != n:
            raise ValueError(f"adversary has {len(advs)} entries for {n} disputes")
        jobs = np.arange(n) if job is None else np.asarray(job)
        if jobs.shape != (n,):
            raise ValueError(f"job has shape {jobs.shape} for {n} disputes")
        if n == 0:
            empty = np.zeros(0, dtype=np.int64)
            return DisputeResults(empty.astype(np.int8), empty, empty, empty, np.zeros(0))
        # Python loop over a round's disputes (tens; most looked up)
        outs = [
            self._game(k, v, a, self.referee, self.job_seed(round_no, j))
            for k, v, a, j in zip(kind.tolist(), node.tolist(), advs, jobs.tolist(), strict=True)
        ]
        return DisputeResults(
            verdict=np.array([VERDICTS.index(o.verdict) for o in outs], dtype=np.int8),
            disputed_node=np.array([o.disputed_node for o in outs], dtype=np.int64),
            rounds=np.array([o.rounds for o in outs], dtype=np.int64),
            hashes=np.array([o.hashes_exchanged for o in outs], dtype=np.int64),
            referee_flops_share=np.array([o.referee_flops_share for o in outs], dtype=np.float64),
        )

    def adjudicate(
        self,
        kind: int,
        node: int,
        pool: Sequence[MarketReferee],
        *,
        provider_name: str,
        challenger_name: str,
        weighting: str,
        appeal_to: str | None,
        appeal_budget: int,
        payment: int,
        bribe: tuple[str, int] | None,
        seed: int,
        job: tuple[int, int],
        adversary: str | None = None,
    ) -> Adjudication:
        """A dispute ruled by a market referee drawn from ``pool``, perhaps appealed
        (:func:`oasis_lab.disputes.market_referee.adjudicate`).

        ``seed`` draws the referees; ``job`` = (round delivered, job index) seeds every game of
        the dispute (:meth:`job_seed`), so the first, the appellate and the trusted stack's
        games are played on the same traces, the very game :meth:`decide` played for the
        dispute when it opened. ``adversary``: the cheater's strategy (default the court's).
        """
        game_seed = self.job_seed(*job)

        def game(referee: Referee) -> DisputeOutcome:
            return self._game(kind, node, adversary, referee, game_seed)

        return adjudicate(
            self.computation,
            self.strategy(kind, node, adversary),
            ADVERSARIES["honest"](0)[1],
            pool,
            params=self.params,
            appeal_to=appeal_to,
            weighting=weighting,
            parties=(provider_name, challenger_name),
            appeal_budget=appeal_budget,
            payment=payment,
            bribe=bribe,
            seed=seed,
            game=game,
        )
