"""Ledger write throughput and latency, SQLite and PostgreSQL, every acknowledged event committed.

    .venv/bin/python benchmarks/bench_persistence.py [--n 2000] [--inserts 10000] [--pg-url URL | --no-pg]
                                                     [--write-path fast|projector|both]
                                                     [--sqlite-sync full|normal|both]

Every figure is labelled with what an acknowledged write survives: SQLite synchronous=FULL (the ledger's
default) a process crash and power loss; NORMAL (a named opt-in) a process crash only; PostgreSQL with
synchronous_commit=on (read from the server and printed) both.

For each database it prints:
* single commit: one ``append`` (OrderSubmitted) per transaction, acknowledged when it returns:
  appends/s, average and p99 latency, and the ratio to the design target (avg < 10 ms, p99 < 50 ms);
* 10,000 inserts, each acknowledged by its own commit, against the target of < 10 s;
* group commit: ``buffer`` + ``flush`` every 100 appends (acknowledged at flush): appends/s and the
  10,000-insert time against the same target; 4 threads calling ``append`` concurrently (shared
  transactions): appends/s;
* bulk history: 10,000 fills through ``bulk_insert_fills`` (PostgreSQL COPY / SQLite executemany);
* peer: the raw driver inserting the same JSON payload into a bare table with one commit each, in the
  same run: the floor a durable commit costs on this machine, and the store's overhead as a ratio.
Ratios < 1 meet the target. The PostgreSQL part runs in a throw-away database and is skipped with a
message when no server answers. ``--write-path both`` (the default) measures the earlier SQLAlchemy Core
Projector path first and the fast write path after it, in the same run, and prints the speed-ups.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from rich.progress import track

from nofx.domain.enums import OrderType, Side
from nofx.domain.events import OrderSubmitted
from nofx.domain.fills import Fill
from nofx.domain.orders import OrderRequest
from nofx.engine.store import TraderRecord
from nofx.persistence import SqlLedgerStore

T0 = datetime(2024, 3, 4, 9, 30)
TARGET_AVG_MS, TARGET_P99_MS, TARGET_10K_S = 10.0, 50.0, 10.0


def _trader(store: SqlLedgerStore) -> str:
    tid = f"bench-{uuid.uuid4().hex[:8]}"
    store.create_trader(TraderRecord(tid, Decimal("1e9"), "cn", "{}", T0))
    return tid


class _Orders:
    def __init__(self, tid: str) -> None:
        self.tid, self.i = tid, 0

    def next(self) -> OrderSubmitted:
        self.i += 1
        req = OrderRequest("600519.SH", Side.BUY, 100, OrderType.LIMIT, Decimal("1700.01"),
                           client_order_id=f"c{self.i}")
        return OrderSubmitted(T0 + timedelta(milliseconds=self.i), f"o{self.i}", self.tid, req)


def _single(store: SqlLedgerStore, n: int, label: str) -> list[float]:
    gen = _Orders(_trader(store))
    lat = []
    for _ in track(range(n), description=label, transient=True):
        ev = gen.next()
        t = time.perf_counter()
        store.append(gen.tid, [ev])
        lat.append(time.perf_counter() - t)
    return lat


def _buffered(store: SqlLedgerStore, n: int, every: int) -> float:
    gen = _Orders(_trader(store))
    t = time.perf_counter()
    for i in range(n):
        store.buffer(gen.tid, [gen.next()])
        if (i + 1) % every == 0:
            store.flush()
    store.flush()
    return n / (time.perf_counter() - t)


def _threaded(store: SqlLedgerStore, n: int, threads: int) -> float:
    gens = [_Orders(_trader(store)) for _ in range(threads)]

    def work(g: _Orders) -> None:
        for _ in range(n // threads):
            store.append(g.tid, [g.next()])

    ths = [threading.Thread(target=work, args=(g,)) for g in gens]
    t = time.perf_counter()
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    return (n // threads) * threads / (time.perf_counter() - t)


def _bulk(store: SqlLedgerStore, n: int) -> tuple[float, str]:
    tid = _trader(store)
    fills = [Fill(f"f{i}", f"o{i}", "600519.SH", Side.BUY, 100, Decimal("1700.01"), Decimal("5.1"),
                  T0 + timedelta(seconds=i)) for i in range(n)]
    res = store.bulk_insert_fills(tid, fills)
    return res.seconds, res.method


def _raw_peer(url: str, n: int, sync: str = "FULL") -> list[float]:
    """Raw driver, same payload, one commit per row: the cost floor of a durable commit here."""
    payload = json.dumps(_Orders("peer").next().to_dict())
    lat = []
    if url.startswith("sqlite"):
        import sqlite3

        path = url.removeprefix("sqlite:///")
        conn = sqlite3.connect(path + ".peer", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={'FULL' if sync == 'FULL' else 'NORMAL'}")
        conn.execute("CREATE TABLE IF NOT EXISTS ev (seq INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
        for _ in range(n):
            t = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO ev (payload) VALUES (?)", (payload,))
            conn.execute("COMMIT")
            lat.append(time.perf_counter() - t)
        conn.close()
    else:
        import psycopg

        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS bench_peer_ev (seq BIGSERIAL PRIMARY KEY, payload JSONB NOT NULL)")
            conn.commit()
            for _ in range(n):
                t = time.perf_counter()
                conn.execute("INSERT INTO bench_peer_ev (payload) VALUES (%s)", (payload,))
                conn.commit()
                lat.append(time.perf_counter() - t)
    return lat


def _p99(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=100)[98]


def bench(name: str, url: str, n: int, inserts: int, write_path: str = "fast",
          sync: str | None = None) -> dict[str, float]:
    """Prints the figures and returns the headline ones (for the speed-up lines)."""
    from nofx.persistence.connection import SQLITE_SYNC_SETTINGS

    store = SqlLedgerStore(url, write_path=write_path, sqlite_synchronous=sync)  # type: ignore[arg-type]
    print(f"\n== {name}: {store!r}")
    if store.sqlite_synchronous is not None:
        print(f"an acknowledged append: {SQLITE_SYNC_SETTINGS[store.sqlite_synchronous]}")
    else:
        with store.connect() as conn:
            setting = conn.exec_driver_sql("SHOW synchronous_commit").scalar()
        print(f"an acknowledged append: synchronous_commit={setting}: "
              + ("survives process crash and power loss" if setting == "on" else "does NOT survive power loss"))
    lat = _single(store, n, f"{name} single")
    avg_ms, p99_ms = statistics.fmean(lat) * 1000, _p99(lat) * 1000
    print(f"single commit     : {1 / statistics.fmean(lat):8.0f} appends/s   avg {avg_ms:6.2f} ms "
          f"(target ratio {avg_ms / TARGET_AVG_MS:.3f})   "
          f"p99 {p99_ms:6.2f} ms (target ratio {p99_ms / TARGET_P99_MS:.3f})")
    t = time.perf_counter()
    _single(store, inserts, f"{name} {inserts} inserts")
    t10k = time.perf_counter() - t
    print(f"{inserts} inserts     : {t10k:8.2f} s, each acknowledged by its own commit "
          f"(10,000 scaled: {t10k * 10_000 / inserts:.2f} s, "
          f"target ratio {t10k * 10_000 / inserts / TARGET_10K_S:.3f})")
    group_rate = _buffered(store, n, 100)
    print(f"group commit 100  : {group_rate:8.0f} appends/s (buffer + flush every 100)")
    rate = _buffered(store, inserts, 100)
    t10k_group = inserts / rate
    print(f"{inserts} inserts     : {t10k_group:8.2f} s with group commit (acknowledged at each flush of 100; "
          f"10,000 scaled: {t10k_group * 10_000 / inserts:.2f} s, "
          f"target ratio {t10k_group * 10_000 / inserts / TARGET_10K_S:.3f})")
    threaded = _threaded(store, n, 4)
    print(f"4 threads append  : {threaded:8.0f} appends/s (leader/follower shared transactions)")
    secs, method = _bulk(store, inserts)
    print(f"bulk {inserts} fills: {secs:8.2f} s via {method} ({inserts / secs:.0f} fills/s)")
    store.close()
    peer = _raw_peer(url, n, store.sqlite_synchronous or "FULL")
    peer_avg = statistics.fmean(peer) * 1000
    print(f"peer raw driver   : {1000 / peer_avg:8.0f} inserts/s   avg {peer_avg:6.2f} ms   "
          f"store/raw latency ratio {avg_ms / peer_avg:.2f}")
    return {"single appends/s": 1000 / avg_ms, "single p99 ms": p99_ms, "10k inserts s": t10k * 10_000 / inserts,
            "group-100 appends/s": group_rate, "10k group inserts s": t10k_group * 10_000 / inserts,
            "4 threads appends/s": threaded}


def _speedups(name: str, results: dict[str, dict[str, float]]) -> None:
    if set(results) != {"projector", "fast"}:
        return
    old, new = results["projector"], results["fast"]
    print(f"-- {name}: fast vs projector (same run; > 1 is faster)")
    for key in old:
        lower_is_better = key.endswith(" s") or key.endswith(" ms")
        ratio = old[key] / new[key] if lower_is_better else new[key] / old[key]
        print(f"   {key:22s}: {old[key]:10.2f} -> {new[key]:10.2f}   x{ratio:.2f}")


def _paths(choice: str) -> list[str]:
    return ["projector", "fast"] if choice == "both" else [choice]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="appends for latency / group-commit figures")
    ap.add_argument("--inserts", type=int, default=10_000)
    ap.add_argument("--pg-url", default=None, help="server to create a throw-away database on "
                                                   "[default postgresql+psycopg://postgres@127.0.0.1:5432]")
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--write-path", choices=["fast", "projector", "both"], default="both")
    ap.add_argument("--sqlite-sync", choices=["full", "normal", "both"], default="both")
    args = ap.parse_args()
    syncs = ["FULL", "NORMAL"] if args.sqlite_sync == "both" else [args.sqlite_sync.upper()]
    for sync in syncs:
        name = f"SQLite (WAL, synchronous={sync})"
        results = {}
        for wp in _paths(args.write_path):
            with tempfile.TemporaryDirectory() as tmp:
                results[wp] = bench(name, f"sqlite:///{Path(tmp) / 'bench.db'}", args.n, args.inserts, wp, sync)
        _speedups(name, results)
    if args.no_pg:
        return
    try:
        import psycopg
        from psycopg import sql

        base = args.pg_url or "postgresql+psycopg://postgres@127.0.0.1:5432"
        admin_dsn = base.replace("postgresql+psycopg://", "postgresql://").rstrip("/") + "/postgres"
        admin = psycopg.connect(admin_dsn, autocommit=True, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001
        print(f"\n== PostgreSQL skipped: no server answers ({exc})")
        return
    name = "PostgreSQL (synchronous_commit=on)"
    results = {}
    try:
        for wp in _paths(args.write_path):
            db = f"nofx_bench_{uuid.uuid4().hex[:8]}"
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
            try:
                results[wp] = bench(name, f"{base.rstrip('/')}/{db}", args.n, args.inserts, wp)
            finally:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
    finally:
        admin.close()
    _speedups(name, results)


if __name__ == "__main__":
    main()
