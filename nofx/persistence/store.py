"""``SqlLedgerStore``: the engine's write-ahead ledger on SQLite or PostgreSQL (SQLAlchemy 2 Core).

Acknowledgement semantics
-------------------------
* ``append(trader_id, events)`` and ``append_many(batches)`` return only after the transaction holding
  the events *and* every derived row (orders, fills, positions, accounts) has committed. Everything they
  stored survives a kill of the process from then on: acknowledge after they return. Each call is atomic:
  on any error nothing of it is stored and a coded ``LedgerError`` is raised.
* Group commit: concurrent ``append`` calls from several threads share transactions. One caller becomes
  the leader and commits every request queued so far in one transaction (waiting ``group_commit_ms``
  first to gather more); followers wait and return once that transaction committed. If the shared
  transaction fails, each request is retried alone, so one bad request never fails another.
  ``group_commit_ms`` only adds latency for a single-threaded writer: leave it 0 there.
* Buffered mode, for a single-threaded writer that wants throughput: ``buffer(trader_id, events)``
  stages events in memory and returns at once. They are NOT durable and must not be acknowledged until a
  later ``flush()`` (or a ``buffer`` call that auto-flushes, see ``pending``) has returned: a kill before
  that loses them, and the engine, which replays the store at start, never saw them acknowledged.
  ``flush()`` commits all staged calls in one transaction. Reads and ``snapshot`` flush first.

Durability: see :mod:`nofx.persistence.connection` (SQLite WAL + synchronous=FULL by default survives a
process crash and power loss; NORMAL, a named opt-in, survives a process crash only; PostgreSQL
synchronous_commit=on survives both).

Write path: :mod:`nofx.persistence.writer` (in-memory write-through cache of cash, open orders and
positions; one raw-driver transaction of a few ``executemany`` per commit). ``write_path="projector"``
selects the earlier SQLAlchemy Core :class:`~nofx.persistence.projection.Projector` path, which re-reads
the rows it changes on every commit: it is kept as the reference the fast path is tested against and as
the benchmarks' same-run baseline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError

from nofx.domain.errors import NofxError
from nofx.domain.events import Event, event_from_dict
from nofx.domain.fills import Fill
from nofx.engine.store import EquitySnapshot, TraderRecord
from nofx.persistence import bulk, daily_stats, queries
from nofx.persistence import schema as t
from nofx.persistence.connection import WRITE_OPTION, SqliteSync, database_errors, make_engine, resolve_sqlite_sync
from nofx.persistence.errors import DuplicateTraderError, LedgerError
from nofx.persistence.lease import DEFAULT_TTL_S, TraderLease
from nofx.persistence.migrate import upgrade_engine
from nofx.persistence.projection import Projector
from nofx.persistence.records import (
    BulkInsertResult,
    DailyStats,
    FillRecord,
    KeysetCursor,
    OrderRecord,
    Page,
    PositionRecord,
    StoredEvent,
)
from nofx.persistence.rows import naive
from nofx.persistence.urls import is_sqlite, resolve_url
from nofx.persistence.writer import LedgerWriter, integrity_error

WritePath = Literal["fast", "projector"]

Batch = tuple[str, Sequence[Event]]


@dataclass(slots=True)
class _Request:
    """One atomic unit: all its batches commit together or not at all."""

    batches: list[Batch]
    done: bool = False
    error: BaseException | None = None


class SqlLedgerStore:
    """Implements ``nofx.engine.store.LedgerStore`` (plus queries, group commit and bulk loading).

    ``url``: ``sqlite:///PATH`` (default ``$NOFX_DB_URL``, else ``sqlite:///nofx.db``) or
    ``postgresql+psycopg://USER@HOST:PORT/DB``; ``postgresql+asyncpg://`` URLs are served by psycopg
    (see :mod:`nofx.persistence.urls`). The schema is migrated to head on open (idempotent)."""

    def __init__(self, url: str | None = None, group_commit_ms: float = 0.0, *,
                 sqlite_synchronous: SqliteSync | None = None, max_buffered: int = 1000, migrate: bool = True,
                 write_path: WritePath = "fast") -> None:
        if group_commit_ms < 0:
            raise LedgerError("group_commit_ms must be >= 0", group_commit_ms=group_commit_ms)
        if write_path not in ("fast", "projector"):
            raise LedgerError("write_path must be 'fast' or 'projector'", write_path=write_path)
        self.url = resolve_url(url)
        self.group_commit_ms = group_commit_ms
        self.max_buffered = max_buffered
        # the SQLite durability setting in force (None on PostgreSQL): FULL unless NORMAL is asked for
        self.sqlite_synchronous = resolve_sqlite_sync(sqlite_synchronous) if is_sqlite(self.url) else None
        self._engine = make_engine(self.url, sqlite_synchronous=self.sqlite_synchronous)
        if migrate:
            with database_errors(self.url):  # the first connection: unreachable, read-only, corrupted
                upgrade_engine(self._engine)
        self._cond = threading.Condition()
        self._queue: list[_Request] = []
        self._leader_active = False
        self._buffer: list[_Request] = []
        self._buffer_since = 0.0
        self._buffer_lock = threading.Lock()
        self._closed = False
        self._known_traders: set[str] = set()  # traders seen to exist (never deleted by the store)
        self._writer_conn: Connection | None = None  # the group-commit leader's connection ("projector" path)
        self.write_path = write_path
        self._writer = LedgerWriter(self._engine) if write_path == "fast" else None
        # dividends and splits (CorporateActionApplied) are booked by the fast write path; the
        # projector is kept as a reference for order events only
        self.supports_corporate_actions = write_path == "fast"
        self._leases: dict[str, TraderLease] = {}  # leases taken through this store: writes check them
        self.transactions = 0  # group-commit transactions attempted (statistics for tests and benchmarks)
        self.requests = 0  # append / append_many / buffer calls they carried

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    # ------------------------------------------------------------------ traders
    def create_trader(self, trader: TraderRecord) -> None:
        t.check_trader_id(trader.trader_id)
        with self._write() as conn:
            if queries.get_trader(conn, trader.trader_id) is not None:
                raise DuplicateTraderError("trader already exists", trader_id=trader.trader_id)
            conn.execute(insert(t.traders).values(
                trader_id=trader.trader_id, market=trader.market, initial_cash=trader.initial_cash,
                config_json=trader.config_json, created=naive(trader.created)))
            conn.execute(insert(t.accounts).values(trader_id=trader.trader_id, cash=trader.initial_cash,
                                                   updated=naive(trader.created)))

    def lease(self, trader_id: str, ttl_s: float = DEFAULT_TTL_S) -> TraderLease:
        """The trader's single-writer lease (see :mod:`nofx.persistence.lease`); use it as a context
        manager around everything that reads or writes the trader. While it is registered here, writes
        for the trader raise LeaseLostError once another process has taken the lease over."""
        lease = TraderLease(self._engine, trader_id, ttl_s)
        self._leases[trader_id] = lease
        return lease

    def _check_leases(self, trader_ids: Iterable[str]) -> None:
        if self._leases:
            for tid in trader_ids:
                lease = self._leases.get(tid)
                if lease is not None:
                    lease.check()

    def get_trader(self, trader_id: str) -> TraderRecord | None:
        with self._read() as conn:
            return queries.get_trader(conn, trader_id)

    def list_traders(self) -> list[TraderRecord]:
        """Most recently created first."""
        with self._read() as conn:
            return queries.list_traders(conn)

    # ------------------------------------------------------------------ writing events
    def append(self, trader_id: str, events: Sequence[Event]) -> None:
        """Durably store ``events`` (in order) with their derived rows in one transaction; returns after
        commit. Raises a coded LedgerError (nothing stored) if any event does not apply."""
        if events:
            self._commit([_Request([(trader_id, list(events))])])

    def append_many(self, batches: Iterable[Batch]) -> None:
        """Several (trader_id, events) batches in ONE transaction, all or nothing; returns after commit."""
        req = _Request([(tid, list(evs)) for tid, evs in batches if evs])
        if req.batches:
            self._commit([req])

    def buffer(self, trader_id: str, events: Sequence[Event]) -> int:
        """Stage events for the next group commit; NOT durable until ``flush()`` returns. Returns how many
        calls are staged (0 after an auto-flush). This call auto-flushes (and so may raise) when
        ``max_buffered`` calls are staged or the oldest is older than ``group_commit_ms`` (if > 0); there
        is no background thread, so an idle writer must call ``flush()`` itself before acknowledging."""
        if not events:
            return len(self._buffer)
        with self._buffer_lock:
            if not self._buffer:
                self._buffer_since = time.monotonic()
            self._buffer.append(_Request([(trader_id, list(events))]))
            n = len(self._buffer)
            age_ms = (time.monotonic() - self._buffer_since) * 1000
        if n >= self.max_buffered or (self.group_commit_ms > 0 and age_ms >= self.group_commit_ms):
            self.flush()
            return 0
        return n

    @property
    def pending(self) -> int:
        """Staged ``buffer`` calls not yet committed."""
        return len(self._buffer)

    def flush(self) -> int:
        """Commit every staged ``buffer`` call (one transaction; a failing call is retried alone so the
        others still commit). Returns the number of events committed; raises the first error, if any."""
        with self._buffer_lock:
            staged, self._buffer = self._buffer, []
        if not staged:
            return 0
        self._commit(staged, raise_errors=False)
        errors = [r.error for r in staged if r.error is not None]
        if errors:
            raise errors[0]
        return sum(len(evs) for r in staged for _, evs in r.batches)

    def _commit(self, reqs: list[_Request], raise_errors: bool = True) -> None:
        """Queue ``reqs`` and return once they are committed (by this thread as leader, or another)."""
        if self._closed:
            raise LedgerError("ledger store is closed", url=self._safe_url())
        self._check_leases(tid for r in reqs for tid, _ in r.batches)
        with self._cond:
            self._queue.extend(reqs)
            while not all(r.done for r in reqs):
                if not self._leader_active:
                    self._leader_active = True
                    break
                self._cond.wait()
            else:
                return self._raise_first(reqs, raise_errors)
        try:
            if self.group_commit_ms > 0:
                time.sleep(self.group_commit_ms / 1000)  # let concurrent writers join this transaction
            with self._cond:
                group, self._queue = self._queue, []
            self._commit_group(group)
        finally:
            with self._cond:
                self._leader_active = False
                self._cond.notify_all()
        self._raise_first(reqs, raise_errors)

    def _as_leader(self, fn):  # type: ignore[no-untyped-def]
        """Run ``fn`` while no group-commit leader writes (the writer's connection is single-user)."""
        if self._closed:
            raise LedgerError("ledger store is closed", url=self._safe_url())
        with self._cond:
            while self._leader_active:
                self._cond.wait()
            self._leader_active = True
        try:
            return fn()
        finally:
            with self._cond:
                self._leader_active = False
                self._cond.notify_all()

    @staticmethod
    def _raise_first(reqs: list[_Request], raise_errors: bool) -> None:
        if raise_errors:
            for r in reqs:
                if r.error is not None:
                    raise r.error

    def _commit_group(self, group: list[_Request]) -> None:
        self.transactions += 1
        self.requests += len(group)
        try:
            self._write_requests(group)
        except BaseException as exc:  # noqa: BLE001 - every waiter must learn the outcome
            if len(group) == 1:
                group[0].error = exc
            else:
                for r in group:  # isolate the failing request(s)
                    try:
                        self._write_requests([r])
                    except BaseException as one:  # noqa: BLE001
                        r.error = one
        finally:
            for r in group:
                r.done = True

    def _write_requests(self, reqs: list[_Request]) -> None:
        if self._writer is not None:  # only the leader gets here, one at a time
            self._writer.write([b for r in reqs for b in r.batches])
            return
        # Only the leader gets here, one at a time, so it can keep one connection checked out: that saves
        # the pool round trip (checkout, reset-on-return rollback) on every acknowledged append.
        if self._writer_conn is None:
            self._writer_conn = self._engine.connect()
            self._writer_conn.execution_options(**{WRITE_OPTION: True})
        try:
            with _Tx(self._engine, write=True, conn=self._writer_conn) as conn:
                proj = Projector(conn, self._known_traders)
                for r in reqs:
                    for tid, evs in r.batches:
                        proj.apply(tid, evs)
                proj.finish()
        except DBAPIError as exc:
            if exc.connection_invalidated or self._writer_conn.invalidated:
                self._writer_conn.close()  # e.g. server restarted: reconnect on the next commit
                self._writer_conn = None
            raise

    # ------------------------------------------------------------------ snapshots
    def snapshot(self, snap: EquitySnapshot) -> None:
        self.flush()
        self._check_leases((snap.trader_id,))
        if self._writer is not None:
            # On the writer's own connection, taking the leader role: a snapshot per time slice through
            # another connection would look like a foreign write and drop the writer's cache each slice.
            self._as_leader(lambda: self._writer.snapshot(snap))  # type: ignore[union-attr]
            return
        with self._write() as conn:
            last = conn.execute(select(func.max(t.order_events.c.seq))
                                .where(t.order_events.c.trader_id == snap.trader_id)).scalar()
            conn.execute(insert(t.equity_snapshots).values(
                trader_id=snap.trader_id, ts=naive(snap.ts), equity=snap.equity, cash=snap.cash,
                cursor=snap.cursor, event_seq=last or 0))

    def snapshot_many(self, snaps: Sequence[EquitySnapshot]) -> None:
        """Several equity snapshots (e.g. every trader's of one arena step) in one transaction."""
        if not snaps:
            return
        self.flush()
        self._check_leases({s.trader_id for s in snaps})
        if self._writer is not None:
            self._as_leader(lambda: self._writer.snapshots(snaps))  # type: ignore[union-attr]
            return
        for snap in snaps:  # the reference path: one at a time
            self.snapshot(snap)

    def last_snapshot(self, trader_id: str) -> EquitySnapshot | None:
        with self._read() as conn:
            return queries.latest_equity(conn, trader_id)

    latest_equity = last_snapshot

    # ------------------------------------------------------------------ reading events
    def events(self, trader_id: str) -> list[Event]:
        """All stored events of a trader in append order (the engine's replay at start)."""
        return [se.event for se in self.stored_events(trader_id)]

    def stored_events(self, trader_id: str, after_seq: int = 0, limit: int | None = None) -> list[StoredEvent]:
        """Events with their seq, from ``after_seq`` (exclusive): for tailing the ledger."""
        self.flush()
        e = t.order_events
        stmt = select(e.c.seq, e.c.payload).where(e.c.trader_id == trader_id, e.c.seq > after_seq).order_by(e.c.seq)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._read() as conn:
            return [StoredEvent(int(seq), trader_id, event_from_dict(payload)) for seq, payload in conn.execute(stmt)]

    # ------------------------------------------------------------------ queries
    def find_by_client_order_id(self, trader_id: str, client_order_id: str) -> OrderRecord | None:
        self.flush()
        with self._read() as conn:
            return queries.find_by_client_order_id(conn, trader_id, client_order_id)

    def get_order(self, trader_id: str, order_id: str) -> OrderRecord | None:
        self.flush()
        with self._read() as conn:
            return queries.get_order(conn, trader_id, order_id)

    def list_orders(self, trader_id: str, after: KeysetCursor | None = None, limit: int = 100) -> Page[OrderRecord]:
        """Orders by (created, order_id); pass the page's ``next_cursor`` as ``after`` for the next one."""
        self.flush()
        with self._read() as conn:
            return queries.list_orders(conn, trader_id, after, limit)

    def list_fills(self, trader_id: str, after: KeysetCursor | None = None, limit: int = 100,
                   symbol: str | None = None) -> Page[FillRecord]:
        """Fills by (ts, fill_id), keyset-paginated like ``list_orders``."""
        self.flush()
        with self._read() as conn:
            return queries.list_fills(conn, trader_id, after, limit, symbol)

    def all_fills(self, trader_id: str) -> list[FillRecord]:
        self.flush()
        with self._read() as conn:
            return queries.all_fills(conn, trader_id)

    def list_positions(self, trader_id: str, include_flat: bool = False) -> list[PositionRecord]:
        self.flush()
        with self._read() as conn:
            return queries.list_positions(conn, trader_id, include_flat)

    def cash(self, trader_id: str) -> Decimal | None:
        self.flush()
        with self._read() as conn:
            return conn.execute(select(t.accounts.c.cash).where(t.accounts.c.trader_id == trader_id)).scalar()

    # ------------------------------------------------------------------ history and statistics
    def bulk_insert_fills(self, trader_id: str, fills: Iterable[Fill]) -> BulkInsertResult:
        """Load historical fills (no order events) on the database's fast path (PostgreSQL COPY, SQLite
        executemany) in one transaction, booking positions and cash. Duplicates: DuplicateFillError,
        nothing written."""
        self.flush()
        try:
            with self._write() as conn:
                return bulk.insert_fills(conn, trader_id, fills)
        finally:
            if self._writer is not None:
                self._writer.invalidate()  # it changed positions and cash behind the writer's cache

    def refresh_daily_stats(self) -> None:
        """REFRESH MATERIALIZED VIEW CONCURRENTLY daily_trading_stats (PostgreSQL; no-op on SQLite)."""
        self.flush()
        with self._write() as conn:
            daily_stats.refresh(conn)

    def daily_stats(self, trader_id: str, refresh: bool = False) -> list[DailyStats]:
        """Per-day trade count, volume, turnover, fees, realised PnL (PostgreSQL: as of the last refresh)."""
        if refresh:
            self.refresh_daily_stats()
        self.flush()
        with self._read() as conn:
            return daily_stats.daily_stats(conn, trader_id)

    # ------------------------------------------------------------------ plumbing
    def connect(self) -> Connection:
        """A raw connection for read-only tools (ledger_check); the caller closes it."""
        return self._engine.connect()

    def _write(self):  # type: ignore[no-untyped-def]
        return _Tx(self._engine, write=True)

    def _read(self):  # type: ignore[no-untyped-def]
        return _Tx(self._engine, write=False)

    def _safe_url(self) -> str:
        return self._engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Flush staged events and release connections (idempotent)."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            with self._cond:
                if self._writer_conn is not None:
                    self._writer_conn.close()
                    self._writer_conn = None
                if self._writer is not None:
                    self._writer.close()
            self._engine.dispose()

    def __enter__(self) -> SqlLedgerStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"SqlLedgerStore({self._safe_url()!r}, group_commit_ms={self.group_commit_ms}, "
                f"write_path={self.write_path!r})")


