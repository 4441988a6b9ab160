"""Keyset pagination: every row exactly once across pages, ties on ts broken by id, stable under inserts."""

from __future__ import annotations

from datetime import timedelta

from ledger_testkit import T0, Flow, new_trader

from nofx.domain.enums import Side
from nofx.persistence import KeysetCursor, SqlLedgerStore


def _walk(fetch, limit: int) -> list:  # type: ignore[no-untyped-def]
    out, cursor, pages = [], None, 0
    while True:
        page = fetch(cursor, limit)
        pages += 1
        assert len(page.items) <= limit
        out.extend(page.items)
        if page.next_cursor is None:
            return out
        # the cursor survives a text round trip (CLI / HTTP)
        cursor = KeysetCursor.decode(page.next_cursor.encode())


def test_orders_keyset_no_duplicates_or_omissions(store: SqlLedgerStore) -> None:
    tid = new_trader(store)
    fl = Flow(tid)
    # 47 orders over 5 distinct timestamps: many ties on ts; ids sort lexically ("o10" < "o2")
    subs = [fl.submit("600519.SH", Side.BUY, 100, T0 + timedelta(minutes=i % 5)) for i in range(47)]
    store.append_many([(tid, subs[:20]), (tid, subs[20:])])
    for limit in (1, 7, 10, 47, 100):
        got = _walk(lambda c, n: store.list_orders(tid, after=c, limit=n), limit)
        ids = [o.order_id for o in got]
        assert sorted(ids) == sorted(s.order_id for s in subs)
        assert len(set(ids)) == len(ids)
        keys = [(o.created, o.order_id) for o in got]
        assert keys == sorted(keys)


def test_fills_keyset_and_insert_between_pages(store: SqlLedgerStore) -> None:
    tid = new_trader(store)
    fl = Flow(tid)
    events = []
    for i in range(30):
        events += fl.round_trip("600519.SH", Side.BUY, 100, "10", "1", T0 + timedelta(seconds=i // 3))
    store.append(tid, events)
    first = store.list_fills(tid, limit=10)
    # a fill booked later (later ts) must show up on a later page, nothing repeated
    store.append(tid, fl.round_trip("600519.SH", Side.BUY, 100, "10", "1", T0 + timedelta(hours=1)))
    rest = _walk(lambda c, n: store.list_fills(tid, after=c or first.next_cursor, limit=n), 8)
    ids = [f.fill_id for f in first.items] + [f.fill_id for f in rest]
    assert len(ids) == len(set(ids)) == 31
    assert store.list_fills(tid, symbol="0700.HK").items == ()
