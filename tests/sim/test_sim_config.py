"""SimConfig: validation at the boundary, errors naming the key, YAML/TOML files."""

from __future__ import annotations

from pathlib import Path

import pytest

from oasis_lab.disputes.params import DisputeParams
from oasis_lab.params import AuctionParams
from oasis_lab.sim import SimConfig, load_config
from oasis_lab.sim.config import CONFIG_DIR


def test_defaults_and_nested_params() -> None:
    c = SimConfig()
    assert isinstance(c.auction, AuctionParams) and isinstance(c.disputes, DisputeParams)
    assert c.challenge_probability == pytest.approx(1 - 0.95 * 0.99)
    assert SimConfig.from_dict(c.to_dict()) == c


def _written(path: Path) -> dict:
    """The file's own mapping, read by the YAML / TOML parser directly (not by load_config)."""
    import tomllib

    import yaml

    text = path.read_text()
    return tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)


def _differences(config: dict, written: dict, where: str = "") -> list[str]:
    """Keys whose value in ``config`` (SimConfig.to_dict) is not the value the file wrote."""
    out = []
    for key, value in written.items():
        have = config.get(key)
        if isinstance(value, dict) and isinstance(have, dict):
            out += _differences(have, value, f"{where}{key}.")
        elif have != value or isinstance(have, bool) != isinstance(value, bool):
            out.append(f"{where}{key}: file {value!r}, config {have!r}")
    return out


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIG_DIR.iterdir()))
def test_shipped_configs_load(name: str) -> None:
    # every key the file writes reaches the config with the value written (a key ignored or
    # misread, or a default standing in for it, is named), every other field keeps its default
    c = load_config(CONFIG_DIR / name)
    written = _written(CONFIG_DIR / name)
    assert written and not _differences(c.to_dict(), written), _differences(c.to_dict(), written)
    default = SimConfig().to_dict()
    untouched = {k: v for k, v in c.to_dict().items() if k not in written}
    assert untouched == {k: default[k] for k in untouched}
    assert SimConfig.from_dict(c.to_dict()) == c
    # a bare name is looked up in data/configs
    assert load_config(name) == c


