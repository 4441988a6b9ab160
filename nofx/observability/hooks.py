"""Attach metrics and order-trace logs to a trader engine and a ledger store through their public hooks.

The kernel is not changed: its ``listeners`` and ``on_rejection`` callbacks count orders, fills and
refusals; the engine *instance*'s ``submit`` is wrapped to time submit→ack; the store instance's public
write calls (``append``, ``append_many``, ``flush``, ``snapshot``) are wrapped to time the durable write.
Per order that is two ``perf_counter`` calls, one histogram observation and one counter increment; log
lines are only built when their logger is enabled.

Log lines (stdlib ``logging``, rendered by :mod:`nofx.observability.logs`; the request id of the HTTP
request that caused them comes from context variables):

* ``nofx.engine.orders`` INFO: order accepted / denied / filled / cancelled / rejected / expired, with
  ``trader_id`` and ``order_id`` (and the fill's id, quantity and price);
* ``nofx.ledger`` DEBUG: each durable write of order events, with the order ids it committed.
"""

from __future__ import annotations

import logging
import time
from functools import wraps
from typing import Any, Callable

from nofx.domain.events import (
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderRejected,
)
from nofx.observability.metrics import NofxMetrics

order_log = logging.getLogger("nofx.engine.orders")
ledger_log = logging.getLogger("nofx.ledger")

_INSTRUMENTED = "_nofx_instrumented"


def instrument_engine(engine: Any, trader_id: str, metrics: NofxMetrics | None) -> None:
    """Count and trace ``engine``'s orders (a ``nofx.engine.kernel.TradingEngine``); idempotent."""
    if getattr(engine, _INSTRUMENTED, False):
        return
    setattr(engine, _INSTRUMENTED, True)
    if metrics is not None:
        engine.listeners.append(metrics.on_event)
        engine.on_rejection(metrics.on_rejection)
        submit = engine.submit
        observe = metrics.observe_submit
        clock = time.perf_counter

        @wraps(submit)
        def timed_submit(request: Any, parent_id: str | None = None) -> Any:
            t0 = clock()
            try:
                return submit(request, parent_id)
            finally:
                observe(clock() - t0)

        engine.submit = timed_submit
    engine.listeners.append(_order_tracer(engine, trader_id))


def _order_tracer(engine: Any, trader_id: str) -> Callable[[Event], None]:
    enabled = order_log.isEnabledFor

    def trace(ev: Event) -> None:
        if not enabled(logging.INFO):
            return
        kind = type(ev)
        if kind is OrderAccepted:
            order = engine.oms.get(ev.order_id)
            order_log.info("order accepted", extra={
                "trader_id": trader_id, "order_id": ev.order_id, "client_order_id": order.request.client_order_id,
                "symbol": order.symbol, "side": order.side.value, "quantity": order.quantity,
                "limit_price": None if order.limit_price is None else str(order.limit_price)})
        elif kind is OrderFilled:
            f = ev.fill
            order_log.info("order filled", extra={
                "trader_id": trader_id, "order_id": f.order_id, "fill_id": f.fill_id, "symbol": f.symbol,
                "side": f.side.value, "quantity": f.quantity, "price": str(f.price), "fee": str(f.fee)})
        elif kind is OrderDenied or kind is OrderRejected:
            order_log.info("order denied" if kind is OrderDenied else "order rejected", extra={
                "trader_id": trader_id, "order_id": ev.order_id, "code": ev.code, "reason": ev.reason})
        elif kind is OrderCancelled or kind is OrderExpired:
            order_log.info("order cancelled" if kind is OrderCancelled else "order expired",
                           extra={"trader_id": trader_id, "order_id": ev.order_id})

    return trace


def instrument_store(store: Any, metrics: NofxMetrics | None) -> None:
    """Time ``store``'s durable writes and trace the order events they commit; idempotent."""
    if getattr(store, _INSTRUMENTED, False):
        return
    setattr(store, _INSTRUMENTED, True)
    for op in ("append", "append_many", "flush", "snapshot"):
        fn = getattr(store, op, None)
        if fn is not None:
            setattr(store, op, _timed_write(op, fn, metrics))


def log_ledger_commit(trader_id: str, events: Any, seconds: float | None) -> None:
    """The DEBUG ``ledger commit`` line of one trader's committed ``events`` (with the ids bound in the
    caller's context: a batch committer calls it in each order's own request context)."""
    if not ledger_log.isEnabledFor(logging.DEBUG):
        return
    ids = sorted({oid for oid in (getattr(e, "order_id", None) for e in events) if oid})
    if ids:
        ledger_log.debug("ledger commit", extra={
            "trader_id": trader_id, "order_id": ids[0] if len(ids) == 1 else None, "order_ids": ids,
            "events": [e.kind for e in events], "seconds": None if seconds is None else round(seconds, 6)})


def _timed_write(op: str, fn: Callable[..., Any], metrics: NofxMetrics | None) -> Callable[..., Any]:
    clock = time.perf_counter
    observe = metrics.observe_commit if metrics is not None else None

    @wraps(fn)
    def timed(*args: Any, **kw: Any) -> Any:
        t0 = clock()
        out = fn(*args, **kw)
        seconds = clock() - t0
        if op == "flush" and not out:
            return out  # nothing was staged: no write happened
        if observe is not None:
            observe(op, seconds)
        if op == "append":
            log_ledger_commit(args[0], args[1], seconds)
        return out

    return timed
