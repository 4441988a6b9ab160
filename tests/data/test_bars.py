"""read_bars: canonical schema from real files, and one clear DataError line for each kind of bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from nofx.data.bars import read_bars, row_location
from nofx.data.bundled import bundled_bars_path
from nofx.domain.errors import DataError


def _one_line(exc: DataError) -> str:
    text = str(exc)
    assert "\n" not in text
    return text


def test_real_daily_file_filters_and_schema(cn_daily_path):
    df = read_bars(cn_daily_path, symbols=["600519.SH", "000300.SH"], start="2021-02-01", end="2021-02-10")
    assert set(df["symbol"]) == {"600519.SH", "000300.SH"}
    assert df["datetime"].dtype == np.dtype("datetime64[ns]")
    assert df["datetime"].min() >= pd.Timestamp("2021-02-01") and df["datetime"].max() == pd.Timestamp("2021-02-10")
    for col in ("open", "high", "low", "close", "volume", "amount", "preclose"):
        assert df[col].dtype == np.float64, col
    assert set(df["trade_status"].unique()) <= {0, 1} and set(df["is_st"].unique()) <= {0, 1}
    assert "date" not in df.columns
    on = df[df["datetime"] == pd.Timestamp("2021-02-10")].set_index("symbol")["close"]
    assert on["600519.SH"] == pytest.approx(2601.00)
    assert on["000300.SH"] == pytest.approx(5807.72)


def test_index_is_the_row_position_in_the_file(cn_daily_path):
    df = read_bars(cn_daily_path, symbols=["000001.SZ"], start="2020-06-01", end="2020-06-05")
    raw = pq.read_table(cn_daily_path).slice(int(df.index[0]), 1).to_pylist()[0]
    assert raw["symbol"] == "000001.SZ"
    assert pd.Timestamp(raw["date"]) == df["datetime"].iloc[0]
    assert raw["close"] == df["close"].iloc[0]


def test_intraday_file_keeps_end_labelled_datetimes(cn_15min_path):
    df = read_bars(cn_15min_path, symbols=["000001.SZ"], start="2025-01-02", end="2025-01-02 23:59")
    assert len(df) == 16
    assert df["datetime"].iloc[0] == pd.Timestamp("2025-01-02 09:45")
    assert df["datetime"].iloc[-1] == pd.Timestamp("2025-01-02 15:00")


def test_csv_reads_like_parquet(tmp_path):
    parquet = read_bars(bundled_bars_path(), symbols=["600519.SH", "300750.SZ"], end="2019-03-01")
    csv = tmp_path / "bars.csv"
    out = parquet.reset_index(drop=True).rename(columns={"datetime": "date"})
    out["date"] = out["date"].dt.strftime("%Y-%m-%d")
    out.to_csv(csv, index=False)
    back = read_bars(csv)
    pd.testing.assert_frame_equal(
        back.reset_index(drop=True), parquet.reset_index(drop=True)[back.columns], check_dtype=False
    )
    assert back["datetime"].dtype == np.dtype("datetime64[ns]")
    assert row_location(back.attrs, 0).endswith("bars.csv line 2")


def test_timezone_aware_times_become_exchange_local(tmp_path):
    csv = tmp_path / "tz.csv"
    csv.write_text("symbol,datetime,open,high,low,close,volume\n"
                   "600519.SH,2025-01-02T01:45:00Z,1,1,1,1,10\n")
    df = read_bars(csv)
    assert df["datetime"].iloc[0] == pd.Timestamp("2025-01-02 09:45")


def _csv(tmp_path, text: str, name: str = "bars.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = "symbol,date,open,high,low,close,volume\n600519.SH,2021-01-04,10,11,9,10.5,100\n"


def test_missing_column_names_it_and_the_file(tmp_path):
    path = _csv(tmp_path, "symbol,date,open,high,low,volume\n600519.SH,2021-01-04,10,11,9,100\n")
    with pytest.raises(DataError) as err:
        read_bars(path)
    text = _one_line(err.value)
    assert "'close'" in text and str(path) in text


def test_missing_time_column(tmp_path):
    path = _csv(tmp_path, "symbol,open,high,low,close,volume\n600519.SH,10,11,9,10.5,100\n")
    with pytest.raises(DataError, match="datetime"):
        read_bars(path)


def test_wrong_dtype_names_column_line_and_value(tmp_path):
    path = _csv(tmp_path, GOOD + "600519.SH,2021-01-05,10,11,9,1O.5,100\n")  # letter O, not zero
    with pytest.raises(DataError) as err:
        read_bars(path)
    text = _one_line(err.value)
    assert "'close'" in text and "line=3" in text and "'1O.5'" in text


def test_bad_date_names_line_and_value(tmp_path):
    path = _csv(tmp_path, GOOD + "600519.SH,2021-13-45,10,11,9,10,100\n")
    with pytest.raises(DataError) as err:
        read_bars(path)
    assert "line=3" in str(err.value) and "2021-13-45" in str(err.value)


def test_unknown_symbol_format_names_row_and_value(tmp_path):
    path = _csv(tmp_path, GOOD + "600519,2021-01-05,10,11,9,10,100\n")
    with pytest.raises(DataError) as err:
        read_bars(path)
    text = _one_line(err.value)
    assert "unknown symbol format" in text and "line=3" in text and "600519" in text
    # the checker path keeps such rows so that every one can be listed
    assert len(read_bars(path, validate=False)) == 2


def test_requested_symbol_not_in_file(cn_daily_path):
    with pytest.raises(DataError) as err:
        read_bars(cn_daily_path, symbols=["600519.SH", "600001.SH"])
    text = _one_line(err.value)
    assert "600001.SH" in text and "not in the file" in text


def test_empty_range_says_the_file_span(cn_daily_path):
    with pytest.raises(DataError) as err:
        read_bars(cn_daily_path, start="2024-01-01", end="2024-12-31")
    text = _one_line(err.value)
    assert "2017-01-03" in text and "2021-12-31" in text


def test_unreadable_and_missing_files(tmp_path):
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"this is not parquet at all")
    with pytest.raises(DataError) as err:
        read_bars(junk)
    assert "cannot read" in _one_line(err.value) and "junk.parquet" in str(err.value)
    with pytest.raises(DataError, match="not found"):
        read_bars(tmp_path / "nope.parquet")
    with pytest.raises(DataError, match="unsupported"):
        read_bars(_csv(tmp_path, GOOD, name="bars.txt"))


def test_start_after_end_is_rejected():
    with pytest.raises(DataError, match="start is after end"):
        read_bars(bundled_bars_path(), start="2021-01-01", end="2020-01-01")


def test_bare_end_date_includes_the_whole_day_and_single_symbol_string(cn_15min_path):
    df = read_bars(cn_15min_path, symbols="000001.SZ", start="2025-01-02", end="2025-01-03")
    assert len(df) == 32 and df["datetime"].max() == pd.Timestamp("2025-01-03 15:00")
    with pytest.raises(DataError, match="end is not a date"):
        read_bars(cn_15min_path, end="someday")


def test_columns_selects_extra_columns(cn_daily_path):
    df = read_bars(cn_daily_path, symbols=["600519.SH"], start="2021-02-10", end="2021-02-10", columns=["pct_chg"])
    assert list(df.columns) == ["symbol", "datetime", "open", "high", "low", "close", "preclose", "volume",
                                "amount", "pct_chg", "trade_status", "is_st"]
    assert "turnover" not in read_bars(bundled_bars_path(), columns=[]).columns
    with pytest.raises(DataError, match="missing column 'vwap'"):
        read_bars(cn_daily_path, columns=["vwap"])
