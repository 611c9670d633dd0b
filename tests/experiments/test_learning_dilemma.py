"""The verifier's dilemma, observed (issue 19): learning challengers and learning cheaters at the
docs' defaults (data/configs/learning.yaml) and at a low stake without platform checks
(dilemma.yaml), over three seeds; the docs' table and the claims its paragraph makes."""

from __future__ import annotations

import pytest

from oasis_lab.experiments.learning import DILEMMA_PHASES, dilemma_table
from oasis_lab.incentives.learning import render_table


@pytest.fixture(scope="module")
def table():
    return dilemma_table().set_index(["config", "rounds"])


def _phase(table, config: str, i: int, column: str) -> float:
    a, b = DILEMMA_PHASES[i], DILEMMA_PHASES[i + 1]
    return float(table.loc[(config, f"{a}-{b - 1}"), f"{column}_mean"])


def test_at_the_defaults_checking_rises_then_collapses_and_cheating_stays_deterred(table) -> None:
    cfg, n = "learning.yaml", len(DILEMMA_PHASES) - 1
    rates = [_phase(table, cfg, i, "mean_challenge_rate") for i in range(n)]
    peak = max(rates[:2])
    assert rates[1] > rates[0]  # checking pays while cheaters cheat
    assert rates[-1] < peak / 10 and rates[-2] < peak / 10  # then it pays nothing
    cheat = [_phase(table, cfg, i, "mean_cheat_rate") for i in range(n)]
    assert cheat[-1] < cheat[0] / 5  # caught cheaters learned to stop, and stay stopped


def test_without_platform_checks_at_a_low_stake_cheating_returns(table) -> None:
    cfg, n = "dilemma.yaml", len(DILEMMA_PHASES) - 1
    rates = [_phase(table, cfg, i, "mean_challenge_rate") for i in range(n)]
    assert rates[-1] < max(rates) / 10
    cheat = [_phase(table, cfg, i, "mean_cheat_rate") for i in range(n)]
    low = min(cheat[1:3])
    assert cheat[-1] > low and cheat[-2] > low  # it climbs back over the last 200 rounds
    assert _phase(table, cfg, n - 1, "cheated_share") > _phase(table, cfg, 2, "cheated_share")
    # with a wider spread over seeds
    assert float(table.loc[(cfg, "200-299"), "mean_cheat_rate_sd"]) > float(
        table.loc[("learning.yaml", "200-299"), "mean_cheat_rate_sd"])


def test_docs_quote_the_dilemma_table_as_the_code_renders_it(table, docs_table) -> None:
    docs_table("verifiers-dilemma", render_table(table.reset_index(), digits=3), 3)
