"""The API on PostgreSQL: migrations create its tables next to the ledger's, and the main flows (login,
refresh, traders, durable idempotent orders, cancel, reads, per-user isolation) behave as on SQLite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_live_server import LiveServer, assert_error, live_server, new_trader

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    try:
        import psycopg
        from psycopg import sql

        admin = psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True,
                                connect_timeout=3)
    except Exception as exc:  # noqa: BLE001 - no server: skip
        pytest.skip(f"no PostgreSQL server at 127.0.0.1:5432: {exc}")
    name = f"nofx_test_api_{uuid.uuid4().hex[:10]}"
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        tmp: Path = tmp_path_factory.mktemp("pgapi")
        with live_server(tmp, db_url=f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}") as s:
            yield s
    finally:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


def test_flows_on_postgres(pg_server: LiveServer) -> None:
    s = pg_server
    assert s.svc.store.dialect == "postgresql"
    c, other = s.user_client("pgalice"), s.user_client("pgbob")
    with s.client() as anon:
        r = anon.post("/api/v1/auth/refresh", json={"refresh_token": s.tokens["pgalice"]["refresh_token"]})
        assert r.status_code == 200
    tid = new_trader(c, start=True, speed=1)
    body = {"trader_id": tid, "client_order_id": "pg-1", "symbol": "600519", "side": "buy", "quantity": 100,
            "order_type": "limit", "limit_price": "560.25"}
    first = c.post("/api/v1/orders", json=body)
    assert first.status_code == 201 and first.json()["limit_price"] == "560.25"
    again = c.post("/api/v1/orders", json=body)
    assert again.status_code == 200 and again.json()["order_id"] == first.json()["order_id"]
    oid = first.json()["order_id"]
    assert c.delete(f"/api/v1/orders/{oid}").json()["status"] == "cancelled"
    page = c.get("/api/v1/orders", params={"trader_id": tid}).json()
    assert [o["order_id"] for o in page["items"]] == [oid] and page["items"][0]["limit_price"] == "560.25"
    assert c.get("/api/v1/account", params={"trader_id": tid}).json()["cash"] == "1000000"
    assert_error(other.get(f"/api/v1/orders/{oid}"), 404)
    assert_error(other.get("/api/v1/positions", params={"trader_id": tid}), 404)
    c.post(f"/api/v1/traders/{tid}/stop")
