"""The notebook-06 explorer: pure callbacks, and the dashboard driven through ``.value``."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from pathlib import Path
from types import SimpleNamespace

import matplotlib
import numpy as np
import pandas as pd
import papermill
import pytest
from matplotlib.text import Text

from oasis_lab.auction.baselines import solve_optimum
from oasis_lab.auction.greedy import run_greedy
from oasis_lab.params import AuctionParams
from oasis_lab.progress import PROGRESS_ENV
from oasis_lab.widgets import (
    ExplorerDashboard,
    SettingsStore,
    add_to_trace,
    challenge_grid,
    challenge_view,
    check_settings,
    default_settings,
    describe_cell,
    describe_change,
    explorer_figure,
    explorer_market,
    explorer_params,
    explorer_view,
    live_frontend,
    place_labels,
    plot_heatmap,
    psi_state,
    resolve_widgets_ui,
)
from oasis_lab.widgets.session import SETTINGS_ENV, WIDGETS_ENV

matplotlib.use("Agg")

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "06_explorer.ipynb"
ROUNDS = 10  # the dashboards' learning simulations here: short, the direction test below runs the default 40


@pytest.fixture(autouse=True)
def _own_settings_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # saved settings never go to the user's own folder from a test
    monkeypatch.setenv(SETTINGS_ENV, str(tmp_path / "settings"))


@pytest.fixture(scope="module")
def dash() -> ExplorerDashboard:
    return ExplorerDashboard("balanced", 400, key="test-module", restore=False, rounds=ROUNDS)


def test_dashboard_driven_through_values_equals_the_callbacks(dash: ExplorerDashboard) -> None:
    before = len(dash.trace)
    c = dash.controls
    c["provider_density"].value = "capability"
    c["alpha"].value = 3.0
    c["fee"].value = 0.1
    c["price_rule"].value = "as_written"
    c["psi_weights"][1].value = 4.0
    expected = AuctionParams(
        psi_weights=(1.0, 4.0, 1.0, 1.0), alpha=3.0, fee=0.1, price_rule="as_written", provider_density="capability"
    )
    assert dash.params() == expected
    direct = explorer_view(explorer_market("balanced", 400), expected)
    assert dash.view.figures == direct.figures
    pd.testing.assert_frame_equal(dash.view.prices, direct.prices)
    pd.testing.assert_frame_equal(dash.view.winners, direct.winners)
    assert len(dash.trace) == before + 5  # one point per setting tried
    assert dash.trace[-1]["welfare_share"] == direct.figures["welfare_share"]
    assert [t["change"] for t in dash.trace[-5:]] == [
        "provider density as_written→capability", "α 2→3", "fee 0→0.1", "price rule no_trade→as_written",
        "Ψ memory_gb 1→4",
    ]
    assert not any(s.disabled for s in c["psi_weights"]) and dash.psi_reason.value == ""
    # the challenge panel ran on these readings too
    s = dash.settings()
    again = challenge_view(s["scenario"], s["n_tasks"], s["stake"], s["slash_fraction"], s["p_platform"], expected,
                           rounds=ROUNDS)
    assert dash.challenge.figures == again.figures


def test_psi_sliders_disabled_with_the_reason(dash: ExplorerDashboard) -> None:
    dash.controls["provider_density"].value = "unit_cost"
    assert all(s.disabled for s in dash.controls["psi_weights"])
    assert "unit_cost" in dash.psi_reason.value and "disabled" in dash.psi_reason.value
    dash.controls["provider_density"].value = "capability"
    assert not any(s.disabled for s in dash.controls["psi_weights"])


def test_challenge_panel_follows_stake_slash_scenario_and_size(dash: ExplorerDashboard) -> None:
    c = dash.controls
    c["stake"].value = 0.0
    s = dash.settings()
    assert dash.challenge.figures == challenge_view(
        s["scenario"], s["n_tasks"], 0.0, s["slash_fraction"], s["p_platform"], dash.params(), rounds=ROUNDS
    ).figures
    before = dict(dash.challenge.figures)
    n = len(dash.trace)
    c["scenario"].value = "scarce_supply"
    c["n_tasks"].value = 200
    assert dash.market.n_tasks == 200 and dash.view.result.served_share.size == 200
    # the panel depends on the market: its numbers move with scenario and size
    assert dash.challenge.scenario == "scarce_supply" and dash.challenge.n_tasks == 200
    assert dash.challenge.config.tasks_per_round == 200 and dash.challenge.config.scenario == "scarce_supply"
    assert dash.challenge.figures["welfare"] != before["welfare"]
    assert dash.challenge.figures["fraud_paid"] != before["fraud_paid"]
    assert len(dash.trace) == n + 2
    assert dash.trace[-2]["change"] == "scenario balanced→scarce_supply"
    assert dash.trace[-1]["market"] == "scarce_supply · 200 tasks"


def test_learned_cheat_rate_falls_with_stake_and_slash() -> None:
    # the challenge panel's own simulation (40 rounds) over three seeds: a stake slashed in full
    # makes the cheaters learn to cheat less, in every seed; a stake never slashed changes nothing
    grid = challenge_grid({"stake": [0.0, 2000.0], "slash_fraction": [0.0, 1.0]}, range(3), {"n_tasks": 200},
                          progress=False)
    rate = grid.pivot_table(index="seed", columns=["stake", "slash_fraction"], values="learned_cheat_rate")
    deterred, free = rate[(2000.0, 1.0)], rate[(0.0, 1.0)]
    assert (deterred < free - 0.2).all(), rate  # measured 0.10-0.17 against 0.50-0.57
    assert (rate[(2000.0, 0.0)] == free).all()  # nothing slashed: the stake is no threat
    assert (rate[(0.0, 0.0)] == free).all()
    fraud = grid.pivot_table(index="seed", columns=["stake", "slash_fraction"], values="fraud_paid")
    assert fraud[(2000.0, 1.0)].mean() < fraud[(0.0, 1.0)].mean()


def test_challenge_title_shows_both_rates_as_set_and_learned() -> None:
    view = challenge_view("balanced", 200, 1000.0, 1.0, 0.05, rounds=ROUNDS)
    title = view.title()
    learned = view.figures["learned_challenge_rate"]
    assert "platform checks p = 0.05 (set)" in title
    assert f"challengers {learned:.3f} (learned)" in title
    assert "0.098" not in title  # once 1 - (1 - 0.05)(1 - 0.05): the users' 5% added silently
    assert "stake S = 1,000, slash f = 1" in title
    # learning challengers take the users' place; the platform's rate is the one set
    assert view.config.p_platform == 0.05 and view.config.policies.challenger.learning
    assert view.figures["cheaters"] > 0
    # a design study's trial loads unrounded values: the title rounds them
    loaded = dataclasses.replace(view, p_platform=0.0488861, slash_fraction=0.89872)
    assert "platform checks p = 0.0489 (set)" in loaded.title() and "slash f = 0.899:" in loaded.title()


def test_trace_labels_say_what_changed_without_overlap() -> None:
    assert describe_change(None, {"stake": 1.0}) == "start"
    assert describe_change({"stake": 500.0}, {"stake": 1000.0}) == "stake S 500→1,000"
    assert describe_change({"alpha": 2.0, "beta": 1.0, "fee": 0.0}, {"alpha": 3.0, "beta": 2.0, "fee": 0.1}) == (
        "α 2→3, β 1→2, +1 more")
    assert describe_change({"stake": 1.0}, {"stake": 1.0}) == "no change"
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.set(xlim=(0, 1), ylim=(0, 1))
    # a crowded cluster: every label must find its own place or fall back to its number
    xs = [0.5, 0.51, 0.5, 0.49, 0.52, 0.5, 0.48]
    ys = [0.5, 0.5, 0.51, 0.5, 0.49, 0.48, 0.52]
    texts = [f"{i}: stake S {i}→{i + 1}\nα 2→3" for i in range(len(xs))]
    notes = place_labels(ax, xs, ys, texts, short=[str(i) for i in range(len(xs))])
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    placed = [n for n in notes if n is not None]
    assert len(placed) >= 5
    boxes = [Text.get_window_extent(n, renderer) for n in placed]
    assert not [(a, b) for a, b in itertools.combinations(boxes, 2) if a.overlaps(b)]
    frame = ax.get_window_extent(renderer)
    assert all(frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1 for b in boxes)
    plt.close(fig)


def test_trace_and_figure_separate_markets() -> None:
    psi = explorer_market("balanced", 200).psi_names
    s = default_settings(len(psi), n_tasks=200)
    trace: list = []
    steps = [{}, {"stake": 0.0}, {"provider_density": "unit_cost"}, {"scenario": "scarce_supply", "n_tasks": 100}]
    for step in steps:
        s = {**s, **step}
        params = explorer_params({k: s[k] for k in ("psi_weights", "provider_density")})
        view = explorer_view(explorer_market(s["scenario"], s["n_tasks"]), params)
        ch = challenge_view(s["scenario"], s["n_tasks"], s["stake"], s["slash_fraction"], s["p_platform"], params,
                            rounds=3)
        trace = add_to_trace(trace, s, {**view.figures, **ch.figures}, psi)
    assert [t["setting"] for t in trace] == [1, 2, 3, 4]
    assert [t["change"] for t in trace] == ["start", "stake S 1,000→0", "provider density as_written→unit_cost",
                                            "scenario balanced→scarce_supply, tasks 200→100"]
    assert [t["auction_changed"] for t in trace] == [True, False, True, True]
    fig = explorer_figure(view, trace, ch)
    auction_ax, challenge_ax = fig.axes[0], fig.axes[1]
    # one legend entry per market (and the current point), one scatter series per market
    legend = [t.get_text() for t in auction_ax.get_legend().get_texts()]
    assert legend == ["balanced · 200 tasks", "scarce_supply · 100 tasks", "current: 4"]
    offsets = np.concatenate([np.asarray(c.get_offsets()) for c in auction_ax.collections[:2]])
    # the stake-only change did not move the auction's point: it is left out of that plane
    np.testing.assert_allclose(offsets[:, 1], [trace[i]["welfare_share"] for i in (0, 2, 3)])
    assert len(np.concatenate([np.asarray(c.get_offsets()) for c in challenge_ax.collections[:2]])) == 4
    labels = [t.get_text() for t in challenge_ax.texts]
    assert "2: stake S 1,000→0" in labels and "4: scenario balanced→scarce_supply\ntasks 200→100" in labels
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_busy_state_names_what_runs_and_disables_the_controls(dash: ExplorerDashboard) -> None:
    dash._pre_run_cell(SimpleNamespace(raw_cell="# deterrence and alpha x beta sweeps\nclient = local_client()"))
    assert dash.busy == "another cell of the notebook (deterrence and alpha x beta sweeps)"
    assert "running" in dash.status.value and "deterrence and alpha x beta sweeps" in dash.status.value
    assert all(w.disabled for _, w in dash._each_control())
    assert dash.save_button.disabled and dash.load_button.disabled
    dash._post_run_cell(None)
    assert dash.busy == "" and "ready" in dash.status.value
    assert not dash.controls["stake"].disabled and not dash.save_button.disabled
    # while its own callbacks run it names them: the status seen from inside the simulation
    seen = []
    import oasis_lab.widgets.dashboard as module

    original = module.challenge_view

    def spy(*args, **kwargs):
        seen.append((dash.busy, dash.controls["alpha"].disabled))
        return original(*args, **kwargs)

    module.challenge_view = spy
    try:
        dash.controls["slash_fraction"].value = 0.5
    finally:
        module.challenge_view = original
    assert seen and seen[0][0].startswith(f"learning simulation: {ROUNDS} rounds of") and seen[0][1] is True
    assert "slash 0.5" in seen[0][0]
    assert dash.busy == "" and not dash.controls["alpha"].disabled
    assert describe_cell("") == "an empty cell" and describe_cell("x = 1  " + "y" * 80).endswith("…")


def test_settings_and_trace_kept_across_reruns_of_the_cell() -> None:
    first = ExplorerDashboard("balanced", 200, key="test-rerun", restore=False, rounds=3)
    first.controls["stake"].value = 2500.0
    first.controls["alpha"].value = 4.0
    trace = [t["change"] for t in first.trace]
    # the cell runs again: the new panel starts where the old one left off, and replaces it
    second = ExplorerDashboard("balanced", 200, key="test-rerun", rounds=3)
    assert second.settings() == first.settings()
    assert [t["change"] for t in second.trace] == trace
    assert second.controls["stake"].value == 2500.0
    assert first._hooks == [] and first.widget.comm is None  # closed
    fresh = ExplorerDashboard("balanced", 200, key="test-rerun", restore=False, rounds=3)
    assert fresh.settings()["stake"] == 1000.0 and len(fresh.trace) == 1
    fresh.clear_trace()
    assert [t["change"] for t in fresh.trace] == ["start"]


def test_named_settings_save_and_load(tmp_path: Path) -> None:
    d = ExplorerDashboard("balanced", 200, key="test-named", restore=False, rounds=3, settings_folder=tmp_path)
    d.controls["stake"].value = 3000.0
    d.controls["price_rule"].value = "as_written"
    d.save_name.value = "high stake"
    d._save()
    assert d.saved.options == ("high stake",) and "saved" in d.message.value
    stored = json.loads((tmp_path / "test-named.settings.json").read_text())
    assert stored["high stake"]["stake"] == 3000.0 and stored["high stake"]["price_rule"] == "as_written"
    d.controls["stake"].value = 0.0
    n = len(d.trace)
    d.saved.value = "high stake"
    d._load()
    assert d.settings()["stake"] == 3000.0 and d.controls["price_rule"].value == "as_written"
    assert len(d.trace) == n + 1 and d.trace[-1]["change"] == "stake S 0→3,000"  # one update for the whole load
    # a hand-edited file fails naming the setting and the key, and changes nothing
    stored["broken"] = {"stake": 99_999}
    (tmp_path / "test-named.settings.json").write_text(json.dumps(stored))
    d.saved.options = d.store.names()
    d.saved.value = "broken"
    d._load()
    assert "broken" in d.message.value and "stake" in d.message.value and d.settings()["stake"] == 3000.0
    store = SettingsStore("test-named", tmp_path)
    with pytest.raises(ValueError, match="no settings named 'missing'"):
        store.load("missing")
    with pytest.raises(ValueError, match="name = ''"):
        store.save("", {})
    with pytest.raises(ValueError, match="key = 'a/b'"):
        SettingsStore("a/b", tmp_path)


def test_live_front_end_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    import IPython

    monkeypatch.delenv(WIDGETS_ENV, raising=False)
    monkeypatch.delenv(PROGRESS_ENV, raising=False)

    def shell(metadata: dict) -> SimpleNamespace:
        return SimpleNamespace(kernel=SimpleNamespace(get_parent=lambda channel=None: {"metadata": metadata}))

    # JupyterLab sends the cell's id with each execution request; nbclient (papermill) does not
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell({"cellId": "a1", "deletedCells": []}))
    assert live_frontend() and resolve_widgets_ui("auto")
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell({}))
    assert not live_frontend() and not resolve_widgets_ui("auto")
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert not live_frontend()
    # the report's kernels are never live, whatever the request says
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell({"cellId": "a1"}))
    monkeypatch.setenv(PROGRESS_ENV, "/tmp/progress.txt")
    assert not live_frontend()
    monkeypatch.setenv(WIDGETS_ENV, "1")
    assert live_frontend()
    monkeypatch.setenv(WIDGETS_ENV, "0")
    monkeypatch.delenv(PROGRESS_ENV)
    assert not live_frontend()
    assert resolve_widgets_ui(True) and not resolve_widgets_ui(False)
    with pytest.raises(ValueError, match="widgets_ui = 'yes'"):
        resolve_widgets_ui("yes")


def test_notebook_writes_its_summary_only_when_the_report_says_where() -> None:
    # interactive runs (Jupyter, papermill without parameters) leave reports/ alone; the report
    # passes summary_dir for every notebook that declares it (tests/test_notebooks.py reads it)
    params = papermill.inspect_notebook(str(NOTEBOOK))
    assert params["summary_dir"]["default"] == "None"
    assert params["widgets_ui"]["default"] == '"auto"'
    source = "".join("".join(c["source"]) for c in json.loads(NOTEBOOK.read_text())["cells"])
    assert "if summary_dir:\n    print(f\"key figures written to {write_summary(" in source


def test_explorer_view_is_pure_and_against_the_optimum() -> None:
    market = explorer_market("price_crossing", 200)
    params = AuctionParams(price_rule="as_written")
    a, b = explorer_view(market, params), explorer_view(market, params)
    assert a.figures == b.figures
    optimum = solve_optimum(market, params, backend="highspy").welfare
    greedy = run_greedy(market, params)
    assert a.figures["welfare_share"] == pytest.approx(greedy.welfare / optimum)
    assert a.figures["welfare_share"] <= 1 + 1e-7
    assert a.figures["ir_violations_users"] == greedy.ir_violations_users > 0
    units = greedy.trades.groupby("type")["units"].sum()
    np.testing.assert_allclose(a.prices["units"].to_numpy()[units.index], units.to_numpy())
    assert math.isclose(a.winners["units_share"].sum(), 1.0)


def test_psi_state_reads_the_outcome() -> None:
    market = explorer_market("balanced", 400)
    assert psi_state(market, AuctionParams(provider_density="unit_cost"))[0]
    assert psi_state(market, AuctionParams(provider_density="capability")) == (False, "")
    disabled, reason = psi_state(market, AuctionParams())
    # measured: on this market no weight changes a trade under the as-written density
    assert disabled and "as_written" in reason


def test_bad_explorer_inputs() -> None:
    with pytest.raises(ValueError, match="unknown explorer value"):
        explorer_params({"gamma": 1.0})
    with pytest.raises(ValueError, match="price_rule"):
        explorer_params({"price_rule": "vickrey"})
    with pytest.raises(ValueError, match="scenario = 'moon'"):
        explorer_market("moon", 100)
    with pytest.raises(ValueError, match="column 'welfare'"):
        plot_heatmap(pd.DataFrame({"a": [1], "b": [2]}), "a", "b", "welfare")
    with pytest.raises(ValueError, match=r"unknown explorer setting\(s\) \['gamma'\]"):
        check_settings({"gamma": 1.0})
    with pytest.raises(ValueError, match="stake"):
        check_settings({"stake": 25_000})
    with pytest.raises(ValueError, match="psi_weights"):
        check_settings({"psi_weights": [1.0, 2.0]})
    with pytest.raises(ValueError, match="scenario = 'moon'"):
        challenge_view("moon", 100, 0.0, 1.0, 0.05)
    with pytest.raises(ValueError, match="p_platform"):
        challenge_view("balanced", 100, 0.0, 1.0, 1.5)
    with pytest.raises(ValueError, match=r"grid\['stake'\] is empty"):
        challenge_grid({"stake": []}, [0])


def test_heatmap_numbers_stay_readable_on_light_and_dark_cells():
    import matplotlib.pyplot as plt

    frame = pd.DataFrame({"x": [0, 0, 1, 1], "y": [0, 1, 0, 1], "v": [0.0, 1.0, 2.0, 3.0]})
    ax = plot_heatmap(frame, "x", "y", "v", cmap="viridis", fmt="{:.0f}")
    ink = {t.get_text(): t.get_color() for t in ax.texts}
    # viridis runs from dark purple (0) to light yellow (3)
    assert ink["0"] == "white" and ink["3"] == "black"
    assert not any(line.get_visible() for line in ax.get_xgridlines() + ax.get_ygridlines())
    plt.close("all")


def test_pareto_points_load_their_settings_on_a_click() -> None:
    from oasis_lab.experiments.design import Float, Int, design_search
    from oasis_lab.widgets import challenge_config, explorer_study, pareto_points

    study = explorer_study(n_tasks=60, rounds=4, seeds=1, budget=6)
    d = ExplorerDashboard("balanced", 200, key="test-pareto", restore=False, rounds=3)
    panel = d.attach_study(study)
    assert panel in d.widget.children and d.widget.children[-1] is d.numbers
    points = d.study_points
    front = points[points["front"]]
    assert set(front["trial"]) == set(study.pareto_front()["trial"]) and len(points) == 6
    trial = int(front["trial"].iloc[-1])
    row = study.trials[study.trials["trial"] == trial].iloc[0]
    panel.selected = trial  # what a click on the point does in the browser
    s = d.settings()
    assert s["stake"] == float(row["disputes.provider_stake"])
    assert s["slash_fraction"] == pytest.approx(row["disputes.slash_fraction"])
    assert s["p_platform"] == pytest.approx(row["p_platform"])
    assert d.challenge.stake == s["stake"] and f"loaded trial {trial}" in d.message.value
    assert d.trace[-1]["change"].startswith("stake S 1,000→")
    with pytest.raises(ValueError, match="trial = 99"):
        d.load_trial(99)
    # the cell re-run keeps the Pareto panel with the settings and the trace
    again = ExplorerDashboard("balanced", 200, key="test-pareto", rounds=3)
    assert again.pareto is not None and again.pareto in again.widget.children
    assert list(again.study_points["trial"]) == list(points["trial"]) and again.settings() == s
    # Ψ weights by element, and settings with no control listed apart
    base = challenge_config("balanced", 60, 1000.0, 1.0, 0.05, rounds=2)
    base = base.replace(auction=base.auction.replace(psi_weights=(1.0, 1.0, 1.0, 1.0)))
    other = design_search({"auction.psi_weights[1]": Float(0.0, 2.0), "disputes.challenger_bond": Int(10, 500)},
                          ["fraud_paid"], None, ["balanced"], 1, 2, "serial", base=base, progress=False)
    p = pareto_points(other, d.settings())
    first = other.trials.iloc[0]
    assert p["settings"].iloc[0]["psi_weights"][1] == pytest.approx(first["auction.psi_weights[1]"])
    assert p["settings"].iloc[0]["psi_weights"][0] == d.settings()["psi_weights"][0]
    assert p["other"].iloc[0] == {"disputes.challenger_bond": int(first["disputes.challenger_bond"])}
    with pytest.raises(ValueError, match="x = 'welfare'"):
        pareto_points(study, x="welfare")
    with pytest.raises(TypeError, match="DesignStudy"):
        pareto_points(points)  # type: ignore[arg-type]
