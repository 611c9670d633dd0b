"""The trace of settings tried in the explorer, and labels that never overlap.

Each entry of the trace is one setting (every control's value, :mod:`~oasis_lab.widgets.settings`)
with what the auction and the challenge panel showed for it, numbered in the order tried and
labelled by what changed from the setting before (``"stake S 500→1,000"``,
:func:`~oasis_lab.widgets.settings.describe_change`). Settings of different markets (scenario,
tasks per round) are drawn as separate series, each its own colour and marker with the
market in the legend, so points of different markets are never read as one curve.

:func:`place_labels` puts each label where it overlaps no other label, no point and stays
inside the axes (a greedy search over offsets around the point; a label with no free place is
left out, and the trace's table still names it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from oasis_lab.plotting import OKABE_ITO
from oasis_lab.widgets.settings import AUCTION_KEYS, MARKET_KEYS, describe_change

__all__ = [
    "LABELLED",
    "add_to_trace",
    "market_label",
    "place_labels",
    "plot_trace",
    "trace_table",
]

#: How many of the latest settings carry their "what changed" text; older ones their number.
LABELLED = 6
_COLOURS = [OKABE_ITO[k] for k in ("blue", "vermillion", "bluish green", "reddish purple", "orange", "sky blue")]
_MARKERS = ["o", "s", "^", "D", "v", "P"]


def market_label(settings: Mapping[str, Any]) -> str:
    """The market a setting runs on: ``"balanced · 400 tasks"``."""
    return f"{settings['scenario']} · {int(settings['n_tasks']):,} tasks"


def add_to_trace(
    trace: Sequence[dict[str, Any]],
    settings: Mapping[str, Any],
    figures: Mapping[str, Any],
    psi_names: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """The trace with one setting appended (a new list; pure).

    Parameters
    ----------
    trace : list of dict
        The entries so far.
    settings : mapping
        Every control's value (:func:`~oasis_lab.widgets.settings.check_settings`).
    figures : mapping
        What the panels showed: ``welfare_share``, ``served_share`` (the auction),
        ``learned_cheat_rate``, ``learned_challenge_rate``, ``fraud_paid``, ``security_cost``
        (the challenge panel); others are kept as given.
    psi_names : sequence of str
        Names of the Ψ components, for the labels.

    Returns
    -------
    list of dict
        ``setting`` (1, 2, ...), ``market`` (:func:`market_label`), ``change`` (what changed
        from the entry before), ``auction_changed`` (the auction's readings or the market
        changed: the auction's point moved), ``settings`` and the figures.
    """
    before = trace[-1]["settings"] if trace else None
    settings = dict(settings)
    auction_changed = before is None or any(before.get(k) != settings.get(k) for k in (*AUCTION_KEYS, *MARKET_KEYS))
    return [
        *trace,
        {
            "setting": len(trace) + 1,
            "market": market_label(settings),
            "change": describe_change(before, settings, psi_names),
            "auction_changed": bool(auction_changed),
            "settings": settings,
            **dict(figures),
        },
    ]


def trace_table(trace: Sequence[Mapping[str, Any]], last: int = 12) -> pd.DataFrame:
    """The trace's key: the ``last`` settings tried, with their market, what changed and the
    headline figures, newest last."""
    columns = ["market", "change", "welfare_share", "learned_cheat_rate", "learned_challenge_rate", "fraud_paid"]
    rows = [{c: t.get(c) for c in columns} | {"setting": t["setting"]} for t in trace[-last:]]
    frame = pd.DataFrame(rows, columns=["setting", *columns]).set_index("setting")
    return frame.rename(columns={"change": "what changed", "learned_cheat_rate": "cheat rate (learned)",
                                 "learned_challenge_rate": "challenge rate (learned)"})


def _overlaps(a: Any, b: Any, pad: float = 1.0) -> bool:
    return not (a.x1 + pad <= b.x0 or b.x1 + pad <= a.x0 or a.y1 + pad <= b.y0 or b.y1 + pad <= a.y0)


def place_labels(
    ax: Any,
    xs: Sequence[float],
    ys: Sequence[float],
    texts: Sequence[str],
    *,
    short: Sequence[str] | None = None,
    fontsize: float = 7.0,
    marker_px: float = 9.0,
) -> list[Any]:
    """Annotate point ``i`` with ``texts[i]`` where no label overlaps another, a point or the
    axes' edge; the axes' limits must be final. Labels are placed in order (give the most
    important first), each at the nearest free offset (rings of 8 directions, 5 to 60 points
    out, a leader line beyond the first ring); where ``texts[i]`` finds no free place,
    ``short[i]`` is tried (e.g. the point's number), and a label with no free place at all is
    left out (None).

    Returns
    -------
    list
        The :class:`~matplotlib.text.Annotation` of each label, or None where it was left out.
    """
    from matplotlib.transforms import Bbox

    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    points = ax.transData.transform(list(zip(xs, ys, strict=True))) if len(xs) else []
    half = marker_px * fig.dpi / 72.0 / 2.0
    taken = [Bbox.from_extents(px - half, py - half, px + half, py + half) for px, py in points]
    placed: list[Any] = []
    directions = [(1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1), (0, 1)]
    alternatives = [(t,) if short is None or short[i] == t else (t, short[i]) for i, t in enumerate(texts)]
    px_per_pt = fig.dpi / 72.0
    for (x, y), (px, py), options in zip(zip(xs, ys, strict=True), points, alternatives, strict=True):
        found = None
        for text in options:
            # the label's size once; each candidate place is then arithmetic
            probe = ax.text(0, 0, text, fontsize=fontsize, transform=None)
            size = probe.get_window_extent(renderer)
            width, height = size.width, size.height
            probe.remove()
            for radius in (5, 12, 22, 34, 46, 60):
                for dx, dy in directions:
                    scale = radius / math.sqrt(2.0 if dx and dy else 1.0)
                    ax0 = px + dx * scale * px_per_pt - (0 if dx > 0 else width if dx < 0 else width / 2)
                    ay0 = py + dy * scale * px_per_pt - (0 if dy > 0 else height if dy < 0 else height / 2)
                    box = Bbox.from_extents(ax0, ay0, ax0 + width, ay0 + height)
                    if (box.x0 < frame.x0 or box.x1 > frame.x1 or box.y0 < frame.y0 or box.y1 > frame.y1
                            or any(_overlaps(box, t) for t in taken)):
                        continue
                    found = ax.annotate(
                        text, (x, y), xytext=(dx * scale, dy * scale), textcoords="offset points", fontsize=fontsize,
                        ha="left" if dx > 0 else "right" if dx < 0 else "center",
                        va="bottom" if dy > 0 else "top" if dy < 0 else "center",
                        arrowprops={"arrowstyle": "-", "color": "grey", "lw": 0.6, "shrinkA": 0, "shrinkB": 3}
                        if radius > 12 else None,
                    )
                    taken.append(box)
                    break
                if found is not None:
                    break
            if found is not None:
                break
        placed.append(found)
    return placed


def plot_trace(
    ax: Any,
    trace: Sequence[Mapping[str, Any]],
    x: str,
    y: str,
    *,
    only_auction_changes: bool = False,
    labels: bool = True,
) -> Any:
    """The trace of settings on ``ax``: ``x`` against ``y``, one series per market (colour,
    marker, legend entry below the axes), the current setting ringed, the :data:`LABELLED`
    latest labelled ``"k: what changed"`` and older ones ``"k"``. With
    ``only_auction_changes``, settings that changed only the challenge game (the auction's
    point did not move) are left out.

    Set the axes' limits before: the labels are placed against them. Returns the labels'
    annotations (:func:`place_labels`); with ``labels=False`` nothing is labelled and the
    labels' ``(xs, ys, texts, short)`` are returned instead, to place once the figure's layout
    is final (``place_labels(ax, xs, ys, texts, short=short)``)."""
    import numpy as np

    shown = [t for t in trace if t.get("auction_changed", True) or not only_auction_changes]
    shown = [t for t in shown if np.isfinite(t[x]) and np.isfinite(t[y])]
    markets = list(dict.fromkeys(t["market"] for t in shown))
    for i, market in enumerate(markets):
        series = [t for t in shown if t["market"] == market]
        ax.plot([t[x] for t in series], [t[y] for t in series], "-", color=_COLOURS[i % len(_COLOURS)], lw=0.8,
                alpha=0.5, zorder=1)
        ax.scatter([t[x] for t in series], [t[y] for t in series], color=_COLOURS[i % len(_COLOURS)],
                   marker=_MARKERS[i % len(_MARKERS)], s=30, zorder=2, label=market)
    if shown:
        cur = shown[-1]
        ax.scatter([cur[x]], [cur[y]], s=150, facecolors="none", edgecolors="black", linewidths=1.2, zorder=3,
                   label=f"current: {cur['setting']}")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize=7, frameon=False, ncol=2)
    # newest first: the latest settings get the best places
    newest = list(reversed(shown))
    # one change a line: a label as wide as two changes found no room in a narrow panel
    texts = [f"{t['setting']}: " + t["change"].replace(", ", "\n") if k < LABELLED else str(t["setting"])
             for k, t in enumerate(newest)]
    spec = ([t[x] for t in newest], [t[y] for t in newest], texts, [str(t["setting"]) for t in newest])
    if not labels:
        return spec
    return place_labels(ax, *spec[:3], short=spec[3])
