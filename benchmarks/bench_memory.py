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

What a run keeps on purpose is printed beside the growth: the OMS keeps open orders and the most recent
closed ones (a bounded window, ``nofx.engine.oms.DEFAULT_KEEP_CLOSED``: growth stops once it is full), and
a backtest keeps every fill for its report (its result, not a leak: the growth net of those fills is
printed too, with the fills' own size from ``sys.getsizeof``). A paper run keeps no fills (the ledger has
them).

``--trace`` also runs tracemalloc and prints the allocation sites that grew most between the end of
warm-up and the end of the run (how the retention was found), and the traced (Python) growth next to RSS:
RSS growth that tracemalloc does not see is outside Python's objects (allocator, numpy buffers).

``--keep-closed N`` sets that OMS window (default ``DEFAULT_KEEP_CLOSED``): with a small one, a small
universe (whose 5,000 closed orders take more than the run to come) shows what else grows.

    python benchmarks/bench_memory.py [--symbols 300|all] [--only paper|backtest] [--trace] [--keep-closed N]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import psutil
from common import line, shared_file  # noqa: F401  (sets sys.path)

from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.data.bars import read_bars
from nofx.engine.kernel import TradingEngine
from nofx.engine.oms import DEFAULT_KEEP_CLOSED
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
        self.engine: TradingEngine | None = None  # set before the run: what it keeps is read at warm-up end
        self.kept_at_warm: tuple[int, int, int] = (0, 0, 0)  # (OMS orders, fills, refusals) kept at warm-up end
        self.traced_at_warm = 0

    def on_start(self, ctx: StrategyContext) -> None:
        self._inner.on_start(ctx)

    def on_slice(self, view: MarketView, portfolio: PortfolioView) -> Sequence:
        orders = self._inner.on_slice(view, portfolio)
        self.rss.append(self._proc.memory_info().rss)
        if len(self.rss) == self._warm_at:
            self.kept_at_warm = self.kept()
            if self._trace:
                gc.collect()
                self.warm_snapshot = tracemalloc.take_snapshot()
                self.traced_at_warm = tracemalloc.get_traced_memory()[0]
        return orders

    def kept(self) -> tuple[int, int, int]:
        eng = self.engine
        return (len(eng.oms), len(eng.fills), len(eng.rejections)) if eng is not None else (0, 0, 0)

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


# the backtest runner also keeps one (slice, column, quantity change) tuple per fill for the equity curve
_PER_FILL_TUPLE = sys.getsizeof((0, 0, 0))


def _mean_bytes(items: Sequence, attrs: tuple[str, ...]) -> float:
    """Mean bytes of one kept record: the object and the values only it holds (ids, amounts, times)."""
    sample = list(items)[-200:]
    if not sample:
        return 0.0
    return sum(sys.getsizeof(x) + sum(sys.getsizeof(getattr(x, a)) for a in attrs) for x in sample) / len(sample)


