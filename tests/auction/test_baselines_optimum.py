"""Exact optimum (whitepaper section 4): hand examples, brute force, greedy <= ILP <= LP."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.optimize import linprog

from oasis_lab.auction.baselines import STATUSES, solve_optimum
from oasis_lab.auction.greedy import run_greedy
from oasis_lab.auction.pricing import capacity_use, unit_cost_matrix, user_costs
from oasis_lab.market import SCENARIOS, Market, generate_market
from oasis_lab.params import AuctionParams

TOL = 1e-6
SCENARIO_NAMES = sorted(SCENARIOS)


def _market(demand, value, speed, capacity, cost) -> Market:
    speed = np.asarray(speed, dtype=float)
    return Market(
        demand=demand, value=value, speed=speed, capacity=capacity, cost=cost,
        psi=np.ones((speed.shape[0], 1)), model_types=tuple(f"m{t}" for t in range(speed.shape[1])),
    )


def _small(seed: int, max_tasks: int = 8) -> Market:
    rng = np.random.default_rng(seed)
    return generate_market(
        int(rng.integers(2, max_tasks + 1)), int(rng.integers(1, 5)),
        n_types=int(rng.integers(1, 4)), scenario=SCENARIO_NAMES[seed % len(SCENARIO_NAMES)], seed=seed,
    )


# ---------------------------------------------------------------------------- brute force
def _min_cost_split(market: Market, params: AuctionParams, need: np.ndarray) -> float:
    """Cheapest way to serve ``need[t]`` units per type with split units (per-pair LP)."""
    cost = unit_cost_matrix(market, params)
    use = capacity_use(market, params)
    jj, tt = np.nonzero(np.isfinite(cost))
    if need.sum() == 0:
        return 0.0
    n = jj.shape[0]
    if n == 0:
        return math.inf
    a_eq = np.zeros((market.n_types, n))
    a_eq[tt, np.arange(n)] = 1.0
    if params.capacity_per_type:
        a_ub = np.zeros((n, n))
        a_ub[np.arange(n), np.arange(n)] = use[jj, tt]
        b_ub = market.capacity[jj]
    else:
        a_ub = np.zeros((market.n_providers, n))
        a_ub[jj, np.arange(n)] = use[jj, tt]
        b_ub = market.capacity
    res = linprog(cost[jj, tt], A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=need, method="highs")
    return res.fun if res.status == 0 else math.inf


def brute_force_split(market: Market, params: AuctionParams) -> float:
    """Best welfare over every set of fully served tasks (split units)."""
    surplus = market.value - user_costs(market, params)
    best = 0.0
    for served in itertools.product((0, 1), repeat=market.n_tasks):
        y = np.array(served, dtype=float)
        if y @ surplus <= best:
            continue  # cannot beat the incumbent even at zero cost
        best = max(best, y @ surplus - _min_cost_split(market, params, market.demand.T @ y))
    return best


def brute_force_unsplit(market: Market, params: AuctionParams) -> float:
    """Best welfare over every assignment of each (task, type) demand to one provider."""
    surplus = market.value - user_costs(market, params)
    cost = unit_cost_matrix(market, params)
    use = capacity_use(market, params)
    options = []
    for i in range(market.n_tasks):
        types = np.flatnonzero(market.demand[i] > 0)
        choices = [None]  # not served
        if len(types):
            choices += list(itertools.product(range(market.n_providers), repeat=len(types)))
        options.append([(types, c) for c in choices])
    best = 0.0
    for combo in itertools.product(*options):
        load = np.zeros((market.n_providers, market.n_types))
        welfare = 0.0
        for i, (types, choice) in enumerate(combo):
            if choice is None:
                continue
            welfare += surplus[i]
            for t, j in zip(types, choice, strict=True):
                welfare -= cost[j, t] * market.demand[i, t]
                load[j, t] += use[j, t] * market.demand[i, t]
        if not np.isfinite(welfare):
            continue
        used = load if params.capacity_per_type else load.sum(axis=1, keepdims=True)
        if (used <= market.capacity[:, None] + 1e-9).all():
            best = max(best, welfare)
    return best


# ---------------------------------------------------------------------------- hand example
def test_hand_computed_example() -> None:
    # Two one-type tasks (2 units worth 20, 3 units worth 12); beta = 1, alpha = 2:
    # e = 2 log2 2 + 1 = 3 and 3 log2 3 + 1 = 5.755. Provider 0: 3 units at 2 each,
    # provider 1: 10 units at 5 each. Serving both: 20 - 3 + 12 - 5.755 - (3*2 + 2*5) = 7.245;
    # only task 0: 17 - 4 = 13; only task 1: 6.245 - 6 = 0.245. Optimum: task 0 alone, 13.
    m = _market([[2.0], [3.0]], [20.0, 12.0], [[1.0], [1.0]], [3.0, 10.0], [2.0, 5.0])
    res = solve_optimum(m)
    assert res.status == "optimal"
    assert res.welfare == pytest.approx(13.0)
    np.testing.assert_allclose(res.served, [1.0, 0.0])
    np.testing.assert_allclose(res.units, [[2.0], [0.0]], atol=1e-9)
    # LP relaxation: a share f of task 1 is worth 6.245 f and needs 3 f units; provider 0's
    # last unit costs 2 (worth it up to f = 1/3: 0.245 f), beyond it units cost 5 (not).
    lp = solve_optimum(m, relax=True)
    e1 = 3 * np.log2(3) + 1
    assert lp.welfare == pytest.approx(13.0 + (12.0 - e1 - 6.0) / 3)
    np.testing.assert_allclose(lp.served, [1.0, 1 / 3])
    assert res.gap == 0.0 and lp.gap == 0.0
    trades = res.trades(m)
    assert trades[["task", "provider", "type"]].values.tolist() == [[0, 0, 0]]
    assert trades["units"].tolist() == pytest.approx([2.0])


def test_nothing_tradeable_is_an_optimal_zero() -> None:
    m = _market([[1.0]], [5.0], [[0.0]], [1.0], [1.0])  # the only provider cannot run the type
    res = solve_optimum(m)
    assert res.status == "optimal" and res.welfare == 0.0 and res.n_variables == 0


# ---------------------------------------------------------------------------- brute force
BRUTE_PARAMS = [
    AuctionParams(),
    AuctionParams(capacity="time"),
    AuctionParams(capacity_per_type=True),
    AuctionParams(beta=4, alpha=3),
]


@pytest.mark.parametrize("params", BRUTE_PARAMS, ids=lambda p: p.label())
def test_ilp_equals_brute_force_split(params: AuctionParams) -> None:
    for seed in range(8):
        m = _small(seed, max_tasks=8)
        res = solve_optimum(m, params, backend="highspy")
        assert res.status == "optimal"
        assert res.welfare == pytest.approx(brute_force_split(m, params), rel=1e-7, abs=1e-6), seed


@pytest.mark.parametrize("params", [AuctionParams(split=False), AuctionParams(split=False, capacity="time")],
                         ids=lambda p: p.label())
def test_gap_ilp_equals_brute_force_unsplit(params: AuctionParams) -> None:
    for seed in range(10):
        rng = np.random.default_rng(100 + seed)
        m = generate_market(int(rng.integers(2, 6)), 3, n_types=2,
                            scenario=SCENARIO_NAMES[seed % 5], seed=100 + seed)
        res = solve_optimum(m, params, backend="highspy")
        assert res.status == "optimal" and res.formulation == "per_pair"
        assert res.welfare == pytest.approx(brute_force_unsplit(m, params), rel=1e-7, abs=1e-6), seed


# ---------------------------------------------------------------------------- sandwich
READINGS = [
    AuctionParams(),
    AuctionParams(price_rule="as_written"),
    AuctionParams(task_density="surplus", provider_density="unit_cost"),
    AuctionParams(provider_density="capability"),
    AuctionParams(capacity="time"),
    AuctionParams(capacity_per_type=True),
    AuctionParams(split=False),
    AuctionParams(partial=True),
    AuctionParams(partial=True, split=False),
]


@pytest.mark.parametrize("params", READINGS, ids=lambda p: p.label())
def test_greedy_le_ilp_le_lp_and_formulations_agree(params: AuctionParams) -> None:
    """On 40 random small markets per reading (360 in all): greedy <= ILP <= LP bound, and the
    compact and per-pair models give the same optimum (ILP, and LP when split=True)."""
    for seed in range(40):
        m = _small(1000 + seed)
        greedy = run_greedy(m, params)
        ilp = solve_optimum(m, params, backend="highspy")
        lp = solve_optimum(m, params, relax=True, backend="highspy")
        pair = solve_optimum(m, params, backend="highspy", formulation="per_pair")
        pair_lp = solve_optimum(m, params, relax=True, backend="highspy", formulation="per_pair")
        compact_lp = solve_optimum(m, params, relax=True, backend="highspy", formulation="compact")
        assert ilp.ok and lp.ok and pair.ok and pair_lp.ok
        scale = max(1.0, abs(lp.welfare))
        assert greedy.welfare <= ilp.welfare + TOL * scale, seed
        assert ilp.welfare <= lp.welfare + TOL * scale, seed
        assert pair.welfare == pytest.approx(ilp.welfare, rel=1e-7, abs=1e-6), seed
        assert pair_lp.welfare == pytest.approx(lp.welfare, rel=1e-7, abs=1e-6), seed
        if params.split:  # one model in two forms
            assert compact_lp.welfare == pytest.approx(lp.welfare, rel=1e-7, abs=1e-6), seed
        else:  # the split LP is a weaker bound of the unsplit problem
            assert lp.welfare <= compact_lp.welfare + TOL * scale, seed


def test_cvxpy_and_highspy_backends_agree() -> None:
    for seed in range(6):
        m = _small(2000 + seed)
        for params in (AuctionParams(), AuctionParams(split=False), AuctionParams(partial=True)):
            for relax in (False, True):
                if seed == 0:  # cvxpy's other MIP-capable solver, through the same model
                    c = solve_optimum(m, params, relax=relax, solver="SCIPY")
                    assert c.solver == "cvxpy/SCIPY"
                    assert c.welfare == pytest.approx(
                        solve_optimum(m, params, relax=relax, backend="highspy").welfare, rel=1e-6, abs=1e-6)
                a = solve_optimum(m, params, relax=relax)
                b = solve_optimum(m, params, relax=relax, backend="highspy")
                assert a.solver == "cvxpy/HIGHS" and b.solver == "highspy/HIGHS"
                assert a.welfare == pytest.approx(b.welfare, rel=1e-7, abs=1e-6)
                assert a.bound == pytest.approx(b.bound, rel=1e-6, abs=1e-6)


def test_larger_market_compact_equals_per_pair() -> None:
    m = generate_market(60, 25, scenario="scarce_supply", seed=7)
    compact = solve_optimum(m)
    pair = solve_optimum(m, formulation="per_pair")
    assert compact.welfare == pytest.approx(pair.welfare, rel=1e-7)
    assert pair.n_variables > compact.n_variables


# ---------------------------------------------------------------------------- solution shape
@pytest.mark.parametrize("formulation", ["compact", "per_pair"])
def test_solution_is_feasible_and_trades_add_up(formulation: str) -> None:
    m = generate_market(40, 15, scenario="scarce_supply", seed=3)
    params = AuctionParams()
    res = solve_optimum(m, params, formulation=formulation)
    assert set(np.unique(res.served)) <= {0.0, 1.0}
    use = capacity_use(m, params)
    load = (np.where(res.units > 0, use, 0.0) * res.units).sum(axis=1)
    assert (load <= m.capacity + 1e-6).all()
    np.testing.assert_allclose(res.units.sum(axis=0), m.demand.T @ res.served, rtol=1e-8, atol=1e-6)
    trades = res.trades(m)
    per_task = trades.groupby(["task", "type"])["units"].sum()
    for (i, t), units in per_task.items():
        assert res.served[i] == 1.0 and units == pytest.approx(m.demand[i, t], abs=1e-6)
    agg = np.zeros_like(res.units)
    np.add.at(agg, (trades["provider"].to_numpy(), trades["type"].to_numpy()), trades["units"].to_numpy())
    np.testing.assert_allclose(agg, res.units, atol=1e-6)
    cost = unit_cost_matrix(m, params)
    surplus = m.value - user_costs(m, params)
    welfare = res.served @ surplus - (trades["units"] * trades["unit_cost"]).sum()
    assert welfare == pytest.approx(res.welfare, rel=1e-9)
    assert np.isfinite(cost[trades["provider"], trades["type"]]).all()


@pytest.mark.parametrize("formulation", ["compact", "per_pair"])
def test_partial_solution_trades_match_served_shares(formulation: str) -> None:
    m = generate_market(40, 15, scenario="scarce_supply", seed=8)
    params = AuctionParams(partial=True)
    res = solve_optimum(m, params, formulation=formulation, backend="highspy")
    trades = res.trades(m)
    got = np.zeros(m.demand.shape)
    np.add.at(got, (trades["task"].to_numpy(), trades["type"].to_numpy()), trades["units"].to_numpy())
    np.testing.assert_allclose(got, res.demand_served, atol=1e-6)
    assert (got <= m.demand + 1e-6).all()
    np.testing.assert_allclose(got.sum(axis=1) / m.task_units, res.served, atol=1e-9)
    surplus = m.value - user_costs(m, params)
    welfare = res.served @ surplus - (trades["units"] * trades["unit_cost"]).sum()
    assert welfare == pytest.approx(res.welfare, rel=1e-9)


def test_split_false_serves_each_task_type_from_one_provider() -> None:
    m = generate_market(30, 10, scenario="scarce_supply", seed=5)
    res = solve_optimum(m, AuctionParams(split=False))
    counts = res.trades(m).groupby(["task", "type"]).size()
    assert (counts == 1).all()
    # Splitting can only help: the split optimum is a relaxation of the unsplit one.
    assert solve_optimum(m).welfare >= res.welfare - TOL


def test_gap_relaxation_is_between_gap_ilp_and_compact_lp() -> None:
    """The per-pair LP of split=False is tighter than the split (compact) LP, and both bound it."""
    tighter = 0
    for seed in range(20):
        m = _small(3000 + seed)
        params = AuctionParams(split=False)
        ilp = solve_optimum(m, params, backend="highspy")
        gap_lp = solve_optimum(m, params, relax=True, backend="highspy")
        split_lp = solve_optimum(m, params, relax=True, formulation="compact", backend="highspy")
        assert gap_lp.formulation == "per_pair" and split_lp.formulation == "compact"
        assert split_lp.welfare == pytest.approx(solve_optimum(m, relax=True, backend="highspy").welfare)
        assert ilp.welfare <= gap_lp.welfare + TOL <= split_lp.welfare + 2 * TOL
        tighter += gap_lp.welfare < split_lp.welfare - TOL
    assert tighter > 0  # the reduction of oversized pairs does bite on some markets


# ---------------------------------------------------------------------------- limits, statuses
def test_time_limit_gives_a_status_and_no_welfare() -> None:
    m = generate_market(150, 150, scenario="balanced", seed=0)
    res = solve_optimum(m, AuctionParams(split=False), time_limit=0.05, backend="highspy")
    assert res.status == "time_limit" and res.status in STATUSES
    assert math.isnan(res.welfare)


def test_time_limited_result_reports_incumbent_bound_and_gap() -> None:
    # What a solver stopped by its limit hands back: a feasible incumbent and a dual bound
    # (here the optimum's columns and a bound 1.5 times its welfare), never a "welfare".
    from oasis_lab.auction.baselines.optimum.formulation import build_model
    from oasis_lab.auction.baselines.optimum.result import decode
    from oasis_lab.auction.baselines.optimum.solvers import RawSolution, run_backend

    m = generate_market(12, 5, seed=2)
    params = AuctionParams(split=False)
    model = build_model(m, params, relax=False, formulation="per_pair")
    best = run_backend(model, "highspy", "HIGHS", None, 1e-9)
    assert best.status == "optimal" and best.z is not None
    optimum = solve_optimum(m, params, backend="highspy").welfare
    raw = RawSolution("time_limit", best.z, 1.5 * optimum, 1.0, "stopped")
    res = decode(m, params, model, raw, False, "highspy/HIGHS", 1.0)
    assert res.status == "time_limit" and math.isnan(res.welfare) and not res.ok
    assert res.incumbent == pytest.approx(optimum, rel=1e-9)
    assert res.bound == 1.5 * optimum
    assert res.gap == pytest.approx(1 / 3, rel=1e-9)
    no_solution = decode(m, params, model, RawSolution("time_limit", None, 1.5 * optimum, 1.0), False, "x", 1.0)
    assert math.isnan(no_solution.incumbent) and math.isnan(no_solution.gap)


def test_unbounded_model_is_reported_not_numbered(monkeypatch: pytest.MonkeyPatch) -> None:
    # A Market cannot make welfare unbounded (costs >= 0, capacities finite), so patch the
    # model: units earn 1 each and lose every row and bound that limits them.
    import oasis_lab.auction.baselines.optimum as opt
    from oasis_lab.auction.baselines.optimum.formulation import LinearModel

    real = opt.build_model

    def broken(*args, **kwargs):
        model = real(*args, **kwargs)
        c = model.c.copy()
        c[model.unit_cols] = 1.0
        return LinearModel(**{**model.__dict__, "c": c, "a_ub": model.a_ub[:0], "b_ub": model.b_ub[:0],
                             "ub": np.full(model.n_cols, np.inf)})

    monkeypatch.setattr(opt, "build_model", broken)
    m = generate_market(5, 3, seed=0)
    for backend in ("highspy", "cvxpy"):
        res = solve_optimum(m, AuctionParams(partial=True), relax=True, backend=backend, formulation="per_pair")
        assert res.status == "unbounded", backend
        assert math.isnan(res.welfare)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(formulation="dense"), "formulation = 'dense'"),
        (dict(backend="gurobi"), "backend = 'gurobi'"),
        (dict(solver="CLARABEL"), "solver = 'CLARABEL'"),
        (dict(time_limit=0), "time_limit = 0"),
        (dict(time_limit=-1.0), "time_limit = -1.0"),
        (dict(mip_rel_gap=2.0), "mip_rel_gap = 2.0"),
        (dict(relax="yes"), "relax must be a bool"),
        (dict(params=AuctionParams(split=False), formulation="compact"), "cannot express split=False"),
        (dict(task_on=np.ones(3)), "task_on must be a boolean array"),
    ],
)
def test_bad_arguments_raise_clearly(kwargs: dict, match: str) -> None:
    m = generate_market(4, 2, seed=0)
    with pytest.raises((ValueError, TypeError), match=match):
        solve_optimum(m, **kwargs)


def test_bad_market_type_raises() -> None:
    with pytest.raises(TypeError, match="market must be"):
        solve_optimum("market")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="params must be"):
        solve_optimum(generate_market(3, 2), params={"split": False})  # type: ignore[arg-type]


def test_oversized_per_pair_model_is_refused_with_a_status() -> None:
    m = generate_market(60, 40, seed=0)
    res = solve_optimum(m, AuctionParams(split=False), max_variables=100)
    assert res.status == "too_large" and math.isnan(res.welfare) and res.n_variables > 100
    # The compact model of the same market is small and solves.
    assert solve_optimum(m, max_variables=100).status == "optimal"


def test_solver_banner_stays_out_of_stdout() -> None:
    """HiGHS prints a licence banner on its first construction in a process; notebooks must not show it."""
    import subprocess
    import sys

    code = (
        "from oasis_lab.market import generate_market\n"
        "from oasis_lab.auction.baselines import solve_optimum\n"
        "m = generate_market(20, 5, seed=0)\n"
        "print(solve_optimum(m).status, solve_optimum(m, backend='highspy').status)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "optimal optimal"
    assert "HiGHS" not in out.stderr


def test_numpy_scalar_limits_are_accepted() -> None:
    # A time limit or gap read from a numpy array is a number like any other.
    m = generate_market(6, 3, seed=0)
    ref = solve_optimum(m, backend="highspy")
    for kwargs in (dict(time_limit=np.int64(30)), dict(time_limit=np.float32(30.0)),
                   dict(mip_rel_gap=np.float32(1e-7))):
        res = solve_optimum(m, backend="highspy", **kwargs)
        assert res.ok and res.welfare == pytest.approx(ref.welfare, rel=1e-9)
    with pytest.raises(ValueError, match="time_limit = nan"):
        solve_optimum(m, time_limit=math.nan)


def test_public_api_stays_importable_from_the_optimum_module() -> None:
    # optimum.py became a package (formulation, solvers, result): the names callers import
    # from oasis_lab.auction.baselines.optimum are unchanged.
    from oasis_lab.auction import baselines
    from oasis_lab.auction.baselines import optimum

    assert set(optimum.__all__) == {
        "OptimumResult", "solve_optimum", "FORMULATIONS", "BACKENDS", "STATUSES", "MAX_TIME_LIMIT"
    }
    for name in optimum.__all__:
        assert getattr(optimum, name) is getattr(baselines, name)
