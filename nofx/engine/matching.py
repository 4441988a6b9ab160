"""Venue-side matching rules shared by the backtest's bar exchange and the paper order book, so
limit-up/limit-down, ticks and suspension behave identically in both (:func:`decide`).

A bar is *locked* at limit-up when it traded only at the upper limit (high == low == upper): nobody sold,
so a buy cannot fill. Likewise a sell cannot fill on a bar locked at limit-down. A suspended bar
(``trade_status`` 0 or zero volume) fills nothing. A limit price off the instrument's tick grid is
refused (``VENUE_OFF_TICK``): the exchange could not have printed it. Execution prices are put on the
tick grid (``MarketRules.fill_price``).

At a price limit: a buy whose execution price is the limit-up price (a sell: the limit-down price) joins
a queue that rarely clears, so by default it is refused (``VENUE_AT_LIMIT_UP`` / ``VENUE_AT_LIMIT_DOWN``),
as RQAlpha and Qlib do. :class:`LimitFillPolicy` ``fraction`` instead fills at most that fraction of
the bar's volume (a model of a partly cleared queue).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from nofx.domain.enums import OrderType, Side
from nofx.domain.instruments import parse_symbol
from nofx.domain.orders import Order
from nofx.markets.base import MarketRules
from nofx.markets.instrument_rules import InstrumentRules

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


AtLimitMode = Literal["refuse", "fraction"]


@dataclass(frozen=True, slots=True)
class LimitFillPolicy:
    """What a venue does with an order whose execution price is the limit price on its own side
    (a buy at limit-up, a sell at limit-down). ``refuse`` (default): nothing fills. ``fraction``:
    at most ``fraction`` of the bar's volume fills (and never more than the participation cap)."""

    mode: AtLimitMode = "refuse"
    fraction: float = 0.0


@dataclass(frozen=True, slots=True)
class Decision:
    """A venue's answer for one order on one bar."""

    price: Decimal | None = None  # execution price on the tick grid; None: limit not reached (or refused)
    refused: tuple[str, str] | None = None  # (code, reason): the order is rejected
    fraction: float | None = None  # a tighter volume fraction (filling at a price limit)


def off_tick(rules: MarketRules, order: Order, day: date) -> tuple[str, str] | None:
    """``VENUE_OFF_TICK`` when the order's limit (or protection) price is not on its tick grid."""
    if order.limit_price is None:
        return None
    return off_tick_for(rules.instrument_rules(parse_symbol(order.symbol)), order, day)


def off_tick_for(rules: InstrumentRules, order: Order, day: date) -> tuple[str, str] | None:
    """:func:`off_tick` with the instrument's rules already bound."""
    price = order.limit_price
    if price is None or rules.price_on_tick(day, price):
        return None
    return "VENUE_OFF_TICK", (f"price {price} is not on {order.symbol}'s tick grid "
                              f"(step {rules.tick_size(day, price)} at that price on {day})")


def at_limit(side: Side, price: Decimal, bar: BarQuote) -> tuple[str, str] | None:
    """Whether ``price`` is the limit price on the order's own side of the band."""
    if side is Side.BUY and math.isfinite(bar.upper) and float(price) >= bar.upper - _EPS:
        return "VENUE_AT_LIMIT_UP", f"buy at the limit-up price {price}: the queue at the limit rarely clears"
    if side is Side.SELL and math.isfinite(bar.lower) and float(price) <= bar.lower + _EPS:
        return "VENUE_AT_LIMIT_DOWN", f"sell at the limit-down price {price}: the queue at the limit rarely clears"
    return None


def decide(rules: MarketRules, order: Order, day: date, bar: BarQuote, at_open: bool,
           policy: LimitFillPolicy) -> Decision:
    """Every venue's matching rule for ``order`` on ``bar`` of trading day ``day``, in order: suspension
    and limit locks, the tick grid, the execution price (on the grid), a fill at the price limit."""
    return decide_for(rules.instrument_rules(parse_symbol(order.symbol)), order, day, bar, at_open, policy)


_NOT_REACHED = Decision()


def decide_for(rules: InstrumentRules, order: Order, day: date, bar: BarQuote, at_open: bool,
               policy: LimitFillPolicy) -> Decision:
    """:func:`decide` with the instrument's rules already bound (the venues keep them per instrument)."""
    side = order.side
    why = refusal(side, bar) or off_tick_for(rules, order, day)
    if why is not None:
        return Decision(refused=why)
    limit = float(order.limit_price) if order.limit_price is not None else None
    px = execution_price(order.request.order_type, side, limit, bar, at_open)
    if px is None:
        return _NOT_REACHED
    price = rules.fill_price(day, px, side)
    hit = at_limit(side, price, bar)
    if hit is None:
        return Decision(price=price)
    if policy.mode == "refuse":
        return Decision(refused=hit)
    return Decision(price=price, fraction=policy.fraction)
