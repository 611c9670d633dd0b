"""Figures that ``docs/mechanism.md`` quotes in its sentences, recomputed from the code.

Each test finds the sentence that quotes a figure (a regular expression over the docs' text,
which must match exactly once), recomputes the figure the way the docs say it was measured, and
compares at the digits shown: a stale sentence, or one reworded so that the figure is no longer
found, fails. The docs name these tests as the reproducing command
(``python -m pytest tests/test_docs_figures.py -k NAME``). Tables between ``<!-- name -->``
markers are checked by the ``docs_table`` fixture instead (``tests/conftest.py``).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from tests.conftest import MECHANISM_DOCS


def quoted(pattern: str) -> tuple[str, ...]:
    """The groups of the one match of ``pattern`` in ``docs/mechanism.md`` (whitespace in the
    pattern matches any run of whitespace, line breaks included)."""
    text = MECHANISM_DOCS.read_text()
    regex = re.compile(r"\s+".join(pattern.split()), re.S)
    found = regex.findall(text)
    assert len(found) == 1, f"docs/mechanism.md quotes {pattern!r} {len(found)} times, expected once"
    return found[0] if isinstance(found[0], tuple) else (found[0],)


def shown(value: float, figure: str) -> None:
    """``figure`` (as written in the docs, maybe with ``%``, ``+`` or ``,``) is ``value``
    rounded to the digits the figure shows."""
    text = figure.replace(",", "").replace("+", "")
    scale = 100.0 if text.endswith("%") else 1.0
    text = text.rstrip("%")
    decimals = len(text.split(".")[1]) if "." in text else 0
    assert round(value * scale, decimals) == pytest.approx(float(text), abs=0.51 * 10.0**-decimals), (
        f"docs/mechanism.md quotes {figure}, the code computes {value * scale:.{decimals + 3}f}"
    )


def test_the_platform_rate_that_deters_is_quoted_rounded_up() -> None:
    """The challenge game at P = 100, G = 50, K = 50, S = 1,000: pi* = 1/22, and the rate
    quoted as deterring is 1/22 rounded *up* (0.045 leaves the 10% fraud of the mixed
    equilibrium)."""
    from oasis_lab.disputes.economics import min_challenge_probability
    from oasis_lab.disputes.params import DisputeParams
    from oasis_lab.incentives import ChallengeGame, challenge_equilibrium, platform_challenge_rate

    game = ChallengeGame(payment=100, gain=50, recompute_cost=50, dispute=DisputeParams(provider_stake=1_000))
    need = platform_challenge_rate(game, 0.01)
    pi_star, q_star, rate = quoted(r"`pi\* = 1/22 = ([0-9.]+)`, `q\* = ([0-9.]+)`: .*? takes `r >= ([0-9.]+)`")
    shown(need, pi_star)
    shown(challenge_equilibrium(game).fraud_rate, q_star)
    decimals = len(rate.split(".")[1])
    assert float(rate) == math.ceil(need * 10**decimals) / 10**decimals, (rate, need)
    assert challenge_equilibrium(game.replace(platform_rate=float(rate))).fraud_rate == 0.0
    # the deterrence bullet of "Economics": p* = G / (f S + P) at S = 1,000 and 10,000
    low, high = quoted(r"`p\* = 1/22 = ([0-9.]+)` for `S = 1,000` and `([0-9.]+)` for `S = 10,000`")
    shown(float(min_challenge_probability(1_000, 50, 100)), low)
    shown(float(min_challenge_probability(10_000, 50, 100)), high)


def test_the_per_unit_sensitivity_privacy_loss_on_the_hand_market() -> None:
    """The old per-unit sensitivity's privacy loss at epsilon = 1 on the hand market of
    ``tests/auction/test_baselines_mechanisms.py`` (two 9-unit providers, 10 buyers)."""
    from oasis_lab.incentives.privacy import worst_privacy_loss
    from oasis_lab.market import Market

    hand = Market(demand=np.ones((10, 1)), value=np.full(10, 51.0), speed=np.ones((2, 1)),
                  capacity=np.array([9.0, 9.0]), cost=np.array([1.0, 30.0]), psi=np.ones((2, 1)),
                  model_types=("m",))
    loss = worst_privacy_loss(hand, 1.0, np.linspace(0.0, 60.0, 61), report_grid=(0.0, 0.5, 10.0, 60.0),
                              per_unit=True)["loss"].max()
    (figure,) = quoted(r"reach a privacy loss of ([0-9.]+) at `epsilon = 1` on the hand market")
    shown(float(loss), figure)


def test_vcg_budget_over_the_25_markets() -> None:
    """VCG's budget surplus / welfare on ``generate_market(20, 10, scenario=s, seed=k)``,
    5 scenarios x k = 0 .. 4."""
    from oasis_lab.auction.compare import compare_markets
    from oasis_lab.market import SCENARIOS, generate_market

    markets = (({"scenario": s, "seed": k}, generate_market(20, 10, scenario=s, seed=k))
               for s in SCENARIOS for k in range(5))
    frame = compare_markets(markets, mechanisms=("ilp", "vcg"), readings={"paper": {"price_rule": "as_written"}},
                            backend="highspy")
    vcg = frame[frame["mechanism"] == "vcg"]
    share = vcg["budget_surplus"] / vcg["welfare"]
    by_scenario = share.groupby(vcg["scenario"]).mean()
    mean, median, low, high, n, surplus = quoted(
        r"budget surplus / welfare has mean ([-+0-9.%]+), median ([-+0-9.%]+), range ([-+0-9.%]+) to "
        r"([-+0-9.%]+) over the (\d+) markets .*? and (\d+) markets? ends? in a surplus")
    assert int(n) == len(vcg) == 25
    for value, figure in ((share.mean(), mean), (share.median(), median), (share.min(), low), (share.max(), high)):
        shown(float(value), figure)
    assert int(surplus) == int((vcg["budget_surplus"] > 0).sum())
    best, best_name, worst, worst_name = quoted(r"scenario means ([-+0-9.%]+) `(\w+)` to ([-+0-9.%]+)\s+`(\w+)`")
    assert (best_name, worst_name) == (by_scenario.idxmax(), by_scenario.idxmin())
    shown(float(by_scenario.max()), best)
    shown(float(by_scenario.min()), worst)


@pytest.fixture(scope="module")
def unit_demand_study() -> pd.DataFrame:
    """The study of "Mechanisms with proven properties": 1,000 x 1,000 unit-demand markets,
    5 scenarios x 5 seeds, as ``python -m oasis_lab compare --sizes 1000 --scenarios all
    --seeds 5 --unit-demand --mechanisms ilp,mcafee,sbba,dp`` runs it (one greedy reading: the
    double auctions' rows do not depend on which)."""
    from oasis_lab.experiments import GreedyVsOptimum
    from oasis_lab.experiments.sweep import sweep
    from oasis_lab.market import SCENARIOS

    base = GreedyVsOptimum(unit_demand=True, readings=("surplus+unit_cost",),
                           mechanisms=("ilp", "mcafee", "sbba", "dp"))
    return sweep(base, {"n_tasks": [1000], "scenario": list(SCENARIOS)}, 5, client="serial", progress=False)


def test_double_auctions_on_unit_demand_markets(unit_demand_study: pd.DataFrame) -> None:
    """The McAfee, SBBA and DP rows of the table, and the closing figure of "The DP clearing
    price, corrected"; no market is skipped (every optimum is positive, so every ratio counts)."""
    frame = unit_demand_study
    optimum = frame[frame["mechanism"] == "ilp"].set_index(["scenario", "seed"])["welfare"]
    assert (optimum > 0).all(), "a market with optimum 0 has no welfare ratio: the mean would skip it"
    rows = {m: frame[frame["mechanism"] == m].set_index(["scenario", "seed"]) for m in ("mcafee", "sbba", "dp")}
    for m, r in rows.items():
        assert r["ratio_opt"].notna().sum() == 25, m
    mean, low, surplus = quoted(r"\| McAfee trade reduction \| ([0-9.]+) \(([0-9.]+)\) \| \+([0-9,]+) tokens")
    shown(float(rows["mcafee"]["ratio_opt"].mean()), mean)
    shown(float(rows["mcafee"]["ratio_opt"].min()), low)
    shown(float(rows["mcafee"]["budget_surplus"].mean()), surplus)
    for name, key in (("SBBA", "sbba"), (r"DP clearing price, epsilon = 1", "dp")):
        mean, low, spread = quoted(rf"\| {name} \| ([0-9.]+) \(([0-9.]+)\) in expectation over .*?, spread "
                                   rf"(?:\(std\) )?([0-9.]+) of the optimum")
        r = rows[key]
        shown(float(r["ratio_opt"].mean()), mean)
        shown(float(r["ratio_opt"].min()), low)
        shown(float((r["welfare_std"] / optimum.loc[r.index]).mean()), spread)
    (closing,) = quoted(r"The price of real privacy: expected welfare ([0-9.]+) of the optimum")
    shown(float(rows["dp"]["ratio_opt"].mean()), closing)


def test_readers_see_no_issue_numbers() -> None:
    """The docs and the notebooks speak of the mechanism, not of the tracker that changed it:
    no "issue 12" in ``docs/`` or in any notebook cell (narrative or rendered text)."""
    import json

    root = MECHANISM_DOCS.parents[1]
    pattern = re.compile(r"\b[Ii]ssues? \d+|\bissue-\d+")
    found = [f"{p.name}: {m.group(0)}" for p in sorted((root / "docs").glob("*.md"))
             for m in pattern.finditer(p.read_text())]
    for nb in sorted((root / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
            found += [f"{nb.name} cell {i}: {m.group(0)}" for m in pattern.finditer("".join(cell["source"]))]
    assert not found, found


def test_the_incentive_tables_welfare_means_name_the_market_with_optimum_zero() -> None:
    """The incentive table's unit-demand welfare means leave out a market whose optimum is 0 (a
    ratio does not exist there): the docs say how many markets they count and which one is out.
    Markets of the study: 24 x 5 bundle, 24 x 8 unit-demand, 5 x 3 tiny, 5 scenarios x 2 draws."""
    from oasis_lab.auction.baselines import solve_optimum
    from oasis_lab.experiments.incentives import study_markets
    from oasis_lab.market import SCENARIOS
    from oasis_lab.params import AuctionParams

    markets = study_markets(24, 5, sorted(SCENARIOS), 2, unit_tasks=24, unit_providers=8, tiny_tasks=5,
                            tiny_providers=3, seed=0)
    zero = [(sm.scenario, sm.seed) for sm in markets
            if solve_optimum(sm.unit, AuctionParams(), backend="highspy").welfare <= 0]
    assert all(solve_optimum(sm.general, AuctionParams(), backend="highspy").welfare > 0 for sm in markets)
    (total,) = quoted(r"mean over the (\d+) markets, except the welfare")
    (counted,) = quoted(r"unit-demand rows \(McAfee, SBBA, the DP price, the greedy on the same markets\): "
                        r"over (\d+) of them")
    scenario, draw = quoted(r"one unit-demand market \(`(\w+)` draw (\d+)\) has optimum 0")
    assert int(total) == len(markets) and int(counted) == len(markets) - len(zero)
    assert zero == [(scenario, int(draw))]
