"""The engine's structure: stages played from one list and all timed, the recorder's named
reporters, a shorter run is a prefix of a longer one, and the behaviour seams."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oasis_lab.sim import Behaviour, SimConfig, engine, simulate, stages
from oasis_lab.sim.behaviour import CheatAction
from oasis_lab.sim.config import CHEATER_ADVERSARIES, load_config
from oasis_lab.sim.court import CHEATER, Court
from oasis_lab.sim.recorder import ROUND_REPORTERS, Recorder, Reporter, price_reporters

DOCS = Path(__file__).resolve().parents[2] / "docs" / "mechanism.md"
SMALL = dict(rounds=6, tasks_per_round=60, n_providers=12)


def _cheaters(**changes: object) -> SimConfig:
    base = SimConfig(cheater_share=0.3, p_user=0.3, dispute_delay=1, failure_probability=0.05, **SMALL)
    return base.replace(**changes)


# ---------------------------------------------------------------------------- stages
def test_the_loop_plays_the_stages_of_round_in_order_and_times_each(monkeypatch: pytest.MonkeyPatch) -> None:
    called: list[tuple[int, str]] = []

    def logged(name: str, fn: stages.Stage) -> stages.Stage:
        def stage(state: object, r: int) -> None:
            called.append((r, name))
            fn(state, r)  # type: ignore[arg-type]
        return stage

    monkeypatch.setattr(engine, "ROUND", tuple((name, logged(name, fn)) for name, fn in stages.ROUND))
    res = simulate(_cheaters(rounds=3), 1)
    assert called == [(r, name) for r in range(3) for name, _ in stages.ROUND]
    assert tuple(res.timings) == ("setup", *stages.STAGES) == engine.TIMED


def test_the_documented_stage_order_is_the_played_order() -> None:
    # the module notes number the stages "N. ``name``": the same names in the same order
    documented = re.findall(r"^\s*\d+\. ``(\w+)``", stages.__doc__ or "", flags=re.M)
    assert documented == list(stages.STAGES)


def test_every_stage_is_timed_and_the_stages_cover_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    pause = 0.02

    def slow(fn: stages.Stage) -> stages.Stage:
        def stage(state: object, r: int) -> None:
            time.sleep(pause)
            fn(state, r)  # type: ignore[arg-type]
        return stage

    monkeypatch.setattr(engine, "ROUND", tuple((name, slow(fn)) for name, fn in stages.ROUND))
    rounds = 3
    start = time.perf_counter()
    res = simulate(_cheaters(rounds=rounds), 1)
    wall = time.perf_counter() - start
    for name in stages.STAGES:
        assert res.timings[name] >= rounds * pause, name
    total = sum(res.timings.values())
    # the stages hold at least the 30 pauses; what is outside them (assembling the result)
    # is small beside that whatever the machine's load
    assert total <= wall
    assert total >= 0.5 * wall


def test_the_optimum_is_timed_in_its_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    # the bug this guards: the optimum's solve ran between two timed stages and was counted
    # in none of them, so rounds per second was overstated
    real = stages.solve_optimum
    solves: list[int] = []

    def slow_optimum(*args: object, **kwargs: object) -> object:
        time.sleep(0.05)
        solves.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(stages, "solve_optimum", slow_optimum)
    res = simulate(SimConfig(rounds=3, tasks_per_round=30, n_providers=6, optimum_every=1), 0)
    assert len(solves) == 3
    assert res.timings["optimum"] >= 0.05 * len(solves)
    assert res.rounds["optimum_welfare"].notna().all()


# ---------------------------------------------------------------------------- recorder
def test_the_per_round_table_is_the_reporters_columns() -> None:
    res = simulate(_cheaters(), 2)
    types = [c[len("price["):-1] for c in res.rounds.columns if c.startswith("price[")]
    assert len(types) == SimConfig().n_types
    assert list(res.rounds.columns) == [rep.name for rep in ROUND_REPORTERS + price_reporters(types)]
    assert all(rep.doc for rep in ROUND_REPORTERS)


def test_the_documented_columns_are_the_reporters() -> None:
    # docs/mechanism.md's table of per-round columns: one row per reporter, same name, same doc
    text = DOCS.read_text()
    start = text.index("### How the engine is built")
    section = text[start:text.index("\n### ", start + 1)]
    rows = re.findall(r"^\| `([^`]+)` \| (.+?) \|$", section, flags=re.M)
    expected = [(rep.name, rep.doc) for rep in ROUND_REPORTERS] + [
        ("price[<type>]", price_reporters(["<type>"])[0].doc)
    ]
    assert rows == expected


def test_a_recorder_takes_any_named_reporters() -> None:
    config = _cheaters(rounds=3)
    state = engine.initial_state(config, 4)
    state.recorder = Recorder(
        [ROUND_REPORTERS[0], Reporter("waiting", "tasks waiting", lambda s: s.queue.n),
         Reporter("cheaters_removed", "cheaters convicted so far",
                  lambda s: int(((s.providers.removed >= 0) & (s.providers.kind == CHEATER)).sum()))]
    )
    for r in range(config.rounds):
        for _, stage in stages.ROUND:
            stage(state, r)
    table = state.recorder.table()
    full = simulate(config, 4)
    assert list(table.columns) == ["round", "waiting", "cheaters_removed"]
    np.testing.assert_array_equal(table["waiting"], full.rounds["queue"])
    p = full.providers
    assert table["cheaters_removed"].iloc[-1] == ((p["removed"] >= 0) & (p["kind"] == "cheater")).sum() > 0
    with pytest.raises(ValueError, match="unique"):
        Recorder([ROUND_REPORTERS[0], ROUND_REPORTERS[0]])


# ---------------------------------------------------------------------------- arrivals per round
@pytest.mark.parametrize("name", ["cheaters.yaml", "market_referees.yaml", "other_hardware.toml"])
def test_a_shorter_run_is_a_prefix_of_a_longer_one(name: str) -> None:
    config = load_config(Path(__file__).resolve().parents[2] / "data" / "configs" / name,
                         rounds=40, tasks_per_round=50, n_providers=10)
    config = config.replace(cheater_share=0.2, entry_rate=0.3, failure_probability=0.05)
    long = simulate(config, 3).rounds
    short = simulate(config.replace(rounds=20), 3).rounds
    pd.testing.assert_frame_equal(short, long.iloc[:20], check_exact=True)


# ---------------------------------------------------------------------------- behaviour seams
class NeverCheat:
    def act(self, observation: object) -> CheatAction:
        n = observation.n  # type: ignore[attr-defined]
        return CheatAction(np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int8))


class EveryoneCheats:
    """Every delivered job is cheated on, with ``adversary``, whatever the provider's kind."""

    def __init__(self, adversary: str) -> None:
        self.code = CHEATER_ADVERSARIES.index(adversary)

    def act(self, observation: object) -> CheatAction:
        o = observation
        return CheatAction(~o.failed, np.full(o.n, self.code, dtype=np.int8))  # type: ignore[attr-defined]


