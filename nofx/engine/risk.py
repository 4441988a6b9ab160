"""Pre-trade risk: small composable checks in front of execution (zipline's controls, Nautilus' RiskEngine).

Each check returns ``None`` or a :class:`Denial` with a stable code and a human reason; the engine turns
a denial into an ``OrderDenied`` event, never an exception.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from nofx.domain.enums import OrderType, Side
from nofx.domain.instruments import Instrument
from nofx.domain.orders import OrderRequest
from nofx.engine.portfolio import Portfolio
from nofx.markets.base import MarketRules
from nofx.markets.instrument_rules import InstrumentRules
from nofx.markets.fees import FeeModel


_EPOCH = datetime(1970, 1, 1)


class RiskConfig(BaseModel):
    """Per-trader limits. ``None`` disables a limit. Loaded from TOML/YAML and validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    max_orders_per_window: int | None = Field(default=None, gt=0)  # per trader
    max_orders_per_symbol_window: int | None = Field(default=None, gt=0)
    rate_window_seconds: float = Field(default=1.0, gt=0)
    max_order_value: Decimal | None = Field(default=None, gt=0)
    max_position_value: Decimal | None = Field(default=None, gt=0)  # per symbol, after the order
    max_gross_exposure: Decimal | None = Field(default=None, gt=0)  # sum of |position value|, after the order
    max_price_deviation: float | None = Field(default=None, gt=0)  # |limit - last| / last
    max_open_orders: int | None = Field(default=None, gt=0)
    daily_loss_limit: Decimal | None = Field(default=None, gt=0)  # kill switch: no new buys for the day


@dataclass(frozen=True, slots=True)
class Denial:
    code: str
    reason: str


@dataclass(slots=True)
class RiskContext:
    """What a check may look at, prepared once per order by the engine."""

    request: OrderRequest
    inst: Instrument
    rules: MarketRules
    fees: FeeModel
    portfolio: Portfolio
    now: datetime
    exec_day: date  # the trading day the order can first execute (T+1 is judged against it)
    ref_price: Decimal  # limit price, protection price, or last price for a market order
    last_price: Decimal | None
    limits: tuple[Decimal, Decimal] | None  # today's band (lower, upper) or None
    open_orders: int
    day_start_equity: float | None
    est_fee: Decimal  # fees of the order at ref_price (buys only; computed once, reused for reservation)
    lot_checked: bool = False  # the router already validated the size against the lot rules
    instrument: InstrumentRules | None = None  # ``rules`` bound to ``inst`` (the engine keeps them)

    def instrument_rules(self) -> InstrumentRules:
        d = self.instrument
        if d is None:
            d = self.instrument = self.rules.instrument_rules(self.inst)
        return d


class RiskCheck(Protocol):
    def __call__(self, ctx: RiskContext) -> Denial | None: ...


