"""Trading days from exchange-calendars compared with the dates of the shared real data.

Known difference: exchange-calendars lists two HK days on which trading was cancelled all day
(2023-09-01 typhoon Saola, 2023-09-08 black rainstorm); nofx removes them via
``tables/unscheduled_closures.csv`` and this test pins both the raw difference and the fix."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import exchange_calendars as xcals
import pandas as pd
import pytest

from nofx.domain.errors import ConfigError, DataError
from nofx.domain.instruments import Market
from nofx.markets.calendars import (
    calendar_code,
    is_trading_day,
    next_trading_day,
    previous_trading_day,
    trading_days,
    unscheduled_closures,
)

HK_CLOSURES = {date(2023, 9, 1), date(2023, 9, 8)}


def _data_dates(path: Path) -> set[date]:
    return set(pd.read_parquet(path, columns=["date"]).date.dt.date.unique())


@pytest.mark.shared_data
def test_xshg_sessions_match_cn_daily_dates(cn_daily_path: Path):
    data = _data_dates(cn_daily_path)
    ours = set(trading_days("cn", min(data), max(data)).date)
    assert ours == data


@pytest.mark.shared_data
def test_xhkg_sessions_match_hk_daily_dates_after_known_closures(hk_daily_path: Path):
    data = _data_dates(hk_daily_path)
    raw = set(xcals.get_calendar("XHKG", start="2020-01-01").sessions_in_range(min(data), max(data)).date)
    assert raw - data == HK_CLOSURES and data <= raw  # the library's only disagreement with the data
    ours = set(trading_days(Market.HK, min(data), max(data)).date)
    assert ours == data


def test_closures_are_listed_with_reasons():
    closures = unscheduled_closures("XHKG")
    assert set(closures) >= HK_CLOSURES and all(closures[d] for d in HK_CLOSURES)
    assert not is_trading_day("hk", date(2023, 9, 8))
    assert next_trading_day("hk", date(2023, 8, 31)) == date(2023, 9, 4)


def test_next_and_previous_across_holidays():
    # Spring Festival 2021: SSE closed 2021-02-11 .. 2021-02-17
    assert next_trading_day("cn", date(2021, 2, 10)) == date(2021, 2, 18)
    assert previous_trading_day("XSHG", date(2021, 2, 18)) == date(2021, 2, 10)
    assert next_trading_day("cn", "2021-02-12") == date(2021, 2, 18)  # from a holiday
    assert is_trading_day("cn", "2021-02-10") and not is_trading_day("cn", "2021-02-13")
    days = trading_days("cn", "2021-02-08", "2021-02-19")
    assert isinstance(days, pd.DatetimeIndex) and len(days) == 5 and days.tz is None


def test_calendar_codes_and_errors():
    assert calendar_code(Market.CN) == "XSHG" and calendar_code("hk") == "XHKG" and calendar_code("xhkg") == "XHKG"
    with pytest.raises(ConfigError, match="unknown market"):
        calendar_code("nyse")
    with pytest.raises(DataError, match="only spans"):
        trading_days("cn", "1995-01-01", "1995-02-01")
    assert len(trading_days("cn", "2021-02-10", "2021-02-01")) == 0
