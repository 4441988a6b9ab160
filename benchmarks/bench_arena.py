"""Arena throughput: 10 traders over 3 years of daily bars on 30 stocks against the mock model server
(goal: under 60 s), with the time per step split into context, model wait, validation and engine.

    .venv/bin/python benchmarks/bench_arena.py [--ai 10] [--baselines 0] [--symbols 30] [--every 5]

Data: ``../shared/data/cn_daily.parquet`` (2019-01-02 .. 2021-12-31 traded, warm-up bars from 2018),
else the bundled slice (2019-02 .. 2021-12). The mock server runs as its own process (``nofx ai
serve-mock`` on a free port), as a provider would; the reply cache is off, so every decision cycle calls
the model. AI traders alternate momentum / contrarian prompts and temperatures; one is a role chain
(analyst -> trader -> risk). The ledger is a SQLite file in a temporary folder.

Peer measured in the same run: the sum of the model calls' own latencies against the wall time the
replay spent waiting for models (how much the concurrent calls overlap).
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pandas as pd
from common import REPO, SHARED, line, peak_rss_mb

from nofx.arena.competition import run_competition
from nofx.arena.config import competition_from_mapping
from nofx.data.bundled import bundled_bars_path
from nofx.persistence.decisions import DecisionLog
from nofx.persistence.store import SqlLedgerStore


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mock_server(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "nofx.cli.main", "ai", "serve-mock", "--port", str(port)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    sys.exit("mock server did not start")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ai", type=int, default=10)
    ap.add_argument("--baselines", type=int, default=0, choices=range(0, 4))
    ap.add_argument("--symbols", type=int, default=30)
    ap.add_argument("--every", type=int, default=5, help="bars between decision cycles")
    ap.add_argument("--end", default="2021-12-31", help="last date (a shorter run for profiling)")
    ap.add_argument("--server", choices=("process", "inproc"), default="process",
                    help="the mock as its own process, or in this process as `nofx compete --mock` runs it")
    args = ap.parse_args()
    shared = SHARED / "cn_daily.parquet"
    src = shared if shared.exists() else bundled_bars_path()
    # STAR (688) shares left out: the board opened 2019-07-22, and the AI trader sizes lots for every
    # symbol of its universe from the first day (the A-share lot table has no STAR row before then)
    from nofx.domain.instruments import parse_symbol

    names = [s for s in pd.read_parquet(src, columns=["symbol"])["symbol"].unique()
             if not s.startswith("688") and not parse_symbol(s).is_index]
    symbols = sorted(names)[: args.symbols]
    path, start = (str(src), "2019-01-02") if shared.exists() else (str(src), "2019-02-25")
    port = _free_port()
    server = _mock_server(port) if args.server == "process" else None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ai = []
            for k in range(args.ai):
                entry = {"name": f"ai{k}", "model": "mock-momentum",
                         "style": "contrarian: buy oversold" if k % 2 else "momentum", "temperature": 0.3 + 0.1 * (k % 5),
                         "seed": k}
                if k == 2:
                    entry["roles"] = [{"name": "analyst", "decides": False}, {"name": "trader"}, {"name": "risk"}]
                ai.append(entry)
            baselines = [{"name": "dual_ma", "strategy": "dual_ma"}, {"name": "buy_and_hold", "strategy": "buy_and_hold"},
                         {"name": "multi_factor", "strategy": "multi_factor", "params": {"top_n": 8}}][: args.baselines]
            cfg = competition_from_mapping({
                "competition": {"id": "bench", "step_timeout_s": 60},
                "ai_defaults": {"base_url": f"http://127.0.0.1:{port}/v1", "decision_every": args.every,
                                "cache": "off", "context_tokens": 8000, "concurrency": 8,
                                "limits": {"max_positions": 5, "max_position_weight": 0.2}},
                "ai": ai, "baselines": baselines,
                "data": {"path": path, "symbols": symbols},
                "backtest": {"start": start, "end": args.end, "rules": "cn", "warmup_bars": 30,
                             "benchmark": "000300.SH"},
            })
            with SqlLedgerStore(f"sqlite:///{Path(tmp) / 'arena.db'}") as store:
                t0, c0 = time.perf_counter(), time.process_time()
                res = run_competition(cfg, store, live=False, mock=args.server == "inproc")
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                log = DecisionLog(store)
                latency = sum(r.latency_ms for s in res.outcome.seats if s.ai is not None
                              for r in log.rows(s.trader_id)) / 1000
                cycles = sum(len(log.rows(s.trader_id)) for s in res.outcome.seats if s.ai is not None)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
    server_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = res.outcome.times
    per = t.per_step_ms()
    calls = sum(u["calls"] for u in res.outcome.usage.values())
    line("data", f"{Path(path).name}: {len(symbols)} stocks, {start} .. {args.end}")
    line("mock server", "own process (nofx ai serve-mock)" if server is not None else
         "in this process (a thread, as nofx compete --mock)")
    line("traders", f"{args.ai} AI (decision every {args.every} bars) + {args.baselines} baselines")
    line("steps (daily bars replayed)", f"{t.steps}")
    line("decision cycles / model calls", f"{cycles} / {calls}")
    line("wall time, whole competition (incl. data, set-up, scoring)", f"{wall:.1f} s  (goal < 60 s: "
         f"{'met' if wall < 60 else 'NOT met'})")
    line("CPU time: arena process / mock server process", f"{cpu:.1f} s / "
         f"{server_cpu.ru_utime + server_cpu.ru_stime:.1f} s  (load average {os.getloadavg()[0]:.1f} on "
         f"{os.cpu_count()} cores)")
    line("replay loop", f"{sum(getattr(t, k) for k in ('context', 'model', 'validation', 'engine', 'baselines')):.1f} s")
    for k in ("context", "model", "validation", "engine", "baselines"):
        line(f"  per step: {k}", f"{per[k]:.2f} ms  ({getattr(t, k):.1f} s)")
    if t.model > 0:
        line("peer: sum of call latencies / model wait (overlap)", f"{latency:.1f} s / {t.model:.1f} s = "
             f"{latency / t.model:.2f}x")
    line("peak RSS", f"{peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
