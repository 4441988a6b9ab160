"""Training labels. Unlike features they look forward on purpose: label row t describes t+1 onwards.

Qlib's return label is ``close[t+2] / close[t+1] - 1``: a signal computed after the close of day t
can at best be traded at day t+1, so the return from t+1 is what it can earn. ``delay`` keeps that
one-day gap for every label here. Rows whose future is not (fully) known are NaN; they must never be
used for training, and the trainer drops them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DOWN, FLAT, UP = 0, 1, 2


def forward_return(close: np.ndarray, horizon: int = 1, delay: int = 1) -> np.ndarray:
    """``close[t+delay+horizon] / close[t+delay] - 1`` on (T, N) adjusted closes."""
    T = close.shape[0]
    out = np.full_like(close, np.nan, dtype="float64")
    a, b = delay, delay + horizon
    if b < T:
        with np.errstate(invalid="ignore", divide="ignore"):
            out[: T - b] = close[b:] / close[a: T - horizon] - 1.0
    return out


def direction(ret: np.ndarray, threshold: float = 0.005) -> np.ndarray:
    """3-class direction of a return: DOWN below -threshold, UP above +threshold, FLAT between; NaN stays NaN."""
    out = np.full(ret.shape, np.nan)
    fin = np.isfinite(ret)
    out[fin] = FLAT
    out[fin & (ret > threshold)] = UP
    out[fin & (ret < -threshold)] = DOWN
    return out


def realized_volatility(close: np.ndarray, horizon: int = 5, delay: int = 1) -> np.ndarray:
    """Standard deviation of the daily returns of days t+delay+1 .. t+delay+horizon (not annualised)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.full_like(close, np.nan, dtype="float64")
        r[1:] = close[1:] / close[:-1] - 1.0
    # trailing std ending at t+delay+horizon, moved back to row t
    trailing = pd.DataFrame(r).rolling(horizon, min_periods=horizon).std(ddof=0).to_numpy()
    return _lead(trailing, delay + horizon)


def forward_max_drawdown(close: np.ndarray, horizon: int = 5, delay: int = 1) -> np.ndarray:
    """Largest fall from a running peak over closes t+delay .. t+delay+horizon (>= 0): the risk target."""
    T = close.shape[0]
    out = np.full_like(close, np.nan, dtype="float64")
    n = T - delay - horizon
    if n <= 0:
        return out
    peak = close[delay: delay + n].copy()
    mdd = np.zeros_like(peak)
    for k in range(1, horizon + 1):  # horizon is a handful of days: this loop is over k, not over rows
        px = close[delay + k: delay + k + n]
        peak = np.fmax(peak, px)
        mdd = np.fmax(mdd, 1.0 - px / peak)
    ok = np.isfinite(close[delay + horizon: delay + horizon + n]) & np.isfinite(close[delay: delay + n])
    out[:n] = np.where(ok, mdd, np.nan)
    return out


def _lead(a: np.ndarray, k: int) -> np.ndarray:
    out = np.full_like(a, np.nan)
    if k < a.shape[0]:
        out[: a.shape[0] - k] = a[k:]
    return out
