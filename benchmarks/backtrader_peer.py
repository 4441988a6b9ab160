"""The same dual moving-average strategy in backtrader, the peer that nofx is checked and timed against.

Market orders placed in ``next`` execute at the next bar's open (backtrader's default), no commission,
so with ``--rules none --fees zero --fill next_open`` both frameworks must produce the same trades.
"""

from __future__ import annotations

from dataclasses import dataclass

import backtrader as bt
import pandas as pd


@dataclass(frozen=True)
class PeerTrade:
    symbol: str
    date: pd.Timestamp
    side: str
    quantity: int
    price: float


class _DualMA(bt.Strategy):
    params = dict(fast=5, slow=20, size=100)

    def __init__(self) -> None:
        self.cross = {
            d: bt.ind.CrossOver(bt.ind.SMA(d.close, period=self.p.fast), bt.ind.SMA(d.close, period=self.p.slow))
            for d in self.datas
        }
        self.trades: list[PeerTrade] = []

    def next(self) -> None:
        for d in self.datas:
            c = self.cross[d][0]
            if c > 0:
                self.buy(data=d, size=self.p.size)
            elif c < 0 and self.getposition(d).size > 0:
                self.close(data=d)

    def notify_order(self, order: bt.Order) -> None:
        if order.status == order.Completed:
            self.trades.append(PeerTrade(
                order.data._name, pd.Timestamp(bt.num2date(order.executed.dt)),
                "buy" if order.isbuy() else "sell", abs(int(order.executed.size)), float(order.executed.price)))


def run_backtrader_dual_ma(bars: pd.DataFrame, fast: int, slow: int, size: int, cash: float = 1_000_000.0
                           ) -> tuple[list[PeerTrade], float, int]:
    """Run the peer on canonical long bars; returns (trades, final value, bars processed)."""
    cerebro = bt.Cerebro(stdstats=False)
    n = 0
    for sym, df in bars.groupby("symbol", sort=True):
        frame = df.set_index("datetime")[["open", "high", "low", "close", "volume"]].sort_index()
        frame["openinterest"] = 0.0
        n += len(frame)
        cerebro.adddata(bt.feeds.PandasData(dataname=frame), name=sym)
    cerebro.addstrategy(_DualMA, fast=fast, slow=slow, size=size)
    cerebro.broker.setcash(cash)
    strat = cerebro.run()[0]
    return strat.trades, float(cerebro.broker.getvalue()), n
