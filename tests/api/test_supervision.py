"""The trader supervisor: a worker that dies is restarted from its ledger (no slice processed twice, no
order lost), stop/start resumes where the ledger stands, and a trader whose config cannot run fails
with its reason instead of restarting forever."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from api_live_server import new_trader
from sqlalchemy import select

from nofx.persistence import schema as t
from nofx.strategies.base import Strategy, StrategyParams
from nofx.strategies.registry import REGISTRY


class _Crash(StrategyParams):
    at_slice: int = 30


class CrashOnce(Strategy):
    """Raises once, at its ``at_slice``-th slice of the first run (a bug in user code, a killed worker)."""

    name = "crash_once_for_tests"
    Params = _Crash
    crashed = threading.Event()

    def __init__(self, params: _Crash | None = None) -> None:
        super().__init__(params)
        self._n = 0

    def on_slice(self, view, portfolio):  # type: ignore[no-untyped-def]
        self._n += 1
        if self._n == self.params.at_slice and not CrashOnce.crashed.is_set():
            CrashOnce.crashed.set()
            raise RuntimeError("strategy blew up")
        return ()


@pytest.fixture
def crash_strategy() -> Iterator[None]:
    REGISTRY.register(CrashOnce)  # type: ignore[type-abstract]
    CrashOnce.crashed.clear()
    yield
    REGISTRY._by_name.pop(CrashOnce.name, None)


def _wait(c, tid: str, states: set[str], timeout: float = 60) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        got = c.get(f"/api/v1/traders/{tid}").json()
        if got["state"] in states:
            return got
        assert time.monotonic() < deadline, got
        time.sleep(0.1)


def _cursors(server, tid: str) -> list[int]:  # type: ignore[no-untyped-def]
    e = t.equity_snapshots
    with server.svc.store.connect() as conn:
        return [r.cursor for r in conn.execute(select(e.c.cursor).where(e.c.trader_id == tid).order_by(e.c.id))]


def test_a_crashed_worker_is_restarted_from_its_ledger(server, crash_strategy) -> None:  # type: ignore[no-untyped-def]
    c = server.user_client("crashy")
    tid = new_trader(c, start=True, strategy="crash_once_for_tests", params={"at_slice": 30}, speed=0)
    got = _wait(c, tid, {"finished", "failed"})
    assert CrashOnce.crashed.is_set() and got["state"] == "finished", got
    assert "strategy blew up" in (got["error"] or "")  # the last failure is reported
    cursors = _cursors(server, tid)
    assert cursors == list(range(len(cursors))) and len(cursors) > 30  # resumed after the last committed slice; none twice


def test_stop_then_start_resumes(server) -> None:  # type: ignore[no-untyped-def]
    c = server.user_client("stopper")
    tid = new_trader(c, start=True, speed=86400 * 10)
    time.sleep(1.0)
    assert c.post(f"/api/v1/traders/{tid}/stop").json()["state"] == "stopped"
    before = _cursors(server, tid)
    assert before
    assert c.post(f"/api/v1/traders/{tid}/start").json()["state"] == "running"
    time.sleep(1.0)
    c.post(f"/api/v1/traders/{tid}/stop")
    after = _cursors(server, tid)
    assert after[: len(before)] == before and after == list(range(len(after))) and len(after) > len(before)


def test_unrunnable_config_fails_with_its_reason(server) -> None:  # type: ignore[no-untyped-def]
    c = server.user_client("bad_dates")
    tid = new_trader(c)
    c.patch(f"/api/v1/traders/{tid}", json={"config": {"strategy": "dual_ma", "symbols": ["600519.SH"],
                                                        "start": "2030-01-01"}})
    r = c.post(f"/api/v1/traders/{tid}/start").json()
    assert r["state"] == "failed" and r["error"], r
