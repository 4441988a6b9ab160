"""Authentication against the running server: every bad credential is a plain 401 in the one error
shape; tokens rotate and revoke; API keys are stored hashed; only admins manage users."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from api_live_server import PASSWORD, SECRET, assert_error
from sqlalchemy import select

from nofx.persistence import api_schema as a

PROTECTED = [("GET", "/api/v1/me"), ("GET", "/api/v1/traders"), ("GET", "/api/v1/market/600519.SH"),
             ("GET", "/api/v1/orders?trader_id=x"), ("POST", "/api/v1/traders"), ("GET", "/api/v1/leaderboard"),
             ("GET", "/api/v1/users"), ("GET", "/api/v1/backtests/bt_x"), ("DELETE", "/api/v1/orders/x-O1")]


def _b64(d: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")


def _claims(user_id: str, **over) -> dict:
    now = int(time.time())
    return {"sub": user_id, "adm": False, "jti": "j1", "iat": now, "exp": now + 600, "typ": "access", **over}


@pytest.fixture(scope="module")
def alice(server):  # type: ignore[no-untyped-def]
    uid = server.add_user("alice")
    return uid, server.login("alice")


def _bad_tokens(uid: str, good: str) -> dict[str, str]:
    head, payload, sig = good.split(".")
    tampered = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    tampered["adm"] = True
    return {
        "expired": jwt.encode(_claims(uid, iat=int(time.time()) - 1000, exp=int(time.time()) - 10), SECRET, "HS256"),
        "alg none": _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(_claims(uid)) + ".",
        "wrong key": jwt.encode(_claims(uid), "another-secret-0123456789abcdef012345", "HS256"),
        "tampered payload": f"{head}.{_b64(tampered)}.{sig}",
        "HS384 with right key": jwt.encode(_claims(uid), SECRET, "HS384"),
        "refresh-type token": jwt.encode(_claims(uid, typ="refresh"), SECRET, "HS256"),
        "missing exp": jwt.encode({k: v for k, v in _claims(uid).items() if k != "exp"}, SECRET, "HS256"),
        "garbage": "not.a.jwt",
    }


def test_no_token_is_401_everywhere(server) -> None:  # type: ignore[no-untyped-def]
    with server.client() as c:
        for method, path in PROTECTED:
            assert_error(c.request(method, path, json={} if method == "POST" else None), 401, "UNAUTHORIZED")


def test_bad_tokens_are_401(server, alice) -> None:  # type: ignore[no-untyped-def]
    uid, tokens = alice
    with server.client(tokens["access_token"]) as ok:
        assert ok.get("/api/v1/me").status_code == 200
    for what, token in _bad_tokens(uid, tokens["access_token"]).items():
        with server.client(token) as c:
            for method, path in PROTECTED[:3]:
                err = assert_error(c.request(method, path), 401, "UNAUTHORIZED")
                assert err["message"] == "missing or invalid credentials", what  # the reason is never told


def test_login_failures_look_the_same(server, alice) -> None:  # type: ignore[no-untyped-def]
    with server.client() as c:
        wrong = assert_error(c.post("/api/v1/auth/login", json={"username": "alice", "password": "nope"}), 401)
        unknown = assert_error(c.post("/api/v1/auth/login", json={"username": "nobody", "password": "nope"}), 401)
        c.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})  # clears the failure count
    assert wrong == unknown  # no username enumeration


def test_refresh_rotates_and_reuse_revokes_the_family(server) -> None:  # type: ignore[no-untyped-def]
    server.add_user("rot")
    first = server.login("rot")
    with server.client() as c:
        r = c.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert r.status_code == 200
        second = r.json()
        assert second["refresh_token"] != first["refresh_token"]
        # the rotated token is dead; presenting it again (a stolen copy) also kills its successor
        assert_error(c.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}), 401)
        assert_error(c.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}), 401)
        assert_error(c.post("/api/v1/auth/refresh", json={"refresh_token": "made-up"}), 401)


def test_logout_revokes_refresh_and_access_token(server) -> None:  # type: ignore[no-untyped-def]
    server.add_user("bye")
    t = server.login("bye")
    with server.client(t["access_token"]) as c:
        assert c.post("/api/v1/auth/logout", json={"refresh_token": t["refresh_token"]}).status_code == 204
        assert_error(c.get("/api/v1/me"), 401)
        assert_error(c.post("/api/v1/auth/refresh", json={"refresh_token": t["refresh_token"]}), 401)


def test_api_keys_work_are_hashed_and_revocable(server) -> None:  # type: ignore[no-untyped-def]
    c = server.user_client("keyuser")
    r = c.post("/api/v1/api-keys", json={"name": "bot"})
    assert r.status_code == 201
    key, key_id = r.json()["api_key"], r.json()["key_id"]
    listed = c.get("/api/v1/api-keys").json()
    assert [k["key_id"] for k in listed] == [key_id] and key not in json.dumps(listed)
    with server.client(headers={"X-API-Key": key}) as prog:
        assert prog.get("/api/v1/me").json()["username"] == "keyuser"
        with server.svc.engine.connect() as conn:
            stored = list(conn.execute(select(a.api_keys)).mappings())
        assert key not in json.dumps([dict(r) for r in stored], default=str)  # only the digest is stored
        assert c.delete(f"/api/v1/api-keys/{key_id}").status_code == 204
        assert_error(prog.get("/api/v1/me"), 401)
    with server.client(headers={"X-API-Key": "nofx_" + "x" * 43}) as fake:
        assert_error(fake.get("/api/v1/me"), 401)


def test_only_admins_manage_users(server) -> None:  # type: ignore[no-untyped-def]
    plain = server.user_client("plain")
    admin = server.user_client("root", admin=True)
    assert_error(plain.get("/api/v1/users"), 403, "FORBIDDEN")
    assert_error(plain.post("/api/v1/users", json={"username": "evil", "password": "password123"}), 403)
    r = admin.post("/api/v1/users", json={"username": "newbie", "password": "password123"})
    assert r.status_code == 201 and "password" not in r.text
    uid = r.json()["user_id"]
    assert_error(plain.patch(f"/api/v1/users/{uid}", json={"is_admin": True}), 403)
    assert "newbie" in [u["username"] for u in admin.get("/api/v1/users").json()]
    assert_error(admin.post("/api/v1/users", json={"username": "newbie", "password": "password123"}), 409)
    # disabling a user ends its sessions at once (the access token is refused before it expires)
    t = server.login("newbie", "password123")
    with server.client(t["access_token"]) as nb:
        assert nb.get("/api/v1/me").status_code == 200
        assert admin.patch(f"/api/v1/users/{uid}", json={"disabled": True}).json()["disabled"] is True
        assert_error(nb.get("/api/v1/me"), 401)
    with server.client() as anon:
        assert_error(anon.post("/api/v1/auth/login", json={"username": "newbie", "password": "password123"}), 401)
        assert_error(anon.post("/api/v1/auth/refresh", json={"refresh_token": t["refresh_token"]}), 401)
