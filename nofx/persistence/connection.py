"""SQLAlchemy engines for the ledger, with the SQLite settings that make acknowledged writes durable.

SQLite runs in WAL mode. With ``synchronous=NORMAL`` a commit appends the transaction to the WAL
file with ``write()`` before returning, and the WAL is fsynced only at checkpoints. Data handed to the
kernel survives the death of the process (SIGKILL, OOM kill, a crash): that is the durability the
write-ahead engine needs, at a fraction of the cost of an fsync per commit. Only an OS crash or power
loss can lose the last transactions; pass ``sqlite_synchronous="FULL"`` to fsync the WAL on every commit
when that matters too. (The durability test kills a writer with SIGKILL and finds every acknowledged
event.) PostgreSQL keeps its server default ``synchronous_commit=on``: a commit returns after the WAL
record is flushed to disk.

Write transactions on SQLite start with ``BEGIN IMMEDIATE``: the write lock is taken up front, so a
second writer process waits on ``busy_timeout`` instead of failing with SQLITE_BUSY when it would
upgrade a read lock mid-transaction.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event

from nofx.persistence.urls import is_sqlite

SqliteSync = Literal["NORMAL", "FULL"]
WRITE_OPTION = "nofx_write"  # execution option marking a connection whose transactions write


def make_engine(url: str, *, sqlite_synchronous: SqliteSync = "NORMAL", echo: bool = False) -> Engine:
    if not is_sqlite(url):
        return create_engine(url, echo=echo, pool_pre_ping=True)
    if sqlite_synchronous not in ("NORMAL", "FULL"):
        raise ValueError(f"sqlite_synchronous must be NORMAL or FULL, not {sqlite_synchronous!r}")
    engine = create_engine(url, echo=echo)
    # Both pragmas and "BEGIN" are constants chosen above, never user values.
    sync_pragma = f"PRAGMA synchronous={sqlite_synchronous}"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from pysqlite (its implicit BEGIN is deferred and skips DDL), as the
        # SQLAlchemy docs recommend; SQLAlchemy's "begin" event below emits our own BEGIN.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(sync_pragma)
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN")

    return engine
