"""History loading (COPY on PostgreSQL, executemany on SQLite) and the daily statistics view."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from ledger_testkit import T0, Flow, new_trader

from nofx.domain.enums import Side
from nofx.domain.fills import Fill
from nofx.persistence import DuplicateFillError, SqlLedgerStore, check_ledger


def _history(n: int) -> list[Fill]:
    out = []
    for i in range(n):
        day = T0 + timedelta(days=i // 2)
        side = Side.BUY if i % 2 == 0 else Side.SELL  # buy one day, sell half of it the next
        out.append(Fill(f"h{i}", f"ho{i}", "600519.SH", side, 200 if side is Side.BUY else 100,
                        Decimal("10.0001") + Decimal(i) / 100, Decimal("1.23"), day))
    # sells happen the day after the buy they need
    return sorted(out, key=lambda f: (f.ts, f.side is Side.SELL))


def test_bulk_insert_fast_path(store: SqlLedgerStore) -> None:
    tid = new_trader(store)
    fills = [Fill(f"b{i}", f"bo{i}", "0700.HK", Side.BUY, 100, Decimal("300.0001"), Decimal("0.5"),
                  T0 + timedelta(seconds=i)) for i in range(2000)]
    res = store.bulk_insert_fills(tid, fills)
    assert res.rows == 2000
    assert res.method == ("copy" if store.dialect == "postgresql" else "executemany")
    [pos] = store.list_positions(tid)
    assert pos.quantity == 200_000 and pos.avg_cost == Decimal("300.0001")
    assert store.cash(tid) == Decimal(1_000_000) - 2000 * (Decimal("30000.01") + Decimal("0.5"))
    got = []
    page = store.list_fills(tid, limit=1000)
    got += page.items
    page = store.list_fills(tid, after=page.next_cursor, limit=1000)
    got += page.items
    assert [f.to_fill() for f in got] == fills
    with pytest.raises(DuplicateFillError):  # against stored fills: nothing of the batch is written
        store.bulk_insert_fills(tid, [Fill("new", "x", "0700.HK", Side.BUY, 1, Decimal(1), Decimal(0), T0),
                                      fills[5]])
    with pytest.raises(DuplicateFillError):  # within the batch
        store.bulk_insert_fills(tid, [Fill("z", "x", "0700.HK", Side.BUY, 1, Decimal(1), Decimal(0), T0)] * 2)
    assert len(store.all_fills(tid)) == 2000
    assert check_ledger(store, tid) == []


def test_daily_stats(store: SqlLedgerStore) -> None:
    tid = new_trader(store)
    fl = Flow(tid)
    store.append(tid, fl.round_trip("600519.SH", Side.BUY, 300, "10", "1.5", T0))
    store.append(tid, fl.round_trip("600519.SH", Side.BUY, 100, "12", "0.5", T0 + timedelta(hours=1)))
    store.append(tid, fl.round_trip("600519.SH", Side.SELL, 200, "12.5", "2.25", T0 + timedelta(days=1)))
    stats = store.daily_stats(tid, refresh=True)
    assert [(s.day, s.trade_count, s.volume) for s in stats] == [(date(2024, 3, 4), 2, 400), (date(2024, 3, 5), 1, 200)]
    assert stats[0].turnover == Decimal(4200) and stats[0].fees == Decimal(2) and stats[0].realised_pnl == 0
    assert stats[1].turnover == Decimal(2500) and stats[1].realised_pnl == Decimal("400.0000")  # (12.5-10.5)*200
    # PostgreSQL reads a materialized view: new fills appear after a (concurrent) refresh
    store.append(tid, fl.round_trip("600519.SH", Side.SELL, 100, "13", "1", T0 + timedelta(days=2)))
    if store.dialect == "postgresql":
        assert len(store.daily_stats(tid)) == 2
        store.refresh_daily_stats()
    assert len(store.daily_stats(tid)) == 3


@pytest.mark.postgres
def test_materialized_view_refreshes_concurrently(pg_url: str) -> None:
    from sqlalchemy import text

    s = SqlLedgerStore(pg_url)
    tid = new_trader(s)
    s.bulk_insert_fills(tid, _history(40))
    with s.connect() as reader:
        # A reader holds the view in an open transaction (ACCESS SHARE lock). A plain REFRESH would wait
        # for it (ACCESS EXCLUSIVE); CONCURRENTLY does not.
        reader.begin()
        reader.execute(text("SELECT count(*) FROM daily_trading_stats")).scalar()
        worker = threading.Thread(target=s.refresh_daily_stats, daemon=True)
        worker.start()
        worker.join(timeout=20)
        blocked = worker.is_alive()
        reader.rollback()
        worker.join()
    assert not blocked, "refresh waited for a reader: not CONCURRENTLY"
    stats = s.daily_stats(tid)
    assert sum(x.trade_count for x in stats) == 40
    unique = s.connect()
    idx = unique.execute(text("SELECT indexdef FROM pg_indexes WHERE tablename = 'daily_trading_stats'")
                         ).scalars().all()
    unique.close()
    assert any("UNIQUE" in d and "trader_id, day" in d for d in idx)
    s.close()


def test_sqlite_plain_view_matches(sqlite_url: str) -> None:
    from sqlalchemy import text

    s = SqlLedgerStore(sqlite_url)
    tid = new_trader(s)
    s.bulk_insert_fills(tid, _history(10))
    exact = s.daily_stats(tid)
    with s.connect() as conn:
        rows = conn.execute(text("SELECT day, trade_count, turnover FROM daily_trading_stats "
                                 "WHERE trader_id = :t ORDER BY day"), {"t": tid}).all()
    assert [(r.day, r.trade_count) for r in rows] == [(x.day.isoformat(), x.trade_count) for x in exact]
    assert [round(r.turnover, 4) for r in rows] == [float(x.turnover) for x in exact]
    s.close()
