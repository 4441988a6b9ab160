"""The fast durable write path: events in, one raw-driver transaction out, no reads on the hot path.

Why not the :class:`~nofx.persistence.projection.Projector` (SQLAlchemy Core, re-reading rows)?
Profiling an engine run showed the acknowledged write spent most of its time in SQLAlchemy's per-call
machinery (statement execution contexts, the ``BEGIN`` event, expanding ``IN`` post-compilation) and in
SELECTs re-reading the orders, positions and cash the store itself had written a moment before. Here:

* :class:`LedgerCache` keeps that derived state in memory, write-through: it is only ever changed
  together with a transaction that writes the same values, and it is dropped whole when a transaction
  fails (the next one reloads from the database what it touches). A miss is loaded from the database
  inside the write transaction, so the cache starts empty and fills as traders write ("rebuilt on open"
  lazily). Orders leave it once closed, so it holds open orders, positions and cash: bounded.
* Each event is validated in memory with the same domain rules as before (``apply_order_event`` drives
  ``Order``'s transition table, ``Position.apply_fill`` the book), then a transaction is a handful of
  ``executemany`` statements (events, fills, new orders, changed orders, positions, accounts), however
  many events it carries.
* Statements run on the DBAPI connection directly (sqlite3 / psycopg 3); their text is compiled once
  by SQLAlchemy from Core constructs over the schema's tables (COPY, which Core lacks, is composed by
  psycopg's ``sql`` module); values only ever travel as bound parameters. Values are
  converted by SQLAlchemy's own bind processors for each column, so they are stored exactly as the
  Core path stores them (Money quantized and precision-checked, SQLite datetime text, JSON) and every
  query reads them back unchanged.

Guarantees kept: ``write`` returns only after ``COMMIT`` succeeded (write-ahead); a call is all or
nothing; duplicate order ids, client order ids and fill ids still end at the primary keys and unique
constraints (mapped to coded errors), besides the in-memory checks; money stays ``Decimal``.

Staleness: the cache assumes this store is the only writer of a trader's order flow, as the engine's
write-ahead model does (its in-memory OMS is authoritative too). Writes by anybody else are detected
at the start of each transaction and drop the cache: on SQLite with ``PRAGMA data_version`` (changes
committed through any other connection, including this store's own snapshot / bulk connections); on
PostgreSQL, per trader, when the trader's ``max(order_events.seq)`` is not the last seq this writer
committed for it (events appended by another process; only that trader's entries are dropped, so
processes writing different traders of one database do not disturb each other). History bulk-loaded
by another process is not seen there: do not bulk-load a trader while another process writes it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    DateTime,
    Engine,
    Integer,
    String,
    Table,
    TypeDecorator,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, REGCLASS

from nofx.domain.events import CorporateActionApplied, DividendTaxDeducted, Event, OrderFilled, OrderSubmitted
from nofx.domain.fills import Fill
from nofx.domain.orders import Order
from nofx.domain.positions import Position
from nofx.engine.store import EquitySnapshot
from nofx.persistence import schema as t
from nofx.persistence.errors import (
    DuplicateClientOrderIdError,
    DuplicateFillError,
    DuplicateOrderError,
    LedgerError,
    LedgerIntegrityError,
    UnknownTraderError,
)
from nofx.persistence.projection import apply_order_event_for, check_new_order, position_after_fill
from nofx.persistence.rows import naive, order_from_row, order_values

try:  # optional speed-up, see json_text
    import orjson as _orjson
except ImportError:  # pragma: no cover - the stdlib encoder is used instead
    _orjson = None  # type: ignore[assignment]

Batch = tuple[str, Sequence[Event]]
_Proc = Callable[[Any], Any] | None


# ---------------------------------------------------------------------------------------------- cache
@dataclass(slots=True)
class _Account:
    cash: Decimal


@dataclass(slots=True)
class _CachedPosition:
    position: Position
    stored: bool  # a row exists (UPDATE) or not yet (INSERT)


class LedgerCache:
    """Derived state the write path needs, per trader: cash, open orders, positions (see module doc)."""

    def __init__(self) -> None:
        self.accounts: dict[str, _Account] = {}
        self.orders: dict[tuple[str, str], Order] = {}
        self.positions: dict[tuple[str, str], _CachedPosition] = {}

    def clear(self) -> None:
        self.accounts.clear()
        self.orders.clear()
        self.positions.clear()

    def __len__(self) -> int:
        return len(self.accounts) + len(self.orders) + len(self.positions)


@dataclass(slots=True)
class _TouchedOrder:
    order: Order
    is_new: bool
    last_event: int  # index (in the transaction) of the last event applied; its seq becomes last_seq
    updated: datetime


@dataclass(slots=True)
class _TouchedPosition:
    entry: _CachedPosition
    updated: datetime


class _Batch:
    """What one transaction changes, collected in memory and written at the end."""

    __slots__ = ("events", "fills", "orders", "positions", "accounts", "client_ids", "fill_ids")

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, datetime, dict[str, Any]]] = []
        self.fills: list[tuple[int, str, Fill, Decimal]] = []  # (event index, trader, fill, realised pnl)
        self.orders: dict[tuple[str, str], _TouchedOrder] = {}
        self.positions: dict[tuple[str, str], _TouchedPosition] = {}
        self.accounts: dict[str, datetime] = {}  # trader -> updated
        self.client_ids: dict[tuple[str, str], str] = {}  # (trader, client_order_id) -> order_id
        self.fill_ids: set[tuple[str, str]] = set()


# ---------------------------------------------------------------------------------------------- statements
def sqlite_datetime(value: datetime) -> str:
    """SQLAlchemy's SQLite DATETIME storage text ('YYYY-MM-DD HH:MM:SS.ffffff'), made by the C-level
    ``isoformat`` instead of SQLAlchemy's %-formatting processor (a test pins that both agree)."""
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    return value.isoformat(" ", "microseconds")


