"""Dividend tax on real dividends: A-share individuals pay at sale by holding period (Caishui [2015]
No. 101, FIFO by lot), Southbound individuals have 20% withheld at source; institutions pay none."""

from __future__ import annotations

from decimal import Decimal

import pytest

from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.data.bars import read_bars
from nofx.domain.enums import Side
from nofx.domain.orders import OrderRequest
from tests.backtest.scripted import Scripted

D = Decimal


def buy(sym, qty):
    return OrderRequest(sym, Side.BUY, qty)


def sell(sym, qty):
    return OrderRequest(sym, Side.SELL, qty)


def _run(bars, script, symbols, **cfg):
    config = BacktestConfig(cash=D(2_000_000), rules="cn", fill="close", **cfg)
    return run_backtest(bars, Scripted(script), config, symbols=symbols)


@pytest.fixture(scope="module")
def moutai(cn_daily_path):
    return read_bars(cn_daily_path, symbols=["600519.SH"], start="2018-06-01", end="2019-07-31")


# 600519.SH went ex-dividend on 2019-06-28 with CNY 14.54 a share (close 996.35, preclose 981.81)
MOUTAI = {
    "2018-06-20": [buy("600519.SH", 100)],  # lot A: held over a year at the sale
    "2019-03-01": [buy("600519.SH", 100)],  # lot B: over 1 month up to 1 year -> 10%
    "2019-06-20": [buy("600519.SH", 100)],  # lot C: 1 month or less -> 20%
    "2019-07-01": [sell("600519.SH", 100)],  # FIFO: takes lot A
    "2019-07-02": [sell("600519.SH", 200)],  # takes lots B and C
}


def test_a_share_individual_pays_by_holding_period_fifo(moutai):
    r = _run(moutai, MOUTAI, ["600519.SH"])
    assert r.dividends == D("4362.00")  # 300 shares x 14.54, booked gross on 2019-06-28
    deductions = [(e.ts.date().isoformat(), e.quantity, e.amount) for e in r.dividend_tax_events]
    # lot A (bought 2018-06-20, sold 2019-07-01): exempt, so no deduction at the first sale
    assert deductions == [("2019-07-02", 200, D("436.20"))]  # 10% x 1,454 + 20% x 1,454
    assert r.dividend_tax == D("436.20") and r.tax_withheld == 0
    cash = D(2_000_000) - sum(f.price * f.quantity + f.fee for f in r.trades if f.side is Side.BUY) \
        + sum(f.price * f.quantity - f.fee for f in r.trades if f.side is Side.SELL) + D("4362.00") - D("436.20")
    assert r.final_cash == cash
    assert r.equity["cash"].iloc[-1] == float(cash)
    assert any(m.startswith("dividend tax: investor individual") for m in r.messages)


def test_institution_and_frictionless_runs_pay_none(moutai):
    inst = _run(moutai, MOUTAI, ["600519.SH"], investor="institution")
    assert inst.dividends == D("4362.00") and inst.dividend_tax == 0 and inst.dividend_tax_events == []
    ind = _run(moutai, MOUTAI, ["600519.SH"])
    assert inst.final_cash - ind.final_cash == D("436.20")


def test_part_of_a_lot_is_taxed_in_proportion(cn_daily_path):
    # 000001.SZ paid CNY 0.14 a share on 2019-06-26; 1,000 shares bought 2019-06-03 sold in two parts
    bars = read_bars(cn_daily_path, symbols=["000001.SZ"], start="2019-06-01", end="2019-09-30")
    r = _run(bars, {"2019-06-03": [buy("000001.SZ", 1000)], "2019-07-02": [sell("000001.SZ", 300)],
                    "2019-09-02": [sell("000001.SZ", 700)]}, ["000001.SZ"])
    assert r.dividends == D("140.00")
    assert [(e.quantity, e.amount) for e in r.dividend_tax_events] == [
        (300, D("8.40")),  # held 2019-06-03 .. 2019-07-02: within 1 month -> 20% of 42.00
        (700, D("9.80")),  # held over 1 month -> 10% of 98.00
    ]


def test_southbound_individual_has_20_percent_withheld_on_a_real_hk_dividend(hk_daily_path):
    # 0700.HK went ex-dividend HKD 2.40 on 2023-05-19 (raw prices asked for: the row is consistent)
    bars = read_bars(hk_daily_path, symbols=["0700.HK"], start="2023-05-01", end="2023-06-30")
    cfg = dict(cash=D(2_000_000), rules="hk", fill="close", prices="raw")
    script = {"2023-05-02": [buy("0700.HK", 2900)]}
    ind = run_backtest(bars, Scripted(script), BacktestConfig(**cfg), symbols=["0700.HK"])
    (a,) = ind.corporate_actions
    assert (a.cash + a.tax_withheld, a.tax_withheld, a.cash) == (D("6960.00"), D("1392.00"), D("5568.00"))
    inst = run_backtest(bars, Scripted(script), BacktestConfig(**cfg, investor="institution"), symbols=["0700.HK"])
    assert inst.dividends == D("6960.00") and inst.tax_withheld == 0