def _report(label: str, sampled: _Sampled, warm: int, extra: str = "") -> float:
    rss = sampled.rss
    mb = [r / 2**20 for r in rss]
    slope = _slope_kb_per_1000(rss, warm)
    after = len(rss) - warm
    line(f"{label}: slices / warm-up", f"{len(rss)} / {warm}")
    line(f"{label}: RSS at warm-up end -> end (MB)", f"{mb[warm - 1]:.1f} -> {mb[-1]:.1f}")
    line(f"{label}: RSS growth per 1,000 slices after warm-up",
         f"{slope:,.0f} KB (before the fix: {REPORTED_BEFORE_KB_PER_1000:,.0f} KB on 747 stocks; "
         f"ratio {slope / REPORTED_BEFORE_KB_PER_1000:.3f}){extra}")
    (orders0, fills0, refused0), (orders1, fills1, refused1) = sampled.kept_at_warm, sampled.kept()
    line(f"{label}: orders held by the OMS, warm-up end -> end",
         f"{orders0:,} -> {orders1:,} (open + the last {KEEP_CLOSED:,} closed at most)")
    eng = sampled.engine
    if eng is not None and eng.keep_fills:
        per_fill = _mean_bytes(eng.fills, ("fill_id", "order_id", "price", "fee", "ts")) + _PER_FILL_TUPLE
        per_refusal = _mean_bytes(eng.rejections, ("ts", "request", "reason"))
        kept_kb = ((fills1 - fills0) * per_fill + (refused1 - refused0) * per_refusal) / 1024 / max(1, after) * 1000
        line(f"{label}: result kept for the report after warm-up",
             f"{fills1 - fills0:,} fills x {per_fill:,.0f} B + {refused1 - refused0:,} refusals x {per_refusal:,.0f} B"
             f" = {kept_kb:,.0f} KB per 1,000 slices; growth net of them {slope - kept_kb:,.0f} KB per 1,000 slices")
    if sampled.warm_snapshot is not None:
        gc.collect()
        traced = (tracemalloc.get_traced_memory()[0] - sampled.traced_at_warm) / 1024 / max(1, after) * 1000
        line(f"{label}: traced (Python objects) growth", f"{traced:,.0f} KB per 1,000 slices (RSS {slope:,.0f})")
        top = tracemalloc.take_snapshot().compare_to(sampled.warm_snapshot, "lineno")[:8]
        for stat in top:
            line(f"{label}: traced growth", f"{stat.size_diff / 1024:,.0f} KB  {stat.traceback[0]}")
    return slope


KEEP_CLOSED = DEFAULT_KEEP_CLOSED


def _attach(strat: _Sampled, engine: TradingEngine) -> None:
    strat.engine = engine
    engine.oms.keep_closed = KEEP_CLOSED


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
            _attach(strat, session.engine)
            session.run(progress=False)
        finally:
            store.close()
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
    per_1000 = size / 1024 / max(1, len(strat.rss)) * 1000
    _report("paper", strat, warm, f"; ledger on disk {per_1000:,.0f} KB per 1,000 slices")


def bench_backtest(bars, cfg: BacktestConfig, n_slices: int, warmup: float, trace: bool) -> None:
    strat, warm = _strategy(n_slices, warmup, trace)
    result = run_backtest(bars, strat, cfg, on_engine=lambda eng: _attach(strat, eng))
    _report("backtest", strat, warm, f"; {len(result.trades)} trades kept for the report")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--symbols", default="300", help="first N stocks of cn_daily, or 'all' (747)")
    ap.add_argument("--only", choices=["paper", "backtest"], default=None)
    ap.add_argument("--warmup", type=float, default=0.25, help="fraction of the slices counted as warm-up")
    ap.add_argument("--trace", action="store_true", help="tracemalloc: print the sites that grew most")
    ap.add_argument("--keep-closed", type=int, default=DEFAULT_KEEP_CLOSED,
                    help="closed orders the OMS keeps (its bounded window)")
    args = ap.parse_args()
    global KEEP_CLOSED
    KEEP_CLOSED = args.keep_closed
    if args.trace:
        tracemalloc.start(1)
    bars = read_bars(shared_file("cn_daily.parquet"))
    stocks = sorted(s for s in bars["symbol"].unique() if not s.startswith(("000300", "000905", "000016",
                                                                                "399", "000001.SH")))
    n = len(stocks) if args.symbols == "all" else int(args.symbols)
    bars = bars[bars["symbol"].isin(stocks[:n])].reset_index(drop=True)
    cfg = BacktestConfig(cash=10_000_000, rules="cn")
    n_slices = bars["datetime"].nunique()
    line("universe", f"{min(n, len(stocks))} stocks, {n_slices} daily slices, pid {os.getpid()}")
    if args.only in (None, "paper"):
        bench_paper(bars, cfg, n_slices, args.warmup, args.trace)
    if args.only in (None, "backtest"):
        bench_backtest(bars, cfg, n_slices, args.warmup, args.trace)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
