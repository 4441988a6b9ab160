"""Enumerations shared by orders, fills and events."""

from __future__ import annotations

from enum import Enum


class Side(str, Enum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class OrderType(str, Enum):
    LIMIT = "limit"
    MARKET = "market"  # A-share market orders carry a protection price (see OrderRequest)


class TimeInForce(str, Enum):
    DAY = "day"
    IOC = "ioc"  # immediate or cancel: fill what can be filled now, cancel the rest
    FOK = "fok"  # fill or kill: all now or nothing


class OrderStatus(str, Enum):
    NEW = "new"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        return self._value_ in _OPEN_VALUES  # asked on every order event: a set of plain strings is cheapest


_OPEN_VALUES = frozenset({"new", "accepted", "partially_filled"})
