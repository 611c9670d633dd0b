"""The disputes of a simulation: the fault-proof game of section 5, played or looked up.

A challenged result is disputed when the challenger's recomputation (on the referee's backend)
disagrees with the provider's committed trace: always for a cheater, and for an honest
provider whose device rounds a node differently (:class:`~oasis_lab.disputes.adversaries.OtherDevice`),
never for an honest provider on the referee's backend (identical traces). A dispute between an
honest challenger and the provider's strategy at a node is a deterministic game: its verdict,
the node it isolates, its rounds and hashes depend on the strategy, the node, the computation
and :class:`~oasis_lab.disputes.params.DisputeParams`, not on the dispute's random seed.

:class:`Court` therefore has two modes with the same verdicts (``tests/sim`` plays both and
compares them, dispute by dispute):

- ``"played"``: every dispute is played in full with :func:`oasis_lab.disputes.bisection.play`,
  seeded per dispute;
- ``"vectorised"``: each distinct (strategy, node) game is played once, the first time it is
  needed, and its outcome is looked up for every later dispute (a numpy gather per round).
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
        The simulation's root seed (the computation's weights and each game's seed derive
        from it).
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
        self._table: dict[tuple[int | str, ...], tuple[int, int, int, int, float]] = {}
        self._games: dict[tuple[int | str | None, ...], DisputeOutcome] = {}
        self.games_played = 0

    @property
    def n_nodes(self) -> int:
        """Nodes of the disputed computation."""
        return int(self.computation.n_nodes)

    def strategy(self, kind: int, node: int, adversary: str | None = None) -> Strategy:
        """The provider's strategy: the adversary (cheater; ``adversary``, by default the
        court's) or other-device rounding at ``node``."""
        if kind == CHEATER:
            return ADVERSARIES[adversary or self.adversary](int(node))[0]
        if kind == OTHER_DEVICE:
            return OtherDevice(node=int(node), ulps=self.other_device_ulps)
        raise ValueError(f"kind = {kind} is not a disputed provider kind (cheater or other_device)")

    def _play(self, kind: int, node: int, seed: int | tuple[int, ...],
              adversary: str | None = None) -> tuple[int, int, int, int, float]:
        challenger = ADVERSARIES["honest"](0)[1]
        out = play(
            self.computation,
            self.strategy(kind, node, adversary),
            challenger,
            params=self.params,
            referee=self.referee,
            seed=seed,
            record=False,
        )
        self.games_played += 1
        return (
            VERDICTS.index(out.verdict),
            out.disputed_node,
            out.rounds,
            out.hashes_exchanged,
            out.referee_flops_share,
        )

    def decide(self, kind: np.ndarray, node: np.ndarray, round_no: int,
               adversary: Sequence[str] | None = None) -> DisputeResults:
        """Outcomes of the disputes of round ``round_no`` against providers of ``kind`` at ``node``.

        Parameters
        ----------
        kind : ndarray of int
            :data:`CHEATER` or :data:`OTHER_DEVICE` per dispute.
        node : ndarray of int
            The node the provider's strategy targets, per dispute.
        round_no : int
            Seeds the played games (``"played"`` mode).
        adversary : sequence of str, optional
            Each cheater's strategy (a key of ``ADVERSARIES``; read where ``kind`` is
            :data:`CHEATER`), by default the court's ``adversary`` for every dispute.
        """
        n = int(kind.size)
        advs = [self.adversary] * n if adversary is None else list(adversary)
        if len(advs) != n:
            raise ValueError(f"adversary has {len(advs)} entries for {n} disputes")
        rows: list[tuple[int, int, int, int, float]] = []
        if self.mode == "played":
            rows = [
                self._play(int(k), int(v), (child_seed(self.seed, "disputes", round_no), i), a)
                for i, (k, v, a) in enumerate(zip(kind, node, advs, strict=True))
            ]
        else:
            for k, v, a in zip(kind.tolist(), node.tolist(), advs, strict=True):
                # the court's own adversary keeps the game seed it has always had
                key = (k, v) if a == self.adversary or k != CHEATER else (k, v, a)
                if key not in self._table:
                    self._table[key] = self._play(k, v, child_seed(self.seed, "disputes", "game", *key), a)
                rows.append(self._table[key])
        if n == 0:
            empty = np.zeros(0, dtype=np.int64)
            return DisputeResults(empty.astype(np.int8), empty, empty, empty, np.zeros(0))
        arr = np.array([r[:4] for r in rows], dtype=np.int64)
        return DisputeResults(
            verdict=arr[:, 0].astype(np.int8),
            disputed_node=arr[:, 1],
            rounds=arr[:, 2],
            hashes=arr[:, 3],
            referee_flops_share=np.array([r[4] for r in rows], dtype=np.float64),
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
        adversary: str | None = None,
    ) -> Adjudication:
        """A dispute ruled by a market referee drawn from ``pool``, perhaps appealed
        (:func:`oasis_lab.disputes.market_referee.adjudicate`).

        ``"vectorised"`` mode plays each distinct game once: a game's verdict is decided by the
        provider's strategy and node and, for its referee, only by the referee's rounding and
        the side it takes (the trusted stack is the key ``(-1, None)``); ``"played"`` plays
        every game of every dispute. ``adversary``: the cheater's strategy (default the court's).
        """
        challenger = ADVERSARIES["honest"](0)[1]
        strategy = self.strategy(kind, node, adversary)
        # the court's own adversary keeps the key it has always had
        other = () if adversary in (None, self.adversary) or kind != CHEATER else (adversary,)

        def game(referee: Referee) -> DisputeOutcome:
            if isinstance(referee, MarketReferee):
                key = (kind, node, referee.rounding_ulps, referee.sides_with, *other)
            else:
                key = (kind, node, -1, None, *other)
            if self.mode == "vectorised" and key in self._games:
                return self._games[key]
            out = play(
                self.computation, strategy, challenger, params=self.params, referee=referee, seed=seed, record=False
            )
            self.games_played += 1
            if self.mode == "vectorised":
                self._games[key] = out
            return out

        return adjudicate(
            self.computation,
            strategy,
            challenger,
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
