"""What a simulation returns: per-round and per-provider tables, the final ledger, Parquet I/O.

Money columns of the tables are in tokens (the integer smallest-unit amounts of the books
divided by ``token_unit``); the ledger table keeps the exact integer smallest units. Welfare is
measured at truthful reports (the auction's bids are the true values and costs).
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from oasis_lab.files import check_output_file, read_sealed_parquet, write_sealed_parquet
from oasis_lab.sim.config import SimConfig

__all__ = ["SimulationResult"]

# 2: checksummed (oasis_lab.files.write_sealed_parquet); files of format 1 had no checksum
_FORMAT = "oasis_lab.sim/2"
_TABLES = ("providers", "ledger", "jobs", "requeued", "tasks", "disputes", "agents", "policies")


def _frame_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=True)
    return buf.getvalue()


def _frame_from(data: bytes) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(data))


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Outcome of :func:`oasis_lab.sim.simulate` (whitepaper sections 4 and 5 over time).

    Attributes
    ----------
    config : SimConfig
    seed : int
    rounds : pandas.DataFrame
        One row per round: arrivals, re-auctioned tasks, served, failed and cheated jobs, queue
        length, waiting time (rounds), welfare (and the round's exact optimum when asked),
        per-unit prices per model type, payments, fees, challenges, disputes, convictions,
        false convictions, wrong verdicts (final verdict unlike the trusted stack's), cheaters
        freed, appeals and appeals overturned, market referees slashed (count, tokens), bribes,
        slashed and burned tokens, reversals and refunds, challenger costs
        and rewards, bonds and stakes locked, providers present / removed / entered / exited,
        tokens held, deposited and withdrawn.
    providers : pandas.DataFrame
        One row per provider ever present: kind and strategy, entry, exit and removal rounds,
        jobs, income, rewards, referee strategy, referee income (rewards and bribes taken as a
        referee, part of rewards), stake slashed as a referee, appeals' net and bribes paid,
        costs, profit, slashed, stake, balance, disputes won and lost,
        rounds barred.
    ledger : pandas.DataFrame
        Final balance of every account, exact integer smallest units.
    timings : dict of str to float
        Wall seconds of the setup and of each stage (keys :data:`oasis_lab.sim.engine.TIMED`):
        together the whole run but for assembling this result.
    jobs, requeued, tasks : pandas.DataFrame or None
        With ``record_jobs=True``: one row per job, per re-auctioned task (with the reason:
        ``unserved``, ``failed``, ``reversed``, ``refunded``) and per task in each round's market.
    disputes : pandas.DataFrame or None
        With ``record_jobs=True``: one row per resolved dispute (verdict, payment returned to
        the user or paid to the provider, stake slashed, referee).
    games_played : int
        Dispute games actually played (the vectorised court plays each distinct one once).
    agents : pandas.DataFrame or None
        With learning agents (``config.policies``): one row per decision learned
        (:meth:`oasis_lab.sim.adapters.Agents.decisions`); None when every role is scripted.
    policies : pandas.DataFrame or None
        With learning agents: one row per population (learner, grid, payoff range, payoffs
        clipped, :meth:`oasis_lab.sim.adapters.Agents.policy_table`).
    """

    config: SimConfig
    seed: int
    rounds: pd.DataFrame
    providers: pd.DataFrame
    ledger: pd.DataFrame
    timings: dict[str, float]
    jobs: pd.DataFrame | None = None
    requeued: pd.DataFrame | None = None
    tasks: pd.DataFrame | None = None
    disputes: pd.DataFrame | None = None
    games_played: int = 0
    agents: pd.DataFrame | None = None
    policies: pd.DataFrame | None = None

    def to_frame(self) -> pd.DataFrame:
        """The per-round table (one row per round, indexed by round)."""
        return self.rounds.set_index("round")

    def summary(self) -> pd.DataFrame:
        """One row: totals and means over the run, and what cheaters and honest providers earned."""
        r = self.rounds
        p = self.providers
        cheat = p["kind"] == "cheater"
        row: dict[str, Any] = {
            "readings": self.config.label(),
            "seed": self.seed,
            "rounds": len(r),
            "tasks_arrived": int(r["arrived"].sum()),
            "tasks_served": int(r["served"].sum()),
            "abandoned": int(r["abandoned"].sum()),
            "wait_mean": float(np.nanmean(r["wait_mean"])) if r["wait_mean"].notna().any() else np.nan,
            "welfare": float(r["welfare"].sum()),
            "payments": float(r["payments"].sum()),
            "cheated_jobs": int(r["cheated_jobs"].sum()),
            "cheated_settled": float(r["cheated_settled"].sum()),
            "disputes": int(r["disputes_resolved"].sum()),
            "convictions": int(r["convictions"].sum()),
            "false_convictions": int(r["false_convictions"].sum()),
            "wrong_verdicts": int(r["wrong_verdicts"].sum()),
            "cheaters_freed": int(r["cheaters_freed"].sum()),
            "appeals": int(r["appeals"].sum()),
            "referees_slashed": int(r["referees_slashed"].sum()),
            "slashed": float(r["slashed"].sum()),
            "burned": float(r["burned"].sum()),
            "challenger_costs": float(r["challenger_costs"].sum()),
            "cheaters": int(cheat.sum()),
            "cheaters_removed": int((cheat & (p["removed"] >= 0)).sum()),
            "cheater_income": float(p.loc[cheat, "income"].sum()),
            "honest_removed": int((~cheat & (p["removed"] >= 0)).sum()),
            "providers_exited": int((p["exited"] >= 0).sum()),
        }
        return pd.DataFrame([row])

    # ------------------------------------------------------------------ Parquet
    def save(self, path: str | Path) -> Path:
        """Write the result to one Parquet file, atomically and checksummed.

        The per-round table is the file's table; the config (JSON), seed, timings and the
        provider, ledger, job and re-auction tables (Parquet bytes) are in its metadata, so
        :meth:`load` gives back identical tables. The file carries the SHA-256 of its bytes
        (:func:`oasis_lab.files.write_sealed_parquet`), so any damage is refused on loading. A
        failed write leaves an earlier file intact.
        """
        path = Path(path)
        if path.suffix != ".parquet":
            raise ValueError(f"path = {str(path)!r} must end in .parquet")
        if not path.parent.exists():
            raise FileNotFoundError(f"folder {str(path.parent)!r} does not exist")
        check_output_file("path", path)
        meta = {
            "format": _FORMAT,
            "config": self.config.to_json(),
            "seed": str(self.seed),
            "timings": json.dumps(self.timings),
            "games_played": str(self.games_played),
        }
        for name in _TABLES:
            frame = getattr(self, name)
            if frame is not None:
                meta[name] = base64.b64encode(_frame_bytes(frame)).decode()
        table = pa.Table.from_pandas(self.rounds, preserve_index=False)
        return write_sealed_parquet(path, table, {f"oasis_lab.{k}": v for k, v in meta.items()})

    @classmethod
    def load(cls, path: str | Path) -> SimulationResult:
        """Read a result written by :meth:`save`, after checking its checksum.

        Raises
        ------
        FileNotFoundError
            No such file.
        ValueError
            Not a simulation result file of this version: a directory, a file without the
            checksum or whose bytes do not match it (any damage), another format, or a field
            (config, seed, timings, tables) missing or unreadable. The message names the file.
        """
        path = Path(path)
        what = f"result file {str(path)!r}"
        table, raw = read_sealed_parquet(path, what)
        meta = {k[len("oasis_lab."):]: v for k, v in raw.items() if k.startswith("oasis_lab.")}
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{what} is not a simulation result (format {meta.get('format')!r}, expected {_FORMAT!r})")
        missing = [k for k in ("config", "seed", "timings", "games_played", "providers", "ledger") if k not in meta]
        if missing:
            raise ValueError(f"{what} lacks its {', '.join(missing)} metadata: not a complete simulation result")
        try:
            frames = {
                name: _frame_from(base64.b64decode(meta[name], validate=True)) if name in meta else None
                for name in _TABLES
            }
            seed, games, timings = int(meta["seed"]), int(meta["games_played"]), json.loads(meta["timings"])
            rounds = table.to_pandas()
        except Exception as exc:  # noqa: BLE001 - sealed yet unreadable: every failure is "not a result"
            raise ValueError(f"{what} holds unreadable result fields: {type(exc).__name__}: {exc}") from None
        try:
            config = SimConfig.from_dict(json.loads(meta["config"]), source=path.name)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{what} holds an invalid config: {exc}") from None
        return cls(
            config=config,
            seed=seed,
            rounds=rounds,
            providers=frames["providers"],
            ledger=frames["ledger"],
            timings=timings,
            jobs=frames["jobs"],
            requeued=frames["requeued"],
            tasks=frames["tasks"],
            disputes=frames["disputes"],
            games_played=games,
            agents=frames["agents"],
            policies=frames["policies"],
        )
