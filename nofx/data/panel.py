"""A wide, aligned view of bars: one (T, N) float64 array per field over a shared time axis.

The backtest clock walks its rows; cross-sectional strategies work on whole rows with numpy.
Missing rows (not yet listed, delisted) are NaN; suspended rows keep the exchange's repeated close
with zero volume and ``trade_status`` 0. A row whose open, high, low and close are all 0 (how some
intraday sources, e.g. the shared ``cn_15min`` file, write a suspended day) is such a suspended row:
it gets the last close, zero volume and ``trade_status`` 0, never a price of 0.

``preclose`` is the previous bar's close where the file has none (for daily bars: the previous day's).
Daily rules work per trading day at any bar frequency: the reference price of a day's limit band is the
previous trading day's close, the same for every bar of the day (:func:`day_preclose`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd

from nofx.domain.errors import DataError

PANEL_FIELDS = ("open", "high", "low", "close", "volume", "preclose", "trade_status", "is_st", "amount")


@dataclass(frozen=True)
class BarPanel:
    timestamps: np.ndarray  # datetime64[ns], strictly increasing, shape (T,)
    symbols: tuple[str, ...]  # shape (N,)
    fields: dict[str, np.ndarray] = field(repr=False)  # name -> (T, N) float64

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.timestamps), len(self.symbols)

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.fields[name]
        except KeyError:
            raise DataError(f"panel has no field {name!r}", available=",".join(self.fields)) from None

    def column(self, symbol: str) -> int:
        try:
            return self.symbols.index(symbol)
        except ValueError:
            raise DataError("symbol not in data", symbol=symbol) from None

    @property
    def n_bars(self) -> int:
        """Number of real (symbol, time) rows."""
        return int(np.isfinite(self.fields["close"]).sum())

    @classmethod
    def from_frame(cls, df: pd.DataFrame, fields: Iterable[str] = PANEL_FIELDS) -> "BarPanel":
        """Pivot a long frame (``symbol``, ``datetime`` + fields) into aligned arrays.

        Absent optional fields get defaults that mean "no information": ``preclose`` = previous close,
        ``trade_status`` = 1 where a bar exists, ``is_st`` = 0.
        """
        if df.empty:
            raise DataError("no bars in the selected range")
        # no sort of the frame: unique() with inverse indices places every row directly
        ts, t_idx = np.unique(df["datetime"].to_numpy(dtype="datetime64[ns]"), return_inverse=True)
        codes, uniq = pd.factorize(df["symbol"].astype(str), sort=True)
        symbols = tuple(str(x) for x in uniq)
        s_idx = codes
        out: dict[str, np.ndarray] = {}
        for name in fields:
            arr = np.full((len(ts), len(symbols)), np.nan)
            if name in df.columns:
                arr[t_idx, s_idx] = df[name].to_numpy(dtype="float64")
            out[name] = arr
        close = out["close"]
        exists = np.isfinite(close)
        zero = _zero_price_rows(out) & exists
        if zero.any():
            last = pd.DataFrame(np.where(zero, np.nan, close)).ffill().to_numpy()
            for name in ("open", "high", "low", "close"):
                if name in out:
                    out[name] = np.where(zero, last, out[name])
            for name in ("volume", "amount"):
                if name in out:
                    out[name] = np.where(zero, 0.0, out[name])
            close = out["close"]
            exists = np.isfinite(close)
            if "trade_status" in df.columns:
                out["trade_status"] = np.where(zero & exists, 0.0, out["trade_status"])
        if "preclose" in out and "preclose" not in df.columns:
            # the previous bar's close (features chain close / preclose into returns); the daily limit
            # band's reference is the previous *day's* close: see day_preclose
            prev = pd.DataFrame(close).ffill().shift(1).to_numpy()
            out["preclose"] = np.where(exists, prev, np.nan)
        if "trade_status" in out and "trade_status" not in df.columns:
            vol = out.get("volume")
            status = np.where(exists, 1.0, np.nan)
            if vol is not None:
                status = np.where(exists & (vol == 0), 0.0, status)
            out["trade_status"] = status
        if "is_st" in out and "is_st" not in df.columns:
            out["is_st"] = np.where(exists, 0.0, np.nan)
        return cls(ts, symbols, out)


def _zero_price_rows(fields: dict[str, np.ndarray]) -> np.ndarray:
    """Rows whose open, high, low and close are all exactly 0: a suspended row, not a price."""
    zero = np.ones(fields["close"].shape, dtype=bool)
    for name in ("open", "high", "low", "close"):
        if name in fields:
            zero &= fields[name] == 0
    return zero


def day_preclose(timestamps: np.ndarray, close: np.ndarray, preclose: np.ndarray | None = None) -> np.ndarray:
    """Reference price of each bar's daily limit band: the previous trading day's close, the same for
    every bar of a day, whatever the bar frequency (the exchange computes the band once a day).

    ``timestamps``: (T,) sorted; ``close``: (T,) or (T, N); non-positive or missing closes are skipped
    (the last real close before the day counts). ``preclose`` (same shape, optional) is the data's own
    previous close, which includes the exchange's ex-rights adjustment: the first valid value of each
    day is used for the whole day (for daily bars: each row's own value; on intraday bars the first
    bar's previous close is the previous day's close, whether the file gives the exchange's reference
    or the previous bar's close), the previous day's close where it has none. Returns float64 of
    ``close``'s shape, NaN where no reference exists (first day).
    """
    c = np.asarray(close, dtype="float64")
    flat = c.ndim == 1
    c2 = c[:, None] if flat else c
    days = np.asarray(timestamps).astype("datetime64[D]")
    new_day = np.r_[True, days[1:] != days[:-1]] if len(days) else np.zeros(0, dtype=bool)
    day_id = np.cumsum(new_day) - 1
    ends = np.r_[np.flatnonzero(new_day)[1:] - 1, len(days) - 1]
    last = pd.DataFrame(np.where(np.isfinite(c2) & (c2 > 0), c2, np.nan)).ffill().to_numpy()[ends]
    ref = np.vstack([np.full((1, c2.shape[1]), np.nan), last[:-1]])
    if preclose is not None:
        p = np.asarray(preclose, dtype="float64")
        p2 = p[:, None] if flat else p
        first = pd.DataFrame(np.where(np.isfinite(p2) & (p2 > 0), p2, np.nan)).groupby(day_id).first().to_numpy()
        ref = np.where(np.isfinite(first), first, ref)
    out = ref[day_id]
    return out[:, 0] if flat else out
