"""Venue-side matching rules shared by the backtest's bar exchange and the paper order book, so
limit-up/limit-down and suspension behave identically in both.

A bar is *locked* at limit-up when it traded only at the upper limit (high == low == upper): nobody sold,
so a buy cannot fill. Likewise a sell cannot fill on a bar locked at limit-down. A suspended bar
(``trade_status`` 0 or zero volume) fills nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nofx.domain.enums import OrderType, Side

_EPS = 1e-9


@dataclass(slots=True)
class BarQuote:
    """One symbol's bar as the venue sees it, with today's limit band (NaN = no limit)."""

    open: float
    high: float
    low: float
    close: float
    volume: float
    trade_status: float
    lower: float
    upper: float


def refusal(side: Side, bar: BarQuote) -> tuple[str, str] | None:
    """Why nothing can fill on this bar for ``side``, or ``None``."""
    if not (bar.volume > 0) or bar.trade_status == 0 or not math.isfinite(bar.close):
        return "VENUE_SUSPENDED", "suspended: no trading on this bar"
    if side is Side.BUY and math.isfinite(bar.upper) and bar.low >= bar.upper - _EPS:
        return "VENUE_LIMIT_UP_LOCKED", f"locked at limit-up {bar.upper:.2f}: no sellers"
    if side is Side.SELL and math.isfinite(bar.lower) and bar.high <= bar.lower + _EPS:
        return "VENUE_LIMIT_DOWN_LOCKED", f"locked at limit-down {bar.lower:.2f}: no buyers"
    return None


def execution_price(order_type: OrderType, side: Side, limit: float | None, bar: BarQuote,
                    at_open: bool) -> float | None:
    """Price at which an order executes on this bar, or ``None`` if its limit is not reached.

    ``at_open``: the order was resting before the bar began, so it meets the open first; otherwise it
    arrives at the close (``--fill close``). Market orders take the open (or close); limit orders fill
    at the better of open and limit when the bar's range reaches the limit.
    """
    base = bar.open if at_open else bar.close
    if order_type is OrderType.MARKET and limit is None:
        return base
    if limit is None:
        return base
    if side is Side.BUY:
        if at_open:
            if bar.low > limit + _EPS:
                return None
            return min(base, limit)
        return base if base <= limit + _EPS else None
    if at_open:
        if bar.high < limit - _EPS:
            return None
        return max(base, limit)
    return base if base >= limit - _EPS else None


def volume_cap(volume: float, participation: float) -> int:
    """Most shares one order may take from a bar: a fraction of the bar's volume."""
    if not volume > 0:
        return 0
    return int(math.floor(volume * participation + _EPS))