class Always:
    def __init__(self, answer: bool) -> None:
        self.answer = answer

    def act(self, observation: object) -> np.ndarray:
        return np.full(observation.n, self.answer)  # type: ignore[attr-defined]


def test_the_scripted_behaviour_is_the_default() -> None:
    config = _cheaters()
    a = simulate(config, 5).rounds
    b = simulate(config, 5, behaviour=Behaviour.scripted(config)).rounds
    pd.testing.assert_frame_equal(a, b)
    assert a["cheated_jobs"].sum() > 0


def test_the_cheat_seam_decides_who_cheats_and_with_which_adversary() -> None:
    config = _cheaters(cheater_share=0.0, p_user=1.0, dispute_delay=0)
    honest = simulate(config, 5)
    assert honest.rounds["cheated_jobs"].sum() == 0
    b = Behaviour.scripted(config)
    res = simulate(config, 5, behaviour=b.replace(cheat=EveryoneCheats("skip")), record_jobs=True)
    d = res.disputes
    assert len(d) > 0 and d["cheated"].all() and (d["kind"] == "honest").all()
    # providers drawn honest who cheated are convicted; none of them is a false conviction
    assert (d["verdict"] == "provider_guilty").all()
    assert res.rounds["false_convictions"].sum() == 0
    config = _cheaters(cheater_share=0.5)
    none = simulate(config, 5, behaviour=Behaviour.scripted(config).replace(cheat=NeverCheat()))
    assert none.rounds["cheated_jobs"].sum() == 0 and none.rounds["convictions"].sum() == 0


def test_the_court_plays_the_adversary_each_dispute_names() -> None:
    kind = np.full(4, CHEATER, dtype=np.int64)
    node = np.array([3, 9, 3, 20])
    for mode in ("vectorised", "played"):
        court = Court("synthetic:32", SimConfig().disputes, "perturb", 1, seed=2, mode=mode)
        mixed = court.decide(kind, node, 0, adversary=["skip", "swap", "perturb", "skip"])
        for adversary in ("skip", "swap", "perturb"):
            alone = Court("synthetic:32", SimConfig().disputes, adversary, 1, seed=2, mode=mode).decide(kind, node, 0)
            mine = [i for i, a in enumerate(["skip", "swap", "perturb", "skip"]) if a == adversary]
            np.testing.assert_array_equal(mixed.rounds[mine], alone.rounds[mine])
            np.testing.assert_array_equal(mixed.disputed_node[mine], alone.disputed_node[mine])
        with pytest.raises(ValueError, match="adversary has 1 entries for 4 disputes"):
            court.decide(kind, node, 0, adversary=["skip"])


