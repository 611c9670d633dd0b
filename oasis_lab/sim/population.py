"""Who the providers of a simulation are: the initial population, measured extras, entrants.

Each provider is drawn from the config's scenario (:func:`oasis_lab.market.generate_market`'s
device model) with a kind (honest, cheater, honest on other hardware) and a strategy as a
market referee, from streams named by purpose (``"initial"``, ``"extra"``, ``("entry", r)``)
so that adding entrants never changes the draws of the initial population.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from oasis_lab.market import Market, generate_market
from oasis_lab.seeding import child_seed, stream
from oasis_lab.sim.config import SimConfig
from oasis_lab.sim.court import CHEATER, HONEST, OTHER_DEVICE, PROVIDER_KINDS

__all__ = ["draw_providers", "extra_providers", "referee_strategies"]


def draw_providers(config: SimConfig, n: int, seed: int, *purpose: Any) -> tuple[Market, np.ndarray]:
    """``n`` providers drawn for the config's scenario, and their kinds (honest/cheater/other device).

    Capacities are sized against ``tasks_per_round`` tasks shared by ``n_providers``
    providers (entrants are drawn at the same scale).
    """
    size = max(n, config.n_providers)
    market = generate_market(
        config.tasks_per_round,
        size,
        n_types=config.n_types,
        scenario=config.scenario,
        seed=child_seed(seed, "providers", *purpose),
        capacity_unit=config.auction.capacity,
    )
    rows = np.arange(n)
    market = market.replace(
        speed=market.speed[rows],
        capacity=market.capacity[rows],
        cost=market.cost[rows],
        psi=market.psi[rows],
    )
    u = stream(seed, "strategies", *purpose).random(n)
    honest_u = (u - config.cheater_share) / max(1.0 - config.cheater_share, 1e-300)
    kind = np.where(
        u < config.cheater_share,
        CHEATER,
        np.where(honest_u < config.other_device_share, OTHER_DEVICE, HONEST),
    )
    return market, kind.astype(np.int8)


def referee_strategies(config: SimConfig, n: int, seed: int, *purpose: Any) -> np.ndarray:
    """Each of ``n`` providers' strategy as a market referee (index of ``REFEREE_STRATEGIES``),
    drawn from its own stream so that the trusted-referee runs draw nothing else differently."""
    c = config
    edges = np.cumsum([c.referee_collude_share, c.referee_frame_share, c.referee_bribable_share])
    u = stream(seed, "referee-strategies", *purpose).random(n)
    # honest below 1 - (sum of the corrupt shares), then collude, frame, bribable
    code = np.searchsorted(edges, u - (1.0 - edges[-1]), side="right")
    strategy = np.where(u < 1.0 - edges[-1], 0, 1 + np.minimum(code, 2))
    return strategy.astype(np.int8)


def extra_providers(config: SimConfig, first: Market) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The config's measured providers as arrays ``speed, capacity, cost, psi``, and their kinds.

    One that gives no cost (or capacity) gets the initial population's median unit cost times
    its total speed (the median capacity scaled by the square root of its speed against the
    median total speed); see :class:`~oasis_lab.sim.config.ExtraProvider`.
    """
    extras = config.extra_providers
    n_types = first.n_types
    speed = np.array([e.speed[:n_types] for e in extras], dtype=np.float64)
    total = speed.sum(axis=1)
    unit_cost = first.provider_unit_cost
    median_unit = float(np.median(unit_cost[np.isfinite(unit_cost)]))
    first_total = first.speed.sum(axis=1)
    median_total = float(np.median(first_total[first_total > 0]))
    median_capacity = float(np.median(first.capacity))
    cost = np.array([e.cost if e.cost is not None else median_unit * t for e, t in zip(extras, total, strict=True)])
    capacity = np.array([
        e.capacity if e.capacity is not None else median_capacity * np.sqrt(t / median_total)
        for e, t in zip(extras, total, strict=True)
    ])
    if config.auction.capacity == "units":
        capacity = np.ceil(capacity)
    kind = np.array([PROVIDER_KINDS.index(e.kind) for e in extras], dtype=np.int8)
    arrays = {"speed": speed, "capacity": capacity, "cost": cost,
              "psi": np.array([e.psi for e in extras], dtype=np.float64)}
    return arrays, kind
