"""A fill (trade execution) as an immutable value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from nofx.domain.enums import Side


@dataclass(frozen=True, slots=True)
class FeeBreakdown:
    """Every fee component of one fill, each already rounded as the market charges it."""

    commission: Decimal = Decimal(0)
    stamp_duty: Decimal = Decimal(0)
    transfer_fee: Decimal = Decimal(0)
    levies: Decimal = Decimal(0)  # HK SFC + AFRC levies
    trading_fee: Decimal = Decimal(0)  # HKEX trading fee

    @property
    def total(self) -> Decimal:
        return self.commission + self.stamp_duty + self.transfer_fee + self.levies + self.trading_fee


@dataclass(frozen=True, slots=True)
class Fill:
    fill_id: str
    order_id: str
    symbol: str
    side: Side
    quantity: int
    price: Decimal
    fee: Decimal
    ts: datetime

    @property
    def notional(self) -> Decimal:
        return self.price * self.quantity

    @property
    def cash_delta(self) -> Decimal:
        """Signed change of cash: buys pay notional + fee, sells receive notional - fee."""
        if self.side is Side.BUY:
            return -(self.notional + self.fee)
        return self.notional - self.fee

    def to_dict(self) -> dict[str, Any]:
        return {
            "fill_id": self.fill_id,
            "order_id": self.order_id,
            "symbol": self.symbol,
            "side": self.side.value,
            "quantity": self.quantity,
            "price": str(self.price),
            "fee": str(self.fee),
            "ts": self.ts.isoformat(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Fill":
        return cls(
            fill_id=d["fill_id"],
            order_id=d["order_id"],
            symbol=d["symbol"],
            side=Side(d["side"]),
            quantity=int(d["quantity"]),
            price=Decimal(d["price"]),
            fee=Decimal(d["fee"]),
            ts=datetime.fromisoformat(d["ts"]),
        )
