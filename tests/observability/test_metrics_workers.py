"""``nofx serve --workers 2 --redis``: whichever worker answers ``/metrics``, the counters are the sums of
both processes (prometheus multiprocess mode), and each answer names the worker it came from."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from api_live_server import Served, login_at, nofx_cli
from prometheus_client.parser import text_string_to_metric_families

from nofx.api.shared_state import RedisState

REDIS = os.environ.get("NOFX_TEST_REDIS", "redis://127.0.0.1:6379/15")


def _scrape(url: str) -> tuple[str, dict[tuple, float]]:
    with httpx.Client(base_url=url) as c:  # a new connection: the kernel picks a worker
        text = c.get("/metrics").text
    pid, out = "", {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == "nofx_process_resident_memory_bytes":
                pid = s.labels["pid"]
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return pid, out


@pytest.mark.slow
def test_every_worker_reports_the_sum_of_both(tmp_path: Path) -> None:
    try:
        RedisState(REDIS).close()
    except Exception as exc:  # noqa: BLE001 - no server: skip
        pytest.skip(f"no Redis at {REDIS}: {exc}")
    assert nofx_cli(tmp_path, "user", "create", "alice").returncode == 0
    srv = Served(tmp_path, "--workers", "2", "--redis", REDIS)
    try:
        h = {"Authorization": f"Bearer {login_at(srv.url, 'alice')['access_token']}"}
        body = {"name": "w", "config": {"strategy": "dual_ma", "symbols": ["600519.SH"], "speed": 1}}
        tid = httpx.post(srv.url + "/api/v1/traders", json=body, headers=h).json()["trader_id"]
        assert httpx.post(srv.url + f"/api/v1/traders/{tid}/start", headers=h, timeout=60).json()["state"] == "running"
        for k in range(10):  # new connections: spread over both workers
            with httpx.Client(base_url=srv.url, headers=h) as c:
                r = c.post("/api/v1/orders", json={"trader_id": tid, "client_order_id": f"m{k}", "symbol": "600519.SH",
                                                   "side": "buy", "quantity": 100, "order_type": "limit",
                                                   "limit_price": "500.00"})
                assert r.status_code == 201, r.text
        answers: dict[str, dict] = {}
        for _ in range(40):
            pid, m = _scrape(srv.url)
            answers[pid] = m
            if len(answers) == 2:
                break
    finally:
        assert srv.stop()
    assert len(answers) == 2, "every scrape landed on one worker"
    post = ("nofx_http_request_seconds_count", (("method", "POST"), ("route", "/api/v1/orders"), ("status", "2xx")))
    for m in answers.values():
        assert m[post] == 10  # the posts both workers took, summed
        assert m[("nofx_orders_total", ())] >= 10  # counted in the process that runs the trader
