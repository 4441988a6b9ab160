"""Kill -9 a writer mid-stream: every append it acknowledged is stored exactly once, the rest is either
fully there or absent, and the ledger is consistent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from ledger_testkit import new_trader

from nofx.domain.events import OrderSubmitted
from nofx.persistence import SqlLedgerStore, check_ledger

CHILD = Path(__file__).with_name("ledger_writer_child.py")
REPO = Path(__file__).resolve().parents[2]


def _kill_writer_midway(url: str, trader_id: str, acks_before_kill: int, group: int = 1) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(CHILD), url, trader_id, str(group)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    acked: list[str] = []
    deadline = time.monotonic() + 120
    assert proc.stdout is not None
    try:
        while len(acked) < acks_before_kill:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(f"writer died: {proc.stderr.read() if proc.stderr else ''}")
            if line.startswith("ack "):
                acked.append(line.split()[1])
            assert time.monotonic() < deadline, "writer too slow"
        proc.send_signal(signal.SIGKILL)  # while it is in the middle of further appends
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    acked += [ln.split()[1] for ln in rest.splitlines() if ln.startswith("ack ")]
    return acked


def _check_after_restart(url: str, group: int = 1) -> None:
    setup = SqlLedgerStore(url)
    tid = new_trader(setup, initial="100000000")
    setup.close()
    acked = _kill_writer_midway(url, tid, acks_before_kill=40, group=group)
    store = SqlLedgerStore(url)  # "restart"
    events = store.events(tid)
    submitted = Counter(e.order_id for e in events if isinstance(e, OrderSubmitted))
    assert all(submitted[oid] == 1 for oid in acked), "an acknowledged order is missing or duplicated"
    assert max(submitted.values()) == 1
    # every append is all-or-nothing: three events per stored order, no half-written tail
    assert len(events) == 3 * len(submitted)
    assert check_ledger(store, tid) == []
    store.close()


def test_sqlite_sigkill_loses_nothing_acknowledged(sqlite_url: str) -> None:
    _check_after_restart(sqlite_url)


@pytest.mark.postgres
def test_postgres_sigkill_loses_nothing_acknowledged(pg_url: str) -> None:
    _check_after_restart(pg_url)


def test_sqlite_group_commit_sigkill_loses_nothing_acknowledged(sqlite_url: str) -> None:
    """buffer + flush every 7 flows, acknowledged after each flush: what the engine benchmark measures."""
    _check_after_restart(sqlite_url, group=7)


@pytest.mark.postgres
def test_postgres_group_commit_sigkill_loses_nothing_acknowledged(fresh_pg_url: str) -> None:
    _check_after_restart(fresh_pg_url, group=7)
