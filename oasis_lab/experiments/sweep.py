"""Sweeps: one experiment over a grid of configs and a list of seeds, on Dask, resumable.

:func:`sweep` runs ``run(config, seed)`` for every grid point and seed on a
``dask.distributed`` cluster (a :class:`~distributed.LocalCluster` over this machine's cores
by default, or an existing cluster given by its scheduler address), and appends each finished
point to a Parquet dataset (one file per point, written atomically) as soon as it finishes.
Run again with the same ``out`` and the points already there are read back, not recomputed,
so an interrupted sweep resumes where it stopped. A progress bar (``progress=True``, and always
on the report's console) counts points done and gives an ETA from the rate of the points
computed in this run (points read back do not inflate it).

The dataset describes itself: its manifest ``_sweep.json`` records the experiment, the base
config and the grid, and each part records its experiment, base config, grid, grid point,
config and seed, and carries the SHA-256 of its bytes (:func:`oasis_lab.files.seal`). A part
is found by a hash of its point's config and seed, checked against what it records and
relabelled from the current grid (a grid extended or reordered between runs numbers its
points anew; the parts on disk are rewritten with the new labels). A sweep of another
experiment or base config into the same folder is refused, naming what differs; the folder
is claimed atomically, so of two sweeps started together into one new folder only one can.

Everything is checked before any work starts and before anything is created: every grid
point's config (a bad key or value fails at once with an error naming it), the sizes (at most
:data:`MAX_RUNS` runs), every part already in ``out`` (a damaged one is refused, naming it)
and the Dask scheduler given by its address.

Examples
--------
>>> from oasis_lab.experiments import Deterrence
>>> from oasis_lab.experiments.sweep import sweep
>>> frame = sweep(Deterrence(n_tasks=40, n_nodes=16), {"stake": [0.0, 5000.0]}, 2,
...               client="serial", progress=False)
>>> print(frame[["point", "stake", "seed"]].to_string(index=False))
 point  stake  seed
     0    0.0     0
     0    0.0     1
     1 5000.0     0
     1 5000.0     1
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from oasis_lab.experiments.base import ExperimentConfig, experiment_class, run
from oasis_lab.files import (
    atomic_write,
    check_output_dir,
    create_new,
    read_sealed_parquet,
    write_sealed_parquet,
)
from oasis_lab.seeding import check_seed

__all__ = [
    "MAX_RUNS",
    "SweepPoint",
    "check_client",
    "close_client",
    "expand_grid",
    "local_client",
    "open_client",
    "point_key",
    "sweep",
]

_MANIFEST = "_sweep.json"
# 2: self-describing manifest and checksummed, self-describing parts; 1 named the experiment only
_FORMAT = "oasis_lab.sweep/2"
_PART_KEY = "oasis_lab.sweep"
#: Most runs (grid points x seeds) one sweep may hold: each is one experiment run, one file.
MAX_RUNS = 1_000_000
#: Seconds to wait for a Dask scheduler given by its address before giving up.
CONNECT_TIMEOUT_S = 10


class SweepPoint:
    """One grid point: its index, the grid values that define it and the built config."""

    __slots__ = ("config", "index", "values")

    def __init__(self, index: int, values: dict[str, Any], config: ExperimentConfig) -> None:
        self.index = index
        self.values = values
        self.config = config


def expand_grid(experiment: Any, grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]]) -> list[SweepPoint]:
    """The grid's points with their configs, each built (and so checked) now.

    Parameters
    ----------
    experiment : str, ExperimentConfig class or instance
        An instance is the base config the grid changes; a name or class starts from defaults.
    grid : mapping of field -> sequence of values, or sequence of mappings
        A mapping is the product of its value lists (in order, last key fastest); a sequence
        of mappings lists the points explicitly. ``{}`` is one point (the base config).

    Raises
    ------
    ValueError, TypeError
        A key that is not a field of the experiment, a value list that is empty or not a
        list, or a value the config refuses; the message names the key.
    """
    cls = experiment_class(experiment)
    base = experiment if isinstance(experiment, ExperimentConfig) else cls()
    if isinstance(grid, Mapping):
        cls.check_keys(grid, "grid")
        for key, values in grid.items():
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                raise TypeError(f"grid[{key!r}] must be a list of values, got {values!r}")
            if not list(values):
                raise ValueError(f"grid[{key!r}] is empty: give at least one value")
        keys = list(grid)
        size = math.prod(len(list(grid[k])) for k in keys)
        if size > MAX_RUNS:
            raise ValueError(
                f"grid has {size:,} points ({' x '.join(f'{k}: {len(list(grid[k]))}' for k in keys)}), "
                f"more than the {MAX_RUNS:,} runs a sweep may hold"
            )
        combos: list[dict[str, Any]] = [
            dict(zip(keys, combo, strict=False)) for combo in itertools.product(*(list(grid[k]) for k in keys))
        ]
    elif isinstance(grid, Sequence) and not isinstance(grid, (str, bytes)):
        combos = []
        for k, point in enumerate(grid):
            if not isinstance(point, Mapping):
                raise TypeError(f"grid[{k}] must be a mapping of field -> value, got {point!r}")
            cls.check_keys(point, f"grid[{k}]")
            combos.append(dict(point))
        if not combos:
            raise ValueError("grid is an empty list of points")
        if len(combos) > MAX_RUNS:
            raise ValueError(f"grid lists {len(combos):,} points, more than the {MAX_RUNS:,} runs a sweep may hold")
    else:
        raise TypeError(f"grid must be a mapping of field -> values or a list of points, got {type(grid).__name__}")
    points = []
    for index, combo in enumerate(combos):
        try:
            config = base.replace(**combo)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"grid point {combo}: {exc}") from None
        except FileNotFoundError as exc:  # a config naming a file (market_over_time's config_file)
            raise ValueError(f"grid point {combo}: {exc}") from None
        points.append(SweepPoint(index, combo, config))
    return points


def _seeds(seeds: int | Iterable[int]) -> list[int]:
    if isinstance(seeds, bool):
        raise TypeError(f"seeds must be a count or a list of integer seeds, got {seeds!r}")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"seeds = {seeds} must be >= 1 (a count) or a list of seeds")
        if seeds > MAX_RUNS:
            raise ValueError(f"seeds = {seeds} must be <= {MAX_RUNS:,} (the runs a sweep may hold)")
        return list(range(seeds))
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Iterable):
        raise TypeError(f"seeds must be a count or a list of integer seeds, got {seeds!r}")
    out = []
    for s in seeds:
        out.append(check_seed(s, "seeds[]"))
        if len(out) > MAX_RUNS:
            raise ValueError(f"seeds lists more than {MAX_RUNS:,} seeds (the runs a sweep may hold)")
    if not out:
        raise ValueError("seeds is empty")
    if len(set(out)) != len(out):
        raise ValueError(f"seeds {out} repeat a seed")
    return out


def point_key(config: ExperimentConfig, seed: int) -> str:
    """A content hash of (experiment, config, seed): the name of the point's Parquet file."""
    text = json.dumps(
        {"experiment": config.name, "config": config.to_dict(), "seed": seed}, sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _labelled(frame: pd.DataFrame, point: SweepPoint, seed: int) -> tuple[pd.DataFrame, list[str]]:
    """The experiment's frame with the sweep's labels in front, and the labels' names."""
    labels: dict[str, Any] = {"point": point.index}
    for key, value in point.values.items():
        labels[key] = str(list(value)) if isinstance(value, (tuple, list)) else value
    labels["seed"] = seed
    # a grid key the experiment also reports (e.g. n_tasks) is kept once, if they agree
    for key in [k for k in point.values if k in frame.columns]:
        if (frame[key] == labels[key]).all():
            del labels[key]
    clash = sorted(set(labels) & set(frame.columns))
    if clash:
        raise ValueError(f"experiment {point.config.name!r} returns column(s) {clash} that the sweep adds")
    return frame.assign(**labels)[[*labels, *frame.columns]], list(labels)


def _run_point(config: ExperimentConfig, seed: int) -> pd.DataFrame:
    # a module-level function, so that dask ships it to workers by reference
    return run(config, seed)


def _jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (numpy scalars and other objects as text), keys in order."""
    return json.loads(json.dumps(value, default=str))


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON, key order included (a grid's key order numbers its points)."""
    return json.dumps(a) == json.dumps(b)


def _grid_record(grid: Any) -> Any:
    if isinstance(grid, Mapping):
        return _jsonable({k: list(v) for k, v in grid.items()})
    return _jsonable([dict(p) for p in grid])


def _differences(recorded: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    keys = sorted(set(recorded) | set(now))
    return [f"{k}: {recorded.get(k, '(absent)')!r} there, {now.get(k, '(absent)')!r} now"
            for k in keys if recorded.get(k) != now.get(k)]


class _Dataset:
    """The Parquet dataset of a sweep in the folder ``out``: its manifest and parts."""

    def __init__(self, out: Path, base: ExperimentConfig, grid: Any) -> None:
        self.out = out
        self.manifest = out / _MANIFEST
        self.record = {
            "format": _FORMAT,
            "experiment": base.name,
            "config": _jsonable(base.to_dict()),
            "grid": _grid_record(grid),
        }

    def path(self, point: SweepPoint, seed: int) -> Path:
        return self.out / f"part-{point_key(point.config, seed)}.parquet"

    def check(self) -> None:
        """Refuse a folder holding another sweep (experiment, base config) or an older format."""
        if not self.manifest.exists():
            if self.out.exists() and any(self.out.glob("part-*.parquet")):
                raise ValueError(f"out = {str(self.out)!r} holds sweep parts but no {_MANIFEST}; choose another folder")
            return
        self._compare(self._read_manifest())

    def _read_manifest(self) -> dict[str, Any]:
        try:
            recorded = json.loads(self.manifest.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"sweep manifest {str(self.manifest)!r} is unreadable: {exc}") from None
        if not isinstance(recorded, dict):
            raise ValueError(f"sweep manifest {str(self.manifest)!r} is not a JSON object")
        return recorded

    def _compare(self, recorded: dict[str, Any]) -> None:
        where = f"out = {str(self.out)!r}"
        if recorded.get("experiment") != self.record["experiment"]:
            raise ValueError(
                f"{where} holds a sweep of experiment {recorded.get('experiment')!r}, not "
                f"{self.record['experiment']!r}; choose another folder"
            )
        if recorded.get("format") != _FORMAT:
            raise ValueError(
                f"{where} holds a sweep of format {recorded.get('format', 'oasis_lab.sweep/1')!r} (parts without "
                f"checksums), not {_FORMAT!r}; choose another folder"
            )
        diff = _differences(recorded.get("config") or {}, self.record["config"])
        if diff:
            raise ValueError(
                f"{where} holds a sweep of {self.record['experiment']!r} from another base config "
                f"({'; '.join(diff)}); choose another folder"
            )

    def claim(self) -> None:
        """Create the folder and its manifest, atomically: of two sweeps starting together into a
        new folder, one creates the manifest and the other then reads (and compares) it."""
        self.out.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.record, indent=1) + "\n"
        if create_new(self.manifest, text.encode()):
            return
        recorded = self._read_manifest()
        self._compare(recorded)
        if not _same(recorded, self.record):  # same sweep, another grid: record the current one
            with atomic_write(self.manifest, "w", encoding="utf-8") as fh:
                fh.write(text)

    def read(self, path: Path, point: SweepPoint, seed: int) -> tuple[pd.DataFrame, list[str], bool]:
        """A finished part, checked and relabelled from the current grid; its labels' names;
        and whether its stored record (labels, grid) differs from the current one."""
        what = f"sweep part {str(path)!r}"
        try:
            table, metadata = read_sealed_parquet(path, what)
        except ValueError as exc:
            raise ValueError(f"{exc}; delete it to compute that point again") from None
        try:
            meta = json.loads(metadata[_PART_KEY])
            labels = list(meta["labels"])
            stored = (meta["experiment"], meta["config"], meta["seed"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{what} lacks its sweep record ({type(exc).__name__}: {exc})") from None
        expected = (point.config.name, _jsonable(point.config.to_dict()), seed)
        if stored != expected:
            raise ValueError(
                f"{what} holds experiment {stored[0]!r} seed {stored[2]!r} config {stored[1]}, not the "
                f"point it is named for ({expected[0]!r} seed {seed} config {expected[1]}); delete it"
            )
        if _same(meta, self._part_record(point, seed, labels)):  # written under this very grid
            return table.to_pandas(), labels, False
        relabelled, names = _labelled(table.to_pandas().drop(columns=labels), point, seed)
        return relabelled, names, True

    def _part_record(self, point: SweepPoint, seed: int, labels: list[str]) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "experiment": self.record["experiment"],
            "base": self.record["config"],
            "grid": self.record["grid"],
            "point": point.index,
            "values": _jsonable(point.values),
            "config": _jsonable(point.config.to_dict()),
            "seed": seed,
            "labels": labels,
        }

    def write(self, frame: pd.DataFrame, labels: list[str], point: SweepPoint, seed: int) -> None:
        # atomic: a point's file is either complete or absent, so a killed sweep resumes cleanly
        import pyarrow as pa

        record = json.dumps(self._part_record(point, seed, labels))
        table = pa.Table.from_pandas(frame, preserve_index=False)
        write_sealed_parquet(self.path(point, seed), table, {_PART_KEY: record})


def _connect(address: str) -> Any:
    """A ``distributed.Client`` of the scheduler at ``address``, or one clear error."""
    from distributed import Client

    try:
        return Client(address, timeout=CONNECT_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, ValueError (bad address)...
        raise ValueError(
            f"client = {address!r}: no Dask scheduler answered there within {CONNECT_TIMEOUT_S} s "
            f"({type(exc).__name__}: {exc})"
        ) from None


def local_client(n_workers: int | None = None) -> Any:
    """A :class:`distributed.Client` on a new :class:`distributed.LocalCluster`.

    One single-threaded worker process per core (``os.cpu_count()`` by default): the
    experiments are CPU-bound Python and numpy, so processes, not threads, run them in parallel.
    Close it (``client.close(); client.cluster.close()``) when done.
    """
    import logging

    from distributed import Client, LocalCluster

    n = n_workers or os.cpu_count() or 1
    cluster = LocalCluster(
        n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
    )
    return Client(cluster)


def check_client(client: Any) -> None:
    """Refuse a ``client`` argument that is not None, ``"serial"``, an address or a Client."""
    if client is not None and not (isinstance(client, str) or hasattr(client, "submit")):
        raise TypeError(f"client must be None, 'serial', a scheduler address or a distributed.Client, got {client!r}")


def open_client(client: Any) -> tuple[Any, Any]:
    """``(active, own)`` for a ``client`` argument as :func:`sweep` takes it.

    ``active`` is what to run on (``"serial"`` or a ``Client``); ``own`` is the Client this call
    opened (a new LocalCluster for ``None``, a connection for a scheduler address), to be
    closed with :func:`close_client`, or None when the caller's own client is used as is.
    """
    if client is None:
        own = local_client()
        return own, own
    if isinstance(client, str) and client != "serial":
        own = _connect(client)
        return own, own
    return client, None


def close_client(own: Any) -> None:
    """Close a Client :func:`open_client` opened, and the LocalCluster it started, if any."""
    if own is None:
        return
    cluster = own.cluster  # None for a connection to a scheduler address
    own.close()
    if cluster is not None:
        cluster.close()


def sweep(
    experiment: Any,
    grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]],
    seeds: int | Iterable[int],
    *,
    client: Any = None,
    out: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Run ``experiment`` at every grid point and seed; one frame, ordered by (point, seed).

    Parameters
    ----------
    experiment : str, ExperimentConfig class or instance
        An instance is the base config the grid changes.
    grid : mapping of field -> values, or list of mappings
        See :func:`expand_grid`.
    seeds : int or iterable of int
        A count ``n`` (seeds ``0 .. n-1``) or the seeds themselves.
    client : None, "serial", str or distributed.Client
        ``None``: a new :class:`~distributed.LocalCluster` over this machine's cores, closed at
        the end; ``"serial"``: in this process, no Dask; a scheduler address
        (``"tcp://host:8786"``): that cluster; a ``Client``: used as is (not closed).
    out : path, optional
        Folder of the Parquet dataset (one ``part-<hash>.parquet`` per point and seed, plus
        ``_sweep.json`` naming the experiment). Points already there are read, not recomputed.
    progress : bool
        Show a progress bar (points done, ETA from this run's mean rate). Under the report
        (``python -m oasis_lab report``) the bar goes to the report's console whatever this
        says (:mod:`oasis_lab.progress`), so a notebook passes nothing.

    Returns
    -------
    pandas.DataFrame
        ``point`` (grid index), the grid's keys, ``seed``, then the experiment's columns.
    """
    points = expand_grid(experiment, grid)
    seed_list = _seeds(seeds)
    if len(points) * len(seed_list) > MAX_RUNS:
        raise ValueError(
            f"grid points x seeds = {len(points):,} x {len(seed_list):,} = {len(points) * len(seed_list):,} "
            f"runs, more than the {MAX_RUNS:,} a sweep may hold"
        )
    name = points[0].config.name
    check_client(client)
    if out is not None and (isinstance(out, bool) or not isinstance(out, (str, os.PathLike))):
        raise TypeError(f"out must be a folder path, got {type(out).__name__} {out!r}")
    out_dir = check_output_dir("out", Path(out)) if out is not None else None
    base = experiment if isinstance(experiment, ExperimentConfig) else experiment_class(experiment)()
    dataset = _Dataset(out_dir, base, grid) if out_dir is not None else None
    jobs = [(p, s) for p in points for s in seed_list]
    results: dict[tuple[int, int], pd.DataFrame] = {}
    relabel: list[tuple[SweepPoint, int, list[str]]] = []
    if dataset is not None:
        # everything in ``out`` is checked before any work starts and before anything is created
        dataset.check()
        for point, seed in jobs:
            path = dataset.path(point, seed)
            if path.exists():
                results[(point.index, seed)], labels, changed = dataset.read(path, point, seed)
                if changed:
                    relabel.append((point, seed, labels))
    todo = [(p, s) for p, s in jobs if (p.index, s) not in results]

    # a scheduler address is connected to before anything is created: a wrong one fails cleanly
    active, own = open_client(client) if todo else (client, None)
    bar = None
    try:
        if dataset is not None:
            dataset.claim()
            for point, seed, labels in relabel:  # parts of an earlier grid: stored with the current labels
                dataset.write(results[(point.index, seed)], labels, point, seed)
        from oasis_lab.progress import progress_bar

        # created once the cluster is up; smoothing=0: the ETA is (points left) / (mean rate
        # of the points computed in this run); points read back from ``out`` count as done
        # but not in the rate
        bar = progress_bar(total=len(jobs), initial=len(results), desc=f"sweep {name}", unit="point",
                           disable=not progress)

        def finish(point: SweepPoint, seed: int, frame: pd.DataFrame) -> None:
            labelled, labels = _labelled(frame, point, seed)
            if dataset is not None:
                dataset.write(labelled, labels, point, seed)
            results[(point.index, seed)] = labelled
            if bar is not None:
                bar.update(1)

        if todo and active == "serial":
            for point, seed in todo:
                finish(point, seed, run(point.config, seed))
        elif todo:
            _run_on_dask(todo, active, finish)
    finally:
        if bar is not None:
            bar.close()
        close_client(own)
    return pd.concat([results[(p.index, s)] for p, s in jobs], ignore_index=True)


def _run_on_dask(todo: list[tuple[SweepPoint, int]], client: Any, finish: Any) -> None:
    from distributed import as_completed

    jobs = {}
    for point, seed in todo:
        future = client.submit(_run_point, point.config, seed, pure=False)
        jobs[future] = (point, seed)
    try:
        for future, frame in as_completed(list(jobs), with_results=True):
            finish(*jobs[future], frame)
    except BaseException:
        # a failed point (or Ctrl-C): stop the rest; what finished is already written
        client.cancel(list(jobs))
        raise
