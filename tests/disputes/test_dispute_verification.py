"""The verification trade-off table (issue 16, item 2): sources, labels, recomputed rows."""

import math

import numpy as np
import pandas as pd
import pytest

from oasis_lab.disputes import DisputeParams, play
from oasis_lab.disputes.adversaries import Honest, PerturbNode
from oasis_lab.disputes.bisection import max_rounds
from oasis_lab.disputes.profiles import load_profile, profile_graph
from oasis_lab.disputes.trace import SyntheticComputation
from oasis_lab.disputes.verification import (
    PUBLISHED_PATH,
    TABLE_COLUMNS,
    WHITEPAPER_TABLE_1,
    ReferenceDevice,
    load_published,
    optimistic_row,
    tradeoff_table,
)


@pytest.fixture(scope="module")
def table():
    return tradeoff_table()


def test_every_row_has_a_source_and_a_label(table):
    # Each row's source and label must be true of its numbers, not only present: a source in
    # this project names files that exist, any other is a key of the published figures (each
    # described in data/README.md), a "published" row carries that source's published figures,
    # a "no published figure" row carries none, and GPU seconds from the assumed device are an
    # "estimate".
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    published = load_published()
    readme = (PUBLISHED_PATH.parent / "README.md").read_text()
    assert tuple(table.columns) == TABLE_COLUMNS
    assert table.groupby(["model", "approach"]).size().eq(1).all()  # one row per model and approach
    for _, row in table.iterrows():
        source, label = row["source"], row["label"]
        if source.startswith("this project: "):
            files = [w.strip(",") for w in source.split() if w.startswith("data/")]
            assert files and all((root / f).is_file() for f in files), source
            assert label.startswith("computed"), label
        else:
            key = source.split(",")[0]
            figures = published[published["source"] == key]
            assert len(figures) and f"`{key}`" in readme, source
            if label.startswith("published"):
                assert row["largest_model_reached_m"] in set(figures["model_params_m"]), row.to_dict()
                assert np.isfinite(row[["extra_gpu_s_per_task", "finality_s", "proof_bytes"]].astype(float)).all()
            elif label == "no published figure":
                assert np.isnan(row[["extra_gpu_s_per_task", "finality_s", "proof_bytes"]].astype(float)).all()
            else:
                assert label.startswith("estimate") and "scaled" in source, (label, source)
        # a number derived from the assumed device is labelled as an estimate
        if not math.isnan(row["extra_gpu_s_per_task"]) and row["approach"] != "zkml":
            assert "estimate" in label, label
    assert "estimate" in table.set_index(["model", "approach"]).loc[("sdxl-base-1.0", "zkml"), "label"]
    for key in published["source"]:  # every published figure's source is described
        assert f"`{key}`" in readme, key


def test_published_figures_checked(tmp_path):
    frame = pd.read_csv(PUBLISHED_PATH)
    bad = frame.copy()
    bad.loc[0, "source"] = np.nan
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(ValueError, match="without a source"):
        load_published(path)
    bad = frame.copy()
    bad.loc[0, "bound"] = "about"
    bad.to_csv(path, index=False)
    with pytest.raises(ValueError, match="bound"):
        load_published(path)
    pub = load_published()
    assert pub.loc["zkllm-13b", "prove_time_s"] == 900 and pub.loc["zkllm-13b", "bound"] == "upper"
    assert pub.loc["toploc-llama-3.1-8b", "bytes_per_token"] == 258 / 32


@pytest.mark.parametrize("model", ["llama-2-7b", "sdxl-base-1.0"])
def test_optimistic_rows_recomputed_from_the_profiles(model, table):
    """Recompute the optimistic row from the shipped CSV without dispute_costs: rounds from the
    integer bound (every node reaches it for arity 2 at these sizes or one less), FLOPs and
    committed bytes from the CSV's columns with the repeats unrolled, and a played dispute on
    the profile's graph."""
    arity, rate, window = 2, 0.05, 3600.0
    params = DisputeParams()
    device = ReferenceDevice()
    row = optimistic_row(model, arity=arity, challenge_rate=rate, challenge_window_s=window)
    csv = load_profile(model)
    flops = float((csv["flops"] * csv["repeat"]).sum())
    committed = int((csv["output_bytes"] * csv["repeat"]).sum())
    n_nodes = int(csv["repeat"].sum())
    graph = profile_graph(model)
    assert graph.n_nodes == n_nodes
    assert row["inference_tflop"] == pytest.approx(flops / 1e12)
    assert row["committed_bytes"] == committed
    assert row["commit_hash_s"] == pytest.approx(committed / 1e9)
    bound = max_rounds(n_nodes, arity)
    assert row["rounds_max"] == bound == math.ceil(math.log2(n_nodes))
    assert row["finality_s"] == window
    referee_max = float(graph.flops.max())
    assert row["finality_challenged_s"] == pytest.approx(
        window + bound * params.round_timeout_s + device.seconds(referee_max)
    )
    inference_s = flops / (82.6e12 * 0.4)  # RTX 4090 peak FP32 x utilisation 0.4
    mean_referee_s = float(graph.flops.mean()) / (82.6e12 * 0.4)
    assert row["extra_gpu_s_per_task"] == pytest.approx(rate * (inference_s + mean_referee_s))
    assert row["referee_share_max"] == pytest.approx(referee_max / flops)
    assert row["bonds_locked"] == params.provider_stake + params.challenger_bond
    # the game itself agrees: a cheat at the costliest node is isolated within the bound
    k = int(np.argmax(graph.flops))
    out = play(SyntheticComputation(graph, seed=0), PerturbNode(node=k), Honest(),
               params=DisputeParams(arity=arity), record=False)
    assert out.disputed_node == k and out.rounds <= bound
    assert out.referee_flops_share == pytest.approx(row["referee_share_max"])
    # and the table carries the same row
    in_table = table.set_index(["model", "approach"]).loc[(model, "optimistic")]
    assert in_table["extra_gpu_s_per_task"] == pytest.approx(row["extra_gpu_s_per_task"])


def test_table_shapes_and_bad_input(table):
    by = table.set_index(["model", "approach"])
    # redundancy: k - 1 extra inferences; zk proving dwarfs one inference at both scales
    red = by.loc[("llama-2-7b", "redundant")]
    assert red["extra_gpu_s_per_task"] == pytest.approx(2 * red["finality_s"])
    assert by.loc[("llama-2-7b", "zkml"), "finality_s"] > 100 * red["finality_s"]
    assert math.isnan(by.loc[("sdxl-base-1.0", "sampling"), "extra_gpu_s_per_task"])
    assert list(WHITEPAPER_TABLE_1.index) == ["Model size", "Proof Type", "Proof Speed", "Security"]
    with pytest.raises(ValueError, match="model = 'gpt-5'"):
        optimistic_row("gpt-5")
    with pytest.raises(ValueError, match="challenge_rate"):
        optimistic_row("llama-2-7b", challenge_rate=1.5)
    with pytest.raises(ValueError, match="utilization"):
        ReferenceDevice(utilization=0)
    with pytest.raises(ValueError, match="device name"):
        ReferenceDevice(name="abacus").seconds(1.0)
