"""Bilateral trade under the k-double auction: the known answer for strategic bidding.

PRICES (whitepaper section 4.1) trades a pair at the midpoint of the two per-unit prices, so a
user shades her value and a provider marks up its cost. The one-buyer one-seller version with
values and costs uniform on ``[0, 1]`` is solved in closed form (Chatterjee and Samuelson
1983): the buyer bids ``b``, the seller asks ``a``, they trade when ``b >= a`` at the price
``k b + (1 - k) a`` (``k = 1/2``: the midpoint rule). Its linear equilibrium is

- buyer: ``b(v) = v / (1 + k) + k (1 - k) / (2 (1 + k))`` (``2 v / 3 + 1 / 12`` at ``k = 1/2``);
- seller: ``a(c) = c / (2 - k) + (1 - k) / 2`` (``2 c / 3 + 1 / 4`` at ``k = 1/2``),

derived from each side's first-order condition against the other's linear strategy (in
``docs/mechanism.md``). Here each side's expected utility against *any* nondecreasing strategy
of the other is computed by quadrature (:func:`buyer_utility`, :func:`seller_utility`), and the
best response is found by the certificate's off-grid search
(:func:`oasis_lab.agents.certificate.best_deviation`), not by the formula: recovering the
formula is the test of the search.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.integrate import quad
from scipy.optimize import brentq

from oasis_lab.agents.certificate import Certificate, best_deviation, certify
from oasis_lab.checks import check_choice, check_fraction, check_real

__all__ = [
    "SIDES",
    "Linear",
    "best_responses",
    "buyer_utility",
    "certify_linear",
    "interior_types",
    "known_answers",
    "linear_equilibrium",
    "seller_utility",
]

#: The two sides of the trade.
SIDES: tuple[str, ...] = ("buyer", "seller")
_QUAD = {"epsabs": 1e-13, "epsrel": 1e-12, "limit": 200}


@dataclass(frozen=True)
class Linear:
    """The strategy ``x -> slope * x + intercept`` (a bid of a value, an ask of a cost)."""

    slope: float
    intercept: float

    def __call__(self, x: float) -> float:
        return self.slope * x + self.intercept


def linear_equilibrium(k: float = 0.5) -> tuple[Linear, Linear]:
    """The Chatterjee-Samuelson linear equilibrium ``(buyer, seller)`` of the k-double auction.

    Examples
    --------
    >>> b, a = linear_equilibrium(0.5)
    >>> round(b(0.5), 12), round(a(0.5), 12)  # 2/3 * 0.5 + 1/12, 2/3 * 0.5 + 1/4
    (0.416666666667, 0.583333333333)
    """
    k = check_fraction("k", k)
    return (Linear(1.0 / (1.0 + k), k * (1.0 - k) / (2.0 * (1.0 + k))),
            Linear(1.0 / (2.0 - k), (1.0 - k) / 2.0))


def _threshold(strategy: Callable[[float], float], level: float) -> float:
    """``sup {t in [0, 1] : strategy(t) <= level}`` for a nondecreasing strategy (-1: empty)."""
    lo, hi = float(strategy(0.0)), float(strategy(1.0))
    if level < lo:
        return -1.0
    if level >= hi:
        return 1.0
    return float(brentq(lambda t: strategy(t) - level, 0.0, 1.0, xtol=1e-15, rtol=4 * np.finfo(float).eps))


def buyer_utility(bid: float, value: float, seller: Callable[[float], float], k: float = 0.5) -> float:
    """Expected utility of a buyer of ``value`` bidding ``bid`` against ``seller(c)``, ``c ~ U[0, 1]``.

    ``E[(value - (k bid + (1 - k) seller(c))) 1{seller(c) <= bid}]``; ``seller`` must be
    nondecreasing (the trade region is then ``c <= c_bar``).
    """
    b = check_real("bid", bid)
    v = check_real("value", value)
    c_bar = _threshold(seller, b)
    if c_bar <= 0.0:
        return 0.0
    val, _ = quad(lambda c: v - (k * b + (1.0 - k) * seller(c)), 0.0, c_bar, **_QUAD)
    return float(val)


def seller_utility(ask: float, cost: float, buyer: Callable[[float], float], k: float = 0.5) -> float:
    """Expected utility of a seller of ``cost`` asking ``ask`` against ``buyer(v)``, ``v ~ U[0, 1]``.

    ``E[(k buyer(v) + (1 - k) ask - cost) 1{buyer(v) >= ask}]``; ``buyer`` must be
    nondecreasing (the trade region is then ``v >= v_low``).
    """
    a = check_real("ask", ask)
    c = check_real("cost", cost)
    # v_low = inf {v : buyer(v) >= a}; buyer(v) < a below it
    lo, hi = float(buyer(0.0)), float(buyer(1.0))
    if a > hi:
        return 0.0
    v_low = 0.0 if a <= lo else float(brentq(lambda v: buyer(v) - a, 0.0, 1.0, xtol=1e-15,
                                             rtol=4 * np.finfo(float).eps))
    val, _ = quad(lambda v: k * buyer(v) + (1.0 - k) * a - c, v_low, 1.0, **_QUAD)
    return float(val)


def _utility(side: str, other: Callable[[float], float], k: float) -> Callable[[float, float], float]:
    if side == "buyer":
        return lambda x, t: buyer_utility(x, t, other, k)
    return lambda x, t: seller_utility(x, t, other, k)


def _at_type(u: Callable[[float, float], float], t: float, x: float) -> float:
    return u(x, t)


def best_responses(
    side: str,
    types: Sequence[float] | np.ndarray,
    other: Callable[[float], float],
    *,
    k: float = 0.5,
    bounds: tuple[float, float] = (0.0, 1.0),
    scan: int = 201,
) -> pd.DataFrame:
    """Each type's best bid (or ask) against ``other``, by the certificate's search.

    Returns
    -------
    pandas.DataFrame
        One row per type: ``type``, ``best`` (the action found), ``utility``.
    """
    side = check_choice("side", side, SIDES)
    k = check_fraction("k", k)
    u = _utility(side, other, k)
    rows = []
    # one 1-D search per type: each type's utility is its own integral
    for t in types:
        t = check_real("type", t, minimum=0.0, maximum=1.0)
        d = best_deviation(functools.partial(_at_type, u, t), bounds, current=bounds[0], scan=scan)
        rows.append({"type": t, "best": d.best, "utility": d.best_utility})
    return pd.DataFrame(rows)


def certify_linear(
    buyer: Linear,
    seller: Linear,
    *,
    k: float = 0.5,
    buyer_types: Sequence[float] | np.ndarray,
    seller_types: Sequence[float] | np.ndarray,
    epsilon: float,
    bounds: tuple[float, float] = (0.0, 1.0),
    scan: int = 201,
) -> Certificate:
    """Certify the profile (``buyer``, ``seller``) at the given types: each type of each side
    deviates alone against the other side's strategy (a Bayes-Nash check, type by type)."""
    k = check_fraction("k", k)
    agents = [("buyer", float(v)) for v in buyer_types] + [("seller", float(c)) for c in seller_types]
    profile = [buyer(t) if s == "buyer" else seller(t) for s, t in agents]
    ub, us = _utility("buyer", seller, k), _utility("seller", buyer, k)

    def utility(i: int, x: float) -> float:
        side, t = agents[i]
        return ub(x, t) if side == "buyer" else us(x, t)

    return certify(utility, profile, bounds, epsilon=epsilon, agents=[f"{s} {t:g}" for s, t in agents], scan=scan)


