"""The market of section 4: inference tasks on one side, browser providers on the other.

Notation (whitepaper section 4, with the indices of ``docs/readings.md``): task ``i``
requests ``C[i, t]`` units of inference of model type ``t`` (``demand``) and is worth ``v_i``
(``value``) to its user for the whole bundle. Provider ``j`` is ``S_j = (s_j, w_j, c_j)``:
``s[j, t]`` requests per second of type ``t`` it can serve (``speed``; 0 = cannot run ``t``),
``w_j`` units of service per round (``capacity``) and ``c_j`` its true cost of running one round
at full speed (``cost``). ``psi[j]`` holds the capability components of ``Psi`` (GPU compute,
memory, bandwidth, CPU) that enter the provider bid density.

A :class:`Market` is a bundle of validated, read-only numpy arrays. :func:`generate_market`
draws seeded markets grounded in ``data/model_types.csv`` and ``data/device_profiles.csv``.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from oasis_lab import paths
from oasis_lab.checks import check_memory, check_not_masked
from oasis_lab.files import SEAL_PLACEHOLDER, atomic_write, check_output_file, check_seal, is_sealed, is_temp_file, seal
from oasis_lab.seeding import generator

__all__ = [
    "Market",
    "MarketDtypeError",
    "generate_market",
    "market_bytes",
    "check_market_size",
    "SCENARIOS",
    "Scenario",
    "DATA_DIR",
    "load_model_types",
    "load_device_profiles",
    "user_cost",
]

DATA_DIR = paths.DATA_DIR

# Version 2 adds the ``fields`` list; version 3 the checksum of the whole file (in the zip
# comment, oasis_lab.files.seal). Files of versions 1 and 2 are still read.
_FORMAT_VERSION = 3
_READABLE_VERSIONS = (1, 2, 3)


class MarketDtypeError(TypeError, ValueError):
    """An array of the wrong dtype: a ``TypeError`` that is also a ``ValueError``.

    Callers that catch either (the issue's contract is ``ValueError``, Python's convention for
    a wrong type is ``TypeError``) see it.
    """


def _as_real_array(name: str, values: Any, ndim: int) -> np.ndarray:
    """Return ``values`` as a float64 array of ``ndim`` dimensions, or raise naming ``name``."""
    _refuse_masked(name, values)
    try:
        arr = np.asarray(values)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} could not be read as an array: {exc}") from None
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise MarketDtypeError(
            f"{name} must hold real numbers (integer or floating dtype), got dtype {arr.dtype}"
        )
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    return arr.astype(np.float64, copy=True)


def _refuse_masked(name: str, values: Any) -> None:
    """A masked array would lose its mask in ``np.asarray``: the masked entries would count."""
    try:
        check_not_masked(name, values)
    except TypeError as exc:
        raise MarketDtypeError(str(exc)) from None


def _read_only(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


def _first_bad(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(k) for k in np.argwhere(mask)[0])


def _fmt_index(idx: tuple[int, ...]) -> str:
    return ", ".join(str(k) for k in idx)


def _check_finite_and_sign(name: str, arr: np.ndarray, *, strictly_positive: bool = False) -> None:
    """Raise ``ValueError`` naming the first non-finite or negative entry of ``arr``."""
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = _first_bad(bad)
        raise ValueError(f"{name}[{_fmt_index(idx)}] = {arr[idx]} must be finite")
    bad = arr <= 0 if strictly_positive else arr < 0
    if bad.any():
        idx = _first_bad(bad)
        bound = "> 0" if strictly_positive else ">= 0"
        raise ValueError(f"{name}[{_fmt_index(idx)}] = {arr[idx]} must be {bound}")


def _names(name: str, values: Any, length: int, default_prefix: str) -> tuple[str, ...]:
    if values is None:
        return tuple(f"{default_prefix}{k}" for k in range(length))
    if isinstance(values, str):
        raise MarketDtypeError(f"{name} must be a sequence of strings, got the string {values!r}")
    names = tuple(values)
    if not all(isinstance(v, str) and v for v in names):
        raise MarketDtypeError(f"{name} must be non-empty strings, got {names!r}")
    if len(names) != length:
        raise ValueError(f"{name} has {len(names)} names but the arrays have {length} columns")
    if len(set(names)) != len(names):
        raise ValueError(f"{name} must be unique, got {names!r}")
    return names


@dataclass(frozen=True, eq=False, init=False)
class Market:
    """Tasks and providers of one auction round (whitepaper section 4).

    Parameters
    ----------
    demand : array_like, shape (n_tasks, n_types)
        ``C[i, t] >= 0``: units of model type ``t`` that task ``i`` requests. A row of zeros is
        allowed: such a task is never served (the pseudo-code's ``C = 0`` skip).
    value : array_like, shape (n_tasks,)
        ``v_i > 0``: the user's (adjusted) valuation of the whole bundle.
    speed : array_like, shape (n_providers, n_types)
        ``s[j, t] >= 0``: requests per second of type ``t``; 0 means provider ``j`` cannot run
        ``t``. A provider with all-zero speeds is allowed and never trades.
    capacity : array_like, shape (n_providers,)
        ``w_j >= 0``: units of service per round (or time, under ``capacity="time"``).
    cost : array_like, shape (n_providers,)
        ``c_j >= 0``: true cost of running one round at full speed, in tokens.
    psi : array_like, shape (n_providers, n_psi)
        Capability components of ``Psi`` (each ``>= 0``).
    model_types : sequence of str, length n_types
        Names of the model types (columns of ``demand`` and ``speed``).
    size : array_like, shape (n_tasks,), optional
        Task size ``t_i`` for the user cost under ``task_size="size"`` (``>= 0``).
    psi_names : sequence of str, optional
        Names of the ``Psi`` components; ``psi_0, psi_1, ...`` when omitted.
    priority : array_like of int, shape (n_tasks,), optional
        Re-auction priority (``>= 0``; higher goes first). Zeros when omitted.

    Raises
    ------
    ValueError
        A shape, sign, finiteness or size problem, naming the field and the offending
        index and value, e.g. ``capacity[3] = -1.0 must be >= 0``.
    MarketDtypeError
        (a ``TypeError`` and a ``ValueError``) an array that does not hold real numbers.

    Notes
    -----
    Arrays are copied to float64 (``priority`` to int64) and made read-only, so a market can be
    shared between mechanisms without one of them changing it under another.
    """

    # What the fields hold once validated; the constructor takes array_like (see __init__).
    demand: np.ndarray
    value: np.ndarray
    speed: np.ndarray
    capacity: np.ndarray
    cost: np.ndarray
    psi: np.ndarray
    model_types: tuple[str, ...]
    size: np.ndarray | None
    psi_names: tuple[str, ...]
    priority: np.ndarray

    def __init__(
        self,
        demand: ArrayLike,
        value: ArrayLike,
        speed: ArrayLike,
        capacity: ArrayLike,
        cost: ArrayLike,
        psi: ArrayLike,
        model_types: Sequence[str],
        size: ArrayLike | None = None,
        psi_names: Sequence[str] | None = None,
        priority: ArrayLike | None = None,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "demand", demand)
        set_(self, "value", value)
        set_(self, "speed", speed)
        set_(self, "capacity", capacity)
        set_(self, "cost", cost)
        set_(self, "psi", psi)
        set_(self, "model_types", model_types)
        set_(self, "size", size)
        set_(self, "psi_names", psi_names)
        set_(self, "priority", priority)
        self._validate()

    def _validate(self) -> None:
        """Replace the raw arguments by validated, read-only arrays and tuples, or raise."""
        set_ = object.__setattr__
        demand = _as_real_array("demand", self.demand, 2)
        value = _as_real_array("value", self.value, 1)
        speed = _as_real_array("speed", self.speed, 2)
        capacity = _as_real_array("capacity", self.capacity, 1)
        cost = _as_real_array("cost", self.cost, 1)
        psi = _as_real_array("psi", self.psi, 2)
        n_tasks, n_types = demand.shape
        n_providers = speed.shape[0]
        if n_tasks == 0:
            raise ValueError("demand has no tasks (shape (0, ...)): a market needs at least one task")
        if n_providers == 0:
            raise ValueError(
                "speed has no providers (shape (0, ...)): a market needs at least one provider"
            )
        if n_types == 0:
            raise ValueError("demand has no model types (0 columns)")
        if speed.shape[1] != n_types:
            raise ValueError(
                f"speed has {speed.shape[1]} model-type columns but demand has {n_types}"
            )
        for name, arr, n in (
            ("value", value, n_tasks),
            ("capacity", capacity, n_providers),
            ("cost", cost, n_providers),
        ):
            if arr.shape[0] != n:
                owner = "tasks" if name == "value" else "providers"
                raise ValueError(f"{name} has length {arr.shape[0]} but there are {n} {owner}")
        if psi.shape[0] != n_providers:
            raise ValueError(f"psi has {psi.shape[0]} rows but there are {n_providers} providers")
        _check_finite_and_sign("demand", demand)
        _check_finite_and_sign("value", value, strictly_positive=True)
        _check_finite_and_sign("speed", speed)
        _check_finite_and_sign("capacity", capacity)
        _check_finite_and_sign("cost", cost)
        _check_finite_and_sign("psi", psi)
        size = None
        if self.size is not None:
            size = _as_real_array("size", self.size, 1)
            if size.shape[0] != n_tasks:
                raise ValueError(f"size has length {size.shape[0]} but there are {n_tasks} tasks")
            _check_finite_and_sign("size", size)
        if self.priority is None:
            priority = np.zeros(n_tasks, dtype=np.int64)
        else:
            _refuse_masked("priority", self.priority)
            raw = np.asarray(self.priority)
            if raw.dtype == np.bool_ or not np.issubdtype(raw.dtype, np.integer):
                raise MarketDtypeError(f"priority must hold integers, got dtype {raw.dtype}")
            if raw.shape != (n_tasks,):
                raise ValueError(f"priority has shape {raw.shape} but there are {n_tasks} tasks")
            limit = np.iinfo(np.int64).max
            if raw.dtype.kind == "u" and raw.size and raw.max() > limit:
                # checked before the cast: astype(int64) would wrap 2**64 - 1 to -1
                idx = _first_bad(raw > limit)
                raise ValueError(
                    f"priority[{idx[0]}] = {int(raw[idx])} exceeds the int64 limit {limit}"
                )
            priority = raw.astype(np.int64, copy=True)
            if (priority < 0).any():
                idx = _first_bad(priority < 0)
                raise ValueError(f"priority[{idx[0]}] = {priority[idx]} must be >= 0")
        model_types = _names("model_types", self.model_types, n_types, "type_")
        psi_names = _names("psi_names", self.psi_names, psi.shape[1], "psi_")
        validated: tuple[tuple[str, np.ndarray | None], ...] = (
            ("demand", demand),
            ("value", value),
            ("speed", speed),
            ("capacity", capacity),
            ("cost", cost),
            ("psi", psi),
            ("size", size),
            ("priority", priority),
        )
        for name, held in validated:
            if held is not None:
                held.setflags(write=False)
            set_(self, name, held)
        set_(self, "model_types", model_types)
        set_(self, "psi_names", psi_names)

    # ------------------------------------------------------------------ sizes
    @property
    def n_tasks(self) -> int:
        """Number of tasks ``m``."""
        return int(self.demand.shape[0])

    @property
    def n_providers(self) -> int:
        """Number of providers ``n``."""
        return int(self.speed.shape[0])

    @property
    def n_types(self) -> int:
        """Number of model types ``k``."""
        return int(self.demand.shape[1])

    # Derived arrays are cached (the market is immutable) and read-only like the fields.
    @cached_property
    def task_units(self) -> np.ndarray:
        """Total demanded units per task, ``sum_t C[i, t]``."""
        return _read_only(self.demand.sum(axis=1))

    @cached_property
    def provider_unit_cost(self) -> np.ndarray:
        """Provider per-unit price / true unit cost ``c_j / sum_t s[j, t]`` (section 4.1).

        ``inf`` for a provider that can run nothing (it never trades).
        """
        total_speed = self.speed.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return _read_only(np.where(total_speed > 0, self.cost / total_speed, np.inf))

    # ------------------------------------------------------------------ views
    @property
    def tasks(self) -> pd.DataFrame:
        """One row per task: demand per model type, value, units, value per unit, priority."""
        frame = pd.DataFrame(self.demand, columns=[f"demand[{t}]" for t in self.model_types])
        frame.insert(0, "task", np.arange(self.n_tasks))
        units = self.task_units
        frame["units"] = units
        frame["value"] = self.value
        with np.errstate(divide="ignore", invalid="ignore"):
            frame["value_per_unit"] = np.where(units > 0, self.value / units, np.nan)
        if self.size is not None:
            frame["size"] = self.size
        frame["priority"] = self.priority
        return frame.set_index("task")

    @property
    def providers(self) -> pd.DataFrame:
        """One row per provider: speeds, capacity, cost, unit cost and ``Psi`` components."""
        frame = pd.DataFrame(self.speed, columns=[f"speed[{t}]" for t in self.model_types])
        frame.insert(0, "provider", np.arange(self.n_providers))
        frame["capacity"] = self.capacity
        frame["cost"] = self.cost
        frame["unit_cost"] = self.provider_unit_cost
        frame["runnable_types"] = (self.speed > 0).sum(axis=1)
        for k, name in enumerate(self.psi_names):
            frame[f"psi[{name}]"] = self.psi[:, k]
        return frame.set_index("provider")

    def summary(self) -> pd.DataFrame:
        """One-row overview: sizes, supply ratio, price levels and capability gaps."""
        units = self.task_units
        unit_cost = self.provider_unit_cost
        finite = unit_cost[np.isfinite(unit_cost)]
        median_cost = float(np.median(finite)) if finite.size else np.nan
        has_demand = units > 0
        task_price = self.value[has_demand] / units[has_demand]
        row: dict[str, Any] = {
            "n_tasks": self.n_tasks,
            "n_providers": self.n_providers,
            "demand_units": float(units.sum()),
            "capacity_units": float(self.capacity.sum()),
            "supply_ratio": float(self.capacity.sum() / units.sum()) if units.sum() > 0 else np.inf,
            "median_task_unit_price": float(np.median(task_price)) if task_price.size else np.nan,
            "median_provider_unit_price": median_cost,
            "tasks_below_median_provider_price": float((task_price < median_cost).mean())
            if task_price.size
            else np.nan,
        }
        for t, name in enumerate(self.model_types):
            row[f"cannot_run[{name}]"] = float((self.speed[:, t] == 0).mean())
        return pd.DataFrame([row])

    def __repr__(self) -> str:
        return (
            f"Market(n_tasks={self.n_tasks}, n_providers={self.n_providers}, "
            f"model_types={list(self.model_types)}, psi_names={list(self.psi_names)})"
        )

    def replace(self, **changes: Any) -> Market:
        """Return a validated copy with some fields replaced (``dataclasses.replace``)."""
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        unknown = set(changes) - set(fields)
        if unknown:
            raise ValueError(f"unknown Market field(s): {sorted(unknown)}")
        fields.update(changes)
        return Market(**fields)

    def equals(self, other: Market) -> bool:
        """Exact equality of every array and name (bitwise, NaN-free by construction)."""
        if not isinstance(other, Market):
            return False
        for name in self.__dataclass_fields__:
            a, b = getattr(self, name), getattr(other, name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if a is None or b is None or a.shape != b.shape or not np.array_equal(a, b):
                    return False
            elif a != b:
                return False
        return True

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the market to ``path`` as a compressed ``.npz`` (exact round trip).

        The file carries the SHA-256 of its bytes in its zip comment
        (:func:`oasis_lab.files.seal`): :meth:`load` refuses it if any byte changed. It is
        written through :func:`oasis_lab.files.atomic_write`: a temporary file
        unique to this writer in the same folder, renamed into place when complete. A failed
        save never leaves a half-written market where an earlier one was, and two processes
        saving to the same path at once leave one of the two complete markets.

        Parameters
        ----------
        path : path
            Destination; ``.npz`` is appended when it has another suffix.

        Returns
        -------
        pathlib.Path
            The path written.

        Raises
        ------
        ValueError
            ``path`` (or ``path`` + ``.npz``) is a directory, or its folder is a file.
        FileNotFoundError
            The folder of ``path`` does not exist.
        """
        path = Path(path)
        if path.is_dir():
            raise ValueError(
                f"path = {str(path)!r} is a directory; give a file name such as "
                f"{str(path / 'market.npz')!r}"
            )
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        check_output_file("path", path)
        if not path.parent.is_dir():
            raise FileNotFoundError(f"folder {str(path.parent)!r} of path = {str(path)!r} does not exist")
        arrays: dict[str, Any] = {
            "format_version": np.array(_FORMAT_VERSION),
            "demand": self.demand,
            "value": self.value,
            "speed": self.speed,
            "capacity": self.capacity,
            "cost": self.cost,
            "psi": self.psi,
            "priority": self.priority,
            "model_types": np.array(self.model_types, dtype=np.str_),
            "psi_names": np.array(self.psi_names, dtype=np.str_),
        }
        if self.size is not None:
            arrays["size"] = self.size
        # The list of stored arrays: a damaged zip directory that hides an optional array
        # (size) must be an error, not a market silently loaded without it.
        arrays["fields"] = np.array(sorted([*arrays, "fields"]), dtype=np.str_)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        with zipfile.ZipFile(buffer, "a") as archive:
            archive.comment = SEAL_PLACEHOLDER.encode()  # the zip comment: stored verbatim, last
        with atomic_write(path, "wb") as fh:
            fh.write(seal(buffer.getvalue()))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Market:
        """Read a market written by :meth:`save`.

        Raises
        ------
        FileNotFoundError
            ``path`` does not exist.
        ValueError
            The file is not a market file: a directory, a ``.npy`` array, the temporary file
            of an unfinished save, corrupt or truncated (a file of format 3 carries the
            SHA-256 of its bytes, :func:`oasis_lab.files.seal`, so any changed, missing or
            added byte is refused; older files rely on the zip checksums and the stored
            field list), a wrong format version, fields missing or extra, or arrays that do
            not make a valid market. The message names the file.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"market file {str(path)!r} does not exist")
        if path.is_dir():
            raise ValueError(f"market file {str(path)!r} is a directory, not an .npz market")
        if is_temp_file(path):
            raise ValueError(
                f"market file {str(path)!r} is the temporary file of an unfinished save, not a market"
            )
        data = path.read_bytes()
        if data[:6] == b"\x93NUMPY":
            raise ValueError(
                f"market file {str(path)!r} is a single .npy array, not an .npz market written "
                "by Market.save"
            )
        sealed = is_sealed(data)
        if sealed:  # version 3: any changed, missing or added byte is refused here
            check_seal(data, f"market file {str(path)!r}")
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                contents = {key: npz[key] for key in npz.files}
        except Exception as exc:  # noqa: BLE001 - damaged bytes raise zlib.error, BadZipFile,
            # NotImplementedError (a flipped compression method), OSError, ...: all "corrupt"
            raise ValueError(
                f"market file {str(path)!r} is corrupt or not an .npz market: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        required = ["demand", "value", "speed", "capacity", "cost", "psi", "model_types"]
        missing = [key for key in required if key not in contents]
        if missing:
            raise ValueError(f"market file {str(path)!r} lacks field(s) {missing}")
        try:
            version = int(contents.get("format_version", -1))
        except (TypeError, ValueError):
            version = -1
        if version not in _READABLE_VERSIONS:
            raise ValueError(
                f"market file {str(path)!r} has format version {version}, expected one of "
                f"{list(_READABLE_VERSIONS)}"
            )
        if version >= 3 and not sealed:
            raise ValueError(f"market file {str(path)!r} is corrupt: its checksum is missing")
        if version >= 2:
            stored = set(contents)
            listed = {str(s) for s in np.atleast_1d(contents.get("fields", np.array([], dtype=str)))}
            if stored != listed:
                raise ValueError(
                    f"market file {str(path)!r} is corrupt: it lists fields {sorted(listed)} but "
                    f"holds {sorted(stored)}"
                )
        try:
            return cls(
                demand=contents["demand"],
                value=contents["value"],
                speed=contents["speed"],
                capacity=contents["capacity"],
                cost=contents["cost"],
                psi=contents["psi"],
                model_types=tuple(str(s) for s in contents["model_types"]),
                size=contents.get("size"),
                psi_names=tuple(str(s) for s in contents.get("psi_names", [])) or None,
                priority=contents.get("priority"),
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"market file {str(path)!r} holds an invalid market: {exc}") from None


# ---------------------------------------------------------------------- shipped data
def user_cost(size: ArrayLike, alpha: float = 2, beta: float = 1) -> np.ndarray:
    """User cost ``e = t log_alpha(t) + beta`` (section 4), with ``0 log 0 = 0``.

    The one definition: :func:`generate_market` prices bundles with it and
    :func:`oasis_lab.auction.pricing.user_costs` applies it to a market under the readings.

    Parameters
    ----------
    size : array_like
        ``t_i >= 0``.
    alpha : float
        Base of the logarithm, > 1.
    beta : float
        Constant, >= 0.

    Returns
    -------
    numpy.ndarray
        ``e_i``, same shape as ``size``. Warns (``RuntimeWarning``) when some ``0 < t_i < 1``,
        where ``e_i < beta`` and may be negative: a subsidy, not a cost.
    """
    t = np.asarray(check_not_masked("size", size), dtype=float)
    if (t < 0).any() or not np.isfinite(t).all():
        raise ValueError("size must be finite and >= 0 for the user cost t log_alpha(t) + beta")
    if alpha <= 1:
        raise ValueError(f"alpha = {alpha!r} must be > 1")
    if ((t > 0) & (t < 1)).any():
        warnings.warn(
            "some task sizes are in (0, 1): t log_alpha(t) is negative there, so e_i < beta",
            RuntimeWarning,
            stacklevel=2,
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        # log2 ratio: exact t log2(t) at the default alpha = 2 (log2(2) == 1)
        t_log_t = np.where(t > 0, t * np.log2(np.where(t > 0, t, 1.0)) / np.log2(alpha), 0.0)
    return t_log_t + beta


@cache
def _read_csv(name: str) -> pd.DataFrame:
    path = DATA_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"shipped data file {str(path)!r} is missing from the installation")
    return pd.read_csv(path)


@cache
def _columns() -> dict[str, Any]:
    """The shipped tables' columns as read-only numpy arrays (a market is drawn every round of a
    simulation: reading them out of pandas each time cost more than the draws)."""
    types, devices = _read_csv("model_types.csv"), _read_csv("device_profiles.csv")
    out: dict[str, Any] = {
        "type_names": tuple(types["name"]),
        "integrated": (devices["kind"] == "integrated").to_numpy(),
    }
    for key, frame, column in (("gflop", types, "gflop_per_request"), ("type_memory", types, "memory_gb"),
                               ("popularity", types, "popularity"), ("share", devices, "share"),
                               ("tflops", devices, "fp32_tflops"), ("memory", devices, "memory_gb"),
                               ("power", devices, "power_w"), ("bandwidth", devices, "bandwidth_gbs")):
        out[key] = frame[column].to_numpy(dtype=float)
    for value in out.values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return out


def load_model_types() -> pd.DataFrame:
    """Model types of ``data/model_types.csv`` (FLOPs per request, memory, popularity)."""
    return _read_csv("model_types.csv").copy()


def load_device_profiles() -> pd.DataFrame:
    """Consumer GPUs of ``data/device_profiles.csv`` (FP32 TFLOPS, memory, power, share)."""
    return _read_csv("device_profiles.csv").copy()


# ---------------------------------------------------------------------- scenarios
@dataclass(frozen=True)
class Scenario:
    """Knobs of a market scenario; see :data:`SCENARIOS`.

    Attributes
    ----------
    supply_ratio : float
        Expected total provider capacity over total task demand (units).
    value_markup : float
        Median task value per unit over the providers' median unit cost.
    value_spread : float
        Log-normal sigma of the per-unit task value.
    integrated_weight : float
        Multiplier of the sampling weight of integrated GPUs (little memory: most cannot run
        the large model types).
    description : str
        One line for tables.
    """

    supply_ratio: float
    value_markup: float
    value_spread: float
    integrated_weight: float
    description: str


SCENARIOS: dict[str, Scenario] = {
    "balanced": Scenario(1.0, 2.0, 0.35, 1.0, "capacity about equal to demand, values well above costs"),
    "scarce_supply": Scenario(0.3, 2.0, 0.35, 1.0, "capacity about 30% of demand: tasks compete"),
    "abundant_supply": Scenario(3.0, 2.0, 0.35, 1.0, "capacity about 3x demand: providers compete"),
    "heterogeneous": Scenario(
        1.0, 2.0, 0.5, 20.0, "mostly integrated GPUs: many providers cannot run the large models"
    ),
    "price_crossing": Scenario(
        1.0, 1.0, 0.6, 1.0, "task per-unit values straddle provider per-unit prices"
    ),
}

# Price level: the providers' median unit cost is scaled to this many tokens per unit, so the
# default user cost e_i = t log2 t + 1 (a few tokens per unit) is comparable to it.
_PRICE_LEVEL = 10.0
# WebGPU reaches a fraction of a device's peak FP32 throughput.
_EFFICIENCY_RANGE = (0.15, 0.45)
_MAX_TYPES_PER_TASK_EXTRA = 0.15  # chance that a task also requests each other model type


def market_bytes(n_tasks: int, n_providers: int, n_types: int = 4) -> int:
    """Estimated peak memory (bytes) to generate a market and run one greedy round on it.

    Per task: the demand row and the generator's temporaries (about 4 arrays of ``n_types``
    float64), the greedy's trade buffers and a dozen per-task vectors; per provider: the speed
    row and temporaries, the greedy's segment trees (4 float64 per type) and per-provider
    vectors. Generous on purpose: it is used to refuse sizes that cannot fit, not to plan.
    Python integers, so absurd sizes do not overflow.
    """
    return int(n_tasks) * (64 * int(n_types) + 256) + int(n_providers) * (96 * int(n_types) + 512)


def check_market_size(
    n_tasks: int, n_providers: int, n_types: int = 4, *, names: tuple[str, str] = ("n_tasks", "n_providers")
) -> None:
    """Refuse a market size whose arrays cannot be allocated on this machine (one clear error).

    ``names`` are the arguments quoted in the message (``("--tasks", "--providers")`` on the
    command line).
    """
    check_memory(
        f"{names[0]} = {n_tasks} with {names[1]} = {n_providers}",
        market_bytes(n_tasks, n_providers, n_types),
    )


def generate_market(
    n_tasks: int,
    n_providers: int,
    *,
    n_types: int = 4,
    scenario: str = "balanced",
    seed: int | np.random.Generator = 0,
    capacity_unit: str = "units",
) -> Market:
    """Draw a seeded market grounded in the shipped model and device data (section 4).

    Providers are consumer devices sampled from ``data/device_profiles.csv`` (weighted by
    ``share``; integrated GPUs re-weighted by the scenario). Speed of type ``t`` is the device's
    FP32 throughput times a WebGPU efficiency in ``[0.15, 0.45]`` over the type's FLOPs per
    request; a device with less memory than the type needs gets speed 0. The cost of a round
    is proportional to the device's power draw, scaled so the median provider unit cost
    ``c_j / sum_t s[j, t]`` is 10 tokens. Tasks request a primary type (by popularity) plus
    each other type with probability 0.15, a geometric number of units each; a task's value is
    its units times a log-normal per-unit value around ``value_markup`` times the median unit
    cost, plus the default user cost ``e_i = t log2 t + 1`` so the markup is surplus.
    Capacities are Poisson draws whose total is about ``supply_ratio`` times the total demand.

    With ``capacity_unit="time"`` the market is drawn for the ``capacity="time"`` reading
    of :class:`~oasis_lab.params.AuctionParams`: ``capacity[j]`` is seconds of compute per
    round (gamma draws, equal means over the providers that can run something, totalling about
    ``supply_ratio`` times the time the demand takes at median speeds), ``cost[j]`` is the cost of
    one second (median 10 tokens), so a unit of type ``t`` costs ``c_j / s[j, t]``, and a task's
    surplus is priced per type at the median of that cost: an SDXL image is worth far more than
    a ResNet classification.

    Parameters
    ----------
    n_tasks, n_providers : int
        Market size (both ``>= 1``).
    n_types : int, default 4
        Number of model types, the first ``n_types`` rows of ``data/model_types.csv``.
    scenario : str, default "balanced"
        A key of :data:`SCENARIOS`.
    seed : int or numpy.random.Generator
        Same seed, identical arrays (an int in ``[0, 2**128)``).
    capacity_unit : {"units", "time"}, default "units"
        What ``capacity`` and ``cost`` count: units of service per round and the cost of a
        round (the paper's reading), or seconds per round and the cost of a second.

    Returns
    -------
    Market
        With ``size`` = TFLOP of the task's requests and ``psi`` = (GPU TFLOPS, memory GB,
        bandwidth GB/s, CPU cores).
    """
    for name, n in (("n_tasks", n_tasks), ("n_providers", n_providers), ("n_types", n_types)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(n).__name__} {n!r}")
        if n < 1:
            raise ValueError(f"{name} = {n} must be >= 1")
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario = {scenario!r} is unknown; choose one of {sorted(SCENARIOS)}")
    if capacity_unit not in ("units", "time"):
        raise ValueError(f"capacity_unit = {capacity_unit!r} is not one of ['units', 'time']")
    rng = seed if isinstance(seed, np.random.Generator) else generator(seed)
    check_market_size(n_tasks, n_providers, n_types)
    col = _columns()
    if n_types > len(col["type_names"]):
        raise ValueError(f"n_types = {n_types} exceeds the {len(col['type_names'])} shipped model types")
    spec = SCENARIOS[scenario]

    # ---- providers
    weights = col["share"].copy()
    weights[col["integrated"]] *= spec.integrated_weight
    device = rng.choice(weights.size, size=n_providers, p=weights / weights.sum())
    tflops = col["tflops"][device]
    memory = col["memory"][device]
    efficiency = rng.uniform(*_EFFICIENCY_RANGE, size=n_providers)
    gflop = col["gflop"][:n_types]
    fits = memory[:, None] >= col["type_memory"][:n_types][None, :]
    speed = np.where(fits, (tflops * efficiency * 1e3)[:, None] / gflop[None, :], 0.0)
    power = col["power"][device] * rng.lognormal(0.0, 0.25, n_providers)
    total_speed = speed.sum(axis=1)
    runs_something = total_speed > 0
    if capacity_unit == "time":
        # c_j prices one second at full speed; the median provider's second costs _PRICE_LEVEL
        cost = power * (_PRICE_LEVEL / np.median(power))
        with np.errstate(divide="ignore", invalid="ignore"):
            per_unit_cost = np.where(speed > 0, cost[:, None] / speed, np.nan)
            seconds_per_unit = np.where(speed > 0, 1.0 / speed, np.nan)
        runnable_type = (speed > 0).any(axis=0)
        type_price = np.zeros(n_types)
        type_seconds = np.zeros(n_types)
        type_price[runnable_type] = np.nanmedian(per_unit_cost[:, runnable_type], axis=0)
        type_seconds[runnable_type] = np.nanmedian(seconds_per_unit[:, runnable_type], axis=0)
    else:
        raw_unit_cost = np.where(runs_something, power / np.maximum(total_speed, 1e-300), np.nan)
        scale = _PRICE_LEVEL / np.nanmedian(raw_unit_cost) if runs_something.any() else 1.0
        cost = power * scale
    cpu_cores = rng.choice(np.array([4.0, 6.0, 8.0, 12.0, 16.0]), size=n_providers)
    psi = np.column_stack([tflops, memory, col["bandwidth"][device], cpu_cores])

    # ---- tasks
    popularity = col["popularity"][:n_types]
    primary = rng.choice(n_types, size=n_tasks, p=popularity / popularity.sum())
    requested = rng.random((n_tasks, n_types)) < _MAX_TYPES_PER_TASK_EXTRA
    requested[np.arange(n_tasks), primary] = True
    units = rng.geometric(0.4, size=(n_tasks, n_types)).astype(float)
    demand = np.where(requested, units, 0.0)
    task_units = demand.sum(axis=1)
    per_unit = _PRICE_LEVEL * spec.value_markup * rng.lognormal(
        -0.5 * spec.value_spread**2, spec.value_spread, n_tasks
    )
    bundle_user_cost = user_cost(task_units)  # the default alpha = 2, beta = 1
    if capacity_unit == "time":
        # the markup applies to what the bundle costs at median prices per type
        per_unit = per_unit / _PRICE_LEVEL
        value = (demand @ type_price) * per_unit + bundle_user_cost
    else:
        value = task_units * per_unit + bundle_user_cost
    size = demand @ gflop / 1e3

    # ---- capacity: about supply_ratio x the total demand
    if capacity_unit == "time":
        # equal expected round lengths for providers that can run something
        demand_seconds = float(demand.sum(axis=0) @ type_seconds)
        n_active = max(int(runs_something.sum()), 1)
        mean_seconds = spec.supply_ratio * demand_seconds / n_active
        capacity = np.where(runs_something, rng.gamma(4.0, mean_seconds / 4.0, n_providers), 0.0)
    else:
        # Poisson around shares skewed towards faster devices
        share = np.where(runs_something, np.sqrt(tflops * efficiency), 0.0)
        if share.sum() == 0:
            share = np.ones(n_providers)
        mean_capacity = spec.supply_ratio * task_units.sum() * share / share.sum()
        capacity = rng.poisson(mean_capacity).astype(float)

    return Market(
        demand=demand,
        value=value,
        speed=speed,
        capacity=capacity,
        cost=cost,
        psi=psi,
        model_types=col["type_names"][:n_types],
        size=size,
        psi_names=("gpu_tflops", "memory_gb", "bandwidth_gbs", "cpu_cores"),
    )
