"""Op-level profiles of Llama-2-7B and SDXL: shipped CSVs, published parameter counts, FLOPs."""

import numpy as np
import pandas as pd
import pytest

from oasis_lab.disputes.profiles import (
    PROFILES,
    generate_profile,
    graph_from_profile,
    llama2_7b_profile,
    load_profile,
    profile_graph,
    sdxl_base_profile,
)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_shipped_csv_equals_fresh_generation(name):
    pd.testing.assert_frame_equal(load_profile(name), generate_profile(name))


def test_llama_published_counts():
    f = llama2_7b_profile()
    assert f["params"].sum() == 6_738_415_616  # Llama-2-7B
    assert len(f) == 1 + 32 * 17 + 3
    T, d = 768, 4096
    q = f.set_index("name").loc["layers.0.self_attn.q_proj"]
    assert q.flops == 2 * T * d * d and q.output_bytes == T * d * 2
    # the matmuls dominate: 2 x (non-embedding params) x tokens, plus causal attention
    matmul = f.loc[f.op == "matmul", "flops"].sum()
    assert matmul == 2 * T * (6_738_415_616 - 32000 * 4096 - 65 * 4096)
    attn = f.loc[f.op.str.startswith("attention"), "flops"].sum()
    assert attn == 32 * 2 * 2 * 32 * (T * (T + 1) // 2) * 128


def test_sdxl_published_counts():
    f = sdxl_base_profile()
    by_stage = f.groupby("stage")["params"].sum()
    assert by_stage["unet"] == 2_567_463_684  # SDXL base UNet
    assert by_stage["text_encoder"] == 123_060_480  # CLIP ViT-L/14 text model
    assert by_stage["text_encoder_2"] == 694_659_840  # OpenCLIP ViT-bigG/14 text + projection
    conv_in = f.set_index("name").loc["unet.conv_in"]
    assert conv_in.flops == 2 * 4 * 320 * 9 * 2 * 128 * 128 + 320 * 2 * 128 * 128
    assert set(f.loc[f.stage.isin(["unet", "scheduler"]), "repeat"]) == {30}


def test_unrolling_and_loop_edges():
    f = sdxl_base_profile(steps=3)
    g = graph_from_profile(f, "sdxl-3")
    n_body = int((f.repeat > 1).sum())
    assert g.n_nodes == len(f) + 2 * n_body
    idx = {n: i for i, n in enumerate(g.node_names)}
    # step s reads the previous step's scheduler output; step 0 reads the public noise
    assert list(g.inputs_of(idx["step00/unet.conv_in"])) == []
    assert list(g.inputs_of(idx["step02/unet.conv_in"])) == [idx["step01/scheduler.step"]]
    # after the loop, the VAE reads the last step; every step reads the one prompt encoding
    assert list(g.inputs_of(idx["vae.scale_latents"])) == [idx["step02/scheduler.step"]]
    k = idx["step02/unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k"]
    assert list(g.inputs_of(k)) == [idx["prompt_embeds"]]
    np.testing.assert_array_equal(np.diff(g.indptr) >= 0, True)


def test_profile_errors():
    with pytest.raises(ValueError, match="not one of"):
        load_profile("gpt-5")
    with pytest.raises(FileNotFoundError):
        load_profile("/nonexistent/x.csv")
    bad = llama2_7b_profile(layers=1).assign(repeat=[1, 2] + [1] * 18 + [2])
    with pytest.raises(ValueError, match="contiguous"):
        graph_from_profile(bad, "bad")
    assert profile_graph("llama-2-7b").n_nodes == 548
