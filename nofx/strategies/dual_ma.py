"""Dual moving average crossover: buy when the fast SMA of close crosses above the slow one, sell all
when it crosses below. A cross follows backtrader's ``CrossOver`` definition (the last non-zero
difference changes sign), so ties do not create spurious signals."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from nofx.data.panel import BarPanel
from nofx.domain.enums import Side
from nofx.domain.orders import OrderRequest
from nofx.strategies.base import MarketView, PortfolioView, Strategy, StrategyContext
from nofx.strategies.params import DualMAParams
from nofx.strategies.registry import register_strategy
from nofx.strategies.sizing import buy_quantity, round_buy, screen


def exact_sma(x: np.ndarray, n: int) -> np.ndarray:
    """Simple moving average over axis 0 whose window sums are correctly rounded (like ``math.fsum``):
    summed in extended precision over each window, not by running sums, so equal averages compare
    equal and crossovers do not flicker on float noise. Causal: row t uses rows t-n+1..t."""
    x = np.asarray(x, dtype=np.float64)
    out = np.full(x.shape, np.nan)
    if len(x) < n:
        return out
    windows = np.lib.stride_tricks.sliding_window_view(x, n, axis=0)
    sums = windows.sum(axis=-1, dtype=np.longdouble).astype(np.float64)
    out[n - 1:] = sums / n
    return out


def crossover(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """+1 where ``a`` crosses above ``b``, -1 where below, else 0 (backtrader's CrossOver)."""
    diff = a - b
    # last non-zero difference, carried forward through ties (NaN stays NaN until defined)
    nzd = np.where(diff == 0, np.nan, diff)
    valid = np.isfinite(diff)
    nzd_ff = _ffill(nzd)
    nzd_ff = np.where(valid & ~np.isfinite(nzd_ff), 0.0, nzd_ff)
    prev = np.full_like(nzd_ff, np.nan)
    prev[1:] = nzd_ff[:-1]
    up = (prev < 0) & (a > b)
    down = (prev > 0) & (a < b)
    return up.astype(np.float64) - down.astype(np.float64)


def _ffill(x: np.ndarray) -> np.ndarray:
    mask = np.isfinite(x)
    idx = np.where(mask, np.arange(len(x))[:, None] if x.ndim == 2 else np.arange(len(x)), 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    out = np.take_along_axis(x, idx, axis=0) if x.ndim == 2 else x[idx]
    return out


@register_strategy
class DualMovingAverage(Strategy):
    name = "dual_ma"
    Params = DualMAParams
    wake_on = "cross"
    params: DualMAParams

    def on_start(self, ctx: StrategyContext) -> None:
        p = self.params
        self._unsized: set[str] = set()  # symbols whose buy size is below the minimum (logged once)

        def signal(panel: BarPanel) -> np.ndarray:
            close = panel["close"]
            return crossover(exact_sma(close, p.fast), exact_sma(close, p.slow))

        ctx.add_feature("cross", signal)

    def on_slice(self, view: MarketView, portfolio: PortfolioView) -> Sequence[OrderRequest]:
        if not view.feature_active("cross"):
            return ()
        row = view.feature("cross")
        hits = np.flatnonzero(row)
        symbols = view.symbols
        close = view.current("close")
        p = self.params
        orders: list[OrderRequest] = []
        for k in hits:
            sym = symbols[k]
            if row[k] > 0:
                if p.target_percent is not None:
                    qty = buy_quantity(view.rules, sym, view.day, portfolio.equity() * p.target_percent,
                                       float(close[k]))
                else:
                    # a fixed size rounded down to what the rules accept (size=100 on a STAR stock is 0:
                    # its minimum buy is 200, so nothing is sent rather than an order sure to be refused)
                    qty = round_buy(view.rules, sym, view.day, p.size or 100)
                if qty > 0:
                    orders.append(OrderRequest(sym, Side.BUY, qty, tag="cross up"))
                elif sym not in self._unsized:
                    self._unsized.add(sym)
                    self.log(f"{view.day}: {sym} buy skipped: the size is below its minimum buy")
            else:
                held = portfolio.quantity(sym)
                if held > 0:
                    orders.append(OrderRequest(sym, Side.SELL, held, tag="cross down"))
        return screen(view, portfolio, orders, self)
