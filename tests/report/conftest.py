"""A small hand-built BacktestResult shared by the report tests."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from nofx.backtest.result import BacktestResult, Rejection
from nofx.domain.enums import Side
from nofx.domain.fills import Fill


def make_fill(i: int, symbol: str, side: Side, qty: int, price: str, fee: str, ts: datetime) -> Fill:
    return Fill(f"f{i}", f"o{i}", symbol, side, qty, Decimal(price), Decimal(fee), ts)


@pytest.fixture
def small_result() -> BacktestResult:
    idx = pd.bdate_range("2021-01-04", periods=10)
    prices = pd.DataFrame({
        "600519.SH": np.linspace(2000.0, 2100.0, 10),
        "000001.SZ": np.linspace(20.0, 18.0, 10),
    }, index=idx)
    trades = [
        make_fill(1, "600519.SH", Side.BUY, 100, "2011.11", "50.28", idx[1].to_pydatetime()),
        make_fill(2, "000001.SZ", Side.BUY, 1000, "19.78", "5.00", idx[2].to_pydatetime()),
        make_fill(3, "600519.SH", Side.SELL, 100, "2077.77", "259.72", idx[7].to_pydatetime()),
    ]
    equity = pd.DataFrame({
        "equity": [1e6, 1e6, 999_900.0, 1_000_500.0, 998_000.0, 997_000.0, 1_001_000.0, 1_005_000.0,
                   1_004_000.0, 1_003_500.0],
        "cash": [1e6, 798_838.72, 779_053.72, 779_053.72, 779_053.72, 779_053.72, 779_053.72, 986_571.72,
                 986_571.72, 986_571.72],
    }, index=idx)
    rejections = [
        Rejection(idx[3], "600519.SH", "buy", 100, "RISK_CASH", "not enough cash for 100 600519.SH"),
        Rejection(idx[4], "600519.SH", "buy", 100, "RISK_CASH", "not enough cash for 100 600519.SH"),
        Rejection(idx[5], "000001.SZ", "sell", 1000, "T_PLUS_ONE", "bought today <sold>"),
    ]
    return BacktestResult(
        strategy="demo_momentum", params={"lookback": 20}, initial_cash=Decimal("1000000"),
        trades=trades, equity=equity, rejections=rejections,
        metrics={"total_return": 0.0035, "sharpe": 1.234, "max_drawdown": -0.0035,
                 "max_drawdown_start": "2021-01-07", "max_drawdown_end": None},
        benchmark=pd.Series(np.linspace(5000.0, 5100.0, 10), index=idx, name="000300.SH"),
        prices=prices,
    )
