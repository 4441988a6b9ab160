"""Decision times of day on intraday bars (real 15-minute A-share bars from ../shared/data)."""

from __future__ import annotations

import pandas as pd
import pytest

from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.data.bars import read_bars
from nofx.strategies.ai.config import AITraderParams
from nofx.strategies.ai.cycle import ChatRequest, ModelReply
from nofx.strategies.ai.trader import AITrader


@pytest.mark.shared_data
def test_decides_only_at_the_configured_times(cn_15min_path) -> None:
    bars = read_bars(cn_15min_path, symbols=["000001.SZ", "600000.SH"], start="2025-01-02", end="2025-01-10")
    times: list[str] = []

    def responder(req: ChatRequest) -> ModelReply:
        return ModelReply('{"decisions": []}')

    trader = AITrader(AITraderParams(decision_times=("10:00", "14:30")), "intraday", responder=responder)
    run_backtest(bars, trader, BacktestConfig(rules="cn"))
    times = [pd.Timestamp(r.ts).strftime("%H:%M") for r in trader.records]
    days = bars["datetime"].dt.date.nunique()
    assert sorted(set(times)) == ["10:00", "14:30"] and len(times) == 2 * days
