"""Typed, serialisable events. Every order state change is one event; the bus, the ledger and the
API all speak these. ``to_dict``/``event_from_dict`` give a stable JSON form for ZeroMQ and HTTP."""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields
from datetime import datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any, ClassVar

from nofx.domain.enums import OrderStatus
from nofx.domain.fills import Fill
from nofx.domain.orders import OrderRequest


@dataclass(frozen=True, slots=True)
class Event:
    kind: ClassVar[str] = "event"
    ts: datetime

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for name in _field_names(type(self)):
            out[name] = _encode(getattr(self, name))
        return out


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    """An event class' field names in order (``dataclasses.fields`` rebuilds them on every call; every
    ledger write encodes each event once)."""
    return tuple(f.name for f in fields(cls))


def _encode(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, Enum):
        return v.value
    if isinstance(v, (Fill, OrderRequest)):
        return v.to_dict()
    return v


@dataclass(frozen=True, slots=True)
class OrderSubmitted(Event):
    kind: ClassVar[str] = "order_submitted"
    order_id: str
    trader_id: str
    request: OrderRequest
    parent_id: str | None = None


@dataclass(frozen=True, slots=True)
class OrderDenied(Event):
    """Refused before reaching a venue (pre-trade risk); ``code`` is stable, ``reason`` human."""

    kind: ClassVar[str] = "order_denied"
    order_id: str
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class OrderAccepted(Event):
    kind: ClassVar[str] = "order_accepted"
    order_id: str


@dataclass(frozen=True, slots=True)
class OrderRejected(Event):
    """Refused by the venue (matching rules: limit-locked bar, suspension...)."""

    kind: ClassVar[str] = "order_rejected"
    order_id: str
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class OrderFilled(Event):
    kind: ClassVar[str] = "order_filled"
    order_id: str
    fill: Fill


@dataclass(frozen=True, slots=True)
class OrderCancelled(Event):
    kind: ClassVar[str] = "order_cancelled"
    order_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class OrderExpired(Event):
    kind: ClassVar[str] = "order_expired"
    order_id: str


@dataclass(frozen=True, slots=True)
class OrderAmended(Event):
    kind: ClassVar[str] = "order_amended"
    order_id: str
    quantity: int | None = None
    limit_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class OrderProgress(Event):
    """A parent order's state derived from its children (never a fill: the children carry those)."""

    kind: ClassVar[str] = "order_progress"
    order_id: str
    filled_qty: int
    avg_price: Decimal
    fees: Decimal
    status: OrderStatus


@dataclass(frozen=True, slots=True)
class CorporateActionApplied(Event):
    """A dividend and/or split booked on a holding (not an order event: ``order_id`` is empty)."""

    kind: ClassVar[str] = "corporate_action"
    symbol: str
    quantity_before: int
    cash_per_share: Decimal
    split_ratio: Decimal
    cash: Decimal  # cash credited (rounded to the cent), after any tax withheld at source
    quantity_after: int
    tax_withheld: Decimal = Decimal(0)  # dividend tax withheld at source (HK Southbound), in cents


@dataclass(frozen=True, slots=True)
class DividendTaxDeducted(Event):
    """Dividend tax deducted from cash when shares are sold (A-share individuals, Caishui [2015] No. 101):
    booked in the same ledger transaction as the sell fill ``fill_id`` of order ``sell_order_id``.
    Not an order event: the ledger row carries an empty ``order_id``."""

    kind: ClassVar[str] = "dividend_tax"
    symbol: str
    sell_order_id: str
    fill_id: str
    quantity: int  # shares sold whose dividends were taxed
    amount: Decimal  # cash deducted, in cents
    detail: str = ""


_EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (OrderSubmitted, OrderDenied, OrderAccepted, OrderRejected, OrderFilled, OrderCancelled,
                OrderExpired, OrderAmended, OrderProgress, CorporateActionApplied, DividendTaxDeducted)
}

# events that change an account without being an order's event (their ledger rows have no order_id)
ACCOUNT_EVENTS: tuple[type[Event], ...] = (CorporateActionApplied, DividendTaxDeducted)


def event_from_dict(d: dict[str, Any]) -> Event:
    """Inverse of ``Event.to_dict``."""
    cls = _EVENT_TYPES[d["kind"]]
    kw: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in d and f.default is not MISSING:
            continue  # a field added later: events stored before it take its default
        v = d.get(f.name)
        if f.name == "ts":
            v = datetime.fromisoformat(v)
        elif f.name == "fill":
            v = Fill.from_dict(v)
        elif f.name == "request":
            v = OrderRequest.from_dict(v)
        elif f.name in ("limit_price", "avg_price", "fees", "cash_per_share", "split_ratio", "cash",
                        "tax_withheld", "amount") and v is not None:
            v = Decimal(v)
        elif f.name == "status":
            v = OrderStatus(v)
        kw[f.name] = v
    return cls(**kw)


__all__ = [
    "Event", "OrderSubmitted", "OrderDenied", "OrderAccepted", "OrderRejected", "OrderFilled",
    "OrderCancelled", "OrderExpired", "OrderAmended", "OrderProgress", "CorporateActionApplied",
    "DividendTaxDeducted", "ACCOUNT_EVENTS", "event_from_dict", "asdict",
]
