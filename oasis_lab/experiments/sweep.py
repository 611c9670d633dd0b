"""Sweeps: one experiment over a grid of configs and a list of seeds, on Dask, resumable.

:func:`sweep` runs ``run(config, seed)`` for every grid point and seed on a
``dask.distributed`` cluster (a :class:`~distributed.LocalCluster` over this machine's cores
by default, or an existing cluster given by its scheduler address), and appends each finished
point to a Parquet dataset (one file per point, written atomically) as soon as it finishes.
Run again with the same ``out`` and the points already there are read back, not recomputed,
so an interrupted sweep resumes where it stopped. A progress bar counts points done and gives
an ETA from the rate of the points computed in this run (points read back do not inflate it).

Every grid point's config is built, and so checked, before any work starts: a bad key or
value fails at once with an error naming it.

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
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from oasis_lab.experiments.base import ExperimentConfig, experiment_class, run
from oasis_lab.files import atomic_path, atomic_write, check_output_dir
from oasis_lab.seeding import check_seed

__all__ = [
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
    else:
        raise TypeError(f"grid must be a mapping of field -> values or a list of points, got {type(grid).__name__}")
    points = []
    for index, combo in enumerate(combos):
        try:
            config = base.replace(**combo)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"grid point {combo}: {exc}") from None
        points.append(SweepPoint(index, combo, config))
    return points


def _seeds(seeds: int | Iterable[int]) -> list[int]:
    if isinstance(seeds, bool):
        raise TypeError(f"seeds must be a count or a list of integer seeds, got {seeds!r}")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"seeds = {seeds} must be >= 1 (a count) or a list of seeds")
        return list(range(seeds))
    if not isinstance(seeds, Iterable):
        raise TypeError(f"seeds must be a count or a list of integer seeds, got {seeds!r}")
    out = [check_seed(s, "seeds[]") for s in seeds]
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


def _labelled(frame: pd.DataFrame, point: SweepPoint, seed: int) -> pd.DataFrame:
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
    return frame.assign(**labels)[[*labels, *frame.columns]]


def _run_point(config: ExperimentConfig, seed: int) -> pd.DataFrame:
    # a module-level function, so that dask ships it to workers by reference
    return run(config, seed)


def _write(frame: pd.DataFrame, path: Path) -> None:
    # atomic: a point's file is either complete or absent, so a killed sweep resumes cleanly
    with atomic_path(path, keep_suffix=True) as tmp:
        frame.to_parquet(tmp, index=False)


def _open_out(out: Path, name: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    manifest = out / _MANIFEST
    if manifest.exists():
        recorded = json.loads(manifest.read_text()).get("experiment")
        if recorded != name:
            raise ValueError(
                f"out = {str(out)!r} holds a sweep of experiment {recorded!r}, not {name!r}; choose another folder"
            )
    else:
        with atomic_write(manifest, "w", encoding="utf-8") as fh:
            fh.write(json.dumps({"experiment": name}) + "\n")


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
        from distributed import Client

        own = Client(client)
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
    progress: bool = True,
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
        tqdm progress bar (points done, ETA from this run's rate).

    Returns
    -------
    pandas.DataFrame
        ``point`` (grid index), the grid's keys, ``seed``, then the experiment's columns.
    """
    points = expand_grid(experiment, grid)
    seed_list = _seeds(seeds)
    name = points[0].config.name
    check_client(client)
    out_dir = check_output_dir("out", Path(out)) if out is not None else None
    if out_dir is not None:
        _open_out(out_dir, name)
    jobs = [(p, s) for p in points for s in seed_list]
    paths = {(p.index, s): (out_dir / f"part-{point_key(p.config, s)}.parquet") if out_dir else None for p, s in jobs}
    done = {k for k, path in paths.items() if path is not None and path.exists()}
    todo = [(p, s) for p, s in jobs if (p.index, s) not in done]
    results: dict[tuple[int, int], pd.DataFrame] = {}

    active, own = open_client(client) if todo else (client, None)
    bar = None
    if progress:
        from oasis_lab.progress import progress_bar

        # created once the cluster is up; smoothing=0: the ETA is (points left) / (mean rate
        # of the points computed in this run); points read back from ``out`` count as done
        # but not in the rate
        bar = progress_bar(total=len(jobs), initial=len(done), desc=f"sweep {name}", unit="point")

    def finish(point: SweepPoint, seed: int, frame: pd.DataFrame) -> None:
        frame = _labelled(frame, point, seed)
        path = paths[(point.index, seed)]
        if path is not None:
            _write(frame, path)
        else:
            results[(point.index, seed)] = frame
        if bar is not None:
            bar.update(1)

    try:
        if todo and active == "serial":
            for point, seed in todo:
                finish(point, seed, run(point.config, seed))
        elif todo:
            _run_on_dask(todo, active, finish)
    finally:
        if bar is not None:
            bar.close()
        close_client(own)
    frames = [
        pd.read_parquet(paths[k]) if paths[k] is not None else results[k] for k in ((p.index, s) for p, s in jobs)
    ]
    return pd.concat(frames, ignore_index=True)


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
