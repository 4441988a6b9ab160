"""WebSocket /api/v1/ws against the running server: authentication on connect, quotes, order and fill
updates and equity of one's own traders only."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager

import pytest
from api_live_server import new_trader
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


@contextmanager
def _ws(server, token: str | None = None, header: bool = False):  # type: ignore[no-untyped-def]
    url = f"ws://127.0.0.1:{server.port}/api/v1/ws"
    with connect(url, additional_headers={"Authorization": f"Bearer {token}"} if header and token else None,
                 open_timeout=10) as ws:
        if token and not header:
            ws.send(json.dumps({"action": "auth", "token": token}))
        yield ws


def _recv(ws, timeout: float = 5.0) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(ws.recv(timeout=timeout))


def _collect(ws, seconds: float) -> list[dict]:  # type: ignore[no-untyped-def]
    out, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            out.append(_recv(ws, max(0.05, end - time.monotonic())))
        except TimeoutError:
            break
    return out


@pytest.mark.parametrize("how", ["header", "message"])
def test_bad_or_missing_token_closes_4401(server, how: str) -> None:  # type: ignore[no-untyped-def]
    with _ws(server, "not-a-token", header=how == "header") as ws:
        assert _recv(ws)["error"]["code"] == "UNAUTHORIZED"
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=5)
        assert info.value.rcvd.code == 4401
    with _ws(server) as ws:
        ws.send(json.dumps({"action": "subscribe", "channel": "quotes", "symbols": ["600519"]}))  # not auth
        assert _recv(ws)["error"]["code"] == "UNAUTHORIZED"


def test_live_updates_reach_only_the_owner(server) -> None:  # type: ignore[no-untyped-def]
    owner = server.user_client("wsowner")
    other_token = (server.add_user("wsother"), server.login("wsother"))[1]["access_token"]
    tid = new_trader(owner, start=True, speed=86400 * 5)
    try:
        with _ws(server, server.tokens["wsowner"]["access_token"], header=True) as mine, \
                _ws(server, other_token) as theirs:
            _exchange(owner, tid, mine, theirs)
    finally:
        owner.post(f"/api/v1/traders/{tid}/stop")


def _exchange(owner, tid: str, mine, theirs) -> None:  # type: ignore[no-untyped-def]
    assert _recv(mine)["type"] == "ready" and _recv(theirs)["type"] == "ready"
    mine.send(json.dumps({"action": "subscribe", "channel": "quotes", "symbols": ["600519", "000001.SZ"]}))
    sub = _recv(mine)
    assert sub["symbols"] == ["600519.SH", "000001.SZ"] and {q["symbol"] for q in sub["snapshot"]} == set(sub["symbols"])
    for ch in ("orders", "fills", "equity"):
        mine.send(json.dumps({"action": "subscribe", "channel": ch, "trader_id": tid}))
        assert _recv(mine)["type"] == "subscribed"
        theirs.send(json.dumps({"action": "subscribe", "channel": ch}))  # all of *their* traders
        assert _recv(theirs)["type"] == "subscribed"
    theirs.send(json.dumps({"action": "subscribe", "channel": "orders", "trader_id": tid}))
    assert _recv(theirs)["error"]["code"] == "NOT_FOUND"
    r = owner.post("/api/v1/orders", json={"trader_id": tid, "client_order_id": "ws-1", "symbol": "600519.SH",
                                           "side": "buy", "quantity": 100, "order_type": "market"})
    assert r.status_code == 201, r.text
    got = _collect(mine, 3.0)
    kinds = {m["type"] for m in got}
    assert {"order", "equity", "quote"} <= kinds, kinds
    assert any(m["type"] == "order" and m["order_id"] == r.json()["order_id"] for m in got)
    assert all(m.get("trader_id", tid) == tid for m in got) and not any("owner_id" in m for m in got)
    assert all(isinstance(m["equity"], str) for m in got if m["type"] == "equity")
    leaked = _collect(theirs, 0.5)
    assert leaked == []  # nothing of another user's trader, not even with a catch-all subscription
    mine.send("not json")
    assert any(m.get("error", {}).get("code") == "BAD_MESSAGE" for m in _collect(mine, 2.0))
