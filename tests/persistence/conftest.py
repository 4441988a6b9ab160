"""Fixtures for the ledger tests: a real SQLite file in a tmp dir, and a fresh PostgreSQL database per
test session on 127.0.0.1:5432 (user postgres, trust auth), dropped afterwards. PostgreSQL tests carry
``@pytest.mark.postgres`` and skip with a message when no server answers."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from nofx.domain.enums import OrderType, Side
from nofx.domain.events import OrderAccepted, OrderFilled, OrderSubmitted
from nofx.domain.fills import Fill
from nofx.domain.orders import OrderRequest
from nofx.engine.store import TraderRecord

PG_HOST = os.environ.get("NOFX_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("NOFX_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("NOFX_TEST_PG_USER", "postgres")
T0 = datetime(2024, 3, 4, 9, 30)


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


def new_trader(store, initial: str = "1000000", market: str = "cn", created: datetime = T0) -> str:  # type: ignore[no-untyped-def]
    tid = f"t-{uuid.uuid4().hex[:10]}"
    store.create_trader(TraderRecord(tid, Decimal(initial), market, '{"strategy": "test"}', created))
    return tid


class Flow:
    """Builds consistent event sequences for one trader (ids unique per flow)."""

    def __init__(self, trader_id: str) -> None:
        self.trader_id = trader_id
        self._n = itertools.count(1)

    def submit(self, symbol: str, side: Side, qty: int, ts: datetime, price: str | None = None,
               client_order_id: str | None = None, order_id: str | None = None) -> OrderSubmitted:
        oid = order_id or f"o{next(self._n)}"
        req = OrderRequest(symbol, side, qty, OrderType.LIMIT if price else OrderType.MARKET,
                           Decimal(price) if price else None, client_order_id=client_order_id)
        return OrderSubmitted(ts, oid, self.trader_id, req)

    def fill(self, sub: OrderSubmitted, qty: int, price: str, fee: str, ts: datetime,
             fill_id: str | None = None) -> OrderFilled:
        f = Fill(fill_id or f"f{next(self._n)}", sub.order_id, sub.request.symbol, sub.request.side, qty,
                 Decimal(price), Decimal(fee), ts)
        return OrderFilled(ts, sub.order_id, f)

    def round_trip(self, symbol: str, side: Side, qty: int, price: str, fee: str, ts: datetime,
                   **kw) -> list:  # type: ignore[no-untyped-def]
        sub = self.submit(symbol, side, qty, ts, price=price, **kw)
        return [sub, OrderAccepted(ts, sub.order_id), self.fill(sub, qty, price, fee, ts + timedelta(seconds=1))]
