"""The lockstep replay: every trader of a competition on the same clock, the same bars, the same rules.

One market (panel, limit bands, rule book, fee model) and one clock are shared by every trader; each
trader has its own portfolio, order-book venue, trading engine and ledger (same database, trader ids
``<competition>.<name>.<run>``). A step is one bar slice:

1. every trader's engine meets the bar (start of day, corporate actions, resting orders);
2. baselines decide (synchronously); AI traders open their decision cycles, then all their model calls run
   concurrently (``asyncio.gather``; the shared :class:`~nofx.ai.client.EndpointPool` holds each endpoint's
   concurrency limit) with a per-trader timeout: a trader whose endpoint is slow or failing misses this
   cycle (logged as failed), the others are not delayed past the timeout;
3. each trader's orders go through its own risk -> OMS -> router -> venue -> ledger path;
4. the step's events are committed in one transaction, then each trader's equity snapshot marks the
   slice done (a resume continues after it).

The replay advances only when every trader has answered or timed out. Nothing a trader does reaches
another trader: changing the order of the traders changes no result (tested).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Callable

import numpy as np
import pandas as pd

from nofx.ai.cache import ReplyCache
from nofx.ai.client import EndpointPool, LLMClient
from nofx.ai.config import AIRunConfig
from nofx.ai.driver import CachedCaller
from nofx.ai.paper import LoggedTrader
from nofx.arena.config import CompetitionConfig, Entrant
from nofx.data.corporate_actions import plan_actions
from nofx.domain.errors import ConfigError
from nofx.domain.money import round_cents
from nofx.domain.orders import OrderRequest
from nofx.engine.clock import SimClock
from nofx.engine.kernel import TradingEngine
from nofx.engine.market_data import PreparedMarket
from nofx.engine.matching import BarQuote
from nofx.engine.order_book import OrderBookExchange
from nofx.engine.portfolio import Portfolio
from nofx.engine.risk import RiskEngine
from nofx.engine.router import Router
from nofx.engine.store import EquitySnapshot, TraderRecord
from nofx.persistence.decisions import DecisionLog
from nofx.persistence.store import SqlLedgerStore
from nofx.strategies.ai.cycle import Cycle, ModelReply
from nofx.strategies.base import MarketView, Strategy, StrategyContext
from nofx.strategies.refusals import RefusalLog

ARENA_CONFIG_KEY = "arena"  # marks an arena trader's config in the traders table
_BAR_FIELDS = ("open", "high", "low", "close", "volume", "trade_status")
# per-trader columns of the AI context's market table: everything else is the market, the same for all
_OWN_COLUMNS = frozenset({"held", "sellable"})


@dataclass
class StepTimes:
    """Seconds spent per phase, summed over steps (the benchmark's split)."""

    context: float = 0.0  # AI traders' point-in-time context and prompt (begin of the cycle)
    model: float = 0.0  # waiting for the models (wall time of the concurrent calls)
    validation: float = 0.0  # parsing, validation, limits, decision log (the end of the cycle)
    engine: float = 0.0  # bars meeting resting orders, risk/OMS/venue, ledger commit, snapshots
    baselines: float = 0.0  # classic strategies deciding
    steps: int = 0

    def per_step_ms(self) -> dict[str, float]:
        n = max(self.steps, 1)
        return {k: round(getattr(self, k) / n * 1000, 3) for k in ("context", "model", "validation", "engine",
                                                                      "baselines")}


class _Stepper:
    """What every engine does at a slice, whoever decides (a seat, or a seat's private replay)."""

    trader_id: str
    portfolio: Portfolio
    exchange: OrderBookExchange
    engine: TradingEngine

    def meet_bar(self, i: int, now: datetime, actions: Any, market: PreparedMarket, day_end: bool) -> None:
        self.portfolio.start_day(now.date())
        for action in actions:
            self.engine.apply_corporate_action(action)  # idempotent across a crash and replay
        self.engine.release_due_children()
        if self.exchange.has_pending:
            f = market.panel.fields
            for col, sym in enumerate(market.panel.symbols):
                if self.exchange.resting(sym):
                    quote = BarQuote(f["open"][i, col], f["high"][i, col], f["low"][i, col], f["close"][i, col],
                                     f["volume"][i, col], f["trade_status"][i, col], market.lower[i, col],
                                     market.upper[i, col])
                    self.exchange.on_bar(sym, now, quote, day_end)

    def submit(self, orders: list[OrderRequest], ts: np.datetime64) -> None:
        for k, req in enumerate(orders):
            if not req.client_order_id:  # deterministic ids make a replayed slice idempotent
                cid = f"{self.trader_id}:{pd.Timestamp(ts):%Y%m%dT%H%M%S}:{k}"
                req = OrderRequest(req.symbol, req.side, req.quantity, req.order_type, req.limit_price, req.tif,
                                   cid, req.tag)
            self.engine.submit(req)


@dataclass
class _Shadow(_Stepper):
    trader_id: str
    portfolio: Portfolio
    exchange: OrderBookExchange
    engine: TradingEngine


@dataclass(frozen=True)
class Steps:
    """Per-slice facts of the replay: corporate actions by day, and whether a slice ends its day."""

    actions: dict
    day_end: np.ndarray


def engine_kit(trader_id: str, cfg: CompetitionConfig, market: PreparedMarket, clock: SimClock,
               store: SqlLedgerStore | None) -> tuple[Portfolio, OrderBookExchange, TradingEngine]:
    """A trader's own portfolio, venue and engine on the shared market and clock (the paper engine's
    order path: orders execute from the next bar)."""
    bt = cfg.backtest
    portfolio = Portfolio(bt.cash)
    portfolio.mark_source = clock.last_price_float
    exchange = OrderBookExchange(market.rulebook, clock, bt.participation, timedelta(0), bt.limit_fill_policy())
    engine = TradingEngine(trader_id, portfolio, market.rulebook, market.fee_model, RiskEngine(cfg.risk),
                           Router(exchange), clock, store=store, group_commit=store is not None,
                           dividend_tax=market.dividend_tax)
    exchange.listener = engine
    return portfolio, exchange, engine


class StepDecisionLog:
    """The decision log seen by an arena's AI traders: a cycle's record is kept until the step ends, then
    every trader's records of the step are written in one transaction (reads go to the log itself)."""

    def __init__(self, log: DecisionLog) -> None:
        self.log = log
        self.pending: list[tuple[Any, Any]] = []

    def record(self, row: Any, prompts: Any) -> None:
        self.pending.append((row, prompts))

    def flush(self) -> None:
        if self.pending:
            items, self.pending = self.pending, []
            self.log.record_many(items)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.log, name)


