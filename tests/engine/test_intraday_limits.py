"""Daily rules on intraday bars (shared cn_15min, 2025): the price-limit band of every bar comes from the
previous trading day's close, so a bar that trades only at the limit is locked on that side, and a
suspended day (written by this file as all-zero prices) is suspended, never a price of 0.

The "daily bars" that say which days were locked are resampled from the same 15-minute file by nofx's own
resampler (``nofx.data.resample.resample_bars``): the shared daily file covers 2017-2021 and cannot be
compared with 2025 bars. The file has no ``is_st`` column, so every stock is judged with the ordinary
±10% band, by the oracle and by the engine alike.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.data.bars import read_bars
from nofx.data.resample import resample_bars
from nofx.domain.enums import Side
from nofx.domain.instruments import parse_symbol
from nofx.domain.orders import OrderRequest
from nofx.engine.market_data import prepare_market
from nofx.markets.cn import ChinaRules
from tests.backtest.scripted import Scripted

D = Decimal


@pytest.fixture(scope="module")
def bars(cn_15min_path):
    return read_bars(cn_15min_path)


@pytest.fixture(scope="module")
def locked_days(bars):
    """(symbol, day, side) of every daily bar that traded only at its limit: daily bars resampled from the
    15-minute file (suspended all-zero rows left out), the band from the previous daily close."""
    live = bars[~((bars.open == 0) & (bars.high == 0) & (bars.low == 0) & (bars.close == 0))]
    daily = resample_bars(live, "1D")
    daily["preclose"] = daily.groupby("symbol")["close"].shift(1)
    rules = ChinaRules()
    out = []
    for t in daily.dropna(subset=["preclose"]).itertuples():
        lim = rules.price_limits(parse_symbol(t.symbol), t.datetime.date(), D(repr(t.preclose)), False, None)
        hi, lo = D(repr(t.high)), D(repr(t.low))
        if hi == lo == lim.upper:
            out.append((t.symbol, t.datetime.date(), Side.BUY))
        elif hi == lo == lim.lower:
            out.append((t.symbol, t.datetime.date(), Side.SELL))
    return out


def _day_rows(bars, sym, day):
    sel = bars[(bars.symbol == sym) & (bars.datetime.dt.date == day)]
    return sel.sort_values("datetime")


def test_the_issue_example_600173_locked_all_morning(bars):
    # 600173.SH closed 2025-01-03 at 3.77; every bar of 2025-01-06 traded only at 4.15 = 3.77 * 1.1
    sym = "600173.SH"
    script = {"2025-01-06 09:45": [OrderRequest(sym, Side.BUY, 100)],
              "2025-01-06 10:00": [OrderRequest(sym, Side.BUY, 100)],
              "2025-01-06 11:00": [OrderRequest(sym, Side.BUY, 100)]}
    for fill in ("next_open", "close"):
        s = Scripted(script)
        r = run_backtest(bars, s, BacktestConfig(start="2025-01-02", end="2025-01-07", rules="cn", fill=fill),
                         symbols=[sym])
        assert r.trades == [], fill
        assert [x.code for x in r.rejections] == ["VENUE_LIMIT_UP_LOCKED"] * 3, fill


def test_every_bar_of_a_day_has_the_band_of_the_previous_days_close(bars):
    sym_bars = bars[bars.symbol == "600173.SH"]
    market = prepare_market(sym_bars, BacktestConfig(rules="cn"))
    t = market.panel.timestamps
    day = (t >= np.datetime64("2025-01-06")) & (t < np.datetime64("2025-01-07"))
    assert day.sum() == 16
    assert set(market.upper[day, 0]) == {4.15} and set(market.lower[day, 0]) == {3.39}
    nxt = (t >= np.datetime64("2025-01-07")) & (t < np.datetime64("2025-01-08"))
    assert set(market.upper[nxt, 0]) == {4.57} and set(market.lower[nxt, 0]) == {3.74}  # 4.15 * 1.1 / 0.9


def test_daily_locks_show_as_locked_intraday_bars(bars, locked_days):
    assert len(locked_days) >= 8 and {s for _, _, s in locked_days} == {Side.BUY, Side.SELL}
    assert ("600173.SH", pd.Timestamp("2025-01-06").date(), Side.BUY) in locked_days
    for sym in {s for s, _, _ in locked_days}:
        market = prepare_market(bars[bars.symbol == sym], BacktestConfig(rules="cn"))
        days = market.panel.timestamps.astype("datetime64[D]")
        f = market.panel.fields
        for s, day, side in locked_days:
            if s != sym:
                continue
            rows = np.flatnonzero(days == np.datetime64(day))
            limit = market.upper[rows, 0] if side is Side.BUY else market.lower[rows, 0]
            assert len(rows) == 16 and len(set(limit)) == 1, (sym, day)
            assert np.all(f["high"][rows, 0] == limit) and np.all(f["low"][rows, 0] == limit), (sym, day)


def test_no_order_fills_through_a_locked_day(bars, locked_days):
    """A buy on each limit-up-locked day, a sell (of shares held since the first day) on each
    limit-down-locked day, decided at every bar from the previous day's last bar on: none fills."""
    symbols = sorted({s for s, _, _ in locked_days})
    ts = np.unique(bars["datetime"].to_numpy(dtype="datetime64[ns]"))
    script: dict[str, list[OrderRequest]] = {str(pd.Timestamp(ts[0])): [
        OrderRequest(s, Side.BUY, 400) for s in sorted({s for s, _, side in locked_days if side is Side.SELL})]}
    n_orders = 0
    for sym, day, side in locked_days:
        rows = np.flatnonzero(ts.astype("datetime64[D]") == np.datetime64(day))
        for k in [rows[0] - 1, *rows[:-1]]:  # orders meeting each of the day's 16 bars at its open
            script.setdefault(str(pd.Timestamp(ts[k])), []).append(OrderRequest(sym, side, 100))
            n_orders += 1
    s = Scripted(script)
    r = run_backtest(bars, s, BacktestConfig(rules="cn", cash=10_000_000), symbols=symbols)
    locked = {(sym, day) for sym, day, _ in locked_days}
    assert [(f.symbol, f.ts.date()) for f in r.trades if (f.symbol, f.ts.date()) in locked] == []
    assert all(f.side is Side.BUY and f.quantity == 400 for f in r.trades)
    codes = [x.code for x in r.rejections]
    assert len(codes) == n_orders
    assert set(codes) == {"VENUE_LIMIT_UP_LOCKED", "VENUE_LIMIT_DOWN_LOCKED"}


