"""A sweep's mean over seeds on a two-parameter grid, as an annotated heat map."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.plotting import format_number

__all__ = ["plot_heatmap"]


def plot_heatmap(
    frame: pd.DataFrame,
    x: str,
    y: str,
    value: str,
    *,
    ax: Any = None,
    title: str = "",
    cmap: str = "viridis",
    fmt: str = "{:.2f}",
    center: float | None = None,
) -> Any:
    """Heat map of ``value`` (mean over seeds) on the grid ``x`` by ``y`` of a sweep's frame."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    for col in (x, y, value):
        if col not in frame.columns:
            raise ValueError(f"column {col!r} is not in the frame (columns: {list(frame.columns)})")
    grid = frame.pivot_table(index=y, columns=x, values=value, aggfunc="mean").sort_index()
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4))
    data = grid.to_numpy(dtype=float)
    norm = None
    if center is not None and np.nanmin(data) < center < np.nanmax(data):
        norm = TwoSlopeNorm(vmin=float(np.nanmin(data)), vcenter=center, vmax=float(np.nanmax(data)))
    mesh = ax.imshow(data, origin="lower", aspect="auto", cmap=cmap, norm=norm)
    ax.figure.colorbar(mesh, ax=ax, label=value)
    ax.set_xticks(range(grid.shape[1]), [format_number(v) for v in grid.columns], rotation=45, fontsize=8)
    ax.set_yticks(range(grid.shape[0]), [format_number(v) for v in grid.index], fontsize=8)
    ax.grid(False)  # grid lines would read as cell boundaries
    for (i, j), v in np.ndenumerate(data):
        if np.isfinite(v):
            # dark text on light cells, light on dark: white on a yellow cell was unreadable
            r, g, b, _ = mesh.cmap(mesh.norm(v))
            ink = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
            ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=7, color=ink)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title or value, fontsize=10)
    return ax