class Seat(_Stepper):
    """One trader at the table: its strategy, engine, venue, portfolio and view of the shared market."""

    def __init__(self, entrant: Entrant, cfg: CompetitionConfig, market: PreparedMarket, clock: SimClock,
                 store: SqlLedgerStore, log: DecisionLog | StepDecisionLog, pool: EndpointPool) -> None:
        self.entrant = entrant
        self.trader_id = entrant.trader_id
        bt = cfg.backtest
        self.portfolio, self.exchange, self.engine = engine_kit(self.trader_id, cfg, market, clock, store)
        self.refusals = RefusalLog()
        self.engine.on_rejection(self.refusals.record)
        self.caller: CachedCaller | None = None
        self.ai: LoggedTrader | None = None
        if entrant.kind == "ai":
            assert entrant.ai is not None
            run_cfg = AIRunConfig(trader=entrant.ai, data=cfg.data, backtest=cfg.backtest, risk=cfg.risk)
            ai = LoggedTrader(run_cfg, log)
            ep = entrant.ai.endpoint()
            cache = ReplyCache(ep.cache_dir, ep.cache) if ep.cache != "off" else None
            ai.caller.close()  # its own single-trader caller: replaced by one on the arena's shared pool
            self.caller = CachedCaller(ep, cache, LLMClient(ep, pool))
            ai.caller = self.caller
            ai.core.responder = self.caller
            ai.attach_engine(self.engine)
            self.ai = ai
            self.strategy: Strategy = ai
        else:
            import nofx.strategies.builtin  # noqa: F401  (registers the strategies)
            from nofx.strategies.registry import REGISTRY

            b = entrant.baseline
            assert b is not None
            self.strategy = REGISTRY.create(b.strategy, b.params)
        self.engine.on_fill(self.strategy.on_fill)
        self.engine.on_rejection(self.strategy.on_rejection)
        self.view: MarketView | None = None
        self.start = 0  # first slice this seat processes (later than the others' after a partial step)
        self.seen_chain = hashlib.sha256(b"nofx-arena")
        self.seen: dict[int, str] = {}  # slice -> hash of the bars this trader's view showed
        self.context_seen: dict[int, str] = {}  # slice -> hash of the market part of its prompt (AI)
        self.equity: list[tuple[int, float]] = []  # (slice, equity) this process saw
        self.missed = 0  # cycles lost to the step timeout
        self.initial = float(bt.cash)
        # live figures for the leaderboard (the final ones are scored from the ledger)
        self.live_wins = [0, 0]  # closing sells that made money, closing sells
        self.live_invalid = 0
        self.live_refused = 0
        self.live_cached_tokens = 0
        self._held: dict[str, tuple[int, float]] = {}  # symbol -> (quantity, cost incl. fees)
        self.engine.on_fill(self._track_win)

    def _track_win(self, fill: Any) -> None:
        qty, cost = self._held.get(fill.symbol, (0, 0.0))
        if fill.side.value == "buy":
            self._held[fill.symbol] = (qty + fill.quantity, cost + float(fill.price) * fill.quantity + float(fill.fee))
            return
        matched = min(fill.quantity, qty)
        if matched <= 0:
            return
        basis = cost * matched / qty
        pnl = float(fill.price) * matched - float(fill.fee) * matched / fill.quantity - basis
        self.live_wins[0] += pnl > 0
        self.live_wins[1] += 1
        self._held[fill.symbol] = (qty - matched, cost - basis)

    def count_cycle(self) -> None:
        """Live counts from the cycle just completed (invalid replies, refusals by the limits, cached tokens)."""
        rec = self.ai.core.last_record if self.ai is not None else None
        if rec is None:
            return
        self.live_invalid += sum(1 for req, _ in rec.exchanges if req.purpose == "repair")
        self.live_invalid += "invalid reply" in (rec.error or "")
        self.live_refused += sum(1 for o in rec.outcomes if o.status == "refused")
        self.live_cached_tokens += sum(r.prompt_tokens + r.completion_tokens for _, r in rec.exchanges if r.cached)

    def config_json(self, cfg: CompetitionConfig) -> str:
        e = self.entrant
        d: dict[str, Any] = {"competition": cfg.competition.id, "name": e.name, "kind": e.kind, "run": e.run}
        if e.ai is not None:
            d["trader"] = e.ai.model_dump(mode="json")
        if e.baseline is not None:
            d["strategy"] = {"name": e.baseline.strategy, "params": e.baseline.params}
        d.update(backtest=cfg.backtest.model_dump(mode="json"), risk=cfg.risk.model_dump(mode="json"))
        return json.dumps({ARENA_CONFIG_KEY: d}, default=str, sort_keys=True)

    def open(self, cfg: CompetitionConfig, store: SqlLedgerStore, clock: SimClock, market: PreparedMarket,
             trade_from: int, resume: bool, steps: "Steps") -> None:
        """Create the trader's ledger, or rebuild it (resume) and find where this trader continues."""
        existing = store.get_trader(self.trader_id)
        if existing is None:
            store.create_trader(TraderRecord(self.trader_id, cfg.backtest.cash, market.rulebook.name,
                                             self.config_json(cfg), datetime.now(timezone.utc)))
            self.start = trade_from
        elif not resume:
            raise ConfigError("trader already has a ledger: use --resume, or another competition id",
                              trader=self.trader_id)
        else:
            self.engine.rebuild(store.events(self.trader_id))
            snap = store.last_snapshot(self.trader_id)
            self.start = max(trade_from, snap.cursor + 1) if snap is not None else trade_from
            if self.start > 0:
                clock.index = self.start - 1
            self.engine.restore_open_orders()
        ctx = StrategyContext(market.panel, rules=market.rulebook)
        if self.ai is not None and resume:
            self.ai.prepare_resume(self.start)
        self.strategy.on_start(ctx)
        self.view = MarketView(market.panel, ctx.features, ctx.active, rules=market.rulebook,
                               refusals=self.refusals)
        if self.ai is None and self.start > trade_from:
            self._warm(cfg, market, store, trade_from, steps)
        for j in range(trade_from, self.start):  # what it was shown before the resume point
            self.fingerprint(j)

    def _warm(self, cfg: CompetitionConfig, market: PreparedMarket, store: SqlLedgerStore, trade_from: int,
              steps: "Steps") -> None:
        """A classic strategy keeps state of its own (targets, pending buys, the refusals its view shows).
        It is deterministic, so replaying it over the slices before the resume point on a private,
        unpersisted engine rebuilds that state; the replay must reproduce the ledger's fills, or the
        strategy cannot be resumed (an error, never a silently different result)."""
        clock = SimClock(market.panel, market.lower, market.upper, exec_offset=1)
        portfolio, exchange, engine = engine_kit(self.trader_id, cfg, market, clock, None)
        engine.on_fill(self.strategy.on_fill)
        engine.on_rejection(self.strategy.on_rejection)
        engine.on_rejection(self.refusals.record)
        shadow = _Shadow(self.trader_id, portfolio, exchange, engine)
        ts = market.panel.timestamps
        assert self.view is not None
        for i in range(trade_from, self.start):
            clock.index = i
            now = clock.now()
            shadow.meet_bar(i, now, steps.actions.get(now.date(), ()), market, bool(steps.day_end[i]))
            self.view.index = i
            shadow.submit(list(self.strategy.on_slice(self.view, portfolio)), ts[i])  # type: ignore[arg-type]
        cut = pd.Timestamp(ts[self.start]).to_pydatetime() if self.start < len(ts) else None
        stored = [(f.order_id, f.symbol, f.quantity, f.price) for f in store.all_fills(self.trader_id)
                  if cut is None or f.ts.replace(tzinfo=None) < cut]
        replayed = [(f.order_id, f.symbol, f.quantity, f.price) for f in engine.fills]
        if stored != replayed:
            raise ConfigError("this strategy does not replay to its ledger, so it cannot be resumed",
                              trader=self.trader_id, ledger_fills=len(stored), replayed_fills=len(replayed))

    # ---- fairness records -----------------------------------------------------------------------
    def fingerprint(self, i: int) -> str:
        """Hash of the bars this trader's own view shows at slice ``i`` (all symbols, all fields)."""
        assert self.view is not None
        self.view.index = i
        h = hashlib.sha256(str(self.view.timestamp).encode())
        for f in _BAR_FIELDS:
            h.update(np.ascontiguousarray(self.view.current(f)).tobytes())
        digest = h.hexdigest()
        self.seen[i] = digest[:16]
        self.seen_chain.update(digest.encode())
        return digest

    def record_context(self, i: int, cycle: Cycle) -> None:
        """Hash of the market part of the AI trader's prompt (its own columns left out)."""
        if cycle.guard is not None:
            return  # aliases and rescaled prices: not comparable with unguarded traders by design
        start = cycle.user.find("{")
        try:
            ctx = json.loads(cycle.user[start:cycle.user.rfind("}") + 1])
        except ValueError:
            return
        market = ctx.get("market") or {}
        cols = market.get("columns") or []
        keep = [k for k, c in enumerate(cols) if c not in _OWN_COLUMNS]
        rows = sorted([[r[k] for k in keep] for r in market.get("rows") or []], key=lambda r: str(r[0]))
        text = json.dumps({"columns": [cols[k] for k in keep], "rows": rows, "time": ctx.get("time")},
                          sort_keys=True, default=str)
        self.context_seen[i] = hashlib.sha256(text.encode()).hexdigest()[:16]

    def equity_now(self, clock: SimClock) -> Decimal:
        marks = {}
        for s in self.portfolio.raw_positions():
            px = clock.last_price(s)
            if px is not None:
                marks[s] = px
        return round_cents(self.portfolio.exact_equity(marks))