@pytest.mark.parametrize("sym,day", [("600243.SH", "2025-04-22"), ("600265.SH", "2025-04-29"),
                                     ("600303.SH", "2025-04-18")])
def test_all_zero_rows_are_a_suspended_day_not_a_price_of_zero(bars, sym, day):
    sym_bars = bars[bars.symbol == sym]
    zero = sym_bars[sym_bars.close == 0]
    assert set(zero.datetime.dt.date.astype(str)) == {day} and len(zero) == 16
    days = np.unique(sym_bars.datetime.to_numpy(dtype="datetime64[D]"))
    before, after = str(days[days < np.datetime64(day)][-1]), str(days[days > np.datetime64(day)][0])
    prev_close = float(sym_bars[sym_bars.datetime < pd.Timestamp(day)].close.iloc[-1])
    market = prepare_market(sym_bars, BacktestConfig(rules="cn"))
    t = market.panel.timestamps.astype("datetime64[D]")
    f = market.panel.fields
    on = t == np.datetime64(day)
    assert np.all(f["trade_status"][on, 0] == 0) and np.all(f["close"][on, 0] == prev_close)
    nxt = t == np.datetime64(after)
    band = ChinaRules().price_limits(parse_symbol(sym), pd.Timestamp(after).date(), D(repr(prev_close)), False, None)
    # the band after the suspension comes from the last real close, not from 0
    assert set(market.upper[nxt, 0]) == {float(band.upper)} and set(market.lower[nxt, 0]) == {float(band.lower)}
    # holding through the suspension: the position keeps its last price; a buy that day is refused
    s = Scripted({f"{before} 09:45": [OrderRequest(sym, Side.BUY, 1000)],
                  f"{day} 10:00": [OrderRequest(sym, Side.BUY, 100)]})
    r = run_backtest(bars, s, BacktestConfig(start=before, end=after, rules="cn"), symbols=[sym])
    assert len(r.trades) == 1 and [x.code for x in r.rejections] == ["VENUE_SUSPENDED"]
    eq = r.equity["equity"]
    on_day = eq[eq.index.normalize() == pd.Timestamp(day)]
    assert len(on_day) == 16
    assert r.trades[0].ts.date().isoformat() == before
    assert set(on_day) == {round(float(r.final_cash) + 1000 * prev_close, 2)}


