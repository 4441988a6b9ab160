"""A wide, aligned view of bars: one (T, N) float64 array per field over a shared time axis.

The backtest clock walks its rows; cross-sectional strategies work on whole rows with numpy.
Missing rows (not yet listed, delisted) are NaN; suspended rows keep the exchange's repeated close
with zero volume and ``trade_status`` 0.
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
        if "preclose" in out and "preclose" not in df.columns:
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
