"""The fast write path (nofx.persistence.writer): same stored rows as the reference Projector path, an
in-memory cache that never outlives a failed transaction nor another writer's changes, bounded memory."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from ledger_testkit import T0, Flow, new_trader
from sqlalchemy import create_engine, select

from nofx.domain.enums import OrderStatus, Side
from nofx.domain.events import OrderAccepted, OrderAmended, OrderCancelled, OrderProgress, OrderSubmitted
from nofx.domain.fills import Fill
from nofx.engine.store import EquitySnapshot, TraderRecord
from nofx.persistence import (
    DuplicateClientOrderIdError,
    DuplicateFillError,
    DuplicateOrderError,
    LedgerError,
    LedgerIntegrityError,
    SqlLedgerStore,
    check_ledger,
)
from nofx.persistence import schema as t
from nofx.persistence.writer import json_text, sqlite_datetime

PRECISE_TOLERANCE = Decimal("1e-9")  # Precise columns: the reference re-reads 12-place values between commits


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two_urls(request, tmp_path) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fast.db'}", f"sqlite:///{tmp_path / 'reference.db'}"
        return
    yield request.getfixturevalue("fresh_pg_url"), request.getfixturevalue("pg_url")


def _script(tid: str, fl: Flow) -> list[list]:  # type: ignore[type-arg]
    """Appends exercising every derived row: partial fills spread over commits (averages that do not
    terminate), amendments, cancels, a parent with progress, buys and sells realising PnL."""
    a = fl.submit("600519.SH", Side.BUY, 300, T0, price="10.3", client_order_id="a", order_id="A")
    b = fl.submit("600519.SH", Side.SELL, 200, T0, price="10.9", order_id="B")
    c = fl.submit("0700.HK", Side.BUY, 500, T0, price="300.2", order_id="C")
    p = fl.submit("601318.SH", Side.BUY, 300, T0, price="50", order_id="P")
    child = OrderSubmitted(T0, "P-1", tid, fl.submit("601318.SH", Side.BUY, 100, T0, price="50").request, "P")
    m, day = timedelta(minutes=1), timedelta(days=1)  # sells the next day: T+1
    return [
        [a, OrderAccepted(T0, "A"), fl.fill(a, 100, "10.1", "0.1", T0 + m)],
        [fl.fill(a, 70, "10.3", "0.07", T0 + 2 * m)],  # avg 10.182352941176470588...
        [fl.fill(a, 30, "10.31", "0.03", T0 + 3 * m), c, OrderAccepted(T0, "C")],
        [OrderAmended(T0 + 4 * m, "C", quantity=400, limit_price=Decimal("300.4")), b, OrderAccepted(T0, "B")],
        [fl.fill(c, 150, "300.4", "1.5", T0 + 5 * m), fl.fill(b, 120, "10.9", "0.5", T0 + day)],
        [fl.fill(a, 100, "10.2", "0.1", T0 + 6 * m)],  # A filled: it leaves the cache
        [OrderCancelled(T0 + 7 * m, "C", reason="user"), fl.fill(b, 80, "11.0001", "0.4", T0 + day + m)],
        [p, OrderAccepted(T0, "P"), child, OrderAccepted(T0, "P-1")],
        [fl.fill(child, 100, "49.99", "0.5", T0 + 9 * m),
         OrderProgress(T0 + 9 * m, "P", 100, Decimal("49.99"), Decimal("0.5"), OrderStatus.PARTIALLY_FILLED)],
    ]


def _dump(store: SqlLedgerStore, traders: list[str]) -> dict[str, list[dict]]:  # type: ignore[type-arg]
    """The traders' rows of every derived table, seqs replaced by (trader, position in the trader's
    events), so that two databases holding other traders' events too compare equal."""
    out = {}
    with store.connect() as conn:
        ev = t.order_events
        rank: dict[object, object] = {None: None}
        counts: dict[str, int] = {}
        for seq, tid in conn.execute(select(ev.c.seq, ev.c.trader_id).where(ev.c.trader_id.in_(traders))
                                     .order_by(ev.c.seq)):
            rank[seq] = (tid, counts.setdefault(tid, 0))
            counts[tid] += 1
        for table, key in [(t.orders, ("trader_id", "order_id")), (t.fills, ("trader_id", "fill_id")),
                           (t.positions, ("trader_id", "symbol")), (t.accounts, ("trader_id",)),
                           (t.order_events, ("seq",))]:
            rows = conn.execute(select(table).where(table.c.trader_id.in_(traders))
                                .order_by(*[table.c[k] for k in key])).mappings()
            out[table.name] = [{k: rank[v] if k in ("seq", "last_seq") else v for k, v in r.items()} for r in rows]
    return out


