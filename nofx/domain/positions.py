"""Positions and the account: exact money, average cost through partial sells, T+1 sellable quantity."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from nofx.domain.enums import Side
from nofx.domain.errors import OrderError
from nofx.domain.fills import Fill
from nofx.domain.money import ZERO, average


@dataclass(slots=True)
class Position:
    """One symbol's holding. ``avg_cost`` is the average price of the shares still held (fees excluded,
    booked separately), so a partial sell leaves it unchanged and books realised PnL on the part sold.

    ``locked`` holds quantities bought on a date and not yet sellable under the market's settlement
    rule (A-share T+1); the portfolio unlocks them when the next trading day starts.
    """

    symbol: str
    quantity: int = 0
    avg_cost: Decimal = ZERO
    realised_pnl: Decimal = ZERO  # on price only; fees are in the account
    locked: dict[date, int] = field(default_factory=dict)

    @property
    def sellable(self) -> int:
        return self.quantity - sum(self.locked.values())

    @property
    def cost_basis(self) -> Decimal:
        return self.avg_cost * self.quantity

    def unrealised_pnl(self, mark: Decimal) -> Decimal:
        return (mark - self.avg_cost) * self.quantity

    def apply_fill(self, fill: Fill, lock_until_next_day: bool, allow_short: bool = False) -> None:
        if fill.side is Side.BUY:
            if self.quantity < 0:
                self._cover(fill)
            else:
                new_qty = self.quantity + fill.quantity
                self.avg_cost = average(self.avg_cost * self.quantity + fill.price * fill.quantity, new_qty)
                self.quantity = new_qty
            if lock_until_next_day:
                d = fill.ts.date()
                self.locked[d] = self.locked.get(d, 0) + fill.quantity
            return
        # sell
        if fill.quantity > self.sellable and self.quantity > 0 and not allow_short:
            raise OrderError("sell exceeds sellable quantity", symbol=self.symbol, quantity=fill.quantity,
                             sellable=self.sellable)
        if self.quantity > 0:
            closed = min(fill.quantity, self.quantity)
            self.realised_pnl += (fill.price - self.avg_cost) * closed
            self.quantity -= closed
            rest = fill.quantity - closed
            if self.quantity == 0:
                self.avg_cost = ZERO
            if rest:
                if not allow_short:
                    raise OrderError("sell would open a short position", symbol=self.symbol)
                self._open_short(rest, fill.price)
        else:
            if not allow_short:
                raise OrderError("sell would open a short position", symbol=self.symbol)
            self._open_short(fill.quantity, fill.price)

    def _open_short(self, qty: int, price: Decimal) -> None:
        held = -self.quantity
        self.avg_cost = average(self.avg_cost * held + price * qty, held + qty)
        self.quantity -= qty

    def _cover(self, fill: Fill) -> None:
        covered = min(fill.quantity, -self.quantity)
        self.realised_pnl += (self.avg_cost - fill.price) * covered
        self.quantity += covered
        rest = fill.quantity - covered
        if self.quantity == 0:
            self.avg_cost = ZERO
        if rest:
            self.avg_cost = fill.price
            self.quantity = rest

    def apply_split(self, ratio: Decimal) -> int:
        """Scale the holding by ``ratio`` (bonus shares, splits); fractions of a share are dropped
        (brokers pay them in cash, which the data does not tell). Returns the new quantity."""
        if ratio == 1 or self.quantity == 0:
            return self.quantity
        new_qty = int(self.quantity * ratio)
        self.avg_cost = average(self.avg_cost * self.quantity, new_qty) if new_qty else ZERO
        self.locked = {d: int(q * ratio) for d, q in self.locked.items()}
        self.quantity = new_qty
        return new_qty

    def unlock_before(self, day: date) -> None:
        """Make shares bought before ``day`` sellable (called at the start of each trading day)."""
        for d in [d for d in self.locked if d < day]:
            del self.locked[d]
