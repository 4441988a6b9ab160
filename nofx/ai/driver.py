"""Drives AI traders: pumps each decision cycle's chat requests through the reply cache and the LLM
client, runs the engine-managed protective stops every slice, and reports what the engine did with each
decision. The trader logic itself is pure (:mod:`nofx.strategies.ai`)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal
from typing import Any, Callable, Sequence

import pandas as pd

from nofx.ai.cache import ReplyCache, cache_key, prompt_hash
from nofx.ai.client import LLMClient, Usage
from nofx.ai.config import EndpointConfig
from nofx.domain.enums import Side
from nofx.domain.fills import Fill
from nofx.domain.orders import OrderRequest
from nofx.engine.kernel import TradingEngine
from nofx.engine.protective import StopBook
from nofx.strategies.ai.cycle import ChatRequest, Cycle, ModelReply
from nofx.strategies.ai.limits import DecisionOutcome
from nofx.strategies.ai.trader import AITrader, CycleRecord
from nofx.strategies.base import MarketView, PortfolioView, Strategy, StrategyContext


class CachedCaller:
    """``ChatRequest -> ModelReply`` through the cache, then the client (async); also usable
    synchronously (one private event loop per caller, for the single-trader backtest and paper run)."""

    def __init__(self, endpoint: EndpointConfig, cache: ReplyCache | None, client: LLMClient | None = None) -> None:
        self.endpoint = endpoint
        self.cache = cache
        self.client = client or LLMClient(endpoint)
        self.usage: Usage = self.client.usage
        self._loop: asyncio.AbstractEventLoop | None = None

    def key(self, req: ChatRequest) -> tuple[str, str]:
        ph = prompt_hash(req.messages)
        e = self.endpoint
        return ph, cache_key(e.model, ph, e.temperature, e.seed)

    async def acall(self, req: ChatRequest) -> ModelReply:
        _, key = self.key(req)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self.usage.cache_hits += 1
                return hit
            if self.cache.mode == "read_only":
                return ModelReply(None, "cache miss in read-only mode (no model call made)", attempts=0)
        reply = await self.client.complete(req)
        if self.cache is not None:
            self.cache.put(key, reply, self.endpoint.model)
        return reply

    def __call__(self, req: ChatRequest) -> ModelReply:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self.acall(req))

    def close(self) -> None:
        if self._loop is not None:
            self._loop.run_until_complete(self.client.aclose())
            self._loop.close()
            self._loop = None


class DrivenTrader(Strategy):
    """The strategy the engine runs: protective stops first (every slice, no model), then the AI
    trader's cycle when this is a decision slice."""

    name = "ai_trader"

    def __init__(self, core: AITrader, caller: Callable[[ChatRequest], ModelReply],
                 on_record: Callable[[CycleRecord], None] | None = None) -> None:
        super().__init__(core.params)
        self.core = core
        self.core.responder = caller
        self.stops = StopBook(core.trader_id)
        self.on_record = on_record
        self.engine: TradingEngine | None = None
        self._index = -1

    def attach_engine(self, engine: TradingEngine) -> None:
        self.engine = engine
        self.core.order_lookup = self.order_outcome

    def order_outcome(self, client_order_id: str) -> dict[str, Any] | None:
        """What the engine did with an order, by the client order id a decision gave it."""
        if self.engine is None:
            return None
        o = self.engine.oms.find_client_order(client_order_id)
        if o is None:
            return None
        out: dict[str, Any] = {"status": o.status.value, "filled": o.filled_qty}
        if o.filled_qty:
            out["avg_price"] = float(o.avg_fill_price)
        if o.reject_code:
            out["refused"] = f"{o.reject_code}: {o.reject_reason}"
        return out

    def on_start(self, ctx: StrategyContext) -> None:
        self.core.on_start(ctx)

    def on_slice(self, view: MarketView, portfolio: PortfolioView) -> Sequence[OrderRequest]:
        exits, cycle = self.begin_slice(view, portfolio)
        if cycle is not None:
            while (req := cycle.next_request()) is not None:
                cycle.feed(self.core.responder(req) if self.core.responder is not None
                           else ModelReply(None, "no model connected to this trader"))
        return self.end_slice(exits, cycle, view, portfolio)

    def begin_slice(self, view: MarketView, portfolio: PortfolioView) -> tuple[list[OrderRequest], Cycle | None]:
        """The slice's protective exits (no model) and its decision cycle (None: not a decision slice).
        A driver sends the cycle's requests (an arena: concurrently with other traders', see
        ``nofx.arena``), then calls :meth:`end_slice`."""
        self._index = view.index
        exits = self.stops.check(view.index, view.symbols, view.current("high"), view.current("low"),
                                 portfolio)  # type: ignore[arg-type]
        return list(exits), self.core.begin_cycle(view, portfolio)

    def end_slice(self, exits: list[OrderRequest], cycle: Cycle | None, view: MarketView,
                  portfolio: PortfolioView) -> list[OrderRequest]:
        """The slice's orders once the cycle is done: exits first, then the cycle's orders (a sell of a
        symbol a stop exits now is dropped and logged as superseded)."""
        if cycle is None:
            return exits
        orders = self.core.complete_cycle(cycle, view, portfolio).orders
        exiting = {o.symbol for o in exits}
        if self.core.last_record is not None:
            rec = self._superseded(self.core.last_record, exiting)
            if self.on_record is not None:
                self.on_record(rec)
        return exits + [o for o in orders if not (o.side is Side.SELL and o.symbol in exiting)]

    def _superseded(self, rec: CycleRecord, exiting: set[str]) -> CycleRecord:
        """A sell the model decided on a symbol whose protective stop exits it this slice is not sent
        (the stop already sells the free quantity); the record says so instead of "accepted"."""
        if not exiting or not any(o.request is not None and o.request.side is Side.SELL and o.symbol in exiting
                                  for o in rec.outcomes):
            return rec
        outs = tuple(DecisionOutcome(o.index, o.symbol, o.action, "refused",
                                     "superseded: the protective stop exits this position now", None)
                     if o.request is not None and o.request.side is Side.SELL and o.symbol in exiting else o
                     for o in rec.outcomes)
        new = replace(rec, outcomes=outs)
        self.core.last_record = new
        if self.core.records and self.core.records[-1] is rec:
            self.core.records[-1] = new
        return new

    def on_fill(self, fill: Fill) -> None:
        if fill.side is Side.BUY:
            spec = self.core.memory.stops.get(fill.symbol)
            if spec:
                self.stops.arm(fill.symbol, self._index + 1, float(fill.price), spec.get("stop_loss"),
                               spec.get("take_profit"), spec.get("trailing_stop_pct"))

    def on_rejection(self, request: OrderRequest, code: str, reason: str) -> None:
        self.core.on_rejection(request, code, reason)


