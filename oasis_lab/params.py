"""Frozen, validated parameters: every whitepaper reading is a field here.

See ``docs/mechanism.md`` for what each reading means and what it changes, measured.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from functools import partial
from typing import Any

from oasis_lab.checks import (
    FieldCheck,
    as_given,
    check_bool,
    check_choice,
    check_fields,
    check_optional,
    check_real,
    check_reals,
)

__all__ = ["AuctionParams", "CHOICES", "ParamsMixin"]

#: The allowed values of each string-valued reading of :class:`AuctionParams`.
CHOICES: dict[str, tuple[str, ...]] = {
    "task_size": ("units", "size"),
    "normalize": ("max", "minmax"),
    "task_density": ("as_written", "surplus"),
    "provider_density": ("as_written", "capability", "unit_cost"),
    "price_rule": ("no_trade", "as_written"),
    "capacity": ("units", "time"),
    "rebid_mode": ("multiplicative", "additive"),
}


class ParamsMixin:
    """``replace`` and ``label`` for the frozen parameter dataclasses of every layer."""

    def replace(self, **changes: Any) -> Any:
        """Return a validated copy with some fields changed."""
        known = {f.name for f in fields(self)}  # type: ignore[arg-type]
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown {type(self).__name__} field(s): {sorted(unknown)}")
        return replace(self, **changes)  # type: ignore[type-var]

    def label(self) -> str:
        """Short name of the readings that differ from the defaults, for tables and plots."""
        default = type(self)()
        parts = [
            f"{f.name}={getattr(self, f.name)}"
            for f in fields(self)  # type: ignore[arg-type]
            if getattr(self, f.name) != getattr(default, f.name)
        ]
        return ", ".join(parts) or "defaults"


@dataclass(frozen=True)
class AuctionParams(ParamsMixin):
    """Parameters of the combinatorial double auction (whitepaper section 4).

    Parameters
    ----------
    alpha : float, default 2
        Base of the logarithm in the user cost ``e_i = t_i log_alpha(t_i) + beta`` (> 1; the
        paper asks for a positive integer).
    beta : float, default 1
        Constant of the user cost (>= 0).
    task_size : {"units", "size"}, default "units"
        ``t_i`` in ``e_i``: total demanded units ``sum_t C[i, t]`` or the market's ``size``.
    psi_weights : tuple of float, optional
        One non-negative weight per ``Psi`` component; ``None`` weighs every component 1.
    normalize : {"max", "minmax"}, default "max"
        Scaling of ``C``, ``v``, ``s`` and ``Psi`` to (0, 1] before densities (step 2 of PRICES).
    task_density : {"as_written", "surplus"}, default "as_written"
        ``sqrt(sum_t C[i,t]^2 + v_i^2)`` as written, or the Lehmann-O'Callaghan-Shoham
        density ``(v_i - e_i) / sqrt(sum_t C[i, t])``.
    provider_density : {"as_written", "capability", "unit_cost"}, default "as_written"
        ``sqrt(sum_t 1/s[j,t]^2 + sum Psi_j)`` as written (runnable types only),
        ``sqrt(sum_t s[j,t]^2 + sum Psi_j)`` (fast and capable first) or ascending unit cost.
    price_rule : {"no_trade", "as_written"}, default "no_trade"
        When the midpoint of the per-unit prices lies outside ``[p_provider, p_task]``: skip the
        pair (``no_trade``, the corrected default) or trade at the provider price as written.
    partial : bool, default False
        ``False``: all-or-nothing tasks (a task not fully served is rolled back).
    capacity : {"units", "time"}, default "units"
        ``w_j`` counts units of service of any type, or time with a unit of type ``t`` using
        ``1 / s[j, t]`` of it.
    split : bool, default True
        A task's units may come from several providers; ``False``: each (task, type) demand goes
        to a single provider.
    capacity_per_type : bool, default False
        ``w_j`` applies to each model type separately ("for each resource type").
    rebid_bump : float, default 0.1
        Raise of an unserved task's valuation for the next round (>= 0).
    rebid_mode : {"multiplicative", "additive"}, default "multiplicative"
        ``v * (1 + bump)`` or ``v + bump``.
    fee : float, default 0.0
        Share of each payment the platform keeps, in [0, 1).

    Raises
    ------
    ValueError, TypeError
        Naming the field and the bad value.
    """

    alpha: float = 2
    beta: float = 1
    task_size: str = "units"
    psi_weights: tuple[float, ...] | None = None
    normalize: str = "max"
    task_density: str = "as_written"
    provider_density: str = "as_written"
    price_rule: str = "no_trade"
    partial: bool = False
    capacity: str = "units"
    split: bool = True
    capacity_per_type: bool = False
    rebid_bump: float = 0.1
    rebid_mode: str = "multiplicative"
    fee: float = 0.0

    def __post_init__(self) -> None:
        check_fields(self, _AUCTION_CHECKS)


def _check_alpha(name: str, value: Any) -> Any:
    if check_real(name, value) <= 1:
        raise ValueError(f"{name} = {value!r} must be > 1 (base of log_alpha)")
    return value


def _check_fee(name: str, value: Any) -> Any:
    if not 0 <= check_real(name, value) < 1:
        raise ValueError(f"{name} = {value!r} must be in [0, 1)")
    return value


#: Each field's check (:func:`oasis_lab.checks.check_fields`); the numbers stay as given.
_AUCTION_CHECKS: dict[str, FieldCheck] = {
    **{name: partial(check_choice, choices=choices) for name, choices in CHOICES.items()},
    "alpha": _check_alpha,
    "beta": as_given(partial(check_real, minimum=0)),
    "rebid_bump": as_given(partial(check_real, minimum=0)),
    "fee": _check_fee,
    "partial": check_bool,
    "split": check_bool,
    "capacity_per_type": check_bool,
    "psi_weights": partial(check_optional, check=partial(check_reals, minimum=0)),
}