def json_text(obj: Any) -> str:
    """Event payload as JSON text. orjson, when installed, is ~10x faster than ``json.dumps`` (which was
    the largest single cost of an acknowledged write); the text differs only in whitespace and escaping
    of non-ASCII, and every reader parses it. Payloads hold str / int / bool / None / lists / dicts
    (the domain encodes money as decimal strings and times as ISO text, never floats, so orjson's
    NaN-as-null cannot apply); anything orjson refuses goes to ``json.dumps``."""
    if _orjson is not None:
        try:
            return _orjson.dumps(obj).decode()
        except TypeError:  # e.g. an int beyond 64 bits
            pass
    return json.dumps(obj)


def _bind_processor(col: Any, dialect: Any) -> _Proc:
    if dialect.name == "sqlite" and isinstance(col.type, DateTime) and not isinstance(col.type, TypeDecorator):
        return sqlite_datetime
    if col is t.order_events.c.payload:
        if dialect.name == "sqlite":
            return json_text
        if dialect.name == "postgresql":
            from psycopg.types.json import Jsonb

            return lambda obj: Jsonb(obj, dumps=json_text)
    return col.type._cached_bind_processor(dialect)


class _Stmt:
    """One constant statement compiled for the connected driver, with the bind processors of its
    parameters (in placeholder order)."""

    def __init__(self, sql: str, params: Sequence[Any], dialect: Any, copy_sql: Any = None) -> None:
        self.sql = sql
        self.copy_sql = copy_sql if dialect.name == "postgresql" else None  # inserts: COPY ... FROM STDIN
        self.convert: tuple[tuple[int, Callable[[Any], Any]], ...] = tuple(
            (i, p) for i, p in enumerate(_bind_processor(c, dialect) for c in params) if p is not None)

    def bind(self, values: Sequence[Any]) -> list[Any]:
        row = list(values)
        for i, proc in self.convert:
            v = row[i]
            if v is not None:
                row[i] = proc(v)
        return row


