"""Durable ledger: SQLAlchemy 2 store for SQLite / PostgreSQL, Alembic migrations, ledger checks.

Public API::

    SqlLedgerStore(url=None, group_commit_ms=0.0, *, sqlite_synchronous=None (FULL; or NORMAL), max_buffered=1000,
                   migrate=True, write_path="fast")   # "projector": the earlier Core path (reference)
    upgrade(url=None, revision="head")          # run migrations programmatically (idempotent)
    resolve_url(url=None)                       # url > $NOFX_DB_URL > sqlite:///nofx.db; asyncpg -> psycopg
    check_ledger(store, trader_id) -> list[Violation]
"""

from nofx.persistence.errors import (
                                     DuplicateClientOrderIdError,
                                     DuplicateFillError,
                                     DuplicateOrderError,
                                     DuplicateTraderError,
                                     LedgerError,
                                     LedgerIntegrityError,
                                     MoneyPrecisionError,
                                     UnknownTraderError,
)
from nofx.persistence.ledger_check import Violation, ViolationKind, check_ledger
from nofx.persistence.migrate import upgrade
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
from nofx.persistence.store import SqlLedgerStore
from nofx.persistence.urls import DEFAULT_URL, ENV_VAR, resolve_url

__all__ = [
    "SqlLedgerStore", "upgrade", "resolve_url", "DEFAULT_URL", "ENV_VAR", "check_ledger", "Violation",
    "ViolationKind", "BulkInsertResult", "DailyStats", "FillRecord", "KeysetCursor", "OrderRecord", "Page",
    "PositionRecord", "StoredEvent", "LedgerError", "LedgerIntegrityError", "DuplicateClientOrderIdError",
    "DuplicateFillError", "DuplicateOrderError", "DuplicateTraderError", "MoneyPrecisionError",
    "UnknownTraderError",
]