def _same(fast: dict, ref: dict) -> None:  # type: ignore[type-arg]
    for table in ref:
        assert len(fast[table]) == len(ref[table]), table
        for fr, rr in zip(fast[table], ref[table]):
            for col, rv in rr.items():
                fv = fr[col]
                if col in ("avg_fill_price", "avg_cost", "realised_pnl") and rv is not None:
                    assert abs(fv - rv) <= PRECISE_TOLERANCE, (table, col, fv, rv)
                else:
                    assert fv == rv, (table, col, fv, rv)


def test_fast_path_stores_what_the_reference_path_stores(two_urls: tuple[str, str]) -> None:
    fast_url, ref_url = two_urls
    fast, ref = SqlLedgerStore(fast_url), SqlLedgerStore(ref_url, write_path="projector")
    assert (fast.write_path, ref.write_path) == ("fast", "projector")
    traders = [f"t-{uuid.uuid4().hex[:10]}" for _ in range(2)]
    for s in (fast, ref):
        for tid in traders:
            s.create_trader(TraderRecord(tid, Decimal("1000000"), "cn", "{}", T0))
        scripts = [[(tid, batch) for batch in _script(tid, Flow(tid))] for tid in traders]
        steps = [step for pair in zip(*scripts) for step in pair]  # the traders interleaved
        for i, (tid, batch) in enumerate(steps):
            if i % 3 == 0:
                s.append(tid, batch)
            else:  # group commit: both traders in one transaction
                s.buffer(tid, batch)
                if i % 3 == 2:
                    s.flush()
        s.flush()
    dump_fast, dump_ref = _dump(fast, traders), _dump(ref, traders)
    _same(dump_fast, dump_ref)
    t1 = traders[0]
    orders = {(r["trader_id"], r["order_id"]): r for r in dump_fast["orders"]}
    assert orders[(t1, "A")]["status"] == "filled" and orders[(t1, "C")]["status"] == "cancelled"
    assert orders[(t1, "C")]["quantity"] == 400 and orders[(t1, "C")]["filled_qty"] == 150
    assert len(dump_fast["order_events"]) == 2 * 21 and len(dump_fast["fills"]) == 2 * 8
    for tid in traders:
        assert check_ledger(fast, tid) == []
        assert fast.events(tid) == ref.events(tid)
    fast.close()
    ref.close()


def test_cache_is_rolled_back_with_the_transaction(store: SqlLedgerStore) -> None:
    tid = new_trader(store)
    fl = Flow(tid)
    sub = fl.submit("600519.SH", Side.BUY, 100, T0, price="10")
    other = fl.submit("600519.SH", Side.BUY, 100, T0, price="9", client_order_id="x")
    store.append(tid, [sub, OrderAccepted(T0, sub.order_id), fl.fill(sub, 40, "10", "1", T0, fill_id="F1"), other])
    with pytest.raises(LedgerIntegrityError):  # fill 30 applied in memory, then a bad event
        store.append(tid, [fl.fill(sub, 30, "10", "1", T0), OrderAccepted(T0, "ghost")])
    with pytest.raises(DuplicateFillError):  # fill 20 applied in memory, then the fills primary key
        store.append(tid, [fl.fill(sub, 20, "10", "1", T0, fill_id="F1")])
    with pytest.raises(DuplicateClientOrderIdError):  # fill 10 in memory, then the unique constraint
        store.append(tid, [fl.fill(sub, 10, "10", "1", T0),
                           fl.submit("600519.SH", Side.BUY, 100, T0, client_order_id="x")])
    # had any refused fill stayed in the cache, 60 would overfill the order
    store.append(tid, [fl.fill(sub, 60, "10", "1", T0)])
    order = store.get_order(tid, sub.order_id)
    assert order is not None and (order.filled_qty, order.status) == (100, OrderStatus.FILLED)
    assert store.cash(tid) == Decimal("1000000") - 1000 - 2
    [pos] = store.list_positions(tid)
    assert pos.quantity == 100
    assert check_ledger(store, tid) == []


def test_another_writer_is_seen(db_url: str) -> None:
    """Two stores write one trader in turn: each sees the other's fills (no stale cached order state)."""
    a, b = SqlLedgerStore(db_url), SqlLedgerStore(db_url)
    tid = new_trader(a)
    fl = Flow(tid)
    sub = fl.submit("600519.SH", Side.BUY, 100, T0, price="10")
    a.append(tid, [sub, OrderAccepted(T0, sub.order_id), fl.fill(sub, 50, "10", "1", T0)])
    b.append(tid, [fl.fill(sub, 40, "10", "1", T0)])
    with pytest.raises(LedgerIntegrityError):  # a's cache would say 50 left; 10 are
        a.append(tid, [fl.fill(sub, 20, "10", "1", T0)])
    a.append(tid, [fl.fill(sub, 10, "10", "1", T0)])
    with pytest.raises(DuplicateOrderError):
        b.append(tid, [sub])
    assert a.cash(tid) == b.cash(tid) == Decimal("1000000") - 1000 - 3
    assert check_ledger(a, tid) == []
    a.close()
    b.close()


