"""The configuration of a multi-round market simulation, validated before anything runs.

A :class:`SimConfig` names every choice of the simulation (whitepaper sections 4 and 5 played
round after round): the market scenario and the arrival rate, the provider population and its
churn, the auction's :class:`~oasis_lab.params.AuctionParams`, execution failures, the share
of cheaters and their strategy (a provider adversary of
:data:`oasis_lab.disputes.registry.CHEATER_ADVERSARIES`), honest providers on other hardware, user and
platform challenge probabilities, the challenger's recompute cost, the dispute game's
:class:`~oasis_lab.disputes.params.DisputeParams` (arity, referee mode and tolerance, stakes,
bonds, slash and reward fractions, re-auction priority), the re-auction raise (the auction
params' ``rebid_bump`` / ``rebid_mode``) and the number of rounds.

Configurations live as YAML or TOML files in ``data/configs/``: top-level keys are the fields
below, ``auction:`` and ``disputes:`` are tables of their parameter classes. An unknown key, a
wrong type or an out-of-range value raises one ``ValueError`` / ``TypeError`` naming the key
(``disputes.slash_fraction = 2 must be in [0, 1]``) before the simulation starts.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field, fields
from functools import partial
from pathlib import Path
from typing import Any

from oasis_lab import paths
from oasis_lab.auction.baselines.optimum.solvers import check_time_limit
from oasis_lab.auction.mechanisms import mechanism_names
from oasis_lab.checks import (
    FieldCheck,
    check_bool,
    check_choice,
    check_fields,
    check_fraction,
    check_instance,
    check_int,
    check_optional,
    check_real,
    check_reals,
)
from oasis_lab.configfile import load_config_file
from oasis_lab.disputes.market_referee import APPEAL_TO, WEIGHTINGS
from oasis_lab.disputes.params import DisputeParams
from oasis_lab.disputes.registry import CHEATER_ADVERSARIES
from oasis_lab.market import SCENARIOS, load_model_types
from oasis_lab.params import AuctionParams, ParamsMixin
from oasis_lab.sim.policies import Policies

__all__ = [
    "ARRIVALS",
    "CHEATER_ADVERSARIES",
    "CONFIG_DIR",
    "DISPUTE_MODES",
    "EXTRA_KINDS",
    "ExtraProvider",
    "REFEREES",
    "SimConfig",
    "load_config",
]

CONFIG_DIR = paths.CONFIG_DIR

#: ``"fixed"``: ``tasks_per_round`` tasks every round; ``"poisson"``: a Poisson number.
ARRIVALS: tuple[str, ...] = ("fixed", "poisson")
#: ``"vectorised"``: each (strategy, node) game is played once and its verdict reused;
#: ``"played"``: every dispute is played in full (same verdicts, tested; slower).
DISPUTE_MODES: tuple[str, ...] = ("vectorised", "played")
#: Kinds an extra (measured) provider may be (codes of ``oasis_lab.sim.court.PROVIDER_KINDS``).
EXTRA_KINDS: tuple[str, ...] = ("honest", "cheater", "other_device")


@dataclass(frozen=True)
class ExtraProvider:
    """A provider whose speeds and ``Psi`` were measured (e.g. a browser provider benchmarked in
    its page, :func:`oasis_lab.browser.market.browser_providers`), joining a simulated market
    beside the generated population from round 0 (section 4.2: "``M_i`` ... will be determined
    by benchmarking").

    Parameters
    ----------
    name : str
        Label (the device and how it was measured).
    speed : tuple of float
        Requests per second per model type, in ``data/model_types.csv`` order (at least
        ``SimConfig.n_types`` of them; the simulation uses the first ``n_types``).
    psi : tuple of float
        ``Psi`` (:data:`oasis_lab.gpu.bench.PSI_NAMES`: GPU TFLOPS, memory GB, bandwidth GB/s,
        CPU cores).
    kind : {"honest", "cheater", "other_device"}, default "honest"
        How it computes, as the generated providers' kinds (a provider running a different
        kernel variant rounds differently from the referee: ``"other_device"``).
    capacity, cost : float, optional
        Its capacity and cost of a round. Default (the reading taken, since a benchmark
        measures neither): the initial population's median unit cost ``c_j / sum_t s[j, t]``
        times its total speed, and the population's median capacity times
        ``sqrt(sum_t s[j, t] / median total speed)`` (``generate_market``'s square-root share).
    """

    name: str
    speed: tuple[float, ...]
    psi: tuple[float, ...]
    kind: str = "honest"
    capacity: float | None = None
    cost: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"extra provider name must be a non-empty string, got {self.name!r}")
        check_fields(self, _EXTRA_CHECKS, prefix=f"extra provider {self.name!r} ")
        if len(self.psi) != 4:
            raise ValueError(f"extra provider {self.name!r}: psi has {len(self.psi)} values, expected 4 "
                             "(gpu_tflops, memory_gb, bandwidth_gbs, cpu_cores)")
        if not any(self.speed):
            raise ValueError(f"extra provider {self.name!r}: every speed is 0 (it could run nothing)")

    @classmethod
    def from_dict(cls, data: Any, source: str = "config") -> ExtraProvider:
        """From a mapping (a YAML/TOML table), naming unknown keys."""
        if not isinstance(data, dict):
            raise TypeError(f"{source}: each of extra_providers must be a table, got {data!r}")
        known = {f.name for f in fields(cls)}
        for k in data:
            if k not in known:
                raise ValueError(f"{source}: unknown key extra_providers.{k!s}; known keys: {sorted(known)}")
        return cls(**data)


#: Who rules a dispute: the platform's trusted stack, or a provider of the market (section 5,
#: :mod:`oasis_lab.disputes.market_referee`).
REFEREES: tuple[str, ...] = ("trusted", "market")

# Upper bounds that keep every integer token amount of a run far inside int64 (see
# ``oasis_lab.sim.books``): at most 2**53 smallest units per payment, stake or bond.
_MAX_TOKEN_UNIT = 10**9
_MAX_SIZE = 10**7
# Bribes and budgets in whole tokens, kept far inside 2**53 smallest units at any token_unit.
_MAX_TOKEN_AMOUNT = 10**6
# Bounds that keep every float sum of a run finite (a value of 1e308 passed the checks and
# overflowed to inf mid-run): a challenge costs at most a million times the task's cost, a
# provider's idle cost at most 1e12 tokens a round, a measured provider's speed, Psi,
# capacity and cost at most 1e15, and an unserved task's value is raised at most 1e15 times
# over its max_wait rounds (beyond, no payment of it fits the ledger's 2**53 smallest units).
_MAX_COST_MULTIPLE = 1e6
_MAX_IDLE_COST = 1e12
_MAX_MEASURE = 1e15
_MAX_RAISE = 1e15


def _check_raise(auction: Any, max_wait: int, token_unit: Any) -> None:
    """Refuse a re-auction raise that takes a waiting task's value out of what can be paid."""
    if not isinstance(auction, AuctionParams):
        return  # refused by name below
    bump = auction.rebid_bump
    if auction.rebid_mode == "multiplicative":
        # in logarithms: (1 + bump) ** max_wait itself overflows
        if max_wait * math.log1p(bump) > math.log(_MAX_RAISE):
            raise ValueError(
                f"auction.rebid_bump = {bump!r} raises an unserved task's value (1 + rebid_bump) ** max_wait "
                f"= {math.exp(min(max_wait * math.log1p(bump), 700.0)):.3g} times over max_wait = {max_wait} "
                f"rounds; it must be at most {_MAX_RAISE:g} (lower rebid_bump or max_wait)"
            )
    elif isinstance(token_unit, int) and token_unit >= 1 and bump * max_wait * token_unit >= 2**53:
        raise ValueError(
            f"auction.rebid_bump = {bump!r} adds {bump * max_wait:.3g} tokens to an unserved task's value "
            f"over max_wait = {max_wait} rounds; times token_unit = {token_unit} it must be < 2**53 "
            "smallest units (lower rebid_bump or max_wait)"
        )


def _check_computation(name: str, value: Any) -> str:
    """``synthetic:N`` (N >= 2), a published profile or a shipped executed model."""
    from oasis_lab.disputes.profiles import PROFILES
    from oasis_lab.gpu.model import MODEL_NAMES

    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a non-empty string, got {value!r}")
    if value.startswith("synthetic:"):
        tail = value.split(":", 1)[1]
        if not tail.isdigit() or int(tail) < 2:
            raise ValueError(f"{name} = {value!r}: expected synthetic:<number of nodes >= 2>")
        return value
    known = (*PROFILES, *MODEL_NAMES)
    if value not in known:
        raise ValueError(f"{name} = {value!r} is not synthetic:N or one of {list(known)}")
    return value


def _check_mechanism(name: str, value: Any) -> str:
    # the registered mechanisms the simulation runs each round (the greedy PRICES), read when a
    # config is built
    return check_choice(name, value, mechanism_names("simulate"))


def _check_n_types(name: str, value: Any) -> int:
    # the model types are data/model_types.csv's rows, read when a config is built
    return check_int(name, value, 1, len(load_model_types()))


def _check_extra_providers(name: str, value: Any) -> tuple[ExtraProvider, ...]:
    extras = tuple(value) if isinstance(value, list) else value
    if not isinstance(extras, tuple) or not all(isinstance(e, ExtraProvider) for e in extras):
        raise TypeError(f"{name} must be a tuple of ExtraProvider, got {value!r}")
    return extras


def _ints(minimum: int, maximum: int | None = None) -> FieldCheck:
    return partial(check_int, minimum=minimum, maximum=maximum)


#: Each field's check of :class:`ExtraProvider` (:func:`oasis_lab.checks.check_fields`).
_EXTRA_CHECKS: dict[str, FieldCheck] = {
    "speed": partial(check_reals, minimum=0.0, maximum=_MAX_MEASURE),
    "psi": partial(check_reals, minimum=0.0, maximum=_MAX_MEASURE),
    "kind": partial(check_choice, choices=EXTRA_KINDS),
    "capacity": partial(check_optional, check=partial(check_real, minimum=0.0, maximum=_MAX_MEASURE)),
    "cost": partial(check_optional, check=partial(check_real, minimum=0.0, maximum=_MAX_MEASURE)),
}

_SHARES = ("referee_collude_share", "referee_frame_share", "referee_bribable_share")

#: Each field's check of :class:`SimConfig`, in the order they are checked; the rules that tie
#: fields together follow in ``SimConfig.__post_init__``.
_SIM_CHECKS: dict[str, FieldCheck] = {
    "rounds": _ints(1, _MAX_SIZE),
    "tasks_per_round": _ints(1, _MAX_SIZE),
    "n_providers": _ints(1, _MAX_SIZE),
    "n_types": _check_n_types,
    "arrivals": partial(check_choice, choices=ARRIVALS),
    "scenario": partial(check_choice, choices=tuple(SCENARIOS)),
    "mechanism": _check_mechanism,
    "dispute_mode": partial(check_choice, choices=DISPUTE_MODES),
    "adversary": partial(check_choice, choices=CHEATER_ADVERSARIES),
    "auction": partial(check_instance, cls=AuctionParams),
    "disputes": partial(check_instance, cls=DisputeParams),
    "computation": _check_computation,
    **dict.fromkeys(
        ("failure_probability", "cheater_share", "cheat_probability", "cheat_saving",
         "other_device_share", "p_user", "p_platform"),
        check_fraction,
    ),
    "other_device_ulps": _ints(1),
    "challenge_cost": partial(check_real, minimum=0.0, maximum=_MAX_COST_MULTIPLE),
    "dispute_delay": _ints(0, _MAX_SIZE),
    "requeue_unserved": check_bool,
    "max_wait": _ints(1, _MAX_SIZE),
    "entry_rate": partial(check_real, minimum=0.0, maximum=1e6),
    "exit_window": _ints(0, _MAX_SIZE),
    "idle_cost": partial(check_real, minimum=0.0, maximum=_MAX_IDLE_COST),
    "optimum_every": _ints(0),
    "optimum_time_limit": check_time_limit,
    "token_unit": _ints(1, _MAX_TOKEN_UNIT),
    "referee": partial(check_choice, choices=REFEREES),
    "referee_selection": partial(check_choice, choices=WEIGHTINGS),
    **dict.fromkeys(_SHARES, check_fraction),
    **dict.fromkeys(("referee_bribe_price", "cheater_bribe", "appeal_budget"), _ints(0, _MAX_TOKEN_AMOUNT)),
    "appeal_to": partial(check_choice, choices=APPEAL_TO),
    "extra_providers": _check_extra_providers,
    "policies": partial(check_instance, cls=Policies),
}


@dataclass(frozen=True)
class SimConfig(ParamsMixin):
    """Parameters of a multi-round market simulation (whitepaper sections 4 and 5).

    Parameters
    ----------
    rounds : int, default 50
        Auction rounds to simulate (>= 1).
    tasks_per_round : int, default 1000
        New tasks per round (``arrivals="fixed"``) or their mean (``"poisson"``), >= 1.
    arrivals : {"fixed", "poisson"}, default "poisson"
    n_providers : int, default 100
        Providers at the start (>= 1).
    n_types : int, default 4
        Model types (the first ``n_types`` rows of ``data/model_types.csv``).
    scenario : str, default "balanced"
        A key of :data:`oasis_lab.market.SCENARIOS`: supply ratio and values of each round's
        tasks against the initial population.
    mechanism : {"greedy"}, default "greedy"
        The auction run each round (PRICES, section 4.2).
    auction : AuctionParams
        Its readings; ``rebid_bump`` / ``rebid_mode`` are the re-auction raise.
    disputes : DisputeParams
        Arity, referee comparison and tolerance, stakes, bonds, slash and reward fractions,
        re-auction priority (section 5).
    dispute_mode : {"vectorised", "played"}, default "vectorised"
    computation : str, default "synthetic:64"
        What a task's inference is, for the dispute game: ``synthetic:N`` (a hashed DAG of
        ``N`` nodes), ``tiny-transformer`` (executed), ``llama-2-7b`` or ``sdxl-base-1.0``
        (synthetic values on the published graphs).
    failure_probability : float, default 0.0
        Chance that a provider fails a round: its tasks are not done, not paid and return to
        the auction with a raised value.
    cheater_share : float, default 0.0
        Share of providers (at the start and among entrants) that cheat.
    adversary : str, default "perturb"
        The cheaters' strategy, one of :data:`CHEATER_ADVERSARIES`; the cheated node is drawn
        per task.
    cheat_probability : float, default 1.0
        Chance that a cheater cheats on each task it wins.
    cheat_saving : float, default 0.5
        Share of a task's true cost a cheater saves by cheating (the gain ``G``).
    other_device_share : float, default 0.0
        Share of honest providers whose device rounds one node ``other_device_ulps`` ULPs away
        from the referee's (:class:`~oasis_lab.disputes.adversaries.OtherDevice`).
    other_device_ulps : int, default 1
    p_user, p_platform : float, default 0.05 and 0.01
        Chance that a task's user, and independently the platform, challenges its result.
    challenge_cost : float, default 1.0
        What a challenge costs its challenger (it recomputes the task), as a multiple of the
        task's true cost at the serving provider's prices (at most 1e6).
    dispute_delay : int, default 1
        Rounds a dispute takes: a challenge opened in round ``r`` is resolved at the end of
        round ``r + dispute_delay``; the provider is barred from the auctions in between.
    requeue_unserved : bool, default True
        Tasks the auction did not serve wait for the next round (as re-auctioned tasks).
    max_wait : int, default 10
        Rounds after its arrival a task is given up (>= 1). A waiting task's value is raised
        by ``auction.rebid_bump`` each round: at most ``1e15`` times over ``max_wait`` rounds
        (``"multiplicative"``), or by less than ``2**53`` smallest units (``"additive"``).
    entry_rate : float, default 0.0
        Mean number of providers entering per round (Poisson).
    exit_window : int, default 0
        ``0``: no exit. Otherwise a provider whose income over the last ``exit_window``
        rounds does not cover its costs (compute and ``idle_cost``) leaves.
    idle_cost : float, default 0.0
        Tokens per round it costs a provider to stay online (at most 1e12).
    optimum_every : int, default 0
        Solve the round's exact welfare optimum every this many rounds (0: never).
    optimum_time_limit : float, default 30.0
        Seconds for each optimum, at most
        :data:`~oasis_lab.auction.baselines.optimum.MAX_TIME_LIMIT` (about 11.6 days).
    token_unit : int, default 1_000_000
        Smallest token units per token: prices (floats) become integer amounts here, at the
        ledger boundary; stakes and bonds (``DisputeParams``, whole tokens) are multiplied.
    referee : {"trusted", "market"}, default "trusted"
        Who rules a dispute (section 5: "a single service provider is assigned to recompute
        each layer"). ``"trusted"``: the platform's stack; ``"market"``: a present provider
        other than the challenged one, drawn per dispute
        (:func:`oasis_lab.disputes.market_referee.adjudicate`), recomputing on its own device
        (an other-device provider rounds ``other_device_ulps`` away) with its own strategy.
        The referee's fee is ``disputes.referee_reward_fraction`` of what is forfeited, the
        stake an appeal slashes is its provider stake (``disputes.provider_stake``, cut by
        ``disputes.referee_slash_fraction``), the appeal bond is ``disputes.appeal_bond``.
    referee_selection : {"uniform", "stake"}, default "uniform"
        How a market referee is drawn: uniformly, or in proportion to its locked stake.
    referee_collude_share, referee_frame_share, referee_bribable_share : float, default 0.0
        Shares of providers (at the start and among entrants) that, as market referees, rule
        for the provider (collude), for the challenger (frame), or for whoever bribes them
        at least ``referee_bribe_price``; the rest rule honestly. Their sum is at most 1.
    referee_bribe_price : int, default 0
        Tokens a bribable referee takes (0: any offer of at least one token).
    cheater_bribe : int, default 0
        Tokens a cheater offers each market referee of its dispute (0: none). It is offered
        only when the cheater's free balance covers it for every referee that may rule
        (two with ``appeal_to="market"``), and paid to each referee that takes it.
    appeal_to : {None, "trusted", "market"}, default None
        Where a party wronged by a market referee may appeal (None: no appeal), locking
        ``disputes.appeal_bond`` (funded from its balance, the shortfall deposited). Only with
        ``referee="market"``.
    appeal_budget : int, default 5_000
        Tokens a party can lock for an appeal (it appeals only if the bond fits and the
        expected gain exceeds the expected loss of the bond,
        :func:`~oasis_lab.disputes.market_referee.appeal_pays`).
    extra_providers : tuple of ExtraProvider, default ()
        Measured providers (e.g. browser providers) present from round 0 beside the
        ``n_providers`` generated ones.
    policies : Policies
        The policy of each role (users, providers, challengers, market referees): scripted (the
        default: today's behaviour, from the fields above) or learning from their own payoffs
        (:mod:`oasis_lab.sim.policies`). A ``policies:`` table in a config file, one sub-table
        per role; a learning referee policy needs ``referee="market"``.

    Raises
    ------
    ValueError, TypeError
        Naming the field and the bad value.
    """

    rounds: int = 50
    tasks_per_round: int = 1000
    arrivals: str = "poisson"
    n_providers: int = 100
    n_types: int = 4
    scenario: str = "balanced"
    mechanism: str = "greedy"
    auction: AuctionParams = field(default_factory=AuctionParams)
    disputes: DisputeParams = field(default_factory=DisputeParams)
    dispute_mode: str = "vectorised"
    computation: str = "synthetic:64"
    failure_probability: float = 0.0
    cheater_share: float = 0.0
    adversary: str = "perturb"
    cheat_probability: float = 1.0
    cheat_saving: float = 0.5
    other_device_share: float = 0.0
    other_device_ulps: int = 1
    p_user: float = 0.05
    p_platform: float = 0.01
    challenge_cost: float = 1.0
    dispute_delay: int = 1
    requeue_unserved: bool = True
    max_wait: int = 10
    entry_rate: float = 0.0
    exit_window: int = 0
    idle_cost: float = 0.0
    optimum_every: int = 0
    optimum_time_limit: float = 30.0
    token_unit: int = 1_000_000
    referee: str = "trusted"
    referee_selection: str = "uniform"
    referee_collude_share: float = 0.0
    referee_frame_share: float = 0.0
    referee_bribable_share: float = 0.0
    referee_bribe_price: int = 0
    cheater_bribe: int = 0
    appeal_to: str | None = None
    appeal_budget: int = 5_000
    extra_providers: tuple[ExtraProvider, ...] = ()
    policies: Policies = field(default_factory=Policies)

    def __post_init__(self) -> None:
        check_fields(self, _SIM_CHECKS)
        _check_raise(self.auction, self.max_wait, self.token_unit)
        if sum(getattr(self, name) for name in _SHARES) > 1.0 + 1e-12:
            raise ValueError(
                f"{' + '.join(_SHARES)} = {sum(getattr(self, name) for name in _SHARES)} must be <= 1"
            )
        for e in self.extra_providers:
            if len(e.speed) < self.n_types:
                raise ValueError(f"extra provider {e.name!r} has {len(e.speed)} speeds, n_types = {self.n_types}")
        if self.policies.referee.learning and self.referee != "market":
            raise ValueError(f"policies.referee.policy = 'learning' needs referee='market', "
                             f"got referee={self.referee!r}")
        if self.appeal_to is not None and self.referee != "market":
            raise ValueError(f"appeal_to = {self.appeal_to!r} needs referee='market', got referee={self.referee!r}")
        for name in ("provider_stake", "challenger_bond", "appeal_bond"):
            amount = getattr(self.disputes, name) * self.token_unit
            if amount >= 2**53:
                raise ValueError(
                    f"disputes.{name} = {getattr(self.disputes, name)} times token_unit = "
                    f"{self.token_unit} must be < 2**53 smallest units"
                )

    def label(self) -> str:
        """Short name of the fields that differ from the defaults (nested params by their own
        labels), for tables and plots."""
        default = SimConfig()
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value == getattr(default, f.name):
                continue
            if isinstance(value, (AuctionParams, DisputeParams)):
                parts.append(f"{f.name}({value.label()})")
            elif f.name == "extra_providers":
                parts.append(f"extra_providers={len(value)}")
            elif f.name == "policies":
                parts.append(f"policies({value.label()})")
            else:
                parts.append(f"{f.name}={value}")
        return ", ".join(parts) or "defaults"

    @property
    def challenge_probability(self) -> float:
        """``1 - (1 - p_user)(1 - p_platform)``: a result is challenged by someone."""
        return 1.0 - (1.0 - self.p_user) * (1.0 - self.p_platform)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (``auction`` and ``disputes`` as tables), for files and metadata."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (AuctionParams, DisputeParams)):
                value = {
                    g.name: list(v) if isinstance(v := getattr(value, g.name), tuple) else v
                    for g in fields(value)
                }
            elif f.name == "extra_providers":
                value = [{**dataclasses.asdict(e), "speed": list(e.speed), "psi": list(e.psi)} for e in value]
            elif f.name == "policies":
                value = value.to_dict()
            out[f.name] = value
        return out

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON (keys in field order)."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "config") -> SimConfig:
        """Build and validate a config from a mapping (e.g. a parsed YAML/TOML file).

        Raises
        ------
        ValueError, TypeError
            An unknown key, a wrong type or an out-of-range value, naming the key (and
            ``source``) before any work starts.
        """
        if not isinstance(data, dict):
            raise TypeError(f"{source}: must be a mapping of SimConfig fields, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                raise ValueError(f"{source}: unknown key {key!r}; known keys: {sorted(known)}")
            if key in ("auction", "disputes"):
                kwargs[key] = _nested(key, value, AuctionParams if key == "auction" else DisputeParams, source)
            elif key == "policies":
                kwargs[key] = Policies.from_dict(value, source)
            elif key == "extra_providers":
                if not isinstance(value, list):
                    raise TypeError(f"{source}: extra_providers must be a list of tables, got {value!r}")
                try:
                    kwargs[key] = tuple(ExtraProvider.from_dict(v, source) for v in value)
                except (TypeError, ValueError) as exc:
                    msg = str(exc)
                    raise type(exc)(msg if msg.startswith(source) else f"{source}: {msg}") from None
            else:
                kwargs[key] = value
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{source}: {exc}") from None


def _nested(key: str, value: Any, cls: type, source: str) -> Any:
    if not isinstance(value, dict):
        raise TypeError(f"{source}: {key} must be a table of {cls.__name__} fields, got {value!r}")
    known = {f.name for f in dataclasses.fields(cls)}
    for k in value:
        if k not in known:
            raise ValueError(f"{source}: unknown key {key}.{k!s}; known keys: {sorted(known)}")
    data = dict(value)
    if isinstance(data.get("psi_weights"), list):
        data["psi_weights"] = tuple(data["psi_weights"])
    try:
        return cls(**data)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{source}: {key}.{exc}") from None


def load_config(path: str | Path, **overrides: Any) -> SimConfig:
    """Read a :class:`SimConfig` from a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file.

    Parameters
    ----------
    path : str or Path
        The file; a bare name is looked up in ``data/configs/`` when it does not exist as given.
    **overrides
        Fields to replace after reading (e.g. ``rounds`` from the command line). ``auction``
        and ``disputes`` may be given as the file nests them, a mapping of some of their fields
        (``disputes={"provider_stake": 500}``): merged over the file's table, the other keys
        kept. A :class:`~oasis_lab.params.AuctionParams` or
        :class:`~oasis_lab.disputes.params.DisputeParams` replaces the table whole. So may
        ``policies`` (``policies={"challenger": {"n_challengers": 5}}``: the role's named fields
        change, the rest of the file's ``policies:`` table stays; a role given another
        ``policy`` starts from its defaults); a
        :class:`~oasis_lab.sim.policies.Policies` replaces it whole.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError, TypeError
        A directory, device or binary file, malformed YAML/TOML, a duplicate key, an unknown
        key, a wrong type or an out-of-range value (naming the file and the key). YAML is read
        as YAML 1.2 (``1e3`` is a number), see :mod:`oasis_lab.configfile`.
    """
    p = Path(path)
    if not p.exists() and (CONFIG_DIR / p.name).exists() and p.parent == Path("."):
        p = CONFIG_DIR / p.name
    data = load_config_file(p, "config file")
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise TypeError(f"{p.name}: must be a mapping of SimConfig fields, got {type(data).__name__}")
    # The file is validated as written, so a bad value is reported even where an override
    # replaces it; the overrides are then validated by the dataclass itself.
    config = SimConfig.from_dict(data, source=p.name)
    return _override(config, overrides, f"{p.name} overrides") if overrides else config


def _override(config: SimConfig, overrides: dict[str, Any], source: str) -> SimConfig:
    """``config`` with ``overrides``; a mapping given for ``auction``, ``disputes`` or
    ``policies`` is merged over that table (keys checked and named ``disputes.<key>``,
    ``policies.<role>.<key>``), anything else replaces."""
    merged: dict[str, Any] = {}
    for key, value in overrides.items():
        if key == "policies" and isinstance(value, dict):
            # as a file's `policies:` table, merged over the file's: a role's named fields change,
            # its other fields and the roles not named stay (Policies names a bad key or value); a
            # role given another `policy` starts from that policy's defaults (the file's learner
            # settings would not apply to it)
            tables = config.policies.to_dict()
            for role, table in value.items():
                if (role in tables and isinstance(table, dict)
                        and table.get("policy", tables[role]["policy"]) == tables[role]["policy"]):
                    tables[role] = {**tables[role], **table}
                else:
                    tables[role] = table
            merged[key] = Policies.from_dict(tables, source)
            continue
        if key not in _NESTED_TABLES or isinstance(value, _NESTED_TABLES[key]):
            merged[key] = value
            continue
        if not isinstance(value, dict):
            raise TypeError(
                f"{source}: {key} must be a table of {_NESTED_TABLES[key].__name__} fields "
                f"(a dict) or a {_NESTED_TABLES[key].__name__}, got {value!r}"
            )
        current = getattr(config, key)
        # _nested names an unknown key and a bad value as `key.field`; the file's other fields stay
        table = {f.name: getattr(current, f.name) for f in dataclasses.fields(current)}
        for k in value:
            if k not in table:
                raise ValueError(f"{source}: unknown key {key}.{k!s}; known keys: {sorted(table)}")
        merged[key] = _nested(key, {**table, **value}, _NESTED_TABLES[key], source)
    try:
        return config.replace(**merged)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{source}: {exc}") from None


#: The nested tables of a config file, and the dataclass each one is read into.
_NESTED_TABLES: dict[str, type] = {"auction": AuctionParams, "disputes": DisputeParams}
