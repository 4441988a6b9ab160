"""Row-level quality checks on bars: every bad row, each located in its file.

This is the one validator of bars: ``nofx data check`` prints what :func:`check_bars` finds, and every
command that uses a bars file (backtest, paper, model, factors, sweep, rl) reads it through
:func:`nofx.data.bars.read_bars`, which runs :func:`enforce_checks`: a file with bad rows is refused
(one line naming the first rows, exit 2) unless the user asks to drop them (``--drop-bad-rows``).

A row is bad when it could change a result silently or crash the engine: a missing or non-numeric value,
an unknown symbol, a second bar for the same (symbol, time), OHLC that contradict each other, a
non-finite number, a value outside the limits of :mod:`nofx.data.schema` (a 1e30 close, a 9999-12-31
date), a non-positive price on a traded row, a negative volume or amount, a flag other than 0/1, or a
daily bar stamped at another time of day than the file's other daily bars (it would never meet them
on one slice).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import numpy as np
import pandas as pd

from nofx.data.schema import (
    DROPPED_ATTR,
    MAX_AMOUNT,
    MAX_PRICE,
    MAX_VOLUME,
    OPTIONAL_FLAG_COLUMNS,
    PRICE_COLUMNS,
    REQUIRED_COLUMNS,
    UNPARSED_ATTR,
    row_label,
)
from nofx.domain.errors import DataError, InvalidSymbolError
from nofx.domain.instruments import parse_symbol

# OHLC comparisons allow the last bits of a float (adjusted prices are products of factors): an open
# 1e-16 above the high is the same price. Anything larger is a contradiction.
_OHLC_REL_TOL = 1e-9
# Exchange-local window (minutes after midnight) an intraday bar's time must lie in: from the opening call
# auction to the end of after-hours fixed-price trading (A-shares 09:15-15:30) or the closing auction
# (Hong Kong 09:00-16:10). Wider than the continuous sessions on purpose: only a wrong clock falls outside.
_TRADING_DAY_MINUTES: dict[str, tuple[int, int]] = {
    "SH": (9 * 60 + 15, 15 * 60 + 30), "SZ": (9 * 60 + 15, 15 * 60 + 30), "BJ": (9 * 60 + 15, 15 * 60 + 30),
    "HK": (9 * 60, 16 * 60 + 10)}
# rows named in the one-line refusal; `nofx data check FILE` lists them all
_FIRST_ROWS_SHOWN = 3


class IssueKind(str, Enum):
    MISSING_VALUE = "missing_value"  # NaN/empty/unreadable in a required field
    UNKNOWN_SYMBOL = "unknown_symbol"  # not a code parse_symbol understands
    DUPLICATE = "duplicate"  # (symbol, datetime) seen on an earlier row
    OHLC_INCONSISTENT = "ohlc_inconsistent"  # high below open/close/low, or low above them
    NON_POSITIVE_PRICE = "non_positive_price"  # price <= 0 on a traded row
    NEGATIVE_VOLUME = "negative_volume"
    NON_FINITE = "non_finite"  # inf / -inf in a number
    OUT_OF_RANGE = "out_of_range"  # beyond the documented limits (nofx.data.schema)
    BAD_VALUE = "bad_value"  # an optional column's value that is not a number/date
    BAD_FLAG = "bad_flag"  # trade_status / is_st other than 0 or 1
    MISALIGNED_TIME = "misaligned_time"  # a daily bar at another time of day than the file's daily bars


@dataclass(frozen=True, slots=True)
class BarIssue:
    row: int  # 0-based data row in the file (the index read_bars gives); see bars.row_location
    symbol: str | None
    datetime: pd.Timestamp | None
    kind: IssueKind
    message: str

    def line(self, attrs: dict) -> str:
        """``line 3: 600519.SH 2021-03-02 [duplicate] duplicate of line 2 ...`` (no file name)."""
        when = "?" if self.datetime is None else (
            str(self.datetime.date()) if self.datetime == self.datetime.normalize() else str(self.datetime))
        return f"{row_label(attrs, self.row)}: {self.symbol or '?'} {when} [{self.kind.value}] {self.message}"


def check_bars(df: pd.DataFrame) -> list[BarIssue]:
    """Every bad row of a bars frame, sorted by row (several issues per row are possible).

    Rows are located by the frame's index, which :func:`nofx.data.bars.read_bars` sets to the file
    row position. A row is "traded" unless ``trade_status`` is 0 or its volume is 0; suspended rows may carry
    placeholder prices and are not checked for positivity; neither are rows with zero volume.
    """
    missing_cols = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing_cols:
        raise DataError(f"missing column {missing_cols[0]!r}", missing=",".join(missing_cols))
    rows = np.asarray(df.index, dtype=np.int64) if pd.api.types.is_integer_dtype(df.index) else np.arange(len(df))
    symbols = df["symbol"].to_numpy(dtype=object)
    times = pd.to_datetime(df["datetime"]).to_numpy()
    o, h, l, c = (df[name].to_numpy(dtype="float64") for name in PRICE_COLUMNS)
    vol = df["volume"].to_numpy(dtype="float64")
    unparsed: dict[str, dict[int, str]] = df.attrs.get(UNPARSED_ATTR) or {}
    found: list[tuple[int, int, BarIssue]] = []  # (row, order) -> issue, sorted at the end

    def add(mask: np.ndarray, kind: IssueKind, message_of: Callable[[int], str]) -> None:
        for i in np.flatnonzero(mask):
            t = times[i]
            found.append((int(rows[i]), len(found), BarIssue(
                int(rows[i]),
                symbols[i] if isinstance(symbols[i], str) else None,
                pd.Timestamp(t) if not pd.isna(t) else None,
                kind,
                message_of(i),
            )))

    def raw(column: str, i: int) -> str:
        """`` 'abc'`` when the reader kept the unreadable text of that cell, else ''."""
        text = unparsed.get(column, {}).get(int(rows[i]))
        return f" {text}" if text is not None else ""

    # missing values: one issue per row naming every empty or unreadable field (with its text)
    field_names = list(REQUIRED_COLUMNS)
    nan_matrix = np.column_stack([
        pd.isna(symbols) | (symbols == ""),
        pd.isna(times),
        np.isnan(o), np.isnan(h), np.isnan(l), np.isnan(c), np.isnan(vol),
    ])
    add(nan_matrix.any(axis=1), IssueKind.MISSING_VALUE,
        lambda i: "missing or unreadable value in " + ", ".join(
            _named(n, raw("date" if n == "datetime" and "date" in unparsed else n, i))
            for n, bad in zip(field_names, nan_matrix[i]) if bad))

    # symbol format: parse once per distinct symbol
    bad_symbols = set()
    for sym in pd.unique(symbols[~nan_matrix[:, 0]]):
        try:
            parse_symbol(sym)
        except InvalidSymbolError:
            bad_symbols.add(sym)
    if bad_symbols:
        add(np.isin(symbols, list(bad_symbols)) & ~nan_matrix[:, 0], IssueKind.UNKNOWN_SYMBOL,
            lambda i: f"unknown symbol format {symbols[i]!r}")

    # duplicates of (symbol, datetime): report each later copy and where the first one is
    key = pd.DataFrame({"s": symbols, "t": times})
    later = key.duplicated(keep="first").to_numpy() & ~pd.isna(times)
    if later.any():
        first_row = (
            pd.Series(rows).groupby([key["s"], key["t"]], dropna=False, sort=False).transform("first").to_numpy()
        )
        add(later, IssueKind.DUPLICATE,
            lambda i: f"duplicate of {row_label(df.attrs, int(first_row[i]))} (same symbol and datetime)")

    prices = np.column_stack([o, h, l, c])
    with np.errstate(invalid="ignore", over="ignore"):
        _check_magnitudes(df, prices, vol, add)
        finite = np.isfinite(prices).all(axis=1)
        top = np.fmax(np.fmax(o, c), l)
        bottom = np.fmin(np.fmin(o, c), h)
        high_bad = h < top - _OHLC_REL_TOL * np.abs(top)
        low_bad = l > bottom + _OHLC_REL_TOL * np.abs(bottom)
        add((high_bad | low_bad) & finite, IssueKind.OHLC_INCONSISTENT,
            lambda i: f"OHLC inconsistent: open={o[i]:g} high={h[i]:g} low={l[i]:g} close={c[i]:g}")

        # suspension placeholders (trade_status 0, or zero volume: cn_15min has all-zero prices on
        # suspended days) carry no real price, so only traded rows must have positive prices
        traded = vol != 0
        if "trade_status" in df.columns:
            traded &= df["trade_status"].to_numpy(dtype="float64") != 0
        nonpos = (prices <= 0).any(axis=1) & traded
        add(nonpos, IssueKind.NON_POSITIVE_PRICE,
            lambda i: "non-positive price on a traded row: " + ", ".join(
                f"{n}={v:g}" for n, v in zip(PRICE_COLUMNS, prices[i]) if v <= 0))
        add(vol < 0, IssueKind.NEGATIVE_VOLUME, lambda i: f"negative volume {vol[i]:g}")

    _check_flags(df, unparsed, raw, add)
    _check_optional_values(df, unparsed, raw, add)
    _check_daily_times(df, symbols, times, add)

    found.sort(key=lambda item: (item[0], item[1]))
    return [issue for _, _, issue in found]


def _named(column: str, raw_text: str) -> str:
    return f"{column!r}" + (f" (found{raw_text})" if raw_text else "")


def _check_magnitudes(df: pd.DataFrame, prices: np.ndarray, vol: np.ndarray, add) -> None:
    """Non-finite numbers and values beyond the documented limits, in every numeric column."""
    columns: list[tuple[str, np.ndarray, float, bool]] = [  # name, values, limit, may it be negative
        *((name, prices[:, k], MAX_PRICE, True) for k, name in enumerate(PRICE_COLUMNS)),
        ("volume", vol, MAX_VOLUME, True)]  # negative prices/volume have their own checks
    for name, limit in (("preclose", MAX_PRICE), ("amount", MAX_AMOUNT)):
        if name in df.columns:
            columns.append((name, df[name].to_numpy(dtype="float64"), limit, False))
    infinite: dict[str, np.ndarray] = {}
    beyond: dict[str, np.ndarray] = {}
    for name, values, limit, negative_ok in columns:
        # one pass over a clean column (the usual case): NaN compares False, inf does not
        low = -limit if negative_ok else 0.0
        if not ((values > limit) | (values < low)).any():
            continue
        inf = np.isinf(values)
        if inf.any():
            infinite[name] = inf
        out = ~inf & ((np.abs(values) > limit) | (values < low))
        if out.any():
            beyond[name] = out
    value_of = {name: values for name, values, _, _ in columns}
    limit_of = {name: limit for name, _, limit, _ in columns}
    if infinite:
        add(np.logical_or.reduce(list(infinite.values())), IssueKind.NON_FINITE,
            lambda i: "non-finite number in " + ", ".join(
                f"{n}={value_of[n][i]:g}" for n, m in infinite.items() if m[i]))
    if beyond:
        add(np.logical_or.reduce(list(beyond.values())), IssueKind.OUT_OF_RANGE,
            lambda i: "value outside the accepted range: " + ", ".join(
                f"{n}={value_of[n][i]:g} (allowed 0..{limit_of[n]:g})" for n, m in beyond.items() if m[i]))


def _check_flags(df: pd.DataFrame, unparsed: dict[str, dict[int, str]], raw, add) -> None:
    rows = np.asarray(df.index)
    for name in OPTIONAL_FLAG_COLUMNS:
        if name not in df.columns:
            continue
        flags = df[name].to_numpy(dtype="float64")
        unreadable = np.isin(rows, list(unparsed.get(name, {})))
        bad = (~np.isnan(flags) & ~np.isin(flags, (0.0, 1.0))) | unreadable
        add(bad, IssueKind.BAD_FLAG,
            lambda i, name=name, flags=flags: f"{name} must be 0 or 1, found" + (raw(name, i) or f" {flags[i]:g}"))


def _check_optional_values(df: pd.DataFrame, unparsed: dict[str, dict[int, str]], raw, add) -> None:
    """Unreadable text in optional numeric columns (``preclose``, ``amount``): NaN would mean 'unknown'."""
    rows = np.asarray(df.index)
    for name in ("preclose", "amount"):
        cells = unparsed.get(name)
        if name in df.columns and cells:
            bad = np.isin(rows, list(cells))
            add(bad, IssueKind.BAD_VALUE, lambda i, name=name: f"{name} is not a number:{raw(name, i)}")


def _check_daily_times(df: pd.DataFrame, symbols: np.ndarray, times: np.ndarray, add) -> None:
    """Daily bars (one per symbol and day) must share one time of day: a symbol stamped 15:00 and another
    00:00 never meet on one slice, so orders between them never fill."""
    ok = ~pd.isna(times) & pd.notna(symbols)
    if ok.sum() < 2:
        return
    t = pd.DatetimeIndex(times[ok])
    days = t.normalize()
    tod = (t - days).to_numpy()
    if (tod == tod[0]).all():
        return  # one time of day throughout (the common daily file)
    if pd.DataFrame({"s": symbols[ok], "d": days}).duplicated().any():
        _check_intraday_times(symbols, times, ok, tod, add)  # intraday bars: several a day by design
        return
    values, counts = np.unique(tod, return_counts=True)
    if len(values) < 2:
        return
    usual = values[np.argmax(counts)]
    off = np.zeros(len(times), dtype=bool)
    off[np.flatnonzero(ok)] = tod != usual
    usual_text = str(pd.Timestamp(0) + pd.Timedelta(usual))[11:16]
    add(off, IssueKind.MISALIGNED_TIME,
        lambda i: f"daily bar stamped {pd.Timestamp(times[i]):%H:%M} while the file's other daily bars are "
                  f"at {usual_text}")


def _check_intraday_times(symbols: np.ndarray, times: np.ndarray, ok: np.ndarray, tod: np.ndarray, add) -> None:
    """Intraday bars must fall within their exchange's trading day (exchange local time): a bar at 01:45 is
    a UTC stamp (09:45 in Shanghai) and would sit on slices no other symbol has."""
    rows = np.flatnonzero(ok)
    minutes = (tod // np.timedelta64(1, "m")).astype(np.int64)
    suffix = np.array([s.rsplit(".", 1)[-1] if isinstance(s, str) else "" for s in symbols[ok]], dtype=object)
    lo = np.full(len(rows), -1)
    hi = np.full(len(rows), 24 * 60)
    for exchange, (first, last) in _TRADING_DAY_MINUTES.items():
        mine = suffix == exchange
        lo[mine], hi[mine] = first, last
    off = np.zeros(len(times), dtype=bool)
    off[rows] = (minutes < lo) | (minutes > hi)
    add(off, IssueKind.MISALIGNED_TIME,
        lambda i: f"intraday bar stamped {pd.Timestamp(times[i]):%H:%M}, outside its exchange's trading day "
                  f"(exchange local time is expected, not UTC)")


def enforce_checks(df: pd.DataFrame, drop_bad_rows: bool = False) -> pd.DataFrame:
    """``df`` if it has no bad row; else raise one DataError naming the first bad rows, or with
    ``drop_bad_rows`` return it without them, the dropped rows listed in ``attrs[DROPPED_ATTR]``."""
    issues = check_bars(df)
    if not issues:
        df.attrs[DROPPED_ATTR] = []
        return df
    bad_rows = sorted({i.row for i in issues})
    if drop_bad_rows:
        kept = df.drop(index=bad_rows)
        kept.attrs = dict(df.attrs)
        kept.attrs[DROPPED_ATTR] = [i.line(df.attrs) for i in issues]
        if kept.empty:
            raise DataError("every row is bad; nothing left to use after --drop-bad-rows",
                            file=df.attrs.get("nofx_source", "?"))
        return kept
    first = issues[0]
    shown = []
    for issue in issues:
        if len(shown) == _FIRST_ROWS_SHOWN:
            break
        if not shown or issue.row != shown[-1].row:
            shown.append(issue)
    more = len(bad_rows) - len(shown)
    text = "; ".join(i.line(df.attrs) for i in shown) + (f"; and {more} more row(s)" if more else "")
    where = {"line": first.row + 2} if df.attrs.get("nofx_format") == "csv" else {"row": first.row}
    raise DataError(
        f"{len(bad_rows)} bad row(s) in the bars file: {text}. `nofx data check FILE` lists them all; "
        f"fix them, or pass --drop-bad-rows to leave them out",
        file=df.attrs.get("nofx_source", "?"), **where)
