"""Property tests: any random order sequence keeps the ledger sound under A-share rules."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.data.bars import read_bars
from nofx.data.bundled import bundled_bars_path
from nofx.domain.enums import Side
from nofx.domain.orders import OrderRequest
from tests.backtest.scripted import Scripted

SYMBOLS = ["600519.SH", "000001.SZ", "688981.SH", "300750.SZ", "000792.SZ"]


@pytest.fixture(scope="module")
def bars():
    return read_bars(bundled_bars_path(), symbols=SYMBOLS, start="2020-06-01", end="2020-08-31")


order_st = st.tuples(
    st.integers(min_value=0, max_value=55),  # slice
    st.sampled_from(SYMBOLS),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(min_value=1, max_value=3000),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orders=st.lists(order_st, min_size=1, max_size=40), fill=st.sampled_from(["next_open", "close"]),
       cash=st.sampled_from([50_000, 300_000, 2_000_000]))
def test_random_orders_keep_the_ledger_sound(bars, orders, fill, cash):
    days = sorted(bars["datetime"].unique())
    script: dict = defaultdict(list)
    for k, sym, side, qty in orders:
        script[pd.Timestamp(days[k])].append(OrderRequest(sym, side, qty))
    r = run_backtest(bars, Scripted(dict(script)), BacktestConfig(cash=cash, fill=fill), symbols=SYMBOLS)

    # cash never negative
    assert (r.equity["cash"] >= 0).all()
    # positions are the sum of fills (and splits: none in this window) and never short
    pos: dict[str, int] = defaultdict(int)
    bought_on: dict[tuple[str, object], int] = defaultdict(int)
    cash_calc = Decimal(cash)
    for f in r.trades:
        if f.side is Side.BUY:
            pos[f.symbol] += f.quantity
            bought_on[(f.symbol, f.ts.date())] += f.quantity
            cash_calc -= f.price * f.quantity + f.fee
            # lots: A-share buys in 100s; STAR 200 minimum then steps of 1
            if f.symbol.startswith("688"):
                assert f.quantity >= 200
            else:
                assert f.quantity % 100 == 0
        else:
            # T+1: never sell shares bought the same day
            assert f.quantity <= pos[f.symbol] - bought_on[(f.symbol, f.ts.date())]
            pos[f.symbol] -= f.quantity
            cash_calc += f.price * f.quantity - f.fee
        assert pos[f.symbol] >= 0
        assert f.fee >= 0 and f.fee == f.fee.quantize(Decimal("0.01"))
    # cash + positions at cost - fees reconciles exactly with the fills
    assert r.final_cash == cash_calc + r.dividends
    assert Decimal(str(r.equity["cash"].iloc[-1])) == r.final_cash.quantize(Decimal("0.01"))
