"""Read-side values returned by the store's queries (frozen; the engine's own types stay in nofx.domain)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Generic, TypeVar

from nofx.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from nofx.domain.events import Event
from nofx.domain.fills import Fill
from nofx.domain.orders import Order, OrderRequest
from nofx.persistence.errors import LedgerError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StoredEvent:
    seq: int  # global append order; strictly increasing within a trader
    trader_id: str
    event: Event


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """Current state of one order (the ``orders`` row)."""

    trader_id: str
    order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: int
    limit_price: Decimal | None
    tif: TimeInForce
    client_order_id: str | None
    tag: str
    status: OrderStatus
    filled_qty: int
    avg_fill_price: Decimal
    fees: Decimal
    reject_code: str
    reject_reason: str
    parent_id: str | None
    created: datetime
    updated: datetime
    last_seq: int  # seq of the last event applied to this row

    def to_order(self) -> Order:
        """The domain ``Order`` in this state (its request carries the current quantity and price)."""
        request = OrderRequest(symbol=self.symbol, side=self.side, quantity=self.quantity,
                               order_type=self.order_type, limit_price=self.limit_price, tif=self.tif,
                               client_order_id=self.client_order_id, tag=self.tag)
        return Order(order_id=self.order_id, request=request, created=self.created, status=self.status,
                     filled_qty=self.filled_qty, avg_fill_price=self.avg_fill_price, fees=self.fees,
                     reject_code=self.reject_code, reject_reason=self.reject_reason, parent_id=self.parent_id,
                     quantity=self.quantity, limit_price=self.limit_price)


@dataclass(frozen=True, slots=True)
class FillRecord:
    trader_id: str
    fill_id: str
    order_id: str
    symbol: str
    side: Side
    quantity: int
    price: Decimal
    fee: Decimal
    ts: datetime
    realised_pnl: Decimal | None  # price PnL booked by this fill (None for rows loaded before rev 0002)
    seq: int | None  # the OrderFilled event's seq; None for bulk-loaded history

    def to_fill(self) -> Fill:
        return Fill(fill_id=self.fill_id, order_id=self.order_id, symbol=self.symbol, side=self.side,
                    quantity=self.quantity, price=self.price, fee=self.fee, ts=self.ts)


@dataclass(frozen=True, slots=True)
class PositionRecord:
    trader_id: str
    symbol: str
    quantity: int
    avg_cost: Decimal
    realised_pnl: Decimal
    updated: datetime


@dataclass(frozen=True, slots=True)
class DailyStats:
    trader_id: str
    day: date
    trade_count: int
    volume: int
    turnover: Decimal
    fees: Decimal
    realised_pnl: Decimal


@dataclass(frozen=True, slots=True)
class KeysetCursor:
    """Position after the last row of a page: (ts, id) of that row. Rows are listed in (ts, id) order,
    so the next page is ``WHERE (ts, id) > cursor``: stable under concurrent inserts, no OFFSET scans."""

    ts: datetime
    key: str

    def encode(self) -> str:
        return f"{self.ts.isoformat()}|{self.key}"

    @classmethod
    def decode(cls, text: str) -> KeysetCursor:
        ts, sep, key = text.partition("|")
        try:
            if not sep:
                raise ValueError("missing '|'")
            return cls(datetime.fromisoformat(ts), key)
        except ValueError as exc:
            raise LedgerError("malformed page cursor: expected ISO-TIME|ID", cursor=text) from exc


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    next_cursor: KeysetCursor | None  # None on the last page


@dataclass(frozen=True, slots=True)
class BulkInsertResult:
    rows: int
    method: str  # "copy" (PostgreSQL COPY FROM STDIN) or "executemany" (SQLite)
    seconds: float
