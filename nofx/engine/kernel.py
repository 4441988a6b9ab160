"""The trading kernel: the one order path shared by backtest, paper and live trading.

    strategy -> submit() -> idempotency -> risk -> OMS -> router -> venue
    venue -> on_venue_fill/reject/expire -> ledger (store, write-ahead) -> OMS -> portfolio -> listeners

Nothing here knows which clock or venue it runs with. When a store is given, every event is appended
(committed) before the call that caused it returns, so an acknowledged order or fill survives a crash,
and :meth:`TradingEngine.rebuild` restores state from the stored events.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Callable, Iterable, Protocol, Sequence

from nofx.domain.corporate_actions import CorporateAction
from nofx.domain.enums import OrderStatus, OrderType, Side
from nofx.domain.errors import OrderError
from nofx.domain.events import (
    CorporateActionApplied,
    DividendTaxDeducted,
    Event,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderDenied,
    OrderExpired,
    OrderFilled,
    OrderProgress,
    OrderRejected,
    OrderSubmitted,
)
from nofx.domain.fills import Fill
from nofx.domain.instruments import Instrument, parse_symbol
from nofx.domain.money import ZERO, average, round_cents
from nofx.domain.orders import Order, OrderRequest
from nofx.engine.oms import OrderManager
from nofx.engine.portfolio import Portfolio
from nofx.engine.risk import RiskContext, RiskEngine
from nofx.engine.router import Router
from nofx.engine.store import LedgerStore
from nofx.domain.tax_lots import TaxLots
from nofx.markets.instrument_rules import InstrumentRules, InstrumentRulesCache
from nofx.markets.dividend_tax import DividendTax
from nofx.markets.fees import FeeModel
from nofx.markets.rulebook import RuleBook


class MarketState(Protocol):
    """What the clock knows about the market now (given by the backtest or paper runner)."""

    def now(self) -> datetime: ...

    def exec_day(self) -> date:
        """Trading day on which an order submitted now can first execute."""
        ...

    def last_price(self, symbol: str) -> Decimal | None: ...

    def limits(self, symbol: str) -> tuple[Decimal, Decimal] | None: ...


@dataclass(frozen=True, slots=True)
class RejectionRecord:
    ts: datetime
    request: OrderRequest
    code: str
    reason: str


EventListener = Callable[[Event], None]

_CLOSED_UNFILLED = (OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED)


class TradingEngine:
    def __init__(
        self,
        trader_id: str,
        portfolio: Portfolio,
        rulebook: RuleBook,
        fee_model: FeeModel,
        risk: RiskEngine,
        router: Router,
        market: MarketState,
        store: LedgerStore | None = None,
        listeners: Iterable[EventListener] = (),
        group_commit: bool = False,
        dividend_tax: DividendTax | None = None,
    ) -> None:
        self.trader_id = trader_id
        self.dividend_tax = dividend_tax
        if dividend_tax is not None and dividend_tax.taxes_at_sale and portfolio.tax_lots is None:
            portfolio.tax_lots = TaxLots()
        self.portfolio = portfolio
        self._rulebook = rulebook
        self._fees = fee_model
        # per instrument: its market's rules and fee function, bound once (rows kept while they hold)
        self._instruments = InstrumentRulesCache(rulebook, fee_model)
        self.risk = risk
        self.router = router
        self.market = market
        self.store = store
        # group commit: events are staged in the store's buffer and committed by flush(); the caller
        # acknowledges nothing to the outside world before flush() returns
        self.group_commit = group_commit and store is not None and hasattr(store, "buffer")
        self.listeners = list(listeners)
        self.oms = OrderManager(trader_id)
        self.rejections: list[RejectionRecord] | deque[RejectionRecord] = []
        self.fills: list[Fill] = []
        self.tax_events: list[DividendTaxDeducted] = []  # dividend tax deducted at sale (kept with fills)
        self.keep_fills = True  # backtests keep them for the report; long paper runs may not
        self._fill_seq = itertools.count(1)
        self._reserve: dict[str, Decimal] = {}  # order_id -> reserved cash (buys)
        self._fill_callbacks: list[Callable[[Fill], None]] = []
        self._reject_callbacks: list[Callable[[OrderRequest, str, str], None]] = []
        self.day_start_equity: float | None = None
        self._pending_children: list[tuple[datetime, Order]] = []
        self._applied_actions: set[tuple[str, date]] = set()  # (symbol, ex-date) booked in the ledger
        # turnover each venue order has filled on the current trading day: a per-order commission
        # minimum is charged once per order-day (rebuilt from the fills at start, so a resumed run charges
        # exactly what an uninterrupted one does)
        self._order_turnover: _OrderDayTurnover = _OrderDayTurnover()

    @property
    def rulebook(self) -> RuleBook:
        return self._rulebook

    @rulebook.setter
    def rulebook(self, rulebook: RuleBook) -> None:
        self._rulebook = rulebook
        self._instruments = InstrumentRulesCache(rulebook, self._fees)

    @property
    def fees(self) -> FeeModel:
        return self._fees

    @fees.setter
    def fees(self, fee_model: FeeModel) -> None:
        self._fees = fee_model
        self._instruments = InstrumentRulesCache(self._rulebook, fee_model)

    def flush(self) -> None:
        """Commit staged events (group commit); a no-op when every event is committed as it happens."""
        if self.group_commit:
            self.store.flush()  # type: ignore[union-attr]

    def bound_history(self, keep: int = 10_000) -> None:
        """For long-running traders: keep only recent fills/refusals in memory (the ledger has all)."""
        self.keep_fills = False
        self.fills = []
        self.rejections = deque(self.rejections, maxlen=keep)

    # ---- wiring ------------------------------------------------------------------------------
    def on_fill(self, cb: Callable[[Fill], None]) -> None:
        self._fill_callbacks.append(cb)

    def on_rejection(self, cb: Callable[[OrderRequest, str, str], None]) -> None:
        self._reject_callbacks.append(cb)

    def _emit(self, events: Sequence[Event]) -> None:
        """Write-ahead: persist, then apply to in-memory state, then tell listeners."""
        store = self.store
        if store is not None:
            if self.group_commit:
                store.buffer(self.trader_id, events)
            else:
                store.append(self.trader_id, events)
        apply = self.oms.apply
        for ev in events:
            apply(ev)
        listeners = self.listeners
        if listeners:
            for ev in events:
                for listener in listeners:
                    listener(ev)

    # ---- the order path -----------------------------------------------------------------------
    def submit(self, request: OrderRequest, parent_id: str | None = None) -> Order:
        """Submit an order; returns it once acknowledged (accepted or denied, and persisted)."""
        oms = self.oms
        if request.client_order_id:
            existing = oms.find_client_order(request.client_order_id)
            if existing is not None:
                return existing  # a retried submission returns the first order, never a second one
        # (after a restart the OMS is rebuilt from the store, so this in-memory check covers stored orders)
        market = self.market
        now = market.now()
        symbol = request.symbol
        exec_day = market.exec_day()
        rules = self._instruments.get(symbol)  # raises for a bad symbol or a market the rule book lacks
        inst = rules.inst
        last = market.last_price(symbol)
        band = market.limits(symbol)
        side = request.side
        order_type = request.order_type
        if order_type is OrderType.MARKET and request.limit_price is None and band is not None:
            # A-share market orders carry a protection price; by default the day's limit on the far
            # side, which no fill can pass anyway
            request = OrderRequest(symbol, side, request.quantity, order_type,
                                   band[1] if side is Side.BUY else band[0], request.tif,
                                   request.client_order_id, request.tag)
        # reference price for risk and cash: a limit order's limit; a market order's last trade
        lot_checked = False
        if not rules.is_index:
            rounded = self.router.round_instrument_quantity(rules, exec_day, side, request.quantity,
                                                            self.portfolio.quantity(symbol))
            if 0 < rounded != request.quantity:
                request = OrderRequest(symbol, side, rounded, order_type,
                                       request.limit_price, request.tif, request.client_order_id,
                                       f"{request.tag} (rounded from {request.quantity} to the lot)".strip())
            lot_checked = rounded > 0  # the router found this size valid: no need to ask again
        ref = request.limit_price if order_type is OrderType.LIMIT or last is None else last
        order_id = oms.next_order_id()
        submitted = OrderSubmitted(now, order_id, self.trader_id, request, parent_id)
        if ref is None:
            return self._deny(submitted, request, now, "RISK_NO_PRICE", f"no price known for {symbol}")
        est_fee = (rules.fee_total(exec_day, Side.BUY, request.quantity, ref, ZERO)  # type: ignore[misc]
                   if side is Side.BUY and request.quantity > 0 and not rules.is_index else ZERO)
        ctx = RiskContext(request, inst, rules.rules, self._fees, self.portfolio, now, exec_day, ref, last, band,
                          len(oms.open_orders), self.day_start_equity, est_fee, lot_checked, rules)
        denial = self.risk.check(ctx, self.trader_id)
        if denial is not None:
            return self._deny(submitted, request, now, denial.code, denial.reason)
        self._emit((submitted, OrderAccepted(now, order_id)))
        order = oms.get(order_id)
        self._reserve_for(order, ref, est_fee)
        plan = None
        if parent_id is None and self.router.splits:
            plan = self.router.plan(inst, request.quantity, rules.min_buy_quantity(exec_day), now)
        if plan:
            for spec in plan:
                child_req = OrderRequest(request.symbol, request.side, spec.quantity, request.order_type,
                                         request.limit_price, request.tif, None, request.tag)
                child_id = self.oms.next_order_id()
                self._emit((OrderSubmitted(now, child_id, self.trader_id, child_req, order_id),
                            OrderAccepted(now, child_id)))
                child = self.oms.get(child_id)
                if spec.release_at <= now:
                    self.router.venue_for(inst).submit(child)
                else:
                    self._pending_children.append((spec.release_at, child))
        else:
            self.router.venue_for(inst).submit(order)
        return order

    def release_due_children(self) -> None:
        """Send TWAP child orders whose release time has come (called by the clock)."""
        if not self._pending_children:
            return
        now = self.market.now()
        due = [(t, c) for t, c in self._pending_children if t <= now]
        self._pending_children = [(t, c) for t, c in self._pending_children if t > now]
        for _, child in due:
            if child.status.is_open:
                self.router.venue_for(parse_symbol(child.symbol)).submit(child)

    def cancel(self, order_id: str, reason: str = "cancelled by user") -> bool:
        order = self.oms.get(order_id)
        if not order.status.is_open:
            return False
        inst = parse_symbol(order.symbol)
        kids = self.oms.children(order_id)
        targets = [k for k in kids if k.status.is_open] or [order]
        for o in targets:
            self.router.venue_for(inst).cancel(o.order_id)
            self._close(o, OrderCancelled(self.market.now(), o.order_id, reason))
        self._pending_children = [(t, c) for t, c in self._pending_children if c.parent_id != order_id]
        if kids and order.status.is_open:
            self._close(order, OrderCancelled(self.market.now(), order_id, reason))
        return True

    def amend(self, order_id: str, quantity: int | None = None, limit_price: Decimal | None = None) -> Order:
        """Change an open order's total quantity and/or limit price. The venue re-queues it (a real book
        gives an amended order new time priority). What is left to fill must pass the lot rule."""
        order = self.oms.get(order_id)
        if not order.status.is_open:
            raise OrderError("only open orders can be amended", order_id=order_id, status=order.status.value)
        inst = parse_symbol(order.symbol)
        day = self.market.exec_day()
        if quantity is not None:
            if quantity <= order.filled_qty:
                raise OrderError("amended quantity must exceed what is already filled", order_id=order_id,
                                 filled=order.filled_qty)
            err = self.rulebook.rules_for(inst).quantity_error(
                inst, day, order.side, quantity - order.filled_qty, self.portfolio.quantity(order.symbol))
            if err:
                raise OrderError(f"amend refused: {err}", order_id=order_id)
        if limit_price is not None and not self.rulebook.price_on_tick(inst, day, limit_price):
            raise OrderError(f"amend refused: price {limit_price} is not on {order.symbol}'s tick grid "
                             f"(step {self.rulebook.tick_size(inst, day, limit_price)})", order_id=order_id)
        old_left = order.quantity - order.filled_qty
        venue = self.router.venue_for(inst)
        venue.cancel(order_id)
        self._emit((OrderAmended(self.market.now(), order_id, quantity, limit_price),))
        new_left = order.quantity - order.filled_qty
        if order.side is Side.BUY:
            self.portfolio.reserved_cash -= self._reserve.pop(order_id, ZERO)
            ref = order.limit_price or self.market.last_price(order.symbol) or order.avg_fill_price
            amount = ref * new_left + self.fees.fees(inst, day, Side.BUY, new_left, ref).total
            self._reserve[order_id] = amount
            self.portfolio.reserved_cash += amount
        else:
            rs = self.portfolio.reserved_sell
            rs[order.symbol] = rs.get(order.symbol, 0) + new_left - old_left
        venue.submit(order)
        return order

    # ---- venue callbacks ------------------------------------------------------------------------
    def on_venue_fill(self, order: Order, quantity: int, price: Decimal) -> int:
        now = self.market.now()
        day = now.date()
        symbol = order.symbol
        rules = self._instruments.get(symbol)
        side = order.side
        pf = self.portfolio
        owner = self.oms.get(order.parent_id) if order.parent_id else order  # who holds the reservation
        prior = self._order_turnover.get(order.order_id, day)
        if side is Side.BUY:
            avail = pf.available_cash + self._reserve.get(owner.order_id, ZERO)
            quantity, fee = self._affordable(rules, day, quantity, price, avail, prior)
            if quantity <= 0:
                self.on_venue_reject(order, "VENUE_INSUFFICIENT_CASH",
                                     f"cash {avail:.2f} does not cover one lot at {price}")
                return 0
        else:
            free = pf.sellable_on(symbol, day)
            if quantity > free and not rules.allows_short(day):
                if pf.quantity(symbol) >= quantity:
                    self.on_venue_reject(order, "VENUE_T1_LOCKED",
                                         f"only {free} sellable today: shares bought today settle T+1")
                else:
                    self.on_venue_reject(order, "VENUE_NO_SHORT", f"sell exceeds holding {free}")
                return 0
            fee = rules.fee_total(day, side, quantity, price, prior)  # type: ignore[misc]
        fill = Fill(f"{self.trader_id}-F{next(self._fill_seq)}", order.order_id, symbol, side, quantity,
                    price, fee, now)
        # release this order's reservation in proportion to what filled
        if side is Side.BUY:
            res = self._reserve.get(owner.order_id)
            if res is not None:
                left = owner.quantity - (owner.filled_qty if owner is order else
                                         sum(k.filled_qty for k in self.oms.children(owner.order_id)))
                part = res if quantity >= left else (res * quantity / left)
                self._reserve[owner.order_id] = res - part
                pf.reserved_cash -= part
        else:
            pf.reserved_sell[order.symbol] = pf.reserved_sell.get(order.symbol, 0) - quantity
        tax = self._tax_at_sale(rules.inst, fill) if side is Side.SELL and pf.tax_lots is not None else None
        self._emit((OrderFilled(now, order.order_id, fill),) if tax is None else
                   (OrderFilled(now, order.order_id, fill), tax))  # one transaction: both or neither
        self._order_turnover.add(order.order_id, day, fill.notional)
        pf.apply_fill(fill, lock_until_next_day=rules.sell_locked(day), allow_short=rules.allows_short(day))
        if tax is not None:
            pf.apply_dividend_tax(tax)
            if self.keep_fills:
                self.tax_events.append(tax)
        if not order.status.is_open:
            self._release(order)
        if self.keep_fills:
            self.fills.append(fill)
        if order.parent_id:
            self._update_parent(order.parent_id, fill)
        for cb in self._fill_callbacks:
            cb(fill)
        return quantity

    def on_venue_reject(self, order: Order, code: str, reason: str) -> None:
        now = self.market.now()
        if order.filled_qty:
            self._close(order, OrderExpired(now, order.order_id))
        else:
            self._close(order, OrderRejected(now, order.order_id, code, reason))
        self._record_rejection(order.request, now, code, reason)

    def on_venue_expire(self, order: Order, reason: str) -> None:
        self._close(order, OrderExpired(self.market.now(), order.order_id))
        if reason:
            self._record_rejection(order.request, self.market.now(), "VENUE_EXPIRED",
                                   f"{order.quantity - order.filled_qty} of {order.quantity} unfilled: {reason}")

    # ---- state rebuild ------------------------------------------------------------------------
    def rebuild(self, events: Iterable[Event]) -> int:
        """Restore OMS and portfolio from stored events (crash recovery). Returns the event count."""
        n = 0
        for ev in events:
            n += 1
            order = self.oms.apply(ev)
            if isinstance(ev, OrderSubmitted):
                self.oms.note_replayed_id(ev.order_id)
            if isinstance(ev, CorporateActionApplied):
                self.portfolio.apply_corporate_action(ev)
                self._applied_actions.add((ev.symbol, ev.ts.date()))
            elif isinstance(ev, DividendTaxDeducted):
                self.portfolio.apply_dividend_tax(ev)
                if self.keep_fills:
                    self.tax_events.append(ev)
            if isinstance(ev, OrderFilled):
                f = ev.fill
                day = f.ts.date()
                rules = self._instruments.get(f.symbol)
                self.portfolio.start_day(day)
                self._order_turnover.add(f.order_id, day, f.notional)
                self.portfolio.apply_fill(f, lock_until_next_day=rules.sell_locked(day),
                                          allow_short=rules.allows_short(day))
                seq = f.fill_id.rsplit("-F", 1)[-1]
                if seq.isdigit():
                    self._fill_seq = itertools.count(max(int(seq) + 1, next(self._fill_seq)))
                if self.keep_fills:
                    self.fills.append(f)
            del order
        return n

    def apply_corporate_action(self, action: CorporateAction) -> CorporateActionApplied | None:
        """Book a dividend/split on the holding (ledger first, like every event). None if not held."""
        key = (action.symbol, action.ex_date)
        if key in self._applied_actions:
            return None  # already in the ledger (a slice replayed after a crash)
        qty = self.portfolio.quantity(action.symbol)
        if qty <= 0:
            return None  # short positions owe dividends to the lender: not modelled (shorts are opt-in)
        gross = round_cents(action.cash_per_share * qty)
        withheld = (self.dividend_tax.withheld(parse_symbol(action.symbol), action.ex_date, gross)
                    if self.dividend_tax is not None else ZERO)
        new_qty = int(qty * action.split_ratio)
        ev = CorporateActionApplied(self.market.now(), action.symbol, qty, action.cash_per_share,
                                    action.split_ratio, gross - withheld, new_qty, withheld)
        self._emit((ev,))
        self.portfolio.apply_corporate_action(ev)
        self._applied_actions.add(key)
        return ev

    def restore_open_orders(self) -> None:
        """After :meth:`rebuild`: put orders that are still open back on their venue and reserve their
        cash/shares again (a parent with children re-sends only its open children)."""
        reserved: set[str] = set()
        for order in list(self.oms.open_orders.values()):
            if self.oms.children(order.order_id):
                continue
            inst = parse_symbol(order.symbol)
            owner = self.oms.get(order.parent_id) if order.parent_id else order
            if owner.order_id not in reserved:
                reserved.add(owner.order_id)
                left = owner.quantity - owner.filled_qty
                if owner.side is Side.BUY:
                    # reserve as submit did: at the price and execution day of the order's own slice (a
                    # crash after a slice's orders were written replays that slice with the clock before it)
                    slice_of = getattr(self.market, "slice_of", None)
                    here = self.market.index if slice_of is not None else None
                    if slice_of is not None:
                        self.market.index = slice_of(owner.created)
                    try:
                        # a market order's stored limit is its protection price; submit reserved at the last
                        last = self.market.last_price(owner.symbol)
                        req = owner.request
                        ref = (req.limit_price if req.order_type is OrderType.LIMIT or last is None else last) \
                            or owner.limit_price or owner.avg_fill_price
                        amount = ref * left + self.fees.fees(inst, self.market.exec_day(), Side.BUY, left,
                                                             ref).total
                    finally:
                        if slice_of is not None:
                            self.market.index = here
                    self._reserve[owner.order_id] = amount
                    self.portfolio.reserved_cash += amount
                else:
                    rs = self.portfolio.reserved_sell
                    rs[owner.symbol] = rs.get(owner.symbol, 0) + left
            self.router.venue_for(inst).submit(order)

    # ---- helpers --------------------------------------------------------------------------------
    def _tax_at_sale(self, inst: Instrument, fill: Fill) -> DividendTaxDeducted | None:
        """Dividend tax the broker deducts on this sell fill (FIFO lots; see nofx.markets.dividend_tax)."""
        pf = self.portfolio
        lots = pf.tax_lots
        if lots is None or self.dividend_tax is None or not lots.has_dividends(fill.symbol):
            return None
        closing = min(fill.quantity, max(pf.quantity(fill.symbol), 0))
        parts = lots.preview_sale(fill.symbol, closing)
        if not any(p.dividends for p in parts):
            return None
        tax = self.dividend_tax.at_sale(inst, fill.ts.date(), parts)
        if tax.amount <= 0:
            return None
        return DividendTaxDeducted(fill.ts, fill.symbol, fill.order_id, fill.fill_id, closing, tax.amount,
                                   tax.detail)

    def _deny(self, submitted: OrderSubmitted, request: OrderRequest, now: datetime, code: str, reason: str) -> Order:
        self._emit((submitted, OrderDenied(now, submitted.order_id, code, reason)))
        self._record_rejection(request, now, code, reason)
        return self.oms.get(submitted.order_id)

    def _record_rejection(self, request: OrderRequest, now: datetime, code: str, reason: str) -> None:
        self.rejections.append(RejectionRecord(now, request, code, reason))
        for cb in self._reject_callbacks:
            cb(request, code, reason)

    def _close(self, order: Order, ev: Event) -> None:
        if not order.status.is_open:
            return
        self._emit((ev,))
        self._release(order)
        if order.parent_id:
            self._sync_parent_close(order.parent_id)

    def _release(self, order: Order) -> None:
        res = self._reserve.pop(order.order_id, None)
        if res:
            self.portfolio.reserved_cash -= res
        # sell reservations are held by the parent only (children's fills reduce it through the parent)
        if order.side is Side.SELL and order.parent_id is None:
            left = order.quantity - order.filled_qty
            if left > 0 and order.status in _CLOSED_UNFILLED:
                rs = self.portfolio.reserved_sell
                rs[order.symbol] = rs.get(order.symbol, 0) - left

    def _reserve_for(self, order: Order, ref: Decimal, est_fee: Decimal) -> None:
        req = order.request
        if req.side is Side.BUY:
            amount = ref * req.quantity + est_fee
            self._reserve[order.order_id] = amount
            self.portfolio.reserved_cash += amount
        else:
            rs = self.portfolio.reserved_sell
            rs[req.symbol] = rs.get(req.symbol, 0) + req.quantity

    @staticmethod
    def _affordable(rules: InstrumentRules, day: date, quantity: int, price: Decimal, avail: Decimal,
                    prior_turnover: Decimal = ZERO) -> tuple[int, Decimal]:
        """Largest valid quantity <= ``quantity`` whose cost and fees ``avail`` covers, and its fee."""
        q = quantity
        fee_total = rules.fee_total
        while q > 0:
            fee = fee_total(day, Side.BUY, q, price, prior_turnover)  # type: ignore[misc]
            if price * q + fee <= avail:
                return q, fee
            # shrink to what cash covers, then to a valid lot size
            approx = int(avail / price) if price > 0 else 0
            nq = rules.round_buy_quantity(day, min(q - 1, approx))
            if nq >= q:
                nq = rules.round_buy_quantity(day, q - 1)
            q = nq
        return 0, ZERO

    def _update_parent(self, parent_id: str, fill: Fill) -> None:
        """A parent's progress is derived from its children; the ledger records it as its own event
        (never as a second fill, which would double-count cash and positions)."""
        parent = self.oms.get(parent_id)
        if not parent.status.is_open:
            return
        kids = self.oms.children(parent_id)
        filled = sum(k.filled_qty for k in kids)
        notional = sum((k.avg_fill_price * k.filled_qty for k in kids), ZERO)
        fees = sum((k.fees for k in kids), ZERO)
        status = OrderStatus.FILLED if filled >= parent.quantity else OrderStatus.PARTIALLY_FILLED
        self._emit((OrderProgress(fill.ts, parent_id, filled, average(notional, filled) if filled else ZERO, fees, status),))

    def _sync_parent_close(self, parent_id: str) -> None:
        parent = self.oms.get(parent_id)
        if parent.status.is_open and not any(k.status.is_open for k in self.oms.children(parent_id)) \
                and not any(c.parent_id == parent_id for _, c in self._pending_children):
            self._emit((OrderExpired(self.market.now(), parent_id),))
            self._release(parent)


class _OrderDayTurnover:
    """Turnover filled per order on the current trading day (fills arrive in time order, so earlier
    days are dropped when a new one starts: the map stays as small as the day's orders)."""

    __slots__ = ("_day", "_by_order")

    def __init__(self) -> None:
        self._day: date | None = None
        self._by_order: dict[str, Decimal] = {}

    def get(self, order_id: str, day: date) -> Decimal:
        return self._by_order.get(order_id, ZERO) if day == self._day else ZERO

    def add(self, order_id: str, day: date, turnover: Decimal) -> None:
        if day != self._day:
            self._day = day
            self._by_order = {}
        self._by_order[order_id] = self._by_order.get(order_id, ZERO) + turnover

