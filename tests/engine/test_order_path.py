"""The order lifecycle through the kernel and the order-book venue."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from nofx.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from nofx.domain.errors import InvalidTransitionError, OrderError
from nofx.domain.events import OrderFilled, event_from_dict
from nofx.domain.orders import Order, OrderRequest
from nofx.engine.matching import BarQuote
from nofx.engine.router import SplitConfig, twap_schedule
from tests.engine.harness import make_engine

D = Decimal
NAN = float("nan")
NEXT = timedelta(minutes=1)  # market data after the order was submitted


def bar(o, h, lo, c, v, status=1.0, lower=NAN, upper=NAN):
    return BarQuote(o, h, lo, c, v, status, lower, upper)


def limit(side, qty, px, sym="000001.SZ", **kw):
    return OrderRequest(sym, side, qty, OrderType.LIMIT, D(px), **kw)


def test_retried_submission_returns_the_first_order():
    eng, venue, _ = make_engine()
    a = eng.submit(limit(Side.BUY, 100, "19", client_order_id="abc"))
    b = eng.submit(limit(Side.BUY, 100, "19", client_order_id="abc"))
    assert a is b and len(eng.oms) == 1 and venue.resting("000001.SZ") == 1


def test_state_machine_refuses_illegal_transitions():
    o = Order("o1", limit(Side.BUY, 100, "10"), datetime(2021, 1, 4))
    o.apply_accept()
    o.apply_fill(100, D("10"), D("5"))
    assert o.status is OrderStatus.FILLED
    with pytest.raises(InvalidTransitionError):
        o.apply_cancel()
    with pytest.raises(OrderError):
        o.apply_fill(1, D("10"), D(0))


def test_partial_fill_then_fill_and_events_in_order():
    eng, venue, m = make_engine()
    seen = []
    eng.listeners.append(lambda ev: seen.append(ev.kind))
    o = eng.submit(limit(Side.BUY, 1000, "20"))
    venue.on_bar("000001.SZ", m.now() + NEXT, bar(19.9, 20.1, 19.8, 20.0, 1600), day_end=False)  # 25% = 400
    assert o.status is OrderStatus.PARTIALLY_FILLED and o.filled_qty == 400
    venue.on_bar("000001.SZ", m.now() + NEXT, bar(19.9, 20.1, 19.8, 20.0, 10_000), day_end=False)
    assert o.status is OrderStatus.FILLED and o.filled_qty == 1000
    assert seen == ["order_submitted", "order_accepted", "order_filled", "order_filled"]
    assert eng.portfolio.quantity("000001.SZ") == 1000


def test_price_time_priority_shares_scarce_liquidity():
    eng, venue, m = make_engine()
    early = eng.submit(limit(Side.BUY, 300, "19.90"))
    better = eng.submit(limit(Side.BUY, 300, "20.00"))
    late = eng.submit(limit(Side.BUY, 300, "19.90"))
    venue.on_bar("000001.SZ", m.now() + NEXT, bar(19.85, 19.95, 19.80, 19.9, 2000), day_end=False)  # 500 available
    assert (better.filled_qty, early.filled_qty, late.filled_qty) == (300, 200, 0)


def test_latency_keeps_an_order_out_of_bars_before_it_arrives():
    eng, venue, m = make_engine(latency_ms=500)
    o = eng.submit(limit(Side.BUY, 100, "20"))
    venue.on_bar("000001.SZ", m.now() + timedelta(milliseconds=500), bar(20, 20, 20, 20, 10_000), day_end=False)
    assert o.filled_qty == 0  # arrives at +500 ms: a bar stamped then is not yet after its arrival
    venue.on_bar("000001.SZ", m.now() + timedelta(milliseconds=501), bar(20, 20, 20, 20, 10_000), day_end=False)
    assert o.filled_qty == 100


def test_an_order_never_meets_the_bar_it_was_decided_on():
    eng, venue, m = make_engine()
    o = eng.submit(limit(Side.BUY, 100, "20"))
    venue.on_bar("000001.SZ", m.now(), bar(20, 20, 20, 20, 10_000), day_end=False)
    assert o.filled_qty == 0
    venue.on_bar("000001.SZ", m.now() + timedelta(days=1), bar(20, 20, 20, 20, 10_000), day_end=False)
    assert o.filled_qty == 100


def test_limit_up_lock_and_suspension_rules_match_the_backtester():
    eng, venue, m = make_engine()
    o = eng.submit(limit(Side.BUY, 100, "22"))
    venue.on_bar("000001.SZ", m.now() + NEXT, bar(22, 22, 22, 22, 5000, lower=18.0, upper=22.0), day_end=False)
    assert o.status is OrderStatus.REJECTED and o.reject_code == "VENUE_LIMIT_UP_LOCKED"
    o2 = eng.submit(limit(Side.BUY, 100, "21"))
    venue.on_bar("000001.SZ", m.now() + NEXT, bar(20, 20, 20, 20, 0, status=0.0), day_end=False)
    assert o2.reject_code == "VENUE_SUSPENDED"


def test_ioc_and_fok():
    eng, venue, m = make_engine()
    ioc = eng.submit(limit(Side.BUY, 1000, "20", tif=TimeInForce.IOC))
    fok = eng.submit(limit(Side.BUY, 1000, "20", tif=TimeInForce.FOK))
    venue.on_bar("000001.SZ", m.now() + NEXT, bar(20, 20, 20, 20, 2000), day_end=False)  # 500 available
    assert ioc.filled_qty == 500 and ioc.status is OrderStatus.EXPIRED
    assert fok.filled_qty == 0 and fok.status is OrderStatus.EXPIRED


def test_day_order_expires_at_day_end_and_releases_cash():
    eng, venue, m = make_engine()
    before = eng.portfolio.available_cash
    o = eng.submit(limit(Side.BUY, 100, "19"))
    assert eng.portfolio.available_cash < before
    venue.on_bar("000001.SZ", m.now() + NEXT, bar(20, 20.5, 19.5, 20, 10_000), day_end=True)
    assert o.status is OrderStatus.EXPIRED and eng.portfolio.available_cash == before


def test_cancel_and_amend():
    eng, venue, m = make_engine()
    o = eng.submit(limit(Side.BUY, 200, "19"))
    eng.amend(o.order_id, quantity=300, limit_price=D("19.5"))
    assert (o.quantity, o.limit_price, o.status) == (300, D("19.5"), OrderStatus.ACCEPTED)
    with pytest.raises(OrderError):
        eng.amend(o.order_id, quantity=250)  # not a lot
    assert eng.cancel(o.order_id)
    assert o.status is OrderStatus.CANCELLED and venue.resting("000001.SZ") == 0
    assert eng.portfolio.reserved_cash == 0
    assert not eng.cancel(o.order_id)


def test_twap_children_and_derived_parent_state():
    eng, venue, m = make_engine(split=SplitConfig(twap_slices=4, twap_window_seconds=60))
    parent = eng.submit(limit(Side.BUY, 1000, "20"))
    kids = eng.oms.children(parent.order_id)
    assert [k.quantity for k in kids] == [200, 200, 200, 400]
    assert venue.resting("000001.SZ") == 1  # only the first child is released now
    venue.on_bar("000001.SZ", m.now() + NEXT, bar(20, 20, 20, 20, 100_000), day_end=False)
    assert parent.filled_qty == 200 and parent.status is OrderStatus.PARTIALLY_FILLED
    for _ in range(3):
        m.advance(15)
        eng.release_due_children()
        venue.on_bar("000001.SZ", m.now() + NEXT, bar(20, 20, 20, 20, 100_000), day_end=False)
    assert parent.status is OrderStatus.FILLED and parent.filled_qty == 1000
    # the parent's progress is never booked as a fill: positions count the children only
    assert eng.portfolio.quantity("000001.SZ") == 1000


def test_twap_schedule_is_lot_rounded():
    t0 = datetime(2021, 1, 4, 9, 30)
    sched = twap_schedule(1050, 100, 4, t0, 600)
    assert [c.quantity for c in sched] == [200, 200, 200, 450]
    assert [c.release_at - t0 for c in sched] == [timedelta(seconds=s) for s in (0, 150, 300, 450)]


def test_a_share_market_order_gets_a_protection_price():
    eng, venue, m = make_engine()
    m.bands["000001.SZ"] = (D("18.00"), D("22.00"))
    o = eng.submit(OrderRequest("000001.SZ", Side.BUY, 100))
    assert o.limit_price == D("22.00")


def test_events_round_trip_through_json():
    eng, venue, m = make_engine()
    seen = []
    eng.listeners.append(seen.append)
    eng.submit(limit(Side.BUY, 100, "20"))
    venue.on_bar("000001.SZ", m.now() + NEXT, bar(20, 20, 20, 20, 10_000), day_end=False)
    for ev in seen:
        assert event_from_dict(ev.to_dict()) == ev
    assert any(isinstance(e, OrderFilled) for e in seen)


def test_hk_position_can_be_sold_the_same_day():
    eng, venue, m = make_engine()
    b = eng.submit(limit(Side.BUY, 100, "500", sym="0700.HK"))
    venue.on_bar("0700.HK", m.now() + NEXT, bar(500, 500, 500, 500, 100_000), day_end=False)
    assert b.status is OrderStatus.FILLED
    s = eng.submit(limit(Side.SELL, 100, "500", sym="0700.HK"))
    assert s.status is OrderStatus.ACCEPTED
