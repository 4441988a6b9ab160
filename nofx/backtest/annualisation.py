"""The annualisation factor of a run, from its bar frequency and its markets' calendars.

A per-period figure (volatility, Sharpe, Sortino, alpha, tracking error, information ratio) is scaled to a
year by ``periods_per_year = bars_per_day * trading_days_per_year``:

* ``bars_per_day`` comes from the market's continuous sessions and the bar length found in the data
  (A-shares 09:30-11:30 + 13:00-15:00 on 15-minute bars: 8 + 8 = 16; Hong Kong 09:30-12:00 + 13:00-16:00
  on 60-minute bars: 3 + 3 = 6, the short 11:30-12:00 bar counted); 1 for daily bars.
* ``trading_days_per_year`` is the mean number of sessions per calendar year of the exchange calendar
  (exchange-calendars ``XSHG`` / ``XHKG`` minus the closures in ``tables/unscheduled_closures.csv``)
  over the years the run spans: 243 for XSHG in 2025, 242-246 in other years; 246 for XHKG in 2025. A run
  mixing both markets has a slice on every day either exchange trades, so the union of both calendars
  is counted. Never a hard-coded 252 (the NYSE count).

Annual return (CAGR), turnover and the excess annual return use *calendar* time instead: the years between
the first and last equity point (days / 365.25), so that a month of 15-minute bars is a month.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import time
from functools import cache
from typing import Iterable

import numpy as np
import pandas as pd

from nofx.domain.errors import DataError
from nofx.domain.instruments import Market, parse_symbol
from nofx.markets.calendars import CALENDAR_BY_MARKET, calendar_sessions
from nofx.markets.cn import CN_SESSIONS
from nofx.markets.hk import HK_SESSIONS

SESSIONS_BY_MARKET: dict[Market, tuple[tuple[time, time], ...]] = {Market.CN: CN_SESSIONS, Market.HK: HK_SESSIONS}
DAYS_PER_CALENDAR_YEAR = 365.25


@dataclass(frozen=True, slots=True)
class Annualisation:
    """How a run's per-period figures were scaled to a year (stated in the report and the JSON)."""

    periods_per_year: float  # bars_per_day * trading_days_per_year
    bars_per_day: int
    trading_days_per_year: float  # mean sessions per calendar year over the run's years
    calendar: str  # "XSHG", "XHKG" or "XSHG+XHKG"
    bar_minutes: int | None  # None for daily bars
    years: float | None  # calendar years between the first and last slice (None for one slice)

    def describe(self) -> str:
        """``16 bars/day (15-minute bars) x 243 trading days/year (XSHG) = 3888 periods/year``."""
        bars = "daily bars" if self.bar_minutes is None else f"{self.bar_minutes}-minute bars"
        return (f"{self.bars_per_day} bars/day ({bars}) x {self.trading_days_per_year:g} trading days/year "
                f"({self.calendar}) = {self.periods_per_year:g} periods/year")

    def to_dict(self) -> dict[str, object]:
        return {"periods_per_year": self.periods_per_year, "bars_per_day": self.bars_per_day,
                "trading_days_per_year": self.trading_days_per_year, "calendar": self.calendar,
                "bar_minutes": self.bar_minutes, "years": self.years}


def annualisation_for(timestamps: np.ndarray | pd.DatetimeIndex, symbols: Iterable[str]) -> Annualisation:
    """The factor of a run over ``timestamps`` (its slices, sorted) trading ``symbols``.

    Raises :class:`DataError` when the bars are intraday but their length does not divide a session
    sensibly (no positive step between two bars of one day).
    """
    ts = pd.DatetimeIndex(timestamps)
    markets = sorted({parse_symbol(s).market for s in symbols}, key=lambda m: m.value) or [Market.CN]
    codes = tuple(CALENDAR_BY_MARKET[m] for m in markets)
    years = _calendar_years(ts)
    per_year = trading_days_per_year(codes, _years_spanned(ts))
    minutes = bar_minutes(ts)
    per_day = 1 if minutes is None else bars_per_day(markets, minutes)
    return Annualisation(periods_per_year=per_day * per_year, bars_per_day=per_day,
                         trading_days_per_year=per_year, calendar="+".join(codes), bar_minutes=minutes,
                         years=years)


def bar_minutes(ts: pd.DatetimeIndex) -> int | None:
    """Bar length in minutes (the most common step between two slices of one day); None for daily bars."""
    if len(ts) < 2:
        return None
    days = ts.normalize()
    same_day = days[1:] == days[:-1]
    if not same_day.any():
        return None
    steps = (ts[1:] - ts[:-1])[same_day]
    minutes = np.round(steps.total_seconds().to_numpy() / 60.0).astype(np.int64)
    minutes = minutes[minutes > 0]
    if minutes.size == 0:
        raise DataError("intraday bars without a positive step between two bars of one day")
    values, counts = np.unique(minutes, return_counts=True)
    return int(values[np.argmax(counts)])


def bars_per_day(markets: Iterable[Market], minutes: int) -> int:
    """Distinct bar end times in a day: each session cut into ``minutes`` bars, the last one possibly
    short; the union over the markets (their slices interleave in one run)."""
    ends: set[int] = set()
    for market in markets:
        for start, end in SESSIONS_BY_MARKET[market]:
            a, b = start.hour * 60 + start.minute, end.hour * 60 + end.minute
            n = math.ceil((b - a) / minutes)
            ends.update(min(a + k * minutes, b) for k in range(1, n + 1))
    return len(ends)


def trading_days_per_year(codes: tuple[str, ...], years: tuple[int, ...]) -> float:
    """Mean sessions per calendar year (the union of ``codes``' calendars) over ``years``; years the
    calendars do not fully cover are left out, and if none is left, every fully covered year counts."""
    counts = _sessions_per_year(codes)
    chosen = [counts[y] for y in years if y in counts] or list(counts.values())
    return round(float(np.mean(chosen)), 2)


@cache
def _sessions_per_year(codes: tuple[str, ...]) -> dict[int, int]:
    days = np.unique(np.concatenate([calendar_sessions(c) for c in codes]))
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    values, counts = np.unique(year, return_counts=True)
    # the first and last year of the library's range are partial
    return {int(y): int(n) for y, n in zip(values[1:-1], counts[1:-1])}


def _years_spanned(ts: pd.DatetimeIndex) -> tuple[int, ...]:
    if len(ts) == 0:
        return ()
    return tuple(range(ts[0].year, ts[-1].year + 1))


def _calendar_years(ts: pd.DatetimeIndex) -> float | None:
    if len(ts) < 2:
        return None
    span = (ts[-1] - ts[0]).total_seconds() / 86400.0
    return span / DAYS_PER_CALENDAR_YEAR if span > 0 else None