def record_to_dict(rec: CycleRecord, outcome: Callable[[str], dict[str, Any] | None] | None = None
                   ) -> dict[str, Any]:
    """A decision-log record as JSON (backtest JSON, HTML report, ``nofx decisions --json``)."""
    calls = []
    for req, rep in rec.exchanges:
        calls.append({"role": req.role, "purpose": req.purpose, "prompt_hash": prompt_hash(req.messages),
                      "latency_ms": round(rep.latency_ms, 1), "prompt_tokens": rep.prompt_tokens,
                      "completion_tokens": rep.completion_tokens, "cost": str(rep.cost), "cached": rep.cached,
                      "attempts": rep.attempts, "error": rep.error, "reply": rep.text})
    outcomes = []
    for o in rec.outcomes:
        d = o.to_dict()
        if o.request is not None and outcome is not None:
            d["engine"] = outcome(o.request.client_order_id or "")
        outcomes.append(d)
    return {"cycle": rec.cycle, "datetime": pd.Timestamp(rec.ts).isoformat(), "status": rec.status,
            "error": rec.error, "mode": rec.mode, "context_tokens": rec.context_tokens,
            "decisions": [d.model_dump(mode="json", exclude_none=True) for d in rec.decisions],
            "outcomes": outcomes, "calls": calls,
            "latency_ms": round(sum(r.latency_ms for _, r in rec.exchanges), 1),
            "prompt_tokens": sum(r.prompt_tokens for _, r in rec.exchanges),
            "completion_tokens": sum(r.completion_tokens for _, r in rec.exchanges),
            "cost": str(sum((r.cost for _, r in rec.exchanges), Decimal(0)))}
