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


def _rsi(price: pd.Series, n: int) -> pd.Series:
    delta = price.diff()
    gain = delta.clip(lower=0.0).ewm(alpha=1.0 / n, adjust=False, min_periods=n).mean()
    loss = (-delta.clip(upper=0.0)).ewm(alpha=1.0 / n, adjust=False, min_periods=n).mean()
    rs = gain / loss.replace(0.0, np.nan)
    rsi = 100.0 - 100.0 / (1.0 + rs)
    # no losses in the window: RSI is 100 by definition (and 50 when nothing moved at all)
    rsi = rsi.where(loss > 0, np.where(gain > 0, 100.0, 50.0))
    return rsi.where(gain.notna())


def market_features(
    close: np.ndarray, high: np.ndarray, low: np.ndarray, preclose: np.ndarray
) -> np.ndarray:
    """Market part of the observation for one instrument's consecutive bars: shape (T, 18).

    Rows before ``WARMUP_BARS`` contain NaN for the long windows; callers replace them by 0 (see
    :func:`finite_features`). The rolling/EWM windows here are written with pandas rather than
    ``nofx.features.indicators`` because the environment needs them on a total-return price and
    with Wilder's RSI exactly as documented above.
    """
    close = np.asarray(close, dtype="float64")
    price = total_return_price(close, np.asarray(preclose, dtype="float64"))
    p = pd.Series(price)
    logp = np.log(p)
    cols: list[pd.Series] = [logp.shift(k) - logp for k in range(1, WINDOW + 1)]
    for n in (5, 10, 20):
        cols.append(p / p.rolling(n, min_periods=n).mean() - 1.0)
    cols.append(_rsi(p, 14) / 100.0 - 0.5)
    ema_fast = p.ewm(span=12, adjust=False, min_periods=12).mean()
    ema_slow = p.ewm(span=26, adjust=False, min_periods=26).mean()
    macd = ema_fast - ema_slow
    signal = macd.ewm(span=9, adjust=False, min_periods=9).mean()
    cols.append(macd / p)
    cols.append((macd - signal) / p)
    cols.append(logp.diff().rolling(20, min_periods=20).std(ddof=0))
    h = pd.Series(np.asarray(high, dtype="float64"))
    lo = pd.Series(np.asarray(low, dtype="float64"))
    c = pd.Series(close)
    pc = pd.Series(np.asarray(preclose, dtype="float64"))
    pc = pc.where(np.isfinite(pc) & (pc > 0), c.shift(1))
    tr = pd.concat([h - lo, (h - pc).abs(), (lo - pc).abs()], axis=1).max(axis=1, skipna=True)
    cols.append((tr / c).ewm(alpha=1.0 / 14, adjust=False, min_periods=14).mean())
    return np.column_stack([s.to_numpy(dtype="float64") for s in cols])


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
