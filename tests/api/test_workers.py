"""``nofx serve --workers 2 --redis``: two worker processes share rate limits, revoked tokens and
login lockouts through Redis, and either one takes orders (one process runs the traders; the other
forwards over a Unix socket). Skips with a message when no Redis answers on 127.0.0.1:6379."""

from __future__ import annotations

import json
import os
import re
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from api_live_server import CLI_PASSWORD as PASSWORD
from api_live_server import Served, login_at, nofx_cli

from nofx.api.shared_state import RedisState

REDIS = os.environ.get("NOFX_TEST_REDIS", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_url() -> str:
    try:
        RedisState(REDIS).close()
    except Exception as exc:  # noqa: BLE001 - no server: skip
        pytest.skip(f"no Redis at {REDIS} (scripts/services.sh starts one if installed): {exc}")
    return REDIS


def test_bad_serve_options_are_one_line(tmp_path: Path) -> None:
    r = nofx_cli(tmp_path, "serve", "--workers", "2", "--port", "0")  # two workers need shared state
    assert r.returncode == 2 and "--redis" in r.stderr and "Traceback" not in r.stderr
    r = nofx_cli(tmp_path, "serve", "--workers", "2", "--redis", "redis://:hunter2@127.0.0.1:1/0")
    assert r.returncode == 2 and "cannot reach Redis" in r.stderr and "hunter2" not in r.stderr
    r = nofx_cli(tmp_path, "serve", "--log-level", "loud")
    assert r.returncode == 2 and "--log-level" in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_two_workers_share_state_through_redis(tmp_path: Path, redis_url: str) -> None:
    assert nofx_cli(tmp_path, "user", "create", "alice").returncode == 0
    assert nofx_cli(tmp_path, "user", "create", "bob").returncode == 0
    settings = {"user_rate": {"burst": 40, "per_second": 0.01}, "login_max_failures": 3}
    srv = Served(tmp_path, "--workers", "2", "--redis", redis_url, "--log-level", "info",
                 env={"NOFX_API_SETTINGS": json.dumps(settings)})
    try:
        h = {"Authorization": f"Bearer {login_at(srv.url, 'alice')['access_token']}"}
        body = {"name": "w", "config": {"strategy": "dual_ma", "symbols": ["600519.SH"], "speed": 1}}
        tid = httpx.post(srv.url + "/api/v1/traders", json=body, headers=h).json()["trader_id"]
        assert httpx.post(srv.url + f"/api/v1/traders/{tid}/start", headers=h, timeout=60).json()["state"] == "running"
        codes = []
        for k in range(12):  # new connections: the kernel spreads them over both workers
            with httpx.Client(base_url=srv.url, headers=h) as c:
                r = c.post("/api/v1/orders", json={"trader_id": tid, "client_order_id": f"w{k}", "symbol": "600519",
                                                   "side": "buy", "quantity": 100, "order_type": "limit",
                                                   "limit_price": "500.00"})
                codes.append(r.status_code)
                again = c.post("/api/v1/orders", json={"trader_id": tid, "client_order_id": f"w{k}",
                                                       "symbol": "600519", "side": "buy", "quantity": 100,
                                                       "order_type": "limit", "limit_price": "500.00"})
                assert again.status_code == 200 and again.json()["order_id"] == r.json()["order_id"]
        assert codes == [201] * 12
        # order events reach WebSockets on both workers (relayed through Redis from the trader's process)
        with ExitStack() as stack:
            sockets = []
            while len(_pids(srv, "websocket open")) < 2:  # until both workers hold one
                assert len(sockets) < 30, "every WebSocket landed on one worker"
                ws = stack.enter_context(connect(srv.url.replace("http", "ws") + "/api/v1/ws", additional_headers=h,
                                                 open_timeout=20))
                assert json.loads(ws.recv(timeout=10))["type"] == "ready"
                ws.send(json.dumps({"action": "subscribe", "channel": "orders", "trader_id": tid}))
                assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
                sockets.append(ws)
            r = httpx.post(srv.url + "/api/v1/orders", headers=h, json={
                "trader_id": tid, "client_order_id": "ws-relay", "symbol": "600519", "side": "buy", "quantity": 100,
                "order_type": "limit", "limit_price": "500.00"})
            for ws in sockets:
                got = json.loads(ws.recv(timeout=10))
                assert got["type"] == "order" and got["order_id"] == r.json()["order_id"], got
        # the per-user bucket (burst 40, ~no refill) is one bucket across both workers
        statuses = []
        for _ in range(30):
            with httpx.Client(base_url=srv.url, headers=h) as c:
                statuses.append(c.get("/api/v1/me").status_code)
        # 27 tokens went on the calls above (create, start, 25 order posts): 13 left in the one shared bucket
        # (two buckets of 40, one per worker, would have let all 30 through)
        assert statuses.count(200) in (13, 14) and statuses[-1] == 429, statuses
        # a lockout seen by one worker holds in the other
        for _ in range(3):
            with httpx.Client(base_url=srv.url) as c:
                c.post("/api/v1/auth/login", json={"username": "bob", "password": "wrong-" + PASSWORD})
        for _ in range(4):
            with httpx.Client(base_url=srv.url) as c:
                r = c.post("/api/v1/auth/login", json={"username": "bob", "password": PASSWORD})
                assert r.status_code == 429 and r.json()["error"]["code"] == "LOGIN_LOCKED"
        # a logout in one worker revokes the access token in both
        RedisState(redis_url)._r.flushdb()  # clear the lock and buckets for the last check
        tok = login_at(srv.url, "bob")
        bob_h = {"Authorization": f"Bearer {tok['access_token']}"}
        httpx.post(srv.url + "/api/v1/auth/logout", json={"refresh_token": tok["refresh_token"]}, headers=bob_h)
        for _ in range(6):
            with httpx.Client(base_url=srv.url, headers=bob_h) as c:
                assert c.get("/api/v1/me").status_code == 401
    finally:
        assert srv.stop()
        RedisState(redis_url)._r.flushdb()
    assert len(_pids(srv, "GET /api/v1/me")) == 2  # both workers served requests


def _pids(srv: Served, what: str) -> set[str]:
    """Worker processes whose access log shows ``what``."""
    return set(re.findall(r"\[(\d+)\] INFO nofx\.api\.access: .*" + re.escape(what), srv.log.read_text()))
