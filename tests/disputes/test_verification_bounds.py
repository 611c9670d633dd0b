"""The trade-off table and the dispute costs refuse or compute exactly at any size (issue 21,
items 13 and 16)."""

from __future__ import annotations

import pytest

from oasis_lab.disputes.economics import cost_table, dispute_costs
from oasis_lab.disputes.graph import synthetic_graph
from oasis_lab.disputes.verification import MAX_REDUNDANCY, redundant_row, tradeoff_table


def test_an_arity_beyond_the_node_count_is_costed_exactly() -> None:
    # arity = 10**30 overflowed numpy (OverflowError); it plays as arity n, one round
    g = synthetic_graph(100, seed=0)
    huge, n = dispute_costs(g, 10**30), dispute_costs(g, 100)
    assert huge.arity == 10**30 and huge.round_bound == n.round_bound == 1
    assert (huge.rounds == n.rounds).all() and (huge.hashes_exchanged == n.hashes_exchanged).all()
    assert cost_table([g], (99_999_999_999_999_999_999,))["rounds_max"].tolist() == [1]


def test_the_cli_costs_a_huge_arity_as_the_node_count(capsys) -> None:
    # the issue's `dispute --costs --cost-arities 99999999999999999999`: a table, exactly the
    # one of arity n (one round), not an overflow
    from oasis_lab.__main__ import main

    def table(arity: str) -> list[str]:
        assert main(["dispute", "--costs", "--model", "synthetic:40", "--cost-arities", arity]) == 0
        return [" ".join(line.replace(f"K = {arity}", "K = ?").split())  # widths follow the arity
                for line in capsys.readouterr().out.splitlines()]

    huge = table("99999999999999999999")
    assert huge != table("2")  # the comparison sees the arity
    assert huge == table("40")
    assert any(line.startswith("rounds, max") and line.split()[-1] == "1" for line in huge)


def test_tradeoff_table_refuses_bad_models_and_sizes_by_name() -> None:
    with pytest.raises(TypeError, match="models must be a tuple of model names"):
        tradeoff_table(models="llama-2-7b")  # was "model = 'l'"
    with pytest.raises(ValueError, match="models is empty"):
        tradeoff_table(models=())  # was a KeyError
    with pytest.raises(ValueError, match="model = 'gpt-5' is not one of"):
        tradeoff_table(models=("llama-2-7b", "gpt-5"))
    with pytest.raises(ValueError, match=f"redundancy = 1{'0' * 400} must be <= {MAX_REDUNDANCY}"):
        tradeoff_table(redundancy=10**400)  # was an OverflowError
    with pytest.raises(ValueError, match="arity = 1 must be >= 2"):
        tradeoff_table(arity=1)
    assert redundant_row("llama-2-7b", k=MAX_REDUNDANCY)["extra_gpu_s_per_task"] > 0


def test_tradeoff_table_at_a_huge_arity() -> None:
    table = tradeoff_table(models=("llama-2-7b",), arity=10**30)
    opt = table[table["approach"] == "optimistic"].iloc[0]
    assert "arity 1000000000000000000000000000000" in opt["system"] and opt["finality_s"] == 3600.0
