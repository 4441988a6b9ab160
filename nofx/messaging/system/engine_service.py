"""The engine process: every trader's account (risk, OMS, router, simulated exchange, ledger) on the
bus, stepping through the replay in lockstep with the strategy processes.

For each slice ``i`` of the replay it asks the market-data service for the slice, checks it is the bar
time its own simulated exchange is at, and then does exactly what the backtester's loop does
(:func:`nofx.backtest.runner.run_backtest`), with the strategy's call replaced by a round trip:

1. day start, corporate actions, resting orders matched against the bar (the engine's own part);
2. publish :class:`EngineReady` (the account, fills and refusals since the strategy's last slice) on
   ``sys.ready.<trader>``, and serve commands until every trader's :class:`SliceOrders` for ``i`` came
   (re-publishing the ready state if a strategy is silent: it may have restarted);
3. each order is submitted (and, with fills at the close, matched at once) in the order the strategy
   gave; the reply goes out after the ledger has committed them (acknowledged = durable);
The engine's part of a slice (1) is committed with an equity snapshot whose cursor is ``i`` before any
strategy hears of it. A restarted engine rebuilds every account from the ledger and continues with the
strategies' part of the last snapshot's slice (never matching that bar again); orders carry deterministic client order ids (``trader:slice:k``), so a strategy re-sending a
slice gets the first orders back, never second ones. The simulated exchange is the venue: it replays
the run's bars from the data file (a live system puts a broker gateway there, see docs/system.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec
import numpy as np
import pandas as pd

from nofx.backtest.annualisation import annualisation_for
from nofx.backtest.execute import dropped_notes, load_run_bars
from nofx.backtest.result import BacktestResult, Rejection
from nofx.backtest.runner import _equity_curve, _metrics
from nofx.data.corporate_actions import plan_actions
from nofx.domain.enums import Side
from nofx.domain.errors import DataError, NofxError
from nofx.domain.events import CorporateActionApplied, OrderDenied, OrderFilled, OrderRejected, OrderSubmitted
from nofx.domain.orders import OrderRequest
from nofx.engine.bar_exchange import BarExchange
from nofx.engine.clock import SimClock
from nofx.engine.kernel import RejectionRecord, TradingEngine
from nofx.engine.market_data import prepare_market, select_bars
from nofx.engine.portfolio import Portfolio
from nofx.engine.risk import RiskEngine
from nofx.engine.router import Router
from nofx.engine.store import EquitySnapshot, TraderRecord
from nofx.messaging.commands import CommandServer
from nofx.messaging.messages import (
    BarSlice,
    EngineReady,
    Hello,
    PositionState,
    SliceNote,
    SliceOrders,
    SliceReply,
    SliceRequest,
)
from nofx.messaging.pubsub import publisher_id
from nofx.messaging.system.runtime import ProcessRuntime
from nofx.messaging.system.spec import SystemSpec, TraderSpec

log = logging.getLogger("nofx.messaging.system")


@dataclass
class _Trader:
    spec: TraderSpec
    engine: TradingEngine
    portfolio: Portfolio
    exchange: BarExchange
    notes: list[SliceNote] = field(default_factory=list)
    notes_acked: int = 0  # notes the strategy process says it has applied
    messages: list[str] = field(default_factory=list)
    qty_changes: list[tuple[int, int, int]] = field(default_factory=list)
    applied: list[CorporateActionApplied] = field(default_factory=list)
    cash_at: np.ndarray | None = None
    resumed_at: int = -1  # the ledger already holds the engine's part of slices up to this one


class EngineService:
    def __init__(self, spec: SystemSpec, store: Any, name: str = "engine") -> None:
        self.spec = spec
        self.store = store
        self.id = publisher_id(name)
        run = spec.run
        bt = run.backtest
        bars, symbols = load_run_bars(run)
        self._bars_attrs = bars.attrs
        self._dropped = dropped_notes(bars)
        universe, bench = select_bars(bars, bt, symbols)
        market = self.market = prepare_market(universe, bt)
        panel = self.panel = market.panel
        self.at_open = bt.fill == "next_open"
        self.clock = SimClock(panel, market.lower, market.upper, exec_offset=1 if self.at_open else 0)
        self.bench = bench
        use_actions = bt.corporate_actions if bt.corporate_actions is not None else bt.rules != "none"
        self.plan = plan_actions(universe, bars.attrs, bt.prices, book=use_actions)
        self.actions_by_day: dict = {}
        for a in self.plan.actions:
            self.actions_by_day.setdefault(a.ex_date, []).append(a)
        self.col_of = {sym: k for k, sym in enumerate(panel.symbols)}
        self.n = len(panel.timestamps)
        self._ts_ns = panel.timestamps.astype("datetime64[ns]").astype(np.int64)
        days = self.clock.days
        self.new_day = [True] + [days[k] != days[k - 1] for k in range(1, self.n)]
        self.trade_from = int(np.searchsorted(panel.timestamps, np.datetime64(bt.start), "left")) \
            if bt.start and bt.warmup_bars else 0
        self.traders = {t.id: self._make_trader(t) for t in spec.traders}
        self.start = min(self._resume(t) for t in self.traders.values())
        self.current = -1
        self.waiting: set[str] = set()
        self.finished = False
        self._slice: BarSlice | None = None
        b = spec.broker
        self.rt = ProcessRuntime(name, "engine", b.pub_endpoint, b.sub_endpoint, [f"md.slice.{spec.feed}"])
        self.commands = CommandServer(b.engine_endpoint, self.handle, name=name, ctx=self.rt.ctx)
        self.rt.extra_counters.append(self.commands.counters)
        self._slice_done = asyncio.Event()

    # ---- accounts ---------------------------------------------------------------------------------
    def _make_trader(self, t: TraderSpec) -> _Trader:
        m, bt = self.market, self.spec.run.backtest
        exchange = BarExchange(self.panel, m.lower, m.upper, m.rulebook, bt.participation, bt.limit_fill_policy())
        portfolio = Portfolio(bt.cash)
        portfolio.mark_source = self.clock.last_price_float
        engine = TradingEngine(t.id, portfolio, m.rulebook, m.fee_model, RiskEngine(self.spec.run.risk),
                               Router(exchange), self.clock, store=self.store, group_commit=True,
                               dividend_tax=m.dividend_tax)
        exchange.listener = engine
        tr = _Trader(t, engine, portfolio, exchange)
        tr.cash_at = np.full(self.n, np.nan)
        col = self.col_of
        engine.on_fill(lambda f: tr.notes.append(SliceNote(fill=f)))
        engine.on_fill(lambda f: tr.qty_changes.append(
            (self.clock.index, col[f.symbol], f.quantity if f.side is Side.BUY else -f.quantity)))
        engine.on_rejection(lambda req, code, reason: tr.notes.append(SliceNote(request=req, code=code, reason=reason)))
        return tr

    def _resume(self, tr: _Trader) -> int:
        """Rebuild ``tr`` from the ledger, slice by slice (so the equity curve's cash and quantity
        changes land on the slices they happened at); returns the first slice still to do."""
        store, tid = self.store, tr.spec.id
        if store.get_trader(tid) is None:
            store.create_trader(TraderRecord(tid, self.spec.run.backtest.cash, self.market.rulebook.name,
                                             json.dumps({"system": tr.spec.model_dump(mode="json")}, default=str),
                                             datetime.now()))
            return 0
        snap = store.last_snapshot(tid)
        events = store.events(tid)
        requests: dict[str, OrderRequest] = {}
        by_slice: dict[int, list] = {}
        ts_index = {int(t): k for k, t in enumerate(self._ts_ns)}
        for ev in events:
            k = ts_index.get(int(pd.Timestamp(ev.ts).value))
            if k is None:
                raise DataError("the ledger has an event at a time that is not a slice of this run's data "
                                "(another run's ledger?)", trader=tid, ts=ev.ts)
            by_slice.setdefault(k, []).append(ev)
        eng, pf = tr.engine, tr.portfolio
        for k in sorted(by_slice):
            self.clock.index = k
            evs = by_slice[k]
            eng.rebuild(evs)
            for ev in evs:
                if isinstance(ev, OrderSubmitted):
                    requests[ev.order_id] = ev.request
                elif isinstance(ev, (OrderDenied, OrderRejected)) and ev.order_id in requests:
                    eng.rejections.append(RejectionRecord(ev.ts, requests[ev.order_id], ev.code, ev.reason))
                    tr.notes.append(SliceNote(request=requests[ev.order_id], code=ev.code, reason=ev.reason))
                elif isinstance(ev, OrderFilled):
                    f = ev.fill
                    tr.notes.append(SliceNote(fill=f))
                    tr.qty_changes.append((k, self.col_of[f.symbol], f.quantity if f.side is Side.BUY else -f.quantity))
                elif isinstance(ev, CorporateActionApplied):
                    tr.applied.append(ev)
                    tr.qty_changes.append((k, self.col_of[ev.symbol], ev.quantity_after - ev.quantity_before))
            tr.cash_at[k] = float(pf.cash)  # type: ignore[index]
        # the strategy process has applied every note of the previous engine (or will ask for all: Hello)
        tr.notes_acked = len(tr.notes)
        if snap is None:
            return 0
        # the snapshot of slice i is written when the engine's own part of i is done: resume there,
        # with the strategies' part (idempotent by client order id) still to do
        start = snap.cursor
        self.clock.index = start
        pf.start_day(self.clock.days[start])
        eng.restore_open_orders()
        tr.resumed_at = start
        return start

    # ---- commands -----------------------------------------------------------------------------------
    def _ready(self, tr: _Trader) -> EngineReady:
        pf = tr.portfolio
        positions = [PositionState(s, p.quantity, p.sellable, p.avg_cost) for s, p in pf.positions().items()]
        first = tr.notes_acked
        return EngineReady(self.id, tr.spec.id, self.current, pf.cash, pf.equity(), positions, first,
                           tr.notes[first:])

    def handle(self, command: Any, seq: int) -> SliceReply:
        if isinstance(command, Hello):
            tr = self.traders.get(command.trader)
            if tr is None:
                return SliceReply(seq, False, code="SYS_UNKNOWN_TRADER", message=command.trader)
            tr.notes_acked = 0  # a new strategy process: it gets every note again
            ready = self._ready(tr) if command.trader in self.waiting else None
            return SliceReply(seq, True, ready=ready, done=self.finished)
        if not isinstance(command, SliceOrders):
            return SliceReply(seq, False, code="SYS_UNSUPPORTED", message="send orders as SliceOrders")
        tr = self.traders.get(command.trader)
        if tr is None:
            return SliceReply(seq, False, code="SYS_UNKNOWN_TRADER", message=command.trader)
        if command.index == self.current and command.trader in self.waiting:
            try:
                orders = self._submit(tr, command)
            except NofxError as e:
                return SliceReply(seq, False, code=e.code, message=str(e))
            self.waiting.discard(command.trader)
            if not self.waiting:
                self._slice_done.set()
            return SliceReply(seq, True, orders)
        if command.index < self.current or (command.index == self.current and command.trader not in self.waiting):
            # a retry of a slice already done: the same orders, found by their client order ids
            found = [tr.engine.oms.find_client_order(r.client_order_id) for r in command.orders]
            return SliceReply(seq, True, [o for o in found if o is not None], done=self.finished)
        return SliceReply(seq, False, code="SYS_NOT_READY", message=f"engine at slice {self.current}")

    def _submit(self, tr: _Trader, command: SliceOrders) -> list:
        tr.notes_acked = max(tr.notes_acked, min(command.notes_seen, len(tr.notes)))
        tr.messages.extend(command.messages)
        eng, i = tr.engine, self.current
        out = []
        for req in command.orders:
            if not req.client_order_id:
                raise NofxError("an order sent over the bus needs a client_order_id", code="ORDER_NO_CLIENT_ID")
            known = eng.oms.find_client_order(req.client_order_id)
            out.append(eng.submit(req))
            # at the close an order meets the bar as soon as it arrives (as in the backtester); a resent
            # order (the engine restarted within the slice) already met it
            if known is None and not self.at_open and tr.exchange.has_pending:
                tr.exchange.match(i, False)
        eng.flush()  # acknowledged only once durable
        return out

    # ---- the replay ---------------------------------------------------------------------------------
    async def _get_slice(self, i: int) -> BarSlice | None:
        """Slice ``i`` from the market-data service (asked for again every ``resend_s``); None if stopped."""
        rt, feed = self.rt, self.spec.feed
        while not rt.stop.is_set():
            rt.publish("sys.want", SliceRequest(feed, i, i))
            deadline = time.monotonic() + self.spec.resend_s
            while (left := deadline - time.monotonic()) > 0:
                for _, msg in await rt.receive(left):
                    s = msg.payload
                    if isinstance(s, BarSlice) and s.index == i:
                        if s.ts_ns != self._ts_ns[i] or s.count != self.n:
                            raise DataError("the market-data feed is not this run's data",
                                            slice=i, feed_ts=s.ts_ns, engine_ts=int(self._ts_ns[i]))
                        return s
        return None

    def _pre_slice(self, i: int) -> None:
        """The engine's part of slice ``i`` before the strategies decide (the backtester's loop head),
        committed with a snapshot whose cursor is ``i`` before any strategy hears of it."""
        self.clock.index = i
        day = self.clock.days[i]
        now = self.clock.now()
        for tr in self.traders.values():
            tr._nf = len(tr.qty_changes)  # type: ignore[attr-defined]
            if i <= tr.resumed_at:
                continue  # done before a restart: matching again would fill the same bar twice
            if self.new_day[i]:
                tr.portfolio.start_day(day)
                for action in self.actions_by_day.get(day, ()):
                    ev = tr.engine.apply_corporate_action(action)
                    if ev is not None:
                        tr.applied.append(ev)
                        tr.qty_changes.append((i, self.col_of[ev.symbol], ev.quantity_after - ev.quantity_before))
            if tr.exchange.has_pending:
                tr.exchange.match(i, True)
            tr.engine.flush()
            self.store.snapshot(EquitySnapshot(tr.spec.id, now, Decimal(repr(tr.portfolio.equity())).quantize(
                Decimal("0.01")), tr.portfolio.cash, i))

    def _post_slice(self, i: int) -> None:
        for tr in self.traders.values():
            if len(tr.qty_changes) != tr._nf:  # type: ignore[attr-defined]
                tr.cash_at[i] = float(tr.portfolio.cash)  # type: ignore[index]
            tr.engine.flush()

    async def run(self) -> None:
        rt = self.rt
        serve = asyncio.create_task(self.commands.serve(rt.stop))
        try:
            for i in range(max(self.start, self.trade_from), self.n):
                if await self._get_slice(i) is None:
                    return
                rt.index = i
                self._pre_slice(i)
                self.current = i
                self.waiting = set(self.traders)
                self._slice_done.clear()
                while self.waiting and not rt.stop.is_set():
                    for tid in sorted(self.waiting):
                        rt.publish(f"sys.ready.{tid}", self._ready(self.traders[tid]))
                    try:
                        await asyncio.wait_for(self._slice_done.wait(), self.spec.resend_s * 4)
                    except asyncio.TimeoutError:
                        pass
                if rt.stop.is_set():
                    return
                self._post_slice(i)
            self._finish()
            self.finished = True
            # strategies waiting for a next slice learn that the replay is over
            self.current = self.n
            for tid, tr in self.traders.items():
                rt.publish(f"sys.ready.{tid}", msgspec.structs.replace(self._ready(tr), done=True))
        finally:
            rt.stop.set()
            await serve

    def _finish(self) -> None:
        for tr in self.traders.values():
            eng = tr.engine
            for order in list(eng.oms.open_orders.values()):  # orders waiting for a bar that never came
                eng.on_venue_expire(order, "backtest ended before the order could execute")
            eng.flush()
            result = self.result(tr)
            if tr.spec.json_path:
                result.write_json(tr.spec.json_path)

    def result(self, tr: _Trader) -> BacktestResult:
        """The trader's run as the backtester reports it (same fields, same JSON)."""
        bt, panel, trade_from = self.spec.run.backtest, self.panel, self.trade_from
        equity = _equity_curve(panel, self.clock.marks, tr.qty_changes, tr.cash_at, bt.cash).iloc[trade_from:]
        bench_aligned = None
        if self.bench is not None:
            bench_aligned = self.bench.reindex(equity.index).ffill().rename(bt.benchmark)
        eng, pf = tr.engine, tr.portfolio
        rejections = [Rejection(pd.Timestamp(r.ts), r.request.symbol, r.request.side.value, r.request.quantity,
                                r.code, r.reason) for r in eng.rejections]
        traded = sorted({f.symbol for f in eng.fills})
        prices = pd.DataFrame(panel.fields["close"][trade_from:, [panel.column(s) for s in traded]],
                              index=equity.index, columns=traded) if traded else None
        from nofx.strategies.registry import REGISTRY

        strategy = REGISTRY.create(tr.spec.strategy.name, tr.spec.strategy.params)
        result = BacktestResult(
            strategy=strategy.name, params=strategy.params.model_dump(mode="json"), initial_cash=bt.cash,
            trades=list(eng.fills), equity=equity, rejections=rejections, benchmark=bench_aligned,
            prices=prices, messages=[*self._dropped, *self.plan.notes, *tr.messages], final_cash=pf.cash,
            fees_paid=pf.fees_paid, dividends=pf.dividends, corporate_actions=tr.applied,
            price_basis=self.plan.prices.basis, tax_withheld=pf.tax_withheld, dividend_tax=pf.dividend_tax,
            dividend_tax_events=list(eng.tax_events), annualisation=annualisation_for(equity.index, panel.symbols),
            fee_model=self.market.fee_model)
        if self.market.dividend_tax is not None and (pf.tax_withheld or pf.dividend_tax):
            result.messages.append(
                f"dividend tax: investor {self.market.dividend_tax.investor}; withheld at source "
                f"{pf.tax_withheld:,.2f}, deducted at sale {pf.dividend_tax:,.2f}")
        result.metrics = _metrics(result)
        if not pf.reconciles():
            raise AssertionError("ledger does not reconcile: cash != initial - buys + sells - fees + dividends - tax")
        return result


async def main_async(spec: SystemSpec) -> int:
    import nofx.strategies.builtin  # noqa: F401  (registers the strategies the result names)
    from nofx.persistence.store import SqlLedgerStore

    store = SqlLedgerStore(spec.ledger)
    try:
        svc = EngineService(spec, store)
        svc.rt.install_signals()
        print("ready", flush=True)
        try:
            await svc.run()
        finally:
            svc.commands.close()
            svc.rt.close()
    finally:
        store.close()
    return 0


__all__ = ["EngineService", "main_async"]