def positional(dialect: Any) -> Any:
    """The connected dialect with positional placeholders (rows are bound as lists): SQLite's is
    already ("?"); psycopg's named style becomes "%s"."""
    if dialect.positional:
        return dialect
    return type(dialect)(paramstyle="format")


def _compiled(stmt: Any, dialect: Any, columns: dict[str, Any]) -> tuple[str, list[Any]]:
    """SQLAlchemy compiles the Core statement; returns its text and the column behind each placeholder
    (bind parameters are named after the column they carry, ``k_`` marking a key in WHERE)."""
    compiled = stmt.compile(dialect=positional(dialect))
    return str(compiled), [columns[name] for name in compiled.positiontup]


def _insert(table: Table, cols: Sequence[str], dialect: Any) -> _Stmt:
    """INSERT for SQLite (executemany); on PostgreSQL also the COPY that replaces it: one stream for all
    rows instead of one pipelined statement each (psycopg's per-statement cost dominated there)."""
    stmt = table.insert().values({c: bindparam(c) for c in cols})
    sql, params = _compiled(stmt, dialect, {c: table.c[c] for c in cols})
    if [p.name for p in params] != list(cols):  # the order write() builds its rows in
        raise AssertionError(f"unexpected placeholder order in {sql}")
    return _Stmt(sql, params, dialect, copy_sql=copy_statement(table, cols))


def _update(table: Table, cols: Sequence[str], keys: Sequence[str], dialect: Any) -> _Stmt:
    stmt = (update(table).where(*(table.c[k] == bindparam(f"k_{k}") for k in keys))
            .values({c: bindparam(c) for c in cols}))
    columns = {**{c: table.c[c] for c in cols}, **{f"k_{k}": table.c[k] for k in keys}}
    sql, params = _compiled(stmt, dialect, columns)
    if [p.name for p in params] != [*cols, *keys]:  # the order write() builds its rows in
        raise AssertionError(f"unexpected placeholder order in {sql}")
    return _Stmt(sql, params, dialect)


def _select(table: Table, cols: Sequence[str], keys: Sequence[str], dialect: Any) -> tuple[str, list[_Proc]]:
    stmt = select(*(table.c[c] for c in cols)).where(*(table.c[k] == bindparam(f"k_{k}") for k in keys))
    sql, params = _compiled(stmt, dialect, {f"k_{k}": table.c[k] for k in keys})
    if [p.name for p in params] != list(keys):
        raise AssertionError(f"unexpected placeholder order in {sql}")
    # psycopg already returns Decimal / datetime; SQLite returns the stored text, parsed as the Core path does.
    procs: list[_Proc] = ([table.c[c].type._cached_result_processor(dialect, None) for c in cols]
                          if dialect.name == "sqlite" else [None] * len(cols))
    return sql, procs


def copy_statement(table: Table, cols: Sequence[str]) -> Any:
    """``COPY table (cols) FROM STDIN`` for psycopg. Core has no COPY; psycopg's own ``sql`` module
    composes it with the names quoted as identifiers by the driver (no text pasting)."""
    try:
        from psycopg import sql
    except ImportError:  # pragma: no cover - SQLite-only installs never COPY
        return None
    return sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table.name),
                                                     sql.SQL(", ").join(map(sql.Identifier, cols)))


_EVENT_COLS = ("seq", "trader_id", "order_id", "kind", "ts", "payload")
_FILL_COLS = ("trader_id", "fill_id", "order_id", "symbol", "side", "quantity", "price", "fee", "ts", "seq",
              "realised_pnl")
_ORDER_COLS = tuple(c.name for c in t.orders.c)
_ORDER_MUTABLE = ("quantity", "limit_price", "status", "filled_qty", "avg_fill_price", "fees", "reject_code",
                  "reject_reason", "updated", "last_seq")  # what an event can change in an order row
