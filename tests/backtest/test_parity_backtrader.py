"""Parity with a peer: frictionless dual MA in nofx and in backtrader give identical trades and equity."""

from __future__ import annotations

from decimal import Decimal

import pytest

import nofx.strategies.builtin  # noqa: F401
from benchmarks.backtrader_peer import run_backtrader_dual_ma
from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.data.bars import read_bars
from nofx.strategies.registry import REGISTRY

pytestmark = pytest.mark.shared_data

CASES = [
    ("600519.SH", 5, 20),
    ("000001.SZ", 5, 20),
    ("601318.SH", 10, 30),
    ("000858.SZ", 3, 12),
]


@pytest.mark.parametrize("symbol,fast,slow", CASES)
def test_dual_ma_matches_backtrader(cn_daily_path, symbol, fast, slow):
    bars = read_bars(cn_daily_path, symbols=[symbol])
    assert (bars["volume"] > 0).all(), "parity stocks must have no suspended days (backtrader ignores them)"
    peer_trades, peer_value, _ = run_backtrader_dual_ma(bars, fast, slow, 100)
    strategy = REGISTRY.create("dual_ma", {"fast": fast, "slow": slow, "size": 100})
    result = run_backtest(bars, strategy, BacktestConfig(rules="none", fees="zero", fill="next_open"),
                          symbols=[symbol])
    ours = [(f.ts.date(), f.side.value, f.quantity, f.price) for f in result.trades]
    theirs = [(t.date.date(), t.side, t.quantity, Decimal(repr(t.price))) for t in peer_trades]
    assert len(ours) > 10
    assert ours == theirs
    assert result.equity["equity"].iloc[-1] == pytest.approx(round(peer_value, 2), abs=0.005)
