"""Resident memory through long paper and backtest loops: growth per 1,000 slices after warm-up.

A paper run must be able to run for months: whatever the loop keeps per slice must be bounded. The
same strategy (dual_ma on N real A-shares, trading every few days) runs through

* the paper loop (``PaperSession``: live kernel, order-book venue, SQLite ledger with a snapshot per
  slice), and
* the backtest loop (``run_backtest``),

sampling resident memory (RSS) at every slice. Growth is measured from the end of warm-up (first
``--warmup`` fraction of the slices) to the end, by a least-squares slope (robust to allocator steps),
and printed per 1,000 slices, next to the peer figure of the same run: the ledger's own growth in bytes
on disk per 1,000 slices (what a slice must leave behind somewhere), and the growth the issue reported
before the fix (45 KB per slice = 45,000 KB per 1,000 slices on 747 stocks). Goal: flat after warm-up.

``--trace`` also runs tracemalloc and prints the allocation sites that grew most between the end of
warm-up and the end of the run (how the retention was found).

    python benchmarks/bench_memory.py [--symbols 300] [--only paper|backtest] [--trace]
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import psutil
from common import line, shared_file  # noqa: F401  (sets sys.path)

from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.data.bars import read_bars
from nofx.live.paper import PaperSession
from nofx.persistence.store import SqlLedgerStore
from nofx.strategies.base import MarketView, PortfolioView, Strategy, StrategyContext
from nofx.strategies.registry import REGISTRY

REPORTED_BEFORE_KB_PER_1000 = 45_000.0  # issue 9: ~45 KB per slice, 747 stocks


class _Sampled(Strategy):
    """Delegates to a real strategy and records RSS (and tracemalloc snapshots) as slices go by."""

    def __init__(self, inner: Strategy, warm_at: int, trace: bool) -> None:
        self._inner = inner
        self.name = inner.name
        self.params = inner.params
        self.wake_on = getattr(inner, "wake_on", None)
        self._proc = psutil.Process()
        self.rss: list[int] = []
        self._warm_at = warm_at
        self._trace = trace
        self.warm_snapshot: tracemalloc.Snapshot | None = None

    def on_start(self, ctx: StrategyContext) -> None:
        self._inner.on_start(ctx)

    def on_slice(self, view: MarketView, portfolio: PortfolioView) -> Sequence:
        orders = self._inner.on_slice(view, portfolio)
        self.rss.append(self._proc.memory_info().rss)
        if self._trace and len(self.rss) == self._warm_at:
            gc.collect()
            self.warm_snapshot = tracemalloc.take_snapshot()
        return orders

    def on_fill(self, fill) -> None:  # type: ignore[no-untyped-def]
        self._inner.on_fill(fill)

    def on_rejection(self, request, code: str, reason: str) -> None:  # type: ignore[no-untyped-def]
        self._inner.on_rejection(request, code, reason)

    @property
    def messages(self) -> list[str]:
        return self._inner.messages


def _slope_kb_per_1000(rss: list[int], start: int) -> float:
    y = np.asarray(rss[start:], dtype=float) / 1024.0
    if len(y) < 10:
        return float("nan")
    x = np.arange(len(y), dtype=float)
    return float(np.polyfit(x, y, 1)[0]) * 1000.0


def _report(label: str, sampled: _Sampled, warm: int, extra: str = "") -> None:
    rss = sampled.rss
    mb = [r / 2**20 for r in rss]
    slope = _slope_kb_per_1000(rss, warm)
    line(f"{label}: slices / warm-up", f"{len(rss)} / {warm}")
    line(f"{label}: RSS at warm-up end -> end (MB)", f"{mb[warm - 1]:.1f} -> {mb[-1]:.1f}")
    line(f"{label}: RSS growth per 1,000 slices after warm-up",
         f"{slope:,.0f} KB (before the fix: {REPORTED_BEFORE_KB_PER_1000:,.0f} KB on 747 stocks; "
         f"ratio {slope / REPORTED_BEFORE_KB_PER_1000:.3f}){extra}")
    if sampled.warm_snapshot is not None:
        gc.collect()
        top = tracemalloc.take_snapshot().compare_to(sampled.warm_snapshot, "lineno")[:8]
        for stat in top:
            line(f"{label}: traced growth", f"{stat.size_diff / 1024:,.0f} KB  {stat.traceback[0]}")


def _strategy(n_slices: int, warmup: float, trace: bool) -> tuple[_Sampled, int]:
    import nofx.strategies.builtin  # noqa: F401

    warm = max(10, int(n_slices * warmup))
    inner = REGISTRY.create("dual_ma", {"fast": 3, "slow": 10, "size": 100})
    return _Sampled(inner, warm, trace), warm


def bench_paper(bars, cfg: BacktestConfig, n_slices: int, warmup: float, trace: bool) -> None:
    strat, warm = _strategy(n_slices, warmup, trace)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "ledger.db"
        store = SqlLedgerStore(f"sqlite:///{db}")
        try:
            session = PaperSession(bars, strat, cfg, store, "bench-memory")
            session.run(progress=False)
        finally:
            store.close()
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
    per_1000 = size / 1024 / max(1, len(strat.rss)) * 1000
    _report("paper", strat, warm, f"; ledger on disk {per_1000:,.0f} KB per 1,000 slices")


def bench_backtest(bars, cfg: BacktestConfig, n_slices: int, warmup: float, trace: bool) -> None:
    strat, warm = _strategy(n_slices, warmup, trace)
    result = run_backtest(bars, strat, cfg)
    _report("backtest", strat, warm, f"; {len(result.trades)} trades kept for the report")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", type=int, default=300, help="first N stocks of cn_daily (747 = all)")
    ap.add_argument("--only", choices=["paper", "backtest"], default=None)
    ap.add_argument("--warmup", type=float, default=0.25, help="fraction of the slices counted as warm-up")
    ap.add_argument("--trace", action="store_true", help="tracemalloc: print the sites that grew most")
    args = ap.parse_args()
    if args.trace:
        tracemalloc.start(1)
    bars = read_bars(shared_file("cn_daily.parquet"))
    stocks = sorted(s for s in bars["symbol"].unique() if not s.startswith(("000300", "000905", "000016",
                                                                                "399", "000001.SH")))
    bars = bars[bars["symbol"].isin(stocks[:args.symbols])].reset_index(drop=True)
    cfg = BacktestConfig(cash=10_000_000, rules="cn")
    n_slices = bars["datetime"].nunique()
    line("universe", f"{min(args.symbols, len(stocks))} stocks, {n_slices} daily slices, pid {os.getpid()}")
    if args.only in (None, "paper"):
        bench_paper(bars, cfg, n_slices, args.warmup, args.trace)
    if args.only in (None, "backtest"):
        bench_backtest(bars, cfg, n_slices, args.warmup, args.trace)


if __name__ == "__main__":
    main()
