"""Session-aware resampling of real 15-minute bars, and ticks to bars on hand-made trades."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nofx.data.bars import read_bars
from nofx.data.resample import bars_from_ticks, resample_bars
from nofx.domain.errors import DataError

SYMBOLS = ["000001.SZ", "600036.SH", "600276.SH", "600243.SH"]


@pytest.fixture(scope="module")
def m15(cn_15min_path) -> pd.DataFrame:
    return read_bars(cn_15min_path, symbols=SYMBOLS, end="2025-03-31 23:59")


def _clock(df: pd.DataFrame) -> list[str]:
    return sorted(set(df["datetime"].dt.strftime("%H:%M")))


def test_sixteen_fifteen_minute_bars_a_day(m15):
    per_day = m15.groupby([m15["symbol"], m15["datetime"].dt.date]).size()
    assert (per_day == 16).all()


def test_60_and_30_minute_bins_end_on_session_boundaries(m15):
    h = resample_bars(m15, "60min")
    assert _clock(h) == ["10:30", "11:30", "14:00", "15:00"]
    assert (h.groupby([h["symbol"], h["datetime"].dt.date]).size() == 4).all()
    half = resample_bars(m15, "30min")
    assert _clock(half) == ["10:00", "10:30", "11:00", "11:30", "13:30", "14:00", "14:30", "15:00"]


def test_daily_direct_equals_daily_via_60_minutes(m15):
    direct = resample_bars(m15, "1D")
    via = resample_bars(resample_bars(m15, "60min"), "1D")
    pd.testing.assert_frame_equal(direct, via)


def test_aggregates_are_exact(m15):
    day = resample_bars(m15, "1D").set_index(["symbol", "datetime"])
    g = m15.sort_values("datetime").groupby([m15["symbol"], m15["datetime"].dt.normalize()])
    assert (day["volume"] == g["volume"].sum()).all()
    assert (day["amount"] == g["amount"].sum()).all()
    assert (day["high"] == g["high"].max()).all() and (day["low"] == g["low"].min()).all()
    assert (day["open"] == g["open"].first()).all() and (day["close"] == g["close"].last()).all()
    # the first 60-minute bar of a day is exactly the 09:45..10:30 quarter hours
    one = m15[(m15["symbol"] == "600036.SH") & (m15["datetime"].dt.date == pd.Timestamp("2025-01-02").date())]
    first = resample_bars(one, "60min").iloc[0]
    quarters = one.iloc[:4]
    assert first["datetime"] == pd.Timestamp("2025-01-02 10:30")
    assert first["open"] == quarters["open"].iloc[0] and first["close"] == quarters["close"].iloc[-1]
    assert first["volume"] == quarters["volume"].sum() and first["high"] == quarters["high"].max()


def test_finer_target_is_rejected(m15):
    with pytest.raises(DataError, match="cannot resample 15-minute bars to 10-minute"):
        resample_bars(m15, "10min")
    with pytest.raises(DataError, match="unknown bar frequency"):
        resample_bars(m15, "fortnightly")


def _ticks(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["datetime", "symbol", "price", "size"]).assign(
        datetime=lambda d: pd.to_datetime(d["datetime"])
    )


def test_ticks_to_a_share_bars_respect_sessions():
    ticks = _ticks([
        ("2025-01-02 09:25:00", "600519.SH", 100.0, 500),  # opening auction -> first bar
        ("2025-01-02 09:31:10", "600519.SH", 101.0, 100),
        ("2025-01-02 09:44:59", "600519.SH", 99.5, 200),
        ("2025-01-02 09:45:00", "600519.SH", 100.5, 100),  # right-closed: still the 09:45 bar
        ("2025-01-02 09:45:01", "600519.SH", 102.0, 300),
        ("2025-01-02 11:29:59", "600519.SH", 103.0, 100),
        ("2025-01-02 13:00:02", "600519.SH", 104.0, 100),  # afternoon: never mixed with the morning
        ("2025-01-02 14:59:59", "600519.SH", 105.0, 100),
        ("2025-01-02 15:00:00", "600519.SH", 106.0, 1000),  # closing auction print -> last bar
    ])
    bars = bars_from_ticks(ticks, "15min")
    assert list(bars["datetime"].dt.strftime("%H:%M")) == ["09:45", "10:00", "11:30", "13:15", "15:00"]
    first = bars.iloc[0]
    assert (first["open"], first["high"], first["low"], first["close"]) == (100.0, 101.0, 99.5, 100.5)
    assert first["volume"] == 900 and first["amount"] == pytest.approx(100 * 500 + 101 * 100 + 99.5 * 200 + 100.5 * 100)
    last = bars.iloc[-1]
    assert (last["open"], last["close"], last["volume"]) == (105.0, 106.0, 1100)
    hourly = bars_from_ticks(ticks, "60min")
    assert list(hourly["datetime"].dt.strftime("%H:%M")) == ["10:30", "11:30", "14:00", "15:00"]
    daily = bars_from_ticks(ticks, "1D")
    assert len(daily) == 1 and daily["volume"].iloc[0] == ticks["size"].sum()
    assert daily["open"].iloc[0] == 100.0 and daily["close"].iloc[0] == 106.0


def test_same_timestamp_ticks_keep_feed_order_and_symbols_split():
    ticks = _ticks([
        ("2025-01-02 10:00:00", "000001.SZ", 11.0, 100),
        ("2025-01-02 10:00:00", "600519.SH", 1500.0, 100),
        ("2025-01-02 10:00:00", "000001.SZ", 11.2, 100),
        ("2025-01-02 10:00:00", "000001.SZ", 10.9, 100),
    ])
    bars = bars_from_ticks(ticks, "15min").set_index("symbol")
    assert bars.loc["000001.SZ", "open"] == 11.0 and bars.loc["000001.SZ", "close"] == 10.9
    assert bars.loc["600519.SH", "volume"] == 100


def test_hong_kong_sessions():
    ticks = _ticks([
        ("2025-01-02 09:20:00", "0700.HK", 400.0, 100),  # pre-opening session
        ("2025-01-02 11:45:00", "0700.HK", 401.0, 100),
        ("2025-01-02 15:59:00", "0700.HK", 402.0, 100),
        ("2025-01-02 16:08:00", "0700.HK", 403.0, 100),  # closing auction
    ])
    bars = bars_from_ticks(ticks, "60min")
    assert list(bars["datetime"].dt.strftime("%H:%M")) == ["10:30", "12:00", "16:00"]


def test_out_of_session_ticks_and_bad_prices_are_errors():
    with pytest.raises(DataError, match="outside the trading sessions"):
        bars_from_ticks(_ticks([("2025-01-02 12:15:00", "600519.SH", 100.0, 1)]), "15min")
    with pytest.raises(DataError, match="price must be positive"):
        bars_from_ticks(_ticks([("2025-01-02 10:15:00", "600519.SH", -1.0, 1)]), "15min")
    with pytest.raises(DataError, match="missing column 'size'"):
        bars_from_ticks(_ticks([("2025-01-02 10:15:00", "600519.SH", 1.0, 1)]).drop(columns="size"), "15min")


def test_empty_bins_produce_no_bar():
    ticks = _ticks([("2025-01-02 09:35:00", "600519.SH", 100.0, 1), ("2025-01-02 14:50:00", "600519.SH", 101.0, 1)])
    bars = bars_from_ticks(ticks, "15min")
    assert len(bars) == 2 and not np.isnan(bars[["open", "close"]].to_numpy()).any()
