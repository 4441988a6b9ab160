"""Point-in-time context for an AI trader's prompt.

Everything here is read through the :class:`~nofx.strategies.base.MarketView` (rows up to "now"), the
read-only portfolio and the trader's own memory, so no row after the decision time can reach a prompt.
Indicators are computed once, vectorised, by the causal functions of ``nofx.features.indicators`` when
the trader starts; a cycle only reads one row of each.

Per symbol: recent closes, returns, MA5/MA20, RSI14, MACD histogram, ATR14, volume ratio, suspended /
at limit-up / at limit-down today, the next session's price band, board lot, held and sellable shares.
Account: cash, equity, positions with cost, PnL, thesis and stops. Memory: recent decisions with what
the engine did (cut, refused and why). Rules in plain words come with the system prompt.

Trimmed to ``context_tokens`` by this priority (lowest first dropped): news (oldest first), decisions
older than the last cycle (oldest first), market rows of symbols not held (least traded value first).
The account, the last cycle's outcomes and held symbols' rows are never dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from nofx.data.panel import BarPanel
from nofx.domain.instruments import parse_symbol
from nofx.features.indicators import atr, macd, rsi, sma
from nofx.strategies.ai.guard import ContaminationGuard
from nofx.strategies.base import MarketView, PortfolioView, StrategyContext

MARKET_COLUMNS = ("symbol", "close", "chg1_pct", "chg5_pct", "chg20_pct", "ma5", "ma20", "rsi14", "macd_hist",
                  "atr14", "vol_ratio", "status", "band_lo", "band_hi", "lot", "held", "sellable", "closes")

_FEATURES = ("ma5", "ma20", "rsi14", "macd_hist", "atr14", "vol_ratio", "chg1", "chg5", "chg20",
             "lim_lo", "lim_hi", "band_lo", "band_hi")


def estimate_tokens(text: str) -> int:
    """Rough token count without a tokenizer: 4 ASCII characters per token, one per other character
    (CJK text runs close to one token per character in the common BPE vocabularies)."""
    n = len(text)
    non_ascii = n - len(text.encode("ascii", "ignore"))
    return (n - non_ascii) // 4 + non_ascii + 1


def _pct_change(close: np.ndarray, n: int) -> np.ndarray:
    prev = np.full_like(close, np.nan)
    prev[n:] = close[:-n]
    with np.errstate(divide="ignore", invalid="ignore"):
        return (close / prev - 1.0) * 100.0


def _bands(panel: BarPanel, rules: Any) -> dict[str, np.ndarray]:
    """Today's band (from today's preclose) and the next session's (from today's close), per row."""
    t, m = panel.shape
    out = {k: np.full((t, m), np.nan) for k in ("lim_lo", "lim_hi", "band_lo", "band_hi")}
    if rules is None:
        return out
    dates = panel.timestamps.astype("datetime64[D]")
    next_dates = np.append(dates[1:], dates[-1:])  # the last row's next day is unknown: its own rules
    unknown_age = np.full(t, -1)
    for k, sym in enumerate(panel.symbols):
        inst = parse_symbol(sym)
        if inst.is_index:
            continue
        st = np.nan_to_num(panel["is_st"][:, k]).astype(bool)
        out["lim_lo"][:, k], out["lim_hi"][:, k] = rules.limit_arrays(inst, dates, panel["preclose"][:, k],
                                                                      st, unknown_age)
        out["band_lo"][:, k], out["band_hi"][:, k] = rules.limit_arrays(inst, next_dates, panel["close"][:, k],
                                                                        st, unknown_age)
    return out


def register_context_features(ctx: StrategyContext) -> None:
    """Register the (causal) indicator arrays the context reads, once per run."""
    cache: dict[str, np.ndarray] = {}

    def get(name: str) -> Callable[[BarPanel], np.ndarray]:
        def compute(p: BarPanel) -> np.ndarray:
            if not cache:
                close, vol = p["close"], p["volume"]
                cache.update(ma5=sma(close, 5), ma20=sma(close, 20), rsi14=rsi(close, 14),
                             macd_hist=macd(close)[2], atr14=atr(p["high"], p["low"], close, 14),
                             chg1=_pct_change(close, 1), chg5=_pct_change(close, 5), chg20=_pct_change(close, 20))
                with np.errstate(divide="ignore", invalid="ignore"):
                    cache["vol_ratio"] = vol / sma(vol, 20)
                cache.update(_bands(p, ctx.rules))
            return cache[name]
        return compute

    for name in _FEATURES:
        ctx.add_feature(f"ai_{name}", get(name))


@dataclass(frozen=True, slots=True)
class NewsItem:
    ts: np.datetime64
    symbol: str
    text: str


class NewsFeed:
    """Text items (news, notes) by time; a cycle sees only items stamped at or before now."""

    def __init__(self, items: Sequence[NewsItem] = ()) -> None:
        ordered = sorted(items, key=lambda x: x.ts)
        self._ts = np.array([x.ts for x in ordered], dtype="datetime64[ns]")
        self._items = ordered

    def visible(self, now: np.datetime64, limit: int) -> list[NewsItem]:
        end = int(np.searchsorted(self._ts, np.datetime64(now, "ns"), "right"))
        return self._items[max(0, end - limit): end]


@dataclass(frozen=True, slots=True)
class ContextItem:
    priority: int  # higher = dropped first
    order: int  # within a priority, higher = dropped first
    section: str
    payload: Any
    tokens: int


def _num(v: float, nd: int = 2) -> float | None:
    return None if v != v else round(float(v), nd)


@dataclass(slots=True)
class ContextInputs:
    """What one cycle's context is built from (all point-in-time)."""

    view: MarketView
    portfolio: PortfolioView
    lots: Mapping[str, int]
    names: Mapping[str, str]
    theses: Mapping[str, str]
    stops: Mapping[str, Mapping[str, Any]]
    history: Sequence[Mapping[str, Any]]  # the trader's recent decisions, oldest first, with outcomes
    last_cycle: int  # cycle number of the newest history entries (never trimmed)
    performance: Mapping[str, Any]
    mode: str  # normal | reduce_only | paused_daily_loss
    limits: Mapping[str, Any]
    news: Sequence[NewsItem]
    guard: ContaminationGuard | None
    history_bars: int


