"""Causal technical indicators over numpy arrays shaped (T,) or (T, N) (time down the rows).

Every output row t depends only on input rows <= t. Inputs are float arrays where NaN means "no bar"
(not listed yet, delisted, missing). Moving windows use ``bottleneck`` (compiled, NaN-aware moving
mean/std, which pandas itself uses when installed); recursive ones (EMA, Wilder) are a time loop of
whole-row numpy operations, which beats pandas' per-column kernels several times on a (1200, 750)
panel. Results agree with the ``ta`` library to floating-point precision (tested on real bars).

Warm-up and NaN conventions (NaN is returned wherever an indicator is not yet defined):

- ``sma(x, n)``: defined once the last n rows are all present; a NaN row makes the n outputs whose
  window contains it NaN, and nothing after that.
- ``ema(x, n)``: alpha = 2/(n+1), recursion ``e = alpha*x + (1-alpha)*e_prev`` started at the first
  present value (pandas ``adjust=False``, as in ``ta``); output from the n-th present value on.
  A NaN row is skipped: its output is NaN and the recursion resumes from the last state
  (pandas ``ignore_na=True``), so a missing bar poisons one row only.
- ``macd``: ema(fast) - ema(slow), first defined at the slow-th value; ``signal`` is ema(signal) of
  macd, first defined ``signal - 1`` rows later; ``hist = macd - signal``.
- ``rsi(close, n)``, ``atr(high, low, close, n)``: Wilder smoothing (alpha = 1/n) seeded with the
  simple mean of the first n values (Wilder 1978, TA-Lib). Changes/true ranges use the previous
  *present* close, so a missing bar does not break the series.
  - ATR: the first true range is ``high - low`` (no previous close); the first ATR is the mean of
    the first n true ranges, at the n-th bar. This is exactly ``ta``'s ATR (which returns 0 instead
    of NaN during warm-up).
  - RSI: the first change is at the second bar, so the first RSI is at bar n+1 (index n). ``ta``
    instead treats the first change as 0 and starts the recursion at bar 1; the two converge
    geometrically ((1 - 1/n)^t) and agree to ~1e-9 after about 300 bars. RSI is 100 when the
    average loss is 0 (as in ``ta``).
- ``bollinger(close, n, k)``: mid = sma(n), bands = mid +/- k * population std (ddof=0, as in ``ta``
  and Bollinger's definition).
"""

from __future__ import annotations

import bottleneck as bn
import numpy as np

from nofx.domain.errors import ConfigError, DataError


def _as_2d(x: np.ndarray) -> tuple[np.ndarray, bool]:
    """A float64 (T, N) array (a copy only when needed) and whether the input was 1-D."""
    arr = np.asarray(x, dtype="float64")
    if arr.ndim == 1:
        return arr[:, None], True
    if arr.ndim == 2:
        return arr, False
    raise DataError(f"indicator input must be shaped (T,) or (T, N), got {arr.shape}")


def _out(arr: np.ndarray, one_d: bool) -> np.ndarray:
    return arr[:, 0] if one_d else arr


def _check_window(n: int) -> int:
    if int(n) != n or n < 1:
        raise ConfigError(f"window must be a positive integer, got {n!r}")
    return int(n)


def sma(x: np.ndarray, n: int) -> np.ndarray:
    """Simple moving average over the last n rows (NaN unless all n are present)."""
    n = _check_window(n)
    arr, one_d = _as_2d(x)
    return _out(bn.move_mean(arr, n, min_count=n, axis=0), one_d)


