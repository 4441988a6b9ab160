"""Backtest speed: dual_ma in nofx versus backtrader on the same real bars, measured in one run.

1. One symbol at a time: stocks of the shared A-share file without suspended days, run one by one in
   both frameworks until 100,000+ bars are covered (same bars, same parameters, frictionless so that
   both produce the same trades, which is checked).
2. Cross-section: every stock of the file in ONE nofx run, each case in a child process so that its
   peak memory is its own: dual_ma under A-share rules and fees, dual_ma frictionless (the same work as
   the vectorised peer), and a high-turnover strategy (a 50-stock book rebalanced every day). Each prints
   bars/s beside orders/s and us per order (bars/s flatters a strategy that rarely trades), wall and
   CPU seconds (the machine is shared), and whether the fills, refusals and cash are identical to what
   the engine did before the speed work (``cross_section_fingerprints.json``). Peers: backtrader's rate
   from part 1, vectorbt on the same 747 stocks and signals in this run (``vectorbt_peer.py``, a
   benchmark extra: ``pip install .[bench]``; skipped with a message when absent).

    python benchmarks/bench_backtest.py [--min-bars 100000] [--cross-section-only] [--no-vectorbt]
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


CASES = {  # name -> (strategy, rules, fees): the cross-section runs, each in its own child process
    "dual_ma": ("dual_ma", "cn", "default"),  # crossover: about one order per 17 bars
    "dual_ma_free": ("dual_ma", "none", "zero"),  # frictionless: the same work as the vectorised peer
    "rebalance": ("rebalance", "cn", "default"),  # high turnover: a 50-stock book rebalanced every day
}
FINGERPRINTS = REPO / "benchmarks" / "cross_section_fingerprints.json"


def _strategy(name: str):
    if name == "rebalance":
        from tests.engine.rebalance import DailyRebalance

        return DailyRebalance()
    return REGISTRY.create("dual_ma", PARAMS)


def cross_section_child(case: str) -> None:
    from tests.engine.parity import fingerprint

    strategy, rules, fees = CASES[case]
    bars = read_bars(shared_file("cn_daily.parquet"))
    t, c = time.perf_counter(), time.process_time()
    r = run_backtest(bars, _strategy(strategy),
                     BacktestConfig(rules=rules, fees=fees, cash=10**9, benchmark="000300.SH"))
    dt, dc = time.perf_counter() - t, time.process_time() - c
    stocks = int((~bars["symbol"].map(lambda s: parse_symbol(s).is_index)).sum())
    stored = json.loads(FINGERPRINTS.read_text()).get(case)
    fp = fingerprint(r)
    print(json.dumps({"seconds": dt, "cpu": dc, "bars": stocks, "symbols": int(bars["symbol"].nunique()) - 6,
                      "fills": len(r.trades), "refused": len(r.rejections), "peak_mb": peak_rss_mb(),
                      "identical": None if stored is None else fp == stored}))


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


def vectorbt_same_trades(symbol: str = "600519.SH") -> None:
    """nofx (frictionless, one symbol) and vectorbt trade the same dates, sides, sizes and prices."""
    from benchmarks.vectorbt_peer import vectorbt_trades

    bars = read_bars(shared_file("cn_daily.parquet"), symbols=[symbol])
    r = run_backtest(bars, REGISTRY.create("dual_ma", PARAMS), BacktestConfig(rules="none", fees="zero"),
                     symbols=[symbol])
    ours = [(f.ts.date(), f.side.value, f.quantity, float(f.price)) for f in r.trades]
    theirs = vectorbt_trades(bars, PARAMS["fast"], PARAMS["slow"], PARAMS["size"])
    line(f"identical trades nofx / vectorbt on {symbol} ({len(ours)} trades)", str(ours == theirs))


def run_case(case: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", case], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report_case(label: str, d: dict) -> tuple[float, float]:
    """Print one cross-section run: bars/s beside orders/s and us per order (wall and CPU seconds)."""
    orders = d["fills"] + d["refused"]
    line(f"{label}: stocks / bars / fills / refused",
         f"{d['symbols']} / {d['bars']:,} / {d['fills']:,} / {d['refused']:,}  ({d['bars'] / max(orders, 1):.0f} "
         "bars per order)")
    line("  bars/s (wall; CPU)", f"{d['bars'] / d['seconds']:,.0f}; {d['bars'] / d['cpu']:,.0f}  "
         f"({d['seconds']:.2f} s wall, {d['cpu']:.2f} s CPU)")
    line("  orders/s and us per order, whole run (wall; CPU)",
         f"{orders / d['seconds']:,.0f}/s, {d['seconds'] / orders * 1e6:.0f} us; "
         f"{orders / d['cpu']:,.0f}/s, {d['cpu'] / orders * 1e6:.0f} us")
    line("  identical fills/refusals/cash to the engine before issue 15", str(d["identical"]))
    line("  peak resident memory of that process (goal < 1 GB)", f"{d['peak_mb']:,.0f} MB")
    return d["bars"] / d["seconds"], d["bars"] / d["cpu"]


def cross_section(bt_rate: float, bt_multi_rate: float | None = None, vbt: bool = True) -> None:
    rates = {case: report_case(f"cross-section {case}", run_case(case)) for case in CASES}
    rate, rate_cpu = rates["dual_ma"]
    if bt_rate == bt_rate:  # not NaN: the one-symbol part ran
        line("RATIO cross-section (cn rules) vs backtrader per-bar rate, one-symbol runs", f"{rate / bt_rate:.1f}x")
    if bt_multi_rate:
        line("RATIO cross-section (cn rules) vs backtrader per-bar rate, its multi-symbol run",
             f"{rate / bt_multi_rate:.1f}x")
    line("goal: cross-section dual_ma with cn rules >= 1,000,000 bars/s (wall; CPU)",
         f"ratio {rate / 1e6:.2f}x; {rate_cpu / 1e6:.2f}x")
    if vbt:
        from benchmarks.vectorbt_peer import vectorbt_cross_section

        peer = vectorbt_cross_section(shared_file("cn_daily.parquet"), PARAMS["fast"], PARAMS["slow"], PARAMS["size"])
        if peer is not None:
            vectorbt_same_trades()
            (free, free_cpu), (peer_wall, peer_cpu) = rates["dual_ma_free"], peer
            line("RATIO nofx frictionless / vectorbt, same stocks and signals (wall; CPU)",
                 f"{free / peer_wall:.3f}x; {free_cpu / peer_cpu:.3f}x")
            line("RATIO nofx with cn rules and fees / vectorbt frictionless (wall; CPU; goal >= 0.25x)",
                 f"{rate / peer_wall:.3f}x; {rate_cpu / peer_cpu:.3f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--min-bars", type=int, default=100_000)
    ap.add_argument("--child", choices=sorted(CASES), default=None, help=argparse.SUPPRESS)
    ap.add_argument("--no-vectorbt", action="store_true", help="skip the vectorbt peer")
    ap.add_argument("--cross-section-only", action="store_true", help="skip the one-symbol runs")
    ap.add_argument("--bt-symbols", type=int, default=50, help="stocks in backtrader's multi-symbol run (0: skip)")
    a = ap.parse_args()
    if a.child:
        cross_section_child(a.child)
        return
    print("== backtest: nofx vs backtrader and vectorbt (dual_ma fast=5 slow=20 size=100) ==")
    if a.cross_section_only:
        bt_rate, bt_multi = float("nan"), None
    else:
        bt_rate = single_symbol(a.min_bars)
        bt_multi = backtrader_cross_section(a.bt_symbols) if a.bt_symbols else None
    cross_section(bt_rate, bt_multi, vbt=not a.no_vectorbt)


if __name__ == "__main__":
    main()
