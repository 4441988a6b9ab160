"""A high-turnover strategy for parity tests and benchmarks: every day it rebalances an equal-weight book
of the ``book`` stocks with the best ``lookback``-day return. Most held names get a small top-up or trim
each day (equity moves), names leaving the top list are sold out: tens of orders a day, many of them
refused (T+1, limits, suspensions, lots), which is what the order path costs follow (a crossover strategy
sends about one order per 17 bars)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from pydantic import Field

from nofx.data.panel import BarPanel
from nofx.domain.enums import Side
from nofx.domain.orders import OrderRequest
from nofx.strategies.base import MarketView, PortfolioView, Strategy, StrategyContext
from nofx.strategies.params import StrategyParams
from nofx.strategies.sizing import buy_quantity, sell_quantity


class RebalanceParams(StrategyParams):
    book: int = Field(default=50, ge=1)
    lookback: int = Field(default=20, ge=1)
    invest: float = Field(default=0.95, gt=0, le=1)  # share of equity kept invested


class DailyRebalance(Strategy):
    name = "daily_rebalance"
    Params = RebalanceParams
    params: RebalanceParams

    def on_start(self, ctx: StrategyContext) -> None:
        n = self.params.lookback

        def momentum(panel: BarPanel) -> np.ndarray:
            close = panel["close"]
            out = np.full(close.shape, np.nan)
            out[n:] = close[n:] / close[:-n] - 1.0
            return out

        ctx.add_feature("momentum", momentum)

    def on_slice(self, view: MarketView, portfolio: PortfolioView) -> Sequence[OrderRequest]:
        p = self.params
        mom = view.feature("momentum")
        close = view.current("close")
        ok = np.isfinite(mom) & np.isfinite(close)
        if not ok.any():
            return ()
        ranked = np.flatnonzero(ok)[np.argsort(-mom[ok], kind="stable")][:p.book]
        symbols = view.symbols
        target = {symbols[k]: k for k in ranked}
        per_name = portfolio.equity() * p.invest / p.book
        sells: list[OrderRequest] = []
        buys: list[OrderRequest] = []
        for sym, pos in sorted(portfolio.positions().items()):
            if pos.quantity > 0 and sym not in target and pos.sellable > 0:
                sells.append(OrderRequest(sym, Side.SELL, pos.sellable, tag="leaves book"))
        for sym, k in target.items():
            held = portfolio.quantity(sym)
            want = buy_quantity(view.rules, sym, view.day, per_name, float(close[k]))
            if want > held:
                q = buy_quantity(view.rules, sym, view.day, (want - held) * float(close[k]) + 1e-6,
                                 float(close[k]))
                if q > 0:
                    buys.append(OrderRequest(sym, Side.BUY, q, tag="top up"))
            elif want < held:
                q = sell_quantity(view.rules, sym, view.day, held - want, held)
                if q > 0:
                    sells.append(OrderRequest(sym, Side.SELL, q, tag="trim"))
        return sells + buys
