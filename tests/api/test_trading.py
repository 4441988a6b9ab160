"""Traders, orders, trades, positions and account through the running server: the one order path,
idempotent submissions, committed before acknowledged, validation errors naming the field, keyset
pagination, and money as decimal strings."""

from __future__ import annotations

import time

import pytest
from api_live_server import assert_error, new_trader
from sqlalchemy import create_engine, select

from nofx.persistence import schema as t


@pytest.fixture(scope="module")
def trading(server):  # type: ignore[no-untyped-def]
    c = server.user_client("trader1")
    # speed 1: one daily bar per real day, so an order rests on the book for the whole test
    tid = new_trader(c, start=True, speed=1)
    yield c, tid
    c.post(f"/api/v1/traders/{tid}/stop")


def _order(tid: str, cid: str, **over):  # type: ignore[no-untyped-def]
    return {"trader_id": tid, "client_order_id": cid, "symbol": "600519.SH", "side": "buy", "quantity": 100,
            "order_type": "limit", "limit_price": "560.50", **over}


def test_submit_is_durable_and_idempotent(server, trading) -> None:  # type: ignore[no-untyped-def]
    c, tid = trading
    r = c.post("/api/v1/orders", json=_order(tid, "idem-1"))
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["status"] == "accepted" and first["limit_price"] == "560.5" and first["client_order_id"] == "idem-1"
    # acknowledged means committed: a separate connection sees the order at once
    engine = create_engine(server.svc.store.url)
    with engine.connect() as conn:
        rows = list(conn.execute(select(t.orders.c.order_id).where(t.orders.c.client_order_id == "idem-1")))
    engine.dispose()
    assert [r.order_id for r in rows] == [first["order_id"]]
    again = c.post("/api/v1/orders", json=_order(tid, "idem-1"))
    assert again.status_code == 200 and again.json()["order_id"] == first["order_id"]
    assert sum(o["client_order_id"] == "idem-1" for o in c.get(f"/api/v1/orders?trader_id={tid}").json()["items"]) == 1


def test_bare_code_resolves_and_cancel(trading) -> None:  # type: ignore[no-untyped-def]
    c, tid = trading
    r = c.post("/api/v1/orders", json=_order(tid, "cx-1", symbol="600519"))
    assert r.status_code == 201 and r.json()["symbol"] == "600519.SH"
    oid = r.json()["order_id"]
    d = c.delete(f"/api/v1/orders/{oid}")
    assert d.status_code == 200 and d.json()["status"] == "cancelled"
    assert c.get(f"/api/v1/orders/{oid}").json()["status"] == "cancelled"
    assert_error(c.delete(f"/api/v1/orders/{oid}"), 409, "ORDER_NOT_OPEN")
    assert_error(c.get(f"/api/v1/orders/{tid}-O999999"), 404)
    assert_error(c.get("/api/v1/orders/garbage"), 404)


@pytest.mark.parametrize("over, field", [
    ({"limit_price": None}, "limit_price"),
    ({"quantity": 0}, "quantity"),
    ({"quantity": "many"}, "quantity"),
    ({"limit_price": 10.5}, "limit_price"),  # a JSON float: money must be a decimal string
    ({"limit_price": "10.12345"}, "limit_price"),
    ({"limit_price": "-1"}, "limit_price"),
    ({"limit_price": "NaN"}, "limit_price"),
    ({"side": "hold"}, "side"),
    ({"client_order_id": "a:b"}, "client_order_id"),
    ({"surprise": 1}, "surprise"),
    ({"symbol": "ABC"}, "symbol"),
    ({"symbol": "600000.SH"}, "symbol"),  # a real symbol this trader does not trade
    ({"symbol": "999999"}, "symbol"),
])
def test_invalid_orders_name_the_field(trading, over, field) -> None:  # type: ignore[no-untyped-def]
    c, tid = trading
    body = {k: v for k, v in {**_order(tid, "bad-1"), **over}.items() if v is not None}
    err = assert_error(c.post("/api/v1/orders", json=body), 422)
    fields = [d["field"] for d in err["details"]] if isinstance(err["details"], list) else [err["details"]["field"]]
    assert field in fields, err
    assert field in err["message"] or err["code"] == "UNKNOWN_SYMBOL", err


def test_missing_trader_id_is_named(trading) -> None:  # type: ignore[no-untyped-def]
    c, tid = trading
    body = _order(tid, "m1")
    del body["trader_id"]
    err = assert_error(c.post("/api/v1/orders", json=body), 422, "VALIDATION_ERROR")
    assert err["details"][0]["field"] == "trader_id" and "trader_id" in err["message"]


