"""Statistics that keep luck from passing for skill: intervals over repeated runs and pairwise tests on
daily returns, with Holm's correction for testing many pairs at once.

* Interval of a trader's metric over its K runs: mean +- t(0.975, K-1) * sd / sqrt(K) (Student t).
* Pairwise, on the daily return difference d_t = r_A,t - r_B,t of two traders (each trader's daily
  return averaged over its runs):
  - Diebold-Mariano test of E[d] = 0: DM = mean(d) / sqrt(LRV / T), the long-run variance by Newey-West
    (Bartlett kernel, lag floor(4 (T/100)^(2/9))), with the Harvey-Leybourne-Newbold small-sample
    correction and a Student t(T-1) p-value;
  - paired moving-block bootstrap of mean(d) (fixed seed, blocks of ``block`` days keep the
    autocorrelation), two-sided p-value from the centred resamples.
  A difference is marked significant when its Holm-adjusted DM p-value is below ``alpha`` (the
  family-wise error rate over all pairs); the bootstrap p-value is shown beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats as sps


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float | None
    high: float | None
    n: int


def mean_interval(values: Sequence[float], level: float = 0.95) -> Interval:
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if len(x) == 0:
        return Interval(float("nan"), None, None, 0)
    m = float(x.mean())
    if len(x) < 2:
        return Interval(m, None, None, len(x))
    half = float(sps.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return Interval(m, m - half, m + half, len(x))


def newey_west_lag(t: int) -> int:
    return int(math.floor(4 * (t / 100.0) ** (2.0 / 9.0)))


def long_run_variance(d: np.ndarray, lag: int) -> float:
    """Newey-West (Bartlett) long-run variance of ``d``."""
    e = d - d.mean()
    t = len(e)
    v = float(e @ e) / t
    for k in range(1, min(lag, t - 1) + 1):
        v += 2.0 * (1.0 - k / (lag + 1.0)) * float(e[k:] @ e[:-k]) / t
    return v


def diebold_mariano(d: np.ndarray) -> tuple[float | None, float | None]:
    """(statistic, two-sided p-value) of H0: E[d] = 0, HLN-corrected, t(T-1)."""
    t = len(d)
    if t < 10:
        return None, None
    lag = newey_west_lag(t)
    lrv = long_run_variance(d, lag)
    if not lrv > 0:
        return None, None
    dm = float(d.mean()) / math.sqrt(lrv / t)
    h = lag + 1
    hln = math.sqrt(max((t + 1 - 2 * h + h * (h - 1) / t) / t, 1e-12))
    stat = dm * hln
    return stat, float(2 * sps.t.sf(abs(stat), t - 1))


def block_bootstrap_p(d: np.ndarray, resamples: int, block: int, rng: np.random.Generator) -> float | None:
    """Two-sided p-value of mean(d) = 0 from a moving-block bootstrap of the centred differences."""
    t = len(d)
    if t < 10:
        return None
    block = max(1, min(block, t))
    n_blocks = int(math.ceil(t / block))
    starts = rng.integers(0, t - block + 1, size=(resamples, n_blocks))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]).reshape(resamples, -1)[:, :t]
    centred = d - d.mean()
    means = centred[idx].mean(axis=1)
    obs = abs(float(d.mean()))
    return float((np.sum(np.abs(means) >= obs) + 1) / (resamples + 1))


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone); None stays None."""
    present = [(p, k) for k, p in enumerate(pvalues) if p is not None]
    m = len(present)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, (p, k) in enumerate(sorted(present)):
        running = max(running, min(1.0, (m - rank) * p))
        out[k] = running
    return out


@dataclass(frozen=True)
class PairTest:
    a: str
    b: str
    days: int
    mean_diff_bp: float  # mean daily return difference, basis points
    dm: float | None
    p_dm: float | None
    p_holm: float | None
    p_boot: float | None
    significant: bool
    better: str | None  # the trader with the higher mean daily return when significant


def pairwise(returns: dict[str, np.ndarray], resamples: int, block: int, seed: int, alpha: float) -> list[PairTest]:
    """Every pair of the (aligned, equal-length) daily return series, in the given order of names."""
    names = list(returns)
    rng = np.random.default_rng(seed)
    raw = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            d = returns[a] - returns[b]
            d = d[np.isfinite(d)]
            stat, p = diebold_mariano(d)
            raw.append((a, b, d, stat, p, block_bootstrap_p(d, resamples, block, rng)))
    adj = holm([r[4] for r in raw])
    out = []
    for (a, b, d, stat, p, pb), ph in zip(raw, adj):
        sig = ph is not None and ph < alpha
        mean = float(d.mean()) if len(d) else 0.0
        out.append(PairTest(a, b, len(d), mean * 1e4, stat, p, ph, pb, sig, (a if mean > 0 else b) if sig else None))
    return out
