"""The simulated clock and what it tells the engine about the market at the current slice."""

from __future__ import annotations

import bisect
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd

from nofx.data.panel import BarPanel


class SimClock:
    """Walks the panel's timestamps. ``exec_offset`` is 1 when orders execute on the next bar."""

    def __init__(self, panel: BarPanel, lower: np.ndarray, upper: np.ndarray, exec_offset: int) -> None:
        self.panel = panel
        self.index = -1
        self._ts = panel.timestamps
        self._py_ts: list[datetime] = self._ts.astype("datetime64[us]").tolist()
        self._days = [t.date() for t in self._py_ts]
        self.days = self._days  # trading day of each slice, as date objects
        self._col = {s: k for k, s in enumerate(panel.symbols)}
        self._close = panel.fields["close"]
        # last known close per symbol at each row (for prices of symbols without a bar today)
        self._mark = pd.DataFrame(self._close).ffill().to_numpy()
        self._lower, self._upper = lower, upper
        self._offset = exec_offset
        self._n = len(self._ts)

    # ---- MarketState ------------------------------------------------------------------------
    def now(self) -> datetime:
        return self._py_ts[self.index]

    def slice_of(self, ts: datetime) -> int:
        """Index of the slice stamped ``ts`` (the last one at or before it)."""
        return max(0, bisect.bisect_right(self._py_ts, ts) - 1)

    def exec_index(self) -> int:
        return min(self.index + self._offset, self._n - 1)

    def exec_day(self) -> date:
        j = self.index + self._offset
        if j >= self._n:  # after the last bar: the next trading day is unknown; any later day will do
            return date.fromordinal(self._days[-1].toordinal() + 1)
        return self._days[j]

    def last_price(self, symbol: str) -> Decimal | None:
        col = self._col.get(symbol)
        if col is None:
            return None
        v = self._mark[self.index, col]
        return None if v != v else Decimal(repr(float(v)))

    def last_price_float(self, symbol: str) -> float | None:
        col = self._col.get(symbol)
        if col is None:
            return None
        v = self._mark[self.index, col]
        return None if v != v else float(v)

    def limits(self, symbol: str) -> tuple[Decimal, Decimal] | None:
        col = self._col.get(symbol)
        if col is None:
            return None
        j = self.exec_index()
        lo, hi = self._lower[j, col], self._upper[j, col]
        if lo != lo or hi != hi:
            return None
        return Decimal(repr(float(lo))), Decimal(repr(float(hi)))

    @property
    def marks(self) -> np.ndarray:
        return self._mark
