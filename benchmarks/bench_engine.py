"""The engine's order path, measured in-process and durably.

1. In-process (no database): submit -> risk -> OMS -> router -> venue -> fill -> ledger update, one order
   at a time: per-order latency (p50/p99), orders/second and us per order, wall and CPU time (the machine
   is shared). Goals (issue 15): p99 < 50 us, > 50,000 orders/s.
2. Durable: the same path with every acknowledged order committed to SQLite (and PostgreSQL when one
   answers at 127.0.0.1:5432): orders/second with per-order commits and with group commits (an order
   is acknowledged only after its batch's commit). Each figure says what an acknowledged order survives:
   SQLite synchronous=FULL (the default) a process crash and power loss, NORMAL a process crash only;
   PostgreSQL with synchronous_commit=on (checked and printed) both. Goals: SQLite FULL with group commit
   > 10,000 orders/s, PostgreSQL > 5,000 orders/s. The older design target (average submission latency
   < 10 ms, p99 < 50 ms, 10,000 inserts < 10 s) is printed as a ratio.
3. One million orders through the engine: resident memory growth after warm-up. Goal: < 50 MB.

    python benchmarks/bench_engine.py [--orders 20000] [--durable-orders 10000] [--million 1000000]
                                      [--only in-process|durable|million]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from decimal import Decimal

import psutil
from common import line  # noqa: F401  (sets sys.path)

from nofx.domain.enums import OrderType, Side
from nofx.domain.fills import Fill
from nofx.domain.orders import OrderRequest
from nofx.engine.risk import RiskConfig
from tests.engine.harness import ManualMarket, make_engine

SYM = "000001.SZ"
_AFTER = timedelta(microseconds=1)
RISK = RiskConfig(max_orders_per_window=10**9, max_orders_per_symbol_window=10**9, rate_window_seconds=1.0,
                  max_order_value=Decimal("1000000"), max_position_value=Decimal("10000000000"),
                  max_price_deviation=0.1, max_open_orders=1000)


def _engine(store=None):
    market = ManualMarket(t=datetime(2021, 6, 1, 9, 30), prices={SYM: Decimal("20.00")},
                          bands={SYM: (Decimal("18.00"), Decimal("22.00"))})
    eng, venue, m = make_engine(cash="10000000000", risk=RISK, store=store, market=market)
    # an old position so that sells are T+1-legal: orders alternate buy and sell, the book stays flat
    eng.portfolio.apply_fill(Fill("seed", "seed", SYM, Side.BUY, 10**8, Decimal(20), Decimal(0),
                                  m.now() - timedelta(days=1)), lock_until_next_day=False)
    eng.bound_history()
    return eng, venue, m


def _check_flow(eng) -> None:
    """The benchmark must measure orders that fill, not denials."""
    if eng.rejections:
        raise SystemExit(f"benchmark orders were refused: {eng.rejections[-1]}")


def _one(eng, venue, m, k: int) -> None:
    side = Side.BUY if k % 2 == 0 else Side.SELL
    eng.submit(OrderRequest(SYM, side, 100, OrderType.LIMIT, Decimal("20.00")))
    venue.on_tick(SYM, m.now() + _AFTER, 20.0, 100)  # a trade print just after the order arrived
    m.t += timedelta(microseconds=50)  # time moves, so the sliding-window rate checks do real work


def in_process(n: int) -> None:
    eng, venue, m = _engine()
    for k in range(2000):  # warm-up
        _one(eng, venue, m, k)
    lat = []
    t0, c0 = time.perf_counter(), time.process_time()
    for k in range(n):
        a = time.perf_counter_ns()
        _one(eng, venue, m, k)
        lat.append(time.perf_counter_ns() - a)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    _check_flow(eng)
    lat.sort()
    p50, p99 = lat[len(lat) // 2] / 1000, lat[int(len(lat) * 0.99)] / 1000
    line("in-process order path: orders (each fills)", f"{n:,}")
    line("  latency p50 / p99 (goal p99 < 50 us)", f"{p50:.1f} us / {p99:.1f} us  (ratio to goal {50 / p99:.2f}x)")
    line("  throughput, wall (goal > 50,000 orders/s)",
         f"{n / dt:,.0f} orders/s = {dt / n * 1e6:.1f} us per order  (ratio to goal {n / dt / 50000:.2f}x)")
    line("  throughput, CPU time", f"{n / dc:,.0f} orders/s = {dc / n * 1e6:.1f} us per order")


def durable(url: str, label: str, n: int, group: int, write_path: str = "fast", sync: str | None = None,
            goal: float = 5000) -> None:
    from nofx.engine.store import TraderRecord
    from nofx.persistence.connection import SQLITE_SYNC_SETTINGS
    from nofx.persistence.store import SqlLedgerStore

    store = SqlLedgerStore(url, write_path=write_path, sqlite_synchronous=sync)  # type: ignore[arg-type]
    if store.sqlite_synchronous is not None:
        label = f"{label} synchronous={store.sqlite_synchronous}"
        survives = SQLITE_SYNC_SETTINGS[store.sqlite_synchronous]
    else:
        with store.connect() as conn:
            setting = conn.exec_driver_sql("SHOW synchronous_commit").scalar()
        label = f"{label} synchronous_commit={setting}"
        survives = ("survives process crash and power loss (WAL flushed at commit)" if setting == "on"
                    else "does NOT survive power loss")
    store.create_trader(TraderRecord("t", Decimal("10000000000"), "cn", "{}", datetime.now()))
    buffered = _BufferedStore(store) if group > 1 else store
    eng, venue, m = _engine(buffered)
    lat = []
    t0 = time.perf_counter()
    for k in range(n):
        a = time.perf_counter_ns()
        _one(eng, venue, m, k)
        if group > 1 and (k + 1) % group == 0:
            store.flush()  # the batch's orders are acknowledged only after this commit
        lat.append(time.perf_counter_ns() - a)
    store.flush()
    dt = time.perf_counter() - t0
    store.close()
    lat.sort()
    mean_ms = statistics.fmean(lat) / 1e6
    p99_ms = lat[int(len(lat) * 0.99)] / 1e6
    per10k = dt / n * 10_000
    mode = "per-order commit" if group <= 1 else f"group commit of {group}"
    line(f"durable {label}, {mode} [{write_path}]",
         f"{n / dt:,.0f} orders/s = {dt / n * 1e6:.0f} us per order, acknowledged after commit  "
         f"(goal > {goal:,.0f}: ratio {n / dt / goal:.2f}x)")
    line("  an acknowledged order", survives)
    line("  mean / p99 per order (old target 10 ms / 50 ms)",
         f"{mean_ms:.3f} ms / {p99_ms:.3f} ms  (ratios {10 / mean_ms:,.0f}x / {50 / p99_ms:,.0f}x)")
    line("  time for 10,000 orders (old target 10 s)", f"{per10k:.2f} s  (ratio {10 / per10k:,.0f}x)")


class _BufferedStore:
    """Routes the engine's appends into the store's group-commit buffer."""

    def __init__(self, store) -> None:
        self._s = store

    def append(self, trader_id, events) -> None:
        self._s.buffer(trader_id, events)


def million(n: int) -> None:
    eng, venue, m = _engine()
    proc = psutil.Process(os.getpid())
    warm = min(100_000, n // 10)
    for k in range(warm):
        _one(eng, venue, m, k)
    gc.collect()
    base = proc.memory_info().rss
    t0 = time.perf_counter()
    for k in range(warm, n):
        _one(eng, venue, m, k)
        if k % 50_000 == 0:
            eng.oms.prune_closed()
    eng.oms.prune_closed()
    gc.collect()
    grown = (proc.memory_info().rss - base) / 2**20
    line(f"{n:,} orders through the engine: time", f"{time.perf_counter() - t0:.1f} s")
    line("  resident memory growth after warm-up (goal < 50 MB)", f"{grown:.1f} MB")


def _pg_url(probe: bool = False) -> str | None:
    try:
        import psycopg

        name = f"nofx_bench_{os.getpid()}_{time.perf_counter_ns()}"
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True, connect_timeout=2) as c:
            if probe:
                return "ok"
            c.execute(f'CREATE DATABASE "{name}"')  # name is ours, not user input
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    except Exception:
        return None


def _drop_pg(*urls: str) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        for url in urls:
            c.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')  # our own names


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=20_000)
    ap.add_argument("--durable-orders", type=int, default=10_000)
    ap.add_argument("--million", type=int, default=1_000_000)
    ap.add_argument("--only", choices=["in-process", "durable", "million"], default=None,
                    help="run one part only")
    ap.add_argument("--write-path", choices=["fast", "projector", "both"], default="fast",
                    help="ledger write path for the durable part; 'both' also runs the earlier Projector "
                         "path in the same run as the baseline")
    a = ap.parse_args()
    print("== engine: order path ==")
    if a.only in (None, "in-process"):
        in_process(a.orders)
    if a.only in (None, "durable"):
        paths = ["projector", "fast"] if a.write_path == "both" else [a.write_path]
        # per-order commits pay one fsync each under FULL: fewer orders keep the run short
        single = min(a.durable_orders, 1000)
        with tempfile.TemporaryDirectory() as d:
            for sync in ("FULL", "NORMAL"):
                for group in (1, 100):
                    for wp in paths:
                        durable(f"sqlite:///{d}/bench-{sync}-{wp}-{group}.db", "SQLite",
                                single if group == 1 else a.durable_orders, group, wp, sync, goal=10_000)
        if _pg_url(probe=True):
            for group in (1, 100):
                for wp in paths:
                    pg = _pg_url()
                    assert pg is not None
                    try:
                        durable(pg, "PostgreSQL", single if group == 1 else a.durable_orders, group, wp)
                    finally:
                        _drop_pg(pg)
        else:
            line("durable PostgreSQL", "skipped: no server at 127.0.0.1:5432")
    if a.only in (None, "million"):
        million(a.million)


if __name__ == "__main__":
    main()
