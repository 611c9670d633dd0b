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
import pyarrow.parquet as pq

from oasis_lab.files import atomic_path
from oasis_lab.sim.config import SimConfig

__all__ = ["SimulationResult"]

_FORMAT = "oasis_lab.sim/1"


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
        """Write the result to one Parquet file, atomically.

        The per-round table is the file's table; the config (JSON), seed, timings and the
        provider, ledger, job and re-auction tables (Parquet bytes) are in its metadata, so
        :meth:`load` gives back identical tables. A failed write leaves an earlier file intact.
        """
        path = Path(path)
        if path.suffix != ".parquet":
            raise ValueError(f"path = {str(path)!r} must end in .parquet")
        if not path.parent.exists():
            raise FileNotFoundError(f"folder {str(path.parent)!r} does not exist")
        meta = {
            "format": _FORMAT,
            "config": self.config.to_json(),
            "seed": str(self.seed),
            "timings": json.dumps(self.timings),
            "games_played": str(self.games_played),
        }
        for name in ("providers", "ledger", "jobs", "requeued", "tasks", "disputes"):
            frame = getattr(self, name)
            if frame is not None:
                meta[name] = base64.b64encode(_frame_bytes(frame)).decode()
        table = pa.Table.from_pandas(self.rounds, preserve_index=False)
        old = table.schema.metadata or {}
        table = table.replace_schema_metadata({**old, **{f"oasis_lab.{k}": v for k, v in meta.items()}})
        with atomic_path(path, keep_suffix=True) as tmp:
            pq.write_table(table, tmp)
        return path

    @classmethod
    def load(cls, path: str | Path) -> SimulationResult:
        """Read a result written by :meth:`save`.

        Raises
        ------
        FileNotFoundError
            No such file.
        ValueError
            Not a simulation result file.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"result file {str(path)!r} does not exist")
        table = pq.read_table(path)
        raw = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        meta = {k[len("oasis_lab."):]: v for k, v in raw.items() if k.startswith("oasis_lab.")}
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{path.name} is not a simulation result (format {meta.get('format')!r})")
        frames = {
            name: _frame_from(base64.b64decode(meta[name])) if name in meta else None
            for name in ("providers", "ledger", "jobs", "requeued", "tasks", "disputes")
        }
        config = SimConfig.from_dict(json.loads(meta["config"]), source=path.name)
        return cls(
            config=config,
            seed=int(meta["seed"]),
            rounds=table.to_pandas(),
            providers=frames["providers"],
            ledger=frames["ledger"],
            timings=json.loads(meta["timings"]),
            jobs=frames["jobs"],
            requeued=frames["requeued"],
            tasks=frames["tasks"],
            disputes=frames["disputes"],
            games_played=int(meta["games_played"]),
        )
