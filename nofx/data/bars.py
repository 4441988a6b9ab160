"""The canonical bars schema and a validating reader for Parquet and CSV files.

Canonical long format, one row per (symbol, bar):

========================  ======================================================================
``symbol``                str, canonical exchange code (``600519.SH``, ``0700.HK``)
``datetime``              ``datetime64[ns]``, naive, exchange local time; daily bars at 00:00,
                          intraday bars labelled by their END time (``09:45`` = 09:30-09:45)
``open high low close``   float64
``volume``                float64 (shares)
``amount``                optional float64 (traded value, quote currency)
``preclose``              optional float64, previous close after the exchange's ex-rights adjustment
``trade_status``          optional, 1 traded / 0 suspended
``is_st``                 optional, 1 = ST / *ST
========================  ======================================================================

Other columns in the file (``turnover``, ``pct_chg``...) are kept as they are. Files that name the
time column ``date`` (daily) are normalised to ``datetime``.

The index of the returned frame is the 0-based position of the row in the file (its data rows,
header excluded), so later checks can point back at the file: see :func:`row_location`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from nofx.data.schema import (
    DROPPED_ATTR,
    FORMAT_ATTR,
    MAX_DATE,
    MIN_DATE,
    OPTIONAL_FLAG_COLUMNS,
    OPTIONAL_FLOAT_COLUMNS,
    PRICE_COLUMNS,
    REQUIRED_COLUMNS,
    SOURCE_ATTR,
    TIME_COLUMN_ALIASES,
    TIME_COLUMN_ATTR,
    UNPARSED_ATTR,
    row_label,
    row_location,
)
from nofx.domain.errors import DataError

_CANONICAL = (*REQUIRED_COLUMNS, *OPTIONAL_FLOAT_COLUMNS, *OPTIONAL_FLAG_COLUMNS)
_PARQUET_SUFFIXES = (".parquet", ".pq")
_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.zst")

# Date strings nofx reads without being told the format: ISO 8601 and year-first forms, which no reader
# can take the wrong way round. Day-first and month-first (02/03/2021) cannot be told apart from the text,
# so they need ``date_format`` (``--date-format %d/%m/%Y``).
_UNAMBIGUOUS_FORMATS: tuple[str, ...] = ("ISO8601", "%Y/%m/%d", "%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y%m%d")
_DAY_MONTH = re.compile(r"^\s*\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}")
_TZ_SUFFIX = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})\s*$")
_EXCHANGE_TZ = "Asia/Shanghai"  # both markets are UTC+8 with no DST

__all__ = ["read_bars", "row_label", "row_location", "PRICE_COLUMNS", "REQUIRED_COLUMNS", "SOURCE_ATTR",
           "FORMAT_ATTR", "DROPPED_ATTR", "UNPARSED_ATTR"]


def _where(path: Path, row: int) -> dict[str, Any]:
    """Error context locating a data row: ``line`` (1-based, header counted) for CSV, ``row`` for Parquet."""
    if path.name.lower().endswith(_CSV_SUFFIXES):
        return {"file": str(path), "line": row + 2}
    return {"file": str(path), "row": row}


def _file_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    raise DataError("unsupported bars file type (expected .parquet or .csv)", file=str(path))


def _read_table(path: Path, fmt: str, columns: Sequence[str] | None = None) -> pa.Table:
    """Read the file as an Arrow table (cheap: no pandas objects are built yet).

    ``columns``: extra (non-canonical) columns to keep; None keeps every column. The canonical
    columns are always read. For Parquet only the kept columns are decoded.
    """
    try:
        if fmt == "parquet":
            if columns is None:
                return pq.read_table(path)
            names = pq.read_schema(path).names
            absent = [c for c in columns if c not in names]
            if absent:
                raise DataError(f"missing column {absent[0]!r}", file=str(path), missing=",".join(absent))
            keep = set(_CANONICAL) | set(TIME_COLUMN_ALIASES) | set(columns)
            return pq.read_table(path, columns=[c for c in names if c in keep])
        # pyarrow infers each column's type; a numeric column with a stray bad value comes back as
        # text and is checked later, so that the error can name the row and the value
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
        if columns is None:
            return table
        absent = [c for c in columns if c not in table.column_names]
        if absent:
            raise DataError(f"missing column {absent[0]!r}", file=str(path), missing=",".join(absent))
        keep = set(_CANONICAL) | set(TIME_COLUMN_ALIASES) | set(columns)
        return table.select([c for c in table.column_names if c in keep])
    except (pa.ArrowException, OSError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot read bars file: {first_line}", file=str(path)) from None


def _time_column(table: pa.Table, path: Path) -> str:
    for name in TIME_COLUMN_ALIASES:
        if name in table.column_names:
            return name
    raise DataError(
        "missing column 'datetime' (or 'date')", file=str(path), columns=",".join(table.column_names)
    )


def _to_timestamp_array(col: pa.ChunkedArray, path: Path, name: str, unparsed: dict[str, dict[int, str]],
                        date_format: str | None = None) -> pa.ChunkedArray:
    """Arrow timestamp (naive, exchange local) from a timestamp/date/string column.

    A value that is not a date, or lies outside MIN_DATE..MAX_DATE, becomes null and is recorded in
    ``unparsed[name]`` (file row -> raw value) for :func:`nofx.data.checks.check_bars` to report. A file
    that mixes tz-aware and naive times, or writes dates day/month-ambiguously without ``date_format``,
    is refused as a whole (DataError): no row-level repair can guess its meaning.
    """
    if pa.types.is_timestamp(col.type) or pa.types.is_date(col.type):
        col = _null_out_of_range(col, name, unparsed)
        if pa.types.is_timestamp(col.type) and col.type.tz is not None:
            local = pc.local_timestamp(pc.cast(col, pa.timestamp(col.type.unit, _EXCHANGE_TZ)))
            return local.cast(pa.timestamp("ns"))
        return col.cast(pa.timestamp("ns"))
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        values = col.to_pandas()
        parsed = _parse_time_strings(values, path, name, date_format)
        out_of_range = parsed.notna() & ((parsed < MIN_DATE) | (parsed > MAX_DATE))
        parsed = parsed.mask(out_of_range)
        bad = parsed.isna() & values.notna()
        if bad.any():
            unparsed.setdefault(name, {}).update({int(i): repr(values.iloc[i]) for i in np.flatnonzero(bad)})
        return pa.chunked_array([pa.array(parsed.to_numpy(dtype="datetime64[ns]"), type=pa.timestamp("ns"),
                                          from_pandas=True)])
    raise DataError(f"column {name!r} must hold dates or times, found {col.type}", file=str(path))


def _null_out_of_range(col: pa.ChunkedArray, name: str, unparsed: dict[str, dict[int, str]]) -> pa.ChunkedArray:
    """Null the dates outside MIN_DATE..MAX_DATE (9999-12-31 would overflow nanoseconds), recording them."""
    if pa.types.is_date(col.type):
        lo, hi = pa.scalar(MIN_DATE.date(), col.type), pa.scalar(MAX_DATE.date(), col.type)
    else:
        tz = col.type.tz
        lo = pa.scalar((MIN_DATE.tz_localize(tz) if tz else MIN_DATE).to_pydatetime(), col.type)
        hi = pa.scalar((MAX_DATE.tz_localize(tz) if tz else MAX_DATE).to_pydatetime(), col.type)
    outside = pc.fill_null(pc.or_(pc.less(col, lo), pc.greater(col, hi)), False)
    rows = np.flatnonzero(np.asarray(outside.to_numpy(zero_copy_only=False), dtype=bool))
    if len(rows) == 0:
        return col
    record = unparsed.setdefault(name, {})
    for i in rows:
        record[int(i)] = repr(str(col[int(i)].as_py()))
    return pc.if_else(outside, pa.scalar(None, col.type), col)


def _parse_time_strings(values: pd.Series, path: Path, name: str, date_format: str | None) -> pd.Series:
    """Naive exchange-local times from strings; unreadable values become NaT (reported by the checks)."""
    text = values.astype("string").str.strip()
    present = text.notna() & (text != "")
    text = text.where(present)
    aware = text.str.contains(_TZ_SUFFIX, na=False).astype(bool)
    if aware.any() and (present & ~aware).any():
        i, j = int(np.flatnonzero(aware)[0]), int(np.flatnonzero(present & ~aware)[0])
        raise DataError(
            f"column {name!r} mixes times with a UTC offset ({values.iloc[i]!r}) and without one "
            f"({values.iloc[j]!r}); write every time in one zone", **_where(path, j))
    utc = bool(aware.any())
    if date_format is not None:
        try:
            parsed = pd.to_datetime(text, format=date_format, errors="coerce", utc=utc)
        except ValueError as exc:  # a directive strptime does not know (errors="coerce" covers values only)
            raise DataError(f"date format {date_format!r} is not a valid strptime format: {exc}",
                            file=str(path), column=name) from None
    else:
        parsed, fewest = None, -1
        for fmt in _UNAMBIGUOUS_FORMATS:
            attempt = pd.to_datetime(text, format=fmt, errors="coerce", utc=utc)
            failed = int((attempt.isna() & present).sum())
            if parsed is None or failed < fewest:
                parsed, fewest = attempt, failed
            if failed == 0:
                break
        if fewest:
            ambiguous = present & parsed.isna() & text.str.match(_DAY_MONTH, na=False).astype(bool)
            if ambiguous.any():
                i = int(np.flatnonzero(ambiguous)[0])
                raise DataError(
                    f"column {name!r} has a date like {values.iloc[i]!r}, which could be day/month or "
                    f"month/day: give its format, e.g. --date-format %d/%m/%Y", **_where(path, i))
    if utc:
        parsed = parsed.dt.tz_convert(_EXCHANGE_TZ).dt.tz_localize(None)
    return pd.Series(parsed, index=values.index)


def _to_float(values: pd.Series, name: str, path: Path, unparsed: dict[str, dict[int, str]]) -> np.ndarray:
    """float64 values; a non-numeric entry becomes NaN and is recorded in ``unparsed[name]`` (file row ->
    raw value) for the row checks. A column of dates or booleans is refused as a whole: converting it
    would give numbers (1.58e18 nanoseconds, 0/1) that look valid."""
    kind = values.dtype
    if pd.api.types.is_bool_dtype(kind):
        raise DataError(f"column {name!r} must be numeric, found booleans", file=str(path))
    if pd.api.types.is_datetime64_any_dtype(kind) or pd.api.types.is_timedelta64_dtype(kind):
        raise DataError(f"column {name!r} must be numeric, found dates/times", file=str(path))
    if pd.api.types.is_numeric_dtype(kind):
        return values.to_numpy(dtype="float64", na_value=np.nan)
    numeric = pd.to_numeric(values, errors="coerce")
    text = values.astype("string").str.strip()
    bad = (numeric.isna() & text.notna() & (text != "")).to_numpy(dtype=bool, na_value=False)
    if bad.any():
        cells = unparsed.setdefault(name, {})
        for i in np.flatnonzero(bad):
            cells[int(values.index[i])] = repr(values.iloc[i])
    return numeric.to_numpy(dtype="float64", na_value=np.nan)


def _as_timestamp(value: Any, name: str, path: Path) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise DataError(f"{name} is not a date/time", file=str(path), value=repr(value)) from None
    if ts is pd.NaT:
        raise DataError(f"{name} is not a date/time", file=str(path), value=repr(value))
    if ts.tzinfo is not None:
        ts = ts.tz_convert("Asia/Shanghai").tz_localize(None)
    if not pd.Timestamp.min <= ts <= pd.Timestamp.max:  # beyond nanoseconds: an OverflowError later
        raise DataError(f"{name} is not a date/time from {pd.Timestamp.min.date()} to {pd.Timestamp.max.date()}",
                        file=str(path), value=repr(value))
    return ts


def _file_span(times: pa.ChunkedArray) -> str:
    if len(times) == 0:
        return "empty file"
    mm = pc.min_max(times)
    lo, hi = (pd.Timestamp(mm["min"].as_py()), pd.Timestamp(mm["max"].as_py()))
    return f"{lo} .. {hi}"


def read_bars(
    path: str | Path,
    symbols: Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    *,
    columns: Sequence[str] | None = None,
    validate: bool = True,
    drop_bad_rows: bool = False,
    date_format: str | None = None,
) -> pd.DataFrame:
    """Read bars in the canonical schema from a Parquet or CSV file.

    ``symbols`` keeps only those symbols (each must be in the file); ``start``/``end`` (anything
    ``pd.Timestamp`` accepts; both inclusive, and an ``end`` at midnight means through that whole
    day) keep that time range, which must hold at least one bar.
    Rows keep the file order and the index is the row's 0-based position in the file.
    The canonical columns present in the file are always returned; ``columns`` names the other
    columns to keep (e.g. ``["pct_chg"]``; default: all of them, ``[]``: none, which is faster).

    A file whose *structure* is wrong (missing column, unreadable file, a column of dates where
    numbers belong, mixed time zones, day/month-ambiguous dates without ``date_format``, a strftime
    format such as ``"%d/%m/%Y"``) raises :class:`DataError`. Bad *rows* are those that
    :func:`nofx.data.checks.check_bars` reports (the checks ``nofx data check`` prints): with
    ``validate=True`` (the default; every command that uses bars) they raise one DataError naming the
    first rows, or with ``drop_bad_rows=True`` they are removed and listed in ``df.attrs[DROPPED_ATTR]``.
    ``validate=False`` is for ``nofx data check`` itself: bad values become NaN (the raw text kept in
    ``df.attrs[UNPARSED_ATTR]``) so that every bad row can be listed.
    """
    path = Path(path)
    if not path.exists():
        raise DataError("bars file not found", file=str(path))
    if not path.is_file():
        raise DataError("bars path is not a file", file=str(path))
    fmt = _file_format(path)
    table = _read_table(path, fmt, columns)

    tcol = _time_column(table, path)
    missing = [c for c in REQUIRED_COLUMNS if c != "datetime" and c not in table.column_names]
    if missing:
        raise DataError(f"missing column {missing[0]!r}", file=str(path), missing=",".join(missing))

    unparsed: dict[str, dict[int, str]] = {}
    times = _to_timestamp_array(table.column(tcol), path, tcol, unparsed, date_format)
    sym_col = table.column("symbol")
    if not (pa.types.is_string(sym_col.type) or pa.types.is_large_string(sym_col.type)):
        sym_col = pc.cast(sym_col, pa.string())

    # Row selection on Arrow arrays: only the selected rows are ever turned into Python/pandas objects.
    mask = None
    if isinstance(symbols, str):
        symbols = [symbols]  # a single symbol, not its characters
    if symbols is not None:
        wanted = [str(s) for s in symbols]
        if not wanted:
            raise DataError("empty symbol list", file=str(path))
        mask = pc.is_in(sym_col, value_set=pa.array(wanted, pa.string()))
    lo = _as_timestamp(start, "start", path)
    hi = _as_timestamp(end, "end", path)
    if hi is not None and hi == hi.normalize():
        # a bare date as ``end`` means "through that day", so intraday bars of the day are kept
        hi = hi + pd.Timedelta(days=1) - pd.Timedelta(nanoseconds=1)
    if lo is not None and hi is not None and lo > hi:
        raise DataError("start is after end", file=str(path), start=str(lo), end=str(hi))
    ts_type = pa.timestamp("ns")
    in_range = None
    if lo is not None:
        in_range = pc.greater_equal(times, pa.scalar(np.datetime64(lo.value, "ns"), ts_type))
    if hi is not None:
        m = pc.less_equal(times, pa.scalar(np.datetime64(hi.value, "ns"), ts_type))
        in_range = m if in_range is None else pc.and_(in_range, m)
    if in_range is not None:
        # a row without a readable time cannot be placed in or out of the range: keep it, so that the
        # checks report it instead of a filter dropping it silently
        in_range = pc.or_(pc.fill_null(in_range, False), pc.is_null(times))
        mask = in_range if mask is None else pc.and_(mask, in_range)

    if mask is not None:
        mask_np = np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)
        rows = np.flatnonzero(mask_np)
        sel = pa.array(mask_np)
        table = table.filter(sel)
        times = times.filter(sel)
        sym_col = sym_col.filter(sel)
    else:
        rows = np.arange(table.num_rows)

    if symbols is not None:
        present = set(pc.unique(sym_col).to_pylist())
        absent = [s for s in wanted if s not in present]
        if absent:
            all_symbols = set(pc.unique(_read_table(path, fmt, []).column("symbol")).to_pylist())
            not_in_file = [s for s in absent if s not in all_symbols]
            if not_in_file:
                raise DataError(f"symbol {not_in_file[0]} is not in the file", file=str(path),
                                missing=",".join(not_in_file))
    if len(rows) == 0:
        full = _read_table(path, fmt, [])
        span = _file_span(_to_timestamp_array(full.column(tcol), path, tcol, {}, date_format))
        raise DataError(
            "no bars in the requested range", file=str(path), start=str(lo), end=str(hi), file_span=span
        )

    index = pd.Index(rows, name="row")
    out: dict[str, Any] = {
        "symbol": pd.Series(sym_col.to_pandas(), dtype=object).to_numpy(),
        "datetime": times.to_numpy().astype("datetime64[ns]"),
    }
    frame_cols = {name: table.column(name) for name in table.column_names if name not in ("symbol", tcol)}
    for name, col in frame_cols.items():
        values = col.to_pandas().set_axis(index)
        if name in PRICE_COLUMNS or name == "volume" or name in OPTIONAL_FLOAT_COLUMNS:
            out[name] = _to_float(values, name, path, unparsed)
        elif name in OPTIONAL_FLAG_COLUMNS:
            flags = _to_float(values, name, path, unparsed)
            # int8 when complete and 0/1 (the common case) so it compares cleanly; float64 keeps NaN and
            # any other value for the checks to report
            clean = np.isfinite(flags).all() and np.isin(flags, (0.0, 1.0)).all()
            out[name] = flags.astype("int8") if clean else flags
        else:
            out[name] = values.to_numpy()
    df = pd.DataFrame(out, index=index)
    if tcol == "datetime" and "date" in df.columns:
        df = df.drop(columns="date")
    df.attrs[SOURCE_ATTR] = str(path)
    df.attrs[FORMAT_ATTR] = fmt
    from nofx.data.price_basis import PRICES_ATTR, declared_prices  # it reads row_location from here

    declared = declared_prices(path, fmt)
    df.attrs[PRICES_ATTR] = None if declared is None else declared.to_attrs()
    df.attrs[TIME_COLUMN_ATTR] = tcol
    kept = set(rows.tolist()) if mask is not None else None
    df.attrs[UNPARSED_ATTR] = {
        col: {r: v for r, v in cells.items() if kept is None or r in kept} for col, cells in unparsed.items()}
    if validate:
        from nofx.data.checks import enforce_checks  # checks use this reader's schema, not the reverse

        df = enforce_checks(df, drop_bad_rows=drop_bad_rows)
    return df
