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

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from nofx.domain.errors import DataError, InvalidSymbolError
from nofx.domain.instruments import parse_symbol

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
REQUIRED_COLUMNS: tuple[str, ...] = ("symbol", "datetime", *PRICE_COLUMNS, "volume")
OPTIONAL_FLOAT_COLUMNS: tuple[str, ...] = ("amount", "preclose")
OPTIONAL_FLAG_COLUMNS: tuple[str, ...] = ("trade_status", "is_st")
TIME_COLUMN_ALIASES: tuple[str, ...] = ("datetime", "date")
_CANONICAL = (*REQUIRED_COLUMNS, *OPTIONAL_FLOAT_COLUMNS, *OPTIONAL_FLAG_COLUMNS)

# attrs keys that carry provenance through to check_bars / the CLI
SOURCE_ATTR = "nofx_source"
FORMAT_ATTR = "nofx_format"
TIME_COLUMN_ATTR = "nofx_time_column"  # the file's name for the "datetime" column (e.g. "date")

_PARQUET_SUFFIXES = (".parquet", ".pq")
_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.zst")


def row_location(attrs: dict[str, Any], row: int) -> str:
    """Human location of a data row: ``file.csv line 7`` (1-based, header counted) or ``file.parquet row 5``.

    CSV users open the file in an editor, so they get line numbers; Parquet has no lines, so the
    0-based row position that pandas/pyarrow show is used.
    """
    return f"{attrs.get(SOURCE_ATTR, '<frame>')} {row_label(attrs, row)}"


def row_label(attrs: dict[str, Any], row: int) -> str:
    """``line 7`` for a CSV source (1-based, header counted), else ``row 5`` (0-based position)."""
    return f"line {row + 2}" if attrs.get(FORMAT_ATTR) == "csv" else f"row {row}"


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


def _to_timestamp_array(col: pa.ChunkedArray, path: Path, name: str, strict: bool = True) -> pa.ChunkedArray:
    """Arrow timestamp (naive, exchange local) from a timestamp/date/string column, or DataError naming the row."""
    if pa.types.is_timestamp(col.type):
        if col.type.tz is not None:
            # both markets are UTC+8 with no DST; Asia/Shanghai gives the exchange local wall time
            local = pc.local_timestamp(pc.cast(col, pa.timestamp(col.type.unit, "Asia/Shanghai")))
            return local.cast(pa.timestamp("ns"))
        return col.cast(pa.timestamp("ns"))
    if pa.types.is_date(col.type):
        return col.cast(pa.timestamp("ns"))
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        values = col.to_pandas()
        parsed = pd.to_datetime(values, errors="coerce", format="mixed")
        bad = parsed.isna() & values.notna()
        if strict and bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"column {name!r} has a value that is not a date/time", **_where(path, i), value=repr(values.iloc[i])
            )
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
        return pa.chunked_array([pa.array(parsed, type=pa.timestamp("ns"), from_pandas=True)])
    raise DataError(f"column {name!r} must hold dates or times, found {col.type}", file=str(path))


def _to_float(values: pd.Series, name: str, path: Path, strict: bool) -> np.ndarray:
    """float64 values; a non-numeric entry raises (strict) or becomes NaN for check_bars to report."""
    if pd.api.types.is_bool_dtype(values.dtype):
        raise DataError(f"column {name!r} must be numeric, found booleans", file=str(path))
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.to_numpy(dtype="float64", na_value=np.nan)
    numeric = pd.to_numeric(values, errors="coerce")
    bad = numeric.isna() & values.notna()
    if strict and bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"column {name!r} must be numeric", **_where(path, int(values.index[i])), value=repr(values.iloc[i])
        )
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
) -> pd.DataFrame:
    """Read bars in the canonical schema from a Parquet or CSV file.

    ``symbols`` keeps only those symbols (each must be in the file); ``start``/``end`` (anything
    ``pd.Timestamp`` accepts; both inclusive, and an ``end`` at midnight means through that whole
    day) keep that time range, which must hold at least one bar.
    Rows keep the file order and the index is the row's 0-based position in the file.
    The canonical columns present in the file are always returned; ``columns`` names the other
    columns to keep (e.g. ``["pct_chg"]``; default: all of them, ``[]``: none, which is faster).

    With ``validate=True`` (the default) a bad file raises :class:`DataError` in one line saying what
    and where (missing column, non-numeric value, unknown symbol format...). ``validate=False`` is for
    ``nofx data check``: bad numbers become NaN and bad symbols are kept, so that :func:`check_bars`
    can list every bad row instead of stopping at the first.
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

    times = _to_timestamp_array(table.column(tcol), path, tcol, validate)
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
    if lo is not None:
        m = pc.greater_equal(times, pa.scalar(np.datetime64(lo.value, "ns"), ts_type))
        mask = m if mask is None else pc.and_(mask, m)
    if hi is not None:
        m = pc.less_equal(times, pa.scalar(np.datetime64(hi.value, "ns"), ts_type))
        mask = m if mask is None else pc.and_(mask, m)

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
        span = _file_span(_to_timestamp_array(full.column(tcol), path, tcol))
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
            out[name] = _to_float(values, name, path, validate)
        elif name in OPTIONAL_FLAG_COLUMNS:
            flags = _to_float(values, name, path, validate)
            bad = np.isfinite(flags) & ~np.isin(flags, (0.0, 1.0))
            if validate and bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise DataError(f"column {name!r} must be 0 or 1", **_where(path, int(rows[i])),
                                value=repr(values.iloc[i]))
            # int8 when complete (the common case) so it compares cleanly; float64 keeps NaN otherwise
            out[name] = flags.astype("int8") if np.isfinite(flags).all() else flags
        else:
            out[name] = values.to_numpy()
    df = pd.DataFrame(out, index=index)
    if tcol == "datetime" and "date" in df.columns:
        df = df.drop(columns="date")

    if validate:
        _validate_symbols(sym_col, rows, path)
    df.attrs[SOURCE_ATTR] = str(path)
    df.attrs[FORMAT_ATTR] = fmt
    from nofx.data.price_basis import PRICES_ATTR, declared_prices  # it reads row_location from here

    declared = declared_prices(path, fmt)
    df.attrs[PRICES_ATTR] = None if declared is None else declared.to_attrs()
    df.attrs[TIME_COLUMN_ATTR] = tcol
    return df


def _validate_symbols(sym_col: pa.ChunkedArray, rows: np.ndarray, path: Path) -> None:
    """Raise on the first row whose symbol is not a known exchange code (one parse per distinct symbol)."""
    first_bad: int | None = None
    for sym in pc.unique(sym_col).to_pylist():
        try:
            if sym is None:
                raise InvalidSymbolError("empty symbol")
            parse_symbol(sym)
        except InvalidSymbolError:
            i = pc.index(sym_col, sym).as_py() if sym is not None else int(
                np.flatnonzero(pc.is_null(sym_col).to_numpy(zero_copy_only=False))[0])
            first_bad = i if first_bad is None else min(first_bad, i)
    if first_bad is not None:
        value = sym_col[first_bad].as_py()
        raise DataError("unknown symbol format", **_where(path, int(rows[first_bad])), value=repr(value))
