"""``nofx ai backtest``: an AI trader over history through the backtest engine (same order path, same
market rules), with every cycle's prompt, reply, decisions and engine outcome collected."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from nofx.ai.cache import ReplyCache
from nofx.ai.config import AIRunConfig
from nofx.ai.driver import CachedCaller, DrivenTrader, record_to_dict
from nofx.backtest.result import BacktestResult
from nofx.backtest.runner import run_backtest
from nofx.data.bars import read_bars
from nofx.data.bundled import bundled_bars_path
from nofx.domain.errors import ConfigError
from nofx.domain.instruments import parse_symbols
from nofx.strategies.ai.context import NewsFeed, NewsItem
from nofx.strategies.ai.trader import AITrader


@dataclass
class AIBacktestResult:
    result: BacktestResult
    decisions: list[dict[str, Any]]
    usage: dict[str, Any]
    trader_id: str
    model: str
    guard: bool
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        d = self.result.to_json_dict()
        d["trader"] = {"id": self.trader_id, "model": self.model, "guard": self.guard}
        d["usage"] = self.usage
        d["decisions"] = self.decisions
        return d


def load_news(path: str | None) -> NewsFeed:
    """News/notes file: CSV or Parquet with columns symbol, datetime, text."""
    if not path:
        return NewsFeed()
    p = Path(path)
    if not p.is_file():
        raise ConfigError("news file not found", news=str(p))
    df = pd.read_parquet(p) if p.suffix.lower() == ".parquet" else pd.read_csv(p, dtype={"symbol": str,
                                                                                         "text": str})
    missing = {"symbol", "datetime", "text"} - set(df.columns)
    if missing:
        raise ConfigError(f"news file lacks column(s) {', '.join(sorted(missing))}", news=str(p))
    ts = pd.to_datetime(df["datetime"], errors="coerce")
    if ts.isna().any():
        row = int(ts.isna().to_numpy().nonzero()[0][0])
        raise ConfigError("news file has a bad datetime", news=str(p), row=row + 2)
    return NewsFeed([NewsItem(t.to_datetime64(), s, str(x)) for t, s, x in zip(ts, df["symbol"], df["text"])])


def load_universe_bars(cfg: AIRunConfig, warmup: bool = True) -> tuple[pd.DataFrame, list[str] | None]:
    """The universe's bars (plus the benchmark), from ``warmup_bars`` before the start when ``warmup``."""
    symbols = None if cfg.data.symbols == "all" else list(cfg.data.symbols)
    if symbols:
        parse_symbols(",".join(symbols))
    bt = cfg.backtest
    if bt.start and bt.end and bt.start > bt.end:
        raise ConfigError("start is after end", start=bt.start, end=bt.end)
    load_from = bt.start
    if bt.start and bt.warmup_bars and warmup:
        load_from = bt.start - timedelta(days=int(bt.warmup_bars * 1.6) + 15)
    wanted = None
    if symbols:
        wanted = symbols + ([bt.benchmark] if bt.benchmark and bt.benchmark not in symbols else [])
    src = Path(cfg.data.path) if cfg.data.path else bundled_bars_path()
    return read_bars(src, symbols=wanted, start=load_from, end=bt.end), symbols


def build_trader(cfg: AIRunConfig) -> AITrader:
    t = cfg.trader
    symbols = None if cfg.data.symbols == "all" else list(cfg.data.symbols)
    return AITrader(t.policy(), t.id, names=t.names, news=load_news(t.news), universe=symbols)


def build_caller(cfg: AIRunConfig) -> CachedCaller:
    ep = cfg.trader.endpoint()
    cache = ReplyCache(ep.cache_dir, ep.cache) if ep.cache != "off" else None
    return CachedCaller(ep, cache)


def run_ai_backtest(cfg: AIRunConfig, progress: bool = False) -> AIBacktestResult:
    bars, symbols = load_universe_bars(cfg)
    core = build_trader(cfg)
    caller = build_caller(cfg)
    driven = DrivenTrader(core, caller)
    try:
        result = run_backtest(bars, driven, cfg.backtest, progress=progress, symbols=symbols, risk=cfg.risk,
                              on_engine=driven.attach_engine)
    finally:
        caller.close()
    result.strategy = f"ai:{cfg.trader.id}"
    result.params = {"model": cfg.trader.model, "decision_every": cfg.trader.decision_every,
                     "guard": cfg.trader.guard}
    decisions = [record_to_dict(r, driven.order_outcome) for r in core.records]
    result.messages.extend(f"stop fired at slice {i}: {s} {why}" for i, s, why in driven.stops.fired)
    return AIBacktestResult(result, decisions, caller.usage.to_dict(), cfg.trader.id, cfg.trader.model,
                            cfg.trader.guard)
