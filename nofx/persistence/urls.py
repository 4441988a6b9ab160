"""Database URLs: defaults, the ``NOFX_DB_URL`` variable and driver mapping.

The engine and the store are synchronous, so every PostgreSQL URL is served by the synchronous psycopg 3
driver. A user may well paste an ``postgresql+asyncpg://`` URL (the API layer is async and uses asyncpg);
asyncpg only works inside an event loop and SQLAlchemy would need an ``AsyncEngine`` plus greenlet
bridging for every call of the write-ahead path, which buys nothing for a single-threaded engine. The
server, database and credentials are the same, so we just swap the driver name.
"""

from __future__ import annotations

import os

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from nofx.persistence.errors import DatabaseUrlError

ENV_VAR = "NOFX_DB_URL"
DEFAULT_URL = "sqlite:///nofx.db"
SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")

# driver names mapped to the synchronous driver the store uses
_SYNC_DRIVER = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+asyncpg": "postgresql+psycopg",
    "postgresql+psycopg_async": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "sqlite+aiosqlite": "sqlite",
}


def resolve_url(url: str | None = None) -> str:
    """The URL to use: ``url`` if given, else ``$NOFX_DB_URL``, else ``sqlite:///nofx.db``.

    A bare filesystem path (no ``://``) means a SQLite file when it names one: an existing file, or a name
    ending in .db, .sqlite or .sqlite3 (``--db notaurl`` is a mistake, not a new file called ``notaurl``).
    Async drivers are mapped to sync ones. Raises DatabaseUrlError."""
    raw = url if url is not None else (os.environ.get(ENV_VAR) or DEFAULT_URL)
    if not raw.strip():
        raise DatabaseUrlError("empty database URL: use sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB")
    if "://" not in raw:
        if not (raw.lower().endswith(SQLITE_SUFFIXES) or os.path.isfile(raw)):
            raise DatabaseUrlError(
                "not a database URL or SQLite file: use sqlite:///PATH, a PATH ending in .db/.sqlite/.sqlite3, "
                "or postgresql+psycopg://USER@HOST:PORT/DB", url=raw)
        raw = f"sqlite:///{raw}"
    try:
        parsed: URL = make_url(raw)
    except ArgumentError as exc:
        raise DatabaseUrlError(f"not a database URL: {exc}", url=raw) from exc
    driver = _SYNC_DRIVER.get(parsed.drivername)
    if driver is None:
        raise DatabaseUrlError(
            "unsupported database: use sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB",
            url=parsed.render_as_string(hide_password=True),
        )
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def display_url(url: str) -> str:
    """``url`` with any password masked, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> str | None:
    """Filesystem path of a SQLite URL (None for in-memory or non-SQLite URLs)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return u.database
