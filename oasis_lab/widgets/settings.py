"""The explorer's settings (notebook 06): one flat table of named values, each with its range.

Every control of :class:`~oasis_lab.widgets.dashboard.ExplorerDashboard` is one key of
:data:`CONTROLS` (a Ψ weight per component in ``psi_weights``): the readings of the auction
(whitepaper sections 4, 4.1, 4.2), the market (scenario, tasks per round) and the challenge
game (section 5: provider stake ``S``, slash fraction ``f``, the platform's own random checks
``p``). The same table validates a setting typed by hand, saved under a name or loaded from a
design study (:func:`check_settings`), and names what changed from one setting to the next in
the trace of settings tried (:func:`describe_change`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from oasis_lab.checks import check_choice, check_int, check_real
from oasis_lab.market import SCENARIOS
from oasis_lab.params import CHOICES, AuctionParams
from oasis_lab.plotting import format_number

__all__ = [
    "AUCTION_KEYS",
    "CHALLENGE_KEYS",
    "CONTROLS",
    "MARKET_KEYS",
    "PSI_MAX",
    "Control",
    "check_settings",
    "default_settings",
    "describe_change",
]

#: Largest value of a Ψ weight slider (also the weight :func:`~oasis_lab.widgets.psi_state` probes with).
PSI_MAX = 5.0


@dataclass(frozen=True)
class Control:
    """One control: its key, its label on the panel, and its range or choices.

    ``kind`` is ``"float"``, ``"int"`` or ``"choice"``; ``low``/``high``/``step`` bound a
    number (a value off the step is allowed: a design study's point need not sit on it), and
    ``fmt`` is the slider's readout format (a Python format spec, as ipywidgets reads it).
    """

    key: str
    label: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    step: float = 0.0
    choices: tuple[str, ...] = ()
    fmt: str = ".2f"

    def check(self, value: Any) -> Any:
        """``value`` converted and checked, or one error naming the key and the range."""
        if self.kind == "choice":
            return check_choice(self.key, value, self.choices)
        if self.kind == "int":
            return check_int(self.key, value, int(self.low), int(self.high))
        return check_real(self.key, value, minimum=self.low, maximum=self.high)


#: The controls, in the order the panel lays them out (Ψ weights first, one key for all).
CONTROLS: dict[str, Control] = {
    c.key: c
    for c in (
        Control("psi_weights", "Ψ", "float", 0.0, PSI_MAX, 0.1),
        Control("alpha", "α", "float", 1.1, 10.0, 0.1),
        Control("beta", "β", "float", 0.0, 20.0, 0.5),
        Control("fee", "fee", "float", 0.0, 0.5, 0.01),
        Control("price_rule", "price rule", "choice", choices=CHOICES["price_rule"]),
        Control("task_density", "task density", "choice", choices=CHOICES["task_density"]),
        Control("provider_density", "provider density", "choice", choices=CHOICES["provider_density"]),
        Control("scenario", "scenario", "choice", choices=tuple(SCENARIOS)),
        Control("n_tasks", "tasks", "int", 50, 1000, 50, fmt=",d"),
        Control("stake", "stake S", "float", 0.0, 20_000.0, 100.0, fmt=",.0f"),
        Control("slash_fraction", "slash f", "float", 0.0, 1.0, 0.05),
        Control("p_platform", "platform checks p", "float", 0.0, 0.5, 0.01),
    )
}
#: The keys of the auction's readings (:class:`~oasis_lab.params.AuctionParams` fields).
AUCTION_KEYS: tuple[str, ...] = ("psi_weights", "alpha", "beta", "fee", "price_rule", "task_density",
                                 "provider_density")
#: The market's keys: which scenario, how many tasks a round.
MARKET_KEYS: tuple[str, ...] = ("scenario", "n_tasks")
#: The challenge game's keys (section 5).
CHALLENGE_KEYS: tuple[str, ...] = ("stake", "slash_fraction", "p_platform")


def default_settings(n_psi: int = 4, params: AuctionParams | None = None, *, scenario: str = "balanced",
                     n_tasks: int = 400) -> dict[str, Any]:
    """The explorer's starting point: ``params``' readings (each Ψ weight 1 when it has none),
    ``scenario`` and ``n_tasks``, and a stake of 1,000 tokens, full slash and platform checks
    of 5% of jobs."""
    params = params if params is not None else AuctionParams()
    values = {
        "psi_weights": tuple(params.psi_weights) if params.psi_weights else (1.0,) * n_psi,
        **{k: getattr(params, k) for k in AUCTION_KEYS if k != "psi_weights"},
        "scenario": scenario,
        "n_tasks": n_tasks,
        "stake": 1000.0,
        "slash_fraction": 1.0,
        "p_platform": 0.05,
    }
    return check_settings(values, n_psi=n_psi)


def check_settings(values: Mapping[str, Any], *, n_psi: int = 4) -> dict[str, Any]:
    """A setting (all of :data:`CONTROLS`' keys or some of them) checked and normalised.

    Raises one ``ValueError`` / ``TypeError`` naming the key: an unknown key, a value out of
    its control's range (``stake = 25000.0 must be <= 20000``), a choice not offered, or Ψ
    weights that are not ``n_psi`` numbers in ``[0, PSI_MAX]``.
    """
    if not isinstance(values, Mapping):
        raise TypeError(f"settings must be a mapping of {list(CONTROLS)}, got {type(values).__name__}")
    unknown = sorted(str(k) for k in values if k not in CONTROLS)
    if unknown:
        raise ValueError(f"unknown explorer setting(s) {unknown}; known: {list(CONTROLS)}")
    out: dict[str, Any] = {}
    for key, value in values.items():
        control = CONTROLS[key]
        if key == "psi_weights":
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != n_psi:
                raise ValueError(f"psi_weights = {value!r} must be {n_psi} numbers in [0, {PSI_MAX:g}]")
            out[key] = tuple(float(control.check(v)) for v in value)
        else:
            out[key] = control.check(value)
            if control.kind == "float":
                out[key] = float(out[key])
    return out


def _show(key: str, value: Any) -> str:
    return format_number(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def describe_change(before: Mapping[str, Any] | None, after: Mapping[str, Any],
                    psi_names: Sequence[str] = (), *, most: int = 2) -> str:
    """What changed from one setting to the next, for the trace's labels.

    ``"stake S 500→1,000"``; several changes joined by ``", "``; beyond ``most`` of them the
    first ``most`` and ``"+k more"``; ``"start"`` without a ``before``, ``"no change"`` when
    nothing changed. Ψ weights are named by ``psi_names`` (``"Ψ gpu_tflops 1→2"``).

    >>> describe_change({"stake": 500.0, "alpha": 2.0}, {"stake": 1000.0, "alpha": 2.0})
    'stake S 500→1,000'
    >>> describe_change({"scenario": "balanced", "n_tasks": 400}, {"scenario": "scarce_supply", "n_tasks": 200})
    'scenario balanced→scarce_supply, tasks 400→200'
    """
    if before is None:
        return "start"
    parts: list[str] = []
    for key in CONTROLS:
        if key not in after or key not in before:
            continue
        old, new = before[key], after[key]
        if key == "psi_weights":
            for i, (a, b) in enumerate(zip(old, new, strict=False)):
                if not math.isclose(a, b, rel_tol=0, abs_tol=1e-12):
                    name = psi_names[i] if i < len(psi_names) else str(i)
                    parts.append(f"Ψ {name} {_show(key, a)}→{_show(key, b)}")
        elif old != new:
            parts.append(f"{CONTROLS[key].label} {_show(key, old)}→{_show(key, new)}")
    if not parts:
        return "no change"
    if len(parts) > most:
        return ", ".join(parts[:most]) + f", +{len(parts) - most} more"
    return ", ".join(parts)
