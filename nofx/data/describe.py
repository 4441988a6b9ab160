"""A summary of a bars frame: what is in it, where it is thin (suspensions, ST days, missing days)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from nofx.domain.errors import DataError, InvalidSymbolError
from nofx.domain.instruments import Market, parse_symbol

CALENDAR_EXCHANGE = "exchange calendar (nofx.markets.calendars)"
CALENDAR_FILE_UNION = "union of the dates in the file"


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    symbol: str
    rows: int
    first: pd.Timestamp
    last: pd.Timestamp
    suspended_days: int  # trade_status == 0 or volume == 0
    st_days: int
    missing_days: tuple[pd.Timestamp, ...]  # reference trading days between first and last with no bar


@dataclass(frozen=True, slots=True)
class BarsInfo:
    rows: int
    start: pd.Timestamp
    end: pd.Timestamp
    symbols: tuple[SymbolInfo, ...]  # sorted by symbol
    suspended_days: int
    st_days: int
    missing_days: int  # total over symbols
    calendar: str  # which reference the missing days were measured against
    intraday: bool  # more than one bar per symbol and day

    @property
    def n_symbols(self) -> int:
        return len(self.symbols)

    def symbol(self, symbol: str) -> SymbolInfo:
        for info in self.symbols:
            if info.symbol == symbol:
                return info
        raise DataError("symbol not in data", symbol=symbol)


def _exchange_trading_days() -> Callable | None:
    """``nofx.markets.calendars.trading_days`` if that module exists (imported lazily: it is optional here)."""
    try:
        module = importlib.import_module("nofx.markets.calendars")
    except ImportError:
        return None
    return getattr(module, "trading_days", None)


def _reference_days(days_by_market: dict[Market | None, np.ndarray]) -> tuple[dict, str]:
    """Trading days per market: the exchange calendar when available, else the union of the file's dates.

    The union is a weaker reference (a day on which no symbol in the file traded is invisible), which is
    why BarsInfo says which one was used.
    """
    trading_days = _exchange_trading_days()
    if trading_days is not None:
        out = {}
        try:
            for market, days in days_by_market.items():
                if market is None:
                    raise LookupError("symbols of unknown market")
                cal = trading_days(market, pd.Timestamp(days[0]), pd.Timestamp(days[-1]))
                out[market] = pd.DatetimeIndex(cal).normalize().to_numpy(dtype="datetime64[ns]")
            return out, CALENDAR_EXCHANGE
        except Exception:  # noqa: BLE001 - any calendar problem falls back to the file's own dates
            pass
    return dict(days_by_market), CALENDAR_FILE_UNION


def _market_of(symbol: str) -> Market | None:
    try:
        return parse_symbol(symbol).market
    except InvalidSymbolError:
        return None


def describe_bars(df: pd.DataFrame) -> BarsInfo:
    """Per-symbol rows, first/last bar, suspended and ST days, and missing trading days.

    Days are counted on the calendar date of each bar, so intraday files count days too. A suspended
    day is one with ``trade_status == 0`` or zero volume (the exchange repeats the close on such rows).
    Missing days are reference trading days between a symbol's first and last bar with no bar at all.
    """
    if df.empty:
        raise DataError("no bars to describe")
    for col in ("symbol", "datetime", "volume"):
        if col not in df.columns:
            raise DataError(f"missing column {col!r}")
    sym = df["symbol"].to_numpy(dtype=object)
    day = pd.to_datetime(df["datetime"]).dt.normalize().to_numpy(dtype="datetime64[ns]")
    vol = df["volume"].to_numpy(dtype="float64")
    status = df["trade_status"].to_numpy(dtype="float64") if "trade_status" in df.columns else None
    suspended_bar = (vol == 0) if status is None else ((status == 0) | (vol == 0))
    st_bar = df["is_st"].to_numpy(dtype="float64") == 1 if "is_st" in df.columns else np.zeros(len(df), bool)

    frame = pd.DataFrame({"symbol": sym, "day": day, "susp": suspended_bar, "st": st_bar})
    # a day is suspended/ST for a symbol if any of its bars is (daily files: the one bar)
    per_day = frame.groupby(["symbol", "day"], sort=True).agg(susp=("susp", "any"), st=("st", "any"), n=("susp", "size"))
    intraday = bool((per_day["n"] > 1).any())
    per_symbol = per_day.groupby(level="symbol").agg(susp=("susp", "sum"), st=("st", "sum"))
    rows = frame.groupby("symbol").size()
    times = pd.Series(pd.to_datetime(df["datetime"]).to_numpy(), index=df.index).groupby(sym)
    first, last = times.min(), times.max()

    markets = {s: _market_of(s) for s in rows.index}
    # group rows by market through integer codes (numpy compares str-Enums in object arrays unreliably)
    market_list = sorted(set(markets.values()), key=lambda m: "" if m is None else m.value)
    code_of = {m: k for k, m in enumerate(market_list)}
    row_code = pd.Series(sym).map({s: code_of[m] for s, m in markets.items()}).to_numpy()
    days_by_market: dict[Market | None, np.ndarray] = {
        m: np.unique(day[row_code == code_of[m]]) for m in market_list
    }
    reference, calendar = _reference_days(days_by_market)

    infos = []
    days_of = per_day.reset_index().groupby("symbol")["day"]
    for symbol, have in days_of:
        have_days = have.to_numpy(dtype="datetime64[ns]")
        ref = reference[markets[symbol]]
        ref = ref[(ref >= have_days[0]) & (ref <= have_days[-1])]
        # both sorted and unique: a searchsorted membership test (np.isin on datetime64 is far slower)
        pos = np.searchsorted(have_days, ref).clip(max=len(have_days) - 1)
        missing = ref[have_days[pos] != ref]
        infos.append(SymbolInfo(
            symbol=str(symbol),
            rows=int(rows[symbol]),
            first=pd.Timestamp(first[symbol]),
            last=pd.Timestamp(last[symbol]),
            suspended_days=int(per_symbol.at[symbol, "susp"]),
            st_days=int(per_symbol.at[symbol, "st"]),
            missing_days=tuple(pd.Timestamp(d) for d in missing),
        ))
    all_times = pd.to_datetime(df["datetime"])
    return BarsInfo(
        rows=len(df),
        start=pd.Timestamp(all_times.min()),
        end=pd.Timestamp(all_times.max()),
        symbols=tuple(infos),
        suspended_days=sum(i.suspended_days for i in infos),
        st_days=sum(i.st_days for i in infos),
        missing_days=sum(len(i.missing_days) for i in infos),
        calendar=calendar,
        intraday=intraday,
    )
