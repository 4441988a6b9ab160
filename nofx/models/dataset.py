"""One day's cross-section as a training/prediction batch, built from bars without look-ahead.

Features of day t read rows <= t only (:mod:`nofx.features.alpha`); labels read rows > t and are
only attached when training or evaluating. The scaler is fitted on training days only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from nofx.domain.errors import ConfigError
from nofx.features.adjusted import AdjustedBars
from nofx.features.alpha import ALPHA360_FIELDS, alpha158_names, alpha158_stack, alpha360_window
from nofx.features.labels import direction, forward_max_drawdown, forward_return, realized_volatility
from nofx.features.normalize import RobustScaler


class FeatureConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    set: Literal["alpha360", "alpha158"] = "alpha360"
    seq_len: int = Field(default=60, ge=1, le=250)  # window length (alpha158: rows of the 158 columns)

    @property
    def n_features(self) -> int:
        return len(ALPHA360_FIELDS) if self.set == "alpha360" else len(alpha158_names())

    @property
    def names(self) -> list[str]:
        return list(ALPHA360_FIELDS) if self.set == "alpha360" else alpha158_names()


class LabelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    horizon: int = Field(default=1, ge=1)  # primary label: close[t+delay+horizon]/close[t+delay]-1
    delay: int = Field(default=1, ge=0)  # Qlib's one-day gap between signal and first tradable close
    n_steps: int = Field(default=5, ge=1)  # multi-step returns for the Transformer's return head
    direction_threshold: float = Field(default=0.005, ge=0)
    vol_horizon: int = Field(default=5, ge=2)

    @property
    def lookahead(self) -> int:
        """Rows after t that some label of row t reads."""
        return self.delay + max(self.horizon, self.n_steps, self.vol_horizon)


@dataclass(frozen=True)
class DayBatch:
    t: int
    cols: np.ndarray  # (n,) column indices of the scored stocks
    x: np.ndarray  # (n, L, F) float32, scaled, NaN -> 0
    mask: np.ndarray  # (n, L) bool
    labels: dict[str, np.ndarray] | None = None  # name -> (n,) or (n, k)


class FeatureSource:
    """Raw (unscaled) windows for any day of an :class:`AdjustedBars`."""

    def __init__(self, bars: AdjustedBars, cfg: FeatureConfig) -> None:
        self.bars = bars
        self.cfg = cfg
        self._stack = alpha158_stack(bars) if cfg.set == "alpha158" else None

    def raw(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        """``(N, L, F)`` raw window with NaN, and ``(N, L)`` step mask."""
        L = self.cfg.seq_len
        if self._stack is None:
            win = alpha360_window(self.bars, t, L)
            mask = np.isfinite(win).all(axis=-1)
        else:
            lo = max(0, t - L + 1)
            win = self._stack[lo: t + 1].transpose(1, 0, 2)
            traded = self.bars.traded[lo: t + 1].T
            if win.shape[1] < L:
                pad = L - win.shape[1]
                win = np.concatenate([np.full((win.shape[0], pad, win.shape[2]), np.nan, "float32"), win], 1)
                traded = np.concatenate([np.zeros((traded.shape[0], pad), bool), traded], 1)
            mask = traded & np.isfinite(win).any(axis=-1)
        return win, mask

    def scorable(self, t: int) -> np.ndarray:
        """Stocks that can be scored on day t: they traded that day (a suspended stock has no fresh data)."""
        return self.bars.traded[t]


# Elements of the sample the scaler is fitted on (float32: 400 MB). A deep model on 60-day Alpha158
# windows has 9,480 columns per stock, so 120 days of 300 stocks would hold 1.4 GB before the median's
# float64 copies; fewer days are sampled instead (thousands of rows per column still fix a median).
SCALER_SAMPLE_ELEMENTS = 100_000_000


def fit_scaler(src: FeatureSource, days: np.ndarray, max_days: int = 120, seed: int = 0) -> RobustScaler:
    """Fit the per-column (lag x feature) robust scaler on a sample of training days only."""
    if len(days) == 0:
        raise ConfigError("no training days to fit the feature scaler on")
    per_day = src.bars.traded.shape[1] * src.cfg.seq_len * src.cfg.n_features
    max_days = max(1, min(max_days, SCALER_SAMPLE_ELEMENTS // max(per_day, 1)))
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(days, size=min(max_days, len(days)), replace=False))
    rows = []
    for t in pick:
        win, _ = src.raw(int(t))
        ok = src.scorable(int(t))
        rows.append(win[ok].reshape(int(ok.sum()), -1).astype("float32", copy=False))
    return RobustScaler.fit(np.concatenate(rows, axis=0))


def make_labels(close: np.ndarray, cfg: LabelConfig) -> dict[str, np.ndarray]:
    """All label arrays, (T, N) or (T, N, k), raw (not normalised)."""
    ret = forward_return(close, cfg.horizon, cfg.delay)
    steps = np.stack([forward_return(close, k, cfg.delay) for k in range(1, cfg.n_steps + 1)], axis=-1)
    return {
        "ret": ret,
        "returns": steps,
        "direction": direction(ret, cfg.direction_threshold),
        "volatility": realized_volatility(close, cfg.vol_horizon, cfg.delay),
        "risk": forward_max_drawdown(close, cfg.vol_horizon, cfg.delay),
    }


class PanelDataset:
    """Feature source + scaler (+ labels when training/evaluating) over one AdjustedBars."""

    def __init__(self, src: FeatureSource, scaler: RobustScaler, labels: dict[str, np.ndarray] | None = None,
                 min_stocks: int = 10, lookahead: int = 0) -> None:
        self.src = src
        self.lookahead = lookahead  # rows after t that the labels of row t read
        self.scaler = scaler
        self.labels = labels
        self.min_stocks = min_stocks

    def batch(self, t: int, need_label: bool = False) -> DayBatch | None:
        ok = self.src.scorable(t).copy()
        if need_label and self.labels is not None:
            ok &= np.isfinite(self.labels["ret"][t])
        cols = np.flatnonzero(ok)
        if len(cols) < (self.min_stocks if need_label else 1):
            return None
        win, mask = self.src.raw(t)
        win, mask = win[cols], mask[cols]
        n, L, F = win.shape
        x = self.scaler.transform(win.reshape(n, L * F)).reshape(n, L, F)
        labels = None
        if need_label and self.labels is not None:
            labels = {k: v[t, cols] for k, v in self.labels.items()}
        return DayBatch(t, cols, x, mask, labels)

    def label_days(self, lo: int, hi: int) -> np.ndarray:
        """Rows in [lo, hi] whose labels are fully known inside [lo, hi] (no peeking past ``hi``)."""
        days = np.arange(lo, hi + 1)
        return days[days + self.lookahead <= hi] if self.labels is not None else days
