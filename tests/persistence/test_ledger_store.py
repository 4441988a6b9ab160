"""SqlLedgerStore on SQLite (real file) and PostgreSQL: round trips, derived rows, idempotency, batching."""

from __future__ import annotations

import threading
import time
from datetime import timedelta, timezone
from decimal import Decimal

import pytest
from ledger_testkit import T0, Flow, new_trader

from nofx.domain.enums import OrderStatus, OrderType, Side
from nofx.domain.events import (
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderDenied,
    OrderExpired,
    OrderProgress,
    OrderRejected,
    OrderSubmitted,
)
from nofx.domain.orders import OrderRequest
from nofx.engine.store import EquitySnapshot, TraderRecord
from nofx.persistence import (
    DuplicateClientOrderIdError,
    DuplicateFillError,
    DuplicateOrderError,
    LedgerIntegrityError,
    MoneyPrecisionError,
    SqlLedgerStore,
    UnknownTraderError,
    check_ledger,
)
from nofx.persistence.errors import DuplicateTraderError


def test_every_event_kind_round_trips(store: SqlLedgerStore) -> None:
    tid = new_trader(store)
    fl = Flow(tid)
    tz8 = timezone(timedelta(hours=8))
    a = fl.submit("600519.SH", Side.BUY, 300, T0.replace(tzinfo=tz8), price="1700.55", client_order_id="c-1")
    b = fl.submit("0700.HK", Side.BUY, 200, T0, price="300.2")
    c = fl.submit("000001.SZ", Side.BUY, 100, T0)
    d = fl.submit("600000.SH", Side.BUY, 100, T0)
    e = fl.submit("600036.SH", Side.BUY, 100, T0, price="30")
    parent = fl.submit("601318.SH", Side.BUY, 300, T0, price="50")
    child = OrderSubmitted(T0, "child-1", tid, OrderRequest("601318.SH", Side.BUY, 100, OrderType.LIMIT,
                                                           Decimal("50")), parent.order_id)
    events = [
        a, OrderAccepted(T0, a.order_id),
        OrderAmended(T0 + timedelta(minutes=1), a.order_id, quantity=200, limit_price=Decimal("1701.0001")),
        fl.fill(a, 100, "1701.0001", "0.0001", T0 + timedelta(minutes=2)),
        OrderCancelled(T0 + timedelta(minutes=3), a.order_id, reason="user"),
        b, OrderRejected(T0, b.order_id, "VENUE_LIMIT_LOCKED", "limit-up bar"),
        c, OrderDenied(T0, c.order_id, "RISK_NOTIONAL", "too big"),
        d, OrderAccepted(T0, d.order_id), OrderExpired(T0 + timedelta(hours=6), d.order_id),
        e, OrderAccepted(T0, e.order_id), OrderAmended(T0, e.order_id, quantity=None, limit_price=Decimal("29.99")),
        parent, OrderAccepted(T0, parent.order_id), child, OrderAccepted(T0, child.order_id),
        fl.fill(child, 100, "49.99", "0.5", T0),
        OrderProgress(T0, parent.order_id, 100, Decimal("49.99"), Decimal("0.5"), OrderStatus.PARTIALLY_FILLED),
    ]
    store.append(tid, events)
    back = store.events(tid)
    assert back == events  # every field, Decimals and the +08:00 offset included
    assert {ev.kind for ev in back} == {"order_submitted", "order_accepted", "order_amended", "order_filled",
                                        "order_cancelled", "order_rejected", "order_denied", "order_expired",
                                        "order_progress"}
    seqs = [se.seq for se in store.stored_events(tid)]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    rows = {o.order_id: o for o in store.list_orders(tid, limit=50).items}
    ra = rows[a.order_id]
    assert (ra.status, ra.quantity, ra.filled_qty, ra.limit_price, ra.fees) == (
        OrderStatus.CANCELLED, 200, 100, Decimal("1701.0001"), Decimal("0.0001"))
    assert rows[b.order_id].status is OrderStatus.REJECTED and rows[b.order_id].reject_code == "VENUE_LIMIT_LOCKED"
    assert rows[c.order_id].status is OrderStatus.REJECTED and rows[c.order_id].reject_code == "RISK_NOTIONAL"
    assert rows[d.order_id].status is OrderStatus.EXPIRED
    assert rows[e.order_id].limit_price == Decimal("29.99")
    rp = rows[parent.order_id]
    assert (rp.status, rp.filled_qty, rp.avg_fill_price, rp.fees) == (
        OrderStatus.PARTIALLY_FILLED, 100, Decimal("49.99"), Decimal("0.5"))
    assert rows["child-1"].parent_id == parent.order_id and rows["child-1"].status is OrderStatus.FILLED
    assert check_ledger(store, tid) == []
    assert ra.created == T0  # ts columns hold exchange wall-clock time


