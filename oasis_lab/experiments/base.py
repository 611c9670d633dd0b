"""An experiment is a frozen config dataclass and a pure ``run(config, seed) -> DataFrame``.

Every study the notebooks and ``docs/mechanism.md`` quote is a subclass of
:class:`ExperimentConfig` registered in :data:`EXPERIMENTS` under its :attr:`name`. Its fields
are the study's parameters (scalars, strings, booleans and tuples of them, so that a config is
hashable, written to Parquet and read from YAML); its ``_run(seed)`` draws every random number
from :mod:`oasis_lab.seeding` streams of ``seed`` (never a global state, never one seed for
two purposes), so the same config and seed give the same frame in any process. A config
checks its fields in ``__post_init__`` with :mod:`oasis_lab.checks`, so a bad value fails when
the config is built, naming the field, before any work starts: each subclass states its fields'
checks as one table, :attr:`ExperimentConfig.checks` (``field -> check``, run by
:func:`oasis_lab.checks.check_fields`), and the rules that tie fields together in
:meth:`ExperimentConfig.validate`.

Examples
--------
>>> from oasis_lab.experiments import EXPERIMENTS, run
>>> config = EXPERIMENTS["deterrence"](n_tasks=50, n_nodes=16)
>>> run(config, seed=1).equals(run(config, seed=1))
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

import pandas as pd

from oasis_lab.checks import FieldCheck, check_fields
from oasis_lab.seeding import check_seed

__all__ = ["EXPERIMENTS", "ExperimentConfig", "experiment_class", "register", "run"]

#: Registered experiments by name.
EXPERIMENTS: dict[str, type[ExperimentConfig]] = {}

C = TypeVar("C", bound="type[ExperimentConfig]")


def register(cls: C) -> C:
    """Class decorator: add an :class:`ExperimentConfig` subclass to :data:`EXPERIMENTS`."""
    name = cls.name
    if name in EXPERIMENTS and EXPERIMENTS[name] is not cls:
        raise ValueError(f"experiment name {name!r} is already registered")
    EXPERIMENTS[name] = cls
    return cls


def experiment_class(experiment: Any) -> type[ExperimentConfig]:
    """The config class of ``experiment``: a registered name, a config class or an instance."""
    if isinstance(experiment, str):
        if experiment not in EXPERIMENTS:
            raise ValueError(f"experiment = {experiment!r} is unknown; choose among {sorted(EXPERIMENTS)}")
        return EXPERIMENTS[experiment]
    if isinstance(experiment, ExperimentConfig):
        return type(experiment)
    if isinstance(experiment, type) and issubclass(experiment, ExperimentConfig):
        return experiment
    raise TypeError(
        f"experiment must be an experiment name, an ExperimentConfig class or instance, got "
        f"{type(experiment).__name__} {experiment!r}"
    )


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """Base of the experiment configs: a frozen dataclass whose fields are the parameters.

    Subclasses set :attr:`name`, declare fields with defaults, state each field's check in
    :attr:`checks`, the rules that tie fields together in :meth:`validate`, and implement
    :meth:`_run`.
    """

    name: ClassVar[str] = ""
    #: ``field -> check`` (:data:`oasis_lab.checks.FieldCheck`): each field checked, and kept as
    #: the check returns it, when the config is built (:func:`oasis_lab.checks.check_fields`).
    checks: ClassVar[Mapping[str, FieldCheck]] = {}

    def __post_init__(self) -> None:
        check_fields(self, self.checks)
        self.validate()

    def validate(self) -> None:
        """Check what the :attr:`checks` table cannot (fields together); raise
        ``TypeError``/``ValueError`` naming the fields. Nothing by default."""

    def _set(self, field: str, value: Any) -> None:
        # frozen dataclass: validation may normalise a value (an int given for a float, a
        # list read from YAML for a tuple)
        object.__setattr__(self, field, value)

    def _run(self, seed: int) -> pd.DataFrame:
        raise NotImplementedError(f"{type(self).__name__} does not implement _run")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def check_keys(cls, keys: Any, what: str = "config") -> None:
        """Raise ``ValueError`` naming the first key that is not a field of this experiment."""
        known = cls.field_names()
        for key in keys:
            if key not in known:
                raise ValueError(
                    f"{what} key {key!r} is not a parameter of experiment {cls.name!r}; "
                    f"its parameters are {list(known)}"
                )

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ExperimentConfig:
        """Build a config from a mapping (e.g. YAML); unknown keys are refused by name."""
        if not isinstance(values, Mapping):
            raise TypeError(f"config of {cls.name!r} must be a mapping, got {type(values).__name__}")
        cls.check_keys(values)
        return cls(**{k: _tupled(v) for k, v in values.items()})

    def replace(self, **changes: Any) -> ExperimentConfig:
        """A checked copy with some fields changed (unknown keys are refused by name)."""
        self.check_keys(changes)
        return dataclasses.replace(self, **{k: _tupled(v) for k, v in changes.items()})

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (tuples as lists), for JSON and YAML."""
        return {f: _listed(getattr(self, f)) for f in self.field_names()}


def _tupled(value: Any) -> Any:
    return tuple(_tupled(v) for v in value) if isinstance(value, list) else value


def _listed(value: Any) -> Any:
    return [_listed(v) for v in value] if isinstance(value, tuple) else value


def run(config: ExperimentConfig, seed: int) -> pd.DataFrame:
    """Run one experiment: a pure function of ``(config, seed)``.

    Parameters
    ----------
    config : ExperimentConfig
        A registered experiment's config.
    seed : int
        The root seed; every random draw of the experiment comes from
        :func:`oasis_lab.seeding.stream` of it.

    Returns
    -------
    pandas.DataFrame
        The experiment's rows (its own columns; :func:`~oasis_lab.experiments.sweep.sweep`
        adds the grid point and the seed).
    """
    if not isinstance(config, ExperimentConfig):
        raise TypeError(f"config must be an ExperimentConfig, got {type(config).__name__}")
    seed = check_seed(seed)
    frame = config._run(seed)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"experiment {config.name!r} returned {type(frame).__name__}, not a DataFrame")
    return frame.reset_index(drop=True)
