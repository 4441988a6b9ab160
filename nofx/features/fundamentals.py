"""Point-in-time loaders: daily valuation and quarterly fundamentals aligned onto a panel's
(timestamps, symbols) grid without look-ahead.

* Valuation (``cn_valuation``: ``pe_ttm``, ``pb_mrq``... per ``date``) is computed by the vendor from
  that day's close, so it is known at the close of the same day: row t takes the last value dated
  <= t. A strategy that decides on row t trades at t+1 (next open) at the earliest.
* Fundamentals (``cn_fundamentals``) become public on ``pub_date``. Announcements are often made
  after the close or dated by the exchange filing time, and the vendor's ``pub_date`` has no time of
  day, so a report is used only from the **first trading day strictly after** ``pub_date``. This
  costs a day of freshness and rules out any same-day leak.
* When several reports are public, the one with the latest ``stat_date`` (quarter end) wins (among
  those, the latest published: a restatement replaces the original); a report of an older quarter
  published later (an amendment) does not replace a newer quarter.
  Fields of the chosen report are taken together (a NaN field stays NaN: we do not mix quarters).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from nofx.domain.errors import DataError

VALUATION_FIELDS = ("pe_ttm", "pb_mrq", "ps_ttm", "pcf_ncf_ttm")
FUNDAMENTAL_FIELDS = ("roe_avg", "np_margin", "gp_margin", "net_profit", "eps_ttm", "yoy_equity",
                      "yoy_asset", "yoy_ni", "yoy_eps_basic", "yoy_pni")


def _read_frame(path: str | Path, required: Sequence[str]) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DataError("data file not found", file=str(path))
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        df = pd.read_parquet(path)
    elif suffix == ".csv":
        df = pd.read_csv(path)
    else:
        raise DataError("unsupported file format (use .parquet or .csv)", file=str(path))
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError(f"missing column {missing[0]!r}", file=str(path), missing=",".join(missing))
    return df


def load_valuation(path: str | Path) -> pd.DataFrame:
    """Read a valuation table (``symbol``, ``date`` and any of :data:`VALUATION_FIELDS`)."""
    df = _read_frame(path, ("symbol", "date"))
    df["date"] = pd.to_datetime(df["date"])
    return df


def load_fundamentals(path: str | Path) -> pd.DataFrame:
    """Read a fundamentals table (``symbol``, ``pub_date``, ``stat_date`` and fields)."""
    df = _read_frame(path, ("symbol", "pub_date", "stat_date"))
    df["pub_date"] = pd.to_datetime(df["pub_date"])
    df["stat_date"] = pd.to_datetime(df["stat_date"])
    if df["pub_date"].isna().any():
        row = int(np.flatnonzero(df["pub_date"].isna().to_numpy())[0])
        raise DataError("fundamentals row without pub_date cannot be used point-in-time", file=str(path), row=row)
    return df


def _gather(source: pd.DataFrame, row_ids: np.ndarray, fields: Sequence[str]) -> dict[str, np.ndarray]:
    """Fill (T, N) arrays from ``source`` rows by index (-1 = none)."""
    out: dict[str, np.ndarray] = {}
    have = row_ids >= 0
    safe = np.where(have, row_ids, 0)
    for name in fields:
        if name not in source.columns:
            raise DataError("field not in the table", field=name, available=",".join(map(str, source.columns)))
        values = source[name].to_numpy(dtype="float64")
        if len(values) == 0:
            out[name] = np.full(row_ids.shape, np.nan)
            continue
        out[name] = np.where(have, values[safe], np.nan)
    return out


def _ffill_ids(ids: np.ndarray) -> np.ndarray:
    """Carry the last row id (>= 0) down the time axis; -1 before the first."""
    idx = np.where(ids >= 0, np.arange(ids.shape[0])[:, None], -1)
    np.maximum.accumulate(idx, axis=0, out=idx)
    cols = np.arange(ids.shape[1])[None, :]
    return np.where(idx >= 0, ids[np.maximum(idx, 0), cols], -1)


def _rows_on_grid(
    df: pd.DataFrame, time_col: str, timestamps: np.ndarray, symbols: Sequence[str]
) -> np.ndarray:
    """(T, N) array of the row index of ``df`` that lands on each grid cell (-1 none), before ffill:
    a row dated d lands on the first grid time >= d. ``df`` must be sorted so that later rows win
    when several land on one cell."""
    ts = np.asarray(timestamps, dtype="datetime64[ns]")
    col_of = {s: k for k, s in enumerate(symbols)}
    cols = df["symbol"].map(col_of)
    keep = cols.notna().to_numpy()
    t_idx = np.searchsorted(ts, df[time_col].to_numpy(dtype="datetime64[ns]"), side="left")
    keep &= t_idx < len(ts)
    rows = np.flatnonzero(keep)
    cell = pd.DataFrame({"t": t_idx[rows], "c": cols.to_numpy()[rows].astype(np.int64), "r": rows})
    cell = cell.drop_duplicates(["t", "c"], keep="last")  # the last row in sort order wins a cell
    ids = np.full((len(ts), len(symbols)), -1, dtype=np.int64)
    ids[cell["t"].to_numpy(), cell["c"].to_numpy()] = cell["r"].to_numpy()
    return ids


def align_valuation(
    df: pd.DataFrame, timestamps: np.ndarray, symbols: Sequence[str], fields: Sequence[str] = ("pe_ttm", "pb_mrq")
) -> dict[str, np.ndarray]:
    """Valuation fields as (T, N) arrays: row t holds the last value dated <= t (same-day values are
    known at that day's close)."""
    df = df.sort_values(["symbol", "date"], kind="mergesort").reset_index(drop=True)
    ts = np.asarray(timestamps, dtype="datetime64[ns]")
    # a value dated d belongs to the first grid time >= d (d itself on a daily grid)
    ids = _ffill_ids(_rows_on_grid(df, "date", ts, symbols))
    return _gather(df, ids, fields)


def align_fundamentals(
    df: pd.DataFrame, timestamps: np.ndarray, symbols: Sequence[str], fields: Sequence[str] = FUNDAMENTAL_FIELDS
) -> dict[str, np.ndarray]:
    """Fundamental fields as (T, N) arrays, each report usable from the first grid time strictly
    after its ``pub_date`` and replaced only by a later-published report of a newer quarter."""
    df = df.sort_values(["symbol", "pub_date", "stat_date"], kind="mergesort").reset_index(drop=True)
    # drop reports of a quarter older than one already public (late amendments of old quarters);
    # a restatement of the newest quarter replaces it from its own publication on
    prev_max = df.groupby("symbol")["stat_date"].cummax().groupby(df["symbol"]).shift(1)
    df = df[prev_max.isna() | (df["stat_date"] >= prev_max)].reset_index(drop=True)
    ts = np.asarray(timestamps, dtype="datetime64[ns]")
    # "strictly after pub_date" by calendar day, so that intraday grids also wait for the next day
    df["usable_from"] = df["pub_date"].dt.normalize() + pd.Timedelta(days=1)
    ids = _ffill_ids(_rows_on_grid(df, "usable_from", ts, symbols))
    return _gather(df, ids, fields)