@pytest.mark.parametrize(
    ("text", "error", "key"),
    [
        ("rounds: 10\nround_count: 3\n", ValueError, "round_count"),
        ("rounds: ten\n", TypeError, "rounds"),
        ("rounds: 0\n", ValueError, "rounds"),
        ("cheater_share: 1.5\n", ValueError, "cheater_share"),
        ("p_user: -0.1\n", ValueError, "p_user"),
        ("adversary: nonsense\n", ValueError, "adversary"),
        ("scenario: moon\n", ValueError, "scenario"),
        ("requeue_unserved: 1\n", TypeError, "requeue_unserved"),
        ("disputes:\n  slash_fraction: 2\n", ValueError, "disputes.slash_fraction"),
        ("disputes:\n  stake: 10\n", ValueError, "disputes.stake"),
        ("auction:\n  fee: 1.0\n", ValueError, "auction.fee"),
        ("auction: 3\n", TypeError, "auction"),
        ("token_unit: 0\n", ValueError, "token_unit"),
        ("n_types: 99\n", ValueError, "n_types"),
        ("- 1\n- 2\n", TypeError, "mapping"),
        ("computation: synthetic:1\n", ValueError, "computation"),
        ("computation: gpt-9\n", ValueError, "computation"),
    ],
)
def test_bad_yaml_names_the_key(tmp_path: Path, text: str, error: type, key: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(error, match=key.replace(".", r"\.")) as info:
        load_config(path)
    assert "bad.yaml" in str(info.value)


def test_bad_toml_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("rounds = 5\n[disputes]\narity = 1\n")
    with pytest.raises(ValueError, match=r"disputes\.arity = 1 must be >= 2"):
        load_config(path)


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "broken.yaml"
    bad.write_text("rounds: [1,\n")
    with pytest.raises(ValueError, match=r"broken.yaml' is not valid YAML: .* at line 2, column 1"):
        load_config(bad)
    other = tmp_path / "conf.json"
    other.write_text("{}")
    with pytest.raises(ValueError, match=r"\.yaml, \.yml or \.toml"):
        load_config(other)


def test_overrides_are_validated(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("rounds: 5\n")
    assert load_config(path, rounds=7).rounds == 7
    with pytest.raises(ValueError, match="rounds = -1"):
        load_config(path, rounds=-1)


def test_nested_overrides_merge_into_the_files_tables() -> None:
    """``disputes={...}`` and ``auction={...}`` as the YAML nests them: merged over the file's
    table (its other keys kept); a bad key or value is one error naming ``disputes.<key>``."""
    base = load_config("cheaters.yaml")
    c = load_config("cheaters.yaml", disputes={"provider_stake": 500, "slash_fraction": 0.5},
                    auction={"rebid_bump": 0.2}, rounds=3)
    assert (c.disputes.provider_stake, c.disputes.slash_fraction, c.auction.rebid_bump, c.rounds) == (500, 0.5, 0.2, 3)
    assert c.disputes.challenger_bond == base.disputes.challenger_bond  # the file's 100, not the default
    assert c.disputes.comparison == base.disputes.comparison and c.auction.price_rule == base.auction.price_rule
    assert load_config("cheaters.yaml", disputes=DisputeParams(provider_stake=7)).disputes.provider_stake == 7
    with pytest.raises(ValueError, match=r"cheaters\.yaml overrides: unknown key disputes\.provider_stak\b"):
        load_config("cheaters.yaml", disputes={"provider_stak": 500})
    with pytest.raises(ValueError, match=r"disputes\.slash_fraction.*2"):
        load_config("cheaters.yaml", disputes={"slash_fraction": 2.0})
    with pytest.raises(TypeError, match=r"disputes\.provider_stake"):
        load_config("cheaters.yaml", disputes={"provider_stake": "lots"})
    with pytest.raises(TypeError, match=r"disputes must be a table of DisputeParams fields"):
        load_config("cheaters.yaml", disputes=[("provider_stake", 1)])


def test_policies_overrides_merge_into_the_files_table() -> None:
    """``policies={role: {...}}`` as the YAML nests it: the role's named fields change, its other
    fields and the other roles keep the file's; a bad role, key or value is one error naming it."""
    base = load_config("learning.yaml")
    c = load_config("learning.yaml", policies={"challenger": {"n_challengers": 5}})
    assert c.policies.challenger.n_challengers == 5
    assert c.policies.challenger.learner == base.policies.challenger.learner  # the file's, kept
    assert c.policies.provider == base.policies.provider and c.policies.challenger.learning
    scripted = load_config("learning.yaml", policies={"provider": {"policy": "scripted"}})
    assert not scripted.policies.provider.learning and scripted.policies.challenger.learning
    with pytest.raises(ValueError, match=r"learning\.yaml overrides: unknown key policies\.auditor"):
        load_config("learning.yaml", policies={"auditor": {}})
    with pytest.raises(ValueError, match=r"unknown key policies\.challenger\.n_challenger\b"):
        load_config("learning.yaml", policies={"challenger": {"n_challenger": 5}})
    with pytest.raises(TypeError, match=r"policies\.provider must be a table"):
        load_config("learning.yaml", policies={"provider": "learning"})


def test_stake_overflow_is_refused() -> None:
    with pytest.raises(ValueError, match=r"disputes\.provider_stake"):
        SimConfig(token_unit=10**9, disputes=DisputeParams(provider_stake=10**8))


def test_frozen() -> None:
    c = SimConfig()
    with pytest.raises(AttributeError):
        c.rounds = 3  # type: ignore[misc]
    assert c.replace(rounds=3).rounds == 3


def test_a_bad_value_in_the_file_is_reported_even_when_overridden(tmp_path) -> None:
    # `simulate --rounds N` replaces the file's rounds; a bad value there is still an error.
    path = tmp_path / "bad.yaml"
    path.write_text("rounds: .nan\n")
    with pytest.raises(TypeError, match="rounds"):
        load_config(path, rounds=3)
    path.write_text("rounds: 7\n")
    assert load_config(path, rounds=3).rounds == 3
    with pytest.raises(ValueError, match="rounds"):
        load_config(path, rounds=0)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        # issue 21 item 14: reported challenger_costs inf
        ("challenge_cost: 1.0e+308\np_user: 1.0\n", r"challenge_cost = 1e\+308 must be <= 1000000.0"),
        # passed validation, then failed mid-run naming value[0]
        ("auction:\n  rebid_bump: 1.0e+308\n", r"auction.rebid_bump = 1e\+308 raises an unserved task's value"),
        ("max_wait: 400\n", r"auction.rebid_bump = 0.1 .* over max_wait = 400 rounds; it must be at most 1e\+15"),
        ("auction:\n  rebid_bump: 1.0e+12\n  rebid_mode: additive\n",
         r"auction.rebid_bump = 1000000000000.0 adds 1e\+13 tokens .* must be < 2\*\*53"),
        ("idle_cost: 1.0e+308\n", r"idle_cost = 1e\+308 must be <= 1000000000000.0"),
        ("extra_providers:\n  - {name: x, speed: [1.0e+300, 1, 1, 1], psi: [1, 1, 1, 1]}\n",
         r"extra provider 'x' speed\[0\] = 1e\+300 must be <= 1000000000000000.0"),
    ],
)
def test_what_can_overflow_is_bounded_at_validation(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as info:
        load_config(path)
    assert "big.yaml" in str(info.value)


def test_runs_at_the_bounds_stay_finite() -> None:
    import numpy as np

    from oasis_lab.sim import simulate

    small = dict(rounds=4, tasks_per_round=30, n_providers=6, computation="synthetic:8")
    costly = simulate(SimConfig(challenge_cost=1e6, p_user=1.0, idle_cost=1e12, **small), 0).summary()
    assert not np.isinf(costly.select_dtypes("number").to_numpy(dtype=float)).any()
    assert costly["challenger_costs"].iloc[0] > 0
    # the largest raise allowed over max_wait = 3 rounds: (1 + bump) ** 3 = 1e15
    bump = 1e5 - 1.0
    raised = simulate(SimConfig(max_wait=3, failure_probability=0.5, auction=AuctionParams(rebid_bump=bump),
                                scenario="scarce_supply", token_unit=1, **small), 0)
    assert not np.isinf(raised.rounds.select_dtypes("number").to_numpy(dtype=float)).any()
    assert raised.rounds["reauctioned_in"].sum() > 0  # tasks were raised
