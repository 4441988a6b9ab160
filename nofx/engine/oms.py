"""Order management: ids, idempotency by client_order_id, the open-order book, parent/child links.

Orders change state only by events (``apply``); the OMS is rebuilt at start by replaying stored events.

Memory: open orders are all kept; closed ones only while they may still be asked for (the most recent
``keep_closed`` of them, by closing order: a replayed slice re-submits recent client order ids, a parent
sums its children). Keeping every closed order made a long run grow by every order it ever placed;
the ledger has them all. A child is kept as long as its parent is open and leaves with it.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Iterator

from nofx.domain.enums import OrderStatus
from nofx.domain.errors import OrderError
from nofx.domain.events import (
    Event,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderProgress,
    OrderRejected,
    OrderSubmitted,
)
from nofx.domain.orders import Order, OrderRequest


DEFAULT_KEEP_CLOSED = 5_000


class OrderManager:
    def __init__(self, trader_id: str, keep_closed: int = DEFAULT_KEEP_CLOSED) -> None:
        if keep_closed < 1:  # the order path reads back the order it just closed
            raise ValueError("keep_closed must be >= 1")
        self.trader_id = trader_id
        self.keep_closed = keep_closed
        # closed order ids that may be dropped, oldest first (OrderedDict: popping the oldest is O(1); a
        # plain dict scans the holes its earlier deletions left)
        self._closed: OrderedDict[str, None] = OrderedDict()
        self._orders: dict[str, Order] = {}
        self._by_client_id: dict[str, str] = {}
        self._open: dict[str, Order] = {}
        self._children: dict[str, list[str]] = {}
        self._seq = 0

    def next_order_id(self) -> str:
        self._seq += 1
        return f"{self.trader_id}-O{self._seq}"

    def find_client_order(self, client_order_id: str | None) -> Order | None:
        if not client_order_id:
            return None
        oid = self._by_client_id.get(client_order_id)
        return self._orders.get(oid) if oid else None

    def get(self, order_id: str) -> Order:
        try:
            return self._orders[order_id]
        except KeyError:
            raise OrderError("unknown order id", order_id=order_id) from None

    def __iter__(self) -> Iterator[Order]:
        return iter(self._orders.values())

    def __len__(self) -> int:
        return len(self._orders)

    @property
    def open_orders(self) -> dict[str, Order]:
        return self._open

    def children(self, parent_id: str) -> list[Order]:
        return [self._orders[c] for c in self._children.get(parent_id, ())]

    def prune_closed(self, keep_last: int | None = None) -> None:
        """Drop the oldest closed orders beyond ``keep_last`` (default ``keep_closed``); done as orders
        close, so only needed after lowering the bound."""
        keep = self.keep_closed if keep_last is None else keep_last
        closed = self._closed
        while len(closed) > keep:
            oid = closed.popitem(last=False)[0]
            o = self._orders.pop(oid, None)
            if o is not None and o.request.client_order_id:
                self._by_client_id.pop(o.request.client_order_id, None)
            self._children.pop(oid, None)

    def _closed_now(self, order: Order) -> None:
        self._open.pop(order.order_id, None)
        if order.parent_id and order.parent_id in self._open:
            return  # its parent still sums it: it leaves together with the parent
        self._closed[order.order_id] = None
        for child in self._children.get(order.order_id, ()):
            kid = self._orders.get(child)
            if kid is not None and not kid.status.is_open:
                self._closed[child] = None
        if len(self._closed) > self.keep_closed:
            self.prune_closed()

    # ---- applying events (the only way state changes) ---------------------------------------
    def apply(self, ev: Event) -> Order | None:
        kind = type(ev)
        if kind is OrderSubmitted:
            return self._create(ev.order_id, ev.request, ev.ts, ev.parent_id)  # type: ignore[attr-defined]
        step = _APPLY.get(kind)  # the domain's events by exact type: one look-up instead of a chain
        if step is None:
            return self._apply_any(ev)
        order = self._orders.get(ev.order_id)  # type: ignore[attr-defined]
        if order is None:
            return None
        step(order, ev)
        self._track(order)
        return order

    def _apply_any(self, ev: Event) -> Order | None:
        """Any other event (subclasses of the domain's, account events) by ``isinstance``."""
        if isinstance(ev, OrderSubmitted):
            return self._create(ev.order_id, ev.request, ev.ts, ev.parent_id)
        order = self._orders.get(getattr(ev, "order_id", ""))
        if order is None:
            return None
        if isinstance(ev, OrderFilled):
            f = ev.fill
            order.apply_fill(f.quantity, f.price, f.fee)
        elif isinstance(ev, OrderAccepted):
            order.apply_accept()
        elif isinstance(ev, (OrderDenied, OrderRejected)):
            order.apply_reject(ev.code, ev.reason)
        elif isinstance(ev, OrderCancelled):
            order.apply_cancel()
        elif isinstance(ev, OrderExpired):
            order.apply_expire()
        elif isinstance(ev, OrderProgress):
            order.apply_progress(ev.filled_qty, ev.avg_price, ev.fees, ev.status)
        elif isinstance(ev, OrderAmended):
            order.apply_amend(ev.quantity, ev.limit_price)
        self._track(order)
        return order

    def _track(self, order: Order) -> None:
        if order.status.is_open:
            self._open[order.order_id] = order
        elif order.order_id in self._open:
            self._closed_now(order)

    def _create(self, order_id: str, request: OrderRequest, ts: datetime, parent_id: str | None) -> Order:
        order = Order(order_id=order_id, request=request, created=ts, parent_id=parent_id)
        self._orders[order_id] = order
        self._open[order_id] = order
        if request.client_order_id:
            self._by_client_id[request.client_order_id] = order_id
        if parent_id:
            self._children.setdefault(parent_id, []).append(order_id)
        return order

    def note_replayed_id(self, order_id: str) -> None:
        """Keep the id counter ahead of ids replayed from the ledger."""
        tail = order_id.rsplit("-O", 1)[-1]
        if tail.isdigit():
            self._seq = max(self._seq, int(tail))

    def derived_parent_status(self, parent_id: str) -> tuple[OrderStatus, int]:
        """A parent's status and filled quantity derived from its children."""
        kids = self.children(parent_id)
        parent = self._orders[parent_id]
        filled = sum(k.filled_qty for k in kids)
        if filled >= parent.quantity:
            return OrderStatus.FILLED, filled
        if any(k.status.is_open for k in kids):
            return (OrderStatus.PARTIALLY_FILLED if filled else OrderStatus.ACCEPTED), filled
        return (OrderStatus.PARTIALLY_FILLED if filled else parent.status), filled


def _fill(order: Order, ev: OrderFilled) -> None:
    f = ev.fill
    order.apply_fill(f.quantity, f.price, f.fee)


_APPLY = {
    OrderFilled: _fill,
    OrderAccepted: lambda order, ev: order.apply_accept(),
    OrderDenied: lambda order, ev: order.apply_reject(ev.code, ev.reason),
    OrderRejected: lambda order, ev: order.apply_reject(ev.code, ev.reason),
    OrderCancelled: lambda order, ev: order.apply_cancel(),
    OrderExpired: lambda order, ev: order.apply_expire(),
    OrderProgress: lambda order, ev: order.apply_progress(ev.filled_qty, ev.avg_price, ev.fees, ev.status),
    OrderAmended: lambda order, ev: order.apply_amend(ev.quantity, ev.limit_price),
}
