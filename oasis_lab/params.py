"""Frozen, validated parameters: every whitepaper reading is a field here.

See ``docs/mechanism.md`` for what each reading means and what it changes, measured.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from oasis_lab.checks import check_real

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
        for name, choices in CHOICES.items():
            value = getattr(self, name)
            if value not in choices:
                raise ValueError(f"{name} = {value!r} is not one of {list(choices)}")
        alpha = check_real("alpha", self.alpha)
        if alpha <= 1:
            raise ValueError(f"alpha = {self.alpha!r} must be > 1 (base of log_alpha)")
        if check_real("beta", self.beta) < 0:
            raise ValueError(f"beta = {self.beta!r} must be >= 0")
        if check_real("rebid_bump", self.rebid_bump) < 0:
            raise ValueError(f"rebid_bump = {self.rebid_bump!r} must be >= 0")
        fee = check_real("fee", self.fee)
        if not 0 <= fee < 1:
            raise ValueError(f"fee = {self.fee!r} must be in [0, 1)")
        for name in ("partial", "split", "capacity_per_type"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if self.psi_weights is not None:
            if isinstance(self.psi_weights, (str, bytes)) or not hasattr(self.psi_weights, "__iter__"):
                raise TypeError(f"psi_weights must be a sequence of numbers, got {self.psi_weights!r}")
            weights = tuple(check_real("psi_weights", w) for w in self.psi_weights)
            for k, w in enumerate(weights):
                if w < 0:
                    raise ValueError(f"psi_weights[{k}] = {w!r} must be >= 0")
            object.__setattr__(self, "psi_weights", weights)