def build_context(inp: ContextInputs, budget_tokens: int) -> tuple[dict[str, Any], int]:
    """The context as a JSON-ready dict, trimmed to ``budget_tokens``; returns (context, tokens)."""
    view, pf, g = inp.view, inp.portfolio, inp.guard
    i = view.index
    day = view.timestamp.astype("datetime64[D]").item()
    sym_out = g.symbol_out if g else (lambda s: s)
    px = (lambda s, p: g.price_out(s, p)) if g else (lambda s, p: _num(p, 4))

    closes = view.history("close", inp.history_bars)
    close = closes[-1] if len(closes) else np.full(len(view.symbols), np.nan)
    feat = {name: view.feature(f"ai_{name}") for name in _FEATURES}
    status_field = view.current("trade_status")
    amount = view.current("amount")
    positions = pf.positions()
    items: list[ContextItem] = []

    rows = []
    for k, sym in enumerate(view.symbols):
        if sym not in inp.lots:
            continue  # benchmark / index columns are not tradable
        c = close[k]
        suspended = c != c or status_field[k] == 0
        status = "suspended" if suspended else "trading"
        if not suspended:
            if feat["lim_hi"][k] == feat["lim_hi"][k] and c >= feat["lim_hi"][k] - 1e-9:
                status = "limit_up"
            elif feat["lim_lo"][k] == feat["lim_lo"][k] and c <= feat["lim_lo"][k] + 1e-9:
                status = "limit_down"
        pos = positions.get(sym)
        row = [sym_out(sym), px(sym, c), _num(feat["chg1"][k]), _num(feat["chg5"][k]), _num(feat["chg20"][k]),
               px(sym, feat["ma5"][k]), px(sym, feat["ma20"][k]), _num(feat["rsi14"][k], 1),
               px(sym, feat["macd_hist"][k]), px(sym, feat["atr14"][k]), _num(feat["vol_ratio"][k]), status,
               px(sym, feat["band_lo"][k]), px(sym, feat["band_hi"][k]), inp.lots[sym],
               pos.quantity if pos else 0, pos.sellable if pos else 0,
               [px(sym, x) for x in closes[:, k]]]
        held = pos is not None and pos.quantity != 0
        value = float(amount[k]) if amount[k] == amount[k] else 0.0
        rows.append((held, value, row))
    rows.sort(key=lambda r: (not r[0], -r[1]))
    for rank, (held, _, row) in enumerate(rows):
        items.append(ContextItem(0 if held else 4, rank, "market", row, estimate_tokens(json.dumps(row)) + 1))

    equity = pf.equity()
    pos_list = []
    for sym, pos in positions.items():
        if not pos.quantity:
            continue
        k = view.symbols.index(sym) if sym in view.symbols else -1
        last = close[k] if k >= 0 else float("nan")
        pnl = (last / float(pos.avg_cost) - 1.0) * 100 if pos.avg_cost and last == last else None
        entry: dict[str, Any] = {"symbol": sym_out(sym), "quantity": pos.quantity, "sellable": pos.sellable,
                                 "avg_cost": px(sym, float(pos.avg_cost)), "last": px(sym, last),
                                 "pnl_pct": _num(pnl) if pnl is not None else None,
                                 "weight": _num(pos.quantity * last / equity if equity and last == last else 0.0, 3),
                                 "thesis": inp.theses.get(sym, "")}
        st = inp.stops.get(sym)
        if st:
            entry.update({k2: (px(sym, v) if k2 in ("stop_loss", "take_profit") and v is not None else v)
                          for k2, v in st.items() if k2 in ("stop_loss", "take_profit", "trailing_stop_pct")})
        pos_list.append(entry)
    account = {"time": g.date_out(day) if g else day.isoformat(), "cash": _num(float(pf.cash)),
               "equity": _num(equity), "mode": inp.mode, "positions": pos_list,
               "performance": dict(inp.performance), "limits": dict(inp.limits)}
    items.append(ContextItem(0, 0, "account", account, estimate_tokens(json.dumps(account, ensure_ascii=False))))

    n_hist = len(inp.history)
    for k, h in enumerate(inp.history):
        last = h.get("cycle") == inp.last_cycle
        items.append(ContextItem(0 if last else 3, n_hist - k, "decisions", dict(h),
                                 estimate_tokens(json.dumps(h, ensure_ascii=False))))
    n_news = len(inp.news)
    for k, item in enumerate(inp.news):
        text = g.text_out(item.text) if g else item.text
        when = item.ts.astype("datetime64[D]").item()
        entry = {"time": g.date_out(when) if g else when.isoformat(), "symbol": sym_out(item.symbol),
                 "text": text}
        if not g and item.symbol in inp.names:
            entry["name"] = inp.names[item.symbol]
        items.append(ContextItem(5, n_news - k, "news", entry, estimate_tokens(json.dumps(entry, ensure_ascii=False))))

    total = sum(it.tokens for it in items) + 60
    if total > budget_tokens:
        for it in sorted(items, key=lambda x: (-x.priority, -x.order)):
            if total <= budget_tokens or it.priority == 0:
                break
            total -= it.tokens
            items.remove(it)

    market_rows = [it.payload for it in items if it.section == "market"]
    if not g:
        names = {r[0]: inp.names[r[0]] for r in market_rows if r[0] in inp.names}
    else:
        names = {}
    ctx: dict[str, Any] = {
        "account": next(it.payload for it in items if it.section == "account"),
        "market": {"columns": list(MARKET_COLUMNS), "rows": market_rows},
        "recent_decisions": [it.payload for it in items if it.section == "decisions"],
        "news": [it.payload for it in items if it.section == "news"],
    }
    if names:
        ctx["names"] = names
    return ctx, total


def render_context(ctx: Mapping[str, Any]) -> str:
    """The user message: the context as JSON inside a data block. Every string is JSON-escaped and
    ``<``/``>`` are written as ``\\u003c``/``\\u003e``, so a name or news text can never close the block
    or pose as markup: whatever it says stays data."""
    body = json.dumps(ctx, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str)
    body = body.replace("<", "\\u003c").replace(">", "\\u003e")
    return f"<market_data>\n{body}\n</market_data>"


def trading_day(view: MarketView) -> date:
    return view.timestamp.astype("datetime64[D]").item()
