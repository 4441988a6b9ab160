"""Paper trading: replay real bars through the live kernel into the order-book venue, persisting every
order, fill and equity snapshot (write-ahead), resumable after a crash from exactly where the ledger
stands.

Resume works because (1) every event is committed before it is acknowledged, (2) the kernel rebuilds
its OMS and portfolio from the stored events, (3) the last equity snapshot records the last fully
processed slice, and (4) orders carry deterministic client order ids, so a slice that is replayed after
a crash re-submits the same ids and gets the first orders back instead of new ones.
"""

from __future__ import annotations

import gc
import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Callable

import numpy as np
import pandas as pd

from nofx.data.corporate_actions import plan_actions
from nofx.domain.errors import ConfigError, check_range
from nofx.domain.events import Event, OrderFilled
from nofx.domain.money import round_cents
from nofx.domain.orders import OrderRequest
from nofx.engine.clock import SimClock
from nofx.engine.kernel import TradingEngine
from nofx.engine.market_data import prepare_market, select_bars
from nofx.engine.matching import BarQuote
from nofx.engine.order_book import OrderBookExchange
from nofx.engine.portfolio import Portfolio
from nofx.engine.risk import RiskConfig, RiskEngine
from nofx.engine.router import Router, SplitConfig
from nofx.engine.store import EquitySnapshot, LedgerStore, TraderRecord
from nofx.progress import Progress
from nofx.strategies.base import MarketView, Strategy, StrategyContext
from nofx.strategies.refusals import RefusalLog


@dataclass(frozen=True)
class PaperSummary:
    trader_id: str
    start_index: int
    end_index: int
    slices: int
    fills: int
    refused: int
    equity: Decimal
    cash: Decimal
    resumed_events: int


MAX_SPEED = 1e6  # x real time; a day of minute bars then takes under a tenth of a second
MAX_LATENCY_MS = 60_000.0  # a simulated venue that answers after more than a minute is a typo


def check_paper_pacing(speed: float, latency_ms: float) -> None:
    """Refuse a pace or latency that is not finite, negative or absurd (ConfigError naming the option)."""
    check_range("--speed", speed, 0, MAX_SPEED)
    check_range("--latency-ms", latency_ms, 0, MAX_LATENCY_MS)