def _smooth(x: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """The recurrence ``e[t] = e[t-1] + gain[t] * (x[t] - e[t-1])`` per column, from e = 0.

    Every smoother here is this recurrence with a per-cell gain: alpha on present rows, 0 on missing
    rows (the state is carried across them), 1 where a series starts (the state becomes that value).
    One time loop of in-place whole-row numpy operations: O(T) Python steps of O(N) compiled work,
    a few milliseconds for (1200, 750) (a pure-Python loop per cell, or pandas' per-column kernels,
    are far slower).
    """
    out = np.empty_like(x)
    state = np.zeros(x.shape[1])
    step = np.empty(x.shape[1])
    for t in range(x.shape[0]):
        np.subtract(x[t], state, out=step)
        step *= gain[t]
        state += step
        out[t] = state
    return out


def _present_count(present: np.ndarray) -> np.ndarray:
    """Running count of present rows per column (accumulating uint8 into int32 is ~3x faster than
    ``np.cumsum`` of a bool array along axis 0)."""
    return np.add.accumulate(np.ascontiguousarray(present).view(np.uint8), axis=0, dtype=np.int32)


def _ewm(arr: np.ndarray, alpha: float, min_count: int) -> np.ndarray:
    """Recursive EWM over rows with NaN rows skipped: pandas ``ewm(alpha, adjust=False, ignore_na=True,
    min_periods=min_count)``, started at each column's first present value."""
    present = ~np.isnan(arr)
    count = _present_count(present)
    gain = np.where(present, alpha, 0.0)
    gain[present & (count == 1)] = 1.0
    out = _smooth(np.where(present, arr, 0.0), gain)
    out[~present | (count < min_count)] = np.nan
    return out


def ema(x: np.ndarray, n: int) -> np.ndarray:
    """Exponential moving average, alpha = 2/(n+1), ``adjust=False``; NaN rows skipped (see module doc)."""
    n = _check_window(n)
    arr, one_d = _as_2d(x)
    return _out(_ewm(arr, 2.0 / (n + 1.0), n), one_d)


def _wilder(arr: np.ndarray, n: int) -> np.ndarray:
    """Wilder smoothing ``s = s_prev + (x - s_prev) / n`` seeded by the mean of each column's first n
    present values; NaN rows are skipped (output NaN, state kept)."""
    present = ~np.isnan(arr)
    count = _present_count(present)
    values = np.where(present, arr, 0.0)
    at_seed = present & (count == n)
    seed = np.cumsum(values, axis=0) / n  # at the n-th present value: the mean of the first n
    values = np.where(at_seed, seed, values)
    gain = np.where(present & (count > n), 1.0 / n, 0.0)
    gain[at_seed] = 1.0
    out = _smooth(values, gain)
    out[~present | (count < n)] = np.nan
    return out


def _prev_present(arr: np.ndarray) -> np.ndarray:
    """For each row, the last present value strictly before it (across missing rows), per column."""
    t_len = arr.shape[0]
    idx = np.where(~np.isnan(arr), np.arange(t_len)[:, None], -1)
    np.maximum.accumulate(idx, axis=0, out=idx)
    prev_idx = np.full_like(idx, -1)
    prev_idx[1:] = idx[:-1]
    cols = np.broadcast_to(np.arange(arr.shape[1]), arr.shape)
    out = arr[np.maximum(prev_idx, 0), cols]
    out[prev_idx < 0] = np.nan
    return out


def macd(
    close: np.ndarray, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MACD line, signal line and histogram (``ta.trend.MACD`` conventions)."""
    if _check_window(fast) >= _check_window(slow):
        raise ConfigError(f"fast window ({fast}) must be shorter than slow window ({slow})")
    line = ema(close, fast) - ema(close, slow)
    sig = ema(line, signal)
    return line, sig, line - sig


def rsi(close: np.ndarray, n: int = 14) -> np.ndarray:
    """Relative Strength Index with Wilder smoothing, in [0, 100]."""
    n = _check_window(n)
    arr, one_d = _as_2d(close)
    change = arr - _prev_present(arr)
    up = np.where(change > 0, change, np.where(np.isnan(change), np.nan, 0.0))
    down = np.where(change < 0, -change, np.where(np.isnan(change), np.nan, 0.0))
    avg_up, avg_down = _wilder(up, n), _wilder(down, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 100.0 - 100.0 / (1.0 + avg_up / avg_down)
    value = np.where(avg_down == 0, 100.0, value)
    value[np.isnan(avg_up) | np.isnan(avg_down)] = np.nan
    return _out(value, one_d)


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """max(high - low, |high - prev close|, |low - prev close|); high - low when there is no previous close."""
    h, one_d = _as_2d(high)
    l, _ = _as_2d(low)
    c, _ = _as_2d(close)
    if not (h.shape == l.shape == c.shape):
        raise DataError(f"high, low and close must have the same shape: {h.shape}, {l.shape}, {c.shape}")
    prev = _prev_present(c)
    with np.errstate(invalid="ignore"):
        tr = np.fmax(h - l, np.fmax(np.abs(h - prev), np.abs(l - prev)))
    tr[np.isnan(h - l) | np.isnan(c)] = np.nan  # fmax would hide a missing bar
    return _out(tr, one_d)


def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int = 14) -> np.ndarray:
    """Average True Range with Wilder smoothing (``ta.volatility.AverageTrueRange`` conventions)."""
    n = _check_window(n)
    tr, one_d = _as_2d(true_range(high, low, close))
    return _out(_wilder(tr, n), one_d)


def bollinger(close: np.ndarray, n: int = 20, k: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bollinger bands: (mid, upper, lower) with mid = sma(n) and population standard deviation."""
    n = _check_window(n)
    arr, one_d = _as_2d(close)
    mid = bn.move_mean(arr, n, min_count=n, axis=0)
    std = bn.move_std(arr, n, min_count=n, axis=0, ddof=0)
    return _out(mid, one_d), _out(mid + k * std, one_d), _out(mid - k * std, one_d)
