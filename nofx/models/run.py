"""Train, save, load and apply one model run (a directory: config.json, scaler.json, weights, report)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from nofx.data.bars import read_bars
from nofx.data.panel import BarPanel
from nofx.domain.errors import ConfigError, DataError
from nofx.domain.instruments import parse_symbol
from nofx.features.adjusted import adjust_panel
from nofx.features.normalize import RobustScaler
from nofx.models.baselines import LightGBMModel, LinearModel, stack_days
from nofx.models.config import DEEP_KINDS, RunConfig
from nofx.models.dataset import FeatureSource, PanelDataset, fit_scaler, make_labels
from nofx.models.graph import GraphSchedule
from nofx.models.training import TorchModelRunner, build_net, fit_torch, graph_spec, pick_device, seed_everything

SCALER_FILE = "scaler.json"
REPORT_FILE = "train_report.json"
WEIGHT_FILES = {"torch": "model.pt", "lightgbm": "model.txt", "linear": "linear.npz"}

ProgressFn = Callable[[str], None]


def row_range(timestamps: np.ndarray, start: Any, end: Any) -> tuple[int, int]:
    """Inclusive row indices covering [start, end]; raises when the range holds no row."""
    lo = int(np.searchsorted(timestamps, np.datetime64(pd.Timestamp(start)), side="left"))
    hi = int(np.searchsorted(timestamps, np.datetime64(pd.Timestamp(end)), side="right")) - 1
    if hi < lo:
        raise DataError("no bars in the requested date range", start=str(start), end=str(end))
    return lo, hi


def select_universe(frame: pd.DataFrame, start: Any, end: Any, n: int) -> list[str]:
    """The ``n`` stocks (indices excluded) with the highest average traded amount over [start, end],
    missing days counting as zero. Uses only that window, so choosing on the training period does
    not look at the test period. The shared file itself is survivor-biased (see its README)."""
    f = frame[(frame["datetime"] >= pd.Timestamp(start)) & (frame["datetime"] <= pd.Timestamp(end))]
    n_days = f["datetime"].nunique()
    stocks = [s for s in f["symbol"].unique() if not _is_index(s)]
    amt = f[f["symbol"].isin(stocks)].groupby("symbol")["amount"].sum() / max(n_days, 1)
    return sorted(amt.sort_values(ascending=False, kind="stable").index[:n].tolist())


def _is_index(symbol: str) -> bool:
    try:
        return parse_symbol(symbol).is_index
    except Exception:  # an unparseable code is not a known index; keep it
        return False


@dataclass
class TrainedRun:
    cfg: RunConfig
    scaler: RobustScaler
    model: Any  # TorchModelRunner | LightGBMModel | LinearModel
    report: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.cfg.model.kind

    # ---- prediction -------------------------------------------------------------------------
    def predict_panel(self, panel: BarPanel, start: Any = None, end: Any = None,
                      progress: ProgressFn | None = None) -> np.ndarray:
        """(T, N) scores for ``panel``; row t uses rows <= t of the panel only. Rows outside
        [start, end] and stocks that did not trade that day are NaN."""
        bars = adjust_panel(panel)
        src = FeatureSource(bars, self.cfg.features)
        ds = PanelDataset(src, self.scaler)
        T, N = panel.shape
        lo, hi = (0, T - 1) if start is None and end is None else row_range(
            panel.timestamps, start or panel.timestamps[0], end or panel.timestamps[-1])
        graphs = GraphSchedule(bars.close, graph_spec(self.cfg.model)) if self.kind == "gat" else None
        out = np.full((T, N), np.nan)
        for t in range(lo, hi + 1):
            b = ds.batch(t)
            if b is None:
                continue
            if self.kind in DEEP_KINDS:
                out[t, b.cols] = self.model.predict(b, graphs)
            else:
                out[t, b.cols] = self.model.predict(b.x.reshape(len(b.cols), -1))
            if progress is not None:
                progress(str(pd.Timestamp(panel.timestamps[t]).date()))
        return out

    def predict_frame(self, panel: BarPanel, start: Any = None, end: Any = None,
                      progress: ProgressFn | None = None) -> pd.DataFrame:
        """Long frame (datetime, symbol, score) of the finite scores."""
        s = self.predict_panel(panel, start, end, progress)
        t, n = np.nonzero(np.isfinite(s))
        return pd.DataFrame({"datetime": pd.to_datetime(panel.timestamps[t]),
                             "symbol": np.asarray(panel.symbols, dtype=object)[n], "score": s[t, n]})

    # ---- persistence ------------------------------------------------------------------------
    def save(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.cfg.write(run_dir)
        (run_dir / SCALER_FILE).write_text(json.dumps(self.scaler.to_dict()))
        (run_dir / REPORT_FILE).write_text(json.dumps(self.report, indent=1, default=str))
        if self.kind in DEEP_KINDS:
            torch.save(self.model.net.state_dict(), run_dir / WEIGHT_FILES["torch"])
        elif self.kind == "lightgbm":
            self.model.save(run_dir / WEIGHT_FILES["lightgbm"])
        else:
            self.model.save(run_dir / WEIGHT_FILES["linear"])

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "cpu") -> "TrainedRun":
        run_dir = Path(run_dir)
        cfg = RunConfig.read(run_dir)
        # oversubscribed OpenMP threads on a shared CPU run an LSTM ~10x slower than one thread
        torch.set_num_threads(cfg.training.threads)
        try:
            scaler = RobustScaler.from_dict(json.loads((run_dir / SCALER_FILE).read_text()))
            report = json.loads((run_dir / REPORT_FILE).read_text()) if (run_dir / REPORT_FILE).exists() else {}
            kind = cfg.model.kind
            if kind in DEEP_KINDS:
                net = build_net(cfg.model, cfg.features, cfg.label.n_steps)
                # weights_only: a checkpoint is data, never code to execute
                state = torch.load(run_dir / WEIGHT_FILES["torch"], map_location="cpu", weights_only=True)
                net.load_state_dict(state)
                dev = pick_device(device)
                net.to(dev).eval()
                model: Any = TorchModelRunner(net, kind, dev, graph_spec(cfg.model))
            elif kind == "lightgbm":
                model = LightGBMModel.load(run_dir / WEIGHT_FILES["lightgbm"])
            else:
                model = LinearModel.load(run_dir / WEIGHT_FILES["linear"])
        except FileNotFoundError as exc:
            raise ConfigError("model run directory is incomplete", path=str(run_dir), missing=exc.filename) from None
        return cls(cfg, scaler, model, report)


def load_frame(path: str | Path, symbols: Any = None, start: Any = None, end: Any = None, *,
               drop_bad_rows: bool = False, date_format: str | None = None) -> pd.DataFrame:
    """Bars through the one validator: bad rows refused, or dropped (listed in ``attrs[DROPPED_ATTR]``)."""
    return read_bars(path, symbols=symbols, start=start, end=end, drop_bad_rows=drop_bad_rows,
                     date_format=date_format)


def train_run(cfg: RunConfig, frame: pd.DataFrame, progress: ProgressFn | None = None) -> TrainedRun:
    """Fit the scaler on training days, train the model with early stopping on validation rank IC."""
    tc = cfg.training
    seed_everything(cfg.seed, tc.threads)
    f = frame[frame["symbol"].isin(cfg.universe) & (frame["datetime"] <= pd.Timestamp(cfg.valid.end))]
    panel = BarPanel.from_frame(f)
    bars = adjust_panel(panel)
    src = FeatureSource(bars, cfg.features)
    labels = make_labels(bars.close, cfg.label)
    tr_lo, tr_hi = row_range(panel.timestamps, cfg.train.start, cfg.train.end)
    va_lo, va_hi = row_range(panel.timestamps, cfg.valid.start, cfg.valid.end)
    probe = PanelDataset(src, RobustScaler(np.zeros(1, "float32"), np.ones(1, "float32")), labels,
                         lookahead=cfg.label.lookahead)
    # labels of the last training days would read validation closes: those days are dropped
    train_days = probe.label_days(tr_lo, tr_hi)
    valid_days = probe.label_days(va_lo, va_hi)[:: tc.valid_stride]
    if len(train_days) < 5 or len(valid_days) < 2:
        raise ConfigError("training or validation segment too short for the label horizon",
                          train=str(cfg.train), valid=str(cfg.valid))
    scaler = fit_scaler(src, train_days, seed=cfg.seed)
    ds = PanelDataset(src, scaler, labels, lookahead=cfg.label.lookahead)
    kind = cfg.model.kind
    report: dict[str, Any] = {"n_train_days": int(len(train_days)), "n_valid_days": int(len(valid_days)),
                              "n_symbols": len(panel.symbols)}
    if kind in DEEP_KINDS:
        net = build_net(cfg.model, cfg.features, cfg.label.n_steps)
        runner = TorchModelRunner(net, kind, pick_device(tc.device), graph_spec(cfg.model))
        graphs = GraphSchedule(bars.close, graph_spec(cfg.model)) if kind == "gat" else None
        fit = fit_torch(runner, ds, train_days, valid_days, tc, cfg.seed, graphs, progress)
        runner.net.to("cpu")
        runner.device = torch.device("cpu")
        report.update(history=fit.history, best_epoch=fit.best_epoch, best_valid_rank_ic=fit.best_valid_rank_ic)
        model: Any = runner
    else:
        tr = stack_days(ds, train_days[:: tc.day_stride], progress=progress)
        va = stack_days(ds, valid_days, progress=progress)
        if kind == "lightgbm":
            m = cfg.model
            model, hist = LightGBMModel.fit(tr, va, labels["ret"], m.num_leaves, m.learning_rate, m.num_rounds,
                                            tc.patience, cfg.seed, tc.threads, progress)
            report.update(best_iteration=int(model.booster.best_iteration),
                          best_valid_rank_ic=max(h["valid_rank_ic"] for h in hist))
        else:
            model, hist = LinearModel.fit(tr, va, labels["ret"], cfg.model.ridge_alphas)
            report.update(history=hist, alpha=model.alpha, best_valid_rank_ic=max(h["valid_rank_ic"] for h in hist))
        report["n_train_samples"] = int(len(tr.y))
    return TrainedRun(cfg, scaler, model, report)