class PaperSession:
    """One trader's paper run. ``speed`` 0 replays as fast as possible; N paces bars at N x real time."""

    def __init__(self, bars: pd.DataFrame, strategy: Strategy, config: Any, store: LedgerStore, trader_id: str,
                 symbols: list[str] | None = None, speed: float = 0.0, risk: RiskConfig | None = None,
                 latency_ms: float = 0.0, split: SplitConfig | None = None, run_config: dict | None = None,
                 group_commit: bool = True, corporate_actions: bool | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        check_paper_pacing(speed, latency_ms)
        universe, _ = select_bars(bars, config, symbols)
        self.market = prepare_market(universe, config)
        self.strategy = strategy
        self.config = config
        self.store = store
        self.trader_id = trader_id
        self.speed = speed
        self.run_config = run_config or {}
        self._sleep = sleep
        panel = self.market.panel
        self.clock = SimClock(panel, self.market.lower, self.market.upper, exec_offset=1)
        self.exchange = OrderBookExchange(self.market.rulebook, self.clock, config.participation,
                                          timedelta(milliseconds=latency_ms), config.limit_fill_policy())
        self.portfolio = Portfolio(config.cash)
        self.portfolio.mark_source = self.clock.last_price_float
        self.engine = TradingEngine(trader_id, self.portfolio, self.market.rulebook, self.market.fee_model,
                                    RiskEngine(risk), Router(self.exchange, split), self.clock, store=store,
                                    group_commit=group_commit, dividend_tax=self.market.dividend_tax)
        self.engine.bound_history()
        use = corporate_actions if corporate_actions is not None else getattr(config, "corporate_actions", None)
        if use is None:
            use = config.rules != "none"
        if use and not getattr(store, "supports_corporate_actions", False):
            raise ConfigError("this ledger store cannot record corporate actions; pass corporate_actions=False")
        self.action_plan = plan_actions(universe, bars.attrs, getattr(config, "prices", "auto"), book=bool(use))
        self._actions: dict = {}
        for a in self.action_plan.actions:
            self._actions.setdefault(a.ex_date, []).append(a)
        self.exchange.listener = self.engine
        # held while a slice is processed: another thread (the API server) holds it to submit or cancel
        # orders on this engine between slices, so the kernel only ever runs one call at a time
        self.lock = threading.RLock()
        self.ready = threading.Event()  # set once the ledger is created or replayed (orders may come in)
        self.cursor = -1  # index of the last processed slice
        self._orders_filled = 0  # orders that got their first fill in this run
        self.engine.listeners.append(self._count_filled)
        self.engine.on_fill(strategy.on_fill)
        self.engine.on_rejection(strategy.on_rejection)
        self.refusals = RefusalLog()  # what the strategy's view shows of its refused orders
        self.engine.on_rejection(self.refusals.record)

    # ---- start / resume ---------------------------------------------------------------------------
    def _start(self, resume: bool) -> tuple[int, int]:
        existing = self.store.get_trader(self.trader_id)
        if not resume:
            if existing is not None:
                raise ConfigError("trader already has a ledger: use --resume, or another --trader",
                                  trader=self.trader_id)
            self.store.create_trader(TraderRecord(
                self.trader_id, self.config.cash, self._market_name(), json.dumps(self.run_config, default=str),
                datetime.now()))
            return 0, 0
        if existing is None:
            raise ConfigError("no ledger to resume for this trader", trader=self.trader_id)
        if existing.initial_cash != self.config.cash:
            raise ConfigError("resumed run must use the ledger's initial cash", ledger=existing.initial_cash,
                              given=self.config.cash)
        events = self.store.events(self.trader_id)
        n = self.engine.rebuild(events)
        snap = self.store.last_snapshot(self.trader_id)
        start = snap.cursor + 1 if snap is not None else 0
        # orders still open in the ledger go back on the venue's book, and their cash is reserved again
        if start > 0:
            self.clock.index = start - 1
        self.engine.restore_open_orders()
        return start, n

    def _market_name(self) -> str:
        return self.market.rulebook.name

    # ---- the loop -----------------------------------------------------------------------------------
    def run(self, resume: bool = False, progress: bool = True, stop_after: int | None = None,
            stop: threading.Event | None = None,
            on_slice: Callable[[int, datetime, Decimal, Decimal], None] | None = None) -> PaperSummary:
        """Replay from the start (or from the ledger's last snapshot with ``resume``). ``stop``: a set
        event ends the run cleanly after the current slice (paced waits wake at once). ``on_slice(i, ts,
        equity, cash)`` is called after each slice is durable."""
        with self.lock:
            start, replayed = self._start(resume)
            self.cursor = start - 1
        self.ready.set()
        # long-lived objects built at start (panel, features, rebuilt ledger) move out of the
        # collector's generations, so full collections stay short while orders flow
        gc.collect()
        gc.freeze()
        panel = self.market.panel
        ctx = StrategyContext(panel, rules=self.market.rulebook)
        self.strategy.on_start(ctx)
        view = MarketView(panel, ctx.features, ctx.active, rules=self.market.rulebook, refusals=self.refusals)
        n = len(panel.timestamps)
        end = n if stop_after is None else min(n, start + stop_after)
        ts = panel.timestamps
        days = ts.astype("datetime64[D]")
        day_end = np.append(days[1:] != days[:-1], True)
        symbols = panel.symbols
        col_of = {s: k for k, s in enumerate(symbols)}
        f = panel.fields
        lower, upper = self.market.lower, self.market.upper
        # counted, not measured on engine.rejections: a paper run keeps only its most recent refusals
        refused_before = self.refusals.count
        bar_progress = Progress(f"paper {self.trader_id}", end - start, enabled=progress and end > start).start()
        wait = stop.wait if stop is not None else self._sleep
        for i in range(start, end):
            if stop is not None and stop.is_set():
                end = i
                break
            with self.lock:  # released on any error too: the API must never wait on a dead worker
                self.clock.index = i
                view.index = i
                now = self.clock.now()
                self.portfolio.start_day(now.date())
                for action in self._actions.get(now.date(), ()):
                    self.engine.apply_corporate_action(action)  # idempotent across a crash and replay
                self.engine.release_due_children()
                if self.exchange.has_pending:
                    for sym in self.exchange.symbols_by_arrival():
                        col = col_of.get(sym)
                        if col is not None:
                            quote = BarQuote(f["open"][i, col], f["high"][i, col], f["low"][i, col],
                                             f["close"][i, col], f["volume"][i, col], f["trade_status"][i, col],
                                             lower[i, col], upper[i, col])
                            self.exchange.on_bar(sym, now, quote, bool(day_end[i]))
                orders = self.strategy.on_slice(view, self.portfolio)
                for k, req in enumerate(orders):
                    if not req.client_order_id:  # deterministic ids make a replayed slice idempotent
                        cid = f"{self.trader_id}:{pd.Timestamp(ts[i]):%Y%m%dT%H%M%S}:{k}"
                        req = OrderRequest(req.symbol, req.side, req.quantity, req.order_type, req.limit_price,
                                           req.tif, cid, req.tag)
                    self.engine.submit(req)
                # group commit: the slice's events become durable (and acknowledged) together, then the
                # snapshot marks the slice done; a crash before it replays the slice idempotently
                self.engine.flush()
                equity = self._snapshot(i, now)
                self.cursor = i
            if on_slice is not None:
                on_slice(i, now, equity, self.portfolio.cash)
            bar_progress.advance()
            if self.speed > 0 and i + 1 < n:
                gap = (ts[i + 1] - ts[i]) / np.timedelta64(1, "s")
                wait(gap / self.speed)
        bar_progress.stop()
        return PaperSummary(self.trader_id, start, end - 1, end - start, self._orders_filled,
                            self.refusals.count - refused_before, self._equity(), self.portfolio.cash,
                            replayed)

    def _count_filled(self, ev: Event) -> None:
        # counted as events pass: the OMS keeps only recent closed orders, so it cannot be summed at the end
        if isinstance(ev, OrderFilled) and self.engine.oms.get(ev.order_id).filled_qty == ev.fill.quantity:
            self._orders_filled += 1

    def _equity(self) -> Decimal:
        marks = {}
        for s in self.portfolio.raw_positions():
            px = self.clock.last_price(s)
            if px is not None:
                marks[s] = px
        return round_cents(self.portfolio.exact_equity(marks))

    def _snapshot(self, i: int, now: datetime) -> Decimal:
        equity = self._equity()
        self.store.snapshot(EquitySnapshot(self.trader_id, now, equity, self.portfolio.cash, i))
        return equity