class _Tx:
    """``with _Tx(engine, write) as conn``: one transaction, committed on success, rolled back on error.
    SQLite write transactions start with BEGIN IMMEDIATE (see connection.py)."""

    def __init__(self, engine, write: bool, conn: Connection | None = None) -> None:  # type: ignore[no-untyped-def]
        self._engine, self._write, self._own = engine, write, conn is None
        self._given = conn

    def __enter__(self) -> Connection:
        self._conn = self._engine.connect() if self._given is None else self._given
        if self._write:
            self._conn.execution_options(**{WRITE_OPTION: True})
        self._tx = self._conn.begin()
        return self._conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                try:
                    self._tx.commit()
                except IntegrityError as err:  # deferred constraint, reported at commit
                    raise _integrity_error(err) from err
            else:
                self._tx.rollback()
        finally:
            if self._own:
                self._conn.close()
        # Coded errors, not driver errors: a value our bind processors refused (SQLAlchemy wraps it in a
        # StatementError), or a constraint violation (the backstop behind the explicit checks).
        if isinstance(exc, IntegrityError):
            raise _integrity_error(exc) from exc
        if isinstance(exc, StatementError) and isinstance(exc.orig, NofxError):
            raise exc.orig from exc


def _integrity_error(exc: IntegrityError) -> LedgerError:
    """Map a constraint violation (the backstop behind the explicit checks) to a coded error."""
    return integrity_error(exc)
