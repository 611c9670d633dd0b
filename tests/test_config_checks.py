"""Every configuration checks every one of its fields through one mechanism: a table
``field -> check`` run by :func:`oasis_lab.checks.check_fields` (issue 23 item 5)."""

from __future__ import annotations

import dataclasses
from functools import partial

import pytest

from oasis_lab.checks import as_given, check_fields, check_fraction, check_int, check_real
from oasis_lab.disputes.params import DisputeParams
from oasis_lab.experiments import EXPERIMENTS
from oasis_lab.incentives.challenge import ChallengeGame
from oasis_lab.params import AuctionParams
from oasis_lab.sim.config import ExtraProvider, SimConfig

# the package's own experiments (tests register toy ones into the same registry)
CONFIGS = [AuctionParams, DisputeParams, SimConfig, ChallengeGame,
           *(c for c in EXPERIMENTS.values() if c.__module__.startswith("oasis_lab."))]


def _fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


@pytest.mark.parametrize(("cls", "field"), [(c, f) for c in CONFIGS for f in _fields(c)],
                         ids=lambda x: getattr(x, "__name__", x))
def test_every_field_refuses_a_bad_value_by_name(cls: type, field: str) -> None:
    # a field added without a check would take any object silently
    with pytest.raises((TypeError, ValueError), match=field):
        cls(**{field: object()})


@pytest.mark.parametrize("field", ["speed", "psi", "kind", "capacity", "cost"])
def test_extra_provider_fields_are_named_with_the_provider(field: str) -> None:
    good = {"name": "tab", "speed": (1.0, 2.0), "psi": (1.0, 1.0, 1.0, 1.0)}
    with pytest.raises((TypeError, ValueError), match=f"extra provider 'tab' {field}"):
        ExtraProvider(**{**good, field: object()})
    with pytest.raises(ValueError, match=r"extra provider 'tab' speed\[1\] = -1 must be >= 0"):
        ExtraProvider(**{**good, "speed": (1.0, -1)})


@dataclasses.dataclass(frozen=True)
class _Run:
    rounds: int = 10
    p_user: float = 0.05
    stake: float = 1000

    def __post_init__(self) -> None:
        check_fields(self, {
            "rounds": partial(check_int, minimum=1),
            "p_user": check_fraction,
            "stake": as_given(partial(check_real, minimum=0)),
        }, prefix="run.")


def test_check_fields_normalises_in_order_and_keeps_values_as_given_where_asked() -> None:
    run = _Run(p_user=0, stake=5)
    assert run.p_user == 0.0 and isinstance(run.p_user, float)  # normalised
    assert run.stake == 5 and isinstance(run.stake, int)  # checked, kept as written
    with pytest.raises(ValueError, match=r"^run\.rounds = 0 must be >= 1$"):
        _Run(rounds=0, p_user=2.0)  # the first field in the table is reported
    with pytest.raises(ValueError, match=r"^run\.stake = -1 must be >= 0$"):
        _Run(stake=-1)


def test_configs_keep_their_written_numbers() -> None:
    # a config's identity (its JSON, its hash for resumed sweeps) must not change with the checks
    assert type(AuctionParams(alpha=3).alpha) is int
    assert type(DisputeParams(slash_fraction=1).slash_fraction) is int
    assert type(SimConfig(p_user=0).p_user) is float  # SimConfig normalises, as it always did
    assert AuctionParams(psi_weights=[1, 2]).psi_weights == (1.0, 2.0)
