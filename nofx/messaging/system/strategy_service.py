"""A strategy process: one trader's strategy, fed by the market-data service, trading through the engine.

It rebuilds, from the :class:`BarSlice` rows the market-data service publishes, the very panel a
backtest's strategy sees, and recomputes the strategy's causal features on the rows received so far
(row ``i`` of a causal feature depends on rows ``<= i`` only, so it equals the backtest's value). At
each :class:`EngineReady` it applies the engine's notes (fills, refusals: ``on_fill``,
``on_rejection`` and the refusal log of its view), calls ``on_slice`` with a view at that slice and a
read-only mirror of the account, and sends the orders as one :class:`SliceOrders` command (an empty
one says "done"). Orders get deterministic client order ids (``trader:slice:k``), and the answer to
a slice is kept until the next, so whatever is resent after a timeout or a restart is idempotent.

Cost: features are recomputed on the whole history at every slice the strategy is woken (O(n) per
slice); ``feature_window`` bounds that for long runs (exact only for features whose memory is shorter).
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import Any, Callable, Mapping

import numpy as np

from nofx.data.panel import BarPanel
from nofx.domain.errors import DataError, NofxError
from nofx.domain.orders import OrderRequest
from nofx.engine.market_data import build_rulebook_for
from nofx.messaging.commands import CommandClient, CommandTimeout
from nofx.messaging.messages import BarSlice, EngineReady, Hello, SliceNote, SliceOrders, SliceReply, SliceRequest
from nofx.messaging.system.runtime import ProcessRuntime
from nofx.messaging.system.spec import SystemSpec
from nofx.strategies.base import MarketView, PositionView, Strategy, StrategyContext
from nofx.strategies.refusals import RefusalLog

log = logging.getLogger("nofx.messaging.system")


class GrowingPanel:
    """Panel rows received by slice index (they may come out of order or twice), exposed as the
    prefix panel up to a slice once every row before it is in."""

    def __init__(self) -> None:
        self.symbols: tuple[str, ...] | None = None
        self.count = 0
        self._ts: np.ndarray = np.empty(0, dtype="datetime64[ns]")
        self._fields: dict[str, np.ndarray] = {}
        self._have: np.ndarray = np.zeros(0, dtype=bool)

    def add(self, s: BarSlice) -> None:
        if self.symbols is None:
            self.symbols = tuple(s.symbols)
            self.count = s.count
            self._ts = np.zeros(s.count, dtype="datetime64[ns]")
            self._fields = {k: np.full((s.count, len(s.symbols)), np.nan) for k in s.fields}
            self._have = np.zeros(s.count, dtype=bool)
        elif tuple(s.symbols) != self.symbols or s.count != self.count:
            raise DataError("the market-data feed changed its universe mid-run", slice=s.index)
        i = s.index
        self._ts[i] = np.datetime64(s.ts_ns, "ns")
        for k, row in s.fields.items():
            self._fields[k][i] = row
        self._have[i] = True

    def first_missing(self, upto: int) -> int | None:
        """The first slice ``<= upto`` not received yet (None: all are in)."""
        if self.symbols is None:
            return 0
        missing = np.flatnonzero(~self._have[: upto + 1])
        return int(missing[0]) if len(missing) else None

    def prefix(self, upto: int, window: int | None = None) -> tuple[BarPanel, int]:
        """The panel of rows ``..upto`` (the last ``window`` of them) and the offset of its first row."""
        lo = 0 if window is None else max(0, upto + 1 - window)
        return BarPanel(self._ts[lo: upto + 1], self.symbols or (),
                        {k: v[lo: upto + 1] for k, v in self._fields.items()}), lo


class _RecordingContext(StrategyContext):
    """``on_start``'s context: records each feature's function, computed later on the rows received."""

    def __init__(self, panel: BarPanel, rules: Any) -> None:
        super().__init__(panel, rules)
        self.functions: dict[str, Callable[[BarPanel], np.ndarray]] = {}

    def add_feature(self, name: str, fn: Callable[[BarPanel], np.ndarray]) -> None:
        self.functions[name] = fn


class PortfolioMirror:
    """The account as the engine reported it at this slice (read-only, :class:`PortfolioView`)."""

    def __init__(self, ready: EngineReady) -> None:
        self._cash = ready.cash
        self._equity = ready.equity
        self._pos = {p.symbol: PositionView(p.symbol, p.quantity, p.sellable, p.avg_cost) for p in ready.positions}

    @property
    def cash(self) -> Decimal:
        return self._cash

    def equity(self) -> float:
        return self._equity

    def quantity(self, symbol: str) -> int:
        p = self._pos.get(symbol)
        return p.quantity if p else 0

    def sellable(self, symbol: str) -> int:
        p = self._pos.get(symbol)
        return p.sellable if p else 0

    def positions(self) -> Mapping[str, PositionView]:
        return dict(self._pos)


class StrategyService:
    def __init__(self, spec: SystemSpec, trader_id: str, feature_window: int | None = None) -> None:
        import nofx.strategies.builtin  # noqa: F401  (registers the strategies)
        from nofx.strategies.registry import REGISTRY

        self.spec = spec
        self.trader = spec.trader(trader_id)
        self.strategy: Strategy = REGISTRY.create(self.trader.strategy.name, self.trader.strategy.params)
        self.rules = build_rulebook_for(spec.run.backtest)
        self.refusals = RefusalLog()
        self.panel = GrowingPanel()
        self.feature_window = feature_window
        b = spec.broker
        self.rt = ProcessRuntime(f"strategy-{trader_id}", "strategy", b.pub_endpoint, b.sub_endpoint,
                                 [f"md.slice.{spec.feed}", f"sys.ready.{trader_id}"])
        self.client = CommandClient(b.command_endpoint, f"strategy-{trader_id}", ctx=self.rt.ctx,
                                    timeout=spec.command_timeout_s, retries=2)
        self.rt.extra_counters.append(self.client.counters)
        self._ctx: _RecordingContext | None = None
        self.engine_id: str | None = None
        self.notes_seen = 0
        self.messages_sent = 0
        self.answered: tuple[int, list[OrderRequest]] | None = None  # the last slice answered and its orders
        self.pending: EngineReady | None = None
        self.done = False
        self._asked_at = 0.0
        self.slices_decided = 0

    # ---- the strategy -------------------------------------------------------------------------------
    def _start_strategy(self) -> None:
        empty, _ = self.panel.prefix(-1)
        self._ctx = _RecordingContext(empty, self.rules)
        self.strategy.on_start(self._ctx)

    def _apply(self, note: SliceNote) -> None:
        if note.fill is not None:
            self.strategy.on_fill(note.fill)
        elif note.request is not None:
            self.refusals.record(note.request, note.code, note.reason)
            self.strategy.on_rejection(note.request, note.code, note.reason)

    def _decide(self, ready: EngineReady) -> list[OrderRequest]:
        assert self._ctx is not None
        i = ready.index
        panel, lo = self.panel.prefix(i, self.feature_window)
        fns = self._ctx.functions
        wake = self.strategy.wake_on
        features: dict[str, np.ndarray] = {}
        active: dict[str, np.ndarray] = {}

        def compute(name: str) -> None:
            arr = np.asarray(fns[name](panel), dtype="float64")
            if arr.shape != panel.shape:
                raise DataError("feature has the wrong shape", feature=name, shape=arr.shape, expected=panel.shape)
            features[name] = arr
            active[name] = np.any(np.nan_to_num(arr) != 0, axis=1)

        if wake:
            compute(wake)
            if not active[wake][i - lo]:
                return []  # the backtester does not call the strategy on a quiet slice either
        for name in fns:
            if name not in features:
                compute(name)
        view = MarketView(panel, features, active, rules=self.rules, refusals=self.refusals)
        view.index = i - lo
        orders = list(self.strategy.on_slice(view, PortfolioMirror(ready)))
        tid = self.trader.id
        out = []
        for k, req in enumerate(orders):
            if not req.client_order_id:
                req = OrderRequest(req.symbol, req.side, req.quantity, req.order_type, req.limit_price, req.tif,
                                   f"{tid}:{i}:{k}", req.tag)
            out.append(req)
        return out

    # ---- the bus --------------------------------------------------------------------------------------
    async def _call(self, command: Any) -> SliceReply | None:
        try:
            return await self.client.call(command)  # type: ignore[return-value]
        except CommandTimeout:
            return None  # the engine is down or restarting: the caller tries again

    async def _hello(self) -> None:
        while not self.rt.stop.is_set():
            reply = await self._call(Hello(self.trader.id))
            if reply is None or not reply.ok:
                continue
            self.notes_seen = 0
            self.engine_id = None
            if reply.done:
                self.done = True
            elif reply.ready is not None:
                self.pending = reply.ready
            return

    def _take_notes(self, ready: EngineReady) -> bool:
        """Apply the notes of ``ready`` not applied yet; False if some are missing (ask again)."""
        if ready.engine != self.engine_id:
            if self.engine_id is not None:
                # a restarted engine numbers from its ledger: what it had before we have applied already
                self.notes_seen = ready.first_note
            self.engine_id = ready.engine
        if ready.first_note > self.notes_seen:
            return False
        for note in ready.notes[self.notes_seen - ready.first_note:]:
            self._apply(note)
            self.notes_seen += 1
        return True

    async def _answer(self, ready: EngineReady) -> None:
        i = ready.index
        missing = self.panel.first_missing(i)
        if missing is not None:
            now = time.monotonic()
            if now - self._asked_at > self.spec.resend_s:
                self._asked_at = now
                self.rt.publish("sys.want", SliceRequest(self.spec.feed, missing, i))
            return
        if not self._take_notes(ready):
            await self._hello()
            return
        if self.answered is not None and self.answered[0] == i:
            orders = self.answered[1]  # asked again (lost reply, restarted engine): the same answer
        else:
            orders = self._decide(ready)
            self.answered = (i, orders)
            self.slices_decided += 1
        msgs = self.strategy.messages[self.messages_sent:]
        reply = await self._call(SliceOrders(self.trader.id, i, orders, self.notes_seen, msgs))
        if reply is None:
            return  # the engine will publish this slice again (or its restart will)
        if reply.ok:
            self.messages_sent += len(msgs)
            self.rt.index = i
            self.pending = None
        elif reply.code != "SYS_NOT_READY":
            raise NofxError(f"the engine refused slice {i}: {reply.message}", code=reply.code)

    async def run(self) -> None:
        rt = self.rt
        self._start_strategy()
        await self._hello()
        while not rt.stop.is_set() and not self.done:
            for _, msg in await rt.receive(self.spec.resend_s):
                p = msg.payload
                if isinstance(p, BarSlice) and p.feed == self.spec.feed:
                    self.panel.add(p)
                elif isinstance(p, EngineReady) and p.trader == self.trader.id:
                    if p.done:
                        self.done = True
                    elif self.pending is None or p.index >= self.pending.index:
                        self.pending = p
            if self.pending is not None and not self.done:
                await self._answer(self.pending)


async def main_async(spec: SystemSpec, trader_id: str) -> int:
    svc = StrategyService(spec, trader_id, spec.trader(trader_id).feature_window)
    svc.rt.install_signals()
    print("ready", flush=True)
    try:
        await svc.run()
    finally:
        svc.client.close()
        svc.rt.close()
    return 0
