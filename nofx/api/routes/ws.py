"""WebSocket ``/api/v1/ws``: live quotes, order and fill updates, and equity of the caller's traders.

Authenticate on connect: an ``Authorization: Bearer <access token>`` (or ``X-API-Key``) header on the
handshake, or, for browsers (which cannot set headers), a first message
``{"action": "auth", "token": "<access token>"}`` within 5 seconds. Tokens are never taken from the URL
(URLs end up in logs). Then::

    {"action": "subscribe", "channel": "quotes", "symbols": ["600519.SH", "000001"]}
    {"action": "subscribe", "channel": "orders" | "fills" | "equity", "trader_id": "tr_..."}  # or all yours
    {"action": "unsubscribe", "channel": ..., ...}

Server messages: ``{"type": "quote" | "order" | "fill" | "equity", ...}``, ``{"type": "subscribed", ...}``
and ``{"type": "error", "error": {"code", "message", "details"}}``. A bad token closes with code 4401.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from nofx.api.errors import ApiError, error_body
from nofx.api.hub import Subscriber
from nofx.api.security import TokenError, digest
from nofx.api.services import Services

router = APIRouter()
log = logging.getLogger("nofx.api.access")
AUTH_TIMEOUT_S = 5.0
MAX_SYMBOLS = 100
CLOSE_UNAUTHORIZED = 4401


async def _authenticate(ws: WebSocket, svc: Services) -> str | None:
    """The user id, from the handshake headers or the first message; None if not authenticated."""
    auth = ws.headers.get("authorization", "")
    key = ws.headers.get("x-api-key")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    if token is None and key is None:
        try:
            first = json.loads(await asyncio.wait_for(ws.receive_text(), AUTH_TIMEOUT_S))
        except (asyncio.TimeoutError, ValueError, WebSocketDisconnect, KeyError, TypeError):
            return None
        if not isinstance(first, dict) or first.get("action") != "auth" or not isinstance(first.get("token"), str):
            return None
        token = first["token"]
    if token is not None:
        try:
            claims = svc.signer.verify(token)
        except TokenError:
            return None
        if svc.state.is_revoked(claims.jti) or svc.state.is_revoked(f"user:{claims.user_id}"):
            return None
        return claims.user_id
    user = await run_in_threadpool(svc.repo.user_by_key, digest(key or ""))
    return None if user is None or user.disabled else user.user_id


@router.websocket("/ws")
async def websocket(ws: WebSocket) -> None:
    svc: Services = ws.app.state.svc
    await ws.accept()
    user_id = await _authenticate(ws, svc)
    if user_id is None:
        await ws.send_json({"type": "error", **error_body("UNAUTHORIZED", "missing or invalid credentials")})
        await ws.close(code=CLOSE_UNAUTHORIZED)
        return
    sub = Subscriber(user_id, asyncio.get_running_loop())
    svc.hub.subscribe(sub)
    log.info("websocket open")
    await ws.send_json({"type": "ready", "user_id": user_id})
    sender = asyncio.create_task(_pump(ws, sub))
    try:
        while True:
            try:
                msg = json.loads(await ws.receive_text())
            except ValueError:
                await ws.send_json({"type": "error", **error_body("BAD_MESSAGE", "messages must be JSON objects")})
                continue
            try:
                reply = await _handle(svc, sub, msg)
            except ApiError as exc:
                reply = {"type": "error", **error_body(exc.code, exc.message, exc.details)}
            await ws.send_json(reply)
    except WebSocketDisconnect:
        pass
    finally:
        svc.hub.unsubscribe(sub)
        sender.cancel()


async def _pump(ws: WebSocket, sub: Subscriber) -> None:
    try:
        while True:
            await ws.send_json(await sub.queue.get())
    except (WebSocketDisconnect, RuntimeError, asyncio.CancelledError):
        return


async def _handle(svc: Services, sub: Subscriber, msg: Any) -> dict[str, Any]:
    if not isinstance(msg, dict):
        raise ApiError(422, "BAD_MESSAGE", "messages must be JSON objects")
    action, channel = msg.get("action"), msg.get("channel")
    if action not in ("subscribe", "unsubscribe"):
        raise ApiError(422, "BAD_MESSAGE", "action must be subscribe or unsubscribe", {"field": "action"})
    on = action == "subscribe"
    if channel == "quotes":
        raw = msg.get("symbols")
        if not isinstance(raw, list) or not raw or len(raw) > MAX_SYMBOLS or not all(isinstance(s, str) for s in raw):
            raise ApiError(422, "BAD_MESSAGE", f"symbols must be a list of 1..{MAX_SYMBOLS} strings",
                           {"field": "symbols"})
        symbols = [svc.market.resolve(s[:16]) for s in raw]
        (sub.symbols.update if on else sub.symbols.difference_update)(symbols)
        snapshot = []
        if on:
            for s in symbols:
                try:
                    snapshot.append((await run_in_threadpool(svc.market.quote, s))["quote"] | {"symbol": s})
                except ApiError:
                    continue
        return {"type": "subscribed" if on else "unsubscribed", "channel": "quotes", "symbols": symbols,
                "snapshot": snapshot}
    if channel in ("orders", "fills", "equity"):
        trader_id = msg.get("trader_id")
        if trader_id is not None:
            if not isinstance(trader_id, str) or len(trader_id) > 64 or \
                    await run_in_threadpool(svc.repo.trader, sub.user_id, trader_id) is None:
                raise ApiError(404, "NOT_FOUND", "trader not found", {"field": "trader_id"})
            (sub.traders.add if on else sub.traders.discard)(trader_id)
        (sub.channels.add if on else sub.channels.discard)(channel)
        return {"type": "subscribed" if on else "unsubscribed", "channel": channel, "trader_id": trader_id}
    raise ApiError(422, "BAD_MESSAGE", "channel must be quotes, orders, fills or equity", {"field": "channel"})
