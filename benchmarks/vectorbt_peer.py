"""vectorbt as a peer for the cross-section benchmark: the same dual MA signals (nofx's own exact moving
averages and crossover, so both sides trade on identical signals) over the same stocks, executed at the
next bar's open with a fixed size and no fees or market rules (vectorbt applies none), every stock with
its own cash. A benchmark extra (``pip install .[bench]``); skipped with a message when not installed.

Timed: building the signal frames, the simulation (``Portfolio.from_signals``) and reading its orders;
numba compiles in a first, untimed run on the same data. Bars: the non-missing closes of the stocks.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import line  # noqa: F401  (sets sys.path)

from nofx.data.bars import read_bars
from nofx.domain.instruments import parse_symbol
from nofx.strategies.dual_ma import crossover, exact_sma


def _panels(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    bars = read_bars(path)
    stocks = bars[~bars["symbol"].map(lambda s: parse_symbol(s).is_index)]
    close = stocks.pivot(index="datetime", columns="symbol", values="close").sort_index()
    open_ = stocks.pivot(index="datetime", columns="symbol", values="open").reindex_like(close)
    return close, open_


def _simulate(vbt, close: pd.DataFrame, open_: pd.DataFrame, fast: int, slow: int, size: int):
    c = close.to_numpy()
    cross = crossover(exact_sma(c, fast), exact_sma(c, slow))
    # decided at a bar's close, executed at the next bar's open (nofx's --fill next_open)
    entries = pd.DataFrame(cross > 0, index=close.index, columns=close.columns).shift(1, fill_value=False)
    exits = pd.DataFrame(cross < 0, index=close.index, columns=close.columns).shift(1, fill_value=False)
    pf = vbt.Portfolio.from_signals(close, entries, exits, price=open_, size=size, fees=0.0, init_cash=1e9,
                                    freq="1D")
    return pf, pf.orders.records


def import_vectorbt():
    """vectorbt, or None when not installed. vectorbt 0.28 (the last for pandas 2) registers a plot theme
    with a key plotly 7 dropped (``scattermapbox``), which fails at import: its templates are built with
    ``skip_invalid`` here. Plotting only; the simulation is untouched."""
    try:
        import plotly.graph_objects as go
    except ImportError:  # pragma: no cover - plotly is a core dependency
        go = None
    original = go.layout.Template if go is not None else None
    if original is not None:
        class _Lenient(original):  # type: ignore[misc, valid-type]
            def __init__(self, arg=None, **kw):  # type: ignore[no-untyped-def]
                kw.setdefault("skip_invalid", True)
                super().__init__(arg, **kw)

        go.layout.Template = _Lenient
    try:
        import vectorbt as vbt
    except ImportError:
        return None
    finally:
        if original is not None:
            go.layout.Template = original
    return vbt


def vectorbt_cross_section(path: Path, fast: int, slow: int, size: int) -> tuple[float, float] | None:
    """vectorbt's bars/s (wall, CPU) on every stock of ``path`` in one simulation (None when not installed)."""
    vbt = import_vectorbt()
    if vbt is None:
        line("vectorbt peer", "skipped: not installed (pip install .[bench])")
        return None
    close, open_ = _panels(path)
    _simulate(vbt, close, open_, fast, slow, size)  # numba compiles here (for these shapes and types)
    t, c = time.perf_counter(), time.process_time()
    _, records = _simulate(vbt, close, open_, fast, slow, size)
    dt, dc = time.perf_counter() - t, time.process_time() - c
    bars = int(np.isfinite(close.to_numpy()).sum())
    line(f"vectorbt dual_ma, {close.shape[1]} stocks in one run (bars/s wall; CPU)",
         f"{bars / dt:,.0f}; {bars / dc:,.0f}  ({dt:.2f} s wall, {dc:.2f} s CPU, {len(records):,} orders, "
         "frictionless, no market rules)")
    return bars / dt, bars / dc


def vectorbt_trades(bars: pd.DataFrame, fast: int, slow: int, size: int) -> list[tuple]:
    """One symbol's orders as (date, side, quantity, price), to compare with nofx's fills."""
    vbt = import_vectorbt()

    b = bars.sort_values("datetime")
    close = b.set_index("datetime")[["close"]]
    open_ = b.set_index("datetime")[["open"]].set_axis(close.columns, axis=1)
    pf, _ = _simulate(vbt, close, open_, fast, slow, size)
    rec = pf.orders.records_readable
    return [(pd.Timestamp(r["Timestamp"]).date(), str(r["Side"]).lower(), int(round(r["Size"])), float(r["Price"]))
            for _, r in rec.iterrows()]
