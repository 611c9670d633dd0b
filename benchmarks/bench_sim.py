"""Benchmark: the market over time (``oasis_lab.sim.simulate``, whitepaper sections 4 and 5).

1. ``data/configs/bench.yaml``: 1,000 rounds x 10,000 tasks per round x 2,000 providers, 5%
   cheaters, user and platform challenges on. Prints rounds per second and the share of wall
   time per stage (every stage of ``oasis_lab.sim.stages.ROUND`` and the setup: together the
   whole run but for assembling the result).
   Target: the 1,000 rounds in under 60 s.
2. Beside the auction stage: one ``run_greedy`` on a market of the run's mean size (best of
   3, same run), so the share of the stage that is PRICES itself (and the machine's load) shows.
3. Side by side on the first ``--compare-rounds`` rounds of the same config: the dispute court
   looking verdicts up (``dispute_mode="vectorised"``) against playing every dispute
   (``"played"``), same verdicts (tested in ``tests/sim``), as a ratio.

One warm-up round compiles the numba kernels first (cached on disk afterwards).

    .venv/bin/python benchmarks/bench_sim.py [--rounds 1000] [--compare-rounds 50] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from oasis_lab.auction.greedy import run_greedy
from oasis_lab.market import generate_market
from oasis_lab.sim import load_config, simulate
from oasis_lab.timing import best_of

TARGET_S = 60.0
STAGE_NAMES = {
    "setup": "setup (initial population, court)",
    "arrivals": "arrivals (tasks, queue, eligibility)",
    "auction": "auction (reports, PRICES)",
    "optimum": "optimum (exact, every optimum_every rounds)",
    "execution": "execution (failures, cheating, jobs, escrow)",
    "challenges": "challenges (and the court's verdicts)",
    "disputes": "disputes (resolution, market referees)",
    "ledger": "ledger (settlement)",
    "reauction": "re-auction (rebid, queue)",
    "entry_exit": "entry and exit",
    "learn": "learn (learning agents' feedback)",
    "record": "record (conservation check, per-round row)",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "data" / "configs" / "bench.yaml"))
    parser.add_argument("--rounds", type=int, default=None, help="override the config's 1,000")
    parser.add_argument("--compare-rounds", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    overrides = {} if args.rounds is None else {"rounds": args.rounds}
    config = load_config(args.config, **overrides)

    simulate(config.replace(rounds=1), args.seed)  # warm-up: numba compilation, data caches

    start = time.perf_counter()
    result = simulate(config, args.seed)
    wall = time.perf_counter() - start
    stages = pd.Series(result.timings)
    table = pd.DataFrame(
        {
            "stage": [STAGE_NAMES[k] for k in stages.index],
            "seconds": stages.to_numpy(),
            "share": (stages / stages.sum()).to_numpy(),
        }
    )
    s = result.summary().iloc[0]
    print(
        f"{config.rounds} rounds x {config.tasks_per_round:,} tasks/round x {config.n_providers:,} "
        f"providers, {100 * config.cheater_share:.0f}% cheaters, challenge probability "
        f"{config.challenge_probability:.3f}"
    )
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    projected = wall * 1000 / config.rounds
    verdict = "meets" if projected < TARGET_S else "misses"
    print(
        f"total {wall:.1f} s, {config.rounds / wall:.1f} rounds/s, 1,000 rounds in {projected:.0f} s "
        f"({verdict} the {TARGET_S:.0f} s target); dominant stage: {STAGE_NAMES[stages.idxmax()]} "
        f"{100 * stages.max() / stages.sum():.0f}%"
    )
    print(
        f"served {int(s['tasks_served']):,} of {int(s['tasks_arrived']):,} tasks, "
        f"{int(s['disputes'])} disputes, {int(s['convictions'])} convictions "
        f"({int(s['false_convictions'])} false), {int(s['cheaters_removed'])} of "
        f"{int(s['cheaters'])} cheaters removed, {result.games_played} distinct games played"
    )

    mean_tasks = int(result.rounds["tasks"].mean())
    market = generate_market(mean_tasks, config.n_providers, scenario=config.scenario, seed=args.seed)
    alone, _ = best_of(lambda: run_greedy(market, config.auction), 3, warmup=True)
    per_round = stages["auction"] / config.rounds
    print(
        f"auction stage {1e3 * per_round:.1f} ms/round (markets of {mean_tasks:,} tasks on average: new "
        f"arrivals plus waiting tasks) vs run_greedy alone on such a market {1e3 * alone:.1f} ms "
        f"(best of 3): ratio {per_round / alone:.2f}"
    )

    short = config.replace(rounds=min(args.compare_rounds, config.rounds))
    times = {}
    for mode in ("vectorised", "played"):
        res = simulate(short.replace(dispute_mode=mode), args.seed)
        # the court decides a dispute when it opens (challenges stage)
        times[mode] = (res.timings["challenges"] + res.timings["disputes"], int(res.rounds["disputes_opened"].sum()))
    (tv, n), (tp, _) = times["vectorised"], times["played"]
    print(
        f"\nchallenges and disputes stages over {short.rounds} rounds ({n} disputes): vectorised {tv:.3f} s, "
        f"played {tp:.3f} s, played / vectorised = {tp / max(tv, 1e-9):.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
