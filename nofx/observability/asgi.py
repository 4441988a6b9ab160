"""``mount_observability(app)``: ``/metrics`` and request ids for the nofx API, in one call from the app
factory.

It adds

* ``GET /metrics`` (Prometheus text format, not in the OpenAPI schema). It holds aggregate counts only
  (no user or trader ids); keep it on a network Prometheus can reach and users cannot, like ``/readyz``.
* an outermost pure-ASGI middleware that gives every HTTP request and WebSocket an id (a sane incoming
  ``X-Request-ID``, else a new one), binds it with the trader id from the path as logging context
  variables, returns it as ``X-Request-ID`` and observes the request's latency by route template;
* a wrapper around the app's lifespan that, once the app's services exist, times the ledger store's
  writes, registers queue depths and event-hub counters for scrapes, and asks the trader supervisor to
  instrument every trader session it builds (see :mod:`nofx.observability.hooks`).

Services are read duck-typed (``app.state.svc``), so this module sits below ``nofx.api``.
"""

from __future__ import annotations

import re
import time
import uuid
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable

import structlog

from nofx.observability.hooks import instrument_engine, instrument_store
from nofx.observability.metrics import NofxMetrics

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_TRADER_IN_PATH = re.compile(r"/traders/([^/]{1,64})")
METRICS_PATH = "/metrics"


def mount_observability(app: Any, metrics: NofxMetrics | None = None) -> NofxMetrics:
    """Add ``/metrics``, request ids and instrumentation to a FastAPI ``app``; returns its metrics."""
    from fastapi import Response

    metrics = metrics or NofxMetrics.from_env()
    app.state.metrics = metrics

    def scrape() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route(METRICS_PATH, scrape, methods=["GET"], include_in_schema=False)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with inner(a) as state:
            svc = getattr(a.state, "svc", None)
            if svc is not None:
                instrument_services(svc, metrics)
            yield state

    app.router.lifespan_context = lifespan
    return metrics


def instrument_services(svc: Any, metrics: NofxMetrics) -> None:
    """Hook ``metrics`` into an API process' services (store, traders, event hub)."""
    instrument_store(svc.store, metrics)
    engines: dict[str, Any] = {}

    def on_session(trader_id: str, session: Any) -> None:
        instrument_engine(session.engine, trader_id, metrics)
        engines[trader_id] = session.engine
        client = getattr(getattr(session.strategy, "caller", None), "client", None)
        observers = getattr(client, "observers", None)
        if isinstance(observers, list):
            observers.append(metrics.observe_llm)

    add_hook = getattr(svc.traders, "add_session_hook", None)
    if add_hook is not None:  # only the process that runs the traders has sessions
        add_hook(on_session)

    def queues() -> dict[str, int]:
        out = {"ledger_buffer": int(getattr(svc.store, "pending", 0))}
        out["open_orders"] = sum(len(e.oms.open_orders) for e in list(engines.values()))
        hub_stats = getattr(svc.hub, "stats", None)
        if hub_stats is not None:
            out["websocket_send"] = int(hub_stats().get("queued", 0))
        return out

    metrics.live.add_queues(queues)
    if getattr(svc.hub, "stats", None) is not None:
        metrics.live.add_bus(lambda: {"hub": svc.hub.stats()})


class RequestContextMiddleware:
    """Request id + trader id as logging context, ``X-Request-ID`` header, latency by route template."""

    def __init__(self, app: ASGIApp, metrics: NofxMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = _incoming_id(scope) or uuid.uuid4().hex[:16]
        ids: dict[str, str] = {"request_id": rid}
        m = _TRADER_IN_PATH.search(scope.get("path", ""))
        if m:
            ids["trader_id"] = m.group(1)
        status = [0]
        header = (b"x-request-id", rid.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        t0 = time.perf_counter()
        with structlog.contextvars.bound_contextvars(**ids):
            try:
                await self.app(scope, receive, send_with_id if kind == "http" else send)
            finally:
                if kind == "http" and scope.get("path") != METRICS_PATH:
                    code = status[0] or 500
                    self.metrics.observe_http(scope.get("method", "GET"), route_template(scope, code), code,
                                              time.perf_counter() - t0)


def route_template(scope: Scope, status: int = 200) -> str:
    """The matched route's path template with its router's prefix (``/api/v1/traders/{trader_id}``), so
    ids never become label values; "unmatched" for a 404 outside any route, "other" for what a mounted
    app (the dashboard's static files) served."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not template:
        return "unmatched" if status == 404 else "other"
    if not hasattr(route, "endpoint"):  # a mounted app: one label for everything below it
        return template.rstrip("/") + "/{path}"
    path = scope.get("path", "")
    depth = template.count("/")
    if path.count("/") > depth:  # an included router's static prefix is not in the route's own path
        template = "/".join(path.split("/")[: path.count("/") - depth + 1]) + template
    return template


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _REQUEST_ID.match(text) else None
    return None