_POSITION_VALS = ("quantity", "avg_cost", "realised_pnl", "updated")
_SNAPSHOT_COLS = ("trader_id", "ts", "equity", "cash", "cursor")


def _pg_fresh_and_seqs(dialect: Any) -> str:
    """PostgreSQL, one round trip before applying: each trader's max(seq) (an index-only backward scan
    of ix_order_events_trader_seq) and the seqs the transaction's events will take, drawn from the
    column's own sequence (its name looked up once and passed as a parameter). Parameters: the trader
    ids (an array), the sequence name, the number of events."""
    e = t.order_events
    tids = func.unnest(cast(bindparam("tids"), ARRAY(String))).table_valued("tid").render_derived(name="t")
    last = select(func.max(e.c.seq)).where(e.c.trader_id == tids.c.tid).scalar_subquery()
    seqs = (select(null(), func.nextval(cast(bindparam("seq_name"), REGCLASS)))
            .select_from(func.generate_series(literal_column("1"), bindparam("n", type_=Integer))))
    compiled = union_all(select(tids.c.tid, last), seqs).compile(dialect=positional(dialect))
    if list(compiled.positiontup) != ["tids", "seq_name", "n"]:
        raise AssertionError(f"unexpected placeholder order in {compiled}")
    return str(compiled)


class _Statements:
    def __init__(self, dialect: Any) -> None:
        e = t.order_events
        self.events = _insert(e, _EVENT_COLS, dialect)
        self.fills = _insert(t.fills, _FILL_COLS, dialect)
        self.new_order = _insert(t.orders, _ORDER_COLS, dialect)
        self.upd_order = _update(t.orders, _ORDER_MUTABLE, ("trader_id", "order_id"), dialect)
        self.new_position = _insert(t.positions, ("trader_id", "symbol", *_POSITION_VALS), dialect)
        self.upd_position = _update(t.positions, _POSITION_VALS, ("trader_id", "symbol"), dialect)
        self.upd_account = _update(t.accounts, ("cash", "updated"), ("trader_id",), dialect)
        self.sel_account = _select(t.accounts, ("cash",), ("trader_id",), dialect)
        self.sel_order = _select(t.orders, _ORDER_COLS, ("trader_id", "order_id"), dialect)
        self.sel_position = _select(t.positions, ("quantity", "avg_cost", "realised_pnl"), ("trader_id", "symbol"),
                                    dialect)
        self.max_seq = str(select(func.max(e.c.seq)).compile(dialect=positional(dialect)))
        # event_seq: the trader's last event seq, read inside the same statement
        last_seq = (select(func.coalesce(func.max(e.c.seq), literal_column("0")))
                    .where(e.c.trader_id == bindparam("k_trader_id")).scalar_subquery())
        snap = t.equity_snapshots
        stmt = snap.insert().values({**{c: bindparam(c) for c in _SNAPSHOT_COLS}, "event_seq": last_seq})
        sql, params = _compiled(stmt, dialect, {**{c: snap.c[c] for c in _SNAPSHOT_COLS}, "k_trader_id": e.c.trader_id})
        if [p.name for p in params] != [*_SNAPSHOT_COLS, "trader_id"]:
            raise AssertionError(f"unexpected placeholder order in {sql}")
        self.snapshot = _Stmt(sql, params, dialect)
        self.fresh_and_seqs = _pg_fresh_and_seqs(dialect) if dialect.name == "postgresql" else ""
        # SQLite allocates seqs as max + 1..: the write lock is held (BEGIN IMMEDIATE), and that is exactly
        # what the rowid allocator would give.


