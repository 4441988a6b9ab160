"""Session-aware resampling: intraday bars to coarser bars or daily bars, and ticks to bars.

Bars are labelled by their END time, as in the shared ``cn_15min`` file: the A-share 15-minute bar
``09:45`` covers 09:30-09:45. Bins are counted from each session's open and never straddle the lunch
break, so A-share 60-minute bars end at 10:30, 11:30, 14:00 and 15:00 and 30-minute bars at 10:00,
10:30, 11:00, 11:30, 13:30, 14:00, 14:30 and 15:00 (a plain ``DataFrame.resample('60min')`` would
produce 11:00/12:00/13:00 bins that mix the two sessions).

A bin ``(start, end]`` is right-closed; trades stamped before a session's continuous open (the opening
call auction, 09:15-09:25 in Shanghai/Shenzhen, 09:00-09:20 in Hong Kong) fall into its first bin, and
those stamped just after the close (closing auction prints) into its last. A bin with no input has no
output bar: nothing is forward-filled here (that is the panel's job, with the suspension flags).

Aggregation: open = first, high = max, low = min, close = last, volume and amount = sum.

Limitation of the tests: the shared ``cn_15min`` file covers 2025 and ``cn_daily`` 2017-2021, so the
daily bars built here cannot be compared with the exchange's daily bars of the same days; tests check
internal consistency instead (15m->daily equals 15m->60m->daily, 16 bars a day, exact sums/extremes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

import numpy as np
import pandas as pd

from nofx.domain.errors import DataError, InvalidSymbolError
from nofx.domain.instruments import Market, parse_symbol

_NS_PER_MIN = 60 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class Session:
    """One continuous-trading session; ``accept_from``/``accept_until`` widen it for auction prints."""

    open: time
    close: time
    accept_from: time
    accept_until: time


def _ns(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000_000 + t.microsecond * 1000


SESSIONS: dict[Market, tuple[Session, ...]] = {
    Market.CN: (
        Session(time(9, 30), time(11, 30), time(9, 15), time(11, 30, 59)),
        Session(time(13, 0), time(15, 0), time(13, 0), time(15, 0, 59)),
    ),
    Market.HK: (
        Session(time(9, 30), time(12, 0), time(9, 0), time(12, 0, 59)),
        Session(time(13, 0), time(16, 0), time(13, 0), time(16, 10, 59)),  # closing auction to 16:10
    ),
}

DAILY = "1D"


def _parse_freq(freq: str) -> int | None:
    """Minutes per bar, or None for daily bars."""
    text = str(freq).strip().lower()
    if text in ("d", "1d", "day", "daily"):
        return None
    try:
        delta = pd.Timedelta(text)
    except ValueError:
        raise DataError("unknown bar frequency (use e.g. 15min, 30min, 60min, 1D)", freq=str(freq)) from None
    minutes = delta / pd.Timedelta(minutes=1)
    if delta >= pd.Timedelta(days=1) and minutes == 1440:
        return None
    if minutes <= 0 or minutes != int(minutes) or minutes >= 1440:
        raise DataError("bar frequency must be a whole number of minutes below a day, or 1D", freq=str(freq))
    return int(minutes)


def _market_codes(symbols: np.ndarray) -> dict[str, Market]:
    out = {}
    for sym in pd.unique(symbols):
        try:
            out[sym] = parse_symbol(sym).market
        except InvalidSymbolError:
            raise DataError("unknown symbol format", value=repr(sym)) from None
    return out


def session_bin_end(times: np.ndarray, markets: np.ndarray, minutes: int) -> np.ndarray:
    """End label (datetime64[ns]) of the ``minutes`` bin of each timestamp, counted from its session open.

    ``markets`` holds a :class:`Market` per timestamp. Raises :class:`DataError` naming the first
    timestamp that lies outside every session of its market.
    """
    t = times.astype("datetime64[ns]")
    day = t.astype("datetime64[D]").astype("datetime64[ns]")
    tod = (t - day).astype(np.int64)
    out = np.full(len(t), np.datetime64("NaT"), dtype="datetime64[ns]")
    assigned = np.zeros(len(t), dtype=bool)
    width = minutes * _NS_PER_MIN
    for market, sessions in SESSIONS.items():
        in_market = markets == market.value
        for s in sessions:
            o, c = _ns(s.open), _ns(s.close)
            m = in_market & ~assigned & (tod >= _ns(s.accept_from)) & (tod <= _ns(s.accept_until))
            elapsed = np.maximum(tod[m] - o, 1)  # auction prints (<= open) go to the first bin
            end = np.minimum(o + -(-elapsed // width) * width, c)  # ceil to the bin, capped at the close
            out[m] = day[m] + end.astype("timedelta64[ns]")
            assigned |= m
    if not assigned.all():
        i = int(np.flatnonzero(~assigned)[0])
        raise DataError("timestamp outside the trading sessions", datetime=str(pd.Timestamp(t[i])))
    return out


def _labels(df: pd.DataFrame, minutes: int | None) -> np.ndarray:
    times = df["datetime"].to_numpy(dtype="datetime64[ns]")
    if minutes is None:
        return times.astype("datetime64[D]").astype("datetime64[ns]")
    markets = _market_codes(df["symbol"].to_numpy(dtype=object))
    market_of_row = df["symbol"].map({s: m.value for s, m in markets.items()}).to_numpy(dtype=object)
    return session_bin_end(times, market_of_row, minutes)


def _aggregate(df: pd.DataFrame, labels: np.ndarray, price: dict[str, str], sums: dict[str, str]) -> pd.DataFrame:
    """Group rows (already in time order per symbol) by (symbol, label) and aggregate."""
    grouped = pd.DataFrame({"symbol": df["symbol"].to_numpy(dtype=object), "datetime": labels})
    for out_col, src in {**price, **sums}.items():
        grouped[out_col] = df[src].to_numpy(dtype="float64")
    g = grouped.groupby(["symbol", "datetime"], sort=True)
    spec = {
        "open": ("open", "first"),
        "high": ("high", "max"),
        "low": ("low", "min"),
        "close": ("close", "last"),
        **{name: (name, "sum") for name in sums},
    }
    return g.agg(**spec).reset_index()


def _source_minutes(df: pd.DataFrame) -> int | None:
    """Smallest positive spacing of consecutive bars of a symbol within a day, in minutes."""
    t = df["datetime"].to_numpy(dtype="datetime64[ns]")
    if len(t) < 2:
        return None
    same = (df["symbol"].to_numpy(dtype=object)[1:] == df["symbol"].to_numpy(dtype=object)[:-1]) & (
        t[1:].astype("datetime64[D]") == t[:-1].astype("datetime64[D]")
    )
    gaps = (t[1:] - t[:-1])[same].astype(np.int64)
    gaps = gaps[gaps > 0]
    return int(gaps.min() // _NS_PER_MIN) if len(gaps) else None


def resample_bars(df: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Coarser bars (``30min``, ``60min``...) or daily bars (``1D``) from intraday bars in the bars schema.

    Output columns: ``symbol, datetime, open, high, low, close, volume`` and ``amount`` when present,
    sorted by (symbol, datetime); daily bars are labelled at 00:00 of their date. The target must be a
    multiple of the input spacing (15-minute bars can become 30 or 60-minute bars, not 10-minute ones).
    """
    for col in ("symbol", "datetime", "open", "high", "low", "close", "volume"):
        if col not in df.columns:
            raise DataError(f"missing column {col!r}")
    minutes = _parse_freq(freq)
    df = df.sort_values(["symbol", "datetime"], kind="stable")
    src = _source_minutes(df)
    if minutes is not None and src is not None and minutes % src != 0:
        raise DataError(f"cannot resample {src}-minute bars to {minutes}-minute bars", freq=str(freq))
    sums = {name: name for name in ("volume", "amount") if name in df.columns}
    return _aggregate(df, _labels(df, minutes), {c: c for c in ("open", "high", "low", "close")}, sums)


