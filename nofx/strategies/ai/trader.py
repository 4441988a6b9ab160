"""The AI trader: a strategy whose decisions come from a language model, through the same risk engine and
order path as every other strategy.

The trader itself does no I/O. Each decision slice it opens a :class:`~nofx.strategies.ai.cycle.Cycle`
(prompt built from the point-in-time context), a driver sends the cycle's chat requests to a model and
feeds the replies back, then :meth:`AITrader.complete_cycle` maps the decisions back through the
contamination guard, applies the limits in code and returns order requests plus a record for the
decision log. Many traders can share one market state (an arena): each owns only its memory.

``on_slice`` calls ``responder`` (a ``ChatRequest -> ModelReply`` callable injected by a driver, e.g.
``nofx.ai``'s client) when one is set; without one the trader cannot decide and holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal
from string import Template
from typing import Any, Callable, Mapping, Sequence

import msgspec
import numpy as np

from nofx.domain.errors import ConfigError
from nofx.domain.fills import Fill
from nofx.domain.enums import Side
from nofx.domain.instruments import Market, parse_symbol
from nofx.domain.orders import OrderRequest
from nofx.strategies.ai import prompts
from nofx.strategies.ai.config import AITraderParams
from nofx.strategies.ai.context import (
    ContextInputs,
    NewsFeed,
    build_context,
    register_context_features,
    trading_day,
)
from nofx.strategies.ai.cycle import ChatRequest, Cycle, ModelReply, RoleStep
from nofx.strategies.ai.guard import ContaminationGuard, money_target
from nofx.strategies.ai.limits import DecisionOutcome, LimitState, Quote, Units, apply_limits
from nofx.strategies.ai.schema import Action, Decision, decision_json_schema
from nofx.strategies.base import MarketView, PortfolioView, Strategy, StrategyContext

_ENC = msgspec.json.Encoder()
Responder = Callable[[ChatRequest], ModelReply]
OrderLookup = Callable[[str], "Mapping[str, Any] | None"]  # client order id -> what the engine did
HISTORY_KEEP = 200


@dataclass
class TraderMemory:
    """Everything a trader remembers between cycles; JSON-serialisable so a paper run resumes with the
    same memory (it is stored with every decision-log record)."""

    cycle: int = 0
    failures_in_row: int = 0
    failed_cycles: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    theses: dict[str, str] = field(default_factory=dict)
    stops: dict[str, dict[str, Any]] = field(default_factory=dict)  # as decided (real prices)
    last_trade_bar: dict[str, int] = field(default_factory=dict)
    day: str | None = None
    day_start_equity: float | None = None
    last_equity: float | None = None
    initial_equity: float | None = None
    peak_equity: float | None = None
    first_index: int | None = None  # the first slice the trader saw: decision_every counts from it
    scales: dict[str, float] = field(default_factory=dict)  # guard price scales, fixed when first seen
    origin: str | None = None  # guard's day 0
    money_scale: float | None = None  # guard money scale, fixed at the first cycle

    def to_json(self) -> str:
        # shallow (dataclasses.asdict deep-copies the history first) and by msgspec (a fraction of
        # json.dumps' time); key order is kept: a resumed trader renders exactly the prompts of an
        # uninterrupted one
        return _ENC.encode({f.name: getattr(self, f.name) for f in _MEMORY_FIELDS}).decode("utf-8")

    @classmethod
    def from_json(cls, text: str) -> "TraderMemory":
        return cls(**json.loads(text))


_MEMORY_FIELDS = fields(TraderMemory)


@dataclass(frozen=True)
class CycleRecord:
    """A finished cycle, as the decision log stores it."""

    trader_id: str
    cycle: int
    index: int
    ts: np.datetime64
    status: str  # ok | repaired | failed
    error: str | None
    exchanges: tuple[tuple[ChatRequest, ModelReply], ...]
    decisions: tuple[Decision, ...]  # as the model gave them (aliases/rescaled under the guard)
    outcomes: tuple[DecisionOutcome, ...]
    mode: str
    memory_json: str
    context_tokens: int

    @property
    def orders(self) -> list[OrderRequest]:
        return [o.request for o in self.outcomes if o.request is not None]


def _limits_text(p: AITraderParams, money: float = 1.0) -> str:
    """The limits in plain words for the prompt (the code enforces them; the model is only told);
    ``money``: the guard's money scale for amounts."""
    lim = p.limits
    mpv = None if lim.max_position_value is None else round(float(lim.max_position_value) * money, 2)
    said = [
        (lim.max_positions, "at most {} positions"),
        (lim.max_position_weight, "each position at most {:.0%} of equity"),
        (mpv if money != 1.0 else lim.max_position_value, "each position at most {} in value"),
        (lim.min_confidence or None, "decisions with confidence below {} are refused"),
        (lim.min_reward_risk, "buys need (take_profit - price) / (price - stop_loss) >= {}"),
        (lim.require_stop_loss or None, "every buy needs a stop_loss"),
        (lim.daily_loss_pause, "after a loss of {:.0%} in a day: no buys for the rest of the day"),
        (lim.max_orders_per_cycle, "at most {} orders per cycle"),
        (lim.min_bars_between_trades or None, "at least {} bars between trades of one symbol"),
        (lim.failed_cycles_reduce_only, "after {} unusable replies in a row: sells only"),
        (True, "buys are cut to the cash available including fees, and to whole lots"),
    ]
    return "\n".join("- " + text.format(v) for v, text in said if v is not None)


