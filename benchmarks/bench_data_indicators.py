"""Speed of read_bars and of the indicators on the full shared A-share panel, against peers in the same run.

    .venv/bin/python benchmarks/bench_data_indicators.py [path/to/cn_daily.parquet]

Peers: ``pandas.read_parquet`` (no validation) for reading; pandas' 2-D rolling/ewm (the kernels ``ta``
uses) for the indicators, and ``ta`` itself on a few columns, extrapolated to the panel.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd
import ta

from nofx.data.bars import read_bars
from nofx.data.panel import BarPanel
from nofx.features.indicators import atr, bollinger, ema, macd, rsi, sma

REPO = Path(__file__).resolve().parents[1]


def best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "data" / "cn_daily.parquet"
    ours = best(lambda: read_bars(path))
    peer = best(lambda: pd.read_parquet(path))
    print(f"read_bars full file      {ours * 1e3:8.1f} ms   pandas.read_parquet {peer * 1e3:8.1f} ms   ratio {ours / peer:5.2f}")
    ours = best(lambda: read_bars(path, symbols=["600519.SH", "000001.SZ"], start="2020-01-01"))
    print(f"read_bars 2 symbols      {ours * 1e3:8.1f} ms")

    panel = BarPanel.from_frame(read_bars(path))
    c, h, l = panel["close"], panel["high"], panel["low"]
    frame = pd.DataFrame(c)
    print(f"panel {c.shape[0]} days x {c.shape[1]} symbols")
    cases = {
        "sma(20)": (lambda: sma(c, 20), lambda: frame.rolling(20, min_periods=20).mean()),
        "ema(20)": (lambda: ema(c, 20), lambda: frame.ewm(span=20, adjust=False, min_periods=20).mean()),
        "macd": (lambda: macd(c), lambda: (lambda m: m.ewm(span=9, adjust=False).mean())(
            frame.ewm(span=12, adjust=False).mean() - frame.ewm(span=26, adjust=False).mean())),
        "rsi(14)": (lambda: rsi(c), lambda: (lambda d: d.clip(lower=0).ewm(alpha=1 / 14, adjust=False).mean()
                                             / (-d).clip(lower=0).ewm(alpha=1 / 14, adjust=False).mean())(frame.diff())),
        "bollinger(20)": (lambda: bollinger(c), lambda: frame.rolling(20).std(ddof=0)),
    }
    for name, (mine, theirs) in cases.items():
        a, b = best(mine), best(theirs)
        print(f"{name:14s} ours {a * 1e3:8.1f} ms   pandas 2-D {b * 1e3:8.1f} ms   ratio {a / b:5.2f}")
    a = best(lambda: atr(h, l, c))
    cols = 10
    series = [(pd.Series(h[:, j]).dropna(), pd.Series(l[:, j]).dropna(), pd.Series(c[:, j]).dropna()) for j in range(cols)]
    b = best(lambda: [ta.volatility.AverageTrueRange(*s, 14).average_true_range() for s in series], repeat=1)
    b *= c.shape[1] / cols
    print(f"{'atr(14)':14s} ours {a * 1e3:8.1f} ms   ta (extrapolated) {b * 1e3:8.1f} ms   ratio {a / b:7.4f}")


if __name__ == "__main__":
    main()
