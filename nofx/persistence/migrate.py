"""Run the ledger's Alembic migrations programmatically (works from an installed package: the scripts
live in ``nofx/persistence/migrations``, no alembic.ini needed).

    python -m nofx.persistence [URL]      # upgrade to head; URL defaults to $NOFX_DB_URL

New revision (developers): ``alembic.command.revision(alembic_config(url), message=..., autogenerate=True)``
against a database at head, then review the generated file in ``migrations/versions`` (PostgreSQL-only
objects such as the materialized view are written by hand, as in 0002).
"""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from nofx.persistence.connection import WRITE_OPTION, make_engine
from nofx.persistence.urls import resolve_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Fixed key for PostgreSQL's advisory lock, so concurrent openers migrate one at a time.
_PG_LOCK_KEY = 0x6E6F6678  # "nofx"


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # configparser interpolation: a literal % in a password must be doubled
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def upgrade_engine(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database behind ``engine``; a no-op (one cheap query) when already at ``revision``."""
    target = head_revision() if revision == "head" else revision
    with engine.connect() as probe:
        if current_revision(probe) == target:
            return
    with engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        if conn.dialect.name == "postgresql":
            with conn.begin():
                # session-level lock: held across alembic's own transaction, released below
                conn.exec_driver_sql("SELECT pg_advisory_lock(%s)", (_PG_LOCK_KEY,))
        try:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            conn.commit()
        finally:
            if conn.dialect.name == "postgresql":
                conn.rollback()
                conn.exec_driver_sql("SELECT pg_advisory_unlock(%s)", (_PG_LOCK_KEY,))
                conn.commit()


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Create or upgrade the ledger schema at ``url`` (default ``$NOFX_DB_URL`` or ``sqlite:///nofx.db``).
    Idempotent: safe to call on every open."""
    engine = make_engine(resolve_url(url))
    try:
        upgrade_engine(engine, revision)
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    url = resolve_url(args[0] if args else None)
    upgrade(url)
    print(f"ledger schema at {head_revision()}")
    return 0