async def _drive(seat: Seat, cycle: Cycle, times: StepTimes) -> None:
    assert seat.caller is not None
    while (req := cycle.next_request()) is not None:
        reply = await seat.caller.acall(req)
        t0 = time.perf_counter()
        cycle.feed(reply)
        times.validation += time.perf_counter() - t0


async def _drive_with_timeout(seat: Seat, cycle: Cycle, timeout: float, times: StepTimes) -> None:
    try:
        await asyncio.wait_for(_drive(seat, cycle, times), timeout)
    except asyncio.TimeoutError:
        seat.missed += 1
        while (req := cycle.next_request()) is not None:  # every remaining role: the cycle holds
            cycle.feed(ModelReply(None, f"no answer within the arena's step timeout ({timeout:g} s)", attempts=0))


@dataclass
class ReplayOutcome:
    seats: list[Seat]
    times: StepTimes
    first: int  # first slice processed by this process
    last: int  # last slice processed (-1: none)
    finished: bool  # reached the end of the data
    usage: dict[str, dict[str, Any]] = field(default_factory=dict)


def trade_start(market: PreparedMarket, cfg: CompetitionConfig) -> int:
    bt = cfg.backtest
    if bt.start and bt.warmup_bars:
        return int(np.searchsorted(market.panel.timestamps, np.datetime64(bt.start), "left"))
    return 0


