"""Market data model: validation, views, persistence and seeded generators."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oasis_lab.files import is_temp_file
from oasis_lab.market import (
    SCENARIOS,
    Market,
    MarketDtypeError,
    generate_market,
    load_device_profiles,
    load_model_types,
)


def small_market(**changes) -> Market:
    fields = dict(
        demand=[[2, 0], [1, 1], [0, 3]],
        value=[30.0, 25.0, 40.0],
        speed=[[1.0, 0.5], [2.0, 0.0]],
        capacity=[4, 3],
        cost=[10.0, 8.0],
        psi=[[1.0, 2.0], [0.5, 1.0]],
        model_types=("llm", "diffusion"),
    )
    fields.update(changes)
    return Market(**fields)


# ---------------------------------------------------------------- construction
def test_small_market_fields_and_views() -> None:
    m = small_market()
    assert (m.n_tasks, m.n_providers, m.n_types) == (3, 2, 2)
    assert m.demand.dtype == np.float64 and not m.demand.flags.writeable
    np.testing.assert_array_equal(m.task_units, [2, 2, 3])
    np.testing.assert_allclose(m.provider_unit_cost, [10 / 1.5, 8 / 2.0])
    tasks, providers = m.tasks, m.providers
    assert isinstance(tasks, pd.DataFrame) and list(tasks.index) == [0, 1, 2]
    assert tasks.loc[2, "value_per_unit"] == pytest.approx(40 / 3)
    assert providers.loc[1, "runnable_types"] == 1
    assert providers.loc[0, "psi[psi_1]"] == 2.0
    np.testing.assert_array_equal(m.priority, [0, 0, 0])


def test_inputs_are_copied_not_aliased() -> None:
    demand = np.array([[1.0]])
    m = small_market(demand=demand, value=[1.0], model_types=("a",), speed=[[1.0], [1.0]])
    demand[0, 0] = 99
    assert m.demand[0, 0] == 1.0
    with pytest.raises(ValueError):
        m.demand[0, 0] = 5.0  # read-only


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"capacity": [4, -1.0]}, r"capacity\[1\] = -1.0 must be >= 0"),
        ({"demand": [[2, 0], [1, -1], [0, 3]]}, r"demand\[1, 1\] = -1.0 must be >= 0"),
        ({"value": [30.0, np.nan, 40.0]}, r"value\[1\] = nan must be finite"),
        ({"value": [30.0, 0.0, 40.0]}, r"value\[1\] = 0.0 must be > 0"),
        ({"cost": [np.inf, 1.0]}, r"cost\[0\] = inf must be finite"),
        ({"speed": [[1.0, -0.5], [2.0, 0.0]]}, r"speed\[0, 1\] = -0.5 must be >= 0"),
        ({"psi": [[1.0, np.nan], [0.5, 1.0]]}, r"psi\[0, 1\] = nan must be finite"),
        ({"value": [30.0, 25.0]}, r"value has length 2 but there are 3 tasks"),
        ({"capacity": [1.0, 2.0, 3.0]}, r"capacity has length 3 but there are 2 providers"),
        ({"speed": [[1.0], [2.0]]}, r"speed has 1 model-type columns but demand has 2"),
        ({"psi": [[1.0, 2.0]]}, r"psi has 1 rows but there are 2 providers"),
        ({"demand": [2, 1, 0]}, r"demand must be 2-dimensional, got shape \(3,\)"),
        ({"model_types": ("llm",)}, r"model_types has 1 names but the arrays have 2 columns"),
        ({"model_types": ("llm", "llm")}, r"model_types must be unique"),
        ({"size": [1.0, -2.0, 3.0]}, r"size\[1\] = -2.0 must be >= 0"),
        ({"priority": [0, -1, 0]}, r"priority\[1\] = -1 must be >= 0"),
        ({"demand": np.zeros((0, 2)), "value": np.zeros(0)}, r"needs at least one task"),
        ({"speed": np.zeros((0, 2)), "capacity": [], "cost": [], "psi": np.zeros((0, 2))},
         r"needs at least one provider"),
    ],
)
def test_bad_values_raise_clear_value_error(changes, message) -> None:
    with pytest.raises(ValueError, match=message):
        small_market(**changes)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"value": ["a", "b", "c"]}, r"value must hold real numbers.*dtype <U1"),
        ({"capacity": np.array([True, False])}, r"capacity must hold real numbers.*dtype bool"),
        ({"demand": np.array([[1 + 1j, 0], [1, 1], [0, 3]])}, r"demand must hold real numbers.*complex"),
        ({"priority": [0.5, 0.0, 0.0]}, r"priority must hold integers"),
        ({"model_types": "llm"}, r"model_types must be a sequence of strings"),
    ],
)
def test_wrong_dtypes_raise_type_and_value_error(changes, message) -> None:
    with pytest.raises(MarketDtypeError, match=message) as info:
        small_market(**changes)
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)


def test_ragged_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="demand"):
        small_market(demand=[[1, 2], [3]])


def test_zero_demand_rows_and_idle_providers_are_allowed() -> None:
    m = small_market(demand=[[0, 0], [1, 1], [0, 3]], speed=[[0.0, 0.0], [2.0, 0.0]])
    assert m.task_units[0] == 0
    assert np.isinf(m.provider_unit_cost[0])


def test_replace_validates() -> None:
    m = small_market()
    assert m.replace(capacity=[1, 1]).capacity.tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match=r"capacity\[0\]"):
        m.replace(capacity=[-1, 1])
    with pytest.raises(ValueError, match="unknown Market field"):
        m.replace(colour=1)


# ---------------------------------------------------------------- persistence
def test_save_load_round_trip_is_exact(tmp_path) -> None:
    m = generate_market(300, 40, scenario="heterogeneous", seed=7)
    m = m.replace(priority=np.arange(m.n_tasks) % 3)
    path = m.save(tmp_path / "market.npz")
    loaded = Market.load(path)
    assert loaded.equals(m)
    assert loaded.model_types == m.model_types and loaded.psi_names == m.psi_names
    assert not loaded.equals(m.replace(value=m.value * 2))


def test_save_without_size_round_trips(tmp_path) -> None:
    m = small_market()
    assert Market.load(m.save(tmp_path / "m")).equals(m)
    assert (tmp_path / "m.npz").exists()


def test_load_missing_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Market.load(tmp_path / "nope.npz")


def test_load_corrupt_file(tmp_path) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(ValueError, match="corrupt"):
        Market.load(bad)


def test_load_file_lacking_fields(tmp_path) -> None:
    path = tmp_path / "partial.npz"
    np.savez(path, demand=np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"lacks field\(s\)"):
        Market.load(path)


def test_failed_save_keeps_the_earlier_file(tmp_path, monkeypatch) -> None:
    m = small_market()
    path = m.save(tmp_path / "keep.npz")
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(OSError, match="disk full"):
        m.replace(value=[1.0, 2.0, 3.0]).save(path)
    assert path.read_bytes() == before


# ---------------------------------------------------------------- generators
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_generate_market_is_seeded_and_valid(scenario) -> None:
    a = generate_market(500, 60, scenario=scenario, seed=11)
    b = generate_market(500, 60, scenario=scenario, seed=11)
    c = generate_market(500, 60, scenario=scenario, seed=12)
    assert a.equals(b)
    assert not a.equals(c)
    assert (a.task_units > 0).all()
    assert a.model_types == tuple(load_model_types()["name"][:4])


def test_generate_market_accepts_a_generator() -> None:
    a = generate_market(50, 10, seed=np.random.default_rng(3))
    b = generate_market(50, 10, seed=np.random.default_rng(3))
    assert a.equals(b)


def test_scenarios_differ_as_described() -> None:
    n_t, n_p = 4000, 800
    markets = {s: generate_market(n_t, n_p, scenario=s, seed=5) for s in SCENARIOS}
    demand = markets["balanced"].task_units.sum()
    ratio = {s: m.capacity.sum() / demand for s, m in markets.items()}
    assert 0.85 < ratio["balanced"] < 1.15
    assert 0.2 < ratio["scarce_supply"] < 0.4
    assert 2.5 < ratio["abundant_supply"] < 3.5
    # heterogeneous: many providers cannot run the large model types (LLM, SDXL)
    cannot = {s: (m.speed[:, :2] == 0).any(axis=1).mean() for s, m in markets.items()}
    assert cannot["heterogeneous"] > 0.75 > cannot["balanced"]
    # price_crossing: many provider per-unit prices above task per-unit prices
    def crossing(m: Market) -> float:
        tasks = m.value / m.task_units
        prov = m.provider_unit_cost[np.isfinite(m.provider_unit_cost)]
        return (np.median(prov) > tasks).mean()
    assert crossing(markets["price_crossing"]) > 0.3 > 0.05 > crossing(markets["balanced"])


def test_speed_zero_exactly_where_memory_does_not_fit() -> None:
    m = generate_market(10, 400, scenario="balanced", seed=2)
    need = load_model_types()["memory_gb"].to_numpy()[:4]
    memory = m.psi[:, m.psi_names.index("memory_gb")]
    np.testing.assert_array_equal(m.speed > 0, memory[:, None] >= need[None, :])


def test_generator_uses_shipped_device_profiles() -> None:
    devices = load_device_profiles()
    m = generate_market(10, 300, seed=4)
    assert set(np.unique(m.psi[:, 0])) <= set(devices["fp32_tflops"])


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(n_tasks=0, n_providers=5), ValueError, "n_tasks = 0 must be >= 1"),
        (dict(n_tasks=5, n_providers=-1), ValueError, "n_providers = -1 must be >= 1"),
        (dict(n_tasks=5.0, n_providers=5), TypeError, "n_tasks must be an int"),
        (dict(n_tasks=5, n_providers=5, n_types=99), ValueError, "n_types = 99 exceeds"),
        (dict(n_tasks=5, n_providers=5, scenario="bogus"), ValueError, "scenario = 'bogus' is unknown"),
    ],
)
def test_generate_market_bad_arguments(kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        generate_market(**kwargs)


def test_summary_by_hand() -> None:
    row = small_market().summary().iloc[0]
    assert row["demand_units"] == 7 and row["capacity_units"] == 7
    assert row["supply_ratio"] == 1.0
    # task unit prices 15, 12.5, 13.33; provider unit prices 6.67, 4 -> median 5.33
    assert row["median_task_unit_price"] == pytest.approx(40 / 3)
    assert row["median_provider_unit_price"] == pytest.approx((10 / 1.5 + 4) / 2)
    assert row["tasks_below_median_provider_price"] == 0.0
    assert row["cannot_run[diffusion]"] == 0.5 and row["cannot_run[llm]"] == 0.0


def test_time_markets_are_priced_per_second_and_per_type() -> None:
    m = generate_market(3000, 400, scenario="balanced", seed=9, capacity_unit="time")
    assert m.equals(generate_market(3000, 400, scenario="balanced", seed=9, capacity_unit="time"))
    units = generate_market(3000, 400, scenario="balanced", seed=9)
    # same devices and demand; only capacity, cost and value change meaning
    np.testing.assert_array_equal(m.speed, units.speed)
    np.testing.assert_array_equal(m.demand, units.demand)
    assert np.median(m.cost) == pytest.approx(10.0)
    # capacity in seconds: about the time the demand takes at median speeds
    runnable = m.speed > 0
    seconds = np.nanmedian(np.where(runnable, 1 / np.where(runnable, m.speed, 1), np.nan), axis=0)
    demand_seconds = m.demand.sum(axis=0) @ seconds
    assert 0.8 < m.capacity.sum() / demand_seconds < 1.2
    assert (m.capacity[~runnable.any(axis=1)] == 0).all()
    # an SDXL-only task is worth far more than a ResNet-only one with as many units
    sdxl = (m.demand[:, 1] > 0) & (m.demand.sum(axis=1) == m.demand[:, 1])
    resnet = (m.demand[:, 3] > 0) & (m.demand.sum(axis=1) == m.demand[:, 3])
    per_unit = m.value / m.task_units
    assert np.median(per_unit[sdxl]) > 100 * np.median(per_unit[resnet])


def test_capacity_unit_is_validated() -> None:
    with pytest.raises(ValueError, match="capacity_unit = 'hours' is not one of"):
        generate_market(5, 5, capacity_unit="hours")


def test_model_type_flops_match_the_op_level_graphs() -> None:
    """The auction's FLOPs per request and the disputes' graph profiles describe the same models."""
    from oasis_lab.disputes.profiles import profile_graph

    types = load_model_types().set_index("name")
    for name, graph in (("llama-2-7b-chat", "llama-2-7b"), ("sdxl-base-1.0", "sdxl-base-1.0")):
        total_gflop = profile_graph(graph).flops.sum() / 1e9
        assert types.loc[name, "gflop_per_request"] == pytest.approx(total_gflop, rel=1e-3)


# ---------------------------------------------------------------- persistence under stress
_SAVER = """
import sys
from oasis_lab.market import generate_market
market = generate_market(400, 60, seed=int(sys.argv[2]))
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.readline()  # start together with the other writer
for _ in range(int(sys.argv[3])):
    market.save(sys.argv[1])
