"""LightGBM and linear (ridge) baselines on the same scaled features as the deep models (flattened)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from nofx.models.dataset import PanelDataset
from nofx.models.metrics import daily_ic


@dataclass(frozen=True)
class TabularData:
    x: np.ndarray  # (S, D) float32
    y: np.ndarray  # (S,) per-day z-scored label
    day: np.ndarray  # (S,) row index t of each sample
    col: np.ndarray  # (S,) column index of each sample


def stack_days(ds: PanelDataset, days: np.ndarray, need_label: bool = True,
               progress: Callable[[str], None] | None = None) -> TabularData:
    """One row per (day, scored stock): the day's features flattened; ``progress`` is called per day."""
    xs, ys, ds_, cs = [], [], [], []
    for t in days:
        if progress is not None:
            progress(f"features of row {int(t)}")
        b = ds.batch(int(t), need_label=need_label)
        if b is None:
            continue
        xs.append(b.x.reshape(len(b.cols), -1))
        if need_label and b.labels is not None:
            # the same per-day rank-normalised target as the deep models (Qlib's CSRankNorm)
            r = b.labels["ret"]
            rank = np.argsort(np.argsort(r, kind="stable"), kind="stable")
            ys.append((((rank + 0.5) / len(r) - 0.5) * 3.4641016).astype("float32"))
        ds_.append(np.full(len(b.cols), t))
        cs.append(b.cols)
    if not xs:
        return TabularData(np.zeros((0, 0), "float32"), np.zeros(0, "float32"), np.zeros(0, int), np.zeros(0, int))
    y = np.concatenate(ys) if ys else np.zeros(0, "float32")
    return TabularData(np.concatenate(xs), y, np.concatenate(ds_), np.concatenate(cs))


def rank_ic_of(pred: np.ndarray, data: TabularData, label: np.ndarray) -> float:
    """Mean daily rank IC of flat predictions against the raw (T, N) label."""
    days = np.unique(data.day)
    pos = np.searchsorted(days, data.day)
    P = np.full((len(days), label.shape[1]), np.nan)
    P[pos, data.col] = pred
    return float(np.nanmean(daily_ic(P, label[days], rank=True)))


class LinearModel:
    """Ridge regression solved in closed form; the penalty is chosen on validation rank IC."""

    def __init__(self, w: np.ndarray, b: float, alpha: float) -> None:
        self.w, self.b, self.alpha = w, b, alpha

    @classmethod
    def fit(cls, tr: TabularData, va: TabularData, label: np.ndarray,
            alphas: tuple[float, ...]) -> tuple["LinearModel", list[dict]]:
        x = tr.x.astype("float64")
        mu_x, mu_y = x.mean(0), float(tr.y.mean())
        xc = x - mu_x
        gram = xc.T @ xc
        xty = xc.T @ (tr.y - mu_y)
        best, hist = None, []
        for a in alphas:
            w = np.linalg.solve(gram + a * np.eye(gram.shape[0]), xty)
            m = cls(w, mu_y - float(mu_x @ w), a)
            ric = rank_ic_of(m.predict(va.x), va, label)
            hist.append({"alpha": a, "valid_rank_ic": ric})
            if best is None or ric > best[0]:
                best = (ric, m)
        return best[1], hist

    def predict(self, x: np.ndarray) -> np.ndarray:
        return x.astype("float64") @ self.w + self.b

    def save(self, path: Path) -> None:
        np.savez(path, w=self.w, b=np.array([self.b]), alpha=np.array([self.alpha]))

    @classmethod
    def load(cls, path: Path) -> "LinearModel":
        with np.load(path) as z:
            return cls(z["w"], float(z["b"][0]), float(z["alpha"][0]))


class LightGBMModel:
    """Gradient-boosted trees (Qlib's LightGBM benchmark, scaled down); early stopping on validation
    rank IC through a custom metric."""

    def __init__(self, booster) -> None:
        self.booster = booster

    @classmethod
    def fit(cls, tr: TabularData, va: TabularData, label: np.ndarray, num_leaves: int, learning_rate: float,
            num_rounds: int, patience: int, seed: int, threads: int,
            progress: Callable[[str], None] | None = None) -> tuple["LightGBMModel", list[dict]]:
        import lightgbm as lgb

        params = {"objective": "regression", "num_leaves": num_leaves, "learning_rate": learning_rate,
                  "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l1": 1.0,
                  "lambda_l2": 1.0, "min_data_in_leaf": 100, "num_threads": threads, "seed": seed,
                  "deterministic": True, "force_row_wise": True, "verbosity": -1, "metric": "None"}
        dtr = lgb.Dataset(tr.x, tr.y, free_raw_data=False)
        dva = lgb.Dataset(va.x, va.y, reference=dtr, free_raw_data=False)
        hist: list[dict] = []

        def rank_ic(pred: np.ndarray, _ds) -> tuple[str, float, bool]:
            ric = rank_ic_of(pred, va, label)
            hist.append({"round": len(hist) + 1, "valid_rank_ic": ric})
            if progress is not None:
                progress(f"round {len(hist)}, validation rank IC {ric:.4f}")
            return "rank_ic", ric, True

        booster = lgb.train(params, dtr, num_boost_round=num_rounds, valid_sets=[dva], feval=rank_ic,
                            callbacks=[lgb.early_stopping(max(10, patience * 10), verbose=False)])
        return cls(booster), hist

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.booster.predict(x, num_iteration=self.booster.best_iteration or None)

    def save(self, path: Path) -> None:
        self.booster.save_model(str(path), num_iteration=self.booster.best_iteration or None)

    @classmethod
    def load(cls, path: Path) -> "LightGBMModel":
        import lightgbm as lgb

        return cls(lgb.Booster(model_file=str(path)))
