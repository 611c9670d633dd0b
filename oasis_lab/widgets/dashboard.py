"""The live explorer of notebook 06 (whitepaper sections 4 and 5): controls, a busy-aware status
line, plots and numbers, over the pure callbacks of :mod:`~oasis_lab.widgets.explorer` and
:mod:`~oasis_lab.widgets.challenge`.

Layout: a status line (what is running, or how long the last update took), the plots, the
controls, then the numbers and the trace's key. The controls sit in a grid whose columns are at
least :data:`MIN_COLUMN` wide and wrap as the notebook narrows, each control the full width of
its column with a fixed label width, so every control keeps its name, its track and its readout
(a row of boxes in a narrow notebook had cut readouts, a slider track of zero width and
drop-downs reading "as_writt": issue 22). ``tests/test_explorer_browser.py`` measures it in
JupyterLab at 1,280 and 1,600 px, with and without the side panel.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from oasis_lab.market import Market
from oasis_lab.params import AuctionParams
from oasis_lab.widgets.challenge import CHALLENGE_ROUNDS, ChallengeView, challenge_view
from oasis_lab.widgets.explorer import (
    ExplorerView,
    explorer_figure,
    explorer_market,
    explorer_params,
    explorer_table,
    explorer_view,
)
from oasis_lab.widgets.session import SettingsStore, kept_state
from oasis_lab.widgets.settings import (
    AUCTION_KEYS,
    CHALLENGE_KEYS,
    CONTROLS,
    MARKET_KEYS,
    check_settings,
    default_settings,
)
from oasis_lab.widgets.trace import add_to_trace, trace_table

__all__ = ["MIN_COLUMN", "ExplorerDashboard", "describe_cell"]

#: The narrowest column of controls (px): a label of :data:`LABEL_WIDTH`, a track and a readout.
MIN_COLUMN = 330
#: The labels' width: the longest ("platform checks p", "Ψ bandwidth_gbs") in full.
LABEL_WIDTH = "9.5em"
_READY = "ready"


def describe_cell(source: str, most: int = 60) -> str:
    """A cell, in a few words: its first comment or its first line of code, shortened.

    >>> describe_cell("# the deterrence sweep\\nsweep(...)")
    'the deterrence sweep'
    >>> describe_cell("\\nclient = local_client(sweep_workers or None)")
    'client = local_client(sweep_workers or None)'
    """
    lines = [ln.strip() for ln in str(source).splitlines() if ln.strip()]
    first = next((ln for ln in lines if not ln.startswith("#")), "")
    comment = next((ln.lstrip("# ").strip() for ln in lines if ln.startswith("#") and ln.lstrip("# ").strip()), "")
    text = comment or first or "an empty cell"
    return text if len(text) <= most else text[: most - 1] + "…"


class ExplorerDashboard:
    """The explorer of notebook 06: the auction's readings, the market and the challenge game.

    Parameters
    ----------
    scenario : str
    n_tasks : int
        Tasks of the market (a tenth as many providers).
    params : AuctionParams
        Initial readings.
    seed : int
        The markets' and the simulation's seed.
    key : str, default "06_explorer"
        The state kept across re-runs of the cell (:func:`~oasis_lab.widgets.session.kept_state`)
        and the file of saved settings (:class:`~oasis_lab.widgets.session.SettingsStore`).
    restore : bool, default True
        Start from the settings and trace a dashboard of the same key left (re-running the
        cell keeps them); False starts afresh.
    settings_folder : path, optional
        Where named settings are saved (default: the per-user folder of
        :func:`~oasis_lab.widgets.session.settings_dir`).
    rounds : int
        Rounds of the challenge panel's learning simulation.

    Attributes
    ----------
    controls : dict
        One widget per key of :data:`~oasis_lab.widgets.settings.CONTROLS` (``psi_weights``: a
        tuple of sliders, one per Ψ component).
    status : HTML
        What is running (``running: ...``, controls disabled) or ``ready`` and the last update's time.
    busy : str
        What is running now, "" when nothing is.
    plots, numbers : Output
        The figure, and the tables (numbers, then the trace's key), replaced in place.
    trace : list of dict
        The settings tried (:func:`~oasis_lab.widgets.trace.add_to_trace`).
    view : ExplorerView
    challenge : ChallengeView
    store : SettingsStore
    widget : VBox
    """

    def __init__(
        self,
        scenario: str = "balanced",
        n_tasks: int = 400,
        params: AuctionParams | None = None,
        *,
        seed: int = 0,
        key: str = "06_explorer",
        restore: bool = True,
        settings_folder: Any = None,
        rounds: int = CHALLENGE_ROUNDS,
    ) -> None:
        import ipywidgets as w

        self.seed, self.rounds, self.key = seed, rounds, key
        self.base = params if params is not None else AuctionParams()
        self.psi_names = tuple(explorer_market(scenario, n_tasks, seed).psi_names)
        self.store = SettingsStore(key, settings_folder, check=self._check)
        self._state = kept_state(key)
        previous = self._state.get("dashboard")
        if previous is not None:
            previous.close()  # one live panel per key: the re-run replaces it
        start = default_settings(len(self.psi_names), self.base, scenario=scenario, n_tasks=n_tasks)
        if restore and self._state.get("settings"):
            start = {**start, **self._check(self._state["settings"])}
        self.trace: list[dict[str, Any]] = list(self._state.get("trace", [])) if restore else []
        self.busy = ""
        self._timing = ""
        self._held = False
        self._psi_disabled = False
        self._hooks: list[tuple[str, Any]] = []

        style = {"description_width": LABEL_WIDTH}
        # the full width of the column, margins inside it (ipywidgets' 2 px side margins on a
        # 100% width overflowed the last column past the notebook's edge)
        full = w.Layout(width="100%", margin="2px 0px")
        self.controls: dict[str, Any] = {}
        for name, c in CONTROLS.items():
            if name == "psi_weights":
                self.controls[name] = tuple(
                    w.FloatSlider(value=v, min=c.low, max=c.high, step=c.step, description=f"Ψ {label}",
                                  readout_format=c.fmt, continuous_update=False, style=style, layout=full)
                    for v, label in zip(start[name], self.psi_names, strict=True)
                )
            elif c.kind == "choice":
                self.controls[name] = w.Dropdown(options=list(c.choices), value=start[name], description=c.label,
                                                 style=style, layout=full)
            else:
                slider = w.IntSlider if c.kind == "int" else w.FloatSlider
                self.controls[name] = slider(value=start[name], min=c.low, max=c.high, step=c.step,
                                             description=c.label, readout_format=c.fmt, continuous_update=False,
                                             style=style, layout=full)
        for name, control in self._each_control():
            control.add_class(f"oasis-control-{name}")
            control.observe(lambda change, name=name: self._on_change(name), names="value")
        self.psi_reason = w.HTML(layout=w.Layout(width="100%"))
        self.status = w.HTML(value=_READY, layout=w.Layout(width="100%"))
        self.status.add_class("oasis-explorer-status")
        self.plots = w.Output()
        self.numbers = w.Output()
        # named settings (as hnn-core's GUI saves and loads its parameters)
        self.save_name = w.Text(placeholder="name", description="save as", style=style, layout=full)
        self.save_button = w.Button(description="save", layout=w.Layout(width="auto"))
        self.saved = w.Dropdown(options=self._saved_names(), description="saved", style=style, layout=full)
        self.load_button = w.Button(description="load", layout=w.Layout(width="auto"))
        self.reset_button = w.Button(description="clear trace", layout=w.Layout(width="auto"))
        self.message = w.HTML(layout=w.Layout(width="100%"))
        self.save_button.on_click(lambda _b: self._save())
        self.load_button.on_click(lambda _b: self._load())
        self.reset_button.on_click(lambda _b: self.clear_trace())
        self.buttons = (self.save_button, self.load_button, self.reset_button)

        def section(title: str, children: list[Any]) -> Any:
            return w.VBox([w.HTML(f"<b>{title}</b>"), *children], layout=w.Layout(width="100%", min_width="0"))

        ctl = self.controls
        grid = w.GridBox(
            [
                section("Ψ weights (provider capability)", [*ctl["psi_weights"], self.psi_reason]),
                section("auction readings (sections 4, 4.1, 4.2)",
                        [ctl[k] for k in AUCTION_KEYS if k != "psi_weights"]),
                section("market and challenge game (section 5)",
                        [*(ctl[k] for k in MARKET_KEYS), *(ctl[k] for k in CHALLENGE_KEYS)]),
                section("settings", [self.save_name, self.saved,
                                     w.HBox([self.save_button, self.load_button, self.reset_button]), self.message]),
            ],
            layout=w.Layout(grid_template_columns=f"repeat(auto-fill, minmax({MIN_COLUMN}px, 1fr))",
                            grid_gap="6px 18px", width="100%"),
        )
        grid.add_class("oasis-explorer-controls")
        self.widget = w.VBox([self.status, self.plots, grid, self.numbers], layout=w.Layout(width="100%"))
        self.widget.add_class("oasis-explorer")
        self.view: ExplorerView
        self.challenge: ChallengeView
        self.pareto: Any = None
        self.study_points: Any = None
        self._register_hooks()
        self._state["dashboard"] = self
        self._update(set(CONTROLS))
        if restore and self._state.get("study") is not None:
            self.attach_study(self._state["study"])  # the re-run keeps the Pareto panel too

    # ----------------------------------------------------------------------- settings
    def _check(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return check_settings(values, n_psi=len(self.psi_names))

    def _each_control(self) -> Iterator[tuple[str, Any]]:
        for name, control in self.controls.items():
            if isinstance(control, tuple):
                yield from ((name, s) for s in control)
            else:
                yield name, control

    def settings(self) -> dict[str, Any]:
        """Every control's value (:data:`~oasis_lab.widgets.settings.CONTROLS`' keys)."""
        return self._check({
            name: tuple(s.value for s in control) if isinstance(control, tuple) else control.value
            for name, control in self.controls.items()
        })

    def params(self) -> AuctionParams:
        """The :class:`AuctionParams` the widgets currently describe."""
        s = self.settings()
        return explorer_params({k: s[k] for k in AUCTION_KEYS}, self.base)

    @property
    def market(self) -> Market:
        return explorer_market(self.controls["scenario"].value, self.controls["n_tasks"].value, self.seed)

    def set_settings(self, values: Mapping[str, Any]) -> None:
        """Set some or all controls at once (checked first: a bad value changes nothing) and
        update once."""
        checked = self._check(values)
        self._held = True
        try:
            for name, value in checked.items():
                control = self.controls[name]
                if isinstance(control, tuple):
                    for slider, v in zip(control, value, strict=True):
                        slider.value = v
                else:
                    control.value = value
        finally:
            self._held = False
        self._update(set(checked))

    def clear_trace(self) -> None:
        """Forget the settings tried; the current one starts the trace again."""
        self.trace = []
        self._update(set())

    def _saved_names(self) -> list[str]:
        try:
            return self.store.names()
        except ValueError:
            return []

    def _save(self) -> None:
        name = self.save_name.value
        try:
            path = self.store.save(name, self.settings())
        except (TypeError, ValueError) as exc:
            self.message.value = f"<span style='color:#D55E00'>{exc}</span>"
            return
        self.saved.options = self._saved_names()
        self.saved.value = name.strip()
        self.message.value = f"<small>saved {name.strip()!r} in {path}</small>"

    def _load(self) -> None:
        if not self.saved.value:
            self.message.value = "<small>nothing saved yet: name the current settings and press save</small>"
            return
        try:
            values = self.store.load(self.saved.value)
        except (TypeError, ValueError) as exc:
            self.message.value = f"<span style='color:#D55E00'>{exc}</span>"
            return
        self.set_settings(values)
        self.message.value = f"<small>loaded {self.saved.value!r}</small>"

    # ----------------------------------------------------------------------- Pareto panel
    def attach_study(self, study: Any) -> Any:
        """Show a design study's Pareto panel under the controls (:func:`~oasis_lab.widgets.pareto.pareto_points`);
        clicking a point loads its settings into the controls. Returns the panel's widget."""
        from oasis_lab.widgets.pareto import pareto_points, pareto_widget

        self.study_points = pareto_points(study, self.settings())
        self._state["study"] = study
        if self.pareto is not None:
            _close_tree(self.pareto)
        self.pareto = pareto_widget(self.study_points, self.load_trial)
        children = [c for c in self.widget.children if c is not self.numbers]
        self.widget.children = (*children, self.pareto, self.numbers)
        return self.pareto

    def load_trial(self, trial: int) -> None:
        """Load the settings of the attached study's ``trial`` into the controls."""
        rows = self.study_points[self.study_points["trial"] == trial]
        if rows.empty:
            raise ValueError(f"trial = {trial!r} is not a trial of the attached study")
        point = rows.iloc[0]
        self.set_settings(point["settings"])
        other = ", ".join(f"{k} = {v}" for k, v in point["other"].items())
        note = f"loaded trial {trial}" + (f"; its settings with no control here: {other}" if other else "")
        self.message.value = f"<small>{note}</small>"
        if self.pareto is not None:
            self.pareto.note = note

    # ----------------------------------------------------------------------- busy state
    def _set_disabled(self, busy: bool) -> None:
        for name, control in self._each_control():
            control.disabled = busy or (name == "psi_weights" and self._psi_disabled)
        for b in (*self.buttons, self.save_name, self.saved):
            b.disabled = busy

    def set_busy(self, what: str) -> None:
        """Show that ``what`` is running and disable the controls until :meth:`set_ready`."""
        self.busy = what
        self.status.value = (f"<div style='background:#FFF3CD;padding:2px 6px'>⏳ <b>running:</b> {what} "
                             "<small>(controls wait until it ends)</small></div>")
        self._set_disabled(True)

    def set_ready(self, note: str = "") -> None:
        """Enable the controls and show ``ready`` (and ``note``)."""
        self.busy = ""
        self.status.value = f"<div style='padding:2px 6px'>✓ {_READY}{': ' + note if note else ''}</div>"
        self._set_disabled(False)

    def _register_hooks(self) -> None:
        """While another cell of the notebook runs, this panel's changes wait behind it in the
        kernel's queue: say so on the panel and disable its controls until the cell ends."""
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover
            return
        shell = get_ipython()
        if shell is None or not hasattr(shell, "events"):
            return
        for event, hook in (("pre_run_cell", self._pre_run_cell), ("post_run_cell", self._post_run_cell)):
            shell.events.register(event, hook)
            self._hooks.append((event, hook))

    def _pre_run_cell(self, info: Any) -> None:
        self.set_busy(f"another cell of the notebook ({describe_cell(getattr(info, 'raw_cell', ''))})")

    def _post_run_cell(self, _result: Any) -> None:
        self.set_ready(self._timing)

    def close(self) -> None:
        """Unregister from the kernel's events and close the widgets."""
        try:
            from IPython import get_ipython

            shell = get_ipython()
        except ImportError:  # pragma: no cover
            shell = None
        for event, hook in self._hooks:
            if shell is not None:
                try:
                    shell.events.unregister(event, hook)
                except ValueError:
                    pass
        self._hooks = []
        _close_tree(self.widget)

    # ----------------------------------------------------------------------- updates
    def _on_change(self, name: str) -> None:
        if not self._held:
            self._update({name})

    def _update(self, changed: set[str]) -> None:
        """Recompute what ``changed`` affects (the auction on its readings and the market; the
        challenge game on everything), add the setting to the trace and redraw."""
        try:
            s = self.settings()
            timings = []
            # busy (controls disabled) until the whole update is drawn: set_ready at its end
            if changed & {*AUCTION_KEYS, *MARKET_KEYS} or not hasattr(self, "view"):
                self.set_busy(f"auction: PRICES and the exact optimum, {s['n_tasks']:,} tasks ({s['scenario']})")
                t = time.perf_counter()
                self.view = explorer_view(self.market, self.params())
                timings.append(f"auction {time.perf_counter() - t:.1f} s")
                self._psi_disabled = self.view.psi_disabled
                self.psi_reason.value = f"<small>{self.view.psi_reason}</small>" if self.view.psi_disabled else ""
            self.set_busy(f"learning simulation: {self.rounds} rounds of {s['n_tasks']:,} tasks ({s['scenario']}), "
                          f"stake {s['stake']:,.0f}, slash {s['slash_fraction']:g}, "
                          f"platform checks {s['p_platform']:g}")
            t = time.perf_counter()
            self.challenge = challenge_view(s["scenario"], s["n_tasks"], s["stake"], s["slash_fraction"],
                                            s["p_platform"], self.params(), rounds=self.rounds, seed=self.seed)
            timings.append(f"learning simulation {time.perf_counter() - t:.1f} s")
            # a re-run of the cell restores the last setting: not a new one
            if not self.trace or self.trace[-1]["settings"] != s:
                self.trace = add_to_trace(self.trace, s, {**self.view.figures, **self.challenge.figures},
                                          self.psi_names)
            self._state["settings"], self._state["trace"] = s, self.trace
            self._timing = "last update: " + ", ".join(timings)
            self.refresh()
            self.set_ready(self._timing)
        except Exception as exc:  # shown on the panel: a callback's traceback goes to the log unseen
            self.set_ready()
            self.status.value = f"<div style='color:#D55E00;padding:2px 6px'>error: {type(exc).__name__}: {exc}</div>"
            raise

    def refresh(self) -> None:
        """Draw the current view into the panel's outputs, replacing what was there."""
        import matplotlib.pyplot as plt
        from IPython.display import display

        fig = explorer_figure(self.view, self.trace, self.challenge)
        self.plots.clear_output(wait=True)
        with self.plots:
            display(fig)
        plt.close(fig)
        self.numbers.clear_output(wait=True)
        with self.numbers:
            display(explorer_table(self.view, self.challenge))
            display(trace_table(self.trace))

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def _close_tree(widget: Any) -> None:
    """Close a widget and every widget inside it (never ``Widget.close_all``: it closes every
    widget of the kernel, other panels' included)."""
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    widget.close()
