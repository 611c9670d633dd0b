"""Issue 23 in the disputes package: registries are library code, ``trace`` is split by concern
and every random draw goes through ``oasis_lab.seeding`` (with numpy's draws unchanged)."""

import ast
from pathlib import Path

import numpy as np
import pytest

import oasis_lab
from oasis_lab.disputes import adversaries as adv
from oasis_lab.disputes import trace
from oasis_lab.disputes.bisection import play
from oasis_lab.disputes.computations import SyntheticComputation
from oasis_lab.disputes.graph import synthetic_graph
from oasis_lab.disputes.registry import (
    ADVERSARIES,
    ADVERSARY_HELP,
    build_parties,
    check_model,
    computation_for,
)

PACKAGE = Path(oasis_lab.__file__).parent


def _is_cli(path: Path) -> bool:
    return path.name in ("cli.py", "__main__.py") or path.name.endswith("_cli.py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return names


def test_no_library_module_imports_a_cli_module():
    cli_modules = {
        ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts)
        for p in PACKAGE.rglob("*.py") if _is_cli(p)
    }
    offenders = {
        str(p.relative_to(PACKAGE.parent)): sorted(_imports(p) & cli_modules)
        for p in PACKAGE.rglob("*.py")
        if not _is_cli(p) and _imports(p) & cli_modules
    }
    assert not offenders


def test_disputes_draw_only_through_seeding():
    users = []
    for p in (PACKAGE / "disputes").glob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "default_rng":
                users.append(p.name)
    assert not users


def test_draws_are_numpys_for_valid_seeds():
    g = synthetic_graph(50, seed=9)
    flops = np.round(np.random.default_rng(9).lognormal(mean=13.0, sigma=2.0, size=50))
    np.testing.assert_array_equal(g.flops, flops)
    comp = SyntheticComputation(g, seed=2**100)
    rng = np.random.default_rng(2**100)
    np.testing.assert_array_equal(comp.salts, rng.integers(0, 2**63, size=50, dtype=np.uint64))
    np.testing.assert_array_equal(
        comp.substitute().salts,
        np.random.default_rng([2**100, 1]).integers(0, 2**63, size=50, dtype=np.uint64),
    )
    # a random challenger's first pick is numpy's draw under [seed, i, 1]
    out = play(comp, adv.Honest(), adv.RandomChallenger(), seed=(3, 4))
    first = np.random.default_rng([3, 4, 1])
    first.integers(0, 256, size=(1, 32), dtype=np.uint8)  # its round-0 commitment
    assert out.transcript[1].part == int(first.integers(0, 2))


@pytest.mark.parametrize("bad", [-1, 2**128, 1.5])
def test_one_seed_limit_for_every_entry_point(bad):
    g = synthetic_graph(10)
    err = TypeError if isinstance(bad, float) else ValueError
    with pytest.raises(err, match="seed"):
        synthetic_graph(10, seed=bad)
    with pytest.raises(err, match="seed"):
        SyntheticComputation(g, seed=bad)
    with pytest.raises(err, match="seed"):
        play(SyntheticComputation(g), adv.Honest(), adv.RandomChallenger(), seed=bad)


def test_registry_names_every_adversary_and_model():
    assert list(ADVERSARY_HELP) == list(ADVERSARIES)
    for name in ADVERSARIES:
        provider, challenger = build_parties(name, 3, 10)
        assert isinstance(provider, adv.Strategy) and isinstance(challenger, adv.Strategy)
    with pytest.raises(ValueError, match="adversary = 'nope'"):
        build_parties("nope", 3, 10)
    assert computation_for("synthetic:12").n_nodes == 12
    with pytest.raises(ValueError, match="model = 'all' is not one of"):
        computation_for("all")
    assert check_model("all", also=("all",)) == "all"


def test_trace_keeps_its_public_names():
    from oasis_lab.disputes import commitments, computations, hashing, traces

    for name in trace.__all__:
        homes = [m for m in (hashing, commitments, traces, computations) if name in m.__all__]
        assert len(homes) == 1, name
        assert getattr(trace, name) is getattr(homes[0], name)
