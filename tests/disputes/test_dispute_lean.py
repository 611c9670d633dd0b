"""The lean game path (record=False, parties that reveal and choose by the book) reaches the
same outcome as the recorded game, field by field (issue 15)."""

import dataclasses

import numpy as np
import pytest

from oasis_lab.disputes import adversaries as adv
from oasis_lab.disputes.bisection import _by_the_book, play, run_disputes
from oasis_lab.disputes.graph import synthetic_graph
from oasis_lab.disputes.params import DisputeParams
from oasis_lab.disputes.trace import SyntheticComputation

PROVIDERS = [
    lambda n: adv.Honest(),
    lambda n: adv.PerturbNode(node=0),
    lambda n: adv.PerturbNode(node=n // 3),
    lambda n: adv.PerturbNode(node=n - 1),
    lambda n: adv.SkipNode(node=n // 2),
    lambda n: adv.ModelSwap(),
    lambda n: adv.WrongAfter(node=n // 4),
    lambda n: adv.BelowTolerance(node=n - 2),
    lambda n: adv.Launder(small_node=3, big_node=n - 2),
    lambda n: adv.Equivocator(node=n // 2),
    lambda n: adv.Equivocator(node=n // 2, mode="inputs"),
    lambda n: adv.Timeout(base=adv.PerturbNode(node=5), at_round=2),
]
CHALLENGERS = [
    lambda n: adv.Honest(),
    lambda n: adv.LyingChallenger(node=n // 3),
    lambda n: adv.RandomChallenger(),
    lambda n: adv.FakeFinalChallenger(),
]


def same_outcome(a, b) -> None:
    for f in dataclasses.fields(a):
        if f.name in ("transcript", "ruling"):
            continue
        assert getattr(a, f.name) == getattr(b, f.name), f.name
    assert (a.ruling is None) == (b.ruling is None)
    if a.ruling is not None:
        assert dataclasses.asdict(a.ruling) == dataclasses.asdict(b.ruling)


@pytest.mark.parametrize("commitment", ["chain", "merkle"])
@pytest.mark.parametrize("arity", [2, 3, 7])
def test_lean_path_matches_the_recorded_game(arity, commitment):
    comp = SyntheticComputation(synthetic_graph(97, seed=4), seed=1, commitment=commitment)
    n = comp.n_nodes
    for comparison in ("exact", "tolerance"):
        params = DisputeParams(arity=arity, comparison=comparison, commitment=commitment)
        for make_p in PROVIDERS:
            for make_c in CHALLENGERS:
                p, c = make_p(n), make_c(n)
                for seed in (0, 1):
                    full = play(comp, p, c, params=params, seed=seed, record=True)
                    lean = play(comp, p, c, params=params, seed=seed, record=False)
                    same_outcome(lean, full)
                    assert lean.transcript == ()
                    if full.reason == "referee":
                        assert len(full.transcript) == full.rounds + 1


def test_by_the_book_parties_are_the_ones_the_lean_path_takes():
    assert _by_the_book(adv.Honest()) and _by_the_book(adv.PerturbNode(node=1))
    assert not _by_the_book(adv.Equivocator(node=1))
    assert not _by_the_book(adv.RandomChallenger())
    assert not _by_the_book(adv.Timeout(base=adv.Honest(), at_round=1))


def test_batch_equals_one_by_one():
    comp = SyntheticComputation(synthetic_graph(200, seed=2), seed=0)
    nodes = np.random.default_rng(0).integers(0, 200, size=40)
    pairs = [(adv.PerturbNode(node=int(k)), adv.Honest()) for k in nodes]
    batch = run_disputes(comp, pairs, arity=4)
    for i, (p, c) in enumerate(pairs):
        out = play(comp, p, c, params=DisputeParams(arity=4), seed=(0, i))
        assert batch.disputed_node[i] == out.disputed_node == nodes[i]
        assert batch.rounds[i] == out.rounds and batch.hashes_exchanged[i] == out.hashes_exchanged
