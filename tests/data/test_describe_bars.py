"""describe_bars: per-symbol counts, suspended/ST days and missing trading days."""

from __future__ import annotations

import pandas as pd
import pytest

from nofx.data import describe as describe_module
from nofx.data.bars import read_bars
from nofx.data.bundled import load_bundled
from nofx.data.describe import CALENDAR_EXCHANGE, CALENDAR_FILE_UNION, describe_bars


@pytest.fixture(scope="module")
def bundled() -> pd.DataFrame:
    return load_bundled()


def test_counts_match_the_data(bundled, monkeypatch):
    monkeypatch.setattr(describe_module, "_exchange_trading_days", lambda: None)
    info = describe_bars(bundled)
    assert info.rows == len(bundled) and info.n_symbols == bundled["symbol"].nunique()
    assert info.start == pd.Timestamp("2019-01-02") and info.end == pd.Timestamp("2021-12-31")
    salt = info.symbol("000792.SZ")
    rows = bundled[bundled["symbol"] == "000792.SZ"]
    assert salt.rows == len(rows)
    assert salt.suspended_days == int(((rows["trade_status"] == 0) | (rows["volume"] == 0)).sum()) > 300
    assert salt.st_days == int(rows["is_st"].sum()) > 500
    assert info.symbol("688981.SH").first == pd.Timestamp("2020-07-16")  # IPO inside the window
    assert info.suspended_days == sum(s.suspended_days for s in info.symbols)
    assert info.missing_days == 0 and info.calendar == CALENDAR_FILE_UNION and not info.intraday


def test_missing_days_against_the_union_of_dates(bundled, monkeypatch):
    monkeypatch.setattr(describe_module, "_exchange_trading_days", lambda: None)
    drop = (bundled["symbol"] == "600519.SH") & bundled["datetime"].between("2020-03-02", "2020-03-06")
    info = describe_bars(bundled[~drop])
    gone = info.symbol("600519.SH").missing_days
    assert gone == tuple(pd.bdate_range("2020-03-02", "2020-03-06"))
    assert info.missing_days == 5
    # days before a listing are not "missing"
    assert info.symbol("688981.SH").missing_days == ()


def test_exchange_calendar_is_used_when_present(bundled, monkeypatch):
    sub = bundled[bundled["symbol"].isin(["600519.SH", "000001.SZ"])]
    file_days = pd.DatetimeIndex(sorted(sub["datetime"].unique()))
    extra = pd.Timestamp("2020-10-10")  # a Saturday the fake calendar claims was a trading day

    def fake_trading_days(market, start, end):
        days = file_days.append(pd.DatetimeIndex([extra])).sort_values()
        return days[(days >= start) & (days <= end)]

    monkeypatch.setattr(describe_module, "_exchange_trading_days", lambda: fake_trading_days)
    info = describe_bars(sub)
    assert info.calendar == CALENDAR_EXCHANGE
    assert info.symbol("600519.SH").missing_days == (extra,)
    assert info.missing_days == 2


def test_a_failing_calendar_falls_back_to_the_file(bundled, monkeypatch):
    def broken(market, start, end):
        raise RuntimeError("calendar not ready")

    monkeypatch.setattr(describe_module, "_exchange_trading_days", lambda: broken)
    assert describe_bars(bundled.head(100)).calendar == CALENDAR_FILE_UNION


def test_intraday_days_are_counted_per_day(cn_15min_path):
    df = read_bars(cn_15min_path, symbols=["000001.SZ", "600243.SH"], end="2025-04-30 23:59")
    info = describe_bars(df)
    assert info.intraday
    susp = info.symbol("600243.SH").suspended_days
    assert susp >= 1  # 2025-04-22 is an all-zero-volume day
    assert info.symbol("000001.SZ").rows == 16 * len(df[df["symbol"] == "000001.SZ"]["datetime"].dt.date.unique())


def test_with_the_real_exchange_calendar(bundled):
    pytest.importorskip("nofx.markets.calendars")
    sub = bundled[bundled["symbol"].isin(["600519.SH", "000300.SH"])]
    assert describe_bars(sub).calendar == CALENDAR_EXCHANGE
    assert describe_bars(sub).missing_days == 0  # the file has a bar on every SSE trading day
    hole = pd.Timestamp("2021-06-01")
    info = describe_bars(sub[~((sub["symbol"] == "600519.SH") & (sub["datetime"] == hole))])
    assert info.symbol("600519.SH").missing_days == (hole,)
