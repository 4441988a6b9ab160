"""Backtest speed: dual_ma in nofx versus backtrader on the same real bars, measured in one run.

1. One symbol at a time: stocks of the shared A-share file without suspended days, run one by one in
   both frameworks until 100,000+ bars are covered (same bars, same parameters, frictionless so that
   both produce the same trades, which is checked).
2. Cross-section: dual_ma on every stock of the file in ONE nofx run under A-share rules and fees,
   in a child process so that its peak memory is its own; compared with backtrader's per-bar rate
   from part 1.

    python benchmarks/bench_backtest.py [--min-bars 100000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from common import REPO, line, peak_rss_mb, shared_file  # noqa: F401  (sets sys.path)

import nofx.strategies.builtin  # noqa: E402,F401
from benchmarks.backtrader_peer import run_backtrader_dual_ma  # noqa: E402
from nofx.backtest.config import BacktestConfig  # noqa: E402
from nofx.backtest.runner import run_backtest  # noqa: E402
from nofx.data.bars import read_bars  # noqa: E402
from nofx.domain.instruments import parse_symbol  # noqa: E402
from nofx.strategies.registry import REGISTRY  # noqa: E402

PARAMS = {"fast": 5, "slow": 20, "size": 100}


def single_symbol(min_bars: int) -> float:
    bars = read_bars(shared_file("cn_daily.parquet"))
    stocks = bars[~bars["symbol"].map(lambda s: parse_symbol(s).is_index)]
    clean = stocks.groupby("symbol").filter(lambda g: (g["volume"] > 0).all() and len(g) >= 1000)
    chosen, total = [], 0
    for sym, g in clean.groupby("symbol", sort=True):
        chosen.append(sym)
        total += len(g)
        if total >= min_bars:
            break
    per = {s: g.reset_index(drop=True) for s, g in clean[clean["symbol"].isin(chosen)].groupby("symbol")}
    cfg = BacktestConfig(rules="none", fees="zero", fill="next_open")
    # warm both once (imports, caches) outside the timing
    first = chosen[0]
    run_backtest(per[first], REGISTRY.create("dual_ma", PARAMS), cfg)
    run_backtrader_dual_ma(per[first], 5, 20, 100)

    t = time.perf_counter()
    ours = {s: run_backtest(per[s], REGISTRY.create("dual_ma", PARAMS), cfg, symbols=[s]) for s in chosen}
    t_nofx = time.perf_counter() - t
    t = time.perf_counter()
    theirs = {s: run_backtrader_dual_ma(per[s], 5, 20, 100) for s in chosen}
    t_bt = time.perf_counter() - t
    same = all(
        [(f.ts.date(), f.side.value, f.quantity, float(f.price)) for f in ours[s].trades]
        == [(x.date.date(), x.side, x.quantity, x.price) for x in theirs[s][0]]
        for s in chosen
    )
    n_trades = sum(len(r.trades) for r in ours.values())
    line("single-symbol runs: symbols / bars / trades", f"{len(chosen)} / {total:,} / {n_trades:,}")
    line("identical trades in both frameworks", str(same))
    line("nofx dual_ma, one symbol per run (bars/s)", f"{total / t_nofx:,.0f}  ({t_nofx:.2f} s)")
    line("backtrader dual_ma, one symbol per run (bars/s)", f"{total / t_bt:,.0f}  ({t_bt:.2f} s)")
    line("RATIO nofx / backtrader, one symbol (goal >= 20x)", f"{t_bt / t_nofx:.1f}x")
    return total / t_bt


def cross_section_child() -> None:
    bars = read_bars(shared_file("cn_daily.parquet"))
    t = time.perf_counter()
    r = run_backtest(bars, REGISTRY.create("dual_ma", PARAMS),
                     BacktestConfig(rules="cn", fees="default", cash=10**9, benchmark="000300.SH"))
    dt = time.perf_counter() - t
    n = int(r.prices.notna().sum().sum()) if r.prices is not None else 0
    stocks = int((~bars["symbol"].map(lambda s: parse_symbol(s).is_index)).sum())
    print(json.dumps({"seconds": dt, "bars": stocks, "symbols": int(bars["symbol"].nunique()) - 6,
                      "fills": len(r.trades), "refused": len(r.rejections), "peak_mb": peak_rss_mb(),
                      "traded_bars": n}))


def backtrader_cross_section(n_symbols: int) -> float:
    """backtrader's per-bar rate when it runs many symbols in one Cerebro (its cross-sectional mode),
    on the first ``n_symbols`` stocks of the file: a second peer figure for the cross-section ratio."""
    bars = read_bars(shared_file("cn_daily.parquet"))
    stocks = bars[~bars["symbol"].map(lambda s: parse_symbol(s).is_index)]
    keep = sorted(stocks["symbol"].unique())[:n_symbols]
    sub = stocks[stocks["symbol"].isin(keep)]
    # backtrader aligns datas on a common clock; give it only full-length series so that it runs
    full = sub.groupby("symbol").filter(lambda g: len(g) == sub["datetime"].nunique())
    t = time.perf_counter()
    _, _, n = run_backtrader_dual_ma(full, 5, 20, 100, cash=1e9)
    dt = time.perf_counter() - t
    line(f"backtrader dual_ma, {full['symbol'].nunique()} symbols in one run (bars/s)", f"{n / dt:,.0f}  ({dt:.2f} s)")
    return n / dt


def cross_section(bt_rate: float, bt_multi_rate: float | None = None) -> None:
    out = subprocess.run([sys.executable, __file__, "--child"], capture_output=True, text=True, check=True)
    d = json.loads(out.stdout.strip().splitlines()[-1])
    rate = d["bars"] / d["seconds"]
    line("cross-section: stocks / bars / fills / refused",
         f"{d['symbols']} / {d['bars']:,} / {d['fills']:,} / {d['refused']:,}")
    line("nofx dual_ma cross-section, one run (bars/s)", f"{rate:,.0f}  ({d['seconds']:.2f} s)")
    line("peak resident memory of that process (goal < 2 GB)", f"{d['peak_mb']:,.0f} MB")
    line("RATIO vs backtrader per-bar rate, one-symbol runs (goal >= 100x)", f"{rate / bt_rate:.1f}x")
    if bt_multi_rate:
        line("RATIO vs backtrader per-bar rate, its multi-symbol run", f"{rate / bt_multi_rate:.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--min-bars", type=int, default=100_000)
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--bt-symbols", type=int, default=50, help="stocks in backtrader's multi-symbol run (0: skip)")
    a = ap.parse_args()
    if a.child:
        cross_section_child()
        return
    print("== backtest: nofx vs backtrader (dual_ma fast=5 slow=20 size=100) ==")
    bt_rate = single_symbol(a.min_bars)
    bt_multi = backtrader_cross_section(a.bt_symbols) if a.bt_symbols else None
    cross_section(bt_rate, bt_multi)


if __name__ == "__main__":
    main()
