"""Buy-and-hold benchmark: on the first slice, spend ``percent`` of cash in equal parts on every symbol
that trades that day (whole lots), then hold."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from nofx.domain.enums import Side
from nofx.domain.orders import OrderRequest
from nofx.strategies.base import MarketView, PortfolioView, Strategy
from nofx.strategies.params import BuyAndHoldParams
from nofx.strategies.registry import register_strategy
from nofx.strategies.sizing import buy_quantity, screen


@register_strategy
class BuyAndHold(Strategy):
    name = "buy_and_hold"
    Params = BuyAndHoldParams
    params: BuyAndHoldParams

    def __init__(self, params: BuyAndHoldParams | None = None) -> None:
        super().__init__(params)
        self._done = False

    def on_slice(self, view: MarketView, portfolio: PortfolioView) -> Sequence[OrderRequest]:
        if self._done or portfolio.positions():  # holdings mean it already bought (also after a resume)
            return ()
        close = view.current("close")
        status = view.current("trade_status")
        live = [k for k in range(len(close)) if np.isfinite(close[k]) and status[k] == 1]
        if not live:
            return ()
        self._done = True
        budget = float(portfolio.cash) * self.params.percent / len(live)
        orders = []
        for k in live:
            sym = view.symbols[k]
            qty = buy_quantity(view.rules, sym, view.day, budget, float(close[k]))
            if qty > 0:
                orders.append(OrderRequest(sym, Side.BUY, qty, tag="initial buy"))
            else:
                self.log(f"{view.day}: {sym} skipped: its minimum buy costs more than its share {budget:,.2f}")
        return screen(view, portfolio, orders, self)
