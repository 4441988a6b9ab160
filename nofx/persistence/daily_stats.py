"""Per trader and day: trade count, volume, turnover, fees and realised PnL.

PostgreSQL serves them from the MATERIALIZED VIEW ``daily_trading_stats`` (created by migration 0002),
refreshed with ``REFRESH MATERIALIZED VIEW CONCURRENTLY`` so readers are never blocked; figures are as of
the last refresh. SQLite has only a plain view whose sums go through REAL, so there the same aggregate
is computed here in Python with Decimal, always current and cent-exact.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, column, select, table, text

from nofx.persistence import schema as t
from nofx.persistence.records import DailyStats
from nofx.persistence.rows import fill_from_row

# The view created by migration 0002, as a Core table clause (reads are built by SQLAlchemy).
_VIEW = table("daily_trading_stats", *(column(c) for c in (
    "trader_id", "day", "trade_count", "volume", "turnover", "fees", "realised_pnl")))
# Core has no REFRESH: one constant statement, written out whole.
_REFRESH = text("REFRESH MATERIALIZED VIEW CONCURRENTLY daily_trading_stats")


def refresh(conn: Connection) -> None:
    """Refresh the PostgreSQL materialized view (no-op on SQLite, whose view is always current)."""
    if conn.dialect.name == "postgresql":
        conn.execute(_REFRESH)


def daily_stats(conn: Connection, trader_id: str) -> list[DailyStats]:
    if conn.dialect.name == "postgresql":
        return [
            DailyStats(trader_id=r.trader_id, day=r.day, trade_count=int(r.trade_count), volume=int(r.volume),
                       turnover=Decimal(r.turnover), fees=Decimal(r.fees), realised_pnl=Decimal(r.realised_pnl))
            for r in conn.execute(select(_VIEW).where(_VIEW.c.trader_id == trader_id).order_by(_VIEW.c.day))
        ]
    acc: dict[date, list] = defaultdict(lambda: [0, 0, Decimal(0), Decimal(0), Decimal(0)])
    f = t.fills
    for row in conn.execute(select(f).where(f.c.trader_id == trader_id)).mappings():
        fr = fill_from_row(row)
        a = acc[fr.ts.date()]
        a[0] += 1
        a[1] += fr.quantity
        a[2] += fr.price * fr.quantity
        a[3] += fr.fee
        a[4] += fr.realised_pnl or Decimal(0)
    return [DailyStats(trader_id, day, a[0], a[1], a[2], a[3], a[4]) for day, a in sorted(acc.items())]