class AITrader(Strategy):
    name = "ai_trader"
    Params = AITraderParams

    def __init__(self, params: AITraderParams | None = None, trader_id: str = "ai", *,
                 names: Mapping[str, str] | None = None, news: NewsFeed | None = None,
                 universe: Sequence[str] | None = None, responder: Responder | None = None,
                 order_lookup: OrderLookup | None = None) -> None:
        super().__init__(params)
        self.params: AITraderParams
        self.trader_id = trader_id
        self.names = dict(names or {})
        self.news = news or NewsFeed()
        self.universe = tuple(universe) if universe else None
        self.responder = responder
        self.order_lookup = order_lookup
        self.memory = TraderMemory()
        self.records: list[CycleRecord] = []
        self.keep_records = True  # a long paper run keeps none: its decision log has them
        self.last_record: CycleRecord | None = None
        self._rules: Any = None
        self._steps: tuple[RoleStep, ...] = ()
        self._schema = decision_json_schema()
        self._lots: dict[str, int] = {}
        self._lot_month: str = ""
        self._tradable: tuple[str, ...] = ()
        self._tradable_set: frozenset[str] = frozenset()
        self._col_syms: tuple[str, ...] | None = None
        self._col: dict[str, int] = {}
        self._g: ContaminationGuard | None = None  # this run's guard, rebuilt when a new scale appears
        self._g_key: tuple | None = None
        self._aliases: ContaminationGuard | None = None
        self._timestamps: np.ndarray = np.array([], dtype="datetime64[ns]")
        self._times: frozenset[str] = frozenset(self.params.decision_times)

    # ---- set-up -----------------------------------------------------------------------------
    def on_start(self, ctx: StrategyContext) -> None:
        self._rules = ctx.rules
        self._timestamps = ctx.timestamps  # the data's calendar (dates, not values): for the next session
        if self._rules is None:
            raise ConfigError("an AI trader needs the run's market rules")
        syms = [s for s in ctx.symbols if not parse_symbol(s).is_index]
        if self.universe is not None:
            syms = [s for s in syms if s in self.universe]
        if not syms:
            raise ConfigError("the AI trader's universe has no tradable symbol in the data")
        self._tradable = tuple(syms)
        self._tradable_set = frozenset(syms)
        register_context_features(ctx)
        self._steps = self._build_steps(syms)

    def _build_steps(self, symbols: Sequence[str], guard: ContaminationGuard | None = None) -> tuple[RoleStep, ...]:
        p = self.params
        markets = {parse_symbol(s).market for s in symbols}
        rules = "\n".join(prompts.shipped(p.language, f"rules_{m.value}") for m in sorted(markets, key=str))
        market = {frozenset({Market.CN}): ("China A-share" if p.language == "en" else "A 股"),
                  frozenset({Market.HK}): ("Hong Kong" if p.language == "en" else "港股")}.get(
            frozenset(markets), "China A-share and Hong Kong" if p.language == "en" else "A 股和港股")
        values = {"market": market, "rules": rules,
                  "limits": _limits_text(p, guard.money if guard is not None else 1.0),
                  "schema": json.dumps(self._schema, ensure_ascii=False), "style": p.style}
        roles = p.roles or (None,)
        steps = []
        for role in roles:
            name = role.name if role else "trader"
            path = role.template if role else p.prompt_template
            if role is None or (role.decides and role.template is None and len(roles) == 1):
                path = path or p.prompt_template
            text = prompts.load_template(path, p.language, name if name in prompts.ROLE_FILES else
                                         ("trader" if (role is None or role.decides) else "analyst"))
            system = Template(text).safe_substitute(values, role=name)
            if guard is not None:  # a user's template or style may name real codes
                system = guard.text_out(system)
            steps.append(RoleStep(name, system, role.decides if role else True))
        return tuple(steps)

    # ---- when to decide -----------------------------------------------------------------------
    def is_decision_slice(self, view: MarketView) -> bool:
        if self.memory.first_index is None:
            self.memory.first_index = view.index
        if self._times:
            ts = view.timestamp.astype("datetime64[m]").item()
            return f"{ts.hour:02d}:{ts.minute:02d}" in self._times
        return (view.index - self.memory.first_index) % self.params.decision_every == 0

    # ---- the cycle ----------------------------------------------------------------------------
    def _guard(self, view: MarketView, day: date, equity: float) -> ContaminationGuard | None:
        """The guard of this cycle: aliases (fixed per universe and seed), day 0 and the money scale
        fixed at the first cycle, a price scale per symbol fixed at the first close it shows."""
        if not self.params.guard:
            return None
        mem = self.memory
        if mem.origin is None:
            mem.origin = day.isoformat()
        if mem.money_scale is None:
            mem.money_scale = money_target(self.params.guard_seed) / equity if equity > 0 else 1.0
        close = view.current("close")
        for k, s in enumerate(view.symbols):
            if s in self._tradable_set and s not in mem.scales and close[k] == close[k] and close[k] > 0:
                mem.scales[s] = 100.0 / float(close[k])
        key = (len(mem.scales), mem.origin, mem.money_scale)
        if self._g is None or self._g_key != key:
            if self._aliases is None:
                self._aliases = ContaminationGuard.build(self._tradable, {}, day, self.params.guard_seed)
            a = self._aliases
            first = self._g is None or self._g.money != mem.money_scale
            self._g = ContaminationGuard(a.alias_of, a.symbol_of, dict(mem.scales), date.fromisoformat(mem.origin),
                                         mem.money_scale)
            self._g_key = key
            if first:  # the system prompt states money limits: in the guard's units
                self._steps = self._build_steps(self._tradable, self._g)
        return self._g

    def _lots_for(self, day: date) -> dict[str, int]:
        """Minimum buy quantity per symbol, asked once per (board, month): lot rules change by date
        and board, rarely, and asking per symbol every month cost ~10 ms a month (the cycle's p99)."""
        month = day.strftime("%Y-%m")
        if month != self._lot_month:
            per_board: dict[str, int] = {}
            lots = {}
            for s in self._tradable:
                inst = parse_symbol(s)
                key = inst.board.value if inst.market is Market.CN else s  # HK lots differ per stock
                if key not in per_board:
                    per_board[key] = self._rules.min_buy_quantity(inst, day)
                lots[s] = per_board[key]
            self._lots = lots
            self._lot_month = month
        return self._lots

    def _mode(self) -> str:
        lim = self.params.limits
        if self.memory.failures_in_row >= lim.failed_cycles_reduce_only:
            return "reduce_only"
        mem = self.memory
        if lim.daily_loss_pause is not None and mem.day_start_equity and mem.last_equity is not None:
            if (mem.day_start_equity - mem.last_equity) / mem.day_start_equity >= lim.daily_loss_pause:
                return "paused_daily_loss"
        return "normal"

    def begin_cycle(self, view: MarketView, portfolio: PortfolioView) -> Cycle | None:
        """The cycle of this slice, or None when this is not a decision slice."""
        if not self.is_decision_slice(view):
            return None
        mem = self.memory
        day = trading_day(view)
        equity = portfolio.equity()
        if mem.day != day.isoformat():
            mem.day = day.isoformat()
            mem.day_start_equity = mem.last_equity if mem.last_equity is not None else equity
        mem.last_equity = equity
        if mem.initial_equity is None:
            mem.initial_equity = equity
        mem.peak_equity = max(mem.peak_equity or equity, equity)
        mem.cycle += 1
        self._forget_closed(portfolio, view.index)
        g = self._guard(view, day, equity)
        inputs = ContextInputs(
            view=view, portfolio=portfolio, lots=self._lots_for(day), names=self.names, theses=mem.theses,
            stops=mem.stops, history=self._history_view(g), last_cycle=mem.cycle - 1,
            performance=self._performance(equity), mode=self._mode(), limits=self.params.limits.model_dump(
                mode="json", exclude_none=True), news=self.news.visible(view.timestamp, 20), guard=g,
            history_bars=self.params.history_bars)
        ctx = build_context(inputs, self.params.context_tokens)
        return Cycle(mem.cycle, view.index, self._steps, ctx.text, self._schema, mode=inputs.mode,
                     context_tokens=ctx.tokens, guard=g)

    def _performance(self, equity: float) -> dict[str, Any]:
        mem = self.memory
        ret = (equity / mem.initial_equity - 1) * 100 if mem.initial_equity else 0.0
        dd = (equity / mem.peak_equity - 1) * 100 if mem.peak_equity else 0.0
        return {"return_pct": round(ret, 2), "drawdown_pct": round(dd, 2), "cycles": mem.cycle,
                "failed_cycles": mem.failed_cycles}

    def _history_view(self, g: ContaminationGuard | None) -> list[dict[str, Any]]:
        keep = self.params.recent_decisions
        hist = self.memory.history[-keep:] if keep else []
        out = []
        for h in hist:
            e = dict(h)
            cid = e.pop("client_order_id", None)
            shown = e.pop("reason_shown", None)
            if cid and self.order_lookup is not None:
                done = self.order_lookup(cid)
                if done:
                    e["engine"] = dict(done)
            if g is not None:
                e["symbol"] = g.symbol_out(e["symbol"])
                e["time"] = g.date_out(date.fromisoformat(e["time"][:10]))
                eng = e.get("engine")
                if isinstance(eng, dict):
                    if eng.get("avg_price") is not None:
                        eng["avg_price"] = g.price_out(h["symbol"], eng["avg_price"])
                    if eng.get("refused"):  # the engine's reason text may carry real prices or money
                        eng["refused"] = eng["refused"].split(":", 1)[0]
                e["reason"] = g.text_out(shown if shown is not None else e.get("reason", ""))
            out.append(e)
        return out

    def _units(self, g: ContaminationGuard) -> Units:
        return Units(lambda s, v: str(g.price_out(s, v)), lambda v: f"{g.money_out(v):.2f}")

    def complete_cycle(self, cycle: Cycle, view: MarketView, portfolio: PortfolioView) -> CycleRecord:
        """Decisions -> (guard inverse) -> limits -> order requests; updates memory."""
        mem = self.memory
        lim = self.params.limits
        g: ContaminationGuard | None = cycle.guard
        day = trading_day(view)
        raw = cycle.decisions or ()
        if cycle.failed:
            mem.failures_in_row += 1
            mem.failed_cycles += 1
            outcomes: list[DecisionOutcome] = []
            mem.history.append({"cycle": cycle.number, "time": day.isoformat(), "symbol": "*", "action": "hold",
                                "status": "failed", "reason": cycle.error or "no usable reply"})
        else:
            mode = cycle.mode  # decided before this reply counts: the first valid reply after a
            mem.failures_in_row = 0  # failed streak is still traded reduce-only; the next cycle is normal
            exec_day = self._next_day(view)
            real = [self._map_back(d, g, exec_day) for d in raw]
            decisions = [d for d, _ in real]
            quotes = self._quotes(view, day, {d.symbol for d in decisions})
            state = LimitState(view.index, reduce_only=mode == "reduce_only", paused=mode == "paused_daily_loss",
                               last_trade_bar=mem.last_trade_bar)
            outcomes = apply_limits(decisions, quotes, portfolio, self._rules, exec_day, lim, state,
                                    f"{self.trader_id}:c{cycle.number}", self._units(g) if g is not None else None)
            outcomes = [DecisionOutcome(o.index, o.symbol, o.action, "refused", unknown, None)
                        if (unknown := real[o.index][1]) else o for o in outcomes]
            for o, d in zip(outcomes, decisions):
                self._remember(cycle.number, view.index, day, d, o)
        del mem.history[:-HISTORY_KEEP]
        status = "failed" if cycle.failed else ("repaired" if cycle.repaired else "ok")
        rec = CycleRecord(self.trader_id, cycle.number, view.index, view.timestamp, status, cycle.error,
                          tuple(cycle.exchanges), tuple(raw), tuple(outcomes), cycle.mode, mem.to_json(),
                          cycle.context_tokens)
        self.last_record = rec
        if self.keep_records:
            self.records.append(rec)
        return rec

    def _map_back(self, d: Decision, g: ContaminationGuard | None, exec_day: date) -> tuple[Decision, str | None]:
        """A decision in real units: alias -> symbol; limit, stop and target prices / scale, snapped onto
        the tick grid on the side that never worsens them (a buy limit down, a sell limit up, a stop
        down, a target up), so the guard itself never causes an off-tick cut."""
        if g is None:
            return d, None
        real = g.symbol_in(d.symbol)
        if real is None:
            return d, f"unknown symbol {d.symbol}: not an alias of this trader's universe"
        if real not in g.scale:
            return d.model_copy(update={"symbol": real}), f"no price known for {d.symbol} yet"
        inst = parse_symbol(real)
        upd: dict[str, Any] = {"symbol": real}
        limit_side = Side.BUY if d.action is Action.BUY else Side.SELL
        for k, side in (("limit_price", limit_side), ("stop_loss", Side.BUY), ("take_profit", Side.SELL)):
            v = getattr(d, k)
            if v is not None:
                p = g.price_in(real, v)
                on_tick = self._rules.round_price_to_tick(inst, exec_day, p, side)
                upd[k] = on_tick if on_tick > 0 else p
        return d.model_copy(update=upd), None

    def _quotes(self, view: MarketView, day: date, wanted: set[str]) -> dict[str, Quote]:
        """Quotes of the symbols decided on (the limits ask no other)."""
        close = view.current("close")
        status = view.current("trade_status")
        lo, hi = view.feature("ai_band_lo"), view.feature("ai_band_hi")
        lots = self._lots_for(day)
        out = {}
        col = self._col if self._col_syms is view.symbols else self._columns(view.symbols)
        mark = None
        for s in self._tradable:
            if s not in wanted:
                continue
            k = col[s]
            c = close[k]
            last = c
            if c != c:  # no bar now: the last known close (the position is still worth something)
                mark = view.history("close", 60) if mark is None else mark
                seen = mark[:, k][~np.isnan(mark[:, k])]
                last = seen[-1] if len(seen) else float("nan")
            band = None if lo[k] != lo[k] or hi[k] != hi[k] else (Decimal(repr(float(lo[k]))),
                                                                   Decimal(repr(float(hi[k]))))
            out[s] = Quote(None if last != last else Decimal(repr(float(last))), band,
                           c != c or status[k] == 0, lots[s])
        return out

    def _columns(self, symbols: tuple[str, ...]) -> dict[str, int]:
        self._col_syms, self._col = symbols, {s: k for k, s in enumerate(symbols)}
        return self._col

    def _next_day(self, view: MarketView) -> date:
        ts = self._timestamps
        i = view.index
        nxt = ts[i + 1] if i + 1 < len(ts) else ts[i]
        return nxt.astype("datetime64[D]").item()

    def _remember(self, number: int, index: int, day: date, d: Decision, o: DecisionOutcome) -> None:
        mem = self.memory
        entry: dict[str, Any] = {"cycle": number, "time": day.isoformat(), "symbol": d.symbol,
                                 "action": d.action.value, "confidence": d.confidence, "status": o.status}
        if d.quantity is not None:
            entry["quantity"] = d.quantity
        if d.target_weight is not None:
            entry["target_weight"] = d.target_weight
        if o.reason:
            entry["reason"] = o.reason
        if o.shown is not None:
            entry["reason_shown"] = o.shown
        if o.request is not None:
            entry["client_order_id"] = o.request.client_order_id
            entry["quantity_sent"] = o.request.quantity
            mem.last_trade_bar[d.symbol] = index
            if d.action is Action.BUY:
                if d.reasoning:
                    mem.theses[d.symbol] = d.reasoning[:300]
                stop = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in
                        (("stop_loss", d.stop_loss), ("take_profit", d.take_profit),
                         ("trailing_stop_pct", d.trailing_stop_pct)) if v is not None}
                if stop:
                    mem.stops[d.symbol] = stop
        if d.action is Action.HOLD:
            return
        mem.history.append(entry)

    # ---- Strategy interface ---------------------------------------------------------------------
    def on_slice(self, view: MarketView, portfolio: PortfolioView) -> list[OrderRequest]:
        cycle = self.begin_cycle(view, portfolio)
        if cycle is None:
            return []
        while (req := cycle.next_request()) is not None:
            cycle.feed(self.responder(req) if self.responder is not None
                       else ModelReply(None, "no model connected to this trader"))
        return self.complete_cycle(cycle, view, portfolio).orders

    def on_fill(self, fill: Fill) -> None:
        pass

    def _forget_closed(self, portfolio: PortfolioView, index: int) -> None:
        """Drop theses and stops of symbols neither held nor traded on the previous slice (an order
        sent then may still be filling)."""
        held = {s for s, p in portfolio.positions().items() if p.quantity}
        mem = self.memory
        for d in (mem.theses, mem.stops):
            for s in [s for s in d if s not in held and mem.last_trade_bar.get(s, -1) < index - 1]:
                del d[s]
