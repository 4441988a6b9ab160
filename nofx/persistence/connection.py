"""SQLAlchemy engines for the ledger, with the SQLite settings that make acknowledged writes durable.

SQLite runs in WAL mode, with one of two named durability settings (:data:`SQLITE_SYNC_SETTINGS`):

* ``FULL`` (the default): every commit fsyncs the WAL before it returns, so an acknowledged order or
  fill survives the process dying *and* the machine losing power or crashing. A trading ledger needs
  both; group commit (``SqlLedgerStore.buffer``/``flush``, concurrent ``append``) pays one fsync for many
  orders.
* ``NORMAL``: a commit only ``write()``s the WAL; it is fsynced at checkpoints. An acknowledged event
  survives the process dying (SIGKILL, OOM kill, a crash: the durability test kills a writer and finds
  every acknowledged event) but the last transactions can be lost to an OS crash or power loss. Faster;
  choose it knowingly (``--sqlite-sync normal``, ``[ledger] sqlite_synchronous = "NORMAL"`` or
  ``NOFX_SQLITE_SYNC=NORMAL``).

PostgreSQL keeps its server default ``synchronous_commit=on``: a commit returns after the WAL record is
flushed to disk (survives power loss, like FULL).

Write transactions on SQLite start with ``BEGIN IMMEDIATE``: the write lock is taken up front, so a
second writer process waits on ``busy_timeout`` instead of failing with SQLITE_BUSY when it would
upgrade a read lock mid-transaction.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DatabaseError, IntegrityError, InterfaceError, OperationalError

from nofx.domain.errors import ConfigError
from nofx.persistence.errors import DatabaseUnavailableError
from nofx.persistence.urls import display_url, is_sqlite, sqlite_path

SqliteSync = Literal["NORMAL", "FULL"]
WRITE_OPTION = "nofx_write"  # execution option marking a connection whose transactions write
_SYNC_PRAGMAS = {"NORMAL": "PRAGMA synchronous=NORMAL", "FULL": "PRAGMA synchronous=FULL"}
DEFAULT_SQLITE_SYNC: SqliteSync = "FULL"
SQLITE_SYNC_ENV = "NOFX_SQLITE_SYNC"
# what an acknowledged (committed) event survives under each setting: printed beside every figure
SQLITE_SYNC_SETTINGS: dict[str, str] = {
    "FULL": "survives process crash and power loss (WAL fsynced at every commit)",
    "NORMAL": "survives process crash, not power loss (WAL fsynced at checkpoints only)",
}


def resolve_sqlite_sync(value: str | None = None, where: str = "sqlite_synchronous") -> SqliteSync:
    """The SQLite durability setting: ``value`` if given, else ``$NOFX_SQLITE_SYNC``, else ``FULL``.
    Case-insensitive; anything but FULL / NORMAL is a ConfigError naming where it came from."""
    if value is None:
        value = os.environ.get(SQLITE_SYNC_ENV) or None
        where = SQLITE_SYNC_ENV
    if value is None:
        return DEFAULT_SQLITE_SYNC
    v = value.strip().upper() if isinstance(value, str) else value
    if v not in _SYNC_PRAGMAS:
        raise ConfigError(f"{where} must be FULL (survives power loss) or NORMAL (survives a process crash "
                          f"only), not {value!r}")
    return v  # type: ignore[return-value]


PG_CONNECT_TIMEOUT_S = 10  # an unreachable server is reported after this long, not after the OS's minutes


def make_engine(url: str, *, sqlite_synchronous: SqliteSync | None = None, echo: bool = False) -> Engine:
    """An engine for ``url``. A SQLite file is checked first (its folder exists; an existing file is a
    SQLite database), so those mistakes get a clear DatabaseUnavailableError before any connection."""
    if not is_sqlite(url):
        return create_engine(url, echo=echo, pool_pre_ping=True,
                             connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S})
    check_sqlite_file(url)
    engine = create_engine(url, echo=echo)
    sync_pragma = _SYNC_PRAGMAS[resolve_sqlite_sync(sqlite_synchronous)]

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


def check_sqlite_file(url: str) -> None:
    """Refuse a SQLite target that cannot be a ledger: a path in a folder that does not exist (SQLite would
    only say "unable to open database file"), a folder, or a file that is not a SQLite database (another
    file, or one truncated before its header). Damage past the header shows on first use and is mapped by
    :func:`database_errors`."""
    path = sqlite_path(url)
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise DatabaseUnavailableError("the folder of the SQLite database does not exist", folder=folder)
    if os.path.isdir(path):
        raise DatabaseUnavailableError("the SQLite database path is a folder", path=path)
    if not os.access(folder, os.W_OK | os.X_OK):  # false on a read-only filesystem, even for root
        raise DatabaseUnavailableError("the folder of the SQLite database is read-only (the ledger writes its "
                                       "WAL journal beside the file)", folder=folder)
    if not os.path.exists(path):
        return
    # Asked through SQLite itself, never by open()/close() of the file: closing any descriptor of a file drops
    # every POSIX lock this process holds on it, so a plain header read while this process already has the
    # ledger open lets another process delete the live WAL index (SQLite's documented "broken locks" pitfall:
    # https://www.sqlite.org/howtocorrupt.html section 2.2). SQLite's own VFS shares one descriptor per file.
    try:
        probe = sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=ro", uri=True)
        try:
            probe.execute("PRAGMA schema_version").fetchone()  # reads the header; an empty file is a new database
        finally:
            probe.close()
    except sqlite3.DatabaseError as exc:
        if "unable to open" in str(exc):
            raise DatabaseUnavailableError(f"cannot read the SQLite database: {exc}", path=path) from None
        raise DatabaseUnavailableError("not a SQLite database (another kind of file, or truncated/corrupted)",
                                       path=path) from None


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Turn failures of the database itself into one DatabaseUnavailableError naming the database (password
    masked): an unreachable server, a read-only or full disk, a corrupted file. Constraint violations pass
    through unchanged (the store maps them to their own codes)."""
    try:
        yield
    except IntegrityError:
        raise
    except (OperationalError, InterfaceError, DatabaseError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise DatabaseUnavailableError(f"database error: {reason[0] if reason else type(exc).__name__}",
                                       db=display_url(url)) from exc
