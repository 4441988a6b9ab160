"""Per-user authorisation on the running server: another user's traders, orders, trades, positions,
account and backtests are 404 exactly like ids that do not exist (no leak of existence), and no
action on them has any effect."""

from __future__ import annotations

import pytest
from api_live_server import assert_error, new_trader


@pytest.fixture(scope="module")
def two_users(server):  # type: ignore[no-untyped-def]
    owner = server.user_client("owner")
    other = server.user_client("intruder")
    tid = new_trader(owner, start=True)
    r = owner.post("/api/v1/orders", json={"trader_id": tid, "client_order_id": "o1", "symbol": "600519.SH",
                                           "side": "buy", "quantity": 100, "order_type": "limit",
                                           "limit_price": "1.00"})
    assert r.status_code == 201, r.text
    yield owner, other, tid, r.json()["order_id"]
    owner.post(f"/api/v1/traders/{tid}/stop")


def test_other_users_objects_are_not_found(two_users) -> None:  # type: ignore[no-untyped-def]
    owner, other, tid, oid = two_users
    missing_tid, missing_oid = "tr_" + "0" * 32, "tr_" + "0" * 32 + "-O1"
    for mine, ghost in [(f"/api/v1/traders/{tid}", f"/api/v1/traders/{missing_tid}"),
                        (f"/api/v1/orders/{oid}", f"/api/v1/orders/{missing_oid}"),
                        (f"/api/v1/orders?trader_id={tid}", f"/api/v1/orders?trader_id={missing_tid}"),
                        (f"/api/v1/trades?trader_id={tid}", f"/api/v1/trades?trader_id={missing_tid}"),
                        (f"/api/v1/positions?trader_id={tid}", f"/api/v1/positions?trader_id={missing_tid}"),
                        (f"/api/v1/account?trader_id={tid}", f"/api/v1/account?trader_id={missing_tid}"),
                        (f"/api/v1/account/equity?trader_id={tid}", f"/api/v1/account/equity?trader_id={missing_tid}"),
                        (f"/api/v1/traders/{tid}/decisions", f"/api/v1/traders/{missing_tid}/decisions")]:
        assert owner.get(mine).status_code == 200, mine
        theirs = assert_error(other.get(mine), 404, "NOT_FOUND")
        assert theirs == assert_error(other.get(ghost), 404, "NOT_FOUND"), mine  # same answer: no leak
    assert tid not in other.get("/api/v1/traders").text


def test_other_users_cannot_act(two_users) -> None:  # type: ignore[no-untyped-def]
    owner, other, tid, oid = two_users
    assert_error(other.patch(f"/api/v1/traders/{tid}", json={"name": "mine now"}), 404)
    assert_error(other.post(f"/api/v1/traders/{tid}/stop"), 404)
    assert_error(other.post(f"/api/v1/traders/{tid}/start"), 404)
    assert_error(other.delete(f"/api/v1/traders/{tid}"), 404)
    assert_error(other.delete(f"/api/v1/orders/{oid}"), 404)
    assert_error(other.post("/api/v1/orders", json={"trader_id": tid, "client_order_id": "x1", "symbol": "600519.SH",
                                                    "side": "buy", "quantity": 100, "order_type": "limit",
                                                    "limit_price": "1.00"}), 404)
    t = owner.get(f"/api/v1/traders/{tid}").json()
    assert t["name"] == "ma" and t["state"] == "running"
    assert owner.get(f"/api/v1/orders/{oid}").json()["status"] != "cancelled"
    assert [o["client_order_id"] for o in owner.get(f"/api/v1/orders?trader_id={tid}").json()["items"]
            if o["client_order_id"] == "x1"] == []


def test_leaderboard_hides_other_users_trader_ids(two_users) -> None:  # type: ignore[no-untyped-def]
    owner, other, tid, _ = two_users
    mine = [r for r in owner.get("/api/v1/leaderboard").json()["traders"] if r["owner"] == "owner"]
    theirs = [r for r in other.get("/api/v1/leaderboard").json()["traders"] if r["owner"] == "owner"]
    assert [r["trader_id"] for r in mine] == [tid]
    assert [r["trader_id"] for r in theirs] == [None] and tid not in other.get("/api/v1/leaderboard").text