"""


def test_concurrent_saves_leave_one_complete_market(tmp_path) -> None:
    """Two processes saving different markets to one path: always one of the two, complete."""
    root = Path(__file__).resolve().parent.parent
    target = tmp_path / "shared.npz"
    markets = {seed: generate_market(400, 60, seed=seed) for seed in (1, 2)}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _SAVER, str(target), str(seed), "40"],
            cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        for seed in markets
    ]
    for w in writers:
        assert w.stdout.readline().strip() == "ready"
    for w in writers:
        w.stdin.write("go\n")
        w.stdin.flush()
    seen = set()
    while any(w.poll() is None for w in writers):
        if target.exists():
            loaded = Market.load(target)  # never a torn or mixed file
            seen.add(next(s for s, m in markets.items() if loaded.equals(m)))
    assert [w.wait() for w in writers] == [0, 0]
    final = Market.load(target)
    assert any(final.equals(m) for m in markets.values())
    assert [p.name for p in tmp_path.iterdir()] == ["shared.npz"]  # no temporary file left
    assert seen  # the reader did read while the writers ran


def test_save_onto_a_directory_is_refused(tmp_path) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    with pytest.raises(ValueError, match="is a directory"):
        small_market().save(folder)
    (tmp_path / "results.npz").mkdir()  # save("results") would write results.npz: a folder too
    with pytest.raises(ValueError, match="is a directory"):
        small_market().save(tmp_path / "results")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results", "results.npz"]
    assert list(folder.iterdir()) == []


def test_save_into_a_missing_folder_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        small_market().save(tmp_path / "no" / "such" / "m.npz")


def test_every_byte_flip_gives_the_documented_value_error(tmp_path) -> None:
    """Every single-byte flip is refused with ValueError naming the file (format 3 is checksummed)."""
    market = small_market(size=[1.0, 2.0, 3.0])
    raw = market.save(tmp_path / "m.npz").read_bytes()
    damaged = tmp_path / "damaged.npz"
    outcomes = {"same": 0, "refused": 0}
    for k in range(len(raw)):
        flipped = bytearray(raw)
        flipped[k] ^= 0xFF
        damaged.write_bytes(bytes(flipped))
        try:
            loaded = Market.load(damaged)
        except ValueError as exc:
            assert str(damaged) in str(exc)
            outcomes["refused"] += 1
            continue
        assert loaded.equals(market), f"flip at byte {k} loaded a different market"
        outcomes["same"] += 1
    assert outcomes == {"same": 0, "refused": len(raw)}  # the checksum catches every flip


def test_truncated_files_are_refused(tmp_path) -> None:
    raw = small_market().save(tmp_path / "m.npz").read_bytes()
    cut = tmp_path / "cut.npz"
    for n in range(0, len(raw), 7):
        cut.write_bytes(raw[:n])
        with pytest.raises(ValueError, match="corrupt"):
            Market.load(cut)


def test_a_killed_save_leaves_a_temporary_file_that_load_ignores_and_save_removes(tmp_path) -> None:
    target = small_market().save(tmp_path / "m.npz")
    # a save killed mid-write: its temporary file, named for a process that no longer runs
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    host = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname())
    stray = tmp_path / f".m.npz.{host}-{int(dead.stdout)}.00112233445566ff.tmp"
    stray.write_bytes(b"PK\x03\x04 half a market")
    assert is_temp_file(stray)
    assert Market.load(target).equals(small_market())  # the good file is untouched
    with pytest.raises(ValueError, match="temporary file of an unfinished save"):
        Market.load(stray)
    small_market(value=[1.0, 2.0, 3.0]).save(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_load_of_a_npy_array_names_the_problem(tmp_path) -> None:
    path = tmp_path / "demand.npy"
    np.save(path, np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"single \.npy array, not an \.npz market"):
        Market.load(path)


def test_load_of_a_directory_is_a_value_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="is a directory"):
        Market.load(tmp_path)


def test_load_of_version_1_files_still_works(tmp_path) -> None:
    m = small_market()
    path = tmp_path / "v1.npz"
    np.savez_compressed(path, format_version=np.array(1), demand=m.demand, value=m.value, speed=m.speed,
                        capacity=m.capacity, cost=m.cost, psi=m.psi, priority=m.priority,
                        model_types=np.array(m.model_types), psi_names=np.array(m.psi_names))
    assert Market.load(path).equals(m)


def test_a_version_3_file_without_its_checksum_is_refused(tmp_path) -> None:
    import zipfile

    path = small_market().save(tmp_path / "m.npz")
    with zipfile.ZipFile(path, "a") as archive:
        archive.comment = b""  # the checksum removed: the zip itself is intact
    with pytest.raises(ValueError, match="is corrupt: its checksum is missing"):
        Market.load(path)


def test_load_of_arrays_that_make_no_market_names_the_file(tmp_path) -> None:
    m = small_market()
    path = tmp_path / "bad.npz"
    np.savez_compressed(path, format_version=np.array(1), demand=m.demand, value=-m.value, speed=m.speed,
                        capacity=m.capacity, cost=m.cost, psi=m.psi, model_types=np.array(m.model_types))
    with pytest.raises(ValueError, match=r"holds an invalid market: value\[0\] = -30.0 must be > 0"):
        Market.load(path)


# ---------------------------------------------------------------- arrays that would lie
@pytest.mark.parametrize("field", ["demand", "value", "speed", "capacity", "cost", "psi", "size", "priority"])
def test_masked_arrays_are_refused(field) -> None:
    m = small_market(size=[1.0, 2.0, 3.0])
    data = getattr(m, field)
    masked = np.ma.masked_array(data, mask=np.zeros(data.shape, bool))
    masked.mask.flat[0] = True
    with pytest.raises(MarketDtypeError, match=rf"{field} must be a plain array, got a masked array"):
        m.replace(**{field: masked})


def test_uint64_priorities_beyond_int64_are_named_not_wrapped() -> None:
    big = np.array([0, 2**64 - 1, 5], dtype=np.uint64)
    with pytest.raises(ValueError, match=r"priority\[1\] = 18446744073709551615 exceeds the int64 limit"):
        small_market(priority=big)
    ok = small_market(priority=np.array([0, 2**63 - 1, 5], dtype=np.uint64))
    assert ok.priority[1] == 2**63 - 1