def test_no_buy_fills_on_a_locked_bar_of_a_day_that_was_not_locked_all_day(bars, locked_days):
    """Bars that traded only at the day's limit-up (the band from the resampled daily bars) on days
    that also traded below it: a buy arriving on such a bar is refused; it fills on the others."""
    live = bars[~((bars.open == 0) & (bars.close == 0))].copy()
    daily = resample_bars(live, "1D")
    daily["preclose"] = daily.groupby("symbol")["close"].shift(1)
    rules = ChinaRules()
    daily["upper"] = [float(rules.price_limits(parse_symbol(t.symbol), t.datetime.date(), D(repr(t.preclose)),
                                               False, None).upper) if t.preclose == t.preclose else np.nan
                      for t in daily.itertuples()]
    live["day"] = live.datetime.dt.normalize()
    m = live.merge(daily[["symbol", "datetime", "upper"]].rename(columns={"datetime": "day"}), on=["symbol", "day"])
    full = {(s, d) for s, d, _ in locked_days}
    hit = m[(m.high == m.upper) & (m.low == m.upper)
            & ~pd.Series([(s, d.date()) in full for s, d in zip(m.symbol, m.day)], index=m.index)]
    assert len(hit) >= 20 and hit.symbol.nunique() >= 5
    ts = np.unique(bars["datetime"].to_numpy(dtype="datetime64[ns]"))
    pos = {t: k for k, t in enumerate(ts)}
    script: dict[str, list[OrderRequest]] = {}
    targets = set()
    for t in hit.itertuples():
        k = pos[np.datetime64(t.datetime, "ns")]
        if k == 0:
            continue
        script.setdefault(str(pd.Timestamp(ts[k - 1])), []).append(OrderRequest(t.symbol, Side.BUY, 100))
        targets.add((t.symbol, pd.Timestamp(t.datetime).to_pydatetime()))
    s = Scripted(script)
    r = run_backtest(bars, s, BacktestConfig(rules="cn", cash=100_000_000), symbols=sorted(hit.symbol.unique()))
    assert [f for f in r.trades if (f.symbol, f.ts) in targets] == []
    assert len(r.rejections) == len(targets)
    assert {x.code for x in r.rejections} == {"VENUE_LIMIT_UP_LOCKED"}


def test_a_day_order_at_the_close_keeps_filling_through_its_day_and_expires_at_its_end(bars):
    """``--fill close`` on 15-minute bars: a buy larger than a bar's volume cap takes 25% of its own bar at
    the close, the rest meets the day's later bars and expires at the day's end, never fills the next day."""
    sym = "600036.SH"
    b = bars[bars.symbol == sym]
    first = b[b.datetime == pd.Timestamp("2025-03-03 10:00")].iloc[0]
    want = int(first.volume) * 3 // 100 * 100
    s = Scripted({"2025-03-03 10:00": [OrderRequest(sym, Side.BUY, want)],
                  "2025-03-04 10:00": [OrderRequest(sym, Side.BUY, 100)]})
    r = run_backtest(bars, s, BacktestConfig(start="2025-03-03", end="2025-03-04", rules="cn", fill="close",
                                             cash=10**10), symbols=[sym])
    big = [f for f in r.trades if f.order_id == r.trades[0].order_id]
    assert len(big) > 1 and {f.ts.date().isoformat() for f in big} == {"2025-03-03"}
    assert big[0].ts == pd.Timestamp("2025-03-03 10:00") and big[0].quantity == int(first.volume * 0.25) // 100 * 100
    assert sum(f.quantity for f in big) < want
    (expired,) = [x for x in r.rejections if x.code == "VENUE_EXPIRED"]
    assert expired.ts == pd.Timestamp("2025-03-03 15:00")
    assert [(f.quantity, f.ts.date().isoformat()) for f in r.trades if f not in big] == [(100, "2025-03-04")]