def bars_from_ticks(ticks: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Bars from trades (``datetime, symbol, price, size``), session-aware as described in the module doc.

    ``amount`` is the traded value ``sum(price * size)``. Ticks with the same timestamp keep their input
    order (a stable sort), so open/close follow the feed's sequence.
    """
    for col in ("datetime", "symbol", "price", "size"):
        if col not in ticks.columns:
            raise DataError(f"missing column {col!r} in ticks")
    minutes = _parse_freq(freq)
    t = ticks.sort_values(["symbol", "datetime"], kind="stable")
    price = t["price"].to_numpy(dtype="float64")
    size = t["size"].to_numpy(dtype="float64")
    if not np.isfinite(price).all() or (price <= 0).any():
        i = int(np.flatnonzero(~(np.isfinite(price) & (price > 0)))[0])
        raise DataError("tick price must be positive", row=int(t.index[i]), value=repr(price[i]))
    if (size < 0).any() or not np.isfinite(size).all():
        i = int(np.flatnonzero(~(np.isfinite(size) & (size >= 0)))[0])
        raise DataError("tick size must be non-negative", row=int(t.index[i]), value=repr(size[i]))
    frame = pd.DataFrame({
        "symbol": t["symbol"].to_numpy(dtype=object),
        "datetime": pd.to_datetime(t["datetime"]).to_numpy(dtype="datetime64[ns]"),
        "open": price, "high": price, "low": price, "close": price,
        "volume": size, "amount": price * size,
    })
    return _aggregate(frame, _labels(frame, minutes), {c: c for c in ("open", "high", "low", "close")},
                      {"volume": "volume", "amount": "amount"})
