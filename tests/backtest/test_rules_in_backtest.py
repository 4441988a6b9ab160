"""Market rules as the backtester applies them, on real days of the bundled/shared data."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.data.bars import read_bars
from nofx.data.bundled import bundled_bars_path
from nofx.domain.enums import OrderType, Side
from nofx.domain.orders import OrderRequest
from tests.backtest.scripted import Scripted


@pytest.fixture(scope="module")
def demo_bars():
    return read_bars(bundled_bars_path())


def buy(sym, qty=100, **kw):
    return OrderRequest(sym, Side.BUY, qty, **kw)


def sell(sym, qty=100, **kw):
    return OrderRequest(sym, Side.SELL, qty, **kw)


def run(bars, script, symbols, **cfg):
    s = Scripted(script)
    r = run_backtest(bars, s, BacktestConfig(**cfg), symbols=symbols)
    return r, s


def test_buy_refused_on_bar_locked_at_limit_up(demo_bars):
    # 003816.SZ traded only at its +10% limit (3.95) on 2019-08-27, its second day of listing
    r, _ = run(demo_bars, {"2019-08-26": [buy("003816.SZ")]}, ["003816.SZ"], start="2019-08-01", end="2019-09-30")
    assert r.trades == []
    assert [x.code for x in r.rejections] == ["VENUE_LIMIT_UP_LOCKED"]
    assert r.rejections[0].ts.date().isoformat() == "2019-08-27"


def test_buy_fills_when_limit_up_bar_is_not_locked(demo_bars):
    # the same stock a few weeks later on an ordinary day fills at the next open
    r, _ = run(demo_bars, {"2019-09-10": [buy("003816.SZ")]}, ["003816.SZ"], start="2019-08-01", end="2019-09-30")
    assert len(r.trades) == 1 and r.rejections == []


def test_sell_refused_on_bar_locked_at_limit_down_for_st_stock(demo_bars):
    # 000792.SZ was ST (limit 5%) and traded only at its -5% limit on 2019-10-23
    r, _ = run(demo_bars, {"2019-10-08": [buy("000792.SZ")], "2019-10-22": [sell("000792.SZ")]},
               ["000792.SZ"], start="2019-10-01", end="2019-10-31")
    assert len(r.trades) == 1 and r.trades[0].side is Side.BUY
    assert [x.code for x in r.rejections] == ["VENUE_LIMIT_DOWN_LOCKED"]


def test_nothing_fills_on_a_suspended_day(demo_bars):
    # 000333.SZ was suspended on 2019-02-20
    r, _ = run(demo_bars, {"2019-02-19": [buy("000333.SZ")]}, ["000333.SZ"], start="2019-02-01", end="2019-03-31")
    assert r.trades == []
    assert [x.code for x in r.rejections] == ["VENUE_SUSPENDED"]


def test_a_share_buy_cannot_be_sold_the_same_day(demo_bars):
    r, _ = run(demo_bars, {"2019-03-01": [buy("600036.SH"), sell("600036.SH")],
                           "2019-03-04": [sell("600036.SH")]},
               ["600036.SH"], start="2019-02-01", end="2019-03-31", fill="close")
    assert [x.code for x in r.rejections] == ["RISK_T1_LOCKED"]
    assert [(f.side, f.ts.date().isoformat()) for f in r.trades] == [(Side.BUY, "2019-03-01"), (Side.SELL, "2019-03-04")]


def test_hk_buy_can_be_sold_the_same_day(hk_daily_path):
    bars = read_bars(hk_daily_path, symbols=["0700.HK"], start="2021-03-01", end="2021-03-31")
    r, _ = run(bars, {"2021-03-02": [buy("0700.HK"), sell("0700.HK")]}, ["0700.HK"], fill="close")
    assert r.rejections == []
    assert [f.side for f in r.trades] == [Side.BUY, Side.SELL]
    assert r.trades[0].ts == r.trades[1].ts


def test_fees_worked_example_2019_to_the_cent(demo_bars):
    # 600519.SH, 100 shares; commission 0.025% (min 5), transfer fee 0.002% both sides (2019),
    # stamp duty 0.1% on the sell (before 2023-08-28); each rounded half-up to the cent.
    r, _ = run(demo_bars, {"2019-03-01": [buy("600519.SH")], "2019-03-05": [sell("600519.SH")]},
               ["600519.SH"], start="2019-03-01", end="2019-03-31", fill="close")
    b, s = r.trades
    assert b.price == Decimal("789.3")  # close of 2019-03-01
    # buy: 78,930.00 -> commission 19.7325 -> 19.73, transfer fee 1.5786 -> 1.58: fee 21.31
    assert b.fee == Decimal("21.31")
    notional = s.price * 100
    expected = (max(notional * Decimal("0.00025"), Decimal(5)).quantize(Decimal("0.01"))
                + (notional * Decimal("0.001")).quantize(Decimal("0.01"))
                + (notional * Decimal("0.00002")).quantize(Decimal("0.01")))
    assert s.fee == expected
    assert r.final_cash == Decimal("1000000") - b.price * 100 - b.fee + notional - s.fee


def test_limit_order_outside_the_chinext_band_before_and_after_2020_08_24(demo_bars):
    # 300750.SZ (ChiNext): +15% is outside the +-10% band in 2020-08 before the reform, inside +-20% after
    def limit_buy_at(day: str, pct: float):
        bars = demo_bars[(demo_bars.symbol == "300750.SZ")]
        pre = float(bars.loc[bars.datetime == day, "preclose"].iloc[0])
        px = Decimal(str(round(pre * (1 + pct), 2)))
        return run(demo_bars, {day: [buy("300750.SZ", order_type=OrderType.LIMIT, limit_price=px)]},
                   ["300750.SZ"], start="2020-08-01", end="2020-09-30", fill="close")[0]

    before = limit_buy_at("2020-08-21", 0.15)
    after = limit_buy_at("2020-08-25", 0.15)
    assert [x.code for x in before.rejections] == ["RISK_PRICE_LIMIT"]
    assert not any(x.code == "RISK_PRICE_LIMIT" for x in after.rejections)


@pytest.mark.parametrize("pct,denied", [(0.19, False), (0.21, True)])
def test_star_band_is_20_percent(demo_bars, pct, denied):
    bars = demo_bars[demo_bars.symbol == "688981.SH"]
    day = "2021-03-01"
    pre = float(bars.loc[bars.datetime == day, "preclose"].iloc[0])
    px = Decimal(str(round(pre * (1 + pct), 2)))
    r, _ = run(demo_bars, {day: [buy("688981.SH", 200, order_type=OrderType.LIMIT, limit_price=px)]},
               ["688981.SH"], start="2021-02-01", end="2021-03-31", fill="close")
    assert any(x.code == "RISK_PRICE_LIMIT" for x in r.rejections) is denied


@pytest.mark.parametrize("pct,denied", [(0.04, False), (0.06, True)])
def test_st_band_is_5_percent(demo_bars, pct, denied):
    bars = demo_bars[demo_bars.symbol == "600265.SH"]
    day = "2020-06-01"
    pre = float(bars.loc[bars.datetime == day, "preclose"].iloc[0])
    px = Decimal(str(round(pre * (1 + pct), 2)))
    r, _ = run(demo_bars, {day: [buy("600265.SH", order_type=OrderType.LIMIT, limit_price=px)]},
               ["600265.SH"], start="2020-05-01", end="2020-06-30", fill="close")
    assert any(x.code == "RISK_PRICE_LIMIT" for x in r.rejections) is denied


def test_star_lot_minimum_200(demo_bars):
    r, _ = run(demo_bars, {"2021-03-01": [buy("688981.SH", 100)], "2021-03-02": [buy("688981.SH", 201)]},
               ["688981.SH"], start="2021-02-01", end="2021-03-31", fill="close")
    assert [x.code for x in r.rejections] == ["RISK_INVALID_LOT"]
    assert [f.quantity for f in r.trades] == [201]


def test_volume_cap_partial_fill_then_expiry(demo_bars):
    bars = demo_bars[demo_bars.symbol == "600519.SH"]
    vol = float(bars.loc[bars.datetime == "2019-03-04", "volume"].iloc[0])
    want = int(vol) // 100 * 100  # the whole day's volume: only 25% may fill
    r, _ = run(demo_bars, {"2019-03-01": [buy("600519.SH", want)]}, ["600519.SH"],
               start="2019-03-01", end="2019-03-08", cash=10**10)
    assert len(r.trades) == 1
    assert r.trades[0].quantity == int(vol * 0.25) // 100 * 100
    assert [x.code for x in r.rejections] == ["VENUE_EXPIRED"]


def test_cash_dividend_is_booked_on_the_ex_date(demo_bars):
    # 600519.SH went ex-dividend on 2019-06-28: close 996.35 the day before, preclose 981.81 -> 14.54/share
    r, _ = run(demo_bars, {"2019-06-20": [buy("600519.SH")]}, ["600519.SH"], start="2019-06-01",
               end="2019-07-31", fill="close")
    assert r.dividends == Decimal("1454.00")
    eq = r.equity["equity"]
    # no jump in equity from the ex-date's price drop: value moved into cash
    assert abs(eq.loc["2019-06-28"] - eq.loc["2019-06-27"]) < 100 * abs(996.35 - 981.81) + 5000
    assert r.equity["cash"].loc["2019-06-28"] - r.equity["cash"].loc["2019-06-27"] == 1454.00
    rn, _ = run(demo_bars, {"2019-06-20": [buy("600519.SH")]}, ["600519.SH"], start="2019-06-01",
                end="2019-07-31", fill="close", rules="none")
    assert rn.dividends == 0  # the frictionless mode books none (as its peers)


def test_bonus_shares_scale_the_holding():
    import pandas as pd

    from nofx.data.corporate_actions import actions_from_preclose
    bars = pd.DataFrame({"symbol": ["000070.SZ"] * 2, "datetime": pd.to_datetime(["2017-06-06", "2017-06-07"]),
                         "close": [22.18, 11.2], "preclose": [22.0, 11.05]})
    (a,) = actions_from_preclose(bars)
    assert a.split_ratio == Decimal("2.0") and a.cash_per_share == Decimal("0.0800")


def test_warmup_bars_feed_features_without_trading(demo_bars):
    import nofx.strategies.builtin  # noqa: F401
    from nofx.strategies.registry import REGISTRY

    cfg = dict(start="2020-01-02", end="2020-03-31", rules="none", fees="zero")
    cold = run_backtest(demo_bars, REGISTRY.create("dual_ma", {"fast": 5, "slow": 60, "size": 100}),
                        BacktestConfig(**cfg), symbols=["600519.SH"])
    warm = run_backtest(demo_bars, REGISTRY.create("dual_ma", {"fast": 5, "slow": 60, "size": 100}),
                        BacktestConfig(**cfg, warmup_bars=60), symbols=["600519.SH"])
    assert warm.equity.index[0] == cold.equity.index[0]  # equity starts at start either way
    assert len(warm.equity) == len(cold.equity)
    first_cold = cold.trades[0].ts if cold.trades else None
    assert warm.trades and (first_cold is None or warm.trades[0].ts < first_cold)
    assert all(f.ts >= pd.Timestamp("2020-01-02") for f in warm.trades)
