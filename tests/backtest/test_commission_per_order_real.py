"""The issue's example on real cn_15min bars: a 400-share buy that the volume cap fills as 4 x 100 on
consecutive 15-minute bars pays the CNY 5 minimum once (``per_order``), not four times (``per_fill``)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.data.bars import read_bars
from nofx.domain.enums import Side
from nofx.domain.orders import OrderRequest
from nofx.domain.money import round_cents
from tests.backtest.scripted import Scripted

D = Decimal


def _four_even_bars(bars):
    """First four consecutive bars of one afternoon/morning whose volumes are within 1.6x of each
    other, and the bar before them (where the order is decided)."""
    v = bars["volume"].to_numpy()
    ts = bars["datetime"].reset_index(drop=True)
    for i in range(1, len(bars) - 4):
        w = v[i:i + 4]
        if w.min() > 0 and w.max() / w.min() < 1.6 and ts[i].date() == ts[i + 3].date() == ts[i - 1].date():
            return ts[i - 1], w
    raise AssertionError("no window found")


@pytest.mark.parametrize("symbol", ["000001.SZ", "600036.SH", "600276.SH", "600303.SH"])
def test_400_shares_in_four_fills_pay_one_minimum(cn_15min_path, symbol):
    bars = read_bars(cn_15min_path, symbols=[symbol], start="2025-01-02", end="2025-01-10")
    decided, window = _four_even_bars(bars)
    participation = 100.5 / float(window.min())  # one lot from each of the four bars
    fees = {}
    for basis in ("per_order", "per_fill"):
        cfg = BacktestConfig(cash=D(1_000_000), rules="cn", participation=participation,
                             commission_min_basis=basis)
        r = run_backtest(bars, Scripted({decided: [OrderRequest(symbol, Side.BUY, 400)]}), cfg, symbols=[symbol])
        assert [f.quantity for f in r.trades] == [100] * 4
        turnover = [f.price * f.quantity for f in r.trades]
        transfer = sum(round_cents(t * D("0.00001")) for t in turnover)  # 0.001% per fill from 2022-04-29
        if basis == "per_order":
            expected = round_cents(max(sum(turnover) * D("0.00025"), D(5))) + transfer
        else:
            expected = sum(round_cents(max(t * D("0.00025"), D(5))) for t in turnover) + transfer
        assert r.fees_paid == sum(f.fee for f in r.trades) == expected
        assert r.final_cash == D(1_000_000) - sum(turnover) - expected
        fees[basis] = r.fees_paid
    assert fees["per_fill"] - fees["per_order"] == D(15)  # three minimums too many
    if symbol == "000001.SZ":  # the figure: 4 x 5 + 4 x 0.01 under per_fill
        assert fees["per_fill"] == D("20.04") and fees["per_order"] == D("5.04")
    assert np.isfinite(participation)
