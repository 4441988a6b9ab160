"""The arena's records in the ledger database (tables of revision 0006, see ``competition_schema``):
what a competition was (config, data hash, code version), when it ran, how far it got, and each trader's
final metrics. Readers such as the API's ``/leaderboard`` use :meth:`CompetitionStore.list` and
:meth:`CompetitionStore.traders`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, insert, select, update

from nofx.persistence import competition_schema as c
from nofx.persistence import schema as t
from nofx.persistence.rows import naive
from nofx.persistence.store import SqlLedgerStore


@dataclass(frozen=True)
class CompetitionRecord:
    competition_id: str
    name: str
    status: str  # running | finished | failed
    created: datetime
    started: datetime | None
    finished: datetime | None
    config_json: str
    data_hash: str
    code_version: str
    runs: int
    cursor: int  # last replay slice every trader finished (-1: none)
    results_json: str | None = None


@dataclass(frozen=True)
class CompetitionTrader:
    competition_id: str
    trader_id: str
    name: str
    kind: str  # ai | baseline
    run_index: int
    model: str | None
    seed: int | None
    temperature: float | None
    metrics_json: str | None = None
    seen_hash: str | None = None


class CompetitionStore:
    def __init__(self, store: SqlLedgerStore) -> None:
        self.store = store

    def create(self, rec: CompetitionRecord) -> None:
        with self.store._write() as conn:
            conn.execute(insert(c.competitions).values(
                competition_id=rec.competition_id, name=rec.name[:200], status=rec.status,
                created=naive(rec.created), started=naive(rec.started) if rec.started else None, finished=None,
                config_json=rec.config_json, data_hash=rec.data_hash, code_version=rec.code_version[:64],
                runs=rec.runs, cursor=rec.cursor, results_json=rec.results_json))

    def add_traders(self, rows: list[CompetitionTrader]) -> None:
        if not rows:
            return
        with self.store._write() as conn:
            conn.execute(insert(c.competition_traders), [{
                "competition_id": r.competition_id, "trader_id": r.trader_id, "name": r.name, "kind": r.kind,
                "run_index": r.run_index, "model": r.model, "seed": r.seed, "temperature": r.temperature,
                "metrics_json": r.metrics_json, "seen_hash": r.seen_hash} for r in rows])

    def get(self, competition_id: str) -> CompetitionRecord | None:
        with self.store._read() as conn:
            row = conn.execute(select(c.competitions).where(
                c.competitions.c.competition_id == competition_id)).mappings().first()
        return None if row is None else _record(row)

    def list(self) -> list[CompetitionRecord]:
        """Every competition, most recently created first."""
        with self.store._read() as conn:
            rows = conn.execute(select(c.competitions).order_by(c.competitions.c.created.desc(),
                                                                c.competitions.c.competition_id)).mappings().all()
        return [_record(r) for r in rows]

    def traders(self, competition_id: str) -> list[CompetitionTrader]:
        t = c.competition_traders
        with self.store._read() as conn:
            rows = conn.execute(select(t).where(t.c.competition_id == competition_id)
                                .order_by(t.c.name, t.c.run_index)).mappings().all()
        return [CompetitionTrader(r["competition_id"], r["trader_id"], r["name"], r["kind"], int(r["run_index"]),
                                  r["model"], r["seed"], r["temperature"], r["metrics_json"], r["seen_hash"])
                for r in rows]

    def update(self, competition_id: str, **values: Any) -> None:
        """Set columns of the competition row (status, started, finished, cursor, results_json)."""
        vals = {k: (naive(v) if isinstance(v, datetime) else v) for k, v in values.items()}
        with self.store._write() as conn:
            conn.execute(update(c.competitions).where(c.competitions.c.competition_id == competition_id)
                         .values(**vals))

    def save_scores(self, competition_id: str, results_json: str, per_trader: dict[str, tuple[str, str | None]]
                    ) -> None:
        """The latest scoring, in one transaction: results and each trader's (metrics json, seen hash)."""
        t = c.competition_traders
        with self.store._write() as conn:
            conn.execute(update(c.competitions).where(c.competitions.c.competition_id == competition_id)
                         .values(results_json=results_json))
            for tid, (metrics, seen) in per_trader.items():
                vals: dict[str, Any] = {"metrics_json": metrics}
                if seen is not None:
                    vals["seen_hash"] = seen
                conn.execute(update(t).where(t.c.competition_id == competition_id, t.c.trader_id == tid)
                             .values(**vals))

    def delete(self, competition_id: str) -> None:
        with self.store._write() as conn:
            conn.execute(delete(c.competitions).where(c.competitions.c.competition_id == competition_id))


def _record(r: Any) -> CompetitionRecord:
    return CompetitionRecord(r["competition_id"], r["name"], r["status"], r["created"], r["started"], r["finished"],
                             r["config_json"], r["data_hash"], r["code_version"], int(r["runs"]), int(r["cursor"]),
                             r["results_json"])


def equity_curve(store: SqlLedgerStore, trader_id: str) -> list[tuple[datetime, Decimal, int]]:
    """A trader's equity snapshots (ts, equity, cursor), one per slice in slice order (the last one
    taken for a slice wins)."""
    s = t.equity_snapshots
    with store._read() as conn:
        rows = conn.execute(select(s.c.ts, s.c.equity, s.c.cursor).where(s.c.trader_id == trader_id)
                            .order_by(s.c.cursor, s.c.id)).all()
    by_cursor = {int(cur): (ts, eq, int(cur)) for ts, eq, cur in rows}
    return [by_cursor[k] for k in sorted(by_cursor)]


def refused_orders(store: SqlLedgerStore, trader_id: str) -> list[tuple[datetime, str, str]]:
    """(created, reject code, reason) of the trader's orders the engine or venue refused."""
    o = t.orders
    with store._read() as conn:
        rows = conn.execute(select(o.c.created, o.c.reject_code, o.c.reject_reason)
                            .where(o.c.trader_id == trader_id, o.c.reject_code != "")
                            .order_by(o.c.created, o.c.order_id)).all()
    return [(r[0], str(r[1]), str(r[2] or "")) for r in rows]
