"""Backtests over HTTP: run in a background process, report progress and metrics, serve the HTML
report; another user's backtest is a 404."""

from __future__ import annotations

import time

from api_live_server import assert_error


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
