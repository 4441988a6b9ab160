"""check_ledger passes on a consistent ledger and catches each kind of violation (bad data written
directly into the tables, as a buggy importer or a manual edit would)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from ledger_testkit import T0, Flow, new_trader
from sqlalchemy import insert, select, update

from nofx.domain.enums import Side
from nofx.domain.events import OrderAccepted, OrderCancelled
from nofx.engine.store import EquitySnapshot
from nofx.persistence import SqlLedgerStore, ViolationKind, check_ledger
from nofx.persistence import schema as t

D1 = T0 + timedelta(days=1)


def _good_ledger(store: SqlLedgerStore) -> tuple[str, Flow]:
    tid = new_trader(store)
    fl = Flow(tid)
    buy = fl.submit("600519.SH", Side.BUY, 500, T0, price="1700")
    store.append(tid, [buy, OrderAccepted(T0, buy.order_id), fl.fill(buy, 200, "1699.5", "5.12", T0),
                       fl.fill(buy, 100, "1700", "2.56", T0 + timedelta(minutes=5)),
                       OrderCancelled(T0 + timedelta(hours=5), buy.order_id)])
    store.append(tid, fl.round_trip("600519.SH", Side.SELL, 300, "1710.01", "9.87", D1))  # next day: T+1 ok
    store.append(tid, fl.round_trip("0700.HK", Side.BUY, 200, "300.2", "60", T0))
    store.append(tid, fl.round_trip("0700.HK", Side.SELL, 200, "301", "61", T0 + timedelta(hours=1)))  # HK: T+0
    store.snapshot(EquitySnapshot(tid, D1, Decimal("1000000"), store.cash(tid), 3))
    store.append(tid, fl.round_trip("600036.SH", Side.BUY, 1000, "30.01", "3.3", D1))  # after the snapshot
    return tid, fl


def _kinds(store: SqlLedgerStore, tid: str) -> set[ViolationKind]:
    return {v.kind for v in check_ledger(store, tid)}


def test_clean_ledger_passes(store: SqlLedgerStore) -> None:
    tid, _ = _good_ledger(store)
    assert check_ledger(store, tid) == []


def test_unknown_trader(store: SqlLedgerStore) -> None:
    assert _kinds(store, "nobody") == {ViolationKind.UNKNOWN_TRADER}


def test_cash_off_by_a_cent(store: SqlLedgerStore) -> None:
    tid, _ = _good_ledger(store)
    with store.connect() as conn:
        cash = conn.execute(select(t.accounts.c.cash).where(t.accounts.c.trader_id == tid)).scalar()
        conn.execute(update(t.accounts).where(t.accounts.c.trader_id == tid).values(cash=cash - Decimal("0.01")))
        conn.commit()
    [v] = check_ledger(store, tid)
    assert v.kind is ViolationKind.CASH_ACCOUNT and "expected" in v.context


def test_snapshot_cash_mismatch(store: SqlLedgerStore) -> None:
    tid, _ = _good_ledger(store)
    # the latest snapshot covers every fill so far; its cash is 5 cents off
    store.snapshot(EquitySnapshot(tid, D1, Decimal(1), store.cash(tid) + Decimal("0.05"), 9))
    assert _kinds(store, tid) == {ViolationKind.CASH_SNAPSHOT}


def test_position_differs_from_fills(store: SqlLedgerStore) -> None:
    tid, _ = _good_ledger(store)
    with store.connect() as conn:
        conn.execute(update(t.positions).where(t.positions.c.trader_id == tid, t.positions.c.symbol == "600036.SH")
                     .values(quantity=900))
        conn.commit()
    [v] = check_ledger(store, tid)
    assert v.kind is ViolationKind.POSITION_QUANTITY and v.context["symbol"] == "600036.SH"


def test_a_share_same_day_sell_is_t1_violation(store: SqlLedgerStore) -> None:
    tid, fl = _good_ledger(store)
    # buy 1000 600036.SH on D1 (in the good ledger), sell 300 the same day: a T+1 breach
    store.append(tid, fl.round_trip("600036.SH", Side.SELL, 300, "30.5", "3", D1 + timedelta(hours=2)))
    vs = check_ledger(store, tid)
    assert [v.kind for v in vs] == [ViolationKind.T1_SELL]
    assert vs[0].context["symbol"] == "600036.SH" and vs[0].context["sellable"] == 0
    # the next day it is fine: no new violation for a second sell
    store.append(tid, fl.round_trip("600036.SH", Side.SELL, 700, "30.5", "3", D1 + timedelta(days=1)))
    assert len(check_ledger(store, tid)) == 1


def test_sells_beyond_earlier_days_buys_counted_cumulatively(store: SqlLedgerStore) -> None:
    tid = new_trader(store)
    fl = Flow(tid)
    store.append(tid, fl.round_trip("000001.SZ", Side.BUY, 100, "10", "1", T0))
    store.append(tid, fl.round_trip("000001.SZ", Side.BUY, 100, "10", "1", D1))
    store.append(tid, fl.round_trip("000001.SZ", Side.SELL, 100, "10", "1", D1 + timedelta(hours=1)))  # ok
    assert check_ledger(store, tid) == []
    store.append(tid, fl.round_trip("000001.SZ", Side.SELL, 100, "10", "1", D1 + timedelta(hours=2)))  # bought today
    assert _kinds(store, tid) == {ViolationKind.T1_SELL}


def test_duplicate_fill_in_event_stream(store: SqlLedgerStore) -> None:
    tid, _ = _good_ledger(store)
    with store.connect() as conn:
        ev = t.order_events
        row = conn.execute(select(ev).where(ev.c.trader_id == tid, ev.c.kind == "order_filled")
                           .order_by(ev.c.seq.desc()).limit(1)).mappings().one()
        conn.execute(insert(ev).values(trader_id=tid, order_id=row["order_id"], kind=row["kind"], ts=row["ts"],
                                       payload=row["payload"]))
        conn.commit()
    kinds = _kinds(store, tid)
    assert ViolationKind.DUPLICATE_FILL in kinds
    assert ViolationKind.ORDER_EVENTS in kinds  # the replayed stream overfills that order


def test_overfilled_order(store: SqlLedgerStore) -> None:
    tid, _ = _good_ledger(store)
    with store.connect() as conn:
        o = t.orders
        conn.execute(update(o).where(o.c.trader_id == tid, o.c.symbol == "600036.SH").values(filled_qty=1100))
        conn.commit()
    kinds = _kinds(store, tid)
    assert ViolationKind.OVERFILLED_ORDER in kinds and ViolationKind.ORDER_EVENTS in kinds


def test_fills_beyond_order_quantity(store: SqlLedgerStore) -> None:
    tid, fl = _good_ledger(store)
    order = store.list_orders(tid, limit=100).items[-1]
    from nofx.domain.fills import Fill

    # an importer adds a fill to a filled order (bulk path: cash and positions stay consistent)
    store.bulk_insert_fills(tid, [Fill("extra", order.order_id, order.symbol, Side.BUY, 10, Decimal("30"),
                                       Decimal("1"), D1 + timedelta(hours=3))])
    assert _kinds(store, tid) == {ViolationKind.OVERFILLED_ORDER}


@pytest.mark.parametrize("edit", ["status", "row_deleted", "orphan_event"])
def test_order_rows_match_event_streams(store: SqlLedgerStore, edit: str) -> None:
    tid, _ = _good_ledger(store)
    o = t.orders
    with store.connect() as conn:
        if edit == "status":
            conn.execute(update(o).where(o.c.trader_id == tid, o.c.symbol == "0700.HK", o.c.side == "buy")
                         .values(status="cancelled"))
        elif edit == "row_deleted":
            conn.execute(o.delete().where(o.c.trader_id == tid, o.c.symbol == "0700.HK", o.c.side == "sell"))
        else:
            conn.execute(insert(t.order_events).values(trader_id=tid, order_id="ghost", kind="order_accepted", ts=T0,
                                                       payload=OrderAccepted(T0, "ghost").to_dict()))
        conn.commit()
    vs = check_ledger(store, tid)
    assert [v.kind for v in vs] == [ViolationKind.ORDER_EVENTS]


def test_bonus_shares_scale_the_holding_not_bought_and_sold_separately(store: SqlLedgerStore) -> None:
    """Three buys of 101 with two sells in between, then 10-for-5 bonus shares: the holding 101 becomes
    151 and all of it may be sold. Scaling each day's buys and the cumulative sells separately truncates
    151.5 three times on one side and once on the other: a false one-share T+1 alarm."""
    from nofx.domain.events import CorporateActionApplied

    tid = new_trader(store)
    fl = Flow(tid)
    day = [T0 + timedelta(days=k) for k in range(7)]
    for k, side in enumerate([Side.BUY, Side.SELL, Side.BUY, Side.SELL, Side.BUY]):
        store.append(tid, fl.round_trip("002475.SZ", side, 101, "20", "1", day[k]))
    store.append(tid, [CorporateActionApplied(day[5], "002475.SZ", 101, Decimal(0), Decimal("1.5"), Decimal(0), 151)])
    store.append(tid, fl.round_trip("002475.SZ", Side.SELL, 151, "14", "1", day[6]))
    assert check_ledger(store, tid) == []
    # one share more than held is still caught after the split
    store.append(tid, fl.round_trip("002475.SZ", Side.BUY, 100, "14", "1", day[6] + timedelta(days=1)))
    store.append(tid, fl.round_trip("002475.SZ", Side.SELL, 100, "14", "1", day[6] + timedelta(days=1, hours=1)))
    assert _kinds(store, tid) == {ViolationKind.T1_SELL}
