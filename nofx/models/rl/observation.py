"""The observation of the trading environment: a fixed, documented vector of float32.

Layout (``OBS_NAMES``, 20 values, each clipped to ``[-OBS_CLIP, OBS_CLIP]``):

====================  ==========================================================================
``win_1 .. win_10``   normalised price window: ``log(P[t-k] / P[t])`` for k = 1..10, where P is the
                      total-return price built from ``close / preclose`` (ex-rights gaps removed)
``ma5 ma10 ma20``     moving-average ratios: ``P[t] / SMA_n(P)[t] - 1``
``rsi14``             ``RSI_14 / 100 - 0.5`` (Wilder smoothing)
``macd macd_hist``    MACD(12, 26, 9) line and histogram divided by ``P[t]``
``vol20``             standard deviation of the last 20 daily log returns
``atr14``             ATR(14) / close, true range from high, low and the exchange's ``preclose``
``position``          value of the holding at the close / equity
``cash``              cash / equity
====================  ==========================================================================

All market features are ratios, so no normaliser is fitted (nothing can leak from the test period),
and every one of them is causal: row t uses rows <= t only. The same function feeds the gymnasium
environment (training) and the ``rl_dqn`` strategy in the backtester (through
``StrategyContext.add_feature``), so the agent sees identical inputs in both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nofx.features import indicators as ind

WINDOW = 10
OBS_CLIP = 10.0

MARKET_FEATURES: tuple[str, ...] = (
    *(f"win_{k}" for k in range(1, WINDOW + 1)),
    "ma5",
    "ma10",
    "ma20",
    "rsi14",
    "macd",
    "macd_hist",
    "vol20",
    "atr14",
)
ACCOUNT_FEATURES: tuple[str, ...] = ("position", "cash")
OBS_NAMES: tuple[str, ...] = MARKET_FEATURES + ACCOUNT_FEATURES
OBS_SIZE = len(OBS_NAMES)

# Rows needed before every market feature is defined (MACD signal: 26 + 9 - 1).
WARMUP_BARS = 34


def total_return_price(close: np.ndarray, preclose: np.ndarray) -> np.ndarray:
    """A price index whose ratios are true returns: ``P[t] = P[t-1] * close[t] / preclose[t]``.

    Unadjusted A-share closes jump on ex-dividend days; the exchange's ``preclose`` already carries
    the ex-rights adjustment, so chaining ``close / preclose`` removes the jump causally. Where
    ``preclose`` is missing the previous close is used (a plain price return).
    """
    close = np.asarray(close, dtype="float64")
    prev = np.concatenate(([np.nan], close[:-1]))
    pc = np.where(np.isfinite(preclose) & (preclose > 0), preclose, prev)
    growth = np.where(np.isfinite(pc) & (pc > 0), close / pc, 1.0)
    growth[0] = 1.0
    return close[0] * np.cumprod(growth)


def market_features(
    close: np.ndarray, high: np.ndarray, low: np.ndarray, preclose: np.ndarray
) -> np.ndarray:
    """Market part of the observation for one instrument's consecutive bars: shape (T, 18).

    Rows before ``WARMUP_BARS`` contain NaN for the long windows; callers replace them by 0 (see
    :func:`finite_features`). Indicators are ``nofx.features.indicators``' causal functions, applied
    to the total-return price so that ex-dividend gaps do not look like crashes.
    """
    close = np.asarray(close, dtype="float64")
    pre = np.asarray(preclose, dtype="float64")
    price = total_return_price(close, pre)
    logp = np.log(price)
    cols: list[np.ndarray] = []
    for k in range(1, WINDOW + 1):
        lagged = np.full_like(logp, np.nan)
        lagged[k:] = logp[:-k]
        cols.append(lagged - logp)
    for n in (5, 10, 20):
        # (indicators.sma raises for a series shorter than its window: then the ratio is undefined)
        mean = ind.sma(price, n) if len(price) >= n else np.full_like(price, np.nan)
        cols.append(price / mean - 1.0)
    cols.append(ind.rsi(price, 14) / 100.0 - 0.5)
    line, _signal, hist = ind.macd(price, 12, 26, 9)
    cols.append(line / price)
    cols.append(hist / price)
    rets = pd.Series(np.r_[np.nan, np.diff(logp)])
    cols.append(rets.rolling(20, min_periods=20).std(ddof=0).to_numpy())
    # true range against the exchange's preclose (ex-rights adjusted), as a fraction of the close
    prev = np.r_[np.nan, close[:-1]]
    pc = np.where(np.isfinite(pre) & (pre > 0), pre, prev)
    h, lo = np.asarray(high, dtype="float64"), np.asarray(low, dtype="float64")
    tr = np.fmax(h - lo, np.fmax(np.abs(h - pc), np.abs(lo - pc)))
    cols.append(ind.ema(tr / close, 27))  # alpha = 1/14: Wilder's ATR(14) smoothing
    return np.column_stack(cols)


def finite_features(features: np.ndarray) -> np.ndarray:
    """NaN (warm-up) -> 0 and clip to ``[-OBS_CLIP, OBS_CLIP]``, so every observation lies in the space."""
    return np.clip(np.nan_to_num(features, nan=0.0, posinf=OBS_CLIP, neginf=-OBS_CLIP), -OBS_CLIP, OBS_CLIP)


def panel_market_features(close: np.ndarray, high: np.ndarray, low: np.ndarray, preclose: np.ndarray) -> np.ndarray:
    """:func:`market_features` for every column of (T, N) arrays: shape (T, N, 18), NaN where a symbol
    has no bar. Each column is computed on its own existing rows, in order, so it stays causal."""
    t, n = close.shape
    out = np.full((t, n, len(MARKET_FEATURES)), np.nan)
    for j in range(n):
        rows = np.flatnonzero(np.isfinite(close[:, j]))
        if rows.size == 0:
            continue
        out[rows, j, :] = market_features(close[rows, j], high[rows, j], low[rows, j], preclose[rows, j])
    return out


def observation(market_row: np.ndarray, position_value: float, cash: float, equity: float | None = None) -> np.ndarray:
    """Full observation from one row of market features and the account at the same close.
    ``equity`` defaults to ``position_value + cash`` (one instrument); a portfolio passes its own."""
    equity = position_value + cash if equity is None else equity
    account = (position_value / equity, cash / equity) if equity > 0 else (0.0, 0.0)
    obs = np.concatenate((finite_features(np.asarray(market_row, dtype="float64")), account))
    return np.clip(obs, -OBS_CLIP, OBS_CLIP).astype(np.float32)