def test_the_challenge_seams() -> None:
    config = _cheaters()
    b = Behaviour.scripted(config).replace(user_challenge=Always(True), platform_challenge=Always(False))
    res = simulate(config, 5, behaviour=b, record_jobs=True)
    delivered = res.jobs[~res.jobs["failed"]].groupby("round").size()
    r = res.rounds.set_index("round")
    assert (r["challenges"] == delivered.reindex(r.index, fill_value=0)).all()
    assert (r["challenges_user"] == r["challenges"]).all()
    nobody = Behaviour.scripted(config).replace(user_challenge=Always(False), platform_challenge=Always(False))
    assert simulate(config, 5, behaviour=nobody).rounds["challenges"].sum() == 0


class Reports:
    def __init__(self, scale: float) -> None:
        self.scale = scale

    def act(self, observation: object) -> np.ndarray:
        o = observation
        return (o.value if hasattr(o, "value") else o.cost) * self.scale  # type: ignore[attr-defined]


def test_the_report_seams_set_what_the_auction_sees() -> None:
    config = _cheaters()
    b = Behaviour.scripted(config)
    # users who report next to nothing are never served: every task waits
    low = simulate(config, 5, behaviour=b.replace(user_reports=Reports(1e-9))).rounds
    assert low["jobs"].sum() == 0 and low["welfare"].sum() == 0
    assert low["queue"].iloc[-1] == low["arrived"].sum()  # every task still waits
    truthful = simulate(config, 5).rounds
    doubled = simulate(config, 5, behaviour=b.replace(provider_reports=Reports(2.0))).rounds
    # dearer asks: fewer served in the first round, same tasks
    assert doubled["served"].iloc[0] < truthful["served"].iloc[0]
    for scale in (0.0, -1.0, np.nan):
        with pytest.raises(ValueError, match=r"user_reports reported an amount that is not finite and > 0"):
            simulate(config, 5, behaviour=b.replace(user_reports=Reports(scale)))
    with pytest.raises(ValueError, match=r"provider_reports reported an amount that is not finite and >= 0"):
        simulate(config, 5, behaviour=b.replace(provider_reports=Reports(-1.0)))


def test_the_referee_and_bribe_seams() -> None:
    config = load_config(Path(__file__).resolve().parents[2] / "data" / "configs" / "market_referees.yaml",
                         **SMALL).replace(cheater_share=0.4, p_user=0.5, referee_collude_share=0.0,
                                          referee_frame_share=0.0, appeal_to=None)
    honest = simulate(config, 3).rounds
    assert honest["disputes_resolved"].sum() > 0 and honest["wrong_verdicts"].sum() == 0

    class Collude:
        def act(self, observation: object) -> np.ndarray:
            return np.full(observation.pool.size, 1, dtype=np.int8)  # type: ignore[attr-defined]

    b = Behaviour.scripted(config)
    colluding = simulate(config, 3, behaviour=b.replace(referee=Collude())).rounds
    assert colluding["cheaters_freed"].sum() == colluding["disputes_resolved"].sum() > 0

    class Overpay:
        def act(self, observation: object) -> int:
            return observation.balance + 1  # type: ignore[attr-defined]

    with pytest.raises(ValueError, match="behaviour bribe offered"):
        simulate(config, 3, behaviour=b.replace(bribe=Overpay()))


def test_the_exit_seam() -> None:
    config = _cheaters(rounds=8, exit_window=2)

    class LeaveWhenFree:
        def act(self, observation: object) -> np.ndarray:
            return np.ones(observation.provider.size, dtype=bool)  # type: ignore[attr-defined]

    b = Behaviour.scripted(config)
    res = simulate(config, 5, behaviour=b.replace(exit=LeaveWhenFree()))
    gone = res.providers[res.providers["exited"] >= 0]
    # everyone free to leave leaves at the end of the first full window
    assert len(gone) > 0 and (gone["exited"] == 1).sum() > 0
    assert res.rounds["providers_exited"].sum() > simulate(config, 5).rounds["providers_exited"].sum()


def test_behaviour_is_checked_at_the_boundary() -> None:
    config = _cheaters()
    b = Behaviour.scripted(config)
    with pytest.raises(ValueError, match="unknown roles"):
        b.replace(cheats=NeverCheat())
    with pytest.raises(TypeError, match="behaviour exit = 3 has no act"):
        b.replace(exit=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="behaviour must be a Behaviour"):
        simulate(config, 0, behaviour=NeverCheat())  # type: ignore[arg-type]

    class Wrong:
        def act(self, observation: object) -> np.ndarray:
            return np.ones(observation.n + 1, dtype=bool)  # type: ignore[attr-defined]

    with pytest.raises(ValueError, match=r"behaviour user_challenge returned shape"):
        simulate(config, 0, behaviour=b.replace(user_challenge=Wrong()))

    class CheatOnFailed:
        def act(self, observation: object) -> CheatAction:
            o = observation
            return CheatAction(np.ones(o.n, dtype=bool), np.zeros(o.n, dtype=np.int8))  # type: ignore[attr-defined]

    with pytest.raises(ValueError, match="cheated on a failed job"):
        simulate(config.replace(failure_probability=0.5), 0, behaviour=b.replace(cheat=CheatOnFailed()))

