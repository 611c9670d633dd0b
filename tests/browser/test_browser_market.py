"""Browser providers join the simulated market (issue 13 item 3): measured in their page,
added to a SimConfig, trading in simulate; a throttled one runs its whole browser on fewer
cores."""

from __future__ import annotations

import os

import numpy as np
import pytest

from oasis_lab.browser import BrowserProvider
from oasis_lab.browser.market import browser_providers, join_market, market_provider
from oasis_lab.market import load_model_types
from oasis_lab.sim import SimConfig, simulate
from oasis_lab.sim.config import ExtraProvider


def _small() -> SimConfig:
    return SimConfig(rounds=4, tasks_per_round=80, n_providers=8, p_user=0.5, computation="synthetic:16")


@pytest.mark.browser
def test_measured_browser_providers_trade_in_the_simulation(chromium) -> None:
    honest = market_provider(chromium, repeats=1)
    assert honest.kind == "honest" and honest.name == f"browser:{chromium.name}"
    assert len(honest.speed) == len(load_model_types()) and max(honest.speed) > 0
    assert honest.psi[0] > 0 and honest.psi[1] > 0
    other = ExtraProvider(name="browser:variant", speed=honest.speed, psi=honest.psi, kind="other_device")
    config = join_market(_small(), [honest, other])
    assert config.extra_providers == (honest, other)
    res = simulate(config, 3)
    p = res.providers
    n = config.n_providers
    assert list(p["name"].iloc[n:]) == [honest.name, other.name]
    assert list(p["kind"].iloc[n:]) == ["honest", "other_device"]
    # priced like the median provider (the reading for a provider with no measured cost), a
    # measured browser wins work
    assert p["jobs"].iloc[n:].sum() > 0
    # the run differs from the market without them, and the config survives Parquet metadata
    assert not res.rounds["welfare"].equals(simulate(_small(), 3).rounds["welfare"])
    assert SimConfig.from_dict(config.to_dict()) == config


@pytest.mark.browser
def test_browser_providers_launches_throttled_variant_browsers(chromium_path) -> None:
    (one,) = browser_providers(1, cpus=[1], variants=["builtin-exp"], repeats=1)
    assert one.kind == "other_device" and one.psi[3] == 1.0
    assert one.name == "browser:browser-0 (variant builtin-exp, 1 cpu)"
    with BrowserProvider("pinned", cpus=1) as b:
        allowed = {min(os.sched_getaffinity(0))}
        pids = [int(t) for t in os.listdir("/proc") if t.isdigit() and _pgid(int(t)) == b.pid]
        assert len(pids) >= 2  # the browser and its GPU/renderer processes
        assert all(os.sched_getaffinity(pid) == allowed for pid in pids)


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def test_bad_arguments_are_refused_before_any_browser_starts() -> None:
    with pytest.raises(ValueError, match="k"):
        browser_providers(0)
    with pytest.raises(ValueError, match="cpus must be a sequence of 2"):
        browser_providers(2, cpus=[1])
    with pytest.raises(ValueError, match="variant = 'fast'"):
        browser_providers(1, variants=["fast"])
    with pytest.raises(ValueError, match="kind = 'saint'"):
        browser_providers(1, kinds=["saint"])
    with pytest.raises(ValueError, match="cpus"):
        browser_providers(1, cpus=[len(os.sched_getaffinity(0)) + 1])
    with pytest.raises(TypeError, match="config must be a SimConfig"):
        join_market({}, [])  # type: ignore[arg-type]


def test_extra_provider_settings_are_named() -> None:
    speed = (1.0, 0.5, 2.0, 3.0)
    with pytest.raises(ValueError, match="psi has 3 values"):
        ExtraProvider("x", speed, (1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="every speed is 0"):
        ExtraProvider("x", (0.0,) * 4, (1.0,) * 4)
    with pytest.raises(ValueError, match="kind = 'saint'"):
        ExtraProvider("x", speed, (1.0,) * 4, kind="saint")
    with pytest.raises(ValueError, match="n_types = 4"):
        SimConfig(extra_providers=(ExtraProvider("x", (1.0, 2.0), (1.0,) * 4),))
    with pytest.raises(ValueError, match="unknown key extra_providers.spead"):
        SimConfig.from_dict({"extra_providers": [{"name": "x", "spead": [1, 2, 3, 4], "psi": [1, 1, 1, 1]}]})
    cfg = SimConfig.from_dict({"extra_providers": [{"name": "x", "speed": [1, 2, 3, 4], "psi": [1, 1, 1, 1],
                                                    "cost": 5.0, "capacity": 7.0}]})
    res = simulate(cfg.replace(rounds=2, tasks_per_round=40, n_providers=5), 0)
    assert res.providers["name"].iloc[-1] == "x"
    assert np.isclose(res.providers["stake"].iloc[-1], cfg.disputes.provider_stake)