def test_decimal_exactness_and_derived_rows(store: SqlLedgerStore) -> None:
    tid = new_trader(store, initial="1000000.0000")
    fl = Flow(tid)
    # prices/fees whose binary-float sums are inexact (0.1 + 0.2 style)
    store.append(tid, fl.round_trip("600519.SH", Side.BUY, 300, "10.1", "0.2", T0))
    store.append(tid, fl.round_trip("600519.SH", Side.BUY, 100, "10.3", "0.1", T0))
    store.append(tid, fl.round_trip("600519.SH", Side.SELL, 200, "10.7777", "1.0003", T0 + timedelta(days=1)))
    cash = store.cash(tid)
    expected = (Decimal("1000000") - Decimal("10.1") * 300 - Decimal("0.2") - Decimal("10.3") * 100 - Decimal("0.1")
                + Decimal("10.7777") * 200 - Decimal("1.0003"))
    assert cash == expected == Decimal("998094.2397")
    [pos] = store.list_positions(tid)
    assert pos.quantity == 200
    assert pos.avg_cost == Decimal("10.15")  # (10.1*300 + 10.3*100) / 400
    assert pos.realised_pnl == (Decimal("10.7777") - Decimal("10.15")) * 200
    fills = store.list_fills(tid).items
    assert [f.price for f in fills] == [Decimal("10.1"), Decimal("10.3"), Decimal("10.7777")]
    assert fills[-1].realised_pnl == Decimal("125.5400")
    assert fills[0].realised_pnl == 0


def test_money_with_more_than_four_decimals_is_refused(store: SqlLedgerStore) -> None:
    tid = new_trader(store)
    fl = Flow(tid)
    with pytest.raises(MoneyPrecisionError):
        store.append(tid, fl.round_trip("600519.SH", Side.BUY, 100, "10.12345", "1", T0))
    assert store.events(tid) == []  # nothing of the failed append was stored


def test_client_order_id_is_idempotent(store: SqlLedgerStore) -> None:
    tid = new_trader(store)
    fl = Flow(tid)
    first = fl.submit("600519.SH", Side.BUY, 100, T0, client_order_id="strategy-42")
    store.append(tid, [first])
    assert store.find_by_client_order_id(tid, "strategy-42").order_id == first.order_id
    assert store.find_by_client_order_id(tid, "nope") is None
    retry = fl.submit("600519.SH", Side.BUY, 100, T0, client_order_id="strategy-42")
    with pytest.raises(DuplicateClientOrderIdError) as exc:
        store.append(tid, [retry])
    assert exc.value.code == "LEDGER_DUPLICATE_CLIENT_ORDER_ID"
    # inside one batch too
    other = fl.submit("600519.SH", Side.BUY, 100, T0, client_order_id="x")
    with pytest.raises(DuplicateClientOrderIdError):
        store.append(tid, [other, fl.submit("600519.SH", Side.BUY, 100, T0, client_order_id="x")])
    assert [o.order_id for o in store.list_orders(tid).items] == [first.order_id]
    assert len(store.events(tid)) == 1
    # another trader may use the same client id
    tid2 = new_trader(store)
    store.append(tid2, [Flow(tid2).submit("600519.SH", Side.BUY, 100, T0, client_order_id="strategy-42")])


def test_duplicates_and_bad_events_roll_back(store: SqlLedgerStore) -> None:
    tid = new_trader(store)
    fl = Flow(tid)
    sub = fl.submit("600519.SH", Side.BUY, 100, T0)
    fill = fl.fill(sub, 50, "10", "1", T0, fill_id="F1")
    store.append(tid, [sub, OrderAccepted(T0, sub.order_id), fill])
    with pytest.raises(DuplicateOrderError):
        store.append(tid, [sub])
    with pytest.raises(DuplicateFillError):
        store.append(tid, [fl.fill(sub, 10, "10", "1", T0, fill_id="F1")])
    with pytest.raises(LedgerIntegrityError):  # overfill: 50 left, 60 filled
        store.append(tid, [fl.fill(sub, 60, "10", "1", T0)])
    with pytest.raises(LedgerIntegrityError):  # event for an order never submitted
        store.append(tid, [OrderAccepted(T0, "ghost")])
    with pytest.raises(UnknownTraderError):
        store.append("nobody", [fl.submit("600519.SH", Side.BUY, 100, T0)])
    assert len(store.events(tid)) == 3
    assert store.cash(tid) == Decimal("1000000") - 501
    assert store.list_positions(tid)[0].quantity == 50


def test_traders_and_snapshots(store: SqlLedgerStore) -> None:
    tid = new_trader(store, created=T0)
    later = new_trader(store, created=T0 + timedelta(days=1))
    assert store.get_trader(tid).initial_cash == Decimal("1000000")
    assert store.get_trader("none") is None
    ids = [tr.trader_id for tr in store.list_traders()]
    assert ids.index(later) < ids.index(tid)  # most recent first
    with pytest.raises(DuplicateTraderError):
        store.create_trader(TraderRecord(tid, Decimal(1), "cn", "{}", T0))
    assert store.last_snapshot(tid) is None
    store.snapshot(EquitySnapshot(tid, T0, Decimal("1000000.1234"), Decimal("1000000"), 7))
    store.snapshot(EquitySnapshot(tid, T0 + timedelta(minutes=15), Decimal("999999.5"), Decimal("1000000"), 8))
    snap = store.latest_equity(tid)
    assert (snap.cursor, snap.equity) == (8, Decimal("999999.5"))