class SlidingWindowRate:
    """Counts events in a sliding time window with bounded memory (at most ``limit`` stamps per key)."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window = window_seconds
        self._stamps: dict[str, deque[float]] = {}

    def allow(self, key: str, t: float) -> bool:
        q = self._stamps.get(key)
        if q is None:
            q = self._stamps[key] = deque(maxlen=self.limit)
        while q and t - q[0] >= self.window:
            q.popleft()
        if len(q) >= self.limit:
            return False
        q.append(t)
        return True

    def forget_idle(self, t: float) -> None:
        """Drop keys with no stamp in the window, so memory stays bounded by active symbols."""
        for k in [k for k, q in self._stamps.items() if not q or t - q[-1] >= self.window]:
            del self._stamps[k]


def check_tradable(ctx: RiskContext) -> Denial | None:
    if ctx.inst.is_index:
        return Denial("RISK_NOT_TRADABLE", f"{ctx.inst.symbol} is an index and cannot be traded")
    return None


def check_lot(ctx: RiskContext) -> Denial | None:
    if ctx.lot_checked:
        return None
    req = ctx.request
    holding = ctx.portfolio.quantity(req.symbol)
    err = ctx.instrument_rules().quantity_error(ctx.exec_day, req.side, req.quantity, holding)
    return Denial("RISK_INVALID_LOT", err) if err else None


def check_tick(ctx: RiskContext) -> Denial | None:
    """A limit price (or a market order's protection price) must be on the instrument's tick grid for
    the day it can execute: the exchange refuses any other price. A strategy that wants rounding asks
    for it (``MarketRules.round_price_to_tick``: a buy down, a sell up, the passive side)."""
    price = ctx.request.limit_price
    if price is None:
        return None
    rules, day = ctx.instrument_rules(), ctx.exec_day
    if rules.price_on_tick(day, price):
        return None
    tick = rules.tick_size(day, price)
    passive = rules.round_price_to_tick(day, price, ctx.request.side)
    return Denial("RISK_OFF_TICK", f"price {price} is not on {ctx.inst.symbol}'s tick grid (step {tick} at that "
                                   f"price on {ctx.exec_day}); the nearest passive price is {passive}")


def check_price_band(ctx: RiskContext) -> Denial | None:
    req = ctx.request
    if req.order_type is not OrderType.LIMIT or ctx.limits is None or req.limit_price is None:
        return None
    lo, hi = ctx.limits
    if not lo <= req.limit_price <= hi:
        return Denial("RISK_PRICE_LIMIT", f"limit price {req.limit_price} outside today's band [{lo}, {hi}]")
    return None


def check_cash(ctx: RiskContext) -> Denial | None:
    req = ctx.request
    if req.side is not Side.BUY:
        return None
    need = ctx.ref_price * req.quantity + ctx.est_fee
    avail = ctx.portfolio.available_cash
    if need > avail:
        return Denial("RISK_INSUFFICIENT_CASH", f"needs {need:.2f} incl. fees, {avail:.2f} available")
    return None


def check_sellable(ctx: RiskContext) -> Denial | None:
    req = ctx.request
    if req.side is not Side.SELL:
        return None
    pf = ctx.portfolio
    free = pf.sellable_on(req.symbol, ctx.exec_day) - pf.reserved_sell.get(req.symbol, 0)
    if req.quantity <= free:
        return None
    if pf.quantity(req.symbol) - pf.reserved_sell.get(req.symbol, 0) >= req.quantity:
        return Denial("RISK_T1_LOCKED", f"only {max(free, 0)} of {req.symbol} sellable: shares bought today "
                                          "settle T+1")
    if ctx.instrument_rules().allows_short(ctx.exec_day):
        return None
    return Denial("RISK_NO_SHORT", f"sell of {req.quantity} exceeds the {max(free, 0)} held and "
                                   f"{req.symbol} may not be sold short")


class RiskEngine:
    """Runs the market checks plus the limits of a :class:`RiskConfig`, in a fixed order."""

    def __init__(self, config: RiskConfig | None = None) -> None:
        self.config = config or RiskConfig()
        c = self.config
        self._rate = (SlidingWindowRate(c.max_orders_per_window, c.rate_window_seconds)
                      if c.max_orders_per_window else None)
        self._sym_rate = (
            SlidingWindowRate(c.max_orders_per_symbol_window, c.rate_window_seconds)
            if c.max_orders_per_symbol_window else None
        )
        self._halted_day: date | None = None
        self._checks: list[RiskCheck] = [check_tradable, check_lot, check_tick, check_price_band]
        if c.max_open_orders is not None:
            self._checks.append(self._check_open_orders)
        if c.max_order_value is not None:
            self._checks.append(self._check_order_value)
        if c.max_price_deviation is not None:
            self._checks.append(self._check_deviation)
        if c.max_position_value is not None:
            self._checks.append(self._check_position_value)
        if c.max_gross_exposure is not None:
            self._checks.append(self._check_gross)
        if c.daily_loss_limit is not None:
            self._checks.append(self._check_kill_switch)
        self._checks += [check_sellable, check_cash]

    def check(self, ctx: RiskContext, trader_id: str) -> Denial | None:
        if self._rate is not None or self._sym_rate is not None:
            # seconds on the engine's clock; naive datetime.timestamp() would consult the local zone
            t_seconds = (ctx.now - _EPOCH).total_seconds()
        if self._rate is not None and not self._rate.allow(trader_id, t_seconds):
            return Denial("RISK_RATE_LIMIT", f"more than {self.config.max_orders_per_window} orders in "
                                             f"{self.config.rate_window_seconds}s for trader {trader_id}")
        if self._sym_rate is not None and not self._sym_rate.allow(ctx.request.symbol, t_seconds):
            return Denial("RISK_SYMBOL_RATE_LIMIT", f"more than {self.config.max_orders_per_symbol_window} orders"
                                                    f" in {self.config.rate_window_seconds}s on {ctx.request.symbol}")
        for check in self._checks:
            d = check(ctx)
            if d is not None:
                return d
        return None

    # ---- configured limits ---------------------------------------------------------------
    def _check_open_orders(self, ctx: RiskContext) -> Denial | None:
        lim = self.config.max_open_orders
        if lim is not None and ctx.open_orders >= lim:
            return Denial("RISK_MAX_OPEN_ORDERS", f"{ctx.open_orders} orders already open (max {lim})")
        return None

    def _check_order_value(self, ctx: RiskContext) -> Denial | None:
        lim = self.config.max_order_value
        value = ctx.ref_price * ctx.request.quantity
        if lim is not None and value > lim:
            return Denial("RISK_MAX_ORDER_VALUE", f"order value {value:.2f} exceeds {lim}")
        return None

    def _check_deviation(self, ctx: RiskContext) -> Denial | None:
        lim = self.config.max_price_deviation
        req = ctx.request
        # A market order's stored price is its protection price (by default the day's limit on the far
        # side, set by the engine): a cap no fill passes, not a price the trader chose, so a fat-finger
        # check on it would refuse every market order.
        if lim is None or req.order_type is not OrderType.LIMIT or req.limit_price is None or not ctx.last_price:
            return None
        # exact: a float quotient would put 21/20 at 5.0000000000000044% and deny a price at the limit
        dev = abs(req.limit_price / ctx.last_price - 1)
        if dev > Decimal(repr(lim)):
            return Denial("RISK_PRICE_DEVIATION", f"price {req.limit_price} is {dev:.2%} from last trade "
                                                  f"{ctx.last_price} (max {lim:.2%})")
        return None

    def _position_value_after(self, ctx: RiskContext) -> Decimal:
        req = ctx.request
        qty = ctx.portfolio.quantity(req.symbol) + req.side.sign * req.quantity
        return abs(qty) * ctx.ref_price

    def _check_position_value(self, ctx: RiskContext) -> Denial | None:
        lim = self.config.max_position_value
        if lim is None or ctx.request.side is Side.SELL and ctx.portfolio.quantity(ctx.request.symbol) > 0:
            return None  # reducing a long position is always allowed
        value = self._position_value_after(ctx)
        if value > lim:
            return Denial("RISK_MAX_POSITION_VALUE", f"{ctx.request.symbol} position would be worth "
                                                     f"{value:.2f} (max {lim})")
        return None

    def _check_gross(self, ctx: RiskContext) -> Denial | None:
        lim = self.config.max_gross_exposure
        if lim is None:
            return None
        pf = ctx.portfolio
        req = ctx.request
        gross = Decimal(0)
        for s, p in pf.raw_positions().items():
            if s == req.symbol or not p.quantity:
                continue
            mark = pf.last_mark(s)
            gross += abs(p.quantity) * (Decimal(repr(mark)) if mark is not None else p.avg_cost)
        gross += self._position_value_after(ctx)
        if gross > lim:
            return Denial("RISK_MAX_GROSS_EXPOSURE", f"gross exposure would be {gross:.2f} (max {lim})")
        return None

    def _check_kill_switch(self, ctx: RiskContext) -> Denial | None:
        lim = self.config.daily_loss_limit
        if lim is None or ctx.request.side is not Side.BUY:
            return None
        day = ctx.now.date()
        if self._halted_day == day:
            return Denial("RISK_KILL_SWITCH", f"daily loss limit {lim} hit earlier today: no new buys until tomorrow")
        if ctx.day_start_equity is not None:
            loss = ctx.day_start_equity - ctx.portfolio.equity()
            if loss >= float(lim):
                self._halted_day = day
                return Denial("RISK_KILL_SWITCH", f"daily loss {loss:.2f} reached the limit {lim}: "
                                                  "no new buys for the rest of the day")
        return None
