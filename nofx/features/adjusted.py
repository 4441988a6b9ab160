"""Causally split-adjusted price arrays, the input of the alpha features and labels.

The shared A-share bars are unadjusted: an ex-dividend or bonus-share day shows a price gap that is
not a return. The exchange publishes ``preclose`` already adjusted for that day's corporate action,
so ``close[t-1] / preclose[t]`` is the adjustment ratio of day t. Chaining ``close[t] / preclose[t]``
forward from the first bar gives a total-return price that only uses data up to t (a backward
adjustment, as vendors publish it, rescales the whole history at each new event and would leak the
future into the past).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nofx.data.panel import BarPanel

_EPS = 1e-12


@dataclass(frozen=True)
class AdjustedBars:
    """(T, N) float64 arrays aligned with a :class:`BarPanel`; NaN where a symbol has no bar."""

    timestamps: np.ndarray
    symbols: tuple[str, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    vwap: np.ndarray
    volume: np.ndarray  # shares, divided by the adjustment factor so splits do not look like volume
    traded: np.ndarray  # bool: a bar exists, trade_status is 1 and volume > 0

    @property
    def shape(self) -> tuple[int, int]:
        return self.close.shape


def adjustment_factor(close: np.ndarray, preclose: np.ndarray) -> np.ndarray:
    """Forward-cumulative factor f with ``f[t] * close[t]`` a total-return price, using rows <= t only.

    f starts at 1 on each symbol's first bar; a day with ``preclose != close[t-1]`` multiplies it by
    ``close[t-1] / preclose[t]``. Rows without a bar carry NaN.
    """
    exists = np.isfinite(close)
    prev_close = np.full_like(close, np.nan)
    # previous *existing* close, so a missing row (not a suspension: those repeat the close) is skipped
    filled = _ffill(close)
    prev_close[1:] = filled[:-1]
    ratio = prev_close / preclose
    ratio = np.where(exists & np.isfinite(ratio) & (ratio > 0), ratio, 1.0)
    factor = np.cumprod(ratio, axis=0)
    return np.where(exists, factor, np.nan)


def adjust_panel(panel: BarPanel) -> AdjustedBars:
    close = panel["close"]
    preclose = panel["preclose"] if "preclose" in panel.fields else np.full_like(close, np.nan)
    f = adjustment_factor(close, preclose)
    volume = panel["volume"]
    amount = panel["amount"] if "amount" in panel.fields else np.full_like(close, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        raw_vwap = np.where(volume > 0, amount / volume, np.nan)
        # amount may be missing (NaN) in some files: fall back to the typical price of the bar
        typical = (panel["high"] + panel["low"] + close) / 3.0
        raw_vwap = np.where(np.isfinite(raw_vwap), raw_vwap, typical)
        adj_volume = volume / f
    status = panel["trade_status"] if "trade_status" in panel.fields else np.where(np.isfinite(close), 1.0, np.nan)
    traded = np.isfinite(close) & (status == 1) & (volume > 0)
    return AdjustedBars(
        timestamps=panel.timestamps,
        symbols=panel.symbols,
        open=panel["open"] * f,
        high=panel["high"] * f,
        low=panel["low"] * f,
        close=close * f,
        vwap=raw_vwap * f,
        volume=adj_volume,
        traded=traded,
    )


def _ffill(a: np.ndarray) -> np.ndarray:
    """Forward-fill NaN down the time axis (vectorised: index of the last finite row)."""
    mask = np.isfinite(a)
    idx = np.where(mask, np.arange(a.shape[0])[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    out = a[idx, np.arange(a.shape[1])[None, :]]
    return out
