"""History loading on each database's fast path.

PostgreSQL: ``COPY fills (...) FROM STDIN`` through psycopg 3's ``cursor.copy`` (binary-free text
protocol, rows streamed; no per-row statement). SQLite: one ``executemany`` in one transaction (SQLite
has no COPY; a single transaction is what makes it fast). Both run inside the caller's transaction,
together with the position and cash updates the fills imply, so the ledger stays consistent.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from nofx.domain.fills import Fill
from nofx.persistence import schema as t
from nofx.persistence.errors import DuplicateFillError
from nofx.persistence.projection import Projector, fill_row
from nofx.persistence.records import BulkInsertResult
from nofx.persistence.writer import copy_statement

_COLUMNS = ("trader_id", "fill_id", "order_id", "symbol", "side", "quantity", "price", "fee", "ts", "seq",
            "realised_pnl")


def insert_fills(conn: Connection, trader_id: str, fills: Iterable[Fill]) -> BulkInsertResult:
    """Insert ``fills`` (history: no order events) and book them into positions and cash.

    Fills are booked in the order given (sort them by time first). Duplicate fill_ids, within the batch or
    against stored fills, raise :class:`DuplicateFillError` and nothing is written."""
    start = time.perf_counter()
    proj = Projector(conn)
    rows: list[dict[str, object]] = []
    seen: set[str] = set()
    for fill in fills:
        if fill.fill_id in seen:
            raise DuplicateFillError("duplicate fill_id in the batch", trader_id=trader_id, fill_id=fill.fill_id)
        seen.add(fill.fill_id)
        pnl = proj.book_fill(trader_id, fill)
        rows.append(fill_row(trader_id, fill, None, pnl))
    if not rows:
        return BulkInsertResult(0, "none", time.perf_counter() - start)
    if conn.dialect.name == "postgresql":
        _copy(conn, rows)
        method = "copy"
    else:
        try:
            conn.execute(t.fills.insert(), rows)
        except IntegrityError as exc:
            raise DuplicateFillError("a fill_id of the batch is already stored", trader_id=trader_id) from exc
        method = "executemany"
    proj.finish()
    return BulkInsertResult(len(rows), method, time.perf_counter() - start)


def _copy(conn: Connection, rows: list[dict[str, object]]) -> None:
    # The Money/Precise TypeDecorators are bypassed by COPY, so bind them explicitly: same quantizing and
    # precision checks as every other write.
    dialect = conn.dialect
    procs = {c: t.fills.c[c].type.bind_processor(dialect) for c in _COLUMNS}  # type: ignore[union-attr]
    raw = conn.connection.driver_connection  # the psycopg.Connection, inside SQLAlchemy's transaction
    assert raw is not None
    import psycopg

    try:
        with raw.cursor() as cur, cur.copy(copy_statement(t.fills, _COLUMNS)) as copy:
            for r in rows:
                copy.write_row(tuple(procs[c](r[c]) if procs[c] else r[c] for c in _COLUMNS))
    except psycopg.errors.UniqueViolation as exc:
        raise DuplicateFillError("a fill_id of the batch is already stored", detail=str(exc).splitlines()[0]) \
            from exc
