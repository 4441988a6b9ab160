"""Refusals of a strategy's orders as the clock delivers them, and which of them are permanent.

A refusal is *permanent* when sending the same order again cannot succeed under the same rules: the
quantity breaks the lot rules (``RISK_INVALID_LOT``), the instrument cannot be traded at all
(``RISK_NOT_TRADABLE``, ``VENUE_UNKNOWN_SYMBOL``), it cannot be sold short (``RISK_NO_SHORT``) or the order
is larger than a fixed limit (``RISK_MAX_ORDER_VALUE``). Cash, T+1, price limits, suspensions, rate limits
and expiries are temporary: tomorrow the same order may go through.

The run owns one :class:`RefusalLog`; the engine records into it and a strategy reads it through its
``MarketView`` (``view.refusals``), so a strategy never resends an order the venue or risk already
refused for good.
"""

from __future__ import annotations

from dataclasses import dataclass

from nofx.domain.enums import Side
from nofx.domain.orders import OrderRequest

PERMANENT_CODES: frozenset[str] = frozenset({
    "RISK_INVALID_LOT", "RISK_NOT_TRADABLE", "VENUE_UNKNOWN_SYMBOL", "RISK_NO_SHORT", "RISK_MAX_ORDER_VALUE"})
# codes that bar the symbol whatever the quantity or side
_SYMBOL_CODES: frozenset[str] = frozenset({"RISK_NOT_TRADABLE", "VENUE_UNKNOWN_SYMBOL"})


@dataclass(frozen=True, slots=True)
class Refusal:
    symbol: str
    side: Side
    quantity: int
    code: str
    reason: str

    @property
    def permanent(self) -> bool:
        return self.code in PERMANENT_CODES


class RefusalLog:
    """Permanent refusals of one run, keyed so that a doomed order is recognised before it is sent."""

    __slots__ = ("_exact", "_symbols", "count")

    def __init__(self) -> None:
        self._exact: dict[tuple[str, Side, int], Refusal] = {}
        self._symbols: dict[str, Refusal] = {}
        self.count = 0  # every refusal seen, permanent or not

    def record(self, request: OrderRequest, code: str, reason: str) -> None:
        """The engine's rejection callback (``TradingEngine.on_rejection``)."""
        self.count += 1
        refusal = Refusal(request.symbol, request.side, int(request.quantity), code, reason)
        if not refusal.permanent:
            return
        if code in _SYMBOL_CODES:
            self._symbols[request.symbol] = refusal
        else:
            self._exact[(request.symbol, request.side, int(request.quantity))] = refusal

    def blocking(self, symbol: str, side: Side, quantity: int) -> Refusal | None:
        """The permanent refusal that this order would meet again, or None."""
        return self._symbols.get(symbol) or self._exact.get((symbol, side, int(quantity)))
