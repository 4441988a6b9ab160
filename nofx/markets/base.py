"""The interface every market's rules implement. Rules are queried with the simulated date, so a
2019 backtest applies 2019's rules. Concrete sets: ``cn.ChinaRules``, ``hk.HongKongRules``,
``NoRules`` (``--rules none``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, time
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_DOWN, ROUND_HALF_UP, Decimal

import numpy as np

from nofx.domain.enums import Side
from nofx.domain.fills import FeeBreakdown
from nofx.domain.instruments import Instrument
from nofx.domain.money import round_to_step
from nofx.markets.instrument_rules import InstrumentRules
from nofx.markets.fees import CommissionConfig


@dataclass(frozen=True, slots=True)
class PriceLimits:
    lower: Decimal
    upper: Decimal


class MarketRules(ABC):
    """Trading rules of one market (or none). All methods are pure functions of their arguments."""

    name: str = "abstract"
    # the account's broker commission (None: the market charges none, e.g. ``NoRules``)
    commission: CommissionConfig | None = None

    def instrument_rules(self, inst: Instrument) -> InstrumentRules:
        """This market's rules bound to ``inst`` for the order path (see :mod:`nofx.markets.instrument_rules`).
        Markets may return a faster subclass; its answers must not differ."""
        return InstrumentRules(self, inst)

    # --- quantities -------------------------------------------------------------------------
    @abstractmethod
    def round_buy_quantity(self, inst: Instrument, on: date, quantity: int) -> int:
        """Largest valid buy quantity <= ``quantity`` (0 if below the minimum)."""

    def min_buy_quantity(self, inst: Instrument, on: date) -> int:
        """Smallest buy quantity the market accepts (board lot, or STAR's 200 minimum); 1 if any."""
        q = 1
        while self.round_buy_quantity(inst, on, q) == 0 and q < 100_000:
            q += 1 if q < 100 else 100
        return self.round_buy_quantity(inst, on, q) or 1

    @abstractmethod
    def quantity_error(self, inst: Instrument, on: date, side: Side, quantity: int, holding: int) -> str | None:
        """Why ``quantity`` is not a valid order size, or ``None``. Odd lots only to sell out a holding."""

    # --- prices -----------------------------------------------------------------------------
    @abstractmethod
    def price_limits(
        self, inst: Instrument, on: date, preclose: Decimal, is_st: bool, days_listed: int | None
    ) -> PriceLimits | None:
        """Daily limit band from ``preclose`` rounded to the tick, or ``None`` when unlimited.
        ``days_listed`` counts trading days since listing (1 = first day); ``None`` if unknown."""

    def limit_arrays(
        self,
        inst: Instrument,
        dates: np.ndarray,
        preclose: np.ndarray,
        is_st: np.ndarray,
        days_listed: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Vectorised ``price_limits`` over one instrument's rows (float64, NaN = unlimited).
        Default loops over the scalar method; markets override with array code. Must agree exactly."""
        lo = np.full(len(dates), np.nan)
        hi = np.full(len(dates), np.nan)
        for k in range(len(dates)):
            pc = preclose[k]
            if not np.isfinite(pc) or pc <= 0:
                continue
            d = dates[k].astype("datetime64[D]").item() if isinstance(dates[k], np.datetime64) else dates[k]
            dl = None if days_listed[k] < 0 else int(days_listed[k])
            lim = self.price_limits(inst, d, Decimal(repr(float(pc))), bool(is_st[k]), dl)
            if lim is not None:
                lo[k], hi[k] = float(lim.lower), float(lim.upper)
        return lo, hi

    @abstractmethod
    def tick_size(self, inst: Instrument, on: date, price: Decimal) -> Decimal:
        """Minimum price step at ``price``."""

    def round_price_to_tick(self, inst: Instrument, on: date, price: Decimal, side: Side) -> Decimal:
        """Nearest valid price on the side that never worsens the order: a buy rounds down, a sell up.
        Correct for banded tick tables too (HK), because each band edge lies on the upper band's grid."""
        tick = self.tick_size(inst, on, price)
        return round_to_step(price, tick, ROUND_FLOOR if side is Side.BUY else ROUND_CEILING)

    def price_on_tick(self, inst: Instrument, on: date, price: Decimal) -> bool:
        """Whether ``price`` is a valid price step at its own level."""
        return price > 0 and price % self.tick_size(inst, on, price) == 0

    def fill_price(self, inst: Instrument, on: date, price: float, side: Side) -> Decimal:
        """The exchange price a simulated venue books for a fill computed as ``price`` (a bar's open or
        close, a VWAP, a slipped price): the nearest tick, a tie going against the trader (a buy up, a
        sell down). A limit on the grid is never crossed: the nearest tick to a price at or inside a
        grid point is at or inside it. Bar prices carry binary noise, so ``price`` is first read to 6
        decimals (ticks here are 0.001 and coarser)."""
        px = Decimal(repr(round(float(price), 6)))
        tick = self.tick_size(inst, on, px)
        steps = (px / tick).to_integral_value(rounding=ROUND_HALF_UP if side is Side.BUY else ROUND_HALF_DOWN)
        return (steps * tick).quantize(tick) if steps > 0 else tick

    # --- settlement and sessions --------------------------------------------------------------
    @abstractmethod
    def sell_locked_until_next_day(self, inst: Instrument, on: date) -> bool:
        """True under T+1 (A-shares): shares bought today cannot be sold today."""

    def allows_short(self, inst: Instrument, on: date) -> bool:
        """Whether a sell may open a short position. Markets answer from their own tables."""
        return False

    @abstractmethod
    def sessions(self, inst: Instrument, on: date) -> tuple[tuple[time, time], ...]:
        """Continuous trading sessions of the day."""

    @abstractmethod
    def calendar_name(self, inst: Instrument) -> str | None:
        """exchange-calendars code (``XSHG``, ``XHKG``) or ``None``."""

    # --- fees ---------------------------------------------------------------------------------
    @abstractmethod
    def fees(self, inst: Instrument, on: date, side: Side, quantity: int, price: Decimal) -> FeeBreakdown:
        """Every fee of one fill, rounded as charged."""
