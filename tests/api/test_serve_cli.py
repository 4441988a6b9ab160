"""``nofx user create`` and ``nofx serve`` as a user runs them: a real server process, probes, docs,
a trader that survives a restart by resuming from its ledger, and no secret in the server's output."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from api_live_server import CLI_PASSWORD as PASSWORD
from api_live_server import Served, cli_env, login_at, nofx_cli


def test_user_create_reads_the_password_from_env_or_prompt_only(tmp_path: Path) -> None:
    r = nofx_cli(tmp_path, "user", "create", "alice", "--admin")
    assert r.returncode == 0 and "created admin user alice" in r.stdout and PASSWORD not in r.stdout + r.stderr
    r = nofx_cli(tmp_path, "user", "create", "alice")
    assert r.returncode == 2 and "username is taken" in r.stderr and "Traceback" not in r.stderr
    r = nofx_cli(tmp_path, "user", "create", "bob", "--password", "x" * 12)  # no such option: never in argv
    assert r.returncode == 2 and "No such option" in r.stderr
    env = cli_env(tmp_path)
    env.pop("NOFX_PASSWORD")
    r = nofx_cli(tmp_path, "user", "create", "carol", env=env, input="pw-from-prompt\npw-from-prompt\n")
    assert r.returncode == 0, r.stderr
    r = nofx_cli(tmp_path, "user", "create", "dave", env=cli_env(tmp_path, NOFX_PASSWORD="short"))
    assert r.returncode == 2 and "at least 8" in r.stderr
    r = nofx_cli(tmp_path, "user", "create", "x y")
    assert r.returncode == 2 and "username" in r.stderr


def test_serve_probes_docs_and_no_secrets_in_output(tmp_path: Path) -> None:
    assert nofx_cli(tmp_path, "user", "create", "alice").returncode == 0
    srv = Served(tmp_path)
    try:
        assert httpx.get(srv.url + "/readyz").json()["checks"] == {"database": "ok"}
        assert httpx.get(srv.url + "/docs").status_code == 200
        assert "/api/v1/orders" in httpx.get(srv.url + "/openapi.json").json()["paths"]
        tokens = login_at(srv.url, "alice")
        httpx.post(srv.url + "/api/v1/auth/login", json={"username": "alice", "password": "wrong-" + PASSWORD})
        h = {"Authorization": f"Bearer {tokens['access_token']}"}
        key = httpx.post(srv.url + "/api/v1/api-keys", json={"name": "k"}, headers=h).json()["api_key"]
        httpx.get(srv.url + f"/api/v1/me?token={tokens['access_token']}", headers={"X-API-Key": key})
        httpx.post(srv.url + "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    finally:
        assert srv.stop()
    out = srv.log.read_text()
    assert "GET /api/v1/me 200" in out  # the access log is on ...
    for secret in (PASSWORD, tokens["access_token"], tokens["refresh_token"], key, key[12:]):
        assert secret not in out  # ... and never records a password, token or key
    keyfile = tmp_path / "state" / "jwt.key"
    assert keyfile.stat().st_mode & 0o777 == 0o600  # generated signing key, owner-only


@pytest.mark.slow
def test_trader_survives_a_restart(tmp_path: Path) -> None:
    assert nofx_cli(tmp_path, "user", "create", "alice").returncode == 0
    srv = Served(tmp_path)
    try:
        h = {"Authorization": f"Bearer {login_at(srv.url, 'alice')['access_token']}"}
        body = {"name": "r", "config": {"strategy": "dual_ma", "params": {"fast": 5, "slow": 20, "size": 100},
                                        "symbols": ["600519.SH"], "speed": 86400 * 4}}
        tid = httpx.post(srv.url + "/api/v1/traders", json=body, headers=h).json()["trader_id"]
        assert httpx.post(srv.url + f"/api/v1/traders/{tid}/start", headers=h, timeout=60).json()["state"] == "running"
        order = {"trader_id": tid, "client_order_id": "keep-1", "symbol": "600519.SH", "side": "buy",
                 "quantity": 100, "order_type": "limit", "limit_price": "500.00"}
        first = httpx.post(srv.url + "/api/v1/orders", json=order, headers=h)
        assert first.status_code == 201
        time.sleep(2)
        before = httpx.get(srv.url + "/api/v1/account/equity", params={"trader_id": tid, "limit": 1}, headers=h).json()
    finally:
        assert srv.stop()  # stopped cleanly on SIGTERM
    srv = Served(tmp_path)
    try:
        h = {"Authorization": f"Bearer {login_at(srv.url, 'alice')['access_token']}"}
        deadline = time.monotonic() + 60
        while httpx.get(srv.url + f"/api/v1/traders/{tid}", headers=h).json()["state"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        again = httpx.post(srv.url + "/api/v1/orders", json=order, headers=h)  # the rebuilt OMS knows it
        assert again.status_code == 200 and again.json()["order_id"] == first.json()["order_id"]
        time.sleep(1.5)
        after = httpx.get(srv.url + "/api/v1/account/equity", params={"trader_id": tid, "limit": 1000}, headers=h).json()
        stamps = [p["ts"] for p in after]
        assert before[-1]["ts"] in stamps and stamps[-1] > before[-1]["ts"]  # continued, not restarted
        assert len(stamps) == len(set(stamps))  # no slice processed twice
    finally:
        assert srv.stop()
