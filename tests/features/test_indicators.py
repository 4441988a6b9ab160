"""Indicators against the independent ``ta`` library on real bars, NaN handling, and causality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import ta

from nofx.data.bars import read_bars
from nofx.data.panel import BarPanel
from nofx.domain.errors import ConfigError, DataError
from nofx.features.causality import assert_causal
from nofx.features.indicators import atr, bollinger, ema, macd, rsi, sma, true_range

# large/small caps, a long suspension (000792.SZ), an IPO inside the file (688981.SH), an index
SYMBOLS = ["600519.SH", "000001.SZ", "300750.SZ", "000792.SZ", "688981.SH", "000300.SH"]
# RSI: ta starts Wilder's recursion at bar 0 with a zero change, we seed with the mean of the first n
# changes (see the module doc); the difference decays as (13/14)^t, so compare after this many bars
RSI_CONVERGED = 300


@pytest.fixture(scope="module")
def bars(cn_daily_path) -> dict[str, pd.DataFrame]:
    df = read_bars(cn_daily_path, symbols=SYMBOLS)
    return {s: g.sort_values("datetime").reset_index(drop=True) for s, g in df.groupby("symbol")}


def _close(a, b, *, skip: int = 0, scale: float = 1.0, rtol: float = 1e-9) -> None:
    """Same NaN pattern after ``skip`` rows and values within rtol (absolute floor relative to price scale)."""
    a, b = np.asarray(a, dtype=float)[skip:], np.asarray(b, dtype=float)[skip:]
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale, equal_nan=True)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_against_ta(bars, symbol):
    g = bars[symbol]
    c, h, l = g["close"], g["high"], g["low"]
    scale = float(c.mean())
    _close(sma(c.to_numpy(), 20), ta.trend.SMAIndicator(c, 20).sma_indicator(), scale=scale)
    _close(ema(c.to_numpy(), 20), ta.trend.EMAIndicator(c, 20).ema_indicator(), scale=scale)
    ref = ta.trend.MACD(c, window_slow=26, window_fast=12, window_sign=9)
    line, signal, hist = macd(c.to_numpy())
    _close(line, ref.macd(), scale=scale)
    _close(signal, ref.macd_signal(), scale=scale)
    _close(hist, ref.macd_diff(), scale=scale)
    _close(rsi(c.to_numpy(), 14), ta.momentum.RSIIndicator(c, 14).rsi(), skip=RSI_CONVERGED, scale=100, rtol=1e-7)
    # ta returns 0 during ATR's warm-up where we return NaN: compare from the first defined value
    _close(atr(h.to_numpy(), l.to_numpy(), c.to_numpy(), 14),
           ta.volatility.AverageTrueRange(h, l, c, 14).average_true_range(), skip=13, scale=scale)
    mid, upper, lower = bollinger(c.to_numpy(), 20, 2)
    bb = ta.volatility.BollingerBands(c, 20, 2)
    _close(mid, bb.bollinger_mavg(), scale=scale)
    _close(upper, bb.bollinger_hband(), scale=scale)
    _close(lower, bb.bollinger_lband(), scale=scale)


def test_warm_up_lengths(bars):
    c = bars["600519.SH"]["close"].to_numpy()
    first = {name: int(np.argmax(~np.isnan(v))) for name, v in {
        "sma20": sma(c, 20), "ema20": ema(c, 20), "macd": macd(c)[0], "signal": macd(c)[1],
        "rsi14": rsi(c, 14), "boll20": bollinger(c)[1],
    }.items()}
    assert first == {"sma20": 19, "ema20": 19, "macd": 25, "signal": 33, "rsi14": 14, "boll20": 19}
    r = rsi(c)
    assert np.nanmin(r) >= 0 and np.nanmax(r) <= 100


def test_panel_equals_per_symbol_series_on_present_rows(cn_daily_path):
    # 688981.SH lists in 2020-07: its column is NaN before, and must not disturb other columns
    df = read_bars(cn_daily_path, symbols=["600519.SH", "688981.SH", "000792.SZ"], start="2019-06-01")
    panel = BarPanel.from_frame(df)
    close, high, low = panel["close"], panel["high"], panel["low"]
    results = {"ema": ema(close, 12), "rsi": rsi(close), "atr": atr(high, low, close), "sma": sma(close, 10)}
    for j, symbol in enumerate(panel.symbols):
        present = np.isfinite(close[:, j])
        c, h, l = close[present, j], high[present, j], low[present, j]
        singles = {"ema": ema(c, 12), "rsi": rsi(c), "atr": atr(h, l, c), "sma": sma(c, 10)}
        for name, values in singles.items():
            np.testing.assert_allclose(results[name][present, j], values, rtol=1e-12, equal_nan=True,
                                       err_msg=f"{name} {symbol}")
            assert np.isnan(results[name][~present, j]).all()


def test_a_missing_bar_poisons_only_what_the_window_needs(bars):
    c = bars["000001.SZ"]["close"].to_numpy().copy()
    hole = 200
    c[hole] = np.nan
    s = sma(c, 5)
    assert np.isnan(s[hole:hole + 5]).all() and np.isfinite(s[hole + 5:]).all()
    e = ema(c, 10)
    assert np.isnan(e[hole]) and np.isfinite(e[hole + 1:]).all()
    r = rsi(c)
    assert np.isnan(r[hole]) and np.isfinite(r[hole + 1:]).all()
    # the change across the hole is measured from the last present close
    full = bars["000001.SZ"]["close"].to_numpy()
    h = np.r_[full[:hole], full[hole + 1:]]
    np.testing.assert_allclose(np.delete(r, hole), rsi(h), rtol=1e-12, equal_nan=True)
    high = bars["000001.SZ"]["high"].to_numpy().copy()
    low = bars["000001.SZ"]["low"].to_numpy().copy()
    high[hole] = low[hole] = np.nan
    tr = true_range(high, low, c)
    assert np.isnan(tr[hole])
    assert tr[hole + 1] == pytest.approx(max(high[hole + 1] - low[hole + 1], abs(high[hole + 1] - c[hole - 1]),
                                             abs(low[hole + 1] - c[hole - 1])))


def test_indicators_are_causal(cn_daily_path):
    panel = BarPanel.from_frame(read_bars(cn_daily_path, symbols=SYMBOLS, start="2020-01-01"))
    assert_causal(lambda p: sma(p["close"], 20), panel)
    assert_causal(lambda p: ema(p["close"], 20), panel)
    assert_causal(lambda p: macd(p["close"]), panel)
    assert_causal(lambda p: rsi(p["close"]), panel)
    assert_causal(lambda p: atr(p["high"], p["low"], p["close"]), panel)
    assert_causal(lambda p: bollinger(p["close"]), panel)


def test_bad_arguments():
    with pytest.raises(ConfigError):
        sma(np.arange(10.0), 0)
    with pytest.raises(ConfigError):
        macd(np.arange(50.0), fast=26, slow=12)
    with pytest.raises(DataError):
        ema(np.zeros((2, 2, 2)), 3)
    with pytest.raises(DataError):
        atr(np.ones(5), np.ones(5), np.ones(6))
