"""FIFO tax lots: when each held share was bought, and the cash dividends it received while held.

A-share dividend tax for individuals is computed when shares are sold (Caishui [2015] No. 101): the
shares sold are taken first-in first-out, and the dividends those shares received are taxed at the rate
of their holding period. This module keeps exactly that bookkeeping, in Decimal, with no rates in it
(rates are market rules: ``nofx.markets.dividend_tax``).

A lot remembers, per dividend, the gross cash its shares received (``cash_per_share x shares``, exact).
Selling part of a lot takes the same fraction of each amount, rounded half up to 0.0001 (CNY); the last
share sold takes what is left, so a lot's dividends are attributed completely and exactly once.
Bonus shares and splits scale the lots (the new shares keep the acquisition date of the shares they
came from, as the notice says); shares dropped as fractions leave from the latest lot.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

ATTRIBUTION_STEP = Decimal("0.0001")


@dataclass(slots=True)
class TaxLot:
    acquired: date
    quantity: int
    dividends: list[tuple[date, Decimal]] = field(default_factory=list)  # (ex-date, gross cash)


@dataclass(frozen=True, slots=True)
class LotSale:
    """The part of one lot a sale takes: its acquisition date, quantity, and the gross dividends
    (ex-date, cash) attributable to those shares."""

    acquired: date
    quantity: int
    dividends: tuple[tuple[date, Decimal], ...]


class TaxLots:
    """FIFO lots of every long holding of one account."""

    __slots__ = ("_lots",)

    def __init__(self) -> None:
        self._lots: dict[str, deque[TaxLot]] = {}

    def lots(self, symbol: str) -> tuple[TaxLot, ...]:
        return tuple(self._lots.get(symbol, ()))

    def quantity(self, symbol: str) -> int:
        return sum(lot.quantity for lot in self._lots.get(symbol, ()))

    def has_dividends(self, symbol: str) -> bool:
        """Whether any share held of ``symbol`` received a dividend (else a sale owes no tax)."""
        return any(lot.dividends for lot in self._lots.get(symbol, ()))

    def buy(self, symbol: str, day: date, quantity: int) -> None:
        if quantity <= 0:
            return
        lots = self._lots.setdefault(symbol, deque())
        if lots and lots[-1].acquired == day and not lots[-1].dividends:
            lots[-1].quantity += quantity  # same-day buys are one lot: same holding period
        else:
            lots.append(TaxLot(day, quantity))

    def preview_sale(self, symbol: str, quantity: int) -> list[LotSale]:
        """What selling ``quantity`` would take, FIFO, without changing the lots."""
        return self._take(symbol, quantity)

    def sell(self, symbol: str, quantity: int) -> None:
        """Take ``quantity`` shares FIFO (at most what the lots hold); :meth:`preview_sale` says what."""
        lots = self._lots.get(symbol)
        if not lots or quantity <= 0:
            return
        left = quantity
        while lots and left > 0:
            lot = lots[0]
            if lot.quantity <= left:
                left -= lot.quantity
                lots.popleft()
                continue
            if lot.dividends:  # the part sold takes its share of each dividend (as preview_sale computes it)
                lot.dividends = [(d, cash - taken) for (d, cash), (_, taken)
                                 in zip(lot.dividends, _shares_of(lot.dividends, left, lot.quantity))]
            lot.quantity -= left
            left = 0
        if not lots:
            del self._lots[symbol]

    def dividend(self, symbol: str, ex_date: date, cash_per_share: Decimal) -> None:
        """Every lot held receives ``cash_per_share`` on each of its shares."""
        if cash_per_share <= 0:
            return
        for lot in self._lots.get(symbol, ()):
            lot.dividends.append((ex_date, cash_per_share * lot.quantity))

    def split(self, symbol: str, ratio: Decimal, new_quantity: int) -> None:
        """Scale the lots by ``ratio`` so that they hold ``new_quantity`` shares in all."""
        lots = self._lots.get(symbol)
        if not lots or ratio == 1:
            return
        for lot in lots:
            lot.quantity = int(lot.quantity * ratio)
        excess = sum(lot.quantity for lot in lots) - new_quantity
        for lot in reversed(lots):  # rounding leftovers leave from (or join) the latest lot
            if excess == 0:
                break
            change = min(excess, lot.quantity)
            lot.quantity -= change
            excess -= change
        if excess < 0:
            lots[-1].quantity -= excess
        # a lot rounded away entirely was paid out as cash fractions: nothing of it is ever sold
        self._lots[symbol] = deque(lot for lot in lots if lot.quantity > 0)

    def _take(self, symbol: str, quantity: int) -> list[LotSale]:
        out: list[LotSale] = []
        left = quantity
        for lot in self._lots.get(symbol, ()):
            if left <= 0:
                break
            n = min(left, lot.quantity)
            left -= n
            part = tuple(lot.dividends) if n == lot.quantity else _shares_of(lot.dividends, n, lot.quantity)
            out.append(LotSale(lot.acquired, n, part))
        return out


def _shares_of(dividends: list[tuple[date, Decimal]], n: int, of: int) -> tuple[tuple[date, Decimal], ...]:
    """The part of each dividend that ``n`` of ``of`` shares received, rounded half up to 0.0001."""
    return tuple((d, (cash * n / of).quantize(ATTRIBUTION_STEP, ROUND_HALF_UP)) for d, cash in dividends)
