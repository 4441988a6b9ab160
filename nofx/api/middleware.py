"""ASGI middleware in front of every route: per-IP token bucket, request body size and JSON nesting
limits, security headers, and an access log that never records query strings or headers (where tokens
and keys travel).

Pure ASGI (not ``BaseHTTPMiddleware``): it adds no task per request and can refuse a body while it is
still arriving, before it is buffered whole.
"""

from __future__ import annotations

import json
import logging
import math
import time
from typing import Any, Awaitable, Callable

from nofx.api.errors import error_body
from nofx.api.settings import ApiSettings
from nofx.api.shared_state import SharedState

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access_log = logging.getLogger("nofx.api.access")

_SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                     (b"referrer-policy", b"no-referrer"), (b"cache-control", b"no-store")]
_EXEMPT = ("/healthz", "/readyz")  # probes are never rate limited


async def _send_error(send: Send, status: int, code: str, message: str, details: Any = None,
                      headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(error_body(code, message, details)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *_SECURITY_HEADERS, *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


def json_depth(body: bytes) -> int:
    """Maximum nesting of arrays/objects in a JSON text, without parsing it (strings are skipped), so a
    ``[[[[...]]]]`` bomb is refused before Python's recursive parser can meet it."""
    depth = deepest = 0
    in_str = esc = False
    for b in body:
        if in_str:
            if esc:
                esc = False
            elif b == 0x5C:  # backslash
                esc = True
            elif b == 0x22:
                in_str = False
        elif b == 0x22:
            in_str = True
        elif b in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
        elif b in (0x5D, 0x7D):
            depth -= 1
    return deepest


class _TooLarge(Exception):
    pass


class GuardMiddleware:
    def __init__(self, app: ASGIApp, settings: ApiSettings, state: Callable[[], SharedState]) -> None:
        self.app = app
        self.settings = settings
        self._state = state  # resolved per request: the lifespan builds it after the app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope.get("path", "")
        client = (scope.get("client") or ("?", 0))[0]
        status_box = [0]

        async def send_wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
                headers = message.get("headers", [])
                have = {k.lower() for k, _ in headers}  # a route's own Cache-Control (static assets) wins
                message = {**message, "headers": [*headers, *(h for h in _SECURITY_HEADERS if h[0] not in have)]}
            await send(message)

        try:
            if path not in _EXEMPT:
                rl = self.settings.ip_rate
                wait = self._state().take(f"ip:{client}", rl.burst, rl.per_second)
                if wait > 0:
                    secs = max(1, math.ceil(wait))
                    status_box[0] = 429
                    await _send_error(send, 429, "RATE_LIMITED", f"too many requests (per IP); retry after {secs} s",
                                      {"retry_after": secs}, [(b"retry-after", str(secs).encode())])
                    return
            headers = dict(scope.get("headers") or [])
            limit = self.settings.max_body_bytes
            declared = headers.get(b"content-length")
            if declared is not None:
                try:
                    too_big = int(declared) > limit
                except ValueError:
                    too_big = True
                if too_big:
                    status_box[0] = 413
                    await _send_error(send, 413, "PAYLOAD_TOO_LARGE", f"request body over {limit} bytes",
                                      {"limit": limit})
                    return
            if scope.get("method") in ("POST", "PUT", "PATCH", "DELETE"):
                try:
                    body = await self._read_body(receive, limit)
                except _TooLarge:
                    status_box[0] = 413
                    await _send_error(send, 413, "PAYLOAD_TOO_LARGE", f"request body over {limit} bytes",
                                      {"limit": limit})
                    return
                # depth <= the number of '[' and '{' (counted in C): most bodies need no scan at all
                if body and body.count(b"[") + body.count(b"{") > self.settings.max_json_depth \
                        and json_depth(body) > self.settings.max_json_depth:
                    status_box[0] = 422
                    await _send_error(send, 422, "VALIDATION_ERROR",
                                      f"JSON nested deeper than {self.settings.max_json_depth} levels",
                                      [{"field": "body", "in": "body", "message": "nested too deeply",
                                        "type": "json_depth"}])
                    return
                receive = _replay(body, receive)
            await self.app(scope, receive, send_wrapped)
        finally:
            access_log.info("%s %s %s %d %.1fms", client, scope.get("method"), path, status_box[0],
                            (time.perf_counter() - started) * 1000)

    @staticmethod
    async def _read_body(receive: Receive, limit: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _TooLarge()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, original: Receive) -> Receive:
    """The already-read body once, then the real channel (which reports the client's disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await original()

    return receive
