"""Benchmark: the market over time with learning agents (issue 19, performance).

1. **Learning simulation**: ``simulate`` at 200 rounds x 1,000 tasks x 100 providers (the docs'
   defaults, 5% cheaters), with learning users (100, Exp3 over 6 shading factors), providers
   (Exp3 over 3 markups x 6 cheat rates for the cheaters, over the markups for the others) and
   3 racing challengers (Exp3 over 7 rates), beside the same run with today's scripted agents:
   this process's CPU seconds, best of ``--repeats`` after a warm-up, and the seconds of each
   stage. Target: the learning run under 2 s of CPU.
2. **Keeping the waiting tasks' order between rounds** (instead of sorting each round's whole
   market again): on the scripted run, the auction stage against ``run_greedy`` alone on the
   same markets, the share of ``run_greedy`` that is the task sort (``task_order``), and how
   often the tasks carried from one round to the next keep their relative PRICES order (the
   condition for keeping it to leave every result unchanged).

The machine is quoted (CPU model from ``lscpu``, cores, load average): the 2-core machine here
is shared, and CPU seconds are what a run cost whatever else held the cores.

    .venv/bin/python benchmarks/bench_learning.py [--rounds 200] [--repeats 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from oasis_lab.auction.density import task_order  # noqa: E402
from oasis_lab.auction.greedy import run_greedy  # noqa: E402
from oasis_lab.sim import SimConfig, simulate  # noqa: E402
from oasis_lab.sim.engine import initial_state  # noqa: E402
from oasis_lab.sim.stages import ROUND  # noqa: E402
from oasis_lab.timing import best_of, machine  # noqa: E402

TARGET_S = 2.0
BASE = {"tasks_per_round": 1000, "n_providers": 100, "arrivals": "fixed", "cheater_share": 0.05}
LEARNING = {
    "policies": {
        "user": {"policy": "learning"},
        "provider": {"policy": "learning", "markups": [0.0, 0.1, 0.2]},
        "challenger": {"policy": "learning", "n_challengers": 3},
    }
}


def markets(config: SimConfig, seed: int) -> tuple[list, list[np.ndarray], float]:
    """Play ``config`` stage by stage: each round's market, its tasks' ids, the auction's seconds."""
    state = initial_state(config, seed)
    out, ids, auction_s = [], [], 0.0
    for r in range(config.rounds):
        for name, stage in ROUND:
            t0 = time.process_time()
            stage(state, r)
            if name == "auction":
                auction_s += time.process_time() - t0
                if state.round.market is not None:
                    out.append(state.round.market)
                    ids.append(state.round.tasks.task_id)
    return out, ids, auction_s


def order_kept(config: SimConfig, all_markets: list, ids: list[np.ndarray]) -> tuple[int, int, float]:
    """Rounds whose carried tasks keep their relative order, rounds compared, and the mean share
    of consecutive pairs of carried tasks (in the earlier round's order) that the later round's
    order inverts."""
    kept, inverted = 0, []
    previous: np.ndarray | None = None
    for market, task_id in zip(all_markets, ids, strict=True):
        ranked = task_id[task_order(market, config.auction)]
        if previous is not None:
            before = previous[np.isin(previous, ranked)]
            rank = pd.Series(np.arange(ranked.size), index=ranked)[before].to_numpy()
            flips = np.diff(rank) < 0
            kept += not flips.any()
            inverted.append(float(flips.mean()) if flips.size else 0.0)
        previous = ranked
    return kept, len(inverted), float(np.mean(inverted)) if inverted else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    pd.set_option("display.width", 160)
    print(f"machine: {machine()}")
    scripted = SimConfig.from_dict({**BASE, "rounds": args.rounds})
    learning = SimConfig.from_dict({**BASE, "rounds": args.rounds, **LEARNING})
    simulate(scripted.replace(rounds=2), args.seed)  # warm-up: numba compilation, data caches
    rows = {}
    for name, config in (("scripted", scripted), ("learning", learning)):
        cpu, res = best_of(lambda c=config: simulate(c, args.seed), args.repeats, warmup=True,
                           clock=time.process_time)
        rows[name] = pd.Series(res.timings)
        print(f"{name:8s}: {args.rounds} rounds x {config.tasks_per_round:,} tasks x {config.n_providers} providers "
              f"in {cpu:.2f} s of CPU (best of {args.repeats})")
        if name == "learning":
            verdict = "meets" if cpu < TARGET_S else "misses"
            print(f"          {verdict} the {TARGET_S:.0f} s target; {len(res.agents):,} decisions learned; "
                  f"ratio to scripted {cpu / rows['scripted_cpu']:.2f}")
        rows[f"{name}_cpu"] = cpu  # type: ignore[assignment]
    table = pd.DataFrame({k: v for k, v in rows.items() if isinstance(v, pd.Series)})
    print("wall seconds per stage (one run each; the machine is shared):")
    print(table.round(3).to_string())

    all_markets, ids, auction_s = markets(scripted, args.seed)
    greedy_s, _ = best_of(lambda: [run_greedy(m, scripted.auction) for m in all_markets], args.repeats,
                          clock=time.process_time)
    sort_s, _ = best_of(lambda: [task_order(m, scripted.auction) for m in all_markets], args.repeats,
                        clock=time.process_time)
    kept, compared, moved = order_kept(scripted, all_markets, ids)
    tasks = np.mean([m.n_tasks for m in all_markets])
    print(f"auction stage {auction_s:.3f} s of CPU against run_greedy alone {greedy_s:.3f} s on the same "
          f"{len(all_markets)} markets (mean {tasks:,.0f} tasks): {100 * (auction_s / greedy_s - 1):.0f}% over")
    print(f"the task sort (task_order) is {sort_s:.3f} s, {100 * sort_s / greedy_s:.0f}% of run_greedy")
    print(f"carried tasks kept their relative order in {kept} of {compared} rounds; on average the next "
          f"round's order inverts {100 * moved:.1f}% of their consecutive pairs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