async def replay(cfg: CompetitionConfig, entrants: list[Entrant], market: PreparedMarket,
                 universe: pd.DataFrame, bars_attrs: dict,
                 store: SqlLedgerStore, resume: bool = False, stop_after: int | None = None,
                 on_step: Callable[[int, list[Seat]], None] | None = None,
                 after_open: Callable[[list[Seat]], None] | None = None) -> ReplayOutcome:
    """Run (or continue) the lockstep replay of ``entrants`` and return their seats."""
    panel = market.panel
    clock = SimClock(panel, market.lower, market.upper, exec_offset=1)
    pool = EndpointPool()
    log = StepDecisionLog(DecisionLog(store))
    seats = [Seat(e, cfg, market, clock, store, log, pool) for e in entrants]
    trade_from = trade_start(market, cfg)
    bt = cfg.backtest
    use = bt.corporate_actions if bt.corporate_actions is not None else bt.rules != "none"
    actions_by_day: dict = {}
    for a in plan_actions(universe, bars_attrs, bt.prices, book=bool(use)).actions:
        actions_by_day.setdefault(a.ex_date, []).append(a)
    ts = panel.timestamps
    n = len(ts)
    days = ts.astype("datetime64[D]")
    day_end = np.append(days[1:] != days[:-1], True)
    steps = Steps(actions_by_day, day_end)
    for seat in seats:
        seat.open(cfg, store, clock, market, trade_from, resume, steps)
    if after_open is not None:
        after_open(seats)
    first = min((s.start for s in seats), default=n)
    end = n if stop_after is None else min(n, first + stop_after)
    times = StepTimes()
    timeout = cfg.competition.step_timeout_s
    last = first - 1
    try:
        for i in range(first, end):
            clock.index = i
            now = clock.now()
            active = [s for s in seats if s.start <= i]
            t0 = time.perf_counter()
            for s in active:
                s.meet_bar(i, now, actions_by_day.get(now.date(), ()), market, bool(day_end[i]))
            t1 = time.perf_counter()
            times.engine += t1 - t0
            orders: dict[str, list[OrderRequest]] = {}
            for s in active:
                s.fingerprint(i)
                if s.ai is None:
                    orders[s.trader_id] = list(s.strategy.on_slice(s.view, s.portfolio))  # type: ignore[arg-type]
            t2 = time.perf_counter()
            times.baselines += t2 - t1
            opened: list[tuple[Seat, list[OrderRequest], Cycle | None]] = []
            for s in active:
                if s.ai is not None:
                    exits, cycle = s.ai.begin_slice(s.view, s.portfolio)
                    if cycle is not None:
                        s.record_context(i, cycle)
                    opened.append((s, exits, cycle))
            t3 = time.perf_counter()
            times.context += t3 - t2
            pending = [_drive_with_timeout(s, c, timeout, times) for s, _, c in opened if c is not None]
            v0 = times.validation
            if pending:
                await asyncio.gather(*pending)
            t4 = time.perf_counter()
            times.model += (t4 - t3) - (times.validation - v0)
            for s, exits, cycle in opened:
                assert s.view is not None
                orders[s.trader_id] = s.ai.end_slice(exits, cycle, s.view, s.portfolio)  # type: ignore[union-attr]
                if cycle is not None:
                    s.count_cycle()
            t5 = time.perf_counter()
            times.validation += t5 - t4
            for s in active:
                s.submit(orders.get(s.trader_id, []), ts[i])
            # one transaction for the step's decision records, one for every trader's events, then one for
            # the snapshots that mark the step done (a crash before it replays the step idempotently)
            log.flush()
            store.flush()
            snaps = []
            for s in active:
                eq = s.equity_now(clock)
                snaps.append(EquitySnapshot(s.trader_id, now, eq, s.portfolio.cash, i))
                s.equity.append((i, float(eq)))
            store.snapshot_many(snaps)
            times.engine += time.perf_counter() - t5
            times.steps += 1
            last = i
            if on_step is not None:
                on_step(i, active)
    finally:
        for s in seats:
            if s.caller is not None:
                await s.caller.client.aclose()
    usage = {s.trader_id: s.caller.usage.to_dict() for s in seats if s.caller is not None}
    return ReplayOutcome(seats, times, first, last, end >= n, usage)
