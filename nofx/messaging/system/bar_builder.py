"""Streaming tick -> bar synthesis with exchange sessions, for live feeds and tick replays.

The same bins as the batch functions of :mod:`nofx.data.resample` (bars labelled by their end time,
counted from each session's open, never across the lunch break), built one tick at a time:

- A-shares (SH/SZ): sessions 09:30-11:30 and 13:00-15:00. Opening call-auction prints (09:15-09:25)
  belong to the first bar of the morning (its open); closing-auction prints (14:57-15:00, stamped up
  to 15:00:59) to the last bar of the day; nothing spans 11:30-13:00.
- Hong Kong: 09:30-12:00 and 13:00-16:00 (opening auction prints from 09:00 go to the first bar,
  closing auction to 16:10 to the last); nothing spans 12:00-13:00.
- Daily bars: one per symbol and trading day.

A bar is emitted when the first tick of a later bin arrives for its symbol, or when the clock passes
its end (:meth:`BarBuilder.flush_until`, what a live feed calls on a timer), or at :meth:`flush`.
A tick outside every session is refused (counted in ``rejected``), never folded into a wrong bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np

from nofx.data.resample import _parse_freq, session_bin_end
from nofx.domain.errors import DataError
from nofx.domain.instruments import parse_symbol
from nofx.domain.market_data import Bar, Tick


@dataclass(slots=True)
class _Open:
    end: np.datetime64
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int


class BarBuilder:
    """Bars of one frequency (``1min``, ``5min``, ``15min``, ``30min``, ``60min`` or ``1D``) from ticks."""

    def __init__(self, freq: str) -> None:
        self.freq = freq
        self.minutes = _parse_freq(freq)
        self._open: dict[str, _Open] = {}
        self._market: dict[str, str] = {}
        self.rejected = 0

    def bin_end(self, symbol: str, ts: datetime) -> np.datetime64:
        """End label of the bar a print at ``ts`` belongs to (DataError outside the sessions)."""
        t = np.datetime64(ts, "ns")
        if self.minutes is None:
            return t.astype("datetime64[D]").astype("datetime64[ns]")
        m = self._market.get(symbol)
        if m is None:
            m = self._market[symbol] = parse_symbol(symbol).market.value
        return session_bin_end(np.array([t]), np.array([m], dtype=object), self.minutes)[0]

    def add(self, tick: Tick) -> list[Bar]:
        """Fold one tick in; returns the bars it completed (its symbol's previous bar, if any)."""
        try:
            end = self.bin_end(tick.symbol, tick.ts)
        except DataError:
            self.rejected += 1
            return []
        cur = self._open.get(tick.symbol)
        out: list[Bar] = []
        if cur is not None and end != cur.end:
            if end < cur.end:  # a late print for a bar already closed: never rewrite history
                self.rejected += 1
                return []
            out.append(self._bar(tick.symbol, cur))
            cur = None
        p, q = tick.price, tick.size
        if cur is None:
            self._open[tick.symbol] = _Open(end, p, p, p, p, q)
        else:
            cur.high = max(cur.high, p)
            cur.low = min(cur.low, p)
            cur.close = p
            cur.volume += q
        return out

    def flush_until(self, now: datetime) -> list[Bar]:
        """Bars whose end is before ``now`` (a live feed's timer: a quiet symbol's bar still closes)."""
        t = np.datetime64(now, "ns")
        done = [s for s, o in self._open.items() if o.end < t]
        return [self._bar(s, self._open.pop(s)) for s in sorted(done)]

    def flush(self) -> list[Bar]:
        """Every bar still open (end of a replay)."""
        out = [self._bar(s, o) for s, o in sorted(self._open.items())]
        self._open.clear()
        return out

    def _bar(self, symbol: str, o: _Open) -> Bar:
        self._open.pop(symbol, None)
        ts = o.end.astype("datetime64[us]").item()
        return Bar(symbol, ts, o.open, o.high, o.low, o.close, o.volume)
