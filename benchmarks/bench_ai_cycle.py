"""AI trader decision-cycle overhead, excluding the model call: context build and render, parse and
validate the reply, map back and apply the limits in code, for a 50-stock universe (goal < 5 ms/cycle).

    .venv/bin/python benchmarks/bench_ai_cycle.py [path/to/cn_daily.parquet]

Runs a real backtest (2020-2021, a decision every bar, positions and history building up) in which the
"model" is the mock server's deterministic policy called in-process; the policy's time is excluded.
Each cycle is timed twice: wall clock (perf_counter) and the thread's CPU time (thread_time). On a
shared machine the wall-clock tail is other processes preempting this one (the worst wall-clock cycles
show ordinary CPU times); the CPU time is the work the cycle itself does. Both are printed, with the
load average. Split: context (build + render), parse (find and decode the JSON), validate (pydantic),
risk (map back + limits in code + memory). Parse and validate are timed on each cycle's reply by the
parser's two stages separately; the cycle itself takes the parser's fast path (pydantic validating the
JSON text directly) for a clean reply. Peer measured in the same run: one round trip to the local mock
server over HTTP (the cheapest model call there can be).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

from common import SHARED, line  # noqa: F401  (puts the repo on sys.path)

from nofx.ai.client import LLMClient
from nofx.ai.config import EndpointConfig
from nofx.ai.mock_server import MockServer, reply_text
from nofx.backtest.config import BacktestConfig
from nofx.backtest.runner import run_backtest
from nofx.data.bars import read_bars
from nofx.strategies.ai.config import AITraderParams
from nofx.strategies.ai.cycle import ModelReply
from nofx.strategies.ai.parse import _as_list, find_json
from nofx.strategies.ai.schema import DECISIONS
from nofx.strategies.ai.trader import AITrader

N_SYMBOLS = 50
GOAL_MS = 5.0
PARTS = ("context", "parse", "validate", "risk")


def _clocks() -> tuple[float, float]:
    return time.perf_counter(), time.thread_time()


class TimedTrader(AITrader):
    def __init__(self, *a, **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*a, **kw)
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.parts: dict[str, list[float]] = {k: [] for k in PARTS}
        self.tokens: list[int] = []

    def on_slice(self, view, portfolio):  # type: ignore[no-untyped-def]
        w0, c0 = _clocks()
        cycle = self.begin_cycle(view, portfolio)
        if cycle is None:
            return []
        w1, c1 = _clocks()
        wall, cpu = w1 - w0, c1 - c0
        self.parts["context"].append(c1 - c0)
        while (req := cycle.next_request()) is not None:
            text = reply_text("ok", req.messages[0]["content"], list(req.messages), "mock-momentum")  # not timed
            w2, c2 = _clocks()
            cycle.feed(ModelReply(text))
            w3, c3 = _clocks()
            wall, cpu = wall + w3 - w2, cpu + c3 - c2
            # the parser's two stages, timed apart on the same reply (not part of the cycle's total)
            t0 = time.thread_time()
            _, _, cands = find_json(text)
            t1 = time.thread_time()
            DECISIONS.validate_python(_as_list(cands[0]))
            t2 = time.thread_time()
            self.parts["parse"].append(t1 - t0)
            self.parts["validate"].append(t2 - t1)
        w4, c4 = _clocks()
        orders = self.complete_cycle(cycle, view, portfolio).orders
        w5, c5 = _clocks()
        self.parts["risk"].append(c5 - c4)
        self.wall.append(wall + w5 - w4)
        self.cpu.append(cpu + c5 - c4)
        self.tokens.append(cycle.context_tokens)
        return orders


def _pct(xs: list[float], q: float) -> float:
    ys = sorted(xs)
    return ys[min(len(ys) - 1, max(0, int(round(q * len(ys))) - 1))]


def _row(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1e3:.2f} / {_pct(xs, 0.95) * 1e3:.2f} / {_pct(xs, 0.99) * 1e3:.2f} ms"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else SHARED / "cn_daily.parquet"
    if not path.exists():
        from nofx.data.bundled import bundled_bars_path

        path = bundled_bars_path()
    bars = read_bars(path, start="2019-09-01", end="2021-12-31")
    counts = bars.groupby("symbol").size()
    full = counts[counts >= counts.max() * 0.98].index
    symbols = [s for s in sorted(full) if not s.startswith(("000300", "000905", "399"))][:N_SYMBOLS]
    bars = bars[bars["symbol"].isin(symbols)]
    trader = TimedTrader(AITraderParams(context_tokens=20_000), "bench", universe=symbols)
    cfg = BacktestConfig(start="2020-01-01", end="2021-12-31", rules="cn", warmup_bars=30)
    t = time.perf_counter()
    res = run_backtest(bars, trader, cfg)
    wall = time.perf_counter() - t
    load = os.getloadavg()[0]
    print("== AI decision cycle overhead (excluding the model call) ==")
    line("universe / cycles / fills", f"{len(symbols)} stocks / {len(trader.cpu)} / {len(res.trades)}")
    line("context size (estimated tokens, median)", f"{int(statistics.median(trader.tokens)):,d}")
    line("load average (1 min) at the end, on this machine's cores", f"{load:.2f} / {os.cpu_count()}")
    line("CPU time per cycle median / p95 / p99", _row(trader.cpu))
    for k in PARTS:
        line(f"  {k} (CPU) median / p95 / p99", _row(trader.parts[k]))
    line("wall clock per cycle median / p95 / p99", _row(trader.wall))
    cpu99, wall99 = _pct(trader.cpu, 0.99) * 1e3, _pct(trader.wall, 0.99) * 1e3
    line(f"goal: p99 < {GOAL_MS:.0f} ms per cycle", f"CPU p99 {cpu99:.2f} ms ({cpu99 / GOAL_MS:.2f}x of the goal), "
         f"wall p99 {wall99:.2f} ms ({wall99 / GOAL_MS:.2f}x)")
    worst = sorted(zip(trader.wall, trader.cpu), reverse=True)[:3]
    line("slowest 3 cycles by wall clock: wall / CPU ms", ", ".join(f"{w * 1e3:.1f} / {c * 1e3:.1f}" for w, c in worst))
    line("whole backtest wall time", f"{wall:.2f} s")
    med = statistics.median(trader.wall)

    async def round_trips(url: str, n: int) -> list[float]:
        client = LLMClient(EndpointConfig(base_url=url, response_format=False))
        from nofx.strategies.ai.cycle import ChatRequest

        req = ChatRequest("trader", "decide", ({"role": "system", "content": "s"},
                                               {"role": "user", "content": "<market_data>\n{}\n</market_data>"}),
                          None)
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            r = await client.complete(req)
            assert r.error is None, r.error
            out.append(time.perf_counter() - t0)
        await client.aclose()
        return out

    with MockServer() as srv:
        rt = sorted(asyncio.run(round_trips(srv.url, 50)))
    peer = statistics.median(rt)
    line("peer: one HTTP round trip to the local mock model (median)", f"{peer * 1e3:.2f} ms")
    line("RATIO cycle overhead / mock round trip", f"{med / peer:.2f}x")


if __name__ == "__main__":
    main()
