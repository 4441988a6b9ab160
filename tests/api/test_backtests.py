"""Backtests over HTTP: run in a background process, report progress and metrics, serve the HTML
report; another user's backtest is a 404."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from api_live_server import Served, assert_error, login_at, nofx_cli


def test_backtest_runs_in_the_background(server) -> None:  # type: ignore[no-untyped-def]
    c = server.user_client("quant")
    other = server.user_client("spy")
    r = c.post("/api/v1/backtests", json={"strategy": "dual_ma", "params": {"fast": 5, "slow": 20, "size": 100},
                                          "symbols": ["600519"], "start": "2020-01-01", "end": "2020-12-31",
                                          "cash": "1000000"})
    assert r.status_code == 202, r.text
    bid = r.json()["id"]
    seen = set()
    deadline = time.monotonic() + 120
    while True:
        b = c.get(f"/api/v1/backtests/{bid}").json()
        seen.add(b["status"])
        assert 0.0 <= b["progress"] <= 1.0
        if b["status"] in ("done", "failed"):
            break
        assert time.monotonic() < deadline, b
        time.sleep(0.25)
    assert b["status"] == "done", b
    assert b["progress"] == 1.0 and b["metrics"]["n_trades"] > 0 and "sharpe" in b["metrics"]
    report = c.get(f"/api/v1/backtests/{bid}/report")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert "plotly" in report.text.lower()
    assert [x["backtest_id"] for x in c.get("/api/v1/backtests").json()] == [bid]
    assert_error(other.get(f"/api/v1/backtests/{bid}"), 404)
    assert_error(other.get(f"/api/v1/backtests/{bid}/report"), 404)
    assert other.get("/api/v1/backtests").json() == []


def test_bad_backtests_are_refused_up_front(server) -> None:  # type: ignore[no-untyped-def]
    c = server.user_client("quant2")
    err = assert_error(c.post("/api/v1/backtests", json={"strategy": "dual_ma", "symbols": ["600519"],
                                                         "params": {"slow": -3}}), 422)
    assert "slow" in err["message"]
    err = assert_error(c.post("/api/v1/backtests", json={"strategy": "dual_ma", "symbols": ["600519"],
                                                         "start": "2021-01-01", "end": "2020-01-01"}), 422)
    assert err["details"]["field"] == "start"
    err = assert_error(c.post("/api/v1/backtests", json={"strategy": "dual_ma", "symbols": []}), 422)
    assert err["details"][0]["field"] == "symbols"


@pytest.mark.slow
def test_backtests_interrupted_by_a_killed_server_are_requeued_after_restart(tmp_path: Path) -> None:
    """A real ``nofx serve`` process is SIGKILLed (with its backtest worker) while one backtest runs and
    others wait in the queue; the restarted server queues them again and every one completes."""
    import psutil

    assert nofx_cli(tmp_path, "user", "create", "alice").returncode == 0
    body = {"strategy": "dual_ma", "params": {"fast": 5, "slow": 20, "size": 100},
            "symbols": ["600519", "000001.SZ", "601318.SH", "000858.SZ", "600036.SH"],
            "start": "2019-01-01", "end": "2021-12-31", "cash": "1000000"}
    srv = Served(tmp_path)
    try:
        h = {"Authorization": f"Bearer {login_at(srv.url, 'alice')['access_token']}"}
        ids = []
        for _ in range(3):  # one backtest worker process: one runs, the others wait
            r = httpx.post(srv.url + "/api/v1/backtests", json=body, headers=h)
            assert r.status_code == 202, r.text
            ids.append(r.json()["id"])
        deadline = time.monotonic() + 120
        while httpx.get(srv.url + f"/api/v1/backtests/{ids[0]}", headers=h).json()["status"] != "running":
            assert time.monotonic() < deadline, "the first backtest never started"
            time.sleep(0.1)
        before = {i: httpx.get(srv.url + f"/api/v1/backtests/{i}", headers=h).json()["status"] for i in ids}
    finally:
        family = [srv.proc.pid] + [p.pid for p in psutil.Process(srv.proc.pid).children(recursive=True)]
        for pid in family:  # the crash takes the server and its backtest worker down at once
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        srv.proc.wait(30)
    assert before[ids[0]] == "running" and before[ids[2]] == "queued", before
    srv = Served(tmp_path)
    try:
        h = {"Authorization": f"Bearer {login_at(srv.url, 'alice')['access_token']}"}
        deadline = time.monotonic() + 300
        while True:
            states = [httpx.get(srv.url + f"/api/v1/backtests/{i}", headers=h).json() for i in ids]
            if all(s["status"] in ("done", "failed") for s in states):
                break
            assert time.monotonic() < deadline, states
            time.sleep(0.5)
        assert [s["status"] for s in states] == ["done"] * 3, states
        assert all(s["metrics"]["n_trades"] > 0 and s["progress"] == 1.0 for s in states)
        assert httpx.get(srv.url + f"/api/v1/backtests/{ids[0]}/report", headers=h).status_code == 200
    finally:
        assert srv.stop()
