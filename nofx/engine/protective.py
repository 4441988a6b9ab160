"""Protective exits the engine watches on every bar, without asking the strategy (or the model) again:
stop-loss, take-profit and trailing stop per held symbol.

A stop is armed when a buy fills (levels in real prices). Each slice :meth:`StopBook.check` reads the
slice's high/low: low <= stop_loss, high >= take_profit, or low <= high-water x (1 - trailing) triggers
an exit. The exit is a market sell of the free sellable quantity through the normal order path (risk,
OMS, venue). A triggered stop that cannot sell yet (A-share T+1 on the day of the buy, a suspension)
stays triggered and sells on the first slice it can. Client order ids are deterministic
(``{trader}:stop:{symbol}:{slice}``), so a slice replayed after a crash sends the same exit once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, Mapping, Sequence

import numpy as np

from nofx.domain.enums import OrderType, Side
from nofx.domain.orders import OrderRequest
from nofx.engine.portfolio import Portfolio


@dataclass(slots=True)
class ProtectiveStop:
    symbol: str
    stop_loss: float | None
    take_profit: float | None
    trailing_pct: float | None
    high_water: float
    armed_at: int  # slice index
    triggered: str = ""  # why it fired, once it has


def _f(v: Decimal | float | str | None) -> float | None:
    return None if v is None else float(v)


class StopBook:
    def __init__(self, trader_id: str) -> None:
        self.trader_id = trader_id
        self.stops: dict[str, ProtectiveStop] = {}
        self.fired: list[tuple[int, str, str]] = []  # (slice, symbol, reason)

    def arm(self, symbol: str, index: int, price: float, stop_loss: Any = None, take_profit: Any = None,
            trailing_pct: float | None = None) -> None:
        if stop_loss is None and take_profit is None and trailing_pct is None:
            return
        old = self.stops.get(symbol)
        hw = max(price, old.high_water) if old is not None else price
        self.stops[symbol] = ProtectiveStop(symbol, _f(stop_loss), _f(take_profit), trailing_pct, hw,
                                            old.armed_at if old is not None else index)

    def disarm(self, symbol: str) -> None:
        self.stops.pop(symbol, None)

    def check(self, index: int, symbols: Sequence[str], high: np.ndarray, low: np.ndarray,
              portfolio: Portfolio) -> list[OrderRequest]:
        """Exit orders for the stops this slice triggers (``high``/``low``: the slice's row, by ``symbols``)."""
        if not self.stops:
            return []
        col = {s: k for k, s in enumerate(symbols)}
        out: list[OrderRequest] = []
        for sym, st in list(self.stops.items()):
            held = portfolio.quantity(sym)
            if held <= 0:
                del self.stops[sym]
                continue
            k = col.get(sym)
            if k is None:
                continue
            hi, lo = float(high[k]), float(low[k])
            advance(st, hi, lo)
            if not st.triggered:
                continue
            free = portfolio.sellable(sym) - portfolio.reserved_sell.get(sym, 0)
            if free <= 0 or hi != hi:
                continue  # T+1 or no bar: sell on the first slice that can
            out.append(OrderRequest(sym, Side.SELL, free, OrderType.MARKET,
                                    client_order_id=f"{self.trader_id}:stop:{sym}:{index}",
                                    tag=st.triggered[:120]))
            self.fired.append((index, sym, st.triggered))
            del self.stops[sym]
        return out

    def replay(self, high: float, low: float, symbol: str) -> None:
        """Move one stop's levels over a bar without sending anything (rebuilding state on resume)."""
        st = self.stops.get(symbol)
        if st is not None:
            advance(st, high, low)

    def to_dict(self) -> dict[str, Any]:
        return {s: asdict(st) for s, st in self.stops.items()}

    def restore(self, state: Mapping[str, Mapping[str, Any]]) -> None:
        self.stops = {s: ProtectiveStop(**dict(v)) for s, v in state.items()}


def advance(st: ProtectiveStop, hi: float, lo: float) -> None:
    """Trigger ``st`` on a bar's high/low, or raise its high-water mark (NaN bar: no change)."""
    if st.triggered or hi != hi or lo != lo:
        return
    if st.stop_loss is not None and lo <= st.stop_loss:
        st.triggered = f"stop-loss {st.stop_loss} hit (low {lo})"
    elif st.take_profit is not None and hi >= st.take_profit:
        st.triggered = f"take-profit {st.take_profit} hit (high {hi})"
    elif st.trailing_pct is not None and lo <= st.high_water * (1 - st.trailing_pct):
        st.triggered = f"trailing stop {st.trailing_pct:.1%} from high {st.high_water} hit (low {lo})"
    else:
        st.high_water = max(st.high_water, hi)
