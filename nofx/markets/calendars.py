"""Trading days from exchange-calendars (XSHG for all A-shares, XHKG for Hong Kong), minus the
whole-day closures the library does not know about (``tables/unscheduled_closures.csv``: HK typhoon
and black-rainstorm days). Checked against the dates of the shared real data in
``tests/markets/test_calendars.py``.
"""

from __future__ import annotations

import csv
from datetime import date
from functools import cache

import exchange_calendars as xcals
import numpy as np
import pandas as pd

from nofx.domain.errors import ConfigError, DataError
from nofx.domain.instruments import Market
from nofx.markets.tables import bundled_table_path

CALENDAR_BY_MARKET: dict[Market, str] = {Market.CN: "XSHG", Market.HK: "XHKG"}
# exchange-calendars builds sessions between these bounds; earlier dates raise a clear error.
CALENDAR_START = "2000-01-01"
CLOSURES_FILE = "unscheduled_closures.csv"


def calendar_code(market: Market | str) -> str:
    """``Market.CN``/``"cn"``/``"XSHG"`` -> ``"XSHG"``; likewise for HK."""
    if isinstance(market, Market):
        return CALENDAR_BY_MARKET[market]
    text = str(market).strip()
    if text.upper() in CALENDAR_BY_MARKET.values():
        return text.upper()
    try:
        return CALENDAR_BY_MARKET[Market(text.lower())]
    except ValueError:
        raise ConfigError(f"unknown market or calendar {market!r}; use cn, hk, XSHG or XHKG",
                          market=market) from None


@cache
def unscheduled_closures(code: str) -> dict[date, str]:
    """Closed days (with the reason) that the library lists as sessions, for calendar ``code``."""
    path = bundled_table_path(CLOSURES_FILE)
    out: dict[date, str] = {}
    lines = [(n, line) for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
             if line.strip() and not line.startswith("#")]
    header = next(csv.reader([lines[0][1]]))
    for n, line in lines[1:]:
        row = dict(zip(header, next(csv.reader([line]))))
        try:
            day = date.fromisoformat(row["date"])
        except (KeyError, ValueError):
            raise ConfigError("bad closure date", file=str(path), line=n, column="date") from None
        if row.get("calendar") == code:
            out[day] = row.get("reason", "")
    return out


@cache
def _sessions(code: str) -> np.ndarray:
    """All sessions of ``code`` as sorted datetime64[D], closures removed (built once per process)."""
    cal = xcals.get_calendar(code, start=CALENDAR_START)
    days = cal.sessions.values.astype("datetime64[D]")
    closed = np.array(sorted(unscheduled_closures(code)), dtype="datetime64[D]")
    return days[~np.isin(days, closed)] if closed.size else days


def calendar_sessions(market: Market | str) -> np.ndarray:
    """Every session of the market's calendar (closures removed), sorted datetime64[D]; read-only."""
    days = _sessions(calendar_code(market))
    days.flags.writeable = False
    return days


def _check_span(code: str, days: np.ndarray, *requested: date) -> None:
    first, last = days[0].item(), days[-1].item()
    for d in requested:
        if not first <= d <= last:
            raise DataError(f"{code} calendar only spans {first} .. {last}", calendar=code, date=str(d))


def _as_date(value: date | str | pd.Timestamp) -> date:
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def trading_days(market: Market | str, start: date | str, end: date | str) -> pd.DatetimeIndex:
    """Sessions from ``start`` to ``end`` inclusive, as a tz-naive DatetimeIndex of midnights."""
    code = calendar_code(market)
    s, e = _as_date(start), _as_date(end)
    if e < s:
        return pd.DatetimeIndex([])
    days = _sessions(code)
    _check_span(code, days, s, e)
    lo = np.searchsorted(days, np.datetime64(s, "D"), side="left")
    hi = np.searchsorted(days, np.datetime64(e, "D"), side="right")
    return pd.DatetimeIndex(days[lo:hi].astype("datetime64[ns]"))


def is_trading_day(market: Market | str, day: date | str) -> bool:
    code = calendar_code(market)
    d = _as_date(day)
    days = _sessions(code)
    _check_span(code, days, d)
    k = np.searchsorted(days, np.datetime64(d, "D"))
    return bool(k < len(days) and days[k] == np.datetime64(d, "D"))


def next_trading_day(market: Market | str, day: date | str) -> date:
    """First session strictly after ``day``."""
    code = calendar_code(market)
    d = _as_date(day)
    days = _sessions(code)
    k = np.searchsorted(days, np.datetime64(d, "D"), side="right")
    if k >= len(days) or d < days[0].item():
        _check_span(code, days, d, date.max)
    return days[k].item()


def previous_trading_day(market: Market | str, day: date | str) -> date:
    """Last session strictly before ``day``."""
    code = calendar_code(market)
    d = _as_date(day)
    days = _sessions(code)
    k = np.searchsorted(days, np.datetime64(d, "D"), side="left") - 1
    if k < 0 or d > days[-1].item():
        _check_span(code, days, date.min, d)
    return days[k].item()
