"""Read queries of the ledger. Lists use keyset pagination on (ts, id): the index ix_*_keyset serves
``WHERE trader_id = ? AND (ts > ? OR (ts = ? AND id > ?)) ORDER BY ts, id LIMIT ?`` without OFFSET.
(The row-value form ``(ts, id) > (?, ?)`` is avoided because SQLite before 3.15 lacks it and both
planners handle the OR form with the same index.)"""

from __future__ import annotations

from sqlalchemy import Column, Connection, Select, and_, or_, select

from nofx.engine.store import EquitySnapshot, TraderRecord
from nofx.persistence import schema as t
from nofx.persistence.records import FillRecord, KeysetCursor, OrderRecord, Page, PositionRecord
from nofx.persistence.rows import (
    fill_from_row,
    naive,
    order_from_row,
    position_from_row,
    snapshot_from_row,
    trader_from_row,
)

MAX_PAGE = 10_000


def _keyset(stmt: Select, ts_col: Column, key_col: Column, after: KeysetCursor | None, limit: int) -> Select:
    if not 1 <= limit <= MAX_PAGE:
        from nofx.persistence.errors import LedgerError
        raise LedgerError(f"page limit must be between 1 and {MAX_PAGE}", limit=limit)
    if after is not None:
        ts = naive(after.ts)
        stmt = stmt.where(or_(ts_col > ts, and_(ts_col == ts, key_col > after.key)))
    return stmt.order_by(ts_col, key_col).limit(limit + 1)  # one extra row says whether a next page exists


def list_orders(conn: Connection, trader_id: str, after: KeysetCursor | None = None,
                limit: int = 100) -> Page[OrderRecord]:
    o = t.orders
    stmt = _keyset(select(o).where(o.c.trader_id == trader_id), o.c.created, o.c.order_id, after, limit)
    rows = [order_from_row(r) for r in conn.execute(stmt).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = KeysetCursor(rows[-1].created, rows[-1].order_id) if more else None
    return Page(tuple(rows), nxt)


def list_fills(conn: Connection, trader_id: str, after: KeysetCursor | None = None, limit: int = 100,
               symbol: str | None = None) -> Page[FillRecord]:
    f = t.fills
    base = select(f).where(f.c.trader_id == trader_id)
    if symbol is not None:
        base = base.where(f.c.symbol == symbol)
    rows = [fill_from_row(r) for r in conn.execute(_keyset(base, f.c.ts, f.c.fill_id, after, limit)).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = KeysetCursor(rows[-1].ts, rows[-1].fill_id) if more else None
    return Page(tuple(rows), nxt)


def all_fills(conn: Connection, trader_id: str) -> list[FillRecord]:
    """Every fill in booking order (event seq; bulk-loaded history, which has none, by ts first)."""
    f = t.fills
    stmt = select(f).where(f.c.trader_id == trader_id).order_by(f.c.seq.is_not(None), f.c.seq, f.c.ts,
                                                                f.c.fill_id)
    return [fill_from_row(r) for r in conn.execute(stmt).mappings()]


def list_positions(conn: Connection, trader_id: str, include_flat: bool = False) -> list[PositionRecord]:
    p = t.positions
    stmt = select(p).where(p.c.trader_id == trader_id)
    if not include_flat:
        stmt = stmt.where(p.c.quantity != 0)
    return [position_from_row(r) for r in conn.execute(stmt.order_by(p.c.symbol)).mappings()]


def list_traders(conn: Connection) -> list[TraderRecord]:
    """Most recently created first."""
    tr = t.traders
    stmt = select(tr).order_by(tr.c.created.desc(), tr.c.trader_id.desc())
    return [trader_from_row(r) for r in conn.execute(stmt).mappings()]


def get_trader(conn: Connection, trader_id: str) -> TraderRecord | None:
    r = conn.execute(select(t.traders).where(t.traders.c.trader_id == trader_id)).mappings().first()
    return None if r is None else trader_from_row(r)


def latest_equity(conn: Connection, trader_id: str) -> EquitySnapshot | None:
    e = t.equity_snapshots
    r = conn.execute(select(e).where(e.c.trader_id == trader_id).order_by(e.c.id.desc()).limit(1)).mappings().first()
    return None if r is None else snapshot_from_row(r)


def find_by_client_order_id(conn: Connection, trader_id: str, client_order_id: str) -> OrderRecord | None:
    o = t.orders
    r = conn.execute(select(o).where(o.c.trader_id == trader_id, o.c.client_order_id == client_order_id)
                     ).mappings().first()
    return None if r is None else order_from_row(r)


def get_order(conn: Connection, trader_id: str, order_id: str) -> OrderRecord | None:
    o = t.orders
    r = conn.execute(select(o).where(o.c.trader_id == trader_id, o.c.order_id == order_id)).mappings().first()
    return None if r is None else order_from_row(r)