def interior_types(side: str, k: float = 0.5, n: int = 9, margin: float = 0.05) -> np.ndarray:
    """``n`` types of ``side`` whose best response to the other's linear strategy is unique and
    interior (they trade with some but not all of the other side): buyers with values above
    ``(1 - k) / 2``, sellers with costs below ``(2 - k) (b(1) - (1 - k) / 2)``, less ``margin``."""
    side = check_choice("side", side, SIDES)
    k = check_fraction("k", k)
    buyer, seller = linear_equilibrium(k)
    if side == "buyer":
        return np.linspace((1.0 - k) / 2.0 + margin, 1.0, n)
    return np.linspace(0.0, (2.0 - k) * (buyer(1.0) - seller.intercept) - margin, n)


def known_answers(ks: Sequence[float] = (0.5, 0.25), n_types: int = 9, scan: int = 201) -> pd.DataFrame:
    """The best responses to the other side's linear strategy, found by the certificate's search,
    against the closed-form linear equilibrium, for each ``k`` and side.

    Returns
    -------
    pandas.DataFrame
        One row per (k, side): ``closed_form`` (slope, intercept), ``fitted_slope`` and
        ``fitted_intercept`` (a line through the best responses found at ``n_types`` interior
        types), ``max_error`` (largest distance of a best response from the closed form),
        ``linear_gain`` (largest gain of a deviation from the linear profile at those types: its
        certificate) and ``truthful_gain`` (the same for bidding the true value).
    """
    rows = []
    for k in ks:
        buyer, seller = linear_equilibrium(k)
        types = {side: interior_types(side, k, n_types) for side in SIDES}
        linear = certify_linear(buyer, seller, k=k, buyer_types=types["buyer"], seller_types=types["seller"],
                                epsilon=0.0, scan=scan)
        truth = certify_linear(Linear(1.0, 0.0), Linear(1.0, 0.0), k=k, buyer_types=types["buyer"],
                               seller_types=types["seller"], epsilon=0.0, scan=scan)
        for side, mine, other in (("buyer", buyer, seller), ("seller", seller, buyer)):
            br = best_responses(side, types[side], other, k=k, scan=scan)
            slope, intercept = np.polyfit(br["type"], br["best"], 1)
            closed = np.array([mine(t) for t in br["type"]])
            on_side = linear.table["agent"].str.startswith(side)
            rows.append({
                "k": k, "side": side, "closed_form": f"{mine.slope:.6g} x + {mine.intercept:.6g}",
                "fitted_slope": float(slope), "fitted_intercept": float(intercept),
                "max_error": float(np.abs(br["best"].to_numpy() - closed).max()),
                "linear_gain": float(linear.table.loc[on_side, "gain"].max()),
                "truthful_gain": float(truth.table.loc[truth.table["agent"].str.startswith(side), "gain"].max()),
            })
    return pd.DataFrame(rows)
