"""The paper-trading venue: a price-time-priority order book per symbol, fed by replayed bars or ticks.

Unlike the backtest's bar exchange (where each order meets a bar on its own), orders here compete for
the bar's liquidity in priority order: best price first, then earliest arrival. An order becomes
eligible ``latency`` after it was submitted. Suspension, limit locks, the tick grid and fills at a price
limit come from the same ``nofx.engine.matching.decide`` as the backtester's.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from nofx.domain.enums import OrderType, Side, TimeInForce
from nofx.domain.orders import Order
from nofx.engine.matching import BarQuote, LimitFillPolicy, decide_for, volume_cap
from nofx.engine.venue import VenueListener
from nofx.markets.instrument_rules import InstrumentRulesCache
from nofx.markets.rulebook import RuleBook


@dataclass(order=True, slots=True)
class _Entry:
    key: tuple[float, int]  # (price priority, arrival sequence)
    order: Order = field(compare=False)
    eligible_at: datetime = field(compare=False)


class SymbolBook:
    """Resting orders of one symbol: bids by highest price then time, asks by lowest price then time.
    Market orders rank ahead of every limit price."""

    def __init__(self) -> None:
        self.bids: list[_Entry] = []
        self.asks: list[_Entry] = []

    def add(self, order: Order, seq: int, eligible_at: datetime) -> None:
        px = float(order.limit_price) if order.limit_price is not None else None
        if order.side is Side.BUY:
            key = (-(px if px is not None and order.request.order_type is OrderType.LIMIT else float("inf")), seq)
            heapq.heappush(self.bids, _Entry(key, order, eligible_at))
        else:
            key = ((px if px is not None and order.request.order_type is OrderType.LIMIT else float("-inf")), seq)
            heapq.heappush(self.asks, _Entry(key, order, eligible_at))

    def in_priority(self, side: Side) -> list[_Entry]:
        return sorted(self.bids if side is Side.BUY else self.asks)

    def remove(self, order_id: str) -> bool:
        for heap in (self.bids, self.asks):
            for k, e in enumerate(heap):
                if e.order.order_id == order_id:
                    heap.pop(k)
                    heapq.heapify(heap)
                    return True
        return False

    def __len__(self) -> int:
        return len(self.bids) + len(self.asks)


class OrderBookExchange:
    def __init__(self, rulebook: RuleBook, clock, participation: float = 0.25,
                 latency: timedelta = timedelta(0), at_limit: LimitFillPolicy | None = None) -> None:
        self.rulebook = rulebook  # (sets the per-instrument rules cache)
        self.clock = clock  # anything with now() -> datetime
        self.participation = participation
        self.at_limit = at_limit or LimitFillPolicy()
        self.latency = latency
        self.listener: VenueListener | None = None
        self._books: dict[str, SymbolBook] = {}
        self._seq = itertools.count()
        self._where: dict[str, str] = {}  # order_id -> symbol

    @property
    def rulebook(self) -> RuleBook:
        return self._instruments.rulebook

    @rulebook.setter
    def rulebook(self, rulebook: RuleBook) -> None:
        self._instruments = InstrumentRulesCache(rulebook)

    # ---- Venue ------------------------------------------------------------------------------
    def submit(self, order: Order) -> None:
        book = self._books.setdefault(order.symbol, SymbolBook())
        # eligibility counts from the order's own submission time, so an order put back on the book
        # after a restart is not matched against bars it could never have met
        book.add(order, next(self._seq), order.created + self.latency)
        self._where[order.order_id] = order.symbol

    def cancel(self, order_id: str) -> bool:
        sym = self._where.pop(order_id, None)
        return sym is not None and self._books[sym].remove(order_id)

    @property
    def has_pending(self) -> bool:
        return bool(self._where)

    def resting(self, symbol: str) -> int:
        book = self._books.get(symbol)
        return len(book) if book else 0

    def symbols_by_arrival(self) -> list[str]:
        """Symbols with resting orders, by their earliest order's arrival: a bar meets the books in the
        order the orders came (as the backtest's bar exchange matches them), so when one slice's buys
        compete for cash the earlier order is served first on either venue."""
        first = {sym: min(e.key[1] for e in (*b.bids, *b.asks)) for sym, b in self._books.items() if len(b)}
        return sorted(first, key=first.__getitem__)

    # ---- market data in ------------------------------------------------------------------------
    def on_bar(self, symbol: str, ts: datetime, bar: BarQuote, day_end: bool) -> None:
        """Match the book of ``symbol`` against a bar that started at or after ``ts``."""
        book = self._books.get(symbol)
        if not book:
            return
        for side in (Side.SELL, Side.BUY):  # sells first: they free cash and never need it
            self._match_side(book, side, ts, bar, day_end)

    def on_tick(self, symbol: str, ts: datetime, price: float, size: int, day_end: bool = False) -> None:
        """A trade print: resting orders that cross ``price`` fill at it, in priority, up to ``size``."""
        bar = BarQuote(price, price, price, price, float(size), 1.0, float("nan"), float("nan"))
        book = self._books.get(symbol)
        if book:
            for side in (Side.SELL, Side.BUY):
                self._match_side(book, side, ts, bar, day_end, participation=1.0)

    def _match_side(self, book: SymbolBook, side: Side, ts: datetime, bar: BarQuote, day_end: bool,
                    participation: float | None = None) -> None:
        listener = self.listener
        assert listener is not None, "exchange not connected to an engine"
        entries = book.in_priority(side)
        if not entries:
            return
        share = self.participation if participation is None else participation
        liquidity = volume_cap(bar.volume, share)
        day = ts.date()
        for e in entries:
            order = e.order
            if not order.status.is_open:
                self._drop(book, order)
                continue
            if e.eligible_at >= ts:
                continue  # in flight (latency), or the bar it was decided on: only later bars count
            rules = self._instruments.get(order.symbol)
            decision = decide_for(rules, order, day, bar, True, self.at_limit)
            if decision.refused is not None:
                self._drop(book, order)
                listener.on_venue_reject(order, *decision.refused)
                continue
            px = decision.price
            leaves = order.quantity - order.filled_qty
            # at a price limit (policy "fraction") this order may take at most that share of the bar
            room = liquidity if decision.fraction is None else min(
                liquidity, volume_cap(bar.volume, min(share, decision.fraction)))
            if px is not None and room > 0:
                qty = min(leaves, room)
                if qty < leaves:
                    qty = rules.round_buy_quantity(day, qty)
                if order.request.tif is TimeInForce.FOK and qty < leaves:
                    qty = 0
                if qty > 0:
                    booked = listener.on_venue_fill(order, qty, px)
                    liquidity -= booked
            if not order.status.is_open:
                self._drop(book, order)
                continue
            if order.request.tif is not TimeInForce.DAY or day_end:
                self._drop(book, order)
                listener.on_venue_expire(order, "limit not reached" if px is None else "not enough liquidity")

    def _drop(self, book: SymbolBook, order: Order) -> None:
        if self._where.pop(order.order_id, None) is not None:
            book.remove(order.order_id)
