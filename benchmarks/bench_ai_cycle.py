"""AI trader decision-cycle overhead, excluding the model call: context build and render, parse and
validate the reply, map back and apply the limits in code, for a 50-stock universe (goal < 5 ms/cycle).

    .venv/bin/python benchmarks/bench_ai_cycle.py [path/to/cn_daily.parquet]

Runs a real backtest (2020-2021, a decision every bar, positions and history building up) in which the
"model" is the mock server's deterministic policy called in-process; the policy's time is excluded.
Peer measured in the same run: one round trip to the local mock server over HTTP (the cheapest model
call there can be), so the ratio says how small the cycle's own work is next to any model call.
"""

from __future__ import annotations

import asyncio
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
from nofx.strategies.ai.trader import AITrader

N_SYMBOLS = 50


class TimedTrader(AITrader):
    def __init__(self, *a, **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*a, **kw)
        self.cycle_s: list[float] = []
        self.tokens: list[int] = []

    def on_slice(self, view, portfolio):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        cycle = self.begin_cycle(view, portfolio)
        if cycle is None:
            return []
        spent = time.perf_counter() - t0
        while (req := cycle.next_request()) is not None:
            text = reply_text("ok", req.messages[0]["content"], list(req.messages), "mock-momentum")  # not timed
            t1 = time.perf_counter()
            cycle.feed(ModelReply(text))
            spent += time.perf_counter() - t1
        t2 = time.perf_counter()
        orders = self.complete_cycle(cycle, view, portfolio).orders
        spent += time.perf_counter() - t2
        self.cycle_s.append(spent)
        self.tokens.append(cycle.context_tokens)
        return orders


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
    cyc = sorted(trader.cycle_s)
    med, p99 = statistics.median(cyc), cyc[int(len(cyc) * 0.99) - 1]
    print("== AI decision cycle overhead (excluding the model call) ==")
    line("universe / cycles / fills", f"{len(symbols)} stocks / {len(cyc)} / {len(res.trades)}")
    line("context size (estimated tokens, median)", f"{int(statistics.median(trader.tokens)):,d}")
    line("cycle overhead median / p99 (goal < 5 ms)", f"{med * 1e3:.2f} ms / {p99 * 1e3:.2f} ms  "
         f"(ratio to goal {med * 1e3 / 5:.2f}x)")
    line("whole backtest wall time", f"{wall:.2f} s")

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
