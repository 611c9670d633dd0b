"""Provider benchmark -> speed row, Psi and Market rows; the CLI subcommands."""

from __future__ import annotations

import numpy as np
import pytest

from oasis_lab.__main__ import main
from oasis_lab.gpu import bench
from oasis_lab.market import Market, load_device_profiles, load_model_types


@pytest.fixture(scope="module")
def numpy_bench():
    return bench.benchmark_provider(backend="numpy", size="small", repeats=1)


def test_speed_row_is_family_throughput_over_flops_per_request(numpy_bench):
    types = load_model_types()
    pb = numpy_bench
    assert pb.model_types == tuple(types["name"])
    want = np.array([pb.family_gflops[f] for f in types["family"]]) / types["gflop_per_request"]
    fits = pb.memory_gb >= types["memory_gb"]
    assert np.allclose(pb.speed, np.where(fits, want, 0.0))
    assert pb.psi.shape == (4,) and pb.psi[0] == pytest.approx(pb.matmul_gflops / 1e3)
    # a mix's effective rate is bounded by its slowest and fastest op
    rates = dict(zip(pb.ops["op"], pb.ops["gflops"], strict=True))
    for family, rate in pb.family_gflops.items():
        mix = bench.family_mix(family)
        assert sum(mix.values()) == pytest.approx(1.0)
        assert min(rates[o] for o in mix) <= rate <= max(rates[o] for o in mix)


def test_family_mix_of_the_transformer_is_mostly_matmul():
    mix = bench.family_mix("llm")
    assert mix["matmul"] > 0.8 and set(mix) >= {"attention", "layernorm", "gelu", "softmax"}
    with pytest.raises(ValueError, match="family"):
        bench.family_mix("robotics")


def test_projected_rows_scale_measured_ratios_by_peak_flops(numpy_bench):
    table = bench.provider_table(numpy_bench)
    devices, types = load_device_profiles(), load_model_types()
    assert len(table) == len(devices) + 1
    assert table["source"].tolist() == ["measured"] + ["projected"] * len(devices)
    row = table.iloc[1]
    llm = types.iloc[0]
    ratio = numpy_bench.family_gflops[llm["family"]] / numpy_bench.matmul_gflops
    want = devices.iloc[0]["fp32_tflops"] * 1e3 * bench.WEBGPU_MATMUL_EFFICIENCY * ratio / llm["gflop_per_request"]
    assert row[f"speed[{llm['name']}]"] == pytest.approx(want)
    small = table["psi[memory_gb]"] < types["memory_gb"].max()
    assert (table.loc[small, "speed[sdxl-base-1.0]"] == 0).all()


def test_market_from_benchmark_rows(numpy_bench):
    table = bench.provider_table(numpy_bench)
    market = bench.market_from_benchmark(table, n_tasks=15, seed=3, providers=[0, 1, 5, 12])
    assert isinstance(market, Market) and market.n_providers == 4
    speed_cols = [c for c in table.columns if c.startswith("speed[")]
    assert np.allclose(market.speed, table.iloc[[0, 1, 5, 12]][speed_cols].to_numpy())
    assert market.psi_names == bench.PSI_NAMES
    assert (market.capacity >= 1).all()


def test_cli_kernels_check_and_bench(capsys):
    assert main(["kernels", "check", "--target", "relu", "--target", "quantized-mlp",
                 "--runs", "2", "--backend", "numpy"]) == 0
    out = capsys.readouterr().out
    assert "distinct_hashes" in out and "all deterministic" in out
    assert main(["bench", "--backend", "numpy", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "MEASURED" in out and "PROJECTED" in out and "speed[" in out
    assert main(["kernels", "check", "--target", "nope", "--backend", "numpy"]) == 2


def test_cli_without_an_adapter_says_how_to_install_one(monkeypatch, capsys):
    from oasis_lab.gpu import device

    monkeypatch.setattr(device, "_STATE", device._State(error="no WebGPU adapter found. (test)"))
    assert main(["kernels", "check", "--target", "relu", "--runs", "1"]) == 2
    assert "no WebGPU adapter" in capsys.readouterr().err
