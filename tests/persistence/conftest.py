"""Fixtures for the ledger tests: a real SQLite file in a tmp dir, and a fresh PostgreSQL database per
test session on 127.0.0.1:5432 (user postgres, trust auth), dropped afterwards. PostgreSQL tests carry
``@pytest.mark.postgres`` and skip with a message when no server answers."""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Make the helpers importable as ``ledger_testkit`` from the test modules.
_spec = importlib.util.spec_from_file_location("ledger_testkit", Path(__file__).with_name("ledger_testkit.py"))
assert _spec is not None and _spec.loader is not None
_kit = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("ledger_testkit", _kit)
_spec.loader.exec_module(_kit)

PG_HOST = os.environ.get("NOFX_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("NOFX_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("NOFX_TEST_PG_USER", "postgres")


def _pg_admin():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=3,
                           autocommit=True)


def create_pg_database() -> str:
    """Create an empty database with a unique name; returns its URL (skips the test if no server)."""
    try:
        admin = _pg_admin()
    except Exception as exc:  # noqa: BLE001 - any failure to connect means: no server for these tests
        pytest.skip(f"no PostgreSQL server answers at {PG_HOST}:{PG_PORT} as user {PG_USER}: {exc}")
    from psycopg import sql

    name = f"nofx_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def drop_pg_database(url: str) -> None:
    from psycopg import sql

    name = url.rsplit("/", 1)[1]
    with _pg_admin() as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture
def sqlite_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(db_url):  # type: ignore[no-untyped-def]
    from nofx.persistence import SqlLedgerStore

    s = SqlLedgerStore(db_url)
    yield s
    s.close()


