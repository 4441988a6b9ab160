"""``--rules none``: a frictionless market for research. Any positive whole quantity, no price limits,
any positive price (no tick grid; fills at the bar's own price), T+0, short selling allowed, no session
restriction and zero fees."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

import numpy as np

from nofx.domain.enums import Side
from nofx.domain.fills import FeeBreakdown
from nofx.domain.instruments import Instrument
from nofx.domain.money import CENT
from nofx.markets.base import MarketRules, PriceLimits

_WHOLE_DAY: tuple[tuple[time, time], ...] = ((time(0, 0), time(23, 59, 59)),)
_ZERO = FeeBreakdown()


class NoRules(MarketRules):
    """No market rules at all; ``fees()`` is always zero (use a FeeModel to charge something)."""

    name = "none"

    def round_buy_quantity(self, inst: Instrument, on: date, quantity: int) -> int:
        return max(int(quantity), 0)

    def quantity_error(self, inst: Instrument, on: date, side: Side, quantity: int, holding: int) -> str | None:
        if quantity <= 0:
            return f"quantity must be a positive number of shares, got {quantity}"
        return None

    def price_limits(
        self, inst: Instrument, on: date, preclose: Decimal, is_st: bool, days_listed: int | None
    ) -> PriceLimits | None:
        return None

    def limit_arrays(
        self, inst: Instrument, dates: np.ndarray, preclose: np.ndarray, is_st: np.ndarray, days_listed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        return np.full(len(dates), np.nan), np.full(len(dates), np.nan)

    def tick_size(self, inst: Instrument, on: date, price: Decimal) -> Decimal:
        return CENT

    def price_on_tick(self, inst: Instrument, on: date, price: Decimal) -> bool:
        return price > 0  # frictionless: any positive price is accepted

    def fill_price(self, inst: Instrument, on: date, price: float, side: Side) -> Decimal:
        # the bar's own price, unrounded (bar prices have at most 4 meaningful decimals), as peers fill
        return Decimal(repr(round(float(price), 4)))

    def sell_locked_until_next_day(self, inst: Instrument, on: date) -> bool:
        return False

    def allows_short(self, inst: Instrument, on: date) -> bool:
        return True

    def sessions(self, inst: Instrument, on: date) -> tuple[tuple[time, time], ...]:
        return _WHOLE_DAY

    def calendar_name(self, inst: Instrument) -> str | None:
        return None

    def fees(self, inst: Instrument, on: date, side: Side, quantity: int, price: Decimal) -> FeeBreakdown:
        return _ZERO
