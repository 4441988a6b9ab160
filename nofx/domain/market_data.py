"""Bars and ticks as values. Research code works on arrays (``nofx.data``); these are the typed
messages that a live feed, the bus and the API carry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from nofx.domain.errors import DataError


@dataclass(frozen=True, slots=True)
class Bar:
    symbol: str
    ts: datetime  # bar end time (exchange local)
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    preclose: Decimal | None = None
    suspended: bool = False

    def __post_init__(self) -> None:
        if self.suspended:
            return
        if min(self.open, self.high, self.low, self.close) <= 0:
            raise DataError("bar prices must be positive", symbol=self.symbol, ts=self.ts)
        if self.high < max(self.open, self.close, self.low) or self.low > min(self.open, self.close, self.high):
            raise DataError("bar OHLC inconsistent", symbol=self.symbol, ts=self.ts)
        if self.volume < 0:
            raise DataError("bar volume negative", symbol=self.symbol, ts=self.ts)

    def to_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "ts": self.ts.isoformat(), "open": str(self.open), "high": str(self.high),
                "low": str(self.low), "close": str(self.close), "volume": self.volume,
                "preclose": None if self.preclose is None else str(self.preclose), "suspended": self.suspended}


@dataclass(frozen=True, slots=True)
class Tick:
    """One trade print."""

    symbol: str
    ts: datetime
    price: Decimal
    size: int

    def __post_init__(self) -> None:
        if self.price <= 0 or self.size <= 0:
            raise DataError("tick price and size must be positive", symbol=self.symbol, ts=self.ts)


@dataclass(frozen=True, slots=True)
class PositionSnapshot:
    symbol: str
    quantity: int
    sellable: int
    avg_cost: Decimal
    realised_pnl: Decimal
    unrealised_pnl: Decimal | None  # None when no mark price is known


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """An account at one moment: cash, cash frozen by open buy orders, positions."""

    ts: datetime
    cash: Decimal
    frozen_cash: Decimal
    positions: tuple[PositionSnapshot, ...]

    @property
    def available_cash(self) -> Decimal:
        return self.cash - self.frozen_cash