def test_append_many_is_atomic(store: SqlLedgerStore) -> None:
    t1, t2 = new_trader(store), new_trader(store)
    f1, f2 = Flow(t1), Flow(t2)
    store.append_many([(t1, f1.round_trip("600519.SH", Side.BUY, 100, "10", "1", T0)),
                       (t2, f2.round_trip("0700.HK", Side.BUY, 100, "300", "2", T0))])
    assert len(store.events(t1)) == 3 and len(store.events(t2)) == 3
    bad = f2.submit("0700.HK", Side.BUY, 100, T0)
    with pytest.raises(LedgerIntegrityError):
        store.append_many([(t1, [f1.submit("600519.SH", Side.BUY, 100, T0)]),
                           (t2, [bad, OrderSubmitted(T0, bad.order_id + "x", "someone-else", bad.request)])])
    assert len(store.events(t1)) == 3  # the good half was rolled back too


def test_buffer_is_not_durable_until_flush(db_url: str) -> None:
    s = SqlLedgerStore(db_url, max_buffered=1000)
    tid = new_trader(s)
    fl = Flow(tid)
    for i in range(5):
        assert s.buffer(tid, [fl.submit("600519.SH", Side.BUY, 100, T0)]) == i + 1
    other = SqlLedgerStore(db_url)  # another process's view
    assert other.events(tid) == []
    assert s.flush() == 5
    assert s.pending == 0
    assert len(other.events(tid)) == 5
    # a failing staged call does not take the good ones down with it
    s.buffer(tid, [fl.submit("600519.SH", Side.BUY, 100, T0, client_order_id="dup")])
    s.buffer(tid, [fl.submit("600519.SH", Side.BUY, 100, T0, client_order_id="dup")])
    s.buffer(tid, [fl.submit("600519.SH", Side.BUY, 100, T0)])
    with pytest.raises(DuplicateClientOrderIdError):
        s.flush()
    assert len(other.events(tid)) == 7
    other.close()
    s.close()


def test_buffer_auto_flushes_at_max(db_url: str) -> None:
    s = SqlLedgerStore(db_url, max_buffered=3)
    tid = new_trader(s)
    fl = Flow(tid)
    s.buffer(tid, [fl.submit("600519.SH", Side.BUY, 100, T0)])
    s.buffer(tid, [fl.submit("600519.SH", Side.BUY, 100, T0)])
    assert s.buffer(tid, [fl.submit("600519.SH", Side.BUY, 100, T0)]) == 0
    assert s.pending == 0
    s.close()


def test_group_commit_from_threads(db_url: str) -> None:
    s = SqlLedgerStore(db_url, group_commit_ms=2)
    traders = [new_trader(s) for _ in range(4)]
    errors: list[BaseException] = []

    def writer(tid: str) -> None:
        fl = Flow(tid)
        try:
            for i in range(25):
                s.append(tid, [fl.submit("600519.SH", Side.BUY, 100, T0 + timedelta(seconds=i),
                                         client_order_id=f"c{i}")])
            with pytest.raises(DuplicateClientOrderIdError):  # still isolated per request
                s.append(tid, [fl.submit("600519.SH", Side.BUY, 100, T0, client_order_id="c0")])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(tid,)) for tid in traders]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    for tid in traders:
        assert len(s.events(tid)) == 25
    # concurrent appends shared transactions (104 requests in fewer commits)
    assert s.transactions < s.requests == 104
    s.close()


@pytest.mark.parametrize("sync, level", [("NORMAL", 1), ("FULL", 2)])
def test_sqlite_durability_settings(sqlite_url: str, sync: str, level: int) -> None:
    s = SqlLedgerStore(sqlite_url, sqlite_synchronous=sync)
    with s.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == level
    s.close()


@pytest.mark.postgres
def test_asyncpg_url_is_served_by_psycopg(pg_url: str) -> None:
    s = SqlLedgerStore(pg_url.replace("postgresql+psycopg://", "postgresql+asyncpg://"))
    assert s.url.startswith("postgresql+psycopg://")
    tid = new_trader(s)
    assert s.get_trader(tid) is not None
    s.close()


def test_env_var_selects_database(monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> None:
    monkeypatch.setenv("NOFX_DB_URL", sqlite_url)
    s = SqlLedgerStore()
    assert s.url == sqlite_url
    s.close()


def test_buffer_auto_flushes_after_group_commit_window(sqlite_url: str) -> None:
    s = SqlLedgerStore(sqlite_url, group_commit_ms=20)
    tid = new_trader(s)
    fl = Flow(tid)
    assert s.buffer(tid, [fl.submit("600519.SH", Side.BUY, 100, T0)]) == 1
    time.sleep(0.05)
    assert s.buffer(tid, [fl.submit("600519.SH", Side.BUY, 100, T0)]) == 0  # window passed: committed
    other = SqlLedgerStore(sqlite_url)
    assert len(other.events(tid)) == 2
    other.close()
    s.close()
