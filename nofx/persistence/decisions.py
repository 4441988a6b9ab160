"""The AI traders' decision log, in the ledger database (SQLite or PostgreSQL; tables of revision 0005).

Owns: ``ai_prompts`` (each distinct prompt once, by SHA-256 of its messages) and ``ai_decisions`` (one
row per decision cycle: raw replies, parsed decisions, the limits' verdicts with the client order ids
that link a decision to its orders and fills, latency, tokens, cost, and the trader's memory after the
cycle). A cycle replayed after a crash replaces its row (unique per trader and cycle), so the log never
holds a cycle twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Mapping, Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from nofx.persistence import schema as t
from nofx.persistence.rows import naive
from nofx.persistence.store import SqlLedgerStore


@dataclass(frozen=True)
class DecisionRow:
    trader_id: str
    cycle: int
    cursor: int
    ts: datetime
    status: str
    mode: str
    error: str | None
    model: str
    decisions: list[dict[str, Any]]
    outcomes: list[dict[str, Any]]
    calls: list[dict[str, Any]]
    latency_ms: float
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal
    memory: str

    def to_dict(self) -> dict[str, Any]:
        return {"trader_id": self.trader_id, "cycle": self.cycle, "cursor": self.cursor,
                "datetime": self.ts.isoformat(), "status": self.status, "mode": self.mode, "error": self.error,
                "model": self.model, "decisions": self.decisions, "outcomes": self.outcomes, "calls": self.calls,
                "latency_ms": self.latency_ms, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "cost": str(self.cost)}


def _row(r: Mapping[str, Any]) -> DecisionRow:
    return DecisionRow(r["trader_id"], int(r["cycle"]), int(r["cursor"]), r["ts"], r["status"], r["mode"],
                       r["error"], r["model"], json.loads(r["decisions"]), json.loads(r["outcomes"]),
                       json.loads(r["calls"]), float(r["latency_ms"]), int(r["prompt_tokens"]),
                       int(r["completion_tokens"]), Decimal(r["cost"]), r["memory"])


class DecisionLog:
    def __init__(self, store: SqlLedgerStore) -> None:
        self.store = store

    def record(self, row: DecisionRow, prompts: Mapping[str, str]) -> None:
        """Store one cycle (replacing a replayed one) and any prompt not stored yet, in one transaction."""
        self.record_many([(row, prompts)])

    def record_many(self, items: Sequence[tuple[DecisionRow, Mapping[str, str]]]) -> None:
        """Store several cycles (e.g. every trader's of one arena step) in one transaction."""
        if not items:
            return
        prompts = {h: m for _, ps in items for h, m in ps.items()}
        with self.store._write() as conn:
            if prompts:
                dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
                now = naive(datetime.now())
                stmt = dialect.insert(t.ai_prompts).values(
                    [{"prompt_hash": h, "messages": m, "created": now} for h, m in prompts.items()])
                conn.execute(stmt.on_conflict_do_nothing(index_elements=["prompt_hash"]))
            d = t.ai_decisions
            for row, _ in items:
                conn.execute(delete(d).where(d.c.trader_id == row.trader_id, d.c.cycle == row.cycle))
            conn.execute(insert(d), [dict(
                trader_id=row.trader_id, cycle=row.cycle, cursor=row.cursor, ts=naive(row.ts), status=row.status,
                mode=row.mode, error=row.error, model=row.model[:128],
                decisions=json.dumps(row.decisions, ensure_ascii=False),
                outcomes=json.dumps(row.outcomes, ensure_ascii=False),
                calls=json.dumps(row.calls, ensure_ascii=False, default=str), latency_ms=row.latency_ms,
                prompt_tokens=row.prompt_tokens, completion_tokens=row.completion_tokens,
                cost=row.cost.quantize(Decimal("1e-12")), memory=row.memory) for row, _ in items])

    def rows(self, trader_id: str, limit: int | None = None, before_cursor: int | None = None) -> list[DecisionRow]:
        """Cycles of a trader, oldest first (the last ``limit`` if given; only those decided before
        slice ``before_cursor`` if given)."""
        d = t.ai_decisions
        stmt = select(d).where(d.c.trader_id == trader_id)
        if before_cursor is not None:
            stmt = stmt.where(d.c.cursor < before_cursor)
        stmt = stmt.order_by(d.c.cycle.desc())
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.store._read() as conn:
            rows = [_row(r) for r in conn.execute(stmt).mappings()]
        return rows[::-1]

    def prompt(self, prompt_hash: str) -> list[dict[str, str]] | None:
        p = t.ai_prompts
        with self.store._read() as conn:
            text = conn.execute(select(p.c.messages).where(p.c.prompt_hash == prompt_hash)).scalar()
        return None if text is None else json.loads(text)

    def engine_outcomes(self, trader_id: str, client_order_ids: list[str]) -> dict[str, dict[str, Any]]:
        """What the engine did with each order, by client order id: status, filled quantity, average
        price, refusal, and the fills."""
        if not client_order_ids:
            return {}
        o, f = t.orders, t.fills
        out: dict[str, dict[str, Any]] = {}
        with self.store._read() as conn:
            orders = list(conn.execute(select(o).where(o.c.trader_id == trader_id,
                                                       o.c.client_order_id.in_(client_order_ids))).mappings())
            by_oid = {r["order_id"]: r["client_order_id"] for r in orders}
            for r in orders:
                e: dict[str, Any] = {"order_id": r["order_id"], "status": r["status"], "filled": int(r["filled_qty"])}
                if r["filled_qty"]:
                    e["avg_price"] = float(r["avg_fill_price"])
                if r["reject_code"]:
                    e["refused"] = f"{r['reject_code']}: {r['reject_reason']}"
                e["fills"] = []
                out[r["client_order_id"]] = e
            if by_oid:
                for r in conn.execute(select(f).where(f.c.trader_id == trader_id, f.c.order_id.in_(list(by_oid)))
                                      .order_by(f.c.ts, f.c.fill_id)).mappings():
                    out[by_oid[r["order_id"]]]["fills"].append(
                        {"fill_id": r["fill_id"], "quantity": int(r["quantity"]), "price": float(r["price"]),
                         "fee": float(r["fee"]), "datetime": r["ts"].isoformat()})
        return out
