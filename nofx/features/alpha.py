"""Alpha158- and Alpha360-style features from daily OHLCV, computed without look-ahead.

Both follow Qlib's published definitions (``qlib/contrib/data/loader.py``), rewritten as vectorised
numpy/pandas over (T, N) arrays of causally adjusted prices (:mod:`nofx.features.adjusted`). Every
operator is a trailing window, so row t only uses rows <= t; ``tests/features/test_alpha.py`` checks
that by changing the future.

Alpha158 (158 columns), with ``d`` in 5, 10, 20, 30, 60:

- k-line shape (9): KMID (c-o)/o, KLEN (h-l)/o, KMID2 (c-o)/(h-l), KUP (h-max(o,c))/o,
  KUP2 (h-max(o,c))/(h-l), KLOW (min(o,c)-l)/o, KLOW2 (min(o,c)-l)/(h-l), KSFT (2c-h-l)/o,
  KSFT2 (2c-h-l)/(h-l)
- price ratios (4): OPEN0 o/c, HIGH0 h/c, LOW0 l/c, VWAP0 vwap/c
- per window d (29 x 5): ROC c[t-d]/c, MA mean(c)/c, STD std(c)/c, BETA slope(c)/c,
  RSQR r2 of c on time, RESI last residual/c, MAX max(h)/c, MIN min(l)/c, QTLU q80(c)/c,
  QTLD q20(c)/c, RANK percentile of c in its window, RSV (c-min l)/(max h-min l),
  IMAX argmax(h)/d, IMIN argmin(l)/d, IMXD (argmax h-argmin l)/d, CORR corr(c, log(v+1)),
  CORD corr(c/c[-1], log(v/v[-1]+1)), CNTP share of up days, CNTN share of down days,
  CNTD CNTP-CNTN, SUMP gains/|moves|, SUMN losses/|moves|, SUMD SUMP-SUMN, VMA mean(v)/v,
  VSTD std(v)/v, WVMA std(|r|v)/mean(|r|v), VSUMP, VSUMN, VSUMD (the SUM* family on volume)

Alpha360: the last 60 days of close, open, high, low, vwap divided by today's close and volume
divided by today's volume: a raw (60, 6) window per stock and day, oldest first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from nofx.features.adjusted import AdjustedBars

WINDOWS: tuple[int, ...] = (5, 10, 20, 30, 60)
KBAR_NAMES: tuple[str, ...] = ("KMID", "KLEN", "KMID2", "KUP", "KUP2", "KLOW", "KLOW2", "KSFT", "KSFT2")
PRICE_NAMES: tuple[str, ...] = ("OPEN0", "HIGH0", "LOW0", "VWAP0")
ROLLING_OPS: tuple[str, ...] = (
    "ROC", "MA", "STD", "BETA", "RSQR", "RESI", "MAX", "MIN", "QTLU", "QTLD", "RANK", "RSV", "IMAX",
    "IMIN", "IMXD", "CORR", "CORD", "CNTP", "CNTN", "CNTD", "SUMP", "SUMN", "SUMD", "VMA", "VSTD",
    "WVMA", "VSUMP", "VSUMN", "VSUMD",
)
ALPHA360_FIELDS: tuple[str, ...] = ("close", "open", "high", "low", "vwap", "volume")
ALPHA360_LENGTH = 60
_EPS = 1e-12


def alpha158_names(windows: tuple[int, ...] = WINDOWS) -> list[str]:
    return [*KBAR_NAMES, *PRICE_NAMES, *(f"{op}{d}" for op in ROLLING_OPS for d in windows)]


def alpha158(bars: AdjustedBars, windows: tuple[int, ...] = WINDOWS) -> dict[str, np.ndarray]:
    """All Alpha158 columns as ``name -> (T, N) float64`` (NaN until a window is full)."""
    o, h, lo, c, v, vw = bars.open, bars.high, bars.low, bars.close, bars.volume, bars.vwap
    out: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        rng = h - lo + _EPS
        top, bot = np.fmax(o, c), np.fmin(o, c)
        out.update(KMID=(c - o) / o, KLEN=(h - lo) / o, KMID2=(c - o) / rng, KUP=(h - top) / o,
                   KUP2=(h - top) / rng, KLOW=(bot - lo) / o, KLOW2=(bot - lo) / rng,
                   KSFT=(2 * c - h - lo) / o, KSFT2=(2 * c - h - lo) / rng)
        out.update(OPEN0=o / c, HIGH0=h / c, LOW0=lo / c, VWAP0=vw / c)
        cdf, hdf, ldf, vdf = (pd.DataFrame(a) for a in (c, h, lo, v))
        prev_c = _shift(c, 1)
        prev_v = _shift(v, 1)
        dc = c - prev_c
        dv = v - prev_v
        ret = c / prev_c
        logv = np.log(v + 1)
        logdv = np.log(v / prev_v + 1)
        wv = np.abs(ret - 1) * v
        t_axis = np.broadcast_to(np.arange(c.shape[0], dtype="float64")[:, None], c.shape)
        for d in windows:
            roll = cdf.rolling(d, min_periods=d)
            mean_c = roll.mean().to_numpy()
            out[f"ROC{d}"] = _shift(c, d) / c
            out[f"MA{d}"] = mean_c / c
            out[f"STD{d}"] = roll.std(ddof=0).to_numpy() / c
            slope, r2, resi = _rolling_linreg(c, t_axis, d)
            out[f"BETA{d}"] = slope / c
            out[f"RSQR{d}"] = r2
            out[f"RESI{d}"] = resi / c
            hmax = hdf.rolling(d, min_periods=d).max().to_numpy()
            lmin = ldf.rolling(d, min_periods=d).min().to_numpy()
            out[f"MAX{d}"] = hmax / c
            out[f"MIN{d}"] = lmin / c
            out[f"QTLU{d}"] = roll.quantile(0.8).to_numpy() / c
            out[f"QTLD{d}"] = roll.quantile(0.2).to_numpy() / c
            out[f"RANK{d}"] = roll.rank(pct=True).to_numpy()
            out[f"RSV{d}"] = (c - lmin) / (hmax - lmin + _EPS)
            imax = _rolling_argext(h, d, np.argmax)
            imin = _rolling_argext(lo, d, np.argmin)
            out[f"IMAX{d}"] = imax / d
            out[f"IMIN{d}"] = imin / d
            out[f"IMXD{d}"] = (imax - imin) / d
            out[f"CORR{d}"] = _rolling_corr(c, logv, d)
            out[f"CORD{d}"] = _rolling_corr(ret, logdv, d)
            up = _rolling_mean((dc > 0).astype("float64"), d, valid=np.isfinite(dc))
            down = _rolling_mean((dc < 0).astype("float64"), d, valid=np.isfinite(dc))
            out[f"CNTP{d}"], out[f"CNTN{d}"], out[f"CNTD{d}"] = up, down, up - down
            sp, sn = _sum_pos_neg(dc, d)
            out[f"SUMP{d}"], out[f"SUMN{d}"], out[f"SUMD{d}"] = sp, sn, sp - sn
            vroll = vdf.rolling(d, min_periods=d)
            out[f"VMA{d}"] = vroll.mean().to_numpy() / (v + _EPS)
            out[f"VSTD{d}"] = vroll.std(ddof=0).to_numpy() / (v + _EPS)
            wroll = pd.DataFrame(wv).rolling(d, min_periods=d)
            out[f"WVMA{d}"] = wroll.std(ddof=0).to_numpy() / (wroll.mean().to_numpy() + _EPS)
            vp, vn = _sum_pos_neg(dv, d)
            out[f"VSUMP{d}"], out[f"VSUMN{d}"], out[f"VSUMD{d}"] = vp, vn, vp - vn
    for k, a in out.items():
        a = np.asarray(a, dtype="float64")
        a[~np.isfinite(a)] = np.nan  # inf from zero volume or zero range is "no information"
        out[k] = a
    return {name: out[name] for name in alpha158_names(windows)}


def alpha158_stack(bars: AdjustedBars, windows: tuple[int, ...] = WINDOWS) -> np.ndarray:
    """Alpha158 as one (T, N, F) float32 array in :func:`alpha158_names` order."""
    cols = alpha158(bars, windows)
    return np.stack([cols[n] for n in alpha158_names(windows)], axis=-1).astype("float32")


def alpha360_window(bars: AdjustedBars, t: int, length: int = ALPHA360_LENGTH) -> np.ndarray:
    """Raw Alpha360 window of day ``t``: (N, length, 6), oldest first, NaN where no data.

    Prices are divided by today's close and volume by today's volume, so the window is scale-free
    (Qlib's Alpha360). Only rows ``t-length+1 .. t`` are read.
    """
    lo = t - length + 1
    pad = max(0, -lo)
    sl = slice(max(0, lo), t + 1)
    c_now = bars.close[t]
    v_now = bars.volume[t]
    with np.errstate(invalid="ignore", divide="ignore"):
        v_now = np.where(v_now > 0, v_now, np.nan)  # a suspended day has no volume to scale by
        parts = [getattr(bars, f)[sl] / (c_now if f != "volume" else v_now) for f in ALPHA360_FIELDS]
    win = np.stack(parts, axis=-1)  # (L', N, 6)
    win = np.where(bars.traded[sl][..., None], win, np.nan)  # suspended days carry no price information
    if pad:
        win = np.concatenate([np.full((pad, *win.shape[1:]), np.nan), win], axis=0)
    return np.ascontiguousarray(win.transpose(1, 0, 2))


def alpha360_names(length: int = ALPHA360_LENGTH) -> list[str]:
    """Column names of the flattened window (lag-major, as ``alpha360_window(...).reshape(N, -1)``)."""
    return [f"{f.upper()}{length - 1 - i}" for i in range(length) for f in ALPHA360_FIELDS]


def _shift(a: np.ndarray, k: int) -> np.ndarray:
    out = np.full_like(a, np.nan)
    out[k:] = a[:-k]
    return out


def _rolling_mean(x: np.ndarray, d: int, valid: np.ndarray | None = None) -> np.ndarray:
    x = np.where(valid, x, np.nan) if valid is not None else x
    return pd.DataFrame(x).rolling(d, min_periods=d).mean().to_numpy()


def _rolling_linreg(y: np.ndarray, t: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slope, R-squared and last residual of ``y`` regressed on time over each trailing window."""
    tc = t  # global row index; small enough (thousands) for float64 moment formulas to stay exact
    my = _rolling_mean(y, d)
    mt = np.arange(y.shape[0], dtype="float64") - (d - 1) / 2.0  # mean of t over the window ending at row
    mty = _rolling_mean(y * tc, d)
    var_t = (d * d - 1) / 12.0
    cov = mty - my * mt[:, None]
    slope = cov / var_t
    var_y = pd.DataFrame(y).rolling(d, min_periods=d).var(ddof=0).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = cov * cov / (var_t * var_y)
    intercept = my - slope * mt[:, None]
    resi = y - (intercept + slope * tc)
    return slope, r2, resi


def _rolling_argext(x: np.ndarray, d: int, fn) -> np.ndarray:
    """1-based position (from the window start) of the max/min over each trailing window of ``d``."""
    T, N = x.shape
    out = np.full((T, N), np.nan)
    if T < d:
        return out
    win = sliding_window_view(x, d, axis=0)  # (T-d+1, N, d), a view: no copy
    step = max(1, 2_000_000 // max(1, N * d))  # chunked so argmax works on bounded memory
    for s in range(0, win.shape[0], step):
        chunk = win[s:s + step]
        bad = ~np.isfinite(chunk).all(axis=-1)
        pos = fn(np.where(np.isfinite(chunk), chunk, -np.inf if fn is np.argmax else np.inf), axis=-1) + 1.0
        out[d - 1 + s:d - 1 + s + chunk.shape[0]] = np.where(bad, np.nan, pos)
    return out


def _rolling_corr(a: np.ndarray, b: np.ndarray, d: int) -> np.ndarray:
    both = np.isfinite(a) & np.isfinite(b)
    a = np.where(both, a, np.nan)
    b = np.where(both, b, np.nan)
    ma, mb = _rolling_mean(a, d), _rolling_mean(b, d)
    cov = _rolling_mean(a * b, d) - ma * mb
    va = _rolling_mean(a * a, d) - ma * ma
    vb = _rolling_mean(b * b, d) - mb * mb
    with np.errstate(invalid="ignore", divide="ignore"):
        r = cov / np.sqrt(np.clip(va, 0, None) * np.clip(vb, 0, None))
    # a constant series (zero variance) has no defined correlation
    return np.where((va > 1e-12 * (ma * ma + 1e-12)) & (vb > 1e-12 * (mb * mb + 1e-12)), r, np.nan)


def _sum_pos_neg(delta: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    valid = np.isfinite(delta)
    pos = _rolling_mean(np.where(valid, np.clip(delta, 0, None), np.nan), d)
    neg = _rolling_mean(np.where(valid, np.clip(-delta, 0, None), np.nan), d)
    tot = _rolling_mean(np.where(valid, np.abs(delta), np.nan), d)
    return pos / (tot + _EPS), neg / (tot + _EPS)
