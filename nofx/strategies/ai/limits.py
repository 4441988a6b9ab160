"""Limits in code: turn validated decisions into order requests, cutting down or refusing each decision
that breaks a limit, with a reason the next prompt shows. Checks, in order:

universe and tradability (unknown symbol, suspended), confidence, reduce-only mode (after failed cycles),
daily-loss pause, max positions, per-symbol throttle, stop/target sanity and reward-to-risk, price on the
tick grid and inside the next session's band, value per position (weight and amount), cash including
estimated fees, board lots (odd lots only to sell out a holding), sellable shares (T+1, no naked
A-share shorts), orders per cycle. The engine's own pre-trade risk runs again on every order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Callable, Mapping, Sequence

from nofx.domain.enums import OrderType, Side
from nofx.domain.instruments import parse_symbol
from nofx.domain.orders import OrderRequest
from nofx.strategies.ai.config import AILimits
from nofx.strategies.ai.schema import Action, Decision, OrderKind
from nofx.strategies.base import PortfolioView


@dataclass(frozen=True, slots=True)
class Quote:
    """What the limits know about one symbol at decision time (real prices)."""

    last: Decimal | None
    band: tuple[Decimal, Decimal] | None  # next session's (lower, upper), None = unlimited
    suspended: bool
    lot: int


@dataclass(frozen=True, slots=True)
class DecisionOutcome:
    index: int
    symbol: str
    action: str
    status: str  # accepted | cut | refused | hold
    reason: str
    request: OrderRequest | None = None
    shown: str | None = None  # the reason as the model is shown it (guard units); None: ``reason``

    def to_dict(self) -> dict[str, Any]:
        r = self.request
        return {"index": self.index, "symbol": self.symbol, "action": self.action, "status": self.status,
                "reason": self.reason,
                "order": None if r is None else {
                    "client_order_id": r.client_order_id, "side": r.side.value, "quantity": r.quantity,
                    "order_type": r.order_type.value,
                    "limit_price": None if r.limit_price is None else str(r.limit_price)}}


@dataclass(frozen=True, slots=True)
class Units:
    """How a reason writes a (real) price of a symbol and an amount of money: real units for the log,
    the contamination guard's units for the model."""

    price: Callable[[str, Decimal], str]
    money: Callable[[Decimal], str]


REAL_UNITS = Units(lambda s, v: str(v), lambda v: f"{v:.2f}")
Reason = Callable[[Units], str]


@dataclass(slots=True)
class LimitState:
    bar: int
    reduce_only: bool = False
    paused: bool = False
    last_trade_bar: Mapping[str, int] = field(default_factory=dict)


