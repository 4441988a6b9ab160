"""The adapter boundary for market data (vn.py's gateway model): where a live feed plugs in.

A :class:`MarketDataAdapter` produces trades (and, if its source has them, bars) and hands them to a
:class:`FeedSink`; the market-data service's sink publishes them on the bus (``md.tick.<symbol>``,
``md.bar<freq>.<symbol>``), builds the session-aware bars of every configured frequency from the
ticks, and keeps the latest-quote snapshot. Nothing downstream (strategies, the engine) knows which
adapter runs. :class:`TickFileAdapter` replays a file at ``speed``; an adapter around a vendor's API
implements the same two methods (``run`` until ``stop``, calling ``sink.tick``/``sink.bar`` from the
event loop, and ``sink.clock(now)`` on a timer so quiet symbols' bars close).

The order side of the boundary is the engine's :class:`~nofx.engine.venue.Venue` protocol: a broker
gateway implements ``submit``/``cancel`` and reports fills, rejections and expiries to its
``VenueListener`` (see docs/system.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from decimal import Decimal
from typing import Protocol

import pandas as pd

from nofx.domain.errors import DataError, NofxError
from nofx.domain.market_data import Bar, Tick

log = logging.getLogger("nofx.messaging.system")


class FeedSink(Protocol):
    def tick(self, tick: Tick) -> None:
        """One trade: published, folded into the bars, remembered as the symbol's latest."""
        ...

    def bar(self, freq: str, bar: Bar) -> None:
        """A bar the source itself provides (``freq`` like ``1min``, ``1D``)."""
        ...

    def clock(self, now: datetime) -> None:
        """The source's time has reached ``now``: bars that ended before it are closed."""
        ...


class MarketDataAdapter(Protocol):
    name: str

    async def run(self, sink: FeedSink, stop: asyncio.Event) -> None:
        """Deliver market data to ``sink`` until the source ends or ``stop`` is set."""
        ...


def read_ticks(path: str) -> pd.DataFrame:
    """Trades from Parquet or CSV with columns ``datetime, symbol, price, size``, in time order."""
    df = pd.read_parquet(path) if str(path).endswith(".parquet") else pd.read_csv(path)
    missing = [c for c in ("datetime", "symbol", "price", "size") if c not in df.columns]
    if missing:
        raise DataError(f"tick file lacks column {missing[0]!r}", file=str(path))
    df["datetime"] = pd.to_datetime(df["datetime"])
    return df.sort_values("datetime", kind="stable").reset_index(drop=True)


class TickFileAdapter:
    """Replays a tick file at ``speed`` x its own pace (0: as fast as the sink takes them)."""

    def __init__(self, path: str, speed: float = 0.0) -> None:
        self.name = f"ticks:{path}"
        self.ticks = read_ticks(path)
        self.speed = speed

    async def run(self, sink: FeedSink, stop: asyncio.Event) -> None:
        df = self.ticks
        if df.empty:
            return
        t0, first = time.monotonic(), df["datetime"].iloc[0]
        rows = zip(df["datetime"].dt.to_pydatetime(), df["symbol"].astype(str), df["price"], df["size"])
        for k, (ts, sym, price, size) in enumerate(rows):
            if stop.is_set():
                return
            if self.speed > 0:
                wait = t0 + (ts - first).total_seconds() / self.speed - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            elif k % 500 == 0:
                await asyncio.sleep(0)  # let the service answer quotes and report health
            try:
                tick = Tick(sym, ts, Decimal(repr(float(price))), int(size))
            except NofxError as e:
                log.warning("tick not published: %s", e)
                continue
            sink.tick(tick)
