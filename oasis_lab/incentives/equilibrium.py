"""Strategic bidding with certificates: best responses over shading, and epsilon-Nash checks.

Under the midpoint price of PRICES (whitepaper section 4.2) a user pays half her reported
per-unit price, so she shades; a provider is paid half its reported unit cost, so it marks up
(the bilateral k-double auction of Chatterjee and Samuelson 1983, here at market scale). Each
agent has one action on its natural interval (the roles of :mod:`oasis_lab.agents.roles`):

- user ``i`` shades: she reports ``v_i - s_i max(v_i - e_i, 0)``, ``s_i`` in ``[0, 1]``
  (``0`` the truth, ``1`` no surplus left);
- provider ``j`` marks up: it reports the cost ``c_j (1 + m_j)``, ``m_j`` in ``[0, inf)``.

**The certificate** (:func:`certify_profile`) decides whether a profile is an
epsilon-equilibrium: each agent's best unilateral deviation, the others fixed, searched over
its whole interval by the certificate's search
(:func:`oasis_lab.agents.certificate.best_deviation`: a dense scan, then bounded Brent
refinement of the best local maxima), never on a grid. A provider's interval has no cap: it
starts at the markup beyond which its ask exceeds every task's per-unit price and the posted
price (where, under a price check, it trades nothing) and doubles while a probe up to
``2**10`` times further gains more than the tolerance; a provider still gaining there is
reported ``unbounded`` (no best response exists: under the paper's price fallback a provider
is paid its ask, however high). An agent's deviation counts when it gains more than
``epsilon + rtol |utility|`` tokens (defaults :data:`EPSILON` = 0.01 tokens and
:data:`RTOL` = 0.1% of its utility at the profile); the profile is certified only if no agent
gains more than that.

**The dynamics** (:func:`best_response_dynamics`) produce the profile: from the truth, sweeps
in a seeded random order, each agent in turn moving to its best deviation found by the same
search (``search="continuous"``) or by a grid of factors (``search="grid"``, the issue-12
heuristic, kept for comparison). Whatever the dynamics did, the result carries the final
profile's certificate; a profile that fails it is "dynamics stopped, not an equilibrium",
never an equilibrium. The welfare is always scored on the true values and costs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from oasis_lab.agents.certificate import best_deviation
from oasis_lab.auction.pricing import unit_cost_matrix, user_costs
from oasis_lab.checks import check_choice, check_int, check_real
from oasis_lab.incentives.manipulability import GAIN_ATOL, GAIN_RTOL
from oasis_lab.incentives.outcomes import check_run_args, run_mechanism
from oasis_lab.market import Market
from oasis_lab.params import AuctionParams
from oasis_lab.seeding import check_seed, child_seed, stream

__all__ = [
    "EPSILON",
    "PROVIDER_MARKUPS",
    "RTOL",
    "SEARCH",
    "USER_SHADES",
    "EquilibriumResult",
    "ProfileCertificate",
    "best_response_dynamics",
    "certify_profile",
    "check_strategy_grids",
    "shaded_reports",
]

#: Default user shading factors of ``search="grid"`` (share of surplus withheld).
USER_SHADES: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
#: Default provider markups of ``search="grid"``.
PROVIDER_MARKUPS: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)
#: How the dynamics search a best response.
SEARCH: tuple[str, ...] = ("continuous", "grid")
#: A deviation counts when it gains more than ``EPSILON + RTOL * |utility|`` tokens.
EPSILON = 0.01
RTOL = 1e-3
#: The users' action interval (share of surplus withheld).
SHADE_BOUNDS = (0.0, 1.0)
#: Probes beyond a provider's markup interval: ``hi * 2**k`` for ``k = 1 .. MARKUP_PROBES``.
MARKUP_PROBES = 10
#: Times the interval is widened before a provider is reported ``unbounded``.
MARKUP_EXPANSIONS = 4


def shaded_reports(market: Market, shade: np.ndarray, markup: np.ndarray, params: AuctionParams) -> Market:
    """The reports of a profile of shading factors (module docstring)."""
    surplus = np.maximum(market.value - user_costs(market, params), 0.0)
    value = market.value - shade * surplus
    # A report must stay > 0 (Market's contract); e_i >= beta keeps it so unless beta = 0.
    value = np.maximum(value, np.nextafter(0.0, 1.0))
    return market.replace(value=value, cost=market.cost * (1.0 + markup))


def check_strategy_grids(
    user_shades: Sequence[float], provider_markups: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """The shading and markup grids as arrays, or one error naming the grid.

    Shades must lie in ``[0, 0.999]`` (a user withholds less than all her surplus), markups
    be ``>= 0``, and each grid contain 0 (the truthful report).
    """
    for name, grid in (("user_shades", user_shades), ("provider_markups", provider_markups)):
        if isinstance(grid, (str, bytes)) or not isinstance(grid, Sequence | np.ndarray):
            raise TypeError(f"{name} must be a sequence of numbers, got {grid!r}")
    shades = np.array([check_real("user_shades", s, minimum=0.0, maximum=0.999) for s in user_shades])
    markups = np.array([check_real("provider_markups", m, minimum=0.0) for m in provider_markups])
    for name, values in (("user_shades", shades), ("provider_markups", markups)):
        if not (values == 0).any():
            raise ValueError(f"{name} must contain 0 (the truthful report)")
    return shades, markups


@dataclass(frozen=True, eq=False)
class ProfileCertificate:
    """The epsilon-Nash certificate of a profile of shades and markups (module docstring).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per agent: ``side`` (user / provider), ``agent`` (its index), ``current``
        (its action), ``utility``, ``best`` (best deviation found), ``best_utility``, ``gain``,
        (``inf`` where ``unbounded``), ``tolerance`` (``epsilon + rtol |utility|``),
        ``deviates`` (gain above it),
        ``at_bound`` (the best is at an end of the interval searched), ``lo``, ``hi`` (the
        interval searched), ``scan_step``, ``unbounded`` (a provider still gaining after
        :data:`MARKUP_EXPANSIONS` widenings), ``evaluations``.
    epsilon, rtol : float
        The tolerance: ``epsilon`` tokens plus ``rtol`` of the agent's utility.
    """

    table: pd.DataFrame
    epsilon: float
    rtol: float

    @property
    def passed(self) -> bool:
        """No agent gains more than its tolerance: an epsilon-Nash equilibrium."""
        return not bool(self.table["deviates"].any())

    @property
    def max_gain(self) -> float:
        """The largest gain of a unilateral deviation found (tokens; ``inf`` if unbounded)."""
        return float(self.table["gain"].max()) if len(self.table) else 0.0

    @property
    def max_relative_gain(self) -> float:
        """The largest gain over the deviating agent's ``|utility|`` (inf where it is 0)."""
        if not len(self.table):
            return 0.0
        u = self.table["utility"].abs().to_numpy()
        g = self.table["gain"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(g > 0, g / u, 0.0)
        return float(rel.max())

    @property
    def deviators(self) -> pd.DataFrame:
        """The agents that gain more than their tolerance, largest gain first."""
        return self.table[self.table["deviates"]].sort_values("gain", ascending=False)

    @property
    def label(self) -> str:
        """What the profile may be called."""
        eps = f"epsilon = {self.epsilon:g} tokens + {self.rtol:g} x |utility|"
        if self.passed:
            return f"epsilon-Nash equilibrium ({eps}; max deviation gain {self.max_gain:.3g})"
        unbounded = int(self.table["unbounded"].sum())
        tail = f"; {unbounded} provider(s) gain without bound" if unbounded else ""
        return (f"dynamics stopped, not an equilibrium: max gain {self.max_gain:.3g} "
                f"({len(self.deviators)} of {len(self.table)} agents deviate; {eps}{tail})")


@dataclass(frozen=True, eq=False)
class EquilibriumResult:
    """Outcome of :func:`best_response_dynamics`.

    Attributes
    ----------
    shade : numpy.ndarray, shape (n_tasks,)
        Each user's final shading factor.
    markup : numpy.ndarray, shape (n_providers,)
        Each provider's final markup.
    converged : bool
        The last sweep moved nobody (on the grid for ``search="grid"``).
    sweeps : pandas.DataFrame
        One row per sweep: ``sweep``, ``moves`` (agents that switched), ``max_gain`` (largest
        improvement taken), ``welfare`` (true welfare after the sweep), ``mean_shade``,
        ``mean_markup``.
    welfare_truth : float
        Welfare at truthful reports.
    welfare : float
        Welfare at the final profile (true values and costs).
    reports : Market
        The final reported market.
    certificate : ProfileCertificate
        The final profile's certificate; :attr:`certified` only if it passes.
    search : str
    """

    shade: np.ndarray
    markup: np.ndarray
    converged: bool
    sweeps: pd.DataFrame
    welfare_truth: float
    welfare: float
    reports: Market
    certificate: ProfileCertificate
    search: str

    @property
    def certified(self) -> bool:
        """The final profile is a certified epsilon-Nash equilibrium."""
        return self.certificate.passed

    @property
    def label(self) -> str:
        """What the final profile may be called (:attr:`ProfileCertificate.label`)."""
        return self.certificate.label


class _Game:
    """Utilities of one agent's action with the others' fixed, on one market and mechanism."""

    def __init__(self, market: Market, mechanism: str, params: AuctionParams, options: Mapping[str, Any],
                 seed: int) -> None:
        self.entry = check_run_args(market, mechanism, params)
        self.market, self.mechanism, self.params = market, mechanism, params
        self.options = dict(options)
        self.seed = child_seed(seed, "lotteries")
        self.e = user_costs(market, params)
        self.unit_cost = unit_cost_matrix(market, params)
        self.surplus = np.maximum(market.value - self.e, 0.0)
        self.tiny = float(np.nextafter(0.0, 1.0))

    def outcome(self, value: np.ndarray, cost: np.ndarray, focus: list[int] | None) -> Any:
        extra = dict(self.options)
        if self.entry.partial_payments and focus is not None:
            extra["payments_for"] = focus  # only the deviating user's critical value matters
        reported = self.market.replace(value=value, cost=cost)
        return run_mechanism(reported, self.mechanism, self.params, seed=self.seed, **extra)

    def reports(self, shade: np.ndarray, markup: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        value = np.maximum(self.market.value - shade * self.surplus, self.tiny)
        return value, self.market.cost * (1.0 + markup)

    def utility(self, side: str, k: int, shade: np.ndarray, markup: np.ndarray) -> Callable[[float], float]:
        """``x -> utility of agent k`` when it alone plays ``x``."""
        value, cost = self.reports(shade, markup)

        def user(x: float) -> float:
            v = value.copy()
            v[k] = max(self.market.value[k] - x * self.surplus[k], self.tiny)
            out = self.outcome(v, cost, [k])
            return float(out.user_utilities_from(self.market.value, self.e)[k])

        def provider(x: float) -> float:
            c = cost.copy()
            c[k] = self.market.cost[k] * (1.0 + x)
            out = self.outcome(value, c, [])
            return float(out.utilities_from(self.market.value, self.e, self.unit_cost)[1][k])

        return user if side == "user" else provider

    def markup_start(self, j: int, shade: np.ndarray) -> float:
        """The markup beyond which provider ``j``'s ask exceeds every task's per-unit price
        (at the profile's reports) and any posted price: at least 1."""
        unit = float(self.market.provider_unit_cost[j])
        if not np.isfinite(unit) or unit <= 0:
            return 1.0  # a provider with no cost (or no type it runs): the markup changes nothing
        units = self.market.task_units
        value, _ = self.reports(shade, np.zeros(self.market.n_providers))
        per_unit = np.where(units > 0, value / np.where(units > 0, units, 1.0), 0.0)
        top = max(float(per_unit.max(initial=0.0)), float(self.options.get("reference_price", 0.0) or 0.0))
        return max(1.0, top / unit - 1.0)


def _search(game: _Game, side: str, k: int, shade: np.ndarray, markup: np.ndarray, *, epsilon: float,
            rtol: float, scan: int, refine: int, xtol: float) -> dict[str, Any]:
    """Agent ``k``'s best deviation over its natural interval (module docstring)."""
    f = game.utility(side, k, shade, markup)
    x0 = float(shade[k] if side == "user" else markup[k])
    if side == "user":
        lo, hi = SHADE_BOUNDS
        d = best_deviation(f, (lo, hi), current=x0, scan=scan, refine=refine, xtol=xtol)
        evaluations, unbounded = d.evaluations, False
    else:
        lo, hi = 0.0, max(game.markup_start(k, shade), 2.0 * x0)
        evaluations, unbounded = 0, True
        for _ in range(MARKUP_EXPANSIONS):
            d = best_deviation(f, (lo, hi), current=x0, scan=scan, refine=refine, xtol=xtol)
            probes = hi * 2.0 ** np.arange(1, MARKUP_PROBES + 1)
            beyond = np.array([f(x) for x in probes])
            evaluations += d.evaluations + probes.size
            if beyond.max() <= d.best_utility + epsilon + rtol * abs(d.best_utility):
                unbounded = False
                break
            hi = 2.0 * float(probes[int(np.argmax(beyond))])  # widen past the better probe
    tol = epsilon + rtol * abs(d.utility)
    return {"side": side, "agent": k, "current": d.current, "utility": d.utility, "best": d.best,
            "best_utility": d.best_utility, "gain": np.inf if unbounded else d.gain, "tolerance": tol,
            "deviates": bool(d.gain > tol or unbounded), "at_bound": d.at_bound, "lo": lo, "hi": hi,
            "scan_step": (hi - lo) / (scan - 1), "unbounded": unbounded, "evaluations": evaluations,
            "_f": f}


def _robust_move(row: dict[str, Any], xtol: float) -> float:
    """Where a deviating agent moves: a point worth at least its best less half its
    tolerance, as far as the probes show from any point worth less.

    A best response often sits at a cliff (shade until the task would drop out; mark up until
    the user's budget binds), and moving onto the cliff's edge lets the next agent's tiny move
    push it over: the dynamics then crawl by ``xtol`` per sweep. Probing ``best +- h`` for
    ``h`` halving from one scan step down to ``4 xtol`` and keeping the good point farthest
    from every bad one leaves a margin the others' moves within their own tolerance cannot
    eat. The mover still gains at least its gain less half its tolerance.
    """
    f, x_star, u_star, lo, hi = row["_f"], row["best"], row["best_utility"], row["lo"], row["hi"]
    floor = u_star - row["tolerance"] / 2
    steps = row["scan_step"] * 0.5 ** np.arange(0, 64)
    steps = steps[steps >= 4 * xtol]
    xs = np.unique(np.clip(np.concatenate([[x_star], x_star - steps, x_star + steps]), lo, hi))
    ys = np.array([u_star if x == x_star else f(float(x)) for x in xs])
    good = ys >= floor
    bad_x = xs[~good]
    if not bad_x.size:
        return x_star
    # each good point's distance to the nearest bad probe; the interval's ends count as far
    dist = np.abs(xs[good][:, None] - bad_x[None, :]).min(axis=1)
    return float(xs[good][int(np.argmax(dist))])


def _table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([{k: v for k, v in r.items() if k != "_f"} for r in rows])


def _checked_search(epsilon: float, rtol: float, scan: int, refine: int, xtol: float) -> dict[str, Any]:
    return {"epsilon": check_real("epsilon", epsilon, minimum=0.0), "rtol": check_real("rtol", rtol, minimum=0.0),
            "scan": check_int("scan", scan, 3, 100_000), "refine": check_int("refine", refine, 1, 100),
            "xtol": check_real("xtol", xtol, positive=True)}


def _agents(market: Market) -> list[tuple[str, int]]:
    return [("user", i) for i in range(market.n_tasks)] + [("provider", j) for j in range(market.n_providers)]


def certify_profile(
    market: Market,
    mechanism: str = "greedy",
    params: AuctionParams = AuctionParams(),
    shade: Any = None,
    markup: Any = None,
    *,
    epsilon: float = EPSILON,
    rtol: float = RTOL,
    scan: int = 101,
    refine: int = 3,
    xtol: float = 1e-9,
    seed: int = 0,
    options: Mapping[str, Any] | None = None,
) -> ProfileCertificate:
    """The epsilon-Nash certificate of a profile of shades and markups (module docstring).

    Parameters
    ----------
    market : Market
        True values and costs.
    mechanism : str
        A mechanism with an outcome (:data:`oasis_lab.auction.mechanisms.MECHANISMS`).
    params : AuctionParams
    shade, markup : array_like, optional
        The profile (default: the truth, all zeros); shades in ``[0, 1]``, markups ``>= 0``.
    epsilon, rtol : float
        A deviation counts when it gains more than ``epsilon + rtol |utility|`` tokens.
    scan, refine, xtol : int, int, float
        The search (:func:`~oasis_lab.agents.certificate.best_deviation`): scan points per
        interval, local maxima refined, Brent's tolerance on the action.
    seed : int
        Lotteries (``child_seed(seed, "lotteries")``, as the dynamics).
    options : mapping, optional
        Passed to :func:`~oasis_lab.incentives.outcomes.run_mechanism`.

    Returns
    -------
    ProfileCertificate
    """
    knobs = _checked_search(epsilon, rtol, scan, refine, xtol)
    game = _Game(market, mechanism, params, options or {}, check_seed(seed))
    s, m = _profile(market, shade, markup)
    rows = [_search(game, side, k, s, m, **knobs) for side, k in _agents(market)]
    return ProfileCertificate(_table(rows), knobs["epsilon"], knobs["rtol"])


def _profile(market: Market, shade: Any, markup: Any) -> tuple[np.ndarray, np.ndarray]:
    out = []
    for name, x, n, hi in (("shade", shade, market.n_tasks, 1.0), ("markup", markup, market.n_providers, np.inf)):
        a = np.zeros(n) if x is None else np.asarray(x, dtype=np.float64)
        if a.shape != (n,):
            raise ValueError(f"{name} has shape {a.shape}, the market needs ({n},)")
        bad = ~np.isfinite(a) | (a < 0) | (a > hi)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name}[{i}] = {a[i]} must be in [0, {hi:g}]")
        out.append(a.copy())
    return out[0], out[1]


def best_response_dynamics(
    market: Market,
    mechanism: str = "greedy",
    params: AuctionParams = AuctionParams(),
    *,
    search: str = "continuous",
    user_shades: Sequence[float] = USER_SHADES,
    provider_markups: Sequence[float] = PROVIDER_MARKUPS,
    max_sweeps: int = 12,
    seed: int = 0,
    options: Mapping[str, Any] | None = None,
    epsilon: float = EPSILON,
    rtol: float = RTOL,
    scan: int = 101,
    refine: int = 3,
    xtol: float = 1e-9,
    certificate_scan: int | None = None,
    certificate_refine: int | None = None,
) -> EquilibriumResult:
    """Iterated best responses from the truth, and the final profile's certificate.

    Parameters
    ----------
    market : Market
        True values and costs.
    mechanism : str
        A mechanism with an outcome in :data:`oasis_lab.auction.mechanisms.MECHANISMS`
        (``"greedy"`` is the midpoint rule under ``params``).
    params : AuctionParams
    search : {"continuous", "grid"}
        How each agent finds its best response: the certificate's search over its natural
        interval, moving when it gains more than the tolerance (``"continuous"``), or the best
        factor of ``user_shades`` / ``provider_markups``, moving when it gains more than
        ``1e-6 + 1e-6 |utility|`` (``"grid"``, the issue-12 heuristic).
    user_shades, provider_markups : sequence of float
        The grids of ``search="grid"``; shades in ``[0, 1)``, markups ``>= 0``; each must
        contain 0 (the truth).
    max_sweeps : int
        Stop after this many sweeps (``converged=False`` if the last one still moved).
    seed : int
        Root seed of the sweep orders (``stream(seed, "strategies", sweep)``) and lotteries.
    options : mapping, optional
        Passed to :func:`~oasis_lab.incentives.outcomes.run_mechanism`.
    epsilon, rtol, scan, refine, xtol
        The search of ``search="continuous"`` and the tolerance of the certificate
        (:func:`certify_profile`), which the final profile always gets; a continuous run whose
        last sweep moved nobody reuses that sweep's searches (each was made against the final
        profile) unless the certificate's search is set apart.
    certificate_scan, certificate_refine : int, optional
        A finer search for the certificate than the dynamics' (default: the same).

    Returns
    -------
    EquilibriumResult
    """
    search = check_choice("search", search, SEARCH)
    shades, markups = check_strategy_grids(user_shades, provider_markups)
    max_sweeps = check_int("max_sweeps", max_sweeps, 1)
    seed = check_seed(seed)
    knobs = _checked_search(epsilon, rtol, scan, refine, xtol)
    cert_knobs = _checked_search(epsilon, rtol, scan if certificate_scan is None else certificate_scan,
                                 refine if certificate_refine is None else certificate_refine, xtol)
    game = _Game(market, mechanism, params, options or {}, seed)

    def welfare(shade: np.ndarray, markup: np.ndarray) -> float:
        value, cost = game.reports(shade, markup)
        return float(game.outcome(value, cost, []).welfare(market, params))

    shade = np.zeros(market.n_tasks)
    markup = np.zeros(market.n_providers)
    welfare_truth = welfare(shade, markup)
    agents = _agents(market)
    history = []
    converged = False
    last: list[dict[str, Any]] = []
    for sweep in range(max_sweeps):
        order = stream(seed, "strategies", sweep).permutation(len(agents))
        moves = 0
        max_gain = 0.0
        last = []
        # Gauss-Seidel: each agent responds to the others' current actions, one after another
        for a in order:
            side, k = agents[a]
            profile = shade if side == "user" else markup
            if search == "continuous":
                row = _search(game, side, k, shade, markup, **knobs)
                last.append(row)
                move, gain = row["deviates"] and not row["unbounded"], row["gain"]
                best = _robust_move(row, knobs["xtol"]) if move else row["best"]
            else:
                grid = shades if side == "user" else markups
                f = game.utility(side, k, shade, markup)
                utils = np.array([f(float(x)) for x in grid])
                now = f(float(profile[k]))
                gain = float(utils.max()) - now
                best = float(grid[int(np.argmax(utils))])
                move = gain > GAIN_ATOL + GAIN_RTOL * abs(now)
            if move:
                moves += 1
                max_gain = max(max_gain, gain)
                profile[k] = best
        history.append({"sweep": sweep + 1, "moves": moves, "max_gain": max_gain, "welfare": welfare(shade, markup),
                        "mean_shade": float(shade.mean()), "mean_markup": float(markup.mean())})
        if moves == 0:
            converged = True
            break
    if search == "continuous" and converged and cert_knobs == knobs:
        rows = sorted(last, key=lambda r: (r["side"] != "user", r["agent"]))  # users first, by index
        certificate = ProfileCertificate(_table(rows), knobs["epsilon"], knobs["rtol"])
    else:
        certificate = ProfileCertificate(
            _table([_search(game, side, k, shade, markup, **cert_knobs) for side, k in agents]),
            knobs["epsilon"], knobs["rtol"])
    return EquilibriumResult(
        shade=shade, markup=markup, converged=converged, sweeps=pd.DataFrame(history),
        welfare_truth=welfare_truth, welfare=float(history[-1]["welfare"]),
        reports=shaded_reports(market, shade, markup, params), certificate=certificate, search=search,
    )
