"""Order requests (a strategy's intent) kept apart from order state (what the OMS tracks).

An :class:`Order` changes only by applying events, following the transition table below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from nofx.domain.enums import OrderStatus, OrderType, Side, TimeInForce
from nofx.domain.errors import InvalidTransitionError, OrderError
from nofx.domain.money import average


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What a strategy (or an AI trader, or the API) asks for. Validated on construction."""

    symbol: str
    side: Side
    quantity: int
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None  # limit price, or the protection price of an A-share market order
    tif: TimeInForce = TimeInForce.DAY
    client_order_id: str | None = None
    tag: str = ""  # free text for the strategy's own bookkeeping (shown in reports)

    def __post_init__(self) -> None:
        if not isinstance(self.quantity, int) or isinstance(self.quantity, bool) or self.quantity <= 0:
            raise OrderError("order quantity must be a positive integer", symbol=self.symbol, quantity=self.quantity)
        if self.order_type is OrderType.LIMIT and self.limit_price is None:
            raise OrderError("limit order needs a limit_price", symbol=self.symbol)
        if self.limit_price is not None and self.limit_price <= 0:
            raise OrderError("limit_price must be positive", symbol=self.symbol, limit_price=self.limit_price)

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "side": self.side.value,
            "quantity": self.quantity,
            "order_type": self.order_type.value,
            "limit_price": None if self.limit_price is None else str(self.limit_price),
            "tif": self.tif.value,
            "client_order_id": self.client_order_id,
            "tag": self.tag,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "OrderRequest":
        try:
            return cls(
                symbol=str(d["symbol"]),
                side=Side(d["side"]),
                quantity=int(d["quantity"]),
                order_type=OrderType(d.get("order_type", "market")),
                limit_price=None if d.get("limit_price") in (None, "") else Decimal(str(d["limit_price"])),
                tif=TimeInForce(d.get("tif", "day")),
                client_order_id=d.get("client_order_id"),
                tag=d.get("tag", ""),
            )
        except (KeyError, ValueError, ArithmeticError) as exc:
            raise OrderError(f"malformed order request: {exc!r}", request=d) from exc


# Allowed status transitions. Anything else is a bug or a malicious message and raises.
_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.NEW: frozenset(
        {OrderStatus.ACCEPTED, OrderStatus.REJECTED, OrderStatus.CANCELLED, OrderStatus.PARTIALLY_FILLED,
         OrderStatus.FILLED, OrderStatus.EXPIRED}
    ),
    OrderStatus.ACCEPTED: frozenset(
        {OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED,
         OrderStatus.REJECTED, OrderStatus.ACCEPTED}  # ACCEPTED -> ACCEPTED: amend
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset(
        {OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED}
    ),
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
}


def check_transition(current: OrderStatus, new: OrderStatus, order_id: str = "") -> None:
    if new not in _TRANSITIONS[current]:
        raise InvalidTransitionError(
            f"order cannot go from {current.value} to {new.value}", order_id=order_id
        )


@dataclass(slots=True)
class Order:
    """Order state owned by the OMS. Mutated only through ``apply_*`` methods that follow the table."""

    order_id: str
    request: OrderRequest
    created: datetime
    status: OrderStatus = OrderStatus.NEW
    filled_qty: int = 0
    avg_fill_price: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    reject_code: str = ""
    reject_reason: str = ""
    parent_id: str | None = None
    quantity: int = field(default=0)  # may change by amend; starts at request.quantity
    limit_price: Decimal | None = None

    def __post_init__(self) -> None:
        if self.quantity == 0:
            self.quantity = self.request.quantity
        if self.limit_price is None:
            self.limit_price = self.request.limit_price

    @property
    def symbol(self) -> str:
        return self.request.symbol

    @property
    def side(self) -> Side:
        return self.request.side

    @property
    def leaves_qty(self) -> int:
        return self.quantity - self.filled_qty if self.status.is_open else 0

    def _move(self, new: OrderStatus) -> None:
        check_transition(self.status, new, self.order_id)
        self.status = new

    def apply_accept(self) -> None:
        self._move(OrderStatus.ACCEPTED)

    def apply_reject(self, code: str, reason: str) -> None:
        self._move(OrderStatus.REJECTED)
        self.reject_code, self.reject_reason = code, reason

    def apply_fill(self, quantity: int, price: Decimal, fee: Decimal) -> None:
        if quantity <= 0 or quantity > self.quantity - self.filled_qty:
            raise OrderError("fill quantity exceeds what the order leaves", order_id=self.order_id, quantity=quantity)
        total = self.avg_fill_price * self.filled_qty + price * quantity
        self.filled_qty += quantity
        self.avg_fill_price = average(total, self.filled_qty)
        self.fees += fee
        self._move(OrderStatus.FILLED if self.filled_qty == self.quantity else OrderStatus.PARTIALLY_FILLED)

    def apply_progress(self, filled_qty: int, avg_price: Decimal, fees: Decimal, status: OrderStatus) -> None:
        """A parent order's progress, derived from its children."""
        self._move(status)
        self.filled_qty, self.avg_fill_price, self.fees = filled_qty, avg_price, fees

    def apply_cancel(self) -> None:
        self._move(OrderStatus.CANCELLED)

    def apply_expire(self) -> None:
        self._move(OrderStatus.EXPIRED)

    def apply_amend(self, quantity: int | None, limit_price: Decimal | None) -> None:
        if quantity is not None:
            if quantity < self.filled_qty or quantity <= 0:
                raise OrderError("amended quantity below what is already filled", order_id=self.order_id)
            self.quantity = quantity
        if limit_price is not None:
            self.limit_price = limit_price
        self._move(self.status if self.status is not OrderStatus.NEW else OrderStatus.ACCEPTED)
