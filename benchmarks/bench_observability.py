"""Per-order cost of the metrics hooks (nofx.observability.hooks.instrument_engine): the same backtest with
and without them, in the same run. The peer is the uninstrumented engine.

The hooks add, per order, a wrapper around the engine instance's ``submit`` (two ``perf_counter`` calls,
one histogram observation), one counter increment per order and per fill in a kernel listener, and the
order-trace listener (its logger disabled, as at the default WARNING level). The runs alternate and the
fastest CPU time of each kind is kept (other jobs on the machine stretch wall time, not CPU time).

    .venv/bin/python benchmarks/bench_observability.py [--repeat 3] [--symbols 30]
"""

from __future__ import annotations

import argparse
import time
from datetime import date

from common import line

import nofx.strategies.builtin  # noqa: F401
from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.data.bars import read_bars
from nofx.data.bundled import bundled_bars_path
from nofx.observability.hooks import instrument_engine
from nofx.observability.metrics import NofxMetrics
from nofx.strategies.registry import REGISTRY


def run(bars, cfg, metrics: NofxMetrics | None) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    strategy = REGISTRY.create("dual_ma", {"fast": 2, "slow": 3, "target_percent": 0.03})  # trades often
    hook = (lambda engine: instrument_engine(engine, "bench", metrics)) if metrics is not None else None
    t = time.process_time()
    result = run_backtest(bars, strategy, cfg, on_engine=hook)
    return time.process_time() - t, len(result.trades) + len(result.rejections)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--symbols", type=int, default=30)
    args = ap.parse_args()
    bars = read_bars(bundled_bars_path(), start="2019-01-01", end="2021-12-31")
    symbols = sorted(bars["symbol"].unique())[: args.symbols]
    bars = bars[bars["symbol"].isin(symbols)]
    cfg = BacktestConfig(start=date(2019, 1, 1), end=date(2021, 12, 31), rules="cn")
    plain, hooked = [], []
    metrics = NofxMetrics()
    for _ in range(args.repeat):
        plain.append(run(bars, cfg, None))
        hooked.append(run(bars, cfg, metrics))
    (t_plain, n), (t_hooked, _) = min(plain), min(hooked)
    orders = int(metrics.orders._value.get()) // args.repeat  # counted by the hooks themselves
    line("symbols / fills + refusals per run / orders per run", f"{len(symbols)} / {n:,d} / {orders:,d}")
    line("CPU time, plain engine (s, best of runs)", f"{t_plain:.3f}")
    line("CPU time, engine with metrics hooks (s, best of runs)", f"{t_hooked:.3f}")
    line("hook cost per order (us)", f"{(t_hooked - t_plain) / max(orders, 1) * 1e6:.2f}")
    line("plain engine cost per order, whole run (us)", f"{t_plain / max(orders, 1) * 1e6:.1f}")
    line("RATIO instrumented / plain run", f"{t_hooked / t_plain:.3f}")


if __name__ == "__main__":
    main()
