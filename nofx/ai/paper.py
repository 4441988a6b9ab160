"""``nofx ai paper``: an AI trader on the paper engine (paced replay, order-book venue, persisted
ledger), with its decision log in the same database, resumable after a crash like ``nofx paper``.

Resume restores (1) the ledger (the paper session rebuilds orders, fills and positions), (2) the trader's
memory as stored with the last cycle decided before the resume point, and (3) the engine-managed stops,
rebuilt from the ledger's fills, the stop levels each cycle decided and the bars since. A slice replayed
after a crash asks the same prompt (a cache hit) and re-submits the same client order ids, which the
engine answers with the first orders: the resumed ledger equals an uninterrupted run's.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from nofx.ai.backtest import build_caller, build_trader, load_universe_bars
from nofx.ai.cache import prompt_hash
from nofx.ai.config import AIRunConfig
from nofx.ai.driver import DrivenTrader, record_to_dict
from nofx.domain.enums import OrderType, Side
from nofx.domain.orders import OrderRequest
from nofx.domain.errors import ConfigError
from nofx.live.paper import PaperSession, PaperSummary
from nofx.persistence.decisions import DecisionLog, DecisionRow
from nofx.persistence.store import SqlLedgerStore
from nofx.strategies.ai.trader import CycleRecord, TraderMemory
from nofx.strategies.base import MarketView, PortfolioView, StrategyContext

AI_CONFIG_KEY = "ai_trader"  # marks an AI trader's run config in the traders table


@dataclass(frozen=True)
class AIPaperSummary:
    paper: PaperSummary
    usage: dict[str, Any]
    cycles: int


class LoggedTrader(DrivenTrader):
    """A driven trader that writes each cycle to the decision log and, on resume, restores its memory
    and stops before the first slice."""

    def __init__(self, cfg: AIRunConfig, log: DecisionLog) -> None:
        core = build_trader(cfg)
        core.keep_records = False
        self.caller = build_caller(cfg)
        super().__init__(core, self.caller, on_record=self._record)
        self.log = log
        self.model = cfg.trader.model
        self._restore_at: int | None = None
        self._timestamps: np.ndarray | None = None
        self._start = cfg.backtest.start if cfg.backtest.warmup_bars else None
        self._trade_from = 0
        self._replay: DecisionRow | None = None
        self.cycles = 0

    def _record(self, rec: CycleRecord) -> None:
        d = record_to_dict(rec)
        prompts = {prompt_hash(req.messages): json.dumps(list(req.messages), ensure_ascii=False)
                   for req, _ in rec.exchanges}
        self.log.record(DecisionRow(
            rec.trader_id, rec.cycle, rec.index, pd.Timestamp(rec.ts).to_pydatetime(), rec.status, rec.mode,
            rec.error, self.model, d["decisions"], d["outcomes"], d["calls"], d["latency_ms"], d["prompt_tokens"],
            d["completion_tokens"], Decimal(d["cost"]), rec.memory_json), prompts)
        self.cycles += 1

    def prepare_resume(self, start: int) -> None:
        rows = self.log.rows(self.core.trader_id, limit=1, before_cursor=start + 1)
        if rows and rows[-1].cursor == start:
            # the crash came after this slice's cycle was logged (the log row is its write-ahead
            # record), before the slice was marked done: replay the logged cycle, never ask again. Its
            # orders may already be in the ledger (then the engine answers the same client order ids
            # with them); asking again would see their reserved cash and could decide otherwise.
            self._replay = rows[-1]
            self.core.memory = TraderMemory.from_json(rows[-1].memory)
        else:
            rows = self.log.rows(self.core.trader_id, limit=1, before_cursor=start)
            if rows:
                self.core.memory = TraderMemory.from_json(rows[-1].memory)
        self._restore_at = start

    def on_start(self, ctx: StrategyContext) -> None:
        super().on_start(ctx)
        self._timestamps = ctx.timestamps
        if self._start is not None:
            self._trade_from = int(np.searchsorted(ctx.timestamps, np.datetime64(self._start), "left"))

    def begin_slice(self, view: MarketView, portfolio: PortfolioView):  # type: ignore[no-untyped-def]
        if view.index < self._trade_from:
            return [], None  # warm-up bars feed the indicators only, as in ``nofx ai backtest``
        if self._restore_at is not None:
            self._rebuild_stops(view, self._restore_at)
            self._restore_at = None
        if self._replay is not None and self._replay.cursor == view.index:
            row, self._replay = self._replay, None
            self._index = view.index
            exits = self.stops.check(view.index, view.symbols, view.current("high"), view.current("low"),
                                     portfolio)  # type: ignore[arg-type]
            return list(exits) + logged_orders(row), None  # end_slice passes them through as they are
        return super().begin_slice(view, portfolio)

    def _rebuild_stops(self, view: MarketView, start: int) -> None:
        """Replay what the stop book did over slices [first buy, start] from the ledger: arm at each buy
        fill with the levels the trader had decided by then, move levels over each bar, drop a stop where
        the position went flat or its exit order was sent."""
        assert self.engine is not None and self._timestamps is not None
        tid = self.core.trader_id
        fills = self.engine.store.all_fills(tid) if self.engine.store is not None else []  # type: ignore[attr-defined]
        if not fills:
            return
        ts = self._timestamps
        rows = self.log.rows(tid, before_cursor=start)
        cursors = [r.cursor for r in rows]
        specs = [json.loads(r.memory).get("stops", {}) for r in rows]
        by_slice: dict[int, list] = {}
        for f in fills:
            k = int(np.searchsorted(ts, np.datetime64(pd.Timestamp(f.ts).to_datetime64(), "ns"), "left"))
            by_slice.setdefault(k, []).append(f)
        exits = {o.request.client_order_id for o in self.engine.oms
                 if (o.request.client_order_id or "").startswith(f"{tid}:stop:")}
        high = view.history("high", start + 1)
        low = view.history("low", start + 1)
        col = {s: k for k, s in enumerate(view.symbols)}
        qty: dict[str, int] = {}
        book = self.stops
        book.stops = {}
        # through slice ``start`` itself: a crash after that slice's events were written (its fills
        # included: their on_fill will not come again) and before it was marked done replays it; its
        # bar is checked by the replayed slice, not here
        for i in range(min(by_slice), start + 1):
            for f in by_slice.get(i, ()):
                qty[f.symbol] = qty.get(f.symbol, 0) + (f.quantity if f.side is Side.BUY else -f.quantity)
                if f.side is Side.BUY:
                    j = bisect.bisect_left(cursors, i) - 1  # the last cycle decided before this fill
                    spec = specs[j].get(f.symbol) if j >= 0 else None
                    if spec:
                        book.arm(f.symbol, i, float(f.price), spec.get("stop_loss"), spec.get("take_profit"),
                                 spec.get("trailing_stop_pct"))
            for sym in list(book.stops):
                if qty.get(sym, 0) <= 0:
                    del book.stops[sym]
                    continue
                if i == start:
                    continue
                k = col[sym]
                book.replay(float(high[i, k]), float(low[i, k]), sym)
                if f"{tid}:stop:{sym}:{i}" in exits:
                    del book.stops[sym]


def logged_orders(row: DecisionRow) -> list[OrderRequest]:
    """The orders a logged cycle sent, as it sent them (same client order ids and tags)."""
    out = []
    for o in row.outcomes:
        order = o.get("order")
        if not order:
            continue
        cid = order["client_order_id"]
        head, k = cid.rsplit(":", 1)
        price = order.get("limit_price")
        out.append(OrderRequest(o["symbol"], Side(order["side"]), int(order["quantity"]), OrderType(order["order_type"]),
                                None if price is None else Decimal(price), client_order_id=cid, tag=f"ai {head}#{k}"))
    return out


def ai_paper_session(cfg: AIRunConfig, store: Any, resume: bool = False, speed: float = 0.0,
                     group_commit: bool = True) -> tuple[PaperSession, LoggedTrader]:
    """The paper session of an AI trader, ready to ``run`` (``resume``: its memory and stops are restored
    from the decision log and the ledger first). ``store`` is the ledger store or a wrapper of it (the
    API's staging store); the decision log is written to the same database. The caller closes
    ``trader.caller`` when the run ends. Used by ``nofx ai paper`` and the API's trader workers."""
    # warm-up bars before the start feed the indicators only (the trader decides from the start), so a
    # paper run sees the prompts of ``nofx ai backtest`` on the same config and data
    bars, symbols = load_universe_bars(cfg)
    log = DecisionLog(store)
    trader = LoggedTrader(cfg, log)
    tid = cfg.trader.id
    session = PaperSession(bars, trader, cfg.backtest, store, tid, symbols=symbols, speed=speed, risk=cfg.risk,
                           run_config={AI_CONFIG_KEY: cfg.model_dump(by_alias=True, mode="json")},
                           group_commit=group_commit)
    trader.attach_engine(session.engine)
    if resume:
        snap = store.last_snapshot(tid)
        trader.prepare_resume(snap.cursor + 1 if snap is not None else 0)
    return session, trader


def run_ai_paper(cfg: AIRunConfig, store: SqlLedgerStore, resume: bool = False, progress: bool = True,
                 stop_after: int | None = None, speed: float = 0.0) -> AIPaperSummary:
    session, trader = ai_paper_session(cfg, store, resume=resume, speed=speed)
    try:
        summary = session.run(resume=resume, progress=progress, stop_after=stop_after)
    finally:
        trader.caller.close()
    return AIPaperSummary(summary, trader.caller.usage.to_dict(), trader.cycles)


def ai_config_of(store: SqlLedgerStore, trader_id: str) -> AIRunConfig:
    """The run config an AI paper trader was started with (for ``--resume``)."""
    rec = store.get_trader(trader_id)
    if rec is None:
        raise ConfigError("no such trader in the ledger", trader=trader_id)
    raw = json.loads(rec.config_json)
    if AI_CONFIG_KEY not in raw:
        raise ConfigError("this trader is not an AI trader (resume it with nofx paper --resume)", trader=trader_id)
    return AIRunConfig.model_validate(raw[AI_CONFIG_KEY])