def test_keyset_pagination(trading) -> None:  # type: ignore[no-untyped-def]
    c, tid = trading
    for k in range(5):
        assert c.post("/api/v1/orders", json=_order(tid, f"page-{k}")).status_code == 201
    seen, cursor, pages = [], None, 0
    while True:
        r = c.get("/api/v1/orders", params={"trader_id": tid, "limit": 2, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200
        seen += [o["order_id"] for o in r.json()["items"]]
        pages += 1
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    everything = [o["order_id"] for o in c.get("/api/v1/orders", params={"trader_id": tid, "limit": 1000}).json()["items"]]
    assert seen == everything and len(set(seen)) == len(seen) >= 7 and pages >= 4
    cancelled = c.get("/api/v1/orders", params={"trader_id": tid, "status": "cancelled"}).json()["items"]
    assert cancelled and all(o["status"] == "cancelled" for o in cancelled)
    err = assert_error(c.get("/api/v1/orders", params={"trader_id": tid, "cursor": "%%%not-a-cursor"}), 422)
    assert err["details"][0]["field"] == "cursor"


def test_positions_account_and_equity_after_fills(server) -> None:  # type: ignore[no-untyped-def]
    c = server.user_client("filler")
    tid = new_trader(c, start=True, speed=0)  # replays the whole slice at once: the strategy trades
    deadline = time.monotonic() + 60
    while c.get(f"/api/v1/traders/{tid}").json()["state"] != "finished":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    trades = c.get("/api/v1/trades", params={"trader_id": tid, "limit": 1000}).json()["items"]
    account = c.get("/api/v1/account", params={"trader_id": tid}).json()
    positions = c.get("/api/v1/positions", params={"trader_id": tid}).json()
    equity = c.get("/api/v1/account/equity", params={"trader_id": tid, "limit": 5}).json()
    assert trades and isinstance(trades[0]["price"], str) and isinstance(account["cash"], str)
    from decimal import Decimal

    from nofx.persistence import check_ledger

    assert check_ledger(server.svc.store, tid) == []  # the ledger behind the API reconciles exactly
    assert Decimal(account["cash"]) == server.svc.store.cash(tid)
    assert len(equity) == 5 and equity[-1]["equity"] == account["equity"]
    assert {p["symbol"] for p in positions} <= {"600519.SH", "000001.SZ"}
    # a finished trader takes no orders; an idempotent retry of a known id still answers
    assert_error(c.post("/api/v1/orders", json=_order(tid, "late")), 409, "TRADER_NOT_RUNNING")


def test_trader_crud_and_config_validation(trading) -> None:  # type: ignore[no-untyped-def]
    c, _ = trading
    tid = new_trader(c, symbols=["600036"])
    got = c.get(f"/api/v1/traders/{tid}").json()
    assert got["config"]["symbols"] == ["600036.SH"] and got["state"] == "stopped"
    assert c.patch(f"/api/v1/traders/{tid}", json={"name": "renamed"}).json()["name"] == "renamed"
    err = assert_error(c.post("/api/v1/traders", json={"name": "x", "config": {"strategy": "dual_ma",
                                                                                "symbols": ["600519.SH"],
                                                                                "params": {"fast": "quick"}}}), 422)
    assert "fast" in err["message"]
    err = assert_error(c.post("/api/v1/traders", json={"name": "x", "config": {"strategy": "no_such",
                                                                                "symbols": ["600519.SH"]}}), 422)
    assert "no_such" in err["message"]
    err = assert_error(c.post("/api/v1/traders", json={"name": "x", "config": {"strategy": "dual_ma",
                                                                                "symbols": ["600519.SH"],
                                                                                "cash": 100.5}}), 422)
    assert err["details"][0]["field"] == "config.cash"
    err = assert_error(c.post("/api/v1/traders", json={"name": "x", "config": {"strategy": "dual_ma",
                                                                                "symbols": ["600519.SH"],
                                                                                "speed": 2e6}}), 422)
    assert err["details"][0]["field"] == "config.speed"  # refused up front, not when the worker starts
    assert_error(c.post("/api/v1/orders", json=_order(tid, "s1")), 409, "TRADER_NOT_RUNNING")
    assert c.delete(f"/api/v1/traders/{tid}").status_code == 204
    assert_error(c.get(f"/api/v1/traders/{tid}"), 404)


def test_decision_log_of_ones_own_trader(server, trading) -> None:  # type: ignore[no-untyped-def]
    from datetime import datetime
    from decimal import Decimal

    from nofx.persistence.decisions import DecisionLog, DecisionRow

    c, tid = trading
    assert c.get(f"/api/v1/traders/{tid}/decisions").json() == []
    DecisionLog(server.svc.store).record(DecisionRow(
        tid, 1, 0, datetime(2019, 1, 2), "ok", "live", None, "mock-model",
        [{"symbol": "600519.SH", "action": "buy"}], [], [], 12.5, 100, 20, Decimal("0.0001"), ""), {})
    got = c.get(f"/api/v1/traders/{tid}/decisions").json()
    assert [(d["cycle"], d["decisions"][0]["action"], d["cost"]) for d in got] == [(1, "buy", "0.000100000000")]
    server.add_user("intruder2")
    with server.client(server.login("intruder2")["access_token"]) as other:
        assert other.get(f"/api/v1/traders/{tid}/decisions").status_code == 404


def test_concurrent_orders_share_transactions_and_all_are_committed(server, trading) -> None:  # type: ignore[no-untyped-def]
    """Orders arriving together are committed by one group commit each batch: fewer transactions than
    orders, and every acknowledged order is in the ledger (read over a separate connection)."""
    import threading

    c, tid = trading
    flow = server.svc.traders._flow
    ops0, tx0 = flow.ops, flow.transactions
    acks: list[str] = []
    accepted: list[str] = []  # the others were denied (cash): acknowledged and stored all the same
    barrier = threading.Barrier(16)

    def send(k: int) -> None:
        with server.client(headers=dict(c.headers)) as mine:
            barrier.wait()
            for n in range(5):
                r = mine.post("/api/v1/orders", json=_order(tid, f"gc-{k}-{n}"))
                assert r.status_code == 201, r.text
                acks.append(r.json()["order_id"])
                if r.json()["status"] == "accepted":
                    accepted.append(r.json()["order_id"])

    threads = [threading.Thread(target=send, args=(k,)) for k in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(acks) == 80 and len(set(acks)) == 80
    assert flow.ops - ops0 == 80
    assert flow.transactions - tx0 < 80  # 16 clients at once: batches of more than one order
    engine = create_engine(server.svc.store.url)
    with engine.connect() as conn:
        stored = {r.order_id for r in conn.execute(select(t.orders.c.order_id).where(
            t.orders.c.trader_id == tid, t.orders.c.client_order_id.like("gc-%")))}
    engine.dispose()
    assert stored == set(acks)
    for oid in accepted:  # frees the reserved cash for the tests after this one
        assert c.delete(f"/api/v1/orders/{oid}").status_code == 200


def test_retry_of_an_order_the_engine_no_longer_holds_returns_the_first(server, trading) -> None:  # type: ignore[no-untyped-def]
    """The OMS keeps recent closed orders only; the trader's set of client ids sends a retry of an older
    one to the ledger, so it still gets the first order back (200), never a second order."""
    c, tid = trading
    first = c.post("/api/v1/orders", json=_order(tid, "old-1")).json()
    assert c.delete(f"/api/v1/orders/{first['order_id']}").status_code == 200
    c.post("/api/v1/orders", json=_order(tid, "old-2"))
    session = server.svc.traders._rt[tid].session
    with session.lock:
        for o in list(session.engine.oms.open_orders.values()):
            session.engine.cancel(o.order_id)
        session.engine.oms.prune_closed(keep_last=1)
        assert session.engine.oms.find_client_order("old-1") is None
    again = c.post("/api/v1/orders", json=_order(tid, "old-1"))
    assert again.status_code == 200, again.text
    assert again.json()["order_id"] == first["order_id"] and again.json()["status"] == "cancelled"


def test_a_trader_whose_events_cannot_be_stored_resumes_from_its_ledger(server) -> None:  # type: ignore[no-untyped-def]
    """Its engine got ahead of its ledger: the op fails (nothing acknowledged), the trader takes no orders
    until it has been rebuilt from the ledger, then trades on; the first order is there, once."""
    from nofx.api.orderflow import Op, OpFailed
    from nofx.domain.events import OrderAccepted

    c = server.user_client("restart-owner")
    tid = new_trader(c, start=True, speed=1)
    sup = server.svc.traders
    first = c.post("/api/v1/orders", json=_order(tid, "before-1"))
    assert first.status_code == 201, first.text
    session = sup._rt[tid].session
    # an event that does not apply to the ledger (an order never submitted): the commit refuses it
    bad = Op(tid, session, lambda engine: session.store.append(tid, [OrderAccepted(engine.market.now(), f"{tid}-O999")]))
    sup._flow.submit(bad)
    with pytest.raises(OpFailed):
        bad.future.result(10)  # type: ignore[union-attr]
    deadline = time.monotonic() + 30
    while sup._rt[tid].session is session or sup.state(tid)[0] != "running":
        assert time.monotonic() < deadline, sup.state(tid)
        time.sleep(0.05)
    assert sup._rt[tid].restarts == 1
    again = c.post("/api/v1/orders", json=_order(tid, "before-1"))
    assert again.status_code == 200 and again.json()["order_id"] == first.json()["order_id"]
    after = c.post("/api/v1/orders", json=_order(tid, "after-1"))
    assert after.status_code == 201, after.text
    c.post(f"/api/v1/traders/{tid}/stop")
