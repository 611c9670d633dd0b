"""The explorer's Pareto panel (issue 19 item 6): a design study's trials, its Pareto front, and
a click on a point that loads the point's settings into the explorer's controls.

A design study (:func:`oasis_lab.experiments.design.design_search`, or one stored by it and
read back with :func:`~oasis_lab.experiments.design.load_study`) names its settings by dotted
paths of the simulation's config (``disputes.provider_stake``, ``p_platform``,
``auction.psi_weights[0]``); :data:`DESIGN_CONTROLS` maps those the explorer has a control for
to the control's key, and :func:`pareto_points` turns the study into the points the panel draws,
each with the explorer settings it loads (and the settings it has no control for, listed apart).
:func:`explorer_study` runs the small study of the challenge game that notebook 06 shows,
with the challenge panel's learning agents (:func:`~oasis_lab.widgets.challenge.challenge_config`).

The live panel is :class:`ParetoPlot`, an `anywidget <https://anywidget.dev>`_ widget drawing the
points as SVG circles (one ``circle.oasis-pareto-point`` per trial, ``data-trial`` its number)
whose click sets its ``selected`` trait; :func:`plot_pareto` draws the same on matplotlib axes
for headless runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from oasis_lab.experiments.design import METRICS, DesignStudy, Float, Int, design_search, pareto_front
from oasis_lab.plotting import OKABE_ITO, format_number
from oasis_lab.widgets.challenge import challenge_config
from oasis_lab.widgets.settings import check_settings

__all__ = [
    "DESIGN_CONTROLS",
    "EXPLORER_SPACE",
    "explorer_study",
    "pareto_points",
    "pareto_widget",
    "plot_pareto",
]

#: A design study's settings (dotted paths) that are explorer controls, and the control's key;
#: ``auction.psi_weights[i]`` is the ``i``-th Ψ weight.
DESIGN_CONTROLS: dict[str, str] = {
    "disputes.provider_stake": "stake",
    "disputes.slash_fraction": "slash_fraction",
    "p_platform": "p_platform",
    "auction.alpha": "alpha",
    "auction.beta": "beta",
    "auction.fee": "fee",
    "auction.price_rule": "price_rule",
    "auction.task_density": "task_density",
    "auction.provider_density": "provider_density",
}
_PSI_PATH = re.compile(r"^auction\.psi_weights\[(\d+)\]$")

#: The space of notebook 06's study: the challenge game's three controls, in their ranges.
EXPLORER_SPACE: dict[str, Any] = {
    "disputes.provider_stake": Int(0, 5000),
    "disputes.slash_fraction": Float(0.0, 1.0),
    "p_platform": Float(0.0, 0.2),
}


def explorer_study(
    scenario: str = "balanced",
    n_tasks: int = 100,
    *,
    rounds: int = 20,
    seeds: int = 2,
    budget: int = 12,
    objectives: Sequence[str] = ("fraud_paid", "security_cost"),
    out: Any = None,
    client: Any = "serial",
    seed: int = 0,
    progress: bool = False,
) -> DesignStudy:
    """A design study of :data:`EXPLORER_SPACE` on the challenge panel's agents: ``n_tasks`` tasks
    a round of ``scenario`` for ``rounds`` rounds, ``budget`` trials (Optuna's random sampler:
    the front of a few trials, not an optimisation), each scored over ``seeds`` seeds, no false
    conviction allowed. ``out`` keeps it on disk (resumable, :func:`design_search`)."""
    base = challenge_config(scenario, n_tasks, 1000.0, 1.0, 0.05, rounds=rounds)
    return design_search(EXPLORER_SPACE, list(objectives), {"false_convictions": {"max": 0}}, [scenario], seeds,
                         budget, client, base=base, out=out, seed=seed, sampler="random",
                         batch_size=min(budget, 8), progress=progress)


def pareto_points(study: DesignStudy, current: Mapping[str, Any] | None = None,
                  x: str | None = None, y: str | None = None) -> pd.DataFrame:
    """The study's trials as the Pareto panel draws them.

    Parameters
    ----------
    study : DesignStudy
    current : mapping, optional
        The explorer's current settings: Ψ weights the study does not set are taken from it.
    x, y : str, optional
        The objectives on the axes (default: the study's first two; a one-objective study puts
        its trial number on ``x``).

    Returns
    -------
    DataFrame
        One row per complete trial: ``trial``, ``x``, ``y``, ``front`` (on the feasible Pareto
        front), ``feasible``, ``settings`` (the explorer settings it loads, checked), ``other``
        (its settings with no explorer control, path -> value) and ``label`` (the trial, its
        objectives and settings, for a tooltip). ``attrs``: ``x``, ``y`` (the objectives) and
        their directions.
    """
    if not isinstance(study, DesignStudy):
        raise TypeError(f"study must be a DesignStudy (design_search or load_study), got {type(study).__name__}")
    objectives = list(study.spec.objectives)
    x = x if x is not None else (objectives[0] if len(objectives) > 1 else "trial")
    y = y if y is not None else (objectives[1] if len(objectives) > 1 else objectives[0])
    for name, axis in ((x, "x"), (y, "y")):
        if name != "trial" and name not in objectives:
            raise ValueError(f"{axis} = {name!r} is not an objective of the study: {objectives}")
    trials = study.trials[study.trials["state"] == "complete"]
    front = set(pareto_front(trials, study.spec.objectives)["trial"].tolist())
    n_psi = len(current["psi_weights"]) if current is not None and "psi_weights" in current else 4
    rows = []
    for _, row in trials.iterrows():
        params = study.spec.params_of(row)
        settings: dict[str, Any] = {}
        psi = list(current["psi_weights"]) if current is not None and "psi_weights" in current else [1.0] * n_psi
        psi_set, other = False, {}
        for path, value in params.items():
            match = _PSI_PATH.match(path)
            if path in DESIGN_CONTROLS:
                settings[DESIGN_CONTROLS[path]] = value
            elif match and int(match.group(1)) < n_psi:
                psi[int(match.group(1))], psi_set = float(value), True
            else:
                other[path] = value
        if psi_set:
            settings["psi_weights"] = tuple(psi)
        settings = check_settings(settings, n_psi=n_psi)
        scores = {o: float(row[o]) for o in objectives}
        label = (f"trial {int(row['trial'])}: " + ", ".join(f"{o} {format_number(v)}" for o, v in scores.items())
                 + " | " + ", ".join(f"{k} {format_number(v) if isinstance(v, float) else v}"
                                     for k, v in params.items()))
        rows.append({
            "trial": int(row["trial"]),
            "x": float(row[x]) if x != "trial" else float(row["trial"]),
            "y": float(row[y]),
            "front": int(row["trial"]) in front,
            "feasible": bool(row["feasible"]) if "feasible" in row else True,
            "settings": settings,
            "other": other,
            "label": label,
        })
    out = pd.DataFrame(rows, columns=["trial", "x", "y", "front", "feasible", "settings", "other", "label"])
    out.attrs.update({"x": x, "y": y,
                      "x_direction": study.spec.objectives.get(x, "") if x != "trial" else "",
                      "y_direction": study.spec.objectives.get(y, "")})
    return out


def _axis_label(name: str, direction: str) -> str:
    """An objective's axis label on two lines: its name and which way is better, then what it
    measures (on one line the y axis's label was longer than the panel is high and was cut).

    >>> print(_axis_label("fraud_paid", "minimize"))
    fraud paid (lower is better)
    tokens paid and kept for cheated results
    """
    what = METRICS[name].description if name in METRICS else ""
    arrow = {"minimize": " (lower is better)", "maximize": " (higher is better)"}.get(direction, "")
    return f"{name.replace('_', ' ')}{arrow}" + (f"\n{what}" if what else "")


def plot_pareto(ax: Any, points: pd.DataFrame, selected: int | None = None) -> Any:
    """The Pareto panel on matplotlib axes: every trial grey, the front's points in colour and
    joined, the ``selected`` trial ringed."""
    rest, front = points[~points["front"]], points[points["front"]].sort_values("x")
    ax.scatter(rest["x"], rest["y"], s=18, color="lightgrey", label="other trials", zorder=1)
    ax.plot(front["x"], front["y"], "-", color=OKABE_ITO["blue"], lw=0.8, zorder=2)
    ax.scatter(front["x"], front["y"], s=40, color=OKABE_ITO["blue"], label="Pareto front", zorder=3)
    for _, r in front.iterrows():
        ax.annotate(str(r["trial"]), (r["x"], r["y"]), xytext=(4, 4), textcoords="offset points", fontsize=7)
    if selected is not None and (points["trial"] == selected).any():
        r = points[points["trial"] == selected].iloc[0]
        ax.scatter([r["x"]], [r["y"]], s=160, facecolors="none", edgecolors="black", lw=1.2, zorder=4,
                   label=f"trial {selected}")
    ax.set_xlabel(_axis_label(points.attrs.get("x", "x"), points.attrs.get("x_direction", "")), fontsize=8)
    ax.set_ylabel(_axis_label(points.attrs.get("y", "y"), points.attrs.get("y_direction", "")), fontsize=8)
    ax.legend(fontsize=7)
    return ax


_ESM = r"""
function render({ model, el }) {
  // room on the left and below for the tick labels and the two-line axis labels
  const W = 560, H = 350, L = 84, R = 16, T = 14, B = 62;
  const ns = "http://www.w3.org/2000/svg";
  const fmt = (v) => Math.abs(v) >= 1000 ? Math.round(v).toLocaleString("en-US") : (+v.toPrecision(3)).toString();
  function draw() {
    el.innerHTML = "";
    const pts = model.get("points");
    const sel = model.get("selected");
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("width", W); svg.setAttribute("height", H);
    svg.setAttribute("class", "oasis-pareto");
    const xs = pts.map(p => p.x), ys = pts.map(p => p.y);
    let x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
    if (x1 === x0) { x0 -= 1; x1 += 1; } if (y1 === y0) { y0 -= 1; y1 += 1; }
    // a margin of 5% so the points at the extremes sit inside the frame, not on it
    const mx = (x1 - x0) * 0.05, my = (y1 - y0) * 0.05;
    x0 -= mx; x1 += mx; y0 -= my; y1 += my;
    const px = (v) => L + (v - x0) / (x1 - x0) * (W - L - R);
    const py = (v) => H - B - (v - y0) / (y1 - y0) * (H - T - B);
    const add = (tag, attrs, parent = svg) => {
      const e = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      parent.appendChild(e); return e;
    };
    add("rect", {x: L, y: T, width: W - L - R, height: H - T - B, fill: "none", stroke: "#999"});
    for (let i = 0; i <= 4; i++) {
      const vx = x0 + (x1 - x0) * i / 4, vy = y0 + (y1 - y0) * i / 4;
      add("text", {x: px(vx), y: H - B + 14, "text-anchor": "middle", "font-size": 10}).textContent = fmt(vx);
      add("text", {x: L - 4, y: py(vy) + 3, "text-anchor": "end", "font-size": 10}).textContent = fmt(vy);
    }
    // each axis label: its first line (name, which way is better) bold, then what it measures
    const label = (text, attrs) => {
      const t = add("text", {...attrs, "text-anchor": "middle", "font-size": 11, class: "oasis-pareto-axis"});
      text.split("\n").forEach((line, i) => {
        const span = add("tspan", {x: attrs.x, dy: i ? 13 : 0, "font-weight": i ? "normal" : "bold"}, t);
        span.textContent = line;
      });
      return t;
    };
    label(model.get("x_label"), {x: (L + W - R) / 2, y: H - B + 30});
    const yc = (T + H - B) / 2;
    label(model.get("y_label"), {x: yc, y: 0, transform: `rotate(-90) translate(${-2 * yc} 14)`});
    const front = pts.filter(p => p.front).sort((a, b) => a.x - b.x);
    if (front.length > 1) add("polyline", {points: front.map(p => `${px(p.x)},${py(p.y)}`).join(" "),
                                           fill: "none", stroke: "#0072B2", "stroke-width": 1});
    for (const p of pts) {
      const c = add("circle", {cx: px(p.x), cy: py(p.y), r: p.front ? 7 : 4,
                               fill: p.front ? "#0072B2" : "#c8c8c8",
                               stroke: p.trial === sel ? "black" : "white", "stroke-width": p.trial === sel ? 3 : 1,
                               class: "oasis-pareto-point" + (p.front ? " oasis-pareto-front" : ""),
                               "data-trial": p.trial, style: "cursor: pointer"});
      add("title", {}, c).textContent = p.label;
      c.addEventListener("click", () => { model.set("selected", p.trial); model.save_changes(); });
    }
    el.appendChild(svg);
    const note = document.createElement("div");
    note.className = "oasis-pareto-note";
    note.style.fontSize = "12px";
    note.textContent = model.get("note");
    el.appendChild(note);
    const key = document.createElement("div");
    key.style.fontSize = "12px";
    key.innerHTML = '<span style="color:#0072B2">&#9679;</span> Pareto front (feasible) &nbsp; '
      + '<span style="color:#c8c8c8">&#9679;</span> other trials &nbsp; ringed: the trial loaded';
    el.appendChild(key);
  }
  model.on("change:points", draw); model.on("change:selected", draw); model.on("change:note", draw);
  draw();
}
export default { render };
"""


def _pareto_widget_class() -> Any:
    """:class:`ParetoPlot`, defined on first use (anywidget is only needed for the live panel)."""
    import anywidget
    import traitlets

    class ParetoPlot(anywidget.AnyWidget):
        """The Pareto panel in the browser: ``points`` (trial, x, y, front, label), the axes'
        labels, the ``selected`` trial (-1: none; set by a click) and a ``note`` below."""

        _esm = _ESM
        points: Any = traitlets.List([]).tag(sync=True)
        x_label = traitlets.Unicode("").tag(sync=True)
        y_label = traitlets.Unicode("").tag(sync=True)
        selected = traitlets.Int(-1).tag(sync=True)
        note = traitlets.Unicode("").tag(sync=True)

    return ParetoPlot


_PARETO_CLASS: list[Any] = []


def pareto_widget(points: pd.DataFrame, on_select: Callable[[int], None] | None = None) -> Any:
    """A :class:`ParetoPlot` of ``points`` (:func:`pareto_points`) calling ``on_select(trial)``
    when a point is clicked."""
    if not _PARETO_CLASS:
        _PARETO_CLASS.append(_pareto_widget_class())
    widget = _PARETO_CLASS[0](
        points=[{"trial": int(r["trial"]), "x": float(r["x"]), "y": float(r["y"]), "front": bool(r["front"]),
                 "label": str(r["label"])} for _, r in points.iterrows()],
        x_label=_axis_label(points.attrs.get("x", "x"), points.attrs.get("x_direction", "")),
        y_label=_axis_label(points.attrs.get("y", "y"), points.attrs.get("y_direction", "")),
        note="click a point: its settings load into the controls",
    )
    widget.add_class("oasis-pareto-panel")
    if on_select is not None:
        widget.observe(lambda change: on_select(int(change["new"])) if change["new"] >= 0 else None, names="selected")
    return widget
