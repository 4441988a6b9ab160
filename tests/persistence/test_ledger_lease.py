"""One process per trader: the per-trader lease, with real processes on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from ledger_testkit import T0, Flow, new_trader
from sqlalchemy import create_engine, insert, select, update

from nofx.domain.enums import Side
from nofx.persistence import SqlLedgerStore, check_ledger
from nofx.persistence import schema as t
from nofx.persistence.lease import LeaseLostError, TraderBusyError, utc_now

REPO = Path(__file__).resolve().parents[2]


def _paper(db: str, trader: str, data: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "nofx.cli.main", "paper", "--db", db, "--trader", trader, "--resume",
            "--strategy", "dual_ma", "--symbols", "600519.SH,002475.SZ", "--data", str(data),
            "--params", "fast=3,slow=10,size=200", "--no-progress", *extra]


def _lease_row(db: str, trader: str):  # type: ignore[no-untyped-def]
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            return conn.execute(select(t.trader_leases).where(t.trader_leases.c.trader_id == trader)).first()
    except Exception:  # noqa: BLE001 - the schema is not there yet
        return None
    finally:
        engine.dispose()


def _wait_for_lease(db: str, trader: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        if _lease_row(db, trader) is not None:
            return
        time.sleep(0.1)
    raise AssertionError("the first process never took the lease")


def test_second_process_exits_at_once_and_a_killed_holder_is_taken_over(db_url: str, cn_daily_path: Path) -> None:
    trader = f"lease-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # paced: one daily bar every 100 ms, so the first run is still going when the second starts
    first = subprocess.Popen(_paper(db_url, trader, cn_daily_path, "--speed", str(86400 * 10)), env=env, cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for_lease(db_url, trader, first)
        t0 = time.monotonic()
        second = subprocess.run(_paper(db_url, trader, cn_daily_path), env=env, cwd=REPO, capture_output=True,
                                text=True, timeout=120)
        took = time.monotonic() - t0
        assert first.poll() is None, "the first run must still be running"
        assert second.returncode == 2, second.stdout + second.stderr
        err = " ".join(second.stderr.split())
        assert f"trader {trader} is already running" in err and f"pid={first.pid}" in err, err
        assert "since=" in err and "host=" in err and "Traceback" not in err
        assert "started" not in second.stdout and "resumed" not in second.stdout
        assert took < 60
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # the killed holder's row stays behind; its pid is gone on this host: the restart takes it over at once
    row = _lease_row(db_url, trader)
    assert row is not None and row.pid == first.pid
    done = subprocess.run(_paper(db_url, trader, cn_daily_path, "--stop-after", "20"), env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"resumed {trader}" in " ".join(done.stdout.split())
    assert _lease_row(db_url, trader) is None  # released at the end
    with SqlLedgerStore(db_url) as store:
        assert check_ledger(store, trader) == []


def _plant_lease(store: SqlLedgerStore, trader: str, host: str, age: timedelta, pid: int = 4242) -> None:
    with store.connect() as conn:
        now = utc_now()
        conn.execute(insert(t.trader_leases).values(trader_id=trader, owner="someone-else", pid=pid, host=host,
                                                    since=now - age, heartbeat=now - age))
        conn.commit()


def test_stale_lease_of_another_host_is_taken_over_and_a_live_one_is_not(store: SqlLedgerStore) -> None:
    stale, live = f"s-{uuid.uuid4().hex[:8]}", f"l-{uuid.uuid4().hex[:8]}"
    _plant_lease(store, stale, "other-host", timedelta(minutes=5))
    _plant_lease(store, live, "other-host", timedelta(seconds=1))
    with store.lease(stale, ttl_s=30) as lease:
        assert lease.taken_over is not None and lease.taken_over.host == "other-host"
        with pytest.raises(TraderBusyError) as err:  # now ours, and alive: nobody else gets it
            store.lease(stale, ttl_s=30).acquire()
        assert f"pid={os.getpid()}" in str(err.value)
    with pytest.raises(TraderBusyError) as err:
        store.lease(live, ttl_s=30).acquire()
    assert str(err.value).startswith(f"trader {live} is already running (pid=4242, host=other-host, since=")


def test_lease_taken_over_behind_a_stalled_writer_stops_its_writes(store: SqlLedgerStore) -> None:
    tid = new_trader(store)
    fl = Flow(tid)
    lease = store.lease(tid, ttl_s=30)
    lease.acquire()
    try:
        store.append(tid, fl.round_trip("600519.SH", Side.BUY, 100, "10", "1", T0))
        with store.connect() as conn:  # another process found us stale and took over
            conn.execute(update(t.trader_leases).where(t.trader_leases.c.trader_id == tid).values(owner="new-owner"))
            conn.commit()
        assert lease.beat() is False
        with pytest.raises(LeaseLostError):
            store.append(tid, fl.round_trip("600519.SH", Side.SELL, 100, "10", "1", T0 + timedelta(days=1)))
        assert len(store.all_fills(tid)) == 1
    finally:
        lease.release()
    assert _lease_row(store.url, tid).owner == "new-owner"  # release never deletes another owner's row