def test_bulk_load_then_appends_keep_cash_and_position(store: SqlLedgerStore) -> None:
    tid = new_trader(store)
    fl = Flow(tid)
    store.append(tid, fl.round_trip("0700.HK", Side.BUY, 100, "300", "1", T0))  # cash and position cached
    store.bulk_insert_fills(tid, [Fill("h1", "ho1", "0700.HK", Side.BUY, 200, Decimal("310"), Decimal("2"), T0)])
    store.append(tid, fl.round_trip("0700.HK", Side.SELL, 100, "320", "1", T0 + timedelta(days=1)))
    [pos] = store.list_positions(tid)
    assert pos.quantity == 200
    assert store.cash(tid) == Decimal("1000000") - 30001 - 62002 + 31999
    assert check_ledger(store, tid) == []


def test_cache_holds_only_open_orders(sqlite_url: str) -> None:
    store = SqlLedgerStore(sqlite_url)
    tid = new_trader(store)
    fl = Flow(tid)
    for i in range(50):
        store.buffer(tid, fl.round_trip("600519.SH", Side.BUY if i % 2 else Side.SELL, 100, "10", "1", T0))
    left_open = fl.submit("600519.SH", Side.BUY, 100, T0, price="9")
    store.buffer(tid, [left_open, OrderAccepted(T0, left_open.order_id)])
    store.flush()
    assert store._writer is not None
    assert list(store._writer.cache.orders) == [(tid, left_open.order_id)]  # 50 filled orders left it
    store.close()


@pytest.mark.parametrize("value", [
    datetime(2024, 3, 4, 9, 30), datetime(2024, 3, 4, 9, 30, 0, 1), datetime(1, 1, 1), datetime(999, 12, 31, 23, 59),
    datetime(2024, 3, 4, 9, 30, 5, 123456, tzinfo=timezone(timedelta(hours=8))),
])
def test_sqlite_datetime_text_matches_sqlalchemy(value: datetime) -> None:
    dialect = create_engine("sqlite://").dialect
    sa_proc = dialect.type_descriptor(t.orders.c.created.type).bind_processor(dialect)  # what Core binds
    assert sa_proc is not None
    assert sqlite_datetime(value) == sa_proc(value.replace(tzinfo=None))


def test_json_text_parses_back_to_the_same_payload() -> None:
    payload = {"kind": "order_submitted", "tag": "买入 ünïcode", "n": 2**70, "q": [1, None, True], "d": {"a": "1.5"}}
    assert json.loads(json_text(payload)) == payload  # 2**70 is beyond orjson: the stdlib fallback
    small = {k: v for k, v in payload.items() if k != "n"}
    assert json.loads(json_text(small)) == small


@pytest.mark.postgres
def test_writer_reconnects_after_the_server_dropped_it(pg_url: str) -> None:
    import psycopg

    store = SqlLedgerStore(pg_url)
    tid = new_trader(store)
    fl = Flow(tid)
    store.append(tid, [fl.submit("600519.SH", Side.BUY, 100, T0)])
    db = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                      "AND pid <> pg_backend_pid()", (db,))
    lost = fl.submit("600519.SH", Side.BUY, 100, T0)
    with pytest.raises(LedgerError):  # not acknowledged: the caller must not count it as stored
        store.append(tid, [lost])
    store.append(tid, [fl.submit("600519.SH", Side.BUY, 100, T0)])  # a fresh connection
    assert [e.order_id for e in store.events(tid)] == ["o1", "o3"]
    store.close()


def test_snapshots_keep_the_cache_and_record_the_last_event(store: SqlLedgerStore) -> None:
    tid = new_trader(store)
    fl = Flow(tid)
    store.append(tid, fl.round_trip("600519.SH", Side.BUY, 100, "10", "1", T0))
    assert store._writer is not None
    resets = store._writer.cache_resets
    store.snapshot(EquitySnapshot(tid, T0, Decimal("1000000.5"), Decimal("998999"), 3))
    store.append(tid, fl.round_trip("600519.SH", Side.SELL, 100, "11", "1", T0 + timedelta(days=1)))
    assert store._writer.cache_resets == resets  # a snapshot per slice must not cost the cache
    with store.connect() as conn:
        row = conn.execute(select(t.equity_snapshots).where(t.equity_snapshots.c.trader_id == tid)).mappings().one()
        last = conn.execute(select(t.order_events.c.seq).where(t.order_events.c.trader_id == tid)
                            .order_by(t.order_events.c.seq)).scalars().all()[2]
    assert (row["event_seq"], row["cursor"], row["equity"], row["cash"]) == (last, 3, Decimal("1000000.5"),
                                                                                Decimal("998999"))
    assert store.last_snapshot(tid) == EquitySnapshot(tid, T0, Decimal("1000000.5"), Decimal("998999"), 3)
    assert check_ledger(store, tid) == []
