"""Migrations create the schema from empty and upgrade an older schema in place, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from nofx.persistence.migrate import head_revision, upgrade
from nofx.persistence.schema import metadata

TABLES = {"traders", "accounts", "orders", "order_events", "fills", "positions", "equity_snapshots",
          "trader_leases"}


def _check_fresh_upgrade(url: str) -> None:
    upgrade(url)
    upgrade(url)  # idempotent
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert TABLES <= set(inspect(conn).get_table_names())
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
            # the migrated schema is exactly the one the store's queries are written against
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), metadata)
            assert diff == []
            assert "daily_trading_stats" in (inspect(conn).get_view_names()
                                             + (inspect(conn).get_materialized_view_names()
                                                if conn.dialect.name == "postgresql" else []))
    finally:
        engine.dispose()


def _check_upgrade_keeps_data(url: str) -> None:
    upgrade(url, revision="0001_initial")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            cols = {c["name"] for c in inspect(conn).get_columns("fills")}
            assert "realised_pnl" not in cols
            conn.execute(text("INSERT INTO traders (trader_id, market, initial_cash, config_json, created) "
                              "VALUES (:t, 'cn', :c, '{}', :d)"), {"t": "old", "c": "1000.5000", "d": "2024-01-02"})
            conn.execute(text("INSERT INTO fills (trader_id, fill_id, order_id, symbol, side, quantity, price, fee, "
                              "ts, seq) VALUES ('old', 'f1', 'o1', '600000.SH', 'buy', 100, :p, :f, :d, NULL)"),
                         {"p": "10.1200", "f": "5.0000", "d": "2024-01-02 10:00:00"})
        upgrade(url)
        with engine.connect() as conn:
            row = conn.execute(text("SELECT quantity, realised_pnl FROM fills WHERE fill_id = 'f1'")).one()
            assert row.quantity == 100 and row.realised_pnl is None
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
    finally:
        engine.dispose()


def test_sqlite_upgrade_from_empty(sqlite_url: str) -> None:
    _check_fresh_upgrade(sqlite_url)


def test_sqlite_upgrade_keeps_data(sqlite_url: str) -> None:
    _check_upgrade_keeps_data(sqlite_url)


@pytest.mark.postgres
def test_postgres_upgrade_from_empty(fresh_pg_url: str) -> None:
    _check_fresh_upgrade(fresh_pg_url)


@pytest.mark.postgres
def test_postgres_upgrade_keeps_data(fresh_pg_url: str) -> None:
    _check_upgrade_keeps_data(fresh_pg_url)


def test_money_columns_are_numeric_20_4_on_postgres_and_text_on_sqlite(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    engine = create_engine(sqlite_url)
    with engine.connect() as conn:
        types = {c["name"]: str(c["type"]) for c in inspect(conn).get_columns("fills")}
    engine.dispose()
    assert types["price"].startswith("VARCHAR")  # decimal text, never a binary float


@pytest.mark.postgres
def test_money_columns_numeric_on_postgres(fresh_pg_url: str) -> None:
    upgrade(fresh_pg_url)
    engine = create_engine(fresh_pg_url)
    with engine.connect() as conn:
        cols = {c["name"]: c["type"] for c in inspect(conn).get_columns("fills")}
    engine.dispose()
    assert (cols["price"].precision, cols["price"].scale) == (20, 4)
    assert (cols["fee"].precision, cols["fee"].scale) == (20, 4)
