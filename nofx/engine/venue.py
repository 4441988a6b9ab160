"""The venue boundary (vn.py's gateway): the kernel hands accepted orders to a venue; the venue reports
fills, rejections and expiries back through a :class:`VenueListener`. Simulated exchanges (backtest,
paper) and, later, broker gateways implement :class:`Venue`."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from nofx.domain.orders import Order


class VenueListener(Protocol):
    def on_venue_fill(self, order: Order, quantity: int, price: Decimal) -> int:
        """Book a fill; returns the quantity actually booked (may be less if cash does not allow)."""
        ...

    def on_venue_reject(self, order: Order, code: str, reason: str) -> None: ...

    def on_venue_expire(self, order: Order, reason: str) -> None: ...


class Venue(Protocol):
    def submit(self, order: Order) -> None: ...

    def cancel(self, order_id: str) -> bool: ...
