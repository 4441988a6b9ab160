"""Structured logs: one order followed by its ids from the HTTP request through the engine to the ledger
and its fill, in the JSON lines of a real ``nofx serve --log-json`` process."""

from __future__ import annotations

import io
import json
import logging
import os
import time
from pathlib import Path

import api_live_server as live
import httpx
import pytest


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.slow
def test_one_order_is_followed_from_request_to_fill(tmp_path: Path) -> None:
    assert live.nofx_cli(tmp_path, "user", "create", "alice").returncode == 0
    srv = live.Served(tmp_path, "--log-json", "--log-level", "debug")
    try:
        tokens = live.login_at(srv.url, "alice")
        h = {"Authorization": f"Bearer {tokens['access_token']}"}
        body = {"name": "logs", "config": {**live.TRADER["config"], "speed": 86400 * 5}}
        tid = httpx.post(srv.url + "/api/v1/traders", json=body, headers=h).json()["trader_id"]
        assert httpx.post(srv.url + f"/api/v1/traders/{tid}/start", headers=h, timeout=60).status_code == 200
        r = httpx.post(srv.url + "/api/v1/orders", headers={**h, "X-Request-ID": "req-follow-1"},
                       json={"trader_id": tid, "client_order_id": "log-1", "symbol": "600519.SH", "side": "buy",
                             "quantity": 100, "order_type": "market"})
        assert r.status_code == 201 and r.headers["x-request-id"] == "req-follow-1", r.text
        order_id = r.json()["order_id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "order filled" not in srv.log.read_text():
            time.sleep(0.2)
        httpx.post(srv.url + f"/api/v1/traders/{tid}/stop", headers=h, timeout=60)
    finally:
        assert srv.stop()
    lines = _json_lines(srv.log.read_text())
    assert lines and all({"event", "level", "logger", "timestamp"} <= set(x) for x in lines)
    mine = [x for x in lines if x.get("request_id") == "req-follow-1"]
    by_logger = {x["logger"]: x for x in mine}
    assert "POST /api/v1/orders 201" in by_logger["nofx.api.access"]["event"]  # API
    accepted = by_logger["nofx.engine.orders"]  # engine
    assert accepted["event"] == "order accepted" and accepted["order_id"] == order_id
    assert accepted["trader_id"] == tid and accepted["client_order_id"] == "log-1"
    assert by_logger["nofx.ledger"]["order_id"] == order_id  # ledger commit of that order's events
    assert by_logger["nofx.ledger"]["events"] == ["order_submitted", "order_accepted"]
    fills = [x for x in lines if x["event"] == "order filled" and x.get("order_id") == order_id]
    assert fills and fills[0]["trader_id"] == tid and fills[0]["quantity"] == 100  # and its fill


def test_console_is_the_default_and_json_is_one_switch(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from nofx.observability.logs import bound, configure_logging

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        monkeypatch.delenv("NOFX_LOG_FORMAT", raising=False)
        out = io.StringIO()
        configure_logging("INFO", stream=out)
        with bound(request_id="r-1"):
            logging.getLogger("nofx.test").info("hello", extra={"order_id": "O1"})
        text = out.getvalue()
        assert not text.startswith("{") and "request_id=r-1" in text and "order_id=O1" in text
        assert f"[{os.getpid()}] INFO nofx.test: hello" in text  # the prefix nofx's log readers know
        monkeypatch.setenv("NOFX_LOG_FORMAT", "json")
        out = io.StringIO()
        configure_logging("INFO", stream=out)
        logging.getLogger("nofx.test").info("hello", extra={"order_id": "O1"})
        line = json.loads(out.getvalue())
        assert line["event"] == "hello" and line["order_id"] == "O1" and line["logger"] == "nofx.test"
        assert "request_id" not in line  # unbound after the block
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
