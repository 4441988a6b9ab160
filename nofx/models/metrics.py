"""Information coefficients the way quant research reports them: one correlation per day, then
mean (IC) and mean / std (ICIR) over days."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd


def _rank_rows(a: np.ndarray) -> np.ndarray:
    return pd.DataFrame(a).rank(axis=1).to_numpy()


def daily_ic(pred: np.ndarray, label: np.ndarray, rank: bool = False, min_count: int = 5) -> np.ndarray:
    """Per-row Pearson (or Spearman with ``rank``) correlation over the columns where both are finite."""
    both = np.isfinite(pred) & np.isfinite(label)
    p = np.where(both, pred, np.nan)
    y = np.where(both, label, np.nan)
    if rank:
        p, y = _rank_rows(p), _rank_rows(y)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # days without any pair: NaN, counted out below
        pc = p - np.nanmean(p, axis=1, keepdims=True)
        yc = y - np.nanmean(y, axis=1, keepdims=True)
        cov = np.nansum(pc * yc, axis=1)
        den = np.sqrt(np.nansum(pc * pc, axis=1) * np.nansum(yc * yc, axis=1))
        ic = cov / den
    ic[(both.sum(axis=1) < min_count) | ~(den > 0)] = np.nan
    return ic


@dataclass(frozen=True, slots=True)
class ICSummary:
    ic: float
    icir: float
    rank_ic: float
    rank_icir: float
    n_days: int

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def ic_summary(pred: np.ndarray, label: np.ndarray) -> ICSummary:
    ic = daily_ic(pred, label)
    ric = daily_ic(pred, label, rank=True)

    def ir(x: np.ndarray) -> float:
        x = x[np.isfinite(x)]
        return float(x.mean() / x.std(ddof=1)) if len(x) > 1 and x.std(ddof=1) > 0 else float("nan")

    return ICSummary(float(np.nanmean(ic)), ir(ic), float(np.nanmean(ric)), ir(ric), int(np.isfinite(ic).sum()))


def quantile_returns(pred: np.ndarray, label: np.ndarray, n_groups: int = 5) -> np.ndarray:
    """(D, n_groups) mean label of each score quantile per day (group 0 = lowest scores)."""
    out = np.full((pred.shape[0], n_groups), np.nan)
    for d in range(pred.shape[0]):
        ok = np.isfinite(pred[d]) & np.isfinite(label[d])
        if ok.sum() < n_groups:
            continue
        order = np.argsort(pred[d, ok], kind="stable")
        for g, idx in enumerate(np.array_split(order, n_groups)):
            out[d, g] = label[d, ok][idx].mean()
    return out
