"""Speed of the return predictors on CPU (or CUDA when present).

Prints, per model: inference time for one day's cross-section (750 stocks, 60-day Alpha360 windows:
model forward only, and end to end from bars: features + scaling + forward), and training
throughput (samples/s of forward + backward + AdamW step on one day's batch of 300 stocks). The
peers measured in the same run: the linear baseline's inference, and the vectorised correlation
graph against a naive pair-by-pair loop. Medians over repeats; the CPU is shared, so absolute
figures move with its load: compare ratios within one run.

Then the peak resident memory of every model command the README documents, each run as its own process
on the shared data (goal < 4 GB; issue 9 saw LightGBM on Alpha158 killed at 23.7 GB). To keep the run
short the LSTM trains one epoch on every 20th day: the peak comes from loading the data and building
features, which do not depend on the number of epochs.

    .venv/bin/python benchmarks/bench_models.py [--threads 1] [--device cpu|cuda] [--seq-len 60] [--no-memory]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch

from common import REPO, SHARED, line  # noqa: E402  (puts the repository on sys.path)
from nofx.data.panel import BarPanel
from nofx.features.adjusted import adjust_panel
from nofx.features.normalize import RobustScaler
from nofx.models.config import ModelConfig
from nofx.models.dataset import DayBatch, FeatureConfig, FeatureSource, PanelDataset
from nofx.models.graph import GraphSchedule, build_edges, correlation_matrix, daily_returns
from nofx.models.training import TorchModelRunner, build_net, graph_spec


def timeit(fn: Callable[[], object], repeat: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def synthetic_frame(n_stocks: int, n_days: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=n_days)
    close = 10 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_days, n_stocks)) + rng.normal(0, 0.01, (n_days, 1)), 0))
    frames = []
    for k in range(n_stocks):
        c = close[:, k]
        frames.append(pd.DataFrame({"symbol": f"{600000 + k:06d}.SH", "datetime": dates, "open": c * 0.999,
                                    "high": c * 1.01, "low": c * 0.99, "close": c,
                                    "volume": rng.integers(1_000, 9_000, n_days) * 100.0}))
    return pd.concat(frames, ignore_index=True)


def naive_graph(ret: np.ndarray, top_k: int) -> int:
    """Pair-by-pair correlations (numpy per pair), top-k per stock: the O(n^2) loop being replaced."""
    n = ret.shape[1]
    r = np.nan_to_num(ret)
    n_edges = 0
    for i in range(n):
        c = [np.corrcoef(r[:, i], r[:, j])[0, 1] if j != i else -np.inf for j in range(n)]
        n_edges += len(np.argsort(c)[-top_k:])
    return n_edges


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--seq-len", type=int, default=60, help="window length (the results table uses 30)")
    ap.add_argument("--no-memory", action="store_true", help="skip the README commands' peak memory")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    print(f"device {dev}, torch threads {torch.get_num_threads()}, torch {torch.__version__}")

    n_inf, n_train, L = 750, 300, args.seq_len
    panel = BarPanel.from_frame(synthetic_frame(n_inf, 130))
    bars = adjust_panel(panel)
    feats = FeatureConfig(set="alpha360", seq_len=L)
    src = FeatureSource(bars, feats)
    F = feats.n_features
    scaler = RobustScaler(np.zeros(L * F, "float32"), np.ones(L * F, "float32"))
    ds = PanelDataset(src, scaler)
    t = len(panel.timestamps) - 1
    batch = ds.batch(t)
    print(f"inference batch: {batch.x.shape[0]} stocks x {L} days x {F} features")

    rows = []
    linear_ms = None
    w = np.random.default_rng(0).normal(size=L * F)
    xf = batch.x.reshape(len(batch.cols), -1)
    linear_ms = 1e3 * timeit(lambda: xf.astype("float64") @ w, args.repeat)
    for kind in ("transformer", "lstm", "gat"):
        mc = ModelConfig(kind=kind, hidden=32, layers=1)
        torch.manual_seed(0)
        net = build_net(mc, feats, n_steps=5).to(dev).eval()
        runner = TorchModelRunner(net, kind, dev, graph_spec(mc))
        graphs = GraphSchedule(bars.close, graph_spec(mc)) if kind == "gat" else None
        if graphs is not None:
            graphs.edges_at(t)  # a day's graph is built once per rebuild period; timed separately below
        fwd = 1e3 * timeit(lambda: runner.predict(batch, graphs), args.repeat)
        e2e = 1e3 * timeit(lambda: runner.predict(ds.batch(t), graphs), args.repeat)
        # training throughput on a 300-stock day
        tb = ds.batch(t)
        idx = np.arange(n_train)
        small = DayBatch(tb.t, tb.cols[idx], tb.x[idx], tb.mask[idx])
        net.train()
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
        y = torch.randn(n_train, device=dev)

        def step() -> None:
            out = runner.forward(small, graphs)["score"]
            loss = ((out - y) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if dev.type == "cuda":
                torch.cuda.synchronize()

        st = timeit(step, max(3, args.repeat // 2), warmup=1)
        rows.append((kind, fwd, e2e, n_train / st))
    print()
    print(f"{'model':12s} {'forward ms':>11s} {'end-to-end ms':>14s} {'vs linear':>10s} "
          f"{'train samples/s':>16s} {'< 50 ms':>8s}")
    for kind, fwd, e2e, sps in rows:
        ok = "yes" if e2e < 50 else "no"
        print(f"{kind:12s} {fwd:11.1f} {e2e:14.1f} {fwd / linear_ms:9.0f}x {sps:16.0f} {ok:>8s}")
    print(f"{'linear':12s} {linear_ms:11.2f}")

    # graph construction: vectorised vs naive loop (the naive one on fewer stocks, then scaled by n^2)
    ret = daily_returns(bars.close)[-60:]
    vec = 1e3 * timeit(lambda: build_edges(*correlation_matrix(ret, 20), top_k=10), 3, warmup=1)
    n_naive = 120
    naive = 1e3 * timeit(lambda: naive_graph(ret[:, :n_naive], 10), 1, warmup=0) * (n_inf / n_naive) ** 2
    print(f"\ncorrelation graph of {n_inf} stocks (60-day window, top-10): vectorised {vec:.1f} ms, "
          f"naive pair loop ~{naive:.0f} ms (measured on {n_naive}, scaled by n^2): {naive / vec:.0f}x faster")


MEMORY_GOAL_MB = 4096


def peak_memory_of(argv: list[str]) -> tuple[float, float, int]:
    """(peak resident MB, seconds, exit code) of ``argv`` run as a child process (``wait4`` reports the
    child's own peak, independent of this process and of the other children)."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        print(proc.stderr.read().decode()[-500:], file=sys.stderr)
    return usage.ru_maxrss / 1024.0, time.perf_counter() - t, proc.returncode


def readme_command_peaks() -> None:
    data = SHARED / "cn_daily.parquet"
    if not data.exists():
        print(f"\npeak memory of the README model commands: skipped ({data} absent)")
        return
    work = Path(tempfile.mkdtemp(prefix="nofx-bench-models-"))
    run, lgb = work / "run", work / "lgb158"
    nofx = [sys.executable, "-m", "nofx.cli.main"]
    commands = [
        ("model train --model lstm (README; 1 epoch, every 20th day)",
         [*nofx, "model", "train", "--model", "lstm", "--data", str(data), "--train", "2017-01-01:2019-12-31",
          "--valid", "2020-01-01:2020-12-31", "--out", str(run), "--epochs", "1", "--day-stride", "20",
          "--valid-stride", "10"]),
        ("model eval run/ --test 2021 (README)", [*nofx, "model", "eval", str(run), "--test", "2021-01-01:2021-12-31"]),
        ("model predict run/ 2021 (docs/models.md)",
         [*nofx, "model", "predict", str(run), "--data", str(data), "--start", "2021-01-01", "--end", "2021-12-31",
          "--out", str(work / "preds.parquet")]),
        ("backtest --strategy ml_topk model=run/ (README)",
         [*nofx, "backtest", "--strategy", "ml_topk", "--params", f"model={run},topk=50,n_drop=5", "--no-progress"]),
        ("model train --model lightgbm --features alpha158 (issue 9)",
         [*nofx, "model", "train", "--model", "lightgbm", "--features", "alpha158", "--data", str(data),
          "--train", "2017-01-01:2019-12-31", "--valid", "2020-01-01:2020-06-30", "--out", str(lgb)]),
    ]
    print(f"\npeak resident memory of the README model commands, 300 stocks of {data.name} "
          f"(goal < {MEMORY_GOAL_MB:,} MB)")
    try:
        for label, argv in commands:
            mb, secs, rc = peak_memory_of(argv)
            verdict = "FAILED" if rc else ("ok" if mb < MEMORY_GOAL_MB else "OVER GOAL")
            line(f"  {label}", f"{mb:,.0f} MB  ({mb / MEMORY_GOAL_MB:.2f}x goal, {secs:.0f} s, {verdict})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
    if "--no-memory" not in sys.argv:
        readme_command_peaks()