def _floor_lot(q: int, lot: int) -> int:
    return (q // lot) * lot if lot > 1 else q


def apply_limits(decisions: Sequence[Decision], quotes: Mapping[str, Quote], portfolio: PortfolioView,
                 rules: Any, exec_day: date, limits: AILimits, state: LimitState,
                 client_id: str, shown: Units | None = None) -> list[DecisionOutcome]:
    """``client_id`` prefixes deterministic client order ids (``{client_id}:{k}``), so a replayed cycle
    re-submits the same ids and the engine returns the first orders. With ``shown`` (the guard's units)
    each outcome also carries its reason as the model may see it."""
    out: list[DecisionOutcome] = []

    def say(*parts: str | Reason) -> tuple[str, str | None]:
        real = "".join(p if isinstance(p, str) else p(REAL_UNITS) for p in parts)
        if shown is None or all(isinstance(p, str) for p in parts):
            return real, None
        return real, "".join(p if isinstance(p, str) else p(shown) for p in parts)

    def joined(cuts: list[tuple[str, str | None]]) -> tuple[str, str | None]:
        real = "; ".join(c for c, _ in cuts)
        if all(m is None for _, m in cuts):
            return real, None
        return real, "; ".join(m if m is not None else c for c, m in cuts)

    equity = Decimal(repr(portfolio.equity()))
    cash_left = portfolio.cash * Decimal(repr(1.0 - limits.cash_buffer))
    if hasattr(portfolio, "available_cash"):
        cash_left = min(cash_left, portfolio.available_cash)  # type: ignore[attr-defined]
    positions = portfolio.positions()
    held = {s for s, p in positions.items() if p.quantity}
    n_orders = 0
    for k, d in enumerate(decisions):
        sym, act = d.symbol, d.action.value

        def refuse(reason: str | tuple[str, str | None], _k: int = k, _s: str = sym, _a: str = act) -> None:
            real, model = (reason, None) if isinstance(reason, str) else reason
            out.append(DecisionOutcome(_k, _s, _a, "refused", real, None, model))

        if d.action is Action.HOLD:
            out.append(DecisionOutcome(k, sym, act, "hold", ""))
            continue
        q = quotes.get(sym)
        if q is None:
            refuse(f"unknown symbol {sym}: not in this trader's universe")
            continue
        if q.suspended:
            refuse(f"{sym} is suspended: it cannot trade")
            continue
        if q.last is None:
            refuse(f"no price known for {sym} yet")
            continue
        buy = d.action is Action.BUY
        if d.confidence < limits.min_confidence and d.action is not Action.CLOSE:
            refuse(f"confidence {d.confidence:.2f} below the minimum {limits.min_confidence:.2f}")
            continue
        if limits.max_orders_per_cycle is not None and n_orders >= limits.max_orders_per_cycle:
            refuse(f"throttle: at most {limits.max_orders_per_cycle} orders per cycle")
            continue
        last_bar = state.last_trade_bar.get(sym)
        if limits.min_bars_between_trades and last_bar is not None and \
                state.bar - last_bar < limits.min_bars_between_trades:
            refuse(f"throttle: {sym} traded {state.bar - last_bar} bars ago "
                   f"(min {limits.min_bars_between_trades})")
            continue
        inst = parse_symbol(sym)
        pos = positions.get(sym)
        holding = pos.quantity if pos else 0
        cuts: list[tuple[str, str | None]] = []
        p_ = (lambda v: (lambda u, _v=v, _s=sym: u.price(_s, _v)))  # a price of this symbol, in units u

        # ---- price ---------------------------------------------------------------------------
        limit_price = d.limit_price if d.order_type is OrderKind.LIMIT else None
        side = Side.BUY if buy else Side.SELL
        if limit_price is not None:
            on_tick = rules.round_price_to_tick(inst, exec_day, limit_price, side)
            if on_tick != limit_price:
                cuts.append(say("limit price ", p_(limit_price), " off the tick grid: ", p_(on_tick)))
                limit_price = on_tick
            if q.band is not None:
                lo, hi = q.band
                if limit_price > hi:
                    cuts.append(say("limit price ", p_(limit_price), " above the band: ", p_(hi)))
                    limit_price = hi
                elif limit_price < lo:
                    cuts.append(say("limit price ", p_(limit_price), " below the band: ", p_(lo)))
                    limit_price = lo
            if limit_price <= 0:
                refuse("limit price rounds to zero")
                continue
        ref = limit_price if limit_price is not None else q.last

        if buy:
            if state.reduce_only:
                refuse(f"reduce-only: {limits.failed_cycles_reduce_only} failed cycles in a row; "
                       "only sells until a valid reply")
                continue
            if state.paused:
                refuse(f"daily loss pause: loss today reached {limits.daily_loss_pause:.1%} of equity; no buys today")
                continue
            if sym not in held and limits.max_positions is not None and len(held) >= limits.max_positions:
                refuse(f"max positions: {len(held)} held (max {limits.max_positions})")
                continue
            if limits.require_stop_loss and d.stop_loss is None:
                refuse("a buy needs a stop_loss")
                continue
            if d.stop_loss is not None and d.stop_loss >= ref:
                refuse(say("stop_loss ", p_(d.stop_loss), " is not below the entry price ", p_(ref)))
                continue
            if d.take_profit is not None and d.take_profit <= ref:
                refuse(say("take_profit ", p_(d.take_profit), " is not above the entry price ", p_(ref)))
                continue
            if limits.min_reward_risk is not None:
                if d.stop_loss is None or d.take_profit is None:
                    refuse(f"reward-to-risk needs stop_loss and take_profit (min {limits.min_reward_risk})")
                    continue
                rr = (d.take_profit - ref) / (ref - d.stop_loss)
                if rr < Decimal(repr(limits.min_reward_risk)):
                    refuse(f"reward-to-risk {rr:.2f} below the minimum {limits.min_reward_risk}")
                    continue
            current = holding * q.last
            if d.target_weight is not None:
                want_value = Decimal(repr(d.target_weight)) * equity - current
                qty = int((want_value / ref).to_integral_value(ROUND_FLOOR)) if want_value > 0 else 0
                if qty <= 0:
                    refuse(f"already at or above the target weight {d.target_weight:.2f}")
                    continue
            else:
                qty = int(d.quantity or 0)
            caps: list[tuple[Decimal, str | Reason]] = []
            if limits.max_position_weight is not None:
                caps.append((Decimal(repr(limits.max_position_weight)) * equity, "max position weight "
                             f"{limits.max_position_weight:.0%}"))
            if limits.max_position_value is not None:
                mpv = limits.max_position_value
                caps.append((mpv, lambda u, _v=mpv: f"max position value {u.money(_v)}"))
            for cap, what in caps:
                room = cap - current
                allowed = int((room / ref).to_integral_value(ROUND_FLOOR)) if room > 0 else 0
                if qty > allowed:
                    cuts.append(say(what, f": {qty} -> {allowed}"))
                    qty = allowed
            lot_q = rules.round_buy_quantity(inst, exec_day, qty) if qty > 0 else 0
            if lot_q != qty and (d.quantity is not None or lot_q == 0):  # sizing a weight in lots is no cut
                cuts.append((f"{qty} is not a valid lot size: {lot_q}", None))
                qty = lot_q
            # cash, with the fees of that size
            while qty > 0:
                cost = ref * qty + rules.fees(inst, exec_day, Side.BUY, qty, ref).total
                if cost <= cash_left:
                    break
                fit = int((cash_left / ref).to_integral_value(ROUND_FLOOR))
                nq = rules.round_buy_quantity(inst, exec_day, min(qty - 1, fit))
                cuts.append(say("cash ", lambda u, _c=cash_left: u.money(_c), f" covers {nq} incl. fees, not {qty}"))
                qty = nq
            if qty <= 0:
                refuse(joined(cuts) if cuts else "quantity below one lot")
                continue
            cash_left -= ref * qty + rules.fees(inst, exec_day, Side.BUY, qty, ref).total
            held.add(sym)
        else:
            sellable = portfolio.sellable(sym)
            if holding <= 0 and not rules.allows_short(inst, exec_day):
                refuse(f"no position in {sym}: it cannot be sold short")
                continue
            if holding > 0 and sellable <= 0:
                refuse(f"{sym} bought today: sellable from the next trading day (T+1)")
                continue
            if d.action is Action.CLOSE:
                qty = sellable
            elif d.target_weight is not None:
                keep = int((Decimal(repr(d.target_weight)) * equity / ref).to_integral_value(ROUND_FLOOR))
                qty = holding - keep
                if qty <= 0:
                    refuse(f"already at or below the target weight {d.target_weight:.2f}")
                    continue
            else:
                qty = int(d.quantity or 0)
            if holding > 0 and qty > sellable:
                cuts.append((f"only {sellable} of {holding} sellable: {qty} -> {sellable}", None))
                qty = sellable
            if holding > 0 and rules.quantity_error(inst, exec_day, Side.SELL, qty, holding):
                lot = q.lot
                nq = _floor_lot(qty, lot)
                cuts.append((f"{qty} is not a valid lot size (odd lots only to sell out): {nq}", None))
                qty = nq
            if qty <= 0:
                refuse(joined(cuts) if cuts else "nothing to sell")
                continue
        req = OrderRequest(sym, side, qty, OrderType.LIMIT if limit_price is not None else OrderType.MARKET,
                           limit_price, client_order_id=f"{client_id}:{k}", tag=f"ai {client_id}#{k}")
        n_orders += 1
        real, model = joined(cuts)
        out.append(DecisionOutcome(k, sym, act, "cut" if cuts else "accepted", real, req, model))
    return out

