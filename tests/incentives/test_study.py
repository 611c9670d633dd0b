"""The study helpers behind notebook 08 (small markets)."""

from __future__ import annotations

import numpy as np

from oasis_lab.incentives.study import (
    BEST,
    MECHANISM_SPECS,
    incentive_table,
    study_markets,
    vcg_budget,
    welfare_price,
)
from oasis_lab.incentives.truthful import clearing_price, truthful_greedy, tuned_price


def test_study_markets_are_seeded_and_tables_have_their_columns() -> None:
    a = study_markets(16, 4, ["balanced"], 1, tiny_tasks=4, tiny_providers=2, seed=3)
    b = study_markets(16, 4, ["balanced"], 1, tiny_tasks=4, tiny_providers=2, seed=3)
    assert a[0].general.equals(b[0].general) and not a[0].general.equals(a[0].previous)
    wp = welfare_price(a)
    assert (wp[["greedy", "truthful", "truthful_hindsight"]] <= 1 + 1e-7).all().all()
    # the hindsight price is the best posted price for this round's own reports
    assert (wp["truthful_hindsight"] >= wp["truthful"] - 1e-9).all()
    budget = vcg_budget(a)
    assert np.isfinite(budget["budget_surplus"]).all()
    specs = [s for s in MECHANISM_SPECS if s.mechanism in ("greedy", "mcafee")][:2]
    table = incentive_table(a, specs, report_grid=[0.5, 2.0], user_shades=(0.0, 0.5),
                            provider_markups=(0.0, 0.5), max_sweeps=2)
    assert len(table) == 2 and table["share_profitable"].between(0, 1).all()


def test_tuned_price_beats_the_clearing_price_on_the_round_it_reads() -> None:
    # Tuning finds what the clearing price misses (strictly more welfare on some round), and no
    # price the test derives itself from the round's reports (the quantiles of the per-unit net
    # values and unit costs, the clearing price) does better than the tuned one.
    from oasis_lab.auction.pricing import user_costs

    def welfare(market, price):
        return truthful_greedy(market, float(price), BEST, compute_payments=False).welfare

    gains = []
    for seed in range(3):
        prev = study_markets(40, 8, ["heterogeneous"], 1, seed=seed)[0].previous
        w_tuned = welfare(prev, tuned_price(prev, BEST))
        has = prev.task_units > 0
        per_unit = (prev.value - user_costs(prev, BEST))[has] / prev.task_units[has]
        pool = np.concatenate([per_unit[per_unit > 0], prev.provider_unit_cost])
        others = [*np.quantile(pool[np.isfinite(pool)], np.linspace(0, 1, 41)), clearing_price(prev, BEST)]
        assert max(welfare(prev, p) for p in others) <= w_tuned + 1e-9
        gains.append(w_tuned - welfare(prev, clearing_price(prev, BEST)))
    assert max(gains) > 1e-6, gains
