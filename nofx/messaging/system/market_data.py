"""The market-data service: replays a run's bars onto the bus, slice by slice.

Each time slice goes out as one :class:`~nofx.messaging.messages.BarSlice` on ``md.slice.<feed>`` (the
panel rows a strategy process rebuilds its view from) and, with ``publish_bars``, as one
:class:`~nofx.domain.market_data.Bar` per symbol on ``md.bar.<symbol>`` for any other subscriber.

A tick replay (``tick_file``) publishes each trade on ``md.tick.<symbol>`` at ``speed`` and the bars
synthesised from them, session-aware (:mod:`.bar_builder`), on ``md.bar<freq>.<symbol>`` (``md.bar15m.``,
``md.bar1d.`` ...); it starts when a :class:`SliceRequest` for its feed arrives (so no early message is
lost to a subscriber still connecting).

The latest-quote snapshot: with ``quote_endpoint`` the service binds a ROUTER there and answers each
:class:`QuoteRequest` with its latest bar and tick of each symbol (:class:`QuoteSnapshot`).

Replay of bars is pulled: a slice is published when asked for with a :class:`SliceRequest` on ``sys.want``
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
import zmq

from nofx.backtest.execute import load_run_bars
from nofx.backtest.run_config import RunConfig
from nofx.data.panel import PANEL_FIELDS, BarPanel
from nofx.domain.errors import NofxError
from nofx.domain.market_data import Bar, Tick
from nofx.engine.market_data import select_bars
from nofx.messaging.counters import BusCounters
from nofx.messaging.messages import BarSlice, QuoteRequest, QuoteSnapshot, Rejected, SliceRequest, decode, encode
from nofx.messaging.system.adapters import MarketDataAdapter, TickFileAdapter
from nofx.messaging.system.bar_builder import BarBuilder
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


def freq_tag(freq: str) -> str:
    """Topic tag of a bar frequency: ``15min`` -> ``15m``, ``1D`` -> ``1d``."""
    f = freq.strip().lower()
    return f.replace("min", "m") if f.endswith("min") else f


class _BusSink:
    """The service's :class:`FeedSink`: ticks and bars onto the bus, bars built from the ticks."""

    def __init__(self, svc: "MarketDataService", builders: dict[str, BarBuilder]) -> None:
        self.svc = svc
        self.builders = builders
        self.n = 0

    def tick(self, tick: Tick) -> None:
        svc = self.svc
        svc.rt.pub.publish(tick)
        svc.last_tick[tick.symbol] = tick
        svc.rt.index = self.n
        self.n += 1
        for tag, b in self.builders.items():
            for bar in b.add(tick):
                svc._publish_bar(tag, bar)

    def bar(self, freq: str, bar: Bar) -> None:
        self.svc._publish_bar(freq_tag(freq), bar)

    def clock(self, now: datetime) -> None:
        for tag, b in self.builders.items():
            for bar in b.flush_until(now):
                self.svc._publish_bar(tag, bar)

    def flush(self) -> None:
        for tag, b in self.builders.items():
            for bar in b.flush():
                self.svc._publish_bar(tag, bar)


class MarketDataService:
    def __init__(self, spec: SystemSpec, name: str = "md") -> None:
        self.spec = spec
        self.feed = ReplayFeed(spec.feed, run_panel(spec.run)) if spec.tick_file is None else None
        self.last_bar: dict[str, Bar] = {}
        self.last_tick: dict[str, Tick] = {}
        self.quote_counters = BusCounters()
        self._go = asyncio.Event()
        b = spec.broker
        self.rt = ProcessRuntime(name, "market_data", b.pub_endpoint, b.sub_endpoint, ["sys.want"])
        self._published = -1  # highest slice published so far (pacing applies to new slices only)
        self._t0: float | None = None
        self._first = 0
        self.rt.extra_counters.append(self.quote_counters)

    async def serve(self) -> None:
        tasks = []
        if self.spec.quote_endpoint:
            tasks.append(asyncio.create_task(self._serve_quotes(self.spec.quote_endpoint)))
        if self.spec.tick_file:
            tasks.append(asyncio.create_task(self._tick_replay(self.spec.tick_file)))
        try:
            await self._serve_requests()
        finally:
            self.rt.stop.set()
            await asyncio.gather(*tasks)

    async def _serve_requests(self) -> None:
        rt = self.rt
        feed = self.feed
        while not rt.stop.is_set():
            for _, msg in await rt.receive(0.5):
                req = msg.payload
                if not isinstance(req, SliceRequest) or req.feed != self.spec.feed:
                    continue
                self._go.set()
                if feed is None:
                    continue
                topic = f"md.slice.{feed.name}"
                last = min(req.last, feed.count - 1, req.first + MAX_SLICES_PER_REQUEST - 1)
                for i in range(max(req.first, 0), last + 1):
                    if i > self._published:
                        await self._pace(i)
                        self._published = i
                    rt.index = max(rt.index, i)
                    rt.publish(topic, feed.slice(i))
                    if self.spec.publish_bars:
                        for bar in feed.bars(i):
                            rt.pub.publish(bar)
                            self.last_bar[bar.symbol] = bar

    async def _tick_replay(self, path: str) -> None:
        """Run the tick-file adapter into this service's sink once a request for the feed came."""
        adapter = TickFileAdapter(path, self.spec.speed)
        while not self._go.is_set():  # started by a SliceRequest for this feed
            if self.rt.stop.is_set():
                return
            await asyncio.sleep(0.05)
        await self.run_adapter(adapter)

    async def run_adapter(self, adapter: MarketDataAdapter) -> None:
        """Publish what ``adapter`` delivers, with bars built from its ticks; at its end, the bars still
        open and an ``md.end.<feed>`` marker."""
        sink = _BusSink(self, {freq_tag(f): BarBuilder(f) for f in self.spec.bar_freqs})
        await adapter.run(sink, self.rt.stop)
        sink.flush()
        self.rt.publish(f"md.end.{self.spec.feed}", SliceRequest(self.spec.feed, 0, self.rt.index))

    def _publish_bar(self, tag: str, bar: Bar) -> None:
        self.rt.publish(f"md.bar{tag}.{bar.symbol}", bar)
        self.last_bar[bar.symbol] = bar

    async def _serve_quotes(self, endpoint: str) -> None:
        sock = self.rt.ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind(endpoint)
        sent = 0
        try:
            while not self.rt.stop.is_set():
                if not await sock.poll(200, zmq.POLLIN):
                    continue
                frames = await sock.recv_multipart()
                try:
                    msg = decode(frames[-1])
                except Rejected as e:
                    self.quote_counters.reject(e, "quote service")
                    continue
                req = msg.payload
                if not isinstance(req, QuoteRequest):
                    self.quote_counters.reject(Rejected("not_a_quote_request", msg.type), "quote service")
                    continue
                self.quote_counters.received += 1
                wanted = req.symbols or sorted(set(self.last_bar) | set(self.last_tick))
                snap = QuoteSnapshot(msg.seq, [self.last_bar[s] for s in wanted if s in self.last_bar],
                                     [self.last_tick[s] for s in wanted if s in self.last_tick])
                sent += 1
                await sock.send_multipart([*frames[:-1], encode(snap, self.rt.pub.id, sent)])
        finally:
            sock.close()

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
