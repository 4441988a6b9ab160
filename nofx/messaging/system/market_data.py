"""The market-data service: replays a run's bars onto the bus, slice by slice.

Each time slice goes out as one :class:`~nofx.messaging.messages.BarSlice` on ``md.slice.<feed>`` (the
panel rows a strategy process rebuilds its view from) and, with ``publish_bars``, as one
:class:`~nofx.domain.market_data.Bar` per symbol on ``md.bar.<symbol>`` for any other subscriber.

Replay is pulled: a slice is published when asked for with a :class:`SliceRequest` on ``sys.want``
(the engine asks for the next slice once every strategy has answered the last one, so at speed 0 the
replay advances on acknowledgements, never on wall time; a restarted process asks again for what it
missed). At speed N a slice is also held until its time at N x the bars' own pace.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from decimal import Decimal

import numpy as np

from nofx.backtest.execute import load_run_bars
from nofx.backtest.run_config import RunConfig
from nofx.data.panel import PANEL_FIELDS, BarPanel
from nofx.domain.errors import NofxError
from nofx.domain.market_data import Bar
from nofx.engine.market_data import select_bars
from nofx.messaging.messages import BarSlice, SliceRequest
from nofx.messaging.system.runtime import ProcessRuntime
from nofx.messaging.system.spec import SystemSpec

log = logging.getLogger("nofx.messaging.system")

MAX_SLICES_PER_REQUEST = 100_000


def run_panel(run: RunConfig) -> BarPanel:
    """The traded universe of a run as a panel: the same rows a backtest of that run walks."""
    bars, symbols = load_run_bars(run)
    universe, _ = select_bars(bars, run.backtest, symbols)
    return BarPanel.from_frame(universe)


class ReplayFeed:
    """A panel served slice by slice."""

    def __init__(self, name: str, panel: BarPanel) -> None:
        self.name = name
        self.panel = panel
        self.symbols = list(panel.symbols)
        self._ts_ns = panel.timestamps.astype("datetime64[ns]").astype(np.int64)
        self._py_ts: list[datetime] = panel.timestamps.astype("datetime64[us]").tolist()
        self.count = len(self._ts_ns)

    def slice(self, i: int) -> BarSlice:
        f = self.panel.fields
        return BarSlice(self.name, i, self.count, int(self._ts_ns[i]), self.symbols,
                        {name: f[name][i].tolist() for name in PANEL_FIELDS if name in f})

    def bars(self, i: int) -> list[Bar]:
        """The slice's bars as domain values (symbols without a bar left out)."""
        f = self.panel.fields
        out = []
        row = {k: f[k][i] for k in ("open", "high", "low", "close", "volume", "preclose", "trade_status")}
        for k, sym in enumerate(self.symbols):
            c = row["close"][k]
            if c != c:
                continue
            pre = row["preclose"][k]
            try:
                out.append(Bar(sym, self._py_ts[i], _dec(row["open"][k]), _dec(row["high"][k]), _dec(row["low"][k]),
                               _dec(c), int(row["volume"][k]), None if pre != pre else _dec(pre),
                               suspended=bool(row["trade_status"][k] == 0)))
            except NofxError as e:  # a row the domain refuses (inconsistent OHLC): the panel still carries it
                log.warning("bar not published: %s", e)
        return out

    def due_s(self, i: int, first: int, speed: float) -> float:
        """Seconds after slice ``first`` went out at which slice ``i`` is due at ``speed`` x real time."""
        return 0.0 if speed <= 0 else (self._ts_ns[i] - self._ts_ns[first]) / 1e9 / speed


def _dec(x: float) -> Decimal:
    return Decimal(repr(float(x)))


class MarketDataService:
    def __init__(self, spec: SystemSpec, name: str = "md") -> None:
        self.spec = spec
        self.feed = ReplayFeed(spec.feed, run_panel(spec.run))
        b = spec.broker
        self.rt = ProcessRuntime(name, "market_data", b.pub_endpoint, b.sub_endpoint, ["sys.want"])
        self._published = -1  # highest slice published so far (pacing applies to new slices only)
        self._t0: float | None = None
        self._first = 0

    async def serve(self) -> None:
        rt = self.rt
        topic = f"md.slice.{self.feed.name}"
        while not rt.stop.is_set():
            for _, msg in await rt.receive(0.5):
                req = msg.payload
                if not isinstance(req, SliceRequest) or req.feed != self.feed.name:
                    continue
                last = min(req.last, self.feed.count - 1, req.first + MAX_SLICES_PER_REQUEST - 1)
                for i in range(max(req.first, 0), last + 1):
                    if i > self._published:
                        await self._pace(i)
                        self._published = i
                    rt.index = max(rt.index, i)
                    rt.publish(topic, self.feed.slice(i))
                    if self.spec.publish_bars:
                        for bar in self.feed.bars(i):
                            rt.pub.publish(bar)

    async def _pace(self, i: int) -> None:
        if self.spec.speed <= 0:
            return
        now = time.monotonic()
        if self._t0 is None:
            self._t0, self._first = now, i
            return
        wait = self._t0 + self.feed.due_s(i, self._first, self.spec.speed) - now
        if wait > 0:
            await asyncio.sleep(wait)


async def main_async(spec: SystemSpec) -> int:
    svc = MarketDataService(spec)
    svc.rt.install_signals()
    print("ready", flush=True)
    try:
        await svc.serve()
    finally:
        svc.rt.close()
    return 0
