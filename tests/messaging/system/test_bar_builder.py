"""Streaming tick -> bar synthesis against the shared 15-minute file: its bars, turned into the ticks
they summarise (auction prints included), are rebuilt exactly, and the 30/60-minute and daily bars
built from the same ticks equal nofx's batch resampler on the file. (The daily file covers 2017-2021
and the 15-minute file 2025: they share no day, so daily bars are checked against the resampler.)"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from nofx.data.resample import resample_bars
from nofx.domain.market_data import Tick
from nofx.messaging.system.bar_builder import BarBuilder

SYMBOLS = ["600000.SH", "000001.SZ"]


@pytest.fixture(scope="module")
def bars(cn_15min_path) -> pd.DataFrame:
    df = pd.read_parquet(cn_15min_path, filters=[("symbol", "in", SYMBOLS)])
    df = df[(df["datetime"] < "2025-01-18") & (df["volume"] >= 4) & (df["low"] > 0)]
    return df.sort_values(["datetime", "symbol"]).reset_index(drop=True)


def ticks_of(bars: pd.DataFrame) -> list[Tick]:
    """Four prints per bar in time order: open, high, low, close (sizes summing to the volume). The
    morning's first bar opens in the call auction (09:25); the day's last bar's high prints in the
    closing auction (14:58) and its close at 15:00:00."""
    out: list[tuple[datetime, int, Tick]] = []
    for k, r in enumerate(bars.itertuples(index=False)):
        end = r.datetime.to_pydatetime()
        start = end - timedelta(minutes=15)
        t_open = end.replace(hour=9, minute=25) if end.time().strftime("%H:%M") == "09:45" else start + timedelta(seconds=1)
        t_high = end.replace(minute=58, hour=14) if end.time().strftime("%H:%M") == "15:00" else start + timedelta(minutes=5)
        v = int(r.volume)
        sizes = [v - 3, 1, 1, 1]
        prices = [r.open, r.high, r.low, r.close]
        times = [t_open, t_high, start + timedelta(minutes=10), end]
        for t, p, q in zip(times, prices, sizes):
            out.append((t, k, Tick(r.symbol, t, Decimal(repr(float(p))), q)))
    out.sort(key=lambda x: (x[0], x[1]))  # one feed in time order, symbols interleaved
    return [t for _, _, t in out]


def build(ticks: list[Tick], freq: str) -> pd.DataFrame:
    b = BarBuilder(freq)
    got = [bar for t in ticks for bar in b.add(t)] + b.flush()
    assert b.rejected == 0
    return pd.DataFrame([{"symbol": x.symbol, "datetime": pd.Timestamp(x.ts), "open": float(x.open),
                          "high": float(x.high), "low": float(x.low), "close": float(x.close),
                          "volume": float(x.volume)} for x in got]).sort_values(["symbol", "datetime"]).reset_index(drop=True)


def test_ticks_rebuild_the_fifteen_minute_bars(bars):
    got = build(ticks_of(bars), "15min")
    want = bars[["symbol", "datetime", "open", "high", "low", "close", "volume"]].sort_values(
        ["symbol", "datetime"]).reset_index(drop=True)
    want["volume"] = want["volume"].astype(float)
    assert len(got) == len(want) > 300
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


@pytest.mark.parametrize("freq", ["30min", "60min", "1D"])
def test_coarser_bars_equal_the_resampler(bars, freq):
    got = build(ticks_of(bars), freq)
    want = resample_bars(bars, freq)[["symbol", "datetime", "open", "high", "low", "close", "volume"]]
    want = want.sort_values(["symbol", "datetime"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    if freq == "60min":  # session bins: never an 11:30-13:00 bar
        assert set(got["datetime"].dt.strftime("%H:%M")) == {"10:30", "11:30", "14:00", "15:00"}


def _t(s: str) -> datetime:
    return datetime.fromisoformat(s)


def test_a_share_sessions_auctions_and_the_lunch_break():
    b = BarBuilder("5min")
    px = Decimal("10.00")
    assert b.add(Tick("600000.SH", _t("2025-01-02 09:15:30"), px, 100)) == []  # call auction
    assert b.add(Tick("600000.SH", _t("2025-01-02 09:31:00"), Decimal("10.10"), 100)) == []
    first, = b.add(Tick("600000.SH", _t("2025-01-02 11:29:00"), px, 100))
    assert (first.ts, first.open, first.high, first.volume) == (_t("2025-01-02 09:35"), px, Decimal("10.10"), 200)
    assert b.add(Tick("600000.SH", _t("2025-01-02 12:10:00"), px, 100)) == []  # lunch break: refused
    assert b.rejected == 1
    late, = b.add(Tick("600000.SH", _t("2025-01-02 14:59:00"), px, 100))  # closing auction
    assert late.ts == _t("2025-01-02 11:30")
    assert [x.ts for x in b.flush()] == [_t("2025-01-02 15:00")]


def test_hong_kong_sessions_and_a_quiet_symbol_closed_by_the_clock():
    b = BarBuilder("15min")
    px = Decimal("300.2")
    b.add(Tick("0700.HK", _t("2023-03-01 09:20:00"), px, 100))  # opening auction -> first bar
    b.add(Tick("0700.HK", _t("2023-03-01 11:59:59"), px, 100))
    assert b.add(Tick("0700.HK", _t("2023-03-01 12:30:00"), px, 100)) == []  # HK lunch break
    assert b.rejected == 1
    assert [x.ts for x in b.flush_until(_t("2023-03-01 13:00:00"))] == [_t("2023-03-01 12:00")]
    assert b.flush_until(_t("2023-03-01 13:00:00")) == []


def test_a_late_print_never_rewrites_a_closed_bar():
    b = BarBuilder("1min")
    b.add(Tick("000001.SZ", _t("2025-01-02 10:00:30"), Decimal("11"), 100))
    b.add(Tick("000001.SZ", _t("2025-01-02 10:02:30"), Decimal("11"), 100))
    assert b.add(Tick("000001.SZ", _t("2025-01-02 10:00:40"), Decimal("12"), 100)) == []
    assert b.rejected == 1
    assert np.array_equal([x.high for x in b.flush()], [Decimal("11")])