# ---------------------------------------------------------------------------------------------- writer
class LedgerWriter:
    """Writes event batches in single transactions on one held DBAPI connection. Not thread-safe: the
    store calls it from its group-commit leader only (one at a time)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect
        self._sqlite = self._dialect.name == "sqlite"
        self._stmts = _Statements(self._dialect)
        self._dbapi = self._dialect.loaded_dbapi
        self._conn: Any = None  # SQLAlchemy's pool-proxied DBAPI connection
        self._token: object = None  # SQLite: data_version as of our last transaction
        self._pg_seen: dict[str, int | None] = {}  # PostgreSQL: trader -> its max(seq) as of our last commit
        self._seq_name: str | None = None
        self._stale = threading.Event()  # set by other threads (bulk loads): drop the cache
        self.cache = LedgerCache()
        self.cache_resets = 0  # statistics for tests and benchmarks

    def invalidate(self) -> None:
        """Drop the cache before the next transaction (called after writes made outside this writer)."""
        self._stale.set()

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()
        self.cache.clear()

    @contextmanager
    def _transaction(self, integrity: Callable[[BaseException], LedgerError]) -> Iterator[Any]:
        """One transaction on the writer's connection: yields a cursor, commits at the end; on any error
        rolls back, forgets the cache and maps driver errors to coded ledger errors."""
        if self._conn is None:
            self._conn = self._engine.raw_connection()
        conn = self._conn
        cur = None
        try:
            cur = conn.cursor()
            if self._sqlite:
                cur.execute("BEGIN IMMEDIATE")  # take the write lock now (see connection.py)
            yield cur
            conn.commit()
        except BaseException as exc:
            self._abort(exc)
            if isinstance(exc, self._dbapi.IntegrityError):
                raise integrity(exc) from exc
            if isinstance(exc, self._dbapi.Error):
                raise LedgerError("database error while writing the ledger", detail=_first_line(exc)) from exc
            raise
        finally:
            try:
                if cur is not None:
                    cur.close()
            except Exception:  # noqa: BLE001 - the outcome is already decided; a dead cursor changes nothing
                pass

    def snapshot(self, snap: EquitySnapshot) -> None:
        """Insert an equity snapshot in its own transaction on the writer's connection."""
        self.snapshots((snap,))

    def snapshots(self, snaps: Sequence[EquitySnapshot]) -> None:
        """Insert equity snapshots (several traders' of one time slice) in one transaction."""
        with self._transaction(lambda exc: LedgerError("constraint violated", detail=_first_line(exc))) as cur:
            for snap in snaps:
                row = self._stmts.snapshot.bind((snap.trader_id, naive(snap.ts), snap.equity, snap.cash,
                                                 snap.cursor, snap.trader_id))
                cur.execute(self._stmts.snapshot.sql, row)

    # ------------------------------------------------------------------ the transaction
    def write(self, batches: Sequence[Batch]) -> None:
        """Store ``batches`` (in order) with their derived rows in one transaction; returns after commit."""
        with self._transaction(integrity_error) as cur:
            seqs = self._check_fresh(cur, batches)
            batch = _Batch()
            for trader_id, events in batches:
                self._apply(cur, batch, trader_id, events)
            last_seqs = self._write_rows(cur, batch, seqs)
        self._committed(batch, last_seqs)

    def _abort(self, exc: BaseException) -> None:
        """Roll back and forget the cache: it may hold this transaction's uncommitted state."""
        self.cache.clear()
        self.cache_resets += 1
        self._token = None
        self._pg_seen.clear()
        conn = self._conn
        try:
            conn.rollback()
        except Exception:  # noqa: BLE001 - the connection is unusable: a fresh one next time
            self._drop_connection()
            return
        if isinstance(exc, self._dbapi.Error) and not isinstance(exc, self._dbapi.IntegrityError):
            self._drop_connection()  # e.g. the server restarted: reconnect on the next write

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        try:
            conn.invalidate()
        except Exception:  # noqa: BLE001
            pass

    def _check_fresh(self, cur: Any, batches: Sequence[Batch]) -> list[int] | None:
        """Drop cached state that another writer may have changed (see the module doc). PostgreSQL:
        also returns the seqs for the transaction's events (same round trip)."""
        if self._stale.is_set():
            self._stale.clear()
            self._reset()
        if self._sqlite:
            cur.execute("PRAGMA data_version")
            token = cur.fetchone()[0]
            if token != self._token:
                self._reset()
                self._token = token
            return None
        if self._seq_name is None:
            cur.execute("SELECT pg_get_serial_sequence('order_events', 'seq')")
            self._seq_name = cur.fetchone()[0]
        n_events = sum(len(evs) for _, evs in batches)
        cur.execute(self._stmts.fresh_and_seqs, (sorted({tid for tid, _ in batches}), self._seq_name, n_events))
        seqs = []
        for tid, value in cur.fetchall():
            if tid is None:
                seqs.append(int(value))
            elif tid not in self._pg_seen or self._pg_seen[tid] != value:
                self._forget_trader(tid)
                self._pg_seen[tid] = value
        return sorted(seqs)

    def _reset(self) -> None:
        if len(self.cache):
            self.cache_resets += 1
        self.cache.clear()
        self._pg_seen.clear()

    def _forget_trader(self, trader_id: str) -> None:
        cache = self.cache
        if trader_id in cache.accounts:
            self.cache_resets += 1
        cache.accounts.pop(trader_id, None)
        for key in [k for k in cache.orders if k[0] == trader_id]:
            del cache.orders[key]
        for key in [k for k in cache.positions if k[0] == trader_id]:
            del cache.positions[key]

    def _committed(self, batch: _Batch, last_seqs: dict[str, int]) -> None:
        cache = self.cache
        for key, tp in batch.positions.items():
            tp.entry.stored = True
        for key, to in batch.orders.items():
            if to.order.status.is_open:
                cache.orders[key] = to.order
            else:  # closed orders leave the cache; a late event for one reloads it (and is refused)
                cache.orders.pop(key, None)
        if not self._sqlite:
            self._pg_seen.update(last_seqs)

    # ------------------------------------------------------------------ loading on a miss
    def _fetch_one(self, cur: Any, query: tuple[str, list[_Proc]], params: tuple[Any, ...]) -> list[Any] | None:
        sql, procs = query
        cur.execute(sql, params)
        row = cur.fetchone()
        if row is None:
            return None
        return [v if p is None or v is None else p(v) for p, v in zip(procs, row)]

    def _account(self, cur: Any, trader_id: str) -> _Account:
        acct = self.cache.accounts.get(trader_id)
        if acct is None:
            row = self._fetch_one(cur, self._stmts.sel_account, (trader_id,))
            if row is None:
                raise UnknownTraderError("no such trader: create_trader first", trader_id=trader_id)
            acct = self.cache.accounts[trader_id] = _Account(Decimal(row[0]))
        return acct

    def _stored_order(self, cur: Any, trader_id: str, order_id: str) -> Order | None:
        key = (trader_id, order_id)
        order = self.cache.orders.get(key)
        if order is None:
            row = self._fetch_one(cur, self._stmts.sel_order, key)
            if row is None:
                return None
            order = order_from_row(dict(zip(_ORDER_COLS, row))).to_order()  # type: ignore[arg-type]
            self.cache.orders[key] = order
        return order

    def _position(self, cur: Any, trader_id: str, symbol: str) -> _CachedPosition:
        key = (trader_id, symbol)
        entry = self.cache.positions.get(key)
        if entry is None:
            row = self._fetch_one(cur, self._stmts.sel_position, key)
            if row is None:
                entry = _CachedPosition(Position(symbol), stored=False)
            else:
                entry = _CachedPosition(Position(symbol, int(row[0]), Decimal(row[1]), Decimal(row[2])), True)
            self.cache.positions[key] = entry
        return entry

    # ------------------------------------------------------------------ applying (in memory)
    def _apply(self, cur: Any, batch: _Batch, trader_id: str, events: Sequence[Event]) -> None:
        self._account(cur, trader_id)  # raises UnknownTraderError (a cached lookup after the first)
        for ev in events:
            if isinstance(ev, CorporateActionApplied):
                self._apply_corporate_action(cur, batch, trader_id, ev)
                continue
            if isinstance(ev, DividendTaxDeducted):
                # dividend tax deducted at a sale: cash only; the row carries an empty order_id
                batch.events.append((trader_id, "", ev.kind, ev.ts, ev.to_dict()))
                self.cache.accounts[trader_id].cash -= ev.amount
                batch.accounts[trader_id] = ev.ts
                continue
            order_id = getattr(ev, "order_id", None)
            if not isinstance(order_id, str):
                raise LedgerIntegrityError(f"event {ev.kind!r} carries no order_id", trader_id=trader_id)
            idx = len(batch.events)
            batch.events.append((trader_id, order_id, ev.kind, ev.ts, ev.to_dict()))
            key = (trader_id, order_id)
            touched = batch.orders.get(key)
            if isinstance(ev, OrderSubmitted):
                # No SELECT: a stored duplicate order_id / client_order_id hits the primary key / unique
                # constraint when the row is inserted (mapped to the same coded errors).
                self._check_new_order(batch, trader_id, ev, touched is not None)
                current = None
            elif touched is not None:
                current = touched.order
            else:
                current = self._stored_order(cur, trader_id, order_id)
            order = apply_order_event_for(trader_id, order_id, current, ev)
            if touched is None:
                batch.orders[key] = _TouchedOrder(order, current is None, idx, ev.ts)
            else:
                touched.last_event, touched.updated = idx, ev.ts
            if isinstance(ev, OrderFilled):
                self._apply_fill(cur, batch, trader_id, ev.fill, idx)

    def _check_new_order(self, batch: _Batch, trader_id: str, ev: OrderSubmitted, in_batch: bool) -> None:
        known = in_batch or (trader_id, ev.order_id) in self.cache.orders
        check_new_order(trader_id, ev, known, batch.client_ids)

    def _apply_corporate_action(self, cur: Any, batch: _Batch, trader_id: str, ev: CorporateActionApplied) -> None:
        """A dividend / split on a holding: no order; the event row carries an empty order_id."""
        batch.events.append((trader_id, "", ev.kind, ev.ts, ev.to_dict()))
        entry = self._position(cur, trader_id, ev.symbol)
        pos = entry.position
        if pos.quantity != ev.quantity_before:
            raise LedgerIntegrityError("corporate action does not match the stored holding", trader_id=trader_id,
                                       symbol=ev.symbol, stored=pos.quantity, event=ev.quantity_before)
        pos.realised_pnl += ev.cash
        pos.apply_split(ev.split_ratio)
        batch.positions[(trader_id, ev.symbol)] = _TouchedPosition(entry, ev.ts)
        self.cache.accounts[trader_id].cash += ev.cash
        batch.accounts[trader_id] = ev.ts

    def _apply_fill(self, cur: Any, batch: _Batch, trader_id: str, fill: Fill, idx: int) -> None:
        key = (trader_id, fill.fill_id)
        if key in batch.fill_ids:  # a stored duplicate hits the fills primary key on insert
            raise DuplicateFillError("fill_id twice in one batch", trader_id=trader_id, fill_id=fill.fill_id)
        batch.fill_ids.add(key)
        entry = self._position(cur, trader_id, fill.symbol)
        pnl = position_after_fill(entry.position, fill)
        batch.positions[(trader_id, fill.symbol)] = _TouchedPosition(entry, fill.ts)
        self.cache.accounts[trader_id].cash += fill.cash_delta
        batch.accounts[trader_id] = fill.ts
        batch.fills.append((idx, trader_id, fill, pnl))

    # ------------------------------------------------------------------ writing (a few executemany)
    def _sqlite_seqs(self, cur: Any, n: int) -> list[int]:
        cur.execute(self._stmts.max_seq)
        base = cur.fetchone()[0] or 0
        return list(range(base + 1, base + n + 1))

    @staticmethod
    def _insert_rows(cur: Any, stmt: _Stmt, rows: list[list[Any]]) -> None:
        if stmt.copy_sql is None or len(rows) < 2:
            _execute(cur, stmt.sql, rows)
            return
        with cur.copy(stmt.copy_sql) as copy:  # constant statement; values travel in the COPY stream
            for row in rows:
                copy.write_row(row)

    def _write_rows(self, cur: Any, batch: _Batch, seqs: list[int] | None) -> dict[str, int]:
        """Insert / update every row of the batch; returns each trader's last event seq."""
        st = self._stmts
        if not batch.events:
            return {}
        if seqs is None:
            seqs = self._sqlite_seqs(cur, len(batch.events))
        if len(seqs) != len(batch.events):  # cannot happen: every event got a row before it was applied
            raise LedgerError("internal: event count changed while applying", events=len(batch.events),
                              seqs=len(seqs))
        ev_bind = st.events.bind
        self._insert_rows(cur, st.events, [ev_bind((seq, tid, oid, kind, naive(ts), payload))
                                        for seq, (tid, oid, kind, ts, payload) in zip(seqs, batch.events)])
        if batch.fills:
            fb = st.fills.bind
            self._insert_rows(cur, st.fills, [
                fb((tid, f.fill_id, f.order_id, f.symbol, f.side.value, f.quantity, f.price, f.fee, naive(f.ts),
                    seqs[idx], pnl)) for idx, tid, f, pnl in batch.fills])
        new_rows, changed = [], []
        for (tid, _oid), to in batch.orders.items():
            vals = order_values(tid, to.order, to.updated, seqs[to.last_event])
            if to.is_new:
                new_rows.append(st.new_order.bind([vals[c] for c in _ORDER_COLS]))
            else:
                changed.append(st.upd_order.bind([*(vals[c] for c in _ORDER_MUTABLE), tid, to.order.order_id]))
        if new_rows:
            self._insert_rows(cur, st.new_order, new_rows)
        if changed:
            _execute(cur, st.upd_order.sql, changed)
        new_pos, changed_pos = [], []
        for (tid, sym), tp in batch.positions.items():
            p = tp.entry.position
            vals = (p.quantity, p.avg_cost, p.realised_pnl, naive(tp.updated))
            if tp.entry.stored:
                changed_pos.append(st.upd_position.bind((*vals, tid, sym)))
            else:
                new_pos.append(st.new_position.bind((tid, sym, *vals)))
        if new_pos:
            self._insert_rows(cur, st.new_position, new_pos)
        if changed_pos:
            _execute(cur, st.upd_position.sql, changed_pos)
        if batch.accounts:
            _execute(cur, st.upd_account.sql, [
                st.upd_account.bind((self.cache.accounts[tid].cash, naive(ts), tid))
                for tid, ts in batch.accounts.items()])
        return {tid: seq for seq, (tid, *_rest) in zip(seqs, batch.events)}  # the last one per trader wins


def _execute(cur: Any, sql: str, rows: list[list[Any]]) -> None:
    """executemany, or execute for one row (psycopg's executemany opens a pipeline: a sync more)."""
    if len(rows) == 1:
        cur.execute(sql, rows[0])
    else:
        cur.executemany(sql, rows)


def _first_line(exc: BaseException) -> str:
    msg = str(exc)
    return msg.splitlines()[0] if msg else type(exc).__name__


def integrity_error(exc: BaseException) -> LedgerError:
    """Map a constraint violation (the backstop behind the explicit checks) to a coded error."""
    msg = str(getattr(exc, "orig", None) or exc)
    low = msg.lower()
    first = msg.splitlines()[0] if msg else ""
    if "client_order_id" in low:
        return DuplicateClientOrderIdError("client_order_id already used by another order", detail=first)
    if "fills" in low or "fill_id" in low:
        return DuplicateFillError("fill_id already stored", detail=first)
    if "orders" in low:
        return DuplicateOrderError("order_id already stored", detail=first)
    return LedgerError("constraint violated", detail=first)
