"""Abuse limits on the running server: token buckets per user and per IP (429 + Retry-After), login
slowdown and lockout, body size and JSON depth limits, CORS closed by default, injection strings and
odd inputs inert (never a 500)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from api_live_server import PASSWORD, assert_error, live_server, new_trader


def test_per_user_bucket(tmp_path: Path) -> None:
    with live_server(tmp_path, user_rate={"burst": 5, "per_second": 0.5}) as s:
        a, b = s.user_client("a"), s.user_client("b")
        codes = [a.get("/api/v1/me").status_code for _ in range(8)]
        assert codes[:5] == [200] * 5 and set(codes[5:]) == {429}
        r = a.get("/api/v1/me")
        err = assert_error(r, 429, "RATE_LIMITED")
        assert 1 <= int(r.headers["Retry-After"]) <= 2 and err["details"]["retry_after"] == int(r.headers["Retry-After"])
        assert b.get("/api/v1/me").status_code == 200  # another user's bucket is untouched
        time.sleep(2.1)  # refilled at 0.5/s: one token
        assert a.get("/api/v1/me").status_code == 200


def test_per_ip_bucket_covers_anonymous_requests(tmp_path: Path) -> None:
    with live_server(tmp_path, ip_rate={"burst": 6, "per_second": 0.2}) as s, s.client() as c:
        codes = [c.get("/api/v1/traders").status_code for _ in range(9)]
        assert codes[:6] == [401] * 6 and set(codes[6:]) == {429}
        assert int(c.get("/api/v1/me").headers["Retry-After"]) >= 1
        assert c.get("/healthz").status_code == 200  # probes are exempt


def test_login_slowdown_and_lockout(tmp_path: Path) -> None:
    with live_server(tmp_path, login_delay_s=0.2, login_max_failures=3, login_lock_s=60) as s, s.client() as c:
        s.add_user("victim")
        took = []
        for _ in range(3):
            t0 = time.monotonic()
            assert_error(c.post("/api/v1/auth/login", json={"username": "victim", "password": "guess"}), 401)
            took.append(time.monotonic() - t0)
        assert took[2] >= 0.6 and took[1] >= 0.4  # each failure waits longer
        r = c.post("/api/v1/auth/login", json={"username": "victim", "password": PASSWORD})
        err = assert_error(r, 429, "LOGIN_LOCKED")  # locked even with the right password
        assert 55 <= int(r.headers["Retry-After"]) <= 60 and err["details"]["retry_after"] >= 55
        s.add_user("bystander")
        assert c.post("/api/v1/auth/login", json={"username": "bystander", "password": PASSWORD}).status_code == 200


def test_body_size_and_json_depth(tmp_path: Path) -> None:
    with live_server(tmp_path, max_body_bytes=2048, max_json_depth=16) as s:
        c = s.user_client("big")
        big = {"name": "x" * 5000, "config": {}}
        assert_error(c.post("/api/v1/traders", json=big), 413, "PAYLOAD_TOO_LARGE")

        def chunks():  # no Content-Length: the limit applies while the body arrives
            for _ in range(10):
                yield b" " * 1000

        r = c.post("/api/v1/traders", content=chunks(), headers={"content-type": "application/json"})
        assert_error(r, 413, "PAYLOAD_TOO_LARGE")
        for depth in (17, 1000):
            deep = "[" * depth + "]" * depth
            err = assert_error(c.post("/api/v1/traders", content=deep, headers={"content-type": "application/json"}),
                               422, "VALIDATION_ERROR")
            assert err["details"][0]["field"] == "body"
        deep_obj = '{"name":"n","config":' + '{"a":' * 15 + "1" + "}" * 15 + "}"
        assert assert_error(c.post("/api/v1/traders", content=deep_obj, headers={"content-type": "application/json"}),
                            422)["code"] == "VALIDATION_ERROR"
        assert c.get("/api/v1/me").status_code == 200


def test_cors_closed_by_default_and_opened_by_setting(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pre = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "authorization"}
    with server.client() as c:
        r = c.options("/api/v1/auth/login", headers=pre)
        assert "access-control-allow-origin" not in {k.lower() for k in r.headers}
        r = c.post("/api/v1/auth/login", json={"username": "x", "password": "y"}, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in {k.lower() for k in r.headers}
    with live_server(tmp_path, cors_origins=["https://dash.example"]) as s, s.client() as c:
        r = c.options("/api/v1/auth/login", headers={**pre, "Origin": "https://dash.example"})
        assert r.headers["access-control-allow-origin"] == "https://dash.example"
        r = c.options("/api/v1/auth/login", headers=pre)
        assert r.headers.get("access-control-allow-origin") != "https://evil.example"


INJECTIONS = ["' OR '1'='1", "x'; DROP TABLE users; --", "\" OR 1=1 --", "admin'--", "1; SELECT * FROM api_keys",
              "%27%20OR%201%3D1", "\\x00", "☃" * 10, "../../etc/passwd"]


@pytest.mark.parametrize("evil", INJECTIONS)
def test_injection_strings_are_inert(server, evil: str) -> None:  # type: ignore[no-untyped-def]
    if "user:inj" not in server.tokens:
        server.add_user("inj")
        server.tokens["user:inj"] = server.login("inj")
    token = server.tokens["user:inj"]["access_token"]
    with server.client(token) as c, server.client() as anon:
        before = len(server.svc.repo.users())
        assert_error(anon.post("/api/v1/auth/login", json={"username": evil, "password": evil}), 401)
        r = anon.post("/api/v1/auth/login", json={"username": "inj", "password": evil})
        assert r.status_code in (401, 429)  # wrong password (and, after five of them, the lockout)
        codes = [
            c.get("/api/v1/orders", params={"trader_id": evil}).status_code,
            c.get("/api/v1/orders", params={"trader_id": "tr_x", "cursor": evil}).status_code,
            c.get(f"/api/v1/traders/{evil}").status_code,
            c.get("/api/v1/market/" + httpx.URL(evil).path.lstrip("/")).status_code,
            c.get("/api/v1/orders/" + evil.replace("/", "_")).status_code,
            c.post("/api/v1/traders", json={"name": evil, "config": {"strategy": "dual_ma", "symbols": [evil]}}).status_code,
            c.post("/api/v1/api-keys", json={"name": evil}).status_code,
        ]
        assert 500 not in codes and all(400 <= x < 500 or x == 201 for x in codes), codes
        assert len(server.svc.repo.users()) == before and server.svc.repo.user_by_name("inj") is not None
        tid = new_trader(c)
        r = c.patch(f"/api/v1/traders/{tid}", json={"name": evil})
        assert r.status_code == 200 and r.json()["name"] == evil.strip()  # stored as data, returned as data


def test_responses_never_carry_secrets(server) -> None:  # type: ignore[no-untyped-def]
    admin = server.user_client("secretkeeper", admin=True)
    text = admin.get("/api/v1/users").text + admin.get("/api/v1/me").text
    assert "password" not in text and "$argon2" not in text
    key = admin.post("/api/v1/api-keys", json={"name": "k"}).json()["api_key"]
    assert key not in admin.get("/api/v1/api-keys").text
    boom = admin.get("/api/v1/orders", params={"trader_id": "x" * 65})
    assert_error(boom, 422)
    assert "Traceback" not in boom.text and "sqlalchemy" not in boom.text.lower()
