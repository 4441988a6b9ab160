"""Normalisers. Cross-sectional ones use one day's row only; fitted ones learn from the fit window only.

Qlib's ``check_transform_proc`` makes the same split: a per-day z-score needs no fitting and cannot
leak, whereas a scaler with statistics over time must be fitted on training dates, or the test period
leaks into the features through the scale.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from nofx.domain.errors import DataError


def cs_zscore(a: np.ndarray, axis: int = -1) -> np.ndarray:
    """Z-score along ``axis`` (the stocks of one day), ignoring NaN; a constant row gives zeros."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.nanmean(a, axis=axis, keepdims=True)
        sd = np.nanstd(a, axis=axis, keepdims=True)
        return np.where(sd > 0, (a - mu) / np.where(sd > 0, sd, 1.0), np.where(np.isfinite(a), 0.0, np.nan))


def cs_rank(a: np.ndarray) -> np.ndarray:
    """Percentile rank in (0, 1] of each value among the finite values of its row; NaN stays NaN."""
    out = np.full(a.shape, np.nan)
    for i, row in enumerate(np.atleast_2d(a)):
        fin = np.isfinite(row)
        n = int(fin.sum())
        if n:
            order = row[fin].argsort(kind="stable").argsort(kind="stable")
            out[i, fin] = (order + 1.0) / n
    return out.reshape(a.shape)


@dataclass(frozen=True)
class RobustScaler:
    """Per-column ``(x - median) / (1.4826 MAD)``, clipped, NaN -> 0: Qlib's RobustZScoreNorm + Fillna.

    Fit it on training rows only (:meth:`fit`), then apply the same statistics everywhere.
    """

    median: np.ndarray
    scale: np.ndarray
    clip: float = 3.0

    @classmethod
    def fit(cls, x: np.ndarray, clip: float = 3.0) -> "RobustScaler":
        """``x``: (..., F) training samples; statistics per last-axis column."""
        flat = x.reshape(-1, x.shape[-1])
        if flat.shape[0] == 0:
            raise DataError("cannot fit a scaler on no training rows")
        # column blocks of ~16M float64 cells: the medians' copies stay small whatever the width
        step = max(1, 16_000_000 // flat.shape[0])
        med = np.empty(flat.shape[1])
        mad = np.empty(flat.shape[1])
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column gets the neutral scale
            for lo in range(0, flat.shape[1], step):
                block = flat[:, lo: lo + step].astype("float64")
                med[lo: lo + step] = np.nanmedian(block, axis=0)
                mad[lo: lo + step] = np.nanmedian(np.abs(block - med[lo: lo + step]), axis=0) * 1.4826
        med = np.where(np.isfinite(med), med, 0.0)
        mad = np.where(np.isfinite(mad) & (mad > 1e-12), mad, 1.0)
        return cls(med.astype("float32"), mad.astype("float32"), clip)

    def transform(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.median) / self.scale
        z = np.clip(z, -self.clip, self.clip)
        return np.where(np.isfinite(z), z, 0.0).astype("float32")

    def to_dict(self) -> dict:
        return {"median": self.median.tolist(), "scale": self.scale.tolist(), "clip": self.clip}

    @classmethod
    def from_dict(cls, d: dict) -> "RobustScaler":
        return cls(np.asarray(d["median"], dtype="float32"), np.asarray(d["scale"], dtype="float32"),
                   float(d["clip"]))
