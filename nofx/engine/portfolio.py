"""The in-memory ledger: cash, positions, reservations for open orders. Rebuilt from fills at start.

Money is Decimal throughout; ``equity()`` is a float estimate for sizing decisions only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Callable, Mapping

from nofx.domain.enums import Side
from nofx.domain.events import CorporateActionApplied, DividendTaxDeducted
from nofx.domain.fills import Fill
from nofx.domain.market_data import AccountSnapshot, PositionSnapshot
from nofx.domain.money import ZERO
from nofx.domain.positions import Position
from nofx.domain.tax_lots import TaxLots
from nofx.strategies.base import PositionView


@dataclass(frozen=True, slots=True)
class LedgerTotals:
    bought: Decimal
    sold: Decimal
    fees: Decimal


class Portfolio:
    """Cash and positions of one trader. Implements the strategies' ``PortfolioView``."""

    def __init__(self, initial_cash: Decimal) -> None:
        self.initial_cash = initial_cash
        self._cash = initial_cash
        self._positions: dict[str, Position] = {}
        self.reserved_cash = ZERO  # cash set aside for open buy orders (estimated notional + fees)
        self.reserved_sell: dict[str, int] = {}  # quantity promised to open sell orders
        self.fees_paid = ZERO
        self.bought = ZERO
        self.sold = ZERO
        self.dividends = ZERO  # cash received from corporate actions (after tax withheld at source)
        self.tax_withheld = ZERO  # dividend tax withheld at source (never reached the account)
        self.dividend_tax = ZERO  # dividend tax deducted from cash at sale (A-share individuals)
        # FIFO lots with the dividends they received: kept only where dividend tax is due at sale
        self.tax_lots: TaxLots | None = None
        self._marks: dict[str, float] = {}
        self._current_day: date | None = None
        # where equity() gets prices: the clock's last known close per symbol (set by the runner)
        self.mark_source: Callable[[str], float | None] | None = None
        self._locked_symbols: set[str] = set()  # symbols with T+1-locked shares (unlocked each new day)

    # ---- PortfolioView -----------------------------------------------------------------
    @property
    def cash(self) -> Decimal:
        return self._cash

    @property
    def available_cash(self) -> Decimal:
        return self._cash - self.reserved_cash

    def quantity(self, symbol: str) -> int:
        p = self._positions.get(symbol)
        return p.quantity if p is not None else 0

    def sellable(self, symbol: str) -> int:
        p = self._positions.get(symbol)
        return p.sellable if p is not None else 0

    def sellable_on(self, symbol: str, day: date) -> int:
        """Quantity sellable by an order executing on ``day`` (shares locked on earlier days unlock)."""
        p = self._positions.get(symbol)
        if p is None:
            return 0
        return p.quantity - sum(q for d, q in p.locked.items() if d >= day)

    def position(self, symbol: str) -> Position | None:
        return self._positions.get(symbol)

    def positions(self) -> Mapping[str, PositionView]:
        return {
            s: PositionView(s, p.quantity, p.sellable, p.avg_cost)
            for s, p in self._positions.items()
            if p.quantity != 0
        }

    def raw_positions(self) -> Mapping[str, Position]:
        return self._positions

    def mark(self, symbol: str, price: float) -> None:
        self._marks[symbol] = price

    def mark_many(self, symbols: tuple[str, ...], prices) -> None:  # prices: sequence of float
        marks = self._marks
        for k, s in enumerate(symbols):
            v = prices[k]
            if v == v:  # not NaN
                marks[s] = float(v)

    def last_mark(self, symbol: str) -> float | None:
        return self._marks.get(symbol)

    def equity(self) -> float:
        total = float(self._cash)
        src = self.mark_source
        for s, p in self._positions.items():
            if p.quantity:
                m = src(s) if src is not None else self._marks.get(s)
                total += p.quantity * (m if m is not None else float(p.avg_cost))
        return total

    def exact_equity(self, marks: Mapping[str, Decimal]) -> Decimal:
        total = self._cash
        for s, p in self._positions.items():
            if p.quantity:
                total += p.quantity * marks.get(s, p.avg_cost)
        return total

    # ---- ledger updates -----------------------------------------------------------------
    def start_day(self, day: date) -> None:
        """T+1 unlock: at the start of a trading day, shares bought on earlier days become sellable."""
        if self._current_day == day:
            return
        self._current_day = day
        if self._locked_symbols:
            for sym in list(self._locked_symbols):
                p = self._positions[sym]
                p.unlock_before(day)
                if not p.locked:
                    self._locked_symbols.discard(sym)

    def apply_fill(self, fill: Fill, lock_until_next_day: bool, allow_short: bool = False) -> None:
        pos = self._positions.get(fill.symbol)
        if pos is None:
            pos = self._positions[fill.symbol] = Position(fill.symbol)
        long_before = max(pos.quantity, 0)
        pos.apply_fill(fill, lock_until_next_day=lock_until_next_day, allow_short=allow_short)
        if self.tax_lots is not None:
            long_after = max(pos.quantity, 0)
            if long_after > long_before:
                self.tax_lots.buy(fill.symbol, fill.ts.date(), long_after - long_before)
            elif long_after < long_before:
                self.tax_lots.sell(fill.symbol, long_before - long_after)
        if pos.locked:
            self._locked_symbols.add(fill.symbol)
        notional = fill.price * fill.quantity  # once (Fill.notional / cash_delta would compute it twice)
        if fill.side is Side.BUY:
            self._cash -= notional + fill.fee
            self.bought += notional
        else:
            self._cash += notional - fill.fee
            self.sold += notional
        self.fees_paid += fill.fee

    def apply_corporate_action(self, ev: "CorporateActionApplied") -> None:
        pos = self._positions.get(ev.symbol)
        if pos is None or pos.quantity != ev.quantity_before:
            raise ValueError(f"corporate action on {ev.symbol} does not match the holding")
        self._cash += ev.cash
        self.dividends += ev.cash
        self.tax_withheld += ev.tax_withheld
        pos.realised_pnl += ev.cash
        if self.tax_lots is not None:
            if not ev.tax_withheld:  # taxed at source already: nothing left to tax at sale
                self.tax_lots.dividend(ev.symbol, ev.ts.date(), ev.cash_per_share)
            self.tax_lots.split(ev.symbol, ev.split_ratio, ev.quantity_after)
        pos.apply_split(ev.split_ratio)

    def apply_dividend_tax(self, ev: DividendTaxDeducted) -> None:
        self._cash -= ev.amount
        self.dividend_tax += ev.amount

    def snapshot(self, ts: datetime, marks: Mapping[str, Decimal] | None = None) -> AccountSnapshot:
        marks = marks or {}
        return AccountSnapshot(ts, self._cash, self.reserved_cash, tuple(
            PositionSnapshot(s, p.quantity, p.sellable, p.avg_cost, p.realised_pnl,
                             p.unrealised_pnl(marks[s]) if s in marks else None)
            for s, p in sorted(self._positions.items()) if p.quantity
        ))

    def totals(self) -> LedgerTotals:
        return LedgerTotals(self.bought, self.sold, self.fees_paid)

    def reconciles(self) -> bool:
        """cash == initial - buys + sells - fees + dividends - dividend tax deducted at sale, exactly."""
        return self._cash == (self.initial_cash - self.bought + self.sold - self.fees_paid + self.dividends
                              - self.dividend_tax)
